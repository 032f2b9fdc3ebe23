"""Library search at scale: 100,000 (or 1,000,000) entries, query time, recall, memory, disk.

    uv run python bench/real_faces.py        # once: real dlib embeddings of the shared media (a cache)
    uv run python bench/library_bench.py [--backend sqlite|postgres|both] [--entries 100000]
        [--faces realistic|isotropic] [--faces-only] [--hnsw-m 16] [--hnsw-efc 64]
        [--settings 40:40,100:100,...] [--queries 50] [--own-faces N] [--keep PATH]
        [--url URL | --pg-folder DIR] [--reuse-db] [--json OUT]

Face embeddings (``--faces``, bench/face_data.py):

* ``realistic`` (default): real dlib 128-d embeddings (bench/real_faces.py: the app's photo face
  path over the shared media's photos, stills and 12 frames of every real video) give the
  queries and their true same-person matches: two frames of each real video and one photo of
  each named person are queries, the person's other frames/photos are stored among the entries.
  The other entries are new people drawn from a Gaussian with the mean and full covariance of
  real people's faces (one per person), which reproduces how far apart different real people
  are (pairs under 0.6: 0.51% Gaussian vs 0.65% real; median 0.83 vs 0.85) and how
  concentrated real embeddings are (half the variance in 10 of 128 directions).
* ``isotropic``: every component N(0, 0.09^2) with 1-5 neighbours planted per query at
  0.10-0.59 (the earlier data): no identity structure, graph search's hardest case; a second row.

PostgreSQL (``--backend postgres``): the entries are bulk-loaded with COPY into the team store's
schema (detectors/store), the HNSW face index (``--hnsw-m``, ``--hnsw-efc``) and the segment-band
b-tree indexes are built afterwards (their build time is reported), and searches run through
``PostgresLibrary``. ``--faces-only`` stores only the faces (as interview faces; no photos,
hashes or segments): the face search alone, loaded in minutes. Recall is measured against an
exact NumPy scan at the checks' distance (hashing.SAME_PERSON_DISTANCE = 0.6) for each
``--settings`` pair EF_SEARCH:FACE_NEIGHBOURS of detectors/store/postgres.py (the back end's own
code runs with those constants; see face_recall). With realistic embeddings a face has
hundreds (100k) to thousands (1M) of other people's faces under 0.6 (dlib's same-person distance
is not a 1-in-a-million threshold), so "every face under 0.6" cannot be returned by a search that
asks for 100; the figure that says whether the check sees what it should is recall@5: of the
exact 5 nearest faces under 0.6, those the search returns (the reuse check reports 5 matches
per query). recall@10 of the k nearest, the query's own person's planted faces, and every face
under 0.6 are reported too. Without ``--url`` a private server is started with the ``pgserver``
wheel in ``--pg-folder`` (default out/store/bench_pg) and left running; ``--reuse-db`` keeps a
database loaded by an earlier run with the same data (another ``--hnsw-*`` rebuilds the index).

Photo entries are random 64-bit hashes (4 whole-image hashes, 8 crop segments) with one face
embedding each; SQLite inserts them through ``Library.add_encoded`` inside one transaction (the
bulk path). One real photo (skimage astronaut) is planted; photo queries are encoded copies of
it (pre-encoded: the table separates encoding from searching). Plain searches and searches
excluding a candidate (what the reuse check runs) are interleaved and timed alike: wall median,
p95 and CPU time (process_time, all threads). ``--own-faces N`` also stores N interview
embeddings of the planted face under its own candidate (a long interview history), the case
where excluding that candidate skips many near faces.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from detectors import hashing  # noqa: E402
from detectors.store.sqlite import Library  # noqa: E402
from detectors.store import schema  # noqa: E402

DLIB_COMPONENT_SD = 0.09
"""Per-component spread of synthetic embeddings (dlib embeddings have norm ~0.9-1.1)."""
OWN_FACE_SD = 0.02
"""Per-component spread of --own-faces around the planted face (distance ~0.23: same person)."""


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def synthetic(rng: np.random.Generator, n: int, emb: np.ndarray | None = None) -> list[hashing.Encoded]:
    whole = rng.integers(0, 2**63, size=(n, 4), dtype=np.int64).view(np.uint64) ^ rng.integers(0, 2, size=(n, 4), dtype=np.uint64) << np.uint64(63)
    segs = rng.integers(0, 2**63, size=(n, hashing.CROP_MAX_SEGMENTS), dtype=np.int64).view(np.uint64)
    if emb is None:
        emb = (rng.standard_normal((n, 128)) * DLIB_COMPONENT_SD).astype(np.float32)
    fh = rng.integers(0, 2**63, size=n, dtype=np.int64).view(np.uint64)
    out = []
    for i in range(n):
        out.append(
            hashing.Encoded(
                640, 480,
                {k: int(whole[i, j]) for j, k in enumerate(hashing.WHOLE_HASH_KINDS)},
                tuple(int(v) for v in segs[i]),
                (hashing.FaceCode((0, 0, 100, 100), emb[i], int(fh[i])),),
                None,
                f"{i:064x}",
            )
        )
    return out


def jpeg(rgb: np.ndarray, q: int) -> np.ndarray:
    from PIL import Image

    b = io.BytesIO()
    Image.fromarray(rgb).save(b, "JPEG", quality=q)
    b.seek(0)
    return np.asarray(Image.open(b).convert("RGB"))


def bench_sqlite(args: argparse.Namespace) -> list[tuple[str, str]]:
    import skimage.data

    rng = np.random.default_rng(5)
    tmp = tempfile.TemporaryDirectory()
    path = Path(args.keep) if args.keep else Path(tmp.name) / "bench.sqlite"
    rows = []

    astro = skimage.data.astronaut()
    t = time.perf_counter()
    planted = hashing.encode_image(astro)
    t_encode_store = time.perf_counter() - t
    q_rgb = jpeg(astro[20:-20, 30:-10], 60)
    t = time.perf_counter()
    query = hashing.encode_image(q_rgb, mirrored=True)
    t_encode_query = time.perf_counter() - t

    faces = _faces(args, rng, args.entries)
    data = synthetic(rng, args.entries, faces.emb)
    with Library(path) as lib:
        t = time.perf_counter()
        with lib.transaction():
            for i, enc in enumerate(data):
                lib.add_encoded(f"synthetic {i // 4}", f"/synthetic/{i}.jpg", "photo", enc, sha256=enc.sha256 or "", size=1)
            lib.add_encoded("astronaut", "astronaut.png", "id", planted, sha256="planted", size=1)
            if args.own_faces and planted.faces:
                noise = rng.standard_normal((args.own_faces, 128)).astype(np.float32) * OWN_FACE_SD
                lib.add_face_embeddings("astronaut", None, planted.faces[0].embedding + noise)
        t_insert = time.perf_counter() - t
        del data
        db_mb = path.stat().st_size / 2**20

        rss0 = rss_mb()
        t = time.perf_counter()
        idx = lib.index()
        t_build = time.perf_counter() - t
        rss1 = rss_mb()
        lib._index = None  # build again under tracemalloc (slower) for the allocation peak
        tracemalloc.start()
        idx = lib.index()
        _cur, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()

        # Plain and excluding searches interleaved query by query, so machine load (2 shared
        # cores) falls on every variant alike. "astronaut" is the reuse check's real case: the
        # candidate's own photo is in the library and must not count as "seen before".
        variants = {
            "plain": None,
            "excl. another candidate": "synthetic 7",
            "excl. the photo's own candidate": "astronaut",
        }
        timed: dict[str, tuple[list[float], list[float]]] = {k: ([], []) for k in variants}
        results: dict[str, list] = {}
        for q in range(args.queries):
            keys = list(variants)
            for key in keys[q % len(keys):] + keys[: q % len(keys)]:
                t, c = time.perf_counter(), time.process_time()
                results[key] = lib.search_encoded(query, exclude_candidate=variants[key], limit=10)
                timed[key][0].append(time.perf_counter() - t)
                timed[key][1].append(time.process_time() - c)
        matches = results["plain"]
        top = matches[0] if matches else None
        emb_timed: dict[str, tuple[list[float], list[float]]] = {"plain": ([], []), "excl.": ([], [])}
        planted_face = planted.faces[0].embedding if planted.faces else None
        for q in range(args.queries):
            e = (rng.standard_normal(128) * DLIB_COMPONENT_SD).astype(np.float32) if planted_face is None else planted_face
            for key, ex in (("plain", None), ("excl.", "astronaut")):
                t, c = time.perf_counter(), time.process_time()
                lib.search_embedding(e, exclude_candidate=ex)
                emb_timed[key][0].append(time.perf_counter() - t)
                emb_timed[key][1].append(time.process_time() - c)

        # the recall queries (exact search in memory: recall 1 by construction, checked here)
        truth = exact_neighbours(faces.emb, faces.queries, hashing.SAME_PERSON_DISTANCE)
        q_times: list[float] = []
        top5 = top5_true = 0
        for qi, q in enumerate(faces.queries):
            t = time.perf_counter()
            matches = lib.search_embedding(q, limit=5)
            q_times.append(time.perf_counter() - t)
            exact5 = np.sort(np.linalg.norm(faces.emb[truth[qi] - 1] - q, axis=1))[:5]
            md = np.array([m.distance for m in matches])
            top5_true += len(exact5)
            top5 += int(sum(bool(np.any(np.abs(md - d) < 1e-4)) for d in exact5))

    def stats(wall: list[float], cpu: list[float]) -> str:
        w, c = np.array(wall) * 1000, np.array(cpu) * 1000
        return f"median {np.median(w):5.1f} ms, p95 {np.percentile(w, 95):5.1f} ms, CPU median {np.median(c):5.1f} ms"

    rows = [
        ("entries (photos, 1 face each)", f"{idx.size:,}"),
        ("face embeddings", faces.kind),
        *((f"  {k}", str(v)) for k, v in faces.notes.items()),
        (f"recall queries: search_embedding(limit=5) time; top-5 found / exact top-5 (d < {hashing.SAME_PERSON_DISTANCE})",
         f"{_ms(q_times)}; {top5}/{top5_true}"),
        ("crop segments indexed", f"{idx.segs.size:,}"),
        ("faces indexed", f"{idx.embeddings.shape[0]:,} ({args.own_faces:,} of them the planted face's own interviews)"),
        ("insert (one transaction)", f"{t_insert:.1f} s"),
        ("library file", f"{db_mb:.0f} MB"),
        ("index build (first search)", f"{t_build:.2f} s"),
        ("index arrays", f"{idx.nbytes() / 2**20:.1f} MB"),
        ("index build peak (tracemalloc)", f"{peak / 2**20:.1f} MB"),
        ("RSS growth at build", f"{rss1 - rss0:.0f} MB"),
        *((f"photo search, {k}", stats(*v)) for k, v in timed.items()),
        ("  same results with and without excluding another candidate",
         str([m.to_dict() for m in results["plain"]] == [m.to_dict() for m in results["excl. another candidate"]])),
        *((f"embedding search (planted face), {k}", stats(*v)) for k, v in emb_timed.items()),
        ("encode query photo (hashes, faces, keypoints, mirrored)", f"{t_encode_query:.2f} s"),
        ("encode stored photo", f"{t_encode_store:.2f} s"),
        ("top-1 of a cropped JPEG copy of the planted photo",
         f"{top.candidate} {top.kind} d={top.distance:.3f} ({top.detail.get('method')})" if top else "none"),
        ("target", "< 50 ms per query"),
    ]
    tmp.cleanup()
    return rows


# --------------------------------------------------------------------------- PostgreSQL

COPY_CHUNK = 50_000
SETTINGS = "40:40,100:100,200:100,400:100,1000:100"
"""Face search settings swept: ``EF_SEARCH:FACE_NEIGHBOURS`` of detectors/store/postgres.py (the
query asks for the nearest FACE_NEIGHBOURS with ``hnsw.ef_search`` = max(EF_SEARCH, FACE_NEIGHBOURS));
100:100 is what ships."""


def _stats(wall: list[float], cpu: list[float]) -> str:
    w, c = np.array(wall) * 1000, np.array(cpu) * 1000
    return f"median {np.median(w):5.1f} ms, p95 {np.percentile(w, 95):5.1f} ms, CPU median {np.median(c):5.1f} ms (client)"


def _ms(wall: list[float]) -> str:
    w = np.array(wall) * 1000
    return f"median {np.median(w):.1f} ms, p95 {np.percentile(w, 95):.1f} ms"


def _bits_text(v: np.ndarray) -> list[str]:
    return [format(int(x), "064b") for x in v.astype(np.uint64)]


def _vec_text(e: np.ndarray) -> str:
    return "[" + ",".join(f"{x:.7g}" for x in e) + "]"


def _server_url(args: argparse.Namespace, dbname: str) -> str:
    """A fresh database ``dbname`` on --url's server, or on a private pgserver (kept with --reuse-db)."""
    import psycopg

    if args.url:
        base = args.url
    else:
        import pgserver

        folder = Path(args.pg_folder)
        folder.mkdir(parents=True, exist_ok=True)
        base = pgserver.get_server(folder, cleanup_mode=None).get_uri()
    with psycopg.connect(base, autocommit=True) as db:
        exists = db.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
        if not (args.reuse_db and exists):
            db.execute(f"DROP DATABASE IF EXISTS {dbname}")
            db.execute(f"CREATE DATABASE {dbname}")
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(base)
    return urlunsplit((parts.scheme, parts.netloc, "/" + dbname, parts.query, parts.fragment))


def _plant(lib: Any, planted: hashing.Encoded, args: argparse.Namespace, rng: np.random.Generator) -> None:
    """The real photo the photo-search queries are copies of (and --own-faces interviews)."""
    lib.add_encoded("astronaut", "astronaut.png", "id", planted, sha256="planted", size=1)
    if args.own_faces and planted.faces:
        noise = rng.standard_normal((args.own_faces, 128)).astype(np.float32) * OWN_FACE_SD
        lib.add_face_embeddings("astronaut", None, planted.faces[0].embedding + noise)


def _hnsw(db: Any, m: int, efc: int) -> float:
    """(Re)build the face index with these parameters; its build time (s)."""
    db.execute("DROP INDEX IF EXISTS faces_embedding_hnsw")
    db.execute("SET maintenance_work_mem = '3GB'")
    db.execute("SET max_parallel_maintenance_workers = 1")  # 2 processes: the machine's 2 cores
    t = time.perf_counter()
    db.execute(f"CREATE INDEX faces_embedding_hnsw ON faces USING hnsw (embedding vector_l2_ops) "
               f"WITH (m = {int(m)}, ef_construction = {int(efc)})")
    return time.perf_counter() - t


def _bulk_load(lib: Any, n: int, emb: np.ndarray, rng: np.random.Generator, faces_only: bool) -> tuple[float, float]:
    """COPY the entries in (index-free), then build the segment-band indexes; (load s, bands s).

    Full entries: a photo each (random 64-bit hashes, 8 crop segments) with its one face.
    ``faces_only``: only the faces (as interview faces of 4 faces per candidate, no photos):
    enough for the face search, loaded in a fraction of the time."""
    from detectors.store import schema

    db = lib._db
    t = time.perf_counter()
    cands = (n + 3) // 4
    now = "2026-12-01T00:00:00+00:00"
    with db.transaction():
        db.execute("DROP INDEX faces_embedding_hnsw")
        for j in range(schema.SEGMENT_BANDS):
            db.execute(f"DROP INDEX segments_band{j}")
        with db.cursor().copy("COPY candidates(id, name, created_at) FROM STDIN") as cp:
            for i in range(cands):
                cp.write_row((i + 1, f"synthetic {i}", now))
        for start in range(0, n, COPY_CHUNK):
            stop = min(n, start + COPY_CHUNK)
            ids = range(start + 1, stop + 1)
            if faces_only:
                with db.cursor().copy("COPY faces(candidate_id, source, embedding, added_at) FROM STDIN") as cp:
                    for k, i in enumerate(ids):
                        cp.write_row(((i - 1) // 4 + 1, "interview", _vec_text(emb[start + k]), now))
            else:
                whole = rng.integers(0, 2**63, size=(stop - start, 4), dtype=np.int64).view(np.uint64) ^ \
                    rng.integers(0, 2, size=(stop - start, 4), dtype=np.uint64) << np.uint64(63)
                segs = rng.integers(0, 2**63, size=(stop - start, hashing.CROP_MAX_SEGMENTS), dtype=np.int64).view(np.uint64)
                fh = rng.integers(0, 2**63, size=stop - start, dtype=np.int64).view(np.uint64)
                with db.cursor().copy("COPY media(id, candidate_id, path, role, sha256, size, width, height, added_at) FROM STDIN") as cp:
                    for i in ids:
                        cp.write_row((i, (i - 1) // 4 + 1, f"/synthetic/{i - 1}.jpg", "photo", f"{i - 1:064x}", 1, 640, 480, now))
                wt = [_bits_text(whole[:, j]) for j in range(4)]
                with db.cursor().copy("COPY image_hashes(media_id, phash, dhash, phash_trim, dhash_trim) FROM STDIN") as cp:
                    for k, i in enumerate(ids):
                        cp.write_row((i, wt[0][k], wt[1][k], wt[2][k], wt[3][k]))
                st = [_bits_text(segs[:, j]) for j in range(segs.shape[1])]
                with db.cursor().copy("COPY segments(media_id, seq, value) FROM STDIN") as cp:
                    for k, i in enumerate(ids):
                        for j in range(segs.shape[1]):
                            cp.write_row((i, j, st[j][k]))
                ft = _bits_text(fh)
                with db.cursor().copy("COPY faces(candidate_id, media_id, source, box, embedding, face_hash, added_at) FROM STDIN") as cp:
                    for k, i in enumerate(ids):
                        cp.write_row(((i - 1) // 4 + 1, i, "photo", "[0, 0, 100, 100]", _vec_text(emb[start + k]), ft[k], now))
            print(f"  loaded {stop:,} / {n:,}", file=sys.stderr, flush=True)
        for table in ("candidates", "media", "faces"):
            db.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), GREATEST(1, (SELECT MAX(id) FROM {table})))")
    t_load = time.perf_counter() - t
    db.execute("SET maintenance_work_mem = '3GB'")
    t = time.perf_counter()
    for j in range(schema.SEGMENT_BANDS):
        db.execute(f"CREATE INDEX segments_band{j} ON segments(band{j})")
    return t_load, time.perf_counter() - t


def exact_neighbours(stored: np.ndarray, queries: np.ndarray, radius: float) -> list[np.ndarray]:
    """Face ids (row + 1) of the stored faces within ``radius`` of each query: an exact scan
    (a float32 matrix product, every row near the radius checked again by direct difference)."""
    sq = np.einsum("ij,ij->i", stored, stored)
    out = []
    for s in range(0, len(queries), 64):
        q = queries[s:s + 64]
        d2 = sq[:, None] + np.einsum("ij,ij->i", q, q)[None, :] - 2 * (stored @ q.T)
        for j in range(q.shape[0]):
            rows = np.flatnonzero(d2[:, j] < (radius + 0.02) ** 2)
            d = np.linalg.norm(stored[rows] - q[j], axis=1)
            out.append(rows[d < radius] + 1)
    return out


def face_recall(lib: Any, faces: Any, truth: list[np.ndarray], settings: list[tuple[int, int]], rounds: int) -> list[dict[str, Any]]:
    """Recall at the same-person distance and time of the library's face queries per setting.

    For each ``(ef, k)`` the module constants EF_SEARCH, FACE_NEIGHBOURS of the PostgreSQL back
    end are set and its own code runs: ``_nearest_faces`` (the photo search's face step: the k
    nearest, ``hnsw.ef_search`` = max(ef, k)) and ``search_embedding(limit=5)`` (what the reuse
    check runs for an interview's face, MAX_MATCHES_PER_QUERY = 5). Settings are interleaved
    query by query so machine load falls on each alike. Counted against the exact scan
    (``truth``: every stored face with d < 0.6, nearest first):

    * ``top5``: of the exact 5 nearest under 0.6, those search_embedding returns (matched by
      distance): what the check reports; the recall the target is about;
    * ``top10``: of the exact 10 nearest under 0.6, those in the k nearest faces;
    * ``found``/``true``: every face under 0.6 (capped by k: at 1M a real face has thousands of
      other people's faces under 0.6);
    * ``same``: the query person's own planted faces (other frames of the video, other photos)
      under 0.6 that are among the k nearest faces."""
    from detectors.store import postgres

    saved = postgres.EF_SEARCH, postgres.FACE_NEIGHBOURS
    zero = ("found", "true", "top5", "top5_true", "top10", "top10_true", "same", "same_true")
    res = [{"ef": ef, "k": k, **dict.fromkeys(zero, 0), "t_nearest": [], "t_search": []} for ef, k in settings]
    try:
        for r in range(rounds):
            for qi, q in enumerate(faces.queries):
                ids = truth[qi]
                d = np.linalg.norm(faces.emb[ids - 1] - q, axis=1)
                order = np.argsort(d, kind="stable")
                exact5, exact10 = d[order[:5]], set(ids[order[:10]].tolist())
                same = set(faces.same[qi].tolist()) & set(ids.tolist())
                turn = list(range(len(settings)))
                turn = turn[qi % len(turn):] + turn[: qi % len(turn)]
                for si in turn:
                    s = res[si]
                    postgres.EF_SEARCH, postgres.FACE_NEIGHBOURS = s["ef"], s["k"]
                    t = time.perf_counter()
                    got = set(lib._nearest_faces(q, None, s["k"]))
                    s["t_nearest"].append(time.perf_counter() - t)
                    t = time.perf_counter()
                    matches = lib.search_embedding(q, limit=5)
                    s["t_search"].append(time.perf_counter() - t)
                    if r:
                        continue
                    s["found"] += len(got & set(ids.tolist()))
                    s["true"] += len(ids)
                    md = np.array([m.distance for m in matches])
                    s["top5_true"] += len(exact5)
                    s["top5"] += int(sum(bool(np.any(np.abs(md - x) < 1e-4)) for x in exact5))
                    s["top10_true"] += len(exact10)
                    s["top10"] += len(got & exact10)
                    s["same_true"] += len(same)
                    s["same"] += len(got & same)
    finally:
        postgres.EF_SEARCH, postgres.FACE_NEIGHBOURS = saved
    return res


def bench_postgres(args: argparse.Namespace) -> list[tuple[str, str]]:
    import json

    import skimage.data

    from detectors.store import redact_url
    from detectors.store.postgres import EF_SEARCH, FACE_NEIGHBOURS, PostgresLibrary

    rng = np.random.default_rng(5)
    n = args.entries
    faces = _faces(args, rng, n)
    name = f"telltale_bench_{n}_{faces.kind}" + ("_faces" if args.faces_only else "")
    url = _server_url(args, name)
    build_file = Path(args.pg_folder).parent / f"{name}.json"
    astro = skimage.data.astronaut()
    planted = hashing.encode_image(astro)
    query = hashing.encode_image(jpeg(astro[20:-20, 30:-10], 60), mirrored=True)
    fingerprint = f"{faces.emb.shape} {float(faces.emb[::997].sum()):.6f} {float(faces.queries.sum()):.6f}"
    hnsw_key = f"hnsw m={args.hnsw_m} ef_construction={args.hnsw_efc}"

    with PostgresLibrary(url) as lib:
        db = lib._db
        build = json.loads(build_file.read_text()) if build_file.exists() else {}
        loaded = bool(build) and db.execute("SELECT COUNT(*) FROM faces").fetchone()[0] >= n
        if loaded and build.get("data") != fingerprint:
            raise SystemExit(f"--reuse-db: {name} holds other data than this run generates (seed, cache or options changed)")
        if not loaded:
            t_load, t_bands = _bulk_load(lib, n, faces.emb, rng, args.faces_only)
            build = {"data": fingerprint, "load": t_load, "bands": t_bands}
            db.execute("VACUUM ANALYZE")
            _plant(lib, planted, args, rng)
        if build.get("index") != hnsw_key:
            build[hnsw_key] = _hnsw(db, args.hnsw_m, args.hnsw_efc)
            build["index"] = hnsw_key
            db.execute("ANALYZE faces")
        build_file.write_text(json.dumps(build))
        sizes = dict(db.execute(
            "SELECT relname, pg_total_relation_size(oid) FROM pg_class WHERE relname IN "
            "('faces', 'segments', 'image_hashes', 'media', 'faces_embedding_hnsw', 'segments_band0')").fetchall())
        db_mb = db.execute("SELECT pg_database_size(current_database())").fetchone()[0] / 2**20

        t = time.perf_counter()
        truth = exact_neighbours(faces.emb, faces.queries, hashing.SAME_PERSON_DISTANCE)
        t_truth = time.perf_counter() - t
        settings = [tuple(int(x) for x in s.split(":")) for s in args.settings.split(",") if s]
        res = face_recall(lib, faces, truth, settings, args.rounds)
        sweep: list[tuple[str, str]] = []
        sweep_json: list[dict[str, Any]] = []
        for s in res:
            shipped = " (ships)" if (s["ef"], s["k"]) == (EF_SEARCH, FACE_NEIGHBOURS) else ""
            f = lambda a, b: f"{s[a] / max(1, s[b]):.4f} ({s[a]}/{s[b]})"  # noqa: E731
            sweep.append((f"  ef_search {max(s['ef'], s['k'])}, k {s['k']}{shipped}: recall@5 (search_embedding); "
                          "recall@10 (k nearest); same-person; all under 0.6; nearest-faces time; search_embedding time",
                          f"{f('top5', 'top5_true')}; {f('top10', 'top10_true')}; {f('same', 'same_true')}; "
                          f"{f('found', 'true')}; {_ms(s['t_nearest'])}; {_ms(s['t_search'])}"))
            sweep_json.append({k: v for k, v in s.items() if not k.startswith("t_")} | {
                "nearest_ms": [float(np.median(s["t_nearest"]) * 1000), float(np.percentile(s["t_nearest"], 95) * 1000)],
                "search_ms": [float(np.median(s["t_search"]) * 1000), float(np.percentile(s["t_search"], 95) * 1000)]})
        # an exact scan in the server (what stores of at most EXACT_FACES_MAX faces do), recall 1
        times = []
        for q in faces.queries[:20]:
            t = time.perf_counter()
            db.execute("SELECT id FROM faces ORDER BY (embedding <-> %s) + 0 LIMIT 100", (q,)).fetchall()
            times.append(time.perf_counter() - t)
        sweep.append(("  exact scan in the server (no index, recall 1): query time", _ms(times)))

        photo_rows: list[tuple[str, str]] = []
        if not args.faces_only:
            timed = {"plain": ([], []), "excl. another candidate": ([], []), "excl. the photo's own candidate": ([], [])}
            excl = {"plain": None, "excl. another candidate": "synthetic 7", "excl. the photo's own candidate": "astronaut"}
            results = {}
            for q in range(args.queries):
                keys = list(timed)
                for key in keys[q % 3:] + keys[: q % 3]:
                    t, c = time.perf_counter(), time.process_time()
                    results[key] = lib.search_encoded(query, exclude_candidate=excl[key], limit=10)
                    timed[key][0].append(time.perf_counter() - t)
                    timed[key][1].append(time.process_time() - c)
            top = results["plain"][0] if results["plain"] else None
            photo_rows = [
                *((f"photo search, {k}", _stats(*v)) for k, v in timed.items()),
                ("  same results with and without excluding another candidate",
                 str([m.to_dict() for m in results["plain"]] == [m.to_dict() for m in results["excl. another candidate"]])),
                ("top-1 of a cropped JPEG copy of the planted photo",
                 f"{top.candidate} {top.kind} d={top.distance:.3f} ({top.detail.get('method')})" if top else "none"),
            ]
        ver = db.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()[0]
        pgver = db.execute("SHOW server_version").fetchone()[0]
    mb = lambda k: f"{sizes.get(k, 0) / 2**20:.0f} MB"  # noqa: E731
    per_query = np.array([len(t) for t in truth])
    builds = "; ".join(f"{k}: {v:.1f} s" for k, v in build.items() if k.startswith("hnsw "))
    return [
        ("server", f"PostgreSQL {pgver}, pgvector {ver} ({redact_url(url)})"),
        ("entries", f"{n:,} " + ("faces only (interview faces, no photos)" if args.faces_only else "photos, 1 face each")),
        ("face embeddings", faces.kind),
        *((f"  {k}", str(v)) for k, v in faces.notes.items()),
        ("bulk load (COPY, one transaction)", f"{build['load']:.1f} s"),
        ("HNSW build", builds),
        ("segment band indexes build (4 b-trees)", f"{build['bands']:.1f} s"),
        ("database on disk", f"{db_mb:.0f} MB"),
        ("  faces table + indexes / HNSW index", f"{mb('faces')} / {mb('faces_embedding_hnsw')} ({hnsw_key})"),
        ("  segments + indexes / one of 4 band indexes", f"{mb('segments')} / {mb('segments_band0')}"),
        ("  image_hashes / media", f"{mb('image_hashes')} / {mb('media')}"),
        (f"recall queries; true neighbours at d < {hashing.SAME_PERSON_DISTANCE} (exact scan, {t_truth:.1f} s)",
         f"{len(truth)}; {int(per_query.sum())} (per query median {np.median(per_query):.0f}, max {per_query.max()}, "
         f"{int((per_query == 0).sum())} queries with none)"),
        *sweep,
        *photo_rows,
        ("target", "face search < 50 ms at 1M; recall >= 0.99"),
        ("sweep", json.dumps(sweep_json)),
    ]


def _faces(args: argparse.Namespace, rng: np.random.Generator, n: int) -> Any:
    from face_data import isotropic, realistic

    return realistic(rng, n) if args.faces == "realistic" else isotropic(rng, n, args.recall_queries)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="sqlite")
    ap.add_argument("--entries", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=50)
    ap.add_argument("--recall-queries", type=int, default=200)
    ap.add_argument("--own-faces", type=int, default=0, help="interview embeddings of the planted face under its candidate")
    ap.add_argument("--keep", help="SQLite: write the library here instead of a temporary file")
    ap.add_argument("--url", help="PostgreSQL server to use (a database telltale_bench_N is created on it)")
    ap.add_argument("--pg-folder", default=str(Path(__file__).resolve().parents[1] / "out" / "store" / "bench_pg"))
    ap.add_argument("--json", help="also write the tables here")
    ap.add_argument("--faces", choices=("realistic", "isotropic"), default="realistic",
                    help="face embeddings: from real dlib faces (bench/real_faces.py, bench/face_data.py) or isotropic synthetic")
    ap.add_argument("--faces-only", action="store_true",
                    help="PostgreSQL: store only faces (no photos, hashes, segments): the face search alone, loaded fast")
    ap.add_argument("--hnsw-m", type=int, default=schema.HNSW_M)
    ap.add_argument("--hnsw-efc", type=int, default=schema.HNSW_EF_CONSTRUCTION, help="HNSW ef_construction")
    ap.add_argument("--settings", default=SETTINGS, help="PostgreSQL: face search settings EF_SEARCH:FACE_NEIGHBOURS,...")
    ap.add_argument("--rounds", type=int, default=2, help="PostgreSQL: times each recall query is timed per setting")
    ap.add_argument("--reuse-db", action="store_true", help="PostgreSQL: keep a database loaded by an earlier run (same --entries)")
    args = ap.parse_args(argv)
    tables = {}
    for backend in (("sqlite", "postgres") if args.backend == "both" else (args.backend,)):
        rows = bench_sqlite(args) if backend == "sqlite" else bench_postgres(args)
        tables[backend] = rows
        w = max(len(k) for k, _ in rows)
        print(f"\n{backend}, {args.entries:,} entries")
        print(f"{'measure':<{w}} | value")
        print("-" * w + "-+-" + "-" * 40)
        for k, v in rows:
            print(f"{k:<{w}} | {v}")
        print(f"(python {sys.version.split()[0]}, {os.cpu_count()} cpus, load average {os.getloadavg()[0]:.1f})", flush=True)
    if args.json:
        import json

        Path(args.json).write_text(json.dumps({b: dict(r) for b, r in tables.items()}, indent=1) + "\n")


if __name__ == "__main__":
    main()
