"""Open media once and stream it.

Videos are decoded by PyAV (FFmpeg inside the wheel, no system ffmpeg): one pass yields the
analysed video frames (with timestamps, downscaled for analysis) and the audio track as mono
float32 samples at :data:`AUDIO_RATE`, interleaved in file order. Both are timed by their
own timestamps: video frames by their ``pts`` (variable frame rates stay right), audio by its
packets' ``pts`` (:class:`AudioPlacer`: dropped packets become silence, repeated audio is
dropped), so an hour-long call recording with gaps does not drift. Only the frames that are
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
from PIL import ExifTags, Image, UnidentifiedImageError

from .base import Cancelled, MediaError

log = logging.getLogger(__name__)

AUDIO_RATE = 16_000
"""Sample rate of the audio handed to the analysis (Hz)."""

DEFAULT_MAX_WIDTH = 640
"""Analysed frames are downscaled to at most this width (px); Face Mesh is tuned for it."""

MAX_IMAGE_PIXELS = 60_000_000
"""Most pixels an image is decoded to. A larger JPEG is decoded reduced (1/2, 1/4 or 1/8 per
side, by the JPEG decoder itself: Pillow's ``draft``) to fit; any other larger image is refused
before its pixels are decoded (a 285 KB PNG can claim 100 megapixels)."""

JPEG_DRAFT_SCALES = (1, 2, 4, 8)
"""Reductions per side the JPEG decoder can apply while decoding (DCT scaling)."""

RESIZE_INTERPOLATION = "AREA"
"""swscale filter for the analysis downscale: area averaging is as sharp as bicubic when
shrinking and 3x faster (3.2 vs 9.9 ms per 1080p frame here)."""

DECODE_QUEUE_FRAMES = 8
"""Frames buffered between the decoding thread and the analysis (bounded memory)."""

Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS * JPEG_DRAFT_SCALES[-1] ** 2
"""Pillow's own bomb check (at open, before our size check) stays as a backstop, high enough to
let a large JPEG be decoded reduced."""

EXIF_ORIENTATION_TAG = 0x0112


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


def _draft_scale(width: int, height: int) -> int | None:
    """The smallest JPEG decoder reduction that brings the image within MAX_IMAGE_PIXELS."""
    for scale in JPEG_DRAFT_SCALES:
        if (width // scale) * (height // scale) <= MAX_IMAGE_PIXELS:
            return scale
    return None


def _upright(rgb: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1-8) to an H x W x 3 array, as ImageOps.exif_transpose does,
    without a second full-size Pillow copy (views, then one contiguous copy when rotated)."""
    views = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.transpose(1, 0, 2),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: a.transpose(1, 0, 2)[::-1, ::-1],
        8: lambda a: np.rot90(a, 1),
    }
    turn = views.get(int(orientation))
    return np.ascontiguousarray(turn(rgb)) if turn is not None else rgb


def file_sha256(p: str | Path) -> tuple[str, int]:
    """SHA-256 (hex) and size in bytes of a file, read in 1 MB blocks."""
    h = hashlib.sha256()
    size = 0
    with open(p, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
            size += len(block)
    return h.hexdigest(), size


def load_image(path: str | Path, role: str = "photo") -> LoadedImage:
    """Load a photo (jpg, png, webp, ...) with EXIF orientation applied.

    The size in the header is checked before any pixel is decoded: a JPEG over
    :data:`MAX_IMAGE_PIXELS` is decoded reduced (the ``exif`` gets ``DecodedReduction``: the
    factor per side), any other image over it is refused with a MediaError."""
    p = check_readable(path)
    reduced = 1
    try:
        with Image.open(p) as img:
            fmt = img.format or "unknown"
            width, height = img.size
            if width * height > MAX_IMAGE_PIXELS:
                scale = _draft_scale(width, height) if fmt == "JPEG" else None
                if scale is None:
                    raise MediaError(p, f"image is too large ({width} x {height} = {width * height / 1e6:.0f} "
                                        f"megapixels; at most {MAX_IMAGE_PIXELS / 1e6:.0f} are decoded)")
                img.draft("RGB", (width // scale, height // scale))
                reduced = scale
            exif = _exif_dict(img)
            orientation = int(img.getexif().get(EXIF_ORIENTATION_TAG, 1) or 1)
            quant = getattr(img, "quantization", None)
            img.load()
            if img.width * img.height > MAX_IMAGE_PIXELS:  # the decoder did not reduce enough
                raise MediaError(p, f"image is too large ({img.width} x {img.height} after reduction)")
            rgb = np.asarray(img if img.mode == "RGB" else img.convert("RGB"))
    except MediaError:
        raise
    except Image.DecompressionBombError as exc:
        raise MediaError(p, f"image is too large ({exc})") from exc
    except UnidentifiedImageError as exc:
        raise MediaError(p, "not an image this app can read (unknown or damaged format)") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise MediaError(p, f"image is damaged or truncated ({exc})") from exc
    except MemoryError as exc:
        raise MediaError(p, "image is too large to decode in the memory available") from exc
    if reduced > 1:
        exif["DecodedReduction"] = reduced
        log.info("%s: %d x %d JPEG decoded at 1/%d per side", p, width, height, reduced)
    sha, size = file_sha256(p)
    return LoadedImage(
        path=str(p),
        rgb=np.ascontiguousarray(_upright(rgb, orientation)),
        format=fmt,
        exif=exif,
        sha256=sha,
        file_size=size,
        jpeg_quantization={int(k): list(v) for k, v in quant.items()} if quant else None,
        role=role,
    )


def is_image_file(path: str | Path) -> bool:
    """True when Pillow recognises the file as an image (by content, not by name)."""
    try:
        with Image.open(path) as img:
            return img.format is not None
    except Image.DecompressionBombError:  # an image, too large: load_image refuses it with a message
        return True
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


AUDIO_GAP_TOLERANCE_S = 0.004
"""Audio whose packet timestamps run ahead of (or behind) the samples so far by more than this
(s) is re-placed at its timestamp: the gap filled with silence, the overlap dropped. Smaller
differences are timestamp rounding (a 1 ms container clock); they accumulate against the running
expectation, so even many tiny gaps cannot make the audio drift by more than this."""

SILENCE_BLOCK_S = 1.0
"""A long gap is filled with silence in blocks of this length (memory stays flat)."""

AUDIO_CHUNK_S = 0.25
"""Placed audio is handed on in chunks of at least this length (the last one may be shorter). A
decoded AAC frame is about 23 ms (372 samples at 16 kHz); handing each on alone cost the audio
features, the voice activity model and the voice listener their per-call overhead 40 times a second
(0.44 against 0.23-0.26 CPU s per minute of audio for the features, measured in isolation). The
consumers keep their own buffers across chunks, so what they compute does not depend on the size."""


class AudioPlacer:
    """Decoded audio frames in, :class:`AudioChunk` objects out, placed by their timestamps.

    Counting samples is not enough: call recordings drop packets (the timestamps jump ahead, and
    a sample count would pull everything after the gap early) and some muxers repeat audio (the
    timestamps step back). Each decoded frame's ``pts`` is compared with where the samples so far
    end: a gap (more than :data:`AUDIO_GAP_TOLERANCE_S`) flushes the resampler, fills the gap with
    silence and re-anchors the output at the frame's timestamp; an overlap drops the samples that
    were already played. Audio before time 0 (encoder priming left in) is dropped. The output is
    one contiguous mono float32 stream at :data:`AUDIO_RATE`: sample ``i`` of it lies at
    ``first_chunk.t + i / AUDIO_RATE`` on the container's clock, the clock the video frames'
    timestamps use. ``emit`` returns False to stop (the pass was cancelled).
    """

    def __init__(self, emit: Any) -> None:
        self._emit = emit
        self._resampler: Any = None
        self.pos: int | None = None  # output samples placed so far (absolute: sample 0 is t = 0)
        self._in_end: float | None = None  # where the input placed so far ends (s, by timestamps)
        self._drop = 0  # output samples still to drop (an overlap)
        self.gaps = 0
        self.gap_s = 0.0
        self.overlaps = 0
        self.overlap_s = 0.0
        self._held: list[np.ndarray] = []  # placed samples not yet handed on (AUDIO_CHUNK_S); they end at pos
        self._held_n = 0

    @property
    def seconds(self) -> float:
        return (self.pos or 0) / AUDIO_RATE

    def add(self, af: Any) -> bool:
        rate = float(af.sample_rate or AUDIO_RATE)
        dur = af.samples / rate
        t = float(af.pts * af.time_base) if af.pts is not None and af.time_base is not None else None
        if t is None:  # no timestamp: the frame follows the previous one
            t = self._in_end if self._in_end is not None else 0.0
        if self.pos is None:
            self.pos = int(round(max(0.0, t) * AUDIO_RATE))
            self._drop = int(round(max(0.0, -t) * AUDIO_RATE))  # before time 0
            self._in_end = t + dur
        else:
            assert self._in_end is not None
            gap = t - self._in_end
            if gap > AUDIO_GAP_TOLERANCE_S:
                if not self._flush():
                    return False
                target = int(round(t * AUDIO_RATE))
                self.gaps += 1
                self.gap_s += gap
                if not self._silence(target - self.pos):
                    return False
                self._in_end = t + dur
            elif gap < -AUDIO_GAP_TOLERANCE_S:
                self.overlaps += 1
                repeated = min(self._in_end, t + dur) - t
                self.overlap_s += repeated
                self._drop += int(round(repeated * AUDIO_RATE))
                self._in_end = max(self._in_end, t + dur)
            else:  # rounding: keep the running expectation so small errors cannot add up
                self._in_end += dur
        if self._resampler is None:
            self._resampler = av.AudioResampler(format="flt", layout="mono", rate=AUDIO_RATE)
        return self._push(self._resampler.resample(af))

    def finish(self) -> bool:
        return self._flush() and self._hand_on()

    def _flush(self) -> bool:
        if self._resampler is None:
            return True
        frames = self._resampler.resample(None)
        self._resampler = None
        return self._push(frames)

    def _silence(self, n: int) -> bool:
        if n < 0:  # the resampler's output ran a little long: drop the excess to come
            self._drop += -n
            return True
        block = int(SILENCE_BLOCK_S * AUDIO_RATE)
        while n > 0:
            k = min(n, block)
            if not self._emit_samples(np.zeros(k, np.float32)):
                return False
            n -= k
        return True

    def _push(self, frames: list[Any]) -> bool:
        for f in frames:
            samples = f.to_ndarray().reshape(-1).astype(np.float32, copy=False)
            if self._drop:
                k = min(self._drop, samples.size)
                samples = samples[k:]
                self._drop -= k
            if samples.size and not self._emit_samples(samples):
                return False
        return True

    def _emit_samples(self, samples: np.ndarray) -> bool:
        assert self.pos is not None
        self._held.append(samples)
        self._held_n += samples.size
        self.pos += samples.size
        return self._hand_on() if self._held_n >= AUDIO_CHUNK_S * AUDIO_RATE else True

    def _hand_on(self) -> bool:
        """Emit the held samples as one chunk (nothing when none are held)."""
        if not self._held:
            return True
        assert self.pos is not None
        chunk = AudioChunk((self.pos - self._held_n) / AUDIO_RATE, self._held[0] if len(self._held) == 1 else np.concatenate(self._held))
        self._held, self._held_n = [], 0
        return bool(self._emit(chunk))


def stream_audio(path: str | Path, cancel: threading.Event | None = None) -> Iterator[AudioChunk]:
    """The audio track alone, placed by its timestamps as in a :class:`VideoStream` pass (no video
    decoded). Yields nothing when the file has no audio track."""
    p = check_readable(path)
    with _open_container(p) as container:
        if not container.streams.audio:
            return
        stream = container.streams.audio[0]
        pending: list[AudioChunk] = []
        placer = AudioPlacer(lambda c: pending.append(c) or True)
        for packet in container.demux(stream):
            if cancel is not None and cancel.is_set():
                raise Cancelled(f"{p}: cancelled")
            try:
                decoded = packet.decode()
            except av.error.FFmpegError as exc:
                log.debug("%s: skipped a damaged audio packet (%s)", p, exc)
                continue
            for af in decoded:
                placer.add(af)
            yield from pending
            pending.clear()
        placer.finish()
        yield from pending


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
        self.audio_placement: AudioPlacer | None = None  # gaps filled / overlaps dropped, after the pass

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
            placer: AudioPlacer | None = None
            if audio is not None:
                streams.append(audio)
            aw, ah, scale = self._analysis_size()
            # one reformatter for the whole pass keeps its swscale context; frame.reformat()
            # sets up a new one for every frame (same pixels, ~1.7x the time at 1080p and 720p)
            reformatter = VideoReformatter()
            step = 0.0
            if self.analysis_fps and self.analysis_fps < self.info.fps:
                step = 1.0 / self.analysis_fps
            next_t = -1e9
            index = -1

            def put(item: object) -> bool:
                while not stop.is_set():
                    try:
                        out.put(item, timeout=0.1)
                        return True
                    except queue.Full:
                        continue
                return False

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
                elif audio is not None:
                    if placer is None:
                        placer = self.audio_placement = AudioPlacer(put)
                    for af in decoded:
                        if not placer.add(af):
                            return
                    self.audio_seconds = placer.seconds
            if placer is not None:
                placer.finish()
                self.audio_seconds = placer.seconds
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
