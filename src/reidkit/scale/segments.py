"""Cutting videos into time segments for parallel workers. Pure.

A segment owns frames [start, end) of one video; for tracking it also reads `warmup` frames before `start`, which
overlap the previous segment so tracklets can be stitched across the boundary. Still images are one segment each.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Segment:
    """A piece of one video (or one still image) for one worker."""

    path: str
    camera: str
    index: int  # segment number within its file
    start: int  # first frame owned
    end: int | None  # one past the last frame owned (None: to the end of the file)
    warmup: int = 0  # frames read before `start` (tracking only)
    fps: float = 0.0
    still: bool = False

    @property
    def first(self) -> int:
        """The first frame read."""
        return max(0, self.start - self.warmup)

    @property
    def frames(self) -> int | None:
        """Frames owned (None when the file's length is unknown)."""
        return None if self.end is None else self.end - self.start


def plan_segments(
    path: str,
    camera: str,
    frames: int,
    fps: float,
    segment_s: float = 600.0,
    overlap_s: float = 0.0,
    still: bool = False,
) -> list[Segment]:
    """Segments of `segment_s` seconds (the last one reads to the end of the file, whatever its container
    declares; a file of unknown length is one segment), each but the first reading `overlap_s` seconds of the
    previous one first."""
    if still:
        return [Segment(path, camera, 0, 0, 1, 0, 0.0, True)]
    if segment_s <= 0:
        raise ValueError("segment_s must be positive")
    if frames <= 0 or fps <= 0:
        return [Segment(path, camera, 0, 0, None, 0, fps)]
    size = max(1, int(round(segment_s * fps)))
    warm = max(0, int(round(overlap_s * fps)))
    count = max(1, math.ceil(frames / size))
    out = []
    for k in range(count):
        start = k * size
        end = None if k == count - 1 else min(frames, start + size)  # the last reads to the end of the file
        out.append(Segment(path, camera, k, start, end, warm if k else 0, fps))
    return out
