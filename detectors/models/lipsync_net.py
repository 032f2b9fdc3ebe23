"""The learned audio-visual sync model (SyncNet spirit): inputs, inference and lag scores.

Two small 1-D convolutional encoders, trained by ``training/train_lipsync_net.py`` on real clips
only (their own audio in sync, the same audio shifted as negatives), map

* the mouth: a few distances between the face track's Face Mesh points (lip gaps, mouth widths,
  chin and lips to the nose tip) in eye distances, minus the recording's mean, and
* the voice: the log-mel spectrogram (40 bands), each band standardised over the recording,

both on one :data:`GRID_S` grid, to one unit vector per grid step each (receptive field about a
second). A lip step and a voice step that belong together score high (cosine), a voice step from
another moment low. The score of lag ``l`` at step ``t`` is ``v[t] . a[t + l]``: the audio is
late by ``l``. Everything here is NumPy + onnxruntime; the weights ship as
``assets/models/lipsync_net.onnx`` (per-fold copies for out-of-fold evaluation, see
:mod:`detectors.models`).

The training script imports :func:`mouth_features` and :func:`audio_features` from here, so the
model sees at run time exactly what it was trained on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np

from ..mesh_points import point
from . import session

MODEL_NAME = "lipsync_net.onnx"

GRID_S = 0.02
"""Step of the common grid (s): two 10 ms audio hops."""

NOSE_TIP = 1
EYE_CORNERS = (33, 263)

MOUTH_SCALE = 0.03
"""Mouth measures (eye distances, mean removed) are divided by this (their typical motion in speech)."""

AUDIO_SCALE_CLIP = 4.0
"""Standardised log-mel values are clipped to +-this."""

MAX_FACE_GAP_S = 0.25
"""Gaps in the face track up to this long are bridged by interpolation; longer ones have no mouth."""

BLOCK_STEPS = 3000
"""Grid steps embedded per model call (60 s): memory stays flat on long recordings."""

MARGIN_STEPS = 64
"""Steps of context added on both sides of a block (more than the encoders' receptive field)."""


MOUTH_MEASURES = (
    ("inner_gap", (13, 14)), ("inner_gap_left", (82, 87)), ("inner_gap_right", (312, 317)), ("outer_gap", (0, 17)),
    ("outer_width", (61, 291)), ("inner_width", (78, 308)), ("chin_drop", (1, 152)), ("upper_lip", (1, 0)), ("lower_lip", (1, 17)),
)
"""The mouth's shape as a few distances (eye distances, in the eye-aligned frame): lip gaps, mouth
widths, the chin's and the lips' distance from the nose tip. Few, speaker-independent numbers, so a
model trained on a few dozen speakers learns how mouths move with sound, not what they look like."""


def n_mouth_features() -> int:
    return len(MOUTH_MEASURES)


def mouth_features(times: np.ndarray, landmarks: np.ndarray, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(T, F) mouth measures on ``grid`` (each minus its mean over the recording, over MOUTH_SCALE)
    and (T,) bool face present.

    ``landmarks``: (N, K, 3) face-track points (full mesh or the track subset) at ``times`` (the
    frames' own timestamps: a variable frame rate is followed as it is)."""
    lm = np.asarray(landmarks, dtype=np.float32)
    t = np.asarray(times, dtype=np.float64)
    left, right = point(lm, EYE_CORNERS[0]), point(lm, EYE_CORNERS[1])
    eye = np.linalg.norm(left - right, axis=1)  # 3-D: steady when the head turns
    cols = []
    for _, (a, b) in MOUTH_MEASURES:
        cols.append(np.linalg.norm(point(lm, a)[:, :2] - point(lm, b)[:, :2], axis=1) / eye)
    feats = np.stack(cols, axis=1) if cols else np.zeros((t.size, 0), np.float32)
    ok = np.isfinite(feats).all(axis=1) & (eye > 0)
    out = np.full((grid.size, feats.shape[1]), np.nan, np.float32)
    if ok.sum() < 2:
        return out, np.zeros(grid.size, bool)
    tt, ff = t[ok], feats[ok]
    idx = np.clip(np.searchsorted(tt, grid), 1, tt.size - 1)
    face = ((tt[idx] - tt[idx - 1]) <= MAX_FACE_GAP_S + 1e-6) & (grid >= tt[0] - 1e-6) & (grid <= tt[-1] + 1e-6)
    w = np.clip((grid - tt[idx - 1]) / np.maximum(tt[idx] - tt[idx - 1], 1e-9), 0.0, 1.0)[:, None]
    out[:] = ff[idx - 1] * (1 - w) + ff[idx] * w
    out[~face] = np.nan
    if face.any():
        out = (out - np.nanmean(out[face], axis=0, keepdims=True)) / MOUTH_SCALE
    return out.astype(np.float32), face


def audio_features(mel_db: np.ndarray) -> np.ndarray:
    """(T, B) standardised log-mel on the grid: pairs of 10 ms hops averaged, each band's mean and
    spread over the recording removed."""
    mel = np.asarray(mel_db, dtype=np.float32)
    k = int(round(GRID_S / 0.01))
    n = (mel.shape[0] // k) * k
    g = mel[:n].reshape(-1, k, mel.shape[1]).mean(axis=1)
    if g.shape[0] == 0:
        return g
    mean = g.mean(axis=0, keepdims=True)
    std = g.std(axis=0, keepdims=True)
    return np.clip((g - mean) / np.maximum(std, 1.0), -AUDIO_SCALE_CLIP, AUDIO_SCALE_CLIP).astype(np.float32)


def audio_grid(audio_times: np.ndarray) -> np.ndarray:
    """Times of the grid steps made from the audio hops (centre of each pair)."""
    k = int(round(GRID_S / 0.01))
    n = (audio_times.size // k) * k
    return audio_times[:n].reshape(-1, k).mean(axis=1) if n else np.zeros(0)


@dataclass(frozen=True)
class Embeddings:
    video: np.ndarray  # (T, E) unit vectors (zeros where no face)
    audio: np.ndarray  # (T, E) unit vectors


def _blocks(n: int) -> Iterator[tuple[int, int, int, int]]:
    """(start, end, start with margin, end with margin) over n steps."""
    for a in range(0, n, BLOCK_STEPS):
        b = min(n, a + BLOCK_STEPS)
        yield a, b, max(0, a - MARGIN_STEPS), min(n, b + MARGIN_STEPS)


def embed(video: np.ndarray, audio: np.ndarray, model: str = MODEL_NAME) -> Embeddings:
    """Both encoders over whole sequences (in blocks). ``video`` NaN rows (no face) become zero
    input and a zero embedding."""
    sess: Any = session(model)
    v_in = np.nan_to_num(video, nan=0.0).astype(np.float32)
    missing = ~np.isfinite(video).all(axis=1)
    outs_v, outs_a = [], []
    n = min(v_in.shape[0], audio.shape[0])
    for a, b, a0, b0 in _blocks(n):
        ev, ea = sess.run(None, {"video": v_in[None, a0:b0].transpose(0, 2, 1), "audio": audio[None, a0:b0].transpose(0, 2, 1)})
        outs_v.append(ev[0].T[a - a0:b - a0])
        outs_a.append(ea[0].T[a - a0:b - a0])
    ev = np.concatenate(outs_v) if outs_v else np.zeros((0, 1), np.float32)
    ea = np.concatenate(outs_a) if outs_a else np.zeros((0, 1), np.float32)
    ev[missing[:n]] = 0.0
    return Embeddings(ev.astype(np.float32), ea.astype(np.float32))


def lag_scores(emb: Embeddings, max_lag: int) -> np.ndarray:
    """(T, 2*max_lag+1) cosine of lips at t with voice at t + lag (NaN where t + lag is outside)."""
    v, a = emb.video, emb.audio
    n = v.shape[0]
    out = np.full((n, 2 * max_lag + 1), np.nan, np.float32)
    for j, lag in enumerate(range(-max_lag, max_lag + 1)):
        lo, hi = max(0, -lag), min(n, n - lag)
        if hi > lo:
            out[lo:hi, j] = np.einsum("ij,ij->i", v[lo:hi], a[lo + lag:hi + lag])
    return out


def receptive_field_s() -> float:
    """The encoders' receptive field (s), as recorded by the training script in the model's metadata."""
    sess: Any = session(MODEL_NAME)
    meta = sess.get_modelmeta().custom_metadata_map
    return float(meta.get("receptive_field_steps", "0")) * GRID_S if meta else math.nan


def window_curves(emb: Embeddings, weight: np.ndarray, max_lag: int, width: int, step: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per sliding window (``width`` steps, every ``step``): the weighted mean lag score curve.

    ``weight`` (T,): how much each step counts (face seen and speech heard: 1, else 0). Computed
    block by block from running sums, so a long recording never holds its (T, lags) scores.
    Returns (starts, curves (n_windows, 2*max_lag+1), weight per window)."""
    n = emb.video.shape[0]
    if n == 0:
        return np.zeros(0, int), np.zeros((0, 2 * max_lag + 1), np.float32), np.zeros(0)
    width = min(width, n)
    starts = np.arange(0, max(1, n - width + 1), step)
    lags = 2 * max_lag + 1
    # running sums over t of w_t * s(t, l) and of w_t where s(t, l) exists
    cs = np.zeros((n + 1, lags), np.float64)
    cw = np.zeros((n + 1, lags), np.float64)
    for a, b, _, _ in _blocks(n):
        lo, hi = max(0, a - max_lag), min(n, b + max_lag)
        part = Embeddings(emb.video[lo:hi], emb.audio[lo:hi])
        s = lag_scores(part, max_lag)[a - lo:b - lo]
        w = weight[a:b, None] * np.isfinite(s)
        cs[a + 1:b + 1] = cs[a] + np.cumsum(np.nan_to_num(s) * w, axis=0)
        cw[a + 1:b + 1] = cw[a] + np.cumsum(w, axis=0)
    num = cs[starts + width] - cs[starts]
    den = cw[starts + width] - cw[starts]
    curves = np.where(den > 0, num / np.maximum(den, 1e-12), np.nan).astype(np.float32)
    return starts, curves, den.max(axis=1) if den.size else np.zeros(0)
