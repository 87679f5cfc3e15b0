"""Privacy masking: people's heads or whole bodies pixelated in what reidkit shows and stores (annotated MP4,
live preview, gallery thumbnails). Recognition still runs on the original pixels, so masking costs no
accuracy. Pure NumPy/OpenCV over boxes; which boxes are spared (enrolled people, when asked) is decided by the
caller.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from reidkit.errors import ConfigError

BLUR_KINDS = ("none", "faces", "people")
HEAD_FRACTION = 0.22  # the top of a standing person's box that holds the head
CELLS = {"faces": 3, "people": 8}  # mosaic cells along the masked region's height


def checked_kind(kind: str) -> str:
    if kind not in BLUR_KINDS:
        raise ConfigError(f"--blur must be one of {', '.join(BLUR_KINDS)}, got {kind!r}")
    return kind


def region(box: Sequence[float], kind: str) -> tuple[float, float, float, float]:
    """What `kind` masks of a person box: its head (the top HEAD_FRACTION) or all of it."""
    x0, y0, x1, y1 = (float(v) for v in box)
    if kind == "faces":
        return x0, y0, x1, y0 + HEAD_FRACTION * (y1 - y0)
    return x0, y0, x1, y1


def pixelate(image: np.ndarray, box: Sequence[float], cells: int) -> None:
    """Replace the pixels of `box` (in place) by a mosaic `cells` blocks tall, its cell edges softened: no face
    or clothing detail survives, and unlike a plain blur of the original nothing can be sharpened back."""
    h, w = image.shape[:2]
    x0, y0 = max(0, int(np.floor(box[0]))), max(0, int(np.floor(box[1])))
    x1, y1 = min(w, int(np.ceil(box[2]))), min(h, int(np.ceil(box[3])))
    if x1 <= x0 or y1 <= y0:
        return
    patch = image[y0:y1, x0:x1]
    rows = max(1, min(cells, y1 - y0))
    cols = max(1, int(round(rows * (x1 - x0) / (y1 - y0))))
    small = cv2.resize(patch, (cols, rows), interpolation=cv2.INTER_AREA)
    blocks = cv2.resize(small, (x1 - x0, y1 - y0), interpolation=cv2.INTER_NEAREST)
    cell = max(1, (y1 - y0) // rows)
    image[y0:y1, x0:x1] = cv2.GaussianBlur(blocks, (0, 0), sigmaX=cell / 2.0)  # soften the cells' edges


def mask(image: np.ndarray, boxes: np.ndarray, kind: str, spare: Sequence[bool] | None = None) -> np.ndarray:
    """A copy of `image` with each person box's head ("faces") or body ("people") pixelated; boxes whose
    `spare` flag is set are left as they are. "none" returns the image itself."""
    if checked_kind(kind) == "none" or not len(boxes):
        return image
    out = image.copy()
    for k, box in enumerate(np.asarray(boxes, np.float64).reshape(-1, 4)):
        if spare is not None and spare[k]:
            continue
        pixelate(out, region(box, kind), CELLS[kind])
    return out
