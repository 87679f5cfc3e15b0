"""Frame sources (OpenCV): iterate frames of a video file with clear errors."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from reidkit.errors import InputError


class VideoError(InputError):
    """A video is missing, unreadable or empty."""


class FrameReader:
    """Iterates (0-based frame index, BGR frame) of every `stride`-th frame of a video, at most `limit`.

    After iteration, `frames_read` and `frames_declared` (the container's count, 0 when unknown) tell whether
    the file ended early; `shortfall()` words it for the user (a truncated or damaged file).
    """

    def __init__(self, path: str | os.PathLike, stride: int = 1, limit: int | None = None) -> None:
        p = Path(path)
        if not p.is_file():
            raise VideoError(f"video not found: {p}")
        if stride < 1:
            raise VideoError(f"stride must be at least 1, got {stride}")
        self.path, self.stride, self.limit = p, stride, limit
        self.frames_read = 0
        self.frames_declared = 0
        self.stopped_early = False  # by `limit`

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        import cv2

        cap = cv2.VideoCapture(str(self.path))
        if not cap.isOpened():
            raise VideoError(f"cannot open video (corrupt or unsupported): {self.path}")
        self.frames_declared = max(0, int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0))
        index = produced = 0
        try:
            while True:
                if self.limit is not None and produced >= self.limit:
                    self.stopped_early = True
                    break
                try:
                    ok, frame = cap.read()
                except cv2.error:
                    ok = False
                if not ok:
                    break
                index += 1
                self.frames_read = index
                if (index - 1) % self.stride == 0:
                    yield index - 1, frame
                    produced += 1
        finally:
            cap.release()
        if index == 0:
            raise VideoError(f"no frames could be read from {self.path} (corrupt, empty or unsupported)")

    def shortfall(self) -> str | None:
        """A one-line notice when the file ended well before the frame count its container declares."""
        if self.stopped_early or not self.frames_declared or self.frames_read >= 0.98 * self.frames_declared - 1:
            return None
        return (
            f"{self.path}: read {self.frames_read} of the {self.frames_declared} frames its container declares "
            "(truncated or damaged file?)"
        )


def read_frames(path: str | os.PathLike, stride: int = 1, limit: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (0-based frame index, BGR frame) of every `stride`-th frame, at most `limit` frames."""
    yield from FrameReader(path, stride, limit)


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


def read_image_folder(folder: str | os.PathLike, stride: int = 1) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (0-based index, BGR frame) of the images of a folder in name order (MOT's img1/ layout)."""
    import cv2

    from reidkit.images import IMAGE_SUFFIXES

    paths = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise VideoError(f"no images in {folder}")
    for index, path in enumerate(paths):
        if index % stride:
            continue
        frame = cv2.imread(str(path))
        if frame is None:
            raise VideoError(f"cannot read frame image {path}")
        yield index, frame


def open_source(source: str | os.PathLike, stride: int = 1) -> tuple[Iterator[tuple[int, np.ndarray]], float]:
    """Frames of a video file or an image folder, and its frame rate (images: from seqinfo.ini, else 30)."""
    p = Path(source)
    if p.is_dir():
        fps = 30.0
        ini = p.parent / "seqinfo.ini"
        if ini.is_file():
            import configparser

            parser = configparser.ConfigParser()
            parser.read(ini)
            fps = float(parser.get("Sequence", "frameRate", fallback="30"))
        return read_image_folder(p, stride), fps
    info = video_info(p)
    return FrameReader(p, stride=stride), float(info["fps"] or 25.0)


class VideoWriter:
    """An MP4 writer that opens on the first frame (so the size comes from the frames)."""

    def __init__(self, path: str | os.PathLike, fps: float) -> None:
        self.path = Path(path)
        self.fps = fps if fps and fps > 0 else 25.0
        self._writer = None

    def write(self, frame: np.ndarray) -> None:
        """Append one BGR frame."""
        import cv2

        if self._writer is None:
            from reidkit.files import make_dir

            make_dir(self.path.parent)
            h, w = frame.shape[:2]
            self._writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (w, h))
            if not self._writer.isOpened():
                raise VideoError(f"cannot write video {self.path}")
            self._size = (w, h)
        if (frame.shape[1], frame.shape[0]) != self._size:  # a live stream came back at another size
            frame = cv2.resize(frame, self._size)
        self._writer.write(frame)

    def close(self) -> None:
        """Finish the file."""
        if self._writer is not None:
            self._writer.release()
            self._writer = None
