"""The case store: candidates, their media, perceptual hashes, face embeddings and reports.

One SQLite file (stdlib ``sqlite3``, no server), by default ``library.sqlite`` in
``platformdirs.user_data_dir("telltale")``; ``Library(path)`` or the ``TELLTALE_LIBRARY``
environment variable chooses another. The schema is versioned (``PRAGMA user_version`` plus a
``schema_migrations`` history table) and upgraded in place by the ordered :data:`MIGRATIONS`
list. Every write runs in a transaction, so an interrupted import keeps every file that was
already committed and nothing half-written.

Search keeps every stored code in memory (see :class:`detectors.hashing.HashIndex`): built on
the first search, dropped on every write, rebuilt on the next search.

Data protection (issue 8; face embeddings and face hashes are biometric data):

* Private files: the folder is created 0700, the database 0600 through ``os.open`` modes; SQLite
  gives its journal/WAL files the database's mode; a file found readable by others is tightened
  on open. Temporary tables and sorts stay in memory (``temp_store = MEMORY``), so nothing goes
  to ``TMPDIR``. The library writes no thumbnails or frames to disk: face crops live inside
  the stored reports.
* Erasure: :meth:`Library.erase_candidate` removes the candidate, every media row, hash, crop
  segment, keypoint set, face embedding and report (``ON DELETE CASCADE``), redacts the
  candidate's name and file paths from other candidates' reports (a reuse finding that named
  them) and from the audit details, and zeroes the freed pages (``secure_delete``); a WAL
  is checkpointed and truncated.
* Retention: ``library.retention_days`` (0 = keep forever); :meth:`Library.apply_retention`
  erases candidates whose last activity (created, file added, analysed) is older, one log line
  per candidate. Runs when a library opens.
* Audit: :meth:`Library.audit` rows say who (OS user), what (analysis, export, erasure...),
  which candidate (by id only, so erasure leaves no name behind) and when.
* Watchlists: :meth:`Library.export_watchlist` / :meth:`Library.import_watchlist` share face
  embeddings and perceptual hashes, never photos or paths (``docs/watchlist-format.md``).
"""

from __future__ import annotations

import getpass
import hashlib
import json
import logging
import os
import sqlite3
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from . import hashing, privacy
from .faces import faces_in_image, forget_image_faces
from .base import MediaError
from .settings import setting, validate

log = logging.getLogger(__name__)

LIBRARY_FILE = "library.sqlite"
ENV_LIBRARY = "TELLTALE_LIBRARY"
ROLES = ("video", "id", "photo")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")

RETENTION_DAYS = setting(
    "library.retention_days", 0.0, 0.0, 3650.0,
    "How long a candidate's media, faces and reports are kept after their last activity "
    "(created, file added, analysed); older candidates are erased when the library opens. 0 = keep forever.",
    "days",
)
SECONDS_PER_DAY = 86_400.0
ERASED_NAME = "[erased candidate]"
ERASED_FILE = "[erased file]"
"""What an erased candidate's name and file paths become in other candidates' reports."""
AUDIT_PATH_KEYS = ("path", "file", "folder")
"""Audit detail keys holding a path (export targets may be named after the candidate)."""

# --------------------------------------------------------------------------- schema

MIGRATIONS: list[tuple[int, str, list[str]]] = [
    (
        1,
        "candidates, collections, media, image hashes, crop segments, faces, reports",
        [
            """CREATE TABLE candidates (
                id INTEGER PRIMARY KEY,
                name TEXT NOT NULL UNIQUE,
                created_at TEXT NOT NULL)""",
            """CREATE TABLE collections (
                id INTEGER PRIMARY KEY,
                name TEXT NOT NULL UNIQUE,
                folder TEXT,
                created_at TEXT NOT NULL)""",
            """CREATE TABLE media (
                id INTEGER PRIMARY KEY,
                candidate_id INTEGER REFERENCES candidates(id) ON DELETE CASCADE,
                collection_id INTEGER REFERENCES collections(id) ON DELETE CASCADE,
                path TEXT NOT NULL,
                role TEXT NOT NULL,
                sha256 TEXT NOT NULL,
                size INTEGER NOT NULL,
                width INTEGER,
                height INTEGER,
                added_at TEXT NOT NULL,
                CHECK ((candidate_id IS NULL) <> (collection_id IS NULL)))""",
            "CREATE INDEX media_candidate ON media(candidate_id)",
            "CREATE INDEX media_collection ON media(collection_id)",
            "CREATE INDEX media_sha ON media(sha256)",
            """CREATE TABLE image_hashes (
                media_id INTEGER PRIMARY KEY REFERENCES media(id) ON DELETE CASCADE,
                phash INTEGER NOT NULL, dhash INTEGER NOT NULL,
                phash_trim INTEGER NOT NULL, dhash_trim INTEGER NOT NULL)""",
            """CREATE TABLE segments (
                media_id INTEGER NOT NULL REFERENCES media(id) ON DELETE CASCADE,
                seq INTEGER NOT NULL,
                value INTEGER NOT NULL,
                PRIMARY KEY (media_id, seq))""",
            """CREATE TABLE faces (
                id INTEGER PRIMARY KEY,
                candidate_id INTEGER REFERENCES candidates(id) ON DELETE CASCADE,
                collection_id INTEGER REFERENCES collections(id) ON DELETE CASCADE,
                media_id INTEGER REFERENCES media(id) ON DELETE CASCADE,
                source TEXT NOT NULL,
                box TEXT,
                embedding BLOB NOT NULL,
                face_hash INTEGER,
                added_at TEXT NOT NULL)""",
            "CREATE INDEX faces_media ON faces(media_id)",
            "CREATE INDEX faces_candidate ON faces(candidate_id)",
            """CREATE TABLE reports (
                id INTEGER PRIMARY KEY,
                candidate_id INTEGER NOT NULL REFERENCES candidates(id) ON DELETE CASCADE,
                created_at TEXT NOT NULL,
                score REAL,
                verdict TEXT,
                report TEXT NOT NULL)""",
            "CREATE INDEX reports_candidate ON reports(candidate_id, id)",
        ],
    ),
    (
        2,
        "ORB keypoints for geometric same-image verification; audit log",
        [
            """CREATE TABLE keypoints (
                media_id INTEGER PRIMARY KEY REFERENCES media(id) ON DELETE CASCADE,
                points BLOB NOT NULL,
                descriptors BLOB NOT NULL)""",
            """CREATE TABLE audit (
                id INTEGER PRIMARY KEY,
                at TEXT NOT NULL,
                user TEXT NOT NULL,
                action TEXT NOT NULL,
                subject TEXT,
                detail TEXT)""",
        ],
    ),
    (
        3,
        "library-wide policy values (retention); audit by subject",
        [
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            "CREATE INDEX audit_subject ON audit(subject)",
        ],
    ),
]
SCHEMA_VERSION = MIGRATIONS[-1][0]


class LibraryError(Exception):
    """The library file cannot be used (newer schema, damaged file, unknown candidate...)."""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _timestamp(iso: str) -> float:
    """Seconds since the epoch of a stored ISO-8601 time (naive times are UTC)."""
    try:
        t = datetime.fromisoformat(iso)
    except ValueError:
        return float("-inf")
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return t.timestamp()


def redact(value: Any, name: str, paths: Sequence[str]) -> Any:
    """``value`` (JSON data) with ``name`` and ``paths`` (and the paths' file names) replaced by
    :data:`ERASED_NAME` / :data:`ERASED_FILE`, in whole strings and inside sentences."""
    import re

    bases = sorted({Path(p).name for p in paths if Path(p).name}, key=len, reverse=True)
    name_re = re.compile(r"(?<!\w)" + re.escape(name) + r"(?!\w)") if name else None

    def clean(text: str) -> str:
        if text == name:
            return ERASED_NAME
        for p in paths:
            text = text.replace(p, ERASED_FILE)
        for b in bases:
            text = re.sub(r"(?<![\w.-])" + re.escape(b) + r"(?![\w.-])", ERASED_FILE, text)
        if name_re is not None:
            text = name_re.sub(ERASED_NAME, text)
        return text

    def walk(v: Any) -> Any:
        if isinstance(v, str):
            return clean(v)
        if isinstance(v, list):
            return [walk(x) for x in v]
        if isinstance(v, dict):
            return {clean(k) if isinstance(k, str) else k: x if str(k).endswith("_png") else walk(x)
                    for k, x in v.items()}  # evidence images (base64 PNG) stay intact
        return v

    return walk(value)


def default_path() -> Path:
    env = os.environ.get(ENV_LIBRARY)
    if env:
        return Path(env)
    from platformdirs import user_data_dir

    return Path(user_data_dir("telltale")) / LIBRARY_FILE


# --------------------------------------------------------------------------- rows


@dataclass(frozen=True)
class CandidateRow:
    id: int
    name: str
    created_at: str
    score: float | None
    verdict: str | None
    media_count: int


@dataclass(frozen=True)
class MediaRow:
    id: int
    candidate: str | None
    collection: str | None
    path: str
    role: str
    sha256: str
    size: int
    added_at: str
    width: int | None = None
    height: int | None = None
    faces: int = 0


@dataclass(frozen=True)
class CollectionRow:
    id: int
    name: str
    folder: str | None
    created_at: str
    media_count: int


@dataclass(frozen=True)
class Match:
    """One search result. ``kind``: "same-image" (the same photo re-published) or "same-face"
    (the same person in another photo or recording).

    ``distance``: for same-image the best perceptual-hash distance as a fraction of 64 bits
    (whole image or aligned face); for same-face the dlib embedding distance (< 0.6 = same
    person). ``detail`` says which method decided and its numbers.
    """

    candidate: str | None
    collection: str | None
    file: str
    kind: str
    distance: float
    detail: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "candidate": self.candidate,
            "collection": self.collection,
            "file": self.file,
            "kind": self.kind,
            "distance": round(float(self.distance), 4),
            "detail": dict(self.detail),
        }


Owner = "int | str | CandidateRow"


def file_sha256(path: str | Path) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
            size += len(block)
    return h.hexdigest(), size


# --------------------------------------------------------------------------- library


class Library:
    """The case store. Thread-safe (one connection behind a lock); use as a context manager."""

    def __init__(
        self,
        path: str | Path | None = None,
        retention_days: float | None = None,
        apply_retention: bool = True,
    ) -> None:
        """Open (or create) the library at ``path``.

        ``retention_days``: this session's retention (see :data:`RETENTION_DAYS`); None uses the
        value stored in the library (``telltale library retention --days N``), else the
        setting's default. ``apply_retention``: erase expired candidates now (the default).
        """
        self.path = Path(path) if path is not None else default_path()
        self._lock = threading.RLock()
        self._depth = 0
        self._index: hashing.HashIndex | None = None
        self._meta: dict[int, tuple[int | None, int | None, str, str, str]] = {}
        self._names: dict[int, str] = {}
        self._coll_names: dict[int, str] = {}
        self._face_owner: dict[int, tuple[int | None, int | None, int | None, str]] = {}
        self._by_sha: dict[str, list[int]] = {}
        self._whole_cid = np.zeros(0, dtype=np.int64)  # owner candidate per whole-hash row (-1: none)
        self._face_cid = np.zeros(0, dtype=np.int64)  # owner candidate per face row (-1: none)
        self._retention_override = validate(RETENTION_DAYS.key, retention_days) if retention_days is not None else None
        memory = str(self.path) == ":memory:"
        if not memory:
            privacy.make_private_dir(self.path.parent)
            privacy.create_private_file(self.path)
            for side in privacy.sqlite_files(self.path):
                privacy.tighten(side)
        try:
            self._db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA foreign_keys = ON")
            self._db.execute("PRAGMA secure_delete = ON")
            self._db.execute("PRAGMA temp_store = MEMORY")  # no temporary files in TMPDIR
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise LibraryError(f"{self.path}: not a Telltale library or damaged ({exc})") from exc
        if apply_retention:
            self.apply_retention()

    # -- lifecycle -----------------------------------------------------------------
    def close(self) -> None:
        with self._lock:
            self._db.close()
            self._index = None

    def __enter__(self) -> "Library":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self, upto: int | None = None) -> None:
        with self._lock:
            current = self.schema_version
            if current > SCHEMA_VERSION:
                raise LibraryError(
                    f"{self.path}: written by a newer Telltale (schema {current}, this one knows {SCHEMA_VERSION})"
                )
            for version, description, statements in MIGRATIONS:
                if version <= current or (upto is not None and version > upto):
                    continue
                with self.transaction():
                    if version == 1:
                        self._db.execute(
                            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                            "description TEXT NOT NULL, applied_at TEXT NOT NULL)"
                        )
                    for sql in statements:
                        self._db.execute(sql)
                    self._db.execute(
                        "INSERT INTO schema_migrations(version, description, applied_at) VALUES (?, ?, ?)",
                        (version, description, _now()),
                    )
                    self._db.execute(f"PRAGMA user_version = {int(version)}")
                log.info("%s: library schema upgraded to version %d (%s)", self.path, version, description)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One transaction (nested calls join the outer one). Rolls back on any exception."""
        with self._lock:
            outer = self._depth == 0
            if outer:
                self._db.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield self._db
            except BaseException:
                self._depth -= 1
                if outer:
                    self._db.execute("ROLLBACK")
                raise
            else:
                self._depth -= 1
                if outer:
                    self._db.execute("COMMIT")
            finally:
                self._index = None

    def _audit(self, action: str, subject: str | None = None, detail: Mapping[str, Any] | None = None) -> None:
        try:
            user = getpass.getuser()
        except Exception:  # noqa: BLE001 - no login name in some containers
            user = "unknown"
        self._db.execute(
            "INSERT INTO audit(at, user, action, subject, detail) VALUES (?, ?, ?, ?, ?)",
            (_now(), user, action, subject, json.dumps(dict(detail or {}))),
        )

    def audit(self, action: str, candidate_id: Any = None, detail: Mapping[str, Any] | None = None) -> None:
        """Record that the OS user running this process did ``action`` (e.g. "analysis",
        "export", "erase-candidate") now, on the candidate (a name, id or row; named in the log
        by id only) or on nothing. ``detail``: JSON-serialisable facts (paths, counts)."""
        with self._lock:
            subject = None
            if candidate_id is not None:
                subject = f"candidate#{self._candidate_id(candidate_id)}"
            with self.transaction():
                self._audit(action, subject, detail)

    def log_export(self, candidate: Any, path: str | Path, kind: str = "report") -> None:
        """Audit an export of the candidate's data (report PDF/JSON, watchlist...) to ``path``.
        The app and the CLI call this after writing the file."""
        self.audit("export", candidate, {"kind": kind, "path": str(Path(path).absolute())})

    def audit_log(self, limit: int = 100, candidate: Any = None) -> list[dict[str, Any]]:
        """The newest audit entries first: id, at (UTC ISO-8601), user, action, subject, detail."""
        with self._lock:
            if candidate is not None:
                rows = self._db.execute(
                    "SELECT id, at, user, action, subject, detail FROM audit WHERE subject = ? ORDER BY id DESC LIMIT ?",
                    (f"candidate#{self._candidate_id(candidate)}", limit),
                ).fetchall()
            else:
                rows = self._db.execute(
                    "SELECT id, at, user, action, subject, detail FROM audit ORDER BY id DESC LIMIT ?", (limit,)
                ).fetchall()
        return [{"id": i, "at": a, "user": u, "action": ac, "subject": s, "detail": json.loads(d or "{}")}
                for i, a, u, ac, s, d in rows]

    # -- policy values -------------------------------------------------------------
    def _get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    @property
    def retention_days(self) -> float:
        """Days a candidate is kept after their last activity (0 = forever): this session's
        value, else the library's stored policy, else the setting's default."""
        if self._retention_override is not None:
            return self._retention_override
        with self._lock:
            stored = self._get_meta(RETENTION_DAYS.key)
        return float(stored) if stored is not None else RETENTION_DAYS.default

    def set_retention_days(self, days: float) -> None:
        """Store the library's retention policy (validated against the setting's range)."""
        value = validate(RETENTION_DAYS.key, days)
        with self._lock, self.transaction():
            self._db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (RETENTION_DAYS.key, repr(value)))
            self._audit("set-retention", None, {"days": value})

    def last_activity(self) -> dict[int, str]:
        """Per candidate id: the latest of created, file added, faces stored, report saved."""
        with self._lock:
            rows = self._db.execute(
                """SELECT c.id, MAX(c.created_at,
                          COALESCE((SELECT MAX(added_at) FROM media m WHERE m.candidate_id = c.id), ''),
                          COALESCE((SELECT MAX(added_at) FROM faces f WHERE f.candidate_id = c.id), ''),
                          COALESCE((SELECT MAX(created_at) FROM reports r WHERE r.candidate_id = c.id), ''))
                   FROM candidates c"""
            ).fetchall()
        return {int(cid): str(at) for cid, at in rows}

    def expired_candidates(self, now: datetime | None = None) -> list[int]:
        """Ids of candidates whose last activity is older than the retention (none when 0)."""
        days = self.retention_days
        if days <= 0:
            return []
        now = now or datetime.now(timezone.utc)
        if now.tzinfo is None:
            now = now.replace(tzinfo=timezone.utc)
        cutoff = now.timestamp() - days * SECONDS_PER_DAY
        return sorted(cid for cid, at in self.last_activity().items() if _timestamp(at) < cutoff)

    def apply_retention(self, now: datetime | None = None) -> list[int]:
        """Erase every expired candidate the same way as :meth:`erase_candidate`; one log line
        per candidate (by id). Returns the erased candidate ids."""
        erased = []
        for cid in self.expired_candidates(now):
            try:
                self.erase_candidate(cid, reason="retention")  # logs the one line for this candidate
            except LibraryError:
                continue  # erased meanwhile by another connection
            erased.append(cid)
        return erased

    # -- candidates ----------------------------------------------------------------
    def add_candidate(self, name: str) -> int:
        """The candidate's id, creating the candidate if needed."""
        name = name.strip()
        if not name:
            raise ValueError("candidate name is empty")
        with self._lock:
            row = self._db.execute("SELECT id FROM candidates WHERE name = ?", (name,)).fetchone()
            if row:
                return int(row[0])
            with self.transaction():
                cur = self._db.execute("INSERT INTO candidates(name, created_at) VALUES (?, ?)", (name, _now()))
                # the audit log names candidates by id only: erasing a candidate leaves no name behind
                self._audit("add-candidate", f"candidate#{cur.lastrowid}")
                return int(cur.lastrowid)

    _CANDIDATE_SQL = """
        SELECT c.id, c.name, c.created_at,
               (SELECT score FROM reports r WHERE r.candidate_id = c.id ORDER BY r.id DESC LIMIT 1),
               (SELECT verdict FROM reports r WHERE r.candidate_id = c.id ORDER BY r.id DESC LIMIT 1),
               (SELECT COUNT(*) FROM media m WHERE m.candidate_id = c.id)
        FROM candidates c"""

    def candidates(self, search: str = "") -> list[CandidateRow]:
        """Every candidate whose name contains ``search`` (case-insensitive), by name."""
        pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        with self._lock:
            rows = self._db.execute(
                self._CANDIDATE_SQL + " WHERE c.name LIKE ? ESCAPE '\\' ORDER BY c.name COLLATE NOCASE", (pattern,)
            ).fetchall()
        return [CandidateRow(*r) for r in rows]

    def get_candidate(self, name_or_id: int | str) -> CandidateRow | None:
        with self._lock:
            if isinstance(name_or_id, int):
                row = self._db.execute(self._CANDIDATE_SQL + " WHERE c.id = ?", (name_or_id,)).fetchone()
            else:
                row = self._db.execute(self._CANDIDATE_SQL + " WHERE c.name = ?", (str(name_or_id).strip(),)).fetchone()
        return CandidateRow(*row) if row else None

    def _candidate_id(self, candidate: Any, create: bool = False) -> int:
        if isinstance(candidate, CandidateRow):
            return candidate.id
        if isinstance(candidate, (int, np.integer)):
            if self._db.execute("SELECT 1 FROM candidates WHERE id = ?", (int(candidate),)).fetchone() is None:
                raise LibraryError(f"no candidate with id {candidate}")
            return int(candidate)
        if create:
            return self.add_candidate(str(candidate))
        row = self.get_candidate(str(candidate))
        if row is None:
            raise LibraryError(f"no candidate named {candidate!r}")
        return row.id

    def erase_candidate(self, candidate: Any, reason: str = "request", vacuum: bool = False) -> int:
        """Erase the candidate and everything derived from their media. Returns the number of
        media rows removed.

        Gone: the candidate row, every media row (photos, ID photos, recordings), their hashes,
        crop segments, ORB keypoints and face embeddings, every report (with the face crops
        inside), and the in-memory search index and face cache entries. Other candidates'
        reports that named this candidate (a reuse match) keep the finding but their name
        and file paths become :data:`ERASED_NAME` / :data:`ERASED_FILE`; audit entries about
        the candidate keep who/what/when but lose paths. Freed pages are zeroed
        (``secure_delete``), a WAL is checkpointed and truncated; ``vacuum`` also rebuilds the
        file. ``reason``: "request" or "retention" (audited).
        """
        with self._lock:
            cid = self._candidate_id(candidate)
            name = self._db.execute("SELECT name FROM candidates WHERE id = ?", (cid,)).fetchone()[0]
            media = self._db.execute("SELECT path, sha256 FROM media WHERE candidate_id = ?", (cid,)).fetchall()
            paths = sorted({str(p) for p, _sha in media if p}, key=len, reverse=True)
            with self.transaction():
                counts = {
                    table: int(self._db.execute(f"SELECT COUNT(*) FROM {table} WHERE candidate_id = ?", (cid,)).fetchone()[0])
                    for table in ("media", "faces", "reports")
                }
                self._db.execute("DELETE FROM candidates WHERE id = ?", (cid,))
                redacted = self._redact_others(name, paths)
                for aid, detail in self._db.execute(
                    "SELECT id, detail FROM audit WHERE subject = ?", (f"candidate#{cid}",)
                ).fetchall():
                    old = json.loads(detail or "{}")
                    new = {k: ERASED_FILE if k in AUDIT_PATH_KEYS else v for k, v in old.items()}
                    if new != old:
                        self._db.execute("UPDATE audit SET detail = ? WHERE id = ?", (json.dumps(new), aid))
                self._audit("erase-candidate", f"candidate#{cid}", {**counts, "reason": reason, "reports_redacted": redacted})
            for _path, sha in media:
                forget_image_faces(sha)
            self._scrub(vacuum)
            why = f"retention of {self.retention_days:g} days" if reason == "retention" else reason
            log.info("erased candidate #%d (%d file(s), %d face(s), %d report(s); %s)",
                     cid, counts["media"], counts["faces"], counts["reports"], why)
            return counts["media"]

    def _redact_others(self, name: str, paths: Sequence[str]) -> int:
        """Replace an erased candidate's name and file paths inside the other stored reports."""
        needles = {name, *paths}
        needles |= {json.dumps(n)[1:-1] for n in list(needles)}  # as json.dumps stores them
        clauses = " OR ".join("instr(report, ?) > 0" for _ in needles)
        rows = self._db.execute(f"SELECT id, report FROM reports WHERE {clauses}", tuple(needles)).fetchall()
        for rid, text in rows:
            cleaned = redact(json.loads(text), name, paths)
            self._db.execute("UPDATE reports SET report = ? WHERE id = ?", (json.dumps(cleaned), rid))
        return len(rows)

    def _scrub(self, vacuum: bool = False) -> None:
        """After an erasure: no old copy of the pages left in a WAL; optionally rebuild the file."""
        mode = str(self._db.execute("PRAGMA journal_mode").fetchone()[0]).lower()
        if mode == "wal":
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        if vacuum:
            self._db.execute("VACUUM")  # temp_store = MEMORY: the copy is made in memory, not in TMPDIR
            if mode == "wal":
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def erase_collection(self, name: str) -> int:
        """Erase a reference collection (e.g. an imported watchlist) and all its hashes and
        faces. Returns the number of media rows removed."""
        with self._lock:
            row = self._db.execute("SELECT id FROM collections WHERE name = ?", (name.strip(),)).fetchone()
            if row is None:
                raise LibraryError(f"no collection named {name!r}")
            with self.transaction():
                n = int(self._db.execute("SELECT COUNT(*) FROM media WHERE collection_id = ?", (row[0],)).fetchone()[0])
                self._db.execute("DELETE FROM collections WHERE id = ?", (row[0],))
                self._audit("erase-collection", name.strip(), {"media": n})
            self._scrub()
            return n

    # -- watchlists ------------------------------------------------------------------
    def export_watchlist(
        self,
        out: str | Path,
        candidates: Sequence[Any] = (),
        collection: str | None = None,
        label: str = "",
        note: str = "",
    ) -> Any:
        """Write the face embeddings and perceptual hashes of ``candidates`` (names, ids or rows)
        or of one ``collection`` to ``out`` as a watchlist (docs/watchlist-format.md): no
        photos, no paths or file names, no candidate names; each candidate is a numbered
        persona. The file is written owner-only and the export is audited per candidate.
        Returns the :class:`detectors.watchlist.Watchlist`."""
        from . import watchlist as wl

        if not label.strip():
            raise ValueError("a watchlist needs a label")
        if bool(list(candidates)) == (collection is not None):
            raise ValueError("give candidates or a collection, not both or neither")
        with self._lock:
            if collection is not None:
                row = self._db.execute("SELECT id FROM collections WHERE name = ?", (collection.strip(),)).fetchone()
                if row is None:
                    raise LibraryError(f"no collection named {collection!r}")
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

    def _watch_entries(self, column: str, owner: int, persona: int) -> list[Any]:
        from . import watchlist as wl

        assert column in ("candidate_id", "collection_id")
        db = self._db
        out = []
        media = db.execute(f"SELECT id, role, width, height, sha256 FROM media WHERE {column} = ? ORDER BY id", (owner,)).fetchall()
        for mid, role, w, h, sha in media:
            frows = db.execute("SELECT embedding, face_hash FROM faces WHERE media_id = ? ORDER BY id", (mid,)).fetchall()
            faces = wl.faces_of([f[0] for f in frows], [f[1] for f in frows])
            hrow = db.execute(
                "SELECT phash, dhash, phash_trim, dhash_trim FROM image_hashes WHERE media_id = ?", (mid,)
            ).fetchone()
            if hrow is not None and role in ("id", "photo"):
                segs = [v for (v,) in db.execute("SELECT value FROM segments WHERE media_id = ? ORDER BY seq", (mid,))]
                out.append(wl.WatchEntry(
                    "photo", role, persona, faces,
                    {k: hashing.to_unsigned(int(v)) for k, v in zip(hashing.WHOLE_HASH_KINDS, hrow)},
                    tuple(hashing.to_unsigned(int(v)) for v in segs), w, h, sha or None,
                ))
            elif faces:
                out.append(wl.WatchEntry("interview", "video", persona, faces))
        loose = db.execute(
            f"SELECT embedding, face_hash FROM faces WHERE {column} = ? AND media_id IS NULL ORDER BY id", (owner,)
        ).fetchall()
        faces = wl.faces_of([f[0] for f in loose], [f[1] for f in loose])
        if faces:
            out.append(wl.WatchEntry("interview", "video", persona, faces))
        return out

    def import_watchlist(self, source: Any, name: str | None = None, replace: bool = False) -> tuple[str, int]:
        """Store a watchlist (a path or a Watchlist) as a reference collection named ``name``
        (default "watchlist: LABEL"); searches and the reuse check then find its faces and
        photos. An existing collection of that name is an error unless ``replace``. Returns
        (collection name, entries stored). All or nothing: one transaction."""
        from . import watchlist as wl

        watch = source if isinstance(source, wl.Watchlist) else wl.Watchlist.read(source)
        coll_name = (name or f"watchlist: {watch.label}").strip()
        with self._lock:
            if self._db.execute("SELECT 1 FROM collections WHERE name = ?", (coll_name,)).fetchone():
                if not replace:
                    raise LibraryError(f"a collection named {coll_name!r} already exists (choose another name or replace it)")
                self.erase_collection(coll_name)
            now = _now()
            with self.transaction() as db:
                coll = self.add_collection(coll_name, f"watchlist {watch.label!r} of {watch.created_at}")
                for i, entry in enumerate(watch.entries):
                    label = wl.entry_label(watch.label, i, entry)
                    if entry.kind == "photo":
                        self.add_encoded(None, label, entry.role, entry.encoded(), sha256=entry.sha256 or "", collection=coll)
                        continue
                    cur = db.execute(
                        "INSERT INTO media(collection_id, path, role, sha256, size, added_at) VALUES (?, ?, 'video', '', 0, ?)",
                        (coll, label, now),
                    )
                    db.executemany(
                        "INSERT INTO faces(collection_id, media_id, source, embedding, face_hash, added_at) "
                        "VALUES (?, ?, 'interview', ?, ?, ?)",
                        [(coll, cur.lastrowid, np.asarray(f.embedding, np.float32).tobytes(),
                          hashing.to_signed(f.face_hash) if f.face_hash is not None else None, now) for f in entry.faces],
                    )
                detail = {"label": watch.label, "created_at": watch.created_at, "entries": len(watch.entries),
                          "version": watch.version}
                if not isinstance(source, wl.Watchlist):
                    detail["file"] = str(Path(source).absolute())
                self._audit("import-watchlist", coll_name, detail)
        log.info("watchlist %r imported as %r: %d entries", watch.label, coll_name, len(watch.entries))
        return coll_name, len(watch.entries)

    # -- collections -----------------------------------------------------------------
    def add_collection(self, name: str, folder: str | Path | None = None) -> int:
        name = name.strip()
        if not name:
            raise ValueError("collection name is empty")
        with self._lock:
            row = self._db.execute("SELECT id FROM collections WHERE name = ?", (name,)).fetchone()
            if row:
                return int(row[0])
            with self.transaction():
                cur = self._db.execute(
                    "INSERT INTO collections(name, folder, created_at) VALUES (?, ?, ?)",
                    (name, str(folder) if folder else None, _now()),
                )
                return int(cur.lastrowid)

    def collections(self) -> list[CollectionRow]:
        with self._lock:
            rows = self._db.execute(
                "SELECT c.id, c.name, c.folder, c.created_at, "
                "(SELECT COUNT(*) FROM media m WHERE m.collection_id = c.id) FROM collections c ORDER BY c.name"
            ).fetchall()
        return [CollectionRow(*r) for r in rows]

    def import_collection(
        self,
        name: str,
        folder: str | Path,
        progress: Callable[[float, str], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> int:
        """Add every image under ``folder`` (recursively) to the named collection.

        Each file is committed on its own: a cancel, a crash or an exception keeps the files
        already done. Files already in the collection (same SHA-256) are skipped; unreadable
        files are logged and skipped. Returns the number of files added.
        """
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
                    dup = self._db.execute(
                        "SELECT 1 FROM media WHERE collection_id = ? AND sha256 = ?", (coll, sha)
                    ).fetchone()
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
        """Add a file to a candidate (created if needed). Images get their hashes, faces and
        keypoints computed and stored. The same file (SHA-256) added twice with the same role
        returns the existing row. ``image``: an already loaded LoadedImage of ``path``."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, not {role!r}")
        p = Path(path).absolute()
        with self._lock:
            cid = self._candidate_id(candidate, create=True)
        if role == "video":
            if not p.is_file():
                raise MediaError(p, "file not found")
            sha, size = file_sha256(p)
            with self._lock:
                existing = self._find_media(cid, sha, role)
                if existing is not None:
                    return existing
                with self.transaction():
                    cur = self._db.execute(
                        "INSERT INTO media(candidate_id, path, role, sha256, size, added_at) VALUES (?, ?, ?, ?, ?, ?)",
                        (cid, str(p), role, sha, size, _now()),
                    )
                    mid = int(cur.lastrowid)
                    self._audit("add-media", f"media#{mid}", {"role": role})
            return self.get_media(mid)
        return self._add_image(cid, None, p, role, image)

    def _find_media(self, cid: int, sha: str, role: str) -> MediaRow | None:
        row = self._db.execute(
            "SELECT id FROM media WHERE candidate_id = ? AND sha256 = ? AND role = ?", (cid, sha, role)
        ).fetchone()
        return self.get_media(int(row[0])) if row else None

    def _add_image(self, cid: int | None, coll: int | None, p: Path, role: str, image: Any = None) -> MediaRow:
        from .media import load_image

        img = image if image is not None else load_image(p, role)
        if cid is not None:
            with self._lock:
                existing = self._find_media(cid, img.sha256, role)
            if existing is not None:
                return existing
        enc = hashing.encode_image(img.rgb, faces_in_image(img), sha256=img.sha256)
        return self.add_encoded(
            cid, str(p), role, enc, sha256=img.sha256, size=img.file_size, collection=coll
        )

    def add_encoded(
        self,
        candidate: Any,
        path: str,
        role: str,
        enc: hashing.Encoded,
        *,
        sha256: str = "",
        size: int = 0,
        collection: int | str | None = None,
    ) -> MediaRow:
        """Store an already encoded photo (the bulk path: wrap many calls in :meth:`transaction`).

        Exactly one of ``candidate`` and ``collection`` (id or name) is given.
        """
        with self._lock:
            cid = self._candidate_id(candidate, create=True) if candidate is not None else None
            coll = None
            if collection is not None:
                coll = collection if isinstance(collection, int) else self.add_collection(str(collection))
            if (cid is None) == (coll is None):
                raise ValueError("give a candidate or a collection, not both or neither")
            now = _now()
            with self.transaction() as db:
                cur = db.execute(
                    "INSERT INTO media(candidate_id, collection_id, path, role, sha256, size, width, height, added_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (cid, coll, path, role, sha256 or enc.sha256 or "", size, enc.width, enc.height, now),
                )
                mid = int(cur.lastrowid)
                h = enc.hashes
                db.execute(
                    "INSERT INTO image_hashes(media_id, phash, dhash, phash_trim, dhash_trim) VALUES (?, ?, ?, ?, ?)",
                    (mid, *(hashing.to_signed(h[k]) for k in hashing.WHOLE_HASH_KINDS)),
                )
                db.executemany(
                    "INSERT INTO segments(media_id, seq, value) VALUES (?, ?, ?)",
                    [(mid, i, hashing.to_signed(v)) for i, v in enumerate(enc.segments)],
                )
                db.executemany(
                    "INSERT INTO faces(candidate_id, collection_id, media_id, source, box, embedding, face_hash, added_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (cid, coll, mid, role, json.dumps(list(f.box)), np.asarray(f.embedding, np.float32).tobytes(),
                         hashing.to_signed(f.face_hash) if f.face_hash is not None else None, now)
                        for f in enc.faces
                    ],
                )
                if enc.keypoints is not None:
                    db.execute(
                        "INSERT INTO keypoints(media_id, points, descriptors) VALUES (?, ?, ?)",
                        (mid, *enc.keypoints.to_blobs()),
                    )
                if self._depth == 1:  # not inside a caller's bulk transaction
                    self._audit("add-media", f"media#{mid}", {"role": role, "faces": len(enc.faces)})
            return MediaRow(mid, self._name_of(cid), self._coll_name_of(coll), path, role, sha256, size, now,
                            enc.width, enc.height, len(enc.faces))

    def _name_of(self, cid: int | None) -> str | None:
        if cid is None:
            return None
        row = self._db.execute("SELECT name FROM candidates WHERE id = ?", (cid,)).fetchone()
        return row[0] if row else None

    def _coll_name_of(self, coll: int | None) -> str | None:
        if coll is None:
            return None
        row = self._db.execute("SELECT name FROM collections WHERE id = ?", (coll,)).fetchone()
        return row[0] if row else None

    _MEDIA_SQL = """
        SELECT m.id, c.name, k.name, m.path, m.role, m.sha256, m.size, m.added_at, m.width, m.height,
               (SELECT COUNT(*) FROM faces f WHERE f.media_id = m.id)
        FROM media m LEFT JOIN candidates c ON c.id = m.candidate_id
                     LEFT JOIN collections k ON k.id = m.collection_id"""

    def get_media(self, media_id: int) -> MediaRow:
        with self._lock:
            row = self._db.execute(self._MEDIA_SQL + " WHERE m.id = ?", (int(media_id),)).fetchone()
        if row is None:
            raise LibraryError(f"no media with id {media_id}")
        return MediaRow(*row)

    def media(self, candidate: Any) -> list[MediaRow]:
        with self._lock:
            cid = self._candidate_id(candidate)
            rows = self._db.execute(self._MEDIA_SQL + " WHERE m.candidate_id = ? ORDER BY m.id", (cid,)).fetchall()
        return [MediaRow(*r) for r in rows]

    def remove_media(self, media_id: int | MediaRow) -> None:
        mid = media_id.id if isinstance(media_id, MediaRow) else int(media_id)
        with self._lock, self.transaction():
            self._db.execute("DELETE FROM media WHERE id = ?", (mid,))
            self._audit("remove-media", f"media#{mid}")

    def add_face_embeddings(
        self, candidate: Any, media: MediaRow | int | str | Path | None, embeddings: Sequence[np.ndarray] | np.ndarray,
        source: str = "interview",
    ) -> int:
        """Store face embeddings seen in a recording (e.g. the interview's main identity) so a
        face seen under one candidate's name is found under another. ``media``: the recording's
        MediaRow, its id, its path (added as a video if new), or None. Returns rows added."""
        with self._lock:
            cid = self._candidate_id(candidate, create=True)
            if isinstance(media, MediaRow):
                mid: int | None = media.id
            elif isinstance(media, (int, np.integer)):
                mid = int(media)
            elif media is not None:
                mid = self.add_media(cid, media, "video").id
            else:
                mid = None
            embs = np.asarray(embeddings, dtype=np.float32).reshape(-1, 128)
            now = _now()
            with self.transaction() as db:
                db.executemany(
                    "INSERT INTO faces(candidate_id, media_id, source, embedding, added_at) VALUES (?, ?, ?, ?, ?)",
                    [(cid, mid, source, e.tobytes(), now) for e in embs if np.all(np.isfinite(e))],
                )
                self._audit("add-face-embeddings", f"candidate#{cid}", {"count": int(embs.shape[0]), "source": source})
            return int(embs.shape[0])

    def record_candidate(self, name: str, images: Sequence[Any] = (), recordings: Sequence[Any] = ()) -> list[MediaRow]:
        """Store what an analysis saw, so later candidates are searched against it: every photo
        (LoadedImage; its role "id"/"photo") and every recording's main face identity
        (RecordingContext-like: ``.path`` and ``.track.main_identity``). Re-analysing the same
        files replaces the recording's stored identity instead of piling up copies."""
        rows = []
        for img in images:
            role = img.role if img.role in ("id", "photo") else "photo"
            rows.append(self.add_media(name, img.path, role, image=img))
        for rec in recordings:
            track = getattr(rec, "track", None)
            if track is None or getattr(track, "main_identity", None) is None:
                continue
            row = self.add_media(name, rec.path, "video")
            with self._lock, self.transaction():
                self._db.execute("DELETE FROM faces WHERE media_id = ? AND source = 'interview'", (row.id,))
                self.add_face_embeddings(name, row, [track.main_identity])
            rows.append(self.get_media(row.id))
        return rows

    # -- reports -------------------------------------------------------------------
    def save_report(self, candidate: Any, report_dict: Mapping[str, Any]) -> None:
        """Store a JSON report (history is kept; the latest is the candidate's score) and audit
        it as an "analysis" by the current OS user."""
        from .base import jsonable

        with self._lock:
            cid = self._candidate_id(candidate, create=True)
            score = report_dict.get("score")
            with self.transaction():
                self._db.execute(
                    "INSERT INTO reports(candidate_id, created_at, score, verdict, report) VALUES (?, ?, ?, ?, ?)",
                    (cid, _now(), float(score) if score is not None else None, report_dict.get("verdict"),
                     json.dumps(jsonable(report_dict))),
                )
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
            row = self._db.execute(
                "SELECT report FROM reports WHERE candidate_id = ? ORDER BY id DESC LIMIT 1", (cid,)
            ).fetchone()
        return json.loads(row[0]) if row else None

    def reports(self, candidate: Any) -> list[tuple[str, dict[str, Any]]]:
        """Every stored report of the candidate, oldest first, as (created_at, report)."""
        with self._lock:
            cid = self._candidate_id(candidate)
            rows = self._db.execute(
                "SELECT created_at, report FROM reports WHERE candidate_id = ? ORDER BY id", (cid,)
            ).fetchall()
        return [(t, json.loads(r)) for t, r in rows]

    # -- search --------------------------------------------------------------------
    def _build_index(self) -> hashing.HashIndex:
        db = self._db
        meta = {}
        for mid, cid, coll, path, role, sha in db.execute(
            "SELECT id, candidate_id, collection_id, path, role, sha256 FROM media"
        ):
            meta[int(mid)] = (cid, coll, path, role, sha)
        self._meta = meta
        self._by_sha = {}
        for mid, m in meta.items():
            self._by_sha.setdefault(m[4], []).append(mid)
        self._names = dict(db.execute("SELECT id, name FROM candidates").fetchall())
        self._coll_names = dict(db.execute("SELECT id, name FROM collections").fetchall())
        wh = db.execute("SELECT media_id, phash, dhash, phash_trim, dhash_trim FROM image_hashes ORDER BY media_id").fetchall()
        wa = np.array(wh, dtype=np.int64).reshape(-1, 5)
        self._whole_cid = np.array([meta[int(m)][0] or -1 for m in wa[:, 0]], dtype=np.int64)
        sg = np.array(db.execute("SELECT media_id, value FROM segments").fetchall(), dtype=np.int64).reshape(-1, 2)
        fr = db.execute("SELECT id, media_id, candidate_id, collection_id, source, embedding, face_hash FROM faces").fetchall()
        self._face_owner = {int(r[0]): (r[1], r[2], r[3], r[4]) for r in fr}
        self._face_cid = np.array([r[2] if r[2] is not None else -1 for r in fr], dtype=np.int64)
        emb = np.frombuffer(b"".join(r[5] for r in fr), dtype=np.float32).reshape(-1, 128) if fr else np.zeros((0, 128), np.float32)
        fh = np.array([r[6] if r[6] is not None else 0 for r in fr], dtype=np.int64)
        return hashing.HashIndex(
            whole_ids=wa[:, 0],
            whole=wa[:, 1:].view(np.uint64),
            seg_ids=sg[:, 0],
            segs=sg[:, 1].view(np.uint64),
            face_ids=np.array([r[0] for r in fr], dtype=np.int64),
            face_media=np.array([r[1] if r[1] is not None else -1 for r in fr], dtype=np.int64),
            embeddings=emb,
            face_hash=fh.view(np.uint64),
            face_hash_ok=np.array([r[6] is not None for r in fr], dtype=bool),
        )

    def index(self) -> hashing.HashIndex:
        """The in-memory search index (built now if a write dropped it)."""
        with self._lock:
            if self._index is None:
                self._index = self._build_index()
            return self._index

    def _keypoints(self, media_id: int) -> hashing.Keypoints | None:
        row = self._db.execute("SELECT points, descriptors FROM keypoints WHERE media_id = ?", (media_id,)).fetchone()
        return hashing.Keypoints.from_blobs(*row) if row else None

    def encode(self, image: Any) -> hashing.Encoded:
        """Encode a query photo (path, LoadedImage or RGB array) with its mirrored variants."""
        from .media import LoadedImage, load_image

        if isinstance(image, (str, Path)):
            image = load_image(image)
        if isinstance(image, LoadedImage):
            return hashing.encode_image(image.rgb, faces_in_image(image), mirrored=True, sha256=image.sha256)
        return hashing.encode_image(np.asarray(image), mirrored=True)

    def search(self, image: Any, exclude_candidate: Any = None, limit: int = 10) -> list[Match]:
        """Where has this photo, or the face in it, been seen before? Best first:
        same-image matches (by distance), then same-face matches (by embedding distance)."""
        return self.search_encoded(self.encode(image), exclude_candidate, limit)

    def _excluded_candidate_id(self, exclude_candidate: Any) -> int | None:
        if exclude_candidate is None:
            return None
        try:
            return self._candidate_id(exclude_candidate)
        except LibraryError:
            return None

    def search_encoded(self, enc: hashing.Encoded, exclude_candidate: Any = None, limit: int = 10) -> list[Match]:
        with self._lock:
            idx = self.index()
            ex_cid = self._excluded_candidate_id(exclude_candidate)
            exclude = None
            if ex_cid is not None and idx.size:
                exclude = self._whole_cid == ex_cid
            hits, face_best = idx.query(enc, exclude)
            best: dict[int, Match] = {}  # per media id (or -face id for faces without media)
            if enc.sha256:
                for mid in self._by_sha.get(enc.sha256, []):
                    cid, _coll, _path, role, _sha = self._meta[mid]
                    if ex_cid is None or cid != ex_cid:
                        best[mid] = self._match(mid, "same-image", 0.0, {"method": "sha256", "role": role})
            for h in hits:
                if h.media_id in best:
                    continue
                bits = min(h.whole_bits, h.face_bits)
                detail: dict[str, Any] = {
                    "hash_bits": h.whole_bits, "hash_kind": h.whole_kind, "dhash_bits": h.dhash_bits,
                    "face_hash_bits": h.face_bits if h.face_bits <= hashing.HASH_BITS else None,
                    "crop_segments": h.crop_segments,
                    "face_distance": round(h.face_distance, 4) if np.isfinite(h.face_distance) else None,
                    "mirrored": h.mirrored, "role": self._meta[h.media_id][3],
                }
                if h.strict_same_image:
                    detail["method"] = "whole-image hash" if h.whole_kind == "phash" else "border-trimmed hash"
                elif h.face_hash_same_image:
                    detail["method"] = "aligned-face hash"
                else:
                    geo = hashing.geometric_match(enc, self._keypoints(h.media_id))
                    detail["inliers"] = geo.inliers
                    if not geo.same_image:
                        continue
                    detail["method"] = "keypoints"
                    detail["mirrored"] = geo.mirrored
                best[h.media_id] = self._match(h.media_id, "same-image", bits / hashing.HASH_BITS, detail)
            # Faces nearest first: once ``limit`` same-face matches are in, every later one ranks
            # below them (same-image matches rank first), so the rest cannot reach the output.
            same_face = 0
            for fid, d in sorted(face_best.items(), key=lambda kv: kv[1]):
                if d >= hashing.SAME_PERSON_DISTANCE or same_face >= limit:
                    break
                mid, cid, coll, source = self._face_owner[fid]
                if ex_cid is not None and cid == ex_cid:
                    continue
                key = int(mid) if mid is not None else -fid
                if key in best:
                    continue
                detail = {"method": "face embedding", "source": source}
                if mid is not None:
                    best[key] = self._match(int(mid), "same-face", d, detail)
                else:
                    best[key] = Match(self._names.get(cid), self._coll_names.get(coll), "", "same-face", d, detail)
                same_face += 1
            out = sorted(best.values(), key=lambda m: (m.kind != "same-image", m.distance))
            return out[:limit]

    def search_embedding(self, embedding: np.ndarray, exclude_candidate: Any = None, limit: int = 10) -> list[Match]:
        """Same-face matches of one face embedding (e.g. an interview's main identity)."""
        enc = hashing.Encoded(0, 0, {}, (), (hashing.FaceCode((0, 0, 0, 0), np.asarray(embedding, np.float32), None),))
        with self._lock:
            idx = self.index()
            ex_cid = self._excluded_candidate_id(exclude_candidate)
            out: dict[int, Match] = {}
            rows, dists = idx.embedding_neighbours(enc.faces[0].embedding, hashing.SAME_PERSON_DISTANCE)
            if ex_cid is not None:  # one comparison over the hits, not a Python skip per own face
                keep = self._face_cid[rows] != ex_cid
                rows, dists = rows[keep], dists[keep]
            order = np.argsort(dists, kind="stable")  # nearest first; ties in row order
            for i, dist in zip(rows[order].tolist(), dists[order].tolist()):
                fid = int(idx.face_ids[i])
                mid, cid, coll, source = self._face_owner[fid]
                key = int(mid) if mid is not None else -fid
                if key in out:
                    continue
                detail = {"method": "face embedding", "source": source}
                out[key] = (self._match(int(mid), "same-face", dist, detail) if mid is not None
                            else Match(self._names.get(cid), self._coll_names.get(coll), "", "same-face", dist, detail))
                if len(out) >= limit:
                    break
            return list(out.values())

    def _match(self, mid: int, kind: str, distance: float, detail: dict[str, Any]) -> Match:
        cid, coll, path, role, _sha = self._meta[mid]
        detail = {"media_id": mid, **detail}
        return Match(self._names.get(cid), self._coll_names.get(coll), path, kind, float(distance), detail)

    # -- stale results (issue 16): a saved report that no longer matches the library -------------
    # Kept in ``meta`` as "stale:<candidate id>" -> JSON list of {"kind", "other", "detail"}; other
    # candidates are stored by id and named when read, so an erased candidate's name never lingers.
    _STALE_PREFIX = "stale:"

    def mark_stale(self, candidate: Any, kind: str, other: Any = None, detail: str = "") -> None:
        """Say that ``candidate``'s latest report is out of date. ``kind``: "reuse" (``other``, a
        candidate analysed later, shares their face or photo), "removed" or "added" (a file,
        named in ``detail``). A new report clears the marks (:meth:`clear_stale`)."""
        with self._lock:
            cid = self._candidate_id(candidate)
            if self._db.execute("SELECT 1 FROM reports WHERE candidate_id = ?", (cid,)).fetchone() is None:
                return  # nothing saved yet: nothing can be out of date
            other_id = self._candidate_id(other) if other is not None else None
            key = f"{self._STALE_PREFIX}{cid}"
            marks = json.loads(self._get_meta(key) or "[]")
            mark = {"kind": kind, "other": other_id, "detail": str(detail)}
            if mark in marks:
                return
            marks.append(mark)
            with self.transaction():
                self._db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, json.dumps(marks)))

    def stale_reasons(self, candidate: Any) -> list[str]:
        """Why the candidate's latest report is out of date, in plain words (empty: it is current)."""
        with self._lock:
            try:
                cid = self._candidate_id(candidate)
            except LibraryError:
                return []
            marks = json.loads(self._get_meta(f"{self._STALE_PREFIX}{cid}") or "[]")
            out = []
            for m in marks:
                if m.get("kind") == "reuse":
                    row = self._db.execute("SELECT name FROM candidates WHERE id = ?", (m.get("other"),)).fetchone()
                    who = f"“{row[0]}”" if row else "a candidate (since erased)"
                    out.append(f"{who}, analysed later, shares this candidate's {m.get('detail') or 'face or photo'}.")
                elif m.get("kind") == "removed":
                    out.append(f"The file “{m.get('detail')}” was removed after the analysis.")
                elif m.get("kind") == "added":
                    out.append(f"The file “{m.get('detail')}” was added after the analysis.")
                else:
                    out.append(str(m.get("detail") or "The library changed after the analysis."))
            return out

    def clear_stale(self, candidate: Any) -> None:
        """Forget the out-of-date marks (the candidate was analysed again)."""
        with self._lock:
            cid = self._candidate_id(candidate)
            with self.transaction():
                self._db.execute("DELETE FROM meta WHERE key = ?", (f"{self._STALE_PREFIX}{cid}",))

    def stale_candidates(self) -> set[int]:
        """Ids of the candidates whose latest report is out of date."""
        with self._lock:
            rows = self._db.execute("SELECT key FROM meta WHERE key LIKE ?", (self._STALE_PREFIX + "%",)).fetchall()
        return {int(k[len(self._STALE_PREFIX):]) for (k,) in rows if k[len(self._STALE_PREFIX):].isdigit()}

    def rename_candidate(self, candidate: Any, new_name: str) -> None:
        """Give a candidate another name (refused when another candidate has it)."""
        name = new_name.strip()
        if not name:
            raise ValueError("candidate name is empty")
        with self._lock:
            cid = self._candidate_id(candidate)
            row = self._db.execute("SELECT id FROM candidates WHERE name = ?", (name,)).fetchone()
            if row is not None and int(row[0]) != cid:
                raise LibraryError(f"another candidate is already called {name!r}")
            with self.transaction():
                self._db.execute("UPDATE candidates SET name = ? WHERE id = ?", (name, cid))
                self._audit("rename-candidate", f"candidate#{cid}")
            self._index = None  # the search index caches candidate names
