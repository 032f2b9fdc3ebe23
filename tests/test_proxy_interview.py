"""Proxy interviews: a candidate's recordings compared with each other (detectors.identity).

Someone else sitting the second interview shows up as recordings whose main faces are further
apart than the same-person limit, with or without an ID photo. Real dlib embeddings come from
the photos in ../shared/media/images (skipped when absent); the decision logic is also tested on
made-up embeddings whose distances are set exactly.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from detectors.base import CandidateContext, RecordingContext
from detectors.identity import MAX_DISTANCE, IdentityDetector, cross_recording
from detectors.report import file_findings

SHARED = Path(__file__).resolve().parents[2] / "shared" / "media"
IMAGES = SHARED / "images"
LIMIT = float(MAX_DISTANCE.default)


def _person(seed: int) -> np.ndarray:
    """A made-up embedding: random direction, 0.5 from the origin (dlib's faces are ~0.5-1 apart)."""
    v = np.random.default_rng(seed).standard_normal(128).astype(np.float32)
    return v / np.linalg.norm(v) * 0.5


def _samples(centre: np.ndarray, n: int, seed: int, spread: float = 0.01) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (centre[None, :] + rng.standard_normal((n, 128)).astype(np.float32) * spread).astype(np.float32)


def _rec(path: str, embeddings: np.ndarray) -> RecordingContext:
    track = SimpleNamespace(
        embeddings=embeddings, embedding_times=np.arange(len(embeddings), dtype=float),
        main_identity=embeddings.mean(axis=0) if len(embeddings) else None,
        second_person=False, second_person_times=[], second_person_reason="",
        other_embeddings=np.zeros((0, 128), np.float32),
    )
    return RecordingContext(path, track, None)  # type: ignore[arg-type]


def test_four_recordings_of_four_people_are_flagged() -> None:
    people = [_person(s) for s in range(4)]
    recs = [(f"/cases/c/interview{i}.mp4", _samples(p, 6, i), p) for i, p in enumerate(people)]
    cross = cross_recording(recs, LIMIT)
    assert cross is not None
    assert len(cross.pairs) == 6 and not any(p.same_person for p in cross.pairs)
    assert len(cross.odd_ones) == 3  # three of four differ from the first recording's person
    assert cross.risk == 1.0 and cross.confidence == 1.0
    assert "Different people" in cross.summary and "interview1.mp4" in cross.summary
    assert "/cases/" not in cross.summary  # file names, never local folders


def test_one_person_in_every_recording_is_not_flagged() -> None:
    p = _person(7)
    recs = [(f"take{i}.mp4", _samples(p, 5, 10 + i, spread=0.02), None) for i in range(3)]
    recs = [(path, emb, emb.mean(axis=0)) for path, emb, _ in recs]
    cross = cross_recording(recs, LIMIT)
    assert cross is not None and not cross.odd_ones and cross.risk == 0.0
    assert cross.confidence == 1.0 and "same person in all 3" in cross.summary


def test_the_odd_one_out_is_named_and_thin_recordings_are_skipped() -> None:
    a, b = _person(1), _person(2)
    recs = [("first.mp4", _samples(a, 6, 1), a), ("second.mp4", _samples(a, 6, 2), a),
            ("proxy.mp4", _samples(b, 6, 3), b), ("blank.mp4", np.zeros((1, 128), np.float32), None)]
    cross = cross_recording(recs, LIMIT)
    assert cross is not None and cross.odd_ones == ("proxy.mp4",) and cross.skipped == ("blank.mp4",)
    assert "proxy.mp4 does not show the person in first.mp4" in cross.summary
    assert cross_recording(recs[:1] + recs[3:], LIMIT) is None  # one usable recording: nothing to compare


def test_confidence_follows_the_thinner_recording() -> None:
    a, b = _person(3), _person(4)
    cross = cross_recording([("a.mp4", _samples(a, 8, 1), a), ("b.mp4", _samples(b, 2, 2), b)], LIMIT)
    assert cross is not None and cross.risk == 1.0 and cross.confidence == pytest.approx(0.5)


def test_identity_check_without_id_photo_flags_a_proxy_and_the_report_names_the_file() -> None:
    a, b = _person(5), _person(6)
    det = IdentityDetector()
    finding = det.analyze(CandidateContext("c", [_rec("/x/first.mp4", _samples(a, 6, 1)), _rec("/x/second.mp4", _samples(b, 6, 2))], []))
    assert finding is not None and finding.risk == 1.0 and finding.confidence == 1.0
    assert "second.mp4" in finding.summary
    files = {f.path: f for f in file_findings({"identity": finding.to_dict()},
                                              [{"path": "/x/first.mp4", "kind": "video"}, {"path": "/x/second.mp4", "kind": "video"}])}
    assert files["/x/second.mp4"].risk == 1.0 and files["/x/second.mp4"].level == "high"
    assert files["/x/first.mp4"].risk == 0.0
    same = det.analyze(CandidateContext("c", [_rec("a.mp4", _samples(a, 6, 1)), _rec("b.mp4", _samples(a, 6, 2))], []))
    assert same is not None and same.risk == 0.0 and same.confidence == 1.0
    assert det.analyze(CandidateContext("c", [_rec("a.mp4", _samples(a, 6, 1))], [])) is None


@pytest.fixture(scope="module")
def real_faces() -> dict[str, np.ndarray]:
    if not (IMAGES / "obama_1.jpg").exists():
        pytest.skip(f"{IMAGES} is absent (shared development media)")
    from detectors.faces import faces_in_image
    from detectors.media import load_image

    out = {}
    for name in ("obama_1.jpg", "obama_2.jpg", "obama_3.jpg", "biden_1.jpg", "biden_2.jpg", "harington_1.jpg", "leslie_1.jpg"):
        faces = faces_in_image(load_image(IMAGES / name))
        out[name] = faces[0].embedding.astype(np.float32)
    return out


def test_real_faces_one_person_passes_different_people_are_flagged(real_faces: dict[str, np.ndarray]) -> None:
    """Recordings stood in for by real dlib embeddings of public photos (jittered per frame)."""
    def recs(names: list[str]) -> list[tuple[str, np.ndarray, np.ndarray]]:
        return [(f"{n}.mp4", _samples(real_faces[n], 5, i, spread=0.005), real_faces[n]) for i, n in enumerate(names)]

    same = cross_recording(recs(["obama_1.jpg", "obama_2.jpg", "obama_3.jpg"]), LIMIT)
    assert same is not None and not same.odd_ones, same.summary
    four = cross_recording(recs(["obama_1.jpg", "biden_1.jpg", "harington_1.jpg", "leslie_1.jpg"]), LIMIT)
    assert four is not None and len(four.odd_ones) == 3 and four.risk > 0.9, four.summary
    proxy = cross_recording(recs(["biden_1.jpg", "biden_2.jpg", "obama_2.jpg"]), LIMIT)
    assert proxy is not None and proxy.odd_ones == ("obama_2.jpg.mp4",), proxy.summary
