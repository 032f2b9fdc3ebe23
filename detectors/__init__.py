"""Telltale's engine: checks recorded interviews and ID photos for signs of a fake candidate.

Never imports Qt. The public API is the handful of names below; everything else is detail.
"""

from .base import Cancelled, Detector, Finding, MediaError
from .pipeline import analyze_candidate, analyze_image, analyze_recording, build_report
from .report import MediaEntry, Report

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
