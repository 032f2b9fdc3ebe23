"""Watchlists: face embeddings, voice prints and perceptual hashes of known fake personas,
without photos or audio.

A hiring team that caught a fake candidate can share what Telltale needs to recognise the same
face, the same voice or the same photo again, and nothing a person could look at or listen to:
no image bytes, no audio, no file paths or file names, no candidate names. The format is documented (versioned) in
``docs/watchlist-format.md``; :class:`Watchlist` reads and writes it and refuses anything it
does not understand. :meth:`detectors.store.sqlite.Library.export_watchlist` builds one from chosen
candidates or a collection; :meth:`detectors.store.sqlite.Library.import_watchlist` stores one as a
reference collection that every search (and the reuse and voice checks) then looks at.

Version 2 of the format adds voice prints: an interview entry may carry ``voices``, a list of
``{"embedding": [256 numbers], "speech_s": seconds}`` (the candidate's GE2E voice print of that
recording, :data:`VOICE_MODEL`), and needs at least one face or one voice. A watchlist without
voice prints is written as version 1, exactly as before, so older readers still take it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from . import hashing, privacy

log = logging.getLogger(__name__)

FORMAT = "telltale-watchlist"
VERSION = 2
"""Newest format version (voice prints); readers accept versions up to this one (see
docs/watchlist-format.md). A watchlist without voice prints is written as version 1."""
VOICE_VERSION = 2
"""The first version that may carry voice prints."""

EMBEDDING_DIMS = 128
EMBEDDING_DECIMALS = 7
"""Decimals kept per embedding value (dlib values are about ±0.3; 1e-7 changes no distance)."""
MAX_ENTRIES = 100_000
"""A file with more entries is refused (protects the importer from a runaway file)."""
MAX_FILE_BYTES = 400 * 1024 * 1024
"""A larger file is refused before it is parsed (a 100,000-entry list with one face per entry
is about 160 MB; the check reads at most this many bytes, so /dev/zero cannot run away)."""
MAX_FACES_PER_ENTRY = 64
VOICE_DIMS = 256
MAX_VOICES_PER_ENTRY = 64
MAX_SPEECH_S = 100_000.0
"""Longest speech a voice print may claim (seconds)."""
MAX_SEGMENTS_PER_ENTRY = 4 * hashing.CROP_MAX_SEGMENTS
MAX_LABEL_CHARS = 200
MAX_NOTE_CHARS = 2_000
MAX_IMAGE_SIDE = 1_000_000
"""Largest width/height (px) an entry may claim."""
MAX_INT_DIGITS = 20
"""Longest whole number accepted anywhere in the file (a 64-bit value has at most 20 digits):
a longer one is refused while parsing, before it becomes a huge Python int."""
MAX_NESTING = 8
"""The format nests at most 5 levels deep; a deeper file is refused before it is parsed."""
KINDS = ("photo", "interview")
ROLES = ("id", "photo", "video")
EMBEDDING_MODEL = "dlib_face_recognition_resnet_model_v1 (face_recognition 1.3), 128 float32, Euclidean; same person < 0.6"
VOICE_MODEL = ("Resemblyzer GE2E speaker encoder (ONNX, detectors/voice.py), 256 float32, unit length, "
               "mean of the candidate's speech partials; cosine distance, same voice <= 0.15")
HASH_DESCRIPTION = (
    "64-bit perceptual hashes as 16 hex digits: phash/dhash of the whole image (imagehash 8x8), "
    "phash_trim/dhash_trim of the image with uniform borders trimmed, segments = pHashes of crop "
    "tiles, face_hash = pHash of the eye-aligned face crop (detectors/hashing.py)"
)


class WatchlistError(ValueError):
    """The file is not a watchlist this Telltale can read (the message says why)."""


def _hex(value: int) -> str:
    return f"{hashing.to_unsigned(int(value)) & ((1 << 64) - 1):016x}"


def _unhex(text: Any, what: str) -> int:
    if not isinstance(text, str) or len(text) != 16:
        raise WatchlistError(f"{what}: expected 16 hex digits, got {text!r}")
    try:
        return int(text, 16)
    except ValueError as exc:
        raise WatchlistError(f"{what}: not hexadecimal: {text!r}") from exc


def _write_embedding(embedding: np.ndarray) -> list[float]:
    return [round(float(v), EMBEDDING_DECIMALS) for v in np.asarray(embedding, np.float32)]


def _read_embedding(d: Mapping[str, Any], dims: int, where: str, nonzero: bool = False) -> np.ndarray:
    """``d["embedding"]``: a list of ``dims`` finite numbers (and not all zero with ``nonzero``)."""
    emb = d.get("embedding")
    if not isinstance(emb, list) or len(emb) != dims:
        raise WatchlistError(f"{where}: embedding must be a list of {dims} numbers")
    try:
        arr = np.asarray([float(v) for v in emb], dtype=np.float32)
    except (TypeError, ValueError, OverflowError) as exc:
        raise WatchlistError(f"{where}: embedding holds a non-number") from exc
    if not np.all(np.isfinite(arr)) or (nonzero and not np.any(arr)):
        raise WatchlistError(f"{where}: embedding holds a non-finite number" + (" or only zeros" if nonzero else ""))
    return arr


@dataclass(frozen=True)
class WatchFace:
    embedding: np.ndarray  # (128,) float32
    face_hash: int | None = None  # unsigned 64-bit

    def to_dict(self) -> dict[str, Any]:
        return {
            "embedding": _write_embedding(self.embedding),
            "face_hash": _hex(self.face_hash) if self.face_hash is not None else None,
        }

    @classmethod
    def from_dict(cls, d: Any, where: str) -> "WatchFace":
        if not isinstance(d, Mapping):
            raise WatchlistError(f"{where}: a face must be an object")
        arr = _read_embedding(d, EMBEDDING_DIMS, where)
        fh = d.get("face_hash")
        return cls(arr, _unhex(fh, f"{where}.face_hash") if fh is not None else None)


@dataclass(frozen=True)
class WatchVoice:
    """A recording's voice print (never audio) and the seconds of speech behind it."""

    embedding: np.ndarray  # (256,) float32
    speech_s: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "embedding": _write_embedding(self.embedding),
            "speech_s": round(float(self.speech_s), 2),
        }

    @classmethod
    def from_dict(cls, d: Any, where: str) -> "WatchVoice":
        if not isinstance(d, Mapping):
            raise WatchlistError(f"{where}: a voice must be an object")
        arr = _read_embedding(d, VOICE_DIMS, where, nonzero=True)
        speech = d.get("speech_s")
        if isinstance(speech, bool) or not isinstance(speech, (int, float)) or not 0 < float(speech) <= MAX_SPEECH_S:
            raise WatchlistError(f"{where}: speech_s must be a number of seconds from 0 to {MAX_SPEECH_S:g}")
        return cls(arr, float(speech))


@dataclass(frozen=True)
class WatchEntry:
    """One photo (hashes and its faces) or one interview recording (faces and voice prints)."""

    kind: str  # "photo" | "interview"
    role: str  # "id" | "photo" | "video"
    persona: int  # entries with the same number came from the same candidate (1, 2, ...); 0 = unknown
    faces: tuple[WatchFace, ...] = ()
    hashes: Mapping[str, int] | None = None  # WHOLE_HASH_KINDS -> unsigned 64-bit
    segments: tuple[int, ...] = ()
    width: int | None = None
    height: int | None = None
    sha256: str | None = None
    voices: tuple[WatchVoice, ...] = ()  # interview entries only (format version 2)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"kind": self.kind, "role": self.role, "persona": self.persona}
        if self.kind == "photo":
            d["width"], d["height"] = self.width, self.height
            d["sha256"] = self.sha256 or None
            d["hashes"] = {k: _hex(v) for k, v in (self.hashes or {}).items()}
            d["segments"] = [_hex(v) for v in self.segments]
        d["faces"] = [f.to_dict() for f in self.faces]
        if self.voices:
            d["voices"] = [v.to_dict() for v in self.voices]
        return d

    @classmethod
    def from_dict(cls, d: Any, where: str) -> "WatchEntry":
        if not isinstance(d, Mapping):
            raise WatchlistError(f"{where}: an entry must be an object")
        kind, role = d.get("kind"), d.get("role")
        if kind not in KINDS:
            raise WatchlistError(f"{where}: kind must be one of {KINDS}, not {kind!r}")
        if role not in ROLES:
            raise WatchlistError(f"{where}: role must be one of {ROLES}, not {role!r}")
        persona = d.get("persona", 0)
        if not isinstance(persona, int) or isinstance(persona, bool) or not 0 <= persona <= MAX_ENTRIES:
            raise WatchlistError(f"{where}: persona must be a whole number from 0 to {MAX_ENTRIES}")
        faces_raw = d.get("faces", [])
        if not isinstance(faces_raw, list):
            raise WatchlistError(f"{where}: faces must be a list")
        if len(faces_raw) > MAX_FACES_PER_ENTRY:
            raise WatchlistError(f"{where}: {len(faces_raw)} faces; at most {MAX_FACES_PER_ENTRY} per entry are accepted")
        faces = tuple(WatchFace.from_dict(f, f"{where}.faces[{i}]") for i, f in enumerate(faces_raw))
        voices_raw = d.get("voices", [])
        if not isinstance(voices_raw, list):
            raise WatchlistError(f"{where}: voices must be a list")
        if len(voices_raw) > MAX_VOICES_PER_ENTRY:
            raise WatchlistError(f"{where}: {len(voices_raw)} voices; at most {MAX_VOICES_PER_ENTRY} per entry are accepted")
        voices = tuple(WatchVoice.from_dict(v, f"{where}.voices[{i}]") for i, v in enumerate(voices_raw))
        if kind == "interview":
            if not faces and not voices:
                raise WatchlistError(f"{where}: an interview entry needs at least one face or voice")
            return cls(kind, role, persona, faces, voices=voices)
        if voices:
            raise WatchlistError(f"{where}: only interview entries carry voices")
        hashes_raw = d.get("hashes")
        if not isinstance(hashes_raw, Mapping) or set(hashes_raw) != set(hashing.WHOLE_HASH_KINDS):
            raise WatchlistError(f"{where}: hashes must have exactly {', '.join(hashing.WHOLE_HASH_KINDS)}")
        hashes = {k: _unhex(hashes_raw[k], f"{where}.hashes.{k}") for k in hashing.WHOLE_HASH_KINDS}
        segs_raw = d.get("segments", [])
        if not isinstance(segs_raw, list) or len(segs_raw) > MAX_SEGMENTS_PER_ENTRY:
            raise WatchlistError(f"{where}: segments must be a list of at most {MAX_SEGMENTS_PER_ENTRY}")
        segments = tuple(_unhex(v, f"{where}.segments[{i}]") for i, v in enumerate(segs_raw))
        sha = d.get("sha256")
        if sha is not None and (not isinstance(sha, str) or len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha)):
            raise WatchlistError(f"{where}: sha256 must be 64 lowercase hex digits or null")
        w, h = d.get("width"), d.get("height")
        for v, n in ((w, "width"), (h, "height")):
            if v is not None and (not isinstance(v, int) or isinstance(v, bool) or not 0 < v <= MAX_IMAGE_SIDE):
                raise WatchlistError(f"{where}: {n} must be a whole number from 1 to {MAX_IMAGE_SIDE} or null")
        return cls(kind, role, persona, faces, hashes, segments, w, h, sha)

    def encoded(self) -> hashing.Encoded:
        """The entry as the library stores a photo (no keypoints: the file carries none)."""
        faces = tuple(hashing.FaceCode((0, 0, 0, 0), f.embedding, f.face_hash) for f in self.faces)
        return hashing.Encoded(self.width or 0, self.height or 0, dict(self.hashes or {}), tuple(self.segments),
                               faces, None, self.sha256)


@dataclass(frozen=True)
class Watchlist:
    label: str
    created_at: str  # ISO-8601 UTC
    entries: tuple[WatchEntry, ...]
    version: int = VERSION
    note: str = ""
    source: Mapping[str, Any] = field(default_factory=dict)  # {"candidates": n} or {"collection": True}

    @property
    def personas(self) -> int:
        return len({e.persona for e in self.entries if e.persona})

    @property
    def voices(self) -> int:
        """Voice prints in all entries."""
        return sum(len(e.voices) for e in self.entries)

    @property
    def format_version(self) -> int:
        """The version written: the lowest that holds what the entries carry (1 without voices)."""
        return VOICE_VERSION if self.voices else 1

    def to_dict(self) -> dict[str, Any]:
        d = {
            "format": FORMAT,
            "version": self.format_version,
            "label": self.label,
            "created_at": self.created_at,
            "note": self.note,
            "source": dict(self.source),
            "embedding_model": EMBEDDING_MODEL,
            "hashes": HASH_DESCRIPTION,
            "entries": [e.to_dict() for e in self.entries],
        }
        if self.voices:
            d["voice_model"] = VOICE_MODEL
        return d

    def to_json(self) -> str:
        """The header indented, one entry per line (a diff shows which entries changed)."""
        d = self.to_dict()
        entries = d.pop("entries")
        head = json.dumps(d, indent=1, ensure_ascii=False)[: -len("\n}")]
        body = ",\n  ".join(json.dumps(e, ensure_ascii=False, separators=(",", ":")) for e in entries)
        return head + ',\n "entries": [' + (f"\n  {body}\n ]" if entries else "]") + "\n}\n"

    def write(self, path: str | Path) -> Path:
        """Write the file owner-only (0600): it holds biometric data."""
        return privacy.write_private(path, self.to_json())

    @classmethod
    def from_dict(cls, d: Any) -> "Watchlist":
        if not isinstance(d, Mapping) or d.get("format") != FORMAT:
            raise WatchlistError(f"not a Telltale watchlist (format must be {FORMAT!r})")
        version = d.get("version")
        if not isinstance(version, int) or version < 1:
            raise WatchlistError(f"version must be a whole number >= 1, got {version!r}")
        if version > VERSION:
            raise WatchlistError(f"written by a newer Telltale (watchlist version {version}, this one reads up to {VERSION})")
        label = d.get("label")
        if not isinstance(label, str) or not label.strip():
            raise WatchlistError("label must be a non-empty string")
        label = _checked_text(label, "label", MAX_LABEL_CHARS)
        note = d.get("note") or ""
        if not isinstance(note, str):
            raise WatchlistError("note must be a string")
        if len(note) > MAX_NOTE_CHARS:
            raise WatchlistError(f"note is {len(note)} characters long; at most {MAX_NOTE_CHARS} are accepted")
        created = d.get("created_at")
        try:
            if not isinstance(created, str) or len(created) > 40:
                raise ValueError(created)
            datetime.fromisoformat(created)
        except ValueError as exc:
            raise WatchlistError(f"created_at must be an ISO-8601 time, got {created!r}") from exc
        entries = d.get("entries")
        if not isinstance(entries, list):
            raise WatchlistError("entries must be a list")
        if len(entries) > MAX_ENTRIES:
            raise WatchlistError(f"{len(entries)} entries; at most {MAX_ENTRIES} are accepted")
        parsed = tuple(WatchEntry.from_dict(e, f"entries[{i}]") for i, e in enumerate(entries))
        if version < VOICE_VERSION and any(e.voices for e in parsed):
            raise WatchlistError(f"voices appear in a version {version} watchlist; they need version {VOICE_VERSION}")
        src_raw = d.get("source") if isinstance(d.get("source"), Mapping) else {}
        src = {str(k)[:40]: v for k, v in list(src_raw.items())[:8] if isinstance(v, (bool, int)) and abs(int(v)) <= MAX_ENTRIES}
        return cls(label, str(created), parsed, version, note, src)

    @classmethod
    def read(cls, path: str | Path) -> "Watchlist":
        """Read and check a watchlist file. Refused with a WatchlistError (one sentence) before
        parsing: anything but a regular file (``/dev/zero``, a folder, a pipe), a file over
        :data:`MAX_FILE_BYTES`; while parsing: numbers with more than :data:`MAX_INT_DIGITS`
        digits, NaN/Infinity, nesting past the recursion limit; after: the schema check, which
        accepts only the format's own shape (at most :data:`MAX_NESTING` levels)."""
        p = Path(path)
        try:
            if not p.is_file():
                raise WatchlistError(f"{p}: not a regular file" if p.exists() else f"{p}: file not found")
            with open(p, "rb") as fh:
                raw = fh.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise WatchlistError(f"{p}: cannot be read ({exc.strerror or exc})") from exc
        if len(raw) > MAX_FILE_BYTES:
            raise WatchlistError(f"{p}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MB; not a watchlist this Telltale accepts")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise WatchlistError(f"{p}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
        del raw
        try:
            data = json.loads(text, parse_int=_bounded_int, parse_constant=_no_constant)
        except WatchlistError as exc:
            raise WatchlistError(f"{p}: {exc}") from exc
        except RecursionError as exc:  # the C parser stops at the interpreter's recursion limit
            raise WatchlistError(f"{p}: nested too deeply; a watchlist nests at most {MAX_NESTING} levels") from exc
        except ValueError as exc:  # JSONDecodeError is a ValueError
            raise WatchlistError(f"{p}: cannot be read as JSON ({exc})") from exc
        del text
        try:
            return cls.from_dict(data)
        except WatchlistError as exc:
            raise WatchlistError(f"{p}: {exc}") from exc


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise WatchlistError(f"a number with {len(text)} digits; at most {MAX_INT_DIGITS} are accepted")
    return int(text)


def _no_constant(text: str) -> float:
    raise WatchlistError(f"{text} is not a number a watchlist may hold")


def _checked_text(text: str, what: str, limit: int) -> str:
    """A label as stored: NFC, stripped, bounded, no control characters."""
    from .store.sqlite import InvalidName, normalize_name

    if len(text) > limit * 4:
        raise WatchlistError(f"{what} is {len(text)} characters long; at most {limit} are accepted")
    try:
        out = normalize_name(text, what)
    except InvalidName as exc:
        raise WatchlistError(str(exc)) from exc
    if len(out) > limit:
        raise WatchlistError(f"{what} is {len(out)} characters long; at most {limit} are accepted")
    return out


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def entry_label(label: str, index: int, entry: WatchEntry) -> str:
    """What an imported entry is called in search results (stands in for a file name)."""
    safe = label.replace("/", "-").replace("\\", "-")
    persona = f" persona {entry.persona}" if entry.persona else ""
    what = {"id": "ID photo", "photo": "photo", "video": "interview"}[entry.role]
    return f"watchlist {safe}:{persona} {what} #{index + 1}".replace(":  ", ": ")


def voices_of(embeddings: Sequence[Any], speech_s: Sequence[float]) -> tuple[WatchVoice, ...]:
    """Stored voice prints (float32 bytes or vectors) as watchlist voices; malformed ones are left out."""
    out = []
    for emb, speech in zip(embeddings, speech_s):
        arr = np.frombuffer(emb, dtype=np.float32) if isinstance(emb, (bytes, bytearray, memoryview)) else np.asarray(emb, np.float32).reshape(-1)
        if arr.shape[0] != VOICE_DIMS or not np.all(np.isfinite(arr)) or not float(speech) > 0:
            continue
        out.append(WatchVoice(arr.copy(), float(speech)))
    return tuple(out)


def faces_of(embeddings: Sequence[bytes], face_hashes: Sequence[int | None]) -> tuple[WatchFace, ...]:
    out = []
    for blob, fh in zip(embeddings, face_hashes):
        emb = np.frombuffer(blob, dtype=np.float32)
        if emb.shape[0] != EMBEDDING_DIMS or not np.all(np.isfinite(emb)):
            continue
        out.append(WatchFace(emb.copy(), hashing.to_unsigned(int(fh)) if fh is not None else None))
    return tuple(out)

