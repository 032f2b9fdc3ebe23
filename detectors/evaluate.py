"""`telltale eval`: detection quality on a labelled manifest, and the score's calibration.

The manifest is a CSV with columns ``path``, ``kind`` (video|image), ``label`` (real|fake) and
optionally ``manipulation``; paths are relative to the CSV's folder. Each row is analysed as a
candidate of its own (no case store). For every check and for the fused score we report AUC,
equal error rate and the true-positive rate at 5% false positives, over all rows and per
manipulation (that manipulation's fakes against all reals).

``--fit`` fits the per-check logistic calibration that :mod:`detectors.scoring` uses
(``p(fake) = sigmoid(a * risk + b)``, L2-regularised towards the identity-like prior
``PRIOR_A``/``PRIOR_B`` because labelled sets are small) and writes ``assets/calibration.json``.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

log = logging.getLogger(__name__)

TARGET_FPR = 0.05
"""False-positive rate at which the true-positive rate is reported."""

PRIOR_A, PRIOR_B = 6.0, -3.0
"""Calibration prior: risk 0.5 -> p 0.5, risk 0.9 -> p 0.92."""

PRIOR_STRENGTH = 1.0
"""L2 weight pulling the fitted (a, b) towards the prior (small sets do not override it)."""


# --------------------------------------------------------------------------- metrics


def roc_auc(labels: Sequence[int], scores: Sequence[float]) -> float | None:
    """Area under the ROC curve (Mann-Whitney U with tie correction); None with one class."""
    y = np.asarray(labels, dtype=int)
    s = np.asarray(scores, dtype=float)
    pos, neg = s[y == 1], s[y == 0]
    if pos.size == 0 or neg.size == 0:
        return None
    greater = (pos[:, None] > neg[None, :]).sum()
    ties = (pos[:, None] == neg[None, :]).sum()
    return float((greater + 0.5 * ties) / (pos.size * neg.size))


def roc_curve(labels: Sequence[int], scores: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """(false-positive rates, true-positive rates) at every distinct threshold, from (0,0) to (1,1)."""
    y = np.asarray(labels, dtype=int)
    s = np.asarray(scores, dtype=float)
    thresholds = np.r_[np.inf, np.unique(s)[::-1]]
    p, n = max(1, (y == 1).sum()), max(1, (y == 0).sum())
    fpr = np.array([((s >= t) & (y == 0)).sum() / n for t in thresholds])
    tpr = np.array([((s >= t) & (y == 1)).sum() / p for t in thresholds])
    return fpr, tpr


def equal_error_rate(labels: Sequence[int], scores: Sequence[float]) -> float | None:
    """The error rate where false positives and false negatives are equal (interpolated)."""
    y = np.asarray(labels, dtype=int)
    if (y == 1).sum() == 0 or (y == 0).sum() == 0:
        return None
    fpr, tpr = roc_curve(labels, scores)
    fnr = 1.0 - tpr
    diff = fpr - fnr
    idx = int(np.argmax(diff >= 0))
    if idx == 0:
        return float(fpr[0])
    # linear interpolation between idx-1 and idx
    d0, d1 = diff[idx - 1], diff[idx]
    w = d0 / (d0 - d1) if d0 != d1 else 0.0
    return float(fpr[idx - 1] + w * (fpr[idx] - fpr[idx - 1]))


def tpr_at_fpr(labels: Sequence[int], scores: Sequence[float], target: float = TARGET_FPR) -> float | None:
    """The best true-positive rate with a false-positive rate at or under ``target``."""
    y = np.asarray(labels, dtype=int)
    if (y == 1).sum() == 0 or (y == 0).sum() == 0:
        return None
    fpr, tpr = roc_curve(labels, scores)
    ok = fpr <= target + 1e-12
    return float(tpr[ok].max()) if ok.any() else 0.0


def metrics(labels: Sequence[int], scores: Sequence[float]) -> dict[str, Any]:
    y = list(labels)
    return {
        "auc": roc_auc(y, scores),
        "eer": equal_error_rate(y, scores),
        "tpr_at_5fpr": tpr_at_fpr(y, scores),
        "n_real": int(sum(1 for v in y if v == 0)),
        "n_fake": int(sum(1 for v in y if v == 1)),
    }


# --------------------------------------------------------------------------- manifest


@dataclass(frozen=True)
class Row:
    path: Path
    kind: str
    label: int  # 1 = fake
    manipulation: str


def read_manifest(manifest: str | Path) -> list[Row]:
    base = Path(manifest).resolve().parent
    rows = []
    with open(manifest, newline="", encoding="utf-8") as fh:
        for raw in csv.DictReader(fh):
            label = (raw.get("label") or "").strip().lower()
            if label not in ("real", "fake"):
                raise ValueError(f"{manifest}: row {raw.get('path')!r} has label {label!r} (expected real or fake)")
            manip = (raw.get("manipulation") or "none").strip() or "none"
            rows.append(Row(base / raw["path"].strip(), (raw.get("kind") or "video").strip(), int(label == "fake"), _short(manip)))
    return rows


def _short(manipulation: str) -> str:
    """'faceswap (FaceForensics++ ...)' -> 'faceswap'; 'reuse-of:x (...)' -> 'reuse'."""
    head = manipulation.split("(")[0].strip()
    return "reuse" if head.startswith("reuse-of") else (head or "none")


@dataclass
class RowResult:
    row: Row
    fused_risk: float | None = None  # 1 - score/100
    checks: dict[str, tuple[float, float]] = field(default_factory=dict)  # name -> (risk, confidence)
    error: str | None = None


def run_rows(
    rows: Sequence[Row],
    settings: Mapping[str, Any] | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    cancel: threading.Event | None = None,
) -> list[RowResult]:
    from .pipeline import analyze_candidate

    results = []
    for i, row in enumerate(rows):
        if progress:
            progress(i, len(rows), row.path.name)
        videos, ids = ([row.path], []) if row.kind == "video" else ([], [row.path])
        report = analyze_candidate(videos, ids, row.path.stem, library=None, settings=settings, cancel=cancel)
        res = RowResult(row)
        if not report.analysed_anything:
            res.error = "; ".join(report.errors) or "could not be analysed"
        else:
            res.fused_risk = 1.0 - report.score / 100.0
            res.checks = {n: (f.risk, f.confidence) for n, f in report.checks.items()}
        results.append(res)
    return results


def summarise(results: Sequence[RowResult]) -> dict[str, Any]:
    ok = [r for r in results if r.error is None]
    out: dict[str, Any] = {
        "fused": metrics([r.row.label for r in ok], [r.fused_risk for r in ok]),
        "checks": {},
        "by_manipulation": {},
        "files": [],
        "errors": [f"{r.row.path}: {r.error}" for r in results if r.error],
    }
    names = sorted({n for r in ok for n in r.checks})
    for name in names:
        judged = [r for r in ok if name in r.checks and r.checks[name][1] > 0]
        m = metrics([r.row.label for r in judged], [r.checks[name][0] for r in judged])
        m["n_not_judged"] = len(ok) - len(judged)
        out["checks"][name] = m
    reals = [r for r in ok if r.row.label == 0]
    for manip in sorted({r.row.manipulation for r in ok if r.row.label == 1}):
        fakes = [r for r in ok if r.row.label == 1 and r.row.manipulation == manip]
        sub = reals + fakes
        entry = {"fused": metrics([r.row.label for r in sub], [r.fused_risk for r in sub]), "checks": {}}
        for name in names:
            judged = [r for r in sub if name in r.checks and r.checks[name][1] > 0]
            entry["checks"][name] = {"auc": roc_auc([r.row.label for r in judged], [r.checks[name][0] for r in judged])}
        out["by_manipulation"][manip] = entry
    for r in results:
        out["files"].append(
            {
                "path": str(r.row.path),
                "label": "fake" if r.row.label else "real",
                "manipulation": r.row.manipulation,
                "fused_risk": None if r.fused_risk is None else round(r.fused_risk, 4),
                "checks": {n: {"risk": round(v[0], 4), "confidence": round(v[1], 4)} for n, v in r.checks.items()},
                "error": r.error,
            }
        )
    return out


# --------------------------------------------------------------------------- calibration


def fit_logistic(risks: Sequence[float], labels: Sequence[int], weights: Sequence[float] | None = None) -> tuple[float, float]:
    """MAP logistic fit of p(fake | risk) with an L2 pull towards (PRIOR_A, PRIOR_B) (Newton's method)."""
    x = np.asarray(risks, dtype=float)
    y = np.asarray(labels, dtype=float)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    theta = np.array([PRIOR_A, PRIOR_B])
    prior = theta.copy()
    X = np.c_[x, np.ones_like(x)]
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-(X @ theta)))
        grad = X.T @ (w * (p - y)) + PRIOR_STRENGTH * (theta - prior)
        hess = (X * (w * p * (1 - p))[:, None]).T @ X + PRIOR_STRENGTH * np.eye(2)
        step = np.linalg.solve(hess, grad)
        theta -= step
        if np.abs(step).max() < 1e-8:
            break
    return float(theta[0]), float(theta[1])


def fit_calibration(results: Sequence[RowResult]) -> dict[str, Any]:
    ok = [r for r in results if r.error is None]
    checks = {}
    for name in sorted({n for r in ok for n in r.checks}):
        judged = [r for r in ok if name in r.checks and r.checks[name][1] > 0]
        labels = [r.row.label for r in judged]
        if len(set(labels)) < 2 or len({r.checks[name][0] for r in judged}) < 2:
            continue  # one class, or one risk value: nothing to fit
        a, b = fit_logistic([r.checks[name][0] for r in judged], labels, [r.checks[name][1] for r in judged])
        checks[name] = {"a": round(a, 4), "b": round(b, 4), "n": len(judged)}
    return {"method": "per-check logistic, MAP with L2 prior towards a=%g b=%g" % (PRIOR_A, PRIOR_B), "checks": checks}


# --------------------------------------------------------------------------- CLI


def _fmt(v: Any) -> str:
    return "  -  " if v is None else f"{v:5.3f}"


def format_table(summary: Mapping[str, Any]) -> str:
    lines = [f"{'':<22}{'AUC':>7}{'EER':>7}{'TPR@5%':>8}{'real':>6}{'fake':>6}"]

    def row(label: str, m: Mapping[str, Any]) -> None:
        lines.append(f"{label:<22}{_fmt(m['auc']):>7}{_fmt(m['eer']):>7}{_fmt(m['tpr_at_5fpr']):>8}{m['n_real']:>6}{m['n_fake']:>6}")

    row("fused score", summary["fused"])
    for name, m in summary["checks"].items():
        row(f"  {name}", m)
    if summary["by_manipulation"]:
        lines.append("By manipulation (its fakes against all reals), AUC:")
        for manip, entry in summary["by_manipulation"].items():
            per = "  ".join(f"{n}={_fmt(v['auc']).strip()}" for n, v in entry["checks"].items())
            lines.append(f"  {manip:<20} fused={_fmt(entry['fused']['auc']).strip()}  {per}")
    lines.append("Files:")
    for f in summary["files"]:
        if f["error"]:
            lines.append(f"  ! {Path(f['path']).name}: {f['error']}")
            continue
        per = " ".join(f"{n}={v['risk']:.2f}/{v['confidence']:.2f}" for n, v in f["checks"].items())
        lines.append(f"  {f['label']:<4} {Path(f['path']).name:<38} fused={f['fused_risk']:.3f}  {per}")
    return "\n".join(lines)


def cmd_eval(args: argparse.Namespace) -> int:
    from .cli import _parse_settings

    try:
        rows = read_manifest(args.manifest)
    except (OSError, ValueError, KeyError) as exc:
        print(f"telltale: {args.manifest}: cannot read the manifest ({exc})", file=sys.stderr)
        return 1
    if args.kind:
        rows = [r for r in rows if r.kind == args.kind]

    def progress(i: int, n: int, name: str) -> None:
        if sys.stderr.isatty():
            sys.stderr.write(f"\r[{i + 1}/{n}] {name[:60]:<60}")
            sys.stderr.flush()

    results = run_rows(rows, _parse_settings(args.set or []), progress)
    if sys.stderr.isatty():
        sys.stderr.write("\r" + " " * 70 + "\r")
    summary = summarise(results)
    print(format_table(summary))
    for err in summary["errors"]:
        print(f"telltale: skipped {err}", file=sys.stderr)
    if args.fit:
        from .scoring import CALIBRATION_FILE, load_calibration

        target = Path(args.fit_out) if args.fit_out else CALIBRATION_FILE
        calib = fit_calibration(results)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(calib, indent=2) + "\n", encoding="utf-8")
        load_calibration.cache_clear()
        print(f"Calibration written to {target}")
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        print(f"Results written to {args.json}")
    return 0 if any(r.error is None for r in results) else 1


def register(sub: Any) -> None:
    p = sub.add_parser("eval", help="detection quality (AUC, EER, TPR@5%%FPR) on a labelled manifest")
    p.add_argument("manifest", help="CSV with columns path, kind, label (real|fake), manipulation")
    p.add_argument("--json", metavar="OUT", help="write the figures as JSON")
    p.add_argument("--kind", choices=["video", "image"], help="only rows of this kind")
    p.add_argument("--fit", action="store_true", help="fit the score's per-check calibration on these results")
    p.add_argument("--fit-out", metavar="FILE", help="where to write the calibration (default assets/calibration.json)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a setting")
    p.set_defaults(func=cmd_eval)
