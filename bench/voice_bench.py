"""Speaker verification on the shared clips: same-speaker vs different-speaker voice prints.

Every clip with audio in ../shared/media (manifest.csv and manifest_more.csv) is streamed
through :class:`detectors.voice.VoiceListener` (chunks of CHUNK samples, as the analysis pass
feeds it); its speech partials (voice activity from :class:`detectors.audio.AudioFeatureExtractor`)
make the clip's voice print, and the first and second halves of its speech make two more.

Speakers: real clips by their manifest ``identity``, else ``group`` (the three MEAD takes of
M003 share one); fakes are left out (a re-voiced clip's voice is somebody else's, by design,
and nobody labelled whose). Pairs:
  * same speaker: the two halves of one clip, and different clips of one speaker;
  * different speakers: clips (and halves) of different speakers.
The score is the cosine distance; nothing is fitted but the decision threshold. Its error
rates are out-of-fold: a pair whose clips fall in folds a and b (detectors/folds.py) is decided
with the threshold chosen (equal error rate) on the pairs with no clip in fold a or b.

Usage: uv run python bench/voice_bench.py [--min-speech 5] [--json out/voice_bench.json]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from itertools import combinations
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from detectors import voice  # noqa: E402
from detectors.audio import AudioFeatureExtractor  # noqa: E402
from detectors.evaluate import equal_error_rate, roc_auc  # noqa: E402
from detectors.folds import fold_of, group_key  # noqa: E402

MEDIA = ROOT.parent / "shared" / "media"
CACHE = ROOT / "out" / "voice_cache"
CHUNK = 4096


def clips() -> list[dict[str, str]]:
    rows = []
    for name in ("manifest.csv", "manifest_more.csv"):
        path = MEDIA / name
        if not path.is_file():
            continue
        for r in csv.DictReader(open(path, newline="", encoding="utf-8")):
            if r["kind"] == "video" and r.get("audio") == "yes" and r["label"] == "real":
                r["speaker"] = (r.get("identity") or "").strip() or r.get("group") or r["path"]
                r["fold"] = str(fold_of(group_key(r.get("group"), r.get("source"), r["path"])))
                rows.append(r)
    return rows


def voice_of(path: Path) -> tuple[voice.VoiceTrack, np.ndarray, float, float]:
    """(partials, speech share per partial, seconds of audio, CPU seconds of the voice part)."""
    wav = voice.read_audio(path)
    listener = voice.VoiceListener()
    feats = AudioFeatureExtractor()
    cpu = 0.0
    for i in range(0, wav.size, CHUNK):
        chunk = wav[i : i + CHUNK]
        t0 = time.process_time()
        listener.push(chunk, i / voice.AUDIO_RATE)
        cpu += time.process_time() - t0
        feats.push(chunk, i / voice.AUDIO_RATE)
    t0 = time.process_time()
    track = listener.finish()
    cpu += time.process_time() - t0
    audio = feats.finish()
    share = track.speech_share(audio.times, audio.voiced) if audio.present else np.zeros(len(track))
    return track, share, wav.size / voice.AUDIO_RATE, cpu


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--min-speech", type=float, default=5.0, help="seconds of speech a print needs for the headline figure")
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    rows = clips()
    if not rows:
        print("../shared/media is absent: nothing to measure")
        return 0
    prints = []  # (speaker, fold, clip, part, VoicePrint)
    audio_s = cpu_s = 0.0
    for r in rows:
        track, share, dur, cpu = voice_of(MEDIA / r["path"])
        audio_s += dur
        cpu_s += cpu
        speech = share >= voice.MIN_SPEECH_SHARE
        whole = track.print_of(speech)
        if whole is None:
            print(f"  {r['path']}: no speech partials")
            continue
        prints.append((r["speaker"], int(r["fold"]), r["path"], "whole", whole, whole.speech_s))
        idx = np.flatnonzero(speech)
        if idx.size >= 4:
            half = idx.size // 2
            for name, sel in (("first", idx[:half]), ("second", idx[half:])):
                m = np.zeros(len(track), bool)
                m[sel] = True
                prints.append((r["speaker"], int(r["fold"]), r["path"], name, track.print_of(m), whole.speech_s))
    pairs = []  # (same, distance, min speech of the two prints, fold a, fold b, min speech of the two clips)
    for a, b in combinations(prints, 2):
        if a[2] == b[2] and not ({a[3], b[3]} == {"first", "second"}):
            continue  # a clip against its own halves: not independent
        if a[2] != b[2] and (a[3] != "whole" or b[3] != "whole") and a[0] == b[0]:
            continue  # same speaker, other clip: compare whole prints only
        if a[2] != b[2] and a[3] != b[3]:
            continue
        same = a[0] == b[0]
        pairs.append((same, a[4].distance(b[4]), min(a[4].speech_s, b[4].speech_s), a[1], b[1], min(a[5], b[5])))
    out = {"clips": len(rows), "prints": len(prints), "cost_cpu_s_per_audio_min": 60.0 * cpu_s / max(audio_s, 1e-9)}
    groups = (
        ("all pairs", lambda q: True),
        (f"clips with >= {args.min_speech:g} s of speech (their prints and halves)", lambda q: q[5] >= args.min_speech),
        (f"prints of >= {args.min_speech:g} s of speech each", lambda q: q[2] >= args.min_speech),
    )
    for label, keep in groups:
        sub = [q for q in pairs if keep(q)]
        y = [int(not q[0]) for q in sub]  # positive = different speaker
        d = [q[1] for q in sub]
        oof_err = _oof_errors(sub)
        dist_same = sorted(q[1] for q in sub if q[0])
        dist_diff = sorted(q[1] for q in sub if not q[0])
        out[label] = {
            "same_distance_max": round(dist_same[-1], 4) if dist_same else None,
            "different_distance_min": round(dist_diff[0], 4) if dist_diff else None,
            "different_distance_p01": round(float(np.percentile(dist_diff, 1)), 4) if dist_diff else None,
            "same_pairs": int(sum(q[0] for q in sub)),
            "different_pairs": int(sum(not q[0] for q in sub)),
            "auc": roc_auc(y, d),
            "eer": equal_error_rate(y, d),
            **oof_err,
        }
    # the check's decisions on candidates made of two clips (whole prints, >= 2 s speech each)
    from detectors.voice_check import DIFFERENT_VOICE, MIN_SPEECH_S

    whole = [q for q in prints if q[3] == "whole" and q[4].speech_s >= MIN_SPEECH_S]
    flagged = {True: 0, False: 0}
    total = {True: 0, False: 0}
    for a, b in combinations(whole, 2):
        same = a[0] == b[0]
        total[same] += 1
        flagged[same] += a[4].distance(b[4]) >= DIFFERENT_VOICE.default
    out["two_clip_candidates"] = {
        "one_speaker": total[True], "one_speaker_flagged_proxy": flagged[True],
        "two_speakers": total[False], "two_speakers_flagged_proxy": flagged[False],
    }
    halves = [q for q in pairs if q[0]]  # every same-speaker pair: a clip's halves, or two takes
    out["two_clip_candidates"]["same_speaker_pairs_incl_halves"] = len(halves)
    out["two_clip_candidates"]["same_speaker_pairs_incl_halves_flagged"] = int(sum(q[1] >= DIFFERENT_VOICE.default for q in halves))
    out["turns"] = _turns(rows)
    print(json.dumps(out, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    return 0


def _turns(rows: list[dict[str, str]], seconds: float = 8.0) -> dict[str, int]:
    """Voices found in single clips (should be 1) and in two clips' audio joined (should be 2)."""
    wavs = {}
    for r in rows:
        wav = voice.read_audio(MEDIA / r["path"])[: int(seconds * voice.AUDIO_RATE)]
        rv = _heard(wav)
        if rv.speech_s >= seconds / 2:
            wavs[r["path"]] = (r["speaker"], wav, len(rv.voices))
    one = [n for _, _, n in wavs.values()]
    two = []
    for a, b in combinations(sorted(wavs), 2):
        if wavs[a][0] != wavs[b][0]:
            two.append(len(_heard(np.concatenate([wavs[a][1], wavs[b][1]])).voices))
    return {
        "single_clips": len(one), "single_clips_one_voice": int(sum(n == 1 for n in one)),
        "joined_pairs": len(two), "joined_pairs_two_voices": int(sum(n >= 2 for n in two)),
    }


def _heard(wav: np.ndarray) -> voice.RecordingVoice:
    listener, feats = voice.VoiceListener(), AudioFeatureExtractor()
    for i in range(0, wav.size, CHUNK):
        listener.push(wav[i : i + CHUNK], i / voice.AUDIO_RATE)
        feats.push(wav[i : i + CHUNK], i / voice.AUDIO_RATE)
    return voice.analyse_recording_voice("joined", listener.finish(), feats.finish())


def _eer_threshold(pairs: list[tuple]) -> float:
    d = np.array([q[1] for q in pairs])
    same = np.array([q[0] for q in pairs])
    best, best_t = 9.0, 0.5
    for t in np.unique(d):
        far = float(np.mean(d[~same] < t)) if (~same).any() else 0.0  # different called same
        frr = float(np.mean(d[same] >= t)) if same.any() else 0.0  # same called different
        if abs(far - frr) < best:
            best, best_t = abs(far - frr), float(t)
    return best_t


def _oof_errors(pairs: list[tuple]) -> dict[str, float | int]:
    """Error rates of decisions made with thresholds fitted on pairs of other folds only."""
    wrong_same = wrong_diff = n_same = n_diff = 0
    thresholds = []
    for q in pairs:
        train = [r for r in pairs if not ({r[3], r[4]} & {q[3], q[4]})]
        if not train or len({r[0] for r in train}) < 2:
            continue
        t = _eer_threshold(train)
        thresholds.append(t)
        if q[0]:
            n_same += 1
            wrong_same += q[1] >= t
        else:
            n_diff += 1
            wrong_diff += q[1] < t
    return {
        "oof_false_reject": wrong_same / max(n_same, 1),  # same speaker called different
        "oof_false_accept": wrong_diff / max(n_diff, 1),  # different speakers called same
        "oof_pairs_decided": n_same + n_diff,
        "threshold_median": float(np.median(thresholds)) if thresholds else float("nan"),
    }


if __name__ == "__main__":
    sys.exit(main())
