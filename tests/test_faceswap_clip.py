"""The face-swap check's CLIP probe: the encoder from its wheel, the evenly spread crops, and the
combination with the CNN as the shipped description says (detectors/models/clip_faces.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from detectors import registry
from detectors.faceswap import CLIP_MAX_CROPS, CLIP_MIN_CROPS, FaceSwapDetector
from detectors.models import clip_faces
from detectors.pipeline import analyze_recording

FAST = {"pipeline.analysis_fps": 15}


@pytest.fixture(autouse=True)
def only_faceswap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "recording_detectors", lambda: [FaceSwapDetector])


def test_spread_sample_keeps_an_even_bounded_subset_of_a_stream_of_any_length() -> None:
    for n in (5, 31, 32, 33, 100, 1000):
        s = clip_faces.SpreadSample(32)
        for i in range(n):
            s.offer(i if s.wants() else None)
        kept = s.items
        assert None not in kept and len(kept) < 32 and kept[0] == 0
        gaps = np.diff(kept)
        assert len(set(gaps.tolist())) <= 1  # evenly spread
        assert n - 1 - kept[-1] < max(2, gaps[0] if len(gaps) else 1)  # reaches the end of the stream
        picked = s.pick(5)
        assert len(picked) == min(5, len(kept)) and picked[0] == kept[0] and picked[-1] == kept[-1]


def test_the_encoder_ships_in_its_wheel_and_embeds_faces_not_noise() -> None:
    from skimage import data

    assert clip_faces.encoder_path() is not None  # installed from the registry, nothing downloaded
    face = np.ascontiguousarray(data.astronaut()[20:220, 140:340])
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, face.shape, dtype=np.uint8)
    e = clip_faces.embed(np.stack([face, face[:, ::-1], noise]))
    assert e.shape == (3, 512) and np.allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-4)
    assert float(e[0] @ e[1]) > 0.9 > float(e[0] @ e[2])  # the mirrored face is near it, noise is not
    assert np.array_equal(e, clip_faces.embed(np.stack([face, face[:, ::-1], noise])))  # deterministic


def test_the_encoders_inner_layers_are_read_from_the_same_run() -> None:
    from skimage import data

    face = np.ascontiguousarray(data.astronaut()[20:220, 140:340])
    crops = np.stack([face, face[:, ::-1]])
    f = clip_faces.features(crops, ("embed", "cls4", "patch9", "pooled"))
    assert f.shape == (2, 512 + 3 * 768)
    assert np.allclose(f[:, :512], clip_faces.embed(crops), atol=1e-5)  # the extra outputs leave the embedding as it was
    parts = [f[:, :512], f[:, 512:1280], f[:, 1280:2048], f[:, 2048:]]
    assert all(np.allclose(np.linalg.norm(p, axis=1), 1.0, atol=1e-4) for p in parts)
    assert not np.allclose(parts[1], parts[2])  # different blocks, different tokens
    assert float(parts[1][0] @ parts[1][1]) > 0.8  # an early block still sees the mirrored face as alike
    regions = clip_faces.features(crops, ("patch7", "centre7", "ring7"))
    whole, centre, ring = regions[:, :768], regions[:, 768:1536], regions[:, 1536:]
    n_centre = int(clip_faces.REGIONS["centre"].sum())
    blend = _unit(n_centre * centre * _norm_of_mean(crops, "centre7") + (196 - n_centre) * ring * _norm_of_mean(crops, "ring7"))
    assert np.allclose(blend, whole, atol=1e-3)  # the centre and the ring around it make up the whole grid
    with pytest.raises(ValueError, match="unknown CLIP feature"):
        clip_faces.features(crops, ("cls13",))


def test_the_encoder_loads_without_a_usable_temporary_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    from skimage import data

    face = np.ascontiguousarray(data.astronaut()[20:220, 140:340])[None]
    before = clip_faces.features(face, ("pooled", "patch9"))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "gone"))  # a temporary folder that does not exist
    monkeypatch.setattr(clip_faces, "_hidden_sessions", {})  # build the session again, here
    after = clip_faces.features(face, ("pooled", "patch9"))
    assert np.array_equal(before, after)  # built from memory instead, the same encoder
    assert not (tmp_path / "gone").exists()


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _norm_of_mean(crops: np.ndarray, name: str) -> np.ndarray:
    """The length of a region's mean token before features() makes it a unit vector."""
    kind, block = clip_faces.parse_feature(name)
    sess = clip_faces._hidden_encoder()
    h = sess.run([clip_faces.HIDDEN_OUTPUTS[block]], {"pixel_values": clip_faces.encoder_input(crops)})[0]
    return np.linalg.norm(h[:, 1:][:, clip_faces.REGIONS[kind]].mean(axis=1), axis=1, keepdims=True)


def test_the_probe_is_combined_with_the_cnn_as_its_description_says(talking_head_factory: Any) -> None:
    probe = clip_faces.load_probe()
    assert probe is not None and 0.0 <= probe.weight <= 1.0 and probe.risk(probe.decision_centre) == pytest.approx(0.5)
    clip = talking_head_factory(duration_s=6.0, fps=15, size=(320, 320))["path"]
    finding = analyze_recording(clip, settings=FAST).findings["faceswap"]
    signals = finding.evidence["signals"]
    part = signals["clip"]
    assert CLIP_MIN_CROPS <= part["crops"] <= CLIP_MAX_CROPS and len(part["logits"]) == part["crops"]
    assert part["times_s"] == sorted(part["times_s"]) and part["times_s"][-1] - part["times_s"][0] >= 3.5  # spread over the clip
    assert part["value"] == pytest.approx(float(np.median(part["logits"])), abs=1e-3)
    combined = probe.combined(signals["model"]["value"], part["value"])
    assert part["combined"] == pytest.approx(combined)
    assert finding.risk == pytest.approx(probe.risk(combined)) == pytest.approx(signals["model"]["score"])
    assert "CLIP" in part["doc"]
    per_second = [r for _, r in finding.evidence["risk_per_second"]]  # the CNN's seconds, each combined with the CLIP value
    assert min(per_second) - 1e-3 <= finding.risk <= max(per_second) + 1e-3


def test_the_map_of_a_crop_adds_up_to_its_logit() -> None:
    """ClipProbe.patch_logits is an exact split of the probe's logit over the face's patches."""
    probe = clip_faces.load_probe()
    assert probe is not None and any(clip_faces.parse_feature(n)[0] in ("centre", "ring", "patch") for n in probe.features)
    crops = np.random.default_rng(3).integers(0, 255, (3, 192, 192, 3), dtype=np.uint8)
    patches: dict[str, np.ndarray] = {}
    feats = probe.read(crops, patches=patches)
    assert np.array_equal(feats, probe.read(crops))  # asking for the map changes nothing
    maps = probe.patch_logits(patches)
    assert maps is not None and maps.shape == (3, clip_faces.GRID, clip_faces.GRID)
    rest, at = np.full(3, probe.intercept), 0
    for name in probe.features:  # what the parts that are not spatial give
        dim = clip_faces.FEATURE_DIMS[clip_faces.parse_feature(name)[0]]
        if name not in patches:
            rest += ((feats[:, at:at + dim] - probe.mean[at:at + dim]) / probe.std[at:at + dim]) @ probe.coef[at:at + dim]
        at += dim
    assert maps.sum(axis=(1, 2)) + rest == pytest.approx(probe.logits(feats), abs=1e-3)
    ring = ~clip_faces.REGIONS["centre"].reshape(clip_faces.GRID, clip_faces.GRID)
    assert np.abs(maps[:, ring]).sum() > 0 and np.abs(maps[:, ~ring]).sum() > 0  # both regions the probe reads


def test_the_clip_probes_most_swap_like_moments_are_shown_with_their_maps(talking_head_factory: Any) -> None:
    clip = talking_head_factory(duration_s=6.0, fps=15, size=(320, 320))["path"]
    finding = analyze_recording(clip, settings=FAST).findings["faceswap"]
    part, frames = finding.evidence["signals"]["clip"], finding.evidence["clip_frames"]
    assert 1 <= len(frames) <= min(2, part["crops"])
    assert [f["logit"] for f in frames] == pytest.approx(sorted(part["logits"], reverse=True)[:len(frames)], abs=1e-3)
    probe = clip_faces.load_probe()
    for f in frames:
        assert f["model"] == "clip" and min(abs(f["t"] - t) for t in part["times_s"]) < 0.01
        assert f["risk"] == pytest.approx(probe.risk(probe.combined(finding.evidence["signals"]["model"]["value"], f["logit"])), abs=1e-3)
        assert f["face_png"] and f["heatmap_png"] and f["heatmap_png"] != f["face_png"]


def test_without_the_encoder_the_cnn_judges_alone(talking_head_factory: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clip_faces, "encoder_path", lambda: None)  # as on an install without the wheel
    assert clip_faces.load_probe() is None
    clip = talking_head_factory(duration_s=3.0, fps=15, size=(320, 320))["path"]
    finding = analyze_recording(clip, settings=FAST).findings["faceswap"]
    assert "clip" not in finding.evidence["signals"] and finding.confidence > 0 and finding.evidence["clip_frames"] == []
    net = finding.evidence["signals"]["model"]
    assert finding.risk == pytest.approx(net["score"])


def test_fold_copies_of_the_probe_are_used_inside_fold_models(tmp_path: Path) -> None:
    import json

    from detectors.models import fold_models, model_path

    shipped = json.loads(model_path(clip_faces.PROBE).read_text())
    shipped["decision_centre"] = 123.0
    (tmp_path / "faceswap_clip_fold2.json").write_text(json.dumps(shipped))
    with fold_models(tmp_path, 2):
        probe = clip_faces.load_probe()
    assert probe is not None and probe.decision_centre == 123.0
    assert clip_faces.load_probe().decision_centre != 123.0  # type: ignore[union-attr]


def test_a_risk_under_the_flag_but_above_most_real_recordings_is_called_a_weak_sign(talking_head_factory: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from detectors import faceswap

    clip = talking_head_factory(duration_s=3.0, fps=15, size=(320, 320))["path"]
    below = analyze_recording(clip, settings=FAST).findings["faceswap"]
    assert below.risk < faceswap.WEAK_RISK and below.summary.startswith("No clear sign")
    monkeypatch.setattr(faceswap, "WEAK_RISK", below.risk / 2)  # the same risk, now above the weak-sign line
    weak = analyze_recording(clip, settings=FAST).findings["faceswap"]
    assert weak.risk == pytest.approx(below.risk) and weak.summary.startswith("A weak sign") and "below the 0.50 flag" in weak.summary


def test_the_encoder_is_prepared_in_the_background_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading
    import time

    monkeypatch.setattr(clip_faces, "_hidden_sessions", {})
    started = time.perf_counter()
    for _ in range(3):
        clip_faces.prepare_in_background()  # both checks ask; one thread builds
    assert time.perf_counter() - started < 0.2  # the caller (a check's constructor) does not wait for it
    builders = [t for t in threading.enumerate() if t.name == "clip-encoder-prepare"]
    assert len(builders) == 1
    builders[0].join(timeout=60)
    assert clip_faces.encoder_path() in clip_faces._hidden_sessions
    clip_faces.prepare_in_background()  # ready: nothing more starts
    assert not [t for t in threading.enumerate() if t.name == "clip-encoder-prepare"]


def test_a_process_that_ends_while_the_encoder_is_being_prepared_exits_cleanly(tmp_path: Path) -> None:
    """A process may end before the background build does (a short recording without a face, a
    cancelled run): it must still exit 0. A daemon builder left inside onnxruntime at shutdown
    aborted the process (exit 134, 'terminate called without an active exception')."""
    import subprocess
    import sys

    from fixtures.simple_media import write_video

    clip = write_video(tmp_path / "noface.mp4", frames=15, fps=15, size=(160, 120))
    for run in range(3):  # the abort was a race the build usually lost (4 runs in 5)
        done = subprocess.run([sys.executable, "-m", "detectors.cli", "--library", str(tmp_path / "lib.sqlite"), "analyze",
                               "--candidate", f"Nobody {run}", str(clip), "--json", str(tmp_path / f"r{run}.json")],
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        assert "terminate called" not in done.stderr and (tmp_path / f"r{run}.json").is_file()

