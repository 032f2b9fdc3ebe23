"""The face-search recall measurement of bench/library_bench.py (its data and its scoring).

The bench's recall figures (docs/team-store.md) are only as good as these pieces: the exact
scan they are measured against, the realistic background's fit to real embeddings, the planted
same-person faces, and the mapping of the library's answers onto the truth. The last is run here
on a real PostgreSQL (pgserver) through the library's own search code.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import face_data  # noqa: E402
from library_bench import exact_neighbours  # noqa: E402


def test_exact_neighbours_is_a_brute_force_scan() -> None:
    rng = np.random.default_rng(1)
    stored = (rng.standard_normal((3000, 128)) * 0.09).astype(np.float32)
    queries = stored[:70] + (rng.standard_normal((70, 128)) * 0.03).astype(np.float32)
    for got, q in zip(exact_neighbours(stored, queries, 0.6), queries):
        d = np.linalg.norm(stored - q, axis=1)
        assert got.tolist() == (np.flatnonzero(d < 0.6) + 1).tolist()


def _fake_real(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A stand-in for bench/real_faces.py's cache: 30 videos of 8 frames, 200 single photos,
    2 named people with 3 photos each, all anisotropic (variance in 10 directions)."""
    basis = np.linalg.qr(rng.standard_normal((128, 10)))[0]
    person = lambda: rng.standard_normal(10) @ basis.T * 0.25 + 0.05  # noqa: E731
    emb, item, kind, ident = [], [], [], []
    for v in range(30):
        c = person()
        for _ in range(8):
            emb.append(c + rng.standard_normal(128) * 0.02)
            item.append(f"video/v{v}.mp4")
            kind.append("frame")
            ident.append("")
    for p in range(200):
        emb.append(person())
        item.append(f"photos/p{p}.jpg")
        kind.append("photo")
        ident.append("")
    for name in ("ann", "bob"):
        c = person()
        for k in range(3):
            emb.append(c + rng.standard_normal(128) * 0.02)
            item.append(f"stills/{name}_{k}.jpg")
            kind.append("photo")
            ident.append(name)
    return {"emb": np.array(emb, np.float32), "item": np.array(item), "kind": np.array(kind),
            "group": np.array(item), "identity": np.array(ident), "label": np.array(["real"] * len(emb))}


def test_realistic_data_stores_every_other_real_face_and_follows_their_covariance() -> None:
    rng = np.random.default_rng(2)
    real = _fake_real(rng)
    faces = face_data.realistic(np.random.default_rng(3), 20_000, real)
    person = face_data.person_of(real)
    # 2 frames of each video, 1 photo of each named person, 40 single photos
    assert faces.queries.shape == (30 * 2 + 2 + 40, 128)
    stored = {tuple(np.round(e, 5)) for e in faces.emb}
    is_query = np.array([any(np.array_equal(e, q) for q in faces.queries) for e in real["emb"]])
    assert is_query.sum() == len(faces.queries)
    for e in real["emb"][~is_query]:
        assert tuple(np.round(e, 5)) in stored  # every real face not queried is stored once
    for e in real["emb"][is_query]:
        assert tuple(np.round(e, 5)) not in stored
    # the queried videos' other frames are their same-person neighbours in the store
    truth = exact_neighbours(faces.emb, faces.queries, 0.6)
    video_queries = [i for i, q in enumerate(faces.queries) if person[np.flatnonzero((real["emb"] == q).all(1))[0]].endswith(".mp4")]
    assert all(len(truth[i]) >= 6 for i in video_queries)
    for i in video_queries:  # the planted same-person faces named per query are those frames
        assert len(faces.same[i]) == 6 and set(faces.same[i].tolist()) <= set(truth[i].tolist())
    # the background has the real faces' mean and covariance (one face per person), not isotropic
    mean, cov, people = face_data.gaussian_fit(real)
    assert people == 30 + 200 + 2
    bg = faces.emb[np.ones(len(faces.emb), bool)]
    assert np.allclose(bg.mean(0), mean, atol=0.02)
    w_real, w_bg = np.linalg.eigvalsh(cov)[-10:].sum(), np.linalg.eigvalsh(np.cov(bg, rowvar=False))[-10:].sum()
    assert w_bg == pytest.approx(w_real, rel=0.1)


def test_isotropic_queries_have_their_planted_neighbours() -> None:
    faces = face_data.isotropic(np.random.default_rng(4), 20_000, 50)
    truth = exact_neighbours(faces.emb, faces.queries, 0.6)
    assert all(1 <= len(t) for t in truth)
    assert sum(len(t) for t in truth) >= faces.notes["planted"]


def test_recall_of_the_library_search_against_the_exact_scan(pg_server, monkeypatch) -> None:  # noqa: ANN001
    """The bench's scoring through the PostgreSQL library's own face search: an exact scan in
    the server (a store under EXACT_FACES_MAX) must score recall 1 and find the exact top 5."""
    from library_bench import face_recall

    from detectors.store.postgres import PostgresLibrary

    faces = face_data.isotropic(np.random.default_rng(6), 3000, 20)
    with PostgresLibrary(pg_server.new_database()) as lib:
        for start in range(0, len(faces.emb), 4):
            lib.add_face_embeddings(f"c{start // 4}", None, faces.emb[start:start + 4])
        truth = exact_neighbours(faces.emb, faces.queries, 0.6)
        [exact] = face_recall(lib, faces, truth, [(100, 100)], rounds=1)
        assert exact["true"] == sum(len(t) for t in truth) > 0
        assert exact["found"] == exact["true"] and exact["top5"] == exact["top5_true"]
        # the HNSW path on the same store (forced): an approximate search, scored the same way
        from detectors.store import postgres

        lib._db.execute("ANALYZE faces")
        monkeypatch.setattr(postgres, "EXACT_FACES_MAX", 0)
        [approx] = face_recall(lib, faces, truth, [(40, 40)], rounds=1)
        assert approx["true"] == exact["true"] and 0 < approx["found"] <= approx["true"]
