"""Face embeddings for the library benches: realistic (from real dlib faces) or isotropic synthetic.

Both give ``n`` stored embeddings and query embeddings whose same-person neighbours are among
the stored ones; recall is then measured against an exact scan of the stored embeddings, so
whatever else lies within the same-person distance of a query counts too.

* ``realistic(rng, n, real)``: ``real`` is bench/real_faces.py's cache (dlib embeddings of the
  shared media's photos, stills and real-video frames, computed by the app's own photo face
  path). The background (people never queried) is drawn from a Gaussian with the mean and full
  covariance of the real people's faces (label real), one face per person (each photo, one
  frame per video, photos of a named identity merged): the spread and correlations of real
  dlib embeddings, whose variance is concentrated in few directions, with new identities.
  Checked in the notes: the distances between different people match (pairs under 0.6, 1st
  percentile, median), generated faces (stored too) are left out of the fit since Stable
  Diffusion portraits crowd together (22% of their pairs under 0.6). Queries are real faces: two
  frames of every real video with at least 4 faces and one photo of every named identity with
  at least 2 photos (their other frames/photos are stored: true same-person neighbours as the
  embedding itself places them), plus single photos with no other face of that person stored (the
  common case: nothing to find, yet background faces may lie under the threshold). Every real
  face not used as a query is stored at a random slot among the background faces.
* ``isotropic(rng, n, queries)``: every component independent N(0, 0.09^2) (dlib-like norm,
  every unrelated pair ~1.44 apart), each query with 1-5 neighbours planted at 0.10-0.59:
  the earlier bench data, kept as a second row. It has no identity structure at all (128
  equally spread directions), the hardest case for graph search.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

DLIB_COMPONENT_SD = 0.09
"""Per-component spread of isotropic synthetic embeddings (dlib embeddings have norm ~0.9-1.1)."""
PLANTED_MIN, PLANTED_MAX = 0.10, 0.59
"""Distances of the planted neighbours of each isotropic query (all under the same-person distance)."""
QUERY_FRAMES_PER_VIDEO = 2
MIN_VIDEO_FACES = 4
SINGLE_PHOTO_QUERIES = 40
DEFAULT_REAL = Path(__file__).resolve().parents[1] / "out" / "store" / "real_faces.npz"


@dataclass
class FaceSet:
    kind: str
    emb: np.ndarray  # (n, 128) float32: the stored faces, row i = face id i + 1
    queries: np.ndarray  # (q, 128) float32
    same: list[np.ndarray]  # per query: face ids of the same person's stored faces (planted)
    notes: dict[str, Any] = field(default_factory=dict)


def isotropic(rng: np.random.Generator, n: int, queries: int) -> FaceSet:
    emb = (rng.standard_normal((n, 128)) * DLIB_COMPONENT_SD).astype(np.float32)
    rq = (rng.standard_normal((queries, 128)) * DLIB_COMPONENT_SD).astype(np.float32)
    slots = rng.permutation(n)
    used = 0
    same = []
    for q in range(queries):
        k = int(rng.integers(1, 6))
        for _ in range(k):
            d = rng.uniform(PLANTED_MIN, PLANTED_MAX)
            v = rng.standard_normal(128).astype(np.float32)
            emb[slots[used]] = rq[q] + v / np.linalg.norm(v) * d
            used += 1
        same.append(slots[used - k:used] + 1)
    return FaceSet("isotropic", emb, rq, same, {"planted": used, "background": "N(0, 0.09^2) per component"})


def load_real(path: Path | str = DEFAULT_REAL) -> dict[str, np.ndarray]:
    p = Path(path)
    if not p.exists():
        raise SystemExit(f"{p} is missing: run `uv run python bench/real_faces.py` first (needs the shared media)")
    with np.load(p) as z:
        return {k: z[k] for k in z.files}


def person_of(real: dict[str, np.ndarray]) -> np.ndarray:
    """One key per person: the file for a video or an unnamed photo, the name for a named identity."""
    ident, item = real["identity"], real["item"]
    return np.array([f"id:{i}" if i and "+" not in i else f"file:{f}" for i, f in zip(ident, item)])


def gaussian_fit(real: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, int]:
    """Mean and covariance of real people's faces (label real: not generated ones, whose
    Stable Diffusion portraits crowd together), one face per person (the first of each)."""
    person = person_of(real)
    _, first = np.unique(person, return_index=True)
    first = np.sort(first)
    reps = real["emb"][first[real["label"][first] == "real"]].astype(np.float64)
    return reps.mean(axis=0), np.cov(reps, rowvar=False), reps.shape[0]


def gaussian_background(rng: np.random.Generator, n: int, mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh(cov)
    root = v * np.sqrt(np.clip(w, 0, None))
    out = np.empty((n, mean.shape[0]), np.float32)
    for s in range(0, n, 200_000):  # in chunks: float64 temporaries of 1M x 128 are 1 GB
        e = min(n, s + 200_000)
        out[s:e] = mean + rng.standard_normal((e - s, mean.shape[0])) @ root.T
    return out


def realistic(rng: np.random.Generator, n: int, real: dict[str, np.ndarray] | None = None) -> FaceSet:
    real = load_real() if real is None else real
    emb, kind = real["emb"].astype(np.float32), real["kind"]
    person = person_of(real)
    mean, cov, people = gaussian_fit(real)
    is_query = np.zeros(len(emb), bool)
    for p in np.unique(person):
        rows = np.flatnonzero(person == p)
        if kind[rows[0]] == "frame" and len(rows) >= MIN_VIDEO_FACES:
            is_query[rng.choice(rows, QUERY_FRAMES_PER_VIDEO, replace=False)] = True
        elif p.startswith("id:") and len(rows) >= 2:
            is_query[rng.choice(rows)] = True
    with_match = int(is_query.sum())
    singles = np.array([r for r in range(len(emb)) if kind[r] == "photo" and real["label"][r] == "real"
                        and (person == person[r]).sum() == 1])
    is_query[rng.choice(singles, min(SINGLE_PHOTO_QUERIES, len(singles)), replace=False)] = True
    stored_real = emb[~is_query]
    if stored_real.shape[0] > n:
        raise SystemExit(f"--entries {n} is fewer than the {stored_real.shape[0]} real faces to store")
    out = gaussian_background(rng, n, mean, cov)
    slots = rng.permutation(n)[: stored_real.shape[0]]
    out[slots] = stored_real
    queries = emb[is_query]
    slot_of = dict(zip(np.flatnonzero(~is_query).tolist(), (slots + 1).tolist()))
    same = [np.array([slot_of[r] for r in np.flatnonzero((person == person[qr]) & ~is_query)], np.int64)
            for qr in np.flatnonzero(is_query)]
    # how the background compares with real faces of different people (pairs across persons)
    qp, sp = person[is_query], person[~is_query]
    d_same = np.linalg.norm(queries[:, None, :] - stored_real[None, :, :], axis=2)
    same_pair = qp[:, None] == sp[None, :]
    first = np.sort(np.unique(person, return_index=True)[1])
    reps = emb[first[real["label"][first] == "real"]]
    d_real = np.linalg.norm(reps[:, None, :] - reps[None, :, :], axis=2)[np.triu_indices(len(reps), 1)]
    g = gaussian_background(np.random.default_rng(0), len(reps), mean, cov)
    d_gauss = np.linalg.norm(g[:, None, :] - g[None, :, :], axis=2)[np.triu_indices(len(g), 1)]
    w = np.linalg.eigvalsh(cov)
    q5 = lambda d: "/".join(f"{x:.2f}" for x in np.percentile(d, [1, 5, 50, 95]))  # noqa: E731
    notes = {
        "real faces": f"{len(emb)} ({int((kind == 'frame').sum())} video frames, {int((kind == 'photo').sum())} photos), "
                      f"{len(first)} persons ({people} real: the Gaussian's fit); {stored_real.shape[0]} stored, {int(is_query.sum())} queries "
                      f"({with_match} with the same person stored, {int(is_query.sum()) - with_match} single photos)",
        "same-person pairs (query vs its stored frames/photos) d p1/p5/p50/p95": q5(d_same[same_pair]) +
            f", {float((d_same[same_pair] < 0.6).mean()):.3f} under 0.6",
        "different real persons, real faces: d p1/p5/p50/p95": q5(d_real) + f", {float((d_real < 0.6).mean()):.4f} under 0.6",
        "different persons, Gaussian background: d p1/p5/p50/p95": q5(d_gauss) + f", {float((d_gauss < 0.6).mean()):.4f} under 0.6",
        "variance in the top 10 / 30 of 128 directions (real fit; isotropic 0.08 / 0.23)":
            f"{w[-10:].sum() / w.sum():.2f} / {w[-30:].sum() / w.sum():.2f}",
    }
    return FaceSet("realistic", out, queries, same, notes)
