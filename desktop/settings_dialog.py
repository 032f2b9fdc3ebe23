"""Settings: where the library lives, and each check's thresholds within their documented range."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from . import engine
from .config import AppConfig, default_library_path, load_engine_settings


def _decimals(s: Any) -> int:
    span = s.maximum - s.minimum
    values = (s.default, s.minimum, s.maximum)
    if all(float(v).is_integer() for v in values) and span >= 10:
        return 0
    if span >= 10:
        return 1
    return 3 if span <= 1 else 2


class SettingsDialog(QDialog):
    def __init__(self, config: AppConfig, parent: QWidget | None = None, library_retention: float | None = None) -> None:
        """``library_retention``: the open library's retention in effect (it may be a policy
        stored by ``telltale library retention``); shown, and kept explicit once changed."""
        super().__init__(parent)
        self.setWindowTitle("Telltale settings")
        self.config = config
        self.settings = load_engine_settings()
        overrides = config.overrides()
        self._explicit = {engine.RETENTION_KEY} & set(overrides)
        shown = dict(overrides)
        if library_retention is not None and engine.RETENTION_KEY not in overrides:
            shown[engine.RETENTION_KEY] = library_retention
        self._shown = shown
        self.spins: dict[str, QDoubleSpinBox] = {}

        lib_box = QGroupBox("Case library")
        self.library_edit = QLineEdit(str(config.library_path))
        browse = QPushButton("Choose…")
        browse.clicked.connect(self._browse)
        default = QPushButton("Default")
        default.clicked.connect(lambda: self.library_edit.setText(str(default_library_path())))
        row = QHBoxLayout(lib_box)
        row.addWidget(self.library_edit, 1)
        row.addWidget(browse)
        row.addWidget(default)

        inner = QWidget()
        iv = QVBoxLayout(inner)
        groups: dict[str, list[Any]] = defaultdict(list)
        for key, s in self.settings.items():
            groups[key.split(".", 1)[0]].append(s)
        for group, items in groups.items():
            box = QGroupBox(engine.check_title(group) if group != "pipeline" else "Analysis")
            form = QFormLayout(box)
            for s in items:
                spin = QDoubleSpinBox()
                spin.setDecimals(_decimals(s))
                spin.setRange(s.minimum, s.maximum)
                step = (s.maximum - s.minimum) / 100
                spin.setSingleStep(max(step, 10 ** -spin.decimals()))
                spin.setValue(shown.get(s.key, s.default))
                if s.unit:
                    spin.setSuffix(f" {s.unit}")
                spin.setToolTip(f"{s.doc}\nRange {s.minimum:g} to {s.maximum:g}, default {s.default:g}.")
                spin.setObjectName(s.key)
                self.spins[s.key] = spin
                label = QLabel(s.key.split(".", 1)[-1].replace("_", " "))
                label.setToolTip(spin.toolTip())
                doc = QLabel(f"{s.doc} (default {s.default:g})")
                doc.setObjectName("Hint")
                doc.setWordWrap(True)
                cell = QWidget()
                cv = QVBoxLayout(cell)
                cv.setContentsMargins(0, 0, 0, 4)
                cv.addWidget(spin)
                cv.addWidget(doc)
                form.addRow(label, cell)
            iv.addWidget(box)
        if not self.settings:
            iv.addWidget(QLabel("No tunable thresholds are installed."))
        iv.addStretch(1)
        area = QScrollArea()
        area.setWidgetResizable(True)
        area.setWidget(inner)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
                                   | QDialogButtonBox.StandardButton.RestoreDefaults)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults).clicked.connect(self.restore_defaults)

        layout = QVBoxLayout(self)
        layout.addWidget(lib_box)
        layout.addWidget(QLabel("<b>Thresholds</b> — hover a value for what it does; changes apply to the next analysis."))
        layout.addWidget(area, 1)
        layout.addWidget(buttons)
        self.resize(720, 640)

    def _browse(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Library file", self.library_edit.text(),
                                              "Telltale library (*.sqlite *.db);;All files (*)",
                                              options=QFileDialog.Option.DontConfirmOverwrite)
        if path:
            self.library_edit.setText(path)

    def restore_defaults(self) -> None:
        for key, spin in self.spins.items():
            spin.setValue(self.settings[key].default)

    def values(self) -> dict[str, float]:
        """The thresholds that differ from their defaults, and the retention once it is the
        user's choice here (even 0, keep forever: it then overrides a policy the library stores)."""
        out = {}
        for key, spin in self.spins.items():
            s = self.settings[key]
            tol = 10 ** -(spin.decimals() + 1)
            if abs(spin.value() - s.default) > tol:
                out[key] = spin.value()
            elif key == engine.RETENTION_KEY and (key in self._explicit or abs(spin.value() - self._shown.get(key, s.default)) > tol):
                out[key] = spin.value()
        return out

    def library_path(self) -> Path:
        return Path(self.library_edit.text().strip() or default_library_path()).expanduser()

    def apply(self) -> bool:
        """Store the values; True when the library location changed."""
        self.config.set_overrides(self.values())
        new = self.library_path()
        changed = new != self.config.library_path
        self.config.library_path = new
        return changed
