"""Background work: analyses, adding files and face comparisons run in worker threads; results
come back to the GUI thread through queued signals, so the window never waits on the engine.

The workers are long-lived Python threads (:class:`WorkerPool`), not QThreadPool threads: dlib's
pybind11 bindings keep the Python thread state of the OS thread that last called them, and a
QThreadPool thread gets a new one for every runnable (Shiboken drops it in between), so the
second dlib call on a reused pool thread waited forever for the GIL (seen in this app's tests and
its screenshot run). A Python thread keeps one thread state for its whole life.

One :class:`AnalysisJob` per candidate run. Its files are analysed one after another; each file
has its own cancel event (the per-file cancel button) and the job has one for everything. A
cancelled or unusable file is left out of the report and listed with the reason; when nothing
could be analysed no report is saved.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from concurrent.futures import Future, ThreadPoolExecutor, wait

from PySide6.QtCore import QObject, Signal

from . import engine

log = logging.getLogger(__name__)

CANDIDATE_STEP = "__candidate__"
"""Key of the last step of a job: candidate-level checks and scoring."""

CANDIDATE_STEP_MESSAGE = "comparing faces with the ID photo and the library, then scoring…"
"""What the busy bar of the candidate step says while build_report runs."""

PROGRESS_MIN_INTERVAL_S = 0.05
"""Progress signals are thinned to at most one per this interval per file (keeps the GUI calm)."""


@dataclass
class JobFile:
    key: str
    path: str
    role: str  # video | id | photo
    cancel: threading.Event = field(default_factory=threading.Event)


class JobSignals(QObject):
    # job id, file key, fraction 0..1, message
    progress = Signal(str, str, float, str)
    # job id, file key, status ("done" | "error" | "cancelled"), plain-language message
    file_finished = Signal(str, str, str, str)
    # job id, status ("done" | "cancelled" | "failed"), report dict or None, messages list
    finished = Signal(str, str, object, object)


class AnalysisJob:
    """Analyse one candidate's files and build the report (runs in a pool thread)."""

    def __init__(
        self,
        candidate_id: Any,
        candidate_name: str,
        files: list[tuple[str, str]],
        library_path: str | None,
        settings: dict[str, float] | None = None,
    ) -> None:
        self.job_id = uuid.uuid4().hex[:12]
        self.candidate_id = candidate_id
        self.candidate_name = candidate_name
        self.files = [JobFile(f"f{i}", str(p), role) for i, (p, role) in enumerate(files)]
        self.library_path = library_path
        self.settings = dict(settings or {})
        self.cancel_all = threading.Event()
        self.candidate_cancel = threading.Event()
        self.discard_results = False  # set by the GUI when the candidate is being erased
        self.store_error: str | None = None  # why the finished analysis is not in the library
        self.signals = JobSignals()
        self._last_emit: dict[str, float] = {}

    # called from the GUI thread ------------------------------------------------------
    def cancel_file(self, key: str) -> None:
        if key == CANDIDATE_STEP:
            self.cancel()
            return
        for f in self.files:
            if f.key == key:
                f.cancel.set()

    def cancel(self) -> None:
        self.cancel_all.set()
        self.candidate_cancel.set()
        for f in self.files:
            f.cancel.set()

    # pool thread -----------------------------------------------------------------------
    def _emit_progress(self, key: str, fraction: float, message: str, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_emit.get(key, 0.0) < PROGRESS_MIN_INTERVAL_S:
            return
        self._last_emit[key] = now
        self.signals.progress.emit(self.job_id, key, float(fraction), message)

    def run(self) -> None:  # noqa: C901 - one linear story, kept together on purpose
        try:
            self._run()
        except Exception as exc:  # noqa: BLE001 - a worker must never take the app down
            log.error("analysis job failed:\n%s", traceback.format_exc())
            self.signals.finished.emit(self.job_id, "failed", None, [engine.plain_error(exc)])

    def _run(self) -> None:
        from detectors import pipeline
        from detectors.base import Cancelled, MediaError
        from detectors.report import MediaEntry

        recordings: list[Any] = []
        images: list[Any] = []
        errors: list[Any] = []
        messages: list[str] = []
        cancelled = 0
        for f in self.files:
            name = Path(f.path).name
            if f.cancel.is_set():
                cancelled += 1
                self.signals.file_finished.emit(self.job_id, f.key, "cancelled", f"“{name}”: cancelled")
                continue
            self._emit_progress(f.key, 0.0, f"{name}: starting", force=True)
            try:
                if f.role == "video":
                    rec = pipeline.analyze_recording(
                        f.path,
                        settings=self.settings,
                        progress=lambda fr, msg, k=f.key: self._emit_progress(k, fr, msg),
                        cancel=f.cancel,
                    )
                    recordings.append(rec)
                else:
                    images.append(pipeline.analyze_image(f.path, role=f.role))
                self._emit_progress(f.key, 1.0, f"{name}: done", force=True)
                self.signals.file_finished.emit(self.job_id, f.key, "done", f"“{name}”: analysed")
            except Cancelled:
                cancelled += 1
                self.signals.file_finished.emit(self.job_id, f.key, "cancelled", f"“{name}”: cancelled")
            except MediaError as exc:
                kind = "video" if f.role == "video" else ("id-photo" if f.role == "id" else "photo")
                errors.append(MediaEntry(path=f.path, kind=kind, error=exc.problem))
                msg = engine.plain_error(exc)
                messages.append(msg)
                self.signals.file_finished.emit(self.job_id, f.key, "error", msg)
            except Exception as exc:  # noqa: BLE001 - report it for this file, keep the others
                log.error("analysis of %s failed:\n%s", f.path, traceback.format_exc())
                errors.append(MediaEntry(path=f.path, kind=f.role, error=str(exc) or exc.__class__.__name__))
                msg = engine.plain_error(exc, f.path)
                messages.append(msg)
                self.signals.file_finished.emit(self.job_id, f.key, "error", msg)

        if self.cancel_all.is_set() or (not recordings and not images):
            status = "cancelled" if (self.cancel_all.is_set() or cancelled) else "failed"
            if status == "failed" and not messages:
                messages.append("There was nothing to analyse: add a recording or an ID photo first.")
            self.signals.finished.emit(self.job_id, status, None, messages)
            return

        # build_report has no progress callback: the panel shows this step as a busy bar
        self._emit_progress(CANDIDATE_STEP, 0.0, CANDIDATE_STEP_MESSAGE, force=True)
        library = None
        try:
            if self.library_path:
                try:
                    # own connection for this thread; retention is the GUI's business, never erase here
                    library = engine.open_library(self.library_path, self.settings, apply_retention=False)
                except Exception:  # noqa: BLE001 - the report can still be built without it
                    log.exception("library could not be opened in the worker")
            report = pipeline.build_report(
                self.candidate_name,
                recordings,
                images,
                library=library,
                settings=self.settings,
                errors=errors,
                cancel=self.candidate_cancel,
            )
            data = report.to_dict()
            self._store(library, images, [r for r in recordings if getattr(r, "ok", True)], data)
        except Cancelled:
            self.signals.file_finished.emit(self.job_id, CANDIDATE_STEP, "cancelled", "candidate checks cancelled")
            self.signals.finished.emit(self.job_id, "cancelled", None, messages)
            return
        finally:
            engine.close_quietly(library)
        self._emit_progress(CANDIDATE_STEP, 1.0, "report ready", force=True)
        self.signals.file_finished.emit(self.job_id, CANDIDATE_STEP, "done", "report ready")
        if cancelled:
            messages.append(f"{cancelled} file(s) were cancelled and left out of this report.")
        self.signals.finished.emit(self.job_id, "done", data, messages)

    def _store(self, library: Any, images: list[Any], recordings: list[Any], data: dict[str, Any]) -> None:
        """The photos, the recordings' faces and voice prints, and the report, in one
        transaction on this thread's own connection (hashing a photo takes a moment: never on
        the GUI thread): later candidates are searched against them, and a failed write leaves
        nothing half-stored. Nothing is stored for a candidate being erased; ``store_error``
        says why a finished analysis is not in the library."""
        if not self.library_path or self.discard_results:
            return
        if library is None:
            self.store_error = "the library could not be opened"
            return
        try:
            library.record_analysis(self.candidate_name, images, recordings, data)
        except Exception as exc:  # noqa: BLE001 - the report is still shown; the GUI says it was not stored
            log.exception("could not store %s's analysis in the library", self.candidate_name)
            self.store_error = engine.plain_error(exc)


class FaceDistanceSignals(QObject):
    finished = Signal(str, object)  # request id, {(name_a, name_b): distance or None}


class FaceDistanceJob:
    """Face embedding distance between candidates, from their ID photos or report face crops."""

    def __init__(self, request_id: str, sources: dict[str, dict[str, Any]]) -> None:
        self.request_id = request_id
        self.sources = sources  # name -> {"photos": [paths], "crops": [base64 png]}
        self.signals = FaceDistanceSignals()

    def run(self) -> None:
        try:
            result = face_distances(self.sources)
        except Exception:  # noqa: BLE001
            log.exception("face distance failed")
            result = {}
        self.signals.finished.emit(self.request_id, result)


FACES_PER_SOURCE = 2
"""Faces embedded per kind (ID photos, interview crops) per candidate when comparing."""


def _embeddings(source: dict[str, Any]) -> list[tuple[str, Any]]:
    """(where, embedding) for a candidate's ID photos and interview face crops."""
    import base64
    import io

    import numpy as np
    from PIL import Image

    from detectors.faces import faces_in_image
    from detectors.media import load_image

    out: list[tuple[str, Any]] = []
    for path in source.get("photos", [])[:FACES_PER_SOURCE]:
        try:
            faces = faces_in_image(load_image(path))
        except Exception:  # noqa: BLE001 - try the next source
            continue
        if faces:
            out.append(("ID photo", faces[0].embedding))
    found = 0
    for b64 in source.get("crops", []):
        if found >= FACES_PER_SOURCE:
            break
        try:
            rgb = np.asarray(Image.open(io.BytesIO(base64.b64decode(b64))).convert("RGB"))
            # small crops: pad so the HOG detector sees the whole face
            pad = max(8, rgb.shape[0] // 4)
            rgb = np.ascontiguousarray(np.pad(rgb, ((pad, pad), (pad, pad), (0, 0)), mode="edge"))
            faces = faces_in_image(rgb)
        except Exception:  # noqa: BLE001
            continue
        if faces:
            out.append(("interview", faces[0].embedding))
            found += 1
    return out


def face_distances(sources: dict[str, dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any] | None]:
    """For every pair of candidates the closest dlib distance between any of their faces (ID
    photos and interview crops), and which faces gave it; None when one has no face."""
    import numpy as np

    emb = {name: _embeddings(src) for name, src in sources.items()}
    names = list(sources)
    out: dict[tuple[str, str], dict[str, Any] | None] = {}
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            best = None
            for wa, ea in emb[a]:
                for wb, eb in emb[b]:
                    d = float(np.linalg.norm(np.asarray(ea) - np.asarray(eb)))
                    if best is None or d < best["distance"]:
                        best = {"distance": d, "via": f"{wa} ↔ {wb}"}
            out[(a, b)] = best
    return out


class WorkerPool:
    """Jobs (objects with ``run()``) on long-lived Python threads, in submission order."""

    def __init__(self, name: str, workers: int = 1) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"telltale-{name}")
        self._futures: set[Future] = set()
        self._lock = threading.Lock()

    def start(self, job: Any) -> Future:
        future = self._executor.submit(job.run)
        with self._lock:
            self._futures.add(future)
        future.add_done_callback(self._forget)
        return future

    def _forget(self, future: Future) -> None:
        with self._lock:
            self._futures.discard(future)

    def waitForDone(self, msecs: int = -1) -> bool:  # noqa: N802 - same name as QThreadPool's
        """Block until every job has finished (or ``msecs`` pass); True when all are done."""
        with self._lock:
            pending = set(self._futures)
        if not pending:
            return True
        _, not_done = wait(pending, timeout=None if msecs < 0 else msecs / 1000)
        return not not_done

    def activeCount(self) -> int:  # noqa: N802
        with self._lock:
            return sum(1 for f in self._futures if not f.done())

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def analysis_pool() -> WorkerPool:
    """One analysis at a time: analyses queue rather than fight for the two cores."""
    return WorkerPool("analysis", 1)


class AddMediaSignals(QObject):
    # job id, candidate id, files added, plain-language problems
    finished = Signal(str, object, int, object)


class AddMediaJob:
    """Check files and add them to a candidate in the library (photos are hashed and their faces
    embedded on the way in, a second or two each: too slow for the GUI thread)."""

    def __init__(self, library: Any, candidate_id: Any, files: list[tuple[str, str]]) -> None:
        self.job_id = uuid.uuid4().hex[:12]
        self.library = library  # detectors.store.sqlite.Library is thread-safe (one connection, a lock)
        self.candidate_id = candidate_id
        self.files = files
        self.signals = AddMediaSignals()

    def run(self) -> None:
        added, problems = 0, []
        for path, role in self.files:
            try:
                engine.validate_media(path, role)
                self.library.add_media(self.candidate_id, path, role)
                added += 1
            except Exception as exc:  # noqa: BLE001 - each file gets its sentence, the rest go on
                log.info("not added %s: %s", path, exc)
                problems.append(engine.plain_error(exc, path))
        self.signals.finished.emit(self.job_id, self.candidate_id, added, problems)


def io_pool() -> WorkerPool:
    """Quick library work (adding files), so it never waits behind an analysis."""
    return WorkerPool("io", 1)
