"""A small video player without QtMultimedia: PyAV decodes one frame at a time, a QTimer plays.

Seeking jumps to the keyframe before the wanted time and decodes forward to it; playing pulls the
next frames from the same decoder and shows the one that matches the wall clock (late frames are
dropped without converting them). No sound: the player is for looking at moments the timeline
points to.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Iterator

from PySide6.QtCore import QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSizePolicy, QSlider, QStyle, QVBoxLayout, QWidget

log = logging.getLogger(__name__)

DISPLAY_MAX_WIDTH = 960
"""Frames are converted at most this wide (px): enough for the panel, cheap to convert."""

MIN_TICK_MS = 15
"""The play timer never fires more often than this."""

SLIDER_STEPS_PER_S = 100
MIN_VIEW_W, MIN_VIEW_H = 280, 170  # px: the smallest useful picture; below it the tab scrolls instead


class FrameSource:
    """One recording opened for random access and sequential reading."""

    def __init__(self, path: str, max_width: int = DISPLAY_MAX_WIDTH) -> None:
        import av

        self.path = path
        self.container = av.open(path, metadata_errors="ignore")
        if not self.container.streams.video:
            self.container.close()
            raise ValueError(f"{Path(path).name} has no video track")
        self.stream = self.container.streams.video[0]
        self.stream.thread_type = "AUTO"
        self.fps = float(self.stream.average_rate or self.stream.guessed_rate or 25.0)
        tb = self.stream.time_base
        if self.stream.duration is not None and tb is not None:
            self.duration = float(self.stream.duration * tb)
        elif self.container.duration is not None:
            self.duration = self.container.duration / 1_000_000
        else:
            self.duration = 0.0
        w = self.stream.codec_context.width or 640
        h = self.stream.codec_context.height or 360
        k = min(1.0, max_width / w)
        self.size = (max(2, int(w * k) // 2 * 2), max(2, int(h * k) // 2 * 2))
        self._frames: Iterator[Any] | None = None
        self.position = 0.0

    def close(self) -> None:
        try:
            self.container.close()
        except Exception:  # noqa: BLE001
            pass

    def _image(self, frame: Any) -> QImage:
        w, h = self.size
        rgb = frame.reformat(width=w, height=h, format="rgb24").to_ndarray()
        from .images import qimage_from_rgb

        return qimage_from_rgb(rgb)

    @staticmethod
    def _time(frame: Any) -> float:
        if frame.time is not None:
            return float(frame.time)
        return 0.0

    def _decode(self) -> Iterator[Any]:
        import av

        try:
            for frame in self.container.decode(self.stream):
                yield frame
        except av.error.FFmpegError as exc:  # a damaged tail ends playback, not the app
            log.info("decoding stopped in %s: %s", self.path, exc)

    def frame_at(self, t: float) -> QImage | None:
        """The frame shown at time ``t`` (s)."""
        import av

        t = max(0.0, min(t, self.duration if self.duration > 0 else t))
        tb = self.stream.time_base
        try:
            self.container.seek(int(t / tb) if tb else int(t * 1_000_000), stream=self.stream, backward=True, any_frame=False)
        except av.error.FFmpegError:
            self.container.seek(0)
        self._frames = self._decode()
        half = 0.5 / self.fps
        last = None
        for frame in self._frames:
            last = frame
            if self._time(frame) >= t - half:
                break
        if last is None:
            return None
        self.position = self._time(last)
        return self._image(last)

    def next_frame(self, not_before: float = 0.0) -> QImage | None:
        """The next frame at or after ``not_before`` (earlier ones are skipped unconverted)."""
        if self._frames is None:
            self._frames = self._decode()
        for frame in self._frames:
            t = self._time(frame)
            if t + 0.5 / self.fps >= not_before:
                self.position = t
                return self._image(frame)
        return None


class FrameView(QWidget):
    """Shows one QImage, scaled to fit with its aspect ratio."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._image: QImage | None = None
        self._text = "No recording selected"
        self.setMinimumSize(MIN_VIEW_W, MIN_VIEW_H)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_image(self, image: QImage | None, text: str = "") -> None:
        self._image = image
        self._text = text
        self.update()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt name
        return QSize(480, 270)

    def paintEvent(self, _event: Any) -> None:  # noqa: N802 - Qt name
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("#101418"))
        if self._image is not None and not self._image.isNull():
            iw, ih = self._image.width(), self._image.height()
            k = min(self.width() / iw, self.height() / ih)
            w, h = iw * k, ih * k
            target = QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            p.drawImage(target, self._image)
        else:
            p.setPen(QColor("#b0bec5"))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self._text)
        p.end()


class VideoPlayer(QWidget):
    """Frame view, play/pause, a position slider and the time. ``seek(t)`` shows moment t."""

    positionChanged = Signal(float)  # noqa: N815 - Qt style
    errorOccurred = Signal(str)  # noqa: N815

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.source: FrameSource | None = None
        self.view = FrameView(self)
        self.play_button = QPushButton(self)
        self.play_button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_MediaPlay))
        self.play_button.setToolTip("Play / pause (Space; ←/→ step 1 s, Shift 5 s). No sound: the player shows moments")
        self.play_button.clicked.connect(self.toggle)
        self.slider = QSlider(Qt.Orientation.Horizontal, self)
        self.slider.sliderMoved.connect(lambda v: self.seek(v / SLIDER_STEPS_PER_S))
        self.time_label = QLabel("0:00.0 / 0:00.0", self)
        self.time_label.setMinimumWidth(self.time_label.fontMetrics().horizontalAdvance("00:00.0 / 00:00.0") + 8)
        controls = QHBoxLayout()
        controls.addWidget(self.play_button)
        controls.addWidget(self.slider, 1)
        controls.addWidget(self.time_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view, 1)
        layout.addLayout(controls)
        self.timer = QTimer(self)
        self.timer.timeout.connect(self._tick)
        self._play_t0 = 0.0
        self._play_wall0 = 0.0
        self.set_enabled(False)

    # public --------------------------------------------------------------------------
    @property
    def position(self) -> float:
        return self.source.position if self.source else 0.0

    @property
    def duration(self) -> float:
        return self.source.duration if self.source else 0.0

    @property
    def playing(self) -> bool:
        return self.timer.isActive()

    def open(self, path: str | None) -> bool:
        self.stop()
        if self.source is not None:
            self.source.close()
            self.source = None
        if not path:
            self.view.set_image(None, "No recording selected")
            self.set_enabled(False)
            self._reset_position()
            return False
        try:
            self.source = FrameSource(path)
        except Exception as exc:  # noqa: BLE001 - the message goes to the window, not a crash
            name = Path(path).name
            msg = f"“{name}” cannot be played: {exc}"
            self.view.set_image(None, msg)
            self.set_enabled(False)
            self.errorOccurred.emit(msg)
            return False
        self.slider.setRange(0, int(self.source.duration * SLIDER_STEPS_PER_S))
        self.set_enabled(True)
        self.seek(0.0)
        return True

    def seek(self, t: float) -> None:
        if self.source is None:
            return
        was_playing = self.playing
        try:
            image = self.source.frame_at(t)
        except Exception as exc:  # noqa: BLE001
            self.errorOccurred.emit(f"“{Path(self.source.path).name}”: cannot show {t:.1f} s ({exc})")
            return
        self.view.set_image(image, "(no picture at this time)")
        self._update_position()
        if was_playing:
            self._play_t0 = self.source.position
            self._play_wall0 = time.monotonic()

    def play(self) -> None:
        if self.source is None:
            return
        if self.duration and self.position >= self.duration - 1.0 / self.source.fps:
            self.seek(0.0)
        self._play_t0 = self.position
        self._play_wall0 = time.monotonic()
        self.timer.start(max(MIN_TICK_MS, int(1000 / self.source.fps)))
        self.play_button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_MediaPause))

    def stop(self) -> None:
        self.timer.stop()
        self.play_button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_MediaPlay))

    def toggle(self) -> None:
        self.stop() if self.playing else self.play()

    def set_enabled(self, on: bool) -> None:
        self.play_button.setEnabled(on)
        self.slider.setEnabled(on)

    def closeEvent(self, event: Any) -> None:  # noqa: N802
        self.open(None)
        super().closeEvent(event)

    # internals -------------------------------------------------------------------------
    def _tick(self) -> None:
        if self.source is None:
            self.stop()
            return
        target = self._play_t0 + (time.monotonic() - self._play_wall0)
        try:
            image = self.source.next_frame(not_before=target)
        except Exception as exc:  # noqa: BLE001
            self.stop()
            self.errorOccurred.emit(f"Playback stopped: {exc}")
            return
        if image is None:
            self.stop()
            return
        self.view.set_image(image)
        self._update_position()

    def _reset_position(self) -> None:
        self.slider.blockSignals(True)
        self.slider.setRange(0, 0)
        self.slider.setValue(0)
        self.slider.blockSignals(False)
        self.time_label.setText(f"{_clock(0.0)} / {_clock(0.0)}")
        self.positionChanged.emit(0.0)

    def _update_position(self) -> None:
        pos = self.position
        if not self.slider.isSliderDown():
            self.slider.blockSignals(True)
            self.slider.setValue(int(pos * SLIDER_STEPS_PER_S))
            self.slider.blockSignals(False)
        self.time_label.setText(f"{_clock(pos)} / {_clock(self.duration)}")
        self.positionChanged.emit(pos)


def _clock(t: float) -> str:
    m, s = divmod(max(0.0, t), 60)
    return f"{int(m)}:{s:04.1f}"
