"""reuse: has this photo, or this face, been seen before under another name?

Each of the candidate's photos (ID and other) is searched in the library (``context.library``)
by the hash family and by face embedding; so is each interview's main face identity. What is
found, strongest first:

* the same face under another candidate's name: the strongest sign of a synthetic or borrowed
  identity (one person applying as several people, or one face used for several personas);
* the same photo under another candidate's name, or in a reference collection (stock photo,
  known fake persona, watchlist);
* the same face in a reference collection.

Without a library only the candidate's own photos are compared with each other, and the
finding says so (it cannot see reuse across candidates).
"""

from __future__ import annotations

import logging
from typing import Any

from .base import CandidateContext, Detector, Finding
from .settings import setting

log = logging.getLogger(__name__)

RISK_SAME_FACE_OTHER_CANDIDATE = 0.95
RISK_SAME_IMAGE_OTHER_CANDIDATE = 0.9
RISK_SAME_IMAGE_COLLECTION = 0.85
RISK_SAME_FACE_COLLECTION = 0.8
CONFIDENCE_FOUND = 0.9
CONFIDENCE_NOTHING_FOUND = 0.6
"""Nothing found in a library that has entries: reasonably sure it is not a known reuse."""
CONFIDENCE_EMPTY_LIBRARY = 0.1
CONFIDENCE_NO_LIBRARY = 0.1
MAX_MATCHES_PER_QUERY = 5


DECISIVE_FACE_DISTANCE = setting(
    "reuse.decisive_face_distance", 0.4, 0.2, 0.6,
    "A face under another candidate's name settles the case alone only nearer than this (dlib distance); "
    "nearer than the same-person distance 0.6 but not this near, it is a look-alike for a person to compare.",
)
"""Why stricter than the same-person distance 0.6 of a one-to-one comparison: a library search is
one-to-many, and strangers fall under 0.6 often. On realistic face embeddings (bench/library_bench.py,
docs/team-store.md) 97.5% of people with nothing of theirs stored had another person's face under
0.6 in a 10,000-face store, 17.5% under 0.45 at every size; among the shared media's real people 40%
had another of them under 0.6. A decisive flag there would accuse real candidates. Same-person
pairs of the shared media's named people: median 0.40, all under 0.57; so a true reuse further
than this bar still shows, as a look-alike for review, not as a verdict."""
RISK_LOOKALIKE_OTHER_CANDIDATE = 0.5
CONFIDENCE_LOOKALIKE = 0.6


def _lookalike(m: Any, decisive_distance: float) -> bool:
    """A same-face match under another candidate that is not near enough to settle the case."""
    return m.kind == "same-face" and m.candidate is not None and not m.distance < decisive_distance


def _risk(m: Any, decisive_distance: float = DECISIVE_FACE_DISTANCE.default) -> float:
    if m.candidate is not None:
        if m.kind == "same-face":
            return RISK_LOOKALIKE_OTHER_CANDIDATE if _lookalike(m, decisive_distance) else RISK_SAME_FACE_OTHER_CANDIDATE
        return RISK_SAME_IMAGE_OTHER_CANDIDATE
    return RISK_SAME_IMAGE_COLLECTION if m.kind == "same-image" else RISK_SAME_FACE_COLLECTION


class ReuseDetector(Detector):
    name = "reuse"
    scope = "candidate"

    def analyze(self, context: CandidateContext) -> Finding | None:
        queries_img = list(context.images)
        queries_rec = [r for r in context.recordings if r.track is not None and r.track.main_identity is not None]
        if not queries_img and not queries_rec:
            return None
        if context.library is None:
            return self._own_only(context)
        lib = context.library
        bar = float(context.settings.get(DECISIVE_FACE_DISTANCE.key, DECISIVE_FACE_DISTANCE.default))
        found: list[dict[str, Any]] = []
        searched: list[str] = []
        for img in queries_img:
            if context.cancel is not None and context.cancel.is_set():
                break
            searched.append(img.path)
            for m in lib.search(img, exclude_candidate=context.name, limit=MAX_MATCHES_PER_QUERY):
                found.append({"query": img.path, "query_role": img.role, **m.to_dict(), "risk": _risk(m, bar), "lookalike": _lookalike(m, bar)})
        for r in queries_rec:
            searched.append(r.path)
            for m in lib.search_embedding(r.track.main_identity, exclude_candidate=context.name, limit=MAX_MATCHES_PER_QUERY):
                found.append({"query": r.path, "query_role": "interview", **m.to_dict(), "risk": _risk(m, bar), "lookalike": _lookalike(m, bar)})
        found.sort(key=lambda f: (-f["risk"], f["kind"] != "same-image", f["distance"]))
        index = lib.index()  # one look (on PostgreSQL each size is a COUNT query)
        size = index.size + int(index.embeddings.shape[0])
        evidence: dict[str, Any] = {"searched": searched, "matches": found, "library": str(lib.path), "library_entries": size}
        if not found:
            conf = CONFIDENCE_NOTHING_FOUND if size else CONFIDENCE_EMPTY_LIBRARY
            where = f"{size} library entries" if size else "an empty library"
            return Finding(self.name, 0.0, conf, f"Not seen before: {len(searched)} photo(s)/recording(s) searched against {where}.", evidence)
        top = found[0]
        owner = f"candidate {top['candidate']}" if top["candidate"] is not None else f"collection {top['collection']}"
        what = "The same face" if top["kind"] == "same-face" else "The same photo"
        if top["lookalike"]:
            what = "A look-alike face"
        measure = f"face distance {top['distance']:.2f}" if top["kind"] == "same-face" else f"{top['detail'].get('method')}"
        others = sorted({f["candidate"] for f in found if f["candidate"] is not None})
        summary = f"{what} as {top['query'].rsplit('/', 1)[-1]} is in the library under {owner} ({top['file'].rsplit('/', 1)[-1] or 'interview'}, {measure})."
        if len(others) > 1:
            summary += f" Also under {len(others) - 1} other candidate name(s)."
        if top["lookalike"]:
            summary += (f" Strangers often come this near in a large library (it settles the case only under {bar:.2f}):"
                        " compare the two faces by eye.")
        evidence["other_candidates"] = others
        evidence["decisive_face_distance"] = bar
        # another candidate's face or photo, or a known photo from a collection, settles the case
        # alone (scoring caps the score); a look-alike face in a collection does not
        # (a face only when nearer than the decisive bar: see DECISIVE_FACE_DISTANCE)
        evidence["decisive"] = (top["candidate"] is not None and not top["lookalike"]) or top["kind"] == "same-image"
        conf = CONFIDENCE_LOOKALIKE if top["lookalike"] else CONFIDENCE_FOUND
        return Finding(self.name, top["risk"], conf, summary, evidence)

    def _own_only(self, context: CandidateContext) -> Finding:
        """No library: compare the candidate's own photos with each other, and say so."""
        from . import hashing
        from .faces import faces_in_image

        imgs = list(context.images)
        pairs = []
        # one photo has nothing to be compared with: do not hash it (most of an ID photo's check time)
        encs = ([hashing.encode_image(i.rgb, faces_in_image(i), mirrored=True, sha256=i.sha256) for i in imgs]
                if len(imgs) > 1 else [])
        for a in range(len(imgs)):
            for b in range(a + 1, len(imgs)):
                c = hashing.compare_encoded(encs[a], encs[b])
                pairs.append({"a": imgs[a].path, "b": imgs[b].path, "same_image": c.same_image,
                              "same_person": c.same_person, "face_distance": c.face_distance})
        summary = ("No library open: searched only within this candidate's own photos "
                   f"({len(imgs)} photo(s)); reuse across candidates was not checked.")
        return Finding(self.name, 0.0, CONFIDENCE_NO_LIBRARY, summary, {"library": None, "own_pairs": pairs})
