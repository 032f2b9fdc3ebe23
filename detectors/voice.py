"""Speaker embeddings: who is speaking in a recording, as a 256-d voice print.

The encoder is Resemblyzer's GE2E speaker encoder (Apache-2.0; a 3-layer LSTM over 40 mel
bands), converted once to ONNX by ``training/convert_voice_encoder.py`` (which also checks the
conversion against the original: cosine agreement above 0.999) and run here with onnxruntime.

A recording is heard as partial utterances of PARTIAL_S seconds every STEP_S seconds, as the
audio streams past (:class:`VoiceListener`): only the partials' embeddings are kept (1 KB per
0.8 s), never the samples. After the pass, the partials that fall on speech (the audio track's
voice activity) are averaged into the recording's voice print (:func:`VoicePrint`), and the
partials can be grouped to find a change of voice within the recording.

Voice prints are biometric data: they are stored, erased and exported exactly like face
embeddings.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .media import AUDIO_RATE
from .models import MODELS_DIR, session

log = logging.getLogger(__name__)

MODEL = "voice_encoder.onnx"
MEL_FILTERS = "voice_mel_filters.npy"

N_FFT = 400
"""25 ms analysis window at 16 kHz (the encoder's front end)."""
HOP = 160
"""10 ms hop."""
PARTIAL_FRAMES = 160
"""Frames in one partial utterance (1.6 s): what the encoder was trained on."""
PARTIAL_S = PARTIAL_FRAMES * HOP / AUDIO_RATE
STEP_FRAMES = 80
"""A partial every 0.8 s (half overlap)."""
STEP_S = STEP_FRAMES * HOP / AUDIO_RATE
BATCH = 16
"""Partials run through the encoder together."""
MIN_TAIL_COVERAGE = 0.75
"""The last, incomplete partial counts when at least this share of it is audio (as Resemblyzer)."""
MIN_SPEECH_SHARE = 0.5
"""A partial counts towards the voice print when at least this share of it is speech."""
NORM_TARGET_DBFS = -30.0
"""Quiet audio is raised to this level before the encoder (as Resemblyzer; never lowered)."""


@dataclass(frozen=True)
class VoicePrint:
    """A recording's (or segment's) voice: the mean of its speech partials, L2-normalised."""

    embedding: np.ndarray  # (256,) float32
    speech_s: float  # seconds of speech behind it
    partials: int

    def distance(self, other: "VoicePrint") -> float:
        return cosine_distance(self.embedding, other.embedding)


def cosine_distance(a: np.ndarray, b: np.ndarray) -> float:
    a = np.asarray(a, np.float32)
    b = np.asarray(b, np.float32)
    return float(1.0 - np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))


def _filters() -> np.ndarray:
    global _FILTERS
    if _FILTERS is None:
        _FILTERS = np.load(MODELS_DIR / MEL_FILTERS).astype(np.float32)
    return _FILTERS


_FILTERS: np.ndarray | None = None
_WINDOW = (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)  # periodic Hann


def mel_frames(wav: np.ndarray) -> np.ndarray:
    """Mel power spectrogram (frames, 40) of a 16 kHz waveform, as librosa computes it (centred frames)."""
    wav = np.asarray(wav, np.float32)
    padded = np.pad(wav, (N_FFT // 2, N_FFT // 2))
    n = 1 + (padded.size - N_FFT) // HOP
    if n <= 0:
        return np.zeros((0, _filters().shape[0]), np.float32)
    idx = np.arange(N_FFT)[None, :] + HOP * np.arange(n)[:, None]
    spec = np.fft.rfft(padded[idx] * _WINDOW, axis=1)
    power = (spec.real**2 + spec.imag**2).astype(np.float32)
    return power @ _filters().T


def encode(mels: np.ndarray) -> np.ndarray:
    """Embeddings (n, 256) of a batch of partial utterances (n, frames, 40)."""
    if len(mels) == 0:
        return np.zeros((0, 256), np.float32)
    out = session(MODEL).run(None, {"mels": np.ascontiguousarray(mels, np.float32)})[0]
    return out.astype(np.float32)


def _gain(wav: np.ndarray) -> float:
    """Raise quiet audio to NORM_TARGET_DBFS (never lower it), as the encoder's training did."""
    rms = float(np.sqrt(np.mean(np.square(wav, dtype=np.float64)))) if wav.size else 0.0
    if rms <= 1e-9:
        return 1.0
    change_db = NORM_TARGET_DBFS - 20.0 * np.log10(rms)
    return float(10.0 ** (change_db / 20.0)) if change_db > 0 else 1.0


def embed_utterance(wav: np.ndarray) -> np.ndarray:
    """One embedding for a whole (already preprocessed) utterance, as Resemblyzer's
    ``embed_utterance`` (partials at 1.3 per second, mean, L2 norm). Used to verify the conversion
    and for short clips; recordings stream through :class:`VoiceListener` instead."""
    wav = np.asarray(wav, np.float32)
    samples_per_frame = HOP
    n_frames = int(np.ceil((wav.size + 1) / samples_per_frame))
    frame_step = int(np.round((AUDIO_RATE / 1.3) / samples_per_frame))
    steps = max(1, n_frames - PARTIAL_FRAMES + frame_step + 1)
    starts = list(range(0, steps, frame_step))
    last = starts[-1] * samples_per_frame
    coverage = (wav.size - last) / (PARTIAL_FRAMES * samples_per_frame)
    if coverage < MIN_TAIL_COVERAGE and len(starts) > 1:
        starts = starts[:-1]
    need = (starts[-1] + PARTIAL_FRAMES) * samples_per_frame
    if need >= wav.size:
        wav = np.pad(wav, (0, need - wav.size))
    mel = mel_frames(wav)
    parts = encode(np.stack([mel[s : s + PARTIAL_FRAMES] for s in starts]))
    mean = parts.mean(axis=0)
    return mean / np.linalg.norm(mean)


def read_audio(path: str | Path, max_seconds: float | None = None) -> np.ndarray:
    """A file's audio as 16 kHz mono float32 (whole, for short clips and tools; the analysis streams)."""
    import av

    chunks = []
    total = 0
    limit = None if max_seconds is None else int(max_seconds * AUDIO_RATE)
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return np.zeros(0, np.float32)
        resampler = av.AudioResampler(format="flt", layout="mono", rate=AUDIO_RATE)
        for frame in container.decode(audio=0):
            for out in resampler.resample(frame):
                a = out.to_ndarray().reshape(-1).astype(np.float32)
                chunks.append(a)
                total += a.size
            if limit is not None and total >= limit:
                break
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().reshape(-1).astype(np.float32))
    wav = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    return wav if limit is None else wav[:limit]


@dataclass(frozen=True)
class VoiceTrack:
    """The partials of one recording: start times (s, file time), embeddings, loudness."""

    starts: np.ndarray  # (P,)
    embeddings: np.ndarray  # (P, 256) float32
    level_db: np.ndarray  # (P,) RMS dBFS of each partial

    @classmethod
    def empty(cls) -> "VoiceTrack":
        return cls(np.zeros(0), np.zeros((0, 256), np.float32), np.zeros(0))

    def __len__(self) -> int:
        return int(self.starts.size)

    def speech_share(self, voiced_times: np.ndarray, voiced: np.ndarray) -> np.ndarray:
        """Share of each partial that is speech, from a voice-activity mask at ``voiced_times``."""
        if not len(self) or voiced.size == 0:
            return np.zeros(len(self))
        c = np.concatenate([[0.0], np.cumsum(voiced.astype(float))])
        lo = np.searchsorted(voiced_times, self.starts)
        hi = np.searchsorted(voiced_times, self.starts + PARTIAL_S)
        n = np.maximum(hi - lo, 1)
        return (c[hi] - c[lo]) / n

    def print_of(self, mask: np.ndarray | None = None) -> VoicePrint | None:
        """The voice print of the partials selected by ``mask`` (all when None); None if none."""
        sel = np.ones(len(self), bool) if mask is None else np.asarray(mask, bool)
        if not sel.any():
            return None
        mean = self.embeddings[sel].mean(axis=0)
        norm = float(np.linalg.norm(mean))
        if norm <= 0:
            return None
        speech_s = PARTIAL_S + STEP_S * (int(sel.sum()) - 1)
        return VoicePrint((mean / norm).astype(np.float32), float(speech_s), int(sel.sum()))


class VoiceListener:
    """Push 16 kHz mono chunks in as the pass decodes them; get a :class:`VoiceTrack` out.

    Holds at most one partial's samples plus a batch of pending partials."""

    def __init__(self) -> None:
        self._buf = np.zeros(0, np.float32)
        self._buf_start = 0  # sample index of _buf[0] since the first chunk
        self._t0: float | None = None
        self._next = 0  # sample index of the next partial's start
        self._pending: list[np.ndarray] = []
        self._starts: list[float] = []
        self._levels: list[float] = []
        self._embeds: list[np.ndarray] = []
        self._partial = PARTIAL_FRAMES * HOP
        self._step = STEP_FRAMES * HOP
        self.error: str | None = None  # set when the encoder failed: the recording has no voice print

    def push(self, samples: np.ndarray, t: float | None = None) -> None:
        if self.error is not None:
            return
        if self._t0 is None:
            self._t0 = float(t or 0.0)
        self._buf = np.concatenate([self._buf, np.asarray(samples, np.float32).reshape(-1)])
        while self._next + self._partial <= self._buf_start + self._buf.size:
            self._take(self._next - self._buf_start, self._partial)
            self._next += self._step
        drop = self._next - self._buf_start
        if drop > 0:
            self._buf = self._buf[drop:]
            self._buf_start += drop

    def _take(self, offset: int, length: int) -> None:
        seg = self._buf[offset : offset + length]
        if seg.size < self._partial:
            seg = np.pad(seg, (0, self._partial - seg.size))
        rms = float(np.sqrt(np.mean(np.square(seg, dtype=np.float64))))
        self._levels.append(20.0 * np.log10(rms + 1e-9))
        self._starts.append((self._t0 or 0.0) + (self._buf_start + offset) / AUDIO_RATE)
        self._pending.append(mel_frames(seg * _gain(seg))[:PARTIAL_FRAMES])
        if len(self._pending) >= BATCH:
            self._flush()

    def _flush(self) -> None:
        if self._pending and self.error is None:
            try:
                self._embeds.append(encode(np.stack(self._pending)))
            except Exception as exc:  # noqa: BLE001 - a voice print is not worth failing the recording
                log.warning("voice encoder failed, no voice print for this recording: %s", exc)
                self.error = str(exc)
                self._starts, self._levels, self._embeds = [], [], []
            self._pending = []

    def finish(self) -> VoiceTrack:
        rest = self._buf_start + self._buf.size - self._next
        if rest >= MIN_TAIL_COVERAGE * self._partial or (not self._starts and rest > self._step):
            self._take(self._next - self._buf_start, rest)
        self._flush()
        if not self._starts or self.error is not None:
            return VoiceTrack.empty()
        return VoiceTrack(np.asarray(self._starts), np.concatenate(self._embeds), np.asarray(self._levels))


# --------------------------------------------------------------------------- who speaks when

SEGMENT_PARTIALS = 4
"""Speech partials averaged into one segment print (about 4 s of speech): single 1.6 s partials
are too noisy to tell speakers apart (measured on the shared clips: same-clip partial pairs up
to 0.56 cosine distance, different-speaker pairs down to 0.26)."""

MIN_VOICE_SHARE = 0.2
"""A second voice counts when it holds at least this share of a recording's speech segments."""

SEGMENT_DIFFERENT = 0.25
"""Cosine distance at which two segment prints are different voices (average linkage cut).
Measured on the shared clips: same-speaker segments up to 0.21, different speakers from 0.21
(1st percentile 0.27)."""

MOUTH_MIN_FRAMES = 3
"""Analysed frames with a face needed to say whether the mouth moved during a segment."""


@dataclass(frozen=True)
class VoiceSegment:
    start_s: float
    end_s: float
    speaker: int  # index into RecordingVoice.voices
    mouth_activity: float | None  # std of the lip gap (over eye distance) while it played; None: no face


@dataclass(frozen=True)
class RecordingVoice:
    """Who speaks in one recording. ``candidate`` is the voice whose segments come with a moving
    mouth on the candidate's face (the interviewer's voice comes with a still one, or none)."""

    path: str
    voices: tuple[VoicePrint, ...]
    segments: tuple[VoiceSegment, ...]
    candidate: int | None  # index into voices; None when no speech was heard
    speech_s: float

    @property
    def print(self) -> VoicePrint | None:
        return None if self.candidate is None else self.voices[self.candidate]

    def mouth_activity(self, speaker: int) -> float | None:
        vals = [s.mouth_activity for s in self.segments if s.speaker == speaker and s.mouth_activity is not None]
        return float(np.mean(vals)) if vals else None


def _mouth_gap(track: Any) -> tuple[np.ndarray, np.ndarray]:
    """(times, lip gap over eye-corner distance) for the frames with a face."""
    from . import mesh_points as mp

    if track is None or not getattr(track, "times", np.zeros(0)).size:
        return np.zeros(0), np.zeros(0)
    lm = track.landmarks
    top, bottom = mp.point(lm, 13), mp.point(lm, 14)
    eye_r, eye_l = mp.point(lm, 33), mp.point(lm, 263)
    gap = np.linalg.norm(top[..., :2] - bottom[..., :2], axis=-1)
    scale = np.linalg.norm(eye_r[..., :2] - eye_l[..., :2], axis=-1)
    ok = np.isfinite(gap) & np.isfinite(scale) & (scale > 0)
    return track.times[ok], (gap[ok] / scale[ok]).astype(np.float64)


def analyse_recording_voice(
    path: str, voice_track: VoiceTrack, audio: Any, face_track: Any = None, different: float = SEGMENT_DIFFERENT
) -> RecordingVoice:
    """Group a recording's speech into voices and pick the candidate's (see :class:`RecordingVoice`)."""
    if not len(voice_track) or audio is None or not getattr(audio, "present", False):
        return RecordingVoice(path, (), (), None, 0.0)
    share = voice_track.speech_share(audio.times, audio.voiced)
    idx = np.flatnonzero(share >= MIN_SPEECH_SHARE)
    if idx.size == 0:
        return RecordingVoice(path, (), (), None, 0.0)
    speech_s = PARTIAL_S + STEP_S * (idx.size - 1)
    blocks = [idx[i : i + SEGMENT_PARTIALS] for i in range(0, idx.size, SEGMENT_PARTIALS)]
    if len(blocks) > 1 and blocks[-1].size < SEGMENT_PARTIALS // 2:
        blocks[-2] = np.concatenate([blocks[-2], blocks[-1]])
        blocks.pop()
    seg_emb = np.stack([voice_track.embeddings[b].mean(axis=0) for b in blocks])
    seg_emb /= np.linalg.norm(seg_emb, axis=1, keepdims=True)
    labels = np.zeros(len(blocks), int)
    if len(blocks) >= 2:
        from scipy.cluster.hierarchy import fcluster, linkage
        from scipy.spatial.distance import pdist

        z = linkage(pdist(seg_emb, metric="cosine"), method="average")
        labels = fcluster(z, t=different, criterion="distance") - 1
        counts = np.bincount(labels)
        keep = np.flatnonzero(counts >= max(1, MIN_VOICE_SHARE * len(blocks)))
        if keep.size == 0:
            keep = np.array([int(np.argmax(counts))])
        # small clusters join the nearest kept voice
        cent = np.stack([seg_emb[labels == k].mean(axis=0) for k in keep])
        labels = keep[np.argmax(seg_emb @ cent.T, axis=1)]
        labels = np.searchsorted(keep, labels)
    times, gap = _mouth_gap(face_track)
    segments = []
    for b, lab in zip(blocks, labels):
        t0 = float(voice_track.starts[b[0]])
        t1 = float(voice_track.starts[b[-1]] + PARTIAL_S)
        sel = (times >= t0) & (times <= t1)
        act = float(np.std(gap[sel])) if sel.sum() >= MOUTH_MIN_FRAMES else None
        segments.append(VoiceSegment(t0, t1, int(lab), act))
    voices = []
    for k in range(int(labels.max()) + 1):
        sel = np.zeros(len(voice_track), bool)
        for b, lab in zip(blocks, labels):
            if lab == k:
                sel[b] = True
        voices.append(voice_track.print_of(sel))
    result = RecordingVoice(path, tuple(voices), tuple(segments), 0, float(speech_s))
    if len(voices) > 1:
        acts = [result.mouth_activity(k) for k in range(len(voices))]
        if any(a is not None for a in acts):
            cand = int(np.nanargmax([(-1.0 if a is None else a) for a in acts]))
        else:  # no face to tell: the voice that speaks most
            cand = int(np.argmax(np.bincount(labels)))
        result = RecordingVoice(path, result.voices, result.segments, cand, result.speech_s)
    return result
