"""The team store (PostgreSQL): several desks at once, findings across desks, migration.

Real processes (fork), a real server (the ``pg_server`` fixture), no mocks."""

from __future__ import annotations

import multiprocessing as mp
import socket
import traceback
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import psycopg
import pytest
from PIL import Image

from detectors.store.sqlite import Library
from detectors.library_cli import main as lib_cli
from detectors.store import open_library
from detectors.voice_check import StoredPrint
from fixtures.simple_media import astronaut_face

WRITERS = 4
SHARED = ("Shared Candidate 1", "Shared Candidate 2", "Shared Candidate 3")
OWN_PER_WRITER = 2
WORKER_TIMEOUT_S = 600


def _noise_png(path: Path, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 255, (72, 96, 3), dtype=np.uint8)).save(path)
    return path


def _files(root: Path, name: str, seed: int) -> tuple[Path, Path]:
    """A photo and a stand-in 'recording' file of one candidate (the same bytes at every desk)."""
    photo = _noise_png(root / f"{seed}" / "photo.png", seed)
    rec = root / f"{seed}" / "interview.mp4"
    rec.write_bytes(np.random.default_rng(seed + 1000).bytes(4096))
    return photo, rec


def _writer(url: str, desk: int, root: str, names: list[tuple[str, int]], barrier: Any, errors: Any) -> None:
    """One desk: analyses its candidates (the shared ones too) and stores each in one transaction."""
    from detectors.media import load_image

    try:
        lib = open_library(url)
        barrier.wait(timeout=WORKER_TIMEOUT_S)
        for name, seed in names:
            photo, rec = Path(root) / str(seed) / "photo.png", Path(root) / str(seed) / "interview.mp4"
            identity = (np.random.default_rng(seed).standard_normal(128) * 0.09).astype(np.float32)
            recording = SimpleNamespace(path=str(rec), track=SimpleNamespace(main_identity=identity))
            report = {"score": float(50 + desk), "verdict": "uncertain", "media": [str(photo), str(rec)], "desk": desk}
            lib.record_analysis(name, [load_image(photo, "id")], [recording], report)
        lib.close()
    except BaseException:  # noqa: BLE001 - the parent reports every error
        errors.put(f"desk {desk}: {traceback.format_exc()}")


def test_four_desks_write_at_once_and_every_candidate_is_complete(pg_server: Any, tmp_path: Path) -> None:
    url = pg_server.new_database()
    plan: dict[int, list[tuple[str, int]]] = {}
    seeds = {name: i for i, name in enumerate(SHARED)}
    for desk in range(WRITERS):
        own = [(f"Desk {desk} candidate {k}", 100 + desk * 10 + k) for k in range(OWN_PER_WRITER)]
        # shared candidates in a different order at each desk: the same rows are met at different moments
        shared = [(n, seeds[n]) for n in (SHARED[desk % 3:] + SHARED[: desk % 3])]
        plan[desk] = [x for pair in zip(shared, own + [None]) for x in pair if x is not None]
    for names in plan.values():
        for name, seed in names:
            if not (tmp_path / str(seed)).exists():
                _files(tmp_path, name, seed)
    ctx = mp.get_context("fork")
    barrier, errors = ctx.Barrier(WRITERS), ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(url, d, str(tmp_path), plan[d], barrier, errors)) for d in range(WRITERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(WORKER_TIMEOUT_S)
    problems = []
    while not errors.empty():
        problems.append(errors.get())
    assert not problems, "\n".join(problems)
    assert [p.exitcode for p in procs] == [0] * WRITERS

    expected_reports = {n: WRITERS for n in SHARED} | {n: 1 for names in plan.values() for n, _s in names if n not in SHARED}
    with psycopg.connect(url) as db:
        names = [r[0] for r in db.execute("SELECT name FROM candidates ORDER BY name")]
        assert sorted(names) == sorted(expected_reports) and len(names) == len(set(names))
        for name, n_reports in expected_reports.items():
            cid = db.execute("SELECT id FROM candidates WHERE name = %s", (name,)).fetchone()[0]
            media = db.execute("SELECT id, role FROM media WHERE candidate_id = %s ORDER BY role", (cid,)).fetchall()
            assert [r for _m, r in media] == ["id", "video"], (name, media)  # one row per file, whoever stored it
            photo_id, video_id = media[0][0], media[1][0]
            assert db.execute("SELECT COUNT(*) FROM image_hashes WHERE media_id = %s", (photo_id,)).fetchone()[0] == 1
            assert db.execute("SELECT COUNT(*) FROM segments WHERE media_id = %s", (photo_id,)).fetchone()[0] >= 1
            interview = db.execute("SELECT COUNT(*) FROM faces WHERE media_id = %s AND source = 'interview'", (video_id,)).fetchone()[0]
            assert interview == 1, (name, interview)  # replaced under a lock, never piled up
            assert db.execute("SELECT COUNT(*) FROM reports WHERE candidate_id = %s", (cid,)).fetchone()[0] == n_reports
        analyses = db.execute('SELECT "user", host FROM audit WHERE action = %s', ("analysis",)).fetchall()
        assert len(analyses) == sum(expected_reports.values())
        assert {h for _u, h in analyses} == {socket.gethostname()}
    print(f"\n{WRITERS} desks, {len(expected_reports)} candidates ({len(SHARED)} written by every desk), "
          f"{sum(expected_reports.values())} analyses stored, no error, no duplicate")


def _desk_a(url: str, photo: str, errors: Any) -> None:
    try:
        with open_library(url) as lib:
            lib.add_media("Alice Applicant", photo, "id")
    except BaseException:  # noqa: BLE001
        errors.put(traceback.format_exc())


def _desk_b(url: str, photo: str, out: Any) -> None:
    try:
        from detectors.base import CandidateContext
        from detectors.media import load_image
        from detectors.reuse import ReuseDetector

        with open_library(url) as lib:
            image = load_image(photo, "id")
            reuse = ReuseDetector().analyze(CandidateContext("Bob Applicant", [], [image], library=lib))
            lib.record_analysis("Bob Applicant", [image], [], {"score": 5.0, "verdict": "suspicious",
                                                                "checks": {"reuse": reuse.to_dict()}})
        out.put({"risk": reuse.risk, "summary": reuse.summary, "top": reuse.evidence["matches"][0],
                 "library": reuse.evidence["library"]})
    except BaseException:  # noqa: BLE001
        out.put({"error": traceback.format_exc()})


def test_reuse_found_across_two_desks(pg_server: Any, tmp_path: Path) -> None:
    """Desk A stores Alice's ID photo; desk B, another process, analyses Bob, whose ID photo is a
    recompressed crop of it: the reuse check (the one the pipeline runs) flags Bob, naming Alice."""
    url = pg_server.new_database()
    face = astronaut_face()
    alice, bob = tmp_path / "alice_id.jpg", tmp_path / "bob_id.jpg"
    Image.fromarray(face).save(alice, quality=92)
    Image.fromarray(np.ascontiguousarray(face[10:-14, 8:-6])).save(bob, quality=65)
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    a = ctx.Process(target=_desk_a, args=(url, str(alice), q))
    a.start()
    a.join(WORKER_TIMEOUT_S)
    assert a.exitcode == 0 and q.empty()
    b = ctx.Process(target=_desk_b, args=(url, str(bob), q))
    b.start()
    got = q.get(timeout=WORKER_TIMEOUT_S)
    b.join(WORKER_TIMEOUT_S)
    assert "error" not in got, got.get("error")
    print(f"\ndesk B: reuse risk {got['risk']:.2f}: {got['summary']}")
    assert got["risk"] >= 0.9 and got["top"]["candidate"] == "Alice Applicant" and got["top"]["kind"] == "same-image"
    assert "Alice Applicant" in got["summary"]
    assert got["library"].startswith("postgresql://")


def test_migrate_copies_a_desk_library_once(pg_server: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    face = astronaut_face()
    photo, other = tmp_path / "photos" / "alice_id.jpg", tmp_path / "stock" / "s.png"
    photo.parent.mkdir()
    other.parent.mkdir()
    Image.fromarray(face).save(photo, quality=92)
    _noise_png(other, 5)
    desk = tmp_path / "desk.sqlite"
    with Library(desk) as lib:
        lib.add_media("Alice", photo, "id")
        lib.add_face_embeddings("Alice", None, [np.full(128, 0.05, np.float32)])
        lib.add_voice_prints("Alice", None, [StoredPrint(np.full(256, 1 / 16, np.float32), 9.0, 1.0, 4.5)])
        lib.save_report("Alice", {"score": 30.0, "verdict": "suspicious"})
        lib.import_collection("stock", other.parent)
        lib.add_candidate("Erased Later")
        lib.erase_candidate("Erased Later")
    url = pg_server.new_database()
    with open_library(url) as team:  # another desk already stored Alice's photo in the team store
        team.add_media("Alice", photo, "id")
    assert lib_cli(["library", "migrate", "--from", str(desk), "--to", url]) == 0
    first = capsys.readouterr().out
    assert lib_cli(["library", "migrate", "--from", str(desk), "--to", url]) == 0
    second = capsys.readouterr().out
    print("\n" + first + second)
    # Alice and her photo were in the team store already: matched by name and by file, not doubled
    assert "copied 0 candidate(s), 1 collection(s), 1 media(s), 1 face(s), 1 voice(s), 1 report(s)" in first
    assert "2 row(s) were already there" in first
    assert "copied 0 candidate(s), 0 collection(s), 0 media(s), 0 face(s), 0 voice(s), 0 report(s), 0 audit(s)" in second
    with open_library(url) as team:
        alice = team.get_candidate("Alice")
        assert alice.media_count == 1 and alice.score == 30.0 and len(team.reports("Alice")) == 1
        assert [(c.name, c.media_count) for c in team.collections()] == [("stock", 1)]
        assert team.search_embedding(np.full(128, 0.05, np.float32))[0].candidate == "Alice"
        voice = team.search_voices(np.full(256, 1 / 16, np.float32))
        assert [(m["candidate"], m["speech_s"], m["detail"]["excerpt"]) for m in voice] == [("Alice", 9.0, [1.0, 4.5])]
        assert team.search(photo)[0].candidate == "Alice"
        log = team.audit_log(limit=200)
        assert log[0]["action"] == "migrate" and log[1]["action"] == "migrate"
        assert any(e["action"] == "erase-candidate" and e["subject"].startswith("candidate#desk-") for e in log)
        # the desk's entries keep the desk's host (the SQLite library records it since version 4)
        assert {e["host"] for e in log if e["action"] == "add-voice-prints"} == {socket.gethostname()}
    assert "s3cret" not in first
