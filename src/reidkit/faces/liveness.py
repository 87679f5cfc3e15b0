"""Liveness (anti-spoofing): is this a real face in front of the camera, or a printed or replayed one?

MiniFASNet V2 and V1SE (Silent-Face-Anti-Spoofing) each look at the face box scaled by their own factor
(2.7 and 4.0, from the catalog's `params`) around its centre, shifted to stay inside the image, resized to
80×80 BGR; their softmaxes are averaged and the "real" class probability is compared with a threshold.
The crop arithmetic is pure (`scaled_box`); the models run through the runtime like every other model.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from reidkit.errors import ConfigError, ImageError
from reidkit.models.catalog import default_models
from reidkit.models.store import ModelStore
from reidkit.preprocess import fit_batch
from reidkit.runtime import Engine

# P(real) at which a face is accepted as live: the real class must hold at least half of the averaged
# probability. Not tuned: on the shared samples the real face scores 0.96 and the two fakes 0.07 and 0.002,
# and 62 of the 64 colour photos of deepface-pairs pass (docs/benchmarks.md, "Liveness").
LIVENESS_THRESHOLD = 0.5


class SpoofError(ImageError):
    """A face was judged a spoof (printed or replayed) where a live face is required."""


@dataclass(frozen=True)
class Liveness:
    """The liveness verdict of one face: P(real) averaged over the models, and the decision."""

    score: float
    real: bool
    threshold: float

    def as_dict(self) -> dict:
        return {"score": round(self.score, 4), "real": self.real, "threshold": self.threshold}


def scaled_box(box, width: int, height: int, scale: float) -> tuple[int, int, int, int]:
    """The face box (x0, y0, x1, y1) scaled by `scale` about its centre, shifted (not cut) to fit the image.

    As Silent-Face-Anti-Spoofing's CropImage: the scale is reduced when the scaled box cannot fit at all.
    """
    x0, y0, x1, y1 = (float(v) for v in box)
    bw, bh = max(x1 - x0, 1.0), max(y1 - y0, 1.0)
    scale = min((height - 1) / bh, (width - 1) / bw, scale)
    nw, nh = bw * scale, bh * scale
    cx, cy = x0 + bw / 2, y0 + bh / 2
    left, top, right, bottom = cx - nw / 2, cy - nh / 2, cx + nw / 2, cy + nh / 2
    if left < 0:
        right, left = right - left, 0.0
    if top < 0:
        bottom, top = bottom - top, 0.0
    if right > width - 1:
        left, right = left - (right - width + 1), width - 1.0
    if bottom > height - 1:
        top, bottom = top - (bottom - height + 1), height - 1.0
    return int(left), int(top), int(right), int(bottom)


def require_colour(image: np.ndarray) -> None:
    """ImageError for a greyscale picture: the anti-spoofing models were trained on colour camera frames and
    call every grey face a spoof (0 of the 564 grey faces of the shared AT&T and Yale sets pass)."""
    sample = image[:: max(1, image.shape[0] // 64), :: max(1, image.shape[1] // 64)].astype(np.int16)
    if np.abs(sample[..., 0] - sample[..., 1]).max() <= 2 and np.abs(sample[..., 1] - sample[..., 2]).max() <= 2:
        raise ImageError(
            "liveness needs a colour image: this one is greyscale, and the anti-spoofing models judge "
            "only colour camera frames"
        )


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax."""
    z = np.asarray(logits, np.float64)
    z = np.exp(z - z.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


class LivenessModel:
    """An ensemble of anti-spoofing models (the catalog's face-liveness default unless named)."""

    def __init__(
        self,
        models: Sequence[str | os.PathLike] | None = None,
        device: str = "CPU",
        threshold: float = LIVENESS_THRESHOLD,
        store: ModelStore | None = None,
    ) -> None:
        if not 0.0 < threshold < 1.0:
            raise ConfigError(f"the liveness threshold is a probability in (0, 1), got {threshold}")
        store = store or ModelStore()
        self.threshold = threshold
        self.members: list[tuple[Engine, float, int]] = []
        for name in models or default_models("face-liveness"):
            resolved = store.resolve(name)
            params = resolved.spec.params if resolved.spec else {}
            engine = Engine.for_model(resolved, ("face-liveness",), "an anti-spoofing model", device)
            self.members.append((engine, float(params.get("crop_scale", 2.7)), int(params.get("real_class", 1))))

    def score(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """P(real) of each face box (x0, y0, x1, y1) of a BGR image: the members' softmaxes averaged."""
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        h, w = image.shape[:2]
        total = np.zeros(len(boxes))
        for engine, scale, real in self.members:
            spec = engine.input_spec
            crops = []
            for box in boxes:
                x0, y0, x1, y1 = scaled_box(box, w, h, scale)
                crops.append(image[y0 : y1 + 1, x0 : x1 + 1])
            if crops:
                total += softmax(engine.infer(fit_batch(crops, spec.width, spec.height, spec.color)))[:, real]
        return total / max(len(self.members), 1)

    def check(self, image: np.ndarray, boxes: np.ndarray) -> list[Liveness]:
        """The verdict of each face box."""
        return [Liveness(float(s), bool(s >= self.threshold), self.threshold) for s in self.score(image, boxes)]
