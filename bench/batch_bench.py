"""Batch screening bench (issue 15): a batch of 32 candidates built from ../shared/media.

    uv run python bench/batch_bench.py build              # the folder: symlinks in out/batch_bench/
    uv run python bench/batch_bench.py serial             # sum of single analyses, one after another
    uv run python bench/batch_bench.py batch --workers 1  # `telltale batch`, fresh library; RSS sampled
    uv run python bench/batch_bench.py batch --workers 2
    uv run python bench/batch_bench.py kill-worker        # kill -9 one worker mid-batch, then finish
    uv run python bench/batch_bench.py kill-batch         # kill -9 the whole batch mid-run, re-run
    uv run python bench/batch_bench.py table              # the figures of every run above

Nothing is copied into the repository: the folder holds symbolic links to ../shared/media (and
one truncated copy, the damaged file) under out/batch_bench/, which git ignores. Every run
writes its figures to out/batch_bench/<run>.json.

The folder: one subfolder per candidate, one short recording each (2-10 s, 1080p to 260p),
some with an ID photo or a photo; four pairs show the same person under two names, by
construction (``EXPECTED_PAIRS``):

* the same photo (re-published copy) and the same face: "Barack O" / "Barry Oh";
* the same person in two different photos: "Joe B" / "Joseph Bee";
* the same face in interviews only (no photo): "Kim Presenter" / "Kimberly Lee" (a real
  recording and its lip-synced fake) and "Mead A" / "Mead B" (two takes of one speaker). These
  are found only by the interview face, registered when a candidate finishes, so they exercise
  the second scoring round that makes the flag symmetric.

Any other cross-candidate match the batch reports is listed as unexpected (the sources may show
one person twice without saying so; each is named for a reader to check).

"sum of single analyses": each candidate analysed alone with
:func:`detectors.pipeline.analyze_candidate` in one process, one after another (models loaded
once, no library): the fastest way to go through the folder without the batch, so the
comparison does not flatter the batch.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MEDIA = ROOT.parent / "shared" / "media"
OUT = ROOT / "out" / "batch_bench"
FOLDER = OUT / "folder"

# candidate -> [(file in ../shared/media, name in the candidate's folder)]
CANDIDATES: dict[str, list[tuple[str, str]]] = {
    "Barack O": [("video/dfl/Obama.mp4", "interview.mp4"), ("images/obama_1.jpg", "id_card.jpg")],
    "Barry Oh": [("video/ghost/obama_short.mp4", "call.mp4"), ("images/obama_1_480p.jpg", "passport.jpg")],
    "Joe B": [("video/dfl/Tim_Chrys_3_real.mp4", "interview.mp4"), ("images/biden_1.jpg", "id.jpg")],
    "Joseph Bee": [("video/dfl/Kim_Jarrey_1_real.mp4", "interview.mp4"), ("images/biden_2.jpg", "photo.jpg")],
    "Kim Presenter": [("video/real_presenter.mp4", "interview.mp4")],
    "Kimberly Lee": [("video/fake_lipsync_presenter.mp4", "interview.mp4")],
    "Mead A": [("video/hyperlips/M003-002_f43897c.mp4", "interview.mp4")],
    "Mead B": [("video/hyperlips/M003-028_8e248ee.mp4", "interview.mp4")],
    "Lin M": [("video/real_stage_speech.mp4", "interview.mp4"), ("images/miranda_1.png", "id.png")],
    "Tys Vasa": [("video/generated/short_case_tys.mp4", "interview.mp4"), ("stills/portraits/short_case_tys.jpg", "id.jpg")],
    "Case Ten": [("video/generated/short_case_10.mp4", "interview.mp4")],
    "Aoc Vasa": [("video/generated/short_case_AOC.mp4", "interview.mp4"), ("stills/portraits/short_case_AOC.jpg", "id.jpg")],
    "Dana Zero": [("video/liveportrait/d0.mp4", "interview.mp4")],
    "Dana Five": [("video/liveportrait/d5.mp4", "interview.mp4")],
    "Talk Two": [("video/real_talking_02.mp4", "interview.mp4")],
    "Bryan G": [("video/dfl/Bryan_Greynolds_1_swap.mp4", "interview.mp4")],
    "Keanu R": [("video/dfl/Keanu_Reeves_1_swap.mp4", "interview.mp4")],
    "Dana Seven": [("video/liveportrait/d7.mp4", "interview.mp4")],
    "Rob Doe": [("video/dfl/Rob_Doe_0_real.mp4", "interview.mp4")],
    "Talk One": [("video/real_talking_01.mp4", "interview.mp4")],
    "Silwan S": [("video/dfl/Silwan_Stillwone_2_swap.mp4", "interview.mp4")],
    "Dana Twenty": [("video/liveportrait/d20.mp4", "interview.mp4")],
    "Nicola B": [("video/dfl/Nicola_Badge_2_real.mp4", "interview.mp4")],
    "Yohanna C": [("video/dfl/Yohanna_Coralson_0_swap.mp4", "interview.mp4")],
    "Dana Eighteen": [("video/liveportrait/d18.mp4", "interview.mp4")],
    "Albica J": [("video/dfl/Albica_Johns_0_real.mp4", "interview.mp4")],
    "Dana Twelve": [("video/liveportrait/d12.mp4", "interview.mp4")],
    "Meggie M": [("video/dfl/Meggie_Merkel_0_swap.mp4", "interview.mp4"), ("stills/generated/seed0000.png", "id.png")],
    "Natalie F": [("video/dfl/Natalie_Fatman_0_real.mp4", "interview.mp4"), ("stills/press/Margot_Robbie.png", "photo.png")],
    "Elon Ghost": [("video/ghost/elon.webm", "interview.webm"), ("stills/press/elon_musk.jpg", "id.jpg")],
    "Mark Ghost": [("video/ghost/mark.webm", "interview.webm"), ("stills/press/mark.jpg", "id.jpg")],
    "Portrait Anim": [("video/fake_animated_portrait.mp4", "interview.mp4")],
}
DAMAGED = ("Damaged Dan", "video/real_talking_01.mp4", "interview.mp4", 20_000, ("stills/generated/seed0002.png", "id.png"))
"""A candidate whose recording is a truncated copy (its first 20 kB): reported as a file error."""

EXPECTED_PAIRS = [("Barack O", "Barry Oh"), ("Joe B", "Joseph Bee"), ("Kim Presenter", "Kimberly Lee"), ("Mead A", "Mead B")]

KILL_AFTER_DONE = 8
"""Candidates finished before the kill -9 (worker or whole batch)."""


def _id_check_usable() -> str | None:
    """None when the idphoto check can run here, else why not (its model not in assets/models)."""
    sys.path.insert(0, str(ROOT))
    try:
        from detectors.idphoto import load_model

        load_model()
    except ImportError:
        return None  # an idphoto without a learned model
    except Exception as exc:  # noqa: BLE001
        return str(exc)
    return None


def build(ids: bool = True) -> dict[str, Any]:
    """The folder. ``ids=False`` (or an idphoto check that cannot load its model) names the ID
    photos photo_*.jpg, so they are analysed as plain photos."""
    import shutil

    if not MEDIA.is_dir():
        raise SystemExit(f"{MEDIA} not found: the bench needs ../shared/media")
    why_not = _id_check_usable() if ids else "--no-id"
    shutil.rmtree(FOLDER, ignore_errors=True)

    def dst_name(dst: str) -> str:
        return dst if why_not is None or not dst.startswith(("id", "passport")) else "photo_" + dst

    for name, files in CANDIDATES.items():
        (FOLDER / name).mkdir(parents=True)
        for src, dst in files:
            os.symlink(MEDIA / src, FOLDER / name / dst_name(dst))
    name, src, dst, size, (photo, photo_dst) = DAMAGED
    (FOLDER / name).mkdir(parents=True)
    (FOLDER / name / dst).write_bytes((MEDIA / src).read_bytes()[:size])
    os.symlink(MEDIA / photo, FOLDER / name / dst_name(photo_dst))
    info = {"candidates": len(CANDIDATES) + 1, "folder": str(FOLDER), "expected_pairs": EXPECTED_PAIRS,
            "video_seconds": round(_video_seconds(), 1), "id_photos_as_plain_photos_because": why_not}
    _save("build", info)
    return info


def _video_seconds() -> float:
    import av

    total = 0.0
    for files in CANDIDATES.values():
        for src, _dst in files:
            if src.startswith("video/"):
                with av.open(str(MEDIA / src)) as c:
                    total += float(c.duration or 0) / 1e6
    return total


def _save(run: str, data: dict[str, Any]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    data = {"run": run, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "load_avg_1_5_15": os.getloadavg(), **data}
    (OUT / f"{run}.json").write_text(json.dumps(data, indent=2))
    print(json.dumps(data, indent=2)[:4000])


def serial() -> dict[str, Any]:
    """Each candidate alone, one after another, in this process (models loaded once)."""
    sys.path.insert(0, str(ROOT))
    from detectors.batch.folder import scan_folder
    from detectors.pipeline import analyze_candidate

    per: dict[str, float] = {}
    failed: dict[str, str] = {}
    t_all = time.perf_counter()
    for cand in scan_folder(FOLDER):
        t = time.perf_counter()
        try:
            analyze_candidate([f.path for f in cand.recordings], [f.path for f in cand.of_role("id")], cand.name,
                              photos=[f.path for f in cand.of_role("photo")])
        except Exception as exc:  # noqa: BLE001 - counted, as the batch counts it
            failed[cand.name] = f"{type(exc).__name__}: {exc}"
        per[cand.name] = round(time.perf_counter() - t, 2)
        print(f"{cand.name}: {per[cand.name]} s", flush=True)
    from detectors.faces import stop_embedding_worker

    stop_embedding_worker()  # its CPU time joins RUSAGE_CHILDREN once it has exited
    info = {"sum_single_s": round(sum(per.values()), 1), "wall_s": round(time.perf_counter() - t_all, 1),
            "cpu_s": round(_cpu_s(), 1), "per_candidate_s": per, "failed": failed}
    _save("serial", info)
    return info


def _cpu_s() -> float:
    """CPU seconds (user + system) of this process and of every child it has waited for
    (a batch subprocess includes its Dask workers and their embedding processes)."""
    import resource

    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        r = resource.getrusage(who)
        total += r.ru_utime + r.ru_stime
    return total


class RssSampler:
    """Peak resident memory of the batch's processes, sampled every ``every`` s: each Dask
    worker with its children (the dlib embedding process) counted together."""

    def __init__(self, pid: int, every: float = 0.5) -> None:
        self.pid = pid
        self.every = every
        self.peaks: dict[int, float] = {}  # worker pid -> MB (worker + children)
        self.client_peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            try:
                top = psutil.Process(self.pid)
                self.client_peak = max(self.client_peak, top.memory_info().rss / 2**20)
                for child in top.children(recursive=False):
                    try:
                        cmd = " ".join(child.cmdline())
                        if "spawn_main" not in cmd:  # a Dask worker (not the resource tracker)
                            continue
                        rss = child.memory_info().rss + sum(c.memory_info().rss for c in child.children(recursive=True))
                        self.peaks[child.pid] = max(self.peaks.get(child.pid, 0.0), rss / 2**20)
                    except psutil.Error:
                        continue
            except psutil.Error:
                return
            self._stop.wait(self.every)

    def stop(self) -> dict[str, Any]:
        self._stop.set()
        self._thread.join(5)
        return {"worker_peak_mb": {str(k): round(v, 1) for k, v in self.peaks.items()}, "client_peak_mb": round(self.client_peak, 1)}


def _batch_cmd(library: Path, out: Path, workers: int) -> list[str]:
    return [sys.executable, "-m", "detectors.cli", "batch", str(FOLDER), "--library", str(library), "--out", str(out),
            "--workers", str(workers)]


def _fresh(run: str) -> tuple[Path, Path]:
    import shutil

    base = OUT / run
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    return base / "library.sqlite", base / "reports"


def _run_batch(cmd: list[str], on_line: Any = None) -> tuple[int, list[str], dict[str, Any], float]:
    t = time.perf_counter()
    cpu0 = _cpu_s()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    sampler = RssSampler(proc.pid)
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith(("W0000", "I0000")) or "absl::InitializeLog" in line:
            continue
        lines.append(line.rstrip())
        print(line.rstrip(), flush=True)
        if on_line is not None:
            on_line(proc, line, sampler)
    rc = proc.wait()
    rss = sampler.stop()
    rss["cpu_s"] = round(_cpu_s() - cpu0, 1)
    return rc, lines, rss, time.perf_counter() - t


def _summary(out: Path) -> dict[str, Any]:
    return json.loads((out / "summary.json").read_text())


def batch(workers: int) -> dict[str, Any]:
    library, out = _fresh(f"batch_w{workers}")
    rc, lines, rss, wall = _run_batch(_batch_cmd(library, out, workers))
    s = _summary(out)
    found = sorted({tuple(sorted((m["candidate"], m["other"]))) for m in s["reuse"]})
    expected = sorted(tuple(sorted(p)) for p in EXPECTED_PAIRS)
    info = {
        "workers": workers, "exit_code": rc, "wall_s": round(wall, 1), "batch_wall_s": s["wall_s"], "cpu_s": rss["cpu_s"],
        "analysed": s["analysed"], "failed": s["failed"], "rss_sampled": rss,
        "worker_peak_rss_mb_self": s["worker_peak_rss_mb"], "model_load_s": s["model_load_s"],
        "rescored_for_symmetric_reuse": s["rescored_for_symmetric_reuse"],
        "pairs_found": found, "pairs_expected_found": [p for p in expected if p in found],
        "pairs_expected_missed": [p for p in expected if p not in found],
        "pairs_unexpected": [p for p in found if p not in expected],
        "reuse": s["reuse"],
        "rows": [{k: c[k] for k in ("candidate", "status", "score", "verdict", "errors", "reuse_with", "seconds", "worker")} for c in s["candidates"]],
    }
    _save(f"batch_w{workers}", info)
    return info


def _stored(library: Path) -> dict[str, int]:
    sys.path.insert(0, str(ROOT))
    from detectors.store.sqlite import Library

    with Library(library, apply_retention=False) as lib:
        return {c.name: len(lib.reports(c.name)) for c in lib.candidates()}


def kill_worker(workers: int = 2) -> dict[str, Any]:
    """kill -9 one Dask worker process after KILL_AFTER_DONE candidates; the batch goes on."""
    import psutil

    library, out = _fresh("kill_worker")
    state: dict[str, Any] = {"done": 0, "killed": None}

    def on_line(proc: Any, line: str, sampler: Any) -> None:
        if line.startswith("telltale batch: ") and (" authentic" in line or " review" in line or " likely-fake" in line or " failed:" in line):
            state["done"] += 1
        if state["done"] >= KILL_AFTER_DONE and state["killed"] is None:
            kids = [c for c in psutil.Process(proc.pid).children() if "spawn_main" in " ".join(c.cmdline())]
            if kids:
                victim = max(kids, key=lambda c: c.cpu_percent(0.2))  # the busy one: it is running a task
                os.kill(victim.pid, signal.SIGKILL)
                state["killed"] = victim.pid
                print(f"### kill -9 worker pid {victim.pid} after {state['done']} candidates", flush=True)

    rc, lines, rss, wall = _run_batch(_batch_cmd(library, out, workers), on_line)
    s = _summary(out)
    stored = _stored(library)
    info = {"exit_code": rc, "wall_s": round(wall, 1), "killed_worker_pid": state["killed"], "killed_after_done": KILL_AFTER_DONE,
            "analysed": s["analysed"], "failed": s["failed"],
            "failed_rows": [(c["candidate"], c["errors"]) for c in s["candidates"] if c["status"] == "failed"],
            "candidates_with_a_stored_report": sum(1 for n in stored.values() if n >= 1), "rss_sampled": rss}
    _save("kill_worker", info)
    return info


def kill_batch(workers: int = 2) -> dict[str, Any]:
    """kill -9 the whole batch after KILL_AFTER_DONE candidates; a re-run completes only the rest."""
    import psutil

    library, out = _fresh("kill_batch")
    state: dict[str, Any] = {"done": 0, "killed": False, "workers": []}

    def on_line(proc: Any, line: str, sampler: Any) -> None:
        if line.startswith("telltale batch: ") and (" authentic" in line or " review" in line or " likely-fake" in line or " failed:" in line):
            state["done"] += 1
        if state["done"] >= KILL_AFTER_DONE and not state["killed"]:
            state["workers"] = [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
            os.kill(proc.pid, signal.SIGKILL)
            state["killed"] = True
            print(f"### kill -9 batch pid {proc.pid} after {state['done']} candidates", flush=True)

    rc, _lines, _rss, wall1 = _run_batch(_batch_cmd(library, out, workers), on_line)
    stored_after_kill = _stored(library)
    time.sleep(2)
    orphans_2s = [p for p in state["workers"] if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
    deadline = time.time() + 60
    while time.time() < deadline and any(psutil.pid_exists(p) for p in orphans_2s):
        time.sleep(1)
    orphans_60s = [p for p in orphans_2s if psutil.pid_exists(p)]
    for p in orphans_60s:  # leave nothing behind on the shared machine
        os.kill(p, signal.SIGKILL)
    rc2, _lines2, rss2, wall2 = _run_batch(_batch_cmd(library, out, workers))
    s = _summary(out)
    stored = _stored(library)
    statuses: dict[str, int] = {}
    for c in s["candidates"]:
        statuses[c["status"]] = statuses.get(c["status"], 0) + 1
    info = {
        "first_exit_code": rc, "first_wall_s": round(wall1, 1), "done_lines_before_kill": state["done"],
        "reports_stored_at_kill": sum(1 for n in stored_after_kill.values() if n >= 1),
        "worker_processes_alive_2s_after_kill": len(orphans_2s), "alive_60s_after_kill": len(orphans_60s),
        "rerun_exit_code": rc2, "rerun_wall_s": round(wall2, 1), "rerun_statuses": statuses,
        "reports_per_candidate_after_rerun": sorted(set(stored.values())),
        "candidates_with_a_report": sum(1 for n in stored.values() if n >= 1), "candidates": len(s["candidates"]),
    }
    _save("kill_batch", info)
    return info


def table() -> None:
    rows = {}
    for run in ("build", "serial", "batch_w1", "batch_w2", "kill_worker", "kill_batch"):
        p = OUT / f"{run}.json"
        if p.is_file():
            rows[run] = json.loads(p.read_text())
    if "serial" in rows:
        print(f"sum of single analyses: {rows['serial']['sum_single_s']} s, CPU {rows['serial'].get('cpu_s')} s "
              f"(load {rows['serial']['load_avg_1_5_15']})")
    for w in (1, 2):
        r = rows.get(f"batch_w{w}")
        if r:
            print(f"batch, {w} worker(s): {r['wall_s']} s wall, CPU {r.get('cpu_s')} s, analysed {r['analysed']}, failed {r['failed']}, "
                  f"peak MB per worker (+children) {r['rss_sampled']['worker_peak_mb']}, load {r['load_avg_1_5_15']}")
            print(f"  pairs found {r['pairs_found']}; expected missed {r['pairs_expected_missed']}; unexpected {r['pairs_unexpected']}")
    for run in ("kill_worker", "kill_batch"):
        if run in rows:
            print(run, json.dumps({k: v for k, v in rows[run].items() if k not in ("rss_sampled",)}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["build", "serial", "batch", "kill-worker", "kill-batch", "table"])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-id", action="store_true", help="build: name the ID photos as plain photos")
    a = parser.parse_args()
    if a.what == "build":
        build(ids=not a.no_id)
    elif a.what == "serial":
        serial()
    elif a.what == "batch":
        batch(a.workers)
    elif a.what == "kill-worker":
        kill_worker(a.workers)
    elif a.what == "kill-batch":
        kill_batch(a.workers)
    else:
        table()
    return 0


if __name__ == "__main__":
    sys.exit(main())
