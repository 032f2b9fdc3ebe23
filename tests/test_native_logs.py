"""mediapipe's start-up lines are kept off the terminal; nothing else written meanwhile is lost."""

from __future__ import annotations

import os
import threading

import numpy as np

from detectors.faces import new_face_mesh
from detectors.native_logs import quiet_native_startup


def test_known_startup_lines_are_dropped_and_others_pass(capfd) -> None:
    noise = (
        b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n"
        b"W0000 00:00:1795291524.937546   23026 inference_feedback_manager.cc:114] Feedback manager requires "
        b"a model with a single signature inference. Disabling support for feedback tensors.\n"
    )
    with quiet_native_startup():
        os.write(2, noise)
        os.write(2, b"E0000 a real native error\n")
        t = threading.Thread(target=lambda: os.write(2, b"another thread's line\n"))
        t.start()
        t.join()
        os.write(2, noise)
    os.write(2, b"after\n")
    err = capfd.readouterr().err
    assert err == "E0000 a real native error\nanother thread's line\nafter\n"


def test_face_mesh_starts_without_printing(capfd) -> None:
    mesh = new_face_mesh()
    mesh.process(np.zeros((120, 120, 3), np.uint8))
    mesh.close()
    err = capfd.readouterr().err
    assert "XNNPACK" not in err and "inference_feedback_manager" not in err, err


def test_works_without_a_python_stderr(monkeypatch, capfd) -> None:
    """pythonw and windowed builds have sys.stderr = None: the filter must still work."""
    import sys

    monkeypatch.setattr(sys, "stderr", None)
    with quiet_native_startup():
        os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\nkept\n")
    assert capfd.readouterr().err == "kept\n"
