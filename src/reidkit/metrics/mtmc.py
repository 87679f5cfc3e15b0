"""Multi-camera tracking metrics: cross-camera IDF1 / IDP / IDR, and per-camera MOT metrics.

Cross-camera identity measures (the DukeMTMC / AI City multi-camera metric): one identity matching over every
camera's frames together, so a person who keeps one global id across cameras scores as one trajectory, and
one who gets a new id in the next camera loses the frames of the second. Implemented by laying the cameras'
sequences end to end (each camera's frames offset past the previous one's) and scoring that one sequence with
the single-camera Identity metric; per camera, MOTA, IDF1, HOTA and ID switches as usual.
"""

from __future__ import annotations

import numpy as np

from reidkit.metrics.mot import mot_metrics


def concatenate_cameras(rows_by_camera: dict[str, np.ndarray], order: list[str], span: int) -> np.ndarray:
    """MOT rows of several cameras as one sequence: camera k's frames shifted by k × span."""
    width = rows_width(rows_by_camera)
    parts = []
    for k, camera in enumerate(order):
        rows = np.asarray(rows_by_camera.get(camera, np.zeros((0, width))), float)
        rows = rows.reshape(-1, rows.shape[-1] if rows.ndim == 2 else width)
        shifted = np.full((len(rows), width), -1.0)
        shifted[:, : rows.shape[1]] = rows
        shifted[:, 0] += k * span
        parts.append(shifted)
    return np.concatenate(parts) if parts else np.zeros((0, 7))


def rows_width(rows_by_camera: dict[str, np.ndarray]) -> int:
    widths = [np.shape(r)[1] for r in rows_by_camera.values() if np.size(r)]
    return max(widths) if widths else 7


def mtmc_metrics(gt: dict[str, np.ndarray], pred: dict[str, np.ndarray], iou_threshold: float = 0.5) -> dict:
    """{"cross_camera": {IDF1, IDP, IDR, ...}, "cameras": {camera: MOT metrics}} of global-id MOT rows per camera
    (frame, id, x, y, w, h, conf, ...; conf 0 in the ground truth = ignored). Cameras without predictions
    score as empty."""
    order = sorted(gt)
    span = (
        int(
            max((np.max(np.asarray(r)[:, 0]) for r in list(gt.values()) + list(pred.values()) if np.size(r)), default=0)
        )
        + 1
    )
    cameras = {c: mot_metrics(gt[c], _or_empty(pred.get(c)), iou_threshold) for c in order}
    joint_gt = concatenate_cameras(gt, order, span)
    joint_pred = concatenate_cameras({c: _or_empty(pred.get(c)) for c in order}, order, span)
    joint = mot_metrics(joint_gt, joint_pred, iou_threshold)
    valid = joint_gt[:, 6] != 0 if joint_gt.shape[1] > 6 else np.ones(len(joint_gt), bool)
    cross = {k: joint[k] for k in ("IDF1", "IDP", "IDR")}
    cross.update(
        gt_identities=int(len(np.unique(joint_gt[valid, 1]))),
        pred_identities=int(len(np.unique(joint_pred[:, 1]))) if len(joint_pred) else 0,
    )
    return {"cross_camera": cross, "cameras": cameras}


def _or_empty(rows) -> np.ndarray:
    return np.zeros((0, 7)) if rows is None or not np.size(rows) else np.asarray(rows, float)
