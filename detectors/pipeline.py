"""One analysis pipeline: decode each recording once, track the face, run every check, score.

Public calls (the CLI and the app use these and nothing deeper):

* :func:`analyze_candidate` — everything for one candidate, returns a :class:`Report`.
* :func:`analyze_recording` — one video: a single streaming pass, then the recording checks.
* :func:`analyze_image` — one photo, loaded upright, or a :class:`MediaError`.
* :func:`build_report` — candidate checks and scoring over already analysed inputs.

Bad input never stops the others: each file that cannot be used becomes a media entry with an
``error`` and a line in ``errors``.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from . import registry, scoring
from .audio import AudioFeatureExtractor, AudioTrack
from .base import (
    CandidateContext,
    Cancelled,
    Detector,
    Finding,
    MediaError,
    ProgressCallback,
    RecordingContext,
)
from .faces import FaceTrack, FaceTracker, faces_in_image
from .media import AudioChunk, LoadedImage, VideoStream, check_readable, is_image_file, load_image
from .models.clip_faces import encoder_seconds
from .report import MediaEntry, Report
from .settings import ANALYSIS_FPS, effective
from .voice import RecordingVoice, VoiceListener, analyse_recording_voice

log = logging.getLogger(__name__)

PROGRESS_EVERY_FRAMES = 10
"""Analysed frames between two progress callbacks."""

BLAS_THREADS = 1
"""Threads NumPy's and SciPy's BLAS may use while this process analyses recordings. The pass keeps
both cores busy with threads of its own (decoder, Face Mesh, the checks) and the CLIP encoder after
it runs two onnxruntime threads; OpenBLAS's second thread only spins beside them after each small
product. Measured on real_presenter.mp4 (1080p, 7.4 s, three paired runs of the warm analysis on the
2-core machine): 0.5-0.9 CPU s less and 0.15-0.4 s sooner with one thread, the checks' risks equal
to the 16th digit. Set (threadpoolctl, about 1 ms) at the start of every analysis, for the BLAS
libraries loaded by then; it stays set for the process."""


def _limit_blas() -> None:
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=BLAS_THREADS, user_api="blas")


@dataclass
class RecordingResult:
    """One analysed video: its face track, audio features, findings and media entry."""

    path: str
    entry: MediaEntry
    track: FaceTrack | None = None
    audio: AudioTrack | None = None
    findings: dict[str, Finding] = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)
    voice: RecordingVoice | None = None  # who speaks, and the candidate's voice print

    @property
    def ok(self) -> bool:
        return self.entry.error is None


OBSERVE_QUEUE_ITEMS = 8
"""Frames and audio chunks waiting for the observer thread. Each frame holds its decoded
source picture (3 MB at 1080p, 12 MB at 4K), so a few are enough to keep both threads busy."""


class _Observers:
    """The recording checks' per-frame ``observe`` and the audio features, run on a second
    thread in file order while the main thread runs Face Mesh on the next frame: the pass keeps
    both cores busy (the decoder has a thread of its own)."""

    def __init__(self, detectors: Sequence[Detector], listener: AudioFeatureExtractor, voice: VoiceListener | None = None) -> None:
        self.detectors = detectors
        self.listener = listener
        self.voice = voice
        self.busy_s = 0.0
        self.cpu_s = 0.0  # CPU time of the observer thread
        self.cpu_by: dict[str, float] = {}  # ... by what it was spent on: each check, the audio features, the voice
        self._queue: "queue.Queue[Any]" = queue.Queue(maxsize=OBSERVE_QUEUE_ITEMS)
        self._error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="telltale-observe", daemon=True)
        self._thread.start()

    def put(self, item: Any) -> None:
        """Hand over an AudioChunk or a (frame, observation, analysed index) triple."""
        if self._error is not None:
            raise self._error
        self._queue.put(item)

    def _run(self) -> None:
        cpu0 = time.thread_time()
        while True:
            item = self._queue.get()
            if item is None:
                self.cpu_s = time.thread_time() - cpu0
                return
            if self._error is not None or self._stop.is_set():
                continue  # drain without work, so put() never blocks for long
            t = time.perf_counter()
            try:
                if isinstance(item, AudioChunk):
                    self._timed("audio", self.listener.push, item.samples, item.t)
                    if self.voice is not None:
                        self._timed("voice", self.voice.push, item.samples, item.t)
                else:
                    frame, obs, n = item
                    for det in self.detectors:
                        if n % det.observe_every == 0:
                            self._timed(det.name, det.observe, frame, obs)
            except BaseException as exc:  # noqa: BLE001 - re-raised on the main thread
                self._error = exc
            self.busy_s += time.perf_counter() - t

    def _timed(self, what: str, call: Any, *args: Any) -> None:
        c = time.thread_time()
        try:
            call(*args)
        finally:
            self.cpu_by[what] = self.cpu_by.get(what, 0.0) + time.thread_time() - c

    def finish(self) -> None:
        """Wait until everything handed over is observed; re-raise a check's error here."""
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error

    def abort(self) -> None:
        """Stop after a cancel or a failure: queued items are dropped."""
        self._stop.set()
        self._queue.put(None)
        self._thread.join(timeout=10.0)


def _pass_cpu(cpu0: float, main0: float, observer_s: float, decode_s: float) -> dict[str, float]:
    """Where the pass's CPU time went (s): this process's threads, by role. ``cpu.native`` is the
    threads Python does not run: Face Mesh's graph and FFmpeg's frame decoders."""
    total = time.process_time() - cpu0
    main = time.thread_time() - main0
    return {
        "cpu.pass_total": total,
        "cpu.main": main,  # Face Mesh calls, face tracking, embedding hand-over
        "cpu.decode_thread": decode_s,  # demux, analysis-size RGB, audio resampling
        "cpu.observe_thread": observer_s,  # the checks' per-frame work, audio features
        "cpu.native": max(0.0, total - main - decode_s - observer_s),
    }


def _check_cancel(cancel: threading.Event | None, what: str) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled(f"{what}: cancelled")


def analyze_recording(
    path: str | Path,
    settings: Mapping[str, Any] | None = None,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> RecordingResult:
    """Analyse one video in a single pass. Raises MediaError for unusable files, Cancelled on cancel."""
    values = effective(settings)
    fps = values[ANALYSIS_FPS.key]
    _limit_blas()
    t0 = time.perf_counter()
    cpu0, main0 = time.process_time(), time.thread_time()
    detectors: list[Detector] = [cls() for cls in registry.recording_detectors()]
    with VideoStream(path, analysis_fps=fps, cancel=cancel) as stream:
        info = stream.info
        tracker = FaceTracker(str(path), info.fps, fps, info.duration_s)
        listener = AudioFeatureExtractor()
        voice_listener = VoiceListener() if info.has_audio else None
        observers = _Observers(detectors, listener, voice_listener)
        analysed = 0
        expected = max(1.0, info.duration_s * min(fps, info.fps))
        try:
            for item in stream:
                if isinstance(item, AudioChunk):
                    observers.put(item)
                    continue
                obs = tracker.add(item)
                observers.put((item, obs, analysed))
                analysed += 1
                if progress is not None and analysed % PROGRESS_EVERY_FRAMES == 0:
                    progress(min(0.95, analysed / expected), f"{Path(path).name}: {item.t:.0f} s of {info.duration_s:.0f} s")
            observers.finish()
        except BaseException:
            observers.abort()
            tracker.abort()
            raise
        track = tracker.finish()
        audio = listener.finish() if info.has_audio else AudioTrack.missing()
        decode_errors = stream.decode_errors
        observe_time = observers.busy_s
        cpu = _pass_cpu(cpu0, main0, observers.cpu_s, stream.thread_cpu_s)
        cpu.update({f"cpu.observe.{what}": s for what, s in observers.cpu_by.items()})
    t_pass = time.perf_counter() - t0

    t_voice = time.perf_counter()
    voice = (
        analyse_recording_voice(str(path), voice_listener.finish(), audio, track)
        if voice_listener is not None else None
    )
    voice_s = time.perf_counter() - t_voice  # the speaker encoder itself ran during the pass
    context = RecordingContext(str(path), track, audio, values, voice=voice)
    findings: dict[str, Finding] = {}
    timings = {"pass": t_pass, "observe": observe_time, "voice_after_pass": voice_s, **cpu}
    cpu_after = time.thread_time()
    for det in detectors:
        _check_cancel(cancel, str(path))
        t1, enc1 = time.perf_counter(), encoder_seconds()
        finding = det.analyze(context)
        timings[det.name] = time.perf_counter() - t1
        timings[f"{det.name}.clip_encoder"] = encoder_seconds() - enc1
        if finding is not None:
            findings[det.name] = finding
    timings["cpu.after_pass"] = time.thread_time() - cpu_after

    notes = []
    if not info.has_audio:
        notes.append("no audio track")
    if track.frames_with_face == 0:
        notes.append("no face found in any analysed frame")
    if track.second_person:
        notes.append(track.second_person_reason)
    if decode_errors:
        notes.append(f"{decode_errors} damaged packet(s) skipped")
    entry = MediaEntry(
        path=str(path),
        kind="video",
        duration_s=info.duration_s,
        frames_analysed=track.frames_analysed,
        faces_found=track.frames_with_face,
        details={
            "has_audio": info.has_audio,
            "fps": round(info.fps, 3),
            "width": info.width,
            "height": info.height,
            "analysis_fps": fps,
            "face_coverage": round(track.coverage, 4),
            "embeddings": int(track.embeddings.shape[0]),
            "second_person": track.second_person,
            "notes": notes,
        },
    )
    if progress is not None:
        progress(1.0, f"{Path(path).name}: done")
    return RecordingResult(str(path), entry, track, audio, findings, timings, voice)


def analyze_image(path: str | Path, role: str = "photo") -> LoadedImage:
    """Load a photo upright. Raises MediaError naming the file when it is unusable."""
    return load_image(path, role=role)


def _image_entry(image: LoadedImage) -> MediaEntry:
    faces = faces_in_image(image)
    notes = []
    if not faces:
        notes.append("no face found")
    elif len(faces) > 1:
        notes.append(f"{len(faces)} faces found; the largest is used as the portrait")
    return MediaEntry(
        path=image.path,
        kind="id-photo" if image.role == "id" else "photo",
        faces_found=len(faces),
        details={"width": image.width, "height": image.height, "format": image.format, "notes": notes},
    )


def _merge(name: str, per_recording: list[tuple[str, Finding]]) -> Finding:
    """One finding per check: the recording with the strongest evidence leads."""
    if len(per_recording) == 1:
        return per_recording[0][1]
    lead_path, lead = max(per_recording, key=lambda pf: (pf[1].risk * pf[1].confidence, pf[1].confidence))
    evidence = dict(lead.evidence)
    evidence["recordings"] = {p: dict(f.evidence) | {"risk": f.risk, "confidence": f.confidence, "summary": f.summary} for p, f in per_recording}
    evidence["lead_recording"] = lead_path
    return Finding(name, lead.risk, lead.confidence, f"{Path(lead_path).name}: {lead.summary}", evidence)


def build_report(
    name: str,
    recordings: Sequence[RecordingResult],
    images: Sequence[LoadedImage],
    library: Any = None,
    settings: Mapping[str, Any] | None = None,
    errors: Iterable[MediaEntry] = (),
    cancel: threading.Event | None = None,
    timings_s: Mapping[str, float] | None = None,
) -> Report:
    """Run the candidate-level checks and fuse everything into the report."""
    values = effective(settings)
    timings = dict(timings_s or {})
    media: list[MediaEntry] = [r.entry for r in recordings]
    for image in images:
        media.append(_image_entry(image))
    bad = list(errors)
    media += bad

    per_check: dict[str, list[tuple[str, Finding]]] = {}
    for rec in recordings:
        for check, finding in rec.findings.items():
            per_check.setdefault(check, []).append((rec.path, finding))
    findings = {check: _merge(check, items) for check, items in per_check.items()}

    ok_recordings = [r for r in recordings if r.ok and r.track is not None]
    context = CandidateContext(
        name=name,
        recordings=[RecordingContext(r.path, r.track, r.audio or AudioTrack.missing(), values, voice=r.voice) for r in ok_recordings],  # type: ignore[arg-type]
        images=list(images),
        library=library,
        settings=values,
        cancel=cancel,
    )
    for cls in registry.candidate_detectors():
        _check_cancel(cancel, name)
        t1 = time.perf_counter()
        det = cls()
        finding = det.analyze(context)
        timings[det.name] = timings.get(det.name, 0.0) + time.perf_counter() - t1
        if finding is not None:
            findings[det.name] = finding

    order = [c for c in scoring.EXPECTED_CHECKS if c in findings] + sorted(c for c in findings if c not in scoring.EXPECTED_CHECKS)
    findings = {c: findings[c] for c in order}
    fused = scoring.fuse(findings, values)
    return Report(
        candidate=name,
        score=fused.score,
        verdict=fused.verdict,
        confidence=fused.confidence,
        checks=findings,
        contributions=fused.contributions,
        reasons=fused.reasons,
        media=media,
        errors=[f"{m.path}: {m.error}" for m in bad],
        timings_s=timings,
    )


def analyze_candidate(
    videos: Sequence[str | Path],
    id_photos: Sequence[str | Path],
    name: str,
    library: Any = None,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    settings: Mapping[str, Any] | None = None,
    photos: Sequence[str | Path] = (),
) -> Report:
    """Analyse a candidate's recordings and photos; returns the report.

    ``videos`` may also hold photos (recognised by content); ``id_photos`` are ID documents or
    portraits the candidate submitted. Files that cannot be used are listed with their error.
    Raises Cancelled when ``cancel`` is set.
    """
    t_start = time.perf_counter()
    recordings: list[RecordingResult] = []
    images: list[LoadedImage] = []
    errors: list[MediaEntry] = []
    timings: dict[str, float] = {}

    jobs: list[tuple[str, str]] = [(str(p), "id") for p in id_photos] + [(str(p), "photo") for p in photos]
    for p in videos:
        jobs.append((str(p), "photo" if _looks_like_image(p) else "video"))
    n_video = sum(1 for _, kind in jobs if kind == "video")
    weight_image = 0.02
    weight_video = (1.0 - weight_image * (len(jobs) - n_video)) / max(1, n_video)
    done = 0.0

    def report_progress(fraction: float, message: str) -> None:
        if progress is not None:
            progress(min(0.99, done + fraction * weight_video), message)

    for path, kind in jobs:
        _check_cancel(cancel, name)
        try:
            if kind == "video":
                t1 = time.perf_counter()
                rec = analyze_recording(path, settings, report_progress, cancel)
                timings[f"recording:{Path(path).name}"] = time.perf_counter() - t1
                recordings.append(rec)
                for key, value in rec.timings_s.items():
                    timings[key] = timings.get(key, 0.0) + value
                done += weight_video
            else:
                images.append(analyze_image(path, role=kind))
                done += weight_image
        except MediaError as exc:
            log.warning("%s", exc)
            errors.append(MediaEntry(path=path, kind=kind if kind != "photo" else "unknown", error=exc.problem))
            done += weight_video if kind == "video" else weight_image
        if progress is not None:
            progress(min(0.99, done), f"{Path(path).name}: done")

    report = build_report(name, recordings, images, library, settings, errors, cancel, timings)
    if library is not None:
        # after the checks, so the candidate's own files are not found as reuse of themselves
        library.record_candidate(name, images, [r for r in recordings if r.ok])
    timings_total = dict(report.timings_s)
    timings_total["total"] = time.perf_counter() - t_start
    report = Report(**{**report.__dict__, "timings_s": timings_total})
    if progress is not None:
        progress(1.0, "done")
    return report


def _looks_like_image(path: str | Path) -> bool:
    """A photo passed where recordings are expected is analysed as a photo (by content)."""
    try:
        check_readable(path)
    except MediaError:
        return False
    return is_image_file(path)
