"""What a worker does with a segment, without Ray: read its frames (the worker opens the file itself: paths
travel, frames never do), index them into sightings, or track them into tracklets. Runs in a Ray actor, or
in-process for tests and single-machine runs."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from reidkit.errors import ReidkitError
from reidkit.scale.segments import Segment
from reidkit.video import VideoError


def segment_frames(segment: Segment, stride: int = 1) -> Iterator[tuple[int, np.ndarray]]:
    """(frame index, BGR frame) of the frames a segment reads whose index is a multiple of `stride`.

    Seeks to the first frame when the container reports an exact position after seeking; otherwise decodes
    from the start and skips, so a segment always sees exactly the frames a single pass would."""
    import cv2

    if segment.still:
        from reidkit.images import load_image

        yield 0, load_image(segment.path)
        return
    cap = cv2.VideoCapture(segment.path)
    if not cap.isOpened():
        raise VideoError(f"cannot open video (corrupt or unsupported): {segment.path}")
    try:
        index = 0
        if segment.first > 0:
            cap.set(cv2.CAP_PROP_POS_FRAMES, segment.first)
            if int(round(cap.get(cv2.CAP_PROP_POS_FRAMES))) == segment.first:
                index = segment.first
            else:
                cap.release()
                cap = cv2.VideoCapture(segment.path)
        read_any = False
        while segment.end is None or index < segment.end:
            ok, frame = cap.read() if index >= segment.first else (cap.grab(), None)
            if not ok:
                break
            if index >= segment.first and index % stride == 0:
                read_any = True
                yield index, frame
            index += 1
        if not read_any and segment.first == 0:
            raise VideoError(f"no frames could be read from {segment.path} (corrupt, empty or unsupported)")
    finally:
        cap.release()


def worker_name() -> str:
    """host:pid, how a summary names a worker."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class SegmentReport:
    """What a worker did with a segment: frames, seconds, its payload, or the input error that stopped it."""

    segment: Segment
    worker: str
    frames: int = 0
    seconds: float = 0.0
    error: str | None = None
    payload: object = None  # sightings (index) or tracklets (track)
    stored: int = 0  # sightings written by the worker itself (PostgreSQL)


# -- indexing -----------------------------------------------------------------------------------------------------
@dataclass
class Sightings:
    """Sightings of a segment, ready for `GalleryStore.add_sightings` (in frame order)."""

    vectors: np.ndarray
    infos: list[dict]
    thumbs: list[bytes]
    model: str
    role: str = "person"


def index_segment(finder, segment: Segment, stride: int, store=None) -> SegmentReport:
    """Detect and embed people in every `stride`-th frame of a segment. With `store` (a PostgreSQL gallery the
    worker opened itself) the sightings are written there; otherwise they travel back in the report."""
    from reidkit.gallery.ops import thumbnail

    started = time.perf_counter()
    report = SegmentReport(segment, worker_name())
    vectors, infos, thumbs = [], [], []
    try:
        for index, frame in segment_frames(segment, stride):
            report.frames += 1
            boxes, crops, found, extras = finder(frame)
            for box, c, v, extra in zip(boxes, crops, found, extras):
                vectors.append(np.asarray(v, np.float32))
                infos.append(
                    {
                        "source": segment.path,
                        "camera": segment.camera,
                        "frame": index,
                        "time": index / segment.fps if segment.fps else None,
                        "box": [round(float(x), 1) for x in box],
                        **extra,
                    }
                )
                thumbs.append(thumbnail(c))
    except ReidkitError as exc:
        report.error = str(exc)
        report.seconds = time.perf_counter() - started
        return report
    batch = Sightings(np.stack(vectors) if vectors else np.zeros((0, 0), np.float32), infos, thumbs, finder.model)
    if store is not None and infos:
        report.stored = len(store.add_sightings(batch.vectors, batch.model, infos, thumbs, role=batch.role))
    elif infos:
        report.payload = batch
    report.seconds = time.perf_counter() - started
    return report


# -- tracking -----------------------------------------------------------------------------------------------------
@dataclass
class Tracklet:
    """One person in one segment of one camera (the segment's own identities: re-entries inside the segment are
    already one tracklet): owned rows, warm-up rows, appearance exemplars."""

    camera: str
    source: str
    segment: int
    local_id: int
    rows: np.ndarray  # N×6: frame, x0, y0, x1, y1, score — frames the segment owns
    warm: np.ndarray  # the same for the warm-up frames (stitching only)
    exemplars: np.ndarray  # K×D unit vectors spread over the tracklet's life
    fps: float = 10.0

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.source, self.segment, self.local_id)


@dataclass
class _Growing:
    rows: list = field(default_factory=list)
    warm: list = field(default_factory=list)
    embeddings: list = field(default_factory=list)
    step: int = 1
    seen: int = 0


def _spread(vectors: list[np.ndarray], k: int = 16) -> np.ndarray:
    if not vectors:
        return np.zeros((0, 0), np.float32)
    pick = np.unique(np.linspace(0, len(vectors) - 1, min(k, len(vectors))).round().astype(int))
    return np.stack([vectors[i] for i in pick]).astype(np.float32)


def track_segment(pipeline, segment: Segment) -> SegmentReport:
    """Track a segment with a fresh tracker and identity memory; its identities become tracklets."""
    from reidkit.sources import Frame

    started = time.perf_counter()
    pipeline.reset()  # every segment is tracked on its own: results never depend on which worker got what
    report = SegmentReport(segment, worker_name())
    grow: dict[int, _Growing] = {}
    camera = f"{segment.camera}#{segment.index}"
    fps = segment.fps or 25.0
    stride = max(1, pipeline.config.stride)
    try:
        for index, image in segment_frames(segment, stride):
            report.frames += index >= segment.start
            frame = Frame(camera, index, index / fps, image, time.monotonic())
            for r in pipeline.step([frame], {camera: fps}):
                for k, identity in enumerate(r.ids):
                    g = grow.setdefault(identity, _Growing())
                    row = [index, *r.boxes[k], r.scores[k]]
                    (g.rows if index >= segment.start else g.warm).append(row)
                    e = r.embeddings[k] if r.embeddings is not None else None
                    if e is not None:
                        g.seen += 1
                        if g.seen % g.step == 0:
                            g.embeddings.append(np.asarray(e, np.float32))
                            if len(g.embeddings) >= 64:  # keep memory bounded: thin out, sample half as often
                                g.embeddings = g.embeddings[::2]
                                g.step *= 2
    except ReidkitError as exc:
        report.error = str(exc)
        report.seconds = time.perf_counter() - started
        return report
    report.payload = [
        Tracklet(
            segment.camera,
            segment.path,
            segment.index,
            identity,
            np.array(g.rows, np.float64).reshape(-1, 6),
            np.array(g.warm, np.float64).reshape(-1, 6),
            _spread(g.embeddings),
            fps / stride,
        )
        for identity, g in grow.items()
    ]
    report.seconds = time.perf_counter() - started
    return report


def media_segments(paths, camera: str | None, segment_s: float, overlap_s: float = 0.0) -> tuple[list, list]:
    """(segments, skipped) for files: videos cut by `plan_segments`, stills one each; unreadable files are
    listed as skipped with the reason, like single-process indexing does."""
    from reidkit.errors import InputError
    from reidkit.gallery.ops import STILL_SUFFIXES
    from reidkit.scale.segments import plan_segments
    from reidkit.video import video_info

    segments, skipped = [], []
    for path in paths:
        p = Path(path)
        cam = camera or p.stem
        if p.suffix.lower() in STILL_SUFFIXES:
            segments += plan_segments(str(p), cam, 1, 0.0, still=True)
            continue
        try:
            info = video_info(p)
        except InputError as exc:
            skipped.append({"file": str(p), "reason": str(exc)})
            continue
        segments += plan_segments(str(p), cam, int(info["frames"]), float(info["fps"] or 0.0), segment_s, overlap_s)
    return segments, skipped
