"""Pure image preprocessing: colour order, resize, crop, batching and layout. NumPy in, NumPy out."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from reidkit.errors import ImageError

COLOR_ORDERS = ("bgr", "rgb")


def to_bgr(image: np.ndarray, color: str = "bgr", what: str = "image") -> np.ndarray:
    """Return a H×W×3 uint8 BGR view/copy of a grey, 3-channel or 4-channel image in `color` order."""
    if color not in COLOR_ORDERS:
        raise ImageError(f"unknown colour order {color!r}; use 'bgr' or 'rgb'")
    if not isinstance(image, np.ndarray):
        raise ImageError(f"{what}: expected a NumPy array or a path, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise ImageError(f"{what}: expected uint8 pixels, got {image.dtype}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (3, 4)):
        raise ImageError(f"{what}: expected H×W, H×W×3 or H×W×4 pixels, got shape {image.shape}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ImageError(f"{what}: image is empty (shape {image.shape})")
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        code = cv2.COLOR_RGBA2BGR if color == "rgb" else cv2.COLOR_BGRA2BGR
        return cv2.cvtColor(image, code)
    return image[:, :, ::-1] if color == "rgb" else image


def resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize to exactly width×height (bilinear, or area when shrinking by more than 2×)."""
    if image.shape[1] == width and image.shape[0] == height:
        return image
    shrink = image.shape[0] > 2 * height and image.shape[1] > 2 * width
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def pad_to_aspect(image: np.ndarray, width: int, height: int, max_widen: float, max_squash: float) -> np.ndarray:
    """Pad `image` (black, right or bottom) to the aspect of a width×height input when resizing it there would
    widen its content more than `max_widen` times relative to its height (a narrow frame) or narrow it more
    than `max_squash` times (a flat one); otherwise return it as it is. Padding only extends the canvas, so
    normalised box coordinates map back by the padded size."""
    h, w = image.shape[:2]
    stretch = (width / w) / (height / h)  # > 1: content gets wider; < 1: thinner
    if stretch > max_widen:
        pad_w, pad_h = int(round(h * width / height)) - w, 0
    elif stretch < 1.0 / max_squash:
        pad_w, pad_h = 0, int(round(w * height / width)) - h
    else:
        return image
    return cv2.copyMakeBorder(image, 0, max(pad_h, 0), 0, max(pad_w, 0), cv2.BORDER_CONSTANT, value=(0, 0, 0))


def fit_batch(images: Sequence[np.ndarray], width: int, height: int, model_color: str = "bgr") -> np.ndarray:
    """Resize BGR images into one N×H×W×3 uint8 batch in the model's colour order."""
    batch = np.empty((len(images), height, width, 3), dtype=np.uint8)
    for i, image in enumerate(images):
        batch[i] = resize(image, width, height)
    if model_color == "rgb":
        batch = batch[..., ::-1]
    return np.ascontiguousarray(batch)


def to_tensor(
    batch: np.ndarray,
    mean: Sequence[float] = (0.0, 0.0, 0.0),
    std: Sequence[float] = (1.0, 1.0, 1.0),
) -> np.ndarray:
    """N×H×W×3 uint8 -> N×3×H×W float32, (pixel - mean) / std: the model's input tensor."""
    x = batch.astype(np.float32)
    x -= np.asarray(mean, dtype=np.float32)
    x /= np.asarray(std, dtype=np.float32)
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def clip_box(box: Sequence[float], width: int, height: int) -> tuple[int, int, int, int]:
    """Round an (x0, y0, x1, y1) box to pixels and clip it to the image; reject zero-area results."""
    x0, y0, x1, y1 = (float(v) for v in box)
    if not np.all(np.isfinite([x0, y0, x1, y1])):
        raise ImageError(f"box {tuple(box)} has non-finite coordinates")
    ix0, iy0 = max(0, int(np.floor(x0))), max(0, int(np.floor(y0)))
    ix1, iy1 = min(width, int(np.ceil(x1))), min(height, int(np.ceil(y1)))
    if ix1 <= ix0 or iy1 <= iy0:
        raise ImageError(f"box {tuple(box)} has zero area inside the {width}×{height} image")
    return ix0, iy0, ix1, iy1


def crop(image: np.ndarray, box: Sequence[float]) -> np.ndarray:
    """The pixels of `image` inside an (x0, y0, x1, y1) box, clipped to the image."""
    x0, y0, x1, y1 = clip_box(box, image.shape[1], image.shape[0])
    return image[y0:y1, x0:x1]


def l2_normalize(x: np.ndarray, axis: int = -1, eps: float = 1e-12) -> np.ndarray:
    """Scale rows to unit L2 norm (zero rows stay zero)."""
    x = np.asarray(x, dtype=np.float32)
    norm = np.linalg.norm(x, axis=axis, keepdims=True)
    return x / np.maximum(norm, eps)
