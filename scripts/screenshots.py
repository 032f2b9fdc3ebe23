"""Start the desktop app in a real window under Xvfb, load demo candidates, and save a PNG of
each main view to docs/screenshots/.

    uv run python scripts/screenshots.py [--out docs/screenshots] [--fps 10]

Demo media: ../shared/media when present (a lip-sync fake whose ID photo is a re-published
copy of another candidate's photo, that other candidate, and a real presenter); otherwise the
test fixture's astronaut talking head. The library is a temporary one: nothing is written to
the user's own. Needs Xvfb (``apt-get install -y xvfb``) unless a display is already set.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "media"
SCREEN = "1600x1000x24"
WINDOW_SIZE = (1440, 920)


def start_xvfb() -> subprocess.Popen | None:
    """A virtual X display for the real window (unless one is already set)."""
    if os.environ.get("DISPLAY") and os.environ.get("QT_QPA_PLATFORM", "xcb") == "xcb":
        return None
    if shutil.which("Xvfb") is None:
        sys.exit("Xvfb is not installed: apt-get install -y xvfb (or run with a DISPLAY)")
    for n in range(99, 120):
        if not Path(f"/tmp/.X11-unix/X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists():
            break
    proc = subprocess.Popen(["Xvfb", f":{n}", "-screen", "0", SCREEN, "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(50):
        if Path(f"/tmp/.X11-unix/X{n}").exists():
            break
        time.sleep(0.1)
    os.environ["DISPLAY"] = f":{n}"
    os.environ["QT_QPA_PLATFORM"] = "xcb"
    return proc


def demo_plan(work: Path) -> list[dict[str, Any]]:
    """Candidates to create, in order (the reused photo's owner first, so the search finds it)."""
    if (SHARED / "video" / "fake_lipsync_presenter.mp4").exists():
        v, i = SHARED / "video", SHARED / "images"
        return [
            {"name": "Barack Osei", "files": [i / "obama_1.jpg", i / "obama_2.jpg"]},
            {"name": "Kim Navarro", "files": [v / "real_presenter.mp4"]},
            {"name": "Sam Rivera", "files": [v / "fake_lipsync_presenter.mp4", i / "obama_1_480p.jpg"]},
        ]
    sys.path.insert(0, str(ROOT / "tests"))
    from PIL import Image

    from fixtures.simple_media import astronaut_face
    from fixtures.talking_head import make_talking_head

    real = work / "interview.mkv"
    late = work / "interview late audio.mkv"
    make_talking_head(real, duration_s=6.0, audio_offset_s=0.0, seed=3)
    make_talking_head(late, duration_s=6.0, audio_offset_s=0.3, seed=4)
    photo = work / "id photo.jpg"
    Image.fromarray(astronaut_face()).save(photo, quality=92)
    return [
        {"name": "Eileen Demo", "files": [real, photo]},
        {"name": "Late Audio Demo", "files": [late, photo]},
    ]


def wait(app: Any, signal: Any, timeout_s: float) -> list[Any]:
    from PySide6.QtCore import QEventLoop, QTimer

    got: list[Any] = []
    loop = QEventLoop()

    def done(*args: Any) -> None:
        got.append(args)
        loop.quit()

    signal.connect(done)
    QTimer.singleShot(int(timeout_s * 1000), loop.quit)
    loop.exec()
    signal.disconnect(done)
    return got


def settle(app: Any, seconds: float = 0.4) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


def main() -> int:
    import faulthandler
    import signal

    faulthandler.register(signal.SIGUSR1)  # `kill -USR1 <pid>` prints where every thread is
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # still stop our Xvfb when killed
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    parser.add_argument("--fps", type=float, default=10.0, help="analysis frames per second")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    xvfb = start_xvfb()
    work = Path(tempfile.mkdtemp(prefix="telltale-screens-"))
    try:
        return run(out, work, args.fps)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if xvfb is not None:
            xvfb.terminate()
            xvfb.wait(10)


def run(out: Path, work: Path, fps: float) -> int:
    from PySide6.QtCore import QSettings

    from desktop.app import MainWindow, create_app, install_excepthook
    from desktop.config import AppConfig

    app = create_app(["telltale-desktop"])
    config = AppConfig(QSettings(str(work / "telltale.ini"), QSettings.Format.IniFormat))
    config.library_path = work / "library.sqlite"
    config.set_overrides({"pipeline.analysis_fps": fps})
    w = MainWindow(config)
    install_excepthook(w)
    w.resize(*WINDOW_SIZE)
    w.show()
    settle(app)
    plan = demo_plan(work)
    ids = []
    shots: list[Path] = []

    def shot(widget: Any, name: str) -> None:
        settle(app, 0.3)
        path = out / name
        widget.grab().save(str(path))
        shots.append(path)
        print(f"saved {path}", flush=True)

    for i, cand in enumerate(plan):
        cid = w.new_candidate(cand["name"])
        ids.append(cid)
        w.add_files([str(p) for p in cand["files"]])
        wait(app, w.mediaAdded, 120)
        job = w.analyse()
        if job is None:
            print(f"could not start the analysis of {cand['name']}: {w.messages.text}", file=sys.stderr)
            continue
        if i == len(plan) - 1:  # catch the last one mid-way, progress bars showing
            seen: list[float] = []

            def on_progress(_j: str, _k: str, f: float, _m: str) -> None:
                seen.append(f)

            job.signals.progress.connect(on_progress)
            t_end = time.monotonic() + 120
            while time.monotonic() < t_end and not (seen and max(seen) >= 0.3) and w.last_status.get(job.job_id) in ("queued", "running"):
                settle(app, 0.2)
            shot(w, "analysis-running.png")
        while w.last_status.get(job.job_id) in ("queued", "running"):
            wait(app, w.analysisFinished, 600)
        print(f"{cand['name']}: {w.last_status.get(job.job_id)}; {w.messages.text}", flush=True)

    lead = ids[-1]
    w.select_candidate(lead)
    w.messages.hide()
    for jid in list(w.jobs_panel.boxes):
        w.jobs_panel.remove_job(jid)
    w.page.tabs.setCurrentIndex(0)
    shot(w, "candidate-summary.png")

    w.page.tabs.setCurrentIndex(1)
    recs = w.page.recordings
    if recs:
        ev = recs[0]
        t = None
        if ev.mismatch_segments:
            t = ev.mismatch_segments[0][0]
        elif ev.top_frames and isinstance(ev.top_frames[0].get("t"), (int, float)):
            t = float(ev.top_frames[0]["t"])
        w.page.seek(t if t is not None else ev.duration_s / 3)
    shot(w, "candidate-recording.png")

    w.page.tabs.setCurrentIndex(2)
    shot(w, "candidate-identity.png")

    w.compare(ids)
    w.compare_view.wait_idle(120_000)
    settle(app, 0.5)
    shot(w, "compare.png")

    from desktop.settings_dialog import SettingsDialog

    dialog = SettingsDialog(config, w)
    dialog.show()
    shot(dialog, "settings.png")
    dialog.close()

    from desktop.export import export_pdf

    report = w.library.latest_report(lead)
    if report:
        pdf = export_pdf(report, work / "report.pdf", w.library.media(lead))
        print(f"PDF report: {pdf.stat().st_size} bytes", flush=True)
    w.close()
    print(f"{len(shots)} screenshots in {out}")
    return 0


if __name__ == "__main__":  # the embedding worker process is spawned: keep this guard
    raise SystemExit(main())
