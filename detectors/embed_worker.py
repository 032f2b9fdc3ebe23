"""Face embeddings in a child process, so dlib runs beside Face Mesh on the second core.

dlib holds the GIL while it computes a descriptor (two threads take as long as one), so a
thread would not overlap with the pass. A ``multiprocessing`` pool would re-import the
caller's ``__main__`` in the child (a user's script without a ``__main__`` guard would run
twice), so the child is a plain ``python -m detectors.embed_worker`` speaking a tiny binary
protocol over its stdin/stdout:

    request:  6 x uint32 (height, width, left, top, right, bottom) + height*width*3 RGB bytes
    response: 1 byte (1 = embedding follows, 0 = none) [+ 128 x float32]

Requests are answered in order, so the parent resolves its futures first-in first-out.
"""

from __future__ import annotations

import collections
import logging
import os
import struct
import subprocess
import sys
import threading
from concurrent.futures import Future
from typing import BinaryIO

import numpy as np

log = logging.getLogger(__name__)

HEADER = struct.Struct("<6I")
EMBEDDING_BYTES = 128 * 4


def _read_exact(stream: BinaryIO, n: int) -> bytes:
    chunks = []
    while n:
        chunk = stream.read(n)
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def serve(inp: BinaryIO, out: BinaryIO) -> None:
    """The child's loop: read a crop, answer with its embedding, until stdin closes."""
    from .faces import embed_face

    while True:
        try:
            h, w, left, top, right, bottom = HEADER.unpack(_read_exact(inp, HEADER.size))
            rgb = np.frombuffer(_read_exact(inp, h * w * 3), np.uint8).reshape(h, w, 3)
        except EOFError:
            return
        emb = embed_face(rgb, (left, top, right, bottom))
        out.write(b"\x01" + emb.astype(np.float32).tobytes() if emb is not None else b"\x00")
        out.flush()


class EmbeddingWorker:
    """The parent's handle: :meth:`submit` returns a Future of the embedding (or None)."""

    def __init__(self) -> None:
        env = dict(os.environ, GLOG_minloglevel="2", TF_CPP_MIN_LOG_LEVEL="2")
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "detectors.embed_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        self._pending: collections.deque[Future] = collections.deque()
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, name="telltale-embed-reader", daemon=True)
        self._reader.start()

    @property
    def alive(self) -> bool:
        return self._proc.poll() is None

    def submit(self, rgb: np.ndarray, box: tuple[float, float, float, float]) -> Future:
        future: Future = Future()
        h, w = rgb.shape[:2]
        left, top, right, bottom = (int(max(0, v)) for v in box)
        payload = HEADER.pack(h, w, left, top, right, bottom) + np.ascontiguousarray(rgb, dtype=np.uint8).tobytes()
        with self._lock:
            if not self.alive:
                raise RuntimeError("embedding worker has exited")
            self._pending.append(future)
            try:
                assert self._proc.stdin is not None
                self._proc.stdin.write(payload)
                self._proc.stdin.flush()
            except (BrokenPipeError, OSError) as exc:
                self._pending.remove(future)
                raise RuntimeError(f"embedding worker is gone ({exc})") from exc
        return future

    def _read(self) -> None:
        out = self._proc.stdout
        assert out is not None
        try:
            while True:
                flag = out.read(1)
                if not flag:
                    break
                emb = np.frombuffer(_read_exact(out, EMBEDDING_BYTES), np.float32).copy() if flag == b"\x01" else None
                with self._lock:
                    future = self._pending.popleft()
                if not future.cancelled():
                    future.set_result(emb)
        except (EOFError, OSError, IndexError):
            pass
        with self._lock:
            while self._pending:
                future = self._pending.popleft()
                if not future.cancelled():
                    future.set_exception(RuntimeError("embedding worker exited"))

    def close(self) -> None:
        with self._lock:
            try:
                if self._proc.stdin is not None:
                    self._proc.stdin.close()
            except OSError:
                pass
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._reader.join(timeout=2)


if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)
