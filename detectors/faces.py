"""The face track: one pass over a recording, shared by every detector.

For each analysed frame: Face Mesh landmarks of the main face (468 points, mediapipe 0.10.21,
model inside the wheel; the track keeps the 117 the checks read, see mesh_points) and its box;
once a second, the boxes of other faces (mediapipe's full-range detector). On a sample of
frames: a dlib 128-d face embedding (face_recognition) of each face. At the end: the main
identity (the robust centre of the main face's embeddings) and whether a second person appears,
either beside the main face or in its place.

Photos go through :func:`faces_in_image` (dlib HOG detector, 68-point landmarks, embedding).
Models load lazily, on first use, never at import.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .media import LoadedImage, VideoFrame
from .mesh_points import N_MESH, TRACK_POINTS, to_track
from .native_logs import QuietFirstCall
from .rows import RowBuffer

log = logging.getLogger(__name__)

# --- settings (documented ranges in detectors.settings) ---------------------------------
MAX_FACES = 1
"""Faces Face Mesh follows per frame: the candidate. Asking it for two makes it run its face
detector on every frame that shows one face (2.1 ms of 4.9 ms per frame at 640x360); other
faces are looked for every OTHER_FACES_EVERY_S instead, and once one has been seen the
tracker switches to a two-face mesh (MAX_FACES_WITH_OTHERS) so that the candidate is kept by
continuity rather than by whichever face Face Mesh re-finds after losing track."""

MAX_FACES_WITH_OTHERS = 2

OTHER_FACES_EVERY_S = 1.0
"""How often (s) a frame is searched for faces besides the one Face Mesh follows (and always
on a frame whose faces are embedded)."""

OTHER_FACE_MAX_OVERLAP = 0.3
"""A detected face with more than this share of its box inside the followed face's box is the
same face (the detector's box is tighter than the mesh's, so overlap, not IoU)."""

MESH_MIN_DETECTION = 0.5
MESH_MIN_TRACKING = 0.5

EMBEDDINGS_PER_RECORDING = 48
"""Target number of sampled embeddings per recording (dlib costs ~0.19 s each)."""

MIN_EMBEDDING_INTERVAL_S = 2.0
"""Never embed more often than this (s), however short the recording."""

EMBED_FACE_PX = 200
"""A face crop is resized so its box is about this wide before embedding."""

SAME_PERSON_DISTANCE = 0.6
"""dlib embedding distance under which two faces are the same person (face_recognition's
default tolerance)."""

SECOND_PERSON_MIN_SAMPLES = 2
"""Embeddings of another person needed before we say a second person appears."""

SECOND_FACE_MIN_FRACTION = 0.05
"""Fraction of the frames searched for other faces (with the candidate in view) that show two,
before a second face counts on its own."""

MIN_FACE_PX = 24
"""Faces narrower than this (analysis px) are ignored: too small to judge."""

N_LANDMARKS = N_MESH
N_TRACK_POINTS = len(TRACK_POINTS)

SMALL_FACE_PX = 110
"""A main face narrower than this (analysis px) is tracked on a source-resolution crop around
it instead: Face Mesh's own detector is short-range and misses small faces, and landmarks on
a 60 px face are too coarse for the lips."""

CROP_PX = 256
"""Side of the square crop (px) Face Mesh sees in crop mode."""

CROP_CONTEXT = 1.8
"""Crop side as a multiple of the face box's larger side."""

DETECTOR_MIN_CONFIDENCE = 0.5
"""mediapipe full-range face detection threshold used to find faces Face Mesh missed."""


@dataclass
class FaceObservation:
    """The main face in one analysed frame."""

    frame_index: int
    t: float
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 in analysis px
    landmarks: np.ndarray  # (468, 3) float32; x, y in analysis px, z in the same scale
    n_faces: int  # faces in the frame, -1 when it was not searched for other faces


@dataclass
class FaceTrack:
    """Per analysed frame arrays (struct of arrays; NaN where no face) plus sampled embeddings."""

    path: str
    source_fps: float
    analysis_fps: float
    frame_size: tuple[int, int]  # analysis (w, h)
    scale: float  # analysis px per source px
    times: np.ndarray  # (N,) s
    frame_indices: np.ndarray  # (N,) int
    n_faces: np.ndarray  # (N,) int, faces found in the frame; -1 on frames not searched for other faces
    boxes: np.ndarray  # (N, 4) float32 main face box, NaN when absent
    landmarks: np.ndarray  # (N, K, 3) float32 main face, mesh_points.TRACK_POINTS only; NaN when absent
    embedding_times: np.ndarray  # (M,)
    embedding_frame_indices: np.ndarray  # (M,)
    embeddings: np.ndarray  # (M, 128) main-face embeddings
    other_embeddings: np.ndarray  # (K, 128) embeddings of non-main faces
    other_embedding_times: np.ndarray  # (K,)
    main_identity: np.ndarray | None  # (128,) or None when no face was embedded
    identity_spread: float  # median distance of the main-face embeddings to main_identity
    second_person: bool
    second_person_times: list[float] = field(default_factory=list)
    second_person_reason: str = ""

    @property
    def present(self) -> np.ndarray:
        return ~np.isnan(self.boxes[:, 0]) if self.boxes.size else np.zeros(0, dtype=bool)

    @property
    def frames_analysed(self) -> int:
        return int(self.times.size)

    @property
    def frames_with_face(self) -> int:
        return int(self.present.sum())

    @property
    def coverage(self) -> float:
        return self.frames_with_face / self.frames_analysed if self.frames_analysed else 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "frames_analysed": self.frames_analysed,
            "faces_found": self.frames_with_face,
            "face_coverage": round(self.coverage, 4),
            "embeddings": int(self.embeddings.shape[0]),
            "second_person": self.second_person,
            "identity_spread": round(self.identity_spread, 4) if np.isfinite(self.identity_spread) else None,
        }


# --------------------------------------------------------------------------- models

_lock = threading.Lock()
_models: dict[str, Any] = {}


def _model(name: str) -> Any:
    """dlib models, each loaded on first use (face_recognition's api module would load all of
    them, ~3 s, at import). The weights ship inside the face_recognition_models wheel."""
    with _lock:
        if name not in _models:
            import warnings

            import dlib

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # pkg_resources deprecation notice
                import face_recognition_models as frm

            if name == "detector":
                _models[name] = dlib.get_frontal_face_detector()
            elif name == "pose5":
                _models[name] = dlib.shape_predictor(frm.pose_predictor_five_point_model_location())
            elif name == "pose68":
                _models[name] = dlib.shape_predictor(frm.pose_predictor_model_location())
            elif name == "encoder":
                _models[name] = dlib.face_recognition_model_v1(frm.face_recognition_model_location())
            else:  # pragma: no cover - programming error
                raise KeyError(name)
        return _models[name]


def _descriptor(rgb: np.ndarray, left: int, top: int, right: int, bottom: int) -> np.ndarray:
    import dlib

    rect = dlib.rectangle(left, top, right, bottom)
    shape = _model("pose5")(rgb, rect)
    return np.array(_model("encoder").compute_face_descriptor(rgb, shape, 1), dtype=np.float32)


_LANDMARK_GROUPS = {  # the 68-point layout, named as face_recognition names it
    "chin": range(0, 17),
    "left_eyebrow": range(17, 22),
    "right_eyebrow": range(22, 27),
    "nose_bridge": range(27, 31),
    "nose_tip": range(31, 36),
    "left_eye": range(36, 42),
    "right_eye": range(42, 48),
    "top_lip": [*range(48, 55), 64, 63, 62, 61, 60],
    "bottom_lip": [*range(54, 60), 48, 60, 67, 66, 65, 64],
}


def _landmarks68(rgb: np.ndarray, left: int, top: int, right: int, bottom: int) -> dict[str, list[tuple[int, int]]]:
    import dlib

    shape = _model("pose68")(rgb, dlib.rectangle(left, top, right, bottom))
    pts = [(p.x, p.y) for p in shape.parts()]
    return {name: [pts[i] for i in idx] for name, idx in _LANDMARK_GROUPS.items()}


EMBED_IN_PROCESS = True
"""Compute embeddings in a worker process (detectors.embed_worker): dlib holds the GIL, so a
thread would not overlap with Face Mesh; a process uses the second core."""

EMBED_TIMEOUT_S = 60.0
"""Longest wait for one embedding from the worker before computing it here instead."""

_worker: Any = None


def embedding_worker() -> Any:
    """The process-wide embedding worker, started on first use (it loads dlib's models itself)."""
    global _worker
    with _lock:
        if _worker is None or not _worker.alive:
            from .embed_worker import EmbeddingWorker

            _worker = EmbeddingWorker()
        return _worker


def stop_embedding_worker() -> None:
    """Stop the worker (it is restarted on the next use)."""
    global _worker
    with _lock:
        worker, _worker = _worker, None
    if worker is not None:
        worker.close()


def new_face_mesh(static: bool = False, max_faces: int = MAX_FACES) -> Any:
    from .privacy import without_matplotlib

    with without_matplotlib():  # mediapipe's drawing_utils imports matplotlib, which writes ~/.cache/matplotlib
        from mediapipe.python.solutions import face_mesh

    return QuietFirstCall(lambda: face_mesh.FaceMesh(
        static_image_mode=static,
        max_num_faces=max_faces,
        refine_landmarks=False,
        min_detection_confidence=MESH_MIN_DETECTION,
        min_tracking_confidence=MESH_MIN_TRACKING,
    ))


def embed_face(rgb: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray | None:
    """dlib 128-d embedding of the face in ``box`` (x0, y0, x1, y1 px of ``rgb``), computed here."""
    x0, y0, x1, y1 = box
    h, w = rgb.shape[:2]
    top, left = max(0, int(y0)), max(0, int(x0))
    bottom, right = min(h, int(y1)), min(w, int(x1))
    if bottom - top < 8 or right - left < 8:
        return None
    return _descriptor(np.ascontiguousarray(rgb), left, top, right, bottom)


def face_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distance between embeddings (face_recognition's measure; 0.6 = same person)."""
    a = np.atleast_2d(a)
    b = np.atleast_2d(b)
    return np.linalg.norm(a[:, None, :] - b[None, :, :], axis=2)


def robust_centre(embeddings: np.ndarray) -> tuple[np.ndarray | None, float]:
    """Centre of the largest same-person cluster: the medoid, refined by the mean of its inliers."""
    if embeddings.shape[0] == 0:
        return None, float("nan")
    d = face_distance(embeddings, embeddings)
    support = (d < SAME_PERSON_DISTANCE).sum(axis=1)
    medoid = int(np.argmax(support - 1e-3 * d.mean(axis=1)))
    inliers = d[medoid] < SAME_PERSON_DISTANCE
    centre = embeddings[inliers].mean(axis=0)
    spread = float(np.median(face_distance(embeddings, centre)[:, 0]))
    return centre.astype(np.float32), spread


# --------------------------------------------------------------------------- tracking


def _mesh_faces(result: Any, w: int, h: int, min_px: float = MIN_FACE_PX) -> list[tuple[tuple[float, float, float, float], np.ndarray]]:
    faces = []
    for lm in result.multi_face_landmarks or []:
        pts = np.array([(p.x * w, p.y * h, p.z * w) for p in lm.landmark], dtype=np.float32)
        x0, y0 = pts[:, 0].min(), pts[:, 1].min()
        x1, y1 = pts[:, 0].max(), pts[:, 1].max()
        if x1 - x0 < min_px:
            continue
        faces.append(((float(x0), float(y0), float(x1), float(y1)), pts))
    return faces


def _area(a: tuple[float, ...]) -> float:
    return (a[2] - a[0]) * (a[3] - a[1])


def _intersection(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    return ix * iy


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Share of box ``a`` that lies inside box ``b``."""
    area = _area(a)
    return _intersection(a, b) / area if area > 0 else 0.0


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    inter = _intersection(a, b)
    union = _area(a) + _area(b) - inter
    return inter / union if union > 0 else 0.0


LANDMARK_BLOCK_FRAMES = 4500
"""Frames of landmarks per storage block (5 minutes at 15 fps, ~6 MB of float32)."""


class _LandmarkStore(RowBuffer):
    """The (N, K, 3) float32 track landmarks of a recording (the K = len(TRACK_POINTS) points the
    checks read after the pass, see :mod:`detectors.mesh_points`), written row by row into large
    blocks (see :mod:`detectors.rows`)."""

    def __init__(self, block_frames: int = LANDMARK_BLOCK_FRAMES) -> None:
        super().__init__((N_TRACK_POINTS, 3), np.float32, block_frames)

    def append(self, pts: np.ndarray | None) -> None:
        """Add one frame's full mesh (None: no face, a row of NaN); its track points are kept."""
        super().append(np.nan if pts is None else to_track(pts))


class FaceTracker:
    """Feed analysed frames in order; :meth:`finish` returns the :class:`FaceTrack`."""

    def __init__(self, path: str, source_fps: float, analysis_fps: float, duration_s: float) -> None:
        self.path = path
        self.source_fps = source_fps
        self.analysis_fps = analysis_fps
        self.mesh = new_face_mesh()
        self._mesh_faces = MAX_FACES
        self._crop_mesh: Any = None  # created on first small face
        self._detector: Any = None
        self._crop_mode = False
        interval = duration_s / EMBEDDINGS_PER_RECORDING if duration_s > 0 else MIN_EMBEDDING_INTERVAL_S
        self.embed_interval = max(MIN_EMBEDDING_INTERVAL_S, interval)
        self._next_embed_t = 0.0
        self._next_search_t = 0.0
        self._prev_box: tuple[float, float, float, float] | None = None
        self._times = RowBuffer((), np.float64)
        self._indices = RowBuffer((), np.int64)
        self._n_faces = RowBuffer((), np.int16)
        self._boxes = RowBuffer((4,), np.float32)
        self._landmarks = _LandmarkStore()
        self._emb: list[np.ndarray] = []
        self._emb_t: list[float] = []
        self._emb_idx: list[int] = []
        self._other: list[np.ndarray] = []
        self._other_t: list[float] = []
        self._pending: list[tuple[Any, np.ndarray, tuple[float, ...], bool, float, int]] = []
        self._frame_size = (0, 0)
        self._scale = 1.0

    def close(self) -> None:
        self.mesh.close()
        if self._crop_mesh is not None:
            self._crop_mesh.close()
        if self._detector is not None:
            self._detector.close()

    def _detect_boxes(self, rgb: np.ndarray) -> list[tuple[float, float, float, float]]:
        """Faces Face Mesh missed (small or far), from mediapipe's full-range detector."""
        if self._detector is None:
            from .privacy import without_matplotlib

            with without_matplotlib():
                from mediapipe.python.solutions import face_detection

            self._detector = QuietFirstCall(lambda: face_detection.FaceDetection(model_selection=1, min_detection_confidence=DETECTOR_MIN_CONFIDENCE))
        h, w = rgb.shape[:2]
        boxes = []
        for d in self._detector.process(rgb).detections or []:
            b = d.location_data.relative_bounding_box
            boxes.append((b.xmin * w, b.ymin * h, (b.xmin + b.width) * w, (b.ymin + b.height) * h))
        return boxes

    def _mesh_on_crop(self, frame: VideoFrame, box: tuple[float, float, float, float]) -> list[tuple[tuple[float, float, float, float], np.ndarray]]:
        """Face Mesh on a square source-resolution crop around ``box``, mapped back to analysis px."""
        import cv2

        if self._crop_mesh is None:
            self._crop_mesh = new_face_mesh(static=False, max_faces=1)
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        half = max(box[2] - box[0], box[3] - box[1]) * CROP_CONTEXT / 2
        crop, (sx0, sy0, sx1, sy1) = frame.crop_full((cx - half, cy - half, cx + half, cy + half))
        if crop.shape[0] < 8 or crop.shape[1] < 8:
            return []
        k = CROP_PX / max(crop.shape[:2])
        small = np.ascontiguousarray(cv2.resize(crop, (max(1, int(crop.shape[1] * k)), max(1, int(crop.shape[0] * k))), interpolation=cv2.INTER_LINEAR))
        faces = []
        s = frame.scale if frame._source is not None else 1.0
        for cbox, pts in _mesh_faces(self._crop_mesh.process(small), small.shape[1], small.shape[0], min_px=0):
            pts = pts.copy()
            pts[:, 0] = (pts[:, 0] / k + sx0) * s
            pts[:, 1] = (pts[:, 1] / k + sy0) * s
            pts[:, 2] = pts[:, 2] / k * s
            faces.append(((float(pts[:, 0].min()), float(pts[:, 1].min()), float(pts[:, 0].max()), float(pts[:, 1].max())), pts))
        return faces

    def _find_faces(self, frame: VideoFrame) -> list[tuple[tuple[float, float, float, float], np.ndarray]]:
        h, w = frame.rgb.shape[:2]
        if self._crop_mode and self._prev_box is not None:
            faces = self._mesh_on_crop(frame, self._prev_box)
            if faces:
                return faces
        faces = _mesh_faces(self.mesh.process(frame.rgb), w, h)
        if faces:
            return faces
        for box in self._detect_boxes(frame.rgb):
            found = self._mesh_on_crop(frame, box)
            if found:
                return found
        return []

    def add(self, frame: VideoFrame) -> FaceObservation | None:
        h, w = frame.rgb.shape[:2]
        self._frame_size = (w, h)
        self._scale = frame.scale
        faces = self._find_faces(frame)
        main = None
        if faces:
            if self._prev_box is not None:
                main = max(faces, key=lambda f: (_iou(f[0], self._prev_box), (f[0][2] - f[0][0])))
            else:
                main = max(faces, key=lambda f: (f[0][2] - f[0][0]) * (f[0][3] - f[0][1]))
        self._times.append(frame.t)
        self._indices.append(frame.index)
        if main is None:
            self._n_faces.append(len(faces))  # frames without the candidate are searched every time
            self._boxes.append(np.nan)
            self._landmarks.append(None)
            return None
        box, pts = main
        self._prev_box = box
        self._crop_mode = (box[2] - box[0]) < SMALL_FACE_PX
        self._boxes.append(box)
        self._landmarks.append(pts)
        embed = frame.t >= self._next_embed_t
        if embed or frame.t >= self._next_search_t:
            self._next_search_t = frame.t + OTHER_FACES_EVERY_S
            others = self._other_faces(frame.rgb, box)
            faces = [main] + others
            n_faces = len(faces)
            if others and self._mesh_faces < MAX_FACES_WITH_OTHERS:
                # someone else is in view: from now on Face Mesh follows both and the candidate
                # is picked by continuity (a one-face mesh that loses track re-finds either)
                self.mesh.close()
                self.mesh = new_face_mesh(max_faces=MAX_FACES_WITH_OTHERS)
                self._mesh_faces = MAX_FACES_WITH_OTHERS
        else:
            n_faces = -1
        self._n_faces.append(n_faces)
        if embed:
            self._next_embed_t = frame.t + self.embed_interval
            self._embed(frame, faces, main)
        return FaceObservation(frame.index, frame.t, box, pts, n_faces)

    def _other_faces(self, rgb: np.ndarray, main_box: tuple[float, float, float, float]) -> list[tuple[tuple[float, float, float, float], None]]:
        """Faces in the frame besides the followed one (full-range detector boxes, no mesh)."""
        return [(b, None) for b in self._detect_boxes(rgb)
                if _overlap(b, main_box) <= OTHER_FACE_MAX_OVERLAP and (b[2] - b[0]) >= MIN_FACE_PX]

    def _embed(self, frame: VideoFrame, faces: list, main: tuple) -> None:
        for box, _pts in faces:
            crop, (sx0, sy0, sx1, sy1) = frame.crop_full(box, margin=0.25)
            if crop.size == 0:
                continue
            # box inside the crop, in source px, then resized so the face is ~EMBED_FACE_PX wide
            s = frame.scale
            fbox = (box[0] / s - sx0, box[1] / s - sy0, box[2] / s - sx0, box[3] / s - sy0)
            k = EMBED_FACE_PX / max(1.0, fbox[2] - fbox[0])
            if abs(k - 1.0) > 0.15:
                import cv2

                crop = cv2.resize(crop, None, fx=k, fy=k, interpolation=cv2.INTER_AREA if k < 1 else cv2.INTER_CUBIC)
                fbox = tuple(v * k for v in fbox)
            future = None
            if EMBED_IN_PROCESS:
                try:
                    future = embedding_worker().submit(crop, fbox)
                except Exception as exc:  # noqa: BLE001 - a broken worker must not stop the analysis
                    log.warning("embedding worker unavailable (%s); computing embeddings inline", exc)
            self._pending.append((future, crop, fbox, box is main[0], frame.t, frame.index))

    def _collect(self) -> None:
        """Resolve the embeddings (from the worker, or here when it failed) in frame order."""
        for future, crop, fbox, is_main, t, index in self._pending:
            emb = None
            if future is not None:
                try:
                    emb = future.result(timeout=EMBED_TIMEOUT_S)
                    future = "done"
                except Exception as exc:  # noqa: BLE001 - fall back to computing it here
                    log.warning("embedding worker failed (%s); computing inline", exc)
                    stop_embedding_worker()
                    future = None
            if future is None:
                emb = embed_face(crop, fbox)
            if emb is None:
                continue
            if is_main:
                self._emb.append(emb)
                self._emb_t.append(t)
                self._emb_idx.append(index)
            else:
                self._other.append(emb)
                self._other_t.append(t)
        self._pending.clear()

    def abort(self) -> None:
        """Stop without building the track (cancelled or failed pass)."""
        for future, *_ in self._pending:
            if future is not None:
                future.cancel()
        self._pending.clear()
        self.close()

    def finish(self) -> FaceTrack:
        self.close()
        self._collect()
        emb = np.array(self._emb, dtype=np.float32).reshape(-1, 128)
        other = np.array(self._other, dtype=np.float32).reshape(-1, 128)
        centre, spread = robust_centre(emb)
        n_faces = self._n_faces.take()
        landmarks = self._landmarks.take()
        second, times, reason = False, [], ""
        if centre is not None:
            d_main = face_distance(emb, centre)[:, 0]
            swapped = [t for t, d in zip(self._emb_t, d_main) if d >= SAME_PERSON_DISTANCE]
            d_other = face_distance(other, centre)[:, 0] if other.size else np.zeros(0)
            others = [t for t, d in zip(self._other_t, d_other) if d >= SAME_PERSON_DISTANCE]
            searched = n_faces[n_faces >= 1]  # searched frames with the candidate in view
            two_faces = float((searched >= 2).mean()) if searched.size else 0.0
            if len(swapped) >= SECOND_PERSON_MIN_SAMPLES:
                second, times = True, swapped
                reason = f"a different person's face replaces the main face at {len(swapped)} sampled moments"
            elif len(others) >= SECOND_PERSON_MIN_SAMPLES or (others and two_faces >= SECOND_FACE_MIN_FRACTION):
                second, times = True, others
                reason = f"a second person is visible beside the main face ({two_faces:.0%} of the frames searched show two faces)"
        return FaceTrack(
            path=self.path,
            source_fps=self.source_fps,
            analysis_fps=self.analysis_fps,
            frame_size=self._frame_size,
            scale=self._scale,
            times=self._times.take(),
            frame_indices=self._indices.take(),
            n_faces=n_faces,
            boxes=self._boxes.take(),
            landmarks=landmarks,
            embedding_times=np.array(self._emb_t, dtype=np.float64),
            embedding_frame_indices=np.array(self._emb_idx, dtype=np.int64),
            embeddings=emb,
            other_embeddings=other,
            other_embedding_times=np.array(self._other_t, dtype=np.float64),
            main_identity=centre,
            identity_spread=spread,
            second_person=second,
            second_person_times=[round(t, 3) for t in times],
            second_person_reason=reason,
        )


# --------------------------------------------------------------------------- photos


@dataclass
class ImageFace:
    """A face in a photo: box (x0, y0, x1, y1 px), 68 dlib landmarks, 128-d embedding."""

    box: tuple[int, int, int, int]
    landmarks: dict[str, list[tuple[int, int]]]
    embedding: np.ndarray

    @property
    def width(self) -> int:
        return self.box[2] - self.box[0]


IMAGE_DETECT_MAX_SIDE = 1024
"""Photos are searched for faces at most this size (px); boxes are mapped back."""


FACE_CACHE_SIZE = 64
"""Photos whose detected faces are remembered process-wide, by the file's SHA-256: the library,
the idphoto, identity and reuse checks load the same ID photo separately; dlib runs once."""

_image_faces: dict[str, list["ImageFace"]] = {}


def faces_in_image(image: LoadedImage | np.ndarray) -> list[ImageFace]:
    """Every face in a photo, largest first (dlib HOG; upsampled once more if none is found).

    For a LoadedImage the result is cached on it and, by SHA-256, for the process, so every
    check that asks pays for detection once (:func:`forget_image_faces` drops an entry).
    """
    if not isinstance(image, LoadedImage):
        return _detect_image_faces(image)
    if "faces" not in image.cache:
        with _lock:
            cached = _image_faces.get(image.sha256)
        if cached is None:
            cached = _detect_image_faces(image.rgb)
            with _lock:
                if len(_image_faces) >= FACE_CACHE_SIZE:
                    _image_faces.pop(next(iter(_image_faces)))
                _image_faces[image.sha256] = cached
        image.cache["faces"] = cached
    return list(image.cache["faces"])


def forget_image_faces(sha256: str) -> None:
    """Drop a photo's cached faces (embeddings are biometric data: erasure must reach memory too)."""
    with _lock:
        _image_faces.pop(sha256, None)


def _detect_image_faces(rgb: np.ndarray) -> list[ImageFace]:
    import cv2

    h, w = rgb.shape[:2]
    k = min(1.0, IMAGE_DETECT_MAX_SIDE / max(h, w))
    small = cv2.resize(rgb, (max(1, int(w * k)), max(1, int(h * k))), interpolation=cv2.INTER_AREA) if k < 1 else rgb
    small = np.ascontiguousarray(small)
    detector = _model("detector")
    rects = detector(small, 1) or detector(small, 2)
    if not rects:
        return []
    rgb = np.ascontiguousarray(rgb)
    faces = []
    for r in rects:
        left, top = max(0, int(r.left() / k)), max(0, int(r.top() / k))
        right, bottom = min(w, int(r.right() / k)), min(h, int(r.bottom() / k))
        faces.append(
            ImageFace(
                box=(left, top, right, bottom),
                landmarks=_landmarks68(rgb, left, top, right, bottom),
                embedding=_descriptor(rgb, left, top, right, bottom),
            )
        )
    faces.sort(key=lambda f: -(f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))
    return faces
