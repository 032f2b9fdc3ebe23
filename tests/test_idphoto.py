"""idphoto: portrait found and aligned; tampering cues fire on built tampering, not on real photos."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from detectors import idphoto
from detectors.base import CandidateContext
from detectors.media import load_image

skdata = pytest.importorskip("skimage.data")
PIXEL_CUES = ("ela", "jpeg_grid", "spectral", "eyes", "noise", "camera_data")
IMAGES = Path(__file__).resolve().parents[2] / "shared" / "media" / "images"


def _jpeg(rgb: np.ndarray, q: int) -> np.ndarray:
    b = io.BytesIO()
    Image.fromarray(rgb).save(b, "JPEG", quality=q)
    b.seek(0)
    return np.asarray(Image.open(b).convert("RGB"))


def _check(path: Path) -> object:
    return idphoto.IdPhotoDetector().analyze(CandidateContext("c", [], [load_image(path, "id")]))


def test_clean_photo_no_cue_and_portrait_found(tmp_path: Path) -> None:
    p = tmp_path / "clean.jpg"
    Image.fromarray(_jpeg(skdata.astronaut(), 60)).save(p, quality=97)
    f = _check(p)
    assert f.risk == 0 and f.confidence == idphoto.CONFIDENCE_WITH_FACE
    photo = f.evidence["photos"][0]
    assert photo["portrait"] and photo["portrait_png"] and "document" in photo


def test_editing_software_in_exif(tmp_path: Path) -> None:
    p = tmp_path / "edited.jpg"
    exif = Image.Exif()
    exif[0x0131] = "Adobe Photoshop 25.0 (Windows)"  # Software
    Image.fromarray(skdata.astronaut()).save(p, quality=90, exif=exif)
    f = _check(p)
    assert f.risk >= idphoto.CUE_RISK["editing_software"] and "Photoshop" in f.summary
    assert f.evidence["photos"][0]["cues"]["editing_software"]["triggered"]


def test_face_pasted_from_another_jpeg_grid(tmp_path: Path) -> None:
    rgb = skdata.astronaut()
    base = _jpeg(rgb, 60)
    donor = _jpeg(np.pad(rgb, ((5, 0), (3, 0), (0, 0)), mode="edge"), 40)[5:, 3:]  # compressed on a shifted grid
    out = base.copy()
    out[60:240, 150:320] = donor[60:240, 150:320]
    p = tmp_path / "pasted.jpg"
    Image.fromarray(out).save(p, quality=97)
    f = _check(p)
    cue = f.evidence["photos"][0]["cues"]["jpeg_grid"]
    print("\npasted:", cue)
    assert cue["triggered"] and f.risk >= idphoto.CUE_RISK["jpeg_grid"]


def test_no_face_cannot_judge(tmp_path: Path) -> None:
    p = tmp_path / "coffee.jpg"
    Image.fromarray(skdata.coffee()).save(p)
    f = _check(p)
    assert f.confidence == 0 and "No portrait" in f.summary


def test_real_photos_raise_no_cue() -> None:
    if not IMAGES.is_dir():
        pytest.skip(f"{IMAGES} is absent (shared development media)")
    print()
    fired = {}
    for p in sorted(IMAGES.iterdir()):
        r = idphoto.analyze_image(load_image(p, "id"))
        cues = r["cues"]
        print(f"{p.name:<18} " + " | ".join(f"{k}={v['value'] if not isinstance(v['value'], float) else round(v['value'], 2)}" for k, v in cues.items() if k != "editing_software"))
        hits = [k for k, v in cues.items() if v["triggered"] and k in PIXEL_CUES]
        if hits:
            fired[p.name] = hits
        software = str(r["cues"]["editing_software"]["value"] or "")
        # the EXIF cue states a fact of the file: press photos saved by Photoshop say so
        assert r["cues"]["editing_software"]["triggered"] == any(e in software.lower() for e in idphoto.EDITORS)
        if software:
            print(f"{'':<18} EXIF Software: {software}")
    assert not fired, fired
