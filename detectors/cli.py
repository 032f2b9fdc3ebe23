"""The `telltale` command line: the same calls the desktop app makes.

    telltale [--library PATH] analyze [--candidate NAME] [--id PHOTO]... [--json OUT] MEDIA...

Exit codes: 0 when at least one file was analysed, 1 when nothing could be analysed (or a
command failed: unknown candidate, unusable file), 2 for usage errors (bad name, bad output
path, bad option value), 3 when the library cannot be used or refused the result (the
analysis's report is then kept in ``--json`` when given, and the message says so), 130 when
interrupted. Every message is one sentence on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
from pathlib import Path
from typing import Any, Callable, Sequence

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_NOTHING_ANALYSED = 1
EXIT_USAGE = 2
EXIT_LIBRARY = 3
EXIT_INTERRUPTED = 130


def _quiet_native_logs() -> None:
    """mediapipe/TFLite print C++ log lines to stderr; keep the terminal readable."""
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


class _TerminalProgress:
    """A one-line progress display on stderr (only when stderr is a terminal)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._last = ""

    def __call__(self, fraction: float, message: str) -> None:
        if not self.enabled:
            return
        line = f"\r[{fraction * 100:5.1f}%] {message[:70]:<70}"
        if line != self._last:
            sys.stderr.write(line)
            sys.stderr.flush()
            self._last = line

    def close(self) -> None:
        if self.enabled and self._last:
            sys.stderr.write("\r" + " " * 80 + "\r")
            sys.stderr.flush()


def _parse_settings(items: Sequence[str]) -> dict[str, float]:
    from .settings import validate

    out = {}
    for item in items:
        if "=" not in item:
            raise SystemExit(f"telltale: --set takes KEY=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        try:
            out[key.strip()] = validate(key.strip(), value)
        except ValueError as exc:
            raise SystemExit(f"telltale: {exc}") from exc
    return out


def open_library(path: str | None, settings: dict[str, float] | None = None) -> Any:
    """The case store at ``path`` (or the default one), with the retention policy applied."""
    from .store import open_library as open_store

    return open_store(path, retention_days=(settings or {}).get("library.retention_days"))


class StoreAfterReport:
    """The library as the analysis sees it: searches go to the library, but what the pipeline
    asks to store at its end (``record_candidate``) is held back and written by
    :func:`cmd_analyze` together with the report, in one transaction
    (:meth:`detectors.store.sqlite.Library.record_analysis`): no candidate is left half-stored."""

    def __init__(self, library: Any) -> None:
        self.library = library
        self.images: list[Any] = []
        self.recordings: list[Any] = []

    def record_candidate(self, name: str, images: Sequence[Any] = (), recordings: Sequence[Any] = ()) -> list[Any]:
        self.images, self.recordings = list(images), list(recordings)
        return []

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.library, attr)


def say(message: Any) -> None:
    """One line on stderr, safe for the terminal (control characters escaped)."""
    from .store.sqlite import printable

    print(f"telltale: {printable(message)}", file=sys.stderr)


def cmd_analyze(args: argparse.Namespace) -> int:
    from .base import Cancelled
    from .store.sqlite import InvalidName, LibraryError, normalize_name, printable
    from .pipeline import analyze_candidate
    from .privacy import output_problem

    settings = _parse_settings(args.set or [])
    # what can be checked before the analysis is checked now: finished work is never thrown away
    try:
        given = args.candidate if args.candidate is not None else Path(args.media[0] if args.media else args.id[0]).stem
        name = normalize_name(given)
    except InvalidName as exc:
        say(f"{exc} (give one with --candidate NAME)")
        return EXIT_USAGE
    if args.json and (problem := output_problem(args.json)):
        say(f"--json {problem}")
        return EXIT_USAGE
    library = None
    if args.use_library:
        try:
            library = open_library(args.library, settings)
        except LibraryError as exc:
            say(f"{exc}; nothing was analysed (--no-library analyses without the case store)")
            return EXIT_LIBRARY
        library.on_wait = say
    progress = _TerminalProgress(sys.stderr.isatty() and not args.quiet)
    cancel = threading.Event()
    store = StoreAfterReport(library) if library is not None else None
    try:
        try:
            report = analyze_candidate(args.media, args.id or [], name, library=store, progress=progress, cancel=cancel, settings=settings)
        except (KeyboardInterrupt, Cancelled):
            cancel.set()
            progress.close()
            print("telltale: interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED
        finally:
            progress.close()
        print(printable(report.summary_text(), keep_newlines=True))
        for err in report.errors:
            say(err)
        written = False
        if args.json:  # first: the report is safe on disk before the library is asked to store it
            try:
                report.write_json(args.json)
                written = True
                print(f"Report written to {printable(args.json)}")
            except OSError as exc:
                say(f"--json {args.json}: could not be written ({exc.strerror or exc})")
        if store is not None and not report.analysed_anything:
            say("nothing could be analysed, so nothing was stored in the library")
        elif store is not None:
            try:
                if hasattr(library, "record_analysis"):  # one transaction for the whole candidate
                    library.record_analysis(name, store.images, store.recordings, report.to_dict())
                else:  # a store without it (yet): the two writes the pipeline used to make
                    library.record_candidate(name, store.images, store.recordings)
                    library.save_report(name, report.to_dict())
                if written:
                    library.log_export(name, args.json, "report-json")
            except (LibraryError, OSError) as exc:
                kept = (f"the report is kept in {args.json}" if written
                        else "only the summary above is kept; analyse again with --json OUT to keep the report")
                say(f"the analysis was not stored in the library ({exc}); {kept}")
                return EXIT_LIBRARY
    finally:
        if library is not None:
            library.close()
    return EXIT_OK if report.analysed_anything else EXIT_NOTHING_ANALYSED


def cmd_settings(args: argparse.Namespace) -> int:
    from .settings import all_settings

    for key, s in all_settings().items():
        print(f"{key:<32} {s.default:>8g}  [{s.minimum:g} .. {s.maximum:g}] {s.unit:<7} {s.doc}")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="telltale", description="Check interview recordings and ID photos for signs of a fake candidate.")
    parser.add_argument("--library", metavar="PATH", help="case store: a SQLite file or a postgresql:// URL; default: $TELLTALE_LIBRARY, else the user's data folder")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what is happening")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("analyze", help="analyse a candidate's recordings and photos")
    p.add_argument("media", nargs="*", help="interview recordings (mp4, mov, mkv, webm, avi) or photos")
    p.add_argument("--candidate", metavar="NAME", help="candidate name (default: the first file's name)")
    p.add_argument("--id", action="append", metavar="PHOTO", help="ID photo or document photo (repeatable)")
    p.add_argument("--json", metavar="OUT", help="write the JSON report here")
    p.add_argument("--library", metavar="PATH", default=argparse.SUPPRESS, help="case store (same as the global option)")
    p.add_argument("--no-library", dest="use_library", action="store_false", help="do not read or write the case store")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a setting (see `telltale settings`)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress line")
    p.set_defaults(func=cmd_analyze)

    p = sub.add_parser("settings", help="list every tunable threshold with its range")
    p.set_defaults(func=cmd_settings)

    for register in _extensions():
        register(sub)
    return parser


def _extensions() -> list[Callable[[Any], None]]:
    """Subcommands that live beside their modules (library, eval, bench)."""
    found = []
    for module in ("library_cli", "evaluate", "bench", "batch"):
        try:
            mod = __import__(f"{__package__}.{module}", fromlist=["register"])
        except ImportError:
            continue
        if hasattr(mod, "register"):
            found.append(mod.register)
    return found


def main(argv: Sequence[str] | None = None) -> int:
    from .library_cli import run_guarded

    _quiet_native_logs()
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.command == "analyze" and not args.media and not args.id:
        parser.error("analyze needs at least one recording or --id photo")
    return run_guarded(args.func, args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
