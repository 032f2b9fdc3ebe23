"""Copy a desk's SQLite library into the team's PostgreSQL store: ``telltale library migrate``.

    telltale library migrate --from ~/.local/share/telltale/library.sqlite --to postgresql://me@db/telltale

Idempotent: every copied row is remembered in the store's ``imported`` table by (source file,
kind, id there), so a second run copies only what is new (a desk that kept working) and never
doubles anything. Candidates and collections are matched by name: the same candidate analysed
at two desks becomes one candidate with both desks' files and reports; the same file for the
same candidate (SHA-256, role) is stored once. Each file is copied in one transaction with its
hashes, segments, keypoints, faces and voice prints, so an interrupted run leaves nothing
half-copied and the next run continues. Audit entries are copied with their user, host (unknown
for entries written before the SQLite library recorded it) and time, their subjects renumbered; the store's retention policy is left as the team set it. One "migrate"
audit entry records the run.
"""

from __future__ import annotations

import argparse
import json
import logging
import sqlite3
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .sqlite import Library, LibraryError
from .urls import is_url, redact_url

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MigrateResult:
    """What one run copied (``copied``) and found already there (``already``), per kind."""

    source: str
    target: str
    copied: dict[str, int] = field(default_factory=dict)
    already: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        kinds = ("candidate", "collection", "media", "face", "voice", "report", "audit")
        new = ", ".join(f"{self.copied.get(k, 0)} {k}(s)" for k in kinds)
        old = sum(self.already.values())
        return f"{self.source} -> {self.target}: copied {new}; {old} row(s) were already there"


class _Copier:
    def __init__(self, src: sqlite3.Connection, dst: Any, source: str) -> None:
        self.src, self.dst, self.source = src, dst, source
        self.copied: dict[str, int] = {}
        self.already: dict[str, int] = {}
        self._map: dict[tuple[str, int], int] = {
            (k, int(o)): int(n) for k, o, n in dst._q("SELECT kind, old_id, new_id FROM imported WHERE source = %s", (source,)).fetchall()
        }

    def mapped(self, kind: str, old: int | None) -> int | None:
        return None if old is None else self._map.get((kind, int(old)))

    def remember(self, kind: str, old: int, new: int, fresh: bool) -> None:
        self.dst._q("INSERT INTO imported(source, kind, old_id, new_id) VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
                    (self.source, kind, int(old), int(new)))
        self._map[(kind, int(old))] = int(new)
        counter = self.copied if fresh else self.already
        counter[kind] = counter.get(kind, 0) + 1

    def named(self, kind: str, table: str, columns: str) -> None:
        """Candidates or collections, matched by name."""
        for row in self.src.execute(f"SELECT id, name, {columns} FROM {table} ORDER BY id").fetchall():
            old, name, rest = row[0], row[1], row[2:]
            if self.mapped(kind, old) is not None:
                self.already[kind] = self.already.get(kind, 0) + 1
                continue
            cols = "name, " + columns
            marks = ", ".join(["%s"] * (1 + len(rest)))
            with self.dst.transaction():
                new = self.dst._q(f"INSERT INTO {table}({cols}) VALUES ({marks}) ON CONFLICT (name) DO NOTHING RETURNING id",
                                  (name, *rest)).fetchone()
                fresh = new is not None
                if not fresh:
                    new = self.dst._q(f"SELECT id FROM {table} WHERE name = %s", (name,)).fetchone()
                self.remember(kind, old, int(new[0]), fresh)

    def faces(self, rows: list[tuple[Any, ...]], media_new: int | None) -> None:
        from .postgres import bits

        for fid, cid, coll, _mid, source, box, emb, fh, added in rows:
            if self.mapped("face", fid) is not None:
                self.already["face"] = self.already.get("face", 0) + 1
                continue
            new = self.dst._q(
                "INSERT INTO faces(candidate_id, collection_id, media_id, source, box, embedding, face_hash, added_at) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s::bit(64), %s) RETURNING id",
                (self.mapped("candidate", cid), self.mapped("collection", coll), media_new, source, box,
                 np.frombuffer(emb, dtype=np.float32), bits(fh), added)).fetchone()[0]
            self.remember("face", fid, new, True)

    def voices(self, rows: list[tuple[Any, ...]], media_new: int | None) -> None:
        for vid, cid, coll, source, start, end, speech, emb, added in rows:
            if self.mapped("voice", vid) is not None:
                self.already["voice"] = self.already.get("voice", 0) + 1
                continue
            new = self.dst._q(
                "INSERT INTO voices(candidate_id, collection_id, media_id, source, start_s, end_s, speech_s, embedding, added_at) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
                (self.mapped("candidate", cid), self.mapped("collection", coll), media_new, source, start, end, speech,
                 np.frombuffer(emb, dtype=np.float32), added)).fetchone()[0]
            self.remember("voice", vid, new, True)

    _VOICE_SQL = ("SELECT id, candidate_id, collection_id, source, start_s, end_s, speech_s, embedding, added_at "
                  "FROM voices WHERE ")

    def media(self, progress: Callable[[float, str], None] | None) -> None:
        from .postgres import bits

        rows = self.src.execute("SELECT id, candidate_id, collection_id, path, role, sha256, size, width, height, added_at "
                                "FROM media ORDER BY id").fetchall()
        for n, (mid, cid, coll, path, role, sha, size, w, h, added) in enumerate(rows):
            if progress is not None and n % 50 == 0:
                progress(n / max(1, len(rows)), f"file {n} of {len(rows)}")
            if self.mapped("media", mid) is not None:
                self.already["media"] = self.already.get("media", 0) + 1
                continue
            new_cid, new_coll = self.mapped("candidate", cid), self.mapped("collection", coll)
            with self.dst.transaction():
                new = self.dst._q(
                    "INSERT INTO media(candidate_id, collection_id, path, role, sha256, size, width, height, added_at) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
                    "ON CONFLICT (candidate_id, sha256, role) WHERE candidate_id IS NOT NULL AND sha256 <> '' DO NOTHING "
                    "RETURNING id", (new_cid, new_coll, path, role, sha, size, w, h, added)).fetchone()
                if new is None:  # this candidate's file is in the store already (another desk)
                    same = self.dst._q("SELECT id FROM media WHERE candidate_id = %s AND sha256 = %s AND role = %s",
                                       (new_cid, sha, role)).fetchone()
                    self.remember("media", mid, int(same[0]), False)
                    continue
                new_mid = int(new[0])
                hrow = self.src.execute("SELECT phash, dhash, phash_trim, dhash_trim FROM image_hashes WHERE media_id = ?",
                                        (mid,)).fetchone()
                if hrow is not None:
                    self.dst._q("INSERT INTO image_hashes(media_id, phash, dhash, phash_trim, dhash_trim) "
                                "VALUES (%s, %s::bit(64), %s::bit(64), %s::bit(64), %s::bit(64))", (new_mid, *map(bits, hrow)))
                segs = self.src.execute("SELECT seq, value FROM segments WHERE media_id = ? ORDER BY seq", (mid,)).fetchall()
                if segs:
                    with self.dst._db.cursor() as cur:
                        cur.executemany("INSERT INTO segments(media_id, seq, value) VALUES (%s, %s, %s::bit(64))",
                                        [(new_mid, s, bits(v)) for s, v in segs])
                kp = self.src.execute("SELECT points, descriptors FROM keypoints WHERE media_id = ?", (mid,)).fetchone()
                if kp is not None:
                    self.dst._q("INSERT INTO keypoints(media_id, points, descriptors) VALUES (%s, %s, %s)", (new_mid, *kp))
                self.faces(self.src.execute(
                    "SELECT id, candidate_id, collection_id, media_id, source, box, embedding, face_hash, added_at "
                    "FROM faces WHERE media_id = ? ORDER BY id", (mid,)).fetchall(), new_mid)
                self.voices(self.src.execute(self._VOICE_SQL + "media_id = ? ORDER BY id", (mid,)).fetchall(), new_mid)
                self.remember("media", mid, new_mid, True)

    def loose_faces(self) -> None:
        rows = self.src.execute("SELECT id, candidate_id, collection_id, media_id, source, box, embedding, face_hash, added_at "
                                "FROM faces WHERE media_id IS NULL ORDER BY id").fetchall()
        with self.dst.transaction():
            self.faces(rows, None)
            self.voices(self.src.execute(self._VOICE_SQL + "media_id IS NULL ORDER BY id").fetchall(), None)

    def reports(self) -> None:
        for rid, cid, created, score, verdict, report in self.src.execute(
                "SELECT id, candidate_id, created_at, score, verdict, report FROM reports ORDER BY id").fetchall():
            if self.mapped("report", rid) is not None:
                self.already["report"] = self.already.get("report", 0) + 1
                continue
            with self.dst.transaction():
                new = self.dst._q("INSERT INTO reports(candidate_id, created_at, score, verdict, report) "
                                  "VALUES (%s, %s, %s, %s, %s) RETURNING id",
                                  (self.mapped("candidate", cid), created, score, verdict, report)).fetchone()[0]
                self.remember("report", rid, new, True)

    def _subject(self, subject: str | None) -> str | None:
        for kind in ("candidate", "media"):
            prefix = f"{kind}#"
            if subject and subject.startswith(prefix) and subject[len(prefix):].isdigit():
                new = self.mapped(kind, int(subject[len(prefix):]))
                # an erased candidate keeps a number that names no one in the store
                return f"{prefix}{new}" if new is not None else f"{kind}#desk-{subject[len(prefix):]}"
        return subject

    def audit(self) -> None:
        rows = self.src.execute("SELECT id, at, user, host, action, subject, detail FROM audit ORDER BY id").fetchall()
        with self.dst.transaction():
            for aid, at, user, host, action, subject, detail in rows:
                if self.mapped("audit", aid) is not None:
                    self.already["audit"] = self.already.get("audit", 0) + 1
                    continue
                new = self.dst._q('INSERT INTO audit(at, "user", host, action, subject, detail) VALUES (%s, %s, %s, %s, %s, %s) '
                                  "RETURNING id", (at, user, host, action, self._subject(subject), detail)).fetchone()[0]
                self.remember("audit", aid, new, True)


def migrate(source: str | Path, url: str, progress: Callable[[float, str], None] | None = None) -> MigrateResult:
    """Copy the SQLite library at ``source`` into the PostgreSQL store at ``url`` (idempotent)."""
    from .postgres import PostgresLibrary, os_user

    path = Path(source).expanduser().absolute()
    if not path.is_file():
        raise LibraryError(f"{path}: no such library file")
    if not is_url(url):
        raise LibraryError(f"{redact_url(url)}: not a PostgreSQL URL (postgresql://user@host/database)")
    with Library(path, apply_retention=False):
        pass  # brings an older file to the current schema (and refuses a damaged one)
    src = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        with PostgresLibrary(url, apply_retention=False) as dst:
            copier = _Copier(src, dst, f"sqlite:{path}")
            copier.named("candidate", "candidates", "created_at")
            copier.named("collection", "collections", "folder, created_at")
            copier.media(progress)
            copier.loose_faces()
            copier.reports()
            copier.audit()
            result = MigrateResult(str(path), dst.path, dict(copier.copied), dict(copier.already))
            with dst.transaction():
                dst._audit("migrate", None, {"file": str(path), "copied": result.copied, "already": sum(result.already.values()),
                                             "by": os_user()})
    finally:
        src.close()
    if progress is not None:
        progress(1.0, "done")
    log.info("%s", result.summary())
    return result


def cmd_migrate(args: argparse.Namespace) -> int:
    def progress(fraction: float, message: str) -> None:
        if sys.stderr.isatty():
            print(f"\r{fraction:4.0%} {message[:60]:<60}", end="", file=sys.stderr)

    try:
        result = migrate(args.source, args.target, progress)
    except LibraryError as exc:
        print(f"telltale: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ntelltale: interrupted; what was copied is kept, run the same command again to continue", file=sys.stderr)
        return 130
    if sys.stderr.isatty():
        print(file=sys.stderr)
    print(result.summary())
    if args.json:
        from ..privacy import write_private

        write_private(args.json, json.dumps({"source": result.source, "target": result.target, "copied": result.copied,
                                             "already": result.already}, indent=2) + "\n")
    return 0


def register(library_subparsers: Any) -> None:
    """Add ``migrate`` to ``telltale library`` (called from detectors/library_cli.register)."""
    p = library_subparsers.add_parser("migrate", help="copy a desk's SQLite library into a team PostgreSQL store (idempotent)")
    p.add_argument("--from", dest="source", required=True, metavar="SQLITE_PATH")
    p.add_argument("--to", dest="target", required=True, metavar="URL", help="postgresql://user@host/database")
    p.add_argument("--json", metavar="OUT", help="write the counts here")
    p.set_defaults(func=cmd_migrate)
