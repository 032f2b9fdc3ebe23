"""Perceptual hashes, face codes and keypoints of a photo, and the fast search over them.

Encode first, search second (the imagededup shape): :func:`encode_image` turns a photo into an
:class:`Encoded` (a family of 64-bit perceptual hashes, crop-resistant segment hashes, each
face's dlib embedding and aligned-face hash, and ORB keypoints for geometric verification);
:class:`HashIndex` keeps every stored code in packed numpy arrays and answers a query with
vectorised Hamming distances and one matrix product for the embeddings.

The hash family (every hash is 64 bits, imagehash):

* ``phash`` / ``dhash``: the whole image (catches rescale, recompression, colour shift).
* ``phash_trim`` / ``dhash_trim``: the same after trimming uniform borders (letterbox, pillarbox,
  screenshot margins), which shift the whole-image hashes far away.
* ``crop``: imagehash.crop_resistant_hash segment hashes of the trimmed image (bright/dark
  segments hashed one by one: a crop keeps some segments intact).
* ``face``: pHash of the face crop aligned by the eye landmarks (survives any crop or border
  that keeps the face).
* mirrored variants: computed for the query only (flip the query, never double the store).

Hash hits decide ``same-image`` when they are strict; looser hits, the same face by embedding
and crop-segment hits only put a stored photo on a shortlist that ORB keypoints with a RANSAC
similarity fit then verify (a crop through the face defeats every global hash but keeps
hundreds of geometrically consistent keypoints; another photo of the same person keeps a
handful).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np

log = logging.getLogger(__name__)

# --- thresholds (Hamming distances are in bits out of 64) --------------------------------
HASH_BITS = 64
WHOLE_HASH_KINDS = ("phash", "dhash", "phash_trim", "dhash_trim")

SAME_IMAGE_PHASH_BITS = 10
"""pHash distance (whole or trimmed) at or under which, together with the dHash below, two
photos are the same image. Generated copies measure 0-8; different photos of one person 22+."""
SAME_IMAGE_DHASH_BITS = 14
"""dHash distance that must accompany the pHash hit (two independent hashes agreeing)."""
SAME_IMAGE_FACE_BITS = 8
"""Aligned-face pHash distance at or under which the face crop is the same picture; the face
embedding must then also say same person. Generated copies measure 0-6; other photos of the
same person 20+, other people 16+."""

SHORTLIST_HASH_BITS = 16
"""Looser whole-image/face hash distance that only puts a stored photo on the shortlist (an
unrelated random hash is this close with probability 4e-5: ~4 per 100,000 entries)."""
CROP_SEGMENT_BITS = 7
"""Crop-resistant segment hashes within this distance count as a segment hit (shortlist)."""
CROP_CHUNKS = 8
"""Segments are indexed by each of their 8 bytes: two hashes within CROP_SEGMENT_BITS (< 8)
share at least one byte exactly (pigeonhole), so only those buckets are compared."""
CROP_MAX_SEGMENTS = 8
"""Largest crop-resistant segments kept per photo."""
SHORTLIST_NEAREST = 3
"""The nearest stored photos by trimmed pHash always join the shortlist, whatever the distance."""
SHORTLIST_MAX = 24
"""At most this many stored photos get keypoint verification per query."""

SAME_PERSON_DISTANCE = 0.6
"""dlib embedding distance under which two faces are the same person (face_recognition's
tolerance; calibrated on shared/media photos: same person <= 0.42, different >= 0.70)."""
SHORTLIST_FACE_DISTANCE = 0.6
"""Faces this close put a stored photo on the keypoint shortlist."""

KEYPOINT_MAX_SIDE = 640
"""Photos are scaled to this longest side (px) before ORB."""
KEYPOINT_FEATURES = 500
KEYPOINT_RATIO = 0.8
"""Lowe's ratio test for ORB matches."""
KEYPOINT_RANSAC_PX = 4.0
"""RANSAC reprojection tolerance (px at KEYPOINT_MAX_SIDE scale)."""
KEYPOINT_MIN_INLIERS = 20
"""Geometrically consistent keypoints needed to call two photos the same image. Generated
copies measure 22-500 (22 for a 0.3x rescale of a 512 px image); different photos (same or
different person) 0-11."""

EMBEDDING_PREFILTER_MIN = 512
"""With at least this many stored faces, embeddings are prefiltered in a PCA projection."""
EMBEDDING_PREFILTER_DIMS = 48
EMBEDDING_PCA_SAMPLE = 4096

ALIGNED_FACE_PX = 128
"""Aligned face crop size: eyes horizontal at ALIGNED_EYE_Y, ALIGNED_EYE_X apart."""
ALIGNED_EYE_Y = 0.40
ALIGNED_EYE_X = (0.32, 0.68)

HASH_MAX_SIDE = 512
"""Photos are downscaled (area averaging) to this longest side before hashing: the hashes
look at 32x32 px or less, and full-size resampling costs ~0.8 s on a 3 Mpx photo."""

BORDER_TOLERANCE = 14
"""A border row/column's pixels are within this (0-255) of its median colour..."""
BORDER_FRACTION = 0.97
"""...for at least this fraction of them."""
MAX_TRIM_FRACTION = 0.45
"""Never trim more than this fraction of a side (a flat photo is not all border)."""

_POP16 = np.array([bin(i).count("1") for i in range(1 << 16)], dtype=np.uint8)


# --------------------------------------------------------------------------- bit helpers


def to_signed(value: int) -> int:
    """uint64 → int64 for SQLite INTEGER columns."""
    return value - (1 << 64) if value >= (1 << 63) else value


def to_unsigned(value: int) -> int:
    return value + (1 << 64) if value < 0 else value


def popcount64(x: np.ndarray) -> np.ndarray:
    """Set bits of each uint64 as uint8 (16-bit lookup table; numpy < 2 has no bitwise_count)."""
    x = np.ascontiguousarray(x, dtype=np.uint64)
    v = x.view(np.uint16).reshape(*x.shape, 4)
    return _POP16[v[..., 0]] + _POP16[v[..., 1]] + _POP16[v[..., 2]] + _POP16[v[..., 3]]


def hamming(a: int, b: int) -> int:
    return int(bin((a ^ b) & 0xFFFFFFFFFFFFFFFF).count("1"))


def _hash_int(h: Any) -> int:
    return int(str(h), 16)


# --------------------------------------------------------------------------- encoding

@dataclass(frozen=True)
class Keypoints:
    points: np.ndarray  # (n, 2) float32, px at KEYPOINT_MAX_SIDE scale
    descriptors: np.ndarray  # (n, 32) uint8 ORB

    def to_blobs(self) -> tuple[bytes, bytes]:
        return self.points.astype(np.float32).tobytes(), self.descriptors.astype(np.uint8).tobytes()

    @classmethod
    def from_blobs(cls, points: bytes, descriptors: bytes) -> "Keypoints":
        p = np.frombuffer(points, dtype=np.float32).reshape(-1, 2)
        d = np.frombuffer(descriptors, dtype=np.uint8).reshape(-1, 32)
        return cls(p, d)


@dataclass(frozen=True)
class FaceCode:
    box: tuple[int, int, int, int]
    embedding: np.ndarray  # (128,) float32
    face_hash: int | None  # pHash of the aligned face crop
    mirror_face_hash: int | None = None


@dataclass(frozen=True)
class Encoded:
    """Everything the search needs about one photo."""

    width: int
    height: int
    hashes: dict[str, int]
    segments: tuple[int, ...]
    faces: tuple[FaceCode, ...]
    keypoints: Keypoints | None = None
    sha256: str | None = None
    mirror_hashes: dict[str, int] = field(default_factory=dict)
    mirror_segments: tuple[int, ...] = ()
    mirror_keypoints: Keypoints | None = None
    trim_box: tuple[int, int, int, int] = (0, 0, 0, 0)


def _row_is_border(line: np.ndarray) -> bool:
    med = np.median(line, axis=0)
    close = (np.abs(line.astype(np.int16) - med.astype(np.int16)).max(axis=1) <= BORDER_TOLERANCE)
    return bool(close.mean() >= BORDER_FRACTION)


def trim_box(rgb: np.ndarray) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of the image inside uniform borders (letterbox, frames, margins).

    Peels near-uniform rows and columns from each side, repeatedly, so a frame made of
    several flat bands (a window's title bar inside a grey margin) goes too.
    """
    h, w = rgb.shape[:2]
    small_k = max(1, int(max(h, w) // 512))
    img = rgb[::small_k, ::small_k]
    sh, sw = img.shape[:2]
    y0, y1, x0, x1 = 0, sh, 0, sw
    max_y, max_x = int(sh * MAX_TRIM_FRACTION), int(sw * MAX_TRIM_FRACTION)
    changed = True
    while changed:
        changed = False
        while y0 < max_y and y1 - y0 > 8 and _row_is_border(img[y0, x0:x1]):
            y0 += 1
            changed = True
        while sh - y1 < max_y and y1 - y0 > 8 and _row_is_border(img[y1 - 1, x0:x1]):
            y1 -= 1
            changed = True
        while x0 < max_x and x1 - x0 > 8 and _row_is_border(img[y0:y1, x0]):
            x0 += 1
            changed = True
        while sw - x1 < max_x and x1 - x0 > 8 and _row_is_border(img[y0:y1, x1 - 1]):
            x1 -= 1
            changed = True
    return (x0 * small_k, y0 * small_k, min(w, x1 * small_k), min(h, y1 * small_k))


def whole_hashes(rgb: np.ndarray, box: tuple[int, int, int, int] | None = None) -> dict[str, int]:
    """pHash and dHash of the whole image and of its trimmed content."""
    import imagehash
    from PIL import Image

    pil = Image.fromarray(rgb)
    x0, y0, x1, y1 = box or trim_box(rgb)
    trimmed = pil.crop((x0, y0, x1, y1)) if (x0, y0, x1, y1) != (0, 0, rgb.shape[1], rgb.shape[0]) else pil
    return {
        "phash": _hash_int(imagehash.phash(pil)),
        "dhash": _hash_int(imagehash.dhash(pil)),
        "phash_trim": _hash_int(imagehash.phash(trimmed)),
        "dhash_trim": _hash_int(imagehash.dhash(trimmed)),
    }


def crop_segments(rgb: np.ndarray) -> tuple[int, ...]:
    """imagehash.crop_resistant_hash segment hashes (largest segments first)."""
    import imagehash
    from PIL import Image

    mh = imagehash.crop_resistant_hash(Image.fromarray(rgb), limit_segments=CROP_MAX_SEGMENTS)
    return tuple(_hash_int(h) for h in mh.segment_hashes)


def align_face(rgb: np.ndarray, landmarks: dict[str, list[tuple[int, int]]]) -> np.ndarray | None:
    """The face crop rotated so the eyes are level, scaled to a fixed eye distance."""
    import cv2

    le, re_ = landmarks.get("left_eye"), landmarks.get("right_eye")
    if not le or not re_:
        return None
    a = np.mean(np.asarray(le, dtype=np.float64), axis=0)
    b = np.mean(np.asarray(re_, dtype=np.float64), axis=0)
    if a[0] > b[0]:
        a, b = b, a
    d = b - a
    dist = float(np.hypot(*d))
    if dist < 4:
        return None
    target = (ALIGNED_EYE_X[1] - ALIGNED_EYE_X[0]) * ALIGNED_FACE_PX
    s = target / dist
    ang = np.arctan2(d[1], d[0])
    c, si = np.cos(-ang) * s, np.sin(-ang) * s
    rot = np.array([[c, -si], [si, c]])
    dst_a = np.array([ALIGNED_EYE_X[0] * ALIGNED_FACE_PX, ALIGNED_EYE_Y * ALIGNED_FACE_PX])
    t = dst_a - rot @ a
    m = np.hstack([rot, t[:, None]])
    return cv2.warpAffine(rgb, m, (ALIGNED_FACE_PX, ALIGNED_FACE_PX), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)


def face_hashes(aligned: np.ndarray) -> tuple[int, int]:
    """pHash of an aligned face crop and of its mirror image."""
    import imagehash
    from PIL import Image

    return (
        _hash_int(imagehash.phash(Image.fromarray(aligned))),
        _hash_int(imagehash.phash(Image.fromarray(np.ascontiguousarray(aligned[:, ::-1])))),
    )


def keypoint_gray(rgb: np.ndarray) -> np.ndarray:
    """The grey image keypoints are found in: at most KEYPOINT_MAX_SIDE px per side."""
    import cv2

    g = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    k = KEYPOINT_MAX_SIDE / max(g.shape)
    if k < 1:
        g = cv2.resize(g, None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
    return g


def keypoints(rgb: np.ndarray, gray: np.ndarray | None = None) -> Keypoints | None:
    """ORB keypoints of a photo (``gray``: its :func:`keypoint_gray`, when already made)."""
    import cv2

    g = keypoint_gray(rgb) if gray is None else gray
    orb = cv2.ORB_create(KEYPOINT_FEATURES)
    kp, des = orb.detectAndCompute(g, None)
    if des is None or len(kp) < 4:
        return None
    return Keypoints(np.array([p.pt for p in kp], dtype=np.float32), des)


@dataclass(frozen=True)
class GeoMatch:
    inliers: int
    good: int
    mirrored: bool = False

    @property
    def same_image(self) -> bool:
        return self.inliers >= KEYPOINT_MIN_INLIERS


def verify_keypoints(a: Keypoints | None, b: Keypoints | None) -> int:
    """Keypoints of ``a`` consistent with one similarity transform onto ``b`` (RANSAC)."""
    import cv2

    if a is None or b is None or len(a.points) < 4 or len(b.points) < 4:
        return 0
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
    pairs = matcher.knnMatch(a.descriptors, b.descriptors, k=2)
    good = [m for m, *rest in (p for p in pairs if len(p) == 2) if m.distance < KEYPOINT_RATIO * rest[0].distance]
    if len(good) < 4:
        return 0
    src = a.points[[g.queryIdx for g in good]]
    dst = b.points[[g.trainIdx for g in good]]
    _m, inl = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=KEYPOINT_RANSAC_PX)
    return int(inl.sum()) if inl is not None else 0


def geometric_match(query: Encoded, stored: Keypoints | None) -> GeoMatch:
    """Best keypoint verification of the query (as is and mirrored) against a stored photo."""
    direct = verify_keypoints(query.keypoints, stored)
    mirrored = verify_keypoints(query.mirror_keypoints, stored) if direct < KEYPOINT_MIN_INLIERS else 0
    if mirrored > direct:
        return GeoMatch(mirrored, 0, True)
    return GeoMatch(direct, 0, False)


def encode_image(
    rgb: np.ndarray,
    faces: Sequence[Any] | None = None,
    *,
    mirrored: bool = False,
    with_segments: bool = True,
    with_keypoints: bool = True,
    sha256: str | None = None,
) -> Encoded:
    """Encode a photo. ``faces``: detectors.faces.ImageFace list (computed when None).

    ``mirrored=True`` adds the mirrored variants a query needs.
    """
    from .faces import faces_in_image

    import cv2

    rgb = np.ascontiguousarray(rgb[..., :3])
    h, w = rgb.shape[:2]
    k = HASH_MAX_SIDE / max(h, w)
    small = cv2.resize(rgb, (max(1, round(w * k)), max(1, round(h * k))), interpolation=cv2.INTER_AREA) if k < 1 else rgb
    sw = small.shape[1]
    box = trim_box(small)
    hashes = whole_hashes(small, box)
    x0, y0, x1, y1 = box
    trimmed = np.ascontiguousarray(small[y0:y1, x0:x1])
    segments = crop_segments(trimmed) if with_segments else ()
    if faces is None:
        faces = faces_in_image(rgb)
    codes = []
    for f in faces:
        aligned = align_face(rgb, f.landmarks)
        fh, mfh = face_hashes(aligned) if aligned is not None else (None, None)
        codes.append(FaceCode(tuple(int(v) for v in f.box), np.asarray(f.embedding, dtype=np.float32), fh, mfh))
    gray = keypoint_gray(rgb) if with_keypoints else None
    kp = keypoints(rgb, gray) if gray is not None else None
    m_hashes: dict[str, int] = {}
    m_segments: tuple[int, ...] = ()
    m_kp = None
    if mirrored:
        m_hashes = whole_hashes(np.ascontiguousarray(small[:, ::-1]), (sw - x1, y0, sw - x0, y1))
        m_segments = crop_segments(np.ascontiguousarray(trimmed[:, ::-1])) if with_segments else ()
        # the mirrored grey image, not a mirrored full-size copy (a 60-megapixel photo: 180 MB less)
        m_kp = keypoints(rgb, np.ascontiguousarray(gray[:, ::-1])) if gray is not None else None
    full_box = tuple(int(round(v / min(1.0, k))) for v in box)
    return Encoded(w, h, hashes, segments, tuple(codes), kp, sha256, m_hashes, m_segments, m_kp, full_box)


# --------------------------------------------------------------------------- index


@dataclass(frozen=True)
class IndexHit:
    """What the index found for one stored media item."""

    media_id: int
    whole_bits: int  # best pHash distance (whole or trimmed, direct or mirrored)
    whole_kind: str
    dhash_bits: int  # the companion dHash distance
    face_bits: int  # best aligned-face hash distance (HASH_BITS + 1 when no face)
    crop_segments: int  # crop-resistant segment hits
    face_distance: float  # best embedding distance to any stored face of this media (inf if none)
    mirrored: bool

    @property
    def strict_same_image(self) -> bool:
        return self.whole_bits <= SAME_IMAGE_PHASH_BITS and self.dhash_bits <= SAME_IMAGE_DHASH_BITS

    @property
    def face_hash_same_image(self) -> bool:
        return self.face_bits <= SAME_IMAGE_FACE_BITS and self.face_distance < SAME_PERSON_DISTANCE


class HashIndex:
    """Packed arrays of every stored code; built once from rows, read-only afterwards.

    ``whole``: media_ids (N,), and a (N, 4) uint64 array of WHOLE_HASH_KINDS.
    ``faces``: face media ids / owner ids (F,), embeddings (F, 128), face hashes (F,) uint64 with
    a validity mask. ``segments``: segment hashes (S,) with their media ids, bucketed by byte.
    """

    def __init__(
        self,
        whole_ids: np.ndarray,
        whole: np.ndarray,
        seg_ids: np.ndarray,
        segs: np.ndarray,
        face_ids: np.ndarray,
        face_media: np.ndarray,
        embeddings: np.ndarray,
        face_hash: np.ndarray,
        face_hash_ok: np.ndarray,
    ) -> None:
        self.whole_ids = np.asarray(whole_ids, dtype=np.int64)
        self.whole = np.ascontiguousarray(whole, dtype=np.uint64).reshape(-1, len(WHOLE_HASH_KINDS))
        self.seg_ids = np.asarray(seg_ids, dtype=np.int64)
        self.segs = np.ascontiguousarray(segs, dtype=np.uint64)
        self.face_ids = np.asarray(face_ids, dtype=np.int64)  # faces table row ids
        self.face_media = np.asarray(face_media, dtype=np.int64)  # media id (or -1)
        self.embeddings = np.ascontiguousarray(embeddings, dtype=np.float32).reshape(-1, 128)
        self.emb_sq = (self.embeddings**2).sum(axis=1)
        self._phash = np.ascontiguousarray(self.whole[:, 0])
        self._phash_trim = np.ascontiguousarray(self.whole[:, 2])
        self._id_order = np.argsort(self.whole_ids)
        # Embedding prefilter: distances in an orthonormal projection never exceed the full
        # distance, so faces whose projected distance is over the threshold are skipped exactly.
        self._basis: np.ndarray | None = None
        if self.embeddings.shape[0] >= EMBEDDING_PREFILTER_MIN:
            sample = self.embeddings[:: max(1, self.embeddings.shape[0] // EMBEDDING_PCA_SAMPLE)]
            self._mean = sample.mean(axis=0)
            _u, _s, vt = np.linalg.svd(sample - self._mean, full_matrices=False)
            self._basis = np.ascontiguousarray(vt[:EMBEDDING_PREFILTER_DIMS].T.astype(np.float32))
            self._proj = np.ascontiguousarray((self.embeddings - self._mean) @ self._basis)
            self._proj_sq = (self._proj**2).sum(axis=1)
        self.face_hash = np.asarray(face_hash, dtype=np.uint64)
        self.face_hash_ok = np.asarray(face_hash_ok, dtype=bool)
        # byte buckets for the segments (pigeonhole index)
        seg_bytes = self.segs.view(np.uint8).reshape(-1, 8) if self.segs.size else np.zeros((0, 8), np.uint8)
        self._orders = []
        self._starts = []
        for j in range(CROP_CHUNKS):
            col = seg_bytes[:, j]
            order = np.argsort(col, kind="stable")
            self._orders.append(order)
            self._starts.append(np.searchsorted(col[order], np.arange(257)))

    @property
    def size(self) -> int:
        return int(self.whole_ids.size)

    def nbytes(self) -> int:
        arrays = [self.whole_ids, self.whole, self.seg_ids, self.segs, self.face_ids, self.face_media,
                  self.embeddings, self.emb_sq, self.face_hash, self.face_hash_ok, *self._orders, *self._starts]
        return int(sum(a.nbytes for a in arrays))

    # -- queries -------------------------------------------------------------------
    def whole_distances(self, hashes: dict[str, int]) -> np.ndarray:
        """(N, 4) Hamming distances of the query's whole-image hashes to every stored one."""
        q = np.array([hashes[k] for k in WHOLE_HASH_KINDS], dtype=np.uint64)
        return popcount64(self.whole ^ q[None, :])

    def segment_hits(self, query_segments: Iterable[int]) -> dict[int, int]:
        """media_id -> number of query segments with a stored segment within CROP_SEGMENT_BITS."""
        hits: dict[int, int] = {}
        if not self.segs.size:
            return hits
        for qs in query_segments:
            qb = np.array([qs], dtype=np.uint64).view(np.uint8)
            # duplicates across buckets are harmless here: only the few hits are de-duplicated
            cand = np.concatenate([self._orders[j][self._starts[j][qb[j]]:self._starts[j][qb[j] + 1]] for j in range(CROP_CHUNKS)])
            if not cand.size:
                continue
            d = popcount64(self.segs[cand] ^ np.uint64(qs))
            for mid in np.unique(self.seg_ids[cand[d <= CROP_SEGMENT_BITS]]):
                hits[int(mid)] = hits.get(int(mid), 0) + 1
        return hits

    def embedding_distances(self, emb: np.ndarray) -> np.ndarray:
        """Euclidean distances of one (128,) or several (k, 128) embeddings to every stored face:
        one matrix product, (N,) or (k, N)."""
        e = np.asarray(emb, dtype=np.float32)
        single = e.ndim == 1
        e = e.reshape(-1, 128)
        if not self.embeddings.shape[0]:
            out = np.zeros((e.shape[0], 0), np.float32)
        else:
            d2 = self.emb_sq[None, :] + (e * e).sum(axis=1)[:, None] - np.float32(2.0) * (e @ self.embeddings.T)
            out = np.sqrt(np.maximum(d2, np.float32(0.0)))
        return out[0] if single else out

    def embedding_neighbours(self, emb: np.ndarray, max_distance: float) -> tuple[np.ndarray, np.ndarray]:
        """(row indices, distances) of stored faces closer than ``max_distance`` to ``emb``."""
        if not self.embeddings.shape[0]:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        e = np.asarray(emb, dtype=np.float32).reshape(128)
        if self._basis is None:
            d = self.embedding_distances(e)
            idx = np.flatnonzero(d < max_distance)
            return idx, d[idx]
        # einsum, not @: a matrix-vector product this size starts an OpenBLAS thread that keeps
        # spinning after the call, a second core burnt per search (26 vs 51 ms CPU at 100k faces)
        qp = np.einsum("j,jk->k", e - self._mean, self._basis)
        d2p = self._proj_sq + float(qp @ qp) - np.float32(2.0) * np.einsum("ij,j->i", self._proj, qp)
        idx = np.flatnonzero(d2p < max_distance**2)
        if not idx.size:
            return idx, np.zeros(0, np.float32)
        d = np.linalg.norm(self.embeddings[idx] - e, axis=1)
        keep = d < max_distance
        return idx[keep], d[keep]

    def position(self, media_id: int) -> int | None:
        """Row of a media id in the whole-hash arrays (None when it has no image hashes)."""
        j = np.searchsorted(self.whole_ids, media_id, sorter=self._id_order)
        if j < self.whole_ids.size and self.whole_ids[self._id_order[j]] == media_id:
            return int(self._id_order[j])
        return None

    def query(self, enc: Encoded, exclude: np.ndarray | None = None) -> tuple[list[IndexHit], dict[int, float]]:
        """Hash hits for media (strict and shortlist), plus best face distance per face row.

        ``exclude``: boolean mask over whole_ids of media to leave out (and face rows whose media
        or owner is excluded are masked by the caller through face_distance filtering).
        Returns (hits for whole-image media ordered by evidence, {face_row_id: distance} for
        faces within SHORTLIST_FACE_DISTANCE).
        """
        n = self.size
        best_p = np.full(n, HASH_BITS + 1, dtype=np.uint8)
        best_kind = np.zeros(n, dtype=np.int8)  # 0 whole, 1 trimmed
        best_mirror = np.zeros(n, dtype=bool)
        variants = [(enc.hashes, False)] + ([(enc.mirror_hashes, True)] if enc.mirror_hashes else [])
        if n:
            for hashes, mirrored in variants:
                for stored, key, code in ((self._phash, "phash", 0), (self._phash_trim, "phash_trim", 1)):
                    d = popcount64(stored ^ np.uint64(hashes[key]))
                    better = d < best_p
                    best_p = np.where(better, d, best_p)
                    best_kind = np.where(better, code, best_kind)
                    best_mirror = np.where(better, mirrored, best_mirror)
        if exclude is not None and n:
            best_p = np.where(exclude, HASH_BITS + 1, best_p)
        # faces: embeddings and aligned-face hashes
        face_best: dict[int, float] = {}
        media_face_d: dict[int, float] = {}
        media_face_bits: dict[int, int] = {}
        for fc in enc.faces:
            for i, dist in zip(*self.embedding_neighbours(fc.embedding, SHORTLIST_FACE_DISTANCE)):
                fid, mid = int(self.face_ids[i]), int(self.face_media[i])
                face_best[fid] = min(face_best.get(fid, np.inf), float(dist))
                if mid >= 0:
                    media_face_d[mid] = min(media_face_d.get(mid, np.inf), float(dist))
            for fh in (fc.face_hash, fc.mirror_face_hash):
                if fh is None or not self.face_hash.size:
                    continue
                fd = popcount64(self.face_hash ^ np.uint64(fh))
                fd = np.where(self.face_hash_ok, fd, HASH_BITS + 1)
                for i in np.flatnonzero(fd <= SHORTLIST_HASH_BITS):
                    mid = int(self.face_media[i])
                    if mid >= 0:
                        media_face_bits[mid] = min(media_face_bits.get(mid, HASH_BITS + 1), int(fd[i]))
        seg_hits: dict[int, int] = {}
        if enc.segments:
            seg_hits = self.segment_hits(enc.segments)
            if enc.mirror_segments:
                for mid, c in self.segment_hits(enc.mirror_segments).items():
                    seg_hits[mid] = max(seg_hits.get(mid, 0), c)
        # shortlist: loose hash hits, the nearest few, segment hits, face hits
        cand: set[int] = set()
        if n:
            cand.update(int(i) for i in np.flatnonzero(best_p <= SHORTLIST_HASH_BITS))
            k = min(SHORTLIST_NEAREST, n)
            cand.update(int(i) for i in np.argpartition(best_p, k - 1)[:k] if best_p[i] <= HASH_BITS)
        for mid in set(seg_hits) | set(media_face_d) | set(media_face_bits):
            i = self.position(mid)
            if i is not None:
                cand.add(i)
        hits = []
        for i in cand:
            if exclude is not None and exclude[i]:
                continue
            mid = int(self.whole_ids[i])
            kind = ("phash", "phash_trim")[int(best_kind[i])]
            dkey = "dhash" if kind == "phash" else "dhash_trim"
            qd = (enc.mirror_hashes if best_mirror[i] else enc.hashes)[dkey]
            dbits = hamming(int(self.whole[i, WHOLE_HASH_KINDS.index(dkey)]), qd)
            hits.append(
                IndexHit(
                    media_id=mid,
                    whole_bits=int(best_p[i]),
                    whole_kind=kind,
                    dhash_bits=dbits,
                    face_bits=media_face_bits.get(mid, HASH_BITS + 1),
                    crop_segments=seg_hits.get(mid, 0),
                    face_distance=media_face_d.get(mid, float("inf")),
                    mirrored=bool(best_mirror[i]),
                )
            )
        hits.sort(key=lambda h: (not h.strict_same_image, not h.face_hash_same_image, min(h.whole_bits, h.face_bits), -h.crop_segments, h.face_distance))
        return hits[: max(SHORTLIST_MAX, sum(h.strict_same_image for h in hits))], face_best


# --------------------------------------------------------------------------- pairs


@dataclass(frozen=True)
class Comparison:
    """Two photos compared directly (no library): same image? same person?"""

    same_image: bool
    method: str | None  # what decided same_image
    phash_bits: int  # whole-image pHash (no trimming), best of direct/mirrored
    trimmed_phash_bits: int
    dhash_bits: int
    face_hash_bits: int | None
    inliers: int
    face_distance: float | None  # closest pair of faces (dlib)
    same_person: bool | None  # None when either photo has no face
    faces_a: int
    faces_b: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "face_distance": round(self.face_distance, 4) if self.face_distance is not None else None,
            "same_person": self.same_person,
            "same_image": self.same_image,
            "same_image_method": self.method,
            "phash_bits": self.phash_bits,
            "trimmed_phash_bits": self.trimmed_phash_bits,
            "dhash_bits": self.dhash_bits,
            "face_hash_bits": self.face_hash_bits,
            "keypoint_inliers": self.inliers,
            "faces_a": self.faces_a,
            "faces_b": self.faces_b,
            "thresholds": {
                "same_person_distance": SAME_PERSON_DISTANCE,
                "same_image_phash_bits": SAME_IMAGE_PHASH_BITS,
                "same_image_dhash_bits": SAME_IMAGE_DHASH_BITS,
                "same_image_face_bits": SAME_IMAGE_FACE_BITS,
                "keypoint_min_inliers": KEYPOINT_MIN_INLIERS,
            },
        }


def compare_encoded(a: Encoded, b: Encoded) -> Comparison:
    """``a`` should be encoded with ``mirrored=True`` so mirrored copies are caught."""
    variants = [a.hashes] + ([a.mirror_hashes] if a.mirror_hashes else [])
    whole = min(hamming(v["phash"], b.hashes["phash"]) for v in variants)
    pairs = [(hamming(v["phash_trim"], b.hashes["phash_trim"]), hamming(v["dhash_trim"], b.hashes["dhash_trim"])) for v in variants]
    pairs += [(hamming(v["phash"], b.hashes["phash"]), hamming(v["dhash"], b.hashes["dhash"])) for v in variants]
    p_bits, d_bits = min(pairs)
    trimmed = min(hamming(v["phash_trim"], b.hashes["phash_trim"]) for v in variants)
    face_d: float | None = None
    face_bits: int | None = None
    for fa in a.faces:
        for fb in b.faces:
            d = float(np.linalg.norm(fa.embedding - fb.embedding))
            face_d = d if face_d is None else min(face_d, d)
            for h in (fa.face_hash, fa.mirror_face_hash):
                if h is not None and fb.face_hash is not None:
                    bits = hamming(h, fb.face_hash)
                    face_bits = bits if face_bits is None else min(face_bits, bits)
    same_person = None if face_d is None else face_d < SAME_PERSON_DISTANCE
    method = None
    inliers = 0
    if a.sha256 and a.sha256 == b.sha256:
        method = "sha256"
    elif p_bits <= SAME_IMAGE_PHASH_BITS and d_bits <= SAME_IMAGE_DHASH_BITS:
        method = "border-trimmed hash" if trimmed == p_bits and trimmed < whole else "whole-image hash"
    elif face_bits is not None and face_bits <= SAME_IMAGE_FACE_BITS and same_person:
        method = "aligned-face hash"
    geo = geometric_match(a, b.keypoints)
    inliers = geo.inliers
    if method is None and geo.same_image:
        method = "keypoints"
    return Comparison(method is not None, method, whole, trimmed, d_bits, face_bits, inliers, face_d, same_person,
                      len(a.faces), len(b.faces))
