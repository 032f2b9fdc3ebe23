"""Per-file check outputs on disk, so that a second evaluation of the same files is cheap.

An entry is keyed by the file's content (SHA-256) and by a fingerprint of everything that
could change the checks' outputs: the engine's code (every ``detectors/**/*.py`` except
``NOT_ENGINE``: the evaluation and fusion that run after the cache, the case store and the
commands), the shipped models in
``assets/models/``, the per-fold model files used for the file's fold, the locked package
versions (``uv.lock``) and the settings. Change any of them and the entry is not found, so the
file is analysed again. Entries are small JSON files (risks, confidences, summaries), written
atomically; a damaged entry counts as missing.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Mapping

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CACHE_DIR = ROOT / "out" / "eval-cache"

NOT_ENGINE = (
    "detectors/evaluate.py", "detectors/scoring.py", "detectors/evaluation/",  # run after the cache
    "detectors/store/", "detectors/library_cli.py", "detectors/watchlist.py",
    "detectors/privacy.py", "detectors/batch/", "detectors/bench.py", "detectors/cli.py",  # not run per file
)
"""Code that cannot change a file's check outputs in an evaluation: the fusion, fitting and
reporting that run after the cache, and the case store, batch, bench and command-line code
(an evaluation analyses each file with no case store). Changing it keeps the entries."""

MODELS_SUBDIR = Path("assets") / "models"
LOCK_FILES = ("uv.lock",)
CHUNK = 1 << 20


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file's bytes (streamed in 1 MB chunks)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _digest_files(files: Iterable[Path], root: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(files):
        h.update(str(f.relative_to(root) if f.is_relative_to(root) else f).encode("utf-8"))
        h.update(b"\0")
        h.update(file_digest(f).encode("ascii"))
    return h.hexdigest()


def _excluded(rel: str) -> bool:
    return any(rel.startswith(n) if n.endswith("/") else rel == n for n in NOT_ENGINE)


def engine_files(root: Path = ROOT) -> list[Path]:
    """The files whose content decides the checks' outputs."""
    files = [f for f in (root / "detectors").rglob("*.py") if not _excluded(f.relative_to(root).as_posix())]
    models = root / MODELS_SUBDIR
    if models.is_dir():
        files += [f for f in models.rglob("*") if f.is_file()]
    files += [root / name for name in LOCK_FILES if (root / name).is_file()]
    return files


@lru_cache(maxsize=2)
def engine_fingerprint(root: str = str(ROOT)) -> str:
    """One hash of the engine's code, shipped models and locked packages (computed once per run)."""
    base = Path(root)
    return _digest_files(engine_files(base), base)


def fold_fingerprint(folder: str | Path | None, fold: int | None) -> str:
    """Hash of the per-fold model files fold ``fold`` uses (``*_fold<k>.*`` in ``folder``); '' without."""
    if folder is None or fold is None:
        return ""
    files = [f for f in Path(folder).glob(f"*_fold{fold}.*") if f.is_file()]
    return _digest_files(files, Path(folder)) if files else "no-fold-models"


class ResultCache:
    """``get(key)`` / ``put(key, value)`` of JSON entries in a folder; ``None`` folder = no cache."""

    def __init__(self, folder: str | Path | None = DEFAULT_CACHE_DIR) -> None:
        self.folder = None if folder is None else Path(folder)
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(content: str, engine: str, fold_models: str, settings: Mapping[str, Any]) -> str:
        h = hashlib.sha256()
        for part in (engine, fold_models, json.dumps(dict(settings), sort_keys=True)):
            h.update(part.encode("utf-8"))
            h.update(b"\0")
        return f"{content[:24]}-{h.hexdigest()[:24]}"

    def _path(self, key: str) -> Path:
        assert self.folder is not None
        return self.folder / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        if self.folder is None:
            return None
        p = self._path(key)
        try:
            value = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self.misses += 1
            return None
        self.hits += 1
        return value

    def put(self, key: str, value: Mapping[str, Any]) -> None:
        if self.folder is None:
            return
        p = self._path(key)
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=p.parent, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(value, fh)
        os.replace(tmp, p)
