"""The case store: API, migrations, transactions, privacy groundwork."""

from __future__ import annotations

import dataclasses
import sqlite3
import stat
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from detectors import hashing
from detectors.base import MediaError
from detectors.store.sqlite import MIGRATIONS, SCHEMA_VERSION, Library, LibraryError

from fixtures.simple_media import write_video

skdata = pytest.importorskip("skimage.data")


def _save(folder: Path, name: str, rgb: np.ndarray) -> Path:
    p = folder / name
    Image.fromarray(rgb).save(p)
    return p


def _fake_encoded(seed: int) -> hashing.Encoded:
    rng = np.random.default_rng(seed)
    h = {k: int(rng.integers(0, 2**63)) for k in hashing.WHOLE_HASH_KINDS}
    face = hashing.FaceCode((0, 0, 10, 10), (rng.standard_normal(128) * 0.09).astype(np.float32), int(rng.integers(0, 2**63)))
    return hashing.Encoded(100, 100, h, (int(rng.integers(0, 2**63)),), (face,))


def test_candidates_media_reports(tmp_path: Path) -> None:
    with Library(tmp_path / "lib.sqlite") as lib:
        a = lib.add_candidate("Ada Lovelace")
        assert lib.add_candidate("Ada Lovelace") == a  # get or create
        lib.add_candidate("Bob")
        assert [c.name for c in lib.candidates()] == ["Ada Lovelace", "Bob"]
        assert [c.name for c in lib.candidates("love")] == ["Ada Lovelace"]
        assert lib.get_candidate("nobody") is None and lib.get_candidate(a).name == "Ada Lovelace"
        row = lib.add_encoded("Ada Lovelace", "/x/id.jpg", "id", _fake_encoded(0), sha256="abc", size=10)
        assert [m.id for m in lib.media("Ada Lovelace")] == [row.id] and row.faces == 1
        assert lib.get_candidate("Ada Lovelace").media_count == 1
        assert lib.latest_report("Ada Lovelace") is None
        lib.save_report("Ada Lovelace", {"candidate": "Ada Lovelace", "score": 80, "verdict": "authentic", "checks": {}})
        lib.save_report("Ada Lovelace", {"candidate": "Ada Lovelace", "score": 35.5, "verdict": "likely-fake", "checks": {}})
        assert lib.latest_report("Ada Lovelace")["score"] == 35.5
        assert [r["score"] for _t, r in lib.reports("Ada Lovelace")] == [80, 35.5]  # history kept
        c = lib.get_candidate("Ada Lovelace")
        assert (c.score, c.verdict) == (35.5, "likely-fake")
        lib.remove_media(row.id)
        assert lib.media("Ada Lovelace") == [] and lib.index().embeddings.shape[0] == 0
        with pytest.raises(LibraryError):
            lib.media("nobody")


def test_add_media_image_and_video(tmp_path: Path) -> None:
    p = _save(tmp_path, "astronaut.png", skdata.astronaut())
    video = write_video(tmp_path / "interview.mp4", frames=10)
    fake = tmp_path / "fake.mp4"
    fake.write_bytes(b"not really a video")
    with Library(tmp_path / "lib.sqlite") as lib:
        with pytest.raises(MediaError):
            lib.add_media("Eve", fake, "video")  # a file named .mp4 is not a recording
        row = lib.add_media("Eve", p, "id")
        assert row.role == "id" and row.size == p.stat().st_size and len(row.sha256) == 64 and row.faces >= 1
        assert lib.add_media("Eve", p, "id").id == row.id  # same file twice: one row
        v = lib.add_media("Eve", video, "video")
        assert v.role == "video" and v.faces == 0
        lib.add_face_embeddings("Eve", v, [np.full(128, 0.05, np.float32)])
        assert lib.get_media(v.id).faces == 1
        with pytest.raises(ValueError):
            lib.add_media("Eve", p, "selfie")


def test_interview_face_found_under_another_name(tmp_path: Path) -> None:
    e = (np.random.default_rng(3).standard_normal(128) * 0.09).astype(np.float32)
    with Library(tmp_path / "lib.sqlite") as lib:
        lib.add_face_embeddings("Alice", None, [e])
        hits = lib.search_embedding(e + 0.01, exclude_candidate="Bob")
        assert [(m.candidate, m.kind) for m in hits] == [("Alice", "same-face")] and hits[0].distance < 0.2
        assert lib.search_embedding(e, exclude_candidate="Alice") == []


def test_migration_from_version_1(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)")
    for sql in MIGRATIONS[0][2]:
        db.execute(sql)
    db.execute("INSERT INTO schema_migrations VALUES (1, 'v1', '2025-01-01')")
    db.execute("INSERT INTO candidates(name, created_at) VALUES ('Old Candidate', '2025-01-01')")
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    with Library(path) as lib:
        assert lib.schema_version == SCHEMA_VERSION >= 2
        assert [c.name for c in lib.candidates()] == ["Old Candidate"]  # data kept
        versions = [r[0] for r in lib._db.execute("SELECT version FROM schema_migrations ORDER BY version")]
        assert versions == list(range(1, SCHEMA_VERSION + 1))
        lib.add_encoded("Old Candidate", "/x.jpg", "photo", _fake_encoded(1))  # v2 tables usable
        assert lib.audit_log()[0]["action"] == "add-media"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    with pytest.raises(LibraryError, match="newer"):
        Library(path)


def test_transaction_rolls_back_everything(tmp_path: Path) -> None:
    with Library(tmp_path / "lib.sqlite") as lib:
        with pytest.raises(RuntimeError):
            with lib.transaction():
                lib.add_encoded("Mallory", "/a.jpg", "photo", _fake_encoded(2))
                lib.add_encoded("Mallory", "/b.jpg", "photo", _fake_encoded(3))
                raise RuntimeError("crash in the middle")
        assert lib.candidates() == [] and lib.index().size == 0


def test_interrupted_import_keeps_what_was_committed(tmp_path: Path) -> None:
    folder = tmp_path / "personas"
    folder.mkdir()
    for i, name in enumerate(["astronaut", "chelsea", "coffee", "rocket"]):
        rgb = getattr(skdata, name)()
        _save(folder, f"{i}_{name}.jpg", np.asarray(Image.fromarray(rgb).resize((160, 120))))
    path = tmp_path / "lib.sqlite"
    done: list[str] = []

    def progress(fraction: float, message: str) -> None:
        if len(done) == 2:
            raise KeyboardInterrupt  # the user stops the import during the third file
        done.append(message)

    with Library(path) as lib:
        with pytest.raises(KeyboardInterrupt):
            lib.import_collection("fake personas", folder, progress=progress)
    with Library(path) as lib:  # reopened: the two committed files are there, nothing half-written
        (coll,) = lib.collections()
        assert coll.media_count == 2
        assert lib.index().size == 2
        assert lib.import_collection("fake personas", folder) == 2  # resumes: duplicates skipped
        assert lib.collections()[0].media_count == 4
        cancel = threading.Event()
        cancel.set()
        assert lib.import_collection("other", folder, cancel=cancel) == 0


def test_files_private_and_erase_leaves_no_trace(tmp_path: Path) -> None:
    path = tmp_path / "private" / "lib.sqlite"
    p = _save(tmp_path, "astronaut.png", skdata.astronaut())
    with Library(path) as lib:
        lib.add_media("Trudy", p, "id")
        assert lib.search(p)[0].candidate == "Trudy"
        assert lib.erase_candidate("Trudy") == 1
        assert lib.search(p) == []
        for table in ("media", "faces", "image_hashes", "segments", "keypoints", "reports"):
            assert lib._db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] == 0
        assert lib.audit_log()[0]["action"] == "erase-candidate"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert b"Trudy" not in path.read_bytes()  # secure_delete: the name is not left in free pages


def _flip(value: int, bits: int, rng: np.random.Generator) -> int:
    for b in rng.choice(64, size=bits, replace=False):
        value ^= 1 << int(b)
    return value


def _near(query: hashing.Encoded, rng: np.random.Generator, *, hash_bits: int | None, emb_noise: float | None,
          face_bits: int | None = None) -> hashing.Encoded:
    """A stored photo related to ``query``: whole hashes ``hash_bits`` away (None: unrelated),
    its face ``emb_noise`` away per component (None: another person), face hash ``face_bits`` away."""
    q = query.faces[0]
    hashes = ({k: _flip(v, hash_bits, rng) for k, v in query.hashes.items()} if hash_bits is not None
              else {k: int(rng.integers(0, 2**63)) for k in hashing.WHOLE_HASH_KINDS})
    emb = (q.embedding + rng.standard_normal(128).astype(np.float32) * emb_noise if emb_noise is not None
           else (rng.standard_normal(128) * 0.09).astype(np.float32))
    fh = _flip(q.face_hash, face_bits, rng) if face_bits is not None else int(rng.integers(0, 2**63))
    return hashing.Encoded(100, 100, hashes, (int(rng.integers(0, 2**63)),), (hashing.FaceCode((0, 0, 10, 10), emb, fh),))


def _exclusion_library(path: Path, query: hashing.Encoded, skip: str | None = None) -> Library:
    """Photos and faces of several owners, each related to ``query`` in every way a search can
    find (byte copy, near-identical hashes, aligned-face hash, same face, face-only embeddings),
    plus unrelated filler. ``skip``: leave that candidate's rows out (the reference library)."""
    rng = np.random.default_rng(11)
    lib = Library(path)
    with lib.transaction():
        for owner in ("Self", "Other", "Third"):
            for n, (bits, noise, fbits) in enumerate([(2, 0.005, 1), (5, 0.02, None), (None, 0.03, 4), (None, 0.04, None),
                                                     (13, None, None), (None, None, None)]):
                enc = _near(query, rng, hash_bits=bits, emb_noise=noise, face_bits=fbits)
                if owner != skip:
                    lib.add_encoded(owner, f"/{owner}/{n}.jpg", "photo", enc, sha256=f"{owner}{n}")
            copy = _near(query, rng, hash_bits=0, emb_noise=0.0, face_bits=0)
            if owner != skip:
                lib.add_encoded(owner, f"/{owner}/copy.jpg", "id", copy, sha256=query.sha256)
        for n in range(4):  # a reference collection: always searched
            enc = _near(query, rng, hash_bits=(3, None, 8, None)[n], emb_noise=(None, 0.02, None, 0.05)[n])
            lib.add_encoded(None, f"/personas/{n}.jpg", "photo", enc, sha256=f"persona{n}", collection="personas")
        for n in range(30):
            lib.add_encoded("Filler", f"/filler/{n}.jpg", "photo", _fake_encoded(100 + n), sha256=f"filler{n}")
    q = query.faces[0].embedding
    for owner in ("Self", "Other"):  # interview faces, no photo: many of the excluded person
        embs = q + rng.standard_normal((40, 128)).astype(np.float32) * 0.01
        if owner != skip:
            lib.add_face_embeddings(owner, None, embs)
    return lib


def _comparable(matches: list) -> list[tuple]:
    """What a reviewer sees of a match (media ids differ between two libraries; embedding
    distances are float32 matrix products, so their last bits depend on the library's size)."""
    return [(m.candidate, m.collection, m.file, m.kind, pytest.approx(m.distance, abs=1e-5),
             {k: v for k, v in m.detail.items() if k not in ("media_id", "face_distance")}) for m in matches]


def test_excluding_a_candidate_returns_exactly_the_others_matches(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    face = hashing.FaceCode((0, 0, 10, 10), (rng.standard_normal(128) * 0.09).astype(np.float32),
                            int(rng.integers(0, 2**63)), int(rng.integers(0, 2**63)))
    query = hashing.Encoded(100, 100, {k: int(rng.integers(0, 2**63)) for k in hashing.WHOLE_HASH_KINDS},
                            (int(rng.integers(0, 2**63)),), (face,), sha256="query-sha",
                            mirror_hashes={k: int(rng.integers(0, 2**63)) for k in hashing.WHOLE_HASH_KINDS})
    with _exclusion_library(tmp_path / "all.sqlite", query) as lib, \
         _exclusion_library(tmp_path / "without.sqlite", query, skip="Self") as ref:
        plain = lib.search_encoded(query, limit=1000)
        owners = {m.candidate for m in plain}
        kinds = {(m.candidate, m.detail["method"]) for m in plain}
        assert {"Self", "Other", "Third", None} <= owners  # None: the collection
        for method in ("sha256", "whole-image hash", "aligned-face hash", "face embedding"):
            assert ("Self", method) in kinds and ("Other", method) in kinds, method
        assert sum(m.candidate == "Self" and m.file == "" for m in plain) == 40  # face-only rows
        excluded = lib.search_encoded(query, exclude_candidate="Self", limit=1000)
        assert excluded == [m for m in plain if m.candidate != "Self"]  # same order, same distances
        assert _comparable(excluded) == _comparable(ref.search_encoded(query, limit=1000))
        for limit in (1, 5, 10, 60):
            assert lib.search_encoded(query, exclude_candidate="Self", limit=limit) == excluded[:limit]
            assert lib.search_encoded(query, limit=limit) == plain[:limit]
        # another photo of the same face (no hash in common): only same-face matches, best first
        other_photo = dataclasses.replace(query, sha256=None, hashes=_fake_encoded(1).hashes, mirror_hashes={},
                                          faces=(dataclasses.replace(face, face_hash=None, mirror_face_hash=None),))
        faces_only = lib.search_encoded(other_photo, limit=1000)
        assert {m.kind for m in faces_only} == {"same-face"} and len(faces_only) > 60
        dists = [m.distance for m in faces_only]
        assert dists == sorted(dists)
        excluded_faces = lib.search_encoded(other_photo, exclude_candidate="Self", limit=1000)
        assert excluded_faces == [m for m in faces_only if m.candidate != "Self"]
        for limit in (1, 2, 5, 10):
            assert lib.search_encoded(other_photo, limit=limit) == faces_only[:limit]
            assert lib.search_encoded(other_photo, exclude_candidate="Self", limit=limit) == excluded_faces[:limit]
        assert lib.search_encoded(query, exclude_candidate="nobody", limit=1000) == plain
        assert lib.search_encoded(query, exclude_candidate=lib.get_candidate("Self").id, limit=1000) == excluded

        e = face.embedding
        plain_e = lib.search_embedding(e, limit=1000)
        assert sum(m.candidate == "Self" for m in plain_e) >= 40
        assert [m.distance for m in plain_e] == sorted(m.distance for m in plain_e)
        excluded_e = lib.search_embedding(e, exclude_candidate="Self", limit=1000)
        assert excluded_e == [m for m in plain_e if m.candidate != "Self"] and len(excluded_e) >= 40
        assert _comparable(excluded_e) == _comparable(ref.search_embedding(e, limit=1000))
        for limit in (1, 3, 10):
            assert lib.search_embedding(e, exclude_candidate="Self", limit=limit) == excluded_e[:limit]
            assert lib.search_embedding(e, limit=limit) == plain_e[:limit]
