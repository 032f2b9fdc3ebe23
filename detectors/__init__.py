"""Telltale's engine: checks recorded interviews and ID photos for signs of a fake candidate.

Never imports Qt. The public API is the handful of names below; everything else is detail.
"""

import os as _os

# onnxruntime (1.2x+) otherwise starts its telemetry on import: a database under
# ~/.cache/Microsoft, a session file in TMPDIR, a device id, an lscpu run (issue 17: nothing is
# written outside the library and the chosen exports, nothing is sent anywhere)
_os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

from .base import Cancelled, Detector, Finding, MediaError  # noqa: E402
from .pipeline import analyze_candidate, analyze_image, analyze_recording, build_report  # noqa: E402
from .report import MediaEntry, Report  # noqa: E402

__all__ = [
    "Cancelled",
    "Detector",
    "Finding",
    "MediaEntry",
    "MediaError",
    "Report",
    "analyze_candidate",
    "analyze_image",
    "analyze_recording",
    "build_report",
]
