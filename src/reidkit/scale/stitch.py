"""Joining segment results into one run. Pure NumPy/SciPy.

1. `stitch`: tracklets of consecutive segments of a file are the same person when their boxes overlap in the
   warm-up frames both segments read (mean IoU ≥ `min_iou` over at least `min_frames` shared frames, one-to-one
   by Hungarian assignment).
2. `link`: the stitched tracks of every file become global identities through the same `IdentityFusion` as the
   live runtime — the same space–time rules — replayed in time order: a track is confirmed at its first frame
   (with exemplars spread over its whole life) and ends at its last.
3. `book_of`: the stitched tracks as a TrackletBook, for the same re-association pass as a single-machine run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from reidkit.scale.work import Tracklet
from reidkit.track.association import assign, iou_matrix
from reidkit.track.tracklets import Tracklet as CameraTracklet
from reidkit.track.tracklets import TrackletBook


@dataclass
class Track:
    """A person's track in one file after stitching: its tracklets, rows in frame order, exemplars."""

    camera: str
    source: str
    tracklets: list[Tracklet] = field(default_factory=list)

    @property
    def rows(self) -> np.ndarray:
        rows = np.concatenate([t.rows for t in self.tracklets]) if self.tracklets else np.zeros((0, 6))
        return rows[np.argsort(rows[:, 0], kind="stable")]

    @property
    def exemplars(self) -> np.ndarray:
        vectors = [t.exemplars for t in self.tracklets if len(t.exemplars)]
        if not vectors:
            return np.zeros((0, 0), np.float32)
        stacked = np.concatenate(vectors)
        pick = np.unique(np.linspace(0, len(stacked) - 1, min(16, len(stacked))).round().astype(int))
        return stacked[pick]

    @property
    def fps(self) -> float:
        return self.tracklets[0].fps if self.tracklets else 10.0


def _overlap_iou(a: np.ndarray, b: np.ndarray, min_frames: int) -> float:
    """Mean IoU of two row sets over the frames both have (0 with fewer than `min_frames`)."""
    common, ia, ib = np.intersect1d(a[:, 0], b[:, 0], return_indices=True)
    if len(common) < min_frames:
        return 0.0
    ious = np.diag(iou_matrix(a[ia, 1:5], b[ib, 1:5]))
    return float(ious.mean())


def stitch(tracklets: list[Tracklet], min_iou: float = 0.5, min_frames: int = 2) -> list[Track]:
    """Tracks per file: tracklets of consecutive segments joined where their warm-up boxes agree."""
    by_file: dict[str, dict[int, list[Tracklet]]] = {}
    for t in tracklets:
        by_file.setdefault(t.source, {}).setdefault(t.segment, []).append(t)
    tracks: list[Track] = []
    for source, segments in by_file.items():
        order = sorted(segments)
        owner: dict[tuple, Track] = {}
        for t in segments[order[0]]:
            owner[t.key] = Track(t.camera, source, [t])
        for prev, nxt in zip(order, order[1:]):
            left, right = segments[prev], segments[nxt]
            if left and right:
                cost = np.array([[1.0 - _overlap_iou(a.rows, b.warm, min_frames) for b in right] for a in left])
                matches, _, _ = assign(cost, 1.0 - min_iou)
            else:
                matches = []
            matched = set()
            for i, j in matches:
                owner[left[i].key].tracklets.append(right[j])
                owner[right[j].key] = owner[left[i].key]
                matched.add(j)
            for j, t in enumerate(right):
                if j not in matched:
                    owner[t.key] = Track(t.camera, source, [t])
        seen = set()
        for track in owner.values():
            if id(track) not in seen and len(track.rows):
                seen.add(id(track))
                tracks.append(track)
    return tracks


def link(tracks: list[Track], fusion) -> tuple[dict[int, int], list[dict]]:
    """Global identities for stitched tracks ({index in `tracks`: global id}) and the run's events, by replaying
    every track's start and end through an IdentityFusion in time order.

    A camera's visible people only change at its tracks' starts and ends, so what fusion saw at that camera's
    last moment is still true: "present" never expires during the replay."""
    fusion.present_s = float("inf")
    from reidkit.track import kalman
    from reidkit.track.tracker import Track as LiveTrack
    from reidkit.track.tracker import TrackState

    def live(k: int, row: np.ndarray) -> LiveTrack:
        mean, cov = kalman.initiate(kalman.xyxy_to_cxcywh(row[1:5])[0])
        t = LiveTrack(k + 1, mean, cov, float(row[5]), int(row[0]), state=TrackState.TRACKED, confirmed=True)
        t.features = list(tracks[k].exemplars)
        t.det_index = 0
        return t

    moments = []
    for k, track in enumerate(tracks):
        rows = track.rows
        moments.append((rows[0, 0] / track.fps, 0, k, rows[0]))
        moments.append((rows[-1, 0] / track.fps, 1, k, rows[-1]))
    moments.sort(key=lambda m: (m[0], m[1]))
    active: dict[str, dict[int, LiveTrack]] = {}
    ids: dict[int, int] = {}
    segments_of: dict[int, set] = {}  # global id -> the (file, segment) pairs its tracks come from
    events: list[dict] = []
    for when, kind, k, row in moments:
        camera = tracks[k].camera
        here = active.setdefault(camera, {})
        if kind == 0:
            t = here[k] = live(k, row)
            mine = {(tl.source, tl.segment) for tl in tracks[k].tracklets}
            # a segment's own identity memory already told its people apart, under the same rules
            exclude = {i for i, seen in segments_of.items() if seen & mine}
            result = fusion.update(camera, when, int(row[0]), [("confirmed", t)], list(here.values()), None, exclude)
            ids[k] = result.ids.get(t.track_id, ids.get(k))
            segments_of.setdefault(ids[k], set()).update(mine)
        else:
            t = here.get(k) or live(k, row)
            t.mean[:4] = kalman.xyxy_to_cxcywh(row[1:5])[0]
            fusion.update(camera, when, int(row[0]), [], list(here.values()), None)  # where it was last seen
            t.state = TrackState.REMOVED
            here.pop(k, None)
            result = fusion.update(camera, when, int(row[0]), [("removed", t)], list(here.values()), None)
        events += result.events
    return ids, events


def book_of(tracks: list[Track], ids: dict[int, int]) -> TrackletBook:
    """The stitched tracks as camera tracklets (track k is camera track k + 1, as in `link`'s events, with its
    linked id as the online id); appearance: the mean of the track's exemplars, each of quality 1."""
    book = TrackletBook()
    for k, track in enumerate(tracks):
        tracklet = CameraTracklet(track.camera, k + 1, int(ids[k]))
        fps = track.fps
        tracklet.rows = [(int(r[0]), *(float(v) for v in r[1:6]), float(r[0] / fps)) for r in track.rows]
        exemplars = track.exemplars.astype(np.float64)
        if len(exemplars):
            tracklet.weighted, tracklet.weight_sum = exemplars.sum(0), float(len(exemplars))
            tracklet.exemplars = [(1.0, e) for e in exemplars]
        book.tracklets[tracklet.key] = tracklet
    return book
