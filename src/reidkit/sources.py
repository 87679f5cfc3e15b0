"""Live frame sources: RTSP / HTTP streams and webcams, read by a thread that keeps only the newest frame.

A live camera does not wait for the tracker: the reader thread decodes continuously and keeps the newest frame
(older ones are dropped and counted), so the consumer always works on the present. A stream that fails to open
or stops delivering frames (open and read timeouts, 5 s by default) is reopened with exponential back-off
(0.5 s doubling to 30 s), forever unless `max_retries` is given; the consumer sees `stream_lost` and
`stream_restored` events with the gap in seconds. Files and image folders stay in `reidkit.video`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from reidkit.video import VideoError

LIVE_PREFIXES = ("rtsp://", "rtsps://", "http://", "https://")


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


@dataclass
class LiveSource:
    """Frames of a live stream, newest first-come; iterate for (frame index, BGR frame), drain `events()`."""

    url: str
    open_timeout: float = 5.0
    read_timeout: float = 5.0
    max_retries: int | None = None
    first_delay: float = 0.5
    max_delay: float = 30.0
    dropped: int = 0
    _events: list = field(default_factory=list)
    _latest: tuple | None = None
    _error: BaseException | None = None
    _stopped: bool = False

    def __post_init__(self) -> None:
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._read_forever, name=f"reidkit-source {self.url}", daemon=True)
        self._thread.start()

    # -- the reader thread ------------------------------------------------------------------------------------
    def _open(self):
        import cv2

        if str(self.url).isdigit():
            cap = cv2.VideoCapture(int(self.url))
        else:
            params = [
                cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
                int(self.open_timeout * 1000),
                cv2.CAP_PROP_READ_TIMEOUT_MSEC,
                int(self.read_timeout * 1000),
            ]
            cap = cv2.VideoCapture(str(self.url), cv2.CAP_FFMPEG, params)
        if not cap.isOpened():
            cap.release()
            return None
        return cap

    def _read_forever(self) -> None:
        delays = backoff_delays(self.first_delay, self.max_delay)
        failures, index, lost_at = 0, 0, None
        while not self._stopped:
            cap = self._open()
            if cap is None:
                failures += 1
                if self.max_retries is not None and failures > self.max_retries:
                    self._fail(VideoError(f"cannot open stream {self.url} ({failures} attempts)"))
                    return
                self._sleep(next(delays))
                continue
            failures, delays = 0, backoff_delays(self.first_delay, self.max_delay)
            if lost_at is not None:
                self._event("stream_restored", gap_s=round(time.time() - lost_at, 3))
                lost_at = None
            while not self._stopped:
                ok, frame = cap.read()
                if not ok:
                    break
                with self._cond:
                    if self._latest is not None:
                        self.dropped += 1
                    self._latest = (index, frame, time.time())
                    index += 1
                    self._cond.notify_all()
            cap.release()
            if not self._stopped:
                lost_at = time.time()
                self._event("stream_lost")

    def _event(self, kind: str, **extra) -> None:
        with self._cond:
            self._events.append({"event": kind, "source": str(self.url), "wall_time": round(time.time(), 3), **extra})
            self._cond.notify_all()

    def _fail(self, error: BaseException) -> None:
        with self._cond:
            self._error = error
            self._cond.notify_all()

    def _sleep(self, seconds: float) -> None:
        with self._cond:
            self._cond.wait_for(lambda: self._stopped, timeout=seconds)

    # -- the consumer -----------------------------------------------------------------------------------------
    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._latest is not None or self._error is not None or self._stopped)
                if self._latest is not None:
                    index, frame, _ = self._latest
                    self._latest = None
                elif self._error is not None:
                    raise self._error
                else:
                    return
            yield index, frame

    def events(self) -> list[dict]:
        """The stream events since the last call (stream_lost, stream_restored with gap_s)."""
        with self._cond:
            out, self._events = self._events, []
        return out

    def close(self) -> None:
        """Stop the reader thread."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        self._thread.join(timeout=self.read_timeout + 2)
