"""The library contract, run on both back ends (SQLite file, PostgreSQL server): the same calls
give the same results. Parametrised by the ``backend`` fixture (tests/store/backends.py)."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from detectors import hashing
from detectors.base import CandidateContext
from detectors.store.sqlite import ERASED_NAME, Library, LibraryError, Match
from detectors.library_cli import main as lib_cli
from detectors.reuse import ReuseDetector
from detectors.store import describe_location, open_library, redact_url, schema
from fixtures.simple_media import astronaut_face

from store.backends import Locations


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """An ID photo with one face, a recompressed crop of it, and a photo without a face."""
    from skimage import data

    root = tmp_path_factory.mktemp("photos")
    face = astronaut_face()
    out = {"id": root / "alice_id.jpg", "copy": root / "copy.jpg", "coffee": root / "coffee.jpg"}
    Image.fromarray(face).save(out["id"], quality=92)
    Image.fromarray(np.ascontiguousarray(face[12:-8, 6:-10])).save(out["copy"], quality=60)
    Image.fromarray(np.ascontiguousarray(data.coffee()[::2, ::2])).save(out["coffee"], quality=90)
    return out


def _synthetic(seed: int) -> hashing.Encoded:
    rng = np.random.default_rng(seed)
    h = rng.integers(0, 2**63, size=4 + hashing.CROP_MAX_SEGMENTS + 1, dtype=np.int64).tolist()
    emb = (rng.standard_normal(128) * 0.09).astype(np.float32)
    return hashing.Encoded(640, 480, dict(zip(hashing.WHOLE_HASH_KINDS, h[:4])), tuple(h[4:-1]),
                           (hashing.FaceCode((0, 0, 10, 10), emb, h[-1]),), None, f"{seed:064x}")


def test_candidates_and_media(library: Any, photos: dict[str, Path]) -> None:
    row = library.add_media("Alice Example", photos["id"], "id")
    assert row.faces == 1 and row.candidate == "Alice Example" and row.role == "id" and row.width == 220
    assert library.add_media("Alice Example", photos["id"], "id") == row  # the same file again: the same row
    library.add_media("alice example junior", photos["coffee"], "photo")
    assert [c.name for c in library.candidates("ALICE")] == ["Alice Example", "alice example junior"]
    assert [c.name for c in library.candidates("junior")] == ["alice example junior"]
    cand = library.get_candidate("Alice Example")
    assert cand is not None and cand.media_count == 1 and library.get_candidate(cand.id) == cand
    assert [m.id for m in library.media("Alice Example")] == [row.id] and library.get_media(row.id) == row
    library.remove_media(row.id)
    assert library.media("Alice Example") == [] and library.index().size == 1
    with pytest.raises(LibraryError):
        library.media("Nobody")
    assert library.get_candidate("Nobody") is None


def test_reports_history_and_score(library: Any) -> None:
    library.save_report("Bob", {"score": 80.0, "verdict": "likely genuine", "media": []})
    library.save_report("Bob", {"score": 35.5, "verdict": "suspicious", "media": ["a", "b"]})
    assert [r["score"] for _t, r in library.reports("Bob")] == [80.0, 35.5]
    assert library.latest_report("Bob")["verdict"] == "suspicious" and library.latest_report("Nobody") is None
    c = library.get_candidate("Bob")
    assert (c.score, c.verdict) == (35.5, "suspicious")


def test_search_finds_the_copy_and_the_face_and_excludes_the_owner(library: Any, photos: dict[str, Path]) -> None:
    library.add_media("Alice", photos["id"], "id")
    library.add_media("Carol", photos["coffee"], "photo")
    hits = library.search(photos["copy"])
    assert hits and (hits[0].candidate, hits[0].kind) == ("Alice", "same-image")
    assert hits[0].detail["method"] in ("whole-image hash", "border-trimmed hash", "aligned-face hash", "keypoints")
    assert all(m.candidate != "Alice" for m in library.search(photos["copy"], exclude_candidate="Alice"))
    sha = library.search(photos["id"])[0]
    assert (sha.kind, sha.distance, sha.detail["method"]) == ("same-image", 0.0, "sha256")
    face = library.encode(photos["id"]).faces[0].embedding
    near = library.search_embedding(face + 0.01)
    assert [(m.candidate, m.kind) for m in near] == [("Alice", "same-face")] and near[0].distance < 0.2
    assert library.search_embedding(face, exclude_candidate="Alice") == []
    assert library.search(photos["coffee"], exclude_candidate="Carol") == []


def test_same_results_on_both_back_ends(locations: Locations, tmp_path: Path) -> None:
    """Synthetic codes (no photo decoding): the same store, the same queries, and the results
    of this back end equal those of a SQLite library holding the same rows."""
    encs = [_synthetic(i) for i in range(60)]
    reference = Library(tmp_path / "ref.sqlite")
    with open_library(locations.new()) as lib:
        for i, enc in enumerate(encs):
            for target in (lib, reference):
                target.add_encoded(f"person {i % 20}", f"/photos/{i}.jpg", "photo", enc, sha256=enc.sha256 or "")
        for q in (3, 17, 44):
            enc = encs[q]
            noisy = hashing.Encoded(enc.width, enc.height, {k: v ^ 0b101 for k, v in enc.hashes.items()}, enc.segments,
                                    (hashing.FaceCode((0, 0, 10, 10), enc.faces[0].embedding + 0.02, None),))
            for query, ex in ((noisy, None), (noisy, f"person {q % 20}"), (noisy, "person 0")):
                got = [m.to_dict() for m in lib.search_encoded(query, exclude_candidate=ex)]
                want = [m.to_dict() for m in reference.search_encoded(query, exclude_candidate=ex)]
                for m in got + want:
                    m["detail"].pop("media_id", None)
                assert got == want
            e = enc.faces[0].embedding + 0.03
            assert [m.to_dict()["distance"] for m in lib.search_embedding(e)] == [m.to_dict()["distance"] for m in reference.search_embedding(e)]
    reference.close()


def test_reuse_check_flags_another_candidates_photo(library: Any, photos: dict[str, Path]) -> None:
    from detectors.media import load_image

    library.add_media("Alice", photos["id"], "id")
    f = ReuseDetector().analyze(CandidateContext("Bob", [], [load_image(photos["copy"], "id")], library=library))
    top = f.evidence["matches"][0]
    assert (top["candidate"], top["kind"]) == ("Alice", "same-image") and f.risk >= 0.9 and "Alice" in f.summary
    assert f.evidence["library_entries"] >= 2  # one photo and its face


def test_erase_candidate_removes_everything_and_redacts_other_reports(library: Any, photos: dict[str, Path]) -> None:
    library.add_media("Alice", photos["id"], "id")
    library.add_face_embeddings("Alice", None, [np.full(128, 0.05, np.float32)])
    library.save_report("Alice", {"score": 20.0, "verdict": "suspicious"})
    library.log_export("Alice", "/exports/alice_report.pdf", "report-pdf")
    match = Match("Alice", None, str(photos["id"]), "same-image", 0.03, {"method": "whole-image hash"}).to_dict()
    library.save_report("Bob", {"score": 10.0, "verdict": "suspicious",
                                "checks": {"reuse": {"evidence": {"matches": [match], "other_candidates": ["Alice"]}}}})
    cid = library.get_candidate("Alice").id
    assert library.erase_candidate("Alice") == 1
    assert library.get_candidate("Alice") is None and library.search(photos["copy"]) == []
    assert library.search_embedding(np.full(128, 0.05, np.float32)) == []
    bob = json.dumps(library.latest_report("Bob"))
    assert "Alice" not in bob and ERASED_NAME in bob
    entries = library.audit_log(limit=50)
    erase = entries[0]
    assert erase["action"] == "erase-candidate" and erase["subject"] == f"candidate#{cid}"
    assert (erase["detail"]["media"], erase["detail"]["faces"], erase["detail"]["reports"]) == (1, 2, 1)
    assert erase["detail"]["reports_redacted"] == 1
    exports = [e for e in entries if e["action"] == "export" and e["subject"] == f"candidate#{cid}"]
    assert exports and all("alice" not in json.dumps(e["detail"]).lower() for e in exports)
    with pytest.raises(LibraryError):
        library.erase_candidate("Alice")
    assert library.erase_candidate("Bob", vacuum=True) == 0  # VACUUM (SQLite) / VACUUM FULL (PostgreSQL)
    assert library.candidates() == []


def test_retention_erases_only_expired_candidates(library: Any) -> None:
    library.add_candidate("Old")
    library.add_candidate("Recent")
    assert library.retention_days == 0 and library.expired_candidates() == []
    library.set_retention_days(30)
    assert library.retention_days == 30
    later = datetime.now(timezone.utc) + timedelta(days=31)
    old = library.get_candidate("Old").id
    assert set(library.expired_candidates(later)) == {old, library.get_candidate("Recent").id}
    assert library.expired_candidates() == []
    library.save_report("Recent", {"score": 90.0})
    erased = library.apply_retention(later)
    assert old in erased and library.get_candidate("Old") is None
    with pytest.raises(ValueError):
        library.set_retention_days(-1)


def test_audit_names_the_os_user(library: Any) -> None:
    import getpass
    import socket

    library.save_report("Dana", {"score": 50.0, "verdict": "uncertain", "media": [1]})
    library.audit("export", "Dana", {"kind": "report-json", "path": "/tmp/x.json"})
    entries = library.audit_log(limit=10)
    assert [e["action"] for e in entries[:3]] == ["export", "analysis", "add-candidate"]
    assert all(e["user"] == getpass.getuser() for e in entries)
    assert entries[1]["detail"] == {"score": 50.0, "verdict": "uncertain", "files": 1}
    assert library.audit_log(candidate="Dana")[0]["action"] == "export"
    if "host" in entries[0]:  # the team store also says from which desk
        assert entries[0]["host"] == socket.gethostname()


def test_watchlist_export_import_and_search(locations: Locations, photos: dict[str, Path], tmp_path: Path) -> None:
    interview = (np.random.default_rng(3).standard_normal(128) * 0.09).astype(np.float32)
    with open_library(locations.new()) as a:
        a.add_media("Persona", photos["id"], "id")
        a.add_face_embeddings("Persona", None, [interview])
        w = a.export_watchlist(tmp_path / "w.json", candidates=["Persona"], label="known fakes")
        assert [(e.kind, e.role, e.persona) for e in w.entries] == [("photo", "id", 1), ("interview", "video", 1)]
        assert a.audit_log()[0]["action"] == "export-watchlist"
    text = (tmp_path / "w.json").read_text()
    assert "Persona" not in text and "alice_id" not in text
    with open_library(locations.new()) as b:
        assert b.import_watchlist(tmp_path / "w.json") == ("watchlist: known fakes", 2)
        top = b.search(photos["copy"])[0]
        assert (top.kind, top.collection, top.candidate) == ("same-image", "watchlist: known fakes", None)
        same = b.search_embedding(interview + 0.005)
        assert [(m.kind, m.collection) for m in same] == [("same-face", "watchlist: known fakes")]
        with pytest.raises(LibraryError):
            b.import_watchlist(tmp_path / "w.json")
        assert b.import_watchlist(tmp_path / "w.json", replace=True)[1] == 2
        back = b.export_watchlist(tmp_path / "w2.json", collection="watchlist: known fakes", label="again")
        assert [e.to_dict() for e in back.entries] == [dict(e.to_dict(), persona=0) for e in w.entries]
        assert b.erase_collection("watchlist: known fakes") == 2 and b.collections() == []


def test_import_collection_and_cli_on_the_location(locations: Locations, photos: dict[str, Path], tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    where = locations.new()
    folder = photos["id"].parent
    assert lib_cli(["--library", where, "library", "import-collection", "stock", str(folder)]) == 0
    assert lib_cli(["--library", where, "library", "add", "--candidate", "Eve", str(photos["coffee"])]) == 0
    assert lib_cli(["--library", where, "library", "search", str(photos["copy"])]) == 0
    out = capsys.readouterr().out
    assert "same-image" in out and "[stock]" in out and "3 photo(s) imported" in out
    with open_library(where) as lib:
        assert [(c.name, c.media_count) for c in lib.collections()] == [("stock", 3)]
        assert lib.import_collection("stock", folder) == 0  # the same files again: skipped
    assert "***" in describe_location(where) or "password" not in where


def test_environment_variable_chooses_the_store(locations: Locations, monkeypatch: pytest.MonkeyPatch) -> None:
    where = locations.new()
    monkeypatch.setenv("TELLTALE_LIBRARY", where)
    with open_library() as lib:
        lib.add_candidate("From The Environment")
    with open_library(where) as lib:
        assert [c.name for c in lib.candidates()] == ["From The Environment"]
        assert (type(lib).__name__ == "PostgresLibrary") == (locations.backend == "postgres")


def test_schema_description_matches_the_sqlite_library(tmp_path: Path) -> None:
    """The one description (detectors/store/schema.py) renders exactly the SQLite tables the
    SQLite library creates, and the PostgreSQL tables have the same columns."""
    with Library(tmp_path / "lib.sqlite"):
        pass
    db = sqlite3.connect(tmp_path / "lib.sqlite")
    described = schema.tables()
    for name, table in described.items():
        cols = [(r[1], r[2].upper(), bool(r[3]) or bool(r[5] and len([c for c in table.columns if c.kind == "pk"]) == 1))
                for r in db.execute(f"PRAGMA table_info({name})")]
        assert [c[0] for c in cols] == [c.name for c in table.columns], name
        rendered = sqlite3.connect(":memory:")
        rendered.execute(schema.create_table(table, "sqlite"))
        assert [(r[1], r[2]) for r in rendered.execute(f"PRAGMA table_info({name})")] == \
            [(r[1], r[2]) for r in db.execute(f"PRAGMA table_info({name})")], name
    ours = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")} - {"schema_migrations"}
    assert ours <= set(described), ours - set(described)
    # one history for both back ends: every version described, the SQLite library at the latest
    assert [v.number for v in schema.VERSIONS] == sorted(schema.descriptions()) == list(range(1, schema.LATEST + 1))
    assert Library(tmp_path / "lib.sqlite").schema_version == schema.LATEST


@pytest.mark.parametrize("url, shown", [
    ("postgresql://hr:s3cret@db.example/telltale", "postgresql://hr:***@db.example/telltale"),
    ("postgresql://hr@db.example/telltale?password=s3cret&sslmode=require",
     "postgresql://hr@db.example/telltale?password=***&sslmode=require"),
    ("postgresql://hr@db.example/telltale?passfile=/home/hr/.pgpass", "postgresql://hr@db.example/telltale?passfile=/home/hr/.pgpass"),
])
def test_urls_are_shown_without_passwords(url: str, shown: str) -> None:
    assert redact_url(url) == shown and describe_location(url) == shown and "s3cret" not in shown


def test_wrong_password_message_has_no_password(pg_server: Any) -> None:
    url = pg_server.url("postgres").replace("postgresql://postgres:@", "postgresql://nobody:s3cret@")
    with pytest.raises(LibraryError) as err:
        open_library(url)
    assert "s3cret" not in str(err.value) and "***" in str(err.value)
