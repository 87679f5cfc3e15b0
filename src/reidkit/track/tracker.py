"""A BoT-SORT / ByteTrack-family tracker: Kalman motion, two-stage high/low-confidence matching, appearance.

Each frame: (1) confirmed and lost tracks vs high-confidence detections, cost = min(IoU distance, cosine
distance) where appearance only counts for pairs that overlap and look alike (BoT-SORT); (2) still-unmatched
tracked tracks vs low-confidence detections by IoU alone (ByteTrack: occluded people keep their track);
(3) tentative tracks vs the remaining high detections; (4) new tentative tracks from the rest. A track is
confirmed after `n_init` matched frames, lost when unmatched, removed after `track_buffer` frames lost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from reidkit.track import kalman
from reidkit.track.association import assign, cosine_distance, fuse_score, gated_appearance_cost, iou_matrix


class TrackState(Enum):
    """Life cycle of a track."""

    TENTATIVE = "tentative"
    TRACKED = "tracked"
    LOST = "lost"
    REMOVED = "removed"


@dataclass(frozen=True)
class TrackerConfig:
    """Tracker parameters (defaults from ByteTrack / BoT-SORT's MOT17 settings)."""

    high_thresh: float = 0.5  # detections at or above go to the first association
    low_thresh: float = 0.1  # detections in [low, high) go to the second association only
    new_track_thresh: float = 0.6  # an unmatched detection must score this much to start a track
    match_thresh: float = 0.8  # max fused cost in the first association
    low_match_thresh: float = 0.5  # max IoU distance in the second association
    tentative_match_thresh: float = 0.7
    proximity_thresh: float = 0.5  # appearance counts only when IoU distance is below this
    appearance_thresh: float = 0.25  # ... and the (halved) cosine distance below this
    track_buffer: int = 30  # frames a lost track is kept (at 30 fps; scaled by the frame rate)
    n_init: int = 2  # matched frames before a track is confirmed
    ema_alpha: float = 0.9  # appearance feature: alpha * old + (1 - alpha) * new
    use_appearance: bool = True
    lost_appearance: bool = True  # lost tracks may match by appearance alone within a motion radius
    max_speed: float = 1.0  # ... of (1 + max_speed × seconds lost) box heights
    fuse_score: bool = False  # weight IoU similarity by confidence (ByteTrack's MOT17 setting; off:
    # measured worse on PETS09, see docs/benchmarks.md)


@dataclass
class Track:
    """One tracked object: Kalman state, life cycle, appearance feature."""

    track_id: int
    mean: np.ndarray
    cov: np.ndarray
    score: float
    start_frame: int
    state: TrackState = TrackState.TENTATIVE
    hits: int = 1
    last_frame: int = 0
    feature: np.ndarray | None = None
    confirmed: bool = False
    det_index: int = -1  # index of the detection matched this frame (-1: none)
    features: list[np.ndarray] = field(default_factory=list)
    last_mean: np.ndarray | None = None  # Kalman state at the last matched frame

    @property
    def xyxy(self) -> np.ndarray:
        """Current box (x0, y0, x1, y1) from the Kalman state."""
        return kalman.cxcywh_to_xyxy(self.mean[:4])[0]

    def add_feature(self, embedding: np.ndarray | None, alpha: float, keep: int = 16) -> None:
        """Fold a new unit-norm embedding into the EMA feature and the recent list."""
        if embedding is None:
            return
        e = np.asarray(embedding, np.float64)
        self.feature = e.copy() if self.feature is None else alpha * self.feature + (1 - alpha) * e
        self.feature /= max(np.linalg.norm(self.feature), 1e-12)
        self.features.append(e)
        del self.features[:-keep]


class Tracker:
    """Tracks boxes frame to frame; `update` returns the confirmed tracks seen in this frame."""

    def __init__(self, config: TrackerConfig = TrackerConfig(), frame_rate: float = 30.0) -> None:
        self.config = config
        self.frame_rate = frame_rate
        self.max_lost = max(1, int(round(frame_rate / 30.0 * config.track_buffer)))
        self.tracks: list[Track] = []
        self.frame = 0
        self._next_id = 1
        self.events: list[tuple[str, Track]] = []

    def update(self, boxes: np.ndarray, scores: np.ndarray, embeddings: np.ndarray | None = None) -> list[Track]:
        """Advance one frame with detections (x0, y0, x1, y1), scores and optional unit-norm embeddings."""
        cfg = self.config
        self.frame += 1
        self.events = []
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        scores = np.asarray(scores, np.float64).reshape(-1)
        use_emb = cfg.use_appearance and embeddings is not None and len(embeddings) == len(boxes)
        for t in self.tracks:
            t.det_index = -1
        self._predict()

        high = np.flatnonzero(scores >= cfg.high_thresh)
        low = np.flatnonzero((scores >= cfg.low_thresh) & (scores < cfg.high_thresh))
        pool = [t for t in self.tracks if t.confirmed and t.state in (TrackState.TRACKED, TrackState.LOST)]
        tentative = [t for t in self.tracks if not t.confirmed]

        # 1. confirmed + lost tracks vs high-confidence detections, motion and appearance
        cost = self._cost(pool, boxes[high], scores[high], embeddings[high] if use_emb else None)
        matches, left_tracks, left_high = assign(cost, cfg.match_thresh)
        for ti, di in matches:
            self._match(pool[ti], high[di], boxes, scores, embeddings if use_emb else None)
        # 2. remaining tracked tracks vs low-confidence detections, IoU only
        remaining = [pool[i] for i in left_tracks if pool[i].state == TrackState.TRACKED]
        cost = 1.0 - iou_matrix(np.array([t.xyxy for t in remaining]).reshape(-1, 4), boxes[low])
        matches, left_rem, _ = assign(cost, cfg.low_match_thresh)
        for ti, di in matches:
            self._match(remaining[ti], low[di], boxes, scores, None)
        for i in left_rem:
            remaining[i].state = TrackState.LOST
            self.events.append(("lost", remaining[i]))
        # 3. tentative tracks vs the high detections left
        high_left = high[left_high]
        cost = self._cost(tentative, boxes[high_left], scores[high_left], embeddings[high_left] if use_emb else None)
        matches, left_tent, left_new = assign(cost, cfg.tentative_match_thresh)
        for ti, di in matches:
            self._match(tentative[ti], high_left[di], boxes, scores, embeddings if use_emb else None)
        for i in left_tent:
            tentative[i].state = TrackState.REMOVED
        # 4. new tracks
        for di in high_left[left_new]:
            if scores[di] >= cfg.new_track_thresh:
                self._start(boxes[di], scores[di], embeddings[di] if use_emb else None, di)
        # 5. forget tracks lost for too long
        for t in self.tracks:
            if t.state == TrackState.LOST and self.frame - t.last_frame > self.max_lost:
                t.state = TrackState.REMOVED
                self.events.append(("removed", t))
        self.tracks = [t for t in self.tracks if t.state != TrackState.REMOVED]
        return [t for t in self.tracks if t.confirmed and t.state == TrackState.TRACKED and t.last_frame == self.frame]

    def coast(self) -> list[Track]:
        """Advance one frame without detections (a frame the detector skipped): motion only, no state changes;
        returns the confirmed tracked tracks at their predicted boxes."""
        self.frame += 1
        self.events = []
        for t in self.tracks:
            t.det_index = -1
        self._predict()
        return [t for t in self.tracks if t.confirmed and t.state == TrackState.TRACKED]

    def end(self, track_ids) -> None:
        """Drop tracks now (superseded by another track of the same person)."""
        gone = set(track_ids)
        self.tracks = [t for t in self.tracks if t.track_id not in gone]

    # -- steps ----------------------------------------------------------------------------------
    def _predict(self) -> None:
        if not self.tracks:
            return
        means = np.stack([t.mean for t in self.tracks])
        for k, t in enumerate(self.tracks):
            if t.state != TrackState.TRACKED:
                means[k, 7] = 0.0  # a lost track's height stops changing
        covs = np.stack([t.cov for t in self.tracks])
        means, covs = kalman.predict(means, covs)
        for t, m, c in zip(self.tracks, means, covs):
            t.mean, t.cov = m, c

    def _cost(self, tracks: list[Track], boxes: np.ndarray, scores: np.ndarray, emb: np.ndarray | None) -> np.ndarray:
        cfg = self.config
        track_boxes = np.array([t.xyxy for t in tracks]).reshape(-1, 4)
        iou_cost = 1.0 - iou_matrix(track_boxes, boxes)
        if cfg.fuse_score:
            iou_cost = fuse_score(iou_cost, scores)
        if emb is None or not tracks or not len(boxes) or any(t.feature is None for t in tracks):
            return iou_cost
        emb_cost = cosine_distance(np.stack([t.feature for t in tracks]), emb) / 2.0
        cost = gated_appearance_cost(iou_cost, emb_cost, cfg.proximity_thresh, cfg.appearance_thresh)
        if cfg.lost_appearance:
            # a lost track has drifted from its Kalman box: let appearance alone decide, within the distance a
            # person can walk since it was last seen (DeepSORT's appearance matching of unmatched tracks)
            lost = np.array([t.state == TrackState.LOST for t in tracks])
            if lost.any():
                centres = (boxes[:, :2] + boxes[:, 2:]) / 2
                for k in np.flatnonzero(lost):
                    t = tracks[k]
                    last = kalman.cxcywh_to_xyxy(t.last_mean[:4])[0] if t.last_mean is not None else t.xyxy
                    seconds = (self.frame - t.last_frame) / max(self.frame_rate, 1e-6)
                    height = last[3] - last[1]
                    moved = np.hypot(*(centres - (last[:2] + last[2:]) / 2).T)
                    ok = (moved <= height * (1 + cfg.max_speed * seconds)) & (emb_cost[k] <= cfg.appearance_thresh)
                    cost[k] = np.where(ok, np.minimum(cost[k], emb_cost[k]), cost[k])
        return cost

    def _match(self, track: Track, di: int, boxes, scores, embeddings) -> None:
        track.mean, track.cov = kalman.update(track.mean, track.cov, kalman.xyxy_to_cxcywh(boxes[di])[0])
        track.last_mean = track.mean.copy()
        was_lost = track.state == TrackState.LOST
        track.state = TrackState.TRACKED
        track.score = float(scores[di])
        track.last_frame = self.frame
        track.hits += 1
        track.det_index = int(di)
        track.add_feature(embeddings[di] if embeddings is not None else None, self.config.ema_alpha)
        if not track.confirmed and track.hits >= self.config.n_init:
            track.confirmed = True
            self.events.append(("confirmed", track))
        elif was_lost:
            self.events.append(("refound", track))

    def _start(self, box: np.ndarray, score: float, embedding, di: int) -> None:
        mean, cov = kalman.initiate(kalman.xyxy_to_cxcywh(box)[0])
        track = Track(
            self._next_id,
            mean,
            cov,
            float(score),
            self.frame,
            last_frame=self.frame,
            det_index=int(di),
            last_mean=mean.copy(),
        )
        self._next_id += 1
        track.add_feature(embedding, self.config.ema_alpha)
        track.state = TrackState.TRACKED if self.frame == 1 else TrackState.TENTATIVE
        if self.frame == 1 or self.config.n_init <= 1:
            track.confirmed = True
            track.state = TrackState.TRACKED
            self.events.append(("confirmed", track))
        self.tracks.append(track)
