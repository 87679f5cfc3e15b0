"""Person attributes: gender, bag, backpack, hat, long sleeves, long trousers, long hair, coat, and the named
colours of the top and the bottom (person-attributes-recognition-crossroad-0230, the catalog's default).

The model gives eight probabilities and two points (x, y in [0, 1] of the crop) where the upper and lower
clothing colours should be read; `colour_name` turns the median colour of a small patch there into one of
COLOURS. Attribute filters (`backpack=yes,upper=red`) are parsed and scored by pure functions here; the gallery
turns them into SQL.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from reidkit.errors import InputError
from reidkit.models.catalog import model_or_default
from reidkit.models.store import ModelStore
from reidkit.preprocess import fit_batch
from reidkit.runtime import Engine

# the model's eight outputs, in order, under the names reidkit stores and filters by
FLAGS = ("male", "bag", "backpack", "hat", "longsleeves", "longpants", "longhair", "coat")
COLOURS = ("black", "white", "grey", "red", "orange", "yellow", "green", "blue", "purple", "pink", "brown")
YES, NO = ("yes", "true", "1", "y"), ("no", "false", "0", "n")


@dataclass(frozen=True)
class PersonAttributes:
    """What the attribute model says of one person crop."""

    probabilities: dict[str, float]
    upper: str
    lower: str

    def as_dict(self) -> dict:
        """The stored and printed shape: each flag's probability, the likelier gender, the colour names."""
        out = {k: round(float(v), 4) for k, v in self.probabilities.items()}
        out["gender"] = "male" if self.probabilities["male"] >= 0.5 else "female"
        out.update(upper=self.upper, lower=self.lower)
        return out


def colour_name(bgr: np.ndarray) -> str:
    """The name (one of COLOURS) of a BGR colour, by hue, saturation and value."""
    h, s, v = (int(c) for c in cv2.cvtColor(np.uint8([[bgr]]), cv2.COLOR_BGR2HSV)[0, 0])
    if v < 55:
        return "black"
    if s < 45:
        return "white" if v > 185 else "grey"
    red = h < 8 or h >= 165
    if red:
        return "pink" if s < 130 and v > 150 else "brown" if v < 100 else "red"
    if h < 22:
        return "brown" if v < 150 else "orange"
    if h < 34:
        return "brown" if v < 110 else "yellow"
    if h < 85:
        return "green"
    if h < 128:
        return "blue"
    if h < 150:
        return "purple"
    return "pink"


def colour_at(crop: np.ndarray, point: Sequence[float], size: float = 0.12) -> str:
    """The colour name of the median of a square patch (side `size` × the crop's width) around (x, y) in [0, 1]."""
    h, w = crop.shape[:2]
    x, y = float(np.clip(point[0], 0, 1)) * (w - 1), float(np.clip(point[1], 0, 1)) * (h - 1)
    half = max(1, int(round(size * w / 2)))
    x0, x1 = max(0, int(x) - half), min(w, int(x) + half + 1)
    y0, y1 = max(0, int(y) - half), min(h, int(y) + half + 1)
    patch = crop[y0:y1, x0:x1].reshape(-1, 3)
    return colour_name(np.median(patch, axis=0).astype(np.uint8))


class AttributeRecognizer:
    """Attributes of person crops (BGR), batched; with `flip` (default) each crop's probabilities are averaged
    with its mirror's (docs/benchmarks.md: a point or two on most attributes, on the labelled crops)."""

    def __init__(
        self,
        model: str | os.PathLike | None = None,
        device: str = "CPU",
        store: ModelStore | None = None,
        flip: bool = True,
    ):
        resolved = (store or ModelStore()).resolve(model_or_default(model, "person-attributes"))
        self.flip = flip
        self.name = resolved.name
        self.engine = Engine.for_model(resolved, ("person-attributes",), "a person attribute model", device)

    def __call__(self, crops: Sequence[np.ndarray]) -> list[PersonAttributes]:
        """One PersonAttributes per crop."""
        if not len(crops):
            return []
        spec = self.engine.input_spec
        batch = fit_batch(list(crops), spec.width, spec.height, spec.color)
        flags, upper, lower = self.engine.infer_outputs(batch)
        if self.flip:  # the mirror's probabilities averaged in (colour points are read on the crop itself)
            flags = (flags + self.engine.infer_outputs(np.ascontiguousarray(batch[:, :, ::-1]))[0]) / 2
        view = batch[..., ::-1] if spec.color == "rgb" else batch  # the crops as the model saw them, BGR
        return [
            PersonAttributes(dict(zip(FLAGS, map(float, f))), colour_at(v, u), colour_at(v, lo))
            for f, u, lo, v in zip(flags, upper, lower, view)
        ]


# -- filters ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Condition:
    """One attribute filter: a flag (at least or below 0.5), gender, or a named colour."""

    key: str  # a FLAG, "upper" or "lower"
    value: str | bool  # True/False for flags (gender: male = True), a colour name for upper/lower

    def holds(self, attributes: dict) -> bool:
        """Whether stored attributes satisfy the condition."""
        if self.key in ("upper", "lower"):
            return attributes.get(self.key) == self.value
        p = attributes.get(self.key)
        return p is not None and (p >= 0.5) == self.value

    def score(self, attributes: dict) -> float:
        """How strongly the attributes satisfy it: the probability for flags, 1 or 0 for colours."""
        if self.key in ("upper", "lower"):
            return 1.0 if attributes.get(self.key) == self.value else 0.0
        p = float(attributes.get(self.key, 0.0))
        return p if self.value else 1.0 - p


def parse_where(text: str | None) -> list[Condition]:
    """`backpack=yes,upper=red,gender=female` as Conditions; InputError naming a bad key or value."""
    conditions = []
    for part in (text or "").split(","):
        if not part.strip():
            continue
        if "=" not in part:
            raise InputError(f"an attribute filter is key=value, got {part.strip()!r}")
        key, value = (s.strip().lower() for s in part.split("=", 1))
        if key == "gender":
            if value not in ("male", "female"):
                raise InputError(f"gender is male or female, got {value!r}")
            conditions.append(Condition("male", value == "male"))
        elif key in ("upper", "lower"):
            if value not in COLOURS:
                raise InputError(f"{key} is a colour: one of {', '.join(COLOURS)}; got {value!r}")
            conditions.append(Condition(key, value))
        elif key in FLAGS and key != "male":
            if value not in YES + NO:
                raise InputError(f"{key} is yes or no, got {value!r}")
            conditions.append(Condition(key, value in YES))
        else:
            known = ", ".join(["gender", *FLAGS[1:], "upper", "lower"])
            raise InputError(f"unknown attribute {key!r}: use {known}")
    return conditions


def attribute_score(attributes: dict | None, conditions: Sequence[Condition]) -> float:
    """The product of the conditions' scores (0 without attributes): the ranking of `gallery find`."""
    if not attributes:
        return 0.0
    return float(np.prod([c.score(attributes) for c in conditions])) if conditions else 1.0
