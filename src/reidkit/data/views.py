"""Virtual cameras from one annotated video: side-by-side strips of the frame, each with its own ground truth.

`split_views` crops every frame into views given as fractions of the width (overlapping, or with a blind strip
between them) and writes, per view, a video and MOT ground truth in that view's pixels with the sequence's
global ids: a person counts in a view while at least `min_inside` of their box width lies inside it (their box
clipped to the view). Multi-camera tracking can then be measured on data with known cross-camera identities.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from reidkit.cameras import Camera, CameraLayout, Link, layout_toml
from reidkit.data.mot import read_mot_gt, seqinfo_size
from reidkit.errors import DatasetError, InputError


def parse_views(text: str) -> list[tuple[float, float]]:
    """`0:0.6,0.4:1` as [(0.0, 0.6), (0.4, 1.0)]: fractions of the frame width, left to right."""
    views = []
    for part in text.split(","):
        try:
            a, b = (float(v) for v in part.split(":"))
        except ValueError:
            raise InputError(f"a view is start:end as fractions of the width (e.g. 0:0.6), got {part!r}") from None
        if not 0.0 <= a < b <= 1.0:
            raise InputError(f"a view needs 0 <= start < end <= 1, got {part!r}")
        views.append((a, b))
    if len(views) < 2:
        raise InputError("give at least two views, e.g. --views 0:0.6,0.4:1")
    return views


def view_rows(gt: np.ndarray, x0: float, x1: float, min_inside: float = 0.6) -> np.ndarray:
    """The ground-truth rows (video pixels) of people at least `min_inside` inside the strip [x0, x1), in the
    strip's pixels, boxes clipped to it."""
    rows = np.asarray(gt, float)
    left, right = rows[:, 2], rows[:, 2] + rows[:, 4]
    inside = np.clip(np.minimum(right, x1) - np.maximum(left, x0), 0, None) / np.maximum(rows[:, 4], 1e-9)
    out = rows[inside >= min_inside].copy()
    new_left = np.maximum(out[:, 2], x0)
    new_right = np.minimum(out[:, 2] + out[:, 4], x1)
    out[:, 2], out[:, 4] = new_left - x0, new_right - new_left
    return out


def split_views(
    video: str | os.PathLike,
    gt_path: str | os.PathLike | None,
    out: str | os.PathLike,
    views: list[tuple[float, float]],
    scale: float | None = None,
    min_inside: float = 0.6,
    max_frames: int | None = None,
    transit_max_s: float | None = None,
    ground_radius: float = 0.05,
) -> dict:
    """Write OUT/view<k>.mp4 and OUT/gt/view<k>.txt for each view, and OUT/cameras.toml describing the layout;
    returns a summary. Without `gt_path` (footage nobody annotated) only the views and the cameras file are
    written.

    The cameras file is what the builder knows of the geometry: each view's homography is its shift into the
    source frame (the source frame is the "ground plane", `ground_radius` a fraction of its width); neighbouring
    views that overlap are declared `overlap = true`. With `transit_max_s`, neighbouring views that do not overlap
    are linked with a transit window of 0..`transit_max_s` seconds (a hard rule: only right for a site where the
    blind strip is the only way between them; without it they are unconstrained)."""
    import cv2

    from reidkit.files import make_dir
    from reidkit.video import FrameReader, video_info

    info = video_info(video)
    width, height = int(info["width"]), int(info["height"])
    gt = None if gt_path is None else read_mot_gt(gt_path, include_ignored=True).copy()
    if scale is None:
        size = None if gt_path is None else seqinfo_size(gt_path)
        scale = width / size[0] if size else 1.0
    out = make_dir(Path(out))
    if gt is not None:
        gt[:, 2:6] *= scale
        make_dir(out / "gt")
    strips = [(int(round(a * width)), int(round(b * width))) for a, b in views]
    names = [f"view{k + 1}" for k in range(len(views))]
    writers = [
        cv2.VideoWriter(str(out / f"{n}.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), info["fps"] or 25.0, (x1 - x0, height))
        for n, (x0, x1) in zip(names, strips)
    ]
    frames = 0
    try:
        for _, frame in FrameReader(video, limit=max_frames):
            frames += 1
            for writer, (x0, x1) in zip(writers, strips):
                writer.write(np.ascontiguousarray(frame[:, x0:x1]))
    finally:
        for writer in writers:
            writer.release()
    if frames == 0:
        raise DatasetError(f"no frames could be read from {video}")
    (out / "cameras.toml").write_text(layout_toml(views_layout(names, strips, width, transit_max_s, ground_radius)))
    summary = {"views": {}, "frames": frames, "scale": scale, "cameras": str(out / "cameras.toml")}
    for name, (x0, x1) in zip(names, strips):
        summary["views"][name] = {"x0": x0, "x1": x1}
        if gt is None:
            continue
        rows = view_rows(gt[gt[:, 0] <= frames], x0, x1, min_inside)
        np.savetxt(out / "gt" / f"{name}.txt", rows, fmt="%g", delimiter=",")
        valid = rows[:, 6] != 0 if rows.shape[1] > 6 else np.ones(len(rows), bool)
        summary["views"][name].update(boxes=int(valid.sum()), identities=int(len(np.unique(rows[valid, 1]))))
    return summary


def views_layout(
    names: list[str], strips: list[tuple[int, int]], width: int, transit_max_s: float | None, ground_radius: float
) -> CameraLayout:
    """The camera layout of side-by-side strips of one frame (see split_views)."""
    cameras = {}
    for name, (x0, _) in zip(names, strips):
        shift = np.array([[1.0, 0.0, x0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
        cameras[name] = Camera(name, None, shift)
    links = []
    order = sorted(range(len(strips)), key=lambda k: strips[k][0])
    for a, b in zip(order, order[1:]):
        overlap = strips[a][1] > strips[b][0]
        if not overlap and transit_max_s is None:
            continue
        lo, hi = (0.0, math.inf) if overlap else (0.0, float(transit_max_s))
        for s, t in ((a, b), (b, a)):
            links.append(Link(names[s], names[t], lo, hi, overlap))
    return CameraLayout(cameras, tuple(links), ground_radius * width, None)
