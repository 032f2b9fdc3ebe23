"""The frames Face Mesh sees: analysis-size RGB from one reformatter kept for the whole pass
must be the very pixels a fresh per-frame conversion gives, frame after frame (no buffer reused
under an earlier frame, no drift), and every analysed frame keeps its own array. The track's
landmarks, written row by row into blocks, must come out as the stacked per-frame arrays."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from detectors.faces import N_LANDMARKS, _LandmarkStore
from detectors.mesh_points import FACE_OVAL, TRACK_POINTS, pick, point, to_track
from detectors.media import DEFAULT_MAX_WIDTH, RESIZE_INTERPOLATION, VideoFrame, VideoStream

SIZE = (1280, 720)
FPS = 30
ANALYSIS_FPS = 15
N_FRAMES = 24


@pytest.fixture(scope="module")
def moving_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1280x720 4:2:0 H.264 clip whose every frame differs (a bright square sweeping across
    a noisy background), so a reused or stale buffer would show."""
    rng = np.random.default_rng(0)
    path = tmp_path_factory.mktemp("reformat") / "moving.mp4"
    w, h = SIZE
    background = rng.integers(40, 200, size=(h, w, 3), dtype=np.uint8)
    with av.open(str(path), mode="w") as out:
        vs = out.add_stream("libx264", rate=FPS)
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        for i in range(N_FRAMES):
            img = background.copy()
            x = 40 + 45 * i
            img[200:400, x : x + 160] = (250, 230, 30)
            for packet in vs.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in vs.encode():
            out.mux(packet)
    return path


def test_analysis_frames_match_a_fresh_conversion_of_each_frame(moving_clip: Path) -> None:
    with VideoStream(moving_clip, analysis_fps=ANALYSIS_FPS, with_audio=False) as stream:
        frames = [f for f in stream if isinstance(f, VideoFrame)]
    assert len(frames) == N_FRAMES // (FPS // ANALYSIS_FPS)
    aw = DEFAULT_MAX_WIDTH
    ah = SIZE[1] * aw // SIZE[0]
    centres = []
    for f in frames:  # all kept until the end: none may have been overwritten by a later frame
        assert f.rgb.shape == (ah, aw, 3) and f.rgb.flags.c_contiguous
        fresh = f._source.reformat(width=aw, height=ah, format="rgb24", interpolation=RESIZE_INTERPOLATION).to_ndarray()
        assert np.array_equal(f.rgb, fresh), f"frame {f.index} differs from its own conversion"
        cols = np.nonzero((f.rgb[120:180, :, 2] < 80).mean(axis=0) > 0.9)[0]  # the yellow square
        centres.append(float(cols.mean()))
    steps = np.diff(centres)  # each analysed frame shows the square where that frame had it
    assert np.all(np.abs(steps - 45 * (FPS // ANALYSIS_FPS) * aw / SIZE[0]) < 2.0), steps


@pytest.mark.parametrize("n_rows", [0, 1, 5, 7, 12])
def test_landmark_store_gives_the_stacked_track_points(n_rows: int) -> None:
    rng = np.random.default_rng(n_rows)
    rows = [None if i % 4 == 2 else rng.normal(size=(N_LANDMARKS, 3)).astype(np.float32) for i in range(n_rows)]
    store = _LandmarkStore(block_frames=4)  # several blocks, a full last block (12), a partial one
    for r in rows:
        store.append(r)
    out = store.take()
    k = len(TRACK_POINTS)
    expected = np.stack([np.full((k, 3), np.nan, np.float32) if r is None else r[list(TRACK_POINTS)] for r in rows]) if rows else np.zeros((0, k, 3), np.float32)
    assert out.dtype == np.float32 and out.shape == (n_rows, k, 3)
    assert np.array_equal(out, expected, equal_nan=True)
    assert store.take().shape == (0, k, 3)  # taken once


def test_mesh_points_read_the_same_point_from_a_full_mesh_and_a_track() -> None:
    mesh = np.random.default_rng(1).normal(size=(6, N_LANDMARKS, 3)).astype(np.float32)
    track = to_track(mesh)
    assert track.shape == (6, len(TRACK_POINTS), 3) and len(TRACK_POINTS) < N_LANDMARKS / 3
    for p in (13, 14, 33, 263, 152, 10, 1):
        assert np.array_equal(point(mesh, p), point(track, p))
    assert np.array_equal(pick(mesh, FACE_OVAL), pick(track, FACE_OVAL))
    with pytest.raises(KeyError):
        pick(track, (468 - 1,))  # a point the track does not keep
