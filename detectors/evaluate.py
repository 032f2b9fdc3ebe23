"""`telltale eval`: detection quality that cannot flatter, and the score's calibration.

    telltale eval MANIFEST [MANIFEST...] --cv group [--folds 5] [--fold-models DIR]... [--kind video|image]
                  [--json OUT] [--fit] [--cache DIR | --no-cache] [--shard K/N] [--set KEY=VALUE]...

1. Rows: the manifests' files (see :mod:`detectors.evaluation.manifests`), each once; its fold
   is ``fold_of(group_key(group, source, path))`` from :mod:`detectors.folds`, so files of one
   group (a swap and its own real input) always share a fold.
2. Analysis: each file once, as a candidate of its own (no case store). A file of fold k is
   analysed inside ``detectors.models.fold_models(DIR, k)``: a learned check loads the copy of
   its model trained without fold k. The checks' outputs are cached per file
   (:mod:`detectors.evaluation.cache`), keyed by content, engine code, models and settings.
3. Fitting, out-of-fold: the per-check calibration and the verdict rule's thresholds
   (:mod:`detectors.evaluation.cv`) are fitted for each fold k on the other folds only, and
   score fold k. Every figure printed is out-of-fold: AUC, EER, TPR@5%FPR of each check and of
   the fused score, per kind and per family, verdicts of real and fake files, the real files
   called 'likely-fake' and the real files with any check's risk >= 0.5, with n everywhere.
4. ``--fit`` then fits the same things on all rows and writes ``assets/calibration.json``: the
   shipped calibration, recorded with the out-of-fold figures that were printed before it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from .base import Cancelled, Finding
from .evaluation.cache import ResultCache, engine_fingerprint, file_digest, fold_fingerprint
from .evaluation.cv import Fitted, fit_all, fit_logistic, oof_fuse
from .evaluation.manifests import Row, read_manifest, read_manifests
from .evaluation.metrics import TARGET_FPR, equal_error_rate, grouped_auc_interval, metrics, roc_auc, tpr_at_fpr
from .folds import N_FOLDS

__all__ = [
    "TARGET_FPR", "equal_error_rate", "fit_logistic", "metrics", "read_manifest", "read_manifests",
    "roc_auc", "tpr_at_fpr", "RowResult", "analyse_rows", "evaluate", "summarise", "format_table",
]

log = logging.getLogger(__name__)

RISK_ALARM = 0.5
"""A check's raw risk at or above this on a real file is counted as a false alarm."""

CACHE_FORMAT = 2
"""Bumped when the cached entry's content changes (2: sub-signal values under ``parts``)."""


# --------------------------------------------------------------------------- analysis


@dataclass
class RowResult:
    """One file's checks (cached or fresh) and its fold; ``error`` when it could not be analysed."""

    row: Row
    fold: int
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> risk, confidence, summary, decisive
    error: str | None = None
    cached: bool = False

    @property
    def label(self) -> int:
        return self.row.label

    @property
    def findings(self) -> dict[str, Finding]:
        return {
            n: Finding(n, c["risk"], c["confidence"], c.get("summary", ""), {"decisive": bool(c.get("decisive"))})
            for n, c in self.checks.items()
        }


def _analyse_file(row: Row, settings: Mapping[str, Any], cancel: threading.Event | None) -> dict[str, Any]:
    from .pipeline import analyze_candidate

    videos, ids = ([row.path], []) if row.kind == "video" else ([], [row.path])
    report = analyze_candidate(videos, ids, row.path.stem, library=None, settings=settings, cancel=cancel)
    if not report.analysed_anything:
        return {"error": "; ".join(report.errors) or "could not be analysed", "checks": {}}
    checks = {
        n: {"risk": f.risk, "confidence": f.confidence, "summary": f.summary, "decisive": bool(f.evidence.get("decisive")),
            "parts": signal_parts(f.evidence)}
        for n, f in report.checks.items()
    }
    return {"error": None, "checks": checks, "seconds": round(report.timings_s.get("total", 0.0), 2)}


def _number(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v or v in (float("inf"), float("-inf")):
        return None
    return float(v)


def signal_parts(evidence: Mapping[str, Any]) -> dict[str, float | None]:
    """A check's sub-signals, for per-part figures: its ``risk_parts`` (risks in [0, 1], named
    as they are), its reported ``signals`` (``signal:<name>``: the value) and ``cues``
    (``cue:<name>``: the cue's score, else its value)."""
    out: dict[str, float | None] = {}
    for name, v in (evidence.get("risk_parts") or {}).items():
        out[str(name)] = _number(v)
    for prefix, key in (("signal", "signals"), ("cue", "cues")):
        for name, entry in (evidence.get(key) or {}).items():
            if isinstance(entry, Mapping):
                score = _number(entry.get("score"))
                out[f"{prefix}:{name}"] = score if score is not None else _number(entry.get("value"))
    return out


def shipped_models_in_use(fold_dir: str | Path | None) -> list[str]:
    """Shipped models (assets/models) loaded so far although ``fold_dir`` has per-fold copies of them.

    Such a model scored files it may have been trained on: the learned check ran outside
    :func:`detectors.models.fold_models` (e.g. on a thread of its own), and its figures are not
    out-of-fold.
    """
    if fold_dir is None:
        return []
    from . import models

    leaked = []
    for path in list(models._sessions):  # noqa: SLF001 - the loader's own record of what it loaded
        if Path(path).parent == models.MODELS_DIR and any(Path(fold_dir).glob(f"{Path(path).stem}_fold*{Path(path).suffix}")):
            leaked.append(Path(path).name)
    return sorted(leaked)


def shipped_without_fold_copy(fold_dir: str | Path | None) -> list[str]:
    """Model files in assets/models that ``fold_dir`` has no ``<stem>_fold<k>`` copy of."""
    from .models import MODELS_DIR

    if not MODELS_DIR.is_dir():
        return []
    out = []
    for f in sorted(p for p in MODELS_DIR.iterdir() if p.is_file()):
        if fold_dir is None or not any(Path(fold_dir).glob(f"{f.stem}_fold*{f.suffix}")):
            out.append(f.name)
    return out


def analyse_rows(
    rows: Sequence[Row],
    k: int = N_FOLDS,
    settings: Mapping[str, Any] | None = None,
    fold_dir: str | Path | None = None,
    cache: ResultCache | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    cancel: threading.Event | None = None,
    cached_only: bool = False,
) -> tuple[list[RowResult], list[str]]:
    """Analyse every row once (from the cache when it can); returns the results and any model leaks.

    ``cached_only``: analyse nothing; a row not in the cache is reported as not analysed."""
    from .models import fold_models

    settings = dict(settings or {})
    cache = cache or ResultCache(None)
    engine = engine_fingerprint()
    results: list[RowResult] = []
    leaks: set[str] = set()
    for i, row in enumerate(rows):
        fold = row.fold(k)
        res = RowResult(row, fold)
        try:
            content = file_digest(row.path)
        except OSError as exc:
            res.error = f"cannot read the file ({exc.strerror or exc})"
            results.append(res)
            if progress:
                progress(i, len(rows), f"{row.path.name}: {res.error}")
            continue
        key = cache.key(content, f"{engine}:{CACHE_FORMAT}", fold_fingerprint(fold_dir, fold), settings)
        entry = cache.get(key)
        res.cached = entry is not None
        if entry is None and cached_only:
            res.error = "not in the cache (--cached-only)"
            results.append(res)
            continue
        if entry is None:
            try:
                with fold_models(fold_dir, fold):
                    entry = _analyse_file(row, settings, cancel)
            except (Cancelled, KeyboardInterrupt):
                raise
            except Exception as exc:  # noqa: BLE001 - an engine failure on one file is reported, not cached
                log.error("%s: analysis failed: %s", row.path, exc, exc_info=log.isEnabledFor(logging.DEBUG))
                res.error = f"analysis failed ({type(exc).__name__}: {exc})"
                results.append(res)
                if progress:
                    progress(i, len(rows), f"{row.path.name}: {res.error}")
                continue
            new_leaks = set(shipped_models_in_use(fold_dir)) - leaks
            if new_leaks:
                log.error("%s (fold %d): the shipped %s scored it, not a fold copy from %s: not out-of-fold",
                          row.path.name, fold, ", ".join(sorted(new_leaks)), fold_dir)
                leaks |= new_leaks
            cache.put(key, entry)
        res.checks, res.error = entry["checks"], entry["error"]
        results.append(res)
        if progress:
            progress(i, len(rows), f"{row.path.name} (fold {fold}{', cached' if res.cached else ''})")
    return results, sorted(leaks)


# --------------------------------------------------------------------------- figures


def _check_names(results: Sequence[RowResult]) -> list[str]:
    return sorted({n for r in results for n in r.checks})


def _judged(results: Sequence[RowResult], name: str) -> list[RowResult]:
    return [r for r in results if name in r.checks and r.checks[name]["confidence"] > 0]


def _with_interval(m: dict[str, Any], rows: Sequence[RowResult], scores: Sequence[float]) -> dict[str, Any]:
    ci = grouped_auc_interval([r.label for r in rows], scores, [r.row.group for r in rows])
    m["auc_ci95"] = None if ci is None else [round(ci[0], 3), round(ci[1], 3)]
    return m


def _check_metrics(results: Sequence[RowResult], name: str, full: bool = True) -> dict[str, Any]:
    judged = _judged(results, name)
    labels, scores = [r.label for r in judged], [r.checks[name]["risk"] for r in judged]
    if full:
        return _with_interval(metrics(labels, scores), judged, scores)
    return {"auc": roc_auc(labels, scores), "n_real": labels.count(0), "n_fake": labels.count(1)}


def _part_figures(rows: Sequence[RowResult], names: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per check, per sub-signal: AUC where it was measured, and real files at or above RISK_ALARM
    (for the risk parts, which are risks in [0, 1]; raw signals have no such scale)."""
    out: dict[str, dict[str, Any]] = {}
    for n in names:
        parts = sorted({p for r in rows if n in r.checks for p in (r.checks[n].get("parts") or {})})
        for p in parts:
            have = [r for r in rows if n in r.checks and (r.checks[n].get("parts") or {}).get(p) is not None]
            values = [r.checks[n]["parts"][p] for r in have]
            m = {"auc": roc_auc([r.label for r in have], values), "n_real": sum(1 for r in have if r.label == 0),
                 "n_fake": sum(1 for r in have if r.label == 1)}
            if ":" not in p:
                alarms = [r for r in have if r.label == 0 and r.checks[n]["parts"][p] >= RISK_ALARM]
                m["real_alarms"] = len(alarms)
                m["real_alarm_files"] = [f"{r.row.path.name} ({r.checks[n]['parts'][p]:.2f})" for r in alarms]
            out.setdefault(n, {})[p] = m
    return out


def summarise(results: Sequence[RowResult], fused_risk: Mapping[int, float], verdicts: Mapping[int, str]) -> dict[str, Any]:
    """Out-of-fold figures per kind. ``fused_risk``/``verdicts`` are indexed by position in ``results``."""
    out: dict[str, Any] = {"kinds": {}}
    index = {id(r): i for i, r in enumerate(results)}
    ok = [r for r in results if r.error is None]
    for kind in sorted({r.row.kind for r in ok}, key=lambda k: k != "video"):
        rows = [r for r in ok if r.row.kind == kind]
        names = _check_names(rows)
        reals = [r for r in rows if r.label == 0]

        def fused(sub: Sequence[RowResult]) -> dict[str, Any]:
            scores = [fused_risk[index[id(r)]] for r in sub]
            return _with_interval(metrics([r.label for r in sub], scores), sub, scores)

        entry: dict[str, Any] = {
            "n_files": len(rows),
            "fused": fused(rows),
            "checks": {n: _check_metrics(rows, n) | {"n_not_judged": len(rows) - len(_judged(rows, n))} for n in names},
            "families": {},
            "verdicts": {
                lab: dict(Counter(verdicts[index[id(r)]] for r in rows if r.row.label_name == lab)) for lab in ("real", "fake")
            },
            "real_likely_fake": [str(r.row.path.name) for r in reals if verdicts[index[id(r)]] == "likely-fake"],
            "real_risk_alarms": {},
        }
        for n in names:
            judged = _judged(reals, n)
            alarms = [r for r in judged if r.checks[n]["risk"] >= RISK_ALARM]
            entry["real_risk_alarms"][n] = {
                "n": len(alarms), "of": len(judged),
                "files": [f"{r.row.path.name} ({r.checks[n]['risk']:.2f})" for r in alarms],
            }
        entry["parts"] = _part_figures(rows, names)
        for fam in sorted({r.row.family for r in rows if r.label == 1}):
            fakes = [r for r in rows if r.label == 1 and r.row.family == fam]
            own_reals = [r for r in reals if r.row.family == fam]
            entry["families"][fam] = {
                "fused": fused(reals + fakes),
                "fused_vs_own_reals": fused(own_reals + fakes) if own_reals else None,
                "checks": {n: _check_metrics(reals + fakes, n, full=False) for n in names},
                "checks_vs_own_reals": {n: _check_metrics(own_reals + fakes, n, full=False) for n in names} if own_reals else None,
                "fakes_called": dict(Counter(verdicts[index[id(r)]] for r in fakes)),
            }
        out["kinds"][kind] = entry
    out["errors"] = [f"{r.row.path}: {r.error}" for r in results if r.error]
    out["files"] = [
        {
            "path": str(r.row.path),
            "label": r.row.label_name,
            "manipulation": r.row.manipulation,
            "family": r.row.family,
            "group": r.row.group,
            "fold": r.fold,
            "fused_risk_oof": None if r.error else round(fused_risk[index[id(r)]], 4),
            "verdict_oof": None if r.error else verdicts[index[id(r)]],
            "checks": {n: {"risk": round(c["risk"], 4), "confidence": round(c["confidence"], 4), "parts": c.get("parts") or {}}
                       for n, c in r.checks.items()},
            "error": r.error,
        }
        for r in results
    ]
    return out


def evaluate(results: Sequence[RowResult], settings: Mapping[str, float] | None = None) -> tuple[dict[str, Any], dict[int, Fitted]]:
    """Out-of-fold fused scores and verdicts for the analysed rows, and the figures over them."""
    ok = [r for r in results if r.error is None]
    fused, models = oof_fuse(ok, [r.fold for r in ok], settings)
    position = {id(r): i for i, r in enumerate(results)}
    fused_risk = {position[id(r)]: 1.0 - f.score / 100.0 for r, f in zip(ok, fused)}
    verdicts = {position[id(r)]: f.verdict for r, f in zip(ok, fused)}
    summary = summarise(results, fused_risk, verdicts)
    summary["folds"] = {
        str(k): {"n_scored": sum(1 for r in ok if r.fold == k), "n_trained_on": sum(1 for r in ok if r.fold != k), **m.to_dict()}
        for k, m in sorted(models.items())
    }
    return summary, models


# --------------------------------------------------------------------------- output


def _fmt(v: Any) -> str:
    return "  -  " if v is None else f"{v:5.3f}"


def format_table(summary: Mapping[str, Any]) -> str:
    lines = ["All figures are out-of-fold (grouped folds; calibration and verdict thresholds fitted without the scored fold)."]
    head = f"{'':<38}{'AUC':>7}{'95% CI':>14}{'EER':>7}{'TPR@5%':>8}{'real':>6}{'fake':>6}"

    def row(label: str, m: Mapping[str, Any] | None) -> None:
        if m is None:
            return
        ci = m.get("auc_ci95")
        ci_text = f"{ci[0]:.2f}-{ci[1]:.2f}" if ci else "-"
        lines.append(f"{label:<38}{_fmt(m.get('auc')):>7}{ci_text:>14}{_fmt(m.get('eer')):>7}{_fmt(m.get('tpr_at_5fpr')):>8}{m['n_real']:>6}{m['n_fake']:>6}")

    for kind, e in summary["kinds"].items():
        lines += ["", f"== {kind}s: {e['n_files']} files", head]
        row("fused score", e["fused"])
        for name, m in e["checks"].items():
            row(f"  {name} (risk; {m['n_not_judged']} not judged)", m)
        for name, parts in e.get("parts", {}).items():
            lines.append(f"  {name} parts (AUC, n real/fake, real >= {RISK_ALARM}):")
            for p, m in parts.items():
                alarm = f", real alarms {m['real_alarms']} of {m['n_real']}" if "real_alarms" in m else ""
                lines.append(f"    {p:<34} AUC {_fmt(m['auc']).strip():>5}  n {m['n_real']}/{m['n_fake']}{alarm}")
        lines.append("By family: its fakes against all real " + kind + "s [and against its own reals]")
        for fam, f in e["families"].items():
            row(f"  {fam[:36]}", f["fused"])
            if f["fused_vs_own_reals"]:
                row("    vs own reals", f["fused_vs_own_reals"])
            per = "  ".join(f"{n}={_fmt(v['auc']).strip()}" for n, v in f["checks"].items() if v["n_fake"])
            lines.append(f"    per check AUC: {per}")
            if f["checks_vs_own_reals"]:
                per = "  ".join(f"{n}={_fmt(v['auc']).strip()}" for n, v in f["checks_vs_own_reals"].items() if v["n_fake"] and v["n_real"])
                lines.append(f"    per check AUC vs own reals: {per}")
            lines.append(f"    verdicts of its fakes: {f['fakes_called']}")
        lines.append(f"Verdicts (out-of-fold): real {e['verdicts']['real']}  fake {e['verdicts']['fake']}")
        n_real = e["fused"]["n_real"]
        lines.append(f"Real {kind}s called likely-fake: {len(e['real_likely_fake'])} of {n_real}" + (": " + ", ".join(e["real_likely_fake"]) if e["real_likely_fake"] else ""))
        for name, a in e["real_risk_alarms"].items():
            lines.append(f"Real {kind}s with {name} risk >= {RISK_ALARM}: {a['n']} of {a['of']} judged" + (": " + ", ".join(a["files"]) if a["files"] else ""))
    if summary.get("folds"):
        lines += ["", "Fitted per fold (on the other folds):"]
        for k, m in summary["folds"].items():
            cal = " ".join(f"{n}:a={c['a']:.2f},b={c['b']:.2f}" for n, c in m["checks"].items())
            lines.append(f"  fold {k}: scored {m['n_scored']}, trained on {m['n_trained_on']}; two checks >= {m['verdict']['support_min']:.3f}, alone: {_bars(m['verdict'])}; {cal}")
    if summary.get("leaks"):
        lines.append("NOT OUT-OF-FOLD: shipped model(s) used although per-fold copies exist: " + ", ".join(summary["leaks"]))
    for name, folds in (summary.get("incomplete_fold_sets") or {}).items():
        lines.append(f"NOT OUT-OF-FOLD for some folds: {name} has fold copies for folds {folds} only; the other folds used the shipped model")
    if summary.get("shipped_without_fold_copy"):
        lines.append("Shipped models with no per-fold copy (their figures are out-of-fold only if they were not fitted on these files): "
                     + ", ".join(summary["shipped_without_fold_copy"]))
    if summary.get("label_corrections"):
        lines.append(f"Labels corrected by detectors/evaluation/label_corrections.csv ({len(summary['label_corrections'])}): "
                     + "; ".join(summary["label_corrections"]))
    if summary.get("errors"):
        lines.append(f"Not analysed ({len(summary['errors'])}): " + "; ".join(summary["errors"]))
    return "\n".join(lines)


def _bars(verdict: Mapping[str, Any]) -> str:
    by_check = verdict.get("single_by_check") or {}
    return " ".join(f"{n}>={v:.3f}" for n, v in by_check.items()) or f"any>={verdict['single_min']:.3f}"


def _progress_printer() -> Callable[[int, int, str], None]:
    tty = sys.stderr.isatty()
    t0 = time.perf_counter()

    def progress(i: int, n: int, message: str) -> None:
        text = f"[{i + 1}/{n}] {time.perf_counter() - t0:6.0f} s  {message}"
        if tty:
            sys.stderr.write(f"\r{text[:100]:<100}")
        else:
            sys.stderr.write(text + "\n")
        sys.stderr.flush()

    return progress


def write_calibration(target: Path, fitted: Fitted, results: Sequence[RowResult], summary: Mapping[str, Any], command: str) -> None:
    ok = [r for r in results if r.error is None]
    n_judged = {n: sum(1 for r in ok if n in r.checks and r.checks[n]["confidence"] > 0) for n in fitted.calibration}
    data = fitted.to_dict()
    for n, c in data["checks"].items():
        c["n"] = n_judged[n]
    oof = {
        kind: {"fused_auc": e["fused"]["auc"], "n_real": e["fused"]["n_real"], "n_fake": e["fused"]["n_fake"],
               "real_called_likely_fake": len(e["real_likely_fake"])}
        for kind, e in summary["kinds"].items()
    }
    payload = {
        "method": "per-check logistic, MAP with L2 prior towards a=6 b=-3; verdict thresholds: lowest evidence keeping every real row out of likely-fake",
        **data,
        "fitted_on": {
            "command": command,
            "rows": {kind: {"real": sum(1 for r in ok if r.row.kind == kind and r.label == 0), "fake": sum(1 for r in ok if r.row.kind == kind and r.label == 1)}
                     for kind in sorted({r.row.kind for r in ok})},
        },
        "out_of_fold_before_fit": oof,
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")


def cmd_eval(args: argparse.Namespace) -> int:
    from .cli import _parse_settings
    from .scoring import CALIBRATION_FILE, reload_calibration

    try:
        rows = read_manifests(args.manifest, [args.kind] if args.kind else None)
    except (OSError, ValueError, KeyError) as exc:
        print(f"telltale: cannot read the manifest ({exc})", file=sys.stderr)
        return 1
    if not rows:
        print("telltale: the manifests list no files" + (f" of kind {args.kind}" if args.kind else ""), file=sys.stderr)
        return 1
    fold_dir = None
    if args.fold_models:
        try:
            fold_dir = merge_fold_folders(args.fold_models, args.folds)
        except ValueError as exc:
            print(f"telltale: --fold-models: {exc}", file=sys.stderr)
            return 1
    shard = None
    if args.shard:
        try:
            shard = parse_shard(args.shard)
        except ValueError as exc:
            print(f"telltale: --shard: {exc}", file=sys.stderr)
            return 2
        if args.no_cache or args.fit:
            print("telltale: --shard only fills the cache for a later run: it takes neither --no-cache nor --fit", file=sys.stderr)
            return 2
        rows = rows[shard[0] :: shard[1]]
    settings = _parse_settings(args.set or [])
    cache = ResultCache(None if args.no_cache else (args.cache or Path(__file__).resolve().parents[1] / "out" / "eval-cache"))
    cancel = threading.Event()
    try:
        results, leaks = analyse_rows(rows, args.folds, settings, fold_dir, cache, _progress_printer(), cancel, args.cached_only)
    except (KeyboardInterrupt, Cancelled):
        cancel.set()
        print("\ntelltale: interrupted (files analysed so far are cached)", file=sys.stderr)
        return 130
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    if shard is not None:
        errors = [r for r in results if r.error]
        print(f"Shard {shard[0]}/{shard[1]}: {len(results)} files ({cache.hits} from the cache, {cache.misses} analysed, "
              f"{len(errors)} not analysed). Figures come from a run over all files without --shard.")
        return 0 if len(errors) < len(results) else 1
    summary, _ = evaluate(results, settings)
    summary["leaks"] = leaks
    summary["shipped_without_fold_copy"] = shipped_without_fold_copy(fold_dir)
    summary["incomplete_fold_sets"] = incomplete_fold_sets(fold_dir, args.folds)
    summary["label_corrections"] = [r.correction for r in rows if r.correction]
    summary["cache"] = {"hits": cache.hits, "misses": cache.misses, "folder": str(cache.folder) if cache.folder else None}
    command = "telltale eval " + " ".join(sys.argv[2:] if len(sys.argv) > 2 and sys.argv[1] == "eval" else [])
    summary["command"] = command
    print(format_table(summary))
    print(f"(cache: {cache.hits} files from the cache, {cache.misses} {'not in it, left out' if args.cached_only else 'analysed'})")
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        print(f"Results written to {args.json}")
    if args.fit:
        target = Path(args.fit_out) if args.fit_out else CALIBRATION_FILE
        fitted = fit_all([r for r in results if r.error is None])
        write_calibration(target, fitted, results, summary, command)
        reload_calibration()
        print(f"Calibration fitted on all {sum(1 for r in results if r.error is None)} rows written to {target} "
              f"(two checks >= {fitted.rule.support_min:.3f}; alone: {_bars(fitted.to_dict()['verdict'])})")
    return 0 if any(r.error is None for r in results) else 1


FOLD_LINKS_DIR = Path(__file__).resolve().parents[1] / "out" / "eval-fold-models"
"""Where the per-fold models of several --fold-models folders are gathered (symbolic links)."""


def merge_fold_folders(folders: Sequence[str | Path], k: int, links_dir: Path = FOLD_LINKS_DIR) -> Path:
    """One folder holding every ``<stem>_fold<j>.<ext>`` of ``folders`` (the loader reads one folder).

    ValueError when a folder is missing, holds models for more than ``k`` folds, or two folders
    hold the same model file.
    """
    found: dict[str, Path] = {}
    for folder in folders:
        folder = Path(folder)
        if not folder.is_dir():
            raise ValueError(f"{folder}: no such folder")
        for f in sorted(folder.glob("*_fold*.*")):
            j = _fold_number(f.name)
            if j < 0:
                continue
            if j >= k:
                raise ValueError(f"{folder} holds models for more than {k} folds ({f.name}); use the --folds they were trained with")
            if f.name in found:
                raise ValueError(f"{f.name} is in both {found[f.name].parent} and {folder}")
            found[f.name] = f.resolve()
    if len(folders) == 1:
        return Path(folders[0]).resolve()
    # one folder per set of links, made whole then renamed into place: parallel runs (--shard) share it
    tag = hashlib.sha256(json.dumps(sorted((n, str(t)) for n, t in found.items())).encode("utf-8")).hexdigest()[:16]
    merged = links_dir / tag
    if not merged.is_dir():
        links_dir.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=links_dir, prefix=".tmp-"))
        for name, target in found.items():
            (tmp / name).symlink_to(target)
        try:
            tmp.rename(merged)
        except OSError:  # another run made the same folder meanwhile
            shutil.rmtree(tmp, ignore_errors=True)
    return merged


def incomplete_fold_sets(fold_dir: str | Path | None, k: int) -> dict[str, list[int]]:
    """Models with fold copies for some folds only: {"<stem>.<ext>": folds that have a copy}.

    The other folds' files use the shipped model, which may have been trained on them.
    """
    if fold_dir is None:
        return {}
    have: dict[str, set[int]] = {}
    for f in Path(fold_dir).glob("*_fold*.*"):
        j = _fold_number(f.name)
        if j >= 0:
            stem = f.name.rsplit("_fold", 1)[0]
            have.setdefault(f"{stem}{f.suffix}", set()).add(j)
    return {name: sorted(folds) for name, folds in sorted(have.items()) if len(folds) < k}


def parse_shard(text: str) -> tuple[int, int]:
    """'K/N' -> (K, N) with 0 <= K < N: every N-th file from the K-th."""
    try:
        k, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise ValueError(f"expected K/N such as 0/2, got {text!r}") from None
    if not 0 <= k < n:
        raise ValueError(f"K must be in 0..N-1, got {text!r}")
    return k, n


def _fold_number(name: str) -> int:
    tail = name.rsplit("_fold", 1)[-1]
    digits = "".join(ch for ch in tail.split(".")[0] if ch.isdigit())
    return int(digits) if digits else -1


def register(sub: Any) -> None:
    p = sub.add_parser("eval", help="out-of-fold detection quality (AUC, EER, TPR@5%%FPR) on labelled manifests")
    p.add_argument("manifest", nargs="+", help="CSV(s) with columns path, kind, label (real|fake), manipulation, source, group")
    p.add_argument("--cv", choices=["group"], default="group", help="cross-validation: grouped folds (the only kind; figures are always out-of-fold)")
    p.add_argument("--folds", type=int, default=N_FOLDS, help=f"number of grouped folds (default {N_FOLDS}; must match the fold models')")
    p.add_argument("--fold-models", metavar="DIR", action="append",
                   help="folder of per-fold model copies <stem>_fold<k>.<ext>, used for fold k's files (may be given more than once)")
    p.add_argument("--kind", choices=["video", "image"], help="only rows of this kind")
    p.add_argument("--json", metavar="OUT", help="write the figures, per-fold fits and per-file results as JSON")
    p.add_argument("--fit", action="store_true", help="after the out-of-fold figures, fit calibration and verdict thresholds on all rows")
    p.add_argument("--fit-out", metavar="FILE", help="where --fit writes (default assets/calibration.json)")
    p.add_argument("--cache", metavar="DIR", help="per-file result cache (default out/eval-cache)")
    p.add_argument("--no-cache", action="store_true", help="analyse every file, keep nothing")
    p.add_argument("--cached-only", action="store_true", help="figures over the files already in the cache only (the others are listed as not analysed)")
    p.add_argument("--shard", metavar="K/N", help="only analyse every N-th file from the K-th into the cache (parallel runs); prints no figures")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a setting")
    p.set_defaults(func=cmd_eval)
