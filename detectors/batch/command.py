"""``telltale batch``: the command line over :func:`detectors.batch.runner.run_batch`.

Exit codes: 0 when every candidate has a report, 1 when at least one failed, 2 when the batch
could not start (bad folder, library or scheduler), 130 when interrupted (finished candidates
are kept; the next run continues with the others).
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path
from typing import Any, TextIO

EXIT_OK = 0
EXIT_SOME_FAILED = 1
EXIT_CANNOT_START = 2
EXIT_INTERRUPTED = 130

BAR_WIDTH = 24
"""Characters of the terminal progress bar."""

SUMMARY_LINES = 40
"""Candidates printed at the end (all of them are in summary.csv)."""


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


class TerminalProgress:
    """A progress bar line on a terminal (candidates done, failures, ETA); one line per event
    otherwise (logs, CI)."""

    def __init__(self, stream: TextIO = sys.stderr, quiet: bool = False) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.quiet = quiet
        self.t0 = time.perf_counter()
        self._width = 0

    def __call__(self, p: Any) -> None:
        if self.quiet:
            return
        if p.event in ("started", "scanned", "rescoring", "finished") or not self.tty:
            self._clear()
            self.stream.write(f"telltale batch: {p.message}\n")
        if self.tty and p.total:
            filled = int(BAR_WIDTH * p.done / p.total)
            line = (f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {p.done}/{p.total} candidates"
                    f"  {p.failed} failed  {p.skipped} unchanged  elapsed {_clock(time.perf_counter() - self.t0)}"
                    f"  ETA {_clock(p.eta_s)}  {p.message[:40]}")
            self.stream.write("\r" + line.ljust(self._width))
            self._width = len(line)
        self.stream.flush()

    def _clear(self) -> None:
        if self.tty and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self._width = 0

    def close(self) -> None:
        self._clear()
        self.stream.flush()


def cmd_batch(args: argparse.Namespace) -> int:
    try:
        return _cmd_batch(args)
    except KeyboardInterrupt:  # while the engine was still loading
        print("telltale: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _cmd_batch(args: argparse.Namespace) -> int:
    from ..cli import _parse_settings
    from .folder import BatchFolderError
    from .runner import BatchOptions, run_batch
    from .tasks import BatchError

    settings = _parse_settings(args.set or [])
    folder = Path(args.folder)
    out = Path(args.out) if args.out else Path.cwd() / f"{folder.resolve().name}-reports"
    options = BatchOptions(workers=args.workers, scheduler=args.scheduler, memory_limit=args.memory_limit,
                           settings=settings, force=args.force)
    progress = TerminalProgress(quiet=args.quiet)
    cancel = threading.Event()
    try:
        result = run_batch(folder, out, args.library, options, progress, cancel)
    except (BatchFolderError, BatchError) as exc:
        progress.close()
        print(f"telltale: {exc}", file=sys.stderr)
        return EXIT_CANNOT_START
    except KeyboardInterrupt:  # before the batch could start
        progress.close()
        print("telltale: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        progress.close()

    rows = list(result.rows)
    print(f"{'score':>5}  {'verdict':<11} {'candidate':<28} top reason")
    for r in rows[:SUMMARY_LINES]:
        score = f"{r.score:5.0f}" if r.score is not None else "    -"
        what = r.top_reason if r.score is not None else f"[{r.status}] {'; '.join(r.errors)}"
        print(f"{score}  {(r.verdict or r.status):<11} {r.candidate[:28]:<28} {what[:90]}")
    if len(rows) > SUMMARY_LINES:
        print(f"... {len(rows) - SUMMARY_LINES} more in {result.summary_csv}")
    if result.reuse:
        print("Reuse across the batch:")
        for m in result.reuse:
            print(f"  {m['candidate']} ({m['file']}) ~ {m['other']} ({m['other_file']}): {m['kind']}, distance {m['distance']}")
    print(f"{result.count('analysed')} analysed, {result.count('unchanged')} unchanged, {result.count('failed')} failed, "
          f"{result.count('not-run')} not run; {result.wall_s:.0f} s on {result.workers} worker(s)")
    print(f"Reports in {result.out_dir}; summary {result.summary_csv} and {result.summary_json}")
    if result.interrupted:
        print("telltale: interrupted; run the same command again to finish the rest", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_SOME_FAILED if result.count("failed") else EXIT_OK


def register(sub: Any) -> None:
    p = sub.add_parser("batch", help="analyse a folder of candidates (one subfolder each) on Dask")
    p.add_argument("folder", help="one subfolder per candidate, named after them, holding their recordings and photos")
    p.add_argument("--workers", type=int, metavar="N", help="local worker processes (default: cores / 2)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="run on an existing Dask cluster (tcp://host:8786) instead")
    p.add_argument("--library", metavar="PATH|URL", default=argparse.SUPPRESS, help="case store (same as the global option)")
    p.add_argument("--out", metavar="DIR", help="where reports and the summary go (default: ./FOLDER-reports)")
    p.add_argument("--memory-limit", metavar="SIZE", help="memory per local worker, e.g. 2GB (default: share of free memory, at most 4 GB)")
    p.add_argument("--force", action="store_true", help="analyse every candidate again, even unchanged ones")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a setting (see `telltale settings`)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress display")
    p.set_defaults(func=cmd_batch)
