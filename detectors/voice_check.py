"""Voice check: who speaks in the candidate's recordings.

The face can be swapped; the voice usually is not. For every recording the pass computes the
candidate's voice print (:mod:`detectors.voice`: the speech segments whose voice comes with the
candidate's moving mouth; an interviewer's voice is set aside). This check then asks:

* is it the same voice in every recording of the candidate? A proxy interview (someone else
  sits the technical interview) shows as two recordings whose voices are far apart;
* does the voice change within one recording while the same face keeps talking?
* was this voice heard before under another candidate's name (the library's voice prints,
  searched like faces)? That is decisive, like a reused face. Only a print that is surely the
  candidate's (:func:`attributed`: the recording's one voice, or the voice that comes with the
  candidate's moving mouth) is searched, and only such prints are stored
  (:func:`storable_print`): an interviewer's voice, heard in many candidates' interviews, must
  never be taken for a voice shared between candidates.

Distances are cosine distances between GE2E voice prints. Measured on the shared clips
(``bench/voice_bench.py``): same-speaker prints up to 0.26 apart, different speakers from 0.19
(short prints) and from 0.25 with 5 s of speech or more; same-vs-different ROC AUC 0.998.
The thresholds below sit outside both ranges, so that neither a proxy nor a shared voice is
claimed on the overlap.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from pathlib import Path
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


def attributed(v: RecordingVoice) -> bool:
    """The recording's candidate voice is surely the candidate's: it is the only voice heard,
    or it was told from the others by the candidate's moving mouth (not merely by speaking most)."""
    if v.print is None:
        return False
    return len(v.voices) < 2 or v.mouth_activity(v.candidate) is not None


@dataclass(frozen=True)
class StoredPrint:
    """What the library keeps of a recording's voice: the candidate's print (no audio) and
    where in the recording it can be heard (the longest of the candidate's speech segments)."""

    embedding: np.ndarray  # (256,) float32, unit length
    speech_s: float
    start_s: float | None
    end_s: float | None


def storable_print(voice: Any) -> StoredPrint | None:
    """The voice print of a recording (``RecordingResult.voice``) that the library stores, or
    None: no speech long enough (:data:`MIN_SPEECH_S`), or a candidate voice that is not surely
    the candidate's (:func:`attributed`)."""
    if not isinstance(voice, RecordingVoice) or not attributed(voice) or voice.print.speech_s < MIN_SPEECH_S:
        return None
    segs = [g for g in voice.segments if g.speaker == voice.candidate]
    longest = max(segs, key=lambda g: g.end_s - g.start_s) if segs else None
    emb = np.asarray(voice.print.embedding, np.float32).reshape(-1)
    if not np.all(np.isfinite(emb)):
        return None
    return StoredPrint(emb, float(voice.print.speech_s), None if longest is None else float(longest.start_s),
                       None if longest is None else float(longest.end_s))


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
            "full_confidence_speech_s": full,
        }
        parts: list[tuple[float, float, str]] = []  # (risk, confidence, reason)
        shared: tuple[float, float, str] | None = None  # the same voice under another name leads

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
            raw_c = v.mouth_activity(v.candidate)  # None: no face seen while the candidate voice speaks
            act_c = raw_c or 0.0
            for k, other in enumerate(v.voices):
                if k == v.candidate or other is None:
                    continue
                act_o = v.mouth_activity(k)
                d = v.print.distance(other)
                talking = act_o is not None and act_c > 0 and act_o >= ACTIVE_MOUTH * act_c
                if talking:
                    verdict = "the face talks with both voices"
                elif raw_c is None and act_o is None:
                    verdict = "second voice with no face on screen (cannot tell whose)"
                else:
                    verdict = "second voice with a still mouth (interviewer)"
                evidence["within"].append({
                    "recording": _name(v.path), "distance": round(d, 4), "other_voice_speech_s": round(other.speech_s, 1),
                    "mouth_activity": [None if raw_c is None else round(raw_c, 4), None if act_o is None else round(act_o, 4)],
                    "verdict": verdict,
                    "segments": [[round(g.start_s, 2), round(g.end_s, 2)] for g in v.segments if g.speaker == k],
                })
                if talking and d >= different:
                    conf = _confidence(v.print, other, full)
                    parts.append((min(1.0, (d - different) / RAMP + 0.5), conf,
                                  f"The voice changes within {_name(v.path)} while the same face talks (distance {d:.2f})"))

        # the same voice under another name (or in a watchlist)
        search = getattr(context.library, "search_voices", None)
        if callable(search):
            evidence["not_searched"] = []
            for v in voices:
                if not attributed(v):  # it may be the interviewer's voice: never searched
                    evidence["not_searched"].append(_name(v.path))
                    continue
                try:
                    matches = search(v.print.embedding, exclude_candidate=context.name, max_distance=same, limit=MAX_MATCHES)
                except Exception as exc:  # noqa: BLE001 - the library's failure must not fail the candidate
                    log.warning("voice search failed: %s", exc)
                    continue
                for m in matches:
                    evidence["library_matches"].append({"recording": _name(v.path), "query_speech_s": round(v.print.speech_s, 1), **m})
            if evidence["library_matches"]:
                evidence["library_matches"].sort(key=lambda m: m["distance"])
                best = evidence["library_matches"][0]
                owner = (f"candidate {best['candidate']}" if best.get("candidate") is not None
                         else f"collection {best.get('collection')}")
                their = str(best.get("file") or "").rsplit("/", 1)[-1] or "interview"
                conf = float(min(1.0, float(best.get("speech_s") or 0.0) / full) * min(1.0, best["query_speech_s"] / full))
                # another candidate's voice settles the case alone (scoring caps the score), as
                # another candidate's face does in the reuse check; a watchlist voice does not
                evidence["decisive"] = best.get("candidate") is not None
                others = sorted({m["candidate"] for m in evidence["library_matches"] if m.get("candidate") is not None})
                evidence["other_candidates"] = others
                reason = (f"The same voice as in {best['recording']} is in the library under {owner} "
                          f"({their}, voice distance {best['distance']:.2f}).")
                if len(others) > 1:
                    reason += f" Also under {len(others) - 1} other candidate name(s)."
                shared = (1.0, max(conf, 0.5), reason)

        if shared is not None:
            others_ranked = sorted(parts, key=lambda p: p[0] * p[1], reverse=True)
            evidence["reasons"] = [shared[2]] + [p[2] for p in others_ranked]
            return Finding(self.name, shared[0], shared[1], shared[2], evidence)
        if not parts:
            n = len(voices)
            if n > 1:
                summary = "One voice throughout the candidate's recordings"
            elif len(voices[0].voices) > 1:
                summary = f"The candidate's voice is one voice; {len(voices[0].voices) - 1} other voice(s) set aside (an interviewer's)"
            else:
                summary = "One voice in the recording"
            unsearched = evidence.get("not_searched") or []
            if callable(search) and len(unsearched) == len(voices):
                summary += "; not searched in the library (the candidate's voice could not be told from the others)"
            elif callable(search):
                summary += "; not heard under another name"
                if unsearched:
                    summary += f" (not searched: {', '.join(unsearched)})"
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
    return Path(path).name
