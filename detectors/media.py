"""Open media once and stream it.

Videos are decoded by PyAV (FFmpeg inside the wheel, no system ffmpeg): one pass yields the
analysed video frames (with timestamps, downscaled for analysis) and the audio track as mono
float32 samples at :data:`AUDIO_RATE`, interleaved in file order. Only the frames that are
analysed are converted to RGB arrays, at the size the analysis needs; a detector that wants
the full-resolution pixels of a region asks the frame for them (:meth:`VideoFrame.crop_full`).

Images load through :func:`load_image` with EXIF orientation applied.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import av
import numpy as np
from av.video.reformatter import VideoReformatter
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from .base import Cancelled, MediaError

log = logging.getLogger(__name__)

AUDIO_RATE = 16_000
"""Sample rate of the audio handed to the analysis (Hz)."""

DEFAULT_MAX_WIDTH = 640
"""Analysed frames are downscaled to at most this width (px); Face Mesh is tuned for it."""

MAX_IMAGE_PIXELS = 60_000_000
"""Images larger than this (pixels) are refused rather than risk exhausting memory."""

RESIZE_INTERPOLATION = "AREA"
"""swscale filter for the analysis downscale: area averaging is as sharp as bicubic when
shrinking and 3x faster (3.2 vs 9.9 ms per 1080p frame here)."""

DECODE_QUEUE_FRAMES = 8
"""Frames buffered between the decoding thread and the analysis (bounded memory)."""

Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS


def check_readable(path: str | Path) -> Path:
    """Raise a MediaError naming the file unless it exists, is a file and is not empty."""
    p = Path(path)
    if not p.exists():
        raise MediaError(p, "file not found")
    if p.is_dir():
        raise MediaError(p, "is a folder, not a media file")
    try:
        size = p.stat().st_size
    except OSError as exc:  # pragma: no cover - permissions and the like
        raise MediaError(p, f"cannot be read ({exc.strerror})") from exc
    if size == 0:
        raise MediaError(p, "file is empty (0 bytes)")
    return p


# --------------------------------------------------------------------------- images


@dataclass
class LoadedImage:
    """A photo, upright (EXIF orientation applied), as an RGB uint8 array."""

    path: str
    rgb: np.ndarray
    format: str
    exif: dict[str, Any]
    sha256: str
    file_size: int
    jpeg_quantization: dict[int, list[int]] | None = None
    role: str = "photo"  # "id" for ID photos, "photo" for other images
    cache: dict[str, Any] = field(default_factory=dict, repr=False)  # derived data (faces, hashes)

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])


def _exif_dict(img: Image.Image) -> dict[str, Any]:
    out: dict[str, Any] = {}
    try:
        exif = img.getexif()
    except Exception:  # noqa: BLE001 - malformed EXIF is common and harmless here
        return out
    items = dict(exif.items())
    try:
        items.update(exif.get_ifd(ExifTags.IFD.Exif))
    except Exception:  # noqa: BLE001
        pass
    for tag, value in items.items():
        name = ExifTags.TAGS.get(tag, str(tag))
        if isinstance(value, bytes):
            value = value[:64].hex() if not value.isascii() else value[:200].decode("ascii", "replace")
        elif not isinstance(value, (str, int, float)):
            value = str(value)
        out[name] = value
    return out


def load_image(path: str | Path, role: str = "photo") -> LoadedImage:
    """Load a photo (jpg, png, webp, ...) with EXIF orientation applied."""
    p = check_readable(path)
    data = p.read_bytes()
    try:
        with Image.open(p) as img:
            img.load()
            fmt = img.format or "unknown"
            exif = _exif_dict(img)
            quant = getattr(img, "quantization", None)
            upright = ImageOps.exif_transpose(img)
            rgb = np.asarray(upright.convert("RGB"))
    except Image.DecompressionBombError as exc:
        raise MediaError(p, f"image is too large (over {MAX_IMAGE_PIXELS:,} pixels)") from exc
    except UnidentifiedImageError as exc:
        raise MediaError(p, "not an image this app can read (unknown or damaged format)") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise MediaError(p, f"image is damaged or truncated ({exc})") from exc
    return LoadedImage(
        path=str(p),
        rgb=np.ascontiguousarray(rgb),
        format=fmt,
        exif=exif,
        sha256=hashlib.sha256(data).hexdigest(),
        file_size=len(data),
        jpeg_quantization={int(k): list(v) for k, v in quant.items()} if quant else None,
        role=role,
    )


def is_image_file(path: str | Path) -> bool:
    """True when Pillow recognises the file as an image (by content, not by name)."""
    try:
        with Image.open(path) as img:
            return img.format is not None
    except Exception:  # noqa: BLE001 - anything Pillow can't open is not an image to us
        return False


# --------------------------------------------------------------------------- video


@dataclass(frozen=True)
class MediaInfo:
    path: str
    duration_s: float
    fps: float
    width: int
    height: int
    has_audio: bool
    frame_count: int  # estimate when the container does not say
    video_codec: str
    audio_codec: str | None


@dataclass
class VideoFrame:
    """One analysed frame: its index and time in the source, and RGB pixels at analysis size."""

    index: int
    t: float
    rgb: np.ndarray  # (h, w, 3) uint8, C-contiguous, analysis size
    scale: float  # analysis px per source px
    _source: Any = field(default=None, repr=False)  # the av.VideoFrame, for full-res crops

    def full_rgb(self) -> np.ndarray:
        """The whole frame at source resolution (costly: use crop_full where you can)."""
        if self._source is None:
            return self.rgb
        return np.ascontiguousarray(self._source.to_ndarray(format="rgb24"))

    def crop_full(self, box: tuple[float, float, float, float], margin: float = 0.0) -> tuple[np.ndarray, tuple[int, int, int, int]]:
        """Crop ``box`` (x0, y0, x1, y1 in analysis px) from the source-resolution frame.

        ``margin`` grows the box by that fraction of its size on each side. Returns the RGB crop
        and the crop's box in source pixels. For 4:2:0 video only the crop is colour-converted
        (a full 1080p conversion costs ~15 ms; a face crop well under 1 ms).
        """
        x0, y0, x1, y1 = box
        mw, mh = (x1 - x0) * margin, (y1 - y0) * margin
        src = self._source
        s = self.scale if src is not None else 1.0
        w, h = (src.width, src.height) if src is not None else (self.rgb.shape[1], self.rgb.shape[0])
        sx0 = int(max(0, (x0 - mw) / s)) & ~1
        sy0 = int(max(0, (y0 - mh) / s)) & ~1
        sx1 = int(min(w, (x1 + mw) / s)) & ~1
        sy1 = int(min(h, (y1 + mh) / s)) & ~1
        if sx1 <= sx0 or sy1 <= sy0:
            return np.zeros((0, 0, 3), np.uint8), (sx0, sy0, sx0, sy0)
        if src is None:
            return np.ascontiguousarray(self.rgb[sy0:sy1, sx0:sx1]), (sx0, sy0, sx1, sy1)
        if src.format.name in ("yuv420p", "yuvj420p"):
            import cv2

            planes = [np.frombuffer(p, np.uint8).reshape(-1, p.line_size) for p in src.planes[:3]]
            yp = planes[0][sy0:sy1, sx0:sx1]
            up = planes[1][sy0 // 2 : sy1 // 2, sx0 // 2 : sx1 // 2]
            vp = planes[2][sy0 // 2 : sy1 // 2, sx0 // 2 : sx1 // 2]
            i420 = np.concatenate([yp.ravel(), up.ravel(), vp.ravel()]).reshape(-1, sx1 - sx0)
            return cv2.cvtColor(i420, cv2.COLOR_YUV2RGB_I420), (sx0, sy0, sx1, sy1)
        full = self.full_rgb()
        return np.ascontiguousarray(full[sy0:sy1, sx0:sx1]), (sx0, sy0, sx1, sy1)


def _open_container(p: Path) -> Any:
    try:
        return av.open(str(p), metadata_errors="ignore")
    except av.error.InvalidDataError as exc:
        raise MediaError(p, "not a media file FFmpeg can read, or the file is truncated/damaged") from exc
    except av.error.FFmpegError as exc:
        raise MediaError(p, f"cannot be opened as media ({exc})") from exc


def probe(path: str | Path) -> MediaInfo:
    """Read a recording's header: duration, frame rate, size, whether it has audio."""
    p = check_readable(path)
    with _open_container(p) as container:
        return _info(p, container)


def _info(p: Path, container: Any) -> MediaInfo:
    if not container.streams.video:
        raise MediaError(p, "has no video track")
    vs = container.streams.video[0]
    fps = float(vs.average_rate or vs.guessed_rate or 25.0)
    if vs.duration is not None and vs.time_base is not None:
        duration = float(vs.duration * vs.time_base)
    elif container.duration is not None:
        duration = container.duration / av.time_base
    else:
        duration = 0.0
    frames = int(vs.frames or round(duration * fps))
    audio = container.streams.audio[0] if container.streams.audio else None
    return MediaInfo(
        path=str(p),
        duration_s=float(duration),
        fps=fps,
        width=int(vs.codec_context.width or 0),
        height=int(vs.codec_context.height or 0),
        has_audio=audio is not None,
        frame_count=frames,
        video_codec=vs.codec_context.name,
        audio_codec=audio.codec_context.name if audio is not None else None,
    )


@dataclass(frozen=True)
class AudioChunk:
    t: float  # start time (s) of the first sample
    samples: np.ndarray  # mono float32 at AUDIO_RATE


class VideoStream:
    """A recording opened for one streaming pass.

    Iterating yields :class:`VideoFrame` (only the analysed ones) and :class:`AudioChunk`
    objects in file order. Decoding runs in a background thread (FFmpeg releases the GIL, so it
    overlaps with the analysis on the second core), handing over through a bounded queue, so
    memory stays flat whatever the length.

    ``analysis_fps``: frames per second to analyse (0 or above the source rate: every frame).
    """

    def __init__(
        self,
        path: str | Path,
        analysis_fps: float = 0.0,
        max_width: int = DEFAULT_MAX_WIDTH,
        cancel: threading.Event | None = None,
        with_audio: bool = True,
    ) -> None:
        self.path = check_readable(path)
        self.analysis_fps = analysis_fps
        self.max_width = max_width
        self.cancel = cancel
        self.with_audio = with_audio
        self._container = _open_container(self.path)
        try:
            self.info = _info(self.path, self._container)
        except Exception:
            self._container.close()
            raise
        self.decode_errors = 0
        self.thread_cpu_s = 0.0  # CPU time of the decoding thread (Python side: demux, resize, audio)
        self.frames_decoded = 0
        self.audio_seconds = 0.0

    # context manager -------------------------------------------------------------------
    def __enter__(self) -> "VideoStream":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._container.close()

    # decoding --------------------------------------------------------------------------
    def _analysis_size(self) -> tuple[int, int, float]:
        w, h = self.info.width, self.info.height
        if w <= 0 or h <= 0:
            return w, h, 1.0
        scale = min(1.0, self.max_width / w)
        aw = max(2, int(round(w * scale / 2)) * 2)
        ah = max(2, int(round(h * scale / 2)) * 2)
        return aw, ah, aw / w

    def _produce(self, out: "queue.Queue[object]", stop: threading.Event) -> None:
        """Decoding thread: demux once, decode both tracks, push items into ``out``."""
        cpu0 = time.thread_time()
        try:
            container = self._container
            vs = container.streams.video[0]
            vs.thread_type = "AUTO"
            streams = [vs]
            audio = container.streams.audio[0] if (self.with_audio and container.streams.audio) else None
            resampler = None
            if audio is not None:
                streams.append(audio)
                resampler = av.AudioResampler(format="flt", layout="mono", rate=AUDIO_RATE)
            aw, ah, scale = self._analysis_size()
            # one reformatter for the whole pass keeps its swscale context; frame.reformat()
            # sets up a new one for every frame (same pixels, ~1.7x the time at 1080p and 720p)
            reformatter = VideoReformatter()
            step = 0.0
            if self.analysis_fps and self.analysis_fps < self.info.fps:
                step = 1.0 / self.analysis_fps
            next_t = -1e9
            index = -1
            audio_pos = None  # running sample position, so chunk times stay exact
            audio_start: float | None = None  # pts of the first *decoded* audio frame (s)

            def put(item: object) -> bool:
                while not stop.is_set():
                    try:
                        out.put(item, timeout=0.1)
                        return True
                    except queue.Full:
                        continue
                return False

            def push_audio(frames: list[Any]) -> bool:
                nonlocal audio_pos, audio_start
                for af in frames:
                    samples = af.to_ndarray().reshape(-1).astype(np.float32, copy=False)
                    if samples.size == 0:
                        continue
                    if audio_pos is None:
                        # the resampler restarts its own clock at 0; the decoder's pts knows
                        # where the track really starts (encoder priming, edit lists)
                        audio_pos = int(round(max(0.0, audio_start or 0.0) * AUDIO_RATE))
                    t = audio_pos / AUDIO_RATE
                    audio_pos += samples.size
                    self.audio_seconds = audio_pos / AUDIO_RATE
                    if not put(AudioChunk(t, samples)):
                        return False
                return True

            for packet in container.demux(*streams):
                if stop.is_set():
                    return
                try:
                    decoded = packet.decode()
                except av.error.FFmpegError as exc:
                    self.decode_errors += 1
                    log.debug("%s: skipped a damaged packet (%s)", self.path, exc)
                    continue
                if packet.stream is vs:
                    for frame in decoded:
                        index += 1
                        self.frames_decoded += 1
                        t = float(frame.pts * frame.time_base) if frame.pts is not None else index / self.info.fps
                        if step and t < next_t - 1e-6:
                            continue
                        next_t = (next_t + step) if (step and t - next_t < step) else t + step
                        small = reformatter.reformat(frame, width=aw, height=ah, format="rgb24", interpolation=RESIZE_INTERPOLATION) if scale != 1.0 else frame
                        rgb = np.ascontiguousarray(small.to_ndarray(format="rgb24"))
                        if not put(VideoFrame(index, t, rgb, scale, frame)):
                            return
                elif resampler is not None:
                    frames: list[Any] = []
                    for af in decoded:
                        if audio_start is None and af.pts is not None:
                            audio_start = float(af.pts * af.time_base)
                        frames.extend(resampler.resample(af))
                    if not push_audio(frames):
                        return
            if resampler is not None:
                push_audio(resampler.resample(None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consuming thread
            put_err = exc
            try:
                out.put(put_err, timeout=1.0)
            except queue.Full:
                pass
            return
        finally:
            self.thread_cpu_s = time.thread_time() - cpu0
            try:
                out.put(None, timeout=1.0)
            except queue.Full:
                pass

    def __iter__(self) -> Iterator[VideoFrame | AudioChunk]:
        out: "queue.Queue[object]" = queue.Queue(maxsize=DECODE_QUEUE_FRAMES)
        stop = threading.Event()
        worker = threading.Thread(target=self._produce, args=(out, stop), name="telltale-decode", daemon=True)
        worker.start()
        try:
            while True:
                if self.cancel is not None and self.cancel.is_set():
                    raise Cancelled(f"{self.path}: cancelled")
                try:
                    item = out.get(timeout=0.2)
                except queue.Empty:
                    if not worker.is_alive() and out.empty():
                        break
                    continue
                if item is None:
                    break
                if isinstance(item, BaseException):
                    if isinstance(item, av.error.FFmpegError):
                        raise MediaError(self.path, f"decoding failed ({item})") from item
                    raise item
                yield item  # type: ignore[misc]
        finally:
            stop.set()
            # drain so the producer can see the stop flag and exit
            while worker.is_alive():
                try:
                    out.get(timeout=0.05)
                except queue.Empty:
                    pass
            worker.join(timeout=2.0)
        if self.frames_decoded == 0:
            raise MediaError(self.path, "no video frame could be decoded (damaged or truncated file)")


def decode_only(path: str | Path) -> tuple[int, float]:
    """Plain decode of every video frame and the audio, no conversion: the speed baseline.

    Returns (frames decoded, seconds of audio decoded).
    """
    p = check_readable(path)
    frames = 0
    audio_s = 0.0
    with _open_container(p) as container:
        streams = list(container.streams.video[:1]) + list(container.streams.audio[:1])
        if container.streams.video:
            container.streams.video[0].thread_type = "AUTO"
        for packet in container.demux(*streams):
            try:
                for f in packet.decode():
                    if isinstance(f, av.VideoFrame):
                        frames += 1
                    else:
                        audio_s += f.samples / float(f.sample_rate or 1)
            except av.error.FFmpegError:
                continue
    return frames, audio_s
