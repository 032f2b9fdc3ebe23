"""Grouped folds shared by every evaluation and training script.

Nothing fitted on a clip may score that clip, nor anything of the same footage: files that
share a manifest ``group`` (a swap and its own real input, a re-voiced clip and its source)
always fall in one fold. The fold of a group is a stable hash of its name, so the evaluation
(`telltale eval --cv group`) and the training scripts that fit models per fold agree on which
files each fold model may score, without passing lists around.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

N_FOLDS = 5
"""Default number of folds."""


def group_key(group: str | None, source: str | None, path: str | Path) -> str:
    """The unit that stays in one fold: the manifest's group, else its source file, else the path."""
    for value in (group, source):
        if value and value.strip():
            return value.strip()
    return Path(path).name


def fold_of(group: str, k: int = N_FOLDS) -> int:
    """The fold (0..k-1) of a group: a stable hash, the same on every machine and run."""
    if k < 2:
        raise ValueError(f"need at least 2 folds, got {k}")
    digest = hashlib.sha1(group.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % k
