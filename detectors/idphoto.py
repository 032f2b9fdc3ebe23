"""idphoto: is the submitted ID photo (or photo of a document) generated or edited?

The portrait is the largest face (detectors.faces.faces_in_image). The pixels are measured by
:mod:`detectors.photo_forensics`; this module turns the measurements into cues, each with its
own evidence, and combines them:

Generated face (one learned model, ``assets/models/idphoto.json``, trained by
``training/train_idphoto.py`` with grouped out-of-fold evaluation: see its docstring and
``bench/idphoto_bench.py`` for the figures):

* ``spectrum``: azimuthal fall-off and periodic up-sampling peaks of the face region, JPEG grid
  lines removed (picture: ``spectrum_png``);
* ``noise``: the face's high-pass residual (level, tails, dependence on light, colour correlation);
* ``texture``: co-occurrences of the quantised residuals (neighbouring pixels, colour channels);
* ``eyes``: pupil roundness and the agreement of the two corneal highlights (picture:
  ``eyes_png``). StyleGAN's fixed eye positions are NOT a cue: the FFHQ real photos share them.
* ``face_space``: the face's 128-d dlib descriptor (computed anyway by detectors.faces for
  identity; no extra cost), a linear model over it: generated faces sit in a part of the face
  space of their own, and the descriptor barely changes under compression or resizing;
* ``residual_net``: a small CNN on 32-px native patches of the face region's high-pass residual
  (``training/train_idphoto_net.py``; picture: ``net_png``, the patch logits as a heat map). Run
  only when ``assets/models/idphoto_net.onnx`` ships and weighed only when the combined model
  lists ``net_logit``: on this data it did not raise the grouped out-of-fold figures, so today
  it does not ship (the recipe's docstring has the numbers).

Each cue reports its own score (a logistic model over its features alone) and, when the
combined model weighs it, its share of the combined logit. The combined model weighs only the
cues that held up on generators it never saw (grouped out-of-fold; ``weighed_cues`` in the
model file): spectrum and texture are measured and shown but not weighed, because on this data
they learned the photos' sources, not their generators. The combined logit maps to the risk by
a cut set above the out-of-fold scores of the real photos.

Edited photo (pixels, rules with named thresholds; a face pasted onto a document photo):

* ``jpeg_grid``: the 8x8 JPEG grid of the face region against the rest (picture: ``grid_png``);
* ``jpeg_ghost``: double compression in the face region only (re-saves at several qualities);
* ``ela``: the face region's error level against the rest (picture: ``ela_png``, not a verdict);
* ``noise_ratio``: the face's noise level against the background.

Metadata: an editor named in EXIF Software is a weak hint, named as such. It adds at most
``METADATA_HINT_RISK`` and can never lift the risk to ``RISK_DECISION`` on its own: genuine
scans and press photos pass through editors all the time, and a fake is stripped in seconds.

Confidence falls with the size of the face and with the photo's compression (the JPEG quality
read from its quantisation tables).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import photo_forensics as pf
from .base import CandidateContext, Cancelled, Detector, Finding

log = logging.getLogger(__name__)

MODEL_NAME = "idphoto.json"
MAX_SHOWN_VALUES = 20
"""A cue with more measured values than this reports their count, not each one."""

# --- metadata ------------------------------------------------------------------------------
EDITORS = ("photoshop", "gimp", "affinity", "pixelmator", "snapseed", "facetune", "canva", "paint.net",
           "picsart", "photopea", "lightroom", "faceapp", "remini", "luminar", "fotor", "meitu")
METADATA_HINT_RISK = 0.1
"""What an editor named in EXIF adds to the risk, at most (a weak hint)."""
RISK_DECISION = 0.5
"""The risk at which a photo counts as flagged; metadata alone never reaches it."""
METADATA_CEILING = 0.45
"""Metadata can lift a pixel risk below RISK_DECISION no higher than this."""

# --- tampering -----------------------------------------------------------------------------
ELA_RATIO_RANGE = (1 / 3.0, 3.0)
"""Face/ring error-level ratio outside this range: the face region has another compression
history. The 266 real photos here measure 0.56-2.9 (1st-99th percentile 0.68-2.03)."""
GRID_MISALIGNED_MIN = 0.5
"""Share of the face's textured tiles showing an 8x8 grid off the file's own."""
GRID_MISALIGNED_GAP = 0.4
"""...and by this much more than the rest of the photo (a cropped, re-saved photo is off everywhere)."""
GRID_MIN_FACE_TILES = 2
GHOST_DIP_MIN = 0.4
"""Depth of a JPEG ghost in the face region below the ring's (relative error units). On the 266
real photos here a face ghost at a lower quality than its ring dipped at most 0.36."""
NOISE_RATIO_MAX = 7.0
"""Face/ring noise level ratio above which they do not come from one shot. The 266 real photos
here: median 1.6, 95th percentile 4.2, 99th 6.5 (faces are smoother than hair and clothes)."""
TAMPER_STRENGTH_CAP = 1.5
"""One cue counts at most this many times its threshold in the sum."""
TAMPER_SUM_AT_HALF = 2.0
"""Sum of the cues' strengths (each 1 at its own threshold) at which the tamper risk is 0.5:
two cues at their thresholds, or three leaning clearly the same way."""
TAMPER_SUM_SLOPE = 4.0
TAMPER_MAX_PIXELS = 6_000_000
"""Larger photos are judged for tampering on the region around the portrait."""

# --- confidence ----------------------------------------------------------------------------
CONFIDENCE_BASE = 0.8
"""Confidence of a clear, large, lightly compressed portrait (the model is measured, not perfect)."""
FACE_PX_FULL, FACE_PX_MIN = 160, 48
"""Face width (px) from which the confidence is full; below FACE_PX_MIN the photo is not judged."""
SMALL_FACE_FLOOR = 0.35
QUALITY_FULL, QUALITY_LOW = 85.0, 40.0
"""JPEG quality from which compression costs no confidence / at which it costs the most."""
COMPRESSED_FLOOR = 0.4
DOCUMENT_FACE_FRACTION = 0.08
"""A face smaller than this fraction of the photo's area is a portrait on a document."""


@dataclass(frozen=True)
class Cue:
    name: str
    kind: str  # "generation", "tampering" or "metadata (weak hint)"
    value: Any
    threshold: Any
    triggered: bool
    note: str
    score: float | None = None  # a cue model's probability (generation cues)
    share: float | None = None  # its features' part of the combined logit

    def to_dict(self) -> dict[str, Any]:
        d = {"kind": self.kind, "value": self.value, "threshold": self.threshold, "triggered": self.triggered, "note": self.note}
        if self.score is not None:
            d["score"] = round(self.score, 4)
        if self.share is not None:
            d["logit_share"] = round(self.share, 3)
        return d


# --------------------------------------------------------------------------- the model

def load_model() -> dict[str, Any]:
    """The shipped generation model (or the active fold copy inside detectors.models.fold_models)."""
    from .models import description

    return description(MODEL_NAME)


NET_FEATURE = "net_logit"
"""The residual net's photo logit, a feature the combined model may weigh beside pf.FEATURES."""


EMBED_FEATURES = tuple(f"face_emb_{i:03d}" for i in range(128))
"""The 128 numbers of the face's dlib descriptor (detectors.faces computes it for every photo, for
identity): the ``face_space`` cue. A generated face sits in its own part of the face space a
recognition network learned from millions of real faces; a linear model over the descriptor
learns where (grouped out of fold it caught StyleGAN2/3 and morphs the pixel cues missed, and it
barely moves under JPEG 60, 400 px or a phone copy: training/train_idphoto.py has the figures)."""


def feature_values(names: list[str], values: np.ndarray, net_logit: float | None = None, embedding: np.ndarray | None = None) -> np.ndarray:
    """The named features of one photo: pf.FEATURES from ``values``, NET_FEATURE from ``net_logit``,
    EMBED_FEATURES from ``embedding`` (NaN, i.e. the training mean, where absent)."""
    out = []
    for n in names:
        if n == NET_FEATURE:
            out.append(np.nan if net_logit is None else net_logit)
        elif n.startswith("face_emb_"):
            out.append(np.nan if embedding is None else float(embedding[EMBED_FEATURES.index(n)]))
        else:
            out.append(values[pf.FEATURES.index(n)])
    return np.array(out, np.float64)


def _z(model: dict[str, Any], values: np.ndarray, net_logit: float | None = None, embedding: np.ndarray | None = None) -> np.ndarray:
    x = feature_values(model["features"], values, net_logit, embedding)
    mean, std = np.asarray(model["mean"]), np.asarray(model["std"])
    return np.where(np.isnan(x), 0.0, (x - mean) / std)


def model_logit(model: dict[str, Any], values: np.ndarray, net_logit: float | None = None, embedding: np.ndarray | None = None) -> float:
    return float(_z(model, values, net_logit, embedding) @ np.asarray(model["coef"]) + float(model["intercept"]))


# --------------------------------------------------------------------------- the residual net

NET_MODEL = "idphoto_net.onnx"


@dataclass(frozen=True)
class NetResult:
    logit: float  # mean of the patch logits (> 0 leans generated)
    patch_logits: np.ndarray  # (rows, cols) over the region
    region: np.ndarray  # the native-pixel face region read


def residual_net(rgb: np.ndarray, box: tuple[int, int, int, int]) -> NetResult | None:
    """The learned residual net (training/train_idphoto_net.py) on the face region's patches;
    the fold copy inside detectors.models.fold_models. None if the region is smaller than a patch."""
    from .models import model_path, session

    region = pf.net_region(rgb, box)
    if region is None or not model_path(NET_MODEL).is_file():
        return None
    patches = pf.net_patches(region)
    logits = np.asarray(session(NET_MODEL).run(None, {"patches": patches})[0], np.float64).reshape(-1)
    h, w = region.shape[:2]
    rows = max(1, (h - pf.NET_PATCH) // pf.NET_STRIDE + 1)
    cols = max(1, (w - pf.NET_PATCH) // pf.NET_STRIDE + 1)
    return NetResult(float(logits.mean()), logits.reshape(rows, cols), region)


def net_png(net: NetResult) -> str:
    """The face region beside its patch logits as a heat map (yellow: leans generated)."""
    import cv2

    h, w = net.region.shape[:2]
    heat = pf.heat_rgb(net.patch_logits, -3.0, 3.0)
    heat = cv2.resize(heat, (w, h), interpolation=cv2.INTER_NEAREST)
    return pf.png_b64(np.hstack([net.region, np.full((h, 4, 3), 255, np.uint8), heat]), 2 * pf.EVIDENCE_PX)


def _sigmoid(t: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, t))))


def generation_risk(logit: float, bundle: dict[str, Any]) -> float:
    return _sigmoid((logit - float(bundle["risk_logit_at_half"])) * float(bundle["risk_slope"]))


def generation_cues(measured: pf.Measured, bundle: dict[str, Any], net: NetResult | None = None,
                    embedding: np.ndarray | None = None) -> tuple[float, float, list[Cue]]:
    """(combined logit, generation risk, one cue per feature group).

    A cue's ``score`` is its own model's probability (its features alone); ``logit_share`` its
    features' part of the combined logit, for the cues the combined model weighs
    (``bundle["weighed_cues"]``); the others are shown, not weighed. The spectrum cue is
    ``triggered`` by what it measures (a periodic peak above PEAK_FLAG, at a reported
    frequency); the weighed cues by a positive share and an own score of 0.5 or more.
    """
    comb = bundle["models"]["combined"]
    net_logit = None if net is None else net.logit
    z = _z(comb, measured.values, net_logit, embedding)
    contrib = dict(zip(comb["features"], z * np.asarray(comb["coef"])))
    logit = float(sum(contrib.values()) + float(comb["intercept"]))
    risk = generation_risk(logit, bundle)
    weighed = set(bundle.get("weighed_cues", pf.CUE_FEATURES))
    cues = []
    for name, feats in pf.CUE_FEATURES.items():
        idx = [pf.FEATURES.index(f) for f in feats]
        have = ~np.isnan(measured.values[idx])
        if not have.any():
            cues.append(Cue(name, "generation", None, None, False, f"{_CUE_NOTES[name]}: could not be measured on this face"))
            continue
        own = _sigmoid(model_logit(bundle["models"][name], measured.values))
        shown: Any = {f: round(float(v), 3) for f, v in zip(feats, measured.values[idx]) if not np.isnan(v)}
        if len(shown) > MAX_SHOWN_VALUES:
            shown = {"histogram_bins": len(shown)}
        if name in weighed:
            share: float | None = float(sum(contrib.get(f, 0.0) for f in feats))
            trig = share > 0 and own >= 0.5
            note = _CUE_NOTES[name]
            threshold: Any = "learned weights (assets/models/idphoto.json)"
        else:
            share = None
            note = _CUE_NOTES[name] + " (shown, not weighed: not validated on unseen generators)"
            trig = False
            threshold = None
        if name == "spectrum" and measured.spectrum is not None:
            sp = measured.spectrum
            shown["peak_at_cycles_per_px"] = list(sp.peak_at)
            trig = sp.peak > pf.PEAK_FLAG
            threshold = f"a periodic peak more than {pf.PEAK_FLAG} (log power) above its ring"
        cues.append(Cue(name, "generation", shown, threshold, bool(trig), note, own, share))
    if "face_space" in bundle["models"]:
        fs_weighed = "face_space" in weighed
        if embedding is None:
            cues.append(Cue("face_space", "generation", None, None, False, f"{_CUE_NOTES['face_space']}: no face descriptor"))
        else:
            own_logit = model_logit(bundle["models"]["face_space"], measured.values, embedding=embedding)
            share = float(sum(v for f, v in contrib.items() if f.startswith("face_emb_"))) if fs_weighed else None
            shown = {"own_logit": round(own_logit, 3), "descriptor_norm": round(float(np.linalg.norm(embedding)), 3), "dimensions": len(EMBED_FEATURES)}
            cues.append(Cue("face_space", "generation", shown, "learned weights (assets/models/idphoto.json)" if fs_weighed else None,
                            bool(fs_weighed and share is not None and share > 0 and own_logit > 0),
                            _CUE_NOTES["face_space"] + ("" if fs_weighed else " (shown, not weighed: not validated on unseen generators)"),
                            _sigmoid(own_logit), share))
    if NET_FEATURE in comb["features"] or net is not None:
        if net is None:
            cues.append(Cue("residual_net", "generation", None, None, False, f"{_CUE_NOTES['residual_net']}: the face region is too small"))
        else:
            share = float(contrib.get(NET_FEATURE, 0.0))
            shown = {"mean_patch_logit": round(net.logit, 3), "patches": int(net.patch_logits.size),
                     "patches_leaning_generated": round(float((net.patch_logits > 0).mean()), 3)}
            cues.append(Cue("residual_net", "generation", shown, "learned (assets/models/idphoto_net.onnx)",
                            bool(share > 0 and net.logit > 0), _CUE_NOTES["residual_net"], _sigmoid(net.logit),
                            share if NET_FEATURE in comb["features"] else None))
    return logit, risk, cues


_CUE_NOTES = {
    "spectrum": "high-frequency fall-off and periodic peaks of the face region's spectrum (JPEG grid lines removed)",
    "noise": "the face's fine noise: level, tails, dependence on light, colour-channel correlation",
    "texture": "co-occurrences of the face's quantised fine residuals (neighbours and colour channels)",
    "eyes": "pupil against its fitted ellipse, and the two eyes' corneal highlights",
    "face_space": "where the face lies in the face-recognition network's 128-d space (dlib descriptor): generated faces sit in a part of it of their own",
    "residual_net": "a small learned net on the fine residual of 32-px patches of the face region (generator up-sampling traces)",
}


# --------------------------------------------------------------------------- metadata


def metadata_cues(image: Any) -> list[Cue]:
    exif = dict(image.exif or {})
    software = str(exif.get("Software", "") or "")
    hit = next((e for e in EDITORS if e in software.lower()), None)
    cues = [Cue("editing_software", "metadata (weak hint)", software or None, "known editor", hit is not None,
                f"EXIF Software says {software!r} (a weak hint: genuine photos pass through editors)" if software else "no Software tag")]
    ew, eh = exif.get("ExifImageWidth"), exif.get("ExifImageHeight")
    mismatch = (isinstance(ew, int) and isinstance(eh, int) and ew > 0 and eh > 0
                and sorted((ew, eh)) != sorted((image.width, image.height)))
    cues.append(Cue("camera_data", "metadata (weak hint)", f"EXIF size {ew}x{eh}" if mismatch else "consistent or absent",
                    "EXIF size matches the pixels", bool(mismatch), "resized or re-saved after capture (common for published photos)"))
    return cues


# --------------------------------------------------------------------------- tampering


def _tamper_region(rgb: np.ndarray, box: tuple[int, int, int, int]) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """The whole photo, or for a very large one the region around the portrait (grid phase kept)."""
    h, w = rgb.shape[:2]
    if h * w <= TAMPER_MAX_PIXELS:
        return rgb, box
    x0, y0, x1, y1 = box
    side = int(math.sqrt(TAMPER_MAX_PIXELS))
    cx, cy = (x0 + x1) // 2, (y0 + y1) // 2
    sx = max(0, min(w - side, cx - side // 2)) // 8 * 8
    sy = max(0, min(h - side, cy - side // 2)) // 8 * 8
    return rgb[sy:sy + side, sx:sx + side], (x0 - sx, y0 - sy, x1 - sx, y1 - sy)


def tamper_cues(rgb: np.ndarray, box: tuple[int, int, int, int], is_jpeg: bool) -> tuple[list[Cue], dict[str, str]]:
    """The pixel tampering cues of the face region, and their pictures."""
    rgb, box = _tamper_region(rgb, box)
    cues: list[Cue] = []
    pngs: dict[str, str] = {}
    ela = pf.ela_map(rgb)
    ratio = pf.region_ratio(ela, box)
    lo, hi = ELA_RATIO_RANGE
    cues.append(Cue("ela", "tampering", None if ratio is None else round(ratio, 3), f"{lo:.2f}..{hi:.2f}", ratio is not None and not lo <= ratio <= hi,
                    "face region's error level (one re-save) against the rest, texture-normalised"))
    heat = pf.heat_rgb(ela)
    import cv2

    x0, y0, x1, y1 = box
    cv2.rectangle(heat, (x0, y0), (x1, y1), (255, 255, 255), max(1, rgb.shape[1] // 200))
    pngs["ela_png"] = pf.png_b64(heat, 2 * pf.EVIDENCE_PX)
    if is_jpeg:
        mis, usable = pf.grid_map(rgb)
        gc = pf.grid_check(rgb, box, (mis, usable))
        trig = gc.face_tiles >= GRID_MIN_FACE_TILES and gc.face_misaligned >= GRID_MISALIGNED_MIN and gc.face_misaligned - gc.rest_misaligned >= GRID_MISALIGNED_GAP
        cues.append(Cue("jpeg_grid", "tampering", {"face_misaligned": round(gc.face_misaligned, 3), "rest_misaligned": round(gc.rest_misaligned, 3),
                                                   "face_tiles": gc.face_tiles},
                        f"face tiles off the file's 8x8 grid >= {GRID_MISALIGNED_MIN}, {GRID_MISALIGNED_GAP} above the rest", bool(trig),
                        "JPEG block grid of the face region against the rest (a pasted JPEG keeps its own grid)"))
        pic = pf.heat_rgb(np.where(usable, np.where(mis, 2.0, 1.0), 0.0), 0.0, 2.0)
        step = pf.GRID_TILE // 2
        pic = cv2.resize(pic, (mis.shape[1] * step, mis.shape[0] * step), interpolation=cv2.INTER_NEAREST)
        cv2.rectangle(pic, (x0 - step, y0 - step), (x1 - step, y1 - step), (255, 255, 255), 2)
        pngs["grid_png"] = pf.png_b64(pic, 2 * pf.EVIDENCE_PX)
    gh = pf.jpeg_ghost(rgb, box)
    if gh is not None:
        trig = gh.face_quality < gh.rest_quality and gh.dip >= GHOST_DIP_MIN
        cues.append(Cue("jpeg_ghost", "tampering", {"face_quality": gh.face_quality, "rest_quality": gh.rest_quality, "dip": round(gh.dip, 3)},
                        f"face compressed before at a lower quality, dip >= {GHOST_DIP_MIN}", bool(trig),
                        "double compression in the face region only (JPEG ghost)"))
    nr = pf.noise_ratio(rgb, box)
    cues.append(Cue("noise_ratio", "tampering", None if nr is None else round(nr, 3), NOISE_RATIO_MAX, nr is not None and nr > NOISE_RATIO_MAX,
                    "face against background noise level"))
    return cues, pngs


def tamper_strengths(cues: list[Cue]) -> dict[str, float]:
    """Each tampering cue's value against its own threshold (1 = at the threshold), capped."""
    out: dict[str, float] = {}
    for c in cues:
        if c.kind != "tampering" or c.value is None:
            continue
        v = c.value
        if c.name == "ela":
            s = abs(math.log(max(float(v), 1e-6))) / math.log(ELA_RATIO_RANGE[1])
        elif c.name == "jpeg_grid":
            s = max(0.0, v["face_misaligned"] - v["rest_misaligned"]) / GRID_MISALIGNED_GAP if v["face_tiles"] >= GRID_MIN_FACE_TILES else 0.0
        elif c.name == "jpeg_ghost":
            s = v["dip"] / GHOST_DIP_MIN if v["face_quality"] < v["rest_quality"] else 0.0
        elif c.name == "noise_ratio":
            s = math.log(max(float(v), 1.0)) / math.log(NOISE_RATIO_MAX)
        else:
            continue
        out[c.name] = round(min(TAMPER_STRENGTH_CAP, max(0.0, s)), 3)
    return out


def tamper_risk(cues: list[Cue]) -> float:
    """Independent cues that each lean the same way add up: the sum of the cues' strengths,
    mapped so that TAMPER_SUM_AT_HALF is risk 0.5."""
    total = sum(tamper_strengths(cues).values())
    return 1.0 / (1.0 + math.exp(-(total - TAMPER_SUM_AT_HALF) * TAMPER_SUM_SLOPE))


# --------------------------------------------------------------------------- one photo


def confidence_for(face_px: int, quality: float | None) -> tuple[float, dict[str, float]]:
    size = SMALL_FACE_FLOOR + (1 - SMALL_FACE_FLOOR) * float(np.clip((face_px - FACE_PX_MIN) / (FACE_PX_FULL - FACE_PX_MIN), 0, 1))
    comp = 1.0 if quality is None else COMPRESSED_FLOOR + (1 - COMPRESSED_FLOOR) * float(np.clip((quality - QUALITY_LOW) / (QUALITY_FULL - QUALITY_LOW), 0, 1))
    return CONFIDENCE_BASE * size * comp, {"face_size": round(size, 3), "compression": round(comp, 3)}


def combine(gen_risk: float, tamper: float, metadata_hit: bool) -> float:
    """Pixels decide; an editor named in EXIF adds a little and never crosses RISK_DECISION alone."""
    pixel = max(gen_risk, tamper) + 0.5 * min(gen_risk, tamper) * (1 - max(gen_risk, tamper))
    if not metadata_hit:
        return pixel
    if pixel >= RISK_DECISION:
        return min(1.0, pixel + METADATA_HINT_RISK)
    return min(pixel + METADATA_HINT_RISK, max(pixel, METADATA_CEILING))


def analyze_image(image: Any) -> dict[str, Any]:
    """Every cue of one photo, its risk and confidence, and the evidence pictures."""
    from . import hashing
    from .faces import faces_in_image

    rgb = image.rgb[..., :3]
    h, w = rgb.shape[:2]
    faces = faces_in_image(image)
    meta = metadata_cues(image)
    out: dict[str, Any] = {"path": image.path, "faces": len(faces), "risk": 0.0, "confidence": 0.0}
    if not faces or faces[0].width < FACE_PX_MIN:
        out["cues"] = {c.name: c.to_dict() for c in meta}
        out["portrait"] = None
        out["note"] = "no face" if not faces else f"face {faces[0].width} px wide, below {FACE_PX_MIN} px"
        return out
    face = faces[0]
    fx0, fy0, fx1, fy1 = face.box
    out["document"] = (fx1 - fx0) * (fy1 - fy0) / float(w * h) < DOCUMENT_FACE_FRACTION
    out["face_box"] = list(face.box)
    out["portrait"] = list(face.box)
    aligned = hashing.align_face(rgb, face.landmarks)
    if aligned is not None:
        out["portrait_png"] = pf.png_b64(aligned)
    measured = pf.measure(rgb, face.box, face.landmarks)
    bundle = load_model()
    net = residual_net(rgb, face.box)
    logit, gen_risk, gen = generation_cues(measured, bundle, net, face.embedding)
    if net is not None:
        out["net_png"] = net_png(net)
    if measured.spectrum is not None:
        out["spectrum_png"] = pf.spectrum_png(measured.spectrum)
    if measured.eyes is not None:
        out["eyes_png"] = pf.eyes_png(measured.eyes)
    tamper, pngs = tamper_cues(rgb, face.box, image.format == "JPEG")
    out.update(pngs)
    quality = pf.jpeg_quality(image.jpeg_quantization) if image.format == "JPEG" else None
    conf, parts = confidence_for(measured.face_px, quality)
    t_risk = tamper_risk(tamper)
    out["tamper_strengths"] = tamper_strengths(tamper)
    meta_hit = any(c.triggered for c in meta if c.name == "editing_software")
    risk = combine(gen_risk, t_risk, meta_hit)
    out.update(
        risk=round(risk, 4), confidence=round(conf, 4), generation_risk=round(gen_risk, 4), generation_logit=round(logit, 3),
        tamper_risk=round(t_risk, 4), metadata_hint=meta_hit, jpeg_quality=None if quality is None else round(quality, 1),
        face_px=measured.face_px, confidence_parts=parts,
        cues={c.name: c.to_dict() for c in gen + tamper + meta},
    )
    return out


def _summary(p: dict[str, Any]) -> str:
    cues = p["cues"]
    parts = []
    if p["generation_risk"] >= RISK_DECISION:
        top = sorted(((n, c) for n, c in cues.items() if c["kind"] == "generation" and c.get("logit_share") is not None),
                     key=lambda nc: -nc[1]["logit_share"])
        named = ", ".join(n for n, c in top[:2] if c["logit_share"] > 0)
        parts.append(f"the face looks generated (risk {p['generation_risk']:.2f}; strongest: {named or 'the combined cues'})")
    strengths = p.get("tamper_strengths") or {}
    if p["tamper_risk"] >= RISK_DECISION:
        leaning = sorted((n for n, v in strengths.items() if v >= 0.5), key=lambda n: -strengths[n])
        parts.append(f"signs of a pasted or edited face (risk {p['tamper_risk']:.2f}): "
                     + ", ".join(f"{n} at {strengths[n]:.1f}x its threshold" for n in leaning))
    if p.get("metadata_hint"):
        parts.append(f"EXIF names an editor ({cues['editing_software']['value']}): a weak hint only")
    if not parts:
        return f"No sign of generation or editing in the ID photo's pixels (generation risk {p['generation_risk']:.2f})."
    return "ID photo: " + "; ".join(parts) + "."


class IdPhotoDetector(Detector):
    name = "idphoto"
    scope = "candidate"

    def analyze(self, context: CandidateContext) -> Finding | None:
        ids = [i for i in context.images if i.role == "id"]
        if not ids:
            return None
        per = []
        for img in ids:
            if context.cancel is not None and context.cancel.is_set():
                raise Cancelled()
            per.append(analyze_image(img))
        with_face = [p for p in per if p.get("portrait")]
        evidence: dict[str, Any] = {"photos": per}
        if not with_face:
            return Finding(self.name, 0.0, 0.0, "No portrait found on the ID photo: it could not be checked.", evidence)
        worst = max(with_face, key=lambda p: (p["risk"], p["confidence"]))
        for key in ("portrait_png", "spectrum_png", "eyes_png", "net_png", "ela_png", "grid_png"):
            if worst.get(key):
                evidence[key] = worst[key]
        return Finding(self.name, worst["risk"], worst["confidence"], _summary(worst), evidence)
