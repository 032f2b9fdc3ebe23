"""Names for the Face Mesh points the checks read, and the subset a face track keeps.

Face Mesh gives 468 points per face. A frame's observation (what checks see while the pass
runs) keeps all of them; the face track kept for the whole recording stores only
:data:`TRACK_POINTS` (outline, brows, eyes, nose, both lip contours: 5.6 KB a frame becomes
~1.4 KB, so a two-hour recording's track stays near 150 MB).

Code that reads points by their Face Mesh number works on either form through
:func:`pick` / :func:`columns`, which look at how many points the array holds.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

N_MESH = 468
"""Points in a full Face Mesh (without iris refinement)."""

FACE_OVAL = (
    176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109, 10, 338, 297, 332,
    284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148,
)
"""Face Mesh outline, in order around the face."""

BROWS = (46, 52, 53, 55, 63, 65, 66, 70, 105, 107, 276, 282, 283, 285, 293, 295, 296, 300, 334, 336)
LOWER_OVAL = (176, 149, 150, 136, 172, 58, 132, 93, 234, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148)
"""Jaw part of the outline: with the brows, the hull a classic swap pastes (dlib-68 style)."""

RIGHT_EYE_EAR = (33, 160, 158, 133, 153, 144)
LEFT_EYE_EAR = (362, 385, 387, 263, 373, 380)
"""Eye points p1..p6 for the eye aspect ratio (corner, two upper, corner, two lower)."""

INNER_RIGID = (33, 133, 362, 263, 1, 4, 5, 6, 168, 195, 197, 98, 327)
"""Eye corners and nose: inner-face points that move with the skull, not with expression."""

NOSE_TIP = 1
RIGHT_EYE_OUTER, LEFT_EYE_OUTER = 33, 263
RIGHT_CHEEK_EDGE, LEFT_CHEEK_EDGE = 234, 454
FOREHEAD_TOP, CHIN = 10, 152

INNER_LIPS = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95)
"""Inner lip contour, in order (upper lip left to right, then lower lip back)."""

OUTER_LIPS = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181, 91, 146)
"""Outer lip contour, in order."""

ROI_FOREHEAD = (109, 10, 338, 108, 151, 337, 69, 299)
ROI_RIGHT_CHEEK = (117, 118, 101, 36, 205, 187, 123, 50)
ROI_LEFT_CHEEK = (346, 347, 330, 266, 425, 411, 352, 280)
PULSE_ROIS = (ROI_FOREHEAD, ROI_RIGHT_CHEEK, ROI_LEFT_CHEEK)
"""Skin patches for the pulse signal (read per frame, not kept in the track)."""

TRACK_POINTS: tuple[int, ...] = tuple(sorted(set(
    FACE_OVAL + BROWS + RIGHT_EYE_EAR + LEFT_EYE_EAR + INNER_RIGID + INNER_LIPS + OUTER_LIPS
    + (NOSE_TIP, RIGHT_EYE_OUTER, LEFT_EYE_OUTER, RIGHT_CHEEK_EDGE, LEFT_CHEEK_EDGE, FOREHEAD_TOP, CHIN)
)))
"""Face Mesh numbers of the points a face track keeps, in this order."""

_COLUMN = {p: i for i, p in enumerate(TRACK_POINTS)}
_TRACK_INDEX = np.array(TRACK_POINTS, dtype=np.intp)


def to_track(mesh: np.ndarray) -> np.ndarray:
    """The :data:`TRACK_POINTS` rows of a full mesh (..., 468, C) -> (..., K, C)."""
    return mesh[..., _TRACK_INDEX, :]


def columns(landmarks: np.ndarray, points: Iterable[int]) -> list[int]:
    """Where the Face Mesh ``points`` sit along axis -2 of ``landmarks``: a full mesh is indexed
    by mesh number, a track subset by position in TRACK_POINTS. KeyError if a point is not kept."""
    points = list(points)
    n = landmarks.shape[-2]
    if n == N_MESH:
        return points
    if n == len(TRACK_POINTS):
        return [_COLUMN[p] for p in points]
    raise ValueError(f"landmarks with {n} points are neither a full mesh ({N_MESH}) nor a track ({len(TRACK_POINTS)})")


def pick(landmarks: np.ndarray, points: Iterable[int]) -> np.ndarray:
    """``landmarks[..., points, :]`` with ``points`` given as Face Mesh numbers (see :func:`columns`)."""
    return landmarks[..., columns(landmarks, points), :]


def point(landmarks: np.ndarray, p: int) -> np.ndarray:
    """One Face Mesh point over frames: ``landmarks[..., p, :]`` by mesh number (a view)."""
    return landmarks[..., columns(landmarks, (p,))[0], :]
