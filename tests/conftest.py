"""Shared pytest fixtures. Media for tests is generated here (tests/fixtures/), never copied in.

Append new fixtures below, one block each, with a line saying what it makes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fixtures.talking_head import make_talking_head


@pytest.fixture(scope="session")
def talking_head_clip(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A 6 s astronaut talking-head clip (256 px, 25 fps, PCM audio in sync); its ground truth.

    Keys: path, fps, duration_s, audio_offset_s, frame_times, mouth (0..1 per frame),
    signal_times / signal (the mouth signal at 1 kHz), audio_envelope (the signal as heard).
    """
    path = tmp_path_factory.mktemp("talking_head") / "talking_head.mkv"
    return make_talking_head(path, duration_s=6.0, fps=25, audio_offset_s=0.0, seed=0)


@pytest.fixture(scope="session")
def talking_head_factory(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """``make(**kwargs) -> truth``: talking-head clips with other offsets/options, cached per session."""
    cache: dict[tuple, dict[str, Any]] = {}
    folder: Path = tmp_path_factory.mktemp("talking_heads")

    def make(**kwargs: Any) -> dict[str, Any]:
        key = tuple(sorted(kwargs.items()))
        if key not in cache:
            suffix = ".mp4" if kwargs.get("audio_codec") == "aac" else ".mkv"
            cache[key] = make_talking_head(folder / f"clip_{len(cache)}{suffix}", **kwargs)
        return cache[key]

    return make
