"""SSD-style detectors (OMZ [1,1,200,7] output) -> Detections value objects."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from reidkit.errors import ConfigError
from reidkit.models.catalog import model_or_default
from reidkit.models.store import ModelStore
from reidkit.preprocess import fit_batch, pad_to_aspect, to_bgr
from reidkit.runtime import Engine

DETECTION_TASKS = ("person-detect", "face-detect")


@dataclass(frozen=True)
class Detections:
    """Boxes in pixels (x0, y0, x1, y1), their confidences and class ids; parallel arrays."""

    xyxy: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    confidence: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.float32))
    class_id: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.int64))

    def __len__(self) -> int:
        return len(self.xyxy)

    def __getitem__(self, index) -> "Detections":
        return Detections(self.xyxy[index], self.confidence[index], self.class_id[index])


def parse_ssd(
    rows: np.ndarray,
    width: int,
    height: int,
    threshold: float,
    label: int | None = None,
    canvas: tuple[int, int] | None = None,
) -> Detections:
    """Decode SSD DetectionOutput rows [image_id, label, conf, x0, y0, x1, y1] (normalised) to pixels.

    `canvas` (width, height) is the padded image the detector saw when it differs from the frame:
    coordinates are scaled by it and clipped to the frame."""
    rows = np.asarray(rows, dtype=np.float32).reshape(-1, 7)
    keep = (rows[:, 0] >= 0) & (rows[:, 2] >= threshold)
    if label is not None:
        keep &= rows[:, 1] == label
    rows = rows[keep]
    cw, ch = canvas or (width, height)
    xyxy = np.clip(rows[:, 3:7], 0.0, 1.0) * np.array([cw, ch, cw, ch], np.float32)
    xyxy = np.minimum(xyxy, np.array([width, height, width, height], np.float32))
    area_ok = (xyxy[:, 2] > xyxy[:, 0]) & (xyxy[:, 3] > xyxy[:, 1])
    return Detections(xyxy[area_ok], rows[area_ok, 2], rows[area_ok, 1].astype(np.int64))


def nms(dets: Detections, iou_threshold: float) -> Detections:
    """Greedy non-maximum suppression (OpenCV's) over all boxes."""
    if len(dets) == 0:
        return dets
    boxes = np.column_stack([dets.xyxy[:, :2], dets.xyxy[:, 2:] - dets.xyxy[:, :2]]).tolist()
    import cv2

    keep = cv2.dnn.NMSBoxes(boxes, dets.confidence.tolist(), 0.0, iou_threshold)
    keep = np.asarray(keep, dtype=np.int64).ravel()
    return dets[np.sort(keep)]


class Detector:
    """Runs an OMZ SSD detector on whole frames.

    `max_stretch` = (widen, squash): a frame that resizing to the model input would widen more than `widen`
    times (a narrow strip of a wider view, a portrait video) or make thinner more than `squash` times is padded
    to the model's aspect first instead of being stretched. Widened people are missed: on 106-px PETS09 strips
    recall at IoU 0.5 rises from 0.02 to 0.85 padded; thinner ones are not (16:9 MOT17 frames lose recall
    when padded), hence the two limits (docs/benchmarks.md, "Narrow views"). None always stretches."""

    def __init__(
        self,
        model: str | os.PathLike | None = None,
        precision: str | None = None,
        device: str = "CPU",
        confidence: float = 0.5,
        nms_iou: float | None = 0.5,
        store: ModelStore | None = None,
        max_stretch: tuple[float, float] | None = (1.25, 2.0),
    ) -> None:
        resolved = (store or ModelStore()).resolve(model_or_default(model, "person-detect"), precision)
        self.name = resolved.name
        self.engine = Engine.for_model(resolved, DETECTION_TASKS, "a detector", device)
        self.confidence = confidence
        self.nms_iou = nms_iou
        if max_stretch is not None and (len(max_stretch) != 2 or min(max_stretch) < 1.0):
            raise ConfigError(f"max_stretch must be (widen, squash), each at least 1.0, or None; got {max_stretch}")
        self.max_stretch = max_stretch

    def _canvases(self, frames: list[np.ndarray]) -> list[np.ndarray]:
        spec = self.engine.input_spec
        if self.max_stretch is None:
            return frames
        return [pad_to_aspect(f, spec.width, spec.height, *self.max_stretch) for f in frames]

    def _decode(self, rows: np.ndarray, frame: np.ndarray, canvas: np.ndarray) -> Detections:
        size = (canvas.shape[1], canvas.shape[0])
        dets = parse_ssd(rows, frame.shape[1], frame.shape[0], self.confidence, canvas=size)
        return nms(dets, self.nms_iou) if self.nms_iou else dets

    def detect(self, frame: np.ndarray, color: str = "bgr") -> Detections:
        """Detections of one H×W×3 frame, in its pixels."""
        bgr = to_bgr(frame, color, what="frame")
        spec = self.engine.input_spec
        [canvas] = self._canvases([bgr])
        rows = self.engine.infer_one(fit_batch([canvas], spec.width, spec.height, spec.color))
        return self._decode(rows, bgr, canvas)

    def detect_batch(self, frames: list[np.ndarray]) -> list[Detections]:
        """Detections of several BGR frames (several cameras): run as parallel asynchronous requests."""
        if len(frames) <= 1:
            return [self.detect(f) for f in frames]
        spec = self.engine.input_spec
        canvases = self._canvases(frames)
        rows = self.engine.infer(fit_batch(canvases, spec.width, spec.height, spec.color))
        return [self._decode(r, f, c) for f, c, r in zip(frames, canvases, rows)]
