"""What runs on the Dask workers: photo encoding, recording passes, candidate scoring.

Three kinds of task, all plain module-level functions (Dask ships them by reference, so a
worker needs Telltale installed, as it needs the models):

* :func:`encode_photos` — one per candidate: every photo loaded upright and encoded for search
  (perceptual hashes, face embeddings, keypoints). Small results (a few kB per photo) go back
  to the client, which registers them in the library before any candidate is scored: every
  candidate of the batch then sees every other's photos, in both directions.
* :func:`recording_pass` — one per recording: the single decoding pass and the recording checks
  (:func:`detectors.pipeline.analyze_recording`). Its result (a :class:`RecordingResult`: face
  track, audio features, findings; ~0.1 MB per analysed second, pickled) stays on the worker
  that made it; Dask runs the candidate's scoring task where most of its recordings already
  are and moves the others there, so a candidate with two interviews may be analysed on two
  workers at once. An unusable file is not a failure: it comes back as an entry with an error.
* :func:`score_candidate` — one per candidate: the candidate checks and the fused score
  (:func:`detectors.pipeline.build_report`) against the library, opened read-only for the
  task (a fresh index each time, so it sees what the client registered since).

Workers load the models once (:class:`WarmModels`, a worker plugin) and keep them for every
task they run: dlib's detector, landmark and embedding models, the embedding helper process,
the shipped ONNX models.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ..base import MediaError
from ..report import MediaEntry
from .folder import CandidateFolder, InputFile

log = logging.getLogger(__name__)


class BatchError(Exception):
    """The batch cannot run (library not reachable, cluster not reachable...)."""


def is_url(location: str | None) -> bool:
    return location is not None and "://" in str(location)


def open_library(location: str | None, *, writer: bool, retention_days: float | None = None) -> Any:
    """The case store at ``location``: a SQLite path, or a URL when :mod:`detectors.store`
    (the PostgreSQL back end) is installed. The client opens it as the only writer (retention
    applied); workers open it to search only (``writer=False``: no retention, no writes)."""
    try:
        from ..store import open_library as store_open  # the PostgreSQL/SQLite front door, when present
    except ImportError:
        store_open = None
    if store_open is not None:
        try:
            return store_open(location, retention_days=retention_days, apply_retention=writer)
        except TypeError:  # an older signature: location only
            return store_open(location)
    if is_url(location):
        raise BatchError(f"{location}: a library URL needs the PostgreSQL back end (detectors.store), not installed here")
    from ..store.sqlite import Library

    return Library(location, retention_days=retention_days, apply_retention=writer)


# --------------------------------------------------------------------------- models, once per worker


def warm_models() -> dict[str, float]:
    """Load every model a task will use, now, in this process; returns seconds per model."""
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from .. import faces, registry
    from ..models import MODELS_DIR, session

    out: dict[str, float] = {}
    t = time.perf_counter()
    registry.recording_detectors()
    registry.candidate_detectors()
    out["checks"] = time.perf_counter() - t
    for name in ("detector", "pose5", "pose68", "encoder"):
        t = time.perf_counter()
        faces._model(name)
        out[f"dlib.{name}"] = time.perf_counter() - t
    if faces.EMBED_IN_PROCESS:
        t = time.perf_counter()
        faces.embedding_worker()
        out["embedding_process"] = time.perf_counter() - t
    for path in sorted(Path(MODELS_DIR).glob("*.onnx")):
        t = time.perf_counter()
        session(path.name)
        out[f"onnx.{path.stem}"] = time.perf_counter() - t
    return out


try:
    from distributed.diagnostics.plugin import WorkerPlugin
except ImportError:  # pragma: no cover - distributed is a dependency
    WorkerPlugin = object  # type: ignore[misc,assignment]


class WarmModels(WorkerPlugin):  # type: ignore[misc]
    """Loads the models when a worker starts (and when a dead worker is replaced), so no task
    pays for them and each worker holds one copy for its whole life."""

    name = "telltale-models"

    def setup(self, worker: Any) -> None:
        t = time.perf_counter()
        try:
            worker.telltale_models = warm_models()
        except Exception as exc:  # noqa: BLE001 - the tasks will report the real error
            log.warning("model warm-up failed: %s", exc)
            worker.telltale_models = {"error": str(exc)}
        worker.telltale_models_s = time.perf_counter() - t

    def teardown(self, worker: Any) -> None:
        from ..faces import stop_embedding_worker

        stop_embedding_worker()


def worker_peak_rss_mb() -> float:
    """Peak resident memory of this worker process so far (MB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# --------------------------------------------------------------------------- photos


@dataclass(frozen=True)
class PhotoCode:
    """One photo encoded for search, or the reason it could not be."""

    path: str
    role: str
    sha256: str
    size: int
    encoded: Any = None  # detectors.hashing.Encoded
    error: str | None = None


def encode_photos(files: Sequence[InputFile]) -> list[PhotoCode]:
    from .. import hashing
    from ..faces import faces_in_image
    from ..media import load_image

    out = []
    for f in files:
        try:
            img = load_image(f.path, role=f.role)
        except MediaError as exc:
            out.append(PhotoCode(f.path, f.role, f.sha256, f.size, error=exc.problem))
            continue
        enc = hashing.encode_image(img.rgb, faces_in_image(img), sha256=img.sha256)
        out.append(PhotoCode(f.path, f.role, img.sha256, img.file_size, enc))
    return out


# --------------------------------------------------------------------------- recordings


def recording_pass(path: str, settings: Mapping[str, Any] | None = None) -> Any:
    """The recording's single pass and checks; an unusable file comes back with its error."""
    from ..pipeline import RecordingResult, analyze_recording

    t = time.perf_counter()
    try:
        result = analyze_recording(path, settings)
    except MediaError as exc:
        log.warning("%s", exc)
        return RecordingResult(path, MediaEntry(path=path, kind="video", error=exc.problem))
    result.timings_s[f"recording:{Path(path).name}"] = time.perf_counter() - t
    return result


# --------------------------------------------------------------------------- candidates


@dataclass(frozen=True)
class InterviewIdentity:
    main_identity: np.ndarray


@dataclass(frozen=True)
class InterviewRecording:
    """What the client stores of a scored recording, in the shape
    :meth:`Library.record_analysis` reads: ``.path``, ``.track.main_identity`` (the main face's
    embedding, or no track) and ``.voice`` (the recording's :class:`detectors.voice.RecordingVoice`,
    a few kB; the library keeps only the candidate's print, see
    :func:`detectors.voice_check.storable_print`)."""

    path: str
    track: InterviewIdentity | None
    voice: Any = None


@dataclass(frozen=True)
class CandidateOutcome:
    """What a scoring task sends back: the report (JSON-ready) and the recordings' faces and
    voices to store."""

    name: str
    report: dict[str, Any]
    interview_recordings: tuple[InterviewRecording, ...] = ()
    worker: str = ""
    seconds: float = 0.0
    timings_s: Mapping[str, float] = field(default_factory=dict)


def score_candidate(
    candidate: CandidateFolder,
    library_location: str | None,
    settings: Mapping[str, Any] | None,
    *recordings: Any,
) -> CandidateOutcome:
    """Candidate checks and the fused score over the finished recording passes."""
    from ..media import load_image
    from ..pipeline import build_report

    t0 = time.perf_counter()
    images, errors = [], []
    for f in candidate.photos:
        try:
            images.append(load_image(f.path, role=f.role))
        except MediaError as exc:
            errors.append(MediaEntry(path=f.path, kind="unknown", error=exc.problem))
    ok = [r for r in recordings if r.ok and r.track is not None]
    errors += [r.entry for r in recordings if not r.ok]
    timings: dict[str, float] = {}
    for r in ok:
        for key, value in r.timings_s.items():
            timings[key] = timings.get(key, 0.0) + value
    library = open_library(library_location, writer=False) if library_location is not None else None
    try:
        report = build_report(candidate.name, ok, images, library, settings, errors, None, timings)
    finally:
        if library is not None:
            library.close()
    data = report.to_dict()
    data["batch"] = {"inputs": candidate.inputs_key(), "folder": candidate.folder}
    kept = tuple(
        InterviewRecording(
            r.path,
            None if r.track.main_identity is None else InterviewIdentity(np.asarray(r.track.main_identity, np.float32)),
            r.voice,
        )
        for r in ok if r.track.main_identity is not None or r.voice is not None
    )
    seconds = time.perf_counter() - t0
    data["timings_s"]["candidate_task"] = round(seconds, 3)
    return CandidateOutcome(candidate.name, data, kept, _worker_name(), seconds, timings)


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return f"pid {os.getpid()}"
