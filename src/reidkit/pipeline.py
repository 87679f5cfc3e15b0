"""Video pipeline: detect -> embed -> track -> re-identify across exits, re-entries and cameras.

The library part (`Pipeline.process`) turns frames into per-frame tracks with global ids; `run_videos`
adds the I/O: frame reading in a background thread, annotated MP4, MOTChallenge txt, JSON-lines events.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from reidkit.detect import Detections, Detector
from reidkit.embed import Embedder
from reidkit.models.catalog import model_or_default
from reidkit.preprocess import crop
from reidkit.sources import is_live
from reidkit.track.identities import IdentityGallery
from reidkit.track.tracker import Tracker, TrackerConfig, TrackState
from reidkit.verify import UNCALIBRATED


@dataclass(frozen=True)
class PipelineConfig:
    """What the pipeline runs and how it decides (see docs/tracking.md)."""

    detector: str | None = None  # the catalog's person-detect default
    detector_precision: str | None = None
    reid: str | None = None  # the catalog's person-reid-tracking default
    reid_precision: str | None = None
    use_reid: bool = True
    device: str = "CPU"
    tracker: TrackerConfig = TrackerConfig()
    reid_threshold: float = 0.97  # calibrated P(same) needed to give a new track an old identity
    min_box_height: float = 0.0  # detections shorter than this (pixels) are ignored
    stride: int = 1


@dataclass(frozen=True)
class FrameTracks:
    """The confirmed tracks of one frame: global ids, boxes in frame pixels, scores."""

    camera: str
    frame: int  # 0-based frame index in the source
    ids: list[int]
    boxes: np.ndarray
    scores: np.ndarray
    events: list[dict] = field(default_factory=list)


class Pipeline:
    """Models plus one identity gallery shared by all cameras; one tracker per camera."""

    def __init__(self, config: PipelineConfig = PipelineConfig()) -> None:
        self.config = config
        self.detector = Detector(
            config.detector, config.detector_precision, config.device, confidence=config.tracker.low_thresh, nms_iou=0.5
        )
        reid = model_or_default(config.reid, "person-reid-tracking")
        self.embedder = Embedder(reid, config.reid_precision, config.device) if config.use_reid else None
        calibration = (self.embedder.spec.calibration if self.embedder and self.embedder.spec else None) or UNCALIBRATED
        self.gallery = IdentityGallery(calibration, config.reid_threshold)
        self._next_plain_id = 1

    def detect(self, frame: np.ndarray) -> Detections:
        """Detections of one frame, minus boxes below the minimum height."""
        dets = self.detector.detect(frame)
        if self.config.min_box_height > 0 and len(dets):
            dets = dets[(dets.xyxy[:, 3] - dets.xyxy[:, 1]) >= self.config.min_box_height]
        return dets

    def embed(self, frame: np.ndarray, dets: Detections) -> np.ndarray | None:
        """Unit-norm embeddings of the detections at or above the tracker's high threshold (one batch)."""
        if self.embedder is None or len(dets) == 0:
            return None
        out = np.zeros((len(dets), self.embedder.dim), np.float32)
        high = np.flatnonzero(dets.confidence >= self.config.tracker.high_thresh)
        if len(high):
            out[high] = self.embedder.embed([crop(frame, dets.xyxy[k]) for k in high])
        return out

    def process(
        self, frames: Iterable[tuple[int, np.ndarray]], camera: str = "cam1", fps: float = 30.0
    ) -> Iterator[FrameTracks]:
        """Track one camera's frames; ids are global across every camera this pipeline has seen."""
        tracker = Tracker(self.config.tracker, frame_rate=fps / max(1, self.config.stride))
        for index, frame in frames:
            dets = self.detect(frame)
            emb = self.embed(frame, dets)
            tracks = tracker.update(dets.xyxy, dets.confidence, emb)
            events = self._identities(tracker, camera, index, emb, fps / max(1, self.config.stride))
            yield FrameTracks(
                camera,
                index,
                [t.identity for t in tracks],
                np.array([t.xyxy for t in tracks]).reshape(-1, 4),
                np.array([t.score for t in tracks]),
                events,
            )

    def _identities(
        self, tracker: Tracker, camera: str, frame: int, emb: np.ndarray | None, fps: float = 30.0
    ) -> list[dict]:
        """Give newly confirmed tracks a global identity; record sightings and life-cycle events."""
        events = []
        # identities visible right now in this camera cannot be the person who just appeared
        visible = {t.identity for t in tracker.tracks if t.identity is not None and t.state == TrackState.TRACKED}
        for kind, track in tracker.events:
            if kind == "confirmed":
                if self.embedder is None:
                    track.identity = self._next_plain_id
                    self._next_plain_id += 1
                    events.append(self._event("first_seen", track, camera, frame))
                    continue
                feats = np.stack(track.features) if track.features else np.zeros((0, self.embedder.dim))
                identity, prob = self.gallery.match(feats, visible, camera, tracker.frame, track.xyxy, fps)
                if identity is None:
                    track.identity = self.gallery.new(feats, camera, tracker.frame, track.xyxy)
                    events.append(self._event("first_seen", track, camera, frame))
                else:
                    track.identity = identity
                    for other in tracker.tracks:  # a lost track of this person is superseded: it ends here
                        if other is not track and other.identity == identity and other.state == TrackState.LOST:
                            other.state = TrackState.REMOVED
                            events.append(self._event("ended", other, camera, frame, reason="superseded"))
                    ident = self.gallery.identities[identity]
                    events.append(
                        self._event(
                            "reidentified",
                            track,
                            camera,
                            frame,
                            probability=round(prob, 4),
                            last_camera=ident.last_camera,
                            last_frame=ident.last_frame,
                        )
                    )
                visible.add(track.identity)
            elif kind == "refound" and track.identity is not None:  # a lost track matched again
                events.append(self._event("refound", track, camera, frame))
            elif kind in ("lost", "removed") and track.identity is not None:
                events.append(self._event("lost" if kind == "lost" else "ended", track, camera, frame))
        if self.embedder is not None and emb is not None:
            for track in tracker.tracks:
                if (
                    track.identity is not None
                    and track.last_frame == tracker.frame
                    and track.det_index >= 0
                    and emb[track.det_index].any()
                ):
                    self.gallery.seen(track.identity, emb[track.det_index], camera, tracker.frame, track.xyxy)
        return events

    @staticmethod
    def _event(kind: str, track, camera: str, frame: int, **extra) -> dict:
        return {
            "event": kind,
            "id": track.identity,
            "track": track.track_id,
            "camera": camera,
            "frame": frame + 1,
            "box": [round(float(v), 1) for v in track.xyxy],
            **extra,
        }


def _store_sightings(
    gallery,
    embedder: Embedder,
    frame: np.ndarray,
    result: FrameTracks,
    fps: float,
    source: str,
    linked: dict[int, int],
    attributes=None,
) -> None:
    """Store one frame's tracked people in a gallery, each linked to its global identity (with person
    attributes when an AttributeRecognizer is given)."""
    from reidkit.gallery.ops import attribute_fields, model_key, thumbnail

    keep = [k for k, b in enumerate(result.boxes) if b[3] - b[1] >= 8 and b[2] - b[0] >= 4]
    if not keep:
        return
    crops = [crop(frame, result.boxes[k]) for k in keep]
    vectors = embedder.embed(crops)
    extras = attribute_fields(attributes, crops)
    infos = []
    for k, extra in zip(keep, extras):
        identity = result.ids[k]
        if identity not in linked:
            linked[identity] = gallery.add_identity(f"person-{identity}", {"global_id": identity})
        infos.append(
            {
                "identity_id": linked[identity],
                "source": source,
                "camera": result.camera,
                "frame": result.frame,
                "time": round(result.frame / fps, 3),
                "box": [round(float(v), 1) for v in result.boxes[k]],
                **extra,
            }
        )
    gallery.add_sightings(vectors, model_key(embedder), infos, [thumbnail(c) for c in crops])


LIVE_FPS = 10.0  # the frame rate assumed for a live stream (tracker motion model, event times)


def open_live(url: str, max_retries: int | None = None):
    """(a LiveSource, its assumed frame rate) for a stream URL or a webcam index."""
    from reidkit.sources import LiveSource

    return LiveSource(url, max_retries=max_retries), LIVE_FPS


def _drain_stream_events(reader, camera: str, frame: int | None, events_file) -> None:
    """Write a live source's stream_lost / stream_restored events to the event log."""
    if not hasattr(reader, "events"):
        return
    for event in reader.events():
        event.update(camera=camera, frame=None if frame is None else frame + 1)
        events_file.write(json.dumps(event) + "\n")
    events_file.flush()


def _prefetch(frames: Iterator, size: int = 8) -> Iterator:
    """Read frames in a background thread so decoding overlaps inference."""
    buffer: queue.Queue = queue.Queue(maxsize=size)
    done = object()
    error: list[BaseException] = []

    def reader() -> None:
        try:
            for item in frames:
                buffer.put(item)
        except BaseException as exc:  # handed to the consumer below
            error.append(exc)
        finally:
            buffer.put(done)

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    while True:
        item = buffer.get()
        if item is done:
            break
        yield item
    thread.join()
    if error:
        raise error[0]


def run_videos(
    sources: list[str | Path],
    out_dir: str | Path,
    config: PipelineConfig = PipelineConfig(),
    write_video: bool = True,
    progress: bool = True,
    cameras: list[str] | None = None,
    max_frames: int | None = None,
    gallery=None,
    gallery_stride: int = 10,
    attributes: bool = True,
    max_retries: int | None = None,
) -> dict:
    """Track every source (video file or image folder) with one shared gallery; write results per source.

    With `gallery` (a GalleryStore), every `gallery_stride`-th frame's tracked people are stored as sightings
    linked to a gallery identity per global id ("person-<id>"), searchable with `reidkit gallery search`.
    With `attributes`, "first_seen" and "reidentified" events and gallery sightings carry person attributes.
    """
    from tqdm import tqdm

    from reidkit.annotate import draw_status, draw_tracks
    from reidkit.files import make_dir
    from reidkit.video import VideoWriter, open_source, video_info

    out = make_dir(Path(out_dir))
    pipeline = Pipeline(config)
    recognizer = None
    if attributes:
        from reidkit.attributes import AttributeRecognizer

        recognizer = AttributeRecognizer(device=config.device)
    names = cameras or [Path(s).stem for s in sources]
    if len(set(names)) != len(names):
        names = [f"{n}-{k + 1}" for k, n in enumerate(names)]
    summary: dict = {"sources": [], "identities": 0, "warnings": []}
    linked: dict[int, int] = {}  # global id -> gallery identity
    with open(out / "events.jsonl", "w", encoding="utf-8") as events_file:
        for source, camera in zip(sources, names):
            live = is_live(str(source))
            frames, fps = open_live(str(source), max_retries) if live else open_source(source, config.stride)
            reader = frames
            total = None
            if Path(source).is_file():
                total = int(video_info(source)["frames"]) // config.stride or None
            if max_frames is not None:
                total = min(total or max_frames, max_frames)
                frames = (item for k, item in zip(range(max_frames), frames))
            writer = VideoWriter(out / f"{camera}.mp4", fps / config.stride) if write_video else None
            rows: list[str] = []
            start = time.perf_counter()
            count = 0
            bar = tqdm(total=total, unit="frame", desc=camera, disable=not progress or None)
            source_frames = {}

            def remember(items, source_frames=source_frames):
                for index, frame in items:
                    source_frames["last"] = frame
                    yield index, frame

            feed = frames if live else _prefetch(frames)
            try:
                for result in pipeline.process(remember(feed), camera, fps):
                    count += 1
                    for identity, box, score in zip(result.ids, result.boxes, result.scores):
                        x0, y0, x1, y1 = box
                        rows.append(
                            f"{result.frame + 1},{identity},{x0:.2f},{y0:.2f},{x1 - x0:.2f},{y1 - y0:.2f},"
                            f"{score:.4f},-1,-1,-1"
                        )
                    for event in result.events:
                        event["time_s"] = round(result.frame / fps, 3)
                        if recognizer is not None and event["event"] in ("first_seen", "reidentified"):
                            found = recognizer([crop(source_frames["last"], event["box"])])
                            event["attributes"] = found[0].as_dict()
                        events_file.write(json.dumps(event) + "\n")
                    rate = count / max(time.perf_counter() - start, 1e-9)
                    if writer is not None:
                        frame = source_frames["last"].copy()
                        draw_tracks(frame, result.boxes, result.ids)
                        draw_status(
                            frame,
                            f"{camera}  frame {result.frame + 1}  {rate:.1f} fps  ids {len(pipeline.gallery.identities) or pipeline._next_plain_id - 1}",
                        )
                        writer.write(frame)
                    if gallery is not None and pipeline.embedder is not None and result.frame % gallery_stride == 0:
                        _store_sightings(
                            gallery,
                            pipeline.embedder,
                            source_frames["last"],
                            result,
                            fps,
                            str(source),
                            linked,
                            recognizer,
                        )
                    bar.update(1)
                    bar.set_postfix(ids=len(result.ids))
                    _drain_stream_events(reader, camera, result.frame, events_file)
            finally:  # also on Ctrl-C or a stream that gives up: results so far are written, files closed
                bar.close()
                if writer is not None:
                    writer.close()
                (out / f"{camera}.txt").write_text("\n".join(rows) + ("\n" if rows else ""))
                if live:
                    _drain_stream_events(reader, camera, None, events_file)
                    reader.close()
            elapsed = time.perf_counter() - start
            notice = reader.shortfall() if hasattr(reader, "shortfall") else None
            if notice:
                summary["warnings"].append(notice)
            summary["sources"].append(
                {
                    "source": str(source),
                    "camera": camera,
                    "frames": count,
                    "seconds": round(elapsed, 2),
                    "fps": round(count / max(elapsed, 1e-9), 2),
                    "results": str(out / f"{camera}.txt"),
                }
            )
    summary["identities"] = len(pipeline.gallery.identities) if config.use_reid else pipeline._next_plain_id - 1
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary
