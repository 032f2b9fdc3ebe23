"""A tiny NumPy interpreter for the float TFLite models mediapipe's wheel carries (face_landmark,
iris_landmark, face_detection): CONV_2D, DEPTHWISE_CONV_2D, PRELU, RELU, ADD, MAX_POOL_2D, PAD,
RESHAPE, DEQUANTIZE (float16 weights), CONCATENATION. It returns every tensor, so a probe can read
a network's intermediate features (no TensorFlow; the flatbuffer schema ships in mediapipe).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _pad_same(n: int, k: int, s: int, d: int = 1) -> tuple[int, int]:
    ke = (k - 1) * d + 1
    out = -(-n // s)
    tot = max(0, (out - 1) * s + ke - n)
    return tot // 2, tot - tot // 2


def _act(x: np.ndarray, a: int) -> np.ndarray:
    if a == 1:
        return np.maximum(x, 0)
    if a == 3:
        return np.clip(x, 0, 6)
    if a == 2:
        return np.clip(x, -1, 1)
    if a == 4:
        return np.tanh(x)
    return x


def _windows(x: np.ndarray, kh: int, kw: int, sh: int, sw: int, padding: int, fill: float = 0.0, dh: int = 1, dw: int = 1) -> np.ndarray:
    """x (H, W, C) -> (OH, OW, kh, kw, C) windows."""
    h, w, _ = x.shape
    if padding == 0:
        (pt, pb), (pl, pr) = _pad_same(h, kh, sh, dh), _pad_same(w, kw, sw, dw)
        x = np.pad(x, ((pt, pb), (pl, pr), (0, 0)), constant_values=fill)
    v = np.lib.stride_tricks.sliding_window_view(x, ((kh - 1) * dh + 1, (kw - 1) * dw + 1), axis=(0, 1))  # (OH', OW', C, KH, KW)
    v = v[::sh, ::sw, :, ::dh, ::dw]
    return v.transpose(0, 1, 3, 4, 2)


class Model:
    def __init__(self, path: str | Path) -> None:
        from mediapipe.tasks.metadata import schema_py_generated as S

        buf = Path(path).read_bytes()
        m = S.ModelT.InitFromObj(S.Model.GetRootAsModel(buf, 0))
        names = {v: k for k, v in S.BuiltinOperator.__dict__.items() if not k.startswith("_")}
        g = m.subgraphs[0]
        self.ops = [(names[max(m.operatorCodes[o.opcodeIndex].builtinCode, m.operatorCodes[o.opcodeIndex].deprecatedBuiltinCode)], o)
                    for o in g.operators]
        self.names = [t.name.decode() if isinstance(t.name, bytes) else t.name for t in g.tensors]
        self.consts: dict[int, np.ndarray] = {}
        dt = {0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 4: np.int64, 9: np.int8}
        for i, t in enumerate(g.tensors):
            b = m.buffers[t.buffer]
            if b.data is not None and len(b.data):
                self.consts[i] = np.frombuffer(np.asarray(b.data, np.uint8).tobytes(), dt[t.type]).reshape(t.shape)
        self.inputs, self.outputs = list(g.inputs), list(g.outputs)
        # fold DEQUANTIZE of constants once
        rest = []
        for name, o in self.ops:
            if name == "DEQUANTIZE" and o.inputs[0] in self.consts:
                self.consts[o.outputs[0]] = self.consts[o.inputs[0]].astype(np.float32)
            else:
                rest.append((name, o))
        self.ops = rest
        for k, v in self.consts.items():
            if v.dtype == np.float16:
                self.consts[k] = v.astype(np.float32)

    def index(self, name: str) -> int:
        return self.names.index(name)

    def run(self, x: np.ndarray) -> dict[int, np.ndarray]:
        """x: (1, H, W, C) float32 -> every tensor computed (batch 1; arrays keep the batch axis)."""
        t: dict[int, np.ndarray] = dict(self.consts)
        t[self.inputs[0]] = np.asarray(x, np.float32)
        for name, o in self.ops:
            i, opt = o.inputs, o.builtinOptions
            a = t[i[0]]
            if name == "CONV_2D":
                w, b = t[i[1]], (t[i[2]] if len(i) > 2 and i[2] >= 0 else None)
                _, kh, kw, _ = w.shape
                win = _windows(a[0], kh, kw, opt.strideH, opt.strideW, opt.padding, 0.0, opt.dilationHFactor, opt.dilationWFactor)
                y = np.tensordot(win, w, axes=([2, 3, 4], [1, 2, 3]))
                if b is not None:
                    y = y + b
                y = _act(y, opt.fusedActivationFunction)[None]
            elif name == "DEPTHWISE_CONV_2D":
                w, b = t[i[1]], (t[i[2]] if len(i) > 2 and i[2] >= 0 else None)
                _, kh, kw, c = w.shape
                win = _windows(a[0], kh, kw, opt.strideH, opt.strideW, opt.padding, 0.0, opt.dilationHFactor, opt.dilationWFactor)
                if opt.depthMultiplier not in (0, 1) and c != a.shape[-1]:
                    win = np.repeat(win, c // a.shape[-1], axis=-1)
                y = np.einsum("hwijc,ijc->hwc", win, w[0])
                if b is not None:
                    y = y + b
                y = _act(y, opt.fusedActivationFunction)[None]
            elif name == "PRELU":
                al = t[i[1]]
                y = np.where(a >= 0, a, a * al)
            elif name == "RELU":
                y = np.maximum(a, 0)
            elif name == "ADD":
                y = _act(a + t[i[1]], opt.fusedActivationFunction if opt is not None else 0)
            elif name == "MAX_POOL_2D":
                win = _windows(a[0], opt.filterHeight, opt.filterWidth, opt.strideH, opt.strideW, opt.padding, -np.inf)
                y = _act(win.max(axis=(2, 3)), opt.fusedActivationFunction)[None]
            elif name == "PAD":
                y = np.pad(a, t[i[1]].astype(int))
            elif name == "RESHAPE":
                shape = t[i[1]] if len(i) > 1 and i[1] in t else np.array(opt.newShape)
                y = a.reshape([int(s) for s in shape])
            elif name == "CONCATENATION":
                y = np.concatenate([t[j] for j in i], axis=opt.axis)
                y = _act(y, opt.fusedActivationFunction)
            elif name == "DEQUANTIZE":
                y = a.astype(np.float32)
            else:
                raise NotImplementedError(name)
            t[o.outputs[0]] = y.astype(np.float32)
        return t
