"""Illumination normalisation of aligned face crops: CLAHE and gamma + difference-of-Gaussians. Pure."""

from __future__ import annotations

import cv2
import numpy as np

from reidkit.errors import ConfigError

METHODS = ("none", "gamma", "clahe", "dog")


def auto_gamma(image: np.ndarray, target: float = 0.5) -> np.ndarray:
    """Brighten a dark image with the gamma that maps its median luminance to `target` (never darkens).

    An exposure correction with no tuned constant: a face in deep shadow gets the contrast a detector,
    a landmark regressor and an embedding model were trained on; a well-lit image is left as it is.
    """
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    median = float(np.clip(np.median(grey) / 255.0, 1e-3, 0.999))
    gamma = min(1.0, np.log(target) / np.log(median))
    if gamma >= 0.999:
        return image
    lut = np.clip(np.round((np.arange(256) / 255.0) ** gamma * 255.0), 0, 255).astype(np.uint8)
    return cv2.LUT(image, lut)


def clahe(face: np.ndarray, clip: float = 2.0, grid: int = 4) -> np.ndarray:
    """Contrast-limited adaptive histogram equalisation of the luminance; colour kept."""
    lab = cv2.cvtColor(face, cv2.COLOR_BGR2LAB)
    lab[:, :, 0] = cv2.createCLAHE(clipLimit=clip, tileGridSize=(grid, grid)).apply(lab[:, :, 0])
    return cv2.cvtColor(lab, cv2.COLOR_LAB2BGR)


def gamma_dog(
    face: np.ndarray,
    gamma: float = 0.2,
    sigma0: float = 1.0,
    sigma1: float = 2.0,
    alpha: float = 0.1,
    tau: float = 10.0,
) -> np.ndarray:
    """Tan & Triggs (2010) chain: gamma, difference of Gaussians, contrast equalisation; grey BGR out."""
    grey = cv2.cvtColor(face, cv2.COLOR_BGR2GRAY).astype(np.float32) / 255.0
    x = np.power(grey + 1e-3, gamma)
    x = cv2.GaussianBlur(x, (0, 0), sigma0) - cv2.GaussianBlur(x, (0, 0), sigma1)
    x = x / (np.mean(np.abs(x) ** alpha) ** (1 / alpha) + 1e-8)
    x = x / (np.mean(np.minimum(np.abs(x), tau) ** alpha) ** (1 / alpha) + 1e-8)
    x = tau * np.tanh(x / tau)
    x = (x - x.min()) / max(float(x.max() - x.min()), 1e-8)
    out = (x * 255).astype(np.uint8)
    return cv2.cvtColor(out, cv2.COLOR_GRAY2BGR)


def normalise(face: np.ndarray, method: str = "none") -> np.ndarray:
    """Apply one of METHODS to a BGR face crop."""
    if method == "none":
        return face
    if method == "gamma":
        return auto_gamma(face)
    if method == "clahe":
        return clahe(face)
    if method == "dog":
        return gamma_dog(face)
    raise ConfigError(f"unknown illumination normalisation {method!r}; use one of {', '.join(METHODS)}")
