"""Hardening (issue 17): erasure by structure, foreign/damaged/read-only/full stores, SQLite
concurrency, input limits, watchlist limits, names, terminal-safe output, option checks.

Every case the fault campaign found failing has a test here (families parametrised). The
concurrency tests run real processes against one SQLite file; the full-disk and read-only tests
use a real small/read-only tmpfs when the test runs as root (no permission bit stops root),
and file modes otherwise.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import sqlite3
import stat
import struct
import subprocess
import sys
import textwrap
import time
import unicodedata
import zlib
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest
from PIL import Image, ImageOps

from detectors import media
from detectors.base import CandidateContext, MediaError
from detectors.cli import build_parser
from detectors.cli import main as cli
from detectors.store.sqlite import (
    ERASED_FILE, ERASED_NAME, SCHEMA_VERSION, InvalidName, Library, LibraryBusy, LibraryError, normalize_name, printable,
)
from detectors.library_cli import main as lib_cli
from detectors.media import load_image
from detectors.reuse import ReuseDetector
from detectors.watchlist import Watchlist, WatchlistError
from fixtures.simple_media import astronaut_face, write_video

REPO = Path(__file__).resolve().parents[1]
SHM_BYTES = 32_768
"""Size of SQLite's WAL index file (-shm) for a small database: what opening a library writes."""


def _photo(path: Path, quality: int = 92) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(astronaut_face()).save(path, quality=quality)
    return path


def _digest(path: Path) -> tuple[str, int]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), stat.S_IMODE(path.stat().st_mode)


def _no_traceback(text: str) -> None:
    assert "Traceback" not in text and "Error:" not in text.replace("telltale:", ""), text


# --------------------------------------------------------------------------- erasure by structure


def _reuse_report(lib: Library, owner: str, query: Path, paths: list[str], verdict: str) -> dict[str, Any]:
    """A stored report of ``owner`` as the pipeline writes it: a real reuse finding (the library
    searched for ``query``), a faceswap check, media paths, and reasons quoting the summary."""
    ctx = CandidateContext(owner, [], [load_image(query)], library=lib)
    reuse = ReuseDetector().analyze(ctx)
    assert reuse is not None and reuse.evidence["matches"]
    summary = reuse.summary
    return {
        "candidate": owner, "score": 20.0, "verdict": verdict, "confidence": 0.9,
        "checks": {
            "faceswap": {"risk": 0.1, "confidence": 0.5, "summary": f"faceswap: nothing in {paths[0]}", "evidence": {"path": paths[0]}},
            "reuse": reuse.to_dict(),
        },
        "contributions": {"faceswap": 0.0, "reuse": 40.0},
        "reasons": [f"{summary} (-40 points, reuse)", "review this candidate by hand"],
        "media": [{"path": p, "kind": "video"} for p in paths],
    }


@pytest.mark.parametrize(
    "erased, bystander",
    [
        ("John Smith", "John Smith-Jones"),  # a name that is a prefix of another name
        ("review", "Rita Review"),  # a common word, also a verdict value
        ("faceswap", "Faye Swap"),  # a check name (a key in every report)
        ("video", "Vic Video"),  # a path part (the default name of a file called video.mp4)
    ],
)
def test_erase_redacts_by_structure_not_by_text(tmp_path: Path, erased: str, bystander: str) -> None:
    folder = tmp_path / "video"  # every path here contains /video/
    own_photo = _photo(folder / "video.jpg")
    query = _photo(tmp_path / "query" / "bob.jpg", quality=70)  # the same photo, re-saved
    bob_paths = [str(folder / "interview" / "video.mp4"), str(tmp_path / "video" / f"{bystander}.mp4")]
    with Library(tmp_path / "lib.sqlite") as lib:
        lib.add_media(erased, own_photo, "id")
        report = _reuse_report(lib, "Bob", query, bob_paths, "review")
        assert report["checks"]["reuse"]["evidence"]["matches"][0]["candidate"] == erased
        assert f"under candidate {erased} (" in report["checks"]["reuse"]["summary"]
        lib.save_report("Bob", report)
        by_report = {"candidate": bystander, "verdict": "review", "checks": {"faceswap": {"summary": f"{bystander} {erased}", "evidence": {}}},
                     "reasons": [f"{bystander}: {erased}"], "media": [{"path": p} for p in bob_paths]}
        lib.save_report(bystander, by_report)

        lib.erase_candidate(erased)

        after = lib.latest_report("Bob")
        expected = copy.deepcopy(report)
        for m in expected["checks"]["reuse"]["evidence"]["matches"]:
            if m["candidate"] == erased:
                m["candidate"], m["file"] = ERASED_NAME, ERASED_FILE
        old_summary = report["checks"]["reuse"]["summary"]
        new_summary = old_summary.replace(f"under candidate {erased} (video.jpg, ", f"under candidate {ERASED_NAME} ({ERASED_FILE}, ")
        assert new_summary != old_summary
        expected["checks"]["reuse"]["summary"] = new_summary
        expected["checks"]["reuse"]["evidence"]["other_candidates"] = [
            ERASED_NAME if n == erased else n for n in report["checks"]["reuse"]["evidence"]["other_candidates"]]
        expected["reasons"][0] = new_summary + " (-40 points, reuse)"
        assert after == json.loads(json.dumps(expected))  # exactly these fields changed, nothing else
        assert after["verdict"] == "review" and set(after["checks"]) == {"faceswap", "reuse"}
        assert [m["path"] for m in after["media"]] == bob_paths
        assert lib.latest_report(bystander) == by_report  # another person's report: untouched


# --------------------------------------------------------------------------- foreign, damaged, newer stores


def _foreign_sqlite(path: Path, version: int = 0) -> Path:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
    db.execute("INSERT INTO notes(text) VALUES ('someone else''s data')")
    db.execute(f"PRAGMA user_version = {version}")
    db.commit()
    db.close()
    os.chmod(path, 0o644)
    return path


def _newer_telltale(path: Path) -> Path:
    with Library(path) as lib:
        lib.add_candidate("From The Future")
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    return path


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: _foreign_sqlite(p), "another program's SQLite database"),
        (lambda p: _foreign_sqlite(p, version=42), "another program's SQLite database"),  # not "a newer Telltale"
        (lambda p: (p.write_bytes(os.urandom(8192)), p)[1], "not an SQLite database"),
        (lambda p: (p.write_text("hello, I am a text file\n"), p)[1], "not an SQLite database"),
        (lambda p: _newer_telltale(p), "written by a newer Telltale"),
    ],
    ids=["foreign", "foreign-user-version-42", "random-bytes", "text-file", "newer-schema"],
)
def test_foreign_or_damaged_files_are_refused_and_left_untouched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make: Any, message: str
) -> None:
    path = make(tmp_path / "other.db")
    before = _digest(path)
    with pytest.raises(LibraryError, match=message):
        Library(path)
    assert lib_cli(["--library", str(path), "library", "list"]) == 3
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    _no_traceback(err)
    assert _digest(path) == before  # no tables added, no version set, no chmod
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.db"]  # no journal or WAL beside it
    if message.startswith("another"):
        assert "newer Telltale" not in err


def test_a_folder_as_library_is_refused_and_not_chmodded(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "shared"
    folder.mkdir()
    os.chmod(folder, 0o755)
    assert lib_cli(["--library", str(folder), "library", "list"]) == 3
    err = capsys.readouterr().err
    assert "is a folder" in err
    _no_traceback(err)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o755 and list(folder.iterdir()) == []


# --------------------------------------------------------------------------- read-only and full stores


@pytest.fixture
def mount_point(tmp_path: Path) -> Iterator[Path]:
    """A private tmpfs (root only; skipped otherwise), unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    point = tmp_path / "mnt"
    point.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=400k", "tmpfs", str(point)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield point
    finally:
        subprocess.run(["umount", "-l", str(point)], capture_output=True)


def _make_read_only(folder: Path, mounted: bool) -> None:
    if mounted:
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
    else:
        for p in folder.iterdir():
            os.chmod(p, 0o400)
        os.chmod(folder, 0o500)


@pytest.fixture
def read_only_library(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    """A library whose folder cannot be written: a read-only tmpfs as root, modes otherwise."""
    if os.geteuid() == 0:
        folder = request.getfixturevalue("mount_point")
    else:
        folder = tmp_path / "ro"
        folder.mkdir()
    db = folder / "lib.sqlite"
    with Library(db) as lib:
        lib.add_candidate("Reader")
    _make_read_only(folder, os.geteuid() == 0)
    yield db
    if os.geteuid() != 0:
        os.chmod(folder, 0o700)


def test_read_only_library_is_one_sentence_and_checked_before_the_analysis(
    read_only_library: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(LibraryError, match="read-only"):
        Library(read_only_library)
    clip = write_video(tmp_path / "clip.mp4", frames=10)
    t0 = time.perf_counter()
    assert cli(["--library", str(read_only_library), "analyze", str(clip), "-q"]) == 3
    elapsed = time.perf_counter() - t0
    out = capsys.readouterr()
    assert "read-only" in out.err and "nothing was analysed" in out.err and out.err.count("\n") == 1
    _no_traceback(out.err)
    assert out.out == "" and elapsed < 5  # refused before the analysis, not after it


def test_full_disk_real_error_and_no_partial_candidate(tmp_path: Path) -> None:
    """SQLITE_FULL (the error a full disk gives) in the middle of a candidate's write: the real
    error is reported (not "cannot rollback"), and nothing of the candidate is stored."""
    photo = load_image(_photo(tmp_path / "id.jpg"), role="id")
    with Library(tmp_path / "lib.sqlite") as lib:
        lib.add_candidate("Already There")
        pages = lib._db.execute("PRAGMA page_count").fetchone()[0]
        lib._db.execute(f"PRAGMA max_page_count = {pages + 1}")  # room for almost nothing
        report = {"candidate": "Filler", "score": 50.0, "verdict": "review", "checks": {}, "padding": "x" * 200_000}
        with pytest.raises(LibraryError) as info:
            lib.record_analysis("Filler", [photo], [], report)
        assert "database or disk is full" in str(info.value) and "rollback" not in str(info.value)
        assert lib.get_candidate("Filler") is None
        for table in ("media", "faces", "reports", "image_hashes", "segments"):
            assert lib._db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] == 0, table
        lib._db.execute("PRAGMA max_page_count = 1073741823")
        lib.record_analysis("Filler", [photo], [], report)  # room again: the same write succeeds whole
        assert lib.get_candidate("Filler").media_count == 1 and lib.latest_report("Filler")["verdict"] == "review"


def test_full_disk_on_a_real_small_filesystem(mount_point: Path, tmp_path: Path) -> None:
    photo = load_image(_photo(tmp_path / "id.jpg"), role="id")
    with Library(mount_point / "lib.sqlite") as lib:
        lib.add_candidate("First")
        report = {"candidate": "Big", "verdict": "review", "checks": {}, "padding": os.urandom(300_000).hex()}
        with pytest.raises(LibraryError, match="disk is full"):
            lib.record_analysis("Big", [photo], [], report)
        assert lib.get_candidate("Big") is None and lib._db.execute("SELECT COUNT(*) FROM media").fetchone()[0] == 0
        assert [c.name for c in lib.candidates()] == ["First"]


def test_a_failed_write_inside_one_candidate_leaves_nothing(tmp_path: Path) -> None:
    photo = load_image(_photo(tmp_path / "id.jpg"), role="id")
    with Library(tmp_path / "lib.sqlite") as lib:
        with pytest.raises(TypeError):
            lib.record_analysis("Half", [photo], [], {"score": object()})  # the report cannot be stored
        assert lib.get_candidate("Half") is None and lib._db.execute("SELECT COUNT(*) FROM media").fetchone()[0] == 0


# --------------------------------------------------------------------------- concurrency

_WORKER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    sys.path.insert(0, {repo!r})
    from detectors.store.sqlite import Library
    go = Path({go!r})
    while not go.exists():
        time.sleep(0.005)
    with Library({db!r}) as lib:
        cid = lib.add_candidate("Same New Name")
        lib.save_report("Same New Name", {{"candidate": "Same New Name", "verdict": "review", "checks": {{}}}})
    print(cid)
    """
)


@pytest.mark.parametrize("round_", range(3))
def test_processes_creating_a_new_library_and_the_same_new_candidate_at_once(tmp_path: Path, round_: int) -> None:
    db, go = tmp_path / "new" / "lib.sqlite", tmp_path / "go"
    code = _WORKER.format(repo=str(REPO), go=str(go), db=str(db))
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(4)]
    time.sleep(1.5)  # every process imported and waits at the line
    go.touch()
    results = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, results):
        assert p.returncode == 0, err
    assert len({out.strip() for out, _err in results}) == 1  # one candidate, the same id for all
    with Library(db) as lib:
        assert [c.name for c in lib.candidates()] == ["Same New Name"] and len(lib.reports("Same New Name")) == 4
        assert lib.schema_version == SCHEMA_VERSION
        assert [v for (v,) in lib._db.execute("SELECT version FROM schema_migrations ORDER BY version")] == list(
            range(1, SCHEMA_VERSION + 1))


_HOLDER = textwrap.dedent(
    """
    import sqlite3, sys, time
    db = sqlite3.connect({db!r}, isolation_level=None)
    db.execute("BEGIN IMMEDIATE")
    db.execute("INSERT INTO meta(key, value) VALUES ('holder', 'x')")
    print("holding", flush=True)
    time.sleep({seconds})
    db.execute("COMMIT")
    """
)


def test_readers_are_not_blocked_and_writers_wait_with_a_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "lib.sqlite"
    with Library(db) as lib:
        lib.add_candidate("Existing")
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER.format(db=str(db), seconds=5)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "holding"
    t0 = time.perf_counter()
    assert lib_cli(["--library", str(db), "library", "list"]) == 0  # a reader, while the write lock is held
    assert time.perf_counter() - t0 < 2.5 and "Existing" in capsys.readouterr().out
    with Library(db) as lib:
        t0 = time.perf_counter()
        messages: list[str] = []
        lib.on_wait = messages.append
        lib.add_candidate("Waited")  # a writer waits for the holder, says so, then writes
        waited = time.perf_counter() - t0
        assert 3.0 < waited < 15 and lib.get_candidate("Waited") is not None
        assert "another Telltale process is writing" in messages[0] and "free again" in messages[-1]
        assert lib.longest_wait_s >= 3.0
    holder.wait(timeout=30)


def test_a_writer_gives_up_with_a_clear_error_after_the_longest_wait(tmp_path: Path) -> None:
    db = tmp_path / "lib.sqlite"
    with Library(db):
        pass
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER.format(db=str(db), seconds=6)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "holding"
    with Library(db) as lib:
        lib.busy_max_wait_s = 2.0
        with pytest.raises(LibraryBusy, match="busy"):
            lib.add_candidate("Never")
        assert lib._db.in_transaction is False
    holder.wait(timeout=30)


# --------------------------------------------------------------------------- images: decoded pixel limits


def _png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG whose header claims width x height (8-bit RGB) and whose data is a few bytes."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("width, height", [(10_000, 10_000), (50_000, 50_000), (8_000, 8_000)], ids=["100MP", "2.5GP", "64MP"])
def test_images_over_the_pixel_limit_are_refused_before_decoding(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], width: int, height: int
) -> None:
    png = _png_header_only(tmp_path / "bomb.png", width, height)
    assert media.is_image_file(png)  # an image (not "a video"), refused as one
    with pytest.raises(MediaError, match="too large"):
        load_image(png)
    db = tmp_path / "lib.sqlite"
    assert lib_cli(["--library", str(db), "library", "add", "--candidate", "Bomb", str(png)]) == 1
    assert lib_cli(["--library", str(db), "compare", str(png), str(png)]) == 1
    err = capsys.readouterr().err
    assert "too large" in err
    _no_traceback(err)
    with Library(db) as lib:
        assert lib._db.execute("SELECT COUNT(*) FROM media").fetchone()[0] == 0


def test_a_large_jpeg_is_decoded_reduced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(media, "MAX_IMAGE_PIXELS", 100_000)  # the same rule at a test-sized limit
    jpg = tmp_path / "big.jpg"
    Image.fromarray(np.tile(astronaut_face(), (2, 3, 1))).save(jpg, quality=90)
    w, h = Image.open(jpg).size
    img = load_image(jpg)
    assert img.width * img.height <= 100_000 and img.exif["DecodedReduction"] in (2, 4, 8)
    scale = img.exif["DecodedReduction"]
    assert (img.width, img.height) == (-(-w // scale), -(-h // scale))
    png = tmp_path / "big.png"
    Image.open(jpg).save(png)
    with pytest.raises(MediaError, match="too large"):  # no decoder reduction for PNG: refused
        load_image(png)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_matches_pillow(tmp_path: Path, orientation: int) -> None:
    rng = np.random.default_rng(orientation)
    rgb = rng.integers(0, 255, (37, 53, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "o.png"
    Image.fromarray(rgb).save(path, exif=exif)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(path)).convert("RGB"))
    assert np.array_equal(load_image(path).rgb, expected)


# --------------------------------------------------------------------------- library add: only media


@pytest.mark.parametrize(
    "name, content",
    [("notes.txt", b"just some text\n"), ("empty.mp4", b""), ("fake.mp4", b"this is not a video " * 50),
     ("random.mov", os.urandom(4096))],
)
def test_library_add_refuses_files_that_are_not_media(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, content: bytes
) -> None:
    f = tmp_path / name
    f.write_bytes(content)
    db = tmp_path / "lib.sqlite"
    assert lib_cli(["--library", str(db), "library", "add", "--candidate", "Tex", str(f)]) == 1
    err = capsys.readouterr().err
    assert name in err
    _no_traceback(err)
    with Library(db) as lib:
        assert lib._db.execute("SELECT COUNT(*) FROM media").fetchone()[0] == 0


# --------------------------------------------------------------------------- output paths checked first


@pytest.fixture
def stocked(tmp_path: Path) -> dict[str, Path]:
    photo = _photo(tmp_path / "p.jpg")
    db = tmp_path / "lib.sqlite"
    with Library(db) as lib:
        lib.add_media("Olga Out", photo, "id")
        lib.save_report("Olga Out", {"candidate": "Olga Out", "verdict": "review", "checks": {}})
    return {"photo": photo, "db": db, "clip": write_video(tmp_path / "clip.mp4", frames=10)}


@pytest.mark.parametrize("target", ["missing", "folder"])
@pytest.mark.parametrize(
    "command",
    [
        lambda s, out: ["--library", str(s["db"]), "analyze", str(s["clip"]), "--json", out, "-q"],
        lambda s, out: ["--library", str(s["db"]), "compare", str(s["photo"]), str(s["photo"]), "--json", out],
        lambda s, out: ["--library", str(s["db"]), "library", "export-report", "--candidate", "Olga Out", out],
        lambda s, out: ["--library", str(s["db"]), "library", "export-watchlist", out, "--candidate", "Olga Out", "--label", "l"],
        lambda s, out: ["--library", str(s["db"]), "library", "search", str(s["photo"]), "--json", out],
    ],
    ids=["analyze", "compare", "export-report", "export-watchlist", "search"],
)
def test_outputs_into_a_missing_folder_or_onto_a_folder_are_refused_first(
    stocked: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], command: Any, target: str
) -> None:
    out = str(tmp_path / "no" / "such" / "r.json") if target == "missing" else str(tmp_path)
    t0 = time.perf_counter()
    assert cli(command(stocked, out)) == 2
    assert time.perf_counter() - t0 < 3  # before any analysis or search
    err = capsys.readouterr().err
    assert ("does not exist" if target == "missing" else "is a folder") in err and err.count("\n") == 1
    _no_traceback(err)


# --------------------------------------------------------------------------- watchlists


def _watch_dict(entries: list[dict[str, Any]], label: str = "list") -> dict[str, Any]:
    return {"format": "telltale-watchlist", "version": 1, "label": label, "created_at": "2026-11-01T00:00:00+00:00",
            "note": "", "source": {}, "entries": entries}


def _interview(value: Any = 0.01, persona: Any = 1) -> dict[str, Any]:
    return {"kind": "interview", "role": "video", "persona": persona, "faces": [{"embedding": [value] * 128, "face_hash": None}]}


@pytest.mark.parametrize(
    "write, message",
    [
        (lambda p: p.write_text("[" * 100_000 + "]" * 100_000), "nested"),
        (lambda p: p.write_text(json.dumps(_watch_dict([_interview()]))[:-1] + ', "x": ' + "[" * 3000 + "]" * 3000 + "}"), "nested"),
        (lambda p: p.write_text(json.dumps(_watch_dict([_interview(persona=1)])).replace('"persona": 1', '"persona": 1' + "0" * 5000)), "digits"),
        (lambda p: p.write_text(json.dumps(_watch_dict([_interview(persona=10 ** 30)]))), "digits"),
        (lambda p: p.write_text(json.dumps(_watch_dict([_interview(persona=10 ** 18)]))), "persona"),
        (lambda p: p.write_text(json.dumps(_watch_dict([_interview(value=1e308)])).replace("1e+308", "1e999")), "non-finite"),
        (lambda p: p.write_text(json.dumps(_watch_dict([_interview()])).replace("0.01", "NaN", 1)), "NaN"),
        (lambda p: p.write_text(json.dumps(_watch_dict([_interview()], label="x" * 10_000_000))), "label is"),
        (lambda p: p.write_text(json.dumps(_watch_dict([_interview()], label="evil\x1b[2J\nlabel"))), "control characters"),
        (lambda p: p.write_text(json.dumps({**_watch_dict([_interview()]), "note": "n" * 100_000})), "note is"),
        (lambda p: p.write_text(json.dumps(_watch_dict([{**_interview(), "faces": _interview()["faces"] * 1000}]))), "faces"),
        (lambda p: p.write_bytes(b"\xff\xfe" + os.urandom(1000)), "UTF-8"),
        (lambda p: p.write_text('{"format": "telltale-watchlist", "version": 1, "entries": "lots"}'), "label"),
    ],
    ids=["nested-array", "nested-inside", "huge-int-string", "huge-int", "big-persona", "infinite", "nan", "10MB-label",
         "ansi-label", "long-note", "many-faces", "binary", "schema"],
)
def test_hostile_watchlists_are_refused_with_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], write: Any, message: str
) -> None:
    f = tmp_path / "w.json"
    write(f)
    with pytest.raises(WatchlistError, match=message):
        Watchlist.read(f)
    db = tmp_path / "lib.sqlite"
    assert lib_cli(["--library", str(db), "library", "import-watchlist", str(f)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and len(err) < 600
    _no_traceback(err)
    assert not db.exists()  # refused before the library was opened


def test_watchlist_size_is_checked_before_parsing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from detectors import watchlist

    monkeypatch.setattr(watchlist, "MAX_FILE_BYTES", 10_000)
    f = tmp_path / "big.json"
    f.write_text(json.dumps(_watch_dict([_interview()] * 20)))
    with pytest.raises(WatchlistError, match="larger than"):
        Watchlist.read(f)
    t0 = time.perf_counter()
    with pytest.raises(WatchlistError, match="not a regular file"):
        Watchlist.read("/dev/zero")
    assert time.perf_counter() - t0 < 1
    with pytest.raises(WatchlistError, match="not a regular file"):
        Watchlist.read(tmp_path)


# --------------------------------------------------------------------------- names and terminal output


@pytest.mark.parametrize(
    "name", ["Mallory\nFake       score 100.0  authentic", "Clear\x1b[2J\x1b[HScreen", "Bell\x07", "Tab\tName",
             "Right\u202eto left", "Line\u2028Sep", "", "   ", "\t\n"],
)
def test_bad_names_are_refused_with_a_clear_message(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str) -> None:
    with Library(tmp_path / "lib.sqlite") as lib:
        with pytest.raises(InvalidName):
            lib.add_candidate(name)
        assert lib.candidates() == []
    clip = write_video(tmp_path / "clip.mp4", frames=10)
    assert cli(["--library", str(tmp_path / "lib.sqlite"), "analyze", str(clip), "--candidate", name, "-q"]) == 2
    photo = _photo(tmp_path / "p.jpg")
    assert lib_cli(["--library", str(tmp_path / "lib.sqlite"), "library", "add", "--candidate", name, str(photo)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 2 and "\x1b" not in err and "\x07" not in err and "\u202e" not in err
    assert "empty" in err or "control characters" in err
    _no_traceback(err)


def test_names_are_nfc_normalised(tmp_path: Path) -> None:
    composed, decomposed = "Jos\u00e9 Garc\u00eda", unicodedata.normalize("NFD", "Jos\u00e9 Garc\u00eda")
    assert composed != decomposed and normalize_name(decomposed) == composed
    with Library(tmp_path / "lib.sqlite") as lib:
        assert lib.add_candidate(composed) == lib.add_candidate(decomposed)
        assert [c.name for c in lib.candidates()] == [composed]
        assert lib.get_candidate(decomposed) is not None
    with pytest.raises(InvalidName, match="at most"):
        normalize_name("x" * 1000)


def test_stored_names_with_control_characters_cannot_forge_terminal_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "lib.sqlite"
    with Library(db) as lib:
        lib.add_candidate("Honest Person")
        # as an older Telltale (or another tool) could have stored them
        lib._db.execute("INSERT INTO candidates(name, created_at) VALUES (?, '2026-01-01')",
                        ("Mallory\nFake                           score 100.0  authentic",))
        lib._db.execute("INSERT INTO candidates(name, created_at) VALUES (?, '2026-01-01')", ("\x1b[2J\x1b[31mRed",))
    assert lib_cli(["--library", str(db), "library", "list"]) == 0
    out = capsys.readouterr().out
    assert len(out.splitlines()) == 3 and "\x1b" not in out
    assert "Mallory\\nFake" in out and "\\x1b[2J" in out
    assert printable("a\x1bb\nc", keep_newlines=True) == "a\\x1bb\nc"


# --------------------------------------------------------------------------- option checks


@pytest.mark.parametrize(
    "argv",
    [
        ["library", "audit", "--limit", "1e20"],
        ["library", "audit", "--limit", "100000000000000000000"],
        ["library", "audit", "--limit", "-5"],
        ["library", "search", "x.jpg", "--limit", "0"],
        ["bench", "clip.mp4", "--loop-minutes", "-1"],
        ["bench", "clip.mp4", "--loop-minutes", "nan"],
        ["bench", "clip.mp4", "--height", "0"],
        ["bench", "clip.mp4", "--height", "-720"],
    ],
)
def test_out_of_range_options_are_usage_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "error: argument" in err
    _no_traceback(err)


def test_audit_of_an_unknown_candidate_is_one_sentence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "lib.sqlite"
    assert lib_cli(["--library", str(db), "library", "audit", "--candidate", "Nobody Here"]) == 1
    err = capsys.readouterr().err
    assert "no candidate named 'Nobody Here'" in err and err.count("\n") == 1


# --------------------------------------------------------------------------- nothing written to /tmp


def test_mediapipe_import_runs_no_library_probe() -> None:
    """Importing mediapipe's solutions (as faces.py does) must not run ctypes.util.find_library
    (sounddevice's PortAudio probe runs ldconfig and gcc, writing temporary files in TMPDIR)."""
    code = textwrap.dedent(
        """
        import ctypes.util, sys
        calls = []
        real = ctypes.util.find_library
        ctypes.util.find_library = lambda name: calls.append(name) or real(name)
        from detectors.faces import new_face_mesh
        new_face_mesh(static=True)
        print(calls, "sounddevice" in sys.modules, "matplotlib" in sys.modules)
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split("\n")[-2] == "[] False False"


# --------------------------------------------------------------------------- finished work is kept


def test_cli_writer_waits_with_a_message_then_stores(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "lib.sqlite"
    photo = _photo(tmp_path / "p.jpg")
    with Library(db):
        pass
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER.format(db=str(db), seconds=6)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "holding"
    assert lib_cli(["--library", str(db), "library", "add", "--candidate", "Patient", str(photo)]) == 0
    err = capsys.readouterr().err
    assert "another Telltale process is writing to the library; waiting" in err and "free again after" in err
    _no_traceback(err)
    holder.wait(timeout=30)
    with Library(db) as lib:
        assert lib.get_candidate("Patient").media_count == 1


def _fill(folder: Path) -> Path:
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as fh:  # to the last block
        try:
            while True:
                fh.write(b"\0" * 4096)
        except OSError:
            pass
    return filler


def test_analysis_is_kept_in_json_when_the_disk_is_full(
    mount_point: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A real full disk under the library. Full before the start: refused before analysing.
    Full by the end of the analysis: the store refuses the result, the --json report is
    written anyway and the message says where; nothing half-stored."""
    db = mount_point / "lib.sqlite"
    with Library(db) as lib:
        lib.add_candidate("Before")
    clip = write_video(tmp_path / "clip.mp4", frames=10)
    out = tmp_path / "report.json"
    argv = ["--library", str(db), "analyze", str(clip), "--candidate", "Full Disk", "--json", str(out), "-q"]

    filler = _fill(mount_point)
    assert cli(argv) == 3
    err = capsys.readouterr().err
    assert "disk" in err and "nothing was analysed" in err and err.count("\n") == 1 and not out.exists()
    filler.unlink()

    filler = _fill(mount_point)  # full again, but for the 32 KB that opening the library takes (its WAL index)
    os.truncate(filler, filler.stat().st_size - SHM_BYTES)
    assert cli(argv) == 3
    err = capsys.readouterr().err
    assert "not stored in the library" in err and "disk" in err and f"kept in {out}" in err
    _no_traceback(err)
    assert json.loads(out.read_text())["candidate"] == "Full Disk"
    (mount_point / "filler").unlink()
    with Library(db) as lib:
        assert [c.name for c in lib.candidates()] == ["Before"]
        assert lib._db.execute("SELECT COUNT(*) FROM media").fetchone()[0] == 0


def test_engine_import_leaves_no_files_in_home_or_tmp(tmp_path: Path) -> None:
    """Importing the engine and onnxruntime writes nothing to HOME or TMPDIR (onnxruntime's
    telemetry would create ~/.cache/Microsoft/..., TMPDIR/.ses and a device id) and runs no
    program (lscpu)."""
    home, tmp = tmp_path / "home", tmp_path / "tmp"
    home.mkdir()
    tmp.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "ORT_DISABLE_TELEMETRY"}
    env.update(HOME=str(home), TMPDIR=str(tmp), XDG_CACHE_HOME=str(home / ".cache"))
    code = "import detectors, onnxruntime, subprocess\nprint(onnxruntime.__version__)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == [Path("home"), Path("tmp")]


def test_analyze_of_a_refused_image_stores_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    png = _png_header_only(tmp_path / "huge.png", 10_000, 10_000)
    db = tmp_path / "lib.sqlite"
    assert cli(["--library", str(db), "analyze", "-q", "--candidate", "Huge", "--id", str(png)]) == 1
    err = capsys.readouterr().err
    assert "too large" in err and "nothing was stored" in err
    _no_traceback(err)
    with Library(db) as lib:
        assert lib.candidates() == []


def _encoded(seed: int) -> Any:
    from detectors import hashing

    rng = np.random.default_rng(seed)
    h = {k: int(rng.integers(0, 2**63)) for k in hashing.WHOLE_HASH_KINDS}
    face = hashing.FaceCode((0, 0, 10, 10), (rng.standard_normal(128) * 0.09).astype(np.float32), int(rng.integers(0, 2**63)))
    return hashing.Encoded(100, 100, h, (int(rng.integers(0, 2**63)),), (face,))


def test_search_index_is_built_from_one_snapshot(tmp_path: Path) -> None:
    """Another process committing between the index's reads (found by the concurrency bench:
    hashes of media the first read had not seen, KeyError) must not be seen half."""
    db = tmp_path / "lib.sqlite"
    with Library(db) as lib, Library(db) as other:
        lib.add_encoded("A", "/a.jpg", "photo", _encoded(1))
        real = lib._db
        fired: list[int] = []

        class Interleaved:  # the real connection; another connection commits right after the first read
            def __getattr__(self, name: str) -> Any:
                return getattr(real, name)

            def execute(self, sql: str, *args: Any) -> Any:
                cur = real.execute(sql, *args)
                if "FROM media" in sql and not fired:
                    fired.append(1)
                    other.add_encoded("B", "/b.jpg", "photo", _encoded(2))
                return cur

        lib._db, lib._index = Interleaved(), None  # type: ignore[assignment]
        try:
            idx = lib.index()
        finally:
            lib._db = real
        assert fired and idx.size == 1  # the snapshot before B's commit, whole
        lib._index = None
        assert lib.index().size == 2
