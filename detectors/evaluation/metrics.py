"""Detection figures on labelled scores: AUC, equal error rate, TPR at a fixed FPR, with n.

Every function takes ``labels`` (1 = fake, 0 = real) and ``scores`` (higher = more likely fake)
and returns None when a class is missing: a figure on one class is undefined, not 0.5.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

TARGET_FPR = 0.05
"""False-positive rate at which the true-positive rate is reported."""


def _split(labels: Sequence[int], scores: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels, dtype=int)
    s = np.asarray(scores, dtype=float)
    if y.shape != s.shape:
        raise ValueError(f"{y.size} labels but {s.size} scores")
    return y, s


def roc_auc(labels: Sequence[int], scores: Sequence[float]) -> float | None:
    """Area under the ROC curve (Mann-Whitney U with tie correction); None with one class."""
    y, s = _split(labels, scores)
    pos, neg = s[y == 1], s[y == 0]
    if pos.size == 0 or neg.size == 0:
        return None
    greater = (pos[:, None] > neg[None, :]).sum()
    ties = (pos[:, None] == neg[None, :]).sum()
    return float((greater + 0.5 * ties) / (pos.size * neg.size))


def roc_curve(labels: Sequence[int], scores: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """(false-positive rates, true-positive rates) at every distinct threshold, from (0,0) to (1,1)."""
    y, s = _split(labels, scores)
    thresholds = np.r_[np.inf, np.unique(s)[::-1]]
    p, n = max(1, int((y == 1).sum())), max(1, int((y == 0).sum()))
    fpr = np.array([((s >= t) & (y == 0)).sum() / n for t in thresholds])
    tpr = np.array([((s >= t) & (y == 1)).sum() / p for t in thresholds])
    return fpr, tpr


def equal_error_rate(labels: Sequence[int], scores: Sequence[float]) -> float | None:
    """The error rate where false positives and false negatives are equal (interpolated)."""
    y, _ = _split(labels, scores)
    if (y == 1).sum() == 0 or (y == 0).sum() == 0:
        return None
    fpr, tpr = roc_curve(labels, scores)
    diff = fpr - (1.0 - tpr)
    idx = int(np.argmax(diff >= 0))
    if idx == 0:
        return float(fpr[0])
    d0, d1 = diff[idx - 1], diff[idx]
    w = d0 / (d0 - d1) if d0 != d1 else 0.0
    return float(fpr[idx - 1] + w * (fpr[idx] - fpr[idx - 1]))


def tpr_at_fpr(labels: Sequence[int], scores: Sequence[float], target: float = TARGET_FPR) -> float | None:
    """The best true-positive rate with a false-positive rate at or under ``target``."""
    y, _ = _split(labels, scores)
    if (y == 1).sum() == 0 or (y == 0).sum() == 0:
        return None
    fpr, tpr = roc_curve(labels, scores)
    ok = fpr <= target + 1e-12
    return float(tpr[ok].max()) if ok.any() else 0.0


def metrics(labels: Sequence[int], scores: Sequence[float]) -> dict[str, Any]:
    """AUC, EER, TPR@5%FPR and the counts behind them."""
    y = [int(v) for v in labels]
    return {
        "auc": roc_auc(y, scores),
        "eer": equal_error_rate(y, scores),
        "tpr_at_5fpr": tpr_at_fpr(y, scores),
        "n_real": sum(1 for v in y if v == 0),
        "n_fake": sum(1 for v in y if v == 1),
    }


BOOTSTRAP_REPS = 1000
"""Resamples behind an AUC's confidence interval."""


def grouped_auc_interval(
    labels: Sequence[int], scores: Sequence[float], groups: Sequence[str], reps: int = BOOTSTRAP_REPS, seed: int = 0,
) -> tuple[float, float] | None:
    """95% interval of the AUC by resampling whole groups with replacement (files of one group
    are not independent evidence); None when a class is missing."""
    y, s = _split(labels, scores)
    if (y == 1).sum() == 0 or (y == 0).sum() == 0:
        return None
    names, index = np.unique(np.asarray(groups, dtype=object).astype(str), return_inverse=True)
    members = [np.flatnonzero(index == g) for g in range(names.size)]
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(reps):
        pick = np.concatenate([members[g] for g in rng.integers(0, names.size, names.size)])
        auc = roc_auc(y[pick], s[pick])
        if auc is not None:
            values.append(auc)
    if not values:
        return None
    lo, hi = np.percentile(values, [2.5, 97.5])
    return float(lo), float(hi)
