"""Many writers on one case store at once: do they all finish, how long do they wait, is
anything lost or half-stored?

    uv run python bench/store_concurrency.py [--library PATH_OR_URL] [--workers 8]
        [--watchlist-entries 100000] [--rounds 2] [--clip CLIP] [--json OUT]

What runs, all through the real command line (``telltale ...`` processes), at the same time:

* one ``library import-watchlist`` of a generated watchlist with ``--watchlist-entries`` entries
  (random face embeddings: the size and the one long write transaction are what matter);
* ``--workers`` processes, each ``--rounds`` times: ``analyze`` a talking-head clip as a new
  candidate (the report and the candidate's faces are written at the end), then ``library add``
  a photo to that candidate. Workers go on with further rounds while the import is still running,
  so every worker meets the import's write.

Figures: operations completed, how many had to wait for another writer (0.1 s or more, from the
CLI's verbose log; the CLI tells the user itself after a few seconds: ``told_waiting``) and the
longest wait, how long the import's write transaction ran before its commit, failed operations (must be 0), candidates left partial
(media without a report or the reverse; must be 0), the import's time. ``--library`` takes a
path (default: a fresh SQLite file under out/store_concurrency/) or anything else ``telltale
--library`` accepts, e.g. a PostgreSQL URL once that store exists; the check afterwards opens it
with :func:`detectors.cli.open_library`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))  # the talking-head clip maker (tests/fixtures)

OUT = REPO / "out" / "store_concurrency"
ANALYSIS_FPS = 5
"""Analysis rate for the workers' clips (enough for a face identity, light on two cores)."""
WAIT_RE = re.compile(r"waited up to ([0-9.]+) s for another process's write")
"""The CLI's verbose line (-v) with the longest time a command waited for another writer."""
NOTICE_RE = re.compile(r"another Telltale process is writing to the library; waiting")
"""The message a writer prints when it has waited a few seconds."""
HELD_RE = re.compile(r"inserted in ([0-9.]+) s, then committed")
"""The import's verbose line: how long its write transaction ran before the commit."""


@dataclass(frozen=True)
class Op:
    worker: int
    kind: str  # "analyze" | "add" | "import-watchlist"
    candidate: str
    started_s: float
    seconds: float
    returncode: int
    waited_s: float | None  # the longest wait for another writer the CLI reported (None: under 0.1 s)
    told: bool  # the CLI printed its "waiting" message (a wait over a few seconds)
    held_s: float | None  # import-watchlist: its write transaction's inserts (before the commit)
    stderr_tail: str


def make_watchlist(path: Path, entries: int, seed: int = 0) -> Path:
    """A valid watchlist of ``entries`` interview entries (one random face each)."""
    from detectors import watchlist as wl

    if path.exists():
        return path
    rng = np.random.default_rng(seed)
    embs = (rng.standard_normal((entries, wl.EMBEDDING_DIMS)) * 0.09).astype(np.float32)
    items = tuple(wl.WatchEntry("interview", "video", 1 + i // 4, (wl.WatchFace(embs[i], None),)) for i in range(entries))
    wl.Watchlist("bench personas", wl.now_iso(), items, note="store_concurrency bench").write(path)
    return path


def make_media(folder: Path, workers: int, clip: str | None) -> tuple[Path, list[Path]]:
    from PIL import Image

    from fixtures.simple_media import astronaut_face
    from fixtures.talking_head import make_talking_head

    folder.mkdir(parents=True, exist_ok=True)
    if clip is None:
        path = folder / "clip.mkv"
        if not path.exists():
            make_talking_head(path, duration_s=3.0, fps=25, audio_offset_s=0.0, seed=1)
        clip_path = path
    else:
        clip_path = Path(clip)
    photos = []
    face = astronaut_face()
    for i in range(workers):  # one distinct photo per worker (a different crop: a different file)
        p = folder / f"photo_{i}.jpg"
        if not p.exists():
            Image.fromarray(face[i % 7:, (i * 3) % 11:]).save(p, quality=90)
        photos.append(p)
    return clip_path, photos


def run(cmd: list[str], worker: int, kind: str, candidate: str, t0: float) -> Op:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    waits = [float(m) for m in WAIT_RE.findall(proc.stderr)]
    held = [float(m) for m in HELD_RE.findall(proc.stderr)]
    return Op(worker, kind, candidate, round(start - t0, 2), round(time.perf_counter() - start, 2), proc.returncode,
              max(waits) if waits else None, bool(NOTICE_RE.search(proc.stderr)), held[0] if held else None,
              proc.stderr.strip()[-400:] if proc.returncode else "")


def bench(library: str, workers: int, rounds: int, entries: int, clip: str | None, stagger_s: float = 0.0) -> dict[str, Any]:
    telltale = [sys.executable, "-m", "detectors.cli", "-v", "--library", library]
    clip_path, photos = make_media(OUT / "media", workers, clip)
    watch = make_watchlist(OUT / f"watchlist_{entries}.json", entries)
    ops: list[Op] = []
    lock = threading.Lock()
    t0 = time.perf_counter()
    import_done = threading.Event()
    tag = time.strftime("%H%M%S")

    def importer() -> None:
        op = run([*telltale, "library", "import-watchlist", str(watch), "--name", f"bench {tag}"], -1, "import-watchlist", "", t0)
        with lock:
            ops.append(op)
        import_done.set()

    def worker(i: int) -> None:
        time.sleep(i * stagger_s)  # out of step: the workers' writes spread over the import's
        r = 0
        while r < rounds or not import_done.is_set():
            name = f"Bench {tag} worker {i} round {r}"
            for kind, cmd in (
                ("analyze", [*telltale, "analyze", str(clip_path), "--candidate", name, "-q",
                             "--set", f"pipeline.analysis_fps={ANALYSIS_FPS}"]),
                ("add", [*telltale, "library", "add", "--candidate", name, str(photos[i]), "--role", "photo"]),
            ):
                op = run(cmd, i, kind, name, t0)
                with lock:
                    ops.append(op)
            r += 1

    imp = threading.Thread(target=importer)
    imp.start()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(worker, range(workers)))
    imp.join()
    wall = time.perf_counter() - t0
    return {"ops": ops, "wall_s": wall, "check": check(library, ops, f"bench {tag}", entries)}


def check(library: str, ops: list[Op], collection: str, entries: int) -> dict[str, Any]:
    """After the run: every completed operation's result is there, nothing half-stored."""
    from detectors.cli import open_library

    lib = open_library(library)
    try:
        partial, missing = [], []
        analysed = {o.candidate for o in ops if o.kind == "analyze" and o.returncode == 0}
        added = {o.candidate for o in ops if o.kind == "add" and o.returncode == 0}
        for name in sorted(analysed | added):
            row = lib.get_candidate(name)
            if row is None:
                missing.append(name)
                continue
            reports = len(lib.reports(name))
            roles = [m.role for m in lib.media(name)]
            if name in analysed and (reports == 0 or "video" not in roles):
                partial.append(name)  # the analysis's media without its report, or the reverse
            if name in added and "photo" not in roles:
                missing.append(name)
        stored = next((c.media_count for c in lib.collections() if c.name == collection), 0)
    finally:
        lib.close()
    return {"candidates_checked": len(analysed | added), "partial": partial, "missing": missing,
            "watchlist_entries_stored": stored, "watchlist_entries": entries}


def summarise(result: dict[str, Any]) -> dict[str, Any]:
    ops: list[Op] = result["ops"]
    by_kind: dict[str, dict[str, Any]] = {}
    for kind in ("analyze", "add", "import-watchlist"):
        mine = [o for o in ops if o.kind == kind]
        waited = [o for o in mine if o.waited_s is not None]
        by_kind[kind] = {
            "n": len(mine), "completed": sum(o.returncode == 0 for o in mine), "failed": sum(o.returncode != 0 for o in mine),
            "waited": len(waited), "told_waiting": sum(o.told for o in mine),
            "longest_wait_s": max((o.waited_s for o in waited), default=0.0),
            "median_s": float(np.median([o.seconds for o in mine])) if mine else None,
            "max_s": max((o.seconds for o in mine), default=None),
        }
    waited = [o for o in ops if o.waited_s is not None]
    return {
        "operations": len(ops),
        "completed": sum(o.returncode == 0 for o in ops),
        "failed": sum(o.returncode != 0 for o in ops),
        "waited": len(waited),
        "longest_wait_s": max((o.waited_s for o in waited), default=0.0),
        "told_waiting": sum(o.told for o in ops),
        "import_inserts_s": next((o.held_s for o in ops if o.kind == "import-watchlist"), None),
        "partial_candidates": len(result["check"]["partial"]),
        "missing_results": len(result["check"]["missing"]),
        "wall_s": round(result["wall_s"], 1),
        "by_kind": by_kind,
        "check": result["check"],
        "failures": [asdict(o) for o in ops if o.returncode != 0][:10],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--library", help="PATH or URL (default: a fresh SQLite file under out/store_concurrency/)")
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=2, help="analyze+add rounds per worker at least (more while the import runs)")
    ap.add_argument("--watchlist-entries", type=int, default=100_000)
    ap.add_argument("--clip", help="recording the workers analyse (default: a generated 3 s talking head)")
    ap.add_argument("--stagger", type=float, default=20.0, metavar="S",
                    help="worker i starts i*S seconds late, so writes do not all fall together (default 20)")
    ap.add_argument("--json", metavar="OUT", help="write the figures (and every operation) here")
    args = ap.parse_args(argv)
    library = args.library
    if library is None:
        OUT.mkdir(parents=True, exist_ok=True)
        db = OUT / "bench.sqlite"
        for f in OUT.glob("bench.sqlite*"):
            f.unlink()
        library = str(db)
    result = bench(library, args.workers, args.rounds, args.watchlist_entries, args.clip, args.stagger)
    summary = summarise(result)
    print(json.dumps({k: v for k, v in summary.items() if k != "failures"}, indent=2))
    for f in summary["failures"]:
        print(f"FAILED {f['kind']} {f['candidate']!r} rc={f['returncode']}: {f['stderr_tail']}", file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps({**summary, "ops": [asdict(o) for o in result["ops"]]}, indent=2) + "\n")
    return 0 if summary["failed"] == 0 and summary["partial_candidates"] == 0 and summary["missing_results"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
