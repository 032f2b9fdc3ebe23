"""The case store on a PostgreSQL server (with pgvector): one library for a whole hiring team.

:class:`PostgresLibrary` has the public API of :class:`detectors.store.sqlite.Library` (the SQLite
default), so the pipeline, the CLI, the watchlist, erasure/retention/audit and the desktop use
either through the same calls; :func:`detectors.store.open_library` picks one from the location.

What differs, and why:

* Search runs in the server, not over an in-memory copy of the whole library: face embeddings
  are ``vector(128)`` columns with an HNSW index (nearest faces first), voice prints
  ``vector(256)`` with an HNSW cosine index (:meth:`PostgresLibrary.search_voices`); the 64-bit perceptual
  hashes are ``bit(64)`` compared with ``bit_count(a # b)``; crop-segment hashes are found
  through b-tree indexes of four 16-bit bands (two hashes within 7 bits differ by <= 1 bit in one band). The few
  rows that come back are scored by the same :class:`detectors.hashing.HashIndex` code as the
  SQLite library's, so both back ends decide alike.
* Several desks write at once. Every write is one transaction; the same new candidate from two
  desks meets at ``INSERT ... ON CONFLICT`` on the unique name (never an error), the same file
  for the same candidate at a unique (candidate, SHA-256, role) index; a recording's stored
  interview face is replaced under a row lock. A writer that waits longer than
  :data:`LOCK_TIMEOUT_S` for another, or meets a deadlock, gets a :class:`LibraryError` that says
  so in plain words and nothing half-written.
* The audit log also records the host name of the desk.
* Credentials: the URL is shown only redacted (``path`` is the redacted URL); errors are scrubbed
  of the password (:func:`detectors.store.urls.scrub`).
* Erasure: rows are deleted at once (with everything derived from them, ``ON DELETE CASCADE``)
  and other reports are redacted as in SQLite; PostgreSQL keeps the dead row versions on disk
  until VACUUM reclaims them (autovacuum does within minutes); ``vacuum=True`` runs
  ``VACUUM FULL`` on the tables that held the candidate, which rewrites them without the old rows.
"""

from __future__ import annotations

import getpass
import json
import logging
import socket
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from .. import hashing
from ..base import MediaError
from ..faces import faces_in_image, forget_image_faces
from .sqlite import (
    AUDIT_PATH_KEYS, ERASED_FILE, IMAGE_SUFFIXES, RETENTION_DAYS, ROLES, SECONDS_PER_DAY, VOICE_SEARCH_LIMIT,
    CandidateRow, CollectionRow, LibraryError, Match, MediaRow, _timestamp, check_recording, default_same_voice,
    file_sha256, lookup_name, media_id_of, normalize_name, printable, recorded_videos, redact, stale_sentences,
    voice_match, voice_rows,
)
from ..settings import validate
from . import schema
from .urls import redact_url, scrub

log = logging.getLogger(__name__)

LOCK_TIMEOUT_S = 30
"""A writer waits this long for another desk's transaction on the same rows, then gets a message."""
CONNECT_TIMEOUT_S = 10
FACE_NEIGHBOURS = 100
"""Nearest stored faces (HNSW) fetched per query face; those within the same-person distance count."""
EF_SEARCH = 400
"""HNSW candidate list size per search (pgvector ``hnsw.ef_search``, default 40). Measured with
bench/library_bench.py on realistic face embeddings (real dlib faces of the shared media among a
background with their covariance; docs/team-store.md): at 1,000,000 faces recall@5 under the
same-person distance 0.942 at 100, 0.963 at 200, 0.980 at 400, 0.990 at 1000; search_embedding
median / p95 8.8 / 17.6, 13.1 / 29.9, 22.7 / 44.1, 85 / 165 ms. 400 is the largest inside the
50 ms target; at 100,000 faces it gives 0.999."""
EXACT_FACES_MAX = 20_000
"""Up to this many stored faces (the planner's estimate), face searches scan every face exactly
(recall 1, as the SQLite library); above it they use the HNSW index (recall: :data:`EF_SEARCH`);
an exact scan in the server took 102 ms at 100,000 faces and 322 ms at 1,000,000."""
EF_SEARCH_MAX = 1000
"""pgvector's upper limit for ``hnsw.ef_search``."""
EXACT_VOICES_MAX = EXACT_FACES_MAX
"""Up to this many stored voice prints (the planner's estimate), voice searches scan every print
exactly (recall 1, as the SQLite library); above it they use the HNSW cosine index."""
HASH_CANDIDATES_MAX = 512
"""Photos within the shortlist hash distance fetched per query (the nearest first); the scorer
keeps at most hashing.SHORTLIST_MAX of them anyway."""
NO_CANDIDATE = -1
"""Stands for "exclude no one" in ``candidate_id IS DISTINCT FROM %s`` (NULL would drop collections)."""
ADVISORY_MIGRATION_LOCK = 0x7E11_7A1E
"""pg_advisory_xact_lock key held while the schema is created or upgraded (desks opening a new
store at the same moment take turns)."""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def bits(value: int | None) -> str | None:
    """A 64-bit hash (signed or unsigned int) as the text of a PostgreSQL bit(64)."""
    if value is None:
        return None
    return format(hashing.to_unsigned(int(value)) & ((1 << 64) - 1), "064b")


def unbits(text: str | None) -> int | None:
    return int(text, 2) if text is not None else None


def as_vector(value: Any) -> np.ndarray:
    if hasattr(value, "to_numpy"):
        value = value.to_numpy()
    return np.asarray(value, dtype=np.float32).reshape(-1)


def os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        return "unknown"


@dataclass(frozen=True)
class StoreSize:
    """How much a search looks at: photos with hashes (``size``) and stored faces.

    Stands in for :meth:`detectors.store.sqlite.Library.index` where callers only read the sizes
    (``index().size``, ``index().embeddings.shape[0]`` in detectors/reuse.py): the search index
    of this back end lives in the server. ``embeddings`` is a (faces, 0) array: no memory."""

    size: int
    faces: int

    @property
    def embeddings(self) -> np.ndarray:
        return np.empty((self.faces, 0), dtype=np.float32)


def _friendly(exc: Exception, url: str) -> LibraryError:
    """A database error as a message a user understands (and without credentials)."""
    import psycopg.errors as pe

    where = redact_url(url)
    if isinstance(exc, pe.LockNotAvailable):
        return LibraryError(f"{where}: another desk is writing the same candidate; waited {LOCK_TIMEOUT_S} s, "
                            "nothing was saved, try again")
    if isinstance(exc, (pe.DeadlockDetected, pe.SerializationFailure)):
        return LibraryError(f"{where}: another desk changed the same candidate at the same moment; nothing was saved, try again")
    if isinstance(exc, pe.ForeignKeyViolation):
        return LibraryError(f"{where}: the candidate or collection was erased by another desk meanwhile; nothing was saved")
    if isinstance(exc, pe.InsufficientPrivilege):
        return LibraryError(f"{where}: the database user may not do this ({scrub(str(exc).strip(), url)})")
    return LibraryError(f"{where}: {scrub(str(exc).strip(), url)}")


class PostgresLibrary:
    """The case store in PostgreSQL. Thread-safe (one connection behind a lock); a context manager."""

    backend = "postgresql"

    def __init__(self, url: str, retention_days: float | None = None, apply_retention: bool = True) -> None:
        import psycopg
        from pgvector.psycopg import register_vector

        self.url = url.strip()
        self.path = redact_url(self.url)  # what reports and the window show as "library"
        self._lock = threading.RLock()
        self._depth = 0
        self._ef_search = 0  # hnsw.ef_search of this connection (0: not set yet)
        self._retention_override = validate(RETENTION_DAYS.key, retention_days) if retention_days is not None else None
        try:
            self._db = psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S,
                                       application_name="telltale")
        except psycopg.Error as exc:
            raise LibraryError(f"{self.path}: cannot connect ({scrub(str(exc).strip(), self.url)})") from None
        try:
            self._db.execute(f"SET lock_timeout = '{LOCK_TIMEOUT_S}s'")
            self._migrate()
            register_vector(self._db)
        except psycopg.Error as exc:
            self._db.close()
            raise _friendly(exc, self.url) from None
        except BaseException:
            self._db.close()
            raise
        if apply_retention:
            self.apply_retention()

    # -- lifecycle -----------------------------------------------------------------
    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> "PostgresLibrary":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"PostgresLibrary({self.path!r})"

    def _version(self) -> int:
        exists = self._db.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()[0]
        if not exists:
            return 0
        return int(self._db.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()[0])

    @property
    def schema_version(self) -> int:
        with self._lock:
            return self._version()

    def _migrate(self) -> None:
        """Create or upgrade the schema (one transaction, desks take turns on an advisory lock)."""
        target = schema.LATEST
        if self._version() == target:
            return
        names = schema.descriptions()
        with self._db.transaction():
            self._db.execute("SELECT pg_advisory_xact_lock(%s)", (ADVISORY_MIGRATION_LOCK,))
            current = self._version()
            if current > target:
                raise LibraryError(f"{self.path}: written by a newer Telltale (schema {current}, this one knows {target})")
            self._db.execute("CREATE EXTENSION IF NOT EXISTS vector")
            self._db.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                             "description TEXT NOT NULL, applied_at TEXT NOT NULL)")
            steps = [(v.number, schema.statements(v, "postgresql")) for v in schema.VERSIONS]
            for number, sqls in steps:
                if number <= current:
                    continue
                for sql in sqls:
                    self._db.execute(sql)
                self._db.execute("INSERT INTO schema_migrations(version, description, applied_at) VALUES (%s, %s, %s)",
                                 (number, names[number], _now()))
                log.info("%s: library schema upgraded to version %d (%s)", self.path, number, names[number])

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """One transaction (nested calls join the outer one). Rolls back on any exception;
        database errors come out as :class:`LibraryError` with a plain message."""
        import psycopg

        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self._db
                finally:
                    self._depth -= 1
                return
            self._depth = 1
            try:
                with self._db.transaction():
                    yield self._db
            except psycopg.Error as exc:
                raise _friendly(exc, self.url) from None
            finally:
                self._depth = 0

    def _q(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> Any:
        """Run one statement (inside the current transaction, if any) with friendly errors."""
        import psycopg

        try:
            return self._db.execute(sql, params)
        except psycopg.Error as exc:
            if self._depth:
                raise  # the transaction rolls back and translates it
            raise _friendly(exc, self.url) from None

    # -- audit ----------------------------------------------------------------------
    def _audit(self, action: str, subject: str | None = None, detail: Mapping[str, Any] | None = None) -> None:
        self._q('INSERT INTO audit(at, "user", host, action, subject, detail) VALUES (%s, %s, %s, %s, %s, %s)',
                (_now(), os_user(), socket.gethostname(), action, subject, json.dumps(dict(detail or {}))))

    def audit(self, action: str, candidate_id: Any = None, detail: Mapping[str, Any] | None = None) -> None:
        """Record that the OS user of this process (on this host) did ``action`` now, on the
        candidate (named in the log by id only) or on nothing."""
        with self._lock:
            subject = f"candidate#{self._candidate_id(candidate_id)}" if candidate_id is not None else None
            with self.transaction():
                self._audit(action, subject, detail)

    def log_export(self, candidate: Any, path: str | Path, kind: str = "report") -> None:
        self.audit("export", candidate, {"kind": kind, "path": str(Path(path).absolute())})

    def audit_log(self, limit: int = 100, candidate: Any = None) -> list[dict[str, Any]]:
        """The newest audit entries first: id, at, user, host, action, subject, detail."""
        with self._lock:
            sql = 'SELECT id, at, "user", host, action, subject, detail FROM audit'
            if candidate is not None:
                rows = self._q(sql + " WHERE subject = %s ORDER BY id DESC LIMIT %s",
                               (f"candidate#{self._candidate_id(candidate)}", limit)).fetchall()
            else:
                rows = self._q(sql + " ORDER BY id DESC LIMIT %s", (limit,)).fetchall()
        return [{"id": int(i), "at": a, "user": u, "host": h, "action": ac, "subject": s, "detail": json.loads(d or "{}")}
                for i, a, u, h, ac, s, d in rows]

    # -- policy values -------------------------------------------------------------
    @property
    def retention_days(self) -> float:
        if self._retention_override is not None:
            return self._retention_override
        with self._lock:
            row = self._q("SELECT value FROM meta WHERE key = %s", (RETENTION_DAYS.key,)).fetchone()
        return float(row[0]) if row else RETENTION_DAYS.default

    def set_retention_days(self, days: float) -> None:
        value = validate(RETENTION_DAYS.key, days)
        with self._lock, self.transaction():
            self._q("INSERT INTO meta(key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                    (RETENTION_DAYS.key, repr(value)))
            self._audit("set-retention", None, {"days": value})

    def last_activity(self) -> dict[int, str]:
        with self._lock:
            rows = self._q(
                """SELECT c.id, GREATEST(c.created_at,
                          COALESCE((SELECT MAX(added_at) FROM media m WHERE m.candidate_id = c.id), ''),
                          COALESCE((SELECT MAX(added_at) FROM faces f WHERE f.candidate_id = c.id), ''),
                          COALESCE((SELECT MAX(added_at) FROM voices v WHERE v.candidate_id = c.id), ''),
                          COALESCE((SELECT MAX(created_at) FROM reports r WHERE r.candidate_id = c.id), ''))
                   FROM candidates c"""
            ).fetchall()
        return {int(cid): str(at) for cid, at in rows}

    def expired_candidates(self, now: datetime | None = None) -> list[int]:
        days = self.retention_days
        if days <= 0:
            return []
        now = now or datetime.now(timezone.utc)
        if now.tzinfo is None:
            now = now.replace(tzinfo=timezone.utc)
        cutoff = now.timestamp() - days * SECONDS_PER_DAY
        return sorted(cid for cid, at in self.last_activity().items() if _timestamp(at) < cutoff)

    def apply_retention(self, now: datetime | None = None) -> list[int]:
        erased = []
        for cid in self.expired_candidates(now):
            try:
                self.erase_candidate(cid, reason="retention")
            except LibraryError:
                continue  # erased meanwhile by another desk
            erased.append(cid)
        return erased

    # -- candidates ----------------------------------------------------------------
    def add_candidate(self, name: str) -> int:
        """The candidate's id, creating the candidate if needed (two desks at once: one row)."""
        name = normalize_name(name)
        with self._lock:
            row = self._q("SELECT id FROM candidates WHERE name = %s", (name,)).fetchone()
            if row:
                return int(row[0])
            with self.transaction():
                new = self._q("INSERT INTO candidates(name, created_at) VALUES (%s, %s) ON CONFLICT (name) DO NOTHING "
                              "RETURNING id", (name, _now())).fetchone()
                if new is not None:
                    self._audit("add-candidate", f"candidate#{new[0]}")
                    return int(new[0])
            row = self._q("SELECT id FROM candidates WHERE name = %s", (name,)).fetchone()
            if row is None:
                raise LibraryError(f"{self.path}: candidate {name!r} was erased by another desk while being added")
            return int(row[0])

    _CANDIDATE_SQL = """
        SELECT c.id, c.name, c.created_at,
               (SELECT score FROM reports r WHERE r.candidate_id = c.id ORDER BY r.id DESC LIMIT 1),
               (SELECT verdict FROM reports r WHERE r.candidate_id = c.id ORDER BY r.id DESC LIMIT 1),
               (SELECT COUNT(*) FROM media m WHERE m.candidate_id = c.id)
        FROM candidates c"""

    @staticmethod
    def _cand(r: Sequence[Any]) -> CandidateRow:
        return CandidateRow(int(r[0]), r[1], r[2], float(r[3]) if r[3] is not None else None, r[4], int(r[5]))

    def candidates(self, search: str = "") -> list[CandidateRow]:
        pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        with self._lock:
            rows = self._q(self._CANDIDATE_SQL + " WHERE c.name ILIKE %s ESCAPE '\\' ORDER BY lower(c.name), c.name",
                           (pattern,)).fetchall()
        return [self._cand(r) for r in rows]

    def get_candidate(self, name_or_id: int | str) -> CandidateRow | None:
        with self._lock:
            if isinstance(name_or_id, (int, np.integer)):
                row = self._q(self._CANDIDATE_SQL + " WHERE c.id = %s", (int(name_or_id),)).fetchone()
            else:
                row = self._q(self._CANDIDATE_SQL + " WHERE c.name = %s", (lookup_name(name_or_id),)).fetchone()
        return self._cand(row) if row else None

    def _candidate_id(self, candidate: Any, create: bool = False) -> int:
        if isinstance(candidate, CandidateRow):
            return candidate.id
        if isinstance(candidate, (int, np.integer)):
            if self._q("SELECT 1 FROM candidates WHERE id = %s", (int(candidate),)).fetchone() is None:
                raise LibraryError(f"no candidate with id {candidate}")
            return int(candidate)
        if create:
            return self.add_candidate(str(candidate))
        row = self._q("SELECT id FROM candidates WHERE name = %s", (lookup_name(candidate),)).fetchone()
        if row is None:
            raise LibraryError(f"no candidate named '{printable(lookup_name(candidate))}'")
        return int(row[0])

    def erase_candidate(self, candidate: Any, reason: str = "request", vacuum: bool = False) -> int:
        """Erase the candidate and everything derived from their media (see the SQLite
        library's docstring); returns the number of media rows removed."""
        with self._lock:
            cid = self._candidate_id(candidate)
            with self.transaction():
                row = self._q("SELECT name FROM candidates WHERE id = %s FOR UPDATE", (cid,)).fetchone()
                if row is None:
                    raise LibraryError(f"no candidate with id {cid}")
                name = row[0]
                media = self._q("SELECT path, sha256 FROM media WHERE candidate_id = %s", (cid,)).fetchall()
                counts = {
                    table: int(self._q(f"SELECT COUNT(*) FROM {table} WHERE candidate_id = %s", (cid,)).fetchone()[0])
                    for table in ("media", "faces", "voices", "reports")
                }
                self._q("DELETE FROM candidates WHERE id = %s", (cid,))
                redacted = self._redact_others(name)
                for aid, detail in self._q("SELECT id, detail FROM audit WHERE subject = %s", (f"candidate#{cid}",)).fetchall():
                    old = json.loads(detail or "{}")
                    new = {k: ERASED_FILE if k in AUDIT_PATH_KEYS else v for k, v in old.items()}
                    if new != old:
                        self._q("UPDATE audit SET detail = %s WHERE id = %s", (json.dumps(new), aid))
                self._audit("erase-candidate", f"candidate#{cid}", {**counts, "reason": reason, "reports_redacted": redacted})
            for _path, sha in media:
                forget_image_faces(sha)
            if vacuum:
                self._vacuum(("candidates", "media", "image_hashes", "segments", "keypoints", "faces", "voices", "reports",
                              "audit"))
            why = f"retention of {self.retention_days:g} days" if reason == "retention" else reason
            log.info("erased candidate #%d (%d file(s), %d face(s), %d voice print(s), %d report(s); %s)",
                     cid, counts["media"], counts["faces"], counts["voices"], counts["reports"], why)
            return counts["media"]

    def _vacuum(self, tables: Sequence[str]) -> None:
        """Rewrite the tables without the dead row versions (VACUUM FULL; outside a transaction)."""
        for table in tables:
            self._q(f"VACUUM FULL {table}")

    def _redact_others(self, name: str) -> int:
        """Remove the erased candidate from the other stored reports, by structure (see
        :func:`detectors.store.sqlite.redact`); the text filter only picks the reports to read."""
        needles = sorted({json.dumps(name), json.dumps(name, ensure_ascii=False)})
        clauses = " OR ".join("strpos(report, %s) > 0" for _ in needles)
        rows = self._q(f"SELECT id, report FROM reports WHERE {clauses} FOR UPDATE", tuple(needles)).fetchall()
        n = 0
        for rid, text in rows:
            cleaned, changed = redact(json.loads(text), name)
            if changed:
                self._q("UPDATE reports SET report = %s WHERE id = %s", (json.dumps(cleaned), rid))
                n += 1
        return n

    def erase_collection(self, name: str) -> int:
        with self._lock:
            with self.transaction():
                row = self._q("SELECT id FROM collections WHERE name = %s FOR UPDATE", (lookup_name(name),)).fetchone()
                if row is None:
                    raise LibraryError(f"no collection named '{printable(lookup_name(name))}'")
                n = int(self._q("SELECT COUNT(*) FROM media WHERE collection_id = %s", (row[0],)).fetchone()[0])
                self._q("DELETE FROM collections WHERE id = %s", (row[0],))
                self._audit("erase-collection", lookup_name(name), {"media": n})
            return n

    # -- watchlists ------------------------------------------------------------------
    def export_watchlist(self, out: str | Path, candidates: Sequence[Any] = (), collection: str | None = None,
                         label: str = "", note: str = "") -> Any:
        """As :meth:`detectors.store.sqlite.Library.export_watchlist`: embeddings, voice prints and hashes only."""
        from .. import watchlist as wl

        if not label.strip():
            raise ValueError("a watchlist needs a label")
        if bool(list(candidates)) == (collection is not None):
            raise ValueError("give candidates or a collection, not both or neither")
        with self._lock:
            if collection is not None:
                row = self._q("SELECT id FROM collections WHERE name = %s", (lookup_name(collection),)).fetchone()
                if row is None:
                    raise LibraryError(f"no collection named '{printable(lookup_name(collection))}'")
                owners = [("collection_id", int(row[0]), 0)]
                source: dict[str, Any] = {"collection": True}
            else:
                ids = list(dict.fromkeys(self._candidate_id(c) for c in candidates))
                owners = [("candidate_id", cid, i + 1) for i, cid in enumerate(ids)]
                source = {"candidates": len(ids)}
            entries: list[Any] = []
            counts: dict[int, int] = {}
            for column, owner, persona in owners:
                found = self._watch_entries(column, owner, persona)
                counts[owner] = len(found)
                entries += found
            watch = wl.Watchlist(label.strip(), wl.now_iso(), tuple(entries), note=note, source=source)
            path = Path(watch.write(out)).absolute()
            with self.transaction():
                for column, owner, _persona in owners:
                    subject = f"candidate#{owner}" if column == "candidate_id" else f"collection:{collection}"
                    self._audit("export-watchlist", subject, {"path": str(path), "label": watch.label, "entries": counts[owner]})
        log.info("watchlist %r: %d entries (%d persona(s)) written to %s", watch.label, len(entries), watch.personas, path)
        return watch

    def _faces_of(self, rows: Sequence[Sequence[Any]]) -> tuple[Any, ...]:
        from .. import watchlist as wl

        return wl.faces_of([as_vector(r[0]).tobytes() for r in rows], [unbits(r[1]) for r in rows])

    def _voices_of(self, rows: Sequence[Sequence[Any]]) -> tuple[Any, ...]:
        from .. import watchlist as wl

        return wl.voices_of([as_vector(r[0]) for r in rows], [float(r[1]) for r in rows])

    def _watch_entries(self, column: str, owner: int, persona: int) -> list[Any]:
        from .. import watchlist as wl

        assert column in ("candidate_id", "collection_id")
        out = []
        media = self._q(f"SELECT id, role, width, height, sha256 FROM media WHERE {column} = %s ORDER BY id", (owner,)).fetchall()
        for mid, role, w, h, sha in media:
            faces = self._faces_of(self._q("SELECT embedding, face_hash FROM faces WHERE media_id = %s ORDER BY id", (mid,)).fetchall())
            voices = self._voices_of(self._q("SELECT embedding, speech_s FROM voices WHERE media_id = %s ORDER BY id", (mid,)).fetchall())
            hrow = self._q("SELECT phash, dhash, phash_trim, dhash_trim FROM image_hashes WHERE media_id = %s", (mid,)).fetchone()
            if hrow is not None and role in ("id", "photo"):
                segs = [unbits(v) for (v,) in self._q("SELECT value FROM segments WHERE media_id = %s ORDER BY seq", (mid,))]
                out.append(wl.WatchEntry(
                    "photo", role, persona, faces, {k: unbits(v) for k, v in zip(hashing.WHOLE_HASH_KINDS, hrow)},
                    tuple(segs), w, h, sha or None,
                ))
            elif faces or voices:
                out.append(wl.WatchEntry("interview", "video", persona, faces, voices=voices))
        loose = self._faces_of(self._q(
            f"SELECT embedding, face_hash FROM faces WHERE {column} = %s AND media_id IS NULL ORDER BY id", (owner,)).fetchall())
        vloose = self._voices_of(self._q(
            f"SELECT embedding, speech_s FROM voices WHERE {column} = %s AND media_id IS NULL ORDER BY id", (owner,)).fetchall())
        if loose or vloose:
            out.append(wl.WatchEntry("interview", "video", persona, loose, voices=vloose))
        return out

    def import_watchlist(self, source: Any, name: str | None = None, replace: bool = False,
                         file: str | Path | None = None) -> tuple[str, int]:
        """As :meth:`detectors.store.sqlite.Library.import_watchlist`: all or nothing."""
        from .. import watchlist as wl

        watch = source if isinstance(source, wl.Watchlist) else wl.Watchlist.read(source)
        coll_name = normalize_name(name or f"watchlist: {watch.label}", "collection name")
        with self._lock:
            if self._q("SELECT 1 FROM collections WHERE name = %s", (coll_name,)).fetchone():
                if not replace:
                    raise LibraryError(f"a collection named {coll_name!r} already exists (choose another name or replace it)")
                self.erase_collection(coll_name)
            now = _now()
            with self.transaction():
                coll = self.add_collection(coll_name, f"watchlist {watch.label!r} of {watch.created_at}")
                for i, entry in enumerate(watch.entries):
                    label = wl.entry_label(watch.label, i, entry)
                    if entry.kind == "photo":
                        self.add_encoded(None, label, entry.role, entry.encoded(), sha256=entry.sha256 or "", collection=coll)
                        continue
                    mid = self._q("INSERT INTO media(collection_id, path, role, sha256, size, added_at) "
                                  "VALUES (%s, %s, 'video', '', 0, %s) RETURNING id", (coll, label, now)).fetchone()[0]
                    self._insert_faces([(None, coll, mid, "interview", None, f.embedding, f.face_hash, now) for f in entry.faces])
                    self._insert_voices([(None, coll, mid, "recording", None, None, v.speech_s, v.embedding, now)
                                         for v in entry.voices])
                detail = {"label": watch.label, "created_at": watch.created_at, "entries": len(watch.entries),
                          "version": watch.version, "voices": watch.voices}
                if file is not None or not isinstance(source, wl.Watchlist):
                    detail["file"] = str(Path(file if file is not None else source).absolute())
                self._audit("import-watchlist", coll_name, detail)
        log.info("watchlist %r imported as %r: %d entries", watch.label, coll_name, len(watch.entries))
        return coll_name, len(watch.entries)

    # -- collections -----------------------------------------------------------------
    def add_collection(self, name: str, folder: str | Path | None = None) -> int:
        name = normalize_name(name, "collection name")
        with self._lock:
            row = self._q("SELECT id FROM collections WHERE name = %s", (name,)).fetchone()
            if row:
                return int(row[0])
            with self.transaction():
                new = self._q("INSERT INTO collections(name, folder, created_at) VALUES (%s, %s, %s) "
                              "ON CONFLICT (name) DO NOTHING RETURNING id", (name, str(folder) if folder else None, _now())).fetchone()
            if new is not None:
                return int(new[0])
            return int(self._q("SELECT id FROM collections WHERE name = %s", (name,)).fetchone()[0])

    def collections(self) -> list[CollectionRow]:
        with self._lock:
            rows = self._q("SELECT c.id, c.name, c.folder, c.created_at, "
                           "(SELECT COUNT(*) FROM media m WHERE m.collection_id = c.id) FROM collections c ORDER BY c.name").fetchall()
        return [CollectionRow(int(i), n, f, t, int(k)) for i, n, f, t, k in rows]

    def import_collection(self, name: str, folder: str | Path, progress: Callable[[float, str], None] | None = None,
                          cancel: threading.Event | None = None) -> int:
        """Add every image under ``folder`` to the collection; each file is its own transaction."""
        root = Path(folder).absolute()
        if not root.is_dir():
            raise MediaError(root, "is not a folder")
        files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        coll = self.add_collection(name, root)
        added = 0
        for i, f in enumerate(files):
            if cancel is not None and cancel.is_set():
                log.info("import of %s cancelled after %d of %d files", name, i, len(files))
                break
            if progress is not None:
                progress(i / max(1, len(files)), f"{f.name}")
            try:
                sha, _size = file_sha256(f)
                with self._lock:
                    dup = self._q("SELECT 1 FROM media WHERE collection_id = %s AND sha256 = %s", (coll, sha)).fetchone()
                if dup:
                    continue
                self._add_image(None, coll, f, "photo")
                added += 1
            except MediaError as exc:
                log.warning("skipped %s", exc)
        with self._lock, self.transaction():
            self._audit("import-collection", name, {"folder": str(root), "added": added, "files": len(files)})
        if progress is not None:
            progress(1.0, f"{added} photos added to {name}")
        return added

    # -- media ---------------------------------------------------------------------
    def add_media(self, candidate: Any, path: str | Path, role: str, image: Any = None) -> MediaRow:
        """Add a file to a candidate (created if needed); the same file twice (SHA-256, role)
        returns the existing row, also when two desks add it at the same moment."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, not {role!r}")
        p = Path(path).absolute()
        with self._lock:
            cid = self._candidate_id(candidate, create=True)
        if role != "video":
            return self._add_image(cid, None, p, role, image)
        check_recording(p)
        sha, size = file_sha256(p)
        with self._lock:
            existing = self._find_media(cid, sha, role)
            if existing is not None:
                return existing
            with self.transaction():
                new = self._q(
                    "INSERT INTO media(candidate_id, path, role, sha256, size, added_at) VALUES (%s, %s, %s, %s, %s, %s) "
                    "ON CONFLICT (candidate_id, sha256, role) WHERE candidate_id IS NOT NULL AND sha256 <> '' DO NOTHING "
                    "RETURNING id", (cid, str(p), role, sha, size, _now())).fetchone()
                if new is not None:
                    self._audit("add-media", f"media#{new[0]}", {"role": role})
            if new is None:
                found = self._find_media(cid, sha, role)
                if found is None:
                    raise LibraryError(f"{self.path}: {p} was removed by another desk while being added")
                return found
            return self.get_media(int(new[0]))

    def _find_media(self, cid: int, sha: str, role: str) -> MediaRow | None:
        row = self._q("SELECT id FROM media WHERE candidate_id = %s AND sha256 = %s AND role = %s ORDER BY id LIMIT 1",
                      (cid, sha, role)).fetchone()
        return self.get_media(int(row[0])) if row else None

    def _add_image(self, cid: int | None, coll: int | None, p: Path, role: str, image: Any = None) -> MediaRow:
        from ..media import load_image

        img = image if image is not None else load_image(p, role)
        if cid is not None:
            with self._lock:
                existing = self._find_media(cid, img.sha256, role)
            if existing is not None:
                return existing
        enc = hashing.encode_image(img.rgb, faces_in_image(img), sha256=img.sha256)
        return self.add_encoded(cid, str(p), role, enc, sha256=img.sha256, size=img.file_size, collection=coll)

    def _insert_faces(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """rows: (candidate_id, collection_id, media_id, source, box json, embedding, face hash, added_at)."""
        if not rows:
            return
        with self._db.cursor() as cur:
            cur.executemany(
                "INSERT INTO faces(candidate_id, collection_id, media_id, source, box, embedding, face_hash, added_at) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s::bit(64), %s)",
                [(c, k, m, s, b, np.asarray(e, np.float32).reshape(schema.EMBEDDING_DIMS), bits(fh), t)
                 for c, k, m, s, b, e, fh, t in rows],
            )

    def _insert_voices(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """rows: (candidate_id, collection_id, media_id, source, start_s, end_s, speech_s, embedding, added_at)."""
        if not rows:
            return
        with self._db.cursor() as cur:
            cur.executemany(
                "INSERT INTO voices(candidate_id, collection_id, media_id, source, start_s, end_s, speech_s, embedding, added_at) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [(c, k, m, s, a, b, float(sp), np.asarray(e, np.float32).reshape(schema.VOICE_DIMS), t)
                 for c, k, m, s, a, b, sp, e, t in rows],
            )

    def add_encoded(self, candidate: Any, path: str, role: str, enc: hashing.Encoded, *, sha256: str = "", size: int = 0,
                    collection: int | str | None = None) -> MediaRow:
        """Store an already encoded photo (wrap many calls in :meth:`transaction` for bulk work).
        Exactly one of ``candidate`` and ``collection`` is given."""
        with self._lock:
            cid = self._candidate_id(candidate, create=True) if candidate is not None else None
            coll = None
            if collection is not None:
                coll = int(collection) if isinstance(collection, (int, np.integer)) else self.add_collection(str(collection))
            if (cid is None) == (coll is None):
                raise ValueError("give a candidate or a collection, not both or neither")
            now = _now()
            sha = sha256 or enc.sha256 or ""
            with self.transaction():
                new = self._q(
                    "INSERT INTO media(candidate_id, collection_id, path, role, sha256, size, width, height, added_at) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
                    "ON CONFLICT (candidate_id, sha256, role) WHERE candidate_id IS NOT NULL AND sha256 <> '' DO NOTHING "
                    "RETURNING id", (cid, coll, path, role, sha, size, enc.width, enc.height, now)).fetchone()
                if new is not None:
                    mid = int(new[0])
                    h = enc.hashes
                    self._q("INSERT INTO image_hashes(media_id, phash, dhash, phash_trim, dhash_trim) "
                            "VALUES (%s, %s::bit(64), %s::bit(64), %s::bit(64), %s::bit(64))",
                            (mid, *(bits(h[k]) for k in hashing.WHOLE_HASH_KINDS)))
                    if enc.segments:
                        with self._db.cursor() as cur:
                            cur.executemany("INSERT INTO segments(media_id, seq, value) VALUES (%s, %s, %s::bit(64))",
                                            [(mid, i, bits(v)) for i, v in enumerate(enc.segments)])
                    self._insert_faces([(cid, coll, mid, role, json.dumps(list(f.box)), f.embedding, f.face_hash, now)
                                        for f in enc.faces])
                    if enc.keypoints is not None:
                        self._q("INSERT INTO keypoints(media_id, points, descriptors) VALUES (%s, %s, %s)",
                                (mid, *enc.keypoints.to_blobs()))
                    if self._depth == 1:
                        self._audit("add-media", f"media#{mid}", {"role": role, "faces": len(enc.faces)})
            if new is None:  # the same file for the same candidate is already stored (maybe by another desk)
                found = self._find_media(int(cid), sha, role)  # type: ignore[arg-type]
                if found is None:
                    raise LibraryError(f"{self.path}: {path} was removed by another desk while being added")
                return found
            return MediaRow(mid, self._name_of(cid), self._coll_name_of(coll), path, role, sha256, size, now,
                            enc.width, enc.height, len(enc.faces))

    def _name_of(self, cid: int | None) -> str | None:
        if cid is None:
            return None
        row = self._q("SELECT name FROM candidates WHERE id = %s", (cid,)).fetchone()
        return row[0] if row else None

    def _coll_name_of(self, coll: int | None) -> str | None:
        if coll is None:
            return None
        row = self._q("SELECT name FROM collections WHERE id = %s", (coll,)).fetchone()
        return row[0] if row else None

    _MEDIA_SQL = """
        SELECT m.id, c.name, k.name, m.path, m.role, m.sha256, m.size, m.added_at, m.width, m.height,
               (SELECT COUNT(*) FROM faces f WHERE f.media_id = m.id)
        FROM media m LEFT JOIN candidates c ON c.id = m.candidate_id
                     LEFT JOIN collections k ON k.id = m.collection_id"""

    @staticmethod
    def _media_row(r: Sequence[Any]) -> MediaRow:
        return MediaRow(int(r[0]), r[1], r[2], r[3], r[4], r[5], int(r[6]), r[7],
                        None if r[8] is None else int(r[8]), None if r[9] is None else int(r[9]), int(r[10]))

    def get_media(self, media_id: int) -> MediaRow:
        with self._lock:
            row = self._q(self._MEDIA_SQL + " WHERE m.id = %s", (int(media_id),)).fetchone()
        if row is None:
            raise LibraryError(f"no media with id {media_id}")
        return self._media_row(row)

    def media(self, candidate: Any) -> list[MediaRow]:
        with self._lock:
            cid = self._candidate_id(candidate)
            rows = self._q(self._MEDIA_SQL + " WHERE m.candidate_id = %s ORDER BY m.id", (cid,)).fetchall()
        return [self._media_row(r) for r in rows]

    def remove_media(self, media_id: int | MediaRow) -> None:
        mid = media_id.id if isinstance(media_id, MediaRow) else int(media_id)
        with self._lock, self.transaction():
            self._q("DELETE FROM media WHERE id = %s", (mid,))
            self._audit("remove-media", f"media#{mid}")

    def add_face_embeddings(self, candidate: Any, media: MediaRow | int | str | Path | None,
                            embeddings: Sequence[np.ndarray] | np.ndarray, source: str = "interview") -> int:
        """Store face embeddings seen in a recording (see the SQLite library). Returns rows given."""
        with self._lock:
            cid = self._candidate_id(candidate, create=True)
            mid = media_id_of(self, cid, media)
            embs = np.asarray(embeddings, dtype=np.float32).reshape(-1, schema.EMBEDDING_DIMS)
            now = _now()
            with self.transaction():
                self._insert_faces([(cid, None, mid, source, None, e, None, now) for e in embs if np.all(np.isfinite(e))])
                self._audit("add-face-embeddings", f"candidate#{cid}", {"count": int(embs.shape[0]), "source": source})
            return int(embs.shape[0])

    def add_voice_prints(self, candidate: Any, media: MediaRow | int | str | Path | None, prints: Sequence[Any],
                         source: str = "recording") -> int:
        """Store voice prints heard in a recording (see the SQLite library). Returns rows added."""
        with self._lock:
            cid = self._candidate_id(candidate, create=True)
            mid = media_id_of(self, cid, media)
            rows = voice_rows(prints)
            now = _now()
            with self.transaction():
                self._insert_voices([(cid, None, mid, source, a, b, sp, e, now) for e, sp, a, b in rows])
                self._audit("add-voice-prints", f"candidate#{cid}", {"count": len(rows), "source": source})
            return len(rows)

    def record_candidate(self, name: str, images: Sequence[Any] = (), recordings: Sequence[Any] = ()) -> list[MediaRow]:
        """Store what an analysis saw (photos; each recording's main face identity, replacing
        the one stored for the same recording). One transaction: all of it or none."""
        return self.record_analysis(name, images, recordings, None)

    def record_analysis(self, name: str, images: Sequence[Any] = (), recordings: Sequence[Any] = (),
                        report_dict: Mapping[str, Any] | None = None) -> list[MediaRow]:
        """:meth:`record_candidate` and :meth:`save_report` in one transaction, so another desk
        never sees (and a failure never leaves) media, faces and voices without their report.
        Hashing is done first; the recording's media row is locked while its identity and voice
        print are replaced, so two desks recording the same interview leave one of each."""
        name = normalize_name(name)
        photos = []
        for img in images:
            role = img.role if img.role in ("id", "photo") else "photo"
            photos.append((img, role, hashing.encode_image(img.rgb, faces_in_image(img), sha256=img.sha256)))
        videos = recorded_videos(recordings)
        with self._lock, self.transaction():
            cid = self._candidate_id(name, create=True)
            ids = []
            for img, role, enc in photos:
                ids.append(self.add_encoded(cid, str(Path(img.path).absolute()), role, enc, sha256=img.sha256,
                                            size=img.file_size).id)
            for path, sha, size, identity, voice in videos:
                self._q("INSERT INTO media(candidate_id, path, role, sha256, size, added_at) VALUES (%s, %s, 'video', %s, %s, %s) "
                        "ON CONFLICT (candidate_id, sha256, role) WHERE candidate_id IS NOT NULL AND sha256 <> '' DO NOTHING",
                        (cid, str(path), sha, size, _now()))
                mid = int(self._q("SELECT id FROM media WHERE candidate_id = %s AND sha256 = %s AND role = 'video' FOR UPDATE",
                                  (cid, sha)).fetchone()[0])
                if identity is not None:
                    self._q("DELETE FROM faces WHERE media_id = %s AND source = 'interview'", (mid,))
                    self.add_face_embeddings(cid, mid, [identity])
                if voice is not None:
                    self._q("DELETE FROM voices WHERE media_id = %s AND source = 'recording'", (mid,))
                    self.add_voice_prints(cid, mid, [voice])
                ids.append(mid)
            if report_dict is not None:
                self.save_report(cid, report_dict)
            return [self.get_media(i) for i in ids]

    # -- reports -------------------------------------------------------------------
    def save_report(self, candidate: Any, report_dict: Mapping[str, Any]) -> None:
        from ..base import jsonable

        with self._lock:
            cid = self._candidate_id(candidate, create=True)
            score = report_dict.get("score")
            with self.transaction():
                self._q("INSERT INTO reports(candidate_id, created_at, score, verdict, report) VALUES (%s, %s, %s, %s, %s)",
                        (cid, _now(), float(score) if score is not None else None, report_dict.get("verdict"),
                         json.dumps(jsonable(report_dict))))
                self._audit("analysis", f"candidate#{cid}", {
                    "score": float(score) if score is not None else None, "verdict": report_dict.get("verdict"),
                    "files": len(report_dict.get("media") or []),
                })

    def latest_report(self, candidate: Any) -> dict[str, Any] | None:
        with self._lock:
            try:
                cid = self._candidate_id(candidate)
            except LibraryError:
                return None
            row = self._q("SELECT report FROM reports WHERE candidate_id = %s ORDER BY id DESC LIMIT 1", (cid,)).fetchone()
        return json.loads(row[0]) if row else None

    def reports(self, candidate: Any) -> list[tuple[str, dict[str, Any]]]:
        with self._lock:
            cid = self._candidate_id(candidate)
            rows = self._q("SELECT created_at, report FROM reports WHERE candidate_id = %s ORDER BY id", (cid,)).fetchall()
        return [(t, json.loads(r)) for t, r in rows]

    # -- search --------------------------------------------------------------------
    def index(self) -> StoreSize:
        """How many photos and faces a search looks at (the index itself is in the server)."""
        with self._lock:
            photos = int(self._q("SELECT COUNT(*) FROM image_hashes").fetchone()[0])
            faces = int(self._q("SELECT COUNT(*) FROM faces").fetchone()[0])
        return StoreSize(photos, faces)

    def encode(self, image: Any) -> hashing.Encoded:
        from ..media import LoadedImage, load_image

        if isinstance(image, (str, Path)):
            image = load_image(image)
        if isinstance(image, LoadedImage):
            return hashing.encode_image(image.rgb, faces_in_image(image), mirrored=True, sha256=image.sha256)
        return hashing.encode_image(np.asarray(image), mirrored=True)

    def search(self, image: Any, exclude_candidate: Any = None, limit: int = 10) -> list[Match]:
        return self.search_encoded(self.encode(image), exclude_candidate, limit)

    def _excluded_candidate_id(self, exclude_candidate: Any) -> int | None:
        if exclude_candidate is None:
            return None
        try:
            return self._candidate_id(exclude_candidate)
        except LibraryError:
            return None

    def _set_ef_search(self, ef: int) -> None:
        ef = int(min(max(ef, 1), EF_SEARCH_MAX))
        if ef != self._ef_search:
            self._q(f"SET hnsw.ef_search = {ef}")
            self._ef_search = ef

    def _face_order(self) -> str:
        """The ORDER BY of face searches: the HNSW index (``embedding <-> q``), or for a store of
        at most :data:`EXACT_FACES_MAX` faces an exact scan (``+ 0``: an expression no index serves)."""
        estimate = float(self._q("SELECT reltuples FROM pg_class WHERE oid = 'faces'::regclass").fetchone()[0])
        return "f.embedding <-> %(e)s" if estimate > EXACT_FACES_MAX else "(f.embedding <-> %(e)s) + 0"

    def _nearest_faces(self, embedding: np.ndarray, ex_cid: int | None, k: int) -> list[int]:
        """Face row ids of the ``k`` nearest stored faces, the excluded candidate's left out."""
        ex_cid = NO_CANDIDATE if ex_cid is None else ex_cid
        self._set_ef_search(max(EF_SEARCH, k))
        rows = self._q(f"SELECT f.id FROM faces f WHERE f.candidate_id IS DISTINCT FROM %(ex)s ORDER BY {self._face_order()} "
                       f"LIMIT %(k)s", {"ex": ex_cid, "e": np.asarray(embedding, np.float32).reshape(schema.EMBEDDING_DIMS),
                                        "k": int(k)}).fetchall()
        return [int(r[0]) for r in rows]

    def search_encoded(self, enc: hashing.Encoded, exclude_candidate: Any = None, limit: int = 10) -> list[Match]:
        """Where has this photo, or the face in it, been seen before? The server finds the
        candidate rows (hash distances, segment bands, HNSW faces); the same HashIndex scoring
        as the SQLite library decides. Best first."""
        from .search import assemble

        with self._lock:
            ex_cid = self._excluded_candidate_id(exclude_candidate)
            ex_cid = NO_CANDIDATE if ex_cid is None else ex_cid
            owner = "m.candidate_id IS DISTINCT FROM %(ex)s"
            variants = [enc.hashes] + ([enc.mirror_hashes] if enc.mirror_hashes else [])
            params: dict[str, Any] = {"ex": ex_cid, "cap": HASH_CANDIDATES_MAX}
            terms = []
            for j, h in enumerate(variants):
                params[f"p{j}"], params[f"t{j}"] = bits(h["phash"]), bits(h["phash_trim"])
                terms += [f"bit_count(h.phash # %(p{j})s::bit(64))", f"bit_count(h.phash_trim # %(t{j})s::bit(64))"]
            dist = f"LEAST({', '.join(terms)})"
            whole = self._q(
                f"SELECT h.media_id, {dist} AS d FROM image_hashes h JOIN media m ON m.id = h.media_id WHERE {owner} "
                f"ORDER BY d LIMIT %(cap)s", params).fetchall()
            media_ids = {int(mid) for i, (mid, d) in enumerate(whole) if d <= hashing.SHORTLIST_HASH_BITS or i < hashing.SHORTLIST_NEAREST}
            # crop segments: the hash bands narrow the rows, bit_count decides
            segs = list(enc.segments) + list(enc.mirror_segments)
            seg_rows: list[tuple[int, int]] = []
            if segs:
                keys = [sorted({k for s in segs for k in band_keys(s)[j * 17:(j + 1) * 17]}) for j in range(schema.SEGMENT_BANDS)]
                near = " OR ".join(f"bit_count(s.value # %(s{i})s::bit(64)) <= %(sb)s" for i in range(len(segs)))
                anyband = " OR ".join(f"s.band{j} = ANY(%(b{j})s::integer[])" for j in range(schema.SEGMENT_BANDS))
                sp: dict[str, Any] = {"ex": ex_cid, "sb": hashing.CROP_SEGMENT_BITS}
                sp.update({f"s{i}": bits(v) for i, v in enumerate(segs)})
                sp.update({f"b{j}": k for j, k in enumerate(keys)})
                seg_rows = [(int(m), unbits(v)) for m, v in self._q(
                    f"SELECT s.media_id, s.value FROM segments s JOIN media m ON m.id = s.media_id "
                    f"WHERE ({anyband}) AND ({near}) AND {owner}", sp).fetchall()]
                media_ids |= {m for m, _v in seg_rows}
            # faces: nearest embeddings (HNSW) and aligned-face hashes within the shortlist distance
            face_ids: set[int] = set()
            for fc in enc.faces:
                face_ids.update(self._nearest_faces(fc.embedding, ex_cid, FACE_NEIGHBOURS))
            fhs = [v for fc in enc.faces for v in (fc.face_hash, fc.mirror_face_hash) if v is not None]
            if fhs:
                fterms = ", ".join(f"bit_count(f.face_hash # %(f{i})s::bit(64))" for i in range(len(fhs)))
                fp: dict[str, Any] = {"ex": ex_cid, "fb": hashing.SHORTLIST_HASH_BITS, **{f"f{i}": bits(v) for i, v in enumerate(fhs)}}
                face_ids.update(int(r[0]) for r in self._q(
                    f"SELECT f.id FROM faces f WHERE f.face_hash IS NOT NULL AND f.candidate_id IS DISTINCT FROM %(ex)s "
                    f"AND LEAST({fterms}) <= %(fb)s", fp).fetchall())
            faces = self._q("SELECT id, media_id, candidate_id, collection_id, source, embedding, face_hash FROM faces "
                            "WHERE id = ANY(%s)", (sorted(face_ids),)).fetchall() if face_ids else []
            media_ids |= {int(f[1]) for f in faces if f[1] is not None}
            if enc.sha256:
                media_ids |= {int(r[0]) for r in self._q(
                    f"SELECT m.id FROM media m WHERE m.sha256 = %(sha)s AND {owner}", {"sha": enc.sha256, "ex": ex_cid}).fetchall()}
            cands = self._candidates_for(media_ids, seg_rows, faces)
            return assemble(enc, cands, limit, self._keypoints)

    def _candidates_for(self, media_ids: set[int], seg_rows: list[tuple[int, int]], faces: list[Sequence[Any]]) -> Any:
        from .search import Candidates

        ids = sorted(media_ids)
        meta = {int(r[0]): (r[1], r[2], r[3], r[4], r[5]) for r in self._q(
            "SELECT id, candidate_id, collection_id, path, role, sha256 FROM media WHERE id = ANY(%s)", (ids,)).fetchall()}
        wh = self._q("SELECT media_id, phash, dhash, phash_trim, dhash_trim FROM image_hashes WHERE media_id = ANY(%s) "
                     "ORDER BY media_id", (ids,)).fetchall()
        cids = {m[0] for m in meta.values() if m[0] is not None} | {f[2] for f in faces if f[2] is not None}
        colls = {m[1] for m in meta.values() if m[1] is not None} | {f[3] for f in faces if f[3] is not None}
        names = dict(self._q("SELECT id, name FROM candidates WHERE id = ANY(%s)", (sorted(cids),)).fetchall()) if cids else {}
        coll_names = dict(self._q("SELECT id, name FROM collections WHERE id = ANY(%s)", (sorted(colls),)).fetchall()) if colls else {}
        seg_rows = [(m, v) for m, v in seg_rows if m in meta]
        idx = hashing.HashIndex(
            whole_ids=np.array([int(r[0]) for r in wh], dtype=np.int64),
            whole=np.array([[unbits(v) for v in r[1:]] for r in wh], dtype=np.uint64).reshape(-1, 4),
            seg_ids=np.array([m for m, _v in seg_rows], dtype=np.int64),
            segs=np.array([v for _m, v in seg_rows], dtype=np.uint64),
            face_ids=np.array([int(f[0]) for f in faces], dtype=np.int64),
            face_media=np.array([int(f[1]) if f[1] is not None else -1 for f in faces], dtype=np.int64),
            embeddings=np.array([as_vector(f[5]) for f in faces], dtype=np.float32).reshape(-1, schema.EMBEDDING_DIMS),
            face_hash=np.array([unbits(f[6]) or 0 for f in faces], dtype=np.uint64),
            face_hash_ok=np.array([f[6] is not None for f in faces], dtype=bool),
        )
        face_owner = {int(f[0]): (f[1], f[2], f[3], f[4]) for f in faces}
        by_sha: dict[str, list[int]] = {}
        for mid, m in meta.items():
            by_sha.setdefault(m[4], []).append(mid)
        return Candidates(idx, meta, names, coll_names, face_owner, by_sha)

    def _keypoints(self, media_id: int) -> hashing.Keypoints | None:
        row = self._q("SELECT points, descriptors FROM keypoints WHERE media_id = %s", (media_id,)).fetchone()
        return hashing.Keypoints.from_blobs(bytes(row[0]), bytes(row[1])) if row else None

    def search_embedding(self, embedding: np.ndarray, exclude_candidate: Any = None, limit: int = 10) -> list[Match]:
        """Same-face matches of one face embedding, nearest first (HNSW in the server)."""
        e = np.asarray(embedding, np.float32).reshape(schema.EMBEDDING_DIMS)
        with self._lock:
            ex_cid = self._excluded_candidate_id(exclude_candidate)
            ex_cid = NO_CANDIDATE if ex_cid is None else ex_cid
            k = max(FACE_NEIGHBOURS, 4 * limit)
            while True:
                self._set_ef_search(max(EF_SEARCH, k))
                rows = self._q(
                    "SELECT f.id, f.media_id, f.candidate_id, f.collection_id, f.source, f.embedding <-> %(e)s AS d, "
                    "m.path, m.role, c.name, k.name FROM faces f "
                    "LEFT JOIN media m ON m.id = f.media_id LEFT JOIN candidates c ON c.id = f.candidate_id "
                    "LEFT JOIN collections k ON k.id = f.collection_id "
                    f"WHERE f.candidate_id IS DISTINCT FROM %(ex)s ORDER BY {self._face_order()} LIMIT %(k)s",
                    {"e": e, "ex": ex_cid, "k": k}).fetchall()
                out: dict[int, Match] = {}
                near = [r for r in rows if float(r[5]) < hashing.SAME_PERSON_DISTANCE]
                for fid, mid, _cid, _coll, source, d, path, _role, cname, kname in near:
                    key = int(mid) if mid is not None else -int(fid)
                    if key in out:
                        continue
                    detail: dict[str, Any] = {"method": "face embedding", "source": source}
                    if mid is not None:
                        detail = {"media_id": int(mid), **detail}
                    out[key] = Match(cname, kname, path or "", "same-face", float(d), detail)
                    if len(out) >= limit:
                        break
                # every fetched face was near but they shared too few files: look further
                if len(out) >= limit or len(near) < len(rows) or len(rows) < k or k >= EF_SEARCH_MAX:
                    return list(out.values())
                k = min(EF_SEARCH_MAX, 4 * k)


    def search_voices(self, embedding: np.ndarray, exclude_candidate: Any = None, max_distance: float | None = None,
                      limit: int = VOICE_SEARCH_LIMIT) -> list[dict[str, Any]]:
        """Stored voice prints within ``max_distance`` (cosine distance) of ``embedding``, nearest
        first, one per recording (see the SQLite library): pgvector's ``<=>`` in the server, an
        exact scan up to :data:`EXACT_VOICES_MAX` prints, the HNSW cosine index above."""
        bar = default_same_voice() if max_distance is None else float(max_distance)
        e = np.asarray(embedding, np.float32).reshape(-1)
        if e.shape[0] != schema.VOICE_DIMS:
            raise ValueError(f"a voice print has {schema.VOICE_DIMS} values, not {e.shape[0]}")
        if not np.all(np.isfinite(e)) or not np.any(e):
            return []
        with self._lock:
            ex_cid = self._excluded_candidate_id(exclude_candidate)
            ex_cid = NO_CANDIDATE if ex_cid is None else ex_cid
            estimate = float(self._q("SELECT reltuples FROM pg_class WHERE oid = 'voices'::regclass").fetchone()[0])
            # the index serves only ORDER BY the distance alone; the exact scan breaks ties by row, as SQLite
            order = "v.embedding <=> %(e)s" if estimate > EXACT_VOICES_MAX else "(v.embedding <=> %(e)s) + 0, v.id"
            k = max(FACE_NEIGHBOURS, 4 * limit)
            while True:
                self._set_ef_search(max(EF_SEARCH, k))
                rows = self._q(
                    "SELECT v.id, v.media_id, c.name, k.name, m.path, v.speech_s, v.start_s, v.end_s, v.embedding <=> %(e)s AS d "
                    "FROM voices v LEFT JOIN media m ON m.id = v.media_id LEFT JOIN candidates c ON c.id = v.candidate_id "
                    "LEFT JOIN collections k ON k.id = v.collection_id "
                    f"WHERE v.candidate_id IS DISTINCT FROM %(ex)s ORDER BY {order} LIMIT %(k)s",
                    {"e": e, "ex": ex_cid, "k": k}).fetchall()
                out: dict[int, dict[str, Any]] = {}
                near = [r for r in rows if float(r[8]) <= bar]
                for vid, mid, cname, kname, path, speech, start, end, d in near:
                    key = int(mid) if mid is not None else -int(vid)
                    if key in out:
                        continue
                    out[key] = voice_match(cname, kname, path, mid, float(d), float(speech), start, end)
                    if len(out) >= limit:
                        break
                if len(out) >= limit or len(near) < len(rows) or len(rows) < k or k >= EF_SEARCH_MAX:
                    return list(out.values())
                k = min(EF_SEARCH_MAX, 4 * k)

    # -- stale results: a saved report that no longer matches the library (as in SQLite) ------
    _STALE_PREFIX = "stale:"

    def _get_meta(self, key: str) -> str | None:
        row = self._q("SELECT value FROM meta WHERE key = %s", (key,)).fetchone()
        return row[0] if row else None

    def mark_stale(self, candidate: Any, kind: str, other: Any = None, detail: str = "") -> None:
        """Say that ``candidate``'s latest report is out of date (see the SQLite library)."""
        with self._lock:
            cid = self._candidate_id(candidate)
            if self._q("SELECT 1 FROM reports WHERE candidate_id = %s", (cid,)).fetchone() is None:
                return
            other_id = self._candidate_id(other) if other is not None else None
            key = f"{self._STALE_PREFIX}{cid}"
            mark = {"kind": kind, "other": other_id, "detail": str(detail)}
            with self.transaction():
                row = self._q("SELECT value FROM meta WHERE key = %s FOR UPDATE", (key,)).fetchone()
                marks = json.loads(row[0]) if row else []
                if mark in marks:
                    return
                marks.append(mark)
                self._q("INSERT INTO meta(key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                        (key, json.dumps(marks)))

    def stale_reasons(self, candidate: Any) -> list[str]:
        with self._lock:
            try:
                cid = self._candidate_id(candidate)
            except LibraryError:
                return []
            def name_of(other: Any) -> str | None:
                row = self._q("SELECT name FROM candidates WHERE id = %s", (other,)).fetchone()
                return row[0] if row else None

            return stale_sentences(json.loads(self._get_meta(f"{self._STALE_PREFIX}{cid}") or "[]"), name_of)

    def clear_stale(self, candidate: Any) -> None:
        with self._lock:
            cid = self._candidate_id(candidate)
            with self.transaction():
                self._q("DELETE FROM meta WHERE key = %s", (f"{self._STALE_PREFIX}{cid}",))

    def stale_candidates(self) -> set[int]:
        with self._lock:
            rows = self._q("SELECT key FROM meta WHERE key LIKE %s", (self._STALE_PREFIX + "%",)).fetchall()
        return {int(k[len(self._STALE_PREFIX):]) for (k,) in rows if k[len(self._STALE_PREFIX):].isdigit()}

    def rename_candidate(self, candidate: Any, new_name: str) -> None:
        """Give a candidate another name (refused when another candidate has it)."""
        name = normalize_name(new_name)
        with self._lock:
            cid = self._candidate_id(candidate)
            row = self._q("SELECT id FROM candidates WHERE name = %s", (name,)).fetchone()
            if row is not None and int(row[0]) != cid:
                raise LibraryError(f"another candidate is already called '{printable(name)}'")
            with self.transaction():
                self._q("UPDATE candidates SET name = %s WHERE id = %s", (name, cid))
                self._audit("rename-candidate", f"candidate#{cid}")


def band_keys(value: int) -> list[int]:
    """The band values a stored segment hash within CROP_SEGMENT_BITS of ``value`` has at least
    one of: for each 16-bit band j (most significant first, as schema's band columns) the band
    and its 16 one-bit variants (17 values per band, band after band)."""
    b = schema.SEGMENT_BAND_BITS
    assert hashing.CROP_SEGMENT_BITS // schema.SEGMENT_BANDS <= 1, "bands admit one differing bit"
    v = hashing.to_unsigned(int(value)) & ((1 << 64) - 1)
    keys = []
    for j in range(schema.SEGMENT_BANDS):
        band = (v >> (64 - b * (j + 1))) & ((1 << b) - 1)
        keys += [band] + [band ^ (1 << i) for i in range(b)]
    return keys
