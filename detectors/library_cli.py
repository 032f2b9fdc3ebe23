"""`telltale library ...` and `telltale compare A B`: the case store from the command line.

Data protection commands (issue 8): ``erase`` (a candidate or a collection), ``retention``
(set and apply how long candidates are kept), ``audit`` (who did what, when),
``export-report`` (audited), ``export-watchlist`` / ``import-watchlist`` (face embeddings,
voice prints and hashes only, never photos or audio, docs/watchlist-format.md). Every file written here is owner-only (0600).

``register(subparsers)`` adds the subcommands to the main CLI (detectors/cli.py); every
handler reads ``args.library`` (a path or None for the default library) and returns an exit
code. ``main(argv)`` runs them standalone (tests, or ``python -m detectors.library_cli``).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_LIBRARY = 3
EXIT_INTERRUPTED = 130
MAX_LIST_LIMIT = 1_000_000
"""Largest --limit accepted by search and audit."""


def say(message: Any) -> None:
    """One line on stderr, safe for the terminal (control characters escaped)."""
    from .store.sqlite import printable

    print(f"telltale: {printable(message)}", file=sys.stderr)


def show(text: Any) -> str:
    """A stored name, path or label as it may be printed (no control characters reach the terminal)."""
    from .store.sqlite import printable

    return printable(text)


def run_guarded(func: Callable[[argparse.Namespace], int | None], args: argparse.Namespace) -> int:
    """Run a command handler; the expected failures (a library that cannot be used, a bad
    name, a file that cannot be read or written) end in one sentence and an exit code, not a
    traceback."""
    from .base import MediaError
    from .store.sqlite import InvalidName, LibraryError
    from .watchlist import WatchlistError

    try:
        return int(func(args) or 0)
    except InvalidName as exc:
        say(exc)
        return EXIT_USAGE
    except LibraryError as exc:
        say(exc)
        return EXIT_LIBRARY
    except (MediaError, WatchlistError) as exc:
        say(exc)
        return EXIT_FAILED
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        say(f"{where}{exc.strerror or exc}")
        return EXIT_FAILED
    except KeyboardInterrupt:
        say("interrupted")
        return EXIT_INTERRUPTED


def bounded_int(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number in [low, high] (``1e20``, ``-1`` get a usage error)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}, got {value}")
        return value

    return parse


def _open(args: argparse.Namespace) -> Any:
    from .store import open_library

    lib = open_library(getattr(args, "library", None))
    lib.on_wait = say
    return lib


def _output_ok(path: str | None) -> bool:
    """False (after saying why) when ``path`` cannot receive an output file; checked first."""
    from .privacy import output_problem

    problem = output_problem(path) if path else None
    if problem:
        say(problem)
    return problem is None


def _write_json(path: str | None, data: Any) -> None:
    from .privacy import write_private

    if not path:
        return
    write_private(path, json.dumps(data, indent=2) + "\n")
    print(f"Written to {show(path)}")


def cmd_add(args: argparse.Namespace) -> int:
    from .base import MediaError
    from .media import is_image_file

    from .store.sqlite import normalize_name

    name = normalize_name(args.candidate)
    failed = 0
    with _open(args) as lib:
        for f in args.files:
            role = args.role or ("photo" if is_image_file(f) else "video")
            try:
                row = lib.add_media(name, f, role)
            except MediaError as exc:
                say(exc)
                failed += 1
                continue
            print(f"{show(name)}: added {show(f)} as {role} (media #{row.id}, {row.faces} face(s))")
    if failed:
        say(f"{failed} of {len(args.files)} file(s) not added")
    return EXIT_FAILED if failed else EXIT_OK


def cmd_import(args: argparse.Namespace) -> int:
    from .base import MediaError

    def progress(fraction: float, message: str) -> None:
        if sys.stderr.isatty():
            print(f"\r{fraction:4.0%} {message[:60]:<60}", end="", file=sys.stderr)

    from .store.sqlite import normalize_name

    name = normalize_name(args.name, "collection name")
    with _open(args) as lib:
        try:
            n = lib.import_collection(name, args.folder, progress=progress)
        except MediaError as exc:
            say(exc)
            return EXIT_FAILED
        except KeyboardInterrupt:
            print("\ntelltale: interrupted; the photos imported so far are kept", file=sys.stderr)
            return 130
    if sys.stderr.isatty():
        print(file=sys.stderr)
    print(f"{show(name)}: {n} photo(s) imported from {show(args.folder)}")
    return EXIT_OK


def cmd_search(args: argparse.Namespace) -> int:
    from .base import MediaError

    if not _output_ok(args.json):
        return EXIT_USAGE
    with _open(args) as lib:
        try:
            matches = lib.search(args.file, exclude_candidate=args.exclude, limit=args.limit)
        except MediaError as exc:
            say(exc)
            return EXIT_FAILED
    if not matches:
        print(f"{show(args.file)}: not found in the library")
    for m in matches:
        owner = m.candidate if m.candidate is not None else f"[{m.collection}]"
        print(f"{m.kind:<10} {m.distance:6.3f}  {show(owner):<24} {show(m.file)}  ({m.detail.get('method')})")
    if args.json:
        _write_json(args.json, {"query": str(args.file), "matches": [m.to_dict() for m in matches]})
        with _open(args) as lib:
            lib.audit("export", None, {"kind": "search", "path": str(Path(args.json).absolute()), "matches": len(matches)})
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    with _open(args) as lib:
        rows = lib.candidates(args.search or "")
        colls = lib.collections()
    for c in rows:
        score = f"{c.score:5.1f}" if c.score is not None else "    -"
        print(f"{show(c.name):<30} score {score}  {show(c.verdict or '-'):<12} {c.media_count} file(s)")
    for k in colls:
        print(f"[{show(k.name)}] collection, {k.media_count} photo(s) from {show(k.folder)}")
    return EXIT_OK


def cmd_erase(args: argparse.Namespace) -> int:
    from .store.sqlite import LibraryError

    what = show(f"candidate {args.candidate}" if args.candidate else f"collection {args.collection}")
    if not args.yes:
        if not sys.stdin.isatty():
            print("telltale: erasing needs --yes when not run interactively", file=sys.stderr)
            return EXIT_USAGE
        if input(f"Erase {what} and every photo, face, voice print and report derived from it? [y/N] ").strip().lower() != "y":
            return EXIT_FAILED
    with _open(args) as lib:
        try:
            if args.candidate:
                n = lib.erase_candidate(args.candidate, vacuum=args.vacuum)
            else:
                n = lib.erase_collection(args.collection)
        except LibraryError as exc:
            say(exc)
            return EXIT_FAILED
    print(f"{what}: erased ({n} file(s) and everything derived from them)")
    return EXIT_OK


def cmd_retention(args: argparse.Namespace) -> int:
    from .store.sqlite import RETENTION_DAYS
    from .store import open_library

    with open_library(getattr(args, "library", None), apply_retention=False) as lib:
        lib.on_wait = say
        if args.days is not None:
            try:
                lib.set_retention_days(args.days)
            except ValueError as exc:
                say(exc)
                return EXIT_USAGE
        days = lib.retention_days
        if days <= 0:
            print(f"Retention: keep forever ({RETENTION_DAYS.key} = 0)")
            return EXIT_OK
        if args.dry_run:
            ids = lib.expired_candidates()
            print(f"Retention {days:g} days: {len(ids)} candidate(s) would be erased" + (f" (#{', #'.join(map(str, ids))})" if ids else ""))
            return EXIT_OK
        erased = lib.apply_retention()
    print(f"Retention {days:g} days: {len(erased)} candidate(s) erased" + (f" (#{', #'.join(map(str, erased))})" if erased else ""))
    return EXIT_OK


def cmd_audit(args: argparse.Namespace) -> int:
    from .store.sqlite import LibraryError

    with _open(args) as lib:
        try:
            rows = lib.audit_log(limit=args.limit, candidate=args.candidate) if args.candidate else lib.audit_log(limit=args.limit)
        except LibraryError as exc:  # an unknown candidate
            say(exc)
            return EXIT_FAILED
    if args.json:
        print(json.dumps(rows, indent=2))  # JSON escapes control characters itself
        return EXIT_OK
    for r in rows:
        detail = ", ".join(f"{k}={v}" for k, v in r["detail"].items())
        who = r["user"] + (f"@{r['host']}" if r.get("host") else "")
        print(show(f"{r['at']}  {who:<20} {r['action']:<18} {r['subject'] or '-':<16} {detail}"))
    return EXIT_OK


def cmd_export_report(args: argparse.Namespace) -> int:
    from .store.sqlite import LibraryError

    if not _output_ok(args.out):
        return EXIT_USAGE
    with _open(args) as lib:
        try:
            if lib.get_candidate(args.candidate) is None:
                raise LibraryError(f"no candidate named '{show(args.candidate)}'")
            report = lib.latest_report(args.candidate)
            if report is None:
                say(f"{args.candidate} has no report yet; analyse them first")
                return EXIT_FAILED
            _write_json(args.out, report)
            lib.log_export(args.candidate, args.out, "report-json")
        except LibraryError as exc:
            say(exc)
            return EXIT_FAILED
    return EXIT_OK


def cmd_export_watchlist(args: argparse.Namespace) -> int:
    from .store.sqlite import LibraryError

    if not _output_ok(args.out):
        return EXIT_USAGE
    with _open(args) as lib:
        try:
            w = lib.export_watchlist(args.out, candidates=args.candidate or (), collection=args.collection, label=args.label)
        except (LibraryError, ValueError) as exc:
            say(exc)
            return EXIT_FAILED
    faces = sum(len(e.faces) for e in w.entries)
    print(f"Watchlist {show(repr(w.label))}: {len(w.entries)} entries, {faces} face(s), {w.voices} voice print(s), "
          f"no photos or audio; written to {show(args.out)}")
    return EXIT_OK


def cmd_import_watchlist(args: argparse.Namespace) -> int:
    from .store.sqlite import LibraryError
    from .watchlist import Watchlist, WatchlistError

    watch = Watchlist.read(args.file)  # checked (size, schema) before the library is opened
    with _open(args) as lib:
        try:
            name, n = lib.import_watchlist(watch, name=args.name, replace=args.replace, file=args.file)
        except (LibraryError, WatchlistError) as exc:
            say(exc)
            return EXIT_FAILED
    print(f"[{show(name)}]: {n} watchlist entries imported from {show(args.file)}")
    return EXIT_OK


def cmd_compare(args: argparse.Namespace) -> int:
    from . import hashing
    from .base import MediaError
    from .media import load_image

    if not _output_ok(args.json):
        return EXIT_USAGE
    try:
        a, b = load_image(args.a), load_image(args.b)
    except MediaError as exc:
        say(exc)
        return EXIT_FAILED
    ea = hashing.encode_image(a.rgb, mirrored=True, sha256=a.sha256)
    eb = hashing.encode_image(b.rgb, sha256=b.sha256)
    c = hashing.compare_encoded(ea, eb)
    out = {"a": str(args.a), "b": str(args.b), **c.to_dict()}
    if c.face_distance is None:
        person = "no face in " + show(args.a if not c.faces_a else args.b)
    else:
        person = f"face distance {c.face_distance:.3f}: {'same person' if c.same_person else 'different people'}"
    image = f"same image ({c.method})" if c.same_image else "different images"
    print(f"{person}; {image} (pHash {c.phash_bits}, trimmed {c.trimmed_phash_bits} bits, {c.inliers} keypoint inliers)")
    _write_json(args.json, out)
    return EXIT_OK


def register(subparsers: Any) -> None:
    """Add `library ...` and `compare` to the main CLI."""
    lib = subparsers.add_parser("library", help="the case store: candidates, photos, reference collections")
    lib.add_argument("--library", metavar="PATH", default=argparse.SUPPRESS, help="case store (same as the global option)")
    sub = lib.add_subparsers(dest="library_command", required=True)

    p = sub.add_parser("add", help="add photos or recordings to a candidate")
    p.add_argument("--candidate", required=True, metavar="NAME")
    p.add_argument("--role", choices=("id", "photo", "video"), help="default: photo for images, video otherwise")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.set_defaults(func=cmd_add)

    p = sub.add_parser("import-collection", help="import a folder of photos as a named reference collection")
    p.add_argument("name", metavar="NAME")
    p.add_argument("folder", metavar="FOLDER")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("search", help="where has this photo or this face been seen before?")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--json", metavar="OUT", help="write the matches here")
    p.add_argument("--exclude", metavar="NAME", help="leave this candidate's own media out")
    p.add_argument("--limit", type=bounded_int(1, MAX_LIST_LIMIT), default=10)
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("list", help="candidates (with their latest score) and collections")
    p.add_argument("search", nargs="?", default="")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("erase", help="erase a candidate (or a collection) and everything derived from their media")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--candidate", metavar="NAME")
    who.add_argument("--collection", metavar="NAME", help="a reference collection or imported watchlist")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.add_argument("--vacuum", action="store_true", help="also rebuild the library file afterwards (slow on big libraries)")
    p.set_defaults(func=cmd_erase)

    p = sub.add_parser("retention", help="show, set and apply how long candidates are kept (library.retention_days)")
    p.add_argument("--days", type=float, metavar="N", help="store a new retention in the library (0 = keep forever, max 3650)")
    p.add_argument("--dry-run", action="store_true", help="list who would be erased, erase nothing")
    p.set_defaults(func=cmd_retention)

    p = sub.add_parser("audit", help="who ran which analysis, export or erasure, and when (newest first)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--candidate", metavar="NAME", help="only this candidate's entries")
    p.add_argument("--limit", type=bounded_int(1, MAX_LIST_LIMIT), default=100)
    p.set_defaults(func=cmd_audit)

    p = sub.add_parser("export-report", help="write a candidate's latest report as JSON (audited, owner-only file)")
    p.add_argument("--candidate", required=True, metavar="NAME")
    p.add_argument("out", metavar="OUT.json")
    p.set_defaults(func=cmd_export_report)

    p = sub.add_parser("export-watchlist",
                       help="share face embeddings, voice prints and hashes (no photos, no audio) of candidates or a collection")
    p.add_argument("out", metavar="OUT.json")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--candidate", action="append", metavar="NAME", help="repeatable")
    src.add_argument("--collection", metavar="NAME")
    p.add_argument("--label", required=True, metavar="TEXT", help="what the list is, e.g. 'fake personas, Nov 2026'")
    p.set_defaults(func=cmd_export_watchlist)

    p = sub.add_parser("import-watchlist", help="import a watchlist as a reference collection searched by every analysis")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--name", metavar="NAME", help="collection name (default: 'watchlist: LABEL')")
    p.add_argument("--replace", action="store_true", help="replace a collection of the same name")
    p.set_defaults(func=cmd_import_watchlist)

    from .store.migrate import register as register_migrate

    register_migrate(sub)  # library migrate --from SQLITE --to URL

    p = subparsers.add_parser("compare", help="compare two photos: same person? same image?")
    p.add_argument("a", metavar="A")
    p.add_argument("b", metavar="B")
    p.add_argument("--json", metavar="OUT", help="write the comparison here")
    p.set_defaults(func=cmd_compare)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="telltale")
    parser.add_argument("--library", metavar="PATH|URL", help="case store: a SQLite file or a postgresql:// URL")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return run_guarded(args.func, args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
