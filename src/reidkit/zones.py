"""Zones and lines of a camera layout turned into events: who entered or left a zone (and how long they stayed),
who crossed a line and which way. One watcher serves a live run (fed each frame's tracks) and a report (fed the
rows of MOT files, the truth's or a run's), so both count the same way.

A person's position is the bottom centre of their box (where they stand), mapped to the ground plane for
shapes declared there. Pure geometry over NumPy; no models, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from reidkit.cameras import Camera, CameraLayout

GONE_S = 2.0  # a person unseen this long has left every zone they were in


def foot_point(box) -> np.ndarray:
    """Where a person stands: the bottom centre of an (x0, y0, x1, y1) box."""
    x0, _, x1, y1 = (float(v) for v in box)
    return np.array([(x0 + x1) / 2.0, y1])


def inside(polygon: np.ndarray, point: np.ndarray) -> bool:
    """Whether a point lies inside a polygon (even-odd rule; points on an edge may go either way)."""
    x, y = point
    xs, ys = polygon[:, 0], polygon[:, 1]
    xn, yn = np.roll(xs, -1), np.roll(ys, -1)
    crosses = (ys > y) != (yn > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        at = xs + (y - ys) * (xn - xs) / (yn - ys)
    return bool(np.count_nonzero(crosses & (x < at)) % 2)


def _side(a: np.ndarray, b: np.ndarray, p: np.ndarray) -> float:
    """> 0 when p is to the right of a -> b as drawn on screen (y down), < 0 to its left."""
    d, q = b - a, p - a
    return float(d[0] * q[1] - d[1] * q[0])


def crossing(a: np.ndarray, b: np.ndarray, p: np.ndarray, q: np.ndarray) -> str | None:
    """ "in" when the step p -> q crosses segment a -> b to its right, "out" to its left, None if it does not
    cross (touching the line and going back is no crossing)."""
    sp, sq = _side(a, b, p), _side(a, b, q)
    if sp == 0 or sq == 0 or (sp > 0) == (sq > 0):
        return None
    if (_side(p, q, a) > 0) == (_side(p, q, b) > 0):
        return None  # the step passes beyond an end of the segment
    return "in" if sq > 0 else "out"


@dataclass
class _Presence:
    """What the watcher remembers of one track in one camera."""

    identity: int
    image_point: np.ndarray
    ground_point: np.ndarray | None
    time: float
    frame: int
    zones: dict[str, float] = field(default_factory=dict)  # zone -> time entered


class ZoneWatcher:
    """Feeds on tracks frame by frame (`update`), returns zone_entered / zone_left / line_crossed events; `finish`
    closes every open visit at the end of a run. Events carry the camera, the camera's track id and the global
    id, so re-association can relabel them like every other track event."""

    def __init__(self, layout: CameraLayout, gone_s: float = GONE_S) -> None:
        self.cameras = {name: cam for name, cam in layout.cameras.items() if cam.zones or cam.lines}
        self.gone_s = gone_s
        self._present: dict[tuple[str, int], _Presence] = {}

    def update(self, camera: str, frame: int, time_s: float, ids, boxes, track_ids=None) -> list[dict]:
        """Events of one camera frame: `ids` global ids, `boxes` their (x0, y0, x1, y1), `track_ids` the camera
        tracker's ids (default: the global ids)."""
        cam = self.cameras.get(camera)
        if cam is None:
            return []
        track_ids = list(track_ids) if track_ids is not None and len(track_ids) else list(ids)
        events: list[dict] = []
        for identity, box, track in zip(ids, boxes, track_ids):
            key = (camera, int(track))
            point = foot_point(box)
            ground = cam.to_ground(box) if cam.homography is not None else None
            before = self._present.get(key)
            now = _Presence(int(identity), point, ground, float(time_s), int(frame))
            if before is not None:
                now.zones = before.zones
                events += self._lines(cam, key, before, now)
            events += self._zones(cam, key, now)
            self._present[key] = now
        events += self._expire(camera, float(time_s))
        return events

    def finish(self) -> list[dict]:
        """zone_left for everyone still inside a zone (the run ended)."""
        events = []
        for key, p in sorted(self._present.items()):
            events += [self._left(key, p, zone, since, "end") for zone, since in sorted(p.zones.items())]
        self._present.clear()
        return events

    # -- one step ---------------------------------------------------------------------------------
    def _zones(self, cam: Camera, key: tuple[str, int], p: _Presence) -> list[dict]:
        events = []
        for zone in cam.zones:
            point = p.ground_point if zone.ground else p.image_point
            now_in = point is not None and inside(zone.polygon, point)
            if now_in and zone.name not in p.zones:
                p.zones[zone.name] = p.time
                events.append(self._event("zone_entered", key, p, zone=zone.name))
            elif not now_in and zone.name in p.zones:
                events.append(self._left(key, p, zone.name, p.zones.pop(zone.name), "walked out"))
        return events

    def _lines(self, cam: Camera, key: tuple[str, int], before: _Presence, now: _Presence) -> list[dict]:
        events = []
        for line in cam.lines:
            p, q = (before.ground_point, now.ground_point) if line.ground else (before.image_point, now.image_point)
            if p is None or q is None:
                continue
            direction = crossing(line.points[0], line.points[1], p, q)
            if direction is not None:
                events.append(self._event("line_crossed", key, now, line=line.name, direction=direction))
        return events

    def _expire(self, camera: str, time_s: float) -> list[dict]:
        """Tracks of this camera unseen for `gone_s` leave their zones (at the time they were last seen)."""
        events = []
        for key in [k for k, p in self._present.items() if k[0] == camera and time_s - p.time > self.gone_s]:
            p = self._present.pop(key)
            events += [self._left(key, p, zone, since, "lost") for zone, since in sorted(p.zones.items())]
        return events

    @staticmethod
    def _event(kind: str, key: tuple[str, int], p: _Presence, **extra) -> dict:
        return {
            "event": kind,
            "id": p.identity,
            "track": key[1],
            "camera": key[0],
            "frame": p.frame,
            "time_s": round(p.time, 3),
            **extra,
        }

    def _left(self, key, p: _Presence, zone: str, since: float, reason: str) -> dict:
        return self._event("zone_left", key, p, zone=zone, dwell_s=round(p.time - since, 3), reason=reason)


def replay(layout: CameraLayout, tracks: dict[str, np.ndarray], fps: dict[str, float], gone_s: float = GONE_S):
    """Zone and line events of MOT rows (frame 1-based, id, x, y, w, h, ...) per camera, as a live run would
    have emitted them, in time order across cameras."""
    watcher = ZoneWatcher(layout, gone_s)
    steps = []
    for camera, rows in tracks.items():
        rows = np.asarray(rows, np.float64)
        if not rows.size:
            continue
        rows = rows[np.argsort(rows[:, 0], kind="stable")]
        frames, starts = np.unique(rows[:, 0].astype(int), return_index=True)
        for frame, at in zip(frames, np.split(rows, starts[1:])):
            boxes = np.column_stack([at[:, 2:4], at[:, 2:4] + at[:, 4:6]])
            steps.append(((frame - 1) / fps[camera], camera, frame - 1, at[:, 1].astype(int), boxes))
    steps.sort(key=lambda s: (s[0], s[1]))
    events = []
    for time_s, camera, frame, ids, boxes in steps:
        events += watcher.update(camera, frame, time_s, ids, boxes)
    return events + watcher.finish()
