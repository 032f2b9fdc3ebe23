"""Hash family and search: generated copies found top-1 as same-image; index maths exact."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from detectors import hashing
from detectors.store.sqlite import Library
from fixtures.image_copies import letterbox, variants

skdata = pytest.importorskip("skimage.data")


def test_popcount_matches_python() -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 2**63, size=1000, dtype=np.int64).view(np.uint64) | (np.uint64(1) << np.uint64(63))
    assert [int(v) for v in hashing.popcount64(x)] == [bin(int(v)).count("1") for v in x]


def test_trim_box_finds_the_photo_inside_a_letterbox() -> None:
    rgb = skdata.astronaut()
    boxed = letterbox(rgb)  # 910 x 512, photo at x 199..711
    x0, y0, x1, y1 = hashing.trim_box(boxed)
    assert abs(x0 - 199) <= 2 and abs(x1 - 711) <= 2 and y0 == 0 and y1 == 512


def test_segment_index_equals_brute_force() -> None:
    rng = np.random.default_rng(1)
    segs = rng.integers(0, 2**63, size=20000, dtype=np.int64).view(np.uint64)
    ids = np.arange(segs.size) // 8
    q = [int(segs[5]) ^ 0b1011, int(segs[77]) ^ (0b1111111 << 30), int(rng.integers(0, 2**62))]
    idx = hashing.HashIndex(np.zeros(0), np.zeros((0, 4)), ids, segs, np.zeros(0), np.zeros(0), np.zeros((0, 128)), np.zeros(0), np.zeros(0))
    hits = idx.segment_hits(q)
    brute: dict[int, int] = {}
    for v in q:
        d = np.array([hashing.hamming(int(s), v) for s in segs])
        for m in np.unique(ids[d <= hashing.CROP_SEGMENT_BITS]):
            brute[int(m)] = brute.get(int(m), 0) + 1
    assert hits == brute and 0 in hits and 77 // 8 in hits


def test_embedding_prefilter_is_exact() -> None:
    rng = np.random.default_rng(2)
    emb = (rng.standard_normal((3000, 128)) * 0.05).astype(np.float32)
    emb[:1500] += rng.standard_normal(128).astype(np.float32) * 0.08  # an anisotropic cloud
    n = emb.shape[0]
    idx = hashing.HashIndex(np.zeros(0), np.zeros((0, 4)), np.zeros(0), np.zeros(0), np.arange(n), np.arange(n), emb, np.zeros(n), np.zeros(n, bool))
    assert idx._basis is not None
    for q in emb[:20] + 0.01:
        rows, d = idx.embedding_neighbours(q, 0.6)
        full = np.linalg.norm(emb - q, axis=1)
        assert set(rows.tolist()) == set(np.flatnonzero(full < 0.6).tolist())


@pytest.fixture(scope="module")
def photo_library(tmp_path_factory: pytest.TempPathFactory) -> tuple[Library, dict[str, np.ndarray]]:
    """Originals under candidate names: astronaut (a face) and chelsea (no face), with distractors."""
    originals = {
        "astronaut": skdata.astronaut(),
        "chelsea": skdata.chelsea(),
        "coffee": skdata.coffee(),
        "rocket": skdata.rocket(),
        "camera": np.stack([skdata.camera()] * 3, axis=-1),
    }
    lib = Library(tmp_path_factory.mktemp("lib") / "library.sqlite")
    with lib.transaction():
        for name, rgb in originals.items():
            lib.add_encoded(name, f"{name}.png", "photo", hashing.encode_image(rgb))
    return lib, originals


@pytest.mark.parametrize("original", ["astronaut", "chelsea"])
def test_generated_copies_found_top1_as_same_image(photo_library: tuple[Library, dict], original: str) -> None:
    lib, originals = photo_library
    rows = []
    for name, copy in variants(originals[original]).items():
        matches = lib.search(copy, limit=3)
        top = matches[0] if matches else None
        rows.append((name, top.candidate if top else None, top.kind if top else None,
                     top.distance if top else None, top.detail.get("method") if top else None,
                     top.detail.get("inliers") if top else None))
    print(f"\n{original}: copy -> top-1 (candidate, kind, distance, method, inliers)")
    for r in rows:
        print(f"  {r[0]:<16} {r[1]!s:<10} {r[2]!s:<10} {r[3] if r[3] is None else round(r[3], 3)!s:<6} {r[4]!s:<20} {r[5]}")
    missed = [r[0] for r in rows if r[1] != original or r[2] != "same-image"]
    assert not missed, f"copies of {original} not found top-1 as same-image: {missed}"


def test_distractors_are_not_same_image(photo_library: tuple[Library, dict]) -> None:
    lib, originals = photo_library
    # a different skimage photo never matches as same-image
    for other in ("coins", "hubble_deep_field"):
        rgb = getattr(skdata, other)()
        rgb = np.stack([rgb] * 3, axis=-1) if rgb.ndim == 2 else rgb[..., :3]
        assert [m for m in lib.search(rgb) if m.kind == "same-image"] == []
