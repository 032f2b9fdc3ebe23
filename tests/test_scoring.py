"""The fused score: contributions add up, no evidence costs nothing, decisive signs cap."""

from __future__ import annotations

import pytest

from detectors.base import Finding
from detectors.scoring import DECISIVE_CAP, Calibration, fuse


def f(name: str, risk: float, conf: float, **evidence) -> Finding:
    return Finding(name, risk, conf, f"{name} says {risk}", evidence)


def test_nothing_suspicious_scores_100_and_contributions_add_up() -> None:
    clean = fuse({"faceswap": f("faceswap", 0.0, 0.9), "lipsync": f("lipsync", 0.0, 0.8)}, calibration={})
    assert clean.score == pytest.approx(100.0)
    mixed = fuse({"faceswap": f("faceswap", 0.8, 0.9), "lipsync": f("lipsync", 0.3, 0.5)}, calibration={})
    assert sum(mixed.contributions.values()) == pytest.approx(100.0 - mixed.score)
    assert mixed.contributions["faceswap"] > mixed.contributions["lipsync"] > 0
    assert mixed.reasons[0].startswith("faceswap says 0.8")


def test_a_check_that_cannot_judge_lowers_confidence_not_score() -> None:
    judged = fuse({"faceswap": f("faceswap", 0.1, 0.9)}, calibration={})
    plus_blind = fuse({"faceswap": f("faceswap", 0.1, 0.9), "lipsync": f("lipsync", 0.9, 0.0)}, calibration={})
    assert plus_blind.score == pytest.approx(judged.score)
    assert plus_blind.confidence == pytest.approx(judged.confidence)  # lipsync counted as unjudged either way
    assert any("lipsync could not judge" in r for r in plus_blind.reasons)


def test_no_checks_is_review_not_authentic() -> None:
    empty = fuse({}, calibration={})
    assert empty.score == 100.0 and empty.verdict == "review" and empty.confidence == 0.0


def test_decisive_sign_caps_the_score() -> None:
    res = fuse({"reuse": f("reuse", 0.5, 0.9, decisive=True), "faceswap": f("faceswap", 0.0, 0.9)}, calibration={})
    assert res.score <= DECISIVE_CAP and res.verdict == "likely-fake"
    assert sum(res.contributions.values()) == pytest.approx(100.0 - res.score)


def test_calibration_is_monotone_and_zero_risk_costs_nothing() -> None:
    cal = Calibration(a=6.0, b=-2.5)
    assert cal.probability(0.0) == 0.0
    values = [cal.probability(r / 10) for r in range(11)]
    assert values == sorted(values) and values[-1] > 0.9
    res = fuse({"faceswap": f("faceswap", 0.0, 1.0)}, calibration={"faceswap": cal})
    assert res.score == pytest.approx(100.0)


def test_verdict_thresholds_follow_settings() -> None:
    finding = {"faceswap": f("faceswap", 0.5, 1.0), "lipsync": f("lipsync", 0.0, 1.0), "identity": f("identity", 0.0, 1.0)}
    default = fuse(finding, calibration={})
    assert default.score == pytest.approx(50.0) and default.verdict == "review"
    strict = fuse(finding, settings={"score.fake_max": 55.0}, calibration={})
    assert strict.verdict == "likely-fake"
