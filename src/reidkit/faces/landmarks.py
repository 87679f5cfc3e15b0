"""Five facial landmarks (eyes, nose tip, mouth corners) with landmarks-regression-retail-0009."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from reidkit.models.catalog import model_or_default
from reidkit.models.store import ModelStore
from reidkit.preprocess import clip_box, fit_batch
from reidkit.runtime import Engine


def square_box(box: Sequence[float], scale: float = 1.0) -> np.ndarray:
    """A square box around `box`'s centre with side scale × max(width, height)."""
    x0, y0, x1, y1 = (float(v) for v in box)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    half = scale * max(x1 - x0, y1 - y0) / 2
    return np.array([cx - half, cy - half, cx + half, cy + half], np.float64)


class LandmarkRegressor:
    """Regresses five landmarks inside a face box; returns them in image pixels."""

    def __init__(
        self,
        model: str | os.PathLike | None = None,
        precision: str | None = None,
        device: str = "CPU",
        store: ModelStore | None = None,
    ) -> None:
        resolved = (store or ModelStore()).resolve(model_or_default(model, "face-landmarks"), precision)
        self.engine = Engine.for_model(resolved, ("face-landmarks",), "a landmark regressor", device)

    def __call__(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """K×5×2 landmarks (pixels) of K face boxes (x0, y0, x1, y1) in a BGR image."""
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        spec = self.engine.input_spec
        out = np.zeros((len(boxes), 5, 2), np.float64)
        for k, box in enumerate(boxes):
            x0, y0, x1, y1 = clip_box(box, image.shape[1], image.shape[0])
            batch = fit_batch([image[y0:y1, x0:x1]], spec.width, spec.height, spec.color)
            rel = self.engine.infer_one(batch).reshape(5, 2).astype(np.float64)
            out[k] = rel * [x1 - x0, y1 - y0] + [x0, y0]
        return out
