"""Face-swap check: artifacts of a swapped, re-enacted or generated face in a recording.

While the pass runs, :meth:`FaceSwapDetector.observe` takes, on every HEAVY_EVERY-th analysed
frame with a face, the face at source resolution (face box + margin) and measures the blending
boundary (band-to-band noise / sharpness / colour steps and seams, scored by a logistic model
trained only on self-blended real faces, see ``scripts/train_faceswap.py``) and the face's
noise level against the rest of the frame. On every analysed frame it keeps three cheap ROI
colour means for the pulse signal. After the pass, :meth:`analyze` adds what the face track
holds (blinks, landmark jitter, inner-vs-outline pose, identity flicker of the embeddings),
combines the signals that proved to separate real from fake media into a risk and a
confidence, and names the seconds and frames where the risk is highest.

Signals that did not separate real from fake on the labelled media are still measured and
reported under ``evidence["signals"]`` with ``"used": false`` (see bench/faceswap_bench.py for
the AUC of each).
"""

from __future__ import annotations

import base64
import heapq
import io
import logging
import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from . import faceswap_signals as S
from .base import Detector, Finding, RecordingContext
from .faces import FaceObservation
from .media import VideoFrame
from .rows import RowBuffer
from .settings import setting

log = logging.getLogger(__name__)

# --- tunables --------------------------------------------------------------------------
RISK_FLAG = setting(
    "faceswap.flag_risk", 0.5, 0.1, 0.95,
    "Face-swap risk at and above which the summary calls the face likely swapped or generated.",
)
BLINK_BASE_RATE = setting(
    "faceswap.blink_base_rate", 5.0, 1.0, 20.0,
    "Blinks per minute a real person makes at least (low end; people staring at a screen blink less). "
    "A recording with far fewer blinks than this raises the risk.", "per min",
)

# --- constants -------------------------------------------------------------------------
HEAVY_EVERY = 4
"""Analysed frames between two pixel measurements of the face (blend model, face vs frame)."""

FRAME_NOISE_EVERY = 4
"""Pixel measurements between two face-vs-frame noise comparisons (whole analysis frame)."""

TOP_FRAMES = 4
"""Frames kept as evidence (highest blend probability), each with a crop and a heat map."""

EVIDENCE_PX = 160
"""Evidence crops and heat maps are at most this many px on their longer side."""

MIN_HEAVY_SAMPLES = 5
"""Pixel measurements needed before the blending signal says anything."""

FULL_CONFIDENCE_SAMPLES = 40
"""Pixel measurements (about 10 s of face at 15 fps analysed) for full confidence."""

BLEND_QUANTILE = 50
"""The recording's blend value is this percentile of its per-frame probabilities (the median:
a swap is on every frame, a few odd frames of a real face are not)."""

BLEND_WIDTH = 0.05
"""Logistic map from a blend probability to a 0..1 score: centred on the model's decision centre
(stored with it: the highest median probability it gave a real video left out of its training,
plus a margin; never fitted to fake media), this wide."""

BLINK_MIN_EXPECTED = 1.0
"""Expected blinks (base rate x duration) below which blink absence says nothing."""

SEGMENT_S = 1.0
"""Risk-per-second resolution (s)."""

OCCLUSION_MAX_GAP_S = 1.5
"""A face lost for at most this long between two sightings counts as an occlusion event."""

WEIGHTS = {"blend": 0.75, "blink": 0.25}
"""Weights of the signals used in the risk (others are reported, not used: see module doc)."""


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, x))))


def _png_b64(rgb: np.ndarray) -> str:
    from PIL import Image

    h, w = rgb.shape[:2]
    k = min(1.0, EVIDENCE_PX / max(h, w))
    if k < 1.0:
        rgb = cv2.resize(rgb, (max(1, int(w * k)), max(1, int(h * k))), interpolation=cv2.INTER_AREA)
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _heat_rgb(heat: np.ndarray) -> np.ndarray:
    coloured = cv2.applyColorMap(np.clip(heat * 255, 0, 255).astype(np.uint8), cv2.COLORMAP_INFERNO)
    return cv2.cvtColor(coloured, cv2.COLOR_BGR2RGB)


@dataclass(frozen=True)
class PixelSample:
    """One pixel measurement of the face."""

    t: float
    frame_index: int
    blend: float  # probability from the self-blend model (NaN without model)
    face_vs_frame: float  # log noise ratio face / rest of frame
    box_src: tuple[int, int, int, int]


class FaceSwapDetector(Detector):
    name = "faceswap"
    scope = "recording"
    observe_every = 1  # cheap ROI means every frame; pixel work every HEAVY_EVERY frames

    def __init__(self) -> None:
        self.model = S.load_model()
        self._centre = self.model.centre if self.model is not None else 0.5
        self._n_face_frames = 0
        self.samples: list[PixelSample] = []
        self._top: list[tuple[float, int, S.FaceCrop, tuple[int, int, int, int], float]] = []  # min-heap
        self._roi_t = RowBuffer((), np.float64)
        self._roi = RowBuffer((len(S.PULSE_ROIS), 3), np.float32)

    # ------------------------------------------------------------------ during the pass
    def observe(self, frame: VideoFrame, face: FaceObservation | None) -> None:
        if face is None:
            return
        lm = face.landmarks[:, :2]
        self._roi_t.append(frame.t)
        self._roi.append(S.roi_means(frame.rgb, lm))
        self._n_face_frames += 1
        if (self._n_face_frames - 1) % HEAVY_EVERY:
            return
        try:
            self._measure(frame, face)
        except (cv2.error, ValueError, IndexError) as exc:  # a degenerate crop must not stop the pass
            log.debug("faceswap: frame %d skipped (%s)", frame.index, exc)

    def _measure(self, frame: VideoFrame, face: FaceObservation) -> None:
        crop, sbox = frame.crop_full(face.box, margin=S.CROP_MARGIN)
        scale = frame.scale if frame._source is not None else 1.0
        lm = face.landmarks[:, :2] / scale - np.array(sbox[:2], np.float32)
        if crop.shape[0] < 16 or crop.shape[1] < 16 or np.ptp(lm[list(S.FACE_OVAL), 0]) < S.MIN_TEXTURE_FACE_PX:
            return
        fc = S.normalise_crop(crop, lm)
        maps = S.pixel_maps(fc.rgb)
        blend = float("nan")
        if self.model is not None:
            blend = float(self.model.predict(S.boundary_features(fc, maps))[0])
        fvf = float("nan")
        if len(self.samples) % FRAME_NOISE_EVERY == 0:
            fvf = S.face_vs_frame_noise(frame.rgb, face.landmarks[:, :2])
        fbox = tuple(int(round(v / scale)) for v in face.box)
        self.samples.append(PixelSample(frame.t, frame.index, blend, fvf, fbox))  # type: ignore[arg-type]
        if np.isfinite(blend):
            item = (blend, frame.index, fc, fbox, frame.t)
            if len(self._top) < TOP_FRAMES:
                heapq.heappush(self._top, item)  # type: ignore[misc]
            elif blend > self._top[0][0]:
                heapq.heapreplace(self._top, item)  # type: ignore[misc]

    # ------------------------------------------------------------------ after the pass
    def analyze(self, context: RecordingContext) -> Finding | None:
        track = context.track
        settings = context.settings
        if track.frames_with_face == 0:
            return Finding(self.name, 0.0, 0.0, "No face found in the recording, so face-swap artifacts could not be checked.",
                           {"signals": {}, "risk_per_second": [], "top_frames": []})
        signals = self._signals(context)
        if self.model is None:
            return Finding(self.name, 0.0, 0.0, "The face-swap model file is missing (assets/models/faceswap_blend.json), so this check could not run.",
                           {"signals": signals, "risk_per_second": [], "top_frames": []})
        if len([s for s in self.samples if np.isfinite(s.blend)]) < MIN_HEAVY_SAMPLES:
            return Finding(self.name, 0.0, 0.0,
                           "The face was too small or too briefly visible to check for face-swap artifacts.",
                           {"signals": signals, "risk_per_second": [], "top_frames": []})
        used = {k: v for k, v in signals.items() if v.get("used") and v.get("score") is not None}
        wsum = sum(WEIGHTS[k] * used[k]["confidence"] for k in used)
        risk = sum(WEIGHTS[k] * used[k]["confidence"] * used[k]["score"] for k in used) / wsum if wsum > 0 else 0.0
        n_ok = len([s for s in self.samples if np.isfinite(s.blend)])
        confidence = min(1.0, n_ok / FULL_CONFIDENCE_SAMPLES) * min(1.0, 0.5 + track.coverage)
        per_second = self._risk_per_second(signals)
        segments = self._segments(per_second, float(settings.get(RISK_FLAG.key, RISK_FLAG.default)))
        top = self._top_frames()
        flag = float(settings.get(RISK_FLAG.key, RISK_FLAG.default))
        if risk >= flag:
            where = f", strongest around {segments[0][0]:.0f}-{segments[0][1]:.0f} s" if segments else ""
            summary = f"The face shows blending seams typical of a swapped or pasted face (risk {risk:.2f}{where})."
        else:
            summary = f"No clear sign of a swapped or pasted face (risk {risk:.2f})."
        evidence = {
            "signals": signals,
            "risk_per_second": per_second,
            "high_risk_segments": [[round(a, 2), round(b, 2)] for a, b in segments],
            "top_frames": top,
            "pixel_samples": n_ok,
            "model": "faceswap_blend.json" if self.model is not None else None,
        }
        return Finding(self.name, risk, confidence, summary, evidence)

    def _signals(self, context: RecordingContext) -> dict[str, dict[str, Any]]:
        track = context.track
        present = track.present
        out: dict[str, dict[str, Any]] = {}
        blends = np.array([s.blend for s in self.samples if np.isfinite(s.blend)])
        if blends.size >= MIN_HEAVY_SAMPLES:
            value = float(np.percentile(blends, BLEND_QUANTILE))
            out["blend"] = {"value": value, "score": _sigmoid((value - self._centre) / BLEND_WIDTH),
                            "confidence": min(1.0, blends.size / FULL_CONFIDENCE_SAMPLES), "used": True,
                            "doc": "blending-boundary probability (self-blend model), median over frames"}
        fvf = np.array([s.face_vs_frame for s in self.samples if np.isfinite(s.face_vs_frame)])
        out["face_vs_frame_noise"] = {"value": float(np.median(fvf)) if fvf.size else None, "score": None, "used": False,
                                      "doc": "log noise level of the face over the rest of the frame (lower = smoother face)"}
        rate, blinks, seconds = S.blink_rate(track.landmarks, present, track.times)
        base = float(context.settings.get(BLINK_BASE_RATE.key, BLINK_BASE_RATE.default))
        expected = base * seconds / 60.0
        if expected >= BLINK_MIN_EXPECTED:
            # probability a real person with the base rate blinks this few times (Poisson)
            p_low = sum(math.exp(-expected) * expected**k / math.factorial(k) for k in range(blinks + 1))
            out["blink"] = {"value": rate, "blinks": blinks, "seconds": seconds, "score": 1.0 - p_low,
                            "confidence": min(1.0, expected / 4.0), "used": True,
                            "doc": "blinks per minute; score = 1 - P(this few blinks | base rate)"}
        else:
            out["blink"] = {"value": rate, "blinks": blinks, "seconds": seconds, "score": None, "confidence": 0.0,
                            "used": False, "doc": "too short to judge blinking"}
        jit, _ = S.landmark_jitter(track.landmarks, present)
        out["landmark_jitter"] = {"value": jit, "score": None, "used": False,
                                  "doc": "inner-face high-frequency motion relative to the outline (fraction of face width)"}
        out["pose_disagreement"] = {"value": S.pose_disagreement(track.landmarks, present), "score": None, "used": False,
                                    "doc": "inner-face vs outline head pose residual"}
        yaw = S.pose_angles(track.landmarks)[1]
        pos = {int(fi): i for i, fi in enumerate(track.frame_indices)}
        yaw_e = np.array([yaw[pos[int(i)]] if int(i) in pos else np.nan for i in track.embedding_frame_indices])
        flick, spread = S.identity_flicker(track.embeddings, yaw_e)
        out["identity_flicker"] = {"value": flick, "spread": spread, "score": None, "used": False,
                                   "doc": "embedding distance between consecutive samples at nearly the same pose"}
        pulse = S.pulse_coherence(self._roi_t.array(), self._roi.array()) if len(self._roi) else float("nan")
        out["pulse_coherence"] = {"value": pulse, "score": None, "used": False,
                                  "doc": "mean correlation of the rPPG pulse across forehead and cheeks"}
        out["occlusion"] = self._occlusion(track)
        return out

    def _occlusion(self, track: Any) -> dict[str, Any]:
        """Short losses of the face between two sightings (a hand or object in front of the face)
        and the blend probability right around them against the rest."""
        present = track.present
        times = track.times
        events = []
        i, n = 0, present.size
        while i < n:
            if not present[i]:
                j = i
                while j < n and not present[j]:
                    j += 1
                if i > 0 and j < n and times[j] - times[i - 1] <= OCCLUSION_MAX_GAP_S:
                    events.append((float(times[i - 1]), float(times[j])))
                i = j
            else:
                i += 1
        near = [s.blend for s in self.samples if any(a - 1.0 <= s.t <= b + 1.0 for a, b in events) and np.isfinite(s.blend)]
        rest = [s.blend for s in self.samples if np.isfinite(s.blend)]
        value = float(np.mean(near) - np.mean(rest)) if near and rest else None
        return {"value": value, "events": [[round(a, 2), round(b, 2)] for a, b in events], "score": None, "used": False,
                "doc": "blend probability next to short face losses minus elsewhere"}

    def _risk_per_second(self, signals: dict[str, dict[str, Any]]) -> list[list[float]]:
        """Risk per SEGMENT_S: the blend score of that second's frames, combined with the
        recording-level signals exactly as the overall risk is."""
        by_sec: dict[int, list[float]] = {}
        for s in self.samples:
            if np.isfinite(s.blend):
                by_sec.setdefault(int(s.t // SEGMENT_S), []).append(s.blend)
        other = {k: v for k, v in signals.items() if v.get("used") and k != "blend" and v.get("score") is not None}
        out = []
        for sec in sorted(by_sec):
            score = _sigmoid((float(np.median(by_sec[sec])) - self._centre) / BLEND_WIDTH)
            num = WEIGHTS["blend"] * score + sum(WEIGHTS[k] * v["confidence"] * v["score"] for k, v in other.items())
            den = WEIGHTS["blend"] + sum(WEIGHTS[k] * v["confidence"] for k, v in other.items())
            out.append([round(sec * SEGMENT_S, 2), round(num / den, 4)])
        return out

    @staticmethod
    def _segments(per_second: list[list[float]], flag: float) -> list[tuple[float, float]]:
        """Runs of seconds at or above ``flag`` (or, if none, the single worst second), worst first."""
        if not per_second:
            return []
        runs: list[tuple[float, float, float]] = []
        start, peak = None, 0.0
        for t, r in per_second + [[per_second[-1][0] + SEGMENT_S, -1.0]]:
            if r >= flag:
                if start is None:
                    start, peak = t, r
                peak = max(peak, r)
            elif start is not None:
                runs.append((start, t, peak))
                start = None
        if not runs:
            t, r = max(per_second, key=lambda x: x[1])
            runs = [(t, t + SEGMENT_S, r)]
        runs.sort(key=lambda x: -x[2])
        return [(a, b) for a, b, _ in runs]

    def _top_frames(self) -> list[dict[str, Any]]:
        out = []
        for blend, index, fc, sbox, t in sorted(self._top, key=lambda x: -x[0]):
            # the map says where the seams are; its brightness says how sure the model is
            heat = S.artifact_heatmap(fc) * blend
            overlay = (0.55 * fc.rgb + 0.45 * _heat_rgb(heat)).astype(np.uint8)
            out.append({
                "t": round(t, 3),
                "frame_index": int(index),
                "box": [int(v) for v in sbox],  # face box, source px
                "blend_probability": round(blend, 4),
                "face_png": _png_b64(fc.rgb),
                "heatmap_png": _png_b64(overlay),
            })
        return out
