"""Frame sources (OpenCV): iterate frames of a video file with clear errors."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from reidkit.errors import ReidkitError


class VideoError(ReidkitError):
    """A video is missing, unreadable or empty."""


def read_frames(path: str | os.PathLike, stride: int = 1, limit: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (0-based frame index, BGR frame) of every `stride`-th frame, at most `limit` frames."""
    import cv2

    p = Path(path)
    if not p.is_file():
        raise VideoError(f"video not found: {p}")
    cap = cv2.VideoCapture(str(p))
    if not cap.isOpened():
        raise VideoError(f"cannot open video (corrupt or unsupported): {p}")
    index = produced = 0
    try:
        while limit is None or produced < limit:
            ok, frame = cap.read()
            if not ok:
                break
            if index % stride == 0:
                yield index, frame
                produced += 1
            index += 1
    finally:
        cap.release()
    if index == 0:
        raise VideoError(f"no frames could be read from {p}")


def video_info(path: str | os.PathLike) -> dict[str, float | int]:
    """Width, height, frame count (0 when the container does not say) and fps of a video."""
    import cv2

    p = Path(path)
    if not p.is_file():
        raise VideoError(f"video not found: {p}")
    cap = cv2.VideoCapture(str(p))
    try:
        if not cap.isOpened():
            raise VideoError(f"cannot open video (corrupt or unsupported): {p}")
        width, height = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        frames = max(0, int(cap.get(cv2.CAP_PROP_FRAME_COUNT)))
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    finally:
        cap.release()
    if width <= 0 or height <= 0:
        raise VideoError(f"no frames could be read from {p}")
    return {"width": width, "height": height, "frames": frames, "fps": fps}
