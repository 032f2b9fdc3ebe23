"""Labelled manifests: rows, the grouped fold of each row, and the family it is reported under.

A manifest is a CSV with columns ``path`` (relative to the CSV's folder), ``kind`` (video|image),
``label`` (real|fake) and optionally ``manipulation``, ``source`` and ``group``
(``manifest.csv``, ``manifest_more.csv`` and ``manifest_photos.csv`` in ../shared/media share
them). Files that show the same footage or person share a ``group``; the fold comes from
:mod:`detectors.folds`, the same assignment the training scripts use for their per-fold models.

A label found wrong by looking at the file is corrected here, not in the shared manifests:
``label_corrections.csv`` beside this module names the row (its path and the start of its source,
so a re-encoded copy of the same footage is corrected too), the label and manipulation it really
has, when it was looked at and why. Every reader of the manifests (``telltale eval``, the training
recipes) applies it through :func:`corrected`, and ``telltale eval`` lists the rows it corrected.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from ..folds import N_FOLDS, fold_of, group_key

KINDS = ("video", "image")


@dataclass(frozen=True)
class Row:
    path: Path
    kind: str  # video | image
    label: int  # 1 = fake, 0 = real
    manipulation: str  # short form: none, faceswap, lipsync, talking-head, generated, reuse, ...
    group: str  # the unit kept in one fold (manifest group, else source, else file name)
    family: str  # what the figures are broken down by (see family_of)
    manifest: str  # the CSV the row came from
    correction: str = ""  # why this project relabelled the row (label_corrections.csv), else empty

    def fold(self, k: int = N_FOLDS) -> int:
        return fold_of(self.group, k)

    @property
    def label_name(self) -> str:
        return "fake" if self.label else "real"


def short_manipulation(manipulation: str) -> str:
    """'faceswap (FaceForensics++ ...)' -> 'faceswap'; 'reuse-of:x (...)' -> 'reuse'."""
    head = manipulation.split("(")[0].strip()
    return "reuse" if head.startswith("reuse-of") else (head or "none")


def family_of(kind: str, manipulation: str, source: str, group: str) -> str:
    """The family a file is reported under: the tool or data set behind it, real files included.

    Videos: DeepFaceLive, GHOST, FaceForensics/DFDC, talking heads (VASA-1, SadTalker), lip-sync
    (HyperLips, Wav2Lip), else the source repository. Photos: their manifest group (generator or
    real source), re-published copies as 'photo reuse'.
    """
    src = source.lower()
    short = short_manipulation(manipulation)
    if kind == "image":
        if short == "reuse":
            return "photo reuse"
        head = group.split(":")[0] if group else ""
        return f"photo {head or short}"
    if "deepfacelive" in src:
        return "DeepFaceLive"
    if "ai-forever/ghost" in src:
        return "GHOST"
    if "faceforensics" in src or "dfdc" in src:
        return "FaceForensics/DFDC"
    if short == "talking-head" or "v-express" in src or "sadtalker" in src:
        return "talking head (VASA-1/SadTalker)"
    if short == "lipsync" or "hyperlips" in src or "wav2lip" in src:
        return "lip-sync (HyperLips/Wav2Lip)"
    repo = "/".join(source.split()[0].split("/")[:2]) if source.strip() else ""
    return repo or "other"


CORRECTIONS = Path(__file__).with_name("label_corrections.csv")


@lru_cache(maxsize=1)
def _corrections() -> tuple[dict[str, str], ...]:
    with CORRECTIONS.open(newline="", encoding="utf-8") as fh:
        return tuple(csv.DictReader(fh))


def corrected(raw: Mapping[str, str]) -> tuple[dict[str, str], str]:
    """A manifest row (as csv.DictReader gives it) with this project's correction applied, and why
    (empty when no correction names it): same path, and a source that starts with the correction's."""
    row = dict(raw)
    path, source = (row.get("path") or "").strip(), (row.get("source") or "").strip()
    for fix in _corrections():
        if path == fix["path"] and source.startswith(fix["source"]):
            row["label"], row["manipulation"] = fix["label"], fix["manipulation"]
            return row, f"{fix['path']}: {fix['why']} (looked at {fix['seen']})"
    return row, ""


def read_manifest(manifest: str | Path) -> list[Row]:
    """The rows of one manifest. ValueError names the row when a label or kind is not understood."""
    base = Path(manifest).resolve().parent
    rows = []
    with open(manifest, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or "path" not in reader.fieldnames or "label" not in reader.fieldnames:
            raise ValueError(f"{manifest}: needs at least the columns path and label (has {reader.fieldnames})")
        for line, given in enumerate(reader, start=2):
            raw, why = corrected(given)
            path = (raw.get("path") or "").strip()
            label = (raw.get("label") or "").strip().lower()
            kind = (raw.get("kind") or "video").strip().lower()
            if not path:
                raise ValueError(f"{manifest}: line {line} has no path")
            if label not in ("real", "fake"):
                raise ValueError(f"{manifest}: row {path!r} has label {label!r} (expected real or fake)")
            if kind not in KINDS:
                raise ValueError(f"{manifest}: row {path!r} has kind {kind!r} (expected video or image)")
            manipulation = (raw.get("manipulation") or "none").strip() or "none"
            source = (raw.get("source") or "").strip()
            group = group_key(raw.get("group"), source, path)
            rows.append(Row(
                path=base / path,
                kind=kind,
                label=int(label == "fake"),
                manipulation=short_manipulation(manipulation),
                group=group,
                family=family_of(kind, manipulation, source, group),
                manifest=str(manifest),
                correction=why,
            ))
    return rows


def read_manifests(manifests: Sequence[str | Path], kinds: Iterable[str] | None = None) -> list[Row]:
    """Rows of several manifests, each file once (the first manifest naming it wins)."""
    wanted = set(kinds) if kinds else set(KINDS)
    seen: set[Path] = set()
    out = []
    for manifest in manifests:
        for row in read_manifest(manifest):
            if row.kind in wanted and row.path not in seen:
                seen.add(row.path)
                out.append(row)
    return out
