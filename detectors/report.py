"""The candidate report: what the CLI prints, the JSON scripts read and the app shows.

The JSON contract (extend it, never break it)::

    { "candidate": str,
      "score": 0..100,            # 100 = no sign of manipulation
      "verdict": "authentic" | "review" | "likely-fake",
      "confidence": 0..1,         # how much of the evidence could be judged
      "checks": { NAME: { "risk", "confidence", "summary", "evidence" } },
      "contributions": { NAME: points taken off the score },
      "reasons": [str, ...],      # plain language, most important first
      "media": [ { "path", "kind", "duration_s", "frames_analysed", "faces_found", "error", ... } ],
      "errors": [str, ...],       # one line per file that could not be used (file name, no folder)
      "files": [ { "path", "name", "risk", "confidence", "level", "checks": {NAME: risk}, "summary" } ],
                                  # the verdict per recording (file_findings), most suspicious first
      "timings_s": { ... },
      "created_at": ISO-8601 UTC, "version": str }
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

from .base import Finding, jsonable

REPORT_VERSION = "1"
VERDICTS = ("authentic", "review", "likely-fake")
FILE_RISK_LEVELS = ((0.67, "high"), (0.34, "some"), (0.0, "low"))
"""A file's risk level: the first whose lower bound the risk reaches (the app's colours use the same bounds)."""
FILE_MIN_CONFIDENCE = 0.2
"""A check's per-file reading counts towards the file's risk only at this confidence or more."""
RECORDING_CHECKS = ("faceswap", "lipsync")
"""Checks that run on each recording: with one recording their finding is that recording's."""


@dataclass(frozen=True)
class FileFinding:
    """One file's own verdict: the strongest per-file reading of any check."""

    path: str
    risk: float | None  # None: no check could judge this file
    confidence: float
    checks: Mapping[str, float]  # check -> this file's risk
    summary: str

    @property
    def level(self) -> str:
        if self.risk is None:
            return "not judged"
        return next(name for bound, name in FILE_RISK_LEVELS if self.risk >= bound)

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "name": Path(self.path).name,
                "risk": round(self.risk, 4) if self.risk is not None else None,
                "confidence": round(self.confidence, 4), "level": self.level,
                "checks": {k: round(v, 4) for k, v in self.checks.items()}, "summary": self.summary}


def file_findings(checks: Mapping[str, Any], media: list[Mapping[str, Any]]) -> list[FileFinding]:
    """Per-recording verdicts from the checks' per-recording evidence (``evidence.recordings``
    of a check merged over several recordings; the whole finding when there is one recording;
    the identity check's ``cross_recording.different_people``). ``checks``: name -> finding dict.
    Most suspicious first; files that could not be used are left out."""
    videos = [str(m.get("path")) for m in media if m.get("kind") == "video" and not m.get("error")]
    per: dict[str, dict[str, tuple[float, float, str]]] = {p: {} for p in videos}
    for name, c in checks.items():
        c = c if isinstance(c, Mapping) else {}
        ev = c.get("evidence") or {}
        recs = ev.get("recordings") if isinstance(ev.get("recordings"), Mapping) else None
        if name in RECORDING_CHECKS:
            if recs and any(isinstance(v, Mapping) and "risk" in v for v in recs.values()):
                for p, v in recs.items():
                    if p in per and isinstance(v, Mapping) and v.get("risk") is not None:
                        per[p][name] = (float(v["risk"]), float(v.get("confidence") or 0.0), str(v.get("summary", "")))
            elif len(videos) == 1:
                per[videos[0]][name] = (float(c.get("risk") or 0.0), float(c.get("confidence") or 0.0), str(c.get("summary", "")))
        cross = ev.get("cross_recording") if isinstance(ev.get("cross_recording"), Mapping) else None
        if cross:
            odd = set(cross.get("different_people") or [])
            for p in per:
                if p in odd:
                    per[p][name] = (float(cross.get("risk") or 0.0), float(cross.get("confidence") or 0.0),
                                    "shows a different person from the other recordings")
                elif any(p in (pair.get("a"), pair.get("b")) for pair in cross.get("pairs") or []):
                    per[p][name] = (0.0, float(cross.get("confidence") or 0.0), "same person as the other recordings")
    out = []
    for p, readings in per.items():
        judged = {k: v for k, v in readings.items() if v[1] >= FILE_MIN_CONFIDENCE}
        if not judged:
            out.append(FileFinding(p, None, 0.0, {}, "no check could judge this recording"))
            continue
        top = max(judged, key=lambda k: (judged[k][0], judged[k][1]))
        risk, conf, text = judged[top]
        out.append(FileFinding(p, risk, conf, {k: v[0] for k, v in judged.items()}, f"{top}: {text}" if text else top))
    out.sort(key=lambda f: -(f.risk if f.risk is not None else -1.0))
    return out


def file_reasons(files: list[FileFinding]) -> list[str]:
    """One reason naming the suspicious recordings, when a candidate has several."""
    if len(files) < 2:
        return []
    flagged = [f for f in files if f.risk is not None and f.level != "low"]
    if not flagged:
        return []
    named = ", ".join(f"{Path(f.path).name} ({f.level} risk {f.risk:.2f}, {next(iter(sorted(f.checks, key=lambda k: -f.checks[k])))})"
                      for f in flagged)
    clean = len(files) - len(flagged)
    return [f"Suspicious recording{'s' if len(flagged) > 1 else ''}: {named}"
            + (f"; {clean} other recording(s) show no such sign." if clean else ".")]


def strip_folders(text: str, paths: list[str]) -> str:
    """``text`` with every full path in ``paths`` replaced by its file name (no local folders in reasons)."""
    for p in sorted({p for p in paths if p}, key=len, reverse=True):
        name = Path(p).name
        if p != name:
            text = text.replace(p, name)
    return text


@dataclass(frozen=True)
class MediaEntry:
    """One input file as the report lists it. ``error`` is set when the file could not be used."""

    path: str
    kind: str  # "video", "id-photo", "photo", or "unknown" when it could not be opened
    duration_s: float | None = None
    frames_analysed: int = 0
    faces_found: int = 0
    error: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "path": self.path,
            "kind": self.kind,
            "duration_s": round(self.duration_s, 3) if self.duration_s is not None else None,
            "frames_analysed": self.frames_analysed,
            "faces_found": self.faces_found,
            "error": self.error,
        }
        out.update(jsonable(dict(self.details)))
        return out


@dataclass(frozen=True)
class Report:
    candidate: str
    score: float
    verdict: str
    confidence: float
    checks: Mapping[str, Finding]
    contributions: Mapping[str, float]
    reasons: list[str]
    media: list[MediaEntry]
    errors: list[str] = field(default_factory=list)
    timings_s: Mapping[str, float] = field(default_factory=dict)
    created_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))

    @property
    def analysed_anything(self) -> bool:
        return any(m.error is None for m in self.media)

    def to_dict(self) -> dict[str, Any]:
        checks = {name: f.to_dict() for name, f in self.checks.items()}
        media = [m.to_dict() for m in self.media]
        files = file_findings(checks, media)
        paths = [m.path for m in self.media]
        reasons = [strip_folders(r, paths) for r in self.reasons]
        reasons += [r for r in file_reasons(files) if r not in reasons]
        return {
            "candidate": self.candidate,
            "score": round(float(self.score), 1),
            "verdict": self.verdict,
            "confidence": round(float(self.confidence), 3),
            "checks": checks,
            "contributions": {k: round(float(v), 2) for k, v in self.contributions.items()},
            "reasons": reasons,
            "media": media,
            "errors": [strip_folders(e, paths) for e in self.errors],
            "files": [f.to_dict() for f in files],
            "timings_s": {k: round(float(v), 3) for k, v in self.timings_s.items()},
            "created_at": self.created_at,
            "version": REPORT_VERSION,
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def write_json(self, path: str | Path) -> None:
        """Write the report owner-only: it holds biometric evidence (face crops)."""
        from .privacy import write_private

        write_private(path, self.to_json())

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Report":
        media = []
        for m in data.get("media", []):
            core = {"path", "kind", "duration_s", "frames_analysed", "faces_found", "error"}
            media.append(
                MediaEntry(
                    path=m["path"],
                    kind=m.get("kind", "unknown"),
                    duration_s=m.get("duration_s"),
                    frames_analysed=int(m.get("frames_analysed") or 0),
                    faces_found=int(m.get("faces_found") or 0),
                    error=m.get("error"),
                    details={k: v for k, v in m.items() if k not in core},
                )
            )
        return cls(
            candidate=data["candidate"],
            score=float(data["score"]),
            verdict=data["verdict"],
            confidence=float(data.get("confidence", 0.0)),
            checks={k: Finding.from_dict(k, v) for k, v in data.get("checks", {}).items()},
            contributions=dict(data.get("contributions", {})),
            reasons=list(data.get("reasons", [])),
            media=media,
            errors=list(data.get("errors", [])),
            timings_s=dict(data.get("timings_s", {})),
            created_at=data.get("created_at", ""),
        )

    def summary_text(self) -> str:
        """A readable summary for the terminal."""
        lines = [
            f"Candidate: {self.candidate}",
            f"Score: {self.score:.0f}/100  verdict: {self.verdict}  (confidence {self.confidence:.0%})",
        ]
        if self.reasons:
            lines.append("Why:")
            lines += [f"  - {r}" for r in self.reasons]
        if self.checks:
            lines.append("Checks:")
            for name, f in self.checks.items():
                off = max(0.0, self.contributions.get(name, 0.0))
                lines.append(f"  {name:<9} risk {f.risk:4.2f}  confidence {f.confidence:4.2f}  -{off:4.1f} pts  {f.summary}")
        lines.append("Media:")
        own = {f.path: f for f in file_findings({n: f.to_dict() for n, f in self.checks.items()},
                                               [m.to_dict() for m in self.media])} if len(self.media) > 1 else {}
        for m in self.media:
            if m.error:
                lines.append(f"  ! {m.path}: {m.error}")
            elif m.kind == "video":
                dur = f"{m.duration_s:.1f} s, " if m.duration_s else ""
                f = own.get(m.path)
                risk = f"; own risk {f.risk:.2f} ({f.level})" if f is not None and f.risk is not None else ""
                lines.append(f"  {m.kind:<8} {m.path} ({dur}{m.frames_analysed} frames analysed, face in {m.faces_found}{risk})")
            else:
                lines.append(f"  {m.kind:<8} {m.path} ({m.faces_found} face(s) found)")
        return "\n".join(lines)
