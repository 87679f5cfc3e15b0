"""Space–time identity fusion: one global identity per person across every camera of a run. Pure NumPy.

Every camera's tracker hands its frame's tracks and events to `IdentityFusion.update`, in timestamp order over
all cameras. When a track is confirmed, fusion decides whether it is a person seen before, and returns the
decision; it never writes into tracker objects. The rules (see docs/tracking.md):

- A person visible right now in one camera is not the new track of another camera, unless the two views
  overlap (the layout says so). Without a layout no views overlap: never two places at once.
- In overlapping views a new track is the person visible in the other view at the same ground-plane point
  (within `ground_radius`) when both cameras have homographies; otherwise appearance decides.
- A person last seen in camera A can reappear in camera B only inside the A→B link's transit window, or at the
  layout's stated probability penalty outside it. Pairs without a link are unconstrained; in the same camera
  the motion gate applies (at most 1 + max_speed × seconds body heights from where they were last seen).
- Appearance: the calibrated probability of the best candidate must exceed `threshold` (see identities.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from reidkit.cameras import CameraLayout
from reidkit.models.catalog import Calibration
from reidkit.track.identities import MAX_IDENTITIES, Identity, IdentityGallery
from reidkit.track.tracker import Track, TrackState


@dataclass
class FusionResult:
    """Fusion's answer for one camera frame: global ids of its tracks, events, tracks the tracker should end."""

    ids: dict[int, int] = field(default_factory=dict)  # track id -> global id
    events: list[dict] = field(default_factory=list)
    ended: list[int] = field(default_factory=list)  # track ids superseded by a new track of the same person


@dataclass
class _Seen:
    time: float
    boxes: dict[int, np.ndarray]  # global id -> box, tracked in that frame


class IdentityFusion:
    """Global identities for the tracks of every camera, under the layout's space–time rules."""

    def __init__(
        self,
        calibration: Calibration,
        threshold: float = 0.97,
        layout: CameraLayout | None = None,
        use_appearance: bool = True,
        max_speed: float = 1.0,
        present_s: float = 1.0,
        max_identities: int | None = MAX_IDENTITIES,
    ) -> None:
        self.gallery = IdentityGallery(calibration, threshold, max_speed=max_speed, max_identities=max_identities)
        self.layout = layout or CameraLayout()
        self.use_appearance = use_appearance
        self.max_speed = max_speed
        self.present_s = present_s  # a camera's last frame older than this says nothing about "now"
        self._tracks: dict[tuple[str, int], int] = {}
        self._visible: dict[str, _Seen] = {}
        self._next_plain = 1

    # -- queries --------------------------------------------------------------------------------------------------
    @property
    def identities(self) -> dict[int, Identity]:
        return self.gallery.identities

    @property
    def count(self) -> int:
        """How many global identities were given (also those forgotten since: see IdentityGallery)."""
        return len(self.gallery.identities) + self.gallery.forgotten

    def visible(self) -> dict[str, list[int]]:
        """The global ids visible in each camera's latest frame."""
        return {camera: sorted(seen.boxes) for camera, seen in self._visible.items()}

    def forget_camera(self, camera: str) -> int:
        """A camera starts over (its tracker was lost with its process): its tracks end, its people stay
        known and can be re-identified; returns how many tracks ended."""
        keys = [k for k in self._tracks if k[0] == camera]
        for k in keys:
            del self._tracks[k]
        self._visible.pop(camera, None)
        return len(keys)

    # -- the update -----------------------------------------------------------------------------------------------
    def update(
        self,
        camera: str,
        time: float,
        frame: int,
        events: list[tuple[str, Track]],
        tracks: list[Track],
        embeddings: np.ndarray | None = None,
        exclude: set[int] | frozenset = frozenset(),
    ) -> FusionResult:
        """One camera frame: the tracker's events, all its live tracks, this frame's detection embeddings.
        Tracks confirmed in this frame cannot take an identity in `exclude` (known to be someone else)."""
        result = FusionResult()
        current = {
            self._tracks[(camera, t.track_id)]: t.xyxy
            for t in tracks
            if (camera, t.track_id) in self._tracks and t.state == TrackState.TRACKED
        }
        current.update(dict.fromkeys(exclude))
        for kind, track in events:
            key = (camera, track.track_id)
            if kind == "confirmed":
                identity = self._decide(camera, time, frame, track, current, result)
                self._tracks[key] = identity
                current[identity] = track.xyxy
                for other in tracks:  # a lost track of this person is superseded: it ends here
                    okey = (camera, other.track_id)
                    if (
                        other.track_id != track.track_id
                        and self._tracks.get(okey) == identity
                        and other.state == TrackState.LOST
                    ):
                        result.ended.append(other.track_id)
                        result.events.append(self._event("ended", other, identity, camera, frame, time, "superseded"))
                        del self._tracks[okey]
            elif key in self._tracks:
                identity = self._tracks[key]
                if kind == "refound":
                    result.events.append(self._event("refound", track, identity, camera, frame, time))
                elif kind == "lost":
                    result.events.append(self._event("lost", track, identity, camera, frame, time))
                elif kind == "removed":
                    result.events.append(self._event("ended", track, identity, camera, frame, time))
                    del self._tracks[key]
        self._record(camera, time, frame, tracks, embeddings, result)
        return result

    def _record(self, camera, time, frame, tracks, embeddings, result: FusionResult) -> None:
        """Fold this frame's sightings into the identities; remember who is visible in this camera."""
        boxes: dict[int, np.ndarray] = {}
        for t in tracks:
            identity = self._tracks.get((camera, t.track_id))
            if identity is None or t.state != TrackState.TRACKED:
                continue
            result.ids[t.track_id] = identity
            boxes[identity] = t.xyxy
            if identity not in self.gallery.identities:
                continue
            emb = None
            if embeddings is not None and 0 <= t.det_index < len(embeddings) and embeddings[t.det_index].any():
                emb = embeddings[t.det_index]
            if t.det_index >= 0:
                self.gallery.seen(identity, emb, camera, frame, t.xyxy, time)
        self._visible[camera] = _Seen(time, boxes)

    # -- the decision ---------------------------------------------------------------------------------------------
    def _decide(self, camera, time, frame, track: Track, current: dict, result: FusionResult) -> int:
        candidates, penalties, overlapping = self._candidates(camera, time, track, current)
        ground, far = self._ground_match(camera, track, overlapping)
        if far:  # seen now in an overlapping view, but somewhere else on the floor
            keep = [k for k, i in enumerate(candidates) if i not in far]
            candidates, penalties = [candidates[k] for k in keep], [penalties[k] for k in keep]
        if ground is not None:
            identity, distance = ground
            self.gallery.seen(identity, None, camera, frame, track.xyxy, time)
            result.events.append(
                self._event("reidentified", track, identity, camera, frame, time, ground_distance=round(distance, 3))
            )
            return identity
        prob, identity = 0.0, None
        if self.use_appearance and candidates and track.features:
            feats = np.stack(track.features)
            probs = self.gallery.probabilities(feats, candidates) - np.array(penalties)
            best = int(np.argmax(probs))
            prob = float(probs[best])
            if prob > self.gallery.threshold:
                identity = candidates[best]
        if identity is None:
            feats = np.stack(track.features) if track.features else np.zeros((0, 1))
            identity = self.gallery.new(feats, camera, frame, track.xyxy, time)
            result.events.append(self._event("first_seen", track, identity, camera, frame, time))
            return identity
        ident = self.gallery.identities[identity]
        result.events.append(
            self._event(
                "reidentified",
                track,
                identity,
                camera,
                frame,
                time,
                probability=round(prob, 4),
                last_camera=ident.last_camera,
                last_frame=ident.last_frame + 1,
                gap_s=round(time - ident.last_time, 3),
            )
        )
        return identity

    def _candidates(self, camera: str, time: float, track: Track, current: dict):
        """Identities the new track may be: (ids, probability penalties, ids visible now in overlapping views)."""
        now = {
            other: seen
            for other, seen in self._visible.items()
            if other != camera and abs(time - seen.time) <= self.present_s
        }
        ids, penalties, overlapping = [], [], []
        for ident in self.gallery.identities.values():
            i = ident.identity_id
            if i in current:  # visible in this camera on another track
                continue
            elsewhere = [other for other, seen in now.items() if i in seen.boxes]
            if elsewhere:
                if not all(self.layout.overlap(camera, other) for other in elsewhere):
                    continue  # never two places at once
                overlapping.append((i, elsewhere))
                ids.append(i)
                penalties.append(0.0)
                continue
            gap = max(0.0, time - ident.last_time)
            if ident.last_camera == camera or self.layout.overlap(ident.last_camera, camera):
                if ident.last_camera == camera and not self._reachable(ident, track.xyxy, gap):
                    continue
                penalty = 0.0
            else:
                penalty = self.layout.transit(ident.last_camera, camera, gap)
                if penalty is None:
                    continue
            ids.append(i)
            penalties.append(penalty)
        return ids, penalties, overlapping

    def _reachable(self, ident: Identity, box, seconds: float) -> bool:
        if ident.last_box is None:
            return True
        height = max(ident.last_box[3] - ident.last_box[1], box[3] - box[1], 1.0)
        moved = np.hypot(*((box[:2] + box[2:]) / 2 - (ident.last_box[:2] + ident.last_box[2:]) / 2))
        return bool(moved <= height * (1.0 + self.max_speed * seconds))

    def _ground_match(self, camera: str, track: Track, overlapping) -> tuple[tuple[int, float] | None, set[int]]:
        """The person visible now in an overlapping view at this track's ground point (within the radius), and
        the people visible there who stand elsewhere on the floor."""
        here = self.layout.ground(camera, track.xyxy)
        best, far = None, set()
        if here is None:
            return None, far
        for identity, others in overlapping:
            for other in others:
                there = self.layout.ground(other, self._visible[other].boxes[identity])
                if there is None:
                    continue
                d = float(np.hypot(*(here - there)))
                if d > self.layout.ground_radius:
                    far.add(identity)
                elif best is None or d < best[1]:
                    best = (identity, d)
        if best is not None:
            far.discard(best[0])
        return best, far

    @staticmethod
    def _event(kind, track: Track, identity: int, camera: str, frame: int, time: float, reason=None, **extra) -> dict:
        event = {
            "event": kind,
            "id": identity,
            "track": track.track_id,
            "camera": camera,
            "frame": frame + 1,
            "time_s": round(float(time), 3),
            "box": [round(float(v), 1) for v in track.xyxy],
        }
        if reason:
            event["reason"] = reason
        event.update(extra)
        return event
