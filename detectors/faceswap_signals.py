"""Signals for the face-swap check: pure functions over pixels and landmark arrays.

Everything here is numpy/cv2 on arrays the face track already holds (Face Mesh 468-point
landmarks) or on face crops the detector takes while the pass runs. The training script
(``scripts/train_faceswap.py``) uses the same :func:`boundary_features` so that what the
classifier learned on self-blended faces is exactly what the detector measures.

Signals
-------
* blending boundary (pixels): local noise level and sharpness in concentric bands of the face
  hull, and how abruptly they change (a pasted face leaves a seam where its rendering meets the
  original frame). A logistic model trained on self-blended real faces turns them into a
  per-frame probability; :func:`artifact_heatmap` shows where on the face the seam is.
* face vs frame (pixels): noise-residual level of the face against the rest of the frame.
* identity flicker (embeddings): how far consecutive embeddings of the same face move when the
  head pose barely changes.
* landmark jitter and pose disagreement (landmarks): inner face (eyes, nose) against the outline.
* blinking (landmarks): eye-aspect-ratio dips per minute.
* pulse coherence (pixels, cheap ROI means): rPPG in forehead and both cheeks, band-passed and
  correlated.
"""

from __future__ import annotations

import json
import logging
import math
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

import cv2
import numpy as np

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------- landmarks

from .mesh_points import (  # noqa: E402,F401 - the point names checks and scripts read from here
    BROWS,
    CHIN,
    FACE_OVAL,
    FOREHEAD_TOP,
    INNER_RIGID,
    LEFT_CHEEK_EDGE,
    LEFT_EYE_EAR,
    LEFT_EYE_OUTER,
    LOWER_OVAL,
    NOSE_TIP,
    PULSE_ROIS,
    RIGHT_CHEEK_EDGE,
    RIGHT_EYE_EAR,
    RIGHT_EYE_OUTER,
    ROI_FOREHEAD,
    ROI_LEFT_CHEEK,
    ROI_RIGHT_CHEEK,
    pick,
    point,
)

# --------------------------------------------------------------------------- constants

MIN_TEXTURE_FACE_PX = 60
"""Faces narrower than this (source px) are too small for texture statistics; the model never
saw smaller ones in training."""

NORM_FACE_PX = 128
"""Face crops are downscaled (never upscaled) so the face is at most this wide (px)."""

CROP_MARGIN = 0.35
"""Margin (fraction of the face box on each side) taken around the face for the ring."""

BAND_EDGES = (1.0, 0.25, 0.15, 0.08, 0.02, -0.04, -0.12)
"""Signed distance to the face hull (fraction of face width, + inside) bounding the bands."""

NOISE_WIN = 7
"""Box window (px at normalised size) for local noise / sharpness levels."""

EPS = 1e-3


@dataclass(frozen=True)
class FaceCrop:
    """A face crop at normalised size with its landmarks (x, y in crop px)."""

    rgb: np.ndarray
    landmarks: np.ndarray  # (468, 2)
    face_width: float


def normalise_crop(rgb: np.ndarray, landmarks_xy: np.ndarray) -> FaceCrop:
    """Downscale ``rgb`` (INTER_AREA) so the face is at most NORM_FACE_PX wide."""
    oval = landmarks_xy[list(FACE_OVAL)]
    width = float(oval[:, 0].max() - oval[:, 0].min())
    k = NORM_FACE_PX / max(width, 1.0)
    if k < 1.0:
        h, w = rgb.shape[:2]
        size = (max(8, int(round(w * k))), max(8, int(round(h * k))))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        landmarks_xy = landmarks_xy * k
        width *= k
    return FaceCrop(np.ascontiguousarray(rgb), landmarks_xy.astype(np.float32), width)


def hull_mask(shape: tuple[int, int], pts: np.ndarray) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    hull = cv2.convexHull(np.round(pts).astype(np.int32))
    cv2.fillConvexPoly(mask, hull, 1)
    return mask


def signed_distance(mask: np.ndarray) -> np.ndarray:
    """Distance (px) to the mask edge, positive inside."""
    inside = cv2.distanceTransform(mask, cv2.DIST_L2, 3)
    outside = cv2.distanceTransform(1 - mask, cv2.DIST_L2, 3)
    return inside - outside


@dataclass(frozen=True)
class PixelMaps:
    noise: np.ndarray  # log local noise-residual level
    sharp: np.ndarray  # log local gradient level (mid frequencies)
    noise_edge: np.ndarray  # |grad| of the smoothed noise map (seams in the noise level)


def pixel_maps(rgb: np.ndarray) -> PixelMaps:
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    resid = gray - cv2.GaussianBlur(gray, (3, 3), 0.8)
    noise = 0.5 * np.log(cv2.boxFilter(resid * resid, -1, (NOISE_WIN, NOISE_WIN)) + EPS)
    smooth = cv2.GaussianBlur(gray, (5, 5), 1.5)
    gx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3)
    sharp = np.log(cv2.boxFilter(np.abs(gx) + np.abs(gy), -1, (NOISE_WIN, NOISE_WIN)) + 1.0)
    ns = cv2.GaussianBlur(noise, (5, 5), 1.5)
    noise_edge = np.abs(cv2.Sobel(ns, cv2.CV_32F, 1, 0, ksize=3)) + np.abs(cv2.Sobel(ns, cv2.CV_32F, 0, 1, ksize=3))
    return PixelMaps(noise, sharp, noise_edge)


def _band_labels(face: FaceCrop) -> np.ndarray:
    """Band index per pixel (0 = deep inside ... len-1 = outer ring); -1 outside every band."""
    h, w = face.rgb.shape[:2]
    sd = signed_distance(hull_mask((h, w), face.landmarks[list(FACE_OVAL)])) / max(face.face_width, 1.0)
    labels = np.full((h, w), -1, np.int32)
    for i in range(len(BAND_EDGES) - 1):
        hi, lo = BAND_EDGES[i], BAND_EDGES[i + 1]
        labels[(sd <= hi) & (sd > lo)] = i
    return labels


def _region_masks(face: FaceCrop) -> tuple[np.ndarray, np.ndarray]:
    """(upper forehead above the brows, inner face below the brows) inside the outline."""
    h, w = face.rgb.shape[:2]
    outline = hull_mask((h, w), face.landmarks[list(FACE_OVAL)])
    inner = hull_mask((h, w), face.landmarks[list(LOWER_OVAL + BROWS)])
    inner = cv2.erode(inner, np.ones((3, 3), np.uint8))
    upper = outline & (1 - cv2.dilate(inner, np.ones((5, 5), np.uint8)))
    return upper.astype(bool), inner.astype(bool)


N_BANDS = len(BAND_EDGES) - 1
FLOOR_PERCENTILE = 20
"""Percentile of the local noise level taken as a region's noise floor."""
CHANNELS = ("noise", "sharp")
"""Texture only. Colour steps were tried and dropped: across recordings they follow the
background and lighting more than the face (they made real clips with unusual backgrounds
look blended), while a pasted face shows up in its noise and sharpness."""


def feature_names() -> list[str]:
    names = []
    for c in CHANNELS:
        names += [f"{c}_d{i}{i + 1}" for i in range(N_BANDS - 1)]
    names += [f"noise_edge_b{i}" for i in range(N_BANDS)]
    names += [f"brow_{c}" for c in CHANNELS]
    names += [f"floor_d{i}{i + 1}" for i in range(N_BANDS - 1)]
    names += ["brow_floor"]
    return names


def boundary_features(face: FaceCrop, maps: PixelMaps | None = None) -> np.ndarray:
    """Feature vector (see :func:`feature_names`): band-to-band steps of noise level and
    sharpness from deep inside the face hull to the ring outside it, seam strength (jumps of the
    noise level) per band, and forehead-vs-inner-face contrasts (a jaw+brows paste leaves the
    forehead original)."""
    maps = maps or pixel_maps(face.rgb)
    labels = _band_labels(face)
    flat = labels.ravel()
    ok = flat >= 0
    counts = np.bincount(flat[ok], minlength=N_BANDS).astype(np.float64) + 1.0
    chans = [maps.noise, maps.sharp]

    def band_means(img: np.ndarray) -> np.ndarray:
        return np.bincount(flat[ok], weights=img.ravel()[ok], minlength=N_BANDS) / counts

    feats: list[float] = []
    for img in chans:
        feats += list(np.diff(band_means(img)))
    ne = band_means(maps.noise_edge)
    feats += list(np.log((ne + EPS) / (np.median(ne) + EPS)))
    upper, inner = _region_masks(face)
    small = upper.sum() < 10 or inner.sum() < 10
    for img in chans:
        feats.append(0.0 if small else float(img[upper].mean() - img[inner].mean()))
    # noise floor: a low percentile of the local noise level, which flat skin sets and edges
    # (eyes, mouth, hair) do not; a pasted face is rendered with a different floor
    noise_flat = maps.noise.ravel()
    floors = []
    for i in range(N_BANDS):
        vals = noise_flat[flat == i]
        floors.append(float(np.percentile(vals, FLOOR_PERCENTILE)) if vals.size >= 10 else float(np.median(noise_flat)))
    feats += list(np.diff(floors))
    if small:
        feats.append(0.0)
    else:
        feats.append(float(np.percentile(maps.noise[upper], FLOOR_PERCENTILE) - np.percentile(maps.noise[inner], FLOOR_PERCENTILE)))
    return np.asarray(feats, np.float32)


def artifact_heatmap(face: FaceCrop, maps: PixelMaps | None = None) -> np.ndarray:
    """Where on the face local statistics jump (seams): float map in [0, 1], crop-sized."""
    maps = maps or pixel_maps(face.rgb)
    h, w = face.rgb.shape[:2]
    area = cv2.dilate(hull_mask((h, w), face.landmarks[list(FACE_OVAL)]), np.ones((9, 9), np.uint8)).astype(np.float32)
    core = area > 0
    ne = maps.noise_edge / (np.median(maps.noise_edge[core]) + EPS)
    # texture deviation from the face's own typical level: smoother or noisier patches
    dev = np.abs(maps.noise - np.median(maps.noise[core]))
    dev = dev / (np.median(dev[core]) + EPS)
    heat = cv2.GaussianBlur((ne + 0.5 * dev) * area, (0, 0), max(1.0, face.face_width / 40.0))
    top = float(np.percentile(heat[core], 99)) if core.any() else 1.0
    return np.clip(heat / max(top, EPS), 0.0, 1.0)


# --------------------------------------------------------------------------- aligned crops (learned model)

NET_PX = 96
"""Side (px) of the aligned face crop the learned face-swap model reads."""

NET_CROP_MARGIN = 0.5
"""Margin (fraction of the face box on each side) taken from the source frame before alignment:
the aligned crop shows the whole outline with a ring of background, where a pasted face's
blend boundary lies."""

ALIGN_POINTS = (33, 263, 1, 61, 291)
"""Face Mesh points the crop is aligned on: outer eye corners, nose tip, mouth corners."""

ALIGN_TEMPLATE = np.array([[0.32, 0.40], [0.68, 0.40], [0.50, 0.56], [0.40, 0.68], [0.60, 0.68]], np.float32)
"""Where those points land, as fractions of the crop side: the face (cheek to cheek) covers about
the middle half of the crop."""


def align_matrix(landmarks_xy: np.ndarray, size: int = NET_PX) -> np.ndarray:
    """2x3 similarity transform from image px to an aligned ``size`` x ``size`` crop (Umeyama fit of
    :data:`ALIGN_POINTS` onto :data:`ALIGN_TEMPLATE`)."""
    src = np.asarray(landmarks_xy, np.float64)[list(ALIGN_POINTS), :2]
    m, t = _similarity_align(src, ALIGN_TEMPLATE.astype(np.float64) * size)
    return np.hstack([m, t[:, None]]).astype(np.float32)


def aligned_crop(rgb: np.ndarray, landmarks_xy: np.ndarray, size: int = NET_PX) -> tuple[np.ndarray, np.ndarray]:
    """The face in ``rgb`` rotated, scaled and centred into a ``size`` x ``size`` crop.

    Returns (crop uint8, 2x3 matrix image px -> crop px). A large face is first shrunk with area
    averaging to about twice the crop scale, so the warp does not alias fine texture."""
    m = align_matrix(landmarks_xy, size)
    scale = float(np.sqrt(abs(np.linalg.det(m[:, :2]))))
    if scale < 0.5:
        k = 2.0 * scale
        h, w = rgb.shape[:2]
        rgb = cv2.resize(rgb, (max(8, int(round(w * k))), max(8, int(round(h * k)))), interpolation=cv2.INTER_AREA)
        k_x, k_y = rgb.shape[1] / w, rgb.shape[0] / h
        warp = m @ np.array([[1.0 / k_x, 0, 0], [0, 1.0 / k_y, 0], [0, 0, 1]], np.float32)  # from the shrunk image
    else:
        warp = m
    crop = cv2.warpAffine(rgb, warp, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return np.ascontiguousarray(crop), m


NET_INPUT_PX = 72
"""The model reads the middle NET_INPUT_PX x NET_INPUT_PX of the aligned crop: the face and a thin
ring around it (the outline covers about 73% of it)."""


def net_input(aligned: np.ndarray, px: int = NET_INPUT_PX) -> np.ndarray:
    """The model's input from aligned crop(s) (..., side, side, 3): their middle ``px`` px (the
    model's description, ``faceswap_net.json``, says which crop side and input side it reads)."""
    side = aligned.shape[-2]
    if side < px:
        raise ValueError(f"aligned crop of {side} px is smaller than the model input ({px} px)")
    o = (side - px) // 2
    return aligned[..., o : o + px, o : o + px, :]


def transform_points(m: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine matrix to (N, 2) points."""
    return (np.asarray(xy, np.float32)[:, :2] @ m[:, :2].T + m[:, 2]).astype(np.float32)


# --------------------------------------------------------------------------- face vs frame


FRAME_STEP = 2
"""The face-vs-frame noise comparison runs on the analysis frame shrunk by this factor."""


def face_vs_frame_noise(rgb: np.ndarray, landmarks_xy: np.ndarray) -> float:
    """Log ratio of the noise-residual level inside the face to the level in the rest of the
    frame (analysis-size frame), medians of the local noise map. Swapped faces, rendered small
    and scaled up, are smoother than the camera noise around them."""
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    h, w = gray.shape
    gray = cv2.resize(gray, (w // FRAME_STEP, h // FRAME_STEP), interpolation=cv2.INTER_AREA).astype(np.float32)
    resid = gray - cv2.GaussianBlur(gray, (3, 3), 0.8)
    noise = 0.5 * np.log(cv2.boxFilter(resid * resid, -1, (NOISE_WIN, NOISE_WIN)) + EPS)
    landmarks_xy = landmarks_xy / FRAME_STEP
    h, w = noise.shape
    face = hull_mask((h, w), landmarks_xy[list(LOWER_OVAL + BROWS)]).astype(bool)
    x0, y0 = landmarks_xy[:, 0].min(), landmarks_xy[:, 1].min()
    x1, y1 = landmarks_xy[:, 0].max(), landmarks_xy[:, 1].max()
    mw, mh = (x1 - x0) * 0.5, (y1 - y0) * 0.5
    rest = np.ones((h, w), bool)
    rest[max(0, int(y0 - mh)) : max(0, int(y1 + mh)), max(0, int(x0 - mw)) : max(0, int(x1 + mw))] = False
    if face.sum() < 20 or rest.sum() < 200:
        return float("nan")
    return float(np.median(noise[face]) - np.median(noise[rest]))


# --------------------------------------------------------------------------- landmarks over time


def _similarity_align(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """2-D similarity (scale*R, t) mapping src -> dst in least squares (Umeyama)."""
    ms, md = src.mean(0), dst.mean(0)
    a, b = src - ms, dst - md
    cov = b.T @ a / len(src)
    u, s, vt = np.linalg.svd(cov)
    d = np.sign(np.linalg.det(u @ vt))
    dd = np.diag([1.0, d])
    r = u @ dd @ vt
    var = (a * a).sum() / len(src)
    scale = float((s * np.diag(dd)).sum() / max(var, 1e-9))
    m = scale * r
    return m, md - ms @ m.T


def landmark_jitter(landmarks: np.ndarray, present: np.ndarray) -> tuple[float, np.ndarray]:
    """High-frequency motion of the inner face (eyes, nose) after the head outline's motion is
    removed, as a fraction of face width. Returns (median, per-frame values NaN-padded)."""
    n = landmarks.shape[0]
    per = np.full(n, np.nan)
    idx = np.flatnonzero(present)
    if idx.size < 5:
        return float("nan"), per
    oval = pick(landmarks[:, :, :2], FACE_OVAL)  # float32: no float64 copy of a long recording's track
    inner = pick(landmarks[:, :, :2], INNER_RIGID)
    ref = np.median(oval[idx], axis=0)
    ref = (ref - ref.mean(0)) / (ref[:, 0].max() - ref[:, 0].min())
    aligned = np.full((n, len(INNER_RIGID), 2), np.nan)
    for i in idx:
        m, t = _similarity_align(oval[i], ref)
        aligned[i] = inner[i] @ m.T + t
    # second difference over consecutive analysed frames (all three present)
    acc = aligned[2:] - 2 * aligned[1:-1] + aligned[:-2]
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # frames next to a gap: all-NaN rows
        rms = np.sqrt(np.nanmean((acc**2).sum(axis=2), axis=1))
    per[1:-1] = rms
    return float(np.nanmedian(rms)) if np.isfinite(rms).any() else float("nan"), per


def pose_angles(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Yaw and roll proxies from the inner face and from the outline, per frame.

    inner yaw: nose tip offset from the eye-corner midpoint / eye distance; outline yaw: the
    forehead-chin midline offset from the cheek-edge midpoint / face width. Rolls: angle of the
    eye-corner line and of the cheek-edge line.
    """
    xy = landmarks[:, :, :2]  # a float32 view: no float64 copy of a long recording's track
    re, le = point(xy, RIGHT_EYE_OUTER), point(xy, LEFT_EYE_OUTER)
    rc, lc = point(xy, RIGHT_CHEEK_EDGE), point(xy, LEFT_CHEEK_EDGE)
    eye_v = le - re
    iod = np.linalg.norm(eye_v, axis=1) + 1e-9
    ex = eye_v / iod[:, None]
    mid_e = (re + le) / 2
    yaw_inner = ((point(xy, NOSE_TIP) - mid_e) * ex).sum(1) / iod
    cheek_v = lc - rc
    fw = np.linalg.norm(cheek_v, axis=1) + 1e-9
    cx = cheek_v / fw[:, None]
    midline = (point(xy, FOREHEAD_TOP) + point(xy, CHIN)) / 2
    yaw_outline = ((midline - (rc + lc) / 2) * cx).sum(1) / fw
    roll_inner = np.arctan2(eye_v[:, 1], eye_v[:, 0])
    roll_outline = np.arctan2(cheek_v[:, 1], cheek_v[:, 0])
    return yaw_inner, yaw_outline, roll_inner, roll_outline


def pose_disagreement(landmarks: np.ndarray, present: np.ndarray) -> float:
    """How much the head pose from the inner face disagrees with the pose from the outline,
    beyond a linear relation fitted over the recording (radians of roll + scaled yaw)."""
    idx = np.flatnonzero(present)
    if idx.size < 10:
        return float("nan")
    yi, yo, ri, ro = (a[idx] for a in pose_angles(landmarks))
    res = []
    for a, b in ((yi, yo), (ri, ro)):
        A = np.stack([b, np.ones_like(b)], 1)
        coef, *_ = np.linalg.lstsq(A, a, rcond=None)
        r = a - A @ coef
        res.append(float(np.median(np.abs(r - np.median(r)))))
    return float(res[0] + res[1])


def eye_aspect_ratio(landmarks: np.ndarray) -> np.ndarray:
    xy = landmarks[:, :, :2]  # a float32 view: no float64 copy of a long recording's track
    out = []
    for p in (RIGHT_EYE_EAR, LEFT_EYE_EAR):
        p1, p2, p3, p4, p5, p6 = (point(xy, i) for i in p)
        v = np.linalg.norm(p2 - p6, axis=1) + np.linalg.norm(p3 - p5, axis=1)
        h = 2 * np.linalg.norm(p1 - p4, axis=1) + 1e-9
        out.append(v / h)
    return (out[0] + out[1]) / 2


BLINK_DROP = 0.65
"""A blink: the eye aspect ratio falls below this fraction of its recording median."""


def blink_rate(landmarks: np.ndarray, present: np.ndarray, times: np.ndarray) -> tuple[float, int, float]:
    """(blinks per minute, blink count, seconds of face) from eye-aspect-ratio dips."""
    idx = np.flatnonzero(present)
    if idx.size < 10:
        return float("nan"), 0, 0.0
    ear = eye_aspect_ratio(landmarks[idx])
    base = float(np.median(ear))
    closed = ear < BLINK_DROP * base
    blinks = int(np.sum(closed[1:] & ~closed[:-1]) + (1 if closed[0] else 0))
    dt = np.diff(times[idx])
    seconds = float(np.sum(dt[dt < 1.0])) if dt.size else 0.0
    return (60.0 * blinks / seconds if seconds > 0 else float("nan")), blinks, seconds


def roi_means(rgb: np.ndarray, landmarks_xy: np.ndarray) -> np.ndarray:
    """Mean RGB of the forehead and both cheeks (3 x 3), from the rectangles their points span,
    shrunk to the middle half so edges and hair stay out."""
    h, w = rgb.shape[:2]
    out = np.full((len(PULSE_ROIS), 3), np.nan, np.float32)
    for k, roi in enumerate(PULSE_ROIS):
        p = landmarks_xy[list(roi)]
        x0, y0 = p.min(0)
        x1, y1 = p.max(0)
        cx, cy, hw, hh = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 4, (y1 - y0) / 4
        a0, a1 = int(max(0, cx - hw)), int(min(w, cx + hw + 1))
        b0, b1 = int(max(0, cy - hh)), int(min(h, cy + hh + 1))
        if a1 - a0 >= 2 and b1 - b0 >= 2:
            out[k] = rgb[b0:b1, a0:a1].reshape(-1, 3).mean(0)
    return out


PULSE_BAND_HZ = (0.7, 3.0)
PULSE_WINDOW_S = 6.0


def _band_pass(x: np.ndarray, fs: float, lo: float, hi: float) -> np.ndarray:
    """Zero-phase FFT band-pass of a detrended signal (no scipy.signal: its import costs ~2 s)."""
    n = x.size
    t = np.arange(n)
    x = x - np.polyval(np.polyfit(t, x, 1), t)
    spec = np.fft.rfft(x * np.hanning(n))
    f = np.fft.rfftfreq(n, 1.0 / fs)
    spec[(f < lo) | (f > hi)] = 0
    return np.fft.irfft(spec, n)


def pulse_coherence(times: np.ndarray, means: np.ndarray) -> float:
    """Median over windows of the mean pairwise correlation of the band-passed pulse (POS-like
    chrominance) between forehead and cheeks. A live face pulses in step everywhere."""
    ok = np.isfinite(means).all(axis=(1, 2))
    if ok.sum() < 30:
        return float("nan")
    t, m = times[ok], means[ok]
    fs = 1.0 / float(np.median(np.diff(t)))
    hi = min(PULSE_BAND_HZ[1], 0.45 * fs)
    win = int(PULSE_WINDOW_S * fs)
    sig = []
    for k in range(m.shape[1]):
        c = m[:, k] / (m[:, k].mean(0) + 1e-6)  # normalised R, G, B
        sig.append((c[:, 1] - c[:, 2]) + 0.5 * (c[:, 1] + c[:, 2] - 2 * c[:, 0]))  # POS projection
    sig = np.array(sig)
    vals = []
    for s0 in range(0, max(1, sig.shape[1] - win + 1), max(1, win // 2)):
        seg = sig[:, s0 : s0 + win]
        if seg.shape[1] < win // 2 or seg.shape[1] < 8:
            continue
        seg = np.array([_band_pass(x, fs, PULSE_BAND_HZ[0], hi) for x in seg])
        c = np.corrcoef(seg)
        vals.append(np.nanmean(c[np.triu_indices(len(seg), 1)]))
    return float(np.nanmedian(vals)) if vals else float("nan")


# --------------------------------------------------------------------------- identity


FLICKER_MAX_YAW_STEP = 0.08
"""Embedding pairs count for flicker only when the yaw proxy changed less than this."""


def identity_flicker(embeddings: np.ndarray, yaw: np.ndarray) -> tuple[float, float]:
    """(median distance between consecutive embeddings with nearly the same pose, spread of all
    embeddings around their mean). NaN when there are too few samples."""
    if embeddings.shape[0] < 3:
        return float("nan"), float("nan")
    d = np.linalg.norm(np.diff(embeddings, axis=0), axis=1)
    dy = np.abs(np.diff(yaw))
    keep = np.isfinite(dy) & (dy < FLICKER_MAX_YAW_STEP)
    flick = float(np.median(d[keep])) if keep.sum() >= 2 else float("nan")
    spread = float(np.median(np.linalg.norm(embeddings - embeddings.mean(0), axis=1)))
    return flick, spread


# --------------------------------------------------------------------------- trained model


@dataclass(frozen=True)
class LogisticModel:
    """Logistic regression on standardised features plus, when ``quadratic``, their squares (a
    deviation from the typical real face in either direction: a pasted face can be smoother or
    sharper than its surroundings)."""

    names: tuple[str, ...]  # the features the model uses, a subset of feature_names()
    mean: np.ndarray
    std: np.ndarray
    weights: np.ndarray
    bias: float
    quadratic: bool = False
    centre: float = 0.5  # probability at which a recording's blend score is 0.5 (see training)

    @property
    def index(self) -> list[int]:
        full = feature_names()
        return [full.index(n) for n in self.names]

    @property
    def quadratic_index(self) -> list[int]:
        return [i for i, n in enumerate(self.names) if n.startswith(TEXTURE_PREFIXES)] if self.quadratic else []

    def expanded_names(self) -> list[str]:
        return list(self.names) + [f"{self.names[i]}^2" for i in self.quadratic_index]

    def expand(self, x: np.ndarray) -> np.ndarray:
        """Standardise (and square) ``x``: full feature vectors, or already the model's subset."""
        x = np.atleast_2d(x)
        if x.shape[1] != len(self.names):
            x = x[:, self.index]
        z = np.clip((x - self.mean) / self.std, -QUAD_CLIP, QUAD_CLIP)
        q = self.quadratic_index
        return np.hstack([z, z[:, q] ** 2 - 1.0]) if q else z

    def predict(self, x: np.ndarray) -> np.ndarray:
        z = self.expand(x) @ self.weights + self.bias
        return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


TEXTURE_PREFIXES = ("noise", "sharp", "floor", "brow_noise", "brow_sharp", "brow_floor")
"""Features whose squares enter the model."""

QUAD_CLIP = 6.0
"""Standardised features are clipped to +-this before the model (outliers stay bounded)."""

MODEL_PATH = Path(__file__).resolve().parent.parent / "assets" / "models" / "faceswap_blend.json"


@lru_cache(maxsize=2)
def load_model(path: str | None = None) -> LogisticModel | None:
    p = Path(path) if path else MODEL_PATH
    if not p.exists():
        log.warning("face-swap blend model missing at %s; the boundary signal is off", p)
        return None
    data: dict[str, Any] = json.loads(p.read_text())
    names = tuple(data["features"])
    if not set(names) <= set(feature_names()):
        log.warning("face-swap blend model at %s was trained on other features; ignored", p)
        return None
    return LogisticModel(
        names,
        np.asarray(data["mean"], np.float64),
        np.asarray(data["std"], np.float64),
        np.asarray(data["weights"], np.float64),
        float(data["bias"]),
        bool(data.get("quadratic", False)),
        float(data.get("decision_centre", 0.5)),
    )


def auc(scores_pos: Sequence[float], scores_neg: Sequence[float]) -> float:
    """Area under the ROC curve (probability a positive outranks a negative; ties count half)."""
    p = np.asarray([s for s in scores_pos if np.isfinite(s)], np.float64)
    n = np.asarray([s for s in scores_neg if np.isfinite(s)], np.float64)
    if p.size == 0 or n.size == 0:
        return float("nan")
    gt = (p[:, None] > n[None, :]).sum() + 0.5 * (p[:, None] == n[None, :]).sum()
    return float(gt / (p.size * n.size))


# --------------------------------------------------------------------------- synthetic fakes
# Used by scripts/train_faceswap.py (self-blended training faces), bench/faceswap_bench.py
# (classic pasted swaps for evaluation) and the tests. Never at run time.


def _feathered_hull(shape: tuple[int, int], pts: np.ndarray, erode_frac: float, feather_frac: float, width: float) -> np.ndarray:
    mask = hull_mask(shape, pts).astype(np.float32)
    e = int(round(abs(erode_frac) * width))
    if e > 0:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * e + 1, 2 * e + 1))
        mask = cv2.erode(mask, kernel) if erode_frac > 0 else cv2.dilate(mask, kernel)
    sigma = max(0.5, feather_frac * width)
    return np.clip(cv2.GaussianBlur(mask, (0, 0), sigma), 0.0, 1.0)


CHROMA_KEEP = (0.35, 0.75)
"""With ``flat_chroma``: the altered copy keeps this fraction (uniform draw) of its chroma's
deviation from the face's mean chroma (a re-rendered face whose colour was transferred from the
frame is flatter in colour than the skin around it)."""


def self_blend(rgb: np.ndarray, landmarks_xy: np.ndarray, rng: np.random.Generator, flat_chroma: float = 0.0) -> np.ndarray:
    """Self-blended image (Face X-ray / SBI recipe): the face blended onto a slightly altered
    copy of itself, so the only cue is the blending seam and its statistics.

    ``flat_chroma``: probability that the altered copy's chroma (YCrCb Cr, Cb) is also pulled
    towards the face's mean chroma (:data:`CHROMA_KEEP`); 0 (default) draws nothing extra, so the
    shipped recipe's random draws are unchanged.

    Altered copy: colour gain/offset, optionally rendered at lower resolution (downscale and
    back up) or blurred or sharpened, and shifted/scaled by a few percent. Mask: the hull of the
    whole outline or of jaw+brows (as classic swaps paste), eroded or dilated a little, elastic
    wobble, feathered; opacity 0.75 to 1.
    """
    h, w = rgb.shape[:2]
    oval = landmarks_xy[list(FACE_OVAL)]
    fw = float(oval[:, 0].max() - oval[:, 0].min())
    src = rgb.astype(np.float32)
    # 1. altered copy
    gain = rng.uniform(0.9, 1.1, 3)
    offset = rng.uniform(-10, 10, 3)
    alt = src * gain + offset
    mode = rng.integers(0, 4)
    if mode == 0:  # rendered small, scaled up
        k = rng.uniform(0.3, 0.7)
        small = cv2.resize(alt, (max(8, int(w * k)), max(8, int(h * k))), interpolation=cv2.INTER_AREA)
        alt = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    elif mode == 1:
        alt = cv2.GaussianBlur(alt, (0, 0), rng.uniform(0.6, 1.6))
    elif mode == 2:
        blur = cv2.GaussianBlur(alt, (0, 0), 1.0)
        alt = alt + rng.uniform(0.3, 1.0) * (alt - blur)
    # mode 3: colour only
    if flat_chroma > 0.0 and rng.random() < flat_chroma:
        ycc = cv2.cvtColor(np.clip(alt, 0, 255).astype(np.uint8), cv2.COLOR_RGB2YCrCb).astype(np.float32)
        inside = hull_mask((h, w), oval).astype(bool)
        mean = ycc[inside][:, 1:].mean(0)
        ycc[..., 1:] = mean + rng.uniform(*CHROMA_KEEP) * (ycc[..., 1:] - mean)
        alt = cv2.cvtColor(np.clip(ycc, 0, 255).astype(np.uint8), cv2.COLOR_YCrCb2RGB).astype(np.float32)
    s = 1.0 + rng.uniform(-0.03, 0.03)
    tx, ty = rng.uniform(-0.02, 0.02, 2) * fw
    c = oval.mean(0)
    m = np.array([[s, 0, (1 - s) * c[0] + tx], [0, s, (1 - s) * c[1] + ty]], np.float32)
    alt = cv2.warpAffine(alt, m, (w, h), borderMode=cv2.BORDER_REFLECT)
    # 2. mask
    pts = oval if rng.random() < 0.4 else landmarks_xy[list(LOWER_OVAL + BROWS)]
    pts = pts + rng.normal(0, 0.015 * fw, pts.shape)
    mask = _feathered_hull((h, w), pts, rng.uniform(-0.02, 0.08), rng.uniform(0.01, 0.06), fw)
    mask *= rng.uniform(0.75, 1.0)
    out = mask[:, :, None] * alt + (1 - mask[:, :, None]) * src
    return np.clip(out, 0, 255).astype(np.uint8)


def jpeg_roundtrip(rgb: np.ndarray, quality: int) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB) if ok else rgb


def h264_roundtrip(rgb: np.ndarray, crf: int) -> np.ndarray:
    """The image as one H.264 intra frame at ``crf`` (libx264 via PyAV): video compression's
    smoothing and blocking, which JPEG only roughly imitates."""
    from fractions import Fraction

    import av

    h, w = rgb.shape[:2]
    h2, w2 = h // 2 * 2, w // 2 * 2
    if h2 < 16 or w2 < 16:
        return rgb
    enc = av.CodecContext.create("libx264", "w")
    enc.width, enc.height, enc.pix_fmt = w2, h2, "yuv420p"
    enc.time_base = Fraction(1, 25)
    enc.options = {"crf": str(int(crf)), "preset": "veryfast", "tune": "zerolatency"}
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb[:h2, :w2]), format="rgb24").reformat(format="yuv420p")
    packets = list(enc.encode(frame)) + list(enc.encode(None))
    dec = av.CodecContext.create("h264", "r")
    decoded = []
    for packet in packets:
        decoded += dec.decode(packet)
    decoded += dec.decode(None)
    if not decoded:
        return rgb
    out = rgb.copy()
    out[:h2, :w2] = decoded[0].to_ndarray(format="rgb24")
    return out


def paste_face(
    src_rgb: np.ndarray,
    src_xy: np.ndarray,
    dst_rgb: np.ndarray,
    dst_xy: np.ndarray,
    render_px: int = 96,
    feather_frac: float = 0.04,
) -> np.ndarray:
    """Classic FaceSwap: the source face, rendered at ``render_px`` wide, warped piecewise-affinely
    onto the destination face's landmarks, colour-matched (Lab mean/std) and feather-blended over
    the jaw+brows hull. Returns the new destination frame."""
    from scipy.interpolate import LinearNDInterpolator

    h, w = dst_rgb.shape[:2]
    sub = np.array(sorted(set(range(0, 468, 3)) | set(FACE_OVAL) | set(BROWS)))
    # render: source face at reduced resolution in a canonical square
    so = src_xy[list(FACE_OVAL)]
    x0, y0 = so.min(0)
    x1, y1 = so.max(0)
    side = max(x1 - x0, y1 - y0) * 1.2
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    k = render_px / side
    m = np.array([[k, 0, render_px / 2 - k * cx], [0, k, render_px / 2 - k * cy]], np.float32)
    pre = cv2.GaussianBlur(src_rgb, (0, 0), max(0.5, 0.5 / k)) if k < 1 else src_rgb
    render = cv2.warpAffine(pre, m, (render_px, render_px), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT)
    lc = src_xy[sub] * k + m[:, 2]
    # warp: each destination pixel in the face box looks up its canonical position
    do = dst_xy[list(FACE_OVAL)]
    bx0, by0 = np.floor(do.min(0)).astype(int)
    bx1, by1 = np.ceil(do.max(0)).astype(int)
    bx0, by0, bx1, by1 = max(0, bx0), max(0, by0), min(w, bx1 + 1), min(h, by1 + 1)
    gy, gx = np.mgrid[by0:by1, bx0:bx1].astype(np.float32)
    interp = LinearNDInterpolator(dst_xy[sub], lc)
    mapped = interp(np.stack([gx.ravel(), gy.ravel()], 1)).reshape(gy.shape + (2,)).astype(np.float32)
    valid = np.isfinite(mapped).all(2)
    mapped[~valid] = -1
    warped = cv2.remap(render, mapped[:, :, 0], mapped[:, :, 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    fw = float(do[:, 0].max() - do[:, 0].min())
    mask = _feathered_hull((h, w), dst_xy[list(LOWER_OVAL + BROWS)], 0.03, feather_frac, fw)[by0:by1, bx0:bx1]
    mask *= valid
    # colour match in Lab inside the mask
    region = dst_rgb[by0:by1, bx0:bx1]
    wl = cv2.cvtColor(warped, cv2.COLOR_RGB2LAB).astype(np.float32)
    rl = cv2.cvtColor(region, cv2.COLOR_RGB2LAB).astype(np.float32)
    sel = mask > 0.5
    if sel.sum() > 20:
        for ch in range(3):
            a, b = wl[:, :, ch][sel], rl[:, :, ch][sel]
            wl[:, :, ch] = (wl[:, :, ch] - a.mean()) * (b.std() / (a.std() + 1e-6)) + b.mean()
    warped = cv2.cvtColor(np.clip(wl, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB).astype(np.float32)
    out = dst_rgb.copy()
    blended = mask[:, :, None] * warped + (1 - mask[:, :, None]) * region.astype(np.float32)
    out[by0:by1, bx0:bx1] = np.clip(blended, 0, 255).astype(np.uint8)
    return out
