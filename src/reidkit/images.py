"""Image I/O: read files into BGR uint8 arrays with clear errors."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Union

import cv2
import numpy as np

from reidkit.errors import ImageError
from reidkit.preprocess import to_bgr

ImageLike = Union[str, os.PathLike, np.ndarray]
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")  # what dataset folders and frame folders hold


def load_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file (any format OpenCV decodes, GIF first frame included) as H×W×3 uint8 BGR."""
    p = Path(path)
    if not p.exists():
        raise ImageError(f"image not found: {p}")
    if not p.is_file():
        raise ImageError(f"not a file: {p}")
    data = np.fromfile(p, dtype=np.uint8)
    if data.size == 0:
        raise ImageError(f"image file is empty: {p}")
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if image is None:
        image = _decode_with_videocapture(p)
    if image is None:
        raise ImageError(f"cannot decode image (corrupt or unsupported format): {p}")
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    return to_bgr(image, "bgr", what=str(p))


def _decode_with_videocapture(p: Path) -> np.ndarray | None:
    """Fallback for formats imdecode lacks (GIF): the first frame through VideoCapture."""
    cap = cv2.VideoCapture(str(p))
    try:
        ok, frame = cap.read()
    finally:
        cap.release()
    return frame if ok else None


def as_image(item: ImageLike, color: str = "bgr") -> np.ndarray:
    """A path or an array (in `color` order) as H×W×3 uint8 BGR."""
    if isinstance(item, (str, os.PathLike)):
        return load_image(item)
    return to_bgr(item, color)


def is_single(images: ImageLike | Sequence[ImageLike]) -> bool:
    """True for one image (path or H×W[×C] array), False for a list or an N×H×W×C array."""
    if isinstance(images, (str, os.PathLike)):
        return True
    if isinstance(images, np.ndarray):
        return images.ndim in (2, 3)
    return False


def as_list(images: ImageLike | Iterable[ImageLike]) -> list[ImageLike]:
    """One image or many as a list of images."""
    if is_single(images):
        return [images]  # type: ignore[list-item]
    return list(images)  # type: ignore[arg-type]
