"""Result types and the detector base class shared by every check.

Every check has the same shape: it reads what the single decoding pass produced (the face
track, the audio features, the loaded images) and returns a :class:`Finding`. Detectors that
need pixels may also look at each analysed frame while the pass runs (``observe``); none of
them decodes media or runs a face detector of its own.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Mapping

import numpy as np

if TYPE_CHECKING:  # pragma: no cover - imports for type hints only
    import threading

    from .audio import AudioTrack
    from .faces import FaceObservation, FaceTrack
    from .media import LoadedImage, VideoFrame

ProgressCallback = Callable[[float, str], None]
"""``progress(fraction, message)``: fraction in [0, 1] of the whole job."""


class Cancelled(Exception):
    """Raised inside the pipeline when the caller's cancel event is set."""


class MediaError(Exception):
    """A file could not be used. The message names the file and says what is wrong."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


def clamp01(value: float) -> float:
    """Clamp to [0, 1]; NaN becomes 0 (no evidence is never evidence of risk)."""
    if value is None or not math.isfinite(value):
        return 0.0
    return float(min(1.0, max(0.0, value)))


@dataclass(frozen=True)
class Finding:
    """What one check concluded.

    risk: 0 = no sign of manipulation, 1 = certain manipulation.
    confidence: how much the evidence supports the risk (0 = could not judge at all).
    summary: one plain-language line a reviewer can read.
    evidence: JSON-serialisable details the app can show (segments, frames, numbers).
    """

    check: str
    risk: float
    confidence: float
    summary: str
    evidence: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "risk", clamp01(self.risk))
        object.__setattr__(self, "confidence", clamp01(self.confidence))

    def to_dict(self) -> dict[str, Any]:
        return {
            "risk": round(self.risk, 4),
            "confidence": round(self.confidence, 4),
            "summary": self.summary,
            "evidence": jsonable(self.evidence),
        }

    @classmethod
    def from_dict(cls, check: str, data: Mapping[str, Any]) -> "Finding":
        return cls(
            check=check,
            risk=float(data["risk"]),
            confidence=float(data["confidence"]),
            summary=str(data.get("summary", "")),
            evidence=dict(data.get("evidence", {})),
        )


def jsonable(value: Any) -> Any:
    """Convert numpy scalars/arrays, tuples and paths into plain JSON types."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        return jsonable(value.item())
    if isinstance(value, float):
        return round(value, 6) if math.isfinite(value) else None
    if isinstance(value, Path):
        return str(value)
    return value


@dataclass
class RecordingContext:
    """Everything a recording-level detector may read after the pass."""

    path: str
    track: "FaceTrack"
    audio: "AudioTrack"
    settings: Mapping[str, Any] = field(default_factory=dict)
    voice: Any = None  # detectors.voice.RecordingVoice: who speaks (None without audio)


@dataclass
class CandidateContext:
    """Everything a candidate-level detector may read: all recordings and all photos."""

    name: str
    recordings: list[RecordingContext]
    images: list["LoadedImage"]
    library: Any = None  # detectors.store.sqlite.Library, when one is open
    settings: Mapping[str, Any] = field(default_factory=dict)
    cancel: "threading.Event | None" = None


class Detector(ABC):
    """One check. Subclasses set ``name`` and implement :meth:`analyze`.

    ``scope`` says what the detector looks at:
      * ``"recording"``: called once per video with a :class:`RecordingContext`;
        may also implement :meth:`observe` to see pixels during the single pass.
      * ``"candidate"``: called once per candidate with a :class:`CandidateContext`.

    A detector is instantiated fresh for every recording (recording scope) so it may keep
    per-recording state between ``observe`` calls.
    """

    name: ClassVar[str]
    scope: ClassVar[str] = "recording"
    #: Analysed frames between two ``observe`` calls (1 = every analysed frame).
    observe_every: ClassVar[int] = 1

    def observe(self, frame: "VideoFrame", face: "FaceObservation | None") -> None:  # noqa: B027
        """Optional hook: see an analysed frame and its main face while the pass runs."""

    @abstractmethod
    def analyze(self, context: Any) -> Finding | None:
        """Return the finding, or None when the check does not apply to this input."""
