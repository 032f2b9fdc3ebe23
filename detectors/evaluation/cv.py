"""Grouped cross-fitting: everything fitted is fitted without the fold it scores.

What is fitted from labelled data, here and in the shipped ``assets/calibration.json``:
* per-check calibration, a logistic ``p(fake | risk)`` (:func:`fit_calibration`);
* the verdict rule's evidence thresholds (:func:`fit_verdict_rule`): the bar two agreeing checks
  must each pass, and each check's bar to stand alone, chosen as the lowest values that keep
  every real training recording out of 'likely-fake'.

:func:`cross_fit` fits them on the training folds of each fold and applies them to that
fold's rows only; :func:`oof_fuse` gives every row its out-of-fold score and verdict.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Protocol, Sequence, TypeVar

import numpy as np

from ..base import Finding
from ..scoring import (
    DEFAULT_RULE,
    SINGLE_FLOOR,
    SINGLE_MIN_CONFIDENCE,
    SUPPORT_FLOOR,
    Calibration,
    Fused,
    VerdictRule,
    evidence,
    fuse,
)

PRIOR_A, PRIOR_B = 6.0, -3.0
"""Calibration prior: risk 0.5 -> p 0.5, risk 0.9 -> p 0.92."""

PRIOR_STRENGTH = 1.0
"""L2 weight pulling the fitted (a, b) towards the prior (small sets do not override it)."""

MIN_ROWS_PER_CLASS = 3
"""A check is calibrated only with at least this many judged real and fake rows."""

RULE_MARGIN = 0.02
"""Evidence a threshold keeps above the strongest real training row's."""

RULE_CEILING = 1.0
"""A threshold at 1.0 is never reached (evidence is capped below it): that route is off."""


class Labelled(Protocol):
    label: int

    @property
    def findings(self) -> Mapping[str, Finding]: ...


T = TypeVar("T")
M = TypeVar("M")
R = TypeVar("R")


def fit_logistic(risks: Sequence[float], labels: Sequence[int], weights: Sequence[float] | None = None) -> tuple[float, float]:
    """MAP logistic fit of p(fake | risk) with an L2 pull towards (PRIOR_A, PRIOR_B).

    Damped Newton: a step is halved until the penalised negative log-likelihood falls (the
    objective is strictly convex, so this converges even where plain Newton overshoots, e.g.
    with most risks at 0 and a few extreme values)."""
    x = np.asarray(risks, dtype=float)
    y = np.asarray(labels, dtype=float)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    prior = np.array([PRIOR_A, PRIOR_B])
    X = np.c_[x, np.ones_like(x)]

    def objective(t: np.ndarray) -> float:
        z = X @ t
        return float((w * (np.logaddexp(0.0, z) - y * z)).sum() + 0.5 * PRIOR_STRENGTH * ((t - prior) ** 2).sum())

    theta = prior.copy()
    value = objective(theta)
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-(X @ theta)))
        grad = X.T @ (w * (p - y)) + PRIOR_STRENGTH * (theta - prior)
        hess = (X * (w * p * (1 - p))[:, None]).T @ X + PRIOR_STRENGTH * np.eye(2)
        step = np.linalg.solve(hess, grad)
        t = 1.0
        while t > 1e-8:
            candidate = theta - t * step
            new = objective(candidate)
            if new <= value:
                break
            t *= 0.5
        else:
            break
        theta, value = candidate, new
        if np.abs(t * step).max() < 1e-8:
            break
    return float(theta[0]), float(theta[1])


def fit_calibration(items: Sequence[Labelled]) -> dict[str, Calibration]:
    """Per-check logistic calibration on the rows where the check judged (weighted by confidence)."""
    out: dict[str, Calibration] = {}
    for name in sorted({n for it in items for n in it.findings}):
        judged = [(it.findings[name], it.label) for it in items if name in it.findings and it.findings[name].confidence > 0]
        labels = [y for _, y in judged]
        if min(labels.count(0), labels.count(1)) < MIN_ROWS_PER_CLASS or len({f.risk for f, _ in judged}) < 2:
            continue  # too few of a class, or one risk value: nothing to fit, the risk is used as is
        a, b = fit_logistic([f.risk for f, _ in judged], labels, [f.confidence for f, _ in judged])
        # a check whose risk ran the other way on these rows gets no weight (a = 0: p = 0 at every
        # risk), never a negative one: more risk must not mean less suspicion
        out[name] = Calibration(max(0.0, a), b)
    return out


def fit_verdict_rule(items: Sequence[Labelled], calibration: Mapping[str, Calibration]) -> VerdictRule:
    """The lowest evidence thresholds under which no real training row is backed as fake.

    ``support_min`` sits above every real row's second-strongest check; each check's own
    single-check bar above every real row's evidence from that check (judged with enough
    confidence to stand alone), each by ``RULE_MARGIN`` and never below its floor. A check no
    real row gave evidence for keeps the floor. Without real rows the default rule stands.
    """
    reals = [it for it in items if it.label == 0]
    if not reals:
        return DEFAULT_RULE
    second = 0.0
    single: dict[str, float] = {n: 0.0 for it in items for n in it.findings}
    for it in reals:
        e = evidence(it.findings, calibration)
        ranked = sorted(e.values(), reverse=True)
        if len(ranked) >= 2:
            second = max(second, ranked[1])
        for n, v in e.items():
            if it.findings[n].confidence >= SINGLE_MIN_CONFIDENCE:
                single[n] = max(single[n], v)
    support_min = _bar(second, SUPPORT_FLOOR)
    by_check = tuple(sorted((n, _bar(v, SINGLE_FLOOR)) for n, v in single.items()))
    return VerdictRule(support_min, max([SINGLE_FLOOR, *(v for _, v in by_check)]), by_check)


def _bar(strongest_real: float, floor: float) -> float:
    return round(float(np.clip(strongest_real + RULE_MARGIN, floor, RULE_CEILING)), 4)


@dataclass(frozen=True)
class Fitted:
    """What one fit produced: the calibration and the verdict rule."""

    calibration: dict[str, Calibration]
    rule: VerdictRule

    def to_dict(self) -> dict[str, Any]:
        return {
            "checks": {n: {"a": round(c.a, 4), "b": round(c.b, 4)} for n, c in sorted(self.calibration.items())},
            "verdict": {
                "support_min": self.rule.support_min,
                "single_min": self.rule.single_min,
                "single_by_check": dict(self.rule.single_by_check),
            },
        }


def fit_all(items: Sequence[Labelled]) -> Fitted:
    """Calibration, then the verdict rule under that calibration, on the same (training) rows."""
    calibration = fit_calibration(items)
    return Fitted(calibration, fit_verdict_rule(items, calibration))


def cross_fit(
    items: Sequence[T],
    folds: Sequence[int],
    fit: Callable[[list[T]], M],
    apply: Callable[[M, list[T]], list[R]],
) -> tuple[list[R | None], dict[int, M]]:
    """For each fold k: ``fit`` on the items of the other folds, ``apply`` to the items of fold k.

    Returns one output per item (in order) and the model fitted for each fold. No item is ever
    scored by a model whose training set contained it or anything of its fold.
    """
    if len(items) != len(folds):
        raise ValueError(f"{len(items)} items but {len(folds)} folds")
    out: list[R | None] = [None] * len(items)
    models: dict[int, M] = {}
    for k in sorted(set(folds)):
        test_idx = [i for i, f in enumerate(folds) if f == k]
        train = [items[i] for i, f in enumerate(folds) if f != k]
        model = fit(train)
        models[k] = model
        for i, r in zip(test_idx, apply(model, [items[i] for i in test_idx])):
            out[i] = r
    return out, models


def oof_fuse(
    items: Sequence[Labelled],
    folds: Sequence[int],
    settings: Mapping[str, float] | None = None,
) -> tuple[list[Fused], dict[int, Fitted]]:
    """Every item's score and verdict from the calibration and rule fitted without its fold."""

    def apply(model: Fitted, test: list[Labelled]) -> list[Fused]:
        return [fuse(it.findings, settings, model.calibration, model.rule) for it in test]

    fused, models = cross_fit(list(items), list(folds), fit_all, apply)
    return [f for f in fused if f is not None], models
