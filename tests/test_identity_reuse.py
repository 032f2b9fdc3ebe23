"""identity and reuse checks, and the must-shows on ../shared/media/images."""

from __future__ import annotations

import csv
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from PIL import Image

from detectors import hashing
from detectors.faces import faces_in_image
from detectors.base import CandidateContext, RecordingContext
from detectors.identity import IdentityDetector
from detectors.media import load_image
from detectors.reuse import ReuseDetector
from detectors.store import open_library
from store.backends import Locations, backend, locations, pg_server  # noqa: F401  (pytest fixtures: both back ends)

SHARED = Path(__file__).resolve().parents[2] / "shared" / "media"
IMAGES = SHARED / "images"
skdata = pytest.importorskip("skimage.data")


def _identities() -> dict[str, set[str]]:
    out = {}
    with open(SHARED / "manifest.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            if row["kind"] == "image":
                out[Path(row["path"]).name] = set(row["identity"].split("+"))
    return out


@pytest.fixture(scope="module")
def shared() -> dict[str, object]:
    if not (IMAGES / "obama_1.jpg").exists():
        pytest.skip(f"{IMAGES} is absent (shared development media)")
    ids = _identities()
    imgs = {n: load_image(IMAGES / n) for n in sorted(ids)}
    enc = {n: hashing.encode_image(i.rgb, faces_in_image(i), mirrored=True, sha256=i.sha256) for n, i in imgs.items()}
    return {"ids": ids, "imgs": imgs, "enc": enc}


def _library(locations: Locations, shared: dict, names: list[str]) -> Any:
    """A fresh library of the module's back end (SQLite or PostgreSQL) holding these photos."""
    lib = open_library(locations.new())
    with lib.transaction():
        for n in names:
            lib.add_encoded(n, str(IMAGES / n), "photo", shared["enc"][n], sha256=shared["imgs"][n].sha256)
    return lib


def test_obama_copies_found_as_same_image_and_plain_phash_misses_letterbox(locations: Locations, shared: dict) -> None:
    lib = _library(locations, shared, [n for n in shared["ids"] if n not in ("obama_1_480p.jpg", "obama_partial.jpg")])
    for query in ("obama_1_480p.jpg", "obama_partial.jpg"):
        top = lib.search_encoded(shared["enc"][query])[0]
        print(f"\n{query}: top-1 {top.candidate} {top.kind} d={top.distance:.3f} {dict(top.detail)}")
        assert (top.candidate, top.kind) == ("obama_1.jpg", "same-image")
    # the plain whole-image pHash alone misses the letterboxed copy; the trimmed one finds it
    a, b = shared["enc"]["obama_1.jpg"].hashes, shared["enc"]["obama_1_480p.jpg"].hashes
    plain, trimmed = hashing.hamming(a["phash"], b["phash"]), hashing.hamming(a["phash_trim"], b["phash_trim"])
    print(f"obama_1 vs obama_1_480p: plain pHash {plain} bits, border-trimmed pHash {trimmed} bits (threshold {hashing.SAME_IMAGE_PHASH_BITS})")
    assert plain > hashing.SAME_IMAGE_PHASH_BITS >= trimmed


def test_no_different_person_photo_matches_as_same_image(locations: Locations, shared: dict) -> None:
    names = list(shared["ids"])
    lib = _library(locations, shared, names)
    lines = []
    for q in names:
        for m in lib.search_encoded(shared["enc"][q], exclude_candidate=q):
            if m.kind == "same-image":
                lines.append(f"{q} -> {m.candidate} ({m.detail.get('method')}, d={m.distance:.3f})")
                assert shared["ids"][q] & shared["ids"][m.candidate], f"{q} matched a different person's photo {m.candidate}"
    print("\nsame-image matches among shared photos:\n  " + "\n  ".join(lines))
    assert any(line.startswith("obama_1_480p.jpg -> obama_1.jpg") for line in lines)


def test_same_person_pairs_same_different_pairs_different(shared: dict) -> None:
    single = [n for n, i in shared["ids"].items() if len(i) == 1]
    rows, wrong = [], []
    for i, a in enumerate(single):
        for b in single[i + 1:]:
            fa, fb = shared["enc"][a].faces[0], shared["enc"][b].faces[0]
            d = float(np.linalg.norm(fa.embedding - fb.embedding))
            truth = shared["ids"][a] == shared["ids"][b]
            decided = d < hashing.SAME_PERSON_DISTANCE
            rows.append((d, a, b, truth))
            if truth != decided:
                wrong.append((a, b, round(d, 3)))
    print("\nface distance table (same person first):")
    for d, a, b, truth in sorted(rows, key=lambda r: (not r[3], r[0])):
        print(f"  {'same' if truth else 'diff'} {d:.3f} {a} {b}")
    same = [r[0] for r in rows if r[3]]
    diff = [r[0] for r in rows if not r[3]]
    print(f"same-person max {max(same):.3f}, different-person min {min(diff):.3f}, threshold {hashing.SAME_PERSON_DISTANCE}")
    assert not wrong, wrong


def _rec(path: str, embeddings: np.ndarray, second: bool = False, other: np.ndarray | None = None) -> RecordingContext:
    track = SimpleNamespace(
        embeddings=embeddings, embedding_times=np.arange(len(embeddings), dtype=float),
        main_identity=embeddings.mean(axis=0) if len(embeddings) else None,
        second_person=second, second_person_times=[1.0] if second else [], second_person_reason="test" if second else "",
        other_embeddings=other if other is not None else np.zeros((0, 128), np.float32),
    )
    return RecordingContext(path, track, None)  # type: ignore[arg-type]


def _jitter(e: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (e[None, :] + rng.standard_normal((n, 128)).astype(np.float32) * 0.01).astype(np.float32)


def test_identity_decides_over_frames(shared: dict) -> None:
    idimg = shared["imgs"]["obama_1.jpg"]
    idimg.role = "id"
    obama = shared["enc"]["obama_2.jpg"].faces[0].embedding
    biden = shared["enc"]["biden_2.jpg"].faces[0].embedding
    det = IdentityDetector()
    same = det.analyze(CandidateContext("c", [_rec("a.mp4", _jitter(obama, 12))], [idimg]))
    diff = det.analyze(CandidateContext("c", [_rec("b.mp4", _jitter(biden, 12))], [idimg]))
    proxy = det.analyze(CandidateContext("c", [_rec("c.mp4", _jitter(biden, 12), True, _jitter(obama, 3, 1))], [idimg]))
    print(f"\nsame: {same.risk:.2f}/{same.confidence:.2f} {same.summary}\ndiff: {diff.risk:.2f}/{diff.confidence:.2f} {diff.summary}\nproxy: {proxy.risk:.2f} {proxy.summary}")
    assert same.risk < 0.1 and same.confidence > 0.8 and same.evidence["same_person"]
    assert diff.risk > 0.9 and diff.confidence > 0.8 and not diff.evidence["same_person"]
    assert proxy.risk >= 0.9 and "second person" in proxy.summary
    none = det.analyze(CandidateContext("c", [], [idimg]))
    assert none.confidence == 0 and "No interview" in none.summary
    assert det.analyze(CandidateContext("c", [_rec("a.mp4", _jitter(obama, 3))], [])) is None  # no ID photo


def test_reuse_same_face_under_another_name(locations: Locations, shared: dict) -> None:
    lib = _library(locations, shared, [])
    lib.add_encoded("Alice", str(IMAGES / "obama_1.jpg"), "id", shared["enc"]["obama_1.jpg"], sha256=shared["imgs"]["obama_1.jpg"].sha256)
    det = ReuseDetector()
    for query, kind in (("obama_partial.jpg", "same-image"), ("obama_2.jpg", "same-face")):
        img = shared["imgs"][query]
        img.role = "id"
        f = det.analyze(CandidateContext("Bob", [], [img], library=lib))
        print(f"\n{query}: risk {f.risk} {f.summary}")
        top = f.evidence["matches"][0]
        assert (top["candidate"], top["kind"]) == ("Alice", kind) and f.risk >= 0.9 and "Alice" in f.summary
    biden = shared["imgs"]["biden_2.jpg"]
    f = det.analyze(CandidateContext("Carol", [], [biden], library=lib))
    assert f.risk == 0 and f.confidence >= 0.5 and f.evidence["matches"] == []
    # the interview's face found under another name
    rec = _rec("bob.mp4", _jitter(shared["enc"]["obama_3.jpg"].faces[0].embedding, 5))
    f = det.analyze(CandidateContext("Bob", [rec], [], library=lib))
    assert f.risk >= 0.9 and f.evidence["matches"][0]["query_role"] == "interview"


def test_reuse_without_library_says_so(tmp_path: Path) -> None:
    rgb = skdata.astronaut()
    p = tmp_path / "a.png"
    Image.fromarray(rgb).save(p)
    img = load_image(p, "id")
    f = ReuseDetector().analyze(CandidateContext("Dan", [], [img], library=None))
    assert f.risk == 0 and f.confidence <= 0.1 and "No library open" in f.summary


def test_reuse_generated_copy_under_another_candidate(tmp_path: Path, locations: Locations) -> None:
    rgb = skdata.astronaut()
    with open_library(locations.new()) as lib:
        lib.add_encoded("Alice", "alice_id.png", "id", hashing.encode_image(rgb))
        copy = tmp_path / "bob_id.jpg"
        Image.fromarray(np.ascontiguousarray(rgb[40:-30, 20:-50, :][:, ::-1])).save(copy, quality=70)
        f = ReuseDetector().analyze(CandidateContext("Bob", [], [load_image(copy, "id")], library=lib))
        top = f.evidence["matches"][0]
        assert (top["candidate"], top["kind"], top["file"]) == ("Alice", "same-image", "alice_id.png") and f.risk >= 0.9


def test_a_face_only_near_the_same_person_distance_is_a_lookalike_not_a_verdict(locations: Locations) -> None:
    """One-to-many search: strangers often fall under the same-person distance 0.6 in a large
    library, so a face under another candidate's name settles the case only nearer than
    reuse.decisive_face_distance; between that and 0.6 it is shown as a look-alike for review."""
    from detectors.reuse import DECISIVE_FACE_DISTANCE
    from detectors.scoring import fuse, is_decisive

    rng = np.random.default_rng(7)
    alice = rng.normal(0, 0.09, 128).astype(np.float32)
    lib = open_library(locations.new())
    lib.add_face_embeddings("Alice", None, alice[None, :])
    det = ReuseDetector()
    bar = DECISIVE_FACE_DISTANCE.default

    def at(distance: float) -> Any:
        step = rng.standard_normal(128).astype(np.float32)
        face = alice + step / np.linalg.norm(step) * distance
        return det.analyze(CandidateContext("Bob", [_rec("bob.mp4", face[None, :].repeat(3, 0))], [], library=lib))

    near, lookalike = at(bar - 0.15), at((bar + 0.6) / 2)
    assert near.evidence["decisive"] and is_decisive(near) and near.risk >= 0.9
    assert lookalike.evidence["matches"][0]["candidate"] == "Alice" and lookalike.evidence["matches"][0]["lookalike"]
    assert not lookalike.evidence["decisive"] and not is_decisive(lookalike)
    assert "look-alike" in lookalike.summary.lower() and "by eye" in lookalike.summary
    assert fuse({"reuse": lookalike}).verdict != "likely-fake"
    assert fuse({"reuse": near}).verdict == "likely-fake"
    assert at(0.75).evidence["matches"] == []  # beyond the same-person distance: nothing
