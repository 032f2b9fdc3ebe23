"""The fused score: contributions add up, no evidence costs nothing, decisive signs cap, and the
verdict rule: one weak cue alone never makes 'likely-fake'."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from detectors.base import Finding
from detectors.scoring import (
    DECISIVE_CAP,
    SINGLE_MIN_CONFIDENCE,
    Calibration,
    VerdictRule,
    fuse,
    load_calibration,
    load_verdict_rule,
)

RULE = VerdictRule(support_min=0.6, single_min=0.9)


def f(name: str, risk: float, conf: float, **evidence) -> Finding:
    return Finding(name, risk, conf, f"{name} says {risk}", evidence)


def test_nothing_suspicious_scores_100_and_contributions_add_up() -> None:
    clean = fuse({"faceswap": f("faceswap", 0.0, 0.9), "lipsync": f("lipsync", 0.0, 0.8)}, calibration={}, rule=RULE)
    assert clean.score == pytest.approx(100.0)
    mixed = fuse({"faceswap": f("faceswap", 0.8, 0.9), "lipsync": f("lipsync", 0.3, 0.5)}, calibration={}, rule=RULE)
    assert sum(mixed.contributions.values()) == pytest.approx(100.0 - mixed.score)
    assert mixed.contributions["faceswap"] > mixed.contributions["lipsync"] > 0
    assert mixed.reasons[0].startswith("faceswap says 0.8")


def test_a_check_that_cannot_judge_lowers_confidence_not_score() -> None:
    judged = fuse({"faceswap": f("faceswap", 0.1, 0.9)}, calibration={}, rule=RULE)
    plus_blind = fuse({"faceswap": f("faceswap", 0.1, 0.9), "lipsync": f("lipsync", 0.9, 0.0)}, calibration={}, rule=RULE)
    assert plus_blind.score == pytest.approx(judged.score)
    assert plus_blind.confidence == pytest.approx(judged.confidence)  # lipsync counted as unjudged either way
    assert any(r.startswith("Lip sync: too little to judge.") for r in plus_blind.reasons)


def test_no_checks_is_review_not_authentic() -> None:
    empty = fuse({}, calibration={}, rule=RULE)
    assert empty.score == 100.0 and empty.verdict == "review" and empty.confidence == 0.0


def test_decisive_sign_caps_the_score() -> None:
    res = fuse({"reuse": f("reuse", 0.5, 0.9, decisive=True), "faceswap": f("faceswap", 0.0, 0.9)}, calibration={}, rule=RULE)
    assert res.score <= DECISIVE_CAP and res.verdict == "likely-fake"
    assert sum(res.contributions.values()) == pytest.approx(100.0 - res.score)
    unsure = fuse({"reuse": f("reuse", 0.5, 0.3, decisive=True)}, calibration={}, rule=RULE)
    assert unsure.verdict != "likely-fake"  # a decisive flag without confidence settles nothing


def test_calibration_is_monotone_and_zero_risk_costs_nothing() -> None:
    cal = Calibration(a=6.0, b=-2.5)
    assert cal.probability(0.0) == 0.0
    values = [cal.probability(r / 10) for r in range(11)]
    assert values == sorted(values) and values[-1] > 0.9
    res = fuse({"faceswap": f("faceswap", 0.0, 1.0)}, calibration={"faceswap": cal}, rule=RULE)
    assert res.score == pytest.approx(100.0)


def test_one_weak_cue_alone_is_review_not_likely_fake() -> None:
    # lip-sync alone at risk 0.8 takes the score to 20 (< 40) but is below the single-check bar
    one = fuse({"faceswap": f("faceswap", 0.0, 0.9), "lipsync": f("lipsync", 0.8, 1.0)}, calibration={}, rule=RULE)
    assert one.score == pytest.approx(20.0)
    assert one.verdict == "review"
    assert any("Not called likely-fake" in r and "lipsync" in r for r in one.reasons)
    assert sum(one.contributions.values()) == pytest.approx(100.0 - one.score)


def test_two_independent_checks_make_likely_fake() -> None:
    two = fuse({"faceswap": f("faceswap", 0.65, 1.0), "lipsync": f("lipsync", 0.65, 1.0)}, calibration={}, rule=RULE)
    assert two.score == pytest.approx(100 * 0.35 * 0.35)
    assert two.verdict == "likely-fake"
    assert any("faceswap and lipsync agree" in r for r in two.reasons)
    # the same two checks just under the support bar: the low score alone does not decide
    weak_pair = fuse({"faceswap": f("faceswap", 0.55, 1.0), "lipsync": f("lipsync", 0.55, 1.0)}, calibration={}, rule=RULE)
    assert weak_pair.score < 40 and weak_pair.verdict == "review"


def test_one_strong_confident_check_is_enough_but_not_without_confidence() -> None:
    strong = fuse({"faceswap": f("faceswap", 0.95, 1.0)}, calibration={}, rule=RULE)
    assert strong.verdict == "likely-fake"
    unsure = fuse({"faceswap": f("faceswap", 1.0, SINGLE_MIN_CONFIDENCE - 0.05)}, calibration={}, rule=RULE)
    assert unsure.verdict == "review"  # evidence 0.55 only: neither strong nor backed
    off = fuse({"faceswap": f("faceswap", 1.0, 1.0)}, calibration={}, rule=VerdictRule(0.6, 1.0))
    assert off.score < 1 and off.verdict == "review"  # single route switched off by the fitted rule


def test_each_check_has_its_own_bar_to_stand_alone() -> None:
    rule = VerdictRule(support_min=0.6, single_min=0.9, single_by_check=(("faceswap", 0.85), ("lipsync", 1.0)))
    assert fuse({"faceswap": f("faceswap", 0.9, 1.0)}, calibration={}, rule=rule).verdict == "likely-fake"
    lips = fuse({"lipsync": f("lipsync", 0.99, 1.0)}, calibration={}, rule=rule)
    assert lips.score == pytest.approx(1.0) and lips.verdict == "review"
    assert any("alone it needs 1.00" in r for r in lips.reasons)
    assert fuse({"idphoto": f("idphoto", 0.95, 1.0)}, calibration={}, rule=rule).verdict == "likely-fake"  # default bar 0.9


def test_verdict_thresholds_follow_settings() -> None:
    finding = {"faceswap": f("faceswap", 0.5, 1.0), "lipsync": f("lipsync", 0.0, 1.0), "identity": f("identity", 0.0, 1.0)}
    default = fuse(finding, calibration={}, rule=RULE)
    assert default.score == pytest.approx(50.0) and default.verdict == "review"
    pair = {"faceswap": f("faceswap", 0.7, 1.0), "lipsync": f("lipsync", 0.7, 1.0), "identity": f("identity", 0.0, 1.0)}
    assert fuse(pair, calibration={}, rule=RULE).verdict == "likely-fake"  # score 9
    assert fuse(pair, settings={"score.fake_max": 5.0}, calibration={}, rule=RULE).verdict == "review"


def test_calibration_file_carries_the_fitted_rule(tmp_path: Path) -> None:
    path = tmp_path / "calibration.json"
    verdict = {"support_min": 0.7, "single_min": 0.95, "single_by_check": {"lipsync": 1.0, "faceswap": 0.9}}
    path.write_text(json.dumps({"checks": {"faceswap": {"a": 5.0, "b": -2.0, "n": 10}}, "verdict": verdict}))
    assert load_calibration(str(path)) == {"faceswap": Calibration(5.0, -2.0)}
    assert load_verdict_rule(str(path)) == VerdictRule(0.7, 0.95, (("faceswap", 0.9), ("lipsync", 1.0)))
    assert load_verdict_rule(str(tmp_path / "missing.json")) == VerdictRule()


def test_shipped_calibration_file_loads() -> None:
    rule = load_verdict_rule()
    assert 0.5 <= rule.support_min <= 1.0 and 0.8 <= rule.single_min <= 1.0
    assert all(c.a >= 0 for c in load_calibration().values())  # more risk never means less suspicion
