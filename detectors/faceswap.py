"""Face-swap check: a swapped, re-enacted or generated face in a recording.

While the pass runs, :meth:`FaceSwapDetector.observe` takes, on every NET_EVERY-th analysed frame
with a face, the face at source resolution, aligns it on its Face Mesh points
(:func:`detectors.faceswap_signals.aligned_crop`) and scores it with the learned face-swap model
(:mod:`detectors.models.faceswap_net`: a small CNN trained on self-blended real faces and the dev
face swaps, run by onnxruntime). Crops are scored in small batches. On every analysed frame it
keeps three cheap ROI colour means for the pulse signal.

Every CLIP_EVERY_S it may also keep the same face, aligned at 192 px, for the second model
(an evenly spread handful over the recording, :data:`CLIP_BUFFER`): a linear probe on frozen CLIP ViT-B/16
features (:mod:`detectors.models.clip_faces`: the final class token beside the mean patch tokens of
the face's centre and of the ring around it after block 7, as the recipe chose), which carries to
swaps the CNN never saw far better than the CNN does (out of fold, grouped: DeepFaceLive 0.95
against the CNN's 0.61; training/train_faceswap_clip.py has the table), and carries most of the
score (0.8 in the shipped combination).

After the pass, :meth:`analyze` aggregates the per-frame logits over the recording (a percentile
stored with the model: a swap is on every frame, a few odd frames of a real face are not), embeds
up to CLIP_MAX_CROPS of the kept crops and takes the median of the probe's logits,
combines the two recording scores (each in units of its spread on real recordings, the weight
chosen out of fold), maps the result to a risk with the decision centre (chosen from out-of-fold
REAL recordings only), sets the confidence from how many frames were scored, names the seconds
where the risk is highest (each second's CNN score combined with the recording's CLIP score),
draws occlusion heat maps (where hiding part of the face lowers the CNN's evidence most) on the
CNN's top frames, and shows the CLIP probe's most swap-like crops with the map of where on the face
its logit comes from (:meth:`detectors.models.clip_faces.ClipProbe.patch_logits`). Without the CLIP
encoder installed the CNN judges alone, as before.

Hand-made signals (blend-boundary logistic model, blinks, landmark jitter, pose disagreement,
identity flicker, pulse, occlusion events) are still measured and reported under
``evidence["signals"]`` with ``"used": false``: out of fold, none added to the model (see
bench/faceswap_bench.py and training/train_faceswap_net.py for the figures).
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
from .models import clip_faces
from .models.faceswap_net import FaceSwapNet, load_net
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
    "Reported with the blink signal (not used in the risk: out of fold it did not add to the model).", "per min",
)

# --- constants -------------------------------------------------------------------------
WEAK_RISK = 0.2
"""From this risk (below the flag) the summary speaks of a weak sign instead of none: out of fold
(telltale eval, 2026-12-02) 4 of 78 real recordings reached it, and 24 of 69 fakes; with the probe
chosen by the AUC of all fakes (2026-12-03, corrected labels) 3 of 75 judged real recordings and 35
of 69 fakes."""

NET_EVERY = 4
"""Analysed frames with a face between two runs of the model (at 15 fps analysed: ~4 a second)."""

NET_BATCH = 4
"""Crops scored together (one onnxruntime call): fewer calls, same result."""

BLEND_EVERY = 4
"""Model samples between two measurements of the hand-made blend signal (reported, not used)."""

TOP_FRAMES = 4
"""Frames kept as evidence (highest logit), each with a crop and an occlusion heat map."""

EVIDENCE_PX = 160
"""Evidence crops and heat maps are at most this many px on their longer side."""

MIN_NET_SAMPLES = 5
"""Scored frames needed before the model's verdict says anything."""

FULL_CONFIDENCE_SAMPLES = 40
"""Scored frames (about 10 s of face at 15 fps analysed) for full confidence."""

BLINK_MIN_EXPECTED = 1.0
"""Expected blinks (base rate x duration) below which blink absence says nothing."""

SEGMENT_S = 1.0
"""Risk-per-second resolution (s)."""

CLIP_EVERY_S = 2.0
"""While the pass runs, the face is offered to the CLIP probe once per this many seconds of
recording; an evenly spread subset of those offers is kept (aligned crops, CLIP_BUFFER at most:
about 1.8 MB; :class:`detectors.models.clip_faces.SpreadSample`)."""
CLIP_BUFFER = 16
CLIP_MIN_CROPS = 2
CLIP_MAX_CROPS = 8
CLIP_SECONDS_PER_CROP = 2.5
"""After the pass, one kept crop per CLIP_SECONDS_PER_CROP of recording is embedded, at least
CLIP_MIN_CROPS and at most CLIP_MAX_CROPS (about 60 ms of one core each: 0.2 s for a 7 s clip,
0.5 s for any recording of 20 s or more), evenly spread; the recording's CLIP score is the median
of their probe logits. With fewer kept crops than CLIP_MIN_CROPS the CNN judges alone. Embedding
every kept crop during the pass instead cost more in all (a 2-minute recording: 32 embeddings
instead of 8). Reading always the recipe's count instead (6 crops, offered every 1 s) was measured
on 2026-12-03 through the app, out of fold: DeepFaceLive 0.878 -> 0.889, all fakes 0.857 -> 0.865,
but real recordings at face-swap risk >= 0.5 1 -> 3 of 76; by the rule set before the run, not
adopted."""

CLIP_FRAMES = 2
"""The CLIP probe's most swap-like crops shown as evidence, each with the map of where its logit
comes from (:meth:`detectors.models.clip_faces.ClipProbe.patch_logits`; no extra encoder run)."""

OCCLUSION_MAX_GAP_S = 1.5
"""A face lost for at most this long between two sightings counts as an occlusion event."""


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


def _overlay(crop: np.ndarray, heat: np.ndarray) -> np.ndarray:
    """The heat map (0..1, the crop's size) over the face crop, as the evidence pictures show it."""
    return (0.55 * crop + 0.45 * _heat_rgb(heat)).astype(np.uint8)


@dataclass(frozen=True)
class PixelSample:
    """One scored frame."""

    t: float
    frame_index: int
    blend: float  # probability from the hand-made blend model (NaN when not measured)
    face_vs_frame: float  # log noise ratio face / rest of frame (NaN when not measured)
    box_src: tuple[int, int, int, int]
    logit: float = float("nan")  # the learned model's logit (> 0: swapped or generated)


class FaceSwapDetector(Detector):
    name = "faceswap"
    scope = "recording"
    observe_every = 1  # cheap ROI means every frame; the model every NET_EVERY frames

    def __init__(self) -> None:
        self.net: FaceSwapNet | None = load_net()
        self.model = S.load_model()  # the hand-made blend model (reported signal)
        self.clip = clip_faces.load_probe() if self.net is not None else None  # the CLIP probe (combined with the CNN)
        if self.clip is not None:
            clip_faces.prepare_in_background()  # ready when the pass ends
        self._clip_kept = clip_faces.SpreadSample(CLIP_BUFFER)  # (t, aligned crop) of the face at spread-out moments
        self._clip_frames: list[dict[str, Any]] = []  # the CLIP probe's most swap-like crops with their maps (after the pass)
        self._clip_next_t = -math.inf
        self._n_face_frames = 0
        self._n_net = 0
        self.samples: list[PixelSample] = []
        self._pending: list[tuple[np.ndarray, PixelSample]] = []
        self._top: list[tuple[float, int, np.ndarray, tuple[int, int, int, int], float]] = []  # min-heap
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
        if (self._n_face_frames - 1) % NET_EVERY or self.net is None:
            return
        try:
            self._measure(frame, face)
        except (cv2.error, ValueError, IndexError, np.linalg.LinAlgError) as exc:  # a degenerate crop must not stop the pass
            log.debug("faceswap: frame %d skipped (%s)", frame.index, exc)

    def _measure(self, frame: VideoFrame, face: FaceObservation) -> None:
        assert self.net is not None
        crop, sbox = frame.crop_full(face.box, margin=S.NET_CROP_MARGIN)
        scale = frame.scale if frame._source is not None else 1.0
        lm = face.landmarks[:, :2] / scale - np.array(sbox[:2], np.float32)
        if crop.shape[0] < 16 or crop.shape[1] < 16:
            return
        aligned = self.net.model_input(crop, lm)
        if self.clip is not None and frame.t >= self._clip_next_t:
            self._clip_next_t = frame.t + CLIP_EVERY_S
            wanted = self._clip_kept.wants()
            self._clip_kept.offer((frame.t, S.aligned_crop(crop, lm, self.clip.crop_px)[0]) if wanted else None)
        blend = float("nan")
        fvf = float("nan")
        if self.model is not None and self._n_net % BLEND_EVERY == 0 and np.ptp(lm[list(S.FACE_OVAL), 0]) >= S.MIN_TEXTURE_FACE_PX:
            blend = float(self.model.predict(S.boundary_features(S.normalise_crop(crop, lm)))[0])
            fvf = S.face_vs_frame_noise(frame.rgb, face.landmarks[:, :2])
        self._n_net += 1
        fbox = tuple(int(round(v / scale)) for v in face.box)
        self._pending.append((aligned, PixelSample(frame.t, frame.index, blend, fvf, fbox)))  # type: ignore[arg-type]
        if len(self._pending) >= NET_BATCH:
            self._flush()

    def _flush(self) -> None:
        """Score the pending crops in one call and keep the top frames."""
        if not self._pending or self.net is None:
            return
        crops = np.stack([c for c, _ in self._pending])
        logits = self.net.logits(crops)
        for (crop, s), z in zip(self._pending, logits):
            z = float(z)
            self.samples.append(PixelSample(s.t, s.frame_index, s.blend, s.face_vs_frame, s.box_src, z))
            item = (z, s.frame_index, crop, s.box_src, s.t)
            if len(self._top) < TOP_FRAMES:
                heapq.heappush(self._top, item)  # type: ignore[misc]
            elif z > self._top[0][0]:
                heapq.heapreplace(self._top, item)  # type: ignore[misc]
        self._pending.clear()

    # ------------------------------------------------------------------ after the pass
    def analyze(self, context: RecordingContext) -> Finding | None:
        self._flush()
        track = context.track
        settings = context.settings
        if track.frames_with_face == 0:
            return Finding(self.name, 0.0, 0.0, "No face found in the recording, so face-swap artifacts could not be checked.",
                           {"signals": {}, "risk_per_second": [], "top_frames": []})
        signals = self._signals(context)
        if self.net is None:
            return Finding(self.name, 0.0, 0.0, "The face-swap model file is missing (assets/models/faceswap_net.onnx), so this check could not run.",
                           {"signals": signals, "risk_per_second": [], "top_frames": []})
        logits = np.array([s.logit for s in self.samples if np.isfinite(s.logit)])
        if logits.size < MIN_NET_SAMPLES:
            return Finding(self.name, 0.0, 0.0,
                           "The face was too small or too briefly visible to check for face-swap artifacts.",
                           {"signals": signals, "risk_per_second": [], "top_frames": []})
        meta = self.net.meta
        value = float(np.percentile(logits, meta.aggregate_percentile))
        risk = meta.risk(value)
        signals["model"] = {"value": value, "score": risk, "confidence": min(1.0, logits.size / FULL_CONFIDENCE_SAMPLES),
                            "used": True, "frames": int(logits.size),
                            "share_above_centre": float(np.mean(logits > meta.decision_centre)),
                            "doc": f"learned face-swap model: {meta.aggregate_percentile:g}th percentile of the per-frame "
                                   f"logits; risk 0.5 at {meta.decision_centre:.2f} (chosen from real recordings only)"}
        flag = float(settings.get(RISK_FLAG.key, RISK_FLAG.default))
        combined = self._combine_clip(value, signals, flag)
        if combined is not None:
            risk = combined
        confidence = min(1.0, logits.size / FULL_CONFIDENCE_SAMPLES) * min(1.0, 0.5 + track.coverage)
        per_second = self._risk_per_second(signals["clip"]["value"] if combined is not None else None)
        segments = self._segments(per_second, flag)
        top = self._top_frames()
        if risk >= flag:
            where = f", strongest around {segments[0][0]:.0f}-{segments[0][1]:.0f} s" if segments else ""
            cnn = f"the CNN finds it on {signals['model']['share_above_centre']:.0%} of {logits.size} checked frames"
            if "clip" in signals:
                c = signals["clip"]
                summary = (f"The face looks swapped or generated (risk {risk:.2f}{where}): {c['crops_flagged']} of {c['crops']} face "
                           f"crops read as swapped to the CLIP probe, which carries {c['weight']:.0%} of the score, and {cnn}. "
                           "The moments shown with maps say where on the face.")
            else:
                summary = f"The face looks swapped or generated to the face-swap model (risk {risk:.2f}{where}: {cnn})."
        elif risk >= WEAK_RISK:
            summary = (f"A weak sign of a swapped or generated face (risk {risk:.2f}, below the {flag:.2f} flag; about one real "
                       f"recording in twenty reaches {WEAK_RISK:.1f}): worth a look at the frames shown, not a finding on its own.")
        else:
            summary = f"No clear sign of a swapped or generated face in {logits.size} checked frames (risk {risk:.2f})."
        evidence = {
            "signals": signals,
            "risk_per_second": per_second,
            "high_risk_segments": [[round(a, 2), round(b, 2)] for a, b in segments],
            "top_frames": top,
            "clip_frames": self._clip_frames,
            "pixel_samples": int(logits.size),
            "model": self.net.name,
            "decision_centre": meta.decision_centre,
        }
        return Finding(self.name, risk, confidence, summary, evidence)

    def _combine_clip(self, net_value: float, signals: dict[str, dict[str, Any]], flag: float) -> float | None:
        """The CLIP probe on the face embedded at a few evenly spread moments, combined with the CNN's recording
        score (weights, units and the decision centre from assets/models/faceswap_clip.json, all
        chosen out of fold): the recording's risk, or None when the probe is not available."""
        if self.clip is None or len(self._clip_kept.items) < CLIP_MIN_CROPS:
            return None
        span = self._clip_kept.items[-1][0] - self._clip_kept.items[0][0] + CLIP_EVERY_S
        picked = self._clip_kept.pick(int(min(CLIP_MAX_CROPS, max(CLIP_MIN_CROPS, round(span / CLIP_SECONDS_PER_CROP)))))
        patches: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        try:
            logits = self.clip.logits(self.clip.read(np.stack([c for _, c in picked]), patches=patches))
        except (OSError, RuntimeError, ValueError, MemoryError) as exc:  # the encoder could not load or run: the CNN judges alone
            log.warning("faceswap: the CLIP probe could not run (%s); the CNN judges alone", exc)
            return None
        value = float(np.median(logits))
        score = self.clip.combined(net_value, value)
        risk = self.clip.risk(score)
        crop_risks = [self.clip.risk_of(net_value, float(v)) for v in logits]  # each crop as if every one read like it
        signals["clip"] = {
            "value": value, "score": risk, "used": True, "crops": len(picked),
            "crops_flagged": int(sum(r >= flag for r in crop_risks)),
            "times_s": [round(float(t), 2) for t, _ in picked], "logits": [round(float(v), 3) for v in logits],
            "combined": score, "weight": self.clip.weight, "decision_centre": self.clip.decision_centre,
            "features": list(self.clip.features),
            "doc": (f"linear probe on frozen CLIP ViT-B/16 features ({', '.join(self.clip.features)}) of {len(picked)} face crops (median logit), combined "
                    f"with the CNN's score ({self.clip.weight:.0%} CLIP, each in units of its spread on real recordings); "
                    f"risk 0.5 at {self.clip.decision_centre:.2f} (chosen from out-of-fold real recordings only)"),
        }
        signals["model"]["score_alone"] = signals["model"]["score"]
        signals["model"]["score"] = risk
        self._clip_frames = self._clip_evidence(picked, logits, crop_risks, self.clip.patch_logits(patches))
        return risk

    @staticmethod
    def _clip_evidence(picked: list[tuple[float, np.ndarray]], logits: np.ndarray, crop_risks: list[float],
                       maps: np.ndarray | None) -> list[dict[str, Any]]:
        """The CLIP probe's most swap-like crops (CLIP_FRAMES), each with where on the face its logit
        comes from (ClipProbe.patch_logits: the patches that read more swapped than the average
        training face, brightest where they add most), as bright as the recording's risk would be
        if every crop read like this one."""
        if maps is None:
            return []
        out = []
        for i in np.argsort(-logits)[:CLIP_FRAMES]:
            t, crop = picked[int(i)]
            risk = crop_risks[i]
            pos = np.maximum(maps[i], 0.0)
            heat = cv2.resize(pos / max(float(pos.max()), 1e-6), crop.shape[1::-1], interpolation=cv2.INTER_CUBIC)
            heat = np.clip(heat, 0.0, 1.0) * risk
            out.append({
                "t": round(float(t), 3),
                "logit": round(float(logits[i]), 4),
                "risk": round(risk, 4),
                "face_png": _png_b64(crop),
                "heatmap_png": _png_b64(_overlay(crop, heat)),
                "model": "clip",
            })
        return out

    def _signals(self, context: RecordingContext) -> dict[str, dict[str, Any]]:
        """The hand-made signals, all reported with ``used: false``."""
        track = context.track
        present = track.present
        out: dict[str, dict[str, Any]] = {}
        blends = np.array([s.blend for s in self.samples if np.isfinite(s.blend)])
        out["blend"] = {"value": float(np.median(blends)) if blends.size else None, "score": None, "used": False,
                        "doc": "blending-boundary probability (hand-made features, logistic model on self-blends), median over frames"}
        fvf = np.array([s.face_vs_frame for s in self.samples if np.isfinite(s.face_vs_frame)])
        out["face_vs_frame_noise"] = {"value": float(np.median(fvf)) if fvf.size else None, "score": None, "used": False,
                                      "doc": "log noise level of the face over the rest of the frame (lower = smoother face)"}
        rate, blinks, seconds = S.blink_rate(track.landmarks, present, track.times)
        base = float(context.settings.get(BLINK_BASE_RATE.key, BLINK_BASE_RATE.default))
        expected = base * seconds / 60.0
        score = None
        if expected >= BLINK_MIN_EXPECTED:
            # probability a real person with the base rate blinks this few times (Poisson)
            score = 1.0 - sum(math.exp(-expected) * expected**k / math.factorial(k) for k in range(blinks + 1))
        out["blink"] = {"value": rate, "blinks": blinks, "seconds": seconds, "score": score, "used": False,
                        "doc": "blinks per minute; score = 1 - P(this few blinks | base rate)"}
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
        and the model's logit right around them against the rest."""
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
        near = [s.logit for s in self.samples if any(a - 1.0 <= s.t <= b + 1.0 for a, b in events) and np.isfinite(s.logit)]
        rest = [s.logit for s in self.samples if np.isfinite(s.logit)]
        value = float(np.mean(near) - np.mean(rest)) if near and rest else None
        return {"value": value, "events": [[round(a, 2), round(b, 2)] for a, b in events], "score": None, "used": False,
                "doc": "model logit next to short face losses minus elsewhere"}

    def _risk_per_second(self, clip_value: float | None = None) -> list[list[float]]:
        """Risk per SEGMENT_S: the CNN's aggregate over that second's frames, mapped as the whole
        recording's is: alone, or combined with the CLIP probe's recording value (``clip_value``,
        the same every second: the probe reads a few crops of the whole recording), so that the
        line sits where the check's risk does."""
        assert self.net is not None
        meta = self.net.meta
        by_sec: dict[int, list[float]] = {}
        for s in self.samples:
            if np.isfinite(s.logit):
                by_sec.setdefault(int(s.t // SEGMENT_S), []).append(s.logit)

        def risk(value: float) -> float:
            return meta.risk(value) if clip_value is None or self.clip is None else self.clip.risk_of(value, clip_value)

        return [[round(sec * SEGMENT_S, 2), round(risk(float(np.percentile(by_sec[sec], meta.aggregate_percentile))), 4)]
                for sec in sorted(by_sec)]

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
        assert self.net is not None
        out = []
        for logit, index, crop, sbox, t in sorted(self._top, key=lambda x: -x[0]):
            # where hiding the face lowers the model's evidence most; its brightness says how sure it is
            risk = self.net.meta.risk(logit)
            heat = self.net.occlusion_map(crop, logit) * risk
            overlay = _overlay(crop, heat)
            out.append({
                "t": round(t, 3),
                "frame_index": int(index),
                "box": [int(v) for v in sbox],  # face box, source px
                "logit": round(logit, 4),
                "risk": round(risk, 4),
                "face_png": _png_b64(crop),
                "heatmap_png": _png_b64(overlay),
            })
        return out
