"""Fuse the checks' findings into one candidate score (0-100, 100 = nothing suspicious) and a verdict.

Method
------
1. Each check's risk is mapped to a probability that its finding is a real sign of
   manipulation by a per-check logistic calibration ``q(risk) = 1 / (1 + exp(-(a * risk + b)))``
   fitted on labelled data (``telltale eval --cv group --fit``, stored in
   ``assets/calibration.json``), taken in excess of what a zero-risk finding gets:
   ``p = (q(risk) - q(0)) / (1 - q(0))``, so a finding with risk 0 takes nothing off the score
   whatever the labelled set's share of fakes. A check without a fitted calibration uses its
   risk as the probability.
2. A check's *evidence* is that probability weighed by the check's confidence, ``e = c * p``.
   The evidence of all checks is combined as independent signs (noisy-OR):
   ``P(fake) = 1 - prod(1 - e_c)``. A check that could not judge (confidence 0) changes
   nothing: it lowers the report's confidence, not its score.
3. Decisive rules: one sign strong enough on its own overrides the sum (the same face under
   another candidate's name caps the score at ``DECISIVE_CAP``).
4. ``score = 100 * (1 - P(fake))``; each check's contribution is its share of the points taken
   off, in proportion to ``-log(1 - e_c)`` (so the contributions add up to ``100 - score``).
5. Verdict. One weak cue alone never makes ``likely-fake``. A candidate is called
   ``likely-fake`` only with
   * a decisive finding (see :func:`is_decisive`), or
   * a score below ``score.fake_max`` backed by either two or more independent checks each with
     evidence ``e >= VerdictRule.support_min``, or one check with strong evidence at or above
     its own bar ``VerdictRule.single_bar(check)`` and confidence ``>= SINGLE_MIN_CONFIDENCE``.
   A low score without that backing is ``review``, and the reasons say why. Otherwise:
   ``authentic`` at or above ``score.authentic_min`` when the report's confidence is at least
   ``MIN_CONFIDENCE_FOR_AUTHENTIC`` (too little judged never clears anyone), else ``review``.
   The evidence thresholds (the pair bar, and one single-check bar per check) are fitted by
   ``telltale eval --cv group`` on the training folds only, as the lowest values that keep every
   real training recording out of ``likely-fake`` (never below the floors ``SUPPORT_FLOOR`` /
   ``SINGLE_FLOOR``); the shipped values are fitted the same way on all labelled data and
   stored beside the calibration.
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
FAKE_MAX = setting(
    "score.fake_max", 40.0, 5.0, 60.0,
    "Scores below this are 'likely-fake' when two checks, one strong check or a decisive sign back them.", "points",
)
MIN_CONFIDENCE_FOR_AUTHENTIC = 0.3
"""Report confidence below which no candidate is called authentic."""

DECISIVE_CAP = 15.0
"""Score ceiling when a decisive sign is present (e.g. same face under another name)."""

DECISIVE_MIN_CONFIDENCE = 0.5
"""A finding marked decisive settles the case only with at least this confidence."""

EXPECTED_CHECKS = ("faceswap", "lipsync", "identity", "reuse", "idphoto")
"""Checks whose absence or zero confidence lowers the report's confidence."""

CHECK_LABELS = {
    "faceswap": "Face swap",
    "lipsync": "Lip sync",
    "identity": "ID photo against interview",
    "reuse": "Seen before (reuse)",
    "idphoto": "ID photo pixels",
    "voice": "Voice",
}
"""How the reasons name a check to a reader (the report's keys stay the check names)."""


def check_label(name: str) -> str:
    return CHECK_LABELS.get(name, name)

MAX_PROB = 0.999
"""Ceiling on one check's evidence (no single check is ever certain)."""

SUPPORT_FLOOR = 0.5
"""Lowest evidence a check may need to count as one of two independent signs."""

SINGLE_FLOOR = 0.8
"""Lowest evidence one check alone may need to make 'likely-fake'."""

SINGLE_MIN_CONFIDENCE = 0.6
"""A check alone makes 'likely-fake' only when it judged with at least this confidence."""


@dataclass(frozen=True)
class Calibration:
    a: float
    b: float

    def probability(self, risk: float) -> float:
        q = 1.0 / (1.0 + math.exp(-(self.a * risk + self.b)))
        q0 = 1.0 / (1.0 + math.exp(-self.b))
        return max(0.0, (q - q0) / (1.0 - q0))


@dataclass(frozen=True)
class VerdictRule:
    """Evidence (confidence x calibrated probability) that backs a 'likely-fake' verdict.

    ``support_min``: each of two or more independent checks needs at least this;
    ``single_min``: one check alone needs at least this, unless ``single_by_check`` names a
    bar of its own for that check (fitted per check: a check with false alarms on real
    recordings needs more to stand alone). A bar of 1.0 is never reached: that route is off.
    """

    support_min: float = 0.6
    single_min: float = 0.9
    single_by_check: tuple[tuple[str, float], ...] = ()

    def single_bar(self, check: str) -> float:
        return dict(self.single_by_check).get(check, self.single_min)


DEFAULT_RULE = VerdictRule()
"""Used when assets/calibration.json holds no fitted rule."""


@lru_cache(maxsize=4)
def _calibration_data(path: str) -> dict:
    p = Path(path)
    if not p.exists():
        return {}
    return json.loads(p.read_text(encoding="utf-8"))


def load_calibration(path: str = str(CALIBRATION_FILE)) -> dict[str, Calibration]:
    """Per-check calibrations from the calibration file ({} when it does not exist)."""
    data = _calibration_data(path)
    return {name: Calibration(float(c["a"]), float(c["b"])) for name, c in data.get("checks", {}).items()}


def load_verdict_rule(path: str = str(CALIBRATION_FILE)) -> VerdictRule:
    """The fitted verdict rule from the calibration file, else :data:`DEFAULT_RULE`."""
    rule = _calibration_data(path).get("verdict")
    if not rule:
        return DEFAULT_RULE
    by_check = tuple(sorted((str(n), float(v)) for n, v in rule.get("single_by_check", {}).items()))
    return VerdictRule(float(rule["support_min"]), float(rule["single_min"]), by_check)


def reload_calibration() -> None:
    """Forget what was read from the calibration file (``telltale eval --fit`` rewrites it)."""
    _calibration_data.cache_clear()


@dataclass(frozen=True)
class Fused:
    score: float
    verdict: str
    confidence: float
    contributions: dict[str, float]
    reasons: list[str]


def is_decisive(finding: Finding) -> bool:
    """True when the finding says, with confidence, something that settles the case alone."""
    return bool(finding.evidence.get("decisive")) and finding.confidence >= DECISIVE_MIN_CONFIDENCE


def evidence(findings: Mapping[str, Finding], calibration: Mapping[str, Calibration]) -> dict[str, float]:
    """Each check's evidence ``confidence * calibrated probability``, at most ``MAX_PROB``."""
    out = {}
    for name, f in findings.items():
        cal = calibration.get(name)
        p = cal.probability(f.risk) if cal else f.risk
        out[name] = min(MAX_PROB, f.confidence * p)
    return out


def backing(findings: Mapping[str, Finding], strengths: Mapping[str, float], rule: VerdictRule) -> tuple[list[str], list[str]]:
    """(checks that support a fake verdict as one of two, checks strong enough alone)."""
    support = [n for n, e in strengths.items() if e >= rule.support_min]
    single = [n for n, e in strengths.items() if e >= rule.single_bar(n) and findings[n].confidence >= SINGLE_MIN_CONFIDENCE]
    return support, single


def fuse(
    findings: Mapping[str, Finding],
    settings: Mapping[str, float] | None = None,
    calibration: Mapping[str, Calibration] | None = None,
    rule: VerdictRule | None = None,
) -> Fused:
    settings = settings or {}
    calibration = load_calibration() if calibration is None else calibration
    rule = load_verdict_rule() if rule is None else rule
    authentic_min = float(settings.get(AUTHENTIC_MIN.key, AUTHENTIC_MIN.default))
    fake_max = float(settings.get(FAKE_MAX.key, FAKE_MAX.default))

    strengths = evidence(findings, calibration)
    weights = {n: -math.log(1.0 - e) for n, e in strengths.items()}
    total = sum(weights.values())
    score = 100.0 * math.exp(-total)

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

    support, single = backing(findings, strengths, rule)
    backed = bool(decisive) or len(support) >= 2 or bool(single)
    if decisive or (score < fake_max and backed):
        verdict = "likely-fake"
    elif score >= authentic_min and confidence >= MIN_CONFIDENCE_FOR_AUTHENTIC:
        verdict = "authentic"
    else:
        verdict = "review"

    reasons = _reasons(findings, contributions, confidence)
    if score < fake_max and not backed:
        lead = max(strengths, key=lambda n: strengths[n])
        reasons.append(
            f"Not called likely-fake: the low score rests on one cue ({lead}) that is not strong enough alone "
            f"(evidence {strengths[lead]:.2f}, alone it needs {rule.single_bar(lead):.2f} with confidence "
            f"{SINGLE_MIN_CONFIDENCE:.0%}), and no second check backs it (each needs {rule.support_min:.2f})."
        )
    elif verdict == "likely-fake" and not decisive:
        why = f"{' and '.join(support)} agree" if len(support) >= 2 else f"{single[0]} is strong enough alone"
        reasons.append(f"Called likely-fake: score {score:.0f} below {fake_max:.0f}, and {why}.")
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
            reasons.append(f"{check_label(name)}: too little to judge. {f.summary}")
    missing = [c for c in EXPECTED_CHECKS if c not in findings]
    if not findings:
        reasons.append("No check could judge this candidate, so no score below 100 could be earned; review by hand.")
    elif confidence < MIN_CONFIDENCE_FOR_AUTHENTIC:
        reasons.append(f"Too little could be judged (confidence {confidence:.0%}) to call this candidate authentic.")
    if missing and findings:
        reasons.append("Not checked (nothing of that kind was given or found): " + ", ".join(check_label(c) for c in missing) + ".")
    if findings and not any(contributions.get(n, 0.0) >= 1.0 for n in findings):
        reasons.insert(0, "No check found a sign of manipulation.")
    return reasons
