"""Site analytics from identities: visitors, dwell, zones, lines, camera-to-camera transitions, where people
stand. Pure functions over MOT rows (frame 1-based, global id, x, y, w, h) per camera and the events of
`reidkit.zones`; the same code counts the ground truth and a run, so the two can be compared.

Identities are whatever the rows say: a run's global ids (re-associated ones unless the run used `--online` or
a live source) or the truth's. Counts of "different people" are only as good as those ids: online ids of split
views over-count (docs/benchmarks.md), so `visitors_are_upper_bound` says when that applies.
"""

from __future__ import annotations

import time as _time
from dataclasses import dataclass, field

import numpy as np

from reidkit.cameras import CameraLayout
from reidkit.zones import GONE_S, replay

DWELL_BINS_S = (0, 10, 30, 60, 120, 300, 600, 1800, 3600, float("inf"))


@dataclass
class SiteTracks:
    """Rows of every camera, their frame rates, the layout (homographies, zones, lines) and, when known, the
    wall-clock time of frame 1 (epoch seconds)."""

    rows: dict[str, np.ndarray]
    fps: dict[str, float]
    layout: CameraLayout = field(default_factory=CameraLayout)
    start: float | None = None

    def __post_init__(self) -> None:
        self.rows = {
            c: np.asarray(r, np.float64).reshape(-1, np.asarray(r).shape[-1] if np.size(r) else 6)
            for c, r in self.rows.items()
        }
        missing = [c for c in self.rows if not self.fps.get(c)]
        if missing:
            from reidkit.errors import InputError

            raise InputError(f"no frame rate for camera {missing[0]!r}")

    def times(self, camera: str) -> np.ndarray:
        """Seconds since frame 1 of each of a camera's rows."""
        return (self.rows[camera][:, 0] - 1) / self.fps[camera]


def _stats(values: np.ndarray) -> dict:
    if not len(values):
        return {"count": 0}
    return {
        "count": int(len(values)),
        "mean_s": round(float(np.mean(values)), 2),
        "median_s": round(float(np.median(values)), 2),
        "p90_s": round(float(np.percentile(values, 90)), 2),
        "max_s": round(float(np.max(values)), 2),
    }


def _histogram(values: np.ndarray, edges=DWELL_BINS_S) -> list[dict]:
    counts, _ = np.histogram(values, bins=np.array(edges, float))
    labels = [f"{lo:g}-{hi:g} s" if np.isfinite(hi) else f"≥{lo:g} s" for lo, hi in zip(edges[:-1], edges[1:])]
    return [{"bin": label, "count": int(c)} for label, c in zip(labels, counts)]


def segments(tracks: SiteTracks, gone_s: float = GONE_S) -> list[tuple[int, str, float, float]]:
    """(identity, camera, first s, last s) of each stretch of presence: rows of one identity in one camera with
    no gap over `gone_s`; sorted by start."""
    out = []
    for camera, rows in tracks.rows.items():
        if not len(rows):
            continue
        t = tracks.times(camera)
        ids = rows[:, 1].astype(int)
        order = np.lexsort((t, ids))
        ids, t = ids[order], t[order]
        breaks = np.flatnonzero((np.diff(ids) != 0) | (np.diff(t) > gone_s)) + 1
        for i, j in zip(np.r_[0, breaks], np.r_[breaks, len(ids)]):
            out.append((int(ids[i]), camera, float(t[i]), float(t[j - 1])))
    out.sort(key=lambda s: (s[2], s[1], s[0]))
    return out


def visitors(tracks: SiteTracks) -> dict:
    """Different people overall, per camera and per hour (an identity seen in two hours counts in both)."""
    per_camera = {c: int(len(np.unique(r[:, 1]))) for c, r in tracks.rows.items()}
    hours: dict[str, set] = {}
    for camera, rows in tracks.rows.items():
        start = tracks.start or 0.0
        for hour in np.unique(((start + tracks.times(camera)) // 3600).astype(int)):
            mask = ((start + tracks.times(camera)) // 3600).astype(int) == hour
            label = _time.strftime("%Y-%m-%d %H:00", _time.gmtime(hour * 3600)) if tracks.start else f"hour {hour}"
            hours.setdefault(label, set()).update(rows[mask, 1].astype(int).tolist())
    everyone = set().union(*[set(r[:, 1].astype(int).tolist()) for r in tracks.rows.values()]) if tracks.rows else set()
    return {
        "total": len(everyone),
        "per_camera": per_camera,
        "per_hour": {h: len(ids) for h, ids in sorted(hours.items())},
    }


def dwell(tracks: SiteTracks) -> dict:
    """How long each person stayed: first to last sighting over every camera."""
    first: dict[int, float] = {}
    last: dict[int, float] = {}
    for camera, rows in tracks.rows.items():
        t = tracks.times(camera)
        for identity, when in zip(rows[:, 1].astype(int), t):
            first[identity] = min(first.get(identity, when), when)
            last[identity] = max(last.get(identity, when), when)
    values = np.array([last[i] - first[i] for i in first])
    return {
        **_stats(values),
        "histogram": _histogram(values),
        "per_identity": {int(i): round(last[i] - first[i], 2) for i in first},
    }


def transitions(tracks: SiteTracks, gone_s: float = GONE_S) -> dict:
    """Camera-to-camera moves of each person (from one stretch of presence to the next one in another camera):
    counts as a matrix and the transit times (next start - previous end; negative where views overlap)."""
    cameras = sorted(tracks.rows)
    by_person: dict[int, list] = {}
    for identity, camera, start, end in segments(tracks, gone_s):
        by_person.setdefault(identity, []).append((camera, start, end))
    matrix = {a: {b: 0 for b in cameras} for a in cameras}
    times: dict[str, list[float]] = {}
    for stretches in by_person.values():
        for (a, _, end), (b, start, _) in zip(stretches, stretches[1:]):
            if a != b:
                matrix[a][b] += 1
                times.setdefault(f"{a} -> {b}", []).append(round(start - end, 2))
    return {
        "matrix": matrix,
        "transit_s": {k: {**_stats(np.array(v)), "values": v} for k, v in sorted(times.items())},
    }


def zones_and_lines(events: list[dict]) -> dict:
    """Per zone: visits, different visitors, dwell, peak occupancy; per line: in / out crossings."""
    zones: dict[str, dict] = {}
    lines: dict[str, dict] = {}
    for e in events:
        if e["event"] in ("zone_entered", "zone_left"):
            z = zones.setdefault(f"{e['camera']}/{e['zone']}", {"visits": 0, "ids": set(), "dwell": [], "steps": []})
            z["steps"].append((e["time_s"], 1 if e["event"] == "zone_entered" else -1))
            if e["event"] == "zone_entered":
                z["visits"] += 1
                z["ids"].add(e["id"])
            else:
                z["dwell"].append(e["dwell_s"])
        elif e["event"] == "line_crossed":
            line = lines.setdefault(f"{e['camera']}/{e['line']}", {"in": 0, "out": 0, "ids": set()})
            line[e["direction"]] += 1
            line["ids"].add(e["id"])
    zone_out = {}
    for name, z in sorted(zones.items()):
        steps = sorted(z["steps"], key=lambda s: (s[0], s[1]))  # a leave before an enter at the same instant
        occupancy = np.cumsum([d for _, d in steps]) if steps else np.zeros(1)
        zone_out[name] = {
            "visits": z["visits"],
            "visitors": len(z["ids"]),
            "dwell": _stats(np.array(z["dwell"])),
            "peak_occupancy": int(occupancy.max()),
        }
    line_out = {n: {"in": v["in"], "out": v["out"], "people": len(v["ids"])} for n, v in sorted(lines.items())}
    return {"zones": zone_out, "lines": line_out}


def heatmap(tracks: SiteTracks, bins: int = 48) -> dict:
    """Where people stood: a bins×bins histogram of foot points on the ground plane (cameras with a
    homography), else of each camera's image foot points. Counted once per person per second."""
    seen = {c: r for c, r in tracks.rows.items() if len(r)}
    homographies = {c: getattr(tracks.layout.cameras.get(c), "homography", None) for c in seen}
    ground = bool(seen) and all(h is not None for h in homographies.values())
    space = "ground" if ground else "image" if len(seen) == 1 else "image (cameras overlaid)"
    points = []
    for camera, rows in seen.items():
        second = np.floor(tracks.times(camera)).astype(int)
        _, keep = np.unique(np.column_stack([rows[:, 1].astype(int), second]), axis=0, return_index=True)
        rows = rows[keep]
        feet = np.column_stack([rows[:, 2] + rows[:, 4] / 2, rows[:, 3] + rows[:, 5], np.ones(len(rows))])
        if ground:
            g = feet @ homographies[camera].T
            feet = g[:, :2] / g[:, 2:3]
        points.append(feet[:, :2])
    if not points:
        return {"space": "none", "counts": [], "x": [0, 1], "y": [0, 1]}
    p = np.concatenate(points)
    counts, xe, ye = np.histogram2d(p[:, 0], p[:, 1], bins=bins)
    return {
        "space": space,
        "counts": counts.T.astype(int).tolist(),
        "x": [float(xe[0]), float(xe[-1])],
        "y": [float(ye[0]), float(ye[-1])],
    }


def occupancy(tracks: SiteTracks, bins: int = 60) -> dict:
    """People visible at once over the run (different identities per time bin)."""
    ends = [tracks.times(c).max() for c, r in tracks.rows.items() if len(r)]
    if not ends:
        return {"bin_s": 0, "people": []}
    width = max(1.0, float(np.ceil(max(ends) / bins)))
    present: dict[int, set] = {}
    for camera, rows in tracks.rows.items():
        for b, identity in zip((tracks.times(camera) // width).astype(int), rows[:, 1].astype(int)):
            present.setdefault(int(b), set()).add(int(identity))
    top = max(present) + 1 if present else 0
    return {"bin_s": width, "people": [len(present.get(b, ())) for b in range(top)]}


def site_report(tracks: SiteTracks, events: list[dict] | None = None, upper_bound: bool = False) -> dict:
    """Everything a site report shows. Zone and line events are replayed from the rows (so zones declared after
    the run count too) unless `events` gives them."""
    if events is None:
        events = replay(tracks.layout, tracks.rows, tracks.fps) if tracks.layout.has_zones else []
    duration = max((tracks.times(c).max() for c, r in tracks.rows.items() if len(r)), default=0.0)
    return {
        "cameras": sorted(tracks.rows),
        "duration_s": round(float(duration), 2),
        "start": tracks.start,
        "visitors": visitors(tracks),
        "visitors_are_upper_bound": upper_bound,
        "dwell": dwell(tracks),
        **zones_and_lines(events),
        "transitions": transitions(tracks),
        "occupancy": occupancy(tracks),
        "heatmap": heatmap(tracks),
    }


@dataclass(frozen=True)
class LearnedLink:
    """A camera pair's learned connection: how many moves between them were seen, whether the views overlap, and
    the transit window (seconds) those moves suggest."""

    a: str
    b: str
    moves: int
    overlap: bool
    min_s: float
    max_s: float


def learn_links(tracks: SiteTracks, min_moves: int = 3, gone_s: float = GONE_S) -> list[LearnedLink]:
    """Which cameras connect, from the moves of a run's identities between them (both directions pooled): a pair
    whose people are mostly in both views at once overlaps; otherwise its transit window spans the moves'
    5th–95th percentiles, widened by half its span and 2 s either way (the moves are a sample). Pairs with
    fewer than `min_moves` moves stay unlinked. Only as good as the run's identities: learn from a re-associated
    run (the default for files), where one person has one id."""
    found = transitions(tracks, gone_s)["transit_s"]
    pooled: dict[tuple[str, str], list[float]] = {}
    for pair, t in found.items():
        a, b = pair.split(" -> ")
        pooled.setdefault(tuple(sorted((a, b))), []).extend(t["values"])
    links = []
    for (a, b), values in sorted(pooled.items()):
        v = np.array(values, float)
        if len(v) < min_moves:
            continue
        if np.mean(v <= 0) >= 0.5:
            links.append(LearnedLink(a, b, len(v), True, 0.0, 0.0))
            continue
        lo, hi = np.percentile(v[v > 0], [5, 95])
        slack = 0.5 * (hi - lo) + 2.0
        links.append(LearnedLink(a, b, len(v), False, round(max(0.0, lo - slack), 1), round(hi + slack, 1)))
    return links
