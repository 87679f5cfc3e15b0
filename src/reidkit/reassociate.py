"""Global re-association of recorded footage: after the online pass, every tracklet of every camera is clustered
again, with all the evidence of the whole run, under the layout's space–time constraints.

The online pass decides once, greedily, from the crops a track had when it was confirmed. Here each tracklet is
summarised by its quality-weighted mean embedding (tracklets.py) and tracklets are joined by constrained
average-linkage clustering:

- **cannot-link**: two tracklets of one camera that share a frame; two tracklets of cameras whose views do not
  overlap that are visible at the same time for longer than `co_visible_s` (nobody is in two places at once);
  two tracklets of overlapping views seen at the same time at ground points further apart than twice the layout's
  radius;
- **must-link**: tracklets of overlapping views (with homographies) seen at the same time at the same ground
  point (median distance within the radius);
- **transit windows**: a merge is refused when, on the merged timeline, a step from camera A to camera B falls
  outside the A→B link's window, or a step within one camera moves faster than the motion gate allows.

With `seed_online` the clustering starts from the online identities where they carried a person across a short
gap (the next tracklet of an id begins within `seed_gap_s` of the last one's end: a hand-over, an occlusion),
joined first as far as the constraints allow; the online pass's re-identifications after longer absences were
made from the few crops of a just-confirmed track, so here they must earn their merge like any other pair.

Two clusters are scored by the calibrated log-odds of their average link (the mean pairwise cosine of their
tracklets' crops, in the units of the re-id model's calibration) plus a **hand-over bonus** where a tracklet of
one starts, within `handover_s`, about where a tracklet of the other ended on the ground plane (as far as people
on this run walk in the gap: the speed is measured from the run's own tracklets); clusters merge while that score
exceeds the log-odds of `threshold`. A tracklet without appearance (every crop cut by the frame edge or covered)
is left out of the average link, and joins on a hand-over alone. Then short clusters — seen for at most
`fragment_share` of the run's median cluster time — join their best allowed candidate above the lower
`fragment_threshold` (absorb_fragments). Tracklets shorter than `min_rows`
are not clustered (one or two boxes say too little): they follow their online id.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from reidkit.cameras import CameraLayout
from reidkit.models.catalog import Calibration
from reidkit.track.tracklets import Tracklet, TrackletBook


@dataclass(frozen=True)
class ReassociationConfig:
    """How tracklets are joined (see the module docstring; defaults chosen on the mean over layouts, see
    docs/benchmarks.md)."""

    threshold: float = 0.98  # calibrated P(same) an average link needs (with the hand-over bonus below)
    co_visible_s: float = 1.0  # cameras that do not overlap may both show one person this long (a hand-over)
    max_speed: float = 1.0  # body heights per second, for steps within one camera
    min_common: int = 3  # same-time samples needed to compare ground points
    min_rows: int = 3  # shorter tracklets carry too little evidence to move: they follow their online id
    seed_online: bool = True  # start from the online identities (their tracklets joined first), then merge on top
    seed_gap_s: float = 5.0  # ...but only across gaps this short: longer-gap online re-identifications are re-judged
    camera_bias: bool = False  # remove each camera's mean feature (adding back the overall mean) before linking;
    # measured on the layouts of docs/benchmarks.md and left off (see there)
    handover_bonus: float = 3.0  # log-odds added to clusters where one tracklet takes over from another in
    # space and time (see handovers); 0 turns it off
    handover_s: float = 5.0  # the longest gap between the end of one tracklet and the start of the next that
    # still counts as a hand-over
    live_threshold: float = 0.99  # live corrections merge at this P (a merge shown live is never taken back)
    fragment_share: float = 0.4  # clusters seen this share of the median cluster's time or less, shortest first,
    # then join their best candidate at `fragment_threshold` (0 turns it off)
    fragment_threshold: float = 0.95


@dataclass
class Reassociation:
    """The outcome: the final global id of every tracklet, and what changed."""

    labels: dict[tuple[str, int], int]
    identities_before: int
    identities_after: int
    tracklets: int
    seconds: float
    events: list[dict] = field(default_factory=list)  # identity_split / identity_merged (see corrections)

    def summary(self) -> dict:
        return {
            "tracklets": self.tracklets,
            "identities_online": self.identities_before,
            "identities": self.identities_after,
            "seconds": round(self.seconds, 3),
            "merged": sum(e["event"] == "identity_merged" for e in self.events),
            "split": sum(e["event"] == "identity_split" for e in self.events),
        }


# -- constraints --------------------------------------------------------------------------------------------------
def _common(a: Tracklet, b: Tracklet, tolerance: float) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of a and b at the same moment (times within `tolerance`)."""
    ta, tb = np.array([r[6] for r in a.rows]), np.array([r[6] for r in b.rows])
    if ta[-1] < tb[0] - tolerance or tb[-1] < ta[0] - tolerance:
        return np.zeros(0, int), np.zeros(0, int)
    pos = np.clip(np.searchsorted(tb, ta), 1, len(tb) - 1) if len(tb) > 1 else np.zeros(len(ta), int)
    nearest = np.where(np.abs(tb[pos - 1] - ta) < np.abs(tb[pos] - ta), pos - 1, pos) if len(tb) > 1 else pos
    close = np.abs(tb[nearest] - ta) <= tolerance
    return np.flatnonzero(close), nearest[close]


def _period(tracklets: list[Tracklet]) -> float:
    """Half the typical time between two rows of a track (the tolerance for "the same moment")."""
    steps = [np.median(np.diff([r[6] for r in t.rows])) for t in tracklets if len(t.rows) > 2]
    step = float(np.median(steps)) if steps else 0.1
    return max(step, 1e-3) * 0.5


def pair_constraints(
    tracklets: list[Tracklet], layout: CameraLayout, config: ReassociationConfig = ReassociationConfig()
) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """(cannot: n×n bool, must: index pairs) of the tracklets under the layout (module docstring)."""
    n = len(tracklets)
    cannot = np.zeros((n, n), bool)
    must = []
    tolerance = _period(tracklets)
    for i in range(n):
        a = tracklets[i]
        for j in range(i + 1, n):
            b = tracklets[j]
            if a.end < b.start - tolerance or b.end < a.start - tolerance:
                continue
            ia, ib = _common(a, b, tolerance)
            if not len(ia):
                continue
            if a.camera == b.camera:
                cannot[i, j] = True
            elif not layout.overlap(a.camera, b.camera):
                cannot[i, j] = _two_places(a, b, len(ia) * 2 * tolerance, config.co_visible_s)
            elif len(ia) >= config.min_common:
                distance = _ground_distance(a, b, ia, ib, layout)
                if distance is None:
                    continue
                if distance <= layout.ground_radius:
                    must.append((i, j))
                elif distance > 2 * layout.ground_radius:
                    cannot[i, j] = True
    cannot |= cannot.T
    return cannot, must


def _two_places(a: Tracklet, b: Tracklet, together_s: float, allowance_s: float) -> bool:
    """Whether views that do not overlap show one person for too long at once to be one: longer than the
    hand-over allowance, or for most of the shorter tracklet (a hand-over is a brief part of both)."""
    shorter = max(min(a.end - a.start, b.end - b.start), 1e-9)
    return together_s > allowance_s or (len(a.rows) > 2 and len(b.rows) > 2 and together_s > 0.5 * shorter)


def _ground_distance(a: Tracklet, b: Tracklet, ia, ib, layout: CameraLayout) -> float | None:
    pa = [layout.ground(a.camera, a.rows[k][1:5]) for k in ia]
    pb = [layout.ground(b.camera, b.rows[k][1:5]) for k in ib]
    if any(p is None for p in pa + pb):
        return None
    return float(np.median(np.hypot(*(np.array(pa) - np.array(pb)).T)))


def timeline_allowed(members: list[Tracklet], layout: CameraLayout, max_speed: float = 1.0) -> bool:
    """Whether one person could have made every step of these tracklets' timeline: camera to camera inside
    the links' transit windows, within one camera no faster than the motion gate."""
    ordered = sorted(members, key=lambda t: t.start)
    for before, after in zip(ordered, ordered[1:]):
        gap = after.start - before.end
        if gap < 0:
            continue  # overlapping in time: judged by the pair constraints
        if before.camera == after.camera:
            last, first = np.array(before.rows[-1][1:5]), np.array(after.rows[0][1:5])
            height = max(last[3] - last[1], first[3] - first[1], 1.0)
            moved = np.hypot(*((first[:2] + first[2:]) / 2 - (last[:2] + last[2:]) / 2))
            if moved > height * (1.0 + max_speed * gap) and gap < 2.0:  # after 2 s anyone may come back anywhere
                return False
        elif (
            not layout.overlap(before.camera, after.camera) and layout.transit(before.camera, after.camera, gap) is None
        ):
            return False
    return True


# -- hand-overs ---------------------------------------------------------------------------------------------------
def ground_speed(
    tracklets: list[Tracklet], ground: list, quantile: float = 95.0, window_s: float = 1.0, min_rows: int = 12
) -> float | None:
    """How fast people walk in this run: the `quantile`-th percentile of the ground distance per second covered
    over `window_s` inside the tracklets with ground points (None when no tracklet of `min_rows` has them)."""
    speeds = []
    for t, points in zip(tracklets, ground):
        if points is None or len(t.rows) < min_rows:
            continue
        times = np.array([r[6] for r in t.rows])
        later = np.searchsorted(times, times + window_s)
        ok = later < len(times)
        step = np.hypot(*(points[later[ok]] - points[ok]).T) / (times[later[ok]] - times[ok])
        speeds.append(step[np.isfinite(step)])
    found = np.concatenate(speeds) if speeds else np.zeros(0)
    return float(np.percentile(found, quantile)) if len(found) else None


def handovers(tracklets: list[Tracklet], layout: CameraLayout, within_s: float) -> np.ndarray:
    """N×N bool, symmetric: pairs where one tracklet takes over from the other — it begins between 1 s before
    and `within_s` after the other ends, on the ground within two radii plus the distance people of this run
    walk in the gap (ground_speed). Nothing without homographies."""
    n = len(tracklets)
    ground = [layout.ground_many(t.camera, t.boxes) for t in tracklets]  # None without a homography
    speed = ground_speed(tracklets, ground)
    if speed is None:
        return np.zeros((n, n), bool)
    missing = np.array([np.nan, np.nan])
    first = np.array([g[0] if g is not None else missing for g in ground])
    last = np.array([g[-1] if g is not None else missing for g in ground])
    gap = np.array([t.start for t in tracklets])[None, :] - np.array([t.end for t in tracklets])[:, None]
    moved = np.hypot(first[None, :, 0] - last[:, None, 0], first[None, :, 1] - last[:, None, 1])
    with np.errstate(invalid="ignore"):
        near = moved <= 2 * layout.ground_radius + speed * np.maximum(gap, 0.0)
    found = (gap >= -1.0) & (gap <= within_s) & near
    np.fill_diagonal(found, False)
    return found | found.T


# -- clustering ---------------------------------------------------------------------------------------------------
class _Linkage:
    """Average-linkage state of N items in clusters: per pair of clusters the sum and count of their comparable
    member similarities, the largest bonus between their members, and whether they may still merge."""

    def __init__(self, similarity: np.ndarray, cannot: np.ndarray, bonus: np.ndarray | None, unknown: float):
        n = len(similarity)
        comparable = ~np.isnan(similarity)
        self.total = np.where(comparable, similarity, 0.0).astype(np.float64)  # Σ similarity, comparable pairs
        self.count = comparable.astype(np.float64)  # how many pairs that is
        np.fill_diagonal(self.total, 0.0)
        np.fill_diagonal(self.count, 0.0)
        self.extra = np.zeros((n, n)) if bonus is None else np.asarray(bonus, dtype=np.float64).copy()
        self.blocked = cannot.copy()  # cannot-links, refused merges and clusters merged away
        np.fill_diagonal(self.blocked, True)
        self.members = [[i] for i in range(n)]
        self.owner = np.arange(n)
        self.unknown = unknown

    def scores(self, rows=slice(None)) -> np.ndarray:
        """Mean similarity plus bonus of cluster pairs (-inf where they may not merge), for `rows` × all."""
        total, count = self.total[rows], self.count[rows]
        mean = np.divide(total, count, out=np.full(total.shape, self.unknown), where=count > 0)
        return np.where(self.blocked[rows], -np.inf, mean + self.extra[rows])

    def merge(self, a: int, b: int) -> None:
        a, b = min(a, b), max(a, b)
        for m in (self.total, self.count):
            m[a] += m[b]
            m[:, a] = m[a]
            m[a, a] = 0.0
        self.extra[a] = self.extra[:, a] = np.maximum(self.extra[a], self.extra[b])
        self.blocked[a] |= self.blocked[b]
        self.blocked[:, a] = self.blocked[a]
        self.blocked[b], self.blocked[:, b] = True, True
        self.members[a] += self.members[b]
        self.members[b] = []
        self.owner[self.members[a]] = a

    def refuse(self, a: int, b: int) -> None:
        self.blocked[a, b] = self.blocked[b, a] = True


def cluster(
    similarity: np.ndarray,
    cannot: np.ndarray,
    must: list[tuple[int, int]],
    threshold: float,
    allowed=lambda members: True,
    bonus: np.ndarray | None = None,
    unknown: float = 0.0,
    fragments: tuple[np.ndarray, float, float] | None = None,
) -> np.ndarray:
    """Constrained average-linkage clustering of N items by their N×N similarity (NaN: not comparable, e.g. a
    tracklet without appearance): must-link pairs first, then the best allowed pair of clusters while their mean
    similarity over their comparable member pairs (`unknown` where none is comparable), plus the largest `bonus`
    (N×N) between their members, exceeds `threshold`. `allowed(member indices)` may refuse a merge. With
    `fragments` = (seconds per item, share of the median, lower threshold), clusters that short then join their
    best candidate above the lower threshold (see absorb_fragments). Returns a cluster label per item."""
    link = _Linkage(similarity, cannot, bonus, unknown)
    for i, j in must:
        a, b = link.owner[i], link.owner[j]
        if a != b and not link.blocked[a, b] and allowed(link.members[a] + link.members[b]):
            link.merge(a, b)
    n = len(similarity)
    while True:
        masked = link.scores()
        a, b = divmod(int(np.argmax(masked)), n)
        if not masked[a, b] > threshold:
            break
        if not allowed(link.members[a] + link.members[b]):
            link.refuse(a, b)
            continue
        link.merge(a, b)
    if fragments is not None:
        absorb_fragments(link, allowed, *fragments)
    return link.owner.copy()


def absorb_fragments(link: _Linkage, allowed, seconds: np.ndarray, share: float, threshold: float) -> None:
    """Each cluster seen for at most `share` of the median cluster's seconds (the sum of its items' `seconds`),
    shortest first, joins its best allowed candidate cluster when their score exceeds `threshold` (lower than the
    clustering's). The median is this run's: in footage where everyone passes in two seconds nobody is a fragment.

    A short piece left on its own is a person counted twice; joined to the wrong identity, those few seconds are
    wrong either way; so a fragment needs less evidence than two long tracks do."""
    seconds = np.asarray(seconds, np.float64)
    lasting = np.array([seconds[m].sum() if m else np.inf for m in link.members])  # per cluster index
    most_s = share * float(np.median(lasting[np.isfinite(lasting)]))
    waiting = lasting <= most_s  # fragments not yet tried
    while waiting.any():
        a = int(np.flatnonzero(waiting)[np.argmin(lasting[waiting])])  # the shortest first
        waiting[a] = False
        row = link.scores(a)
        for b in (int(b) for b in np.argsort(-row)):
            if not row[b] > threshold:
                break
            if allowed(link.members[a] + link.members[b]):
                link.merge(a, b)
                keep, gone = min(a, b), max(a, b)
                lasting[keep], lasting[gone] = lasting[a] + lasting[b], np.inf
                waiting[keep], waiting[gone] = lasting[keep] <= most_s, False  # still short: it may join again
                break
            link.refuse(a, b)


def reassociate(
    book: TrackletBook,
    calibration: Calibration,
    layout: CameraLayout | None = None,
    config: ReassociationConfig = ReassociationConfig(),
) -> Reassociation:
    """Final global ids for every tracklet of a run (keeping the online ids where they stand, see final_ids)."""
    started = time.perf_counter()
    layout = layout or CameraLayout()
    everything = book.ordered()
    if not everything:
        return Reassociation({}, 0, 0, 0, time.perf_counter() - started)
    tracklets = [t for t in everything if len(t.rows) >= config.min_rows]
    out = _clustered(tracklets, calibration, layout, config) if tracklets else {}
    out.update(_follow_online([t for t in everything if t.key not in out], tracklets, out))
    before = len({t.online_id for t in everything})
    after = len(set(out.values()))
    events = corrections(everything, out)
    return Reassociation(out, before, after, len(everything), time.perf_counter() - started, events)


def _clustered(tracklets: list[Tracklet], calibration, layout: CameraLayout, config) -> dict:
    """Final ids of the tracklets long enough to cluster."""
    dim = next((len(t.feature()) for t in tracklets if t.has_appearance), 1)
    features = np.array([t.feature() if t.has_appearance else np.full(dim, np.nan) for t in tracklets])
    if config.camera_bias:
        features = without_camera_bias(features, [t.camera for t in tracklets])
    cannot, must = pair_constraints(tracklets, layout, config)
    if config.seed_online:
        must = [*must, *_online_pairs(tracklets, config.seed_gap_s)]
    bonus = config.handover_bonus * handovers(tracklets, layout, config.handover_s) if config.handover_bonus else None
    threshold = logit(config.threshold)
    labels = cluster(
        log_odds(features, calibration),
        cannot,
        must,
        threshold,
        lambda idx: timeline_allowed([tracklets[k] for k in idx], layout, config.max_speed),
        bonus,
        # clusters appearance cannot compare (every crop of one side cut by the frame edge or covered) are joined
        # by a hand-over alone
        unknown=threshold - config.handover_bonus + 1e-6 if config.handover_bonus > 0 else -math.inf,
        fragments=_fragments(tracklets, config),
    )
    return final_ids(tracklets, labels)


def _fragments(tracklets: list[Tracklet], config: ReassociationConfig) -> tuple[np.ndarray, float, float] | None:
    """cluster()'s `fragments` argument: each tracklet's seconds, the share of the median cluster's, the
    threshold."""
    if config.fragment_share <= 0:
        return None
    seconds = np.array([t.end - t.start for t in tracklets])
    return seconds, config.fragment_share, logit(config.fragment_threshold)


def logit(probability: float) -> float:
    """The log-odds of a probability (clipped away from 0 and 1)."""
    p = min(max(probability, 1e-9), 1 - 1e-9)
    return math.log(p / (1 - p))


def log_odds(features: np.ndarray, calibration: Calibration) -> np.ndarray:
    """N×N calibrated log-odds that two tracklets are one person (scale × mean pairwise cosine + bias; NaN for a
    row of NaN, a tracklet without appearance)."""
    return calibration.scale * (features @ features.T) + calibration.bias


def without_camera_bias(features: np.ndarray, cameras: list[str]) -> np.ndarray:
    """Each camera's mean feature replaced by the overall mean (rows of NaN, without appearance, stay): what a
    view adds to everyone it sees (light, angle, background) no longer counts as likeness."""
    out = features.copy()
    has = ~np.isnan(features).any(axis=1)
    if has.sum() < 2 or len(set(cameras)) < 2:
        return out
    overall = features[has].mean(axis=0)
    cams = np.array(cameras)
    for camera in set(cameras):
        rows = has & (cams == camera)
        if rows.any():
            out[rows] = features[rows] - features[rows].mean(axis=0) + overall
    return out


def _online_pairs(tracklets: list[Tracklet], within_s: float = math.inf) -> list[tuple[int, int]]:
    """Index pairs chaining the tracklets that the online pass gave one identity (in start order), where the next
    one begins at most `within_s` after the end of the one before."""
    last: dict[int, int] = {}
    pairs = []
    for k, t in enumerate(tracklets):
        before = last.get(t.online_id)
        if before is not None and t.start - tracklets[before].end <= within_s:
            pairs.append((before, k))
        last[t.online_id] = k if before is None else max(before, k, key=lambda i: tracklets[i].end)
    return pairs


def _follow_online(short: list[Tracklet], clustered: list[Tracklet], out: dict) -> dict:
    """Final ids for tracklets too short to cluster: where their online id went (the final id of most of that
    id's clustered rows), else the online id itself when free, else a new one."""
    went_to = _row_votes(clustered, lambda t: t.online_id, lambda t: out[t.key])
    used = set(out.values())
    fresh = max([*used, *(t.online_id for t in short)], default=0) + 1
    went: dict[int, int] = {}
    for t in short:
        if t.online_id not in went:
            votes = went_to.get(t.online_id)
            if votes:
                went[t.online_id] = _ranked(votes)[0]
            elif t.online_id not in used:
                went[t.online_id] = t.online_id
            else:
                went[t.online_id], fresh = fresh, fresh + 1
            used.add(went[t.online_id])
    return {t.key: went[t.online_id] for t in short}


def _row_votes(tracklets: list[Tracklet], group, vote) -> dict[int, dict[int, int]]:
    """Per group, how many rows (boxes) of its tracklets vote for each id."""
    votes: dict[int, dict[int, int]] = {}
    for t in tracklets:
        tally = votes.setdefault(group(t), {})
        tally[vote(t)] = tally.get(vote(t), 0) + len(t.rows)
    return votes


def _ranked(votes: dict[int, int]) -> list[int]:
    """Ids by rows for them, the smaller id first on a tie."""
    return sorted(votes, key=lambda i: (-votes[i], i))


def final_ids(tracklets: list[Tracklet], labels, current: dict | None = None) -> dict[tuple[str, int], int]:
    """A global id per cluster that keeps the ids already given out (the online ids, or `current`: tracklet key
    -> id): each cluster (in order of first appearance) takes the id covering most of its rows that no earlier
    cluster took, else a new id above every one of them. Where re-association agrees nothing is renumbered."""
    label_of = {t.key: int(label) for t, label in zip(tracklets, labels)}
    now = {t.key: t.online_id for t in tracklets} if current is None else current
    clusters = _row_votes(tracklets, lambda t: label_of[t.key], lambda t: now[t.key])  # in first-appearance order
    taken: set[int] = set()
    fresh = max(now.values(), default=0) + 1
    chosen: dict[int, int] = {}
    for label, votes in clusters.items():
        choice = next((i for i in _ranked(votes) if i not in taken), None)
        if choice is None:
            choice, fresh = fresh, fresh + 1
        taken.add(choice)
        chosen[label] = choice
    return {key: chosen[label] for key, label in label_of.items()}


def corrections(tracklets: list[Tracklet], labels: dict) -> list[dict]:
    """What re-association changed, as events a live consumer can apply to the ids it already has:
    `identity_split` (an online id whose tracks now belong to several people: `into`) and `identity_merged`
    (online ids now one person: `merged` into `id`), each with the tracks ([camera, track]) that moved."""
    into: dict[int, set[int]] = {}
    merged: dict[int, set[int]] = {}
    moved: dict[tuple[str, int], list] = {}
    for t in tracklets:
        final = labels[t.key]
        into.setdefault(t.online_id, set()).add(final)
        if final != t.online_id:
            merged.setdefault(final, set()).add(t.online_id)
            moved.setdefault(("split", t.online_id), []).append([t.camera, t.track_id])
            moved.setdefault(("merged", final), []).append([t.camera, t.track_id])
    events = [
        {"event": "identity_split", "id": online, "into": sorted(finals), "tracks": moved[("split", online)]}
        for online, finals in sorted(into.items())
        if len(finals) > 1
    ]
    events += [
        {"event": "identity_merged", "id": final, "merged": sorted(ids), "tracks": moved[("merged", final)]}
        for final, ids in sorted(merged.items())
        if ids - {final} and final in into  # into a person the online pass knew (else a split made it)
    ]
    return events


class LiveCorrections:
    """Re-association while a run goes on: every `every_s` seconds of stream time the tracklets active within
    the last `horizon_s` are re-associated, and the merges not announced before go out as `identity_merged`
    events tagged `live`, with `lag_s`: seconds since the newest merged track began.

    Live, an id already shown is not taken back, so a pass builds on every online identity (`seed_gap_s`
    unbounded, at the stricter `live_threshold`) and only an id whose every recent tracklet the pass puts with
    another id's is merged into it (see whole_moves); splits are left to the end-of-run pass. Both rules were
    chosen on the layouts of benchmarks/live_corrections.py (docs/benchmarks.md)."""

    def __init__(
        self,
        book: TrackletBook,
        calibration: Calibration,
        layout: CameraLayout | None = None,
        config: ReassociationConfig = ReassociationConfig(),
        every_s: float = 5.0,
        horizon_s: float = 600.0,
    ) -> None:
        self.book, self.calibration, self.layout = book, calibration, layout
        self.config = replace(config, threshold=config.live_threshold, seed_gap_s=math.inf, fragment_share=0.0)
        self.every_s, self.horizon_s = every_s, horizon_s
        self.announced: set[tuple[int, int]] = set()  # (surviving id, id merged into it)
        self.alias: dict[int, int] = {}  # id merged away -> the id it was merged into
        self.last = -math.inf
        self.seconds = 0.0  # time spent in passes

    def update(self, now: float) -> list[dict]:
        """The new merges, when a pass is due at stream time `now` (else nothing)."""
        if now - self.last < self.every_s:
            return []
        self.last = now
        recent = TrackletBook()
        recent.tracklets = {k: t for k, t in self.book.tracklets.items() if t.rows and t.end >= now - self.horizon_s}
        result = reassociate(recent, self.calibration, self.layout, self.config)
        self.seconds += result.seconds
        tracklets = recent.ordered()
        shown = {t.key: survivor(self.alias, t.online_id) for t in tracklets}
        joins: dict[int, list[int]] = {}
        for merged, final in whole_moves(tracklets, result.labels, shown).items():
            joins.setdefault(final, []).append(merged)
        events = []
        for final, merged in sorted(joins.items()):
            moved = [t for t in tracklets if shown[t.key] in merged]
            for i in merged:
                self.alias[i] = final
                self.announced.add((final, i))
            event = {"event": "identity_merged", "id": final, "merged": sorted(merged), "live": True}
            event["tracks"] = [[t.camera, t.track_id] for t in moved]
            newest = max(t.start for t in moved)
            events.append(dict(event, time_s=round(now, 3), lag_s=round(now - newest, 3)))
        return events


def whole_moves(tracklets: list[Tracklet], labels: dict, shown: dict) -> dict[int, int]:
    """The ids, as consumers know them (`shown`: tracklet key -> id), whose every tracklet a pass (`labels`:
    tracklet key -> cluster) put with another id's: that id -> the id it joins (each cluster keeps the shown id
    covering most of its rows, as final_ids does). An id only part of whose tracklets moved is left as it is: a
    split cannot be announced as a merge of the whole id."""
    target = final_ids(tracklets, [labels[t.key] for t in tracklets], shown)
    goes: dict[int, set[int]] = {}
    for t in tracklets:
        goes.setdefault(shown[t.key], set()).add(target[t.key])
    return {i: next(iter(to)) for i, to in goes.items() if len(to) == 1 and i not in to}


def survivor(alias: dict[int, int], identity: int) -> int:
    """The id `identity` answers as after live merges (`alias`: id merged away -> the id it was merged into)."""
    while identity in alias:
        identity = alias[identity]
    return identity


# -- rewriting a run's outputs ------------------------------------------------------------------------------------
def rewrite_mot(folder: str | Path, book: TrackletBook, labels: dict, cameras: list[str]) -> None:
    """Write every camera's `<camera>.txt` again from the tracklets, with the final ids."""
    from reidkit.data.mot import mot_line
    from reidkit.files import atomic_write

    rows: dict[str, list] = {c: [] for c in cameras}
    for t in book.tracklets.values():
        identity = labels[t.key]
        rows.setdefault(t.camera, []).extend((r[0], identity, r[1:5], r[5]) for r in t.rows)
    for camera, found in rows.items():
        found.sort(key=lambda r: (r[0], r[1]))
        with atomic_write(Path(folder) / f"{camera}.txt") as fh:
            fh.writelines(mot_line(f + 1, i, box, score) + "\n" for f, i, box, score in found)


def relabel_events(events: list[dict], labels: dict) -> list[dict]:
    """Track events with their final ids: a person's first confirmation is `first_seen`, later ones
    `reidentified` (marked `reassociated` where the online pass said otherwise)."""
    seen: set[int] = set()
    out = []
    for event in events:
        key = (event.get("camera"), event.get("track"))
        if "id" not in event or key not in labels:
            out.append(event)
            continue
        event = dict(event, id=labels[key], online_id=event["id"])
        if event["event"] in ("first_seen", "reidentified"):
            kind = "reidentified" if event["id"] in seen else "first_seen"
            if kind != event["event"]:
                event = dict(event, event=kind, reassociated=True)
            seen.add(event["id"])
        out.append(event)
    return out


def interleaved(events: list[dict], new: list[dict]) -> list[dict]:
    """`events` (in log order) with `new` placed by their `time_s`: an event without a time keeps its place after
    the one before it, and the closing events without a time (the end-of-run pass's) stay last."""
    cut = len(events)
    while cut and "time_s" not in events[cut - 1]:
        cut -= 1
    keyed, at = [], -math.inf
    for k, event in enumerate(events[:cut]):
        at = event.get("time_s", at)
        keyed.append((at, 0, k, event))
    keyed += [(event["time_s"], 1, k, event) for k, event in enumerate(new)]
    keyed.sort(key=lambda item: item[:3])
    return [item[3] for item in keyed] + events[cut:]


def rewrite_events(path: str | Path, labels: dict, replaced: tuple[str, ...] = (), by: list[dict] = ()) -> None:
    """`events.jsonl` again with the final ids (relabel_events); events without a track pass unchanged. Events
    of the kinds `replaced` give way to `by` (e.g. zone visits replayed on the final ids), placed by time."""
    from reidkit.files import atomic_write

    path = Path(path)
    events = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    events = relabel_events([e for e in events if e.get("event") not in replaced], labels)
    events = interleaved(events, list(by)) if replaced else events
    with atomic_write(path) as fh:
        fh.writelines(json.dumps(e) + "\n" for e in events)
