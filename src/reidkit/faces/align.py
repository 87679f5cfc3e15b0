"""Face alignment: a similarity transform mapping five landmarks onto the reference points. Pure NumPy/OpenCV."""

from __future__ import annotations

import cv2
import numpy as np

from reidkit.errors import ImageError

# Left eye, right eye, nose tip, left and right mouth corners, in [0,1]² of the aligned crop
# (face-reidentification-retail-0095's documented reference).
REFERENCE_POINTS = np.array(
    [
        [0.31556875000000000, 0.4615741071428571],
        [0.68262291666666670, 0.4615741071428571],
        [0.50026249999999990, 0.6405053571428571],
        [0.34947187500000004, 0.8246919642857142],
        [0.65343645833333330, 0.8246919642857142],
    ],
    dtype=np.float64,
)


def umeyama(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 2×3 similarity transform (rotation, uniform scale, translation) that best maps src onto dst.

    Least squares in closed form (Umeyama 1991); reflections are excluded.
    """
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    if src.shape != dst.shape or src.ndim != 2 or src.shape[1] != 2 or len(src) < 2:
        raise ValueError("umeyama needs two N×2 point sets, N >= 2")
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    var_s = (s**2).sum() / len(src)
    if var_s <= 1e-12:
        raise ImageError("landmarks are degenerate (all at one point)")
    cov = d.T @ s / len(src)
    u, sigma, vt = np.linalg.svd(cov)
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1
    rotation = u @ sign @ vt
    scale = np.trace(np.diag(sigma) @ sign) / var_s
    translation = mu_d - scale * rotation @ mu_s
    return np.hstack([scale * rotation, translation[:, None]])


def apply_transform(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Map N×2 points through a 2×3 affine matrix."""
    points = np.asarray(points, np.float64)
    return points @ matrix[:, :2].T + matrix[:, 2]


def alignment_matrix(points: np.ndarray, size: int = 128) -> np.ndarray:
    """The similarity transform taking five image landmarks onto the reference points of a size×size crop."""
    points = np.asarray(points, np.float64).reshape(5, 2)
    return umeyama(points, REFERENCE_POINTS * size)


def align(image: np.ndarray, points: np.ndarray, size: int = 128) -> np.ndarray:
    """Warp `image` so that its five landmarks land on the reference points of a size×size crop."""
    matrix = alignment_matrix(points, size)
    return cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
