"""idphoto: generation and tampering from pixels; metadata only a weak hint.

Photos are made here from skimage's astronaut (a real camera photo): the real photo, a copy
with synthetic up-sampling artifacts, a document with a pasted face, an EXIF-only "Photoshop"
copy, small and heavily compressed copies. Shared-media tests skip when ../shared is absent.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from detectors import idphoto
from detectors import photo_forensics as pf
from detectors.base import CandidateContext
from detectors.media import load_image
from detectors.models import MODELS_DIR, fold_models

skdata = pytest.importorskip("skimage.data")
cv2 = pytest.importorskip("cv2")
MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media"
FOLD_DIR = MODELS_DIR / "idphoto_folds"


def _save(rgb: np.ndarray, path: Path, quality: int = 95, **kw: object) -> Path:
    Image.fromarray(np.ascontiguousarray(rgb)).save(path, quality=quality, **kw)
    return path


def _check(*paths: Path) -> object:
    return idphoto.IdPhotoDetector().analyze(CandidateContext("c", [], [load_image(p, "id") for p in paths]))


def _upsampling_artifacts(rgb: np.ndarray, k: int = 3) -> np.ndarray:
    """The photo shrunk by k and grown back by zero insertion and a short kernel (a transposed
    convolution, as in a generator's up-sampling layers): periodic peaks at multiples of 1/k."""
    small = cv2.resize(rgb, (rgb.shape[1] // k, rgb.shape[0] // k), interpolation=cv2.INTER_AREA).astype(np.float32)
    up = np.zeros((small.shape[0] * k, small.shape[1] * k, 3), np.float32)
    up[::k, ::k] = small
    ker = np.outer([0.5, 1, 1, 0.5], [0.5, 1, 1, 0.5]).astype(np.float32)  # a short, non-ideal interpolation kernel
    out = cv2.filter2D(up, -1, ker)
    out *= small.mean() / max(out.mean(), 1e-6)
    return np.clip(out, 0, 255).astype(np.uint8)


def _document(portrait: np.ndarray, donor: np.ndarray | None) -> np.ndarray:
    """A card-like document photo (JPEG 85) with the portrait; with ``donor``, its face replaced by
    the donor's, compressed before at JPEG 30 on a shifted grid, then the whole saved at JPEG 90."""
    h, w = 640, 1000
    doc = np.full((h, w, 3), (226, 232, 238), np.uint8)
    cv2.rectangle(doc, (0, 0), (w, 90), (60, 90, 150), -1)
    for i in range(7):
        cv2.putText(doc, "ABCDEFGHJKLMNP"[i:] + "1234"[: i % 4], (420, 160 + 60 * i), cv2.FONT_HERSHEY_SIMPLEX, 1.1, (30, 30, 40), 2)
    doc[150:570, 60:380] = cv2.resize(portrait, (320, 420), interpolation=cv2.INTER_AREA)
    doc = pf.jpeg_roundtrip(doc, 85)
    if donor is None:
        return doc
    from detectors.faces import faces_in_image

    x0, y0, x1, y1 = faces_in_image(doc)[0].box
    m = 0.15
    px0, py0, px1, py1 = int(x0 - m * (x1 - x0)), int(y0 - m * (y1 - y0)), int(x1 + m * (x1 - x0)), int(y1 + m * (y1 - y0))
    patch = cv2.resize(donor, (px1 - px0, py1 - py0), interpolation=cv2.INTER_AREA)
    patch = pf.jpeg_roundtrip(np.pad(patch, ((5, 0), (3, 0), (0, 0)), mode="edge"), 30)[5:, 3:]
    alpha = np.zeros(patch.shape[:2], np.float32)
    cv2.ellipse(alpha, ((patch.shape[1] // 2, patch.shape[0] // 2), (int(patch.shape[1] * 0.9), int(patch.shape[0] * 0.95)), 0), 1.0, -1)
    alpha = cv2.GaussianBlur(alpha, (0, 0), 3)[..., None]
    out = doc.astype(np.float32)
    out[py0:py1, px0:px1] = alpha * patch + (1 - alpha) * out[py0:py1, px0:px1]
    return pf.jpeg_roundtrip(np.clip(out, 0, 255).astype(np.uint8), 90)


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return skdata.astronaut()


@pytest.fixture(scope="module")
def real_photo(tmp_path_factory: pytest.TempPathFactory, astronaut: np.ndarray) -> Path:
    return _save(astronaut, tmp_path_factory.mktemp("idphoto") / "astronaut.jpg", 92)


CUES = {**pf.CUE_FEATURES, "face_space": idphoto.EMBED_FEATURES}


def test_shipped_model_matches_the_features() -> None:
    bundle = json.loads((MODELS_DIR / idphoto.MODEL_NAME).read_text())
    assert set(bundle["models"]) == {"combined", *CUES}
    weighed = bundle["weighed_cues"]
    assert weighed and set(weighed) <= set(CUES)
    assert tuple(bundle["models"]["combined"]["features"]) == tuple(f for c in weighed for f in CUES[c])
    for name, feats in CUES.items():
        assert tuple(bundle["models"][name]["features"]) == feats
    assert np.isfinite(bundle["risk_logit_at_half"]) and bundle["risk_slope"] > 0


def test_real_photo_is_not_flagged_and_shows_its_evidence(real_photo: Path) -> None:
    f = _check(real_photo)
    print("\nreal:", f.risk, f.confidence, f.summary)
    assert f.risk < idphoto.RISK_DECISION and f.confidence > 0.3
    photo = f.evidence["photos"][0]
    assert photo["portrait"] and not photo["metadata_hint"]
    for key in ("portrait_png", "spectrum_png", "eyes_png", "ela_png", "grid_png"):
        png = base64.b64decode(f.evidence[key])
        assert png[:8] == b"\x89PNG\r\n\x1a\n", key
        assert Image.open(io.BytesIO(png)).size[0] >= 64
    weighed = idphoto.load_model()["weighed_cues"]
    for name in CUES:
        cue = photo["cues"][name]
        assert cue["kind"] == "generation" and 0 <= cue["score"] <= 1
        assert ("logit_share" in cue) == (name in weighed), name
        assert (name in weighed) != ("not weighed" in cue["note"]), name
    assert {"ela", "jpeg_grid", "jpeg_ghost", "noise_ratio"} <= set(photo["cues"])
    assert not any(c["triggered"] for c in photo["cues"].values() if c["kind"] == "tampering")


def test_face_space_cue_reads_the_face_descriptor(real_photo: Path) -> None:
    """The face_space cue is the linear model over the photo's own dlib descriptor: it moves the
    combined logit by exactly its share, and without a descriptor it falls back to the training
    mean (no share), so a broken descriptor path shows here."""
    from detectors.faces import faces_in_image

    img = load_image(real_photo, "id")
    face = faces_in_image(img)[0]
    assert face.embedding.shape == (len(idphoto.EMBED_FEATURES),)
    bundle = idphoto.load_model()
    measured = pf.measure(img.rgb[..., :3], face.box, face.landmarks)
    with_emb, _, cues = idphoto.generation_cues(measured, bundle, None, face.embedding)
    without, _, cues0 = idphoto.generation_cues(measured, bundle, None, None)
    fs = next(c for c in cues if c.name == "face_space")
    assert fs.value["dimensions"] == 128 and 0 <= fs.score <= 1 and fs.value["own_logit"] != 0
    assert "face_space" in bundle["weighed_cues"] and fs.share is not None
    assert abs((with_emb - without) - fs.share) < 1e-6  # the descriptor's part of the logit, nothing else
    assert next(c for c in cues0 if c.name == "face_space").value is None
    # a different face (the mirror image gives another descriptor) gives another face_space score
    flipped = np.ascontiguousarray(img.rgb[:, ::-1, :3])
    other = faces_in_image(flipped)[0].embedding
    assert not np.allclose(other, face.embedding)
    assert idphoto.model_logit(bundle["models"]["face_space"], measured.values, embedding=other) != fs.value["own_logit"]
    r = idphoto.analyze_image(img)
    assert r["cues"]["face_space"]["value"]["own_logit"] == fs.value["own_logit"]


def test_upsampling_artifacts_raise_the_spectral_cue(tmp_path: Path, astronaut: np.ndarray) -> None:
    head = cv2.resize(astronaut[0:300, 80:380], (510, 510), interpolation=cv2.INTER_CUBIC)  # a portrait-sized face
    clean = idphoto.analyze_image(load_image(_save(head, tmp_path / "clean.png"), "id"))
    art = idphoto.analyze_image(load_image(_save(_upsampling_artifacts(head), tmp_path / "up.png"), "id"))
    a, b = clean["cues"]["spectrum"], art["cues"]["spectrum"]
    print("\nclean:", a, "\nartifacts:", b)
    assert b["value"]["spec_peak"] > pf.PEAK_FLAG > a["value"]["spec_peak"]
    assert b["triggered"] and not a["triggered"]
    assert b["value"]["spec_peaks"] > a["value"]["spec_peaks"]
    fx, fy = b["value"]["peak_at_cycles_per_px"]
    assert abs(max(abs(fx), abs(fy)) - 1 / 3) < 0.08  # where: in the spectral replica the 3x up-sampling left at 1/3


def test_pasted_face_document_raises_the_tamper_cue(tmp_path: Path, astronaut: np.ndarray) -> None:
    from detectors.faces import faces_in_image

    x0, y0, x1, y1 = faces_in_image(astronaut)[0].box
    portrait = astronaut[max(0, y0 - 60): y1 + 60, max(0, x0 - 40): x1 + 40]
    donor = np.ascontiguousarray(np.flip(astronaut[y0:y1, x0:x1], axis=1))
    donor = np.clip(donor.astype(np.float32) * (1.15, 0.95, 0.9), 0, 255).astype(np.uint8)  # another light
    genuine = _check(_save(_document(portrait, None), tmp_path / "genuine.jpg", 95))
    pasted = _check(_save(_document(portrait, donor), tmp_path / "pasted.jpg", 95))
    gcues, pcues = genuine.evidence["photos"][0]["cues"], pasted.evidence["photos"][0]["cues"]
    print("\ngenuine:", genuine.risk, {k: v["value"] for k, v in gcues.items() if v["kind"] == "tampering"})
    print("pasted:", pasted.risk, {k: v["value"] for k, v in pcues.items() if v["kind"] == "tampering"})
    assert genuine.evidence["photos"][0]["document"] and pasted.evidence["photos"][0]["document"]
    strengths = pasted.evidence["photos"][0]["tamper_strengths"]
    print("strengths:", strengths, genuine.evidence["photos"][0]["tamper_strengths"])
    assert sum(strengths.values()) >= idphoto.TAMPER_SUM_AT_HALF
    assert sum(v >= 0.5 for v in strengths.values()) >= 2  # more than one cue leans the same way
    assert pasted.risk >= idphoto.RISK_DECISION > genuine.risk
    assert pasted.evidence["photos"][0]["tamper_risk"] > genuine.evidence["photos"][0]["tamper_risk"]
    assert "pasted" in pasted.summary


def test_exif_photoshop_alone_stays_below_half(tmp_path: Path, astronaut: np.ndarray) -> None:
    exif = Image.Exif()
    exif[0x0131] = "Adobe Photoshop 25.0 (Windows)"  # Software
    plain = _check(_save(astronaut, tmp_path / "plain.jpg", 92))
    edited = _check(_save(astronaut, tmp_path / "edited.jpg", 92, exif=exif))
    cue = edited.evidence["photos"][0]["cues"]["editing_software"]
    assert cue["triggered"] and cue["kind"] == "metadata (weak hint)"
    assert "weak hint" in edited.summary and "Photoshop" in edited.summary
    assert plain.risk < edited.risk < idphoto.RISK_DECISION
    assert edited.risk - plain.risk <= idphoto.METADATA_HINT_RISK + 1e-9


def test_metadata_never_crosses_the_decision_alone() -> None:
    for pixel in np.linspace(0, 0.49, 50):
        assert idphoto.combine(pixel, 0.0, True) < idphoto.RISK_DECISION
        assert idphoto.combine(pixel, 0.0, True) >= idphoto.combine(pixel, 0.0, False)
    assert idphoto.combine(0.7, 0.0, True) > idphoto.combine(0.7, 0.0, False)


def test_small_or_compressed_photo_lowers_confidence(tmp_path: Path, astronaut: np.ndarray) -> None:
    full = _check(_save(astronaut, tmp_path / "full.jpg", 92))
    small_rgb = cv2.resize(astronaut, (300, 300), interpolation=cv2.INTER_AREA)
    small = _check(_save(small_rgb, tmp_path / "small.jpg", 92))
    squeezed = _check(_save(astronaut, tmp_path / "q30.jpg", 30))
    print("\nconfidence full/small/q30:", full.confidence, small.confidence, squeezed.confidence)
    assert small.confidence < full.confidence
    assert squeezed.confidence < 0.7 * full.confidence
    assert squeezed.evidence["photos"][0]["jpeg_quality"] <= 35


def test_no_face_cannot_judge(tmp_path: Path) -> None:
    f = _check(_save(skdata.coffee(), tmp_path / "coffee.jpg"))
    assert f.confidence == 0 and f.risk == 0 and "No portrait" in f.summary


def test_the_worst_of_several_id_photos_decides(tmp_path: Path, astronaut: np.ndarray) -> None:
    ok = _save(astronaut, tmp_path / "ok.jpg", 92)
    portrait = astronaut[20:260, 120:330]
    bad = _save(_document(portrait, np.ascontiguousarray(np.flip(astronaut[76:166, 175:265], axis=1))), tmp_path / "bad.jpg", 95)
    f = _check(ok, bad)
    assert len(f.evidence["photos"]) == 2
    assert f.risk == max(p["risk"] for p in f.evidence["photos"])


def test_fold_copy_is_used_inside_fold_models(real_photo: Path) -> None:
    if not (FOLD_DIR / "idphoto_fold0.json").is_file():
        pytest.skip("no fold models shipped")
    shipped = idphoto.analyze_image(load_image(real_photo, "id"))["generation_logit"]
    logits = set()
    for k in range(5):
        with fold_models(FOLD_DIR, k):
            logits.add(idphoto.analyze_image(load_image(real_photo, "id"))["generation_logit"])
    assert len(logits | {shipped}) > 1


def test_real_photos_in_shared_media_stay_below_half() -> None:
    """The manifest.csv photos and the real press/portrait stills (some with Photoshop in EXIF),
    each scored by the fold model that was not trained on it."""
    if not MEDIA.is_dir():
        pytest.skip(f"{MEDIA} is absent (shared development media)")
    import csv

    from detectors.folds import fold_of, group_key

    rows = []
    for name in ("manifest.csv", "manifest_more.csv"):
        with (MEDIA / name).open(newline="") as fh:
            rows += [r for r in csv.DictReader(fh) if r["kind"] == "image" and r["label"] == "real"]
    assert rows
    print()
    high = {}
    for row in rows:
        p = MEDIA / row["path"]
        with fold_models(FOLD_DIR, fold_of(group_key(row.get("group"), row.get("source"), row["path"]))):
            r = idphoto.analyze_image(load_image(p, "id"))
        print(f"{p.name:<28} risk {r['risk']:.2f} gen {r.get('generation_risk', 0):.2f} tamper {r.get('tamper_risk', 0):.2f} "
              f"editor={r.get('metadata_hint')}")
        if r["risk"] >= idphoto.RISK_DECISION:
            high[p.name] = r["risk"]
    assert not high, high


def test_net_patches_tile_the_native_region(astronaut: np.ndarray) -> None:
    box = (180, 60, 300, 200)
    region = pf.net_region(astronaut, box)
    assert region is not None and region.dtype == np.uint8
    assert max(region.shape[:2]) <= pf.NET_REGION_MAX
    # native pixels: the region is a slice of the photo, not a resampled copy
    ys, xs = np.where((astronaut[..., 0] == region[0, 0, 0]) & (astronaut[..., 1] == region[0, 0, 1]))
    assert any(np.array_equal(astronaut[y:y + region.shape[0], x:x + region.shape[1]], region) for y, x in zip(ys[:200], xs[:200]))
    p = pf.net_patches(region)
    rows, cols = (region.shape[0] - pf.NET_PATCH) // pf.NET_STRIDE + 1, (region.shape[1] - pf.NET_PATCH) // pf.NET_STRIDE + 1
    assert p.shape == (rows * cols, 3, pf.NET_PATCH, pf.NET_PATCH) and p.dtype == np.float32
    assert np.array_equal(p[0].transpose(1, 2, 0), region[:pf.NET_PATCH, :pf.NET_PATCH].astype(np.float32))
    assert pf.net_region(astronaut, (10, 10, 30, 30)) is None  # smaller than one patch


def test_residual_net_cue_when_the_net_ships(real_photo: Path) -> None:
    from detectors.models import model_path

    if not model_path(idphoto.NET_MODEL).is_file():
        pytest.skip("the residual net does not ship (its grouped out-of-fold figures did not support it)")
    r = idphoto.analyze_image(load_image(real_photo, "id"))
    cue = r["cues"]["residual_net"]
    assert cue["kind"] == "generation" and 0 <= cue["score"] <= 1
    assert cue["value"]["patches"] >= 4
    png = base64.b64decode(r["net_png"])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    img = load_image(real_photo, "id")
    net = idphoto.residual_net(img.rgb[..., :3], tuple(r["face_box"]))
    assert net is not None and abs(net.logit - float(net.patch_logits.mean())) < 1e-6
    assert abs(cue["value"]["mean_patch_logit"] - round(net.logit, 3)) < 1e-3
    weighs = idphoto.NET_FEATURE in idphoto.load_model()["models"]["combined"]["features"]
    assert ("logit_share" in cue) == weighs
