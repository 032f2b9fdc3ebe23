"""Run a batch on Dask: the client side (scheduling, library writes, reports, summary).

The order of work, and why:

1. Scan the folder (content hashes) and skip every candidate whose stored analysis was made
   from the same files (role and SHA-256): a crashed or cancelled batch continues where it
   stopped, and nothing finished is redone.
2. Submit, for the candidates left, one photo-encoding task each (highest priority) and one
   pass per recording. The client registers every photo in the library as its encoding comes
   back, before any candidate is scored: two candidates sharing a photo or a face in their
   photos flag each other, whatever order they finish in.
3. When a candidate's passes are done, its scoring task runs (priority above the passes, so
   reports flow out while later recordings are still decoding). The client, the library's only
   writer, stores the report, writes ``<out>/<candidate>.json`` and registers the interview
   face. A finished candidate is therefore never lost, whatever happens next.
4. A face seen only in interviews is registered when its candidate finishes, so a candidate
   scored earlier did not see it. After the round, every candidate whose report misses another
   of the batch (named by it without naming it back, or matching it when the library is
   searched again with the candidate's own photos and interview faces) is scored again: one
   extra round, with everything registered by then, so the flag is symmetric. The extra round
   re-runs those candidates' passes (a cheaper re-fusion of the reuse finding alone is left for
   later).
5. ``summary.csv`` and ``summary.json`` (most suspicious first) are written at the end, also
   after an interruption (the candidates not reached are listed as such).

Failures: a task that raises is retried once (``retries=1``); a candidate whose task lost its
worker is submitted once more (see :data:`WORKER_DEATH_RETRIES`); after that the candidate is
reported with the error and the batch goes on. Memory per worker is bounded
(``memory_limit``; no spilling to disk: face tracks are biometric data); a worker over the limit
is restarted by its nanny, which counts as a worker death.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import logging
import os
import re
import signal
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from .. import privacy
from .folder import CandidateFolder, scan_folder
from .tasks import (
    BatchError,
    CandidateOutcome,
    WarmModels,
    encode_photos,
    is_url,
    open_library,
    recording_pass,
    score_candidate,
    worker_peak_rss_mb,
)

log = logging.getLogger(__name__)

CORES_PER_WORKER = 2
"""Default local workers = cores // this. One recording pass keeps about two cores busy by
itself (the decoder thread, Face Mesh on the main thread, the checks' observer thread and the
dlib embedding process), so more workers than cores / 2 mostly contend (bench/batch_bench.py
measures 1 and 2 workers on this 2-core machine)."""

MEMORY_PER_WORKER_MAX = 4 * 1024**3
"""Ceiling of the default memory limit per worker (bytes). A 30-minute pass peaks near 450 MB
(README); the limit leaves room for a pass and the recording results waiting to be scored."""

MEMORY_PER_WORKER_MIN = 1 * 1024**3
"""Floor of the default memory limit per worker (bytes)."""

MEMORY_SHARE = 0.8
"""Share of the machine's available memory the local workers may use together."""

ALLOWED_WORKER_DEATHS = 0
"""Worker deaths Dask itself tolerates for a task (``distributed.scheduler.allowed-failures``).
0: the first death makes the task fail with KilledWorker, and the batch retries the candidate
(:data:`WORKER_DEATH_RETRIES`). Dask's own count is not exact here (one death was seen counted
twice under load, so allowed-failures=1 sometimes gave no second attempt); the batch's is."""

WORKER_DEATH_RETRIES = 1
"""Times a candidate whose task lost its worker (killed, crashed, over its memory limit) is
submitted again, passes and scoring, before it is reported as failed."""

TASK_RETRIES = 1
"""Times a task that raised is run again before its candidate is reported as failed."""

PRIORITY_PHOTOS, PRIORITY_SCORE, PRIORITY_PASS = 20, 10, 0
"""Dask priorities (higher first): photos are registered before any scoring; a candidate whose
passes are done is scored before the next pass starts."""

WORKER_START_TIMEOUT_S = 600.0
"""Longest wait for the local workers to start (a busy laptop can take minutes)."""

POLL_S = 0.2
"""How often the client looks at finished tasks and the cancel flag (s)."""

DASK_CONFIG = {
    "distributed.scheduler.allowed-failures": ALLOWED_WORKER_DEATHS,
    "distributed.worker.memory.target": False,  # no spilling of face tracks to the worker's disk
    "distributed.worker.memory.spill": False,
    "distributed.worker.memory.pause": 0.85,
    "distributed.worker.memory.terminate": 0.95,
}


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class CandidateRow:
    """One line of the summary."""

    candidate: str
    status: str  # "analysed", "unchanged" (stored analysis kept), "failed", "not-run" (interrupted)
    score: float | None = None
    verdict: str | None = None
    top_reason: str = ""
    files: int = 0
    errors: tuple[str, ...] = ()
    reuse_with: tuple[str, ...] = ()
    report: str | None = None  # path of the written JSON report
    seconds: float | None = None  # candidate's task time (passes + scoring)
    worker: str = ""

    def csv_row(self) -> dict[str, Any]:
        return {
            "candidate": self.candidate,
            "score": "" if self.score is None else f"{self.score:.1f}",
            "verdict": self.verdict or "",
            "top_reason": self.top_reason,
            "files": self.files,
            "errors": " | ".join(self.errors),
            "status": self.status,
            "reuse_with": "; ".join(self.reuse_with),
            "report": self.report or "",
        }


CSV_COLUMNS = ("candidate", "score", "verdict", "top_reason", "files", "errors", "status", "reuse_with", "report")


@dataclass(frozen=True)
class BatchProgress:
    """What the terminal and the app show while a batch runs."""

    event: str  # "scanned", "skipped", "started", "done", "failed", "rescoring", "finished"
    done: int  # candidates finished in this run (analysed or failed)
    total: int  # candidates to analyse in this run
    failed: int
    skipped: int
    eta_s: float | None
    message: str
    candidate: str | None = None
    row: CandidateRow | None = None


@dataclass(frozen=True)
class BatchResult:
    folder: str
    out_dir: str
    rows: tuple[CandidateRow, ...]  # most suspicious first
    reuse: tuple[dict[str, Any], ...]  # every cross-candidate match found in the batch
    wall_s: float
    workers: int
    interrupted: bool
    rescored: tuple[str, ...] = ()
    dashboard: str | None = None
    summary_csv: str = ""
    summary_json: str = ""
    worker_peak_rss_mb: Mapping[str, float] = field(default_factory=dict)
    model_load_s: Mapping[str, float] = field(default_factory=dict)

    def count(self, status: str) -> int:
        return sum(1 for r in self.rows if r.status == status)


@dataclass(frozen=True)
class BatchOptions:
    workers: int | None = None  # local workers (default: cores // CORES_PER_WORKER)
    scheduler: str | None = None  # address of a running Dask scheduler instead of local workers
    memory_limit: str | int | None = None  # per local worker ("2GB"; default: see MEMORY_*)
    settings: Mapping[str, Any] = field(default_factory=dict)
    force: bool = False  # analyse every candidate again, unchanged or not


ProgressFn = Callable[[BatchProgress], None]


# --------------------------------------------------------------------------- helpers


def default_workers() -> int:
    return max(1, (os.cpu_count() or 1) // CORES_PER_WORKER)


def default_memory_limit(workers: int) -> int:
    try:
        import psutil

        available = psutil.virtual_memory().available
    except ImportError:  # pragma: no cover - psutil comes with distributed
        available = MEMORY_PER_WORKER_MAX * workers
    share = int(available * MEMORY_SHARE / max(1, workers))
    return max(MEMORY_PER_WORKER_MIN, min(MEMORY_PER_WORKER_MAX, share))


def report_file_name(name: str) -> str:
    """A file name for the candidate's report: the name made safe, with a short hash when it
    had to change (two names never share a file)."""
    safe = re.sub(r"[^\w .-]+", "_", name, flags=re.UNICODE).strip(" ._") or "candidate"
    if safe != name:
        safe += "-" + hashlib.sha1(name.encode("utf-8")).hexdigest()[:6]
    return safe + ".json"


def _reuse_matches(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """What the report shares with other candidates or collections: the reuse check's matches
    (the same photo, the same or a look-alike face) and the voice check's library matches (the
    same voice, kind "same-voice"; ``query`` is the candidate's recording)."""
    checks = report.get("checks") or {}
    found = list((((checks.get("reuse") or {}).get("evidence")) or {}).get("matches") or [])
    for m in (((checks.get("voice") or {}).get("evidence")) or {}).get("library_matches") or []:
        found.append({**m, "kind": "same-voice", "query": m.get("query", m.get("recording"))})
    return found


def reuse_names(report: Mapping[str, Any]) -> tuple[str, ...]:
    """Other candidates the report's reuse or voice finding names (same photo, face or voice)."""
    return tuple(sorted({m["candidate"] for m in _reuse_matches(report) if m.get("candidate")}))


def row_from_report(name: str, report: Mapping[str, Any], status: str, path: str | None,
                    seconds: float | None = None, worker: str = "") -> CandidateRow:
    reasons = report.get("reasons") or []
    return CandidateRow(
        candidate=name,
        status=status,
        score=float(report["score"]) if report.get("score") is not None else None,
        verdict=report.get("verdict"),
        top_reason=str(reasons[0]) if reasons else "",
        files=len(report.get("media") or []),
        errors=tuple(report.get("errors") or ()),
        reuse_with=reuse_names(report),
        report=path,
        seconds=seconds,
        worker=worker,
    )


def sort_rows(rows: Sequence[CandidateRow]) -> list[CandidateRow]:
    """Most suspicious first; candidates without a score (failed, not run) last."""
    return sorted(rows, key=lambda r: (r.score is None, r.score if r.score is not None else 0.0, r.candidate))


@contextlib.contextmanager
def _children_ignore_sigint() -> Iterator[None]:
    """Worker processes started inside this block never see Ctrl-C (the terminal sends it to
    the whole process group): the client alone decides how the batch stops. SIGINT is blocked,
    not ignored: the block is inherited by the threads and processes started here (Dask's
    event loop, the workers and the ones it restarts), and a Ctrl-C pressed meanwhile waits
    and interrupts the client as soon as the block ends."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _start_client(options: BatchOptions) -> tuple[Any, Any, int]:
    """A Dask client on local workers (LocalCluster, processes) or on ``options.scheduler``."""
    import dask
    from distributed import Client, LocalCluster

    dask.config.set(DASK_CONFIG)
    if not log.isEnabledFor(logging.INFO):  # Dask's own INFO/WARNING lines only with -v
        logging.getLogger("distributed").setLevel(logging.ERROR)
    if options.scheduler:
        try:
            client = Client(options.scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise BatchError(f"Dask scheduler {options.scheduler} not reachable ({exc})") from exc
        cluster = None
    else:
        n = max(1, int(options.workers or default_workers()))
        memory = options.memory_limit or default_memory_limit(n)
        dashboard = _has_bokeh()
        with _children_ignore_sigint():
            cluster = LocalCluster(
                n_workers=n,
                threads_per_worker=1,
                processes=True,
                memory_limit=memory,
                dashboard_address="127.0.0.1:0",  # any free port (no clash with another cluster)
                scheduler_kwargs={"dashboard": dashboard},
                silence_logs=logging.ERROR if log.isEnabledFor(logging.INFO) else logging.CRITICAL,
                host="127.0.0.1",
            )
        client = Client(cluster)
        try:
            client.wait_for_workers(n, timeout=WORKER_START_TIMEOUT_S)
        except (TimeoutError, OSError) as exc:
            client.close()
            cluster.close()
            raise BatchError(f"the {n} local worker(s) did not start within {WORKER_START_TIMEOUT_S:.0f} s ({exc})") from exc
    client.register_plugin(WarmModels())
    workers = len(client.scheduler_info().get("workers", {}))
    return client, cluster, workers


def _has_bokeh() -> bool:
    import importlib.util

    return importlib.util.find_spec("bokeh") is not None


def dashboard_link(client: Any) -> str | None:
    """The Dask dashboard's address when one is running (it needs bokeh, not installed by default)."""
    if not _has_bokeh():
        return None
    try:
        services = client.scheduler_info().get("services", {})
    except Exception:  # noqa: BLE001
        return None
    return client.dashboard_link if "dashboard" in services else None


# --------------------------------------------------------------------------- the batch


class _Batch:
    """One run: the client's state between rounds."""

    def __init__(self, folder: Path, out: Path, library: Any, worker_location: str | None,
                 options: BatchOptions, on_progress: ProgressFn | None, cancel: threading.Event) -> None:
        self.folder = folder
        self.out = out
        self.library = library
        self.worker_location = worker_location
        self.options = options
        self.settings = dict(options.settings)
        self.on_progress = on_progress
        self.cancel = cancel
        self.rows: dict[str, CandidateRow] = {}
        self.total = 0
        self.done = 0
        self.failed = 0
        self.skipped = 0
        self.t_work: float | None = None
        self.tag = uuid.uuid4().hex[:8]
        self.codes: dict[str, list[Any]] = {}  # photo encodings of this run's candidates (a few kB each)
        self.recordings: dict[str, tuple[Any, ...]] = {}  # their interview faces and voices (InterviewRecording)

    # -- progress ------------------------------------------------------------
    def emit(self, event: str, message: str, candidate: str | None = None, row: CandidateRow | None = None) -> None:
        if self.on_progress is None:
            return
        eta = None
        if self.t_work is not None and self.done:
            eta = (time.perf_counter() - self.t_work) / self.done * max(0, self.total - self.done)
        self.on_progress(BatchProgress(event, self.done, self.total, self.failed, self.skipped, eta, message, candidate, row))

    # -- reports -------------------------------------------------------------
    def write_report(self, name: str, report: Mapping[str, Any]) -> str:
        from ..base import jsonable

        path = self.out / report_file_name(name)
        privacy.write_private(path, json.dumps(jsonable(report), indent=2, ensure_ascii=False))
        return str(path)

    def skip_unchanged(self, candidates: Sequence[CandidateFolder]) -> list[CandidateFolder]:
        todo = []
        for cand in candidates:
            stored = None if self.options.force else self.library.latest_report(cand.name)
            if stored is not None and (stored.get("batch") or {}).get("inputs") == cand.inputs_key() \
                    and not self._stale(cand.name):
                path = self.out / report_file_name(cand.name)
                written = str(path) if path.is_file() else self.write_report(cand.name, stored)
                self.rows[cand.name] = row_from_report(cand.name, stored, "unchanged", written)
                self.skipped += 1
                self.emit("skipped", f"{cand.name}: unchanged since its stored analysis", cand.name, self.rows[cand.name])
            else:
                todo.append(cand)
        return todo

    def register_photos(self, name: str, codes: Sequence[Any]) -> None:
        self.codes[name] = [c for c in codes if c.encoded is not None]
        known = set()
        if self.library.get_candidate(name) is not None:
            known = {(m.sha256, m.role) for m in self.library.media(name)}
        else:
            self.library.add_candidate(name)
        for code in codes:
            if code.encoded is None or (code.sha256, code.role) in known:
                continue  # an unusable photo is named in the report by the scoring task
            self.library.add_encoded(name, code.path, code.role, code.encoded, sha256=code.sha256, size=code.size)
            known.add((code.sha256, code.role))

    def finish_candidate(self, outcome: CandidateOutcome, seconds: float) -> CandidateRow:
        """Store the interview faces and voice prints with the report (one transaction: all of
        it or none), then write the report: the candidate is safe."""
        name = outcome.name
        self.recordings[name] = tuple(outcome.interview_recordings)
        self.library.record_analysis(name, (), list(outcome.interview_recordings), outcome.report)
        if hasattr(self.library, "clear_stale"):
            self.library.clear_stale(name)
        self._mark_partners(name, outcome.report)
        path = self.write_report(name, outcome.report)
        return row_from_report(name, outcome.report, "analysed", path, round(seconds, 2), outcome.worker)

    def _stale(self, name: str) -> list[str]:
        """Why the library says the candidate's report is out of date (a later candidate shares
        their face, photo or voice, a file changed); such a candidate is analysed again."""
        return list(self.library.stale_reasons(name)) if hasattr(self.library, "stale_reasons") else []

    def _mark_partners(self, name: str, report: Mapping[str, Any]) -> None:
        """Candidates this report shares a face, photo or voice with, whose own report does not name it
        back, are marked out of date in the library (the app shows it; a re-run redoes them).
        Those in this batch are scored again at the end of the round, which clears the mark."""
        if not hasattr(self.library, "mark_stale"):
            return
        for m in _reuse_matches(report):
            other = m.get("candidate")
            if not other or other == name:
                continue
            theirs = self.library.latest_report(other)
            if theirs is None or name in reuse_names(theirs):
                continue
            what = {"same-image": "photo", "same-face": "face", "same-voice": "voice"}.get(str(m.get("kind")), "face or photo")
            try:
                self.library.mark_stale(other, "reuse", name, what)
            except Exception as exc:  # noqa: BLE001 - a mark is advice; the batch goes on
                log.warning("could not mark %s out of date: %s", other, exc)

    def fail_candidate(self, cand: CandidateFolder, error: str) -> CandidateRow:
        return CandidateRow(cand.name, "failed", files=len(cand.files), errors=(error,))

    # -- one round -------------------------------------------------------------
    def run_round(self, client: Any, candidates: Sequence[CandidateFolder], rescore: bool = False) -> bool:
        """Analyse ``candidates``; True when the round ran to its end (not cancelled).

        ``rescore``: a second look at candidates already analysed (symmetric reuse); a failure
        then keeps the candidate's earlier report and does not count again.
        """
        if self.t_work is None:
            self.t_work = time.perf_counter()
        by_name = {c.name: c for c in candidates}
        submit = client.submit
        photos = {
            c.name: submit(encode_photos, c.photos, key=f"photos-{self.tag}-{i}-{c.name}", priority=PRIORITY_PHOTOS,
                           retries=TASK_RETRIES, pure=False)
            for i, c in enumerate(candidates) if c.photos
        }
        passes = {
            c.name: [submit(recording_pass, f.path, self.settings, key=f"pass-{self.tag}-{i}.{j}-{c.name}",
                            priority=PRIORITY_PASS, retries=TASK_RETRIES, pure=False)
                     for j, f in enumerate(c.recordings)]
            for i, c in enumerate(candidates)
        }
        scoring: dict[str, Any] = {}
        failed_early: dict[str, str] = {}
        index = {c.name: i for i, c in enumerate(candidates)}
        deaths: dict[str, int] = {}

        def submit_scoring(c: CandidateFolder, attempt: int = 0) -> Any:
            if attempt:  # a worker died under this candidate: its passes run again too
                passes[c.name] = [submit(recording_pass, f.path, self.settings, priority=PRIORITY_PASS,
                                         key=f"pass-{self.tag}-{index[c.name]}.{j}.{attempt}-{c.name}",
                                         retries=TASK_RETRIES, pure=False)
                                  for j, f in enumerate(c.recordings)]
            return submit(score_candidate, c, self.worker_location, self.settings, *passes[c.name],
                          key=f"score-{self.tag}-{index[c.name]}.{attempt}-{c.name}", priority=PRIORITY_SCORE,
                          retries=TASK_RETRIES, pure=False)

        try:
            while photos:  # every photo in the library before any candidate is scored
                self._check_cancel()
                for name in [n for n, f in photos.items() if f.done()]:
                    try:
                        self.register_photos(name, photos.pop(name).result())
                    except Exception as exc:  # noqa: BLE001 - the candidate fails, the batch goes on
                        failed_early[name] = f"photos: {_describe(exc)}"
                if photos:
                    time.sleep(POLL_S)
            for i, c in enumerate(candidates):
                if c.name in failed_early:
                    client.cancel(passes.pop(c.name))
                    self._record(self.fail_candidate(c, failed_early[c.name]), rescore)
                    continue
                scoring[c.name] = submit_scoring(c)
            while scoring:
                self._check_cancel()
                finished = [n for n, f in scoring.items() if f.done()]
                for name in finished:
                    fut = scoring.pop(name)
                    try:
                        outcome: CandidateOutcome = fut.result()
                        seconds = sum(v for k, v in outcome.timings_s.items() if k.startswith("recording:")) + outcome.seconds
                        row = self.finish_candidate(outcome, seconds)
                    except Exception as exc:  # noqa: BLE001 - reported for this candidate only
                        if type(exc).__name__ == "KilledWorker" and deaths.get(name, 0) < WORKER_DEATH_RETRIES:
                            deaths[name] = deaths.get(name, 0) + 1
                            log.warning("%s: a worker died under it; analysing it again", name)
                            self.emit("retrying", f"{name}: a worker died under it; analysing it again", name)
                            scoring[name] = submit_scoring(by_name[name], deaths[name])
                            continue
                        row = self.fail_candidate(by_name[name], _describe(exc))
                    self._record(row, rescore)
                    passes.pop(name, None)  # the recording results on the workers can go
                    self._check_cancel()
                if scoring and not finished:
                    time.sleep(POLL_S)
            return True
        except _Stop:
            client.cancel([f for fs in passes.values() for f in fs] + list(photos.values()) + list(scoring.values()))
            return False

    def _record(self, row: CandidateRow, rescore: bool) -> None:
        name = row.candidate
        if rescore:
            if row.status == "failed":
                log.warning("%s: scoring again failed (%s); the earlier report stands", name, "; ".join(row.errors))
                return
            self.rows[name] = row
            self.emit("rescored", f"{name}: {row.score:.0f} {row.verdict} (scored again)", name, row)
            return
        self.rows[name] = row
        self.done += 1
        if row.status == "failed":
            self.failed += 1
            self.emit("failed", f"{name}: failed: {'; '.join(row.errors)}", name, row)
        else:
            self.emit("done", f"{name}: {row.score:.0f} {row.verdict}", name, row)

    def _check_cancel(self) -> None:
        if self.cancel.is_set():
            raise _Stop()

    # -- symmetry ---------------------------------------------------------------
    def to_score_again(self) -> list[str]:
        """Candidates whose report may miss another of the batch: named by another but not naming
        it back (:meth:`one_sided`), or scored before a face they match was registered (two
        candidates scored at the same moment see neither each other's interview face). The
        second is found by searching the library now with each candidate's own photos, interview
        faces and voice prints, as the reuse and voice checks do; the rescoring runs the real
        checks."""
        from ..reuse import MAX_MATCHES_PER_QUERY
        from ..voice_check import SAME_VOICE, storable_print

        need = set(self.one_sided())
        names = set(self.rows)
        same_voice = float(self.settings.get(SAME_VOICE.key, SAME_VOICE.default))
        for name, row in self.rows.items():
            if row.status != "analysed" or name in need:
                continue
            found: set[str] = set()
            try:
                for code in self.codes.get(name, []):
                    found |= {m.candidate for m in self.library.search_encoded(code.encoded, exclude_candidate=name,
                                                                               limit=MAX_MATCHES_PER_QUERY)}
                for rec in self.recordings.get(name, ()):
                    if rec.track is not None:
                        found |= {m.candidate for m in self.library.search_embedding(rec.track.main_identity, exclude_candidate=name,
                                                                                     limit=MAX_MATCHES_PER_QUERY)}
                    stored = storable_print(rec.voice)  # the print the voice check searches with
                    if stored is not None:
                        found |= {m["candidate"] for m in self.library.search_voices(stored.embedding, exclude_candidate=name,
                                                                                      max_distance=same_voice, limit=MAX_MATCHES_PER_QUERY)
                                  if m.get("candidate")}
            except Exception as exc:  # noqa: BLE001 - a library without these searches: one-sided check only
                log.warning("could not search the library again for %s: %s", name, exc)
                continue
            if (found & names) - set(row.reuse_with):
                need.add(name)
        return sorted(need)

    def one_sided(self) -> list[str]:
        """Candidates named by another's reuse finding whose own report does not name it."""
        names = set(self.rows)
        need = set()
        for name, row in self.rows.items():
            for other in row.reuse_with:
                if other in names and name not in self.rows[other].reuse_with and self.rows[other].status in ("analysed", "unchanged"):
                    need.add(other)
        return sorted(need)

    def reuse_pairs(self) -> list[dict[str, Any]]:
        names = set(self.rows)
        pairs = []
        for name in sorted(self.rows):
            row = self.rows[name]
            if not row.reuse_with or row.report is None:
                continue
            try:
                report = json.loads(Path(row.report).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            for m in _reuse_matches(report):
                if m.get("candidate") in names:
                    pairs.append({
                        "candidate": name, "file": Path(str(m.get("query", ""))).name, "query_role": m.get("query_role"),
                        "other": m["candidate"], "other_file": Path(str(m.get("file", ""))).name or "interview",
                        # a face only near the same-person distance is a look-alike, not a finding
                        "kind": "look-alike" if m.get("lookalike") else m.get("kind"), "distance": m.get("distance"),
                        "method": (m.get("detail") or {}).get("method"),
                    })
        return pairs


def _shown(location: str | None) -> str:
    """The library's location as it may be written to the summary (a URL without its password)."""
    if not is_url(location):
        return str(location)
    try:
        from ..store import describe_location

        return str(describe_location(location))
    except ImportError:
        return re.sub(r"//[^@/]*@", "//***@", str(location))


class _Stop(Exception):
    """The batch was cancelled (Ctrl-C or the app's cancel)."""


def _describe(exc: BaseException) -> str:
    name = type(exc).__name__
    if name == "KilledWorker":
        return f"a worker died under it {WORKER_DEATH_RETRIES + 1} times (out of memory, killed or crashed)"
    if name == "CancelledError":
        return "cancelled"
    return f"{name}: {exc}"


def write_summary(out: Path, result_rows: Sequence[CandidateRow], meta: Mapping[str, Any]) -> tuple[str, str]:
    rows = sort_rows(result_rows)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(CSV_COLUMNS))
    writer.writeheader()
    for r in rows:
        writer.writerow(r.csv_row())
    csv_path = out / "summary.csv"
    json_path = out / "summary.json"
    privacy.write_private(csv_path, buf.getvalue())
    data = dict(meta)
    data["candidates"] = [asdict(r) | {"errors": list(r.errors), "reuse_with": list(r.reuse_with)} for r in rows]
    privacy.write_private(json_path, json.dumps(data, indent=2, ensure_ascii=False))
    return str(csv_path), str(json_path)


def run_batch(
    folder: str | Path,
    out_dir: str | Path,
    library_location: str | None = None,
    options: BatchOptions | None = None,
    on_progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
) -> BatchResult:
    """Analyse every candidate subfolder of ``folder`` on Dask; see the module docstring.

    Raises BatchFolderError / BatchError when the batch cannot start. KeyboardInterrupt (Ctrl-C)
    and ``cancel`` stop it cleanly: finished candidates are kept, the summary is written.
    """
    options = options or BatchOptions()
    cancel = cancel or threading.Event()
    t0 = time.perf_counter()
    root = Path(folder)
    out = Path(out_dir)
    privacy.make_private_dir(out)
    candidates = scan_folder(root, skip=out)
    library = open_library(library_location, writer=True, retention_days=options.settings.get("library.retention_days"))
    worker_location = library_location if is_url(library_location) else str(Path(library.path).absolute())
    batch = _Batch(root, out, library, worker_location, options, on_progress, cancel)
    client = cluster = None
    workers = 0
    interrupted = False
    rescored: list[str] = []
    dashboard = None
    peaks: dict[str, float] = {}
    loads: dict[str, float] = {}
    try:
        todo = batch.skip_unchanged(candidates)
        batch.total = len(todo)
        batch.emit("scanned", f"{len(candidates)} candidates, {len(todo)} to analyse, {batch.skipped} unchanged")
        if todo or batch.one_sided():
            client, cluster, workers = _start_client(options)
            if options.scheduler and not is_url(library_location):
                log.warning("workers of %s must see the library at %s (a shared folder), or use a PostgreSQL URL",
                            options.scheduler, worker_location)
            dashboard = dashboard_link(client)
            batch.emit("started", f"{workers} worker(s)" + (f", dashboard {dashboard}" if dashboard else ""))
            try:
                completed = batch.run_round(client, todo)
                if completed:
                    rescored = batch.to_score_again()
                    if rescored:
                        batch.emit("rescoring", f"scoring again so reuse is flagged both ways: {', '.join(rescored)}")
                        by_name = {c.name: c for c in candidates}
                        completed = batch.run_round(client, [by_name[n] for n in rescored], rescore=True)
                interrupted = not completed
            except KeyboardInterrupt:
                interrupted = True
            try:
                peaks = {str(k): round(float(v), 1) for k, v in client.run(worker_peak_rss_mb).items()}
                loads = {str(k): round(float(v or 0.0), 2) for k, v in
                         client.run(lambda dask_worker: getattr(dask_worker, "telltale_models_s", None)).items()}
            except Exception:  # noqa: BLE001 - figures only
                pass
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if client is not None:
            with contextlib.suppress(Exception):
                client.close(timeout=10)
        if cluster is not None:
            with contextlib.suppress(Exception):
                cluster.close(timeout=20)
        for cand in candidates:
            batch.rows.setdefault(cand.name, CandidateRow(cand.name, "not-run", files=len(cand.files),
                                                          errors=("batch interrupted before this candidate finished",)))
        pairs = batch.reuse_pairs()
        wall = time.perf_counter() - t0
        meta = {
            "folder": str(root.absolute()), "library": _shown(worker_location), "workers": workers,
            "scheduler": options.scheduler, "wall_s": round(wall, 2), "interrupted": interrupted,
            "analysed": sum(r.status == "analysed" for r in batch.rows.values()),
            "unchanged": batch.skipped, "failed": sum(r.status == "failed" for r in batch.rows.values()),
            "rescored_for_symmetric_reuse": rescored, "reuse": pairs,
            "worker_peak_rss_mb": peaks, "model_load_s": loads,
        }
        csv_path, json_path = write_summary(out, list(batch.rows.values()), meta)
        library.close()
    result = BatchResult(
        folder=str(root), out_dir=str(out), rows=tuple(sort_rows(list(batch.rows.values()))), reuse=tuple(pairs),
        wall_s=wall, workers=workers, interrupted=interrupted, rescored=tuple(rescored), dashboard=dashboard,
        summary_csv=csv_path, summary_json=json_path, worker_peak_rss_mb=peaks, model_load_s=loads,
    )
    batch.emit("finished", f"{result.count('analysed')} analysed, {result.count('unchanged')} unchanged, "
                           f"{result.count('failed')} failed" + (", interrupted" if interrupted else ""))
    return result
