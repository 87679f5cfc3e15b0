"""Video pipeline: detect -> embed -> track -> re-identify across exits, re-entries and cameras.

The library part (`Pipeline.process`) turns frames into per-frame tracks with global ids; `run_videos`
adds the I/O: frame reading in a background thread, annotated MP4, MOTChallenge txt, JSON-lines events.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import NamedTuple

import numpy as np

from reidkit.cameras import CameraLayout
from reidkit.detect import Detections, Detector
from reidkit.embed import Embedder
from reidkit.models.catalog import model_or_default
from reidkit.preprocess import crop
from reidkit.reassociate import ReassociationConfig
from reidkit.sources import Frame, camera_names
from reidkit.track.fusion import IdentityFusion
from reidkit.track.tracker import Tracker, TrackerConfig
from reidkit.track.tracklets import TrackletBook
from reidkit.verify import UNCALIBRATED


@dataclass(frozen=True)
class PipelineConfig:
    """What the pipeline runs and how it decides (see docs/tracking.md)."""

    detector: str | None = None  # the catalog's person-detect default
    detector_precision: str | None = None
    detector_max_stretch: tuple[float, float] | None = (1.25, 2.0)  # pad narrow frames (Detector's max_stretch)
    reid: str | None = None  # the catalog's person-reid-tracking default
    reid_precision: str | None = None
    use_reid: bool = True
    device: str = "CPU"
    tracker: TrackerConfig = TrackerConfig()
    reid_threshold: float = 0.97  # calibrated P(same) needed to give a new track an old identity
    min_box_height: float = 0.0  # detections shorter than this (pixels) are ignored
    stride: int = 1
    detect_every: int = 1  # run the detector on every N-th frame of a camera; motion only in between


@dataclass(frozen=True)
class FrameResult:
    """One camera frame after tracking: confirmed tracks with global ids, boxes in frame pixels, scores, the
    embedding each track got this frame (None where the detector was skipped or the box scored low), the
    frame's events, and the frame itself (for sinks that draw or crop)."""

    camera: str
    frame: int  # 0-based frame index in the source
    ids: list[int]
    boxes: np.ndarray
    scores: np.ndarray
    events: list[dict] = field(default_factory=list)
    time: float = 0.0  # file time, or wall-clock seconds for a live source
    embeddings: list[np.ndarray | None] | None = None
    image: np.ndarray | None = None
    source: str = ""
    read_at: float = 0.0  # time.monotonic() when the frame was read
    track_ids: list[int] = field(default_factory=list)  # the camera tracker's id of each track
    masked: np.ndarray | None = None  # the frame as shown and stored when --blur masks people (image stays raw)
    detections: np.ndarray | None = None  # every detected person box, tracked or not yet (None: detector skipped)

    @property
    def shown(self) -> np.ndarray | None:
        """The frame for outputs people look at (video, preview, thumbnails): masked when masking is on."""
        return self.masked if self.masked is not None else self.image


FrameTracks = FrameResult  # the name before the multi-camera runtime


class Observation(NamedTuple):
    """One frame after its camera's tracker advanced: the tracks it returned and the frame's detection embeddings
    (None on a frame the detector skipped)."""

    frame: Frame
    tracker: Tracker
    tracks: list
    embeddings: np.ndarray | None
    restarted: bool = False  # the camera's frame size changed (a stream came back at another resolution):
    # its tracker started over, and the tracks it had are gone
    detections: np.ndarray | None = None  # every person box the detector found (None on a skipped frame)


def new_fusion(config: PipelineConfig, layout: CameraLayout | None = None, calibration=None) -> IdentityFusion:
    """The identity fusion a run with `config` uses; without `calibration`, the tracking re-id model's own, read
    from the catalog (no model is loaded: what a Ray driver or fusion actor needs)."""
    if calibration is None:
        calibration = UNCALIBRATED
        if config.use_reid:
            from reidkit.models.store import ModelStore

            reid = model_or_default(config.reid, "person-reid-tracking")
            spec = ModelStore().resolve(reid, config.reid_precision).spec
            calibration = (spec.calibration if spec else None) or UNCALIBRATED
    return IdentityFusion(calibration, config.reid_threshold, layout, use_appearance=config.use_reid)


class Pipeline:
    """Models, one tracker per camera and one identity fusion over all cameras.

    `step` takes a batch of frames from several cameras: detection runs as parallel requests over the batch, the
    re-id crops of every camera go into one embedding batch, then each camera's tracker advances and fusion
    decides identities in timestamp order. `process` is the one-camera loop over it.
    """

    def __init__(self, config: PipelineConfig = PipelineConfig(), layout: CameraLayout | None = None) -> None:
        self.config = config
        self.detector = Detector(
            config.detector,
            config.detector_precision,
            config.device,
            confidence=config.tracker.low_thresh,
            nms_iou=0.5,
            max_stretch=config.detector_max_stretch,
        )
        reid = model_or_default(config.reid, "person-reid-tracking")
        self.embedder = Embedder(reid, config.reid_precision, config.device) if config.use_reid else None
        calibration = (self.embedder.spec.calibration if self.embedder and self.embedder.spec else None) or UNCALIBRATED
        self.fusion = new_fusion(config, layout, calibration)
        self.trackers: dict[str, Tracker] = {}
        self._frames_seen: dict[str, int] = {}
        self._sizes: dict[str, tuple] = {}

    @property
    def identities(self) -> int:
        """Global identities given so far."""
        return self.fusion.count

    def reset(self) -> None:
        """Forget every camera and identity (the models stay loaded): a new, independent run."""
        self.fusion = new_fusion(self.config, self.fusion.layout, self.fusion.gallery.calibration)
        self.trackers.clear()
        self._frames_seen.clear()
        self._sizes.clear()

    def tracker(self, camera: str, fps: float) -> Tracker:
        """The camera's tracker (created on its first frame)."""
        if camera not in self.trackers:
            self.trackers[camera] = Tracker(self.config.tracker, frame_rate=fps)
        return self.trackers[camera]

    def detect(self, frame: np.ndarray) -> Detections:
        """Detections of one frame, minus boxes below the minimum height."""
        return self._keep_tall(self.detector.detect(frame))

    def _keep_tall(self, dets: Detections) -> Detections:
        if self.config.min_box_height > 0 and len(dets):
            dets = dets[(dets.xyxy[:, 3] - dets.xyxy[:, 1]) >= self.config.min_box_height]
        return dets

    def embed_batch(self, frames: list[np.ndarray], dets: list[Detections]) -> list[np.ndarray | None]:
        """Unit-norm embeddings of every frame's detections at or above the tracker's high threshold, all frames'
        crops in one batch (zero rows for the low-confidence ones)."""
        if self.embedder is None:
            return [None] * len(frames)
        crops, owners = [], []
        out: list[np.ndarray | None] = []
        for k, (frame, d) in enumerate(zip(frames, dets)):
            out.append(np.zeros((len(d), self.embedder.dim), np.float32) if len(d) else None)
            for j in np.flatnonzero(d.confidence >= self.config.tracker.high_thresh):
                crops.append(crop(frame, d.xyxy[j]))
                owners.append((k, j))
        if crops:
            vectors = self.embedder.embed(crops)
            for (k, j), v in zip(owners, vectors):
                out[k][j] = v
        return out

    def embed(self, frame: np.ndarray, dets: Detections) -> np.ndarray | None:
        """Unit-norm embeddings of one frame's detections (see embed_batch)."""
        return self.embed_batch([frame], [dets])[0]

    def observe(self, frames: list[Frame], fps: dict[str, float] | None = None) -> list[Observation]:
        """The per-camera half of `step`: detection over the batch, one embedding batch for every camera's crops,
        each camera's tracker advanced (in time order). Identities are not decided here."""
        fps = fps or {}
        frames = sorted(frames, key=lambda f: f.time)
        every = max(1, self.config.detect_every)
        detect = []
        for f in frames:
            seen = self._frames_seen.get(f.camera, 0)
            self._frames_seen[f.camera] = seen + 1
            detect.append(seen % every == 0)
        todo = [f for f, d in zip(frames, detect) if d]
        found = [self._keep_tall(d) for d in self.detector.detect_batch([f.image for f in todo])]
        embedded = self.embed_batch([f.image for f in todo], found)
        by_frame = {id(f): (d, e) for f, d, e in zip(todo, found, embedded)}
        seen_now = []
        for f in frames:
            restarted = self._sizes.get(f.camera, f.image.shape) != f.image.shape
            self._sizes[f.camera] = f.image.shape
            if restarted:  # boxes in the old pixels mean nothing now
                self.trackers.pop(f.camera, None)
            tracker = self.tracker(f.camera, fps.get(f.camera, 30.0) / max(1, self.config.stride))
            if id(f) in by_frame:
                dets, emb = by_frame[id(f)]
                tracks = tracker.update(dets.xyxy, dets.confidence, emb)
                boxes = dets.xyxy
            else:
                tracks, emb, boxes = tracker.coast(), None, None
            seen_now.append(Observation(f, tracker, tracks, emb, restarted, boxes))
        return seen_now

    def step(self, frames: list[Frame], fps: dict[str, float] | None = None) -> list[FrameResult]:
        """Track a batch of frames (at most one per camera), in time order; returns one result per frame."""
        results = []
        for f, tracker, tracks, emb, restarted, detected in self.observe(frames, fps):
            if restarted:
                self.fusion.forget_camera(f.camera)
            decision = self.fusion.update(f.camera, f.time, f.index, tracker.events, tracker.tracks, emb)
            if decision.ended:
                tracker.end(decision.ended)
            tracks = [t for t in tracks if t.track_id in decision.ids]
            embeddings = None
            if emb is not None:
                embeddings = [emb[t.det_index] if t.det_index >= 0 and emb[t.det_index].any() else None for t in tracks]
            results.append(
                FrameResult(
                    f.camera,
                    f.index,
                    [decision.ids[t.track_id] for t in tracks],
                    np.array([t.xyxy for t in tracks]).reshape(-1, 4),
                    np.array([t.score for t in tracks]),
                    decision.events,
                    f.time,
                    embeddings,
                    f.image,
                    "",
                    f.read_at,
                    [t.track_id for t in tracks],
                    detections=detected,
                )
            )
        return results

    def process(
        self, frames: Iterable[tuple[int, np.ndarray]], camera: str = "cam1", fps: float = 30.0
    ) -> Iterator[FrameResult]:
        """Track one camera's (index, frame) pairs; ids are global across every camera this pipeline has seen."""
        for index, image in frames:
            yield from self.step([Frame(camera, index, index / fps, image, time.monotonic())], {camera: fps})


@dataclass
class RunOptions:
    """What `run_videos` writes besides the per-camera MOT txt and events.jsonl."""

    write_video: bool = True
    progress: bool = True
    max_frames: int | None = None
    gallery: object | None = None  # a GalleryStore
    gallery_stride: int = 10
    attributes: bool = True
    max_retries: int | None = None
    realtime: bool = False
    webhook: str | None = None
    mqtt: str | None = None
    serve: int | str | None = None  # live preview port (or HOST:PORT)
    serve_authorize: Callable[[str | None], bool] | None = None  # is this key allowed to watch the preview?
    hub: object | None = None  # a preview.PreviewHub served by someone else (reidkit serve --track)
    stop: threading.Event | None = None  # set from another thread to end the run (outputs complete)
    sinks: list = field(default_factory=list)  # extra Sink objects
    reassociate: bool | None = None  # re-associate every tracklet after the run; None: when every source is a
    # recorded file (on the layouts of docs/benchmarks.md it beats the online ids on the mean), not for streams
    reassociation: ReassociationConfig = ReassociationConfig()
    live_corrections: float | None = None  # re-associate every N s of stream time; merges go out as they are found
    blur: str = "none"  # mask people in what is shown and stored: "faces" (heads), "people" (bodies) or "none"
    unblur_enrolled: bool = False  # spare people the gallery recognises as enrolled (needs `gallery`)


class Masker:
    """`--blur`: each frame's `masked` copy (what videos, previews and thumbnails show) with people's heads or
    bodies pixelated; with `enrolled` (a lookup such as gallery.ops.EnrolledLookup) people it recognises are
    spared. Each global id is looked up at most `tries` times, `every` frames apart, until recognised."""

    def __init__(self, kind: str, enrolled=None, tries: int = 3, every: int = 10) -> None:
        from reidkit.masking import checked_kind

        self.kind, self.enrolled, self.tries, self.every = checked_kind(kind), enrolled, tries, every
        self.spared: dict[int, int] = {}  # global id -> enrolled identity
        self._asked: dict[int, tuple[int, int]] = {}  # global id -> (times asked, frame last asked)

    def apply(self, result: FrameResult) -> FrameResult:
        from dataclasses import replace

        from reidkit.masking import mask

        if self.kind == "none" or result.image is None:
            return result
        if self.enrolled is not None:
            self._recognise(result)
        boxes, spare = _masked_boxes(result, self.spared)
        return replace(result, masked=mask(result.image, boxes, self.kind, spare))

    def _recognise(self, result: FrameResult) -> None:
        for identity, box in zip(result.ids, result.boxes):
            asked, last = self._asked.get(identity, (0, -(10**9)))
            if identity in self.spared or asked >= self.tries or result.frame - last < self.every:
                continue
            self._asked[identity] = (asked + 1, result.frame)
            if box[3] - box[1] >= 16 and box[2] - box[0] >= 6:
                found = self.enrolled(crop(result.image, box))
                if found is not None:
                    self.spared[identity] = found


class _Latency:
    """Frame-to-event latency per camera: from the moment a frame was read to the moment its results left."""

    def __init__(self) -> None:
        self.samples: dict[str, list[float]] = {}

    def add(self, camera: str, read_at: float) -> None:
        self.samples.setdefault(camera, []).append(time.monotonic() - read_at)

    def summary(self, camera: str) -> dict:
        s = np.array(self.samples.get(camera, []))
        if not len(s):
            return {}
        return {
            "latency_ms_p50": round(1000 * float(np.percentile(s, 50)), 1),
            "latency_ms_p95": round(1000 * float(np.percentile(s, 95)), 1),
        }


def _build_sinks(out: Path, names, fps, options: RunOptions, pipeline: Pipeline, recognizer, status) -> list:
    from reidkit.sinks import EventLogSink, GallerySink, MotSink, MqttSink, VideoSink, WebhookSink

    sinks = [EventLogSink(out / "events.jsonl"), MotSink(out, names)]
    try:
        if options.write_video:
            sinks.append(VideoSink(out, fps, status, deferred=bool(options.reassociate)))
        if options.gallery is not None and pipeline.embedder is not None:
            from reidkit.gallery.ops import model_key

            key = model_key(pipeline.embedder)
            sinks.append(GallerySink(options.gallery, key, options.gallery_stride, recognizer, fps))
        if options.webhook:
            sinks.append(WebhookSink(options.webhook))
        if options.mqtt:
            sinks.append(MqttSink(options.mqtt))
        links = next((s.linked for s in sinks if isinstance(s, GallerySink)), None)
        if options.serve is not None:
            from reidkit.preview import PreviewSink

            sinks.append(PreviewSink(options.serve, names, links, options.serve_authorize))
        if options.hub is not None:
            from reidkit.preview import HubSink

            if links is not None:
                options.hub.gallery_ids = links
            sinks.append(HubSink(options.hub))
    except BaseException:
        for sink in sinks:
            sink.close()
        raise
    return sinks + list(options.sinks)


def _describe_attributes(recognizer, result: FrameResult) -> None:
    """Person attributes on first_seen / reidentified events (one batch per frame)."""
    wanted = [e for e in result.events if e["event"] in ("first_seen", "reidentified")]
    if recognizer is None or not wanted or result.image is None:
        return
    found = recognizer([crop(result.image, e["box"]) for e in wanted])
    for event, attrs in zip(wanted, found):
        event["attributes"] = attrs.as_dict()


def _stop_on_sigterm():
    """SIGTERM stops a run like Ctrl-C (outputs complete); returns a function restoring the old handler."""
    import signal

    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum, frame):
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, handler)
    return lambda: signal.signal(signal.SIGTERM, old)


def recorded(sources: list[str | Path]) -> bool:
    """Whether every source is recorded footage (files, folders), none a stream or webcam: then the whole run is
    known at its end and re-association can revise it."""
    from reidkit.sources import is_live

    return bool(sources) and not any(is_live(str(s)) for s in sources)


def run_videos(
    sources: list[str | Path],
    out_dir: str | Path,
    config: PipelineConfig = PipelineConfig(),
    cameras: list[str] | None = None,
    layout: CameraLayout | None = None,
    options: RunOptions | None = None,
    **kwargs,
) -> dict:
    """Track every source at the same time — video files, image folders, stream URLs, webcams — with one identity
    fusion over all cameras; write `<camera>.txt`, `<camera>.mp4`, `events.jsonl` and `summary.json` to `out_dir`,
    plus the sinks `options` asks for (gallery sightings, webhook, MQTT, live preview).

    Keyword arguments are RunOptions fields. Ctrl-C and SIGTERM stop the run with every output complete.
    """
    from tqdm import tqdm

    from reidkit.files import make_dir
    from reidkit.sources import CameraMux, open_camera

    options = options or RunOptions(**kwargs)
    if options.reassociate is None:
        options = replace(options, reassociate=recorded(sources))
    masker = _masker(options)  # a bad masking option is refused before any source opens
    out = make_dir(Path(out_dir))
    names = camera_names(sources, cameras)
    opened = []
    try:
        for source, name in zip(sources, names):
            opened.append(
                open_camera(source, name, config.stride, options.max_frames, options.realtime, options.max_retries)
            )
    except BaseException:
        for s in opened:
            s.close()
        raise
    fps = {s.camera: s.fps for s in opened}
    pipeline = Pipeline(config, layout)
    recognizer = None
    if options.attributes:
        from reidkit.attributes import AttributeRecognizer

        recognizer = AttributeRecognizer(device=config.device)
    mux = CameraMux(opened, options.max_frames, stop=options.stop)
    counts = {name: 0 for name in names}
    latency = _Latency()
    started, started_at = time.perf_counter(), time.time()

    def status(result: FrameResult) -> str:
        rate = counts[result.camera] / max(time.perf_counter() - started, 1e-9)
        return f"{result.camera}  frame {result.frame + 1}  {rate:.1f} fps  ids {pipeline.identities}"

    sinks = _build_sinks(
        out, names, {n: f / config.stride for n, f in fps.items()}, options, pipeline, recognizer, status
    )
    totals = [s.total for s in opened]
    total = sum(totals) if all(t is not None for t in totals) else None
    book = TrackletBook() if options.reassociate or options.live_corrections else None
    live = _live_corrections(book, pipeline, layout, options)
    zones = _zone_watcher(out, layout)
    _write_run_info(out, names, fps, started_at, options.reassociate)
    bar = tqdm(total=total, unit="frame", desc="tracking", disable=not options.progress or None)
    restore = _stop_on_sigterm()
    try:
        for batch in mux:
            for result in pipeline.step(batch, fps) if batch else []:
                result = _with_source(result, opened)
                if book is not None:
                    book.add_frame(result)
                _describe_attributes(recognizer, result)
                if zones is not None:
                    result.events.extend(
                        zones.update(
                            result.camera, result.frame, result.time, result.ids, result.boxes, result.track_ids
                        )
                    )
                result = masker.apply(result)
                for event in result.events:
                    for sink in sinks:
                        sink.event(event)
                for sink in sinks:
                    sink.frame(result)
                counts[result.camera] += 1
                latency.add(result.camera, result.read_at)
            for event in [*mux.events(), *(live.update(max(f.time for f in batch)) if live and batch else [])]:
                for sink in sinks:
                    sink.event(event)
            bar.update(len(batch))
            bar.set_postfix(ids=pipeline.identities)
    finally:  # also on Ctrl-C, SIGTERM or a stream that gives up: results so far are written, files closed
        restore()
        bar.close()
        mux.close()
        for event in [*mux.events(), *(zones.finish() if zones is not None else [])]:
            for sink in sinks:
                sink.event(event)
        try:
            reassociated = _reassociate(
                out, book if options.reassociate else None, pipeline, layout, sinks, options.reassociation
            )
        finally:
            for sink in sinks:
                sink.close()
    if reassociated is not None:
        _rewrite_outputs(out, names, book, reassociated, layout, fps)
    elapsed = time.perf_counter() - started
    summary = _summary(opened, names, counts, elapsed, out, pipeline, latency, sinks)
    if live is not None:
        summary["live_corrections"] = {"merges": len(live.announced), "seconds": round(live.seconds, 3)}
    if masker.kind != "none":
        summary["masking"] = {"blur": masker.kind, "spared": {str(g): i for g, i in sorted(masker.spared.items())}}
    summary["started_at"] = round(started_at, 3)  # wall clock of frame 0: reports place file times in the day
    if reassociated is not None:
        summary["identities_online"] = summary["identities"]
        summary["identities"] = reassociated.identities_after
        summary["reassociation"] = reassociated.summary()
    for source, error in mux.errors:
        summary["warnings"].append(f"{source.camera}: {error}")
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    if mux.errors and not any(counts.values()):
        raise mux.errors[0][1]
    return summary


def _masked_boxes(result: FrameResult, spared: dict) -> tuple[np.ndarray, list[bool]]:
    """Every person box of a frame — its tracks and the detections no track holds yet (a person is masked from
    the first frame they are detected, not once their track is confirmed) — and which are spared."""
    from reidkit.track.association import iou_matrix

    boxes, spare = result.boxes.reshape(-1, 4), [identity in spared for identity in result.ids]
    if result.detections is None or not len(result.detections):
        return boxes, spare
    overlap = iou_matrix(result.detections, boxes)
    held = overlap.max(axis=1) >= 0.3 if len(boxes) else np.zeros(len(result.detections), bool)
    untracked = result.detections[~held]
    return np.concatenate([boxes, untracked]), spare + [False] * len(untracked)


def _masker(options: RunOptions) -> Masker:
    """The run's masking stage (a no-op without --blur)."""
    from reidkit.errors import ConfigError

    enrolled = None
    if options.unblur_enrolled:
        if options.gallery is None or options.blur == "none":
            raise ConfigError("--unblur-enrolled spares enrolled people from --blur: it needs --blur and --gallery")
        from reidkit.gallery.ops import EnrolledLookup

        enrolled = EnrolledLookup(options.gallery)
    return Masker(options.blur, enrolled)


def _live_corrections(book, pipeline: Pipeline, layout, options: RunOptions):
    """The run's live re-association (None unless `live_corrections` asks for one)."""
    if not options.live_corrections:
        return None
    from reidkit.reassociate import LiveCorrections

    calibration = pipeline.fusion.gallery.calibration
    return LiveCorrections(book, calibration, layout, options.reassociation, every_s=options.live_corrections)


def _write_run_info(out: Path, names, fps: dict, started_at: float, reassociate: bool) -> None:
    """OUT/run.json, written as the run starts: what `reidkit report` needs to read the MOT files while they grow
    (cameras, frame rates, wall clock of frame 1)."""
    info = {"cameras": list(names), "video_fps": fps, "started_at": round(started_at, 3), "reassociate": reassociate}
    (out / "run.json").write_text(json.dumps(info, indent=2))


def _zone_watcher(out: Path, layout: CameraLayout | None):
    """The run's zone/line watcher (None when the layout has no zones or lines); the layout is saved beside the
    results as cameras.toml, so `reidkit report OUT/` finds its cameras, zones and lines."""
    if layout is None or not layout.cameras:
        return None
    from reidkit.cameras import layout_toml
    from reidkit.files import atomic_write
    from reidkit.zones import ZoneWatcher

    with atomic_write(out / "cameras.toml") as fh:
        fh.write(layout_toml(layout))
    return ZoneWatcher(layout) if layout.has_zones else None


def _reassociate(out: Path, book, pipeline: Pipeline, layout, sinks, config):
    """The global re-association pass of a recorded run (None without a tracklet book): final ids for every
    tracklet; its corrections (identity_merged / identity_split) and a closing `reassociated` event go to every
    sink while they are open, so the event log, MQTT and webhooks tell the same story, and the final ids to
    each sink's `final` (the annotated video draws them, the gallery moves its sightings)."""
    if book is None:
        return None
    from reidkit.reassociate import reassociate
    from reidkit.track.tracklets import save_book

    save_book(book, out / "tracklets.npz")
    result = reassociate(book, pipeline.fusion.gallery.calibration, layout, config)
    for event in [*result.events, {"event": "reassociated", **result.summary()}]:
        for sink in sinks:
            sink.event(event)
    for sink in sinks:
        sink.final(result.labels)
    return result


def _rewrite_outputs(out: Path, names, book, result, layout, fps: dict) -> None:
    """The final ids written back into the MOT files and the event log. Zone visits and
    line crossings are replayed on the final ids (a person whose track broke inside a zone made one visit), so
    the log agrees with what `reidkit report` counts from the MOT files; each replayed event names the camera
    track that held the person then. (The sinks, the gallery's among them, got the final ids in `_reassociate`.)"""
    from reidkit.reassociate import rewrite_events, rewrite_mot
    from reidkit.zones import EVENTS, replay_book

    rewrite_mot(out, book, result.labels, names)
    if layout is not None and layout.has_zones:
        visits = replay_book(layout, book, result.labels, names, fps)
        rewrite_events(out / "events.jsonl", result.labels, EVENTS, visits)
    else:
        rewrite_events(out / "events.jsonl", result.labels)


def _with_source(result: FrameResult, opened) -> FrameResult:
    from dataclasses import replace

    name = next((s.name for s in opened if s.camera == result.camera), "")
    return replace(result, source=name)


def _summary(opened, names, counts, elapsed, out, pipeline, latency, sinks) -> dict:
    summary: dict = {"sources": [], "identities": pipeline.identities, "seconds": round(elapsed, 2), "warnings": []}
    for s, name in zip(opened, names):
        summary["sources"].append(
            {
                "source": s.name,
                "camera": name,
                "frames": counts[name],
                "dropped": s.dropped,
                "seconds": round(elapsed, 2),
                "fps": round(counts[name] / max(elapsed, 1e-9), 2),
                "video_fps": s.fps,
                "results": str(out / f"{name}.txt"),
                **latency.summary(name),
            }
        )
        notice = s.shortfall()
        if notice:
            summary["warnings"].append(notice)
    summary["frames_per_second"] = round(sum(counts.values()) / max(elapsed, 1e-9), 2)
    for sink in sinks:
        stats = sink.stats()
        if stats:
            summary[type(sink).__name__.removesuffix("Sink").lower()] = stats
    return summary
