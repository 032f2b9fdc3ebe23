"""`telltale library ...` and `telltale compare A B`: the case store from the command line.

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
from typing import Any, Sequence

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def _open(args: argparse.Namespace) -> Any:
    from .library import Library

    return Library(getattr(args, "library", None))


def _write_json(path: str | None, data: Any) -> None:
    if not path:
        return
    Path(path).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    print(f"Written to {path}")


def cmd_add(args: argparse.Namespace) -> int:
    from .base import MediaError
    from .media import is_image_file

    failed = 0
    with _open(args) as lib:
        for f in args.files:
            role = args.role or ("photo" if is_image_file(f) else "video")
            try:
                row = lib.add_media(args.candidate, f, role)
            except MediaError as exc:
                print(f"telltale: {exc}", file=sys.stderr)
                failed += 1
                continue
            print(f"{args.candidate}: added {f} as {role} (media #{row.id}, {row.faces} face(s))")
    return EXIT_FAILED if failed and failed == len(args.files) else EXIT_OK


def cmd_import(args: argparse.Namespace) -> int:
    from .base import MediaError

    def progress(fraction: float, message: str) -> None:
        if sys.stderr.isatty():
            print(f"\r{fraction:4.0%} {message[:60]:<60}", end="", file=sys.stderr)

    with _open(args) as lib:
        try:
            n = lib.import_collection(args.name, args.folder, progress=progress)
        except MediaError as exc:
            print(f"telltale: {exc}", file=sys.stderr)
            return EXIT_FAILED
        except KeyboardInterrupt:
            print("\ntelltale: interrupted; the photos imported so far are kept", file=sys.stderr)
            return 130
    if sys.stderr.isatty():
        print(file=sys.stderr)
    print(f"{args.name}: {n} photo(s) imported from {args.folder}")
    return EXIT_OK


def cmd_search(args: argparse.Namespace) -> int:
    from .base import MediaError

    with _open(args) as lib:
        try:
            matches = lib.search(args.file, exclude_candidate=args.exclude, limit=args.limit)
        except MediaError as exc:
            print(f"telltale: {exc}", file=sys.stderr)
            return EXIT_FAILED
    if not matches:
        print(f"{args.file}: not found in the library")
    for m in matches:
        owner = m.candidate if m.candidate is not None else f"[{m.collection}]"
        print(f"{m.kind:<10} {m.distance:6.3f}  {owner:<24} {m.file}  ({m.detail.get('method')})")
    _write_json(args.json, {"query": str(args.file), "matches": [m.to_dict() for m in matches]})
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    with _open(args) as lib:
        rows = lib.candidates(args.search or "")
        colls = lib.collections()
    for c in rows:
        score = f"{c.score:5.1f}" if c.score is not None else "    -"
        print(f"{c.name:<30} score {score}  {c.verdict or '-':<12} {c.media_count} file(s)")
    for k in colls:
        print(f"[{k.name}] collection, {k.media_count} photo(s) from {k.folder}")
    return EXIT_OK


def cmd_erase(args: argparse.Namespace) -> int:
    from .library import LibraryError

    if not args.yes:
        if not sys.stdin.isatty():
            print("telltale: erasing needs --yes when not run interactively", file=sys.stderr)
            return EXIT_USAGE
        if input(f"Erase {args.candidate} and every photo, face and report of theirs? [y/N] ").strip().lower() != "y":
            return EXIT_FAILED
    with _open(args) as lib:
        try:
            n = lib.erase_candidate(args.candidate)
        except LibraryError as exc:
            print(f"telltale: {exc}", file=sys.stderr)
            return EXIT_FAILED
    print(f"{args.candidate}: erased ({n} file(s) and everything derived from them)")
    return EXIT_OK


def cmd_compare(args: argparse.Namespace) -> int:
    from . import hashing
    from .base import MediaError
    from .media import load_image

    try:
        a, b = load_image(args.a), load_image(args.b)
    except MediaError as exc:
        print(f"telltale: {exc}", file=sys.stderr)
        return EXIT_FAILED
    ea = hashing.encode_image(a.rgb, mirrored=True, sha256=a.sha256)
    eb = hashing.encode_image(b.rgb, sha256=b.sha256)
    c = hashing.compare_encoded(ea, eb)
    out = {"a": str(args.a), "b": str(args.b), **c.to_dict()}
    if c.face_distance is None:
        person = "no face in " + (str(args.a) if not c.faces_a else str(args.b))
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
    p.add_argument("--limit", type=int, default=10)
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("list", help="candidates (with their latest score) and collections")
    p.add_argument("search", nargs="?", default="")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("erase", help="erase a candidate and everything derived from their media")
    p.add_argument("--candidate", required=True, metavar="NAME")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.set_defaults(func=cmd_erase)

    p = subparsers.add_parser("compare", help="compare two photos: same person? same image?")
    p.add_argument("a", metavar="A")
    p.add_argument("b", metavar="B")
    p.add_argument("--json", metavar="OUT", help="write the comparison here")
    p.set_defaults(func=cmd_compare)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="telltale")
    parser.add_argument("--library", metavar="PATH", help="case store (SQLite file)")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
