"""The lip-sync check's generated-mouth part: CLIP features of the face and its mouth, the probe and
its bars as the shipped description says, the capped part in the lipsync risk, and its fold copies
(detectors/lipsync.py, training/train_lipsync_mouth.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from detectors import lipsync as ls
from detectors import registry
from detectors.lipsync import LipSyncDetector
from detectors.models import clip_faces, fold_models, model_path
from detectors.pipeline import analyze_recording

FAST = {"pipeline.analysis_fps": 15}


@pytest.fixture(autouse=True)
def only_lipsync(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "recording_detectors", lambda: [LipSyncDetector])


def _faces() -> np.ndarray:
    import cv2
    from skimage import data

    face = cv2.resize(np.ascontiguousarray(data.astronaut()[20:220, 140:340]), (ls.MOUTH_CROP_PX, ls.MOUTH_CROP_PX))
    return np.stack([face, face[:, ::-1]])


def test_the_features_of_face_lower_face_and_mouth_are_unit_vectors_from_their_own_pixels() -> None:
    crops = _faces()
    names = ["face_cls7", "face_mouth7", "lower_cls7", "lower_mouth7", "face_embed"]
    f = ls.clip_mouth_features(crops, names)
    assert f.shape == (2, 4 * 768 + 512)
    parts = np.split(f, [768, 1536, 2304, 3072], axis=1)
    assert all(np.allclose(np.linalg.norm(p, axis=1), 1.0, atol=1e-4) for p in parts)
    assert not np.allclose(parts[0], parts[2], atol=1e-2)  # the lower face is another crop
    assert not np.allclose(parts[0], parts[1], atol=1e-2)  # the mouth's patches are not the class token
    assert np.allclose(parts[4], clip_faces.embed(crops), atol=1e-4)  # the whole-face run is the encoder's own
    # the mouth patches read only the mouth: changing the top of the face leaves them nearly as they were
    changed = crops.copy()
    changed[:, :60] = 0
    g = ls.clip_mouth_features(changed, ["face_mouth7", "face_cls7"])
    assert float(np.sum(g[0, :768] * parts[1][0])) > float(np.sum(g[0, 768:] * parts[0][0]))
    with pytest.raises(ValueError, match="unknown mouth feature"):
        ls.clip_mouth_features(crops, ["chin_cls7"])
    assert ls.clip_mouth_features(crops[:0], ["lower_mouth9"]).shape == (0, 768)


def test_the_shipped_probe_reads_the_features_its_description_names() -> None:
    d = json.loads(model_path(ls.MOUTH_MODEL).read_text())
    probe = ls.load_mouth_probe()
    assert probe is not None and probe.features == tuple(d["features"])
    dim = ls.clip_mouth_features(_faces(), probe.features).shape[1]
    assert probe.coef.shape == probe.mean.shape == probe.std.shape == (dim,)
    assert probe.ok < probe.bad  # 0 up to the real recordings' median, full from above their highest
    assert d["recipe"] == "training/train_lipsync_mouth.py" and d["out_of_fold"]["auc_all"] > 0.5
    score, logits = probe.score(_faces())
    assert logits.shape == (2,) and score == pytest.approx(float(np.median(logits)))


def test_fold_copies_of_the_probe_are_used_inside_fold_models(tmp_path: Path) -> None:
    shipped = json.loads(model_path(ls.MOUTH_MODEL).read_text())
    shipped["bad"] = 123.0
    (tmp_path / "lipsync_mouth_fold3.json").write_text(json.dumps(shipped))
    with fold_models(tmp_path, 3):
        assert ls.load_mouth_probe().bad == 123.0  # type: ignore[union-attr]
    assert ls.load_mouth_probe().bad != 123.0  # type: ignore[union-attr]


def _probe_with_bars(ok: float, bad: float) -> ls.MouthProbe:
    p = _SHIPPED()
    assert p is not None
    return ls.MouthProbe(p.features, p.mean, p.std, p.coef, p.intercept, ok, bad)


_SHIPPED = ls.load_mouth_probe


def test_the_part_is_capped_below_a_call_and_explained(talking_head_factory: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    clip = talking_head_factory(duration_s=6.0, fps=15, size=(320, 320))["path"]
    # the fixture draws its lips from its voice: the driven- and tight-mouth parts are silenced here
    # so that the generated-mouth part is the one the finding reports
    monkeypatch.setattr(ls, "DRIVEN_WEIGHT", 0.0)
    monkeypatch.setattr(ls, "TIGHT_WEIGHT", 0.0)
    # bars far below any score: the part is full, at MOUTH_WEIGHT (< 0.5: alone it asks for a review only)
    monkeypatch.setattr(ls, "load_mouth_probe", lambda: _probe_with_bars(-1e6, -1e6 + 1))
    f = analyze_recording(clip, settings=FAST).findings["lipsync"]
    g = f.evidence["generated_mouth"]
    print(f.risk, f.confidence, f.evidence["risk_parts"], g["score"], g["crops"], f.summary)
    assert g is not None and g["crops"] == ls.MOUTH_MAX_CROPS and "CLIP" in g["doc"]  # 6 s: 12 offers, 8 read
    assert f.evidence["risk_parts"]["generated_mouth"] == pytest.approx(ls.MOUTH_WEIGHT)
    assert ls.MOUTH_WEIGHT < 0.5 and f.risk == pytest.approx(ls.MOUTH_WEIGHT)
    assert "reads as generated" in f.summary and f.confidence >= ls.MOUTH_CONFIDENCE
    # bars far above: no part at all
    monkeypatch.setattr(ls, "load_mouth_probe", lambda: _probe_with_bars(1e6, 1e6 + 1))
    f2 = analyze_recording(clip, settings=FAST).findings["lipsync"]
    assert f2.evidence["risk_parts"]["generated_mouth"] == 0.0
    assert f2.evidence["generated_mouth"]["score"] == pytest.approx(g["score"], abs=1e-3)  # the same crops, the same score


def test_without_the_encoder_the_check_runs_without_the_part(talking_head_factory: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clip_faces, "encoder_path", lambda: None)  # as on an install without the wheel
    assert ls.load_mouth_probe() is None
    clip = talking_head_factory(duration_s=3.0, fps=15, size=(320, 320))["path"]
    f = analyze_recording(clip, settings=FAST).findings["lipsync"]
    assert f.evidence["risk_parts"]["generated_mouth"] == 0.0 and f.evidence["generated_mouth"] is None
