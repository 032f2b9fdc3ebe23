"""The checks the pipeline runs. Each module adds its Detector class here, one line each.

Recording-scope detectors run once per video (fresh instance per video); candidate-scope
detectors run once per candidate after every recording has been tracked.
"""

from __future__ import annotations

from .base import Detector


def recording_detectors() -> list[type[Detector]]:
    """Detectors that look at one recording (face track, audio, pixels)."""
    found: list[type[Detector]] = []
    from .faceswap import FaceSwapDetector; found.append(FaceSwapDetector)  # noqa: E702
    from .lipsync import LipSyncDetector; found.append(LipSyncDetector)  # noqa: E702
    return found


def candidate_detectors() -> list[type[Detector]]:
    """Detectors that look at the whole candidate (photos, library, all recordings)."""
    found: list[type[Detector]] = []
    from .idphoto import IdPhotoDetector; from .identity import IdentityDetector; from .reuse import ReuseDetector; found += [IdPhotoDetector, IdentityDetector, ReuseDetector]  # noqa: E702,I001
    from .voice_check import VoiceDetector; found.append(VoiceDetector)  # noqa: E702
    return found
