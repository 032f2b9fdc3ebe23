"""Keeping candidate data private: owner-only files, private writes, byte scans, no network.

Face embeddings, face hashes and voice prints are biometric data. What Telltale writes (the library file and
its SQLite side files, exports the user asks for) is readable by the owner only; nothing talks to
the network. This module holds the small tools the library, the CLI and the tests share:

* :func:`make_private_dir` / :func:`tighten` / :func:`write_private`: folders 0700, files 0600,
  written through ``os.open`` modes (no process-wide umask change, which would race with other
  threads of the desktop app).
* :func:`loose_files`: every file or folder under a folder that group or others can read.
* :func:`scan_bytes`: which files contain which byte strings (erasure checks).
* :func:`block_network`: a context manager that makes every Python-level connection attempt
  fail and records it (tests; also usable at run time as a belt-and-braces guard).
* :func:`without_matplotlib`: import mediapipe's solutions without importing matplotlib, whose
  import writes a font cache under ``~/.cache/matplotlib`` and creates ``~/.config/matplotlib``
  (mediapipe only uses it in a landmark-plotting helper Telltale never calls).
"""

from __future__ import annotations

import logging
import os
import socket
import stat
import sys
import threading
import types
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

log = logging.getLogger(__name__)

OWNER_ONLY_FILE = 0o600
OWNER_ONLY_DIR = 0o700
GROUP_OTHER_BITS = 0o077
"""Permission bits that must be clear on everything the library writes."""

SQLITE_SIDE_SUFFIXES = ("-journal", "-wal", "-shm")
"""Files SQLite creates beside a database (rollback journal, write-ahead log, shared memory)."""


# --------------------------------------------------------------------------- files


def make_private_dir(path: str | Path) -> Path:
    """Create ``path`` (and missing parents) ; the folder itself is 0700 when this call created
    it. An existing folder is left as it is (it may be a folder the user shares on purpose, e.g.
    when they chose to keep the library in ``~/Documents``); the files in it are private anyway."""
    p = Path(path)
    if not p.exists():
        p.parent.mkdir(parents=True, exist_ok=True)
        try:
            p.mkdir(mode=OWNER_ONLY_DIR)
        except FileExistsError:
            pass
        else:
            os.chmod(p, OWNER_ONLY_DIR)  # mkdir's mode is filtered by the umask; be exact
    return p


def tighten(path: str | Path) -> bool:
    """Remove group/other permissions from an existing file (True when it had to)."""
    p = Path(path)
    try:
        current = stat.S_IMODE(p.stat().st_mode)
    except FileNotFoundError:
        return False
    if current & GROUP_OTHER_BITS:
        os.chmod(p, current & ~GROUP_OTHER_BITS)
        log.warning("%s was readable by others (mode %o); made it owner-only", p, current)
        return True
    return False


def create_private_file(path: str | Path, tighten_existing: bool = True) -> Path:
    """Create an empty owner-only file if it does not exist (never widens an existing one).
    ``tighten_existing``: also make an existing file owner-only (False: leave it untouched, e.g.
    until it is known to be ours)."""
    p = Path(path)
    try:
        fd = os.open(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY, OWNER_ONLY_FILE)
    except FileExistsError:
        if tighten_existing:
            tighten(p)
        return p
    os.fchmod(fd, OWNER_ONLY_FILE)
    os.close(fd)
    return p


def write_private(path: str | Path, data: bytes | str, encoding: str = "utf-8") -> Path:
    """Write ``data`` to ``path`` as an owner-only file (0600), atomically: a temporary file
    created 0600 beside it, then renamed over it, so the content is never readable by others,
    not even for a moment, and a crash leaves the old file or the new one."""
    p = Path(path)
    raw = data.encode(encoding) if isinstance(data, str) else bytes(data)
    tmp = p.with_name(f".{p.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, OWNER_ONLY_FILE)
    try:
        os.fchmod(fd, OWNER_ONLY_FILE)
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return p


def output_problem(path: str | Path) -> str | None:
    """Why ``path`` cannot receive an output file (one sentence), or None when it can: checked
    before long work starts, so a finished analysis is not lost to a typo in ``--json``."""
    p = Path(path)
    if str(path).endswith(("/", os.sep)) or p.is_dir():
        return f"{p}: is a folder; give a file name for the output"
    parent = p.absolute().parent
    if not parent.exists():
        return f"{p}: the folder {parent} does not exist"
    if not parent.is_dir():
        return f"{p}: {parent} is not a folder"
    if p.exists() and not p.is_file():
        return f"{p}: is not a regular file"
    if p.exists() and not os.access(p, os.W_OK):
        return f"{p}: the file is read-only"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"{p}: the folder {parent} is read-only"
    return None


def sqlite_files(db_path: str | Path) -> list[Path]:
    """The database file and whichever SQLite side files exist beside it."""
    p = Path(db_path)
    return [f for f in [p, *(p.with_name(p.name + s) for s in SQLITE_SIDE_SUFFIXES)] if f.exists()]


def loose_files(folder: str | Path) -> list[tuple[Path, int]]:
    """Every file (and sub-folder) under ``folder`` that group or others can access, with its mode."""
    root = Path(folder)
    out = []
    for p in [root, *sorted(root.rglob("*"))]:
        mode = stat.S_IMODE(p.lstat().st_mode)
        if p == root:
            continue  # the folder itself may be one the user chose and shares
        if mode & GROUP_OTHER_BITS:
            out.append((p, mode))
    return out


def scan_bytes(paths: Iterable[str | Path], needles: Mapping[str, bytes]) -> dict[str, list[str]]:
    """``{needle name: [files containing it]}`` for the needles found (files or folders, recursive)."""
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files += [f for f in sorted(p.rglob("*")) if f.is_file()]
        elif p.is_file():
            files.append(p)
    found: dict[str, list[str]] = {}
    for f in files:
        data = f.read_bytes()
        for name, needle in needles.items():
            if needle and needle in data:
                found.setdefault(name, []).append(str(f))
    return found


# --------------------------------------------------------------------------- network


class NetworkBlocked(OSError):
    """Raised by :func:`block_network` instead of connecting."""


@dataclass
class NetworkAttempts:
    """What tried to connect while :func:`block_network` was active."""

    attempts: list[tuple[str, str]] = field(default_factory=list)  # (call, target)

    def __bool__(self) -> bool:
        return bool(self.attempts)


@contextmanager
def block_network(allow_unix: bool = False) -> Iterator[NetworkAttempts]:
    """Make every Python-level network call fail (and record it) inside the block.

    Patched: ``socket.socket.connect`` / ``connect_ex`` / ``sendto``, ``socket.create_connection``,
    ``socket.getaddrinfo``, ``socket.gethostbyname`` / ``gethostbyname_ex``. ``allow_unix``: let
    AF_UNIX sockets (local IPC, not network) through. Only this process is covered: a child
    process (e.g. the spawned embedding worker) starts with the real socket module.
    """
    record = NetworkAttempts()
    real = {
        "connect": socket.socket.connect,
        "connect_ex": socket.socket.connect_ex,
        "sendto": socket.socket.sendto,
        "create_connection": socket.create_connection,
        "getaddrinfo": socket.getaddrinfo,
        "gethostbyname": socket.gethostbyname,
        "gethostbyname_ex": socket.gethostbyname_ex,
    }

    def refuse(call: str, target: Any) -> None:
        record.attempts.append((call, repr(target)))
        raise NetworkBlocked(f"network use blocked: {call}({target!r})")

    def method(call: str) -> Any:
        def guarded(self: socket.socket, *args: Any, **kwargs: Any) -> Any:
            if allow_unix and self.family == getattr(socket, "AF_UNIX", None):
                return real[call](self, *args, **kwargs)
            refuse(call, args[-1] if args else kwargs)

        return guarded

    def function(call: str) -> Any:
        def guarded(*args: Any, **kwargs: Any) -> Any:
            refuse(call, args[0] if args else kwargs)

        return guarded

    socket.socket.connect = method("connect")  # type: ignore[method-assign]
    socket.socket.connect_ex = method("connect_ex")  # type: ignore[method-assign]
    socket.socket.sendto = method("sendto")  # type: ignore[method-assign]
    for name in ("create_connection", "getaddrinfo", "gethostbyname", "gethostbyname_ex"):
        setattr(socket, name, function(name))
    try:
        yield record
    finally:
        for name in ("connect", "connect_ex", "sendto"):
            setattr(socket.socket, name, real[name])
        for name in ("create_connection", "getaddrinfo", "gethostbyname", "gethostbyname_ex"):
            setattr(socket, name, real[name])


# --------------------------------------------------------------------------- third-party caches


class _NoPyplot(types.ModuleType):
    """Stands in for matplotlib.pyplot inside mediapipe's drawing helpers (never called by us)."""

    def __getattr__(self, name: str) -> Any:
        raise ImportError("matplotlib.pyplot was kept out of this process by detectors.privacy.without_matplotlib")


@contextmanager
def without_matplotlib() -> Iterator[None]:
    """Import mediapipe's ``solutions`` inside this block without importing matplotlib.

    ``mediapipe.python.solutions`` imports ``drawing_utils``, which does ``import
    matplotlib.pyplot``; that import creates ``~/.config/matplotlib`` and writes a font cache in
    ``~/.cache/matplotlib`` (or a temporary folder). Inside the block both names resolve to
    stand-ins; afterwards they are removed again, so a later real ``import matplotlib`` (a
    script that plots) gets the real package. Does nothing when matplotlib is already imported.

    The same block keeps ``sounddevice`` out (:func:`without_sound_probe`): mediapipe's audio
    task imports it, and its import runs ``ldconfig -p`` and gcc (``ctypes.util.find_library``)
    to look for PortAudio, writing and deleting temporary files in ``TMPDIR`` on every analysis.
    """
    with without_sound_probe():
        if "matplotlib" in sys.modules:
            yield
            return
        with _matplotlib_stubbed():
            yield


@contextmanager
def without_sound_probe() -> Iterator[None]:
    """Inside the block ``import sounddevice`` fails at once with ImportError (mediapipe's
    ``audio_record`` catches it and leaves audio recording off, which Telltale never uses)
    instead of probing the system for PortAudio. An already imported sounddevice is kept."""
    if "sounddevice" in sys.modules:
        yield
        return
    sys.modules["sounddevice"] = None  # type: ignore[assignment]  # import -> ImportError
    try:
        yield
    finally:
        if "sounddevice" in sys.modules and sys.modules["sounddevice"] is None:
            del sys.modules["sounddevice"]


@contextmanager
def _matplotlib_stubbed() -> Iterator[None]:
    stub_pkg = types.ModuleType("matplotlib")
    stub_pkg.__path__ = []  # type: ignore[attr-defined]
    stub_plt = _NoPyplot("matplotlib.pyplot")
    stub_pkg.pyplot = stub_plt  # type: ignore[attr-defined]
    sys.modules["matplotlib"] = stub_pkg
    sys.modules["matplotlib.pyplot"] = stub_plt
    try:
        yield
    finally:
        for name, stub in (("matplotlib.pyplot", stub_plt), ("matplotlib", stub_pkg)):
            if sys.modules.get(name) is stub:
                del sys.modules[name]
