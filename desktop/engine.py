"""The app's only door to the engine: the public calls of detectors.pipeline and the library,
plus small helpers that read the JSON report defensively (a missing key = nothing shown).

Nothing here imports Qt widgets, so the helpers are easy to test.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = {".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".3gp"}
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".heic"}

VERDICT_LABELS = {
    "authentic": "Authentic",
    "review": "Needs review",
    "likely-fake": "Likely fake",
}
VERDICT_COLOURS = {  # background colours of the verdict badge
    "authentic": "#2e7d32",
    "review": "#b26a00",
    "likely-fake": "#c62828",
}
CHECK_TITLES = {
    "faceswap": "Face swap",
    "lipsync": "Lip sync",
    "identity": "Same person throughout",
    "reuse": "Reused photo or face",
    "idphoto": "ID photo",
    "voice": "Same voice throughout",
}


def check_title(name: str) -> str:
    return CHECK_TITLES.get(name, name.replace("_", " ").capitalize())


def verdict_label(verdict: str | None) -> str:
    return VERDICT_LABELS.get(verdict or "", (verdict or "Not analysed").capitalize())


def verdict_colour(verdict: str | None) -> str:
    return VERDICT_COLOURS.get(verdict or "", "#546e7a")


def risk_colour(risk: float) -> str:
    """Green -> amber -> red for a risk in [0, 1]."""
    if risk < 0.34:
        return VERDICT_COLOURS["authentic"]
    if risk < 0.67:
        return VERDICT_COLOURS["review"]
    return VERDICT_COLOURS["likely-fake"]


def guess_role(path: str | Path) -> str:
    """``video`` for recordings, ``id`` for pictures (dropped pictures are ID photos)."""
    suffix = Path(path).suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return "id"
    if suffix in VIDEO_SUFFIXES:
        return "video"
    try:
        from detectors.media import is_image_file

        return "id" if is_image_file(path) else "video"
    except Exception:  # noqa: BLE001
        return "video"


def plain_error(exc: BaseException, path: str | Path | None = None) -> str:
    """One sentence a reviewer can read: which file, and what is wrong with it."""
    from detectors.base import Cancelled, MediaError

    if isinstance(exc, MediaError):
        return f"“{Path(exc.path).name}” could not be used: {exc.problem}."
    if isinstance(exc, Cancelled):
        return f"Analysis of “{Path(path).name}” was cancelled." if path else "Analysis was cancelled."
    where = f" while working on “{Path(path).name}”" if path else ""
    text = str(exc) or exc.__class__.__name__
    return f"Something went wrong{where}: {text}"


def validate_media(path: str | Path, role: str) -> None:
    """Cheap check before a file joins a candidate; raises MediaError naming the file."""
    from detectors.base import MediaError
    from detectors.media import load_image, probe

    p = Path(path)
    if role == "video":
        if p.suffix.lower() in IMAGE_SUFFIXES:
            raise MediaError(p, "is a picture, not a recording")
        probe(p)
    else:
        load_image(p, role=role)
    if not p.is_file():  # pragma: no cover - probe/load_image already said so
        raise MediaError(p, "file not found")


# --------------------------------------------------------------------------- library


RETENTION_KEY = "library.retention_days"
"""The retention setting (declared in detectors.store.sqlite); the Settings dialog stores it as an override."""


def retention_override(settings: Mapping[str, Any] | None) -> float | None:
    """The retention the user set in Settings, or None (the library's stored policy applies)."""
    value = (settings or {}).get(RETENTION_KEY)
    return None if value is None else float(value)


def open_library(path: str | Path | None, settings: Mapping[str, Any] | None = None, apply_retention: bool = True) -> Any:
    """Open the case library at ``path``. ``settings``: the app's overrides; their
    ``library.retention_days`` becomes this session's retention. ``apply_retention``: erase the
    expired candidates now (the app passes False and calls ``apply_retention()`` itself, to say
    how many were erased; the analysis worker's own connection never erases)."""
    from detectors.store import open_library as open_store  # a SQLite path (folder made 0700) or a postgresql:// URL

    return open_store(str(path) if path is not None else None, retention_days=retention_override(settings),
                      apply_retention=apply_retention)


def row_get(row: Any, name: str, default: Any = None) -> Any:
    """A field of a library row (dataclass, namedtuple or dict)."""
    if row is None:
        return default
    if isinstance(row, Mapping):
        return row.get(name, default)
    return getattr(row, name, default)


# --------------------------------------------------------------------------- report reading


def finite(value: Any) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def pairs(value: Any) -> list[tuple[float, float]]:
    """[[t, v], ...] (or [{"t":..,"v":..}]) as float pairs; anything malformed is skipped."""
    out: list[tuple[float, float]] = []
    if not isinstance(value, (list, tuple)):
        return out
    for item in value:
        if isinstance(item, Mapping):
            t = finite(item.get("t", item.get("time")))
            keys = [k for k in ("offset_ms", "value", "risk") if k in item] or [k for k in item if k not in ("t", "time")]
            v = finite(item.get(keys[0])) if keys else None
        elif isinstance(item, (list, tuple)) and len(item) >= 2:
            t, v = finite(item[0]), finite(item[1])
        else:
            continue
        if t is not None and v is not None:
            out.append((t, v))
    return out


def first_key(evidence: Mapping[str, Any], *names: str) -> Any:
    for name in names:
        if name in evidence and evidence[name] is not None:
            return evidence[name]
    return None


@dataclass
class RecordingEvidence:
    """What the timeline and the frame gallery draw for one recording."""

    path: str
    duration_s: float
    faceswap_risk: list[tuple[float, float]]
    lipsync_offsets: list[tuple[float, float]]  # (t, offset ms)
    mismatch_segments: list[tuple[float, float]]
    top_frames: list[dict[str, Any]]
    lipsync_offset_ms: float | None = None
    max_offset_ms: float | None = None
    mouth: list[tuple[float, float]] = field(default_factory=list)  # mouth opening, downsampled
    voice: list[tuple[float, float]] = field(default_factory=list)  # speech energy, downsampled
    id_distance: list[tuple[float, float]] = field(default_factory=list)  # face vs ID photo
    id_threshold: float | None = None
    voice_excerpt: tuple[float, float] | None = None  # the candidate's longest stretch of speech
    second_voice: list[tuple[float, float]] = field(default_factory=list)  # where another voice speaks
    clip_frames: list[dict[str, Any]] = field(default_factory=list)  # the CLIP probe's most swap-like crops, with maps


def suspicious_frames(ev: RecordingEvidence, n_top: int) -> list[dict[str, Any]]:
    """The CNN's top frames (at most ``n_top``) and the CLIP probe's moments, most suspicious first
    (each by its own risk: the CNN's frame score, the CLIP reading)."""
    frames = ev.clip_frames + ev.top_frames[:n_top]
    return sorted(frames, key=lambda f: -(finite(first_key(f, "risk", "blend_probability", "score")) or 0.0))


def _segments(value: Any) -> list[tuple[float, float]]:
    out = []
    if isinstance(value, (list, tuple)):
        for seg in value:
            if isinstance(seg, Mapping):
                a = finite(first_key(seg, "start_s", "t0", "start"))
                b = finite(first_key(seg, "end_s", "t1", "end"))
            elif isinstance(seg, (list, tuple)) and len(seg) >= 2:
                a, b = finite(seg[0]), finite(seg[1])
            else:
                continue
            if a is not None and b is not None and b >= a:
                out.append((a, b))
    return out


def _evidence_for(check: Mapping[str, Any] | None, path: str, single: bool) -> Mapping[str, Any]:
    """A check's evidence for one recording (the per-recording copy when there are several)."""
    if not check:
        return {}
    evidence = check.get("evidence") or {}
    per = evidence.get("recordings")
    if isinstance(per, Mapping) and per:
        if path in per:
            return per[path] or {}
        for key, value in per.items():
            if Path(key).name == Path(path).name:
                return value or {}
        return {}
    lead = evidence.get("lead_recording") or evidence.get("path")
    if lead and Path(str(lead)).name != Path(path).name and not single:
        return {}
    return evidence


def recording_evidence(report: Mapping[str, Any]) -> list[RecordingEvidence]:
    """One entry per analysed recording, with whatever the checks reported over time."""
    media = [m for m in report.get("media", []) if m.get("kind") == "video" and not m.get("error")]
    checks = report.get("checks", {}) or {}
    voice = voice_evidence(report)
    out = []
    for m in media:
        path = str(m.get("path", ""))
        single = len(media) == 1
        fs = _evidence_for(checks.get("faceswap"), path, single)
        ls = _evidence_for(checks.get("lipsync"), path, single)
        risk = pairs(first_key(fs, "risk_per_second", "risk_over_time", "risk_series"))
        offsets_raw = first_key(ls, "window_offsets_ms", "offsets_over_time", "offset_per_window", "windows", "offsets")
        offsets = pairs(offsets_raw)
        segs = _segments(first_key(ls, "mismatch_segments", "segments", "mismatches"))
        frames = [f for f in (fs.get("top_frames") or []) if isinstance(f, Mapping)]
        clip_frames = [f for f in (fs.get("clip_frames") or []) if isinstance(f, Mapping)]
        signals = ls.get("timeline") if isinstance(ls.get("timeline"), Mapping) else {}
        idc = checks.get("identity") or {}
        id_ev = _evidence_for(idc, path, single)
        id_threshold = finite(((idc.get("evidence") or {}) if idc else {}).get("threshold"))
        duration = finite(m.get("duration_s")) or 0.0
        ends = [t for t, _ in risk] + [t for t, _ in offsets] + [b for _, b in segs]
        duration = max([duration] + ends) if ends else duration
        out.append(
            RecordingEvidence(
                path=path,
                duration_s=duration,
                faceswap_risk=risk,
                lipsync_offsets=offsets,
                mismatch_segments=segs,
                top_frames=list(frames),
                clip_frames=list(clip_frames),
                lipsync_offset_ms=finite(first_key(ls, "offset_ms", "global_offset_ms")),
                max_offset_ms=finite(first_key(ls, "max_offset_ms", "tolerance_ms")),
                mouth=_series(signals, "mouth"),
                voice=_series(signals, "audio"),
                id_distance=pairs(id_ev.get("distances")),
                id_threshold=id_threshold,
                voice_excerpt=(voice.recording(path).excerpt if voice is not None and voice.recording(path) else None),
                second_voice=(merge_spans(s for c in voice.changes_in(path) for s in c.segments) if voice is not None else []),
            )
        )
    return out


def _series(signals: Mapping[str, Any], name: str) -> list[tuple[float, float]]:
    """(t, value) from a {"t": [...], name: [...]} block; None values are skipped."""
    ts, vs = signals.get("t") or [], signals.get(name) or []
    out = []
    for t, v in zip(ts, vs):
        ft, fv = finite(t), finite(v)
        if ft is not None and fv is not None:
            out.append((ft, fv))
    return out


def png_fields(data: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Every (key path, base64 PNG) under keys ending in ``_png``, depth-first, in order."""
    out: list[tuple[str, str]] = []
    if isinstance(data, Mapping):
        for k, v in data.items():
            key = f"{prefix}{k}"
            if isinstance(v, str) and str(k).endswith("_png") and v:
                out.append((key, v))
            elif isinstance(v, (Mapping, list, tuple)):
                out += png_fields(v, key + ".")
    elif isinstance(data, (list, tuple)):
        for i, v in enumerate(data):
            out += png_fields(v, f"{prefix}{i}.")
    return out


def scalar_evidence(evidence: Mapping[str, Any], limit: int = 12) -> list[tuple[str, str]]:
    """Top-level numbers, flags and short strings of an evidence dict, for a details line."""
    out = []
    for k, v in evidence.items():
        if str(k).endswith("_png") or k in ("recordings",):
            continue
        if isinstance(v, bool):
            out.append((k, "yes" if v else "no"))
        elif isinstance(v, (int, float)):
            out.append((k, f"{v:.3g}" if isinstance(v, float) else str(v)))
        elif isinstance(v, str) and len(v) <= 80:
            out.append((k, v))
        if len(out) >= limit:
            break
    return out


def reuse_matches(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Matches found by the reuse and identity checks (other candidates' media)."""
    out: list[dict[str, Any]] = []
    checks = report.get("checks", {}) or {}
    for name in ("reuse", "identity", "idphoto"):
        ev = (checks.get(name) or {}).get("evidence") or {}
        for key in ("matches", "reuse_matches", "library_matches"):
            for m in ev.get(key) or []:
                if isinstance(m, Mapping):
                    out.append({"check": name, **m})
    return out


def face_thumbnails(report: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(label, base64 PNG) face crops of this candidate, ID portrait first."""
    checks = report.get("checks", {}) or {}
    ordered: list[tuple[str, str]] = []
    for name in ("identity", "idphoto", "reuse", "faceswap", "lipsync"):
        ev = (checks.get(name) or {}).get("evidence") or {}
        for key, b64 in png_fields(ev):
            low = key.lower()
            if "heat" in low or "match" in low or "other" in low:
                continue
            ordered.append((f"{name}: {key}", b64))
    ordered.sort(key=lambda kv: 0 if ("id" in kv[0].split(":")[1].lower() or "portrait" in kv[0].lower()) else 1)
    return ordered


def media_paths(rows: Iterable[Any]) -> tuple[list[tuple[int | None, str, str]], list[str]]:
    """((id, path, role), ...) of a candidate's media rows, and the list of missing files."""
    files, missing = [], []
    for row in rows:
        path = str(row_get(row, "path", ""))
        role = str(row_get(row, "role", "video"))
        files.append((row_get(row, "id"), path, role))
        if path and not Path(path).exists():
            missing.append(path)
    return files, missing


def close_quietly(library: Any) -> None:
    """Close a library connection, ignoring errors (used on shutdown and after a job)."""
    close = getattr(library, "close", None)
    if callable(close):
        try:
            close()
        except Exception:  # noqa: BLE001 - closing must never take the app down
            log.debug("closing the library failed", exc_info=True)


def file_verdicts(report: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """path -> that recording's own verdict (risk, level, checks, summary): the report's ``files``,
    or worked out from its checks for reports saved before the list existed."""
    files = report.get("files")
    if not isinstance(files, list):
        try:
            from detectors.report import file_findings

            files = [f.to_dict() for f in file_findings(report.get("checks") or {}, list(report.get("media") or []))]
        except Exception:  # noqa: BLE001 - a malformed old report shows no per-file risk, nothing breaks
            log.debug("per-file verdicts unavailable", exc_info=True)
            files = []
    return {str(f.get("path")): f for f in files if isinstance(f, Mapping)}


EVIDENCE_PICTURES_PER_CHECK = 24
"""At most this many of one check's evidence pictures on the Evidence tab."""
EVIDENCE_SCALES = (("heat", "inferno"), ("ela", "viridis"), ("spectrum", "viridis"), ("residual", "viridis"))
"""Evidence keys that name a false-colour picture, and the colour map the engine draws it with."""


def evidence_label(key: str) -> str:
    """"top_frames.0.heatmap_png" -> "top frames 1: heatmap"; "portrait_png" -> "portrait"."""
    parts = key.split(".")
    out = []
    for p in parts:
        if p.isdigit():
            out.append(str(int(p) + 1))
        else:
            out.append(p.removesuffix("_png").replace("_", " "))
    head, last = " ".join(out[:-1]), out[-1]
    return f"{head}: {last}" if head else last


def evidence_scale(key: str) -> str | None:
    low = key.lower()
    return next((scale for word, scale in EVIDENCE_SCALES if word in low), None)


# --------------------------------------------------------------------------- voice


@dataclass
class VoiceRecording:
    """One recording as the voice check heard it."""

    name: str  # file name (the check names recordings without their folder)
    speech_s: float | None  # all speech heard in it
    voices: int | None  # distinct voices heard (an interviewer makes two)
    candidate_speech_s: float | None  # speech in the candidate's own voice print
    excerpt: tuple[float, float] | None  # the candidate's longest stretch of speech (s)


@dataclass
class VoicePair:
    a: str
    b: str
    distance: float
    confidence: float | None


@dataclass
class VoiceChange:
    """A second voice within one recording."""

    recording: str
    distance: float | None  # the second voice against the candidate's
    other_speech_s: float | None
    talking: bool  # the candidate's face talks with both voices (not an interviewer off screen)
    verdict: str
    segments: list[tuple[float, float]]  # where the second voice speaks (s)
    mouth_activity: tuple[float | None, float | None] = (None, None)  # candidate voice, second voice


@dataclass
class VoiceMatch:
    """The same voice in the library under another name."""

    who: str  # candidate name, or "collection X"
    candidate: str | None
    collection: str | None
    file: str  # their recording's file name (may be empty)
    recording: str  # this candidate's recording that matched
    distance: float
    speech_s: float | None  # seconds of speech behind their voice print
    their_excerpt: tuple[float, float] | None = None  # where their voice can be heard in their recording
    query_speech_s: float | None = None  # seconds of this candidate's speech that were searched
    path: str = ""  # their recording's full path, as the library holds it


@dataclass
class VoiceEvidence:
    """The voice check's finding, read defensively from a report (a missing key = nothing shown)."""

    summary: str
    risk: float | None
    confidence: float | None
    same: float | None  # at most this distance: the same voice (decisive under another name)
    different: float | None  # at least this distance: different people
    recordings: list[VoiceRecording] = field(default_factory=list)
    pairs: list[VoicePair] = field(default_factory=list)
    changes: list[VoiceChange] = field(default_factory=list)
    matches: list[VoiceMatch] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    decisive: bool = False
    library_searched: bool | None = None  # None: the report does not say
    not_searched: list[str] = field(default_factory=list)  # recordings whose voice may be an interviewer's
    other_candidates: list[str] = field(default_factory=list)  # every other name the voice was found under

    def recording(self, path: str) -> VoiceRecording | None:
        name = Path(path).name
        return next((r for r in self.recordings if r.name == name), None)

    def pairs_with(self, path: str) -> list[VoicePair]:
        name = Path(path).name
        return [p for p in self.pairs if name in (p.a, p.b)]

    def changes_in(self, path: str) -> list[VoiceChange]:
        name = Path(path).name
        return [c for c in self.changes if c.recording == name]

    def matches_of(self, path: str) -> list[VoiceMatch]:
        name = Path(path).name
        return [m for m in self.matches if m.recording == name]

    def pair_reading(self, distance: float) -> tuple[str, str]:
        """(words, level) for a distance between two of the candidate's recordings."""
        if self.different is not None and distance >= self.different:
            return "different people", "high"
        if self.different is not None and distance >= self.different - VOICE_NEAR_BAR:
            return "near the bar", "some"
        return "one voice", "low"


VOICE_NEAR_BAR = 0.05
"""Below the 'different people' bar by at most this much, the voice check already gives some
risk (its risk ramps up from there; detectors/voice_check.py)."""


def _name_of(value: Any) -> str:
    return Path(str(value)).name if value not in (None, "") else ""


def voice_evidence(report: Mapping[str, Any] | None) -> VoiceEvidence | None:
    """The voice check's evidence, or None when the report has no voice check."""
    check = ((report or {}).get("checks") or {}).get("voice")
    if not isinstance(check, Mapping):
        return None
    ev = check.get("evidence") if isinstance(check.get("evidence"), Mapping) else {}
    thresholds = ev.get("thresholds") if isinstance(ev.get("thresholds"), Mapping) else {}
    out = VoiceEvidence(
        summary=str(check.get("summary") or ""),
        risk=finite(check.get("risk")),
        confidence=finite(check.get("confidence")),
        same=finite(thresholds.get("same")),
        different=finite(thresholds.get("different")),
        reasons=[str(r) for r in ev.get("reasons") or [] if r],
        decisive=bool(ev.get("decisive")),
        library_searched=(ev["library_searched"] if isinstance(ev.get("library_searched"), bool)
                          else True if isinstance(ev.get("not_searched"), list) else None),
        not_searched=[_name_of(n) for n in ev.get("not_searched") or [] if n] if isinstance(ev.get("not_searched"), list) else [],
        other_candidates=[str(n) for n in ev.get("other_candidates") or [] if n] if isinstance(ev.get("other_candidates"), list) else [],
    )
    for r in ev.get("recordings") or []:
        if not isinstance(r, Mapping) or not r.get("recording"):
            continue
        seg = _segments([r.get("excerpt")]) if r.get("excerpt") is not None else []
        voices = finite(r.get("voices"))
        out.recordings.append(VoiceRecording(_name_of(r.get("recording")), finite(r.get("speech_s")),
                                             None if voices is None else int(voices),
                                             finite(r.get("candidate_speech_s")), seg[0] if seg else None))
    for p in ev.get("pairs") or []:
        d = finite(p.get("distance")) if isinstance(p, Mapping) else None
        if d is not None:
            out.pairs.append(VoicePair(_name_of(p.get("a")), _name_of(p.get("b")), d, finite(p.get("confidence"))))
    for w in ev.get("within") or []:
        if not isinstance(w, Mapping) or not w.get("recording"):
            continue
        verdict = str(w.get("verdict") or "")
        acts = w.get("mouth_activity") if isinstance(w.get("mouth_activity"), (list, tuple)) else []
        acts = [finite(a) for a in acts][:2] + [None, None]
        out.changes.append(VoiceChange(_name_of(w.get("recording")), finite(w.get("distance")), finite(w.get("other_voice_speech_s")),
                                       verdict.startswith("the face talks"), verdict, _segments(w.get("segments")),
                                       (acts[0], acts[1])))
    for m in ev.get("library_matches") or []:
        d = finite(m.get("distance")) if isinstance(m, Mapping) else None
        if d is None:
            continue
        cand = m.get("candidate") or None
        coll = m.get("collection") or None
        who = str(cand) if cand else (f"collection {coll}" if coll else "another entry")
        detail = m.get("detail") if isinstance(m.get("detail"), Mapping) else {}
        theirs = _segments([detail.get("excerpt")]) if detail.get("excerpt") is not None else []
        path = str(first_key(m, "file", "path", "other_recording") or "")
        out.matches.append(VoiceMatch(who, None if cand is None else str(cand), None if coll is None else str(coll),
                                      _name_of(path), _name_of(m.get("recording")), d,
                                      finite(first_key(m, "speech_s", "their_speech_s")), theirs[0] if theirs else None,
                                      finite(m.get("query_speech_s")), path))
    out.matches.sort(key=lambda m: m.distance)
    return out


def merge_spans(spans: Iterable[tuple[float, float]], gap_s: float = 0.25) -> list[tuple[float, float]]:
    """Overlapping or nearly touching (start, end) spans joined: the voice check reports a voice's
    speech in overlapping blocks of a few seconds; a reviewer wants the stretches."""
    out: list[tuple[float, float]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1] + gap_s:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def partner_matches(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every other candidate this report found sharing something with this one: the reuse
    matches (face, photo) and the voice check's library matches (kind "same-voice")."""
    out = reuse_matches(report)
    ev = voice_evidence(report)
    for m in ev.matches if ev is not None else []:
        if m.candidate:
            out.append({"check": "voice", "candidate": m.candidate, "kind": "same-voice", "file": m.path, "distance": m.distance})
    return out
