"""The case store's SQLite back end (the embedded default of :mod:`detectors.store`): candidates,
their media, perceptual hashes, face embeddings, voice prints and reports.

One SQLite file (stdlib ``sqlite3``, no server), by default ``library.sqlite`` in
``platformdirs.user_data_dir("telltale")``; ``Library(path)`` or the ``TELLTALE_LIBRARY``
environment variable chooses another. The schema is versioned (``PRAGMA user_version`` plus a
``schema_migrations`` history table) and upgraded in place by the ordered :data:`MIGRATIONS`
list. Every write runs in a transaction, so an interrupted import keeps every file that was
already committed and nothing half-written.

Several processes may use one library at once (issue 17): the file is in WAL mode, so readers
are never blocked; a writer waits for another's write (:data:`BUSY_STEP_S` per attempt, says so
through :attr:`Library.on_wait` after :data:`BUSY_NOTICE_S`, gives up with
:class:`LibraryBusy` after :data:`BUSY_MAX_WAIT_S`); the first open's migrations and a new
candidate's creation are race-free; an analysis is stored in one transaction
(:meth:`Library.record_analysis`). A file that is not a Telltale library (a folder, another
program's database, random bytes, a newer schema) is refused before anything is written to it.

Search keeps every stored code in memory (see :class:`detectors.hashing.HashIndex`): built on
the first search, dropped on every write, rebuilt on the next search. Voice prints (issue 18:
one per recording, the candidate's voice) are searched the same way (:meth:`Library.search_voices`,
cosine distance over an in-memory matrix).

Data protection (issue 8; face embeddings, face hashes and voice prints are biometric data):

* Private files: the folder is created 0700, the database 0600 through ``os.open`` modes; SQLite
  gives its journal/WAL files the database's mode; a file found readable by others is tightened
  on open. Temporary tables and sorts stay in memory (``temp_store = MEMORY``), so nothing goes
  to ``TMPDIR``. The library writes no thumbnails or frames to disk: face crops live inside
  the stored reports.
* Erasure: :meth:`Library.erase_candidate` removes the candidate, every media row, hash, crop
  segment, keypoint set, face embedding, voice print and report (``ON DELETE CASCADE``), redacts the
  candidate from other candidates' reports (the search matches of a reuse finding that named
  them, found by structure, never by text search) and file paths from the audit details, and zeroes the freed pages (``secure_delete``); a WAL
  is checkpointed and truncated.
* Retention: ``library.retention_days`` (0 = keep forever); :meth:`Library.apply_retention`
  erases candidates whose last activity (created, file added, analysed) is older, one log line
  per candidate. Runs when a library opens.
* Audit: :meth:`Library.audit` rows say who (OS user, and the host), what (analysis, export,
  erasure...), which candidate (by id only, so erasure leaves no name behind) and when.
* Watchlists: :meth:`Library.export_watchlist` / :meth:`Library.import_watchlist` share face
  embeddings, voice prints and perceptual hashes, never photos, audio or paths
  (``docs/watchlist-format.md``).
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import socket
import sqlite3
import threading
import time
import unicodedata
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from .. import hashing, privacy
from ..faces import faces_in_image, forget_image_faces
from ..base import MediaError
from ..media import file_sha256
from ..settings import setting, validate
from . import schema

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
    (v.number, v.description, schema.statements(v, "sqlite")) for v in schema.VERSIONS
]
"""(version, description, SQLite statements), oldest first: the one history of both back ends
(:data:`detectors.store.schema.VERSIONS`) rendered for SQLite."""
SCHEMA_VERSION = MIGRATIONS[-1][0]
VOICE_DIMS = schema.VOICE_DIMS
"""A GE2E voice print (detectors/voice.py), stored as 256 float32."""
VOICE_SEARCH_LIMIT = 10


SQLITE_HEADER = b"SQLite format 3\x00"
"""The first 16 bytes of every SQLite database file."""
OWN_TABLES = ("schema_migrations", "candidates", "media", "reports")
"""Tables whose presence (all of them) makes an SQLite file a Telltale library."""

BUSY_STEP_S = 1.0
"""SQLite's own busy wait per attempt (``busy_timeout``); between attempts the wait is reported."""
BUSY_NOTICE_S = 3.0
"""A writer waiting this long for another process's write says so (once), then keeps waiting."""
WAIT_LOG_S = 0.1
"""A connection that waited this long for another writer logs its longest wait (INFO) on close."""
BUSY_MAX_WAIT_S = 900.0
"""A writer gives up after waiting this long for the library (a 100,000-entry watchlist import
takes well under that on two cores); the error says the library was busy."""

MAX_NAME_CHARS = 200
"""Longest candidate or collection name accepted (characters, after NFC normalisation)."""
FORBIDDEN_NAME_CATEGORIES = ("Cc", "Zl", "Zp")
"""Unicode categories refused in names: control characters (newline, ESC...), line and
paragraph separators; with BIDI_CONTROLS they could forge lines or reorder text on a terminal."""
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")


class LibraryError(Exception):
    """The library file cannot be used (newer schema, damaged file, unknown candidate...)."""


class LibraryBusy(LibraryError):
    """Another process kept the library locked for longer than :data:`BUSY_MAX_WAIT_S`."""


class InvalidName(LibraryError, ValueError):
    """A candidate or collection name that is empty, too long or holds control characters."""


def _unsafe_char(c: str) -> bool:
    return unicodedata.category(c) in FORBIDDEN_NAME_CATEGORIES or c in BIDI_CONTROLS


def normalize_name(name: str, what: str = "candidate name") -> str:
    """``name`` as stored: NFC-normalised (two spellings of "é" are one name), surrounding
    white space removed. Raises :class:`InvalidName` when it is empty, longer than
    :data:`MAX_NAME_CHARS` or holds a control character (newline, escape, bidi override)."""
    if not isinstance(name, str):
        raise InvalidName(f"{what} must be text")
    text = unicodedata.normalize("NFC", name).strip()
    if not text:
        raise InvalidName(f"{what} is empty")
    bad = sorted({c for c in text if _unsafe_char(c)})
    if bad:
        shown = ", ".join(repr(c) for c in bad[:5])
        raise InvalidName(f"{what} '{printable(text)}' holds control characters ({shown}); use letters, digits and punctuation")
    if len(text) > MAX_NAME_CHARS:
        raise InvalidName(f"{what} is {len(text)} characters long; at most {MAX_NAME_CHARS} are accepted")
    return text


def lookup_name(name: Any) -> str:
    """How a name given to look a candidate up is compared with stored names (NFC, stripped)."""
    return unicodedata.normalize("NFC", str(name)).strip()


def printable(text: Any, keep_newlines: bool = False) -> str:
    """``text`` safe to print on a terminal: control characters (ESC, CR, newline unless
    ``keep_newlines``...), line separators and bidi controls shown as escapes (``\\x1b``)."""
    out = []
    for c in str(text):
        if (c == "\n" and keep_newlines) or not _unsafe_char(c):
            out.append(c)
        else:
            out.append(c.encode("unicode_escape").decode("ascii"))
    return "".join(out)


def _is_busy(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in str(exc) or "busy" in str(exc))


def _db_problem(exc: BaseException) -> str:
    """One sentence for an SQLite error, with SQLite's own words kept."""
    text = str(exc)
    if "full" in text:
        return f"the disk is full ({text})"
    if "disk I/O error" in text:
        return f"the disk could not be written: full, read-only or failing ({text})"
    if "readonly" in text or "read-only" in text:
        return f"the library is read-only ({text})"
    if "not a database" in text or "malformed" in text:
        return f"not a Telltale library, or damaged ({text})"
    if _is_busy(exc):
        return f"the library is busy ({text})"
    return text


def check_recording(path: str | Path) -> None:
    """Raise a MediaError unless ``path`` is a recording with a video track (a text file, an
    empty file or a file merely named .mp4 is not stored as a "video")."""
    from ..media import probe

    probe(path)


def check_library_path(path: str | Path) -> None:
    """Raise a :class:`LibraryError` (one sentence) unless ``path`` can be a Telltale library:
    missing (it will be created), an empty file, or an SQLite file holding Telltale's tables.
    Reads only: a folder, another kind of file or another program's database is never changed."""
    p = Path(path)
    if p.is_dir():
        raise LibraryError(f"{p}: is a folder; give the library file's path (e.g. {p / LIBRARY_FILE})")
    if not p.exists():
        parent = p.parent
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
        if not parent.is_dir():
            raise LibraryError(f"{p}: cannot be created ({parent} is not a folder)")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise LibraryError(f"{p}: cannot be created (the folder {parent} is read-only)")
        return
    if not p.is_file():
        raise LibraryError(f"{p}: is not a regular file")
    try:
        with open(p, "rb") as fh:
            head = fh.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise LibraryError(f"{p}: cannot be read ({exc.strerror})") from exc
    if head and head != SQLITE_HEADER:
        raise LibraryError(f"{p}: is not an SQLite database (another kind of file, or damaged); Telltale leaves it as it is")
    if not os.access(p, os.W_OK):
        raise LibraryError(f"{p}: the library file is read-only; Telltale needs to write to it")
    if not os.access(p.parent, os.W_OK | os.X_OK):
        raise LibraryError(f"{p}: the library's folder {p.parent} is read-only; Telltale needs to write its journal there")


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


MATCH_KEYS = frozenset({"candidate", "collection", "file", "kind", "distance"})
"""The keys of a stored search match (:meth:`Match.to_dict`): how erasure finds references."""


def redact(report: Any, name: str) -> tuple[Any, bool]:
    """Another candidate's stored report with every reference to the erased candidate ``name``
    removed, by structure, never by text search: a search match (a dict shaped like
    :meth:`Match.to_dict`) whose ``candidate`` field is ``name`` (names are unique) gets
    :data:`ERASED_NAME` and :data:`ERASED_FILE`; ``other_candidates`` lists lose the name; a check's one-line summary
    built from such a match (the reuse finding names its top match, the voice finding its
    nearest library voice: "under candidate NAME (FILE, ...") and the reasons that quote that
    summary (the report's, and the finding's own ``evidence.reasons``) are rebuilt with the
    placeholders.
    Other words, other names that start with ``name``, check names and paths are untouched.
    Returns (report, changed)."""
    changed = False

    def is_erased(m: Mapping[str, Any]) -> bool:
        return MATCH_KEYS <= set(m) and m.get("candidate") == name

    def walk(v: Any) -> Any:
        nonlocal changed
        if isinstance(v, list):
            return [walk(x) for x in v]
        if not isinstance(v, dict):
            return v
        out = {}
        for k, x in v.items():
            if k == "other_candidates" and isinstance(x, list) and name in x:
                changed = True
                out[k] = [ERASED_NAME if y == name else y for y in x]
            else:
                out[k] = walk(x)
        if is_erased(v):
            changed = True
            out["candidate"] = ERASED_NAME
            out["file"] = ERASED_FILE if v.get("file") else v.get("file")
        return out

    summaries: dict[str, tuple[str, str]] = {}  # check -> (old summary, new summary)
    checks = report.get("checks") if isinstance(report, dict) else None
    if isinstance(checks, dict):
        for check, finding in checks.items():
            if not isinstance(finding, dict) or not isinstance(finding.get("summary"), str):
                continue
            ev = finding.get("evidence")
            matches = (ev.get("matches") or ev.get("library_matches")) if isinstance(ev, dict) else None
            if not isinstance(matches, list) or not matches or not isinstance(matches[0], dict) or not is_erased(matches[0]):
                continue
            top = matches[0]
            old = finding["summary"]
            base = str(top.get("file") or "").rsplit("/", 1)[-1] or "interview"
            new = old.replace(f"under candidate {name} ({base}, ", f"under candidate {ERASED_NAME} ({ERASED_FILE}, ", 1)
            if new != old:
                summaries[check] = (old, new)
    out = walk(report)

    def requote(reasons: Any, old: str, new: str) -> Any:
        if not isinstance(reasons, list):
            return reasons
        return [new + r[len(old):] if isinstance(r, str) and r.startswith(old) else r for r in reasons]

    for check, (old, new) in summaries.items():
        out["checks"][check]["summary"] = new
        changed = True
        if "reasons" in out:
            out["reasons"] = requote(out["reasons"], old, new)
        ev = out["checks"][check].get("evidence")
        if isinstance(ev, dict) and "reasons" in ev:
            ev["reasons"] = requote(ev["reasons"], old, new)
    return out, changed


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
        self._voices: VoiceIndex | None = None  # voice prints in memory (built on the first voice search)
        self._retention_override = validate(RETENTION_DAYS.key, retention_days) if retention_days is not None else None
        self.on_wait: Callable[[str], None] = lambda message: log.warning("%s", message)
        """Called once when a write has waited :data:`BUSY_NOTICE_S` for another process (the
        CLI prints it); the write then keeps waiting up to :data:`BUSY_MAX_WAIT_S`."""
        self.busy_max_wait_s = BUSY_MAX_WAIT_S
        self.longest_wait_s = 0.0
        """The longest this connection waited for another process's write (seconds)."""
        memory = str(self.path) == ":memory:"
        if not memory:
            check_library_path(self.path)  # reads only: refuses folders, foreign and read-only files
            privacy.make_private_dir(self.path.parent)
            try:
                privacy.create_private_file(self.path, tighten_existing=False)
            except OSError as exc:
                raise LibraryError(f"{self.path}: cannot be created ({exc.strerror})") from exc
        try:
            self._db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False,
                                       timeout=BUSY_STEP_S)
        except sqlite3.Error as exc:
            raise LibraryError(f"{self.path}: cannot be opened ({exc})") from exc
        try:
            self._retry_busy(self._check_ours)  # before anything is written: never adopt a foreign database
            if not memory:
                for side in privacy.sqlite_files(self.path):
                    privacy.tighten(side)  # ours: make it private (also an older library's loose mode)
                # WAL: readers are never blocked by a writer, and a writer by readers
                self._retry_busy(lambda: self._db.execute("PRAGMA journal_mode = WAL").fetchone())
            self._db.execute("PRAGMA foreign_keys = ON")
            self._db.execute("PRAGMA secure_delete = ON")
            self._db.execute("PRAGMA temp_store = MEMORY")  # no temporary files in TMPDIR
            self._migrate()
        except LibraryError:
            self._db.close()
            raise
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise LibraryError(f"{self.path}: {_db_problem(exc)}") from exc
        if apply_retention:
            self.apply_retention()

    # -- lifecycle -----------------------------------------------------------------
    def close(self) -> None:
        with self._lock:
            self._db.close()
            self._index = None
            self._voices = None
        if self.longest_wait_s >= WAIT_LOG_S:
            log.info("%s: waited up to %.2f s for another process's write", self.path, self.longest_wait_s)

    def __enter__(self) -> "Library":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def _check_ours(self) -> None:
        """Refuse another program's database (read-only queries; nothing is changed). The tables
        and the schema version are read in one read transaction: read apart, another process
        setting up the same new library could commit its first migration between the two reads
        (no tables yet, then version 1), and a library being created looked like a foreign file."""
        self._db.execute("BEGIN")
        try:
            tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            version = self.schema_version
        finally:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
        if not tables and version == 0:
            return  # a new, empty file: ours to set up
        if not set(OWN_TABLES) <= tables:
            listed = ", ".join(sorted(tables)[:6]) + (", ..." if len(tables) > 6 else "")
            raise LibraryError(
                f"{self.path}: another program's SQLite database (tables: {listed or 'none'}, "
                f"schema version {version}); Telltale leaves it as it is: choose another library file"
            )
        if version > SCHEMA_VERSION:
            raise LibraryError(
                f"{self.path}: written by a newer Telltale (schema {version}, this one knows {SCHEMA_VERSION})"
            )

    def _migrate(self, upto: int | None = None) -> None:
        """Apply the missing migrations. Each runs in a write transaction that re-reads the
        version first, so processes opening a new library at once apply each step once."""
        with self._lock:
            for version, description, statements in MIGRATIONS:
                if version <= self.schema_version or (upto is not None and version > upto):
                    continue
                with self.transaction():
                    if version <= self.schema_version:  # another process did it while we waited
                        continue
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

    def _retry_busy(self, step: Callable[[], Any], is_wait: bool = False) -> Any:
        """Run ``step`` (one SQLite call), waiting while another process holds the library:
        SQLite waits :data:`BUSY_STEP_S` per attempt; after :data:`BUSY_NOTICE_S` in all,
        :attr:`on_wait` is told once; after :attr:`busy_max_wait_s`, :class:`LibraryBusy`.
        ``is_wait``: the step does nothing but take the lock (BEGIN IMMEDIATE), so all its time
        counts as waiting in :attr:`longest_wait_s`; otherwise only the failed attempts do."""
        start = time.monotonic()
        told = False
        while True:
            try:
                result = step()
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc):
                    raise
                waited = time.monotonic() - start
                self.longest_wait_s = max(self.longest_wait_s, waited)
                if waited >= self.busy_max_wait_s:
                    raise LibraryBusy(
                        f"{self.path}: another process kept the library busy for {waited:.0f} s; nothing was written"
                    ) from exc
                if not told and waited >= BUSY_NOTICE_S:
                    self.on_wait(f"{self.path}: another Telltale process is writing to the library; "
                                 f"waiting for it (up to {self.busy_max_wait_s:.0f} s)...")
                    told = True
                continue
            waited = time.monotonic() - start
            if is_wait:
                self.longest_wait_s = max(self.longest_wait_s, waited)
            if told:
                self.on_wait(f"{self.path}: the library is free again after {waited:.1f} s; writing")
            return result

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One transaction (nested calls join the outer one). Rolls back on any exception."""
        with self._lock:
            outer = self._depth == 0
            if outer:
                try:
                    self._retry_busy(lambda: self._db.execute("BEGIN IMMEDIATE"), is_wait=True)
                except sqlite3.Error as exc:
                    raise LibraryError(f"{self.path}: cannot write ({_db_problem(exc)})") from exc
            self._depth += 1
            try:
                yield self._db
                if outer:
                    self._retry_busy(lambda: self._db.execute("COMMIT"))
            except BaseException as exc:
                if outer:
                    self._rollback()
                if outer and isinstance(exc, sqlite3.Error):
                    raise LibraryError(f"{self.path}: {_db_problem(exc)}; nothing of this change was stored") from exc
                raise
            finally:
                self._depth -= 1
                self._index = None
                self._voices = None

    def _rollback(self) -> None:
        """Undo the open transaction. SQLite has already rolled back after some errors (a full
        disk): then there is nothing to undo, and the original error is the one to report."""
        if self._db.in_transaction:
            try:
                self._db.execute("ROLLBACK")
            except sqlite3.Error as exc:  # the first error matters, not this one
                log.debug("rollback: %s", exc)

    def _audit(self, action: str, subject: str | None = None, detail: Mapping[str, Any] | None = None) -> None:
        try:
            user = getpass.getuser()
        except Exception:  # noqa: BLE001 - no login name in some containers
            user = "unknown"
        self._db.execute(
            "INSERT INTO audit(at, user, host, action, subject, detail) VALUES (?, ?, ?, ?, ?, ?)",
            (_now(), user, socket.gethostname(), action, subject, json.dumps(dict(detail or {}))),
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
        """The newest audit entries first: id, at (UTC ISO-8601), user, host (None for entries
        written before version 4), action, subject, detail."""
        with self._lock:
            sql = "SELECT id, at, user, host, action, subject, detail FROM audit"
            if candidate is not None:
                rows = self._db.execute(sql + " WHERE subject = ? ORDER BY id DESC LIMIT ?",
                                        (f"candidate#{self._candidate_id(candidate)}", limit)).fetchall()
            else:
                rows = self._db.execute(sql + " ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [{"id": i, "at": a, "user": u, "host": h, "action": ac, "subject": s, "detail": json.loads(d or "{}")}
                for i, a, u, h, ac, s, d in rows]

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
        """Per candidate id: the latest of created, file added, faces or voices stored, report saved."""
        with self._lock:
            rows = self._db.execute(
                """SELECT c.id, MAX(c.created_at,
                          COALESCE((SELECT MAX(added_at) FROM media m WHERE m.candidate_id = c.id), ''),
                          COALESCE((SELECT MAX(added_at) FROM faces f WHERE f.candidate_id = c.id), ''),
                          COALESCE((SELECT MAX(added_at) FROM voices v WHERE v.candidate_id = c.id), ''),
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
        name = normalize_name(name)
        with self._lock:
            row = self._db.execute("SELECT id FROM candidates WHERE name = ?", (name,)).fetchone()
            if row:
                return int(row[0])
            with self.transaction():
                # another process may have created the same name meanwhile: take theirs, no error
                cur = self._db.execute("INSERT OR IGNORE INTO candidates(name, created_at) VALUES (?, ?)", (name, _now()))
                if cur.rowcount == 0:
                    return int(self._db.execute("SELECT id FROM candidates WHERE name = ?", (name,)).fetchone()[0])
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
                row = self._db.execute(self._CANDIDATE_SQL + " WHERE c.name = ?", (lookup_name(name_or_id),)).fetchone()
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
            raise LibraryError(f"no candidate named '{printable(lookup_name(candidate))}'")
        return row.id

    def erase_candidate(self, candidate: Any, reason: str = "request", vacuum: bool = False) -> int:
        """Erase the candidate and everything derived from their media. Returns the number of
        media rows removed.

        Gone: the candidate row, every media row (photos, ID photos, recordings), their hashes,
        crop segments, ORB keypoints, face embeddings and voice prints, every report (with the
        face crops inside), and the in-memory search index and face cache entries. Other candidates'
        reports that named this candidate (a reuse match) keep the finding but their name
        and file paths become :data:`ERASED_NAME` / :data:`ERASED_FILE` (by structure, see
        :func:`redact`: never by searching the text); audit entries about
        the candidate keep who/what/when but lose paths. Freed pages are zeroed
        (``secure_delete``), a WAL is checkpointed and truncated; ``vacuum`` also rebuilds the
        file. ``reason``: "request" or "retention" (audited).
        """
        with self._lock:
            cid = self._candidate_id(candidate)
            name = self._db.execute("SELECT name FROM candidates WHERE id = ?", (cid,)).fetchone()[0]
            media = self._db.execute("SELECT id, sha256 FROM media WHERE candidate_id = ?", (cid,)).fetchall()
            with self.transaction():
                counts = {
                    table: int(self._db.execute(f"SELECT COUNT(*) FROM {table} WHERE candidate_id = ?", (cid,)).fetchone()[0])
                    for table in ("media", "faces", "voices", "reports")
                }
                self._db.execute("DELETE FROM candidates WHERE id = ?", (cid,))
                redacted = self._redact_others(name)
                for aid, detail in self._db.execute(
                    "SELECT id, detail FROM audit WHERE subject = ?", (f"candidate#{cid}",)
                ).fetchall():
                    old = json.loads(detail or "{}")
                    new = {k: ERASED_FILE if k in AUDIT_PATH_KEYS else v for k, v in old.items()}
                    if new != old:
                        self._db.execute("UPDATE audit SET detail = ? WHERE id = ?", (json.dumps(new), aid))
                self._audit("erase-candidate", f"candidate#{cid}", {**counts, "reason": reason, "reports_redacted": redacted})
            for _mid, sha in media:
                forget_image_faces(sha)
            self._scrub(vacuum)
            why = f"retention of {self.retention_days:g} days" if reason == "retention" else reason
            log.info("erased candidate #%d (%d file(s), %d face(s), %d voice print(s), %d report(s); %s)",
                     cid, counts["media"], counts["faces"], counts["voices"], counts["reports"], why)
            return counts["media"]

    def _redact_others(self, name: str) -> int:
        """Remove the erased candidate from the other stored reports (see :func:`redact`).
        Only reports holding the name as a whole JSON string are read (a quick filter); what
        changes in them is decided by structure."""
        needles = {json.dumps(name), json.dumps(name, ensure_ascii=False)}
        clauses = " OR ".join("instr(report, ?) > 0" for _ in needles)
        rows = self._db.execute(f"SELECT id, report FROM reports WHERE {clauses}", tuple(needles)).fetchall()
        n = 0
        for rid, text in rows:
            cleaned, changed = redact(json.loads(text), name)
            if changed:
                self._db.execute("UPDATE reports SET report = ? WHERE id = ?", (json.dumps(cleaned), rid))
                n += 1
        return n

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
        """Erase a reference collection (e.g. an imported watchlist) and all its hashes, faces
        and voice prints. Returns the number of media rows removed."""
        with self._lock:
            row = self._db.execute("SELECT id FROM collections WHERE name = ?", (lookup_name(name),)).fetchone()
            if row is None:
                raise LibraryError(f"no collection named '{printable(lookup_name(name))}'")
            with self.transaction():
                n = int(self._db.execute("SELECT COUNT(*) FROM media WHERE collection_id = ?", (row[0],)).fetchone()[0])
                self._db.execute("DELETE FROM collections WHERE id = ?", (row[0],))
                self._audit("erase-collection", lookup_name(name), {"media": n})
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
        """Write the face embeddings, voice prints and perceptual hashes of ``candidates`` (names,
        ids or rows) or of one ``collection`` to ``out`` as a watchlist (docs/watchlist-format.md):
        no photos, no audio, no paths or file names, no candidate names; each candidate is a numbered
        persona. The file is written owner-only and the export is audited per candidate.
        Returns the :class:`detectors.watchlist.Watchlist`."""
        from .. import watchlist as wl

        if not label.strip():
            raise ValueError("a watchlist needs a label")
        if bool(list(candidates)) == (collection is not None):
            raise ValueError("give candidates or a collection, not both or neither")
        with self._lock:
            if collection is not None:
                row = self._db.execute("SELECT id FROM collections WHERE name = ?", (lookup_name(collection),)).fetchone()
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

    def _watch_entries(self, column: str, owner: int, persona: int) -> list[Any]:
        from .. import watchlist as wl

        assert column in ("candidate_id", "collection_id")
        db = self._db
        out = []
        media = db.execute(f"SELECT id, role, width, height, sha256 FROM media WHERE {column} = ? ORDER BY id", (owner,)).fetchall()
        for mid, role, w, h, sha in media:
            frows = db.execute("SELECT embedding, face_hash FROM faces WHERE media_id = ? ORDER BY id", (mid,)).fetchall()
            faces = wl.faces_of([f[0] for f in frows], [f[1] for f in frows])
            vrows = db.execute("SELECT embedding, speech_s FROM voices WHERE media_id = ? ORDER BY id", (mid,)).fetchall()
            voices = wl.voices_of([v[0] for v in vrows], [v[1] for v in vrows])
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
            elif faces or voices:
                out.append(wl.WatchEntry("interview", "video", persona, faces, voices=voices))
        loose = db.execute(
            f"SELECT embedding, face_hash FROM faces WHERE {column} = ? AND media_id IS NULL ORDER BY id", (owner,)
        ).fetchall()
        faces = wl.faces_of([f[0] for f in loose], [f[1] for f in loose])
        vloose = db.execute(
            f"SELECT embedding, speech_s FROM voices WHERE {column} = ? AND media_id IS NULL ORDER BY id", (owner,)
        ).fetchall()
        voices = wl.voices_of([v[0] for v in vloose], [v[1] for v in vloose])
        if faces or voices:
            out.append(wl.WatchEntry("interview", "video", persona, faces, voices=voices))
        return out

    def import_watchlist(
        self, source: Any, name: str | None = None, replace: bool = False, file: str | Path | None = None,
    ) -> tuple[str, int]:
        """Store a watchlist (a path or a Watchlist) as a reference collection named ``name``
        (default "watchlist: LABEL"); searches and the reuse check then find its faces and
        photos. An existing collection of that name is an error unless ``replace``. Returns
        (collection name, entries stored). All or nothing: one transaction. ``file``: where
        a Watchlist given as ``source`` was read from (for the audit entry)."""
        from .. import watchlist as wl

        watch = source if isinstance(source, wl.Watchlist) else wl.Watchlist.read(source)
        coll_name = normalize_name(name or f"watchlist: {watch.label}", "collection name")
        # every row is prepared first, so the library is held only for the bulk inserts
        now = _now()
        media_rows: list[tuple[Any, ...]] = []  # (index, path, role, sha256, width, height)
        hash_rows: list[tuple[int, ...]] = []  # (index, 4 hashes)
        seg_rows: list[tuple[int, int, int]] = []  # (index, seq, value)
        face_rows: list[tuple[Any, ...]] = []  # (index, source, box, embedding, face_hash)
        voice_rows: list[tuple[int, float, bytes]] = []  # (index, speech_s, embedding)
        for i, entry in enumerate(watch.entries):
            photo = entry.kind == "photo"
            media_rows.append((i, wl.entry_label(watch.label, i, entry), entry.role if photo else "video",
                               (entry.sha256 or "") if photo else "", entry.width if photo else None,
                               entry.height if photo else None))
            if photo:
                h = entry.hashes or {}
                hash_rows.append((i, *(hashing.to_signed(h[k]) for k in hashing.WHOLE_HASH_KINDS)))
                seg_rows += [(i, j, hashing.to_signed(v)) for j, v in enumerate(entry.segments)]
            for f in entry.faces:
                face_rows.append((i, entry.role if photo else "interview", json.dumps([0, 0, 0, 0]) if photo else None,
                                  np.asarray(f.embedding, np.float32).tobytes(),
                                  hashing.to_signed(f.face_hash) if f.face_hash is not None else None))
            voice_rows += [(i, float(v.speech_s), np.asarray(v.embedding, np.float32).tobytes()) for v in entry.voices]
        detail = {"label": watch.label, "created_at": watch.created_at, "entries": len(watch.entries),
                  "version": watch.version, "voices": len(voice_rows)}
        if file is not None or not isinstance(source, wl.Watchlist):
            detail["file"] = str(Path(file if file is not None else source).absolute())
        replaced = False
        with self._lock:
            with self.transaction() as db:
                t_write = time.monotonic()  # the write lock is ours from here to the commit
                old = db.execute("SELECT id FROM collections WHERE name = ?", (coll_name,)).fetchone()
                if old is not None:
                    if not replace:
                        raise LibraryError(f"a collection named '{printable(coll_name)}' already exists "
                                           "(choose another name or replace it)")
                    db.execute("DELETE FROM collections WHERE id = ?", (old[0],))  # the same transaction
                    replaced = True
                coll = self.add_collection(coll_name, f"watchlist {watch.label!r} of {watch.created_at}")
                base = int(db.execute("SELECT COALESCE(MAX(id), 0) FROM media").fetchone()[0]) + 1  # we hold the write lock
                db.executemany(
                    "INSERT INTO media(id, collection_id, path, role, sha256, size, width, height, added_at) "
                    "VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?)",
                    ((base + i, coll, path, role, sha, w, h, now) for i, path, role, sha, w, h in media_rows),
                )
                db.executemany(
                    "INSERT INTO image_hashes(media_id, phash, dhash, phash_trim, dhash_trim) VALUES (?, ?, ?, ?, ?)",
                    ((base + i, *codes) for i, *codes in hash_rows),
                )
                db.executemany("INSERT INTO segments(media_id, seq, value) VALUES (?, ?, ?)",
                               ((base + i, j, v) for i, j, v in seg_rows))
                db.executemany(
                    "INSERT INTO faces(collection_id, media_id, source, box, embedding, face_hash, added_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    ((coll, base + i, src, box, emb, fh, now) for i, src, box, emb, fh in face_rows),
                )
                db.executemany(
                    "INSERT INTO voices(collection_id, media_id, source, speech_s, embedding, added_at) "
                    "VALUES (?, ?, 'recording', ?, ?, ?)",
                    ((coll, base + i, speech, emb, now) for i, speech, emb in voice_rows),
                )
                self._audit("import-watchlist", coll_name, {**detail, "replaced": replaced})
                held = time.monotonic() - t_write  # before the commit (and its WAL checkpoint)
            if replaced:
                self._scrub()
        log.info("watchlist %r imported as %r: %d entries (inserted in %.2f s, then committed)",
                 watch.label, coll_name, len(watch.entries), held)
        return coll_name, len(watch.entries)

    # -- collections -----------------------------------------------------------------
    def add_collection(self, name: str, folder: str | Path | None = None) -> int:
        name = normalize_name(name, "collection name")
        with self._lock:
            row = self._db.execute("SELECT id FROM collections WHERE name = ?", (name,)).fetchone()
            if row:
                return int(row[0])
            with self.transaction():
                cur = self._db.execute(
                    "INSERT OR IGNORE INTO collections(name, folder, created_at) VALUES (?, ?, ?)",
                    (name, str(folder) if folder else None, _now()),
                )
                if cur.rowcount == 0:  # created meanwhile by another process
                    return int(self._db.execute("SELECT id FROM collections WHERE name = ?", (name,)).fetchone()[0])
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
            check_recording(p)
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
        from ..media import load_image

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
            mid = media_id_of(self, cid, media)
            embs = np.asarray(embeddings, dtype=np.float32).reshape(-1, 128)
            now = _now()
            with self.transaction() as db:
                db.executemany(
                    "INSERT INTO faces(candidate_id, media_id, source, embedding, added_at) VALUES (?, ?, ?, ?, ?)",
                    [(cid, mid, source, e.tobytes(), now) for e in embs if np.all(np.isfinite(e))],
                )
                self._audit("add-face-embeddings", f"candidate#{cid}", {"count": int(embs.shape[0]), "source": source})
            return int(embs.shape[0])

    def add_voice_prints(
        self, candidate: Any, media: MediaRow | int | str | Path | None, prints: Sequence[Any], source: str = "recording",
    ) -> int:
        """Store voice prints heard in a recording (``prints``: objects with ``embedding`` (256),
        ``speech_s`` and optionally ``start_s``/``end_s``, e.g.
        :class:`detectors.voice_check.StoredPrint`) so a voice heard under one candidate's name is
        found under another. ``media`` as for :meth:`add_face_embeddings`. ``source``: "recording"
        (the candidate's print over the recording) or "segment". Returns rows added."""
        with self._lock:
            cid = self._candidate_id(candidate, create=True)
            mid = media_id_of(self, cid, media)
            rows = voice_rows(prints)
            now = _now()
            with self.transaction() as db:
                db.executemany(
                    "INSERT INTO voices(candidate_id, media_id, source, start_s, end_s, speech_s, embedding, added_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [(cid, mid, source, a, b, sp, e.tobytes(), now) for e, sp, a, b in rows],
                )
                self._audit("add-voice-prints", f"candidate#{cid}", {"count": len(rows), "source": source})
            return len(rows)

    def record_candidate(self, name: str, images: Sequence[Any] = (), recordings: Sequence[Any] = ()) -> list[MediaRow]:
        """Store what an analysis saw, so later candidates are searched against it: every photo
        (LoadedImage; its role "id"/"photo"), every recording's main face identity
        (RecordingContext-like: ``.path`` and ``.track.main_identity``) and its voice print
        (``.voice``, a :class:`detectors.voice.RecordingVoice`: the candidate's voice only, see
        :func:`detectors.voice_check.storable_print`). Re-analysing the same files replaces the
        recording's stored identity and voice print instead of piling up copies. One
        transaction: all of it is stored, or (on an error) none of it."""
        return self.record_analysis(name, images, recordings, None)

    def record_analysis(
        self, name: str, images: Sequence[Any] = (), recordings: Sequence[Any] = (),
        report_dict: Mapping[str, Any] | None = None,
    ) -> list[MediaRow]:
        """:meth:`record_candidate` and :meth:`save_report` in one transaction: a failed write
        (full disk, busy past the wait, an interrupted process) leaves no half-stored candidate
        (media and faces without their report). The hashing is done before the write starts,
        so the library is held only for the inserts."""
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
                row = self._find_media(cid, img.sha256, role)
                if row is None:
                    row = self.add_encoded(cid, str(Path(img.path).absolute()), role, enc, sha256=img.sha256,
                                           size=img.file_size)
                ids.append(row.id)
            for path, sha, size, identity, voice in videos:
                row = self._find_media(cid, sha, "video")
                if row is None:
                    cur = self._db.execute(
                        "INSERT INTO media(candidate_id, path, role, sha256, size, added_at) VALUES (?, ?, 'video', ?, ?, ?)",
                        (cid, str(path), sha, size, _now()),
                    )
                    row = self.get_media(int(cur.lastrowid))
                if identity is not None:
                    self._db.execute("DELETE FROM faces WHERE media_id = ? AND source = 'interview'", (row.id,))
                    self.add_face_embeddings(cid, row, [identity])
                if voice is not None:
                    self._db.execute("DELETE FROM voices WHERE media_id = ? AND source = 'recording'", (row.id,))
                    self.add_voice_prints(cid, row, [voice])
                ids.append(row.id)
            if report_dict is not None:
                self.save_report(cid, report_dict)
            return [self.get_media(i) for i in ids]

    # -- reports -------------------------------------------------------------------
    def save_report(self, candidate: Any, report_dict: Mapping[str, Any]) -> None:
        """Store a JSON report (history is kept; the latest is the candidate's score) and audit
        it as an "analysis" by the current OS user."""
        from ..base import jsonable

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
                if self._db.in_transaction:
                    self._index = self._build_index()
                else:  # one snapshot for all its reads: another process may commit between two of them
                    self._db.execute("BEGIN")
                    try:
                        self._index = self._build_index()
                    finally:
                        self._db.execute("COMMIT")
            return self._index

    def _keypoints(self, media_id: int) -> hashing.Keypoints | None:
        row = self._db.execute("SELECT points, descriptors FROM keypoints WHERE media_id = ?", (media_id,)).fetchone()
        return hashing.Keypoints.from_blobs(*row) if row else None

    def encode(self, image: Any) -> hashing.Encoded:
        """Encode a query photo (path, LoadedImage or RGB array) with its mirrored variants."""
        from ..media import LoadedImage, load_image

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
        """Where has this encoded photo been seen before? The whole in-memory index is searched;
        the decision is :func:`detectors.store.search.assemble`'s (the same as PostgreSQL's)."""
        from .search import Candidates, assemble

        with self._lock:
            idx = self.index()
            ex_cid = self._excluded_candidate_id(exclude_candidate)
            exclude = self._whole_cid == ex_cid if ex_cid is not None and idx.size else None
            rows = Candidates(idx, self._meta, self._names, self._coll_names, self._face_owner, self._by_sha)
            return assemble(enc, rows, limit, self._keypoints, exclude, ex_cid)

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

    def _voice_index(self) -> "VoiceIndex":
        with self._lock:
            if self._voices is None:
                rows = self._db.execute(
                    "SELECT v.id, v.candidate_id, c.name, k.name, v.media_id, m.path, v.speech_s, v.start_s, v.end_s, v.embedding "
                    "FROM voices v LEFT JOIN candidates c ON c.id = v.candidate_id "
                    "LEFT JOIN collections k ON k.id = v.collection_id LEFT JOIN media m ON m.id = v.media_id ORDER BY v.id"
                ).fetchall()  # one statement: one snapshot
                self._voices = VoiceIndex.from_rows(rows)
            return self._voices

    def search_voices(
        self, embedding: np.ndarray, exclude_candidate: Any = None, max_distance: float | None = None,
        limit: int = VOICE_SEARCH_LIMIT,
    ) -> list[dict[str, Any]]:
        """Stored voice prints within ``max_distance`` (cosine distance; default the voice check's
        same-voice bar) of ``embedding``, nearest first, one per recording, the excluded
        candidate's left out. Each is a dict shaped like :meth:`Match.to_dict` (candidate,
        collection, file, kind "same-voice", distance, detail with media id, method and the
        excerpt to play) plus ``speech_s``, so erasure redacts it in other reports by structure."""
        bar = default_same_voice() if max_distance is None else float(max_distance)
        with self._lock:
            ex_cid = self._excluded_candidate_id(exclude_candidate)
            return self._voice_index().search(embedding, ex_cid, bar, limit)

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
            def name_of(other: Any) -> str | None:
                row = self._db.execute("SELECT name FROM candidates WHERE id = ?", (other,)).fetchone()
                return row[0] if row else None

            return stale_sentences(marks, name_of)

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
        name = normalize_name(new_name)  # an InvalidName is a ValueError
        with self._lock:
            cid = self._candidate_id(candidate)
            row = self._db.execute("SELECT id FROM candidates WHERE name = ?", (name,)).fetchone()
            if row is not None and int(row[0]) != cid:
                raise LibraryError(f"another candidate is already called '{printable(name)}'")
            with self.transaction():
                self._db.execute("UPDATE candidates SET name = ? WHERE id = ?", (name, cid))
                self._audit("rename-candidate", f"candidate#{cid}")
            self._index = None  # the search index caches candidate names


def stale_sentences(marks: Sequence[Mapping[str, Any]], name_of: Callable[[Any], str | None]) -> list[str]:
    """The out-of-date marks of a candidate as sentences (both back ends). ``name_of(id)``: the
    other candidate's name, or None once erased (an erased name is never shown)."""
    out = []
    for m in marks:
        if m.get("kind") == "reuse":
            name = name_of(m.get("other"))
            who = f"“{name}”" if name is not None else "a candidate (since erased)"
            out.append(f"{who}, analysed later, shares this candidate's {m.get('detail') or 'face or photo'}.")
        elif m.get("kind") == "removed":
            out.append(f"The file “{m.get('detail')}” was removed after the analysis.")
        elif m.get("kind") == "added":
            out.append(f"The file “{m.get('detail')}” was added after the analysis.")
        else:
            out.append(str(m.get("detail") or "The library changed after the analysis."))
    return out


# --------------------------------------------------------------------------- voice prints (both back ends)


def default_same_voice() -> float:
    """The voice check's same-voice bar (cosine distance), the default of :meth:`Library.search_voices`."""
    from ..voice_check import SAME_VOICE

    return float(SAME_VOICE.default)


def media_id_of(library: Any, cid: int, media: MediaRow | int | str | Path | None) -> int | None:
    """The media id a face or voice row points at: a MediaRow's or a given id, a path added to
    ``library`` as the candidate's video if new, or None (shared by both back ends)."""
    if isinstance(media, MediaRow):
        return media.id
    if isinstance(media, (int, np.integer)):
        return int(media)
    if media is not None:
        return library.add_media(cid, media, "video").id
    return None


def voice_rows(prints: Sequence[Any]) -> list[tuple[np.ndarray, float, float | None, float | None]]:
    """(embedding, speech_s, start_s, end_s) of each print to store; non-finite prints are left out."""
    out = []
    for p in prints:
        e = np.asarray(p.embedding, dtype=np.float32).reshape(-1)
        if e.shape[0] != VOICE_DIMS:
            raise ValueError(f"a voice print has {VOICE_DIMS} values, not {e.shape[0]}")
        if not np.all(np.isfinite(e)) or not np.any(e):
            continue
        start, end = getattr(p, "start_s", None), getattr(p, "end_s", None)
        out.append((e, float(p.speech_s), None if start is None else float(start), None if end is None else float(end)))
    return out


def recorded_videos(recordings: Sequence[Any]) -> list[tuple[Path, str, int, Any, Any]]:
    """What :meth:`Library.record_analysis` stores of each recording: (absolute path, SHA-256,
    size, main face identity or None, voice print to store or None); recordings with neither
    are left out."""
    from ..voice_check import storable_print

    out = []
    for rec in recordings:
        track = getattr(rec, "track", None)
        identity = getattr(track, "main_identity", None) if track is not None else None
        voice = storable_print(getattr(rec, "voice", None))
        if identity is None and voice is None:
            continue
        path = Path(rec.path).absolute()
        out.append((path, *file_sha256(path), identity, voice))
    return out


def voice_match(candidate: str | None, collection: str | None, path: str | None, media_id: int | None,
                distance: float, speech_s: float, start_s: float | None, end_s: float | None) -> dict[str, Any]:
    """One voice search result (both back ends): shaped like :meth:`Match.to_dict` (so erasure
    finds it in other reports) plus the seconds of speech behind the stored print."""
    detail: dict[str, Any] = {"method": "voice print",
                              "excerpt": None if start_s is None or end_s is None else [round(start_s, 2), round(end_s, 2)]}
    if media_id is not None:
        detail = {"media_id": int(media_id), **detail}
    return {"candidate": candidate, "collection": collection, "file": path or "", "kind": "same-voice",
            "distance": round(float(distance), 4), "speech_s": round(float(speech_s), 1), "detail": detail}


@dataclass(frozen=True)
class VoiceIndex:
    """The stored voice prints in memory (SQLite back end): unit rows, owners, where heard."""

    ids: np.ndarray  # (V,) voice row ids
    cids: np.ndarray  # (V,) owner candidate id, -1 for a collection's
    embeddings: np.ndarray  # (V, 256) float32, unit length
    rows: tuple[tuple[Any, ...], ...]  # (candidate name, collection name, media id, path, speech_s, start_s, end_s)

    @classmethod
    def from_rows(cls, rows: Sequence[Sequence[Any]]) -> "VoiceIndex":
        emb = (np.frombuffer(b"".join(r[9] for r in rows), dtype=np.float32).reshape(-1, VOICE_DIMS)
               if rows else np.zeros((0, VOICE_DIMS), np.float32))
        norm = np.linalg.norm(emb, axis=1, keepdims=True)
        emb = emb / np.maximum(norm, 1e-12)
        return cls(np.array([int(r[0]) for r in rows], dtype=np.int64),
                   np.array([-1 if r[1] is None else int(r[1]) for r in rows], dtype=np.int64),
                   emb.astype(np.float32), tuple((r[2], r[3], r[4], r[5], r[6], r[7], r[8]) for r in rows))

    def search(self, embedding: np.ndarray, exclude_cid: int | None, max_distance: float, limit: int) -> list[dict[str, Any]]:
        q = np.asarray(embedding, np.float32).reshape(-1)
        if q.shape[0] != VOICE_DIMS:
            raise ValueError(f"a voice print has {VOICE_DIMS} values, not {q.shape[0]}")
        n = float(np.linalg.norm(q))
        if not self.ids.size or n <= 0 or not np.isfinite(n):
            return []
        d = 1.0 - self.embeddings.astype(np.float64) @ (q.astype(np.float64) / n)
        keep = d <= max_distance
        if exclude_cid is not None:
            keep &= self.cids != exclude_cid
        hits = np.flatnonzero(keep)
        out: dict[int, dict[str, Any]] = {}  # one per recording (or per voice row without one)
        for i in hits[np.argsort(d[hits], kind="stable")].tolist():
            cname, kname, mid, path, speech, start, end = self.rows[i]
            key = int(mid) if mid is not None else -int(self.ids[i])
            if key in out:
                continue
            out[key] = voice_match(cname, kname, path, mid, float(d[i]), speech, start, end)
            if len(out) >= limit:
                break
        return list(out.values())
