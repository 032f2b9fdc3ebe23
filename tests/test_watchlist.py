"""Watchlists: exported by one library without photos, imported into another, found by search.

Every library here is opened by location through ``open_library`` and the module runs once per
back end (SQLite file, PostgreSQL server): the ``backend`` / ``locations`` fixtures of
tests/store/backends.py."""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from detectors.store.sqlite import LibraryError
from detectors.library_cli import main as lib_cli
from detectors.store import open_library
from detectors.voice_check import StoredPrint
from detectors.watchlist import FORMAT, VERSION, VOICE_DIMS, Watchlist, WatchlistError
from fixtures.simple_media import astronaut_face
from store.backends import Locations, backend, locations, pg_server  # noqa: F401  (pytest fixtures)

NAME = "Persona Quixotica"
IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG", b"GIF8", b"RIFF", b"II*\x00", b"MM\x00*", b"BM")
BASE64_MAGIC = ("/9j/", "iVBORw0KGgo", "R0lGOD", "UklGR")
"""JPEG/PNG/GIF/WebP/TIFF/BMP signatures, raw and as the start of base64 text."""


def _save(path: Path, rgb: np.ndarray, quality: int = 92) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(path, quality=quality)
    return path


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory, locations: Locations) -> dict[str, Any]:
    """Library A: the persona with an ID photo and an interview identity, plus another
    candidate; a watchlist of the persona written by the CLI."""
    root = tmp_path_factory.mktemp("watch")
    face = astronaut_face()
    photo = _save(root / "quixotica_private_files" / "quixotica_id.jpg", face)
    from skimage import data

    other = _save(root / "other" / "coffee.jpg", np.ascontiguousarray(data.coffee()[::2, ::2]))
    rng = np.random.default_rng(7)
    interview = (rng.standard_normal(128) * 0.09).astype(np.float32)
    voice = rng.standard_normal(VOICE_DIMS).astype(np.float32)
    voice /= np.linalg.norm(voice)
    lib_a = locations.new("a")
    with open_library(lib_a) as lib:
        row = lib.add_media(NAME, photo, "id")
        assert row.faces == 1
        lib.add_face_embeddings(NAME, None, [interview])
        lib.add_voice_prints(NAME, None, [StoredPrint(voice, 12.4, 3.0, 7.8)])
        lib.add_media("Unrelated Person", other, "photo")
        id_embedding = lib.encode(photo).faces[0].embedding  # what add_media stored for the ID photo's face
    out = root / "share" / "watchlist.json"
    out.parent.mkdir()
    code = lib_cli(["--library", lib_a, "library", "export-watchlist", str(out), "--candidate", NAME,
                    "--label", "known fakes 2026-11"])
    assert code == 0
    return {"root": root, "photo": photo, "other": other, "interview": interview, "id_embedding": id_embedding,
            "voice": voice, "file": out, "lib_a": lib_a}


def test_file_carries_no_photos_paths_or_names(exported: dict[str, Any]) -> None:
    raw = exported["file"].read_bytes()
    text = raw.decode("utf-8")
    data = json.loads(text)
    assert data["format"] == FORMAT and data["version"] == VERSION and data["label"] == "known fakes 2026-11"
    assert data["created_at"][:4].isdigit() and "T" in data["created_at"]
    assert [(e["kind"], e["role"], e["persona"]) for e in data["entries"]] == [("photo", "id", 1), ("interview", "video", 1)]
    assert len(data["entries"][0]["faces"]) == 1 and len(data["entries"][0]["faces"][0]["embedding"]) == 128
    # the interview entry carries the voice print (256 numbers and its seconds of speech), no audio
    assert [(len(v["embedding"]), v["speech_s"]) for v in data["entries"][1]["voices"]] == [(VOICE_DIMS, 12.4)]
    assert "voices" not in data["entries"][0] and "GE2E" in data["voice_model"]
    assert not set(data["entries"][1]["voices"][0]) - {"embedding", "speech_s"}  # no excerpt times, no samples
    for magic in IMAGE_MAGIC:
        assert magic not in raw
    for magic in BASE64_MAGIC:
        assert magic not in text
    assert not re.search(r"[A-Za-z0-9+/=]{80,}", text)  # no long base64 blob of any kind
    for secret in (NAME, "Quixotica", "quixotica", str(exported["root"]), "quixotica_id", ".jpg", "Unrelated", "coffee"):
        assert secret not in text, secret
    assert "/" not in "".join(str(v) for e in data["entries"] for v in e.values() if isinstance(v, str))
    assert stat.S_IMODE(exported["file"].stat().st_mode) == 0o600  # biometric data: owner-only
    with open_library(exported["lib_a"]) as lib:
        entry = lib.audit_log()[0]
        assert entry["action"] == "export-watchlist" and entry["detail"]["entries"] == 2
        assert entry["subject"] == f"candidate#{lib.get_candidate(NAME).id}"


def test_imported_watchlist_is_found_by_search_in_another_library(exported: dict[str, Any], tmp_path: Path,
                                                                  locations: Locations) -> None:
    lib_b = locations.new("b")
    assert lib_cli(["--library", lib_b, "library", "import-watchlist", str(exported["file"])]) == 0
    photo = exported["photo"]
    recompressed = _save(tmp_path / "q" / "resaved.jpg",
                         np.asarray(Image.open(photo).resize((180, 212), Image.BICUBIC)), quality=55)
    with open_library(lib_b) as lib:
        (coll,) = lib.collections()
        assert coll.name == "watchlist: known fakes 2026-11" and coll.media_count == 2
        assert lib.candidates() == []
        for query in (photo, recompressed):
            hits = lib.search(query)
            assert hits, query
            top = hits[0]
            assert top.kind == "same-image" and top.collection == coll.name and top.candidate is None
            assert top.file.startswith("watchlist known fakes 2026-11") and "ID photo" in top.file
        assert hits[0].detail["method"] in ("whole-image hash", "border-trimmed hash", "aligned-face hash")
        same_face = lib.search_embedding(exported["interview"] + 0.005)
        assert [(m.kind, m.collection) for m in same_face] == [("same-face", coll.name)]
        assert same_face[0].distance < 0.1 and "interview" in same_face[0].file
        # the ID photo's face is there as a face too: a different photo of the same face is found
        near = lib.search_embedding(exported["id_embedding"] + 0.01)
        assert near and near[0].kind == "same-face" and near[0].distance < 0.2
        # the voice print too: the same voice is found in the watchlist's collection
        heard = lib.search_voices(exported["voice"] + 0.002)
        assert [(m["kind"], m["collection"], m["candidate"], m["speech_s"]) for m in heard] == [
            ("same-voice", coll.name, None, 12.4)]
        assert heard[0]["distance"] < 0.01 and "interview" in heard[0]["file"]
        assert lib.search(exported["other"]) == []  # not exported: not found
        assert lib.audit_log()[0]["action"] == "import-watchlist"
    # the same import again is refused unless replaced; a second name is a second collection
    assert lib_cli(["--library", lib_b, "library", "import-watchlist", str(exported["file"])]) == 1
    assert lib_cli(["--library", lib_b, "library", "import-watchlist", str(exported["file"]), "--replace"]) == 0
    assert lib_cli(["--library", lib_b, "library", "import-watchlist", str(exported["file"]), "--name", "team B"]) == 0
    with open_library(lib_b) as lib:
        assert sorted((c.name, c.media_count) for c in lib.collections()) == [("team B", 2), ("watchlist: known fakes 2026-11", 2)]
        assert len(lib.search_voices(exported["voice"])) == 2  # one per collection
        assert lib.erase_collection("team B") == 2
        assert [c.name for c in lib.collections()] == ["watchlist: known fakes 2026-11"]
        assert [m["collection"] for m in lib.search_voices(exported["voice"])] == ["watchlist: known fakes 2026-11"]


def test_reuse_check_reports_a_watchlist_hit(exported: dict[str, Any], locations: Locations) -> None:
    from detectors import analyze_candidate

    with open_library(locations.new()) as lib:
        lib.import_watchlist(exported["file"])
        report = analyze_candidate([], [exported["photo"]], "New Applicant", library=lib)
    reuse = report.checks["reuse"]
    assert reuse.risk >= 0.8 and "watchlist" in reuse.summary
    assert reuse.evidence["matches"][0]["collection"] == "watchlist: known fakes 2026-11"


def test_collection_export_round_trip(tmp_path: Path, locations: Locations) -> None:
    folder = tmp_path / "personas"
    _save(folder / "a.jpg", astronaut_face())
    with open_library(locations.new("a")) as lib:
        assert lib.import_collection("stock personas", folder) == 1
        w = lib.export_watchlist(tmp_path / "w.json", collection="stock personas", label="stock")
        with pytest.raises(ValueError):
            lib.export_watchlist(tmp_path / "x.json", candidates=["x"], collection="stock personas", label="both")
        with pytest.raises(ValueError):
            lib.export_watchlist(tmp_path / "x.json", collection="stock personas", label=" ")
        with pytest.raises(LibraryError):
            lib.export_watchlist(tmp_path / "x.json", collection="nope", label="missing")
    assert len(w.entries) == 1 and w.entries[0].persona == 0 and w.source == {"collection": True}
    # no voice prints: written as version 1, the format older Telltales read
    assert w.format_version == 1 and json.loads((tmp_path / "w.json").read_text())["version"] == 1
    assert "voice_model" not in json.loads((tmp_path / "w.json").read_text())
    with open_library(locations.new("b")) as lib:
        name, n = lib.import_watchlist(tmp_path / "w.json", name="shared stock")
        assert (name, n) == ("shared stock", 1)
        assert lib.search(folder / "a.jpg")[0].collection == "shared stock"


def _valid(exported: dict[str, Any]) -> dict[str, Any]:
    return json.loads(exported["file"].read_text())


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d.update(format="something else"), "not a Telltale watchlist"),
        (lambda d: d.update(version=VERSION + 1), "newer Telltale"),
        (lambda d: d.update(label=""), "label"),
        (lambda d: d.update(created_at="yesterday"), "created_at"),
        (lambda d: d["entries"][0]["faces"][0].update(embedding=[0.1] * 12), "embedding must be a list of 128"),
        (lambda d: d["entries"][0]["faces"][0]["embedding"].__setitem__(0, "NaN"), "non-finite"),
        (lambda d: d["entries"][0]["hashes"].update(phash="zz"), "16 hex digits"),
        (lambda d: d["entries"][0]["hashes"].pop("dhash"), "hashes must have exactly"),
        (lambda d: d["entries"][1].update(faces=[], voices=[]), "needs at least one face or voice"),
        (lambda d: d["entries"][1]["voices"][0].update(embedding=[0.1] * 128), "embedding must be a list of 256"),
        (lambda d: d["entries"][1]["voices"][0].update(speech_s=-3), "speech_s"),
        (lambda d: d["entries"][1]["voices"][0].update(embedding=[0.0] * 256), "only zeros"),
        (lambda d: d["entries"][0].update(voices=d["entries"][1]["voices"]), "only interview entries carry voices"),
        (lambda d: d.update(version=1), "need version 2"),
        (lambda d: d["entries"][0].update(role="selfie"), "role must be one of"),
        (lambda d: d["entries"][0].update(sha256="../../etc/passwd"), "sha256"),
    ],
)
def test_damaged_or_foreign_files_are_refused_with_the_reason(
    exported: dict[str, Any], tmp_path: Path, mutate: Any, message: str, locations: Locations
) -> None:
    data = _valid(exported)
    mutate(data)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    with pytest.raises(WatchlistError, match=message):
        Watchlist.read(bad)
    where = locations.new()
    with open_library(where) as lib:
        assert lib_cli(["--library", where, "library", "import-watchlist", str(bad)]) == 1
        assert lib.collections() == []  # nothing half-imported


def test_round_trip_keeps_codes_exactly(exported: dict[str, Any]) -> None:
    w = Watchlist.read(exported["file"])
    again = Watchlist.from_dict(json.loads(w.to_json()))
    assert again.to_json() == w.to_json()
    emb = w.entries[1].faces[0].embedding
    assert np.max(np.abs(emb - exported["interview"])) < 1e-6
    assert np.max(np.abs(w.entries[1].voices[0].embedding - exported["voice"])) < 1e-6
    assert w.entries[0].hashes is not None and all(0 <= v < 2**64 for v in w.entries[0].hashes.values())


def test_an_interview_entry_may_carry_only_a_voice(exported: dict[str, Any], tmp_path: Path, locations: Locations) -> None:
    """A recording whose face was never found still shares its voice print."""
    data = _valid(exported)
    data["entries"] = [dict(data["entries"][1], faces=[])]
    only_voice = tmp_path / "voice_only.json"
    only_voice.write_text(json.dumps(data))
    with open_library(locations.new()) as lib:
        assert lib.import_watchlist(only_voice, name="voices") == ("voices", 1)
        assert [m["collection"] for m in lib.search_voices(exported["voice"])] == ["voices"]
        back = lib.export_watchlist(tmp_path / "back.json", collection="voices", label="back")
    assert [(e.kind, len(e.faces), len(e.voices)) for e in back.entries] == [("interview", 0, 1)]
