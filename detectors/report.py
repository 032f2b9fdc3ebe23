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
      "errors": [str, ...],       # one line per file that could not be used
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
        return {
            "candidate": self.candidate,
            "score": round(float(self.score), 1),
            "verdict": self.verdict,
            "confidence": round(float(self.confidence), 3),
            "checks": {name: f.to_dict() for name, f in self.checks.items()},
            "contributions": {k: round(float(v), 2) for k, v in self.contributions.items()},
            "reasons": list(self.reasons),
            "media": [m.to_dict() for m in self.media],
            "errors": list(self.errors),
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
        for m in self.media:
            if m.error:
                lines.append(f"  ! {m.path}: {m.error}")
            elif m.kind == "video":
                dur = f"{m.duration_s:.1f} s, " if m.duration_s else ""
                lines.append(f"  {m.kind:<8} {m.path} ({dur}{m.frames_analysed} frames analysed, face in {m.faces_found})")
            else:
                lines.append(f"  {m.kind:<8} {m.path} ({m.faces_found} face(s) found)")
        return "\n".join(lines)
