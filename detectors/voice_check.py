"""Voice check: who speaks in the candidate's recordings.

The face can be swapped; the voice usually is not. For every recording the pass computes the
candidate's voice print (:mod:`detectors.voice`: the speech segments whose voice comes with the
candidate's moving mouth; an interviewer's voice is set aside). This check then asks:

* is it the same voice in every recording of the candidate? A proxy interview (someone else
  sits the technical interview) shows as two recordings whose voices are far apart;
* does the voice change within one recording while the same face keeps talking?
* was this voice heard before under another candidate's name (the library's voice prints,
  searched like faces)? That is decisive, like a reused face.

Distances are cosine distances between GE2E voice prints. Measured on the shared clips
(``bench/voice_bench.py``): same-speaker prints up to 0.26 apart, different speakers from 0.19
(short prints) and from 0.25 with 5 s of speech or more; same-vs-different ROC AUC 0.998.
The thresholds below sit outside both ranges, so that neither a proxy nor a shared voice is
claimed on the overlap.
"""

from __future__ import annotations

import itertools
import logging
from typing import Any

import numpy as np

from .base import CandidateContext, Detector, Finding
from .settings import setting
from .voice import RecordingVoice, VoicePrint

log = logging.getLogger(__name__)

SAME_VOICE = setting(
    "voice.same_distance", 0.15, 0.05, 0.3,
    "Voice prints at most this far apart (cosine distance) are the same voice: another candidate's "
    "voice this close is decisive. Different speakers measured here from 0.19.",
)
DIFFERENT_VOICE = setting(
    "voice.different_distance", 0.35, 0.2, 0.6,
    "Voice prints at least this far apart are different people (a proxy interview when they are two "
    "recordings of one candidate). Same speakers measured here up to 0.26.",
)
FULL_SPEECH = setting(
    "voice.full_confidence_speech_s", 8.0, 2.0, 60.0,
    "Seconds of speech in each print for a full-confidence comparison.", "s",
)

MIN_SPEECH_S = 2.0
"""A print with less speech than this is not compared at all."""

RAMP = 0.1
"""Risk rises from 0 to 1 over this much distance beyond the 'different voice' bar's start."""

ACTIVE_MOUTH = 0.5
"""Within a recording, a second voice counts as the candidate's own face talking when its
segments' mouth activity is at least this share of the candidate voice's."""

MAX_MATCHES = 5
"""Library matches kept as evidence."""


def _confidence(a: VoicePrint, b: VoicePrint, full: float) -> float:
    return float(min(1.0, a.speech_s / full) * min(1.0, b.speech_s / full))


class VoiceDetector(Detector):
    name = "voice"
    scope = "candidate"

    def analyze(self, context: CandidateContext) -> Finding | None:
        s = context.settings
        same = float(s.get(SAME_VOICE.key, SAME_VOICE.default))
        different = float(s.get(DIFFERENT_VOICE.key, DIFFERENT_VOICE.default))
        full = float(s.get(FULL_SPEECH.key, FULL_SPEECH.default))
        voices: list[RecordingVoice] = [
            r.voice for r in context.recordings
            if isinstance(r.voice, RecordingVoice) and r.voice.print is not None and r.voice.print.speech_s >= MIN_SPEECH_S
        ]
        if not voices:
            return None if not context.recordings else Finding(
                self.name, 0.0, 0.0, "No speech long enough to compare voices", {"recordings": []}
            )
        evidence: dict[str, Any] = {
            "recordings": [self._describe(v) for v in voices],
            "pairs": [],
            "within": [],
            "library_matches": [],
            "thresholds": {"same": same, "different": different},
        }
        parts: list[tuple[float, float, str]] = []  # (risk, confidence, reason)

        # proxy interview: the candidate's recordings against each other
        for a, b in itertools.combinations(voices, 2):
            d = a.print.distance(b.print)
            conf = _confidence(a.print, b.print, full)
            risk = float(np.clip((d - different) / RAMP + 0.5, 0.0, 1.0)) if d >= different - RAMP / 2 else 0.0
            evidence["pairs"].append({"a": _name(a.path), "b": _name(b.path), "distance": round(d, 4), "confidence": round(conf, 3)})
            if risk > 0:
                parts.append((risk, conf, f"Different voices in {_name(a.path)} and {_name(b.path)} (distance {d:.2f}): a proxy interview?"))

        # within one recording: a second voice on the candidate's own talking face
        for v in voices:
            if len(v.voices) < 2 or v.candidate is None:
                continue
            act_c = v.mouth_activity(v.candidate) or 0.0
            for k, other in enumerate(v.voices):
                if k == v.candidate or other is None:
                    continue
                act_o = v.mouth_activity(k)
                d = v.print.distance(other)
                talking = act_o is not None and act_c > 0 and act_o >= ACTIVE_MOUTH * act_c
                evidence["within"].append({
                    "recording": _name(v.path), "distance": round(d, 4), "other_voice_speech_s": round(other.speech_s, 1),
                    "mouth_activity": [round(act_c, 4), None if act_o is None else round(act_o, 4)],
                    "verdict": "the face talks with both voices" if talking else "second voice with a still mouth (interviewer)",
                    "segments": [[round(g.start_s, 2), round(g.end_s, 2)] for g in v.segments if g.speaker == k],
                })
                if talking and d >= different:
                    conf = _confidence(v.print, other, full)
                    parts.append((min(1.0, (d - different) / RAMP + 0.5), conf,
                                  f"The voice changes within {_name(v.path)} while the same face talks (distance {d:.2f})"))

        # the same voice under another name
        search = getattr(context.library, "search_voices", None)
        if callable(search):
            for v in voices:
                try:
                    matches = search(v.print.embedding, exclude_candidate=context.name, max_distance=same, limit=MAX_MATCHES)
                except Exception as exc:  # noqa: BLE001 - the library's failure must not fail the candidate
                    log.warning("voice search failed: %s", exc)
                    continue
                for m in matches:
                    evidence["library_matches"].append({"recording": _name(v.path), **m})
            if evidence["library_matches"]:
                best = min(evidence["library_matches"], key=lambda m: m["distance"])
                who = best.get("candidate") or best.get("collection") or "another candidate"
                conf = float(min(1.0, best.get("speech_s", full) / full) * min(1.0, voices[0].print.speech_s / full))
                evidence["decisive"] = bool(best.get("candidate"))
                parts.append((1.0, max(conf, 0.5), f"The same voice as {who} (distance {best['distance']:.2f})"))

        if not parts:
            n = len(voices)
            summary = ("One voice throughout the candidate's recordings" if n > 1 else "One voice in the recording")
            if callable(search):
                summary += "; not heard under another name"
            conf = max(_confidence(v.print, v.print, full) for v in voices)
            return Finding(self.name, 0.0, conf, summary, evidence)
        parts.sort(key=lambda p: p[0] * p[1], reverse=True)
        risk, conf, reason = parts[0]
        evidence["reasons"] = [p[2] for p in parts]
        return Finding(self.name, risk, conf, reason, evidence)

    @staticmethod
    def _describe(v: RecordingVoice) -> dict[str, Any]:
        cand = v.candidate
        segs = [g for g in v.segments if g.speaker == cand]
        longest = max(segs, key=lambda g: g.end_s - g.start_s) if segs else None
        return {
            "recording": _name(v.path),
            "speech_s": round(v.speech_s, 1),
            "voices": len(v.voices),
            "candidate_speech_s": round(v.print.speech_s, 1) if v.print else 0.0,
            "excerpt": None if longest is None else [round(longest.start_s, 2), round(longest.end_s, 2)],
        }


def _name(path: str) -> str:
    from pathlib import Path

    return Path(path).name
