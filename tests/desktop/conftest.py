"""Desktop test fixtures: Qt offscreen, an isolated QSettings/library per test, fixture media.

The app's QApplication is made here (``qapp`` overrides pytest-qt's) after clearing the Qt
variables cv2 sets, which would otherwise point PySide6 at cv2's plugins.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

os.environ["QT_QPA_PLATFORM"] = "offscreen"
for _var in ("QT_QPA_PLATFORM_PLUGIN_PATH", "QT_QPA_FONTDIR"):
    os.environ.pop(_var, None)

ANALYSIS_FPS = 5.0
"""Analysis rate for desktop tests: enough frames to see the checks, fast on two cores."""


@pytest.fixture(scope="session")
def qapp() -> Any:
    from desktop.app import create_app

    return create_app([])


@pytest.fixture(scope="session")
def desktop_media(tmp_path_factory: pytest.TempPathFactory, talking_head_factory: Any) -> dict[str, Path]:
    """A 3 s talking-head clip, a 6 s one (for cancelling), an ID photo, a damaged file."""
    from PIL import Image

    from fixtures.simple_media import astronaut_face

    folder = tmp_path_factory.mktemp("desktop media ü")  # spaces and non-ASCII on purpose
    short = Path(talking_head_factory(duration_s=3.0, fps=25, audio_offset_s=0.0, seed=1)["path"])
    long = Path(talking_head_factory(duration_s=8.0, fps=25, audio_offset_s=0.0, seed=2)["path"])
    photo = folder / "id photo.jpg"
    Image.fromarray(astronaut_face()).save(photo, quality=92)
    broken = folder / "broken interview.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 200)
    return {"clip": short, "long": long, "photo": photo, "broken": broken, "folder": folder}


def make_config(folder: Path) -> Any:
    from PySide6.QtCore import QSettings

    from desktop.config import AppConfig

    qs = QSettings(str(folder / "telltale.ini"), QSettings.Format.IniFormat)
    config = AppConfig(qs)
    config.library_path = folder / "library.sqlite"
    config.set_overrides({"pipeline.analysis_fps": ANALYSIS_FPS})
    return config


@pytest.fixture(scope="session")
def config_factory() -> Any:
    """``make(folder) -> AppConfig`` with its QSettings file and library inside ``folder``."""
    pytest.importorskip("detectors.store.sqlite", reason="detectors.store.sqlite is not in this tree yet")
    return make_config


@pytest.fixture
def config(tmp_path: Path, config_factory: Any) -> Any:
    return config_factory(tmp_path)


@pytest.fixture
def window(qtbot: Any, config: Any) -> Any:
    from desktop.app import MainWindow

    w = MainWindow(config)
    qtbot.addWidget(w)
    w.show()
    yield w
    w.close()
