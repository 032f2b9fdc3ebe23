"""Metrics, calibration fitting, and the eval / bench commands on generated media."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from detectors.bench import bench_one, loop_clip, transcode
from detectors.cli import main as cli_main
from detectors.evaluate import equal_error_rate, fit_logistic, read_manifest, roc_auc, tpr_at_fpr
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


def test_logistic_fit_orders_and_separates() -> None:
    risks = [0.05, 0.1, 0.2, 0.3, 0.6, 0.7, 0.8, 0.95] * 5
    labels = [0, 0, 0, 0, 1, 1, 1, 1] * 5
    a, b = fit_logistic(risks, labels)
    p = lambda r: 1 / (1 + np.exp(-(a * r + b)))  # noqa: E731
    assert a > 0 and p(0.1) < 0.2 and p(0.9) > 0.8


def test_manifest_rejects_bad_label(tmp_path: Path) -> None:
    (tmp_path / "m.csv").write_text("path,kind,label\nx.mp4,video,maybe\n")
    with pytest.raises(ValueError, match="maybe"):
        read_manifest(tmp_path / "m.csv")


def test_eval_command_skips_a_broken_file(talking_head_clip: dict, tmp_path: Path) -> None:
    clip = Path(talking_head_clip["path"])
    (tmp_path / "clip.mkv").write_bytes(clip.read_bytes())
    (tmp_path / "broken.mp4").write_bytes(b"not a video")
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("path,kind,label,manipulation\nclip.mkv,video,real,none\nbroken.mp4,video,fake,faceswap (x)\n")
    out = tmp_path / "eval.json"
    assert cli_main(["eval", str(manifest), "--json", str(out), "--set", "pipeline.analysis_fps=8"]) == 0
    data = json.loads(out.read_text())
    assert data["fused"]["auc"] is None  # one class left after the broken file is skipped
    assert len(data["errors"]) == 1 and "broken.mp4" in data["errors"][0]
    assert data["files"][0]["fused_risk"] is not None


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
