"""Inference of the learned models that ship in ``assets/models/`` (ONNX, run by onnxruntime on CPU).

One place loads a model: :func:`session` gives a cached onnxruntime session for a file name
in ``assets/models/``. Training scripts (``training/``) write the shipped model there and, for
grouped cross-validation, one model per fold beside each other in a folder of their own
(``<stem>_fold<k>.onnx``, trained without fold k). ``telltale eval --cv group`` scores a file of
fold k with :func:`fold_models` set to that folder and fold, so every figure it prints is
out-of-fold; outside an evaluation the shipped model is used.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import threading
from pathlib import Path
from typing import Iterator

log = logging.getLogger(__name__)

MODELS_DIR = Path(__file__).resolve().parents[2] / "assets" / "models"

_state = threading.local()
_lock = threading.Lock()
_sessions: dict[Path, object] = {}
_descriptions: dict[Path, dict] = {}


@contextlib.contextmanager
def fold_models(folder: str | Path | None, fold: int | None) -> Iterator[None]:
    """Within this block (in this thread), a model with a fold copy in ``folder`` uses fold ``fold``'s copy.

    Thread-local on purpose (an evaluation may score files of several folds at once), so work that
    a check hands to another thread must enter the same block there: a model loaded in a pool
    thread is the shipped one. A two-thread after-pass (2026-12-03, dropped) did exactly that, and
    its evaluation read the lip-sync mouth probe in-sample (generated-mouth AUC 1.000)."""
    previous = getattr(_state, "fold", None)
    _state.fold = None if folder is None or fold is None else (Path(folder), int(fold))
    try:
        yield
    finally:
        _state.fold = previous


def model_path(name: str) -> Path:
    """The file to load for model ``name`` (e.g. ``"faceswap_net.onnx"``): its fold copy when one is active."""
    active = getattr(_state, "fold", None)
    if active is not None:
        folder, fold = active
        stem, dot, suffix = name.rpartition(".")
        candidate = folder / f"{stem}_fold{fold}.{suffix}" if dot else folder / f"{name}_fold{fold}"
        if candidate.is_file():
            return candidate
    return MODELS_DIR / name


def session(name: str):  # -> onnxruntime.InferenceSession
    """A cached single-threaded onnxruntime session for model ``name`` (see :func:`model_path`).

    Single-threaded on purpose: the analysis already keeps both cores busy (decoder, Face Mesh,
    checks); a second pool of inference threads only contends with them.
    """
    return session_at(model_path(name), name)


def session_at(path: Path, name: str):  # -> onnxruntime.InferenceSession
    """The cached single-threaded session of the ONNX file at ``path`` (a shipped model, or one
    that an installed package carries); ``name`` names it in the error when the file is missing."""
    import onnxruntime as ort

    with _lock:
        sess = _sessions.get(path)
        if sess is None:
            if not path.is_file():
                raise FileNotFoundError(f"model {name} is missing ({path}); reinstall Telltale")
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = 1
            opts.inter_op_num_threads = 1
            opts.log_severity_level = 3
            sess = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
            _sessions[path] = sess
            log.debug("loaded model %s", path)
        return sess


def description(name: str) -> dict:
    """The cached JSON file ``name`` of ``assets/models/`` (or its active fold copy, as
    :func:`model_path`): a model's description or a small model kept as JSON. Callers must not
    modify it."""
    path = model_path(name)
    with _lock:
        data = _descriptions.get(path)
        if data is None:
            if not path.is_file():
                raise FileNotFoundError(f"model description {name} is missing ({path}); reinstall Telltale")
            data = json.loads(path.read_text())
            _descriptions[path] = data
        return data


def centred_risk(value: float, centre: float, width: float) -> float:
    """A model's recording score mapped to a risk 0..1: logistic, 0.5 at its decision centre,
    ``width`` score units from 0.5 to about 0.73."""
    z = (value - centre) / max(width, 1e-6)
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))
