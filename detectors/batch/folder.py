"""A batch folder: one subfolder per candidate, its name the candidate's name.

Inside a candidate's folder (subfolders included, hidden files skipped):

* photos (recognised by content, whatever their extension) are the candidate's photos; a photo
  whose file name starts with ``id``, ``passport``, ``license``/``licence`` or ``driver``
  followed by a separator, a digit or the end of the name (``id.jpg``, ``ID-front.png``,
  ``passport_2.jpg``; not ``idris.jpg``) is an ID photo;
* a manifest CSV (any ``*.csv`` with the columns ``file`` and ``role``; role ``id``, ``photo``,
  ``video`` or ``ignore``) overrides the roles of the files it names;
* every other file is taken as a recording; one that is not (a text file, a damaged video) is
  named in the candidate's report with the problem, as ``telltale analyze`` does.

Each file's SHA-256 is part of the scan: a candidate whose files (role and content) are those
of its stored analysis is not analysed again (see :func:`inputs_key`).
"""

from __future__ import annotations

import csv
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from ..store.sqlite import file_sha256
from ..media import is_image_file

log = logging.getLogger(__name__)

ID_NAME = re.compile(r"^(id|passport|licen[cs]e|driver)([\W_\d]|$)", re.IGNORECASE)
"""File names that mark an ID photo."""

ROLES = ("id", "photo", "video")
MANIFEST_ROLES = ROLES + ("ignore",)


@dataclass(frozen=True)
class InputFile:
    path: str  # absolute
    role: str  # "id", "photo" or "video"
    sha256: str
    size: int


@dataclass(frozen=True)
class CandidateFolder:
    """One candidate of the batch, as found on disk."""

    name: str
    folder: str
    files: tuple[InputFile, ...]

    def of_role(self, *roles: str) -> list[InputFile]:
        return [f for f in self.files if f.role in roles]

    @property
    def recordings(self) -> list[InputFile]:
        return self.of_role("video")

    @property
    def photos(self) -> list[InputFile]:
        return self.of_role("id", "photo")

    def inputs_key(self) -> list[list[str]]:
        return inputs_key(self.files)


def inputs_key(files: tuple[InputFile, ...] | list[InputFile]) -> list[list[str]]:
    """What makes an analysis reusable: each file's role and content hash (names and places
    may change). Stored in the report under ``batch.inputs``."""
    return sorted([f.role, f.sha256] for f in files)


class BatchFolderError(Exception):
    """The batch folder cannot be used (missing, not a folder, no candidate subfolders)."""


def _manifest_roles(folder: Path) -> dict[Path, str]:
    roles: dict[Path, str] = {}
    for csv_path in sorted(folder.rglob("*.csv")):
        try:
            with open(csv_path, newline="", encoding="utf-8-sig") as fh:
                reader = csv.DictReader(fh)
                fields = {f.strip().lower() for f in reader.fieldnames or []}
                if not {"file", "role"} <= fields:
                    continue
                for row in reader:
                    row = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
                    role = row.get("role", "").lower()
                    if not row.get("file") or role not in MANIFEST_ROLES:
                        log.warning("%s: row %s ignored (role must be one of %s)", csv_path, row, MANIFEST_ROLES)
                        continue
                    roles[(csv_path.parent / row["file"]).resolve()] = role
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            log.warning("%s: manifest not readable (%s)", csv_path, exc)
    return roles


def _is_manifest(path: Path) -> bool:
    if path.suffix.lower() != ".csv":
        return False
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            header = next(csv.reader(fh), [])
    except (OSError, UnicodeDecodeError, csv.Error):
        return False
    return {"file", "role"} <= {h.strip().lower() for h in header}


def role_of(path: Path, manifest: dict[Path, str]) -> str:
    """The role of one file: the manifest's, else photo/ID by content and name, else video."""
    given = manifest.get(path.resolve())
    if given is not None:
        return given
    if is_image_file(path):
        return "id" if ID_NAME.match(path.name) else "photo"
    return "video"


def scan_candidate(folder: Path) -> CandidateFolder:
    manifest = _manifest_roles(folder)
    files = []
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder)
        if not p.is_file() or any(part.startswith(".") for part in rel.parts) or _is_manifest(p):
            continue
        role = role_of(p, manifest)
        if role == "ignore":
            continue
        try:
            sha, size = file_sha256(p)
        except OSError as exc:  # unreadable: the analysis names it with the problem
            log.warning("%s: %s", p, exc)
            sha, size = f"unreadable:{p.name}", 0
        files.append(InputFile(str(p.absolute()), role, sha, size))
    return CandidateFolder(folder.name, str(folder.absolute()), tuple(files))


def scan_folder(folder: str | Path, skip: Path | None = None) -> list[CandidateFolder]:
    """Every candidate subfolder of ``folder`` (sorted by name). ``skip``: a subfolder to
    leave out (the output folder, when it is inside the batch folder)."""
    root = Path(folder)
    if not root.is_dir():
        raise BatchFolderError(f"{root}: not a folder")
    out = []
    for sub in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if skip is not None and sub.resolve() == skip.resolve():
            continue
        cand = scan_candidate(sub)
        if not cand.files:
            log.warning("%s: no files, skipped", sub)
            continue
        out.append(cand)
    loose = [p.name for p in root.iterdir() if p.is_file() and not p.name.startswith(".")]
    if loose:
        log.warning("%s: %d file(s) outside candidate subfolders ignored: %s", root, len(loose), ", ".join(loose[:5]))
    if not out:
        raise BatchFolderError(f"{root}: no candidate subfolders with files (one subfolder per candidate)")
    return out
