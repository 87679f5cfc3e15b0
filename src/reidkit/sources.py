"""Frame sources for the video runtime: files, image folders, RTSP / HTTP streams and webcams, each read by its own
thread, and a multiplexer that hands the tracker one batch of frames across all cameras at a time.

- Files and image folders: every frame (or every `stride`-th), read ahead into a small bounded buffer; the frame's
  time is the file time. With `realtime`, a file is paced at its own frame rate and behaves like a live camera.
- Live streams (`rtsp://`, `rtsps://`, `http(s)://`, HTTP MJPEG) and webcams (`0`): the reader thread keeps only
  the newest frame (older ones are dropped and counted), so the consumer always works on the present. A stream that
  fails to open or stops delivering frames (open and read timeouts, 5 s by default) is reopened with exponential
  back-off (0.5 s doubling to 30 s), forever unless `max_retries` is given; `stream_lost` and `stream_restored`
  events carry the gap in seconds. A frame's time is the wall clock when it was read.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reidkit.video import VideoError

LIVE_PREFIXES = ("rtsp://", "rtsps://", "http://", "https://")
_FFMPEG_OPTIONS_LOCK = threading.Lock()
LIVE_FPS = 10.0  # the frame rate assumed for a live stream (tracker motion model, MP4 rate)


def is_live(source: str) -> bool:
    """True for a stream URL or a webcam index ("0", "1", ...)."""
    text = str(source)
    return text.startswith(LIVE_PREFIXES) or text.isdigit()


def backoff_delays(first: float = 0.5, cap: float = 30.0) -> Iterator[float]:
    """0.5, 1, 2, 4, ... seconds, capped."""
    delay = first
    while True:
        yield delay
        delay = min(cap, delay * 2)


@dataclass(frozen=True)
class Frame:
    """One frame of one camera: index in its source, time in seconds, BGR pixels, when it was read."""

    camera: str
    index: int  # 0-based frame index in the source
    time: float  # file time for files, wall-clock seconds (epoch) for live sources
    image: np.ndarray
    read_at: float  # time.monotonic() when the reader got it: frame-to-event latency starts here


class Source:
    """A camera's frames, produced by a reader thread into a buffer: lossless (bounded, the reader waits) for
    files, newest-only (older frames dropped and counted) for live sources."""

    live = False

    def __init__(self, camera: str, fps: float, newest_only: bool, buffer: int = 4) -> None:
        self.camera = camera
        self.fps = fps
        self.newest_only = newest_only
        self.dropped = 0
        self.total: int | None = None  # frames expected, when known
        self._buffer: deque[Frame] = deque()
        self._size = 1 if newest_only else max(1, buffer)
        self._events: list[dict] = []
        self._error: BaseException | None = None
        self._finished = False
        self._stopped = False
        self._cond = threading.Condition()
        self._listeners: list[threading.Condition] = []
        self._thread: threading.Thread | None = None

    def start(self) -> "Source":
        self._thread = threading.Thread(target=self._run, name=f"reidkit-source {self.camera}", daemon=True)
        self._thread.start()
        return self

    # -- producer side ----------------------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._produce()
        except BaseException as exc:  # handed to the consumer
            self._fail(exc)
        finally:
            with self._cond:
                self._finished = True
                self._cond.notify_all()
            self._notify()

    def _produce(self) -> None:
        raise NotImplementedError

    def _put(self, frame: Frame) -> bool:
        """Hand a frame to the consumer; False when the source was stopped."""
        with self._cond:
            if not self.newest_only:
                self._cond.wait_for(lambda: len(self._buffer) < self._size or self._stopped)
            elif self._buffer:
                self._buffer.clear()
                self.dropped += 1
            if self._stopped:
                return False
            self._buffer.append(frame)
            self._cond.notify_all()
        self._notify()
        return True

    def _event(self, kind: str, **extra) -> None:
        with self._cond:
            self._events.append({"event": kind, "source": self.name, "wall_time": round(time.time(), 3), **extra})
        self._notify()

    def _fail(self, error: BaseException) -> None:
        with self._cond:
            self._error = error
            self._cond.notify_all()
        self._notify()

    def _sleep(self, seconds: float) -> None:
        with self._cond:
            self._cond.wait_for(lambda: self._stopped, timeout=seconds)

    def _notify(self) -> None:
        for listener in self._listeners:
            with listener:
                listener.notify_all()

    # -- consumer side ----------------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.camera

    def ready(self) -> bool:
        """A frame is waiting, or the source has something to say (ended, failed)."""
        with self._cond:
            return bool(self._buffer) or self._finished or self._error is not None

    def take(self) -> Frame | None:
        """The next frame if one is waiting (None otherwise); raises the reader's error once frames run out."""
        with self._cond:
            if self._buffer:
                frame = self._buffer.popleft()
                self._cond.notify_all()
                return frame
            if self._error is not None:
                error, self._error = self._error, None
                raise error
            return None

    @property
    def ended(self) -> bool:
        with self._cond:
            return self._finished and not self._buffer and self._error is None

    def has_events(self) -> bool:
        with self._cond:
            return bool(self._events)

    def events(self) -> list[dict]:
        """The stream events since the last call (stream_lost, stream_restored with gap_s)."""
        with self._cond:
            out, self._events = self._events, []
        return out

    def shortfall(self) -> str | None:
        return None

    def close(self) -> None:
        """Stop the reader thread."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        """(frame index, BGR frame) until the source ends (a single-camera convenience)."""
        if self._thread is None:
            self.start()
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._buffer or self._finished or self._error is not None or self._stopped)
            frame = self.take()
            if frame is not None:
                yield frame.index, frame.image
            elif self.ended or self._stopped:
                return


class FileSource(Source):
    """A video file or image folder; every `stride`-th frame, at most `limit`; paced at its own frame rate with
    `realtime` (then frames the consumer is too slow for are dropped, as on a live camera)."""

    def __init__(
        self,
        path: str | Path,
        camera: str | None = None,
        stride: int = 1,
        limit: int | None = None,
        realtime: bool = False,
    ) -> None:
        from reidkit.video import open_source, video_info

        self.path = Path(path)
        if not self.path.exists():
            raise VideoError(f"video not found: {self.path}")
        frames, fps = open_source(self.path, stride)
        super().__init__(camera or self.path.stem, fps, newest_only=realtime)
        self._frames, self.stride, self.limit, self.realtime = frames, stride, limit, realtime
        if hasattr(frames, "limit"):  # a FrameReader: it tells an early stop from a truncated file
            frames.limit = limit
        self.live = realtime
        if self.path.is_file():
            self.total = int(video_info(self.path)["frames"]) // stride or None
        if limit is not None:
            self.total = min(self.total or limit, limit)

    @property
    def name(self) -> str:
        return str(self.path)

    def _produce(self) -> None:
        start = time.monotonic()
        for count, (index, image) in enumerate(self._frames):
            if self.limit is not None and count >= self.limit:
                break
            t = index / self.fps
            if self.realtime:
                delay = start + t - time.monotonic()
                if delay > 0:
                    self._sleep(delay)
            if not self._put(Frame(self.camera, index, t, image, time.monotonic())):
                return

    def shortfall(self) -> str | None:
        return self._frames.shortfall() if hasattr(self._frames, "shortfall") else None


class LiveSource(Source):
    """A live stream URL or webcam index, reopened with back-off when it fails."""

    live = True

    def __init__(
        self,
        url: str,
        camera: str | None = None,
        open_timeout: float = 5.0,
        read_timeout: float = 5.0,
        max_retries: int | None = None,
        first_delay: float = 0.5,
        max_delay: float = 30.0,
        fps: float = LIVE_FPS,
        start: bool = True,
    ) -> None:
        super().__init__(camera or str(url), fps, newest_only=True)
        self.url = str(url)
        self.open_timeout, self.read_timeout = open_timeout, read_timeout
        self.max_retries, self.first_delay, self.max_delay = max_retries, first_delay, max_delay
        if start:
            self.start()

    @property
    def name(self) -> str:
        return self.url

    def _open(self):
        import cv2

        if self.url.isdigit():
            cap = cv2.VideoCapture(int(self.url))
            if cap.isOpened():
                return cap
            cap.release()
            return None
        if not self.url.startswith(("rtsp://", "rtsps://")):
            return self._open_ffmpeg(None)
        # RTSP: interleaved TCP first (it crosses NAT and firewalls), then UDP, which some servers require;
        # the transport that worked is tried first next time
        for transport in sorted(("tcp", "udp"), key=lambda t: t != self._transport):
            cap = self._open_ffmpeg(transport)
            if cap is not None:
                self._transport = transport
                return cap
        return None

    _transport = "tcp"

    def _open_ffmpeg(self, transport: str | None):
        import os

        import cv2

        params = [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
            int(self.open_timeout * 1000),
            cv2.CAP_PROP_READ_TIMEOUT_MSEC,
            int(self.read_timeout * 1000),
        ]
        with _FFMPEG_OPTIONS_LOCK:  # OpenCV reads its FFmpeg options from the environment when it opens
            old = os.environ.get("OPENCV_FFMPEG_CAPTURE_OPTIONS")
            if transport:
                os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] = f"rtsp_transport;{transport}"
            try:
                cap = cv2.VideoCapture(self.url, cv2.CAP_FFMPEG, params)
            finally:
                if transport:
                    if old is None:
                        os.environ.pop("OPENCV_FFMPEG_CAPTURE_OPTIONS", None)
                    else:
                        os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] = old
        if not cap.isOpened():
            cap.release()
            return None
        return cap

    def _produce(self) -> None:
        delays = backoff_delays(self.first_delay, self.max_delay)
        failures, index, lost_at = 0, 0, None
        while not self._stopped:
            cap = self._open()
            if cap is None:
                failures += 1
                if self.max_retries is not None and failures > self.max_retries:
                    raise VideoError(f"cannot open stream {self.url} ({failures} attempts)")
                self._sleep(next(delays))
                continue
            failures, delays = 0, backoff_delays(self.first_delay, self.max_delay)
            if lost_at is not None:
                self._event("stream_restored", gap_s=round(time.time() - lost_at, 3), frame=index + 1)
                lost_at = None
            while not self._stopped:
                ok, image = cap.read()
                if not ok:
                    break
                if not self._put(Frame(self.camera, index, time.time(), image, time.monotonic())):
                    break
                index += 1
            cap.release()
            if not self._stopped:
                lost_at = time.time()
                self._event("stream_lost", frame=index)  # the last frame before the gap (1-based)


def open_camera(
    source: str | Path,
    camera: str | None = None,
    stride: int = 1,
    limit: int | None = None,
    realtime: bool = False,
    max_retries: int | None = None,
) -> Source:
    """The right source for a path, image folder, stream URL or webcam index (not started)."""
    if is_live(str(source)):
        return LiveSource(str(source), camera, max_retries=max_retries, start=False)
    return FileSource(source, camera, stride, limit, realtime)


def camera_names(sources: list[str | Path], cameras: list[str] | None = None) -> list[str]:
    """One unique name per source: the given ones, else file stems / stream hosts, numbered when they clash."""
    names = list(cameras) if cameras else [_default_name(s) for s in sources]
    if len(set(names)) != len(names):
        names = [f"{n}-{k + 1}" for k, n in enumerate(names)]
    return names


def _default_name(source) -> str:
    text = str(source)
    if is_live(text):
        if text.isdigit():
            return f"webcam{text}"
        from urllib.parse import urlsplit

        parts = urlsplit(text)
        stem = Path(parts.path).stem
        return "-".join(p for p in ((parts.hostname or "stream").replace(".", "-"), stem) if p)
    return Path(text).stem


class CameraMux:
    """Runs every source's reader thread and yields batches of frames, one per camera that has one, in time order
    (an empty batch when no camera has a frame but one has a stream event to tell: `events()`).

    File cameras are waited for (no frame of theirs is skipped); live cameras contribute their newest frame when
    one is there. A camera whose source fails is dropped from the run and its error kept in `errors`; `limit`
    stops each camera after that many frames.
    """

    def __init__(
        self, sources: list[Source], limit: int | None = None, poll_s: float = 0.5, stop: threading.Event | None = None
    ) -> None:
        self.sources = sources
        self.stop = stop
        self.limit = limit
        self.poll_s = poll_s
        self.counts = {s.camera: 0 for s in sources}
        self.errors: list[tuple[Source, BaseException]] = []
        self._cond = threading.Condition()
        self._stopped = False
        for s in sources:
            s._listeners.append(self._cond)

    def __iter__(self) -> Iterator[list[Frame]]:
        for s in self.sources:
            if s._thread is None:
                s.start()
        active = list(self.sources)
        while active and not self._stopped and not (self.stop is not None and self.stop.is_set()):
            with self._cond:
                self._cond.wait_for(lambda: self._stopped or self._ready(active), timeout=self.poll_s)
            batch = []
            for s in list(active):
                try:
                    frame = s.take()
                except Exception as exc:  # a camera that gave up: the others go on
                    self.errors.append((s, exc))
                    active.remove(s)
                    continue
                if frame is not None:
                    batch.append(frame)
                    self.counts[s.camera] += 1
                    if self.limit is not None and self.counts[s.camera] >= self.limit:
                        active.remove(s)
                elif s.ended:
                    active.remove(s)
            if batch:
                yield sorted(batch, key=lambda f: f.time)
            elif any(s.has_events() for s in self.sources):
                yield []  # no frame, but news (a stream lost while the others are quiet): the caller hears it now

    def _ready(self, active: list[Source]) -> bool:
        files = [s for s in active if not s.newest_only]
        if files:
            return all(s.ready() for s in files)
        return any(s.ready() for s in active)

    def events(self) -> list[dict]:
        """Every source's stream events since the last call, with the camera name."""
        out = []
        for s in self.sources:
            for event in s.events():
                event["camera"] = s.camera
                out.append(event)
        return out

    def close(self) -> None:
        """Stop every reader thread."""
        self._stopped = True
        with self._cond:
            self._cond.notify_all()
        for s in self.sources:
            s.close()
