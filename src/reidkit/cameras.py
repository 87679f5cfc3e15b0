"""A camera layout: which cameras exist, where they look (optional homography to a ground plane), and how a
person can move between them (links with transit windows, overlapping views). Read from a TOML file:

    ground_radius = 1.0          # ground-plane distance (plane units, e.g. metres) within which two
                                 # simultaneous sightings in overlapping views are one person
    outside_window = "refuse"    # a re-identification across a link outside its transit window: "refuse",
                                 # or a number: the penalty subtracted from its probability

    [[camera]]
    name = "entrance"
    source = "rtsp://10.0.0.5/stream1"           # optional: `reidkit track --cameras FILE` needs no SOURCE then
    homography = [[...], [...], [...]]           # optional: image pixels -> ground plane (3×3)

    [[camera.zone]]                              # optional: areas whose visits are counted
    name = "checkout"
    polygon = [[100, 300], [400, 300], [400, 470], [100, 470]]   # image pixels (ground = true: plane units)

    [[camera.line]]                              # optional: directed lines whose crossings are counted
    name = "door"
    points = [[0, 250], [640, 250]]              # a -> b; "in" crosses to the right of a -> b as drawn on
                                                 # screen (a line drawn left to right: "in" goes down the picture)

    [[link]]
    from = "entrance"
    to = "hall"
    min_s = 2                    # the fastest walk between the two views
    max_s = 60                   # the slowest
    # overlap = true             # the two views see the same floor at the same time (no transit)
    # both_ways = false          # the link is one-way (default: both ways)

Pure data and geometry; no models, no I/O beyond reading the file.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import numpy as np

from reidkit.errors import ConfigError


@dataclass(frozen=True)
class Zone:
    """A named polygon of a camera (image pixels, or the ground plane when `ground`)."""

    name: str
    polygon: np.ndarray  # N×2, N >= 3
    ground: bool = False


@dataclass(frozen=True)
class Line:
    """A named, directed segment a -> b of a camera (image pixels, or the ground plane when `ground`)."""

    name: str
    points: np.ndarray  # 2×2: a, b
    ground: bool = False


@dataclass(frozen=True)
class Camera:
    """One camera: its name, optional source, optional 3×3 image-to-ground homography, zones and lines."""

    name: str
    source: str | None = None
    homography: np.ndarray | None = None
    zones: tuple[Zone, ...] = ()
    lines: tuple[Line, ...] = ()

    def to_ground(self, box) -> np.ndarray | None:
        """The ground-plane point under a box (its bottom centre), or None without a homography."""
        points = self.to_ground_many([box])
        if points is None or np.isnan(points[0]).any():
            return None
        return points[0]

    def to_ground_many(self, boxes) -> np.ndarray | None:
        """The ground-plane points under N boxes (N×2; NaN where the plane is at infinity), or None without a
        homography."""
        if self.homography is None:
            return None
        b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        p = np.column_stack([(b[:, 0] + b[:, 2]) / 2, b[:, 3], np.ones(len(b))]) @ self.homography.T
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(np.abs(p[:, 2:]) < 1e-12, np.nan, p[:, :2] / p[:, 2:])


@dataclass(frozen=True)
class Link:
    """How a person gets from one camera's view to another's."""

    source: str
    target: str
    min_s: float = 0.0
    max_s: float = math.inf
    overlap: bool = False


@dataclass(frozen=True)
class CameraLayout:
    """Cameras and links; the empty layout (no file) knows nothing: appearance decides, in one place at a time."""

    cameras: dict[str, Camera] = field(default_factory=dict)
    links: tuple[Link, ...] = ()
    ground_radius: float = 1.0
    outside_penalty: float | None = None  # None: refuse a transit outside its window

    @property
    def has_zones(self) -> bool:
        """Whether any camera declares zones or lines."""
        return any(c.zones or c.lines for c in self.cameras.values())

    def overlap(self, a: str, b: str) -> bool:
        """Whether views a and b see the same floor at the same time."""
        return a == b or any(link.overlap for link in self._links(a, b))

    def link(self, a: str, b: str) -> Link | None:
        """The transit link from a to b, if declared."""
        return next((link for link in self._links(a, b) if not link.overlap), None)

    def _links(self, a: str, b: str) -> list[Link]:
        return [link for link in self.links if link.source == a and link.target == b]

    def ground(self, camera: str, box) -> np.ndarray | None:
        """The ground-plane point of a box seen by `camera` (None without a homography)."""
        cam = self.cameras.get(camera)
        return cam.to_ground(box) if cam is not None else None

    def ground_many(self, camera: str, boxes) -> np.ndarray | None:
        """The ground-plane points (N×2) of boxes seen by `camera` (None without a homography)."""
        cam = self.cameras.get(camera)
        return cam.to_ground_many(boxes) if cam is not None else None

    def transit(self, a: str, b: str, seconds: float) -> float | None:
        """The probability penalty for a person last seen in `a` to appear in `b` `seconds` later: 0.0 when
        allowed, a positive penalty outside a link's window (when the layout gives one), None when refused.
        Camera pairs without a declared link are unconstrained."""
        link = self.link(a, b)
        if link is None or link.min_s <= seconds <= link.max_s:
            return 0.0
        return self.outside_penalty


def _float(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{what} must be a number, got {value!r}")
    return float(value)


def _homography(value, what: str) -> np.ndarray:
    try:
        h = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConfigError(f"{what} must be a 3×3 list of numbers") from None
    if h.shape != (3, 3) or not np.isfinite(h).all() or abs(np.linalg.det(h)) < 1e-12:
        raise ConfigError(f"{what} must be an invertible 3×3 matrix of finite numbers")
    return h


def _points(value, what: str, count: int | None = None) -> np.ndarray:
    try:
        p = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConfigError(f"{what} must be a list of [x, y] points") from None
    if p.ndim != 2 or p.shape[1] != 2 or not np.isfinite(p).all():
        raise ConfigError(f"{what} must be a list of [x, y] points of finite numbers")
    if count is not None and len(p) != count:
        raise ConfigError(f"{what} must be exactly {count} points, got {len(p)}")
    if count is None and len(p) < 3:
        raise ConfigError(f"{what} needs at least 3 points, got {len(p)}")
    return p


def _shapes(entry: dict, what: str, has_homography: bool) -> tuple[tuple[Zone, ...], tuple[Line, ...]]:
    """A camera's [[camera.zone]] and [[camera.line]] tables."""
    found: dict[str, list] = {"zone": [], "line": []}
    for kind, field_name in (("zone", "polygon"), ("line", "points")):
        tables = entry.get(kind, [])
        if not isinstance(tables, list):
            raise ConfigError(f"{what}: {kind} must be [[camera.{kind}]] tables")
        names = set()
        for k, t in enumerate(tables):
            label = f"{what}: {kind} #{k + 1}"
            if not isinstance(t, dict) or not isinstance(t.get("name"), str) or not t["name"].strip():
                raise ConfigError(f"{label} needs a name")
            name = t["name"].strip()
            if name in names:
                raise ConfigError(f"{label}: {kind} {name!r} is declared twice")
            names.add(name)
            unknown = set(t) - {"name", field_name, "ground"}
            if unknown:
                raise ConfigError(f"{label} {name!r}: unknown key {sorted(unknown)[0]!r}")
            if field_name not in t:
                raise ConfigError(f"{label} {name!r} needs {field_name}")
            ground = t.get("ground", False)
            if not isinstance(ground, bool):
                raise ConfigError(f"{label} {name!r}: ground is true or false")
            if ground and not has_homography:
                raise ConfigError(f"{label} {name!r} is on the ground plane but the camera has no homography")
            pts = _points(t[field_name], f"{label} {name!r}: {field_name}", 2 if kind == "line" else None)
            if kind == "line" and np.allclose(pts[0], pts[1]):
                raise ConfigError(f"{label} {name!r}: its two points are the same")
            found[kind].append(Zone(name, pts, ground) if kind == "zone" else Line(name, pts, ground))
    return tuple(found["zone"]), tuple(found["line"])


def parse_layout(data: dict, origin: str = "cameras file") -> CameraLayout:
    """A CameraLayout from parsed TOML; every mistake is a ConfigError naming the field."""
    known = {"camera", "link", "ground_radius", "outside_window"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"{origin}: unknown key {unknown[0]!r} (expected {', '.join(sorted(known))})")
    cameras: dict[str, Camera] = {}
    for k, entry in enumerate(data.get("camera", [])):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"].strip():
            raise ConfigError(f"{origin}: camera #{k + 1} needs a name")
        name = entry["name"].strip()
        if name in cameras:
            raise ConfigError(f"{origin}: camera {name!r} is declared twice")
        if "/" in name or name.startswith("."):
            raise ConfigError(f"{origin}: camera name {name!r} cannot contain '/' or start with '.'")
        source = entry.get("source")
        if source is not None and not isinstance(source, str):
            raise ConfigError(f"{origin}: camera {name!r}: source must be a string")
        homography = entry.get("homography")
        h = _homography(homography, f"{origin}: camera {name!r}: homography") if homography is not None else None
        zones, lines = _shapes(entry, f"{origin}: camera {name!r}", h is not None)
        cameras[name] = Camera(name, source, h, zones, lines)
    links: list[Link] = []
    for k, entry in enumerate(data.get("link", [])):
        what = f"{origin}: link #{k + 1}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{what} must be a table")
        a, b = entry.get("from"), entry.get("to")
        for end in (a, b):
            if not isinstance(end, str):
                raise ConfigError(f"{what} needs 'from' and 'to' camera names")
            if cameras and end not in cameras:
                raise ConfigError(f"{what}: unknown camera {end!r}")
        if a == b:
            raise ConfigError(f"{what} links camera {a!r} to itself")
        overlap = bool(entry.get("overlap", False))
        lo = _float(entry.get("min_s", 0.0), f"{what}: min_s")
        hi = _float(entry.get("max_s", math.inf), f"{what}: max_s")
        if lo < 0 or hi < lo:
            raise ConfigError(f"{what}: need 0 <= min_s <= max_s, got {lo} and {hi}")
        links.append(Link(a, b, lo, hi, overlap))
        if entry.get("both_ways", True) or overlap:
            links.append(Link(b, a, lo, hi, overlap))
    radius = _float(data.get("ground_radius", 1.0), f"{origin}: ground_radius")
    if radius <= 0:
        raise ConfigError(f"{origin}: ground_radius must be positive")
    outside = data.get("outside_window", "refuse")
    if outside == "refuse":
        penalty = None
    else:
        penalty = _float(outside, f"{origin}: outside_window ('refuse' or a penalty)")
        if not 0 <= penalty <= 1:
            raise ConfigError(f"{origin}: outside_window penalty must be in [0, 1]")
    return CameraLayout(cameras, tuple(links), radius, penalty)


def load_layout(path: str | os.PathLike) -> CameraLayout:
    """Read a cameras TOML file."""
    from reidkit.files import read_toml

    return parse_layout(read_toml(path, "cameras file"), str(path))


def layout_toml(layout: CameraLayout) -> str:
    """A cameras file for a layout (written by `reidkit data split-views`)."""
    import tomlkit

    doc = tomlkit.document()
    doc["ground_radius"] = layout.ground_radius
    doc["outside_window"] = "refuse" if layout.outside_penalty is None else layout.outside_penalty
    cams = tomlkit.aot()
    for cam in layout.cameras.values():
        t = tomlkit.table()
        t["name"] = cam.name
        if cam.source:
            t["source"] = cam.source
        if cam.homography is not None:
            t["homography"] = [[round(float(v), 6) for v in row] for row in cam.homography]
        for kind, shapes, field_name in (("zone", cam.zones, "polygon"), ("line", cam.lines, "points")):
            if shapes:
                tables = tomlkit.aot()
                for shape in shapes:
                    st = tomlkit.table()
                    st["name"] = shape.name
                    st[field_name] = [[round(float(v), 4) for v in p] for p in getattr(shape, field_name)]
                    if shape.ground:
                        st["ground"] = True
                    tables.append(st)
                t[kind] = tables
        cams.append(t)
    doc["camera"] = cams
    seen, links = set(), tomlkit.aot()
    for link in layout.links:
        key = frozenset((link.source, link.target))
        if key in seen:
            continue
        seen.add(key)
        t = tomlkit.table()
        t["from"], t["to"] = link.source, link.target
        if link.overlap:
            t["overlap"] = True
        else:
            t["min_s"] = link.min_s
            if math.isfinite(link.max_s):
                t["max_s"] = link.max_s
        links.append(t)
    doc["link"] = links
    return tomlkit.dumps(doc)
