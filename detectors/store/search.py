"""From index hits to search results: the decision both back ends share.

:func:`assemble` is the second half of both back ends' ``search_encoded`` (the SQLite library
over its whole in-memory index, the PostgreSQL store over the rows its server found): exact
SHA-256 matches first, strict hash hits, aligned-face hash hits, keypoint-verified shortlist
hits, then the nearest other faces below the same-person distance.
``tests/store/test_contract.py`` runs the same searches on both back ends and compares the results.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .. import hashing
from .sqlite import Match


@dataclass(frozen=True)
class Candidates:
    """The stored rows a query may match (the SQLite library: its whole store).

    ``meta``: media id -> (candidate id, collection id, path, role, sha256); ``face_owner``:
    face id -> (media id, candidate id, collection id, source)."""

    index: hashing.HashIndex
    meta: dict[int, tuple[int | None, int | None, str, str, str]]
    names: dict[int, str]
    coll_names: dict[int, str]
    face_owner: dict[int, tuple[int | None, int | None, int | None, str]]
    by_sha: dict[str, list[int]]

    def match(self, mid: int, kind: str, distance: float, detail: dict[str, Any]) -> Match:
        cid, coll, path, _role, _sha = self.meta[mid]
        return Match(self.names.get(cid), self.coll_names.get(coll), path, kind, float(distance), {"media_id": mid, **detail})


def assemble(enc: hashing.Encoded, c: Candidates, limit: int,
             keypoints: Callable[[int], hashing.Keypoints | None],
             exclude: np.ndarray | None = None, exclude_cid: int | None = None) -> list[Match]:
    """The matches of ``enc`` among ``c``. The excluded candidate's rows are left out by the
    caller (PostgreSQL: not fetched), or here: ``exclude`` masks their whole-image hash rows
    (one bool per ``c.index.whole_ids``) and ``exclude_cid`` their files and faces."""
    hits, face_best = c.index.query(enc, exclude)
    best: dict[int, Match] = {}  # per media id (or -face id for faces without media)
    if enc.sha256:
        for mid in c.by_sha.get(enc.sha256, []):
            if exclude_cid is None or c.meta[mid][0] != exclude_cid:
                best[mid] = c.match(mid, "same-image", 0.0, {"method": "sha256", "role": c.meta[mid][3]})
    for h in hits:
        if h.media_id in best:
            continue
        bits = min(h.whole_bits, h.face_bits)
        detail: dict[str, Any] = {
            "hash_bits": h.whole_bits, "hash_kind": h.whole_kind, "dhash_bits": h.dhash_bits,
            "face_hash_bits": h.face_bits if h.face_bits <= hashing.HASH_BITS else None,
            "crop_segments": h.crop_segments,
            "face_distance": round(h.face_distance, 4) if np.isfinite(h.face_distance) else None,
            "mirrored": h.mirrored, "role": c.meta[h.media_id][3],
        }
        if h.strict_same_image:
            detail["method"] = "whole-image hash" if h.whole_kind == "phash" else "border-trimmed hash"
        elif h.face_hash_same_image:
            detail["method"] = "aligned-face hash"
        else:
            geo = hashing.geometric_match(enc, keypoints(h.media_id))
            detail["inliers"] = geo.inliers
            if not geo.same_image:
                continue
            detail["method"] = "keypoints"
            detail["mirrored"] = geo.mirrored
        best[h.media_id] = c.match(h.media_id, "same-image", bits / hashing.HASH_BITS, detail)
    # Faces nearest first: once ``limit`` same-face matches are in, every later one ranks
    # below them (same-image matches rank first), so the rest cannot reach the output.
    same_face = 0
    for fid, d in sorted(face_best.items(), key=lambda kv: kv[1]):
        if d >= hashing.SAME_PERSON_DISTANCE or same_face >= limit:
            break
        mid, cid, coll, source = c.face_owner[fid]
        if exclude_cid is not None and cid == exclude_cid:
            continue
        key = int(mid) if mid is not None else -fid
        if key in best:
            continue
        detail = {"method": "face embedding", "source": source}
        if mid is not None and int(mid) in c.meta:
            best[key] = c.match(int(mid), "same-face", d, detail)
        else:
            best[key] = Match(c.names.get(cid), c.coll_names.get(coll), "", "same-face", d, detail)
        same_face += 1
    out = sorted(best.values(), key=lambda m: (m.kind != "same-image", m.distance))
    return out[:limit]
