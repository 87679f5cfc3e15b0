"""Tracklets: what a run saw of each camera track, kept as evidence for re-association. Pure NumPy.

A tracklet is one camera's track from start to end: its boxes frame by frame (what the MOT file holds) and its
appearance, summarised as a quality-weighted mean of the track's embeddings plus a few exemplars. Not every
crop is good evidence: a person cut by the frame edge, half hidden behind somebody else, small or blurred gives
an embedding of something else, so each embedding is weighted by `crop_quality` and the worst are left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

MAX_EXEMPLARS = 8


def crop_quality(boxes: np.ndarray, width: int, height: int, edge_px: float = 2.0) -> np.ndarray:
    """A weight in [0, 1] per box of one frame (x0, y0, x1, y1): 0 when cut by the frame's left/right/bottom edge
    or mostly covered by another box, otherwise rising with the box's height (relative to the tallest of the
    frame) and falling with the share of it that another box covers."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    n = len(boxes)
    if n == 0:
        return np.zeros(0)
    x0, y0, x1, y1 = boxes.T
    cut = (x0 <= edge_px) | (x1 >= width - edge_px) | (y1 >= height - edge_px)
    h = np.maximum(y1 - y0, 1.0)
    area = np.maximum((x1 - x0) * h, 1.0)
    ix = np.clip(np.minimum(x1[:, None], x1[None]) - np.maximum(x0[:, None], x0[None]), 0, None)
    iy = np.clip(np.minimum(y1[:, None], y1[None]) - np.maximum(y0[:, None], y0[None]), 0, None)
    covered = ix * iy / area[:, None]
    np.fill_diagonal(covered, 0.0)
    occlusion = covered.max(axis=1) if n > 1 else np.zeros(n)
    size = np.sqrt(h / h.max())
    quality = size * np.clip(1.0 - 2.0 * occlusion, 0.0, 1.0)
    quality[cut] = 0.0
    return quality


@dataclass
class Tracklet:
    """One camera track: its boxes (rows of frame, x0, y0, x1, y1, score, time) and appearance evidence."""

    camera: str
    track_id: int
    online_id: int  # the global id the online pass gave it (its first)
    rows: list[tuple] = field(default_factory=list)
    weight_sum: float = 0.0
    weighted: np.ndarray | None = None  # Σ quality × embedding
    exemplars: list[tuple[float, np.ndarray]] = field(default_factory=list)  # (quality, embedding), best kept

    @property
    def key(self) -> tuple[str, int]:
        return (self.camera, self.track_id)

    @property
    def start(self) -> float:
        return self.rows[0][6]

    @property
    def end(self) -> float:
        return self.rows[-1][6]

    @property
    def frames(self) -> np.ndarray:
        return np.array([r[0] for r in self.rows], int)

    @property
    def boxes(self) -> np.ndarray:
        return np.array([r[1:5] for r in self.rows], float).reshape(-1, 4)

    @property
    def has_appearance(self) -> bool:
        return self.weighted is not None and self.weight_sum > 0

    def feature(self) -> np.ndarray | None:
        """The quality-weighted mean of the track's unit embeddings (not re-normalised: its dot product with
        another tracklet's is their mean pairwise cosine, in the units of the model's calibration)."""
        if not self.has_appearance:
            return None
        return self.weighted / self.weight_sum

    def add(self, frame: int, box, score: float, time: float, embedding, quality: float) -> None:
        self.rows.append((int(frame), *(float(v) for v in box), float(score), float(time)))
        if embedding is None or quality <= 0.0:
            return
        e = np.asarray(embedding, np.float64)
        self.weighted = quality * e if self.weighted is None else self.weighted + quality * e
        self.weight_sum += quality
        self.exemplars.append((quality, e))
        if len(self.exemplars) > 2 * MAX_EXEMPLARS:  # keep the best, spread over time (every other one)
            self.exemplars = sorted(self.exemplars, key=lambda q: -q[0])[:MAX_EXEMPLARS]


class TrackletBook:
    """Every tracklet of a run, filled frame result by frame result (camera, frame, track ids, boxes,
    embeddings, the frame's size)."""

    def __init__(self) -> None:
        self.tracklets: dict[tuple[str, int], Tracklet] = {}
        self._closed = 0
        self._shapes: dict[str, tuple] = {}

    def add_frame(self, result) -> None:
        """Fold one FrameResult in (its track ids, global ids, boxes, scores, embeddings)."""
        shape = result.image.shape if result.image is not None else None
        if shape is not None and self._shapes.setdefault(result.camera, shape) != shape:
            self._shapes[result.camera] = shape  # a stream back at another size: its tracker started over
            self.forget_camera(result.camera)
        if not len(result.ids):
            return
        height, width = shape[:2] if shape is not None else (1 << 30, 1 << 30)
        quality = crop_quality(result.boxes, width, height)
        embeddings = result.embeddings or [None] * len(result.ids)
        for k, (track_id, identity) in enumerate(zip(result.track_ids, result.ids)):
            key = (result.camera, int(track_id))
            tracklet = self.tracklets.get(key)
            if tracklet is None:
                tracklet = self.tracklets[key] = Tracklet(result.camera, int(track_id), int(identity))
            tracklet.add(result.frame, result.boxes[k], result.scores[k], result.time, embeddings[k], quality[k])

    def forget_camera(self, camera: str) -> None:
        """A camera whose tracker started over reuses track ids: its tracklets so far are closed under new keys."""
        for key in [k for k in self.tracklets if k[0] == camera and k[1] >= 0]:
            tracklet = self.tracklets.pop(key)
            self._closed += 1
            tracklet.track_id = -self._closed
            self.tracklets[tracklet.key] = tracklet

    def ordered(self) -> list[Tracklet]:
        """Tracklets by start time (camera, track id to break ties)."""
        return sorted(self.tracklets.values(), key=lambda t: (t.start, t.camera, t.track_id))


def mot_rows(book: TrackletBook, labels: dict, cameras=()) -> dict[str, np.ndarray]:
    """Per camera (every one of `cameras`, plus any with tracklets), the tracklets' boxes as MOT rows under
    `labels` (tracklet key -> global id): frame 1-based, id, x, y, w, h, score."""
    rows: dict[str, list] = {c: [] for c in cameras}
    for t in book.tracklets.values():
        identity = labels[t.key]
        rows.setdefault(t.camera, []).extend(
            [r[0] + 1, identity, r[1], r[2], r[3] - r[1], r[4] - r[2], r[5]] for r in t.rows
        )
    return {c: np.array(v, float).reshape(-1, 7) for c, v in rows.items()}


def save_book(book: TrackletBook, path) -> None:
    """Write a run's tracklets (boxes and appearance summaries, no pictures) to an .npz file."""
    tracklets = book.ordered()
    rows = [np.array(t.rows, float).reshape(-1, 7) for t in tracklets]
    dim = next((len(t.weighted) for t in tracklets if t.weighted is not None), 0)
    weighted = np.zeros((len(tracklets), dim))
    for k, t in enumerate(tracklets):
        if t.weighted is not None:
            weighted[k] = t.weighted
    with open(path, "wb") as fh:
        np.savez_compressed(
            fh,
            cameras=np.array([t.camera for t in tracklets], dtype=str),
            ids=np.array([[t.track_id, t.online_id] for t in tracklets], int).reshape(-1, 2),
            lengths=np.array([len(r) for r in rows], int),
            rows=np.concatenate(rows) if rows else np.zeros((0, 7)),
            weighted=weighted,
            weight_sum=np.array([t.weight_sum for t in tracklets], float),
        )


def load_book(path) -> TrackletBook:
    """The tracklets `save_book` wrote (a `reidkit track` output folder's tracklets.npz)."""
    from reidkit.errors import DatasetError

    try:
        with np.load(path, allow_pickle=False) as data:
            parts = {k: data[k] for k in ("cameras", "ids", "lengths", "rows", "weighted", "weight_sum")}
    except (OSError, ValueError, KeyError) as exc:
        raise DatasetError(f"{path} is not a tracklets file written by `reidkit track`: {exc}") from None
    book = TrackletBook()
    starts = np.concatenate([[0], np.cumsum(parts["lengths"])])
    for k, camera in enumerate(parts["cameras"]):
        t = Tracklet(str(camera), int(parts["ids"][k, 0]), int(parts["ids"][k, 1]))
        t.rows = [(int(r[0]), *map(float, r[1:])) for r in parts["rows"][starts[k] : starts[k + 1]]]
        if parts["weight_sum"][k] > 0:
            t.weighted, t.weight_sum = parts["weighted"][k].astype(np.float64), float(parts["weight_sum"][k])
        book.tracklets[t.key] = t
    return book
