"""Keep mediapipe's start-up chatter off the terminal.

Each mediapipe graph prints, from C++ on its first frame, an "INFO: Created TensorFlow Lite
XNNPACK delegate" line and absl "W0000 ... inference_feedback_manager" warnings. absl logging
has no environment switch (``GLOG_minloglevel`` does not reach it), so each graph is built and
warmed up with file descriptor 2 routed through a pipe: those known lines are dropped and
anything else written meanwhile (by any thread) is passed on unchanged.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterator

NOISE = re.compile(
    rb"^(INFO: Created TensorFlow Lite XNNPACK delegate for CPU\."
    rb"|WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    rb"|W0000 [^\n]*inference_feedback_manager\.cc:\d+\] Feedback manager requires a model with a single signature inference[^\n]*"
    rb"|W0000 [^\n]*landmark_projection_calculator\.cc:\d+\] Using NORM_RECT without IMAGE_DIMENSIONS is only supported for the square ROI[^\n]*)$"
)
"""The start-up lines dropped, whole lines only."""

_lock = threading.RLock()


@contextmanager
def quiet_native_startup() -> Iterator[None]:
    """Route fd 2 through a pipe for the duration; drop NOISE lines, pass the rest on."""
    with _lock:  # one redirection at a time (fd 2 is process-wide)
        _flush_python_stderr()
        try:
            saved = os.dup(2)
        except OSError:  # no usable fd 2 (pythonw, a windowed build): nothing to filter
            yield
            return
        try:
            read_fd, write_fd = os.pipe()
        except OSError:
            os.close(saved)
            yield
            return
        chunks: list[bytes] = []

        def drain() -> None:
            while True:
                data = os.read(read_fd, 65536)
                if not data:
                    return
                chunks.append(data)

        reader = threading.Thread(target=drain, name="telltale-stderr-filter", daemon=True)
        reader.start()
        os.dup2(write_fd, 2)
        os.close(write_fd)
        try:
            yield
        finally:
            _flush_python_stderr()
            os.dup2(saved, 2)  # closes the pipe's last write end: the reader sees EOF
            os.close(saved)
            reader.join(timeout=5.0)
            if not reader.is_alive():  # else a child inherited the write end: leave the fd to the reader
                os.close(read_fd)
            kept = [line for line in b"".join(chunks).splitlines(keepends=True) if not NOISE.match(line.rstrip(b"\r\n"))]
            if kept:
                os.write(2, b"".join(kept))


def _flush_python_stderr() -> None:
    try:
        if sys.stderr is not None:  # None under pythonw or when fd 2 was closed at start-up
            sys.stderr.flush()
    except (OSError, ValueError):  # closed or broken
        pass


class QuietFirstCall:
    """A mediapipe solution built, and warmed up on one blank frame, under
    :func:`quiet_native_startup`. The graph's threads print their start-up lines while they open
    their calculators, which can be after the constructor returns; once a frame has gone through
    (``process`` waits until the graph is idle) they are done. A blank frame holds no face, so
    the first real frame is searched afresh, as in a new graph.

    ``make``: a no-argument callable that builds the solution (e.g. a ``FaceMesh``)."""

    WARMUP_SHAPE = (64, 64, 3)

    def __init__(self, make: Callable[[], Any]) -> None:
        import numpy as np

        with quiet_native_startup():
            self._solution = make()
            self._solution.process(np.zeros(self.WARMUP_SHAPE, np.uint8))
        self._first_real = True

    def process(self, image: Any) -> Any:
        if not self._first_real:
            return self._solution.process(image)
        # the first frame with a face prints a one-time landmark-projection warning
        self._first_real = False
        with quiet_native_startup():
            return self._solution.process(image)

    def close(self) -> None:
        self._solution.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._solution, name)
