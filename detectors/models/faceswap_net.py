"""The learned face-swap model: a small CNN on aligned face crops, run by onnxruntime.

Trained by ``training/train_faceswap_net.py`` (self-blended real faces plus the dev face swaps and
generated talking heads, with scale and compression augmentation). It reads the middle
``input_px`` px (:func:`detectors.faceswap_signals.net_input`) of an ``aligned_px`` crop made by
:func:`detectors.faceswap_signals.aligned_crop` (both sizes stored in ``faceswap_net.json``, so a
model trained at another resolution needs no code change) and gives one logit per crop
(> 0: swapped or generated). ``faceswap_net.json`` beside the weights holds how a recording's logits become a risk:
the percentile taken over frames, the decision centre (chosen from out-of-fold REAL recordings
only) and the width of the logistic map. Under :func:`detectors.models.fold_models` the fold copy
of both files is used, so a grouped evaluation scores each file with a model and a centre that
never saw its group.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import centred_risk, description, model_path, session

log = logging.getLogger(__name__)

MODEL_NAME = "faceswap_net.onnx"
META_NAME = "faceswap_net.json"

OCCLUSION_GRID = 4
"""Occlusion heat map: a grey square is slid over the crop on this many x this many positions."""

OCCLUSION_PATCH = 0.34
"""Side of the grey square, as a fraction of the crop side (neighbouring positions overlap)."""

@dataclass(frozen=True)
class NetMeta:
    """How the model's per-frame logits become a recording risk (stored with the weights)."""

    aggregate_percentile: float
    decision_centre: float
    risk_width: float
    path: str
    aligned_px: int = 96
    """Side of the aligned face crop (:func:`detectors.faceswap_signals.aligned_crop`) the model reads."""
    input_px: int = 72
    """Side of the model input: the middle of the aligned crop (:func:`detectors.faceswap_signals.net_input`)."""

    def risk(self, value: float) -> float:
        """Logistic map of an aggregated logit to 0..1, 0.5 at the decision centre."""
        return centred_risk(value, self.decision_centre, self.risk_width)


def load_meta() -> NetMeta:
    data = description(META_NAME)
    inp = data.get("input", {})
    shape = inp.get("shape") or [None, 3, 72, 72]
    return NetMeta(float(data["aggregate_percentile"]), float(data["decision_centre"]), float(data["risk_width"]),
                   str(model_path(META_NAME)), int(inp.get("aligned_px", 96)), int(shape[2]))


class FaceSwapNet:
    """A loaded model (the shipped one, or a fold copy inside ``fold_models``)."""

    def __init__(self) -> None:
        self.session = session(MODEL_NAME)
        self.meta = load_meta()
        self.input_name = self.session.get_inputs()[0].name
        self.name = Path(model_path(MODEL_NAME)).name

    def model_input(self, rgb: np.ndarray, landmarks_xy: np.ndarray) -> np.ndarray:
        """The model's input (input_px x input_px x 3 uint8) for the face with ``landmarks_xy`` in ``rgb``."""
        from ..faceswap_signals import aligned_crop, net_input

        aligned = aligned_crop(rgb, landmarks_xy, self.meta.aligned_px)[0]
        return np.ascontiguousarray(net_input(aligned, self.meta.input_px))

    def logits(self, crops: np.ndarray) -> np.ndarray:
        """(N, input_px, input_px, 3) uint8 RGB model inputs (:meth:`model_input`) -> (N,) logits."""
        if crops.ndim != 4 or crops.shape[-1] != 3:
            raise ValueError(f"expected (N, H, W, 3) crops, got {crops.shape}")
        if len(crops) == 0:
            return np.zeros(0, np.float32)
        x = np.ascontiguousarray(crops.transpose(0, 3, 1, 2), dtype=np.float32)
        return self.session.run(None, {self.input_name: x})[0][:, 0].astype(np.float32)

    def occlusion_map(self, crop: np.ndarray, base_logit: float | None = None) -> np.ndarray:
        """Where the model looks: the drop of its logit when a grey square hides each part of the
        face, smoothed to the crop size and scaled to 0..1 (1 = hiding this part lowers the
        swap evidence the most). Gradient-free: ``OCCLUSION_GRID``^2 extra runs, in one batch."""
        side = crop.shape[0]
        patch = max(4, int(round(side * OCCLUSION_PATCH)))
        starts = np.linspace(0, side - patch, OCCLUSION_GRID).round().astype(int)
        batch = []
        for y in starts:
            for x in starts:
                c = crop.copy()
                c[y : y + patch, x : x + patch] = 128
                batch.append(c)
        if base_logit is None:
            base_logit = float(self.logits(crop[None])[0])
        drops = base_logit - self.logits(np.stack(batch))
        heat = np.zeros((side, side), np.float32)
        count = np.zeros((side, side), np.float32)
        for d, (y, x) in zip(drops, [(y, x) for y in starts for x in starts]):
            heat[y : y + patch, x : x + patch] += max(0.0, float(d))
            count[y : y + patch, x : x + patch] += 1.0
        heat /= np.maximum(count, 1.0)
        top = float(heat.max())
        return heat / top if top > 1e-6 else heat


def load_net() -> FaceSwapNet | None:
    """The model, or None (logged) when its files are missing."""
    try:
        return FaceSwapNet()
    except FileNotFoundError as exc:
        log.warning("face-swap model unavailable: %s", exc)
        return None
