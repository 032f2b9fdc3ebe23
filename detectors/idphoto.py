"""idphoto: is the submitted ID photo (or photo of a document) edited or generated?

The portrait is the largest face (detectors.faces.faces_in_image); on a photo of a card or a
passport page it is small against the document, and is cropped and aligned by the eyes either
way. Then each cue is measured, with its evidence and a named threshold:

Tampering
* ``editing_software``: EXIF Software names an image editor.
* ``camera_data``: EXIF camera make/model missing from a JPEG, or the EXIF image size /
  timestamps inconsistent with the file (resized or re-saved after capture). Weak on its own:
  scans and screenshots carry no camera data either.
* ``ela``: error-level analysis: re-save at a fixed JPEG quality; the portrait's error level,
  normalised by its texture, against the rest of the photo. A pasted portrait has another
  compression history.
* ``jpeg_grid``: the 8x8 JPEG block grid phase of the portrait region against the rest; a
  portrait pasted from another JPEG keeps its own grid (double-JPEG inconsistency).

Generated face
* ``spectral``: peaks in the high-frequency spectrum of the aligned face (GAN up-sampling leaves
  periodic artifacts), JPEG grid frequencies excluded.
* ``eyes``: the two eyes' corneal highlights and iris colours disagree (generators draw each eye
  separately).
* ``noise``: the sensor-noise level of the face against its background (one camera shot has one
  noise level; a generated or composited face does not).

Thresholds were set above the largest value measured on the real photos in shared/media
(see tests/test_idphoto.py for the table) and on synthetic tampering built in the tests.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from .base import CandidateContext, Detector, Finding

log = logging.getLogger(__name__)

# --- thresholds ---------------------------------------------------------------------------
EDITORS = ("photoshop", "gimp", "affinity", "pixelmator", "snapseed", "facetune", "canva", "paint.net",
           "picsart", "photopea", "lightroom", "faceapp", "remini", "luminar", "fotor", "meitu")
ELA_QUALITY = 90
"""JPEG quality of the error-level re-save."""
ELA_RATIO_MAX = 3.0
"""Portrait/rest ratio of texture-normalised error level above which the portrait stands out."""
ELA_RATIO_MIN = 1 / 3.0
JPEG_GRID_MIN_STRENGTH = 1.15
"""Block-boundary energy over the mean of the other phases for a region to show a JPEG grid.
Real photos in shared/media with differing phases stay under it on one side (two_people: 1.18
and 1.11); a face pasted from a JPEG on a shifted grid, re-saved at q97, measures 1.17 / 1.22.
The margin is thin: this cue is reported with its numbers, and weighs like one cue."""
SPECTRAL_PEAK_MAX = 500.0
"""Largest high-frequency spectral peak over the median of its ring (face crop, grid bins out).
Real photos in shared/media measure 17-337; no generated portrait was at hand to calibrate the
other side, so this is set above the real maximum (it fires only on strong periodic peaks)."""
EYE_HIGHLIGHT_MAX = 1.3
"""Corneal highlight positions (relative to each eye box) further apart than this disagree.
Real photos measure 0.11-1.26: the measure is noisy at these eye sizes; uncalibrated."""
EYE_COLOUR_MAX = 75.0
"""Iris mean colours (RGB distance) further apart than this disagree."""
NOISE_RATIO_MAX = 3.0
"""Face/background noise-level ratio (either way) above which they do not come from one shot."""
DOCUMENT_FACE_FRACTION = 0.08
"""A face smaller than this fraction of the photo's area is a portrait on a document."""
MIN_FACE_PX = 48

CUE_RISK = {
    "editing_software": 0.6,
    "camera_data": 0.15,
    "ela": 0.55,
    "jpeg_grid": 0.6,
    "spectral": 0.5,
    "eyes": 0.4,
    "noise": 0.4,
}
"""Risk each cue carries on its own; the finding takes the largest, plus a little per extra cue."""
EXTRA_CUE_RISK = 0.1
CONFIDENCE_WITH_FACE = 0.5
"""These are heuristics: a single cue never reaches full confidence."""
CONFIDENCE_PER_EXTRA_CUE = 0.15


@dataclass(frozen=True)
class Cue:
    name: str
    value: float | str | None
    threshold: float | str | None
    triggered: bool
    note: str

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "threshold": self.threshold, "triggered": self.triggered, "note": self.note}


def _gray(rgb: np.ndarray) -> np.ndarray:
    return (rgb[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32))


def exif_cues(image: Any) -> list[Cue]:
    exif = dict(image.exif or {})
    cues = []
    software = str(exif.get("Software", "") or "")
    hit = next((e for e in EDITORS if e in software.lower()), None)
    cues.append(Cue("editing_software", software or None, "known editor", hit is not None,
                    f"EXIF Software says {software!r}" if software else "no Software tag"))
    problems = []
    if image.format == "JPEG" and not (exif.get("Make") or exif.get("Model")):
        problems.append("no camera make/model")
    ew, eh = exif.get("ExifImageWidth"), exif.get("ExifImageHeight")
    if isinstance(ew, int) and isinstance(eh, int) and ew > 0 and eh > 0:
        if sorted((ew, eh)) != sorted((image.width, image.height)):
            problems.append(f"EXIF size {ew}x{eh} but the image is {image.width}x{image.height}")
    orig, mod = exif.get("DateTimeOriginal"), exif.get("DateTime")
    if isinstance(orig, str) and isinstance(mod, str) and orig.strip() and mod.strip() and mod > orig:
        problems.append(f"modified {mod} after capture {orig}")
    # Missing camera data and re-saving after capture are common for photos published on the web;
    # they are shown as notes. Only an EXIF size that disagrees with the pixels counts as a cue.
    mismatch = any(p.startswith("EXIF size") for p in problems)
    cues.append(Cue("camera_data", "; ".join(problems) or "consistent", "EXIF size matches the pixels", mismatch,
                    "camera data missing or inconsistent" if problems else "camera data consistent"))
    return cues


def _texture(g: np.ndarray) -> np.ndarray:
    import cv2

    return np.abs(cv2.Laplacian(g, cv2.CV_32F, ksize=3))


def ela_ratio(rgb: np.ndarray, box: tuple[int, int, int, int]) -> float | None:
    """Texture-normalised error level inside ``box`` over the rest of the photo."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb[..., :3])).save(buf, "JPEG", quality=ELA_QUALITY)
    buf.seek(0)
    re = np.asarray(Image.open(buf).convert("RGB")).astype(np.float32)
    err = np.abs(re - rgb[..., :3].astype(np.float32)).mean(axis=2)
    tex = _texture(_gray(rgb)) + 1.0
    mask = np.zeros(err.shape, bool)
    x0, y0, x1, y1 = box
    mask[y0:y1, x0:x1] = True
    if mask.sum() < 64 or (~mask).sum() < 64:
        return None
    inside = err[mask].mean() / tex[mask].mean()
    outside = err[~mask].mean() / tex[~mask].mean()
    return float(inside / max(outside, 1e-6))


def jpeg_grid(g: np.ndarray) -> tuple[int, float]:
    """(phase, strength) of the 8x8 block grid: (x phase * 8 + y phase) and boundary energy over
    the other phases' mean (1 = no grid)."""
    dx = np.abs(np.diff(g, axis=1)).mean(axis=0)
    dy = np.abs(np.diff(g, axis=0)).mean(axis=1)
    px = np.array([dx[k::8].mean() for k in range(8)]) if dx.size >= 16 else np.ones(8)
    py = np.array([dy[k::8].mean() for k in range(8)]) if dy.size >= 16 else np.ones(8)
    ix, iy = int(np.argmax(px)), int(np.argmax(py))
    sx = px[ix] / max(1e-6, np.delete(px, ix).mean())
    sy = py[iy] / max(1e-6, np.delete(py, iy).mean())
    return ix * 8 + iy, float(min(sx, sy))


def spectral_peak(face: np.ndarray) -> float:
    """Largest high-frequency peak of the face crop's spectrum over its ring's median."""
    g = _gray(face)
    g = g - g.mean()
    n = g.shape[0]
    win = np.outer(np.hanning(n), np.hanning(g.shape[1]))
    spec = np.abs(np.fft.fftshift(np.fft.fft2(g * win))) ** 2
    yy, xx = np.mgrid[:n, : g.shape[1]]
    cy, cx = n // 2, g.shape[1] // 2
    r = np.hypot((yy - cy) / n, (xx - cx) / g.shape[1])
    ring = (r > 0.25) & (r < 0.5)
    ring &= (np.abs(yy - cy) > 1) & (np.abs(xx - cx) > 1)  # axes carry edge leakage
    grid = np.zeros_like(ring)
    for k in range(-4, 5):  # JPEG 8-px grid harmonics
        grid |= np.abs(yy - cy - k * n // 8) <= 1
        grid |= np.abs(xx - cx - k * g.shape[1] // 8) <= 1
    sel = spec[ring & ~grid]
    if sel.size < 16:
        return 0.0
    return float(sel.max() / max(np.median(sel), 1e-9))


def eye_cues(rgb: np.ndarray, landmarks: dict[str, list[tuple[int, int]]]) -> tuple[float | None, float | None]:
    """(highlight position disagreement, iris colour distance) of the two eyes."""
    out = []
    for key in ("left_eye", "right_eye"):
        pts = np.asarray(landmarks.get(key) or [], dtype=np.int32)
        if pts.shape[0] < 4:
            return None, None
        x0, y0 = pts.min(axis=0)
        x1, y1 = pts.max(axis=0)
        if x1 - x0 < 6 or y1 - y0 < 3:
            return None, None
        eye = rgb[y0:y1 + 1, x0:x1 + 1, :3].astype(np.float32)
        g = _gray(eye)
        yy, xx = np.unravel_index(int(np.argmax(g)), g.shape)
        pos = np.array([xx / max(1, g.shape[1] - 1), yy / max(1, g.shape[0] - 1)])
        dark = g <= np.percentile(g, 40)
        colour = eye[dark].mean(axis=0) if dark.any() else eye.reshape(-1, 3).mean(axis=0)
        out.append((pos, colour))
    (pa, ca), (pb, cb) = out
    # mirror: the highlight of a single light falls on the same side in both eyes
    return float(np.linalg.norm(pa - pb)), float(np.linalg.norm(ca - cb))


def noise_ratio(rgb: np.ndarray, box: tuple[int, int, int, int]) -> float | None:
    """Face / background noise level (median absolute high-pass residual), the larger over the smaller."""
    import cv2

    g = _gray(rgb)
    res = np.abs(g - cv2.medianBlur(np.clip(g, 0, 255).astype(np.uint8), 3).astype(np.float32))
    x0, y0, x1, y1 = box
    mask = np.zeros(g.shape, bool)
    mask[y0:y1, x0:x1] = True
    flat = _texture(g) < np.percentile(_texture(g), 50)  # noise shows in flat areas
    a, b = res[mask & flat], res[~mask & flat]
    if a.size < 64 or b.size < 64:
        return None
    na, nb = float(np.mean(a)) + 0.05, float(np.mean(b)) + 0.05
    return max(na, nb) / min(na, nb)


def portrait_box(face_box: tuple[int, int, int, int], w: int, h: int) -> tuple[int, int, int, int]:
    """The portrait around a face: head and shoulders, as on an ID photo."""
    x0, y0, x1, y1 = face_box
    fw, fh = x1 - x0, y1 - y0
    return (max(0, int(x0 - 0.5 * fw)), max(0, int(y0 - 0.7 * fh)), min(w, int(x1 + 0.5 * fw)), min(h, int(y1 + 0.6 * fh)))


def analyze_image(image: Any) -> dict[str, Any]:
    """Every cue of one photo (the check's evidence for it)."""
    from . import hashing
    from .faces import faces_in_image
    from .identity import face_png

    rgb = image.rgb[..., :3]
    h, w = rgb.shape[:2]
    faces = faces_in_image(image)
    cues = exif_cues(image)
    out: dict[str, Any] = {"path": image.path, "faces": len(faces)}
    if not faces or faces[0].width < MIN_FACE_PX:
        out["cues"] = {c.name: c.to_dict() for c in cues}
        out["portrait"] = None
        return out
    face = faces[0]
    fx0, fy0, fx1, fy1 = face.box
    fraction = (fx1 - fx0) * (fy1 - fy0) / float(w * h)
    pbox = portrait_box(face.box, w, h)
    out["document"] = fraction < DOCUMENT_FACE_FRACTION
    out["portrait"] = list(pbox)
    out["face_box"] = list(face.box)
    aligned = hashing.align_face(rgb, face.landmarks)
    if aligned is not None:
        out["portrait_png"] = face_png(aligned, (0, 0, aligned.shape[1], aligned.shape[0]))
    ela = ela_ratio(rgb, face.box)
    cues.append(Cue("ela", ela, f"{ELA_RATIO_MIN:.2f}..{ELA_RATIO_MAX:.2f}", ela is not None and not ELA_RATIO_MIN <= ela <= ELA_RATIO_MAX,
                    "portrait error level against the rest (texture-normalised)"))
    if image.format == "JPEG":
        g = _gray(rgb)
        x0, y0, x1, y1 = face.box
        inner = g[y0 - y0 % 8: y1, x0 - x0 % 8: x1]  # keep the frame's grid phase
        outer_rows = np.concatenate([g[: max(8, y0 - y0 % 8)], g[min(h - 8, y1 + (8 - y1 % 8) % 8):]], axis=0)
        pi, si = jpeg_grid(inner)
        po, so = jpeg_grid(outer_rows)
        both = si >= JPEG_GRID_MIN_STRENGTH and so >= JPEG_GRID_MIN_STRENGTH
        cues.append(Cue("jpeg_grid", f"face phase {pi} ({si:.2f}), rest phase {po} ({so:.2f})", f"same phase when both >= {JPEG_GRID_MIN_STRENGTH}",
                        both and pi != po, "8x8 JPEG block grid of the portrait against the rest"))
    if aligned is not None:
        sp = spectral_peak(aligned)
        cues.append(Cue("spectral", round(sp, 2), SPECTRAL_PEAK_MAX, sp > SPECTRAL_PEAK_MAX, "high-frequency spectral peak of the aligned face"))
    hp, col = eye_cues(rgb, face.landmarks)
    if hp is not None:
        trig = hp > EYE_HIGHLIGHT_MAX or col > EYE_COLOUR_MAX
        cues.append(Cue("eyes", f"highlight {hp:.2f}, iris colour {col:.1f}", f"highlight <= {EYE_HIGHLIGHT_MAX}, colour <= {EYE_COLOUR_MAX}",
                        trig, "the two eyes' corneal highlights and iris colours"))
    nr = noise_ratio(rgb, face.box)
    cues.append(Cue("noise", nr, NOISE_RATIO_MAX, nr is not None and nr > NOISE_RATIO_MAX, "face against background noise level"))
    out["cues"] = {c.name: c.to_dict() for c in cues}
    return out


class IdPhotoDetector(Detector):
    name = "idphoto"
    scope = "candidate"

    def analyze(self, context: CandidateContext) -> Finding | None:
        ids = [i for i in context.images if i.role == "id"]
        if not ids:
            return None
        per = [analyze_image(i) for i in ids]
        with_face = [p for p in per if p.get("portrait")]
        evidence: dict[str, Any] = {"photos": per}
        if with_face:
            evidence["portrait_png"] = with_face[0].get("portrait_png")
        if not with_face:
            return Finding(self.name, 0.0, 0.0, "No portrait found on the ID photo: it could not be checked.", evidence)
        best_risk, best_conf, reasons = 0.0, 0.0, []
        for p in with_face:
            hits = [(n, c) for n, c in p["cues"].items() if c["triggered"]]
            if not hits:
                best_conf = max(best_conf, CONFIDENCE_WITH_FACE)
                continue
            risks = sorted((CUE_RISK[n] for n, _ in hits), reverse=True)
            risk = min(1.0, risks[0] + EXTRA_CUE_RISK * (len(risks) - 1))
            conf = min(1.0, CONFIDENCE_WITH_FACE + CONFIDENCE_PER_EXTRA_CUE * (len(risks) - 1))
            if risk > best_risk:
                best_risk, best_conf = risk, conf
                reasons = [f"{n} ({c['note']}: {c['value']})" for n, c in hits]
        if best_risk == 0.0:
            return Finding(self.name, 0.0, best_conf, "No sign of editing or generation on the ID photo.", evidence)
        return Finding(self.name, best_risk, best_conf, "ID photo cues: " + "; ".join(reasons) + ".", evidence)
