"""MOTChallenge metrics (MOTA, IDF1, HOTA, ID switches) computed by TrackEval's metric classes.

This module prepares one sequence the way MOTChallenge does: ground-truth boxes flagged 0 ("ignore") are
removed together with the predicted boxes matched to them (IoU >= 0.5), ids are relabelled, and IoU
similarity matrices are built per frame; TrackEval's HOTA, CLEAR and Identity classes do the rest.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from reidkit.track.association import iou_matrix


def xywh_to_xyxy(rows: np.ndarray) -> np.ndarray:
    """MOT (x, y, w, h) columns -> (x0, y0, x1, y1)."""
    return np.column_stack([rows[:, 0], rows[:, 1], rows[:, 0] + rows[:, 2], rows[:, 1] + rows[:, 3]])


def prepare_sequence(gt: np.ndarray, pred: np.ndarray, iou_threshold: float = 0.5) -> dict:
    """TrackEval's per-sequence `data` dict from MOT rows (frame, id, x, y, w, h, conf, ...)."""
    frames = (
        np.unique(np.concatenate([gt[:, 0], pred[:, 0]])).astype(int) if len(pred) else np.unique(gt[:, 0]).astype(int)
    )
    ignored = gt[:, 6] == 0 if gt.shape[1] > 6 else np.zeros(len(gt), bool)
    gt_ids = {v: k for k, v in enumerate(np.unique(gt[~ignored, 1]))}
    data = {"gt_ids": [], "tracker_ids": [], "similarity_scores": [], "num_timesteps": len(frames)}
    kept_pred_ids = set()
    per_frame = []
    for f in frames:
        g = gt[gt[:, 0] == f]
        p = pred[pred[:, 0] == f] if len(pred) else np.zeros((0, 7))
        g_valid, g_ign = g[~(g[:, 6] == 0)] if g.shape[1] > 6 else g, g[g[:, 6] == 0] if g.shape[1] > 6 else g[:0]
        if len(g_ign) and len(p):
            # predictions matched to ignored boxes are dropped (MOTChallenge preprocessing)
            everything = np.concatenate([g_valid, g_ign])
            iou = iou_matrix(xywh_to_xyxy(everything[:, 2:6]), xywh_to_xyxy(p[:, 2:6]))
            r, c = linear_sum_assignment(-np.where(iou >= iou_threshold - 1e-9, iou, 0))
            drop = [j for i, j in zip(r, c) if i >= len(g_valid) and iou[i, j] >= iou_threshold - 1e-9]
            p = np.delete(p, drop, axis=0)
        kept_pred_ids.update(p[:, 1].tolist())
        per_frame.append((g_valid, p))
    pred_ids = {v: k for k, v in enumerate(sorted(kept_pred_ids))}
    num_gt_dets = num_pred_dets = 0
    for g_valid, p in per_frame:
        data["gt_ids"].append(np.array([gt_ids[v] for v in g_valid[:, 1]], int))
        data["tracker_ids"].append(np.array([pred_ids[v] for v in p[:, 1]], int))
        data["similarity_scores"].append(iou_matrix(xywh_to_xyxy(g_valid[:, 2:6]), xywh_to_xyxy(p[:, 2:6])))
        num_gt_dets += len(g_valid)
        num_pred_dets += len(p)
    data.update(
        num_gt_ids=len(gt_ids), num_tracker_ids=len(pred_ids), num_gt_dets=num_gt_dets, num_tracker_dets=num_pred_dets
    )
    return data


def _trackeval_metrics():
    """TrackEval's metric classes, imported quietly (its package __init__ prints about optional datasets)."""
    import contextlib
    import io

    try:
        with contextlib.redirect_stdout(io.StringIO()):
            from trackeval.metrics import CLEAR, HOTA, Identity
    except ImportError:
        from reidkit.errors import ReidkitError

        raise ReidkitError("MOT metrics need TrackEval: pip install --no-deps trackeval==1.3.0") from None
    return CLEAR, HOTA, Identity


def mot_metrics(gt: np.ndarray, pred: np.ndarray, iou_threshold: float = 0.5) -> dict[str, float]:
    """MOTA, MOTP, IDF1, IDP, IDR, HOTA, DetA, AssA, ID switches, FP, FN, fragmentations of one sequence."""
    CLEAR, HOTA, Identity = _trackeval_metrics()
    data = prepare_sequence(
        np.asarray(gt, float),
        np.asarray(pred, float).reshape(-1, max(7, np.shape(pred)[-1] if np.size(pred) else 7)),
        iou_threshold,
    )
    config = {"THRESHOLD": iou_threshold, "PRINT_CONFIG": False}
    clear = CLEAR(config).eval_sequence(data)
    ident = Identity(config).eval_sequence(data)
    hota = HOTA().eval_sequence(data)
    return {
        "MOTA": float(clear["MOTA"]),
        "MOTP": float(clear["MOTP"]),
        "IDF1": float(ident["IDF1"]),
        "IDP": float(ident["IDP"]),
        "IDR": float(ident["IDR"]),
        "HOTA": float(np.mean(hota["HOTA"])),
        "DetA": float(np.mean(hota["DetA"])),
        "AssA": float(np.mean(hota["AssA"])),
        "IDSW": int(clear["IDSW"]),
        "FP": int(clear["CLR_FP"]),
        "FN": int(clear["CLR_FN"]),
        "Frag": int(clear["Frag"]),
        "MT": int(clear["MT"]),
        "ML": int(clear["ML"]),
        "gt_ids": int(data["num_gt_ids"]),
        "pred_ids": int(data["num_tracker_ids"]),
        "frames": int(data["num_timesteps"]),
    }
