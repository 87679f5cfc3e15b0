"""Zones and lines of a camera layout turned into events: who entered or left a zone (and how long they stayed),
who crossed a line and which way. One watcher serves a live run (fed each frame's tracks) and a report (fed the
rows of MOT files, the truth's or a run's), so both count the same way.

A person's position is the bottom centre of their box (where they stand), mapped to the ground plane for
shapes declared there. Pure geometry over NumPy; no models, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from reidkit.cameras import CameraLayout

GONE_S = 2.0  # a person unseen this long has left every zone they were in
HANDOVER_S = 0.5  # on the ground, another camera takes a person over when the one following them lost them this long
SIDE_MEMORY_S = 600.0  # which side of a line a person was on is remembered this long (walks across blind strips)


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


def edge_distance(polygon: np.ndarray, point: np.ndarray) -> float:
    """The distance from a point to the nearest edge of a polygon."""
    a = np.asarray(polygon, np.float64)
    d = np.roll(a, -1, axis=0) - a
    t = np.clip(np.einsum("ij,ij->i", point - a, d) / np.maximum(np.einsum("ij,ij->i", d, d), 1e-12), 0.0, 1.0)
    return float(np.hypot(*(a + t[:, None] * d - point).T).min())


def _side(a: np.ndarray, b: np.ndarray, p: np.ndarray) -> float:
    """> 0 when p is to the right of a -> b as drawn on screen (y down), < 0 to its left."""
    d, q = b - a, p - a
    return float(d[0] * q[1] - d[1] * q[0])


@dataclass
class _Presence:
    """What the watcher remembers of one track in one camera (image shapes) or of one person on the ground plane
    (ground shapes, seen by any camera)."""

    identity: int
    track: int
    camera: str
    point: np.ndarray
    time: float
    frame: int
    zones: dict[str, float] = field(default_factory=dict)  # zone -> time entered


class ZoneWatcher:
    """Feeds on tracks frame by frame (`update`), returns zone_entered / zone_left / line_crossed events; `finish`
    closes every open visit at the end of a run.

    Image shapes follow each camera's tracks. Ground shapes belong to the site, not to a view: they follow each
    person's position on the ground plane whichever camera sees them, so a person seen by two overlapping views
    enters a ground zone once, and a step across a blind strip between two views still crosses a ground line
    drawn there. One camera at a time follows a person on the ground (the first to see them, until it has lost
    them for HANDOVER_S), so two views' slightly different positions never alternate. A line is crossed when a
    position moves from clearly one side (beyond `margin`: half the layout's ground radius on the ground, 0 in the
    image) to clearly the other; a zone is entered by a step inside and left by a step beyond `margin` outside.
    Events carry the camera, the camera's track id and the global id, so re-association relabels them like every
    other track event."""

    def __init__(self, layout: CameraLayout, gone_s: float = GONE_S) -> None:
        self.cameras = {name: cam for name, cam in layout.cameras.items() if cam.zones or cam.lines}
        self.gone_s = gone_s
        self.ground_margin = layout.ground_radius / 2.0
        self._present: dict[tuple, _Presence] = {}  # (camera, track) or ("ground", identity)
        self._sides: dict[tuple, tuple[float, float]] = {}  # (presence key, line) -> (side +1 / -1, time)
        self._site_zones = _unique(z for c in self.cameras.values() for z in c.zones if z.ground)
        self._site_lines = _unique(ln for c in self.cameras.values() for ln in c.lines if ln.ground)

    def update(self, camera: str, frame: int, time_s: float, ids, boxes, track_ids=None) -> list[dict]:
        """Events of one camera frame: `ids` global ids, `boxes` their (x0, y0, x1, y1), `track_ids` the camera
        tracker's ids (default: the global ids)."""
        cam = self.cameras.get(camera)
        if cam is None:
            return []
        track_ids = list(track_ids) if track_ids is not None and len(track_ids) else list(ids)
        image_zones = [z for z in cam.zones if not z.ground]
        image_lines = [ln for ln in cam.lines if not ln.ground]
        events: list[dict] = []
        for identity, box, track in zip(ids, boxes, track_ids):
            identity, track = int(identity), int(track)
            if image_zones or image_lines:
                key = (camera, track)
                now = _Presence(identity, track, camera, foot_point(box), float(time_s), int(frame))
                events += self._step(key, now, image_zones, image_lines, 0.0)
            ground = cam.to_ground(box) if cam.homography is not None else None
            if ground is not None and (self._site_zones or self._site_lines):
                held = self._present.get(("ground", identity))
                if held is None or held.camera == camera or time_s - held.time > HANDOVER_S:
                    now = _Presence(identity, track, camera, ground, float(time_s), int(frame))
                    key = ("ground", identity)
                    events += self._step(key, now, self._site_zones, self._site_lines, self.ground_margin)
        events += self._expire(camera, float(time_s))
        return events

    def finish(self) -> list[dict]:
        """zone_left for everyone still inside a zone (the run ended)."""
        events = []
        for _, p in sorted(self._present.items(), key=lambda kv: str(kv[0])):
            events += [self._left(p, zone, since, "end") for zone, since in sorted(p.zones.items())]
        self._present.clear()
        return events

    # -- one step ---------------------------------------------------------------------------------
    def _step(self, key: tuple, now: _Presence, zones, lines, margin: float) -> list[dict]:
        before = self._present.get(key)
        if before is not None:
            now.zones = before.zones
        events = self._lines(key, now, lines, margin) + self._zones(now, zones, margin)
        self._present[key] = now
        return events

    def _zones(self, p: _Presence, zones, margin: float) -> list[dict]:
        """Entering takes a step inside; walking out takes a step clearly outside (beyond `margin` of the edge), so
        a position that wavers on the edge is one visit, not many."""
        events = []
        for zone in zones:
            now_in = inside(zone.polygon, p.point)
            if now_in and zone.name not in p.zones:
                p.zones[zone.name] = p.time
                events.append(self._event("zone_entered", p, zone=zone.name))
            elif not now_in and zone.name in p.zones and edge_distance(zone.polygon, p.point) > margin:
                events.append(self._left(p, zone.name, p.zones.pop(zone.name), "walked out"))
        return events

    def _lines(self, key: tuple, p: _Presence, lines, margin: float) -> list[dict]:
        """A crossing: the position is clearly on the other side of the line than it last clearly was, and the
        line's segment lies between the two (not beyond its ends)."""
        events = []
        for line in lines:
            a, b = line.points
            offset = _side(a, b, p.point) / float(np.linalg.norm(b - a))  # signed distance to the line
            if abs(offset) <= margin or not _within(a, b, p.point):
                continue
            side = 1.0 if offset > 0 else -1.0
            previous = self._sides.get((key, line.name))
            self._sides[(key, line.name)] = (side, p.time)
            if previous is not None and previous[0] != side:
                events.append(self._event("line_crossed", p, line=line.name, direction="in" if side > 0 else "out"))
        return events

    def _expire(self, camera: str, time_s: float) -> list[dict]:
        """Tracks of this camera (and people on the ground last seen by it) unseen for `gone_s` leave their zones,
        at the time they were last seen."""
        events = []
        for key in [k for k, p in self._present.items() if p.camera == camera and time_s - p.time > self.gone_s]:
            p = self._present.pop(key)
            events += [self._left(p, zone, since, "lost") for zone, since in sorted(p.zones.items())]
        if len(self._sides) > 10_000:
            self._sides = {k: v for k, v in self._sides.items() if time_s - v[1] <= SIDE_MEMORY_S}
        return events

    @staticmethod
    def _event(kind: str, p: _Presence, **extra) -> dict:
        return {
            "event": kind,
            "id": p.identity,
            "track": p.track,
            "camera": p.camera,
            "frame": p.frame,
            "time_s": round(p.time, 3),
            **extra,
        }

    def _left(self, p: _Presence, zone: str, since: float, reason: str) -> dict:
        return self._event("zone_left", p, zone=zone, dwell_s=round(p.time - since, 3), reason=reason)


def _unique(shapes) -> list:
    """Ground shapes declared on several cameras (each sees part of the site) count once, by name."""
    seen: dict[str, object] = {}
    for shape in shapes:
        seen.setdefault(shape.name, shape)
    return list(seen.values())


def _within(a: np.ndarray, b: np.ndarray, p: np.ndarray) -> bool:
    """Whether p projects onto the segment a -> b (between its ends)."""
    d = b - a
    t = float(np.dot(p - a, d) / np.dot(d, d))
    return 0.0 <= t <= 1.0


EVENTS = ("zone_entered", "zone_left", "line_crossed")  # what a ZoneWatcher emits


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


def replay_book(layout: CameraLayout, book, labels: dict, cameras, fps: dict[str, float]) -> list[dict]:
    """Zone and line events of a run's tracklets (a TrackletBook) under `labels` (tracklet key -> final id), each
    naming the camera track that held the person at the time: what re-associated runs log instead of the online
    pass's visits (a person whose track broke inside a zone made one visit)."""
    from reidkit.track.tracklets import mot_rows

    held = {(t.camera, r[0], labels[t.key]): t.track_id for t in book.tracklets.values() for r in t.rows}
    visits = replay(layout, mot_rows(book, labels, cameras), fps)
    for event in visits:
        event["track"] = held.get((event["camera"], event["frame"], event["id"]), event["track"])
    return visits
