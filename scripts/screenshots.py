"""Start the desktop app in a real window under Xvfb, load demo candidates, and save a PNG of
each page at each laptop size to docs/screenshots/<width>x<height>/.

    uv run python scripts/screenshots.py [--out docs/screenshots] [--fps 10] [--sizes 1366x768 1024x700]

Pages: the candidate (summary with the files' own risk), recordings (player and timeline),
identity and reuse, evidence pictures, a proxy-interview candidate, the comparison of six
candidates, settings; and an analysis in progress. The window is resized to each size and must
stay there (a page that forced it bigger is reported and the script fails).

Demo media: ../shared/media when present (a lip-sync fake whose ID photo is a re-published
copy of another candidate's photo, that other candidate, a real presenter, a real speech with
its ID photo, two recordings of two different people under one name, a face swap beside its
real source); otherwise the test fixture's astronaut talking head. The library is a temporary
one: nothing is written to the user's own. Needs Xvfb (``apt-get install -y xvfb
libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 ...``, see the README) unless a display is set.
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
SIZES = ("1366x768", "1024x700")


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
            {"name": "Lin Miranda", "files": [v / "real_stage_speech.mp4", i / "miranda_1.png"]},
            {"name": "Pat Proxy", "files": [v / "real_talking_01.mp4", v / "real_talking_02.mp4"], "proxy": True},
            {"name": "Dana Swap", "files": [v / "real_news_519.mp4", v / "fake_faceswap_519_515.mp4"]},
            {"name": "Sam Rivera", "files": [v / "fake_lipsync_presenter.mp4", i / "obama_1_480p.jpg"], "lead": True},
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
        {"name": "Proxy Demo", "files": [real, late], "proxy": True},
        {"name": "Late Audio Demo", "files": [late, photo], "lead": True},
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
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), help="window sizes, WIDTHxHEIGHT")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    xvfb = start_xvfb()
    work = Path(tempfile.mkdtemp(prefix="telltale-screens-"))
    try:
        return run(out, work, args.fps, [tuple(int(x) for x in s.split("x")) for s in args.sizes])
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if xvfb is not None:
            xvfb.terminate()
            xvfb.wait(10)


def run(out: Path, work: Path, fps: float, sizes: list[tuple[int, ...]]) -> int:
    from PySide6.QtCore import QSettings

    from desktop.app import MainWindow, create_app, install_excepthook
    from desktop.config import AppConfig

    app = create_app(["telltale-desktop"])
    config = AppConfig(QSettings(str(work / "telltale.ini"), QSettings.Format.IniFormat))
    config.library_path = work / "library.sqlite"
    config.set_overrides({"pipeline.analysis_fps": fps})
    w = MainWindow(config)
    install_excepthook(w)
    w.resize(*sizes[0])
    w.show()
    settle(app)
    plan = demo_plan(work)
    ids: dict[str, Any] = {}
    shots: list[Path] = []
    problems: list[str] = []

    def shot(widget: Any, name: str, folder: Path = out) -> None:
        settle(app, 0.3)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        widget.grab().save(str(path))
        shots.append(path)
        print(f"saved {path} ({widget.width()}x{widget.height()})", flush=True)

    for i, cand in enumerate(plan):
        cid = w.new_candidate(cand["name"], duplicate="new")
        ids[cand["name"]] = cid
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
            shot(w, "analysis-running.png", out / "x".join(map(str, sizes[0])))
        while w.last_status.get(job.job_id) in ("queued", "running"):
            wait(app, w.analysisFinished, 600)
        print(f"{cand['name']}: {w.last_status.get(job.job_id)}; {w.messages.text}", flush=True)

    lead = next((ids[c["name"]] for c in plan if c.get("lead")), list(ids.values())[-1])
    proxy = next((ids[c["name"]] for c in plan if c.get("proxy")), None)
    for jid in list(w.jobs_panel.boxes):
        w.jobs_panel.remove_job(jid)
    from desktop.settings_dialog import SettingsDialog

    for size in sizes:
        folder = out / "x".join(map(str, size))
        w.resize(*size)
        settle(app, 0.5)
        w.select_candidate(lead)
        w.messages.hide()
        for index, name in enumerate(("candidate-summary.png", "candidate-recording.png", "candidate-identity.png",
                                      "candidate-evidence.png")):
            w.page.tabs.setCurrentIndex(index)
            if index == 1 and w.page.recordings:
                ev = w.page.recordings[0]
                t = None
                if ev.top_frames and isinstance(ev.top_frames[0].get("t"), (int, float)):
                    t = float(ev.top_frames[0]["t"])
                elif ev.mismatch_segments:
                    t = ev.mismatch_segments[0][0]
                w.page.seek(t if t is not None else ev.duration_s / 3)
            shot(w, name, folder)
        if proxy is not None:
            w.select_candidate(proxy)
            w.page.tabs.setCurrentIndex(0)
            shot(w, "proxy-interview-summary.png", folder)
            w.page.tabs.setCurrentIndex(2)
            shot(w, "proxy-interview-identity.png", folder)
        w.compare(list(ids.values()))
        w.compare_view.wait_idle(120_000)
        settle(app, 0.5)
        shot(w, f"compare-{len(ids)}.png", folder)
        dialog = SettingsDialog(config, w)
        dialog.resize(min(dialog.sizeHint().width(), size[0]), min(dialog.sizeHint().height(), size[1]))
        dialog.show()
        shot(dialog, "settings.png", folder)
        if dialog.width() > size[0] or dialog.height() > size[1]:
            problems.append(f"settings dialog is {dialog.width()}x{dialog.height()} at {size[0]}x{size[1]}")
        dialog.close()
        if (w.width(), w.height()) != tuple(size):
            problems.append(f"the window is {w.width()}x{w.height()}, not {size[0]}x{size[1]}: a page forced it bigger")
        w.views.setCurrentIndex(0)

    from desktop.export import export_pdf

    report = w.library.latest_report(lead)
    if report:
        pdf = export_pdf(report, work / "report.pdf", w.library.media(lead))
        print(f"PDF report: {pdf.stat().st_size} bytes", flush=True)
    w.close()
    print(f"{len(shots)} screenshots in {out}")
    for p in problems:
        print("PROBLEM:", p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":  # the embedding worker process is spawned: keep this guard
    raise SystemExit(main())
