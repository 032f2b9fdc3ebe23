"""Fuse the checks' findings into one candidate score (0-100, 100 = nothing suspicious).

Method
------
1. Each check's risk is mapped to a probability that its finding is a real sign of
   manipulation by a per-check logistic calibration ``q(risk) = 1 / (1 + exp(-(a * risk + b)))``
   fitted on labelled data (``telltale eval --fit``, stored in ``assets/calibration.json``),
   taken in excess of what a zero-risk finding gets: ``p = (q(risk) - q(0)) / (1 - q(0))``, so a
   finding with risk 0 takes nothing off the score whatever the labelled set's share of fakes.
   A check without a fitted calibration uses its risk as the probability.
2. The evidence is weighed by the check's confidence and combined as independent signs
   (noisy-OR): ``P(fake) = 1 - prod(1 - confidence_c * p_c)``. A check that could not judge
   (confidence 0) changes nothing: it lowers the report's confidence, not its score.
3. Decisive rules: one sign strong enough on its own overrides the sum (the same face under
   another candidate's name caps the score at ``DECISIVE_CAP``).
4. ``score = 100 * (1 - P(fake))``; each check's contribution is its share of the points taken
   off, in proportion to ``-log(1 - confidence_c * p_c)`` (so the contributions add up).
5. Verdict: ``authentic`` at or above ``AUTHENTIC_MIN``, ``likely-fake`` below ``FAKE_MAX``,
   ``review`` between, and always ``review`` when the report's confidence is under
   ``MIN_CONFIDENCE_FOR_AUTHENTIC`` (too little was judged to clear anyone).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Mapping

from .base import Finding
from .settings import setting

CALIBRATION_FILE = Path(__file__).resolve().parent.parent / "assets" / "calibration.json"

AUTHENTIC_MIN = setting("score.authentic_min", 70.0, 50.0, 95.0, "Scores at or above this are 'authentic'.", "points")
FAKE_MAX = setting("score.fake_max", 40.0, 5.0, 60.0, "Scores below this are 'likely-fake'.", "points")
MIN_CONFIDENCE_FOR_AUTHENTIC = 0.3
"""Report confidence below which no candidate is called authentic."""

DECISIVE_CAP = 15.0
"""Score ceiling when a decisive sign is present (e.g. same face under another name)."""

EXPECTED_CHECKS = ("faceswap", "lipsync", "identity", "reuse", "idphoto")
"""Checks whose absence or zero confidence lowers the report's confidence."""

MAX_PROB = 0.999


@dataclass(frozen=True)
class Calibration:
    a: float
    b: float

    def probability(self, risk: float) -> float:
        q = 1.0 / (1.0 + math.exp(-(self.a * risk + self.b)))
        q0 = 1.0 / (1.0 + math.exp(-self.b))
        return max(0.0, (q - q0) / (1.0 - q0))


@lru_cache(maxsize=4)
def load_calibration(path: str = str(CALIBRATION_FILE)) -> dict[str, Calibration]:
    p = Path(path)
    if not p.exists():
        return {}
    data = json.loads(p.read_text(encoding="utf-8"))
    return {name: Calibration(float(c["a"]), float(c["b"])) for name, c in data.get("checks", {}).items()}


@dataclass(frozen=True)
class Fused:
    score: float
    verdict: str
    confidence: float
    contributions: dict[str, float]
    reasons: list[str]


def is_decisive(finding: Finding) -> bool:
    """True when the finding says, with confidence, something that settles the case alone."""
    return bool(finding.evidence.get("decisive")) and finding.confidence >= 0.5


def fuse(
    findings: Mapping[str, Finding],
    settings: Mapping[str, float] | None = None,
    calibration: Mapping[str, Calibration] | None = None,
) -> Fused:
    settings = settings or {}
    calibration = load_calibration() if calibration is None else calibration
    authentic_min = float(settings.get(AUTHENTIC_MIN.key, AUTHENTIC_MIN.default))
    fake_max = float(settings.get(FAKE_MAX.key, FAKE_MAX.default))

    weights: dict[str, float] = {}
    for name, f in findings.items():
        cal = calibration.get(name)
        p = cal.probability(f.risk) if cal else f.risk
        weights[name] = -math.log(1.0 - min(MAX_PROB, f.confidence * p))
    total = sum(weights.values())
    p_fake = 1.0 - math.exp(-total)
    score = 100.0 * (1.0 - p_fake)

    decisive = [n for n, f in findings.items() if is_decisive(f)]
    if decisive:
        score = min(score, DECISIVE_CAP)
    drop = 100.0 - score
    if total > 0:
        contributions = {n: drop * w / total for n, w in weights.items()}
    else:
        contributions = {n: 0.0 for n in weights}
    for n in decisive:  # the decisive check carries whatever the cap took beyond the sum
        contributions[n] += drop - sum(contributions.values())

    judged = [findings[c].confidence if c in findings else 0.0 for c in EXPECTED_CHECKS]
    extra = [f.confidence for n, f in findings.items() if n not in EXPECTED_CHECKS]
    confidence = sum(judged + extra) / max(1, len(judged) + len(extra))

    if score < fake_max:
        verdict = "likely-fake"
    elif score >= authentic_min and confidence >= MIN_CONFIDENCE_FOR_AUTHENTIC:
        verdict = "authentic"
    else:
        verdict = "review"

    reasons = _reasons(findings, contributions, confidence)
    return Fused(score, verdict, confidence, contributions, reasons)


def _reasons(findings: Mapping[str, Finding], contributions: Mapping[str, float], confidence: float) -> list[str]:
    ranked = sorted(findings.items(), key=lambda kv: (-contributions.get(kv[0], 0.0), -kv[1].risk))
    reasons = []
    for name, f in ranked:
        pts = contributions.get(name, 0.0)
        if pts >= 1.0:
            reasons.append(f"{f.summary} (-{pts:.0f} points, {name})")
    for name, f in ranked:
        if f.confidence < 0.2:
            reasons.append(f"{name} could not judge: {f.summary}")
    missing = [c for c in EXPECTED_CHECKS if c not in findings]
    if not findings:
        reasons.append("No check could judge this candidate, so no score below 100 could be earned; review by hand.")
    elif confidence < MIN_CONFIDENCE_FOR_AUTHENTIC:
        reasons.append(f"Too little could be judged (confidence {confidence:.0%}) to call this candidate authentic.")
    if missing and findings:
        reasons.append("Not checked: " + ", ".join(missing) + ".")
    if findings and not any(contributions.get(n, 0.0) >= 1.0 for n in findings):
        reasons.insert(0, "No check found a sign of manipulation.")
    return reasons
