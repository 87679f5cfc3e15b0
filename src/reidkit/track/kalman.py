"""Constant-velocity Kalman filter on boxes (cx, cy, w, h), vectorised over tracks (BoT-SORT parameterisation)."""

from __future__ import annotations

import numpy as np

STD_POSITION = 1.0 / 20
STD_VELOCITY = 1.0 / 160

_F = np.eye(8)
_F[:4, 4:] = np.eye(4)
_H = np.eye(4, 8)


def xyxy_to_cxcywh(boxes: np.ndarray) -> np.ndarray:
    """(x0, y0, x1, y1) -> (cx, cy, w, h)."""
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    return np.column_stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2, b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]])


def cxcywh_to_xyxy(boxes: np.ndarray) -> np.ndarray:
    """(cx, cy, w, h) -> (x0, y0, x1, y1)."""
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    return np.column_stack([b[:, 0] - b[:, 2] / 2, b[:, 1] - b[:, 3] / 2, b[:, 0] + b[:, 2] / 2, b[:, 1] + b[:, 3] / 2])


def _wh(values: np.ndarray) -> np.ndarray:
    return np.column_stack([values[:, 2], values[:, 3], values[:, 2], values[:, 3]])


def initiate(measurement: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean (8,) and covariance (8, 8) of a new track from one (cx, cy, w, h) box."""
    z = np.asarray(measurement, np.float64)
    mean = np.r_[z, np.zeros(4)]
    std = np.r_[2 * STD_POSITION * _wh(z[None])[0], 10 * STD_VELOCITY * _wh(z[None])[0]]
    return mean, np.diag(std**2)


def predict(means: np.ndarray, covs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One time step for K tracks at once: K×8 means, K×8×8 covariances."""
    if len(means) == 0:
        return means, covs
    std = np.column_stack([STD_POSITION * _wh(means), STD_VELOCITY * _wh(means)])
    q = np.zeros((len(means), 8, 8))
    q[:, np.arange(8), np.arange(8)] = std**2
    return means @ _F.T, _F @ covs @ _F.T + q


def update(mean: np.ndarray, cov: np.ndarray, measurement: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Correct one track with a (cx, cy, w, h) measurement."""
    std = STD_POSITION * _wh(mean[None])[0]
    r = np.diag(std**2)
    s = _H @ cov @ _H.T + r
    gain = np.linalg.solve(s, (cov @ _H.T).T).T
    innovation = np.asarray(measurement, np.float64) - _H @ mean
    return mean + gain @ innovation, cov - gain @ s @ gain.T
