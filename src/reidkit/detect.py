"""SSD-style detectors (OMZ [1,1,200,7] output) -> Detections value objects."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from reidkit.models.catalog import model_or_default
from reidkit.models.store import ModelStore
from reidkit.preprocess import fit_batch, to_bgr
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


def parse_ssd(rows: np.ndarray, width: int, height: int, threshold: float, label: int | None = None) -> Detections:
    """Decode SSD DetectionOutput rows [image_id, label, conf, x0, y0, x1, y1] (normalised) to pixels."""
    rows = np.asarray(rows, dtype=np.float32).reshape(-1, 7)
    keep = (rows[:, 0] >= 0) & (rows[:, 2] >= threshold)
    if label is not None:
        keep &= rows[:, 1] == label
    rows = rows[keep]
    xyxy = np.clip(rows[:, 3:7], 0.0, 1.0) * np.array([width, height, width, height], np.float32)
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
    """Runs an OMZ SSD detector on whole frames."""

    def __init__(
        self,
        model: str | os.PathLike | None = None,
        precision: str | None = None,
        device: str = "CPU",
        confidence: float = 0.5,
        nms_iou: float | None = 0.5,
        store: ModelStore | None = None,
    ) -> None:
        resolved = (store or ModelStore()).resolve(model_or_default(model, "person-detect"), precision)
        self.name = resolved.name
        self.engine = Engine.for_model(resolved, DETECTION_TASKS, "a detector", device)
        self.confidence = confidence
        self.nms_iou = nms_iou

    def detect(self, frame: np.ndarray, color: str = "bgr") -> Detections:
        """Detections of one H×W×3 frame, in its pixels."""
        bgr = to_bgr(frame, color, what="frame")
        spec = self.engine.input_spec
        batch = fit_batch([bgr], spec.width, spec.height, spec.color)
        rows = self.engine.infer_one(batch)
        dets = parse_ssd(rows, bgr.shape[1], bgr.shape[0], self.confidence)
        return nms(dets, self.nms_iou) if self.nms_iou else dets

    def detect_batch(self, frames: list[np.ndarray]) -> list[Detections]:
        """Detections of several BGR frames (several cameras): run as parallel asynchronous requests."""
        if len(frames) <= 1:
            return [self.detect(f) for f in frames]
        spec = self.engine.input_spec
        batch = fit_batch(frames, spec.width, spec.height, spec.color)
        rows = self.engine.infer(batch)
        out = []
        for frame, r in zip(frames, rows):
            dets = parse_ssd(r, frame.shape[1], frame.shape[0], self.confidence)
            out.append(nms(dets, self.nms_iou) if self.nms_iou else dets)
        return out
