"""Candidate data protection (issue 8): private files, nothing written elsewhere, erasure that
leaves no trace, retention, audit entries, no network at run time."""

from __future__ import annotations

import getpass
import json
import logging
import os
import shutil
import stat
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from detectors import analyze_candidate, privacy
from detectors.store.sqlite import ERASED_NAME, RETENTION_DAYS, Library
from detectors.library_cli import main as lib_cli
from detectors.settings import all_settings
from fixtures.simple_media import astronaut_face

REPO = Path(__file__).resolve().parents[1]
FAST = {"pipeline.analysis_fps": 5}
"""Analysis rate for these tests: enough frames for embeddings, fast on two cores."""
CLIP = {"duration_s": 3.0, "fps": 25, "audio_offset_s": 0.0, "seed": 1}
"""The 3 s talking-head clip (the same one tests/desktop uses, made once per session)."""


@pytest.fixture(scope="session")
def qapp() -> Any:
    """The app's QApplication, offscreen (overrides pytest-qt's, as tests/desktop/conftest.py does)."""
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    for var in ("QT_QPA_PLATFORM_PLUGIN_PATH", "QT_QPA_FONTDIR"):  # cv2 points Qt at its own plugins
        os.environ.pop(var, None)
    from desktop.app import create_app

    return create_app([])


@pytest.fixture(scope="module")
def clip(talking_head_factory: Any) -> Path:
    return Path(talking_head_factory(**CLIP)["path"])


def _photo(path: Path, quality: int = 92, scale: float = 1.0) -> Path:
    rgb = astronaut_face()
    im = Image.fromarray(rgb)
    if scale != 1.0:
        im = im.resize((int(im.width * scale), int(im.height * scale)), Image.BICUBIC)
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path, quality=quality)
    return path


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")} if root.exists() else set()


# --------------------------------------------------------------------------- private files


def test_every_file_the_library_writes_is_owner_only(tmp_path: Path, clip: Path) -> None:
    folder = tmp_path / "library"
    photo = _photo(tmp_path / "in" / "id.jpg")
    other = _photo(tmp_path / "in" / "other.jpg", quality=60, scale=0.8)
    db = folder / "lib.sqlite"
    with Library(db) as lib:
        report = analyze_candidate([clip], [photo], "Perm Tester", library=lib, settings=FAST)
        lib.save_report("Perm Tester", report.to_dict())
        lib.add_media("Someone Else", other, "photo")
        assert lib.search(photo)  # the search index is built and used
        with lib.transaction():  # a write in progress: the write-ahead log and its index exist now
            lib.add_candidate("Journal Check")
            side = {p.name: stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()}
        assert side.get("lib.sqlite-wal") == 0o600 and side.get("lib.sqlite-shm") == 0o600, side
    # exports the user asks for, written into the library folder on purpose (and one outside)
    assert lib_cli(["--library", str(db), "library", "export-report", "--candidate", "Perm Tester", str(folder / "report.json")]) == 0
    assert lib_cli(["--library", str(db), "library", "search", str(photo), "--json", str(folder / "search.json")]) == 0
    assert lib_cli(["--library", str(db), "library", "export-watchlist", str(folder / "watch.json"),
                    "--candidate", "Perm Tester", "--label", "perm"]) == 0
    assert lib_cli(["--library", str(db), "library", "export-report", "--candidate", "Perm Tester", str(tmp_path / "outside.json")]) == 0
    # a library someone switched to WAL mode: -wal and -shm get the database's mode
    with Library(db) as lib:
        lib._db.execute("PRAGMA journal_mode = WAL")
        lib.add_candidate("WAL Check")
        names = {p.name for p in folder.iterdir()}
        assert {"lib.sqlite-wal", "lib.sqlite-shm"} <= names
        assert privacy.loose_files(folder) == []
    files = sorted(p.name for p in folder.rglob("*"))
    assert {"lib.sqlite", "report.json", "search.json", "watch.json"} <= set(files), files
    assert privacy.loose_files(folder) == []  # every file mode & 0o077 == 0
    assert all(stat.S_IMODE(p.stat().st_mode) & 0o077 == 0 for p in folder.rglob("*"))
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "outside.json").stat().st_mode) == 0o600


def test_a_library_file_readable_by_others_is_tightened_on_open(tmp_path: Path) -> None:
    db = tmp_path / "shared" / "lib.sqlite"
    with Library(db) as lib:
        lib.add_candidate("X")
    os.chmod(db, 0o644)
    with Library(db):
        pass
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    assert privacy.tighten(db) is False  # nothing left to tighten


def test_write_private_replaces_atomically_and_never_widens(tmp_path: Path) -> None:
    p = tmp_path / "out.json"
    p.write_text("old")
    os.chmod(p, 0o644)
    privacy.write_private(p, "new")
    assert p.read_text() == "new" and stat.S_IMODE(p.stat().st_mode) == 0o600
    assert [q.name for q in tmp_path.iterdir()] == ["out.json"]  # no temporary file left


def _isolated_env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "TELLTALE_", "MPL"))}
    env.update(
        HOME=str(root / "home"),
        XDG_DATA_HOME=str(root / "home" / ".local" / "share"),
        XDG_CONFIG_HOME=str(root / "home" / ".config"),
        XDG_CACHE_HOME=str(root / "home" / ".cache"),
        XDG_STATE_HOME=str(root / "home" / ".local" / "state"),
        TMPDIR=str(root / "tmp"),
        PYTHONDONTWRITEBYTECODE="1",
    )
    for k in ("HOME", "TMPDIR"):
        Path(env[k]).mkdir(parents=True, exist_ok=True)
    return env


def _strace_works() -> bool:
    if shutil.which("strace") is None:
        return False
    try:
        return subprocess.run(["strace", "-f", "-qq", "-o", os.devnull, "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def test_cli_analysis_writes_nothing_outside_the_library_and_makes_no_inet_socket(
    tmp_path: Path, clip: Path
) -> None:
    """A full ``telltale analyze`` in a fresh process (and its spawned embedding worker) with
    HOME, XDG dirs, TMPDIR and the working folder pointed at fresh empty folders; the library
    at its default place ($XDG_DATA_HOME/telltale). Afterwards only the library folder and the
    report the user asked for exist. Under strace (when ptrace is allowed) every process is
    also checked for AF_INET/AF_INET6 sockets: native code and the worker included."""
    env = _isolated_env(tmp_path / "iso")
    work = tmp_path / "iso" / "work"
    exports = tmp_path / "exports"
    for d in (work, exports):
        d.mkdir(parents=True)
    media = tmp_path / "media"
    media.mkdir()
    photo = _photo(media / "id.jpg")
    video = media / "interview.mkv"
    shutil.copy(clip, video)
    cmd = [sys.executable, "-m", "detectors.cli", "analyze", "--set", "pipeline.analysis_fps=5", "-q",
           "--candidate", "Iso Tester", str(video), "--id", str(photo), "--json", str(exports / "report.json")]
    trace = tmp_path / "trace.txt"
    traced = _strace_works()
    if traced:
        cmd = ["strace", "-f", "-qq", "-e", "trace=socket,connect,sendto", "-o", str(trace), *cmd]
    before_media = _tree(media)
    proc = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]

    lib_dir = Path(env["XDG_DATA_HOME"]) / "telltale"
    assert (lib_dir / "library.sqlite").is_file()
    assert privacy.loose_files(lib_dir) == [] and stat.S_IMODE(lib_dir.stat().st_mode) == 0o700
    assert _tree(exports) == {"report.json"} and _tree(media) == before_media and _tree(work) == set()
    root = tmp_path / "iso"
    allowed = {"home", "tmp", "work", "home/.local", "home/.local/share"}
    new = {p for p in _tree(root) if p not in allowed and not p.startswith("home/.local/share/telltale")}
    if traced:
        inet = [ln for ln in trace.read_text().splitlines() if "AF_INET" in ln]
        assert inet == [], inet[:5]
    assert new == set(), sorted(new)


def test_without_matplotlib_keeps_mediapipe_from_writing_a_font_cache(tmp_path: Path) -> None:
    env = _isolated_env(tmp_path)
    code = (
        "import sys\n"
        "from detectors.privacy import without_matplotlib\n"
        "with without_matplotlib():\n"
        "    from mediapipe.python.solutions import face_mesh, face_detection\n"
        "assert 'matplotlib' not in sys.modules\n"
        "face_mesh.FaceMesh(static_image_mode=True).close()\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert _tree(tmp_path / "home") == set() and _tree(tmp_path / "tmp") == set()


# --------------------------------------------------------------------------- erasure


def test_erase_leaves_no_trace_of_the_candidate(tmp_path: Path, clip: Path) -> None:
    name = "Trudy Zwiebelmann"
    files = tmp_path / "trudy_zw_files"
    photo = _photo(files / "id_trudy_zw.jpg")
    video = files / "interview_trudy_zw.mkv"
    files.mkdir(exist_ok=True)
    shutil.copy(clip, video)
    bob_photo = _photo(tmp_path / "bob" / "bob.jpg", quality=70)  # the same photo, re-saved: Bob reuses it
    folder = tmp_path / "library"
    with Library(folder / "lib.sqlite") as lib:
        report = analyze_candidate([video], [photo], name, library=lib, settings=FAST)
        lib.save_report(name, report.to_dict())
        lib.log_export(name, tmp_path / "exports" / f"{name} report.pdf", "report-pdf")
        bob = analyze_candidate([], [bob_photo], "Bob", library=lib, settings=FAST)
        lib.save_report("Bob", bob.to_dict())
        assert name in json.dumps(lib.latest_report("Bob"))  # Bob's reuse finding names Trudy
        tid = lib.get_candidate(name).id
        embeddings = [r[0] for r in lib._db.execute("SELECT embedding FROM faces WHERE candidate_id = ?", (tid,))]
        sources = {r[0] for r in lib._db.execute("SELECT source FROM faces WHERE candidate_id = ?", (tid,))}
        assert len(embeddings) >= 2 and {"id", "interview"} <= sources  # ID photo face and interview identity
        assert {m.candidate for m in lib.search(photo)} == {name, "Bob"}

        assert lib.erase_candidate(name) == 2

        assert lib.get_candidate(name) is None
        for table in ("media", "faces", "reports"):
            assert lib._db.execute(f"SELECT COUNT(*) FROM {table} WHERE candidate_id = ?", (tid,)).fetchone()[0] == 0
        for table in ("image_hashes", "segments", "keypoints"):  # nothing left hanging off a removed media row
            assert lib._db.execute(f"SELECT COUNT(*) FROM {table} WHERE media_id NOT IN (SELECT id FROM media)").fetchone()[0] == 0
        hits = lib.search(photo)
        assert hits and {m.candidate for m in hits} == {"Bob"}  # only Bob's own copy is left
        assert not any("trudy" in m.file for m in hits)
        reuse = lib.latest_report("Bob")["checks"]["reuse"]
        assert reuse["risk"] >= 0.85 and ERASED_NAME in reuse["summary"]  # the finding stays, the name goes
        erase_entry = lib.audit_log()[0]
        assert erase_entry["action"] == "erase-candidate" and erase_entry["subject"] == f"candidate#{tid}"
        assert erase_entry["user"] == getpass.getuser() and erase_entry["detail"]["faces"] == len(embeddings)

    needles = {
        "name": name.encode(), "surname": b"Zwiebelmann", "folder": b"trudy_zw_files",
        "photo path": str(photo).encode(), "video path": str(video).encode(),
        "photo file": b"id_trudy_zw.jpg", "video file": b"interview_trudy_zw",
        **{f"embedding {i}": e for i, e in enumerate(embeddings)},
    }
    assert privacy.scan_bytes([folder], needles) == {}
    assert {p.name for p in folder.iterdir()} == {"lib.sqlite"}  # no journal or WAL left behind

    with Library(folder / "lib.sqlite") as lib:  # erasing the last candidate: the photo is found nowhere
        assert lib_cli(["--library", str(folder / "lib.sqlite"), "library", "erase", "--candidate", "Bob", "--yes"]) == 0
        assert lib.search(photo) == [] and lib.candidates() == []
    assert privacy.scan_bytes([folder], {"bob": str(bob_photo).encode()}) == {}


def test_erase_in_wal_mode_leaves_nothing_in_the_wal(tmp_path: Path) -> None:
    name = "Walter Waldschrat"
    photo = _photo(tmp_path / "walter_files" / "walter.jpg")
    db = tmp_path / "library" / "lib.sqlite"
    with Library(db) as lib:
        lib._db.execute("PRAGMA journal_mode = WAL")
        lib.add_media(name, photo, "id")
        emb = lib._db.execute("SELECT embedding FROM faces").fetchone()[0]
        assert privacy.scan_bytes([db.parent], {"name": name.encode()})  # it is there before
        lib.erase_candidate(name)
        assert lib.search(photo) == []
        found = privacy.scan_bytes([db.parent], {"name": name.encode(), "path": b"walter_files", "embedding": emb})
        assert found == {}, found


def test_erase_with_vacuum_shrinks_the_file(tmp_path: Path) -> None:
    db = tmp_path / "library" / "lib.sqlite"
    photo = _photo(tmp_path / "vera" / "vera.jpg")
    with Library(db) as lib:
        lib.add_media("Vera Vakuum", photo, "id")
        lib.add_candidate("Stays")
    size = db.stat().st_size
    assert lib_cli(["--library", str(db), "library", "erase", "--candidate", "Vera Vakuum", "--yes", "--vacuum"]) == 0
    assert db.stat().st_size < size  # the freed pages are gone from the file, not only zeroed
    assert privacy.scan_bytes([db.parent], {"name": b"Vera Vakuum", "path": b"vera.jpg"}) == {}
    assert {p.name for p in db.parent.iterdir()} == {"lib.sqlite"} and privacy.loose_files(db.parent) == []
    with Library(db) as lib:
        assert [c.name for c in lib.candidates()] == ["Stays"]


def test_erase_cli_refuses_without_confirmation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "lib.sqlite"
    with Library(db) as lib:
        lib.add_candidate("Kept")
    monkeypatch.setattr(sys, "stdin", open(os.devnull))
    assert lib_cli(["--library", str(db), "library", "erase", "--candidate", "Kept"]) == 2
    assert lib_cli(["--library", str(db), "library", "erase", "--candidate", "Nobody", "--yes"]) == 1
    with Library(db) as lib:
        assert [c.name for c in lib.candidates()] == ["Kept"]


# --------------------------------------------------------------------------- retention


def _at(t: datetime) -> str:
    return t.isoformat(timespec="seconds")


def test_retention_erases_expired_candidates_one_log_line_each(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import detectors.store.sqlite as library

    t0 = datetime.now(timezone.utc)
    clock = {"now": t0}
    monkeypatch.setattr(library, "_now", lambda: _at(clock["now"]))
    db = tmp_path / "lib.sqlite"
    rng = np.random.default_rng(0)
    with Library(db, apply_retention=False) as lib:
        clock["now"] = t0 - timedelta(days=40)
        old = lib.add_candidate("Old")
        lib.add_face_embeddings("Old", None, (rng.standard_normal((3, 128)) * 0.09).astype(np.float32))  # 3 faces
        recent = lib.add_candidate("Recent")
        clock["now"] = t0 - timedelta(days=10)
        lib.save_report("Recent", {"score": 90, "verdict": "authentic"})  # analysed again 10 days ago
        clock["now"] = t0 - timedelta(days=1)
        fresh = lib.add_candidate("Fresh")
        assert lib.retention_days == 0 and lib.apply_retention(now=t0 + timedelta(days=10_000)) == []  # 0 = forever
        lib.set_retention_days(30)
    with pytest.raises(ValueError):
        Library(db, retention_days=-1)
    with pytest.raises(ValueError):
        Library(db, retention_days=RETENTION_DAYS.maximum + 1)

    clock["now"] = t0
    caplog.set_level(logging.INFO, logger="detectors.store.sqlite")
    with Library(db) as lib:  # the stored 30-day policy applies when the library opens (real clock)
        assert [c.name for c in lib.candidates()] == ["Fresh", "Recent"]
        assert lib.apply_retention(now=t0 + timedelta(days=25)) == [recent]  # fake clock
        assert lib.apply_retention(now=t0 + timedelta(days=28)) == []
        assert lib.apply_retention(now=t0 + timedelta(days=31)) == [fresh]
        assert lib.candidates() == [] and lib._db.execute("SELECT COUNT(*) FROM faces").fetchone()[0] == 0
        reasons = [e["detail"]["reason"] for e in lib.audit_log() if e["action"] == "erase-candidate"]
        assert reasons == ["retention"] * 3
    lines = [r.getMessage() for r in caplog.records if r.name == "detectors.store.sqlite" and "retention" in r.getMessage()]
    assert len(lines) == 3, lines  # one per candidate, not one per face
    assert [ln.split("#")[1].split()[0] for ln in lines] == [str(old), str(recent), str(fresh)]
    assert not any(n in " ".join(lines) for n in ("Old", "Recent", "Fresh"))  # logs name candidates by id

    s = all_settings()["library.retention_days"]
    assert (s.default, s.minimum, s.maximum, s.unit) == (0.0, 0.0, 3650.0, "days")


def test_retention_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    import detectors.store.sqlite as library

    db = tmp_path / "lib.sqlite"
    old = datetime.now(timezone.utc) - timedelta(days=8)
    monkeypatch.setattr(library, "_now", lambda: _at(old))
    with Library(db) as lib:
        lib.add_candidate("Stale")
    monkeypatch.undo()
    with Library(db) as lib:
        lib.add_candidate("Current")
    args = ["--library", str(db), "library", "retention"]
    assert lib_cli(args) == 0 and "keep forever" in capsys.readouterr().out
    assert lib_cli([*args, "--days", "7", "--dry-run"]) == 0 and "1 candidate(s) would be erased" in capsys.readouterr().out
    assert lib_cli([*args, "--days", "99999"]) == 2
    assert lib_cli(args) == 0 and "1 candidate(s) erased" in capsys.readouterr().out
    with Library(db) as lib:
        assert [c.name for c in lib.candidates()] == ["Current"] and lib.retention_days == 7


# --------------------------------------------------------------------------- audit


def test_audit_names_who_ran_which_analysis_export_and_erasure(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    db = tmp_path / "lib.sqlite"
    user = getpass.getuser()
    start = datetime.now(timezone.utc) - timedelta(seconds=2)
    with Library(db) as lib:
        cid = lib.add_candidate("Audrey Auditee")
        lib.save_report("Audrey Auditee", {"score": 42.0, "verdict": "review", "media": [{"path": "/x.mp4"}]})
        lib.log_export(cid, tmp_path / "Audrey Auditee.pdf", "report-pdf")
    out = tmp_path / "audrey.json"
    assert lib_cli(["--library", str(db), "library", "export-report", "--candidate", "Audrey Auditee", str(out)]) == 0
    assert json.loads(out.read_text())["score"] == 42.0 and stat.S_IMODE(out.stat().st_mode) == 0o600
    capsys.readouterr()
    assert lib_cli(["--library", str(db), "library", "audit", "--json", "--candidate", "Audrey Auditee"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["action"] for r in rows] == ["export", "export", "analysis", "add-candidate"]
    assert all(r["user"] == user and r["subject"] == f"candidate#{cid}" for r in rows)
    assert all(start <= datetime.fromisoformat(r["at"]) <= datetime.now(timezone.utc) + timedelta(seconds=2) for r in rows)
    assert rows[2]["detail"] == {"score": 42.0, "verdict": "review", "files": 1}
    assert rows[0]["detail"] == {"kind": "report-json", "path": str(out.absolute())}
    assert rows[1]["detail"]["path"].endswith("Audrey Auditee.pdf")

    assert lib_cli(["--library", str(db), "library", "erase", "--candidate", "Audrey Auditee", "--yes"]) == 0
    capsys.readouterr()
    assert lib_cli(["--library", str(db), "library", "audit", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["action"] == "erase-candidate" and rows[0]["user"] == user and rows[0]["detail"]["reason"] == "request"
    assert "Audrey" not in json.dumps(rows)  # the export paths named her: redacted, the entries stay
    exports = [r["detail"] for r in rows if r["action"] == "export"]
    assert exports == [{"kind": "report-json", "path": "[erased file]"}, {"kind": "report-pdf", "path": "[erased file]"}]
    assert [r["action"] for r in rows if r["subject"] == f"candidate#{cid}"] == ["erase-candidate", "export", "export", "analysis", "add-candidate"]
    assert lib_cli(["--library", str(db), "library", "audit"]) == 0
    assert "erase-candidate" in capsys.readouterr().out


# --------------------------------------------------------------------------- network


def test_network_guard_records_and_refuses() -> None:
    import socket
    import urllib.request

    with privacy.block_network() as attempts:
        with pytest.raises(OSError):
            socket.create_connection(("192.0.2.1", 80), timeout=1)
        with pytest.raises(OSError):
            urllib.request.urlopen("http://example.invalid/", timeout=1)
        s = socket.socket()
        with pytest.raises(OSError):
            s.connect(("192.0.2.1", 9))
        s.close()
    assert len(attempts.attempts) == 3
    assert socket.getaddrinfo is not None and "guarded" not in socket.getaddrinfo.__name__  # restored


def test_full_analysis_with_sockets_blocked(tmp_path: Path, clip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """analyze_candidate on a clip and an ID photo, with a library (search, record, report),
    while every Python-level connect/getaddrinfo/create_connection in this process records
    and raises. The embedding worker would be a separate spawned process that this patch
    cannot see, so this test sets ``faces.EMBED_IN_PROCESS = False``: the same embedding code
    runs here, under the guard. (The subprocess test above covers the real worker with strace.)"""
    from detectors import faces

    monkeypatch.setattr(faces, "EMBED_IN_PROCESS", False)
    photo = _photo(tmp_path / "id.jpg")
    with privacy.block_network() as attempts:
        with Library(tmp_path / "lib" / "lib.sqlite") as lib:
            report = analyze_candidate([clip], [photo], "Offline", library=lib, settings=FAST)
            lib.save_report("Offline", report.to_dict())
            assert lib.search(photo)
    assert report.analysed_anything and report.media[0].frames_analysed > 0
    assert report.checks["identity"].confidence > 0  # embeddings were computed (in this process)
    assert attempts.attempts == []


def test_app_session_with_sockets_blocked(
    tmp_path: Path, clip: Path, monkeypatch: pytest.MonkeyPatch, qapp: Any, qtbot: Any
) -> None:
    """The desktop app offscreen (as tests/desktop do): create a candidate, add a clip and an
    ID photo, analyse, close; no connection attempt. Embeddings in-process (see above)."""
    from PySide6.QtCore import QSettings

    from desktop.app import MainWindow
    from desktop.config import AppConfig
    from detectors import faces

    monkeypatch.setattr(faces, "EMBED_IN_PROCESS", False)
    photo = _photo(tmp_path / "id.jpg")
    config = AppConfig(QSettings(str(tmp_path / "telltale.ini"), QSettings.Format.IniFormat))
    config.library_path = tmp_path / "library" / "library.sqlite"
    config.set_overrides({"pipeline.analysis_fps": FAST["pipeline.analysis_fps"]})
    with privacy.block_network() as attempts:
        w = MainWindow(config)
        qtbot.addWidget(w)
        w.show()
        cid = w.new_candidate("App Offline")
        assert cid is not None
        with qtbot.waitSignal(w.mediaAdded, timeout=60_000):
            w.add_files([str(clip), str(photo)], cid)
        with qtbot.waitSignal(w.analysisFinished, timeout=120_000) as done:
            assert w.analyse(cid) is not None
        assert done.args[1] == "done"
        w.close()
    with Library(config.library_path) as lib:
        assert lib.latest_report(cid) is not None
    assert attempts.attempts == []
