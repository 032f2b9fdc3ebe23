"""The app's own preferences, kept with QSettings: library location and threshold overrides.

The engine's thresholds are declared in :mod:`detectors.settings`; the user's overrides are
stored here (only the values that differ from the defaults) and handed to the pipeline as the
``settings=`` mapping. Values outside a setting's documented range are dropped on load.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings

log = logging.getLogger(__name__)

ORGANIZATION = "Telltale"
APPLICATION = "Telltale Desktop"
LIBRARY_KEY = "library/path"
THRESHOLD_GROUP = "thresholds"
LIBRARY_FILE_NAME = "library.sqlite"


def default_library_path() -> Path:
    """Where the case library lives unless the user picks another place: the engine's default
    (``TELLTALE_LIBRARY`` or the user's data folder), so the CLI and the app share one library."""
    try:
        from detectors.store.sqlite import default_path

        return Path(default_path())
    except ImportError:  # pragma: no cover - an engine without the library module
        import platformdirs

        return Path(platformdirs.user_data_dir("telltale")) / LIBRARY_FILE_NAME


def load_engine_settings() -> dict[str, Any]:
    """Every tunable setting (key -> Setting), after the detectors have declared theirs."""
    from detectors import registry, settings

    # Detector modules declare their settings at import time: import them all first.
    for getter in (registry.recording_detectors, registry.candidate_detectors):
        try:
            getter()
        except Exception:  # noqa: BLE001 - a broken detector must not hide the others' settings
            log.exception("could not import detectors")
    for module in ("detectors.pipeline", "detectors.scoring", "detectors.store.sqlite"):
        try:
            __import__(module)
        except Exception:  # noqa: BLE001
            log.exception("could not import %s", module)
    return settings.all_settings()


class AppConfig:
    """Typed access to the app's QSettings store."""

    def __init__(self, qsettings: QSettings | None = None) -> None:
        self.qs = qsettings if qsettings is not None else QSettings(ORGANIZATION, APPLICATION)

    # library ------------------------------------------------------------------------
    @property
    def library_path(self) -> Path:
        value = self.qs.value(LIBRARY_KEY, "")
        return Path(str(value)) if value else default_library_path()

    @library_path.setter
    def library_path(self, path: str | Path) -> None:
        self.qs.setValue(LIBRARY_KEY, str(path))
        self.qs.sync()

    # thresholds ---------------------------------------------------------------------
    def overrides(self) -> dict[str, float]:
        """The user's threshold overrides that are still valid for the installed engine."""
        from detectors.settings import validate

        out: dict[str, float] = {}
        self.qs.beginGroup(THRESHOLD_GROUP)
        try:
            for key in self.qs.childKeys():
                raw = self.qs.value(key)
                name = key.replace("/", ".")
                try:
                    out[name] = validate(name, raw)
                except (ValueError, TypeError):
                    log.info("ignoring stored setting %s=%r (unknown or out of range)", name, raw)
        finally:
            self.qs.endGroup()
        return out

    def set_overrides(self, values: dict[str, float]) -> None:
        """Replace every stored override with ``values`` (keys like ``lipsync.max_offset_ms``)."""
        self.qs.remove(THRESHOLD_GROUP)
        self.qs.beginGroup(THRESHOLD_GROUP)
        try:
            for key, value in values.items():
                self.qs.setValue(key, float(value))
        finally:
            self.qs.endGroup()
        self.qs.sync()

    # window -------------------------------------------------------------------------
    def save_geometry(self, data: Any) -> None:
        self.qs.setValue("window/geometry", data)

    def geometry(self) -> Any:
        return self.qs.value("window/geometry")
