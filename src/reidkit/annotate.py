"""Drawing only: boxes, global ids, a colour per id, an FPS overlay. Never computes anything."""

from __future__ import annotations

import colorsys

import cv2
import numpy as np


def id_colour(identity: int) -> tuple[int, int, int]:
    """A stable, distinct BGR colour for an id (golden-ratio hue steps)."""
    hue = (identity * 0.618033988749895) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.85, 0.95)
    return int(b * 255), int(g * 255), int(r * 255)


def draw_tracks(frame: np.ndarray, boxes: np.ndarray, ids: list[int], labels: list[str] | None = None) -> np.ndarray:
    """Draw each box with its id label in the id's colour, in place; returns the frame."""
    for k, (box, identity) in enumerate(zip(np.asarray(boxes).reshape(-1, 4), ids)):
        x0, y0, x1, y1 = (int(round(v)) for v in box)
        colour = id_colour(identity)
        cv2.rectangle(frame, (x0, y0), (x1, y1), colour, 2)
        text = labels[k] if labels else f"{identity}"
        (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1)
        cv2.rectangle(frame, (x0, max(0, y0 - th - 6)), (x0 + tw + 4, y0), colour, -1)
        cv2.putText(frame, text, (x0 + 2, max(th, y0 - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return frame


def draw_status(frame: np.ndarray, text: str) -> np.ndarray:
    """A status line (camera, frame, FPS) in the top-left corner, in place: white text on a dark band.

    A filled band rather than a thick outline: OpenCV 5 draws outlines and text strokes at different widths,
    which left the old outlined text unreadable.
    """
    (tw, _), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.55, 1)
    x1, y1 = min(frame.shape[1] - 1, 8 + tw + 8), min(frame.shape[0] - 1, 20 + baseline + 4)
    band = frame[0:y1, 0:x1]
    band[:] = (band.astype(np.uint16) * 3 // 10).astype(np.uint8)  # darkened, the picture still shows through
    cv2.putText(frame, text, (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 255), 1, cv2.LINE_AA)
    return frame


def draw_box(frame: np.ndarray, box, label: str = "", colour: tuple[int, int, int] = (0, 220, 255)) -> np.ndarray:
    """One highlighted box with an optional label above it, in place; returns the frame."""
    x0, y0, x1, y1 = (int(round(float(v))) for v in box)
    thickness = max(2, round(max(frame.shape[:2]) / 400))
    cv2.rectangle(frame, (x0, y0), (x1, y1), colour, thickness)
    if label:
        (tw, th), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.6, 1)
        cv2.rectangle(frame, (x0, max(0, y0 - th - 8)), (x0 + tw + 6, y0), colour, -1)
        cv2.putText(frame, label, (x0 + 3, max(th, y0 - 5)), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
    return frame
