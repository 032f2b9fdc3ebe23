"""identity: is the person in the interview the person on the ID photo?

The ID portrait's dlib embedding (detectors.faces.faces_in_image, largest face) is compared with
every sampled embedding of the interview's main face (``track.embeddings`` of each recording).
The decision rests on the median distance over all sampled frames, not on one frame; the share
of frames that match says how consistent it is. A second person in the interview
(``track.second_person``) is evidence too, and stronger when that other face is the one that
matches the ID (someone else sat the interview, or was swapped in).

Proxy interviews: the candidate's recordings are also compared with each other, with or without
an ID photo. Each recording's main face (``track.main_identity``, the centre of its sampled
embeddings) is compared with every other recording's; two recordings whose faces are further
apart than the same-person limit show different people (someone else sat the second interview).
:func:`cross_recording` does this on plain arrays so it can be measured on labelled pairs
(``bench/proxy_interview.py``).
"""

from __future__ import annotations

import base64
import io
import logging
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .base import CandidateContext, Detector, Finding, clamp01
from .settings import setting

log = logging.getLogger(__name__)

MAX_DISTANCE = setting(
    "identity.max_distance", 0.6, 0.3, 0.9,
    "Median dlib distance between interview face and ID portrait above which they are different people.",
)
MATCH_MARGIN = 0.1
"""Risk rises from 0 at (max_distance - margin) to 1 at (max_distance + margin)."""
FULL_CONFIDENCE_FRAMES = 8
"""Sampled interview embeddings needed for full confidence."""
MIN_ID_FACE_PX = 60
"""ID portraits narrower than this (px) give less reliable embeddings: confidence halves."""
SECOND_PERSON_RISK = 0.5
"""Risk from a second person in the interview when the main face matches the ID."""
OTHER_MATCHES_ID_RISK = 0.9
"""Risk when the second person, not the main face, matches the ID portrait."""
THUMB_PX = 128
PROXY_MIN_EMBEDDINGS = 2
"""Sampled embeddings a recording needs before its main face is compared with the others'."""
PROXY_FULL_CONFIDENCE_EMBEDDINGS = 4
"""Embeddings in the thinner recording of a pair for full confidence in the cross-recording comparison."""


@dataclass(frozen=True)
class RecordingPair:
    """Two of a candidate's recordings and the distance between their main faces."""

    a: str
    b: str
    distance: float
    same_person: bool


@dataclass(frozen=True)
class CrossRecording:
    """The candidate's recordings compared with each other (proxy interviews)."""

    pairs: tuple[RecordingPair, ...]
    odd_ones: tuple[str, ...]  # recordings whose face differs from the majority's (or from the first's)
    risk: float
    confidence: float
    summary: str
    limit: float  # the same-person distance limit used
    skipped: tuple[str, ...] = ()  # recordings with too few embedded faces to compare

    def to_evidence(self) -> dict[str, Any]:
        return {
            "pairs": [{"a": p.a, "b": p.b, "distance": round(p.distance, 4), "same_person": p.same_person} for p in self.pairs],
            "different_people": list(self.odd_ones),
            "skipped": list(self.skipped),
            "risk": round(self.risk, 4),
            "confidence": round(self.confidence, 4),
            "threshold": self.limit,
        }


def pair_risk(distance: float, limit: float) -> float:
    """Risk that two main faces belong to different people: 0 below (limit - margin), 1 above (limit + margin)."""
    return clamp01((distance - (limit - MATCH_MARGIN)) / (2 * MATCH_MARGIN))


def cross_recording(recordings: Sequence[tuple[str, np.ndarray, np.ndarray | None]], limit: float) -> CrossRecording | None:
    """Compare each recording's main face with every other's.

    ``recordings``: (path, sampled embeddings (n, 128), main identity (128,) or None). Returns None
    when fewer than two recordings have enough embedded faces. The risk is the largest pair risk;
    the confidence grows with the embeddings behind the thinner recording of that pair."""
    from pathlib import Path

    from .faces import face_distance

    usable = [(p, np.asarray(c, np.float32), len(e)) for p, e, c in recordings
              if c is not None and len(e) >= PROXY_MIN_EMBEDDINGS]
    skipped = tuple(p for p, e, c in recordings if c is None or len(e) < PROXY_MIN_EMBEDDINGS)
    if len(usable) < 2:
        return None
    centres = np.stack([c for _, c, _ in usable])
    d = face_distance(centres, centres)
    pairs = []
    worst, worst_conf = 0.0, 0.0
    for i in range(len(usable)):
        for j in range(i + 1, len(usable)):
            dist = float(d[i, j])
            pairs.append(RecordingPair(usable[i][0], usable[j][0], dist, dist < limit))
            r = pair_risk(dist, limit)
            conf = min(1.0, min(usable[i][2], usable[j][2]) / PROXY_FULL_CONFIDENCE_EMBEDDINGS)
            if (r, conf) > (worst, worst_conf):
                worst, worst_conf = r, conf
    if worst == 0.0:
        worst_conf = min(1.0, min(n for _, _, n in usable) / PROXY_FULL_CONFIDENCE_EMBEDDINGS)
    # the odd ones: recordings unlike most others (ties: unlike the first recording)
    same_count = (d < limit).sum(axis=1)
    reference = int(np.argmax(same_count))  # first of the largest same-person group
    odd = tuple(usable[k][0] for k in range(len(usable)) if d[reference, k] >= limit)
    names = [Path(p).name for p in odd]
    if odd:
        ref_name = Path(usable[reference][0]).name
        far = max(float(d[reference, k]) for k in range(len(usable)) if d[reference, k] >= limit)
        summary = (f"Different people in this candidate's recordings: {', '.join(names)} "
                   f"{'does' if len(names) == 1 else 'do'} not show the person in {ref_name} "
                   f"(face distance up to {far:.2f}, same person below {limit:.2f}).")
    else:
        summary = (f"The same person in all {len(usable)} recordings "
                   f"(largest face distance {float(d.max()):.2f}, same person below {limit:.2f}).")
    return CrossRecording(tuple(pairs), odd, worst, worst_conf, summary, limit, skipped)


def face_png(rgb: np.ndarray, box: tuple[int, int, int, int], size: int = THUMB_PX) -> str:
    """A small base64 PNG of a face crop (evidence for the app)."""
    from PIL import Image

    x0, y0, x1, y1 = box
    mx, my = (x1 - x0) // 5, (y1 - y0) // 5
    h, w = rgb.shape[:2]
    crop = rgb[max(0, y0 - my):min(h, y1 + my), max(0, x0 - mx):min(w, x1 + mx)]
    im = Image.fromarray(np.ascontiguousarray(crop))
    im.thumbnail((size, size))
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def id_portrait(context: CandidateContext) -> tuple[Any, Any] | None:
    """(LoadedImage, ImageFace) of the ID photo's portrait: the largest face in the first ID
    photo that has one."""
    from .faces import faces_in_image

    for img in [i for i in context.images if i.role == "id"]:
        faces = faces_in_image(img)
        if faces:
            return img, faces[0]
    return None


class IdentityDetector(Detector):
    name = "identity"
    scope = "candidate"

    def analyze(self, context: CandidateContext) -> Finding | None:
        ids = [i for i in context.images if i.role == "id"]
        limit = float(context.settings.get(MAX_DISTANCE.key, MAX_DISTANCE.default))
        cross = cross_recording(
            [(r.path, np.asarray(r.track.embeddings, np.float32).reshape(-1, 128), r.track.main_identity)
             for r in context.recordings if r.track is not None], limit)
        finding = self._against_id(context, ids, limit) if ids else None
        return _with_cross(self.name, finding, cross)

    def _against_id(self, context: CandidateContext, ids: list[Any], limit: float) -> Finding:
        from .faces import face_distance

        portrait = id_portrait(context)
        if portrait is None:
            return Finding(self.name, 0.0, 0.0, "No face found on the ID photo: identity not checked.",
                           {"id_photos": [i.path for i in ids]})
        img, face = portrait
        evidence: dict[str, Any] = {
            "id_photo": img.path,
            "id_face_box": list(face.box),
            "id_face_png": face_png(img.rgb, face.box),
            "threshold": limit,
        }
        recs = [r for r in context.recordings if r.track is not None]
        if not recs:
            return Finding(self.name, 0.0, 0.0, "No interview recording to compare with the ID photo.", evidence)
        all_d: list[float] = []
        per_rec: dict[str, Any] = {}
        second: list[str] = []
        other_matches: list[str] = []
        for r in recs:
            t = r.track
            emb = np.asarray(t.embeddings, dtype=np.float32).reshape(-1, 128)
            d = face_distance(emb, face.embedding)[:, 0] if emb.size else np.zeros(0)
            all_d.extend(float(v) for v in d)
            entry: dict[str, Any] = {
                "embeddings": int(d.size),
                "median_distance": float(np.median(d)) if d.size else None,
                "match_fraction": float((d < limit).mean()) if d.size else None,
                "main_identity_distance": float(face_distance(t.main_identity, face.embedding)[0, 0]) if t.main_identity is not None else None,
                "distances": [[round(float(tt), 2), round(float(v), 3)] for tt, v in zip(t.embedding_times, d)],
                "second_person": bool(t.second_person),
            }
            if t.second_person:
                second.append(r.path)
                entry["second_person_times"] = list(t.second_person_times)
                entry["second_person_reason"] = t.second_person_reason
            other = np.asarray(getattr(t, "other_embeddings", np.zeros((0, 128))), dtype=np.float32).reshape(-1, 128)
            if other.size:
                od = face_distance(other, face.embedding)[:, 0]
                entry["other_face_best_distance"] = float(od.min())
                if float(od.min()) < limit and (not d.size or float(od.min()) < float(np.median(d))):
                    other_matches.append(r.path)
            per_rec[r.path] = entry
        evidence["recordings"] = per_rec
        if not all_d:
            return Finding(self.name, 0.0, 0.0, "No face was embedded in the interview: identity not checked.", evidence)
        d = np.array(all_d)
        median = float(np.median(d))
        frac = float((d < limit).mean())
        evidence.update({"median_distance": median, "match_fraction": frac, "frames_compared": int(d.size)})
        risk = clamp01((median - (limit - MATCH_MARGIN)) / (2 * MATCH_MARGIN))
        confidence = min(1.0, d.size / FULL_CONFIDENCE_FRAMES)
        # consistency: frames far on the wrong side of the decision weaken confidence
        confidence *= max(frac, 1 - frac)
        if face.width < MIN_ID_FACE_PX:
            confidence *= 0.5
            evidence["id_face_small"] = True
        same = median < limit
        summary = (
            f"Interview face matches the ID photo (median distance {median:.2f} over {d.size} frames, {frac:.0%} match)."
            if same else
            f"Interview face does not match the ID photo (median distance {median:.2f} over {d.size} frames, only {frac:.0%} match)."
        )
        if other_matches:
            risk = max(risk, OTHER_MATCHES_ID_RISK)
            confidence = max(confidence, 0.7)
            summary = "A second person in the interview, not the main face, matches the ID photo. " + summary
        elif second:
            risk = max(risk, SECOND_PERSON_RISK)
            confidence = max(confidence, 0.5)
            summary += " A second person appears in the interview."
        evidence["same_person"] = same
        evidence["second_person_recordings"] = second
        evidence["second_person_matches_id"] = other_matches
        return Finding(self.name, risk, confidence, summary, evidence)


def _with_cross(name: str, finding: Finding | None, cross: CrossRecording | None) -> Finding | None:
    """Add the cross-recording comparison to the ID-photo finding (or make it the finding)."""
    if cross is None:
        return finding
    if finding is None:
        return Finding(name, cross.risk, cross.confidence, cross.summary,
                       {"cross_recording": cross.to_evidence(), "threshold": cross.limit})
    evidence = dict(finding.evidence)
    evidence["cross_recording"] = cross.to_evidence()
    risk, confidence, summary = finding.risk, finding.confidence, finding.summary
    if cross.odd_ones:
        summary = f"{cross.summary} {summary}"
        if cross.risk * cross.confidence > risk * confidence:
            risk, confidence = cross.risk, cross.confidence
    elif finding.confidence == 0.0:
        summary = f"{summary} {cross.summary}"
    return Finding(name, risk, confidence, summary, evidence)

