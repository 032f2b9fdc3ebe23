"""Metrics, grouped folds, out-of-fold fitting, the result cache, and the eval / bench commands."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from detectors.bench import bench_one, format_table, loop_clip, transcode
from detectors.cli import main as cli_main
from detectors.base import Finding
from detectors.evaluate import (
    RowResult,
    analyse_rows,
    _part_figures,
    signal_parts,
    equal_error_rate,
    fit_logistic,
    incomplete_fold_sets,
    merge_fold_folders,
    read_manifest,
    read_manifests,
    roc_auc,
    shipped_models_in_use,
    shipped_without_fold_copy,
    tpr_at_fpr,
)
from detectors.evaluation.cache import ResultCache, engine_fingerprint, file_digest, fold_fingerprint
from detectors.evaluation.cv import cross_fit, fit_all, fit_calibration, oof_fuse
from detectors.evaluation.manifests import Row, corrected
from detectors.evaluation.metrics import grouped_auc_interval
from detectors.folds import fold_of, group_key
from detectors.scoring import fuse
from detectors.media import probe
from fixtures.simple_media import write_video


def test_auc_eer_tpr_on_known_scores() -> None:
    labels = [0, 0, 0, 0, 1, 1, 1, 1]
    perfect = [0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9]
    assert roc_auc(labels, perfect) == 1.0
    assert equal_error_rate(labels, perfect) == 0.0
    assert tpr_at_fpr(labels, perfect) == 1.0
    inverted = perfect[::-1]
    assert roc_auc(labels, inverted) == 0.0
    one_swap = [0.1, 0.2, 0.3, 0.65, 0.6, 0.7, 0.8, 0.9]  # one real above one fake
    assert roc_auc(labels, one_swap) == pytest.approx(15 / 16)
    assert equal_error_rate(labels, one_swap) == pytest.approx(0.25, abs=0.01)
    assert tpr_at_fpr(labels, one_swap) == pytest.approx(0.75)
    assert roc_auc([1, 1], [0.2, 0.3]) is None  # one class: undefined, not 0.5


def test_auc_matches_random_expectation() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 4000)
    scores = rng.normal(labels * 1.0, 1.0)  # d' = 1 -> AUC = Phi(1/sqrt 2) = 0.760
    assert roc_auc(labels, scores) == pytest.approx(0.760, abs=0.02)


def test_grouped_interval_widens_when_files_are_copies_of_one_group() -> None:
    rng = np.random.default_rng(1)
    group_labels = np.r_[np.zeros(6, int), np.ones(6, int)]
    group_scores = rng.normal(group_labels * 1.0, 1.0)
    labels = np.repeat(group_labels, 10)  # 12 groups of 10 near-copies (one clip cut ten ways)
    scores = np.repeat(group_scores, 10) + rng.normal(0, 0.01, labels.size)
    as_groups = grouped_auc_interval(labels, scores, [str(i // 10) for i in range(labels.size)], reps=400)
    as_files = grouped_auc_interval(labels, scores, [str(i) for i in range(labels.size)], reps=400)
    assert as_groups is not None and as_files is not None
    assert as_files[0] <= roc_auc(labels, scores) <= as_files[1]
    assert as_groups[1] - as_groups[0] > 1.5 * (as_files[1] - as_files[0])  # 12 pieces of evidence, not 120
    assert grouped_auc_interval([1, 1], [0.2, 0.3], ["a", "b"]) is None


def test_logistic_fit_orders_and_separates() -> None:
    risks = [0.05, 0.1, 0.2, 0.3, 0.6, 0.7, 0.8, 0.95] * 5
    labels = [0, 0, 0, 0, 1, 1, 1, 1] * 5
    a, b = fit_logistic(risks, labels)
    p = lambda r: 1 / (1 + np.exp(-(a * r + b)))  # noqa: E731
    assert a > 0 and p(0.1) < 0.2 and p(0.9) > 0.8


def test_logistic_fit_converges_with_most_risks_at_zero() -> None:
    # shaped like the face-swap net's risks on the dev videos: most below 0.02 in both classes,
    # confidences from 0.2 to 1, two reals near 1 (plain Newton overshot to b = -60 there)
    rng = np.random.default_rng(0)
    risks = np.r_[10 ** rng.uniform(-5, -1.7, 70), [0.98, 0.99, 0.37], 10 ** rng.uniform(-5, -1.7, 50), rng.uniform(0.05, 0.75, 18)]
    labels = np.r_[np.zeros(73, int), np.ones(68, int)]
    weights = rng.choice([0.2, 0.3, 0.5, 0.72, 0.9, 1.0, 1.0, 1.0], risks.size)
    a, b = fit_logistic(risks, labels, weights)
    p = 1 / (1 + np.exp(-(a * risks + b)))
    grad = np.array([(weights * (p - labels) * risks).sum() + (a - 6.0), (weights * (p - labels)).sum() + (b + 3.0)])
    assert np.abs(grad).max() < 1e-4  # the optimum of the penalised likelihood
    assert abs(b) < 3 and a > 0


def test_manifest_rejects_bad_label(tmp_path: Path) -> None:
    (tmp_path / "m.csv").write_text("path,kind,label\nx.mp4,video,maybe\n")
    with pytest.raises(ValueError, match="maybe"):
        read_manifest(tmp_path / "m.csv")
    (tmp_path / "k.csv").write_text("path,kind,label\nx.mp4,audio,real\n")
    with pytest.raises(ValueError, match="audio"):
        read_manifest(tmp_path / "k.csv")


# --------------------------------------------------------------------------- grouped folds


def _manifest(path: Path, rows: list[tuple[str, str, str, str, str, str]]) -> Path:
    """rows: (path, kind, label, manipulation, source, group)."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "kind", "label", "manipulation", "audio", "identity", "source", "group"])
        for p, kind, label, manip, source, group in rows:
            w.writerow([p, kind, label, manip, "", "", source, group])
    return path


def test_a_group_never_spans_two_folds(tmp_path: Path) -> None:
    rows = []
    for g in range(60):
        for j in range(3):  # a swap, its real input, and another take share a group
            rows.append((f"v/{g}_{j}.mp4", "video", "fake" if j == 0 else "real", "faceswap (x)" if j == 0 else "none", f"repo/{g}_{j}", f"grp:{g}"))
    rows.append(("v/lone.mp4", "video", "real", "none", "repo/lone.mp4", ""))  # no group: its source is the unit
    other = _manifest(tmp_path / "more.csv", [("v/0_1.mp4", "video", "real", "none", "dup", "grp:0")])
    parsed = read_manifests([_manifest(tmp_path / "m.csv", rows), other])
    assert len(parsed) == len(rows)  # the file named again in the second manifest is read once
    folds_of_group: dict[str, set[int]] = {}
    for r in parsed:
        folds_of_group.setdefault(r.group, set()).add(r.fold(5))
    assert all(len(f) == 1 for f in folds_of_group.values())
    assert {f.pop() for f in folds_of_group.values()} == set(range(5))  # 61 groups fill all five folds
    lone = next(r for r in parsed if r.path.name == "lone.mp4")
    assert lone.group == "repo/lone.mp4" and lone.fold(5) == fold_of(group_key("", "repo/lone.mp4", "v/lone.mp4"))


def test_a_label_correction_applies_to_its_row_and_its_copies_only(tmp_path: Path) -> None:
    wrong = "video/dfl/Nicola_Badge_2_real.mp4"
    source = "iperov/DeepFaceLive doc/celebs/Nicola_Badge/Nicola_Badge_2.mp4 left half"
    (tmp_path / "call").mkdir()
    parsed = read_manifests([_manifest(tmp_path / "m.csv", [
        (wrong, "video", "real", "none", source, "dfl:Nicola_Badge"),
        ("video/dfl/Nicola_Badge_1_real.mp4", "video", "real", "none", source.replace("_2.mp4", "_1.mp4"), "dfl:Nicola_Badge"),
        ("video/other.mp4", "video", "real", "none", source, "x"),  # same source, another path: not this row
    ]), _manifest(tmp_path / "call" / "m.csv", [  # a re-encoded copy of the same footage (bench/degraded_swaps.py)
        (wrong, "video", "real", "none", f"{source} (scaled 0.75, H.264 CRF 32)", "dfl:Nicola_Badge"),
    ])])
    by = {(r.manifest, r.path.name): r for r in parsed}
    fixed = [r for r in parsed if r.correction]
    assert [(r.path.name, r.label, r.manipulation, r.family) for r in fixed] == [("Nicola_Badge_2_real.mp4", 1, "faceswap", "DeepFaceLive")] * 2
    assert "left half" in fixed[0].correction and "looked at 2026-12-03" in fixed[0].correction
    assert by[(str(tmp_path / "m.csv"), "Nicola_Badge_1_real.mp4")].label == 0
    assert by[(str(tmp_path / "m.csv"), "other.mp4")].label == 0 and not by[(str(tmp_path / "m.csv"), "other.mp4")].correction
    raw = {"path": wrong, "source": "somewhere else", "label": "real", "manipulation": "none"}
    assert corrected(raw) == (raw, "")  # another source under the same name is left as given


def test_shared_manifests_keep_groups_in_one_fold() -> None:
    media = Path(__file__).resolve().parents[2] / "shared" / "media"
    manifests = [media / m for m in ("manifest.csv", "manifest_more.csv", "manifest_photos.csv") if (media / m).is_file()]
    if not manifests:
        pytest.skip("../shared/media is not present")
    rows = read_manifests(manifests)
    folds: dict[str, set[int]] = {}
    for r in rows:
        folds.setdefault(r.group, set()).add(r.fold())
    assert all(len(f) == 1 for f in folds.values())
    dfl = [r for r in rows if r.family == "DeepFaceLive"]
    assert dfl and {r.label for r in dfl} == {0, 1}  # swaps and their own real inputs, one family


# --------------------------------------------------------------------------- nothing fitted sees its own fold


@dataclass
class Item:
    label: int
    fold: int
    risk: float

    @property
    def findings(self) -> dict[str, Finding]:
        return {"faceswap": Finding("faceswap", self.risk, 1.0, "")}


def test_a_check_running_the_other_way_gets_no_weight() -> None:
    items = [Item(0, 0, 0.6 + 0.004 * i) for i in range(100)] + [Item(1, 0, 0.1 + 0.004 * i) for i in range(100)]
    cal = fit_calibration(items)["faceswap"]
    assert cal.a == 0.0 and cal.probability(1.0) == 0.0


def test_cross_fit_never_trains_on_the_fold_it_scores() -> None:
    items = [Item(i % 2, i % 4, i / 40) for i in range(40)]
    seen: dict[int, set[int]] = {}

    def fit(train: list[Item]) -> set[int]:
        return {id(it) for it in train}

    def apply(model: set[int], test: list[Item]) -> list[bool]:
        return [id(it) in model for it in test]

    out, models = cross_fit(items, [it.fold for it in items], fit, apply)
    assert out == [False] * 40  # no item was in the training set of the model that scored it
    for k, model in models.items():
        seen[k] = {items[i].fold for i in range(40) if id(items[i]) in model}
        assert k not in seen[k] and len(seen[k]) == 3


def test_out_of_fold_thresholds_do_not_flatter_where_a_leaky_fit_would() -> None:
    # One real whose faceswap risk runs high (a false alarm, as on unseen footage): a verdict rule
    # fitted on all rows puts its bar above that real (0 called likely-fake, by construction);
    # fitted without the real's fold, the bar comes from the other reals and the alarm shows.
    reals = [Item(0, i % 5, r) for i, r in enumerate(np.linspace(0.1, 0.5, 20))] + [Item(0, 0, 0.85)]
    fakes = [Item(1, i % 5, r) for i, r in enumerate(np.linspace(0.6, 1.0, 20))]
    items = reals + fakes
    leaky = fit_all(items)
    leaky_calls = [fuse(it.findings, None, leaky.calibration, leaky.rule).verdict for it in reals]
    assert leaky_calls.count("likely-fake") == 0
    fused, models = oof_fuse(items, [it.fold for it in items])
    oof_calls = [f.verdict for f in fused[: len(reals)]]
    assert oof_calls.count("likely-fake") == 1 and oof_calls[-1] == "likely-fake"
    for k, m in models.items():  # each fold's bar comes from the other folds' reals only
        others = [it for it in reals if it.fold != k]
        strongest = max(min(0.999, m.calibration["faceswap"].probability(it.risk)) for it in others)
        assert m.rule.single_bar("faceswap") == pytest.approx(min(1.0, max(0.8, strongest + 0.02)), abs=1e-4)


def test_a_check_with_false_alarms_needs_more_alone_without_raising_the_others_bar() -> None:
    @dataclass
    class Two:
        label: int
        faceswap: float
        lipsync: float

        @property
        def findings(self) -> dict[str, Finding]:
            return {"faceswap": Finding("faceswap", self.faceswap, 1.0, ""), "lipsync": Finding("lipsync", self.lipsync, 1.0, "")}

    reals = [Two(0, 0.05 * (i % 6), 1.0 if i % 4 == 0 else 0.1) for i in range(24)]  # lip-sync false alarms
    fakes = [Two(1, 0.7 + 0.01 * i, 1.0 if i % 3 else 0.5) for i in range(24)]
    fitted = fit_all(reals + fakes)
    strongest_real_lipsync = fitted.calibration["lipsync"].probability(1.0)
    assert strongest_real_lipsync > 0.85  # above the floor: the bar is fitted to the false alarms
    assert fitted.rule.single_bar("lipsync") == pytest.approx(min(1.0, strongest_real_lipsync + 0.02), abs=1e-4)
    assert fitted.rule.single_bar("faceswap") == 0.8  # its reals stay low: the floor, not lip-sync's bar


def test_sub_signals_are_kept_and_measured() -> None:
    evidence = {"risk_parts": {"offset": 0.1, "soft_mouth": 0.9}, "signals": {"blink": {"value": 12.0, "score": 0.3},
                "jitter": {"value": float("nan")}}, "cues": {"spectrum": {"value": 2.0, "score": None}}, "other": 5}
    assert signal_parts(evidence) == {"offset": 0.1, "soft_mouth": 0.9, "signal:blink": 0.3, "signal:jitter": None, "cue:spectrum": 2.0}
    rows = []
    for i, (label, soft) in enumerate([(0, 0.9), (0, 0.1), (0, 0.0), (1, 0.8), (1, 1.0)]):
        r = RowResult(Row(Path(f"{i}.mp4"), "video", label, "none", str(i), "x", "m.csv"), 0)
        r.checks = {"lipsync": {"risk": soft, "confidence": 1.0, "parts": {"soft_mouth": soft}}}
        rows.append(r)
    figures = _part_figures(rows, ["lipsync"])["lipsync"]["soft_mouth"]
    assert figures["real_alarms"] == 1 and figures["real_alarm_files"] == ["0.mp4 (0.90)"]
    assert figures["auc"] == pytest.approx(5 / 6) and (figures["n_real"], figures["n_fake"]) == (3, 2)


# --------------------------------------------------------------------------- cache


def test_cache_key_follows_content_engine_fold_models_and_settings(tmp_path: Path) -> None:
    a = tmp_path / "a.bin"
    a.write_bytes(b"one")
    cache = ResultCache(tmp_path / "cache")
    key = ResultCache.key(file_digest(a), "engine1", "", {})
    assert cache.get(key) is None
    cache.put(key, {"checks": {"faceswap": {"risk": 0.2, "confidence": 1.0}}, "error": None})
    assert cache.get(ResultCache.key(file_digest(a), "engine1", "", {}))["checks"]["faceswap"]["risk"] == 0.2
    a.write_bytes(b"two")
    assert cache.get(ResultCache.key(file_digest(a), "engine1", "", {})) is None
    a.write_bytes(b"one")
    assert cache.get(ResultCache.key(file_digest(a), "engine2", "", {})) is None
    assert cache.get(ResultCache.key(file_digest(a), "engine1", "fold3", {})) is None
    assert cache.get(ResultCache.key(file_digest(a), "engine1", "", {"pipeline.analysis_fps": 8.0})) is None
    (tmp_path / "cache" / key[:2] / f"{key}.json").write_text("{damaged")
    assert cache.get(key) is None


def test_engine_fingerprint_covers_checks_not_the_evaluation(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "detectors" / "evaluation").mkdir(parents=True)
    (root / "assets" / "models").mkdir(parents=True)
    (root / "detectors" / "store").mkdir()
    for rel in ("detectors/faceswap.py", "detectors/scoring.py", "detectors/evaluation/cv.py", "detectors/store/sql.py", "assets/models/m.onnx"):
        (root / rel).write_text("x = 1\n")
    base = engine_fingerprint.__wrapped__(str(root))
    (root / "detectors" / "scoring.py").write_text("x = 2\n")  # fusion runs after the cache
    (root / "detectors" / "evaluation" / "cv.py").write_text("x = 2\n")
    (root / "detectors" / "store" / "sql.py").write_text("x = 2\n")  # no case store in an evaluation
    assert engine_fingerprint.__wrapped__(str(root)) == base
    (root / "detectors" / "faceswap.py").write_text("x = 2\n")  # a check changed: analyse again
    changed = engine_fingerprint.__wrapped__(str(root))
    assert changed != base
    (root / "assets" / "models" / "m.onnx").write_text("new weights")
    assert engine_fingerprint.__wrapped__(str(root)) != changed
    folds = tmp_path / "folds"
    folds.mkdir()
    (folds / "net_fold0.onnx").write_text("zero")
    (folds / "net_fold1.onnx").write_text("one")
    assert fold_fingerprint(folds, 0) != fold_fingerprint(folds, 1)
    assert fold_fingerprint(None, None) == "" and fold_fingerprint(folds, 4) == "no-fold-models"


# --------------------------------------------------------------------------- the command


def test_a_shipped_model_loaded_beside_its_fold_copies_is_reported(tmp_path: Path) -> None:
    from detectors import models

    shipped = sorted(p.name for p in models.MODELS_DIR.glob("*.onnx"))
    if not shipped:
        pytest.skip("no ONNX model ships in assets/models yet")
    name = shipped[0]
    stem = Path(name).stem
    folds = tmp_path / "folds"
    folds.mkdir()
    (folds / f"{stem}_fold0.onnx").write_bytes(b"a fold copy")
    with models.fold_models(folds, 1):  # fold 1 has no copy of this model: the shipped one is right
        assert models.model_path(name) == models.MODELS_DIR / name
    models.session(name)  # loaded outside any fold context, as a check on another thread would
    assert shipped_models_in_use(folds) == [name]
    assert shipped_models_in_use(tmp_path / "empty") == [] and shipped_models_in_use(None) == []
    assert name not in shipped_without_fold_copy(folds) and name in shipped_without_fold_copy(None)


def test_fold_model_folders_are_merged_and_checked(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    for k in range(5):
        (a / f"faceswap_net_fold{k}.onnx").write_text(f"net {k}")
        (b / f"idphoto_fold{k}.json").write_text(f"photo {k}")
    (a / "faceswap_net_fold0.json").write_text("metadata beside the model")
    assert incomplete_fold_sets(a, 5) == {"faceswap_net.json": [0]} and incomplete_fold_sets(None, 5) == {}
    merged = merge_fold_folders([a, b], 5, tmp_path / "links")
    assert sorted(p.name for p in merged.iterdir()) == sorted([*(f"faceswap_net_fold{k}.onnx" for k in range(5)),
                                                                *(f"idphoto_fold{k}.json" for k in range(5)), "faceswap_net_fold0.json"])
    assert (merged / "idphoto_fold3.json").read_text() == "photo 3"
    assert merge_fold_folders([a, b], 5, tmp_path / "links") == merged  # a second (parallel) run shares it
    assert fold_fingerprint(merged, 3) != fold_fingerprint(merged, 2)
    assert merge_fold_folders([a], 5) == a.resolve()
    with pytest.raises(ValueError, match="more than 4 folds"):
        merge_fold_folders([a], 4, tmp_path / "links")
    (b / "faceswap_net_fold1.onnx").write_text("another")
    with pytest.raises(ValueError, match="in both"):
        merge_fold_folders([a, b], 5, tmp_path / "links")
    with pytest.raises(ValueError, match="no such folder"):
        merge_fold_folders([tmp_path / "missing"], 5, tmp_path / "links")


def test_eval_command_runs_out_of_fold_and_reuses_its_cache(talking_head_factory, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    clips = {
        "real_a.mkv": talking_head_factory(duration_s=3.0, seed=1),
        "real_b.mkv": talking_head_factory(duration_s=3.0, seed=2),
        "revoiced_a.mkv": talking_head_factory(duration_s=3.0, seed=1, voice_seed=7),
        "revoiced_b.mkv": talking_head_factory(duration_s=3.0, seed=2, voice_seed=8),
    }
    for name, truth in clips.items():
        (tmp_path / name).write_bytes(Path(truth["path"]).read_bytes())
    (tmp_path / "broken.mp4").write_bytes(b"not a video")
    manifest = _manifest(tmp_path / "manifest.csv", [
        ("real_a.mkv", "video", "real", "none", "fixture a", "a"),
        ("revoiced_a.mkv", "video", "fake", "lipsync (fixture re-voiced)", "fixture a", "a"),
        ("real_b.mkv", "video", "real", "none", "fixture b", "b"),
        ("revoiced_b.mkv", "video", "fake", "lipsync (fixture re-voiced)", "fixture b", "b"),
        ("broken.mp4", "video", "fake", "faceswap (x)", "fixture c", "c"),
    ])
    assert fold_of("a", 2) != fold_of("b", 2)  # the two groups land in different folds
    out, cache = tmp_path / "eval.json", tmp_path / "cache"
    args = ["eval", str(manifest), "--cv", "group", "--folds", "2", "--json", str(out), "--cache", str(cache),
            "--set", "pipeline.analysis_fps=8", "--fit", "--fit-out", str(tmp_path / "calibration.json")]
    assert cli_main(args) == 0
    first = json.loads(out.read_text())
    assert first["cache"] == {"hits": 0, "misses": 5, "folder": str(cache)}
    assert len(first["errors"]) == 1 and "broken.mp4" in first["errors"][0]
    videos = first["kinds"]["video"]
    assert videos["fused"]["n_real"] == 2 and videos["fused"]["n_fake"] == 2
    files = {Path(f["path"]).name: f for f in first["files"]}
    assert {files[n]["fold"] for n in ("real_a.mkv", "revoiced_a.mkv")} == {fold_of("a", 2)}
    assert all(files[n]["verdict_oof"] in ("authentic", "review", "likely-fake") for n in clips)
    assert set(first["folds"]) == {"0", "1"} and all(f["n_trained_on"] == 2 for f in first["folds"].values())
    assert sorted(first["kinds"]["video"]["families"]) == ["lip-sync (HyperLips/Wav2Lip)"]
    fitted = json.loads((tmp_path / "calibration.json").read_text())
    assert set(fitted["verdict"]) == {"support_min", "single_min", "single_by_check"} and fitted["fitted_on"]["rows"]["video"] == {"real": 2, "fake": 2}

    assert cli_main(args) == 0  # second run: every file from the cache, the same figures
    second = json.loads(out.read_text())
    assert second["cache"]["hits"] == 5 and second["cache"]["misses"] == 0
    assert second["kinds"] == first["kinds"] and second["files"] == first["files"]

    shard_args = ["eval", str(manifest), "--cache", str(cache), "--set", "pipeline.analysis_fps=8", "--shard", "1/2"]
    assert cli_main(shard_args) == 0  # rows 1 and 3 of 5: both cached already, nothing printed but the count
    assert "2 from the cache, 0 analysed" in capsys.readouterr().out
    assert cli_main(shard_args[:-1] + ["2/2"]) == 2 and cli_main(shard_args + ["--fit"]) == 2
    other_cache = ["--cache", str(tmp_path / "empty-cache"), "--cached-only", "--json", str(tmp_path / "none.json")]
    assert cli_main(["eval", str(manifest), *other_cache]) == 1  # nothing cached there: nothing analysed, nothing to show
    assert all("--cached-only" in e for e in json.loads((tmp_path / "none.json").read_text())["errors"])

    fresh = talking_head_factory(duration_s=3.0, seed=3)
    (tmp_path / "real_b.mkv").write_bytes(Path(fresh["path"]).read_bytes())  # content changed, name kept
    assert cli_main(args) == 0
    third = json.loads(out.read_text())
    assert third["cache"]["hits"] == 4 and third["cache"]["misses"] == 1


def test_an_engine_failure_is_reported_for_the_file_and_not_cached(tmp_path: Path) -> None:
    clip = write_video(tmp_path / "c.mp4", frames=15, fps=15)
    row = Row(clip, "video", 0, "none", "g", "x", "m.csv")
    cache = ResultCache(tmp_path / "cache")
    results, leaks = analyse_rows([row], settings={"pipeline.analysis_fps": 1000.0}, cache=cache)  # out of range
    assert results[0].error is not None and results[0].error.startswith("analysis failed (ValueError")
    assert leaks == [] and not (tmp_path / "cache").exists()  # nothing cached: the next run tries again


def test_eval_command_refuses_fold_models_of_another_fold_count(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    manifest = _manifest(tmp_path / "m.csv", [("x.mp4", "video", "real", "none", "s", "g")])
    folds = tmp_path / "folds"
    folds.mkdir()
    (folds / "net_fold7.onnx").write_bytes(b"")
    assert cli_main(["eval", str(manifest), "--fold-models", str(folds), "--no-cache"]) == 1
    assert "net_fold7.onnx" in capsys.readouterr().err


def test_bench_measures_ratio_and_memory(tmp_path: Path) -> None:
    clip = write_video(tmp_path / "c.mp4", frames=45, fps=15, size=(320, 240), audio_s=3.0)
    row = bench_one(str(clip), {"pipeline.analysis_fps": 5})
    assert row["frames"] == 45 and row["frames_analysed"] == 15
    assert row["decode_s"] > 0 and row["analysis_s"] > 0
    # times are rounded to 0.1 ms in the row; allow for that rounding on a tiny decode time
    slack = 0.00005 / row["decode_s"] + 0.00005 / row["analysis_s"]
    assert row["ratio"] == pytest.approx(row["analysis_s"] / row["decode_s"], rel=slack + 0.005)
    assert 50 < row["peak_rss_mb"] < 4000
    cpu = row["cpu_s"]  # where the CPU went: parts by thread role, which add up to the total
    parts = ("main", "decode_thread", "observe_thread", "native", "embedding_worker", "after_pass")
    assert all(cpu[k] >= 0 for k in parts) and cpu["main"] > 0 and cpu["decode_thread"] > 0
    assert cpu["total"] == pytest.approx(sum(cpu[k] for k in parts), abs=0.005)
    assert {"observe.faceswap", "observe.lipsync", "observe.audio"} <= set(cpu)  # each check's per-frame share
    table = format_table([row])
    assert "Each check's share" in table and "faceswap" in table.split("Each check's share")[1]


def test_loop_clip_repeats_without_reencoding(tmp_path: Path) -> None:
    clip = write_video(tmp_path / "c.mp4", frames=30, fps=15, audio_s=2.0)
    looped = loop_clip(clip, tmp_path / "long.mp4", minutes=0.2)  # 12 s from 2 s
    assert probe(looped).duration_s == pytest.approx(12.0, abs=0.5)


def test_transcode_scales_and_keeps_every_frame_and_the_audio(tmp_path: Path) -> None:
    clip = write_video(tmp_path / "c.mp4", frames=30, fps=15, size=(320, 240), audio_s=2.0)
    out = transcode(clip, tmp_path / "c_120p.mp4", 120)
    info, src = probe(out), probe(clip)
    assert (info.width, info.height) == (160, 120)
    assert info.has_audio and info.fps == pytest.approx(15.0)
    assert info.duration_s == pytest.approx(src.duration_s, abs=0.1)
    from detectors.media import decode_only

    assert decode_only(out)[0] == 30
