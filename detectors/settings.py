"""Tunable thresholds, each with a documented range, in one registry.

Every detector module declares its user-tunable thresholds with :func:`setting` at import
time; the pipeline hands the effective values to detectors through their context
(``context.settings[key]``), the CLI and the app list them with :func:`all_settings` and
validate a user's value with :func:`validate`. Constants that nobody should tune stay plain
module constants beside the code that uses them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping


@dataclass(frozen=True)
class Setting:
    key: str  # "check.name", e.g. "lipsync.max_offset_ms"
    default: float
    minimum: float
    maximum: float
    doc: str
    unit: str = ""


_REGISTRY: dict[str, Setting] = {}


def setting(key: str, default: float, minimum: float, maximum: float, doc: str, unit: str = "") -> Setting:
    """Declare a setting (idempotent); returns it so modules can keep a handle."""
    if not minimum <= default <= maximum:
        raise ValueError(f"setting {key}: default {default} outside [{minimum}, {maximum}]")
    s = Setting(key, float(default), float(minimum), float(maximum), doc, unit)
    _REGISTRY[key] = s
    return s


def all_settings() -> dict[str, Setting]:
    return dict(sorted(_REGISTRY.items()))


def validate(key: str, value: Any) -> float:
    """The value as a float if it is within the setting's range; ValueError otherwise."""
    if key not in _REGISTRY:
        raise ValueError(f"unknown setting {key!r}")
    s = _REGISTRY[key]
    v = float(value)
    if not s.minimum <= v <= s.maximum:
        raise ValueError(f"{key} must be between {s.minimum:g} and {s.maximum:g} {s.unit}".rstrip())
    return v


def effective(overrides: Mapping[str, Any] | None = None) -> dict[str, float]:
    """Defaults with the user's overrides applied (validated)."""
    values = {k: s.default for k, s in _REGISTRY.items()}
    for k, v in (overrides or {}).items():
        if k in _REGISTRY:
            values[k] = validate(k, v)
    return values


ANALYSIS_FPS = setting(
    "pipeline.analysis_fps", 15.0, 2.0, 60.0,
    "Video frames analysed per second (Face Mesh landmarks on each); higher is finer and slower.", "fps",
)
