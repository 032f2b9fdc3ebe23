"""Pixel forensics of one face photo: the measurements behind the ``idphoto`` check.

Plain functions over numpy arrays (RGB uint8, face box and dlib 68-point landmark groups in
pixel coordinates); no model, no I/O. :mod:`detectors.idphoto` turns them into cues, the
learned weighting and the finding; ``training/train_idphoto.py`` computes the same features
for its data, so the shipped weights see exactly what the app measures.

Generation (the face region, native pixels, no resampling):

* spectrum: azimuthally averaged log power (Durall et al. 2020) from 0.02 to 0.5 cycles/pixel,
  its fall-off slope, and periodic peaks above the ring's level (Frank et al. 2020: up-sampling
  leaves a regular pattern of peaks). The JPEG 8x8 block grid puts energy on the lines
  ``f = k/8`` of the spectrum: those rows and columns are removed before anything is measured
  (their level beside the ring is kept as one feature of its own, ``spec_grid``).
* noise: the high-pass residual of the face (level, tails, its dependence on brightness, the
  correlation between colour channels: a demosaiced camera picture has correlated colour
  noise whose level follows the light; a generator's texture need not).
* texture: co-occurrences of the quantised high-pass residuals of neighbouring pixels and of
  the colour channels at one pixel (the "rich model" features of steganalysis, used for GAN
  detection by Nataraj et al. 2019): a generator's texture has its own local statistics, and a
  camera's demosaicing ties the colour channels' residuals together.
* eyes: the pupil (the darkest core of the iris) against the ellipse fitted to it (Guo et al.
  2022: generated pupils are often not round), and the corneal highlights of the two eyes in
  iris coordinates (Hu et al. 2021: one light, one highlight pattern in both eyes).

Tampering (the whole photo, face against the rest):

* ``ela_map``: error level after one re-save (a picture for the reviewer, not a verdict).
* ``grid_map``: the 8x8 JPEG grid phase and strength per tile; a face pasted from another JPEG
  keeps its own grid.
* ``jpeg_ghost``: re-save at a ladder of qualities; a region compressed before at a lower
  quality than the rest shows its minimum there (Farid 2009, double compression in one region).
* ``noise_ratio``: noise level of the face against the background.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from typing import Any

import numpy as np

GRAY = np.array([0.299, 0.587, 0.114], np.float32)

SPEC_MAX_PX = 256
"""The spectrum is taken on at most this many native pixels square from the face centre."""
SPEC_MIN_PX = 48
SPEC_BINS = np.linspace(0.02, 0.5, 13)
"""Radius bin edges (cycles/pixel) of the azimuthal profile."""
SPEC_SLOPE_RANGE = (0.08, 0.45)
PEAK_MIN_R = 0.1
"""Periodic peaks are sought beyond this radius (cycles/pixel)."""
PEAK_LOG_EXCESS = 2.5
"""A spectral bin more than this (natural log of power) above its ring's level counts as a peak."""
PEAK_FLAG = 5.5
"""The spectrum cue fires on a periodic peak this far above its ring (natural log of power):
above the 99th percentile of the real originals here (5.0; median 3.05)."""
GRID_HALF_WIDTH_BINS = 1
"""Spectrum rows/columns removed either side of each JPEG grid harmonic k/8."""

EYE_WORK_PX = 96
"""Eye crops are analysed at this width (px)."""
EYE_MIN_PX = 12
"""Eyes narrower than this in the photo are too small to judge."""
PUPIL_PERCENTILE = 12
"""The pupil: the darkest pixels of the eye opening (percentile)."""
HIGHLIGHT_MIN_CONTRAST = 35.0
"""A corneal highlight is at least this much brighter (grey levels) than the iris around it."""
HIGHLIGHT_GRID = 15

ELA_QUALITY = 90
GHOST_QUALITIES = (50, 60, 70, 80, 90)
GRID_TILE = 64
GRID_MIN_STRENGTH = 1.5
"""A tile shows a block grid when its strongest phase is this much above the others (median q92 tiles: 1.26-1.28)."""
EVIDENCE_PX = 160


# --------------------------------------------------------------------------- helpers


def gray(rgb: np.ndarray) -> np.ndarray:
    return rgb[..., :3].astype(np.float32) @ GRAY


def jpeg_roundtrip(rgb: np.ndarray, quality: int) -> np.ndarray:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb[..., :3])).save(buf, "JPEG", quality=int(quality))
    buf.seek(0)
    with Image.open(buf) as im:
        return np.asarray(im.convert("RGB"))


def png_b64(rgb: np.ndarray, size: int = EVIDENCE_PX) -> str:
    """A small base64 PNG (evidence for the app)."""
    from PIL import Image

    im = Image.fromarray(np.ascontiguousarray(rgb[..., :3]).astype(np.uint8))
    if max(im.size) > size:
        im.thumbnail((size, size))
    elif max(im.size) < size // 2:
        k = size // max(im.size)
        im = im.resize((im.width * k, im.height * k), Image.NEAREST)
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def heat_rgb(values: np.ndarray, lo: float | None = None, hi: float | None = None) -> np.ndarray:
    """A float map as an RGB heat map (dark blue low, yellow high)."""
    import cv2

    v = np.asarray(values, np.float32)
    lo = float(np.percentile(v, 1)) if lo is None else lo
    hi = float(np.percentile(v, 99.5)) if hi is None else hi
    u8 = np.clip((v - lo) / max(hi - lo, 1e-6) * 255, 0, 255).astype(np.uint8)
    return cv2.cvtColor(cv2.applyColorMap(u8, cv2.COLORMAP_VIRIDIS), cv2.COLOR_BGR2RGB)


def face_square(rgb: np.ndarray, box: tuple[int, int, int, int], max_px: int = SPEC_MAX_PX) -> np.ndarray | None:
    """The face region in native pixels: a square on the face box centre, at most ``max_px``."""
    h, w = rgb.shape[:2]
    x0, y0, x1, y1 = box
    side = int(min(max(x1 - x0, y1 - y0), max_px, h, w))
    if side < SPEC_MIN_PX:
        return None
    cx, cy = (x0 + x1) // 2, (y0 + y1) // 2
    sx = int(np.clip(cx - side // 2, 0, w - side))
    sy = int(np.clip(cy - side // 2, 0, h - side))
    return rgb[sy:sy + side, sx:sx + side, :3]


# --------------------------------------------------------------------------- spectrum


@dataclass(frozen=True)
class Spectrum:
    profile: np.ndarray  # mean log power per radius bin, relative to the first bin
    slope: float  # d log power / d log radius over SPEC_SLOPE_RANGE
    peak: float  # largest excess (log power) of a bin over its ring, grid lines removed
    peak_count: float  # fraction of bins beyond PEAK_MIN_R that exceed PEAK_LOG_EXCESS
    grid: float  # mean excess of the JPEG grid harmonics (k/8, l/8) over their ring
    peak_at: tuple[float, float]  # (fx, fy) in cycles/pixel of the largest peak
    residual: np.ndarray  # log power minus the ring level (for the picture)
    kept: np.ndarray  # bins used (grid lines removed)


def spectrum(face: np.ndarray) -> Spectrum:
    """Azimuthal profile, fall-off and periodic peaks of the face region's power spectrum."""
    g = gray(face)
    n = min(g.shape)
    g = g[:n, :n] - g[:n, :n].mean()
    win = np.outer(np.hanning(n), np.hanning(n)).astype(np.float32)
    power = np.abs(np.fft.fftshift(np.fft.fft2(g * win))) ** 2
    logp = np.log(power + 1e-3)
    f = np.fft.fftshift(np.fft.fftfreq(n))
    fy, fx = np.meshgrid(f, f, indexing="ij")
    r = np.hypot(fx, fy)
    tol = (GRID_HALF_WIDTH_BINS + 0.5) / n
    on_grid_x = np.zeros_like(r, bool)
    on_grid_y = np.zeros_like(r, bool)
    for k in range(-4, 5):
        on_grid_x |= np.abs(fx - k / 8) < tol
        on_grid_y |= np.abs(fy - k / 8) < tol
    kept = ~(on_grid_x | on_grid_y)
    edges = SPEC_BINS
    idx = np.digitize(r, edges) - 1
    prof = np.full(len(edges) - 1, np.nan)
    for b in range(len(edges) - 1):
        sel = kept & (idx == b)
        if sel.any():
            prof[b] = float(np.median(logp[sel]))
    centres = 0.5 * (edges[:-1] + edges[1:])
    prof = np.where(np.isnan(prof), np.nanmin(prof), prof)
    ring = np.interp(r, centres, prof)
    residual = logp - ring
    use = (centres >= SPEC_SLOPE_RANGE[0]) & (centres <= SPEC_SLOPE_RANGE[1])
    slope = float(np.polyfit(np.log(centres[use]), prof[use], 1)[0])
    far = kept & (r > PEAK_MIN_R) & (r <= 0.5)
    peak = float(residual[far].max()) if far.any() else 0.0
    at = (0.0, 0.0)
    if far.any():
        k = int(np.argmax(np.where(far, residual, -np.inf)))
        at = (round(float(fx.flat[k]), 3), round(float(fy.flat[k]), 3))
    count = float((residual[far] > PEAK_LOG_EXCESS).mean()) if far.any() else 0.0
    grid_pts = on_grid_x & on_grid_y & (r > PEAK_MIN_R) & (np.abs(fx) > tol) & (np.abs(fy) > tol)
    grid = float(residual[grid_pts].mean()) if grid_pts.any() else 0.0
    return Spectrum(prof - prof[0], slope, peak, count, grid, at, residual, kept)


def spectrum_png(spec: Spectrum, size: int = EVIDENCE_PX) -> str:
    """The spectrum as a picture: left, the residual 2-D spectrum (grid lines grey); right, the
    azimuthal profile as a curve."""
    import cv2

    res = np.where(spec.kept, spec.residual, 0.0)
    left = heat_rgb(res, -1.0, PEAK_LOG_EXCESS + 1.0)
    left[~spec.kept] = (90, 90, 90)
    left = cv2.resize(left, (size, size), interpolation=cv2.INTER_NEAREST)
    right = np.full((size, size, 3), 255, np.uint8)
    prof = spec.profile
    lo, hi = float(prof.min()) - 0.5, float(prof.max()) + 0.5
    pts = [(int(8 + i * (size - 16) / (len(prof) - 1)), int(size - 8 - (p - lo) / (hi - lo) * (size - 16))) for i, p in enumerate(prof)]
    cv2.polylines(right, [np.array(pts, np.int32)], False, (200, 40, 40), 2)
    cv2.line(right, (8, size - 8), (size - 8, size - 8), (0, 0, 0), 1)
    return png_b64(np.hstack([left, right]), size * 2)


# --------------------------------------------------------------------------- noise


@dataclass(frozen=True)
class Noise:
    level: float  # log mean |residual|
    kurtosis: float  # tails of the residual
    light_slope: float  # d log noise / d brightness (per 100 grey levels), flat areas
    chroma_corr: float  # correlation of the colour channels' residuals


def residual(rgb: np.ndarray) -> np.ndarray:
    """High-pass residual per channel: the pixel minus the mean of its 4 neighbours."""
    x = rgb[..., :3].astype(np.float32)
    pad = np.pad(x, ((1, 1), (1, 1), (0, 0)), mode="edge")
    return x - 0.25 * (pad[:-2, 1:-1] + pad[2:, 1:-1] + pad[1:-1, :-2] + pad[1:-1, 2:])


def noise(face: np.ndarray) -> Noise:
    import cv2

    res = residual(face)
    rg = res @ GRAY
    a = np.abs(rg)
    level = float(np.log(a.mean() + 1e-3))
    c = rg - rg.mean()
    kurt = float(np.log((c ** 4).mean() / max((c ** 2).mean() ** 2, 1e-9)))
    g = gray(face)
    smooth = cv2.GaussianBlur(g, (0, 0), 2.0)
    grad = np.hypot(cv2.Sobel(smooth, cv2.CV_32F, 1, 0), cv2.Sobel(smooth, cv2.CV_32F, 0, 1))
    flat = grad <= np.percentile(grad, 40)
    xs, ys = [], []
    for lo in range(0, 256, 32):
        sel = flat & (smooth >= lo) & (smooth < lo + 32)
        if sel.sum() >= 50:
            xs.append((lo + 16) / 100.0)
            ys.append(np.log(a[sel].mean() + 1e-3))
    slope = float(np.polyfit(xs, ys, 1)[0]) if len(xs) >= 2 else 0.0
    cc = []
    for i, j in ((0, 1), (2, 1)):
        u, v = res[..., i].ravel(), res[..., j].ravel()
        su, sv = u.std(), v.std()
        cc.append(float(((u - u.mean()) * (v - v.mean())).mean() / (su * sv)) if su > 1e-6 and sv > 1e-6 else 1.0)
    return Noise(level, kurt, slope, float(np.mean(cc)))


def noise_ratio(rgb: np.ndarray, box: tuple[int, int, int, int]) -> float | None:
    """Face / surrounding noise level in flat areas, the larger over the smaller (1 = one shot)."""
    import cv2

    g = gray(rgb)
    a = np.abs(residual(rgb) @ GRAY)
    smooth = cv2.GaussianBlur(g, (0, 0), 2.0)
    grad = np.hypot(cv2.Sobel(smooth, cv2.CV_32F, 1, 0), cv2.Sobel(smooth, cv2.CV_32F, 0, 1))
    flat = grad < np.percentile(grad, 50)
    mask, ring = face_and_ring(g.shape, box)
    fa, fb = a[mask & flat], a[ring & flat]
    if fa.size < 64 or fb.size < 64:
        return None
    na, nb = float(np.mean(fa)) + 0.05, float(np.mean(fb)) + 0.05
    return max(na, nb) / min(na, nb)


# --------------------------------------------------------------------------- texture

COOC_T = 2
"""Residuals are quantised to -COOC_T..COOC_T."""
COOC_STEPS = ((1, 1.0), (1, 3.0), (2, 2.0), (2, 6.0))
"""(residual order, quantisation step) of the grey co-occurrences."""
COOC_BINS = (2 * COOC_T + 1) ** 2


def _q(r: np.ndarray, step: float) -> np.ndarray:
    return (np.clip(np.rint(r / step), -COOC_T, COOC_T) + COOC_T).astype(np.int32)


def _pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    h = np.bincount((a * (2 * COOC_T + 1) + b).ravel(), minlength=COOC_BINS).astype(np.float64)
    return h / max(h.sum(), 1.0)


def cooccurrence(face: np.ndarray) -> np.ndarray:
    """Co-occurrence histograms (square-rooted probabilities) of quantised residuals: neighbouring
    pixels' residuals horizontally and vertically for each COOC_STEPS entry, then the red and blue
    against the green residual at the same pixel."""
    x = face[..., :3].astype(np.float32)
    g = x @ GRAY
    out = []
    for order, step in COOC_STEPS:
        h = np.zeros(COOC_BINS)
        for gg in (g, g.T):
            r = np.diff(gg, n=order, axis=1)
            q = _q(r, step)
            h += _pairs(q[:, :-1], q[:, 1:])
        out.append(h / 2)
    rc = np.diff(x, axis=1)
    qg = _q(rc[..., 1], 1.0)
    out.append(_pairs(_q(rc[..., 0], 1.0), qg))
    out.append(_pairs(_q(rc[..., 2], 1.0), qg))
    return np.sqrt(np.concatenate(out))


# --------------------------------------------------------------------------- eyes


@dataclass(frozen=True)
class Eye:
    crop: np.ndarray  # the eye at EYE_WORK_PX wide, RGB
    pupil_iou: float  # the pupil blob against its fitted ellipse (1 = a perfect ellipse)
    pupil_axes: float  # minor / major axis of the fitted ellipse (1 = round)
    ellipse: tuple[Any, ...] | None  # cv2 ellipse in crop coordinates
    centre: tuple[float, float]
    radius: float
    highlight: np.ndarray | None  # HIGHLIGHT_GRID^2 bool grid in iris coordinates, None if none


def _eye(rgb: np.ndarray, pts: list[tuple[int, int]]) -> Eye | None:
    import cv2

    p = np.asarray(pts, np.float32)
    if p.shape[0] < 4:
        return None
    x0, y0 = p.min(axis=0)
    x1, y1 = p.max(axis=0)
    w = x1 - x0
    if w < EYE_MIN_PX:
        return None
    h_img, w_img = rgb.shape[:2]
    px, py = 0.15 * w, max(0.35 * w, 0.5 * (y1 - y0))
    cx0, cy0 = int(max(0, x0 - px)), int(max(0, y0 - py))
    cx1, cy1 = int(min(w_img, x1 + px + 1)), int(min(h_img, y1 + py + 1))
    if cx1 - cx0 < 4 or cy1 - cy0 < 4:
        return None
    k = EYE_WORK_PX / float(cx1 - cx0)
    crop = cv2.resize(np.ascontiguousarray(rgb[cy0:cy1, cx0:cx1, :3]), (EYE_WORK_PX, max(4, int(round((cy1 - cy0) * k)))),
                      interpolation=cv2.INTER_CUBIC)
    g = gray(crop)
    poly = ((p - [cx0, cy0]) * k).astype(np.int32)
    mask = np.zeros(g.shape, np.uint8)
    cv2.fillPoly(mask, [cv2.convexHull(poly)], 1)
    inside = mask.astype(bool)
    if inside.sum() < 40:
        return None
    thr = np.percentile(g[inside], PUPIL_PERCENTILE)
    blob = ((g <= thr) & inside).astype(np.uint8)
    blob = cv2.morphologyEx(blob, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    n, lab, stats, _ = cv2.connectedComponentsWithStats(blob)
    if n < 2:
        return None
    big = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    blob = (lab == big).astype(np.uint8)
    contours, _ = cv2.findContours(blob, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours or len(contours[0]) < 5:
        return None
    ell = cv2.fitEllipse(contours[0])
    (ecx, ecy), (ea, eb), _ = ell
    if min(ea, eb) < 2:
        return None
    em = np.zeros_like(blob)
    cv2.ellipse(em, ell, 1, -1)
    inter = float((em & blob).sum())
    union = float((em | blob).sum())
    iou = inter / union if union else 0.0
    axes = float(min(ea, eb) / max(ea, eb))
    radius = 0.5 * max(ea, eb)
    # the iris is about twice the pupil; highlights sit on it
    iris_r = 2.2 * radius
    yy, xx = np.mgrid[: g.shape[0], : g.shape[1]]
    iris = (np.hypot(xx - ecx, yy - ecy) <= iris_r) & inside
    highlight = None
    if iris.sum() >= 20:
        base = float(np.median(g[iris]))
        bright = iris & (g >= base + HIGHLIGHT_MIN_CONTRAST) & (g >= np.percentile(g[iris], 90))
        if bright.any():
            hx = np.clip(((xx[bright] - ecx) / iris_r + 1) / 2 * HIGHLIGHT_GRID, 0, HIGHLIGHT_GRID - 1).astype(int)
            hy = np.clip(((yy[bright] - ecy) / iris_r + 1) / 2 * HIGHLIGHT_GRID, 0, HIGHLIGHT_GRID - 1).astype(int)
            highlight = np.zeros((HIGHLIGHT_GRID, HIGHLIGHT_GRID), bool)
            highlight[hy, hx] = True
    return Eye(crop, iou, axes, ell, (float(ecx), float(ecy)), float(iris_r), highlight)


@dataclass(frozen=True)
class Eyes:
    left: Eye
    right: Eye
    pupil_iou: float  # the less elliptic of the two pupils
    pupil_axes: float  # the less round of the two
    highlight_iou: float | None  # agreement of the two highlight patterns (None: no highlight in either)
    highlight_mismatch: float  # 1 when one eye shows a highlight and the other none


def eyes(rgb: np.ndarray, landmarks: dict[str, list[tuple[int, int]]]) -> Eyes | None:
    import cv2

    le = _eye(rgb, landmarks.get("left_eye") or [])
    re_ = _eye(rgb, landmarks.get("right_eye") or [])
    if le is None or re_ is None:
        return None
    hl = None
    mismatch = 0.0
    if le.highlight is not None and re_.highlight is not None:
        a = cv2.dilate(le.highlight.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        b = cv2.dilate(re_.highlight.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        hl = float((a & b).sum() / max(1, (a | b).sum()))
    elif (le.highlight is None) != (re_.highlight is None):
        mismatch = 1.0
    return Eyes(le, re_, min(le.pupil_iou, re_.pupil_iou), min(le.pupil_axes, re_.pupil_axes), hl, mismatch)


def eyes_png(e: Eyes) -> str:
    """Both eye crops side by side, pupil ellipse in red, iris circle in green."""
    import cv2

    tiles = []
    for eye in (e.left, e.right):
        im = np.ascontiguousarray(eye.crop.copy())
        if eye.ellipse is not None:
            cv2.ellipse(im, eye.ellipse, (255, 40, 40), 1)
        cv2.circle(im, (int(eye.centre[0]), int(eye.centre[1])), int(eye.radius), (40, 220, 40), 1)
        tiles.append(im)
    h = max(t.shape[0] for t in tiles)
    tiles = [np.pad(t, ((0, h - t.shape[0]), (0, 4), (0, 0)), constant_values=255) for t in tiles]
    return png_b64(np.hstack(tiles), 2 * EYE_WORK_PX + 8)


# --------------------------------------------------------------------------- tampering


def ela_map(rgb: np.ndarray) -> np.ndarray:
    """Per-pixel error level of one re-save at ELA_QUALITY, divided by local texture."""
    import cv2

    err = np.abs(jpeg_roundtrip(rgb, ELA_QUALITY).astype(np.float32) - rgb[..., :3].astype(np.float32)).mean(axis=2)
    tex = np.abs(cv2.Laplacian(gray(rgb), cv2.CV_32F, ksize=3))
    return cv2.blur(err, (8, 8)) / (cv2.blur(tex, (8, 8)) + 2.0)


RING_GROW = 0.6
"""The face is compared with the ring around it: its box grown by this fraction of its size on
every side (on a document, the rest of the portrait photo, not the card's print and text)."""


def face_and_ring(shape: tuple[int, ...], box: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks of the face box and of the ring around it."""
    h, w = shape[:2]
    x0, y0, x1, y1 = box
    gx, gy = int(RING_GROW * (x1 - x0)), int(RING_GROW * (y1 - y0))
    face = np.zeros((h, w), bool)
    face[max(0, y0):y1, max(0, x0):x1] = True
    ring = np.zeros((h, w), bool)
    ring[max(0, y0 - gy):min(h, y1 + gy), max(0, x0 - gx):min(w, x1 + gx)] = True
    return face, ring & ~face


def region_ratio(values: np.ndarray, box: tuple[int, int, int, int]) -> float | None:
    """Mean of ``values`` in the face box over the mean in the ring around it."""
    face, ring = face_and_ring(values.shape, box)
    if face.sum() < 256 or ring.sum() < 256:
        return None
    return float(values[face].mean() / max(float(values[ring].mean()), 1e-6))


ALIGNED_PHASE = 7
"""The diff index (mod 8) of a block boundary of the file's own JPEG grid (pixels 8k-1 | 8k)."""
GRID_MIN_TEXTURE = 0.8
"""Tiles flatter than this (mean absolute neighbour difference) say nothing about a grid."""


def axis_grid(g: np.ndarray) -> tuple[int, float]:
    """(phase, strength) of the 8-px block grid along x of a grey region: the phase whose column
    differences are largest (median over rows, then over the period's columns, so a straight
    edge does not make a grid) over the mean of the other seven (1 = no grid)."""
    d = np.median(np.abs(np.diff(g, axis=1)), axis=0)
    if d.size < 16:
        return ALIGNED_PHASE, 1.0
    ph = np.array([np.median(d[k::8]) for k in range(8)])  # a grid repeats; one straight edge does not
    i = int(np.argmax(ph))
    return i, float((ph[i] + 0.05) / (np.delete(ph, i).mean() + 0.05))


def grid_map(rgb: np.ndarray, tile: int = GRID_TILE) -> tuple[np.ndarray, np.ndarray]:
    """Per tile (stride tile/2, so tile origins keep the file's phase): whether the tile shows a
    block grid off the file's own (``misaligned``), and whether it is textured enough to tell."""
    g = gray(rgb)
    h, w = g.shape
    step = tile // 2
    ny, nx = max(1, (h - tile) // step + 1), max(1, (w - tile) // step + 1)
    mis = np.zeros((ny, nx), bool)
    usable = np.zeros((ny, nx), bool)
    for j in range(ny):
        for i in range(nx):
            t = g[j * step: j * step + tile, i * step: i * step + tile]
            if t.shape[0] < 16 or t.shape[1] < 16:
                continue
            usable[j, i] = float(np.abs(np.diff(t, axis=1)).mean()) >= GRID_MIN_TEXTURE
            px, sx = axis_grid(t)
            py, sy = axis_grid(t.T)
            mis[j, i] = (px != ALIGNED_PHASE and sx >= GRID_MIN_STRENGTH) or (py != ALIGNED_PHASE and sy >= GRID_MIN_STRENGTH)
    return mis, usable


@dataclass(frozen=True)
class GridCheck:
    face_misaligned: float  # share of the face's textured tiles with a grid off the file's own
    rest_misaligned: float  # the same for the rest of the photo
    face_tiles: int


def grid_check(rgb: np.ndarray, box: tuple[int, int, int, int], maps: tuple[np.ndarray, np.ndarray] | None = None) -> GridCheck:
    """The JPEG grid of the face region against the ring around it, by tiles (``maps``: grid_map's, if at hand)."""
    mis, usable = grid_map(rgb) if maps is None else maps
    step = GRID_TILE // 2
    ny, nx = mis.shape
    cy = (np.arange(ny) * step + GRID_TILE // 2)[:, None]
    cx = (np.arange(nx) * step + GRID_TILE // 2)[None, :]
    face, ring = face_and_ring(rgb.shape, box)
    cyi = np.clip(cy, 0, rgb.shape[0] - 1)
    cxi = np.clip(cx, 0, rgb.shape[1] - 1)
    f, r = face[cyi, cxi] & usable, ring[cyi, cxi] & usable
    return GridCheck(float(mis[f].mean()) if f.any() else 0.0, float(mis[r].mean()) if r.any() else 0.0, int(f.sum()))


@dataclass(frozen=True)
class Ghost:
    face_quality: int  # re-save quality at which the face region's error is lowest (relative)
    rest_quality: int
    dip: float  # how much deeper the face's relative minimum is than the rest's at that quality


def jpeg_ghost(rgb: np.ndarray, box: tuple[int, int, int, int]) -> Ghost | None:
    """Double compression in one region: re-save at each of GHOST_QUALITIES; a region that was
    compressed before at quality q errs least, relative to its neighbours' qualities, at q."""
    import cv2

    x = rgb[..., :3].astype(np.float32)
    mask, ring = face_and_ring(x.shape, box)
    if mask.sum() < 256 or ring.sum() < 256:
        return None
    tex = cv2.blur(np.abs(cv2.Laplacian(gray(rgb), cv2.CV_32F, ksize=3)), (8, 8)) + 2.0
    face_curve, rest_curve = [], []
    for q in GHOST_QUALITIES:
        d = ((jpeg_roundtrip(rgb, q).astype(np.float32) - x) ** 2).mean(axis=2)
        d = cv2.blur(d, (8, 8)) / tex
        face_curve.append(float(d[mask].mean()))
        rest_curve.append(float(d[ring].mean()))
    f = np.asarray(face_curve) / max(face_curve[-1], 1e-6)
    r = np.asarray(rest_curve) / max(rest_curve[-1], 1e-6)
    # error normally falls steadily with quality; a ghost is a dip below that trend
    fq, rq = int(np.argmin(f[:-1] / np.linspace(f[0], 1.0, len(f))[:-1])), int(np.argmin(r[:-1] / np.linspace(r[0], 1.0, len(r))[:-1]))
    rel = f / np.maximum(r, 1e-6)
    dip = float(np.median(rel) - rel[:-1].min())
    return Ghost(GHOST_QUALITIES[fq], GHOST_QUALITIES[rq], dip)


# --------------------------------------------------------------------------- compression


IJG_LUMA = np.array([16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29,
                     51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103, 121,
                     120, 101, 72, 92, 95, 98, 112, 100, 103, 99], np.float64)


def jpeg_quality(quantization: dict[int, list[int]] | None) -> float | None:
    """The IJG quality (1-100) whose luminance table is closest to the file's (None if not JPEG).
    Pillow gives the table in zigzag order; its mean against the standard table's mean suffices."""
    if not quantization or 0 not in quantization:
        return None
    t = np.asarray(quantization[0], np.float64)
    scale = 100.0 * t.mean() / IJG_LUMA.mean()
    q = (200.0 - scale) / 2.0 if scale <= 100 else 5000.0 / scale
    return float(np.clip(q, 1, 100))


# --------------------------------------------------------------------------- learned residual net

NET_PATCH = 32
"""Side (px) of the native-pixel patches the learned residual net (``idphoto_net.onnx``) reads."""
NET_STRIDE = 32
"""Patches are tiled over the face region at this stride (side by side); the photo's net logit is their mean."""
NET_REGION_GROW = 0.15
"""The face region the net reads: the face box grown by this fraction of its size on every side..."""
NET_REGION_MAX = 224
"""...at most this many native pixels square (its centre), never resampled: the net looks at the
fine residual traces a generator's up-sampling leaves, which any resize would change."""


def net_region(rgb: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray | None:
    """The native-pixel face region the residual net reads (None if smaller than one patch)."""
    h, w = rgb.shape[:2]
    x0, y0, x1, y1 = box
    gx, gy = NET_REGION_GROW * (x1 - x0), NET_REGION_GROW * (y1 - y0)
    x0, x1 = int(max(0, x0 - gx)), int(min(w, x1 + gx))
    y0, y1 = int(max(0, y0 - gy)), int(min(h, y1 + gy))
    cw, ch = min(x1 - x0, NET_REGION_MAX), min(y1 - y0, NET_REGION_MAX)
    if cw < NET_PATCH or ch < NET_PATCH:
        return None
    sx, sy = (x0 + x1 - cw) // 2, (y0 + y1 - ch) // 2
    return np.ascontiguousarray(rgb[sy:sy + ch, sx:sx + cw, :3])


def net_patches(region: np.ndarray, stride: int = NET_STRIDE) -> np.ndarray:
    """The region tiled into NET_PATCH-square patches: float32 (N, 3, NET_PATCH, NET_PATCH), 0..255."""
    h, w = region.shape[:2]
    ys = list(range(0, h - NET_PATCH + 1, stride)) or [0]
    xs = list(range(0, w - NET_PATCH + 1, stride)) or [0]
    out = np.stack([region[y:y + NET_PATCH, x:x + NET_PATCH] for y in ys for x in xs]).astype(np.float32)
    return np.ascontiguousarray(out.transpose(0, 3, 1, 2))


# --------------------------------------------------------------------------- the feature vector


SPECTRUM_FEATURES = tuple(f"spec_p{i}" for i in range(1, len(SPEC_BINS) - 1)) + ("spec_slope", "spec_peak", "spec_peaks", "spec_grid")
NOISE_FEATURES = ("noise_level", "noise_kurtosis", "noise_light_slope", "noise_chroma_corr")
EYE_FEATURES = ("eye_pupil_iou", "eye_pupil_axes", "eye_highlight_iou", "eye_highlight_mismatch")
TEXTURE_FEATURES = tuple(f"cooc{k}_{i}" for k in range(len(COOC_STEPS) + 2) for i in range(COOC_BINS))
FEATURES = SPECTRUM_FEATURES + NOISE_FEATURES + EYE_FEATURES + TEXTURE_FEATURES
CUE_FEATURES = {"spectrum": SPECTRUM_FEATURES, "noise": NOISE_FEATURES, "texture": TEXTURE_FEATURES, "eyes": EYE_FEATURES}
"""The generation cues and the features each one reads (the learned model weighs them)."""


@dataclass(frozen=True)
class Measured:
    """Everything measured for generation on one face: the feature vector (NaN = not measurable)
    and the objects the evidence pictures are drawn from."""

    values: np.ndarray
    spectrum: Spectrum | None
    eyes: Eyes | None
    face_px: int


def measure(rgb: np.ndarray, box: tuple[int, int, int, int], landmarks: dict[str, list[tuple[int, int]]]) -> Measured:
    """The generation features of the face at ``box`` (see FEATURES)."""
    vals = dict.fromkeys(FEATURES, np.nan)
    face = face_square(rgb, box)
    spec = None
    if face is not None:
        spec = spectrum(face)
        for i, v in enumerate(spec.profile[1:]):
            vals[f"spec_p{i + 1}"] = float(v)
        vals.update(spec_slope=spec.slope, spec_peak=spec.peak, spec_peaks=spec.peak_count, spec_grid=spec.grid)
        nz = noise(face)
        vals.update(noise_level=nz.level, noise_kurtosis=nz.kurtosis, noise_light_slope=nz.light_slope, noise_chroma_corr=nz.chroma_corr)
        vals.update(zip(TEXTURE_FEATURES, cooccurrence(face).tolist()))
    ey = eyes(rgb, landmarks)
    if ey is not None:
        vals.update(eye_pupil_iou=ey.pupil_iou, eye_pupil_axes=ey.pupil_axes,
                    eye_highlight_iou=np.nan if ey.highlight_iou is None else ey.highlight_iou,
                    eye_highlight_mismatch=ey.highlight_mismatch)
    x0, y0, x1, y1 = box
    return Measured(np.array([vals[k] for k in FEATURES], np.float64), spec, ey, int(max(x1 - x0, y1 - y0)))
