"""Outputs of the video runtime, as sinks you compose: annotated MP4, MOTChallenge txt, `events.jsonl`, gallery
sightings, an HTTP webhook and MQTT. A sink receives every frame result (`frame`) and every event (`event`:
track events and stream events) and is closed at the end, also on Ctrl-C. Sinks never stall the video: network
sinks queue in memory (bounded, oldest dropped first) and deliver from their own thread.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from reidkit.errors import ConfigError, ReidkitError

if TYPE_CHECKING:
    from reidkit.pipeline import FrameResult


class Sink:
    """Does nothing; subclasses override what they need."""

    def event(self, event: dict) -> None:
        """A track event (first_seen, reidentified, refound, lost, ended) or a stream event."""

    def frame(self, result: "FrameResult") -> None:
        """One camera frame's tracks, after its events."""

    def final(self, labels: dict[tuple[str, int], int]) -> None:
        """Re-association gave each (camera, track id) its final id (called before `close`)."""

    def close(self) -> None:
        """Finish the output (files playable and complete)."""

    def stats(self) -> dict:
        """Counts worth a line in the run summary (delivered, dropped, ...)."""
        return {}


class EventLogSink(Sink):
    """`events.jsonl`: one JSON object per line, flushed after every frame."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._file = open(self.path, "w", encoding="utf-8")
        self._pending = False

    def event(self, event: dict) -> None:
        self._file.write(json.dumps(event) + "\n")
        self._pending = True
        if "track" not in event:  # stream and run events: rare, and often while no frame comes to flush them
            self._file.flush()
            self._pending = False

    def frame(self, result) -> None:
        if self._pending:
            self._file.flush()
            self._pending = False

    def close(self) -> None:
        self._file.close()


class MotSink(Sink):
    """`<camera>.txt` per camera in MOTChallenge format (frame, id, x, y, w, h, score, -1, -1, -1), written as
    frames come (every camera's file exists even when nobody was seen)."""

    def __init__(self, folder: str | Path, cameras: list[str]) -> None:
        self.folder = Path(folder)
        self._files = {c: open(self.folder / f"{c}.txt", "w", encoding="utf-8") for c in cameras}

    def frame(self, result) -> None:
        from reidkit.data.mot import mot_line

        fh = self._files[result.camera]
        for identity, box, score in zip(result.ids, result.boxes, result.scores):
            fh.write(mot_line(result.frame + 1, identity, box, score) + "\n")
        fh.flush()

    def close(self) -> None:
        for fh in self._files.values():
            fh.close()


class VideoSink(Sink):
    """`<camera>.mp4` per camera: boxes in each identity's colour and a status line.

    With `deferred` (a run whose ids re-association will revise) the frames are written unannotated to a hidden
    `.<camera>.plain.mp4` (already masked: nothing unmasked reaches the disk) and what to draw is kept; `final`
    hands over the final ids, and `close` draws every frame with them (the online ids where none came)."""

    def __init__(
        self, folder: str | Path, fps: dict[str, float], status: Callable[["FrameResult"], str], deferred=False
    ) -> None:
        self.folder, self.fps, self.status, self.deferred = Path(folder), fps, status, deferred
        self._writers: dict = {}
        self._drawn: dict[str, list] = {}  # deferred: per camera, per frame (boxes, online ids, track ids, status)
        self._labels: dict[tuple[str, int], int] = {}

    def _path(self, camera: str) -> Path:
        return self.folder / (f".{camera}.plain.mp4" if self.deferred else f"{camera}.mp4")

    def frame(self, result) -> None:
        from reidkit.annotate import draw_status, draw_tracks
        from reidkit.video import VideoWriter

        writer = self._writers.get(result.camera)
        if writer is None:
            writer = self._writers[result.camera] = VideoWriter(self._path(result.camera), self.fps[result.camera])
        if self.deferred:
            tracks = list(result.track_ids) if result.track_ids else [None] * len(result.ids)
            drawn = (np.array(result.boxes, np.float32), list(result.ids), tracks, self.status(result))
            self._drawn.setdefault(result.camera, []).append(drawn)
            writer.write(result.shown)
            return
        image = result.shown.copy()
        draw_tracks(image, result.boxes, result.ids)
        draw_status(image, self.status(result))
        writer.write(image)

    def final(self, labels: dict[tuple[str, int], int]) -> None:
        """The final id of each (camera, track id), to draw when the sink closes."""
        self._labels = dict(labels)

    def close(self) -> None:
        for writer in self._writers.values():
            writer.close()
        if self.deferred:
            for camera in self._writers:
                self._render(camera)

    def _render(self, camera: str) -> None:
        """`<camera>.mp4` from the plain frames, each box under its track's final id."""
        from reidkit.annotate import draw_status, draw_tracks
        from reidkit.video import VideoWriter, read_frames

        plain, writer = self._path(camera), VideoWriter(self.folder / f"{camera}.mp4", self.fps[camera])
        try:
            for (_, image), (boxes, ids, tracks, status) in zip(read_frames(plain), self._drawn.pop(camera, [])):
                final = [self._labels.get((camera, t), i) if t is not None else i for i, t in zip(ids, tracks)]
                draw_tracks(image, boxes, final)
                writer.write(draw_status(image, status))
        finally:
            writer.close()
            plain.unlink(missing_ok=True)


class GallerySink(Sink):
    """Every `stride`-th frame's tracked people become gallery sightings linked to an identity per global id
    ("person-<id>"), with the embeddings the tracker already computed (no second re-id pass)."""

    def __init__(self, store, model_key: str, stride: int = 10, attributes=None, fps: dict | None = None) -> None:
        self.store, self.model_key, self.stride, self.attributes = store, model_key, stride, attributes
        self.fps = fps or {}
        self.linked: dict[int, int] = {}
        self.written = 0
        self.by_track: dict[tuple[str, int], list[int]] = {}  # (camera, track id) -> its sighting ids

    def frame(self, result) -> None:
        from reidkit.gallery.ops import attribute_fields, thumbnail
        from reidkit.preprocess import crop

        if result.frame % self.stride or result.embeddings is None:
            return
        keep = [
            k
            for k, b in enumerate(result.boxes)
            if b[3] - b[1] >= 8 and b[2] - b[0] >= 4 and result.embeddings[k] is not None
        ]
        if not keep:
            return
        crops = [crop(result.image, result.boxes[k]) for k in keep]
        extras = attribute_fields(self.attributes, crops)
        infos = []
        for k, extra in zip(keep, extras):
            identity = result.ids[k]
            if identity not in self.linked:
                self.linked[identity] = self.store.add_identity(f"person-{identity}", {"global_id": identity})
            infos.append(
                {
                    "identity_id": self.linked[identity],
                    "source": result.source,
                    "camera": result.camera,
                    "frame": result.frame,
                    "time": round(result.time, 3),
                    "box": [round(float(v), 1) for v in result.boxes[k]],
                    **extra,
                }
            )
        vectors = np.stack([result.embeddings[k] for k in keep]).astype(np.float32)
        shown = crops if result.masked is None else [crop(result.masked, result.boxes[k]) for k in keep]
        ids = self.store.add_sightings(vectors, self.model_key, infos, [thumbnail(c) for c in shown])
        if len(ids) == len(keep) and result.track_ids:
            for k, sighting in zip(keep, ids):
                self.by_track.setdefault((result.camera, int(result.track_ids[k])), []).append(sighting)
        self.written += len(infos)

    def event(self, event: dict) -> None:
        """A live `identity_merged`: every sighting of the merged ids (a live merge takes the whole id) moves to
        the surviving identity, and later sightings of their tracks go there too."""
        if event.get("event") != "identity_merged" or not event.get("live"):
            return
        final = int(event["id"])
        if final not in self.linked:
            self.linked[final] = self.store.add_identity(f"person-{final}", {"global_id": final})
        for online in event["merged"]:
            old = self.linked.get(int(online))
            self.linked[int(online)] = self.linked[final]
            if old is None or old == self.linked[final]:
                continue
            try:
                self.store.move_sightings([s.sighting_id for s in self.store.sightings_of(old)], self.linked[final])
                if not self.store.sightings_of(old):  # never delete a sighting: only an identity left empty
                    self.store.delete_identity(old)
            except ReidkitError:  # already gone (deleted by someone else meanwhile)
                pass

    def final(self, labels: dict[tuple[str, int], int]) -> None:
        """Re-association gave tracks their final ids: each final id's identity ("person-<id>", the one this run
        already made where there is one) holds the sightings of all its tracks; identities of this run left
        empty are deleted."""
        wanted: dict[int, list[int]] = {}
        for key, sightings in self.by_track.items():
            if key in labels:
                wanted.setdefault(labels[key], []).extend(sightings)
        old = dict(self.linked)
        self.linked = {}
        for final, sightings in sorted(wanted.items()):
            if final in old:
                self.linked[final] = old[final]
            else:
                self.linked[final] = self.store.add_identity(f"person-{final}", {"global_id": final})
            self.store.move_sightings(sightings, self.linked[final])
        for identity in set(old.values()) - set(self.linked.values()):
            try:
                if not self.store.sightings_of(identity):
                    self.store.delete_identity(identity)
            except ReidkitError:  # already gone (merged or deleted by someone else meanwhile)
                pass

    def stats(self) -> dict:
        return {"sightings": self.written}


class _QueuedSink(Sink):
    """Events go into a bounded queue (the oldest dropped when full); a thread delivers them with retries and
    exponential back-off. `close` waits at most `drain_s` for the queue to empty."""

    def __init__(self, max_queue: int = 1000, retries: int = 5, first_delay: float = 0.5, drain_s: float = 5.0):
        self._queue: queue.Queue = queue.Queue(maxsize=max_queue)
        self.retries, self.first_delay, self.drain_s = retries, first_delay, drain_s
        self.delivered = self.dropped = self.failed = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._worker, name=f"reidkit-{type(self).__name__}", daemon=True)
        self._thread.start()

    def event(self, event: dict) -> None:
        while True:
            try:
                self._queue.put_nowait(event)
                return
            except queue.Full:
                try:
                    self._queue.get_nowait()
                    self.dropped += 1
                except queue.Empty:
                    pass

    def _worker(self) -> None:
        while not (self._stop.is_set() and self._queue.empty()):
            try:
                event = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            delay = self.first_delay
            for attempt in range(self.retries + 1):
                try:
                    self._send(event)
                    self.delivered += 1
                    break
                except Exception:
                    if attempt == self.retries or self._stop.wait(delay):
                        self.failed += 1
                        break
                    delay = min(delay * 2, 30.0)

    def _send(self, event: dict) -> None:
        raise NotImplementedError

    def close(self) -> None:
        deadline = time.monotonic() + self.drain_s
        while not self._queue.empty() and time.monotonic() < deadline:
            time.sleep(0.05)
        self._stop.set()
        self._thread.join(timeout=self.drain_s)

    def stats(self) -> dict:
        return {"delivered": self.delivered, "dropped": self.dropped, "failed": self.failed}


class WebhookSink(_QueuedSink):
    """Each event as a JSON POST to an HTTP(S) URL."""

    def __init__(self, url: str, timeout: float = 2.0, **kwargs) -> None:
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"--webhook needs an http:// or https:// URL, got {url!r}")
        self.url, self.timeout = url, timeout
        super().__init__(**kwargs)

    def _send(self, event: dict) -> None:
        import urllib.request

        request = urllib.request.Request(
            self.url, json.dumps(event).encode(), {"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            if response.status >= 300:
                raise OSError(f"webhook answered {response.status}")


def parse_mqtt_url(url: str) -> tuple[str, int, str]:
    """mqtt://host[:port][/topic/prefix] -> (host, port, prefix); the prefix defaults to "reidkit"."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme != "mqtt" or not parts.hostname:
        raise ConfigError(f"--mqtt needs a URL like mqtt://host:1883/topic-prefix, got {url!r}")
    try:
        port = parts.port or 1883
    except ValueError:
        raise ConfigError(f"--mqtt: bad port in {url!r}") from None
    return parts.hostname, port, parts.path.strip("/") or "reidkit"


class MqttSink(Sink):
    """Each event published as JSON to `<prefix>/<camera>/<event>` (QoS 1) through paho-mqtt, which queues while
    the broker is away and reconnects by itself."""

    def __init__(self, url: str, max_queue: int = 1000, client_id: str | None = None) -> None:
        host, port, self.prefix = parse_mqtt_url(url)
        try:
            import paho.mqtt.client as mqtt
        except ModuleNotFoundError:
            raise ConfigError("--mqtt needs paho-mqtt: pip install 'reidkit[mqtt]'") from None
        self.published = self.dropped = 0
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id or "")
        self.client.max_queued_messages_set(max_queue)
        self.client.reconnect_delay_set(1, 30)
        self.client.connect_async(host, port)
        self.client.loop_start()

    def event(self, event: dict) -> None:
        topic = f"{self.prefix}/{event.get('camera', 'run')}/{event['event']}"
        info = self.client.publish(topic, json.dumps(event), qos=1)
        if info.rc == 0:
            self.published += 1
        else:
            self.dropped += 1

    def close(self) -> None:
        deadline = time.monotonic() + 5
        while self.client.want_write() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.client.disconnect()
        self.client.loop_stop()

    def stats(self) -> dict:
        return {"published": self.published, "dropped": self.dropped}
