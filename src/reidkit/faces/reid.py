"""FaceReId: find the largest face, align it on five landmarks, embed it, verify with a calibrated probability."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from reidkit.detect import Detector
from reidkit.embed import Embedder
from reidkit.errors import ConfigError, ImageError
from reidkit.faces.align import align
from reidkit.faces.landmarks import LandmarkRegressor, square_box
from reidkit.faces.photometric import auto_gamma, normalise
from reidkit.images import ImageLike, as_image, as_list
from reidkit.models.catalog import Calibration, model_or_default
from reidkit.verify import UNCALIBRATED, Verifier

MIN_FACE = 16  # pixels: smaller detections are ignored


class NoFaceError(ImageError):
    """No face was found where one was required."""


@dataclass(frozen=True)
class Face:
    """One face in an image: box (x0, y0, x1, y1), detector score, five landmarks (pixels)."""

    box: np.ndarray
    score: float
    landmarks: np.ndarray
    detected: bool = True


class FaceReId(Verifier):
    """Face pipeline: detect -> landmarks -> similarity alignment -> (illumination) -> embed; verify faces."""

    def __init__(
        self,
        model: str | os.PathLike | None = None,
        precision: str | None = None,
        device: str = "CPU",
        *,
        detector: str | os.PathLike | None | bool = None,
        landmarks: str | os.PathLike | None = None,
        confidence: float = 0.3,
        align_faces: bool = True,
        illumination: str = "gamma",
        enhance_detection: bool = True,
        flip: bool = False,
        on_missing: str = "whole",
        calibration: Calibration | None = None,
    ) -> None:
        if on_missing not in ("whole", "error"):
            raise ConfigError("on_missing must be 'whole' or 'error'")
        normalise(np.zeros((2, 2, 3), np.uint8), illumination)  # validate the name before loading models
        self.embedder = Embedder(model_or_default(model, "face-reid"), precision, device, flip=flip)
        self.detector = (
            None
            if detector is False
            else Detector(model_or_default(detector, "face-detect"), None, device, confidence=confidence, nms_iou=0.4)
        )
        self.regressor = LandmarkRegressor(landmarks, None, device) if align_faces else None
        self.illumination = illumination
        self.enhance_detection = enhance_detection
        self.on_missing = on_missing
        spec = self.embedder.spec
        self.calibration = calibration or (spec.calibration if spec else None) or UNCALIBRATED
        self.size = self.embedder.engine.input_spec.height
        self.device = device
        self._liveness = None

    # -- finding faces --------------------------------------------------------------------------
    def faces(self, image: ImageLike, color: str = "bgr") -> list[Face]:
        """Every detected face, largest first, with landmarks when alignment is on."""
        bgr = self._for_detection(as_image(image, color))
        if self.detector is None:
            return []
        dets = self.detector.detect(bgr)
        sizes = (dets.xyxy[:, 2] - dets.xyxy[:, 0]) * (dets.xyxy[:, 3] - dets.xyxy[:, 1])
        keep = [
            k
            for k in np.argsort(-sizes)
            if min(dets.xyxy[k, 2] - dets.xyxy[k, 0], dets.xyxy[k, 3] - dets.xyxy[k, 1]) >= MIN_FACE
        ]
        boxes = dets.xyxy[keep].astype(np.float64)
        points = (
            self.regressor(bgr, [square_box(b, 1.0) for b in boxes])
            if self.regressor and len(boxes)
            else np.zeros((len(boxes), 5, 2))
        )
        return [Face(boxes[i], float(dets.confidence[k]), points[i]) for i, k in enumerate(keep)]

    def detect(self, image: ImageLike, color: str = "bgr") -> np.ndarray:
        """K×4 face boxes (x0, y0, x1, y1) in pixels, largest first."""
        found = self.faces(image, color)
        return np.array([f.box for f in found], np.float64).reshape(-1, 4)

    def landmarks(self, image: ImageLike, box, color: str = "bgr") -> np.ndarray:
        """5×2 landmarks (eyes, nose tip, mouth corners) in pixels for a face box."""
        if self.regressor is None:
            raise ConfigError("landmarks need align_faces=True")
        bgr = self._for_detection(as_image(image, color))
        return self.regressor(bgr, square_box(box, 1.0)[None])[0]

    def _for_detection(self, bgr: np.ndarray) -> np.ndarray:
        """What the detector and the landmark regressor see: exposure-corrected when enhance_detection."""
        return auto_gamma(bgr) if self.enhance_detection else bgr

    def main_face(self, image: np.ndarray) -> Face:
        """The largest face; when none is detected, the whole image is taken as the face (or an error)."""
        found = self.faces(image)
        if found:
            return found[0]
        if self.on_missing == "error":
            raise NoFaceError("no face found in the image")
        h, w = image.shape[:2]
        box = np.array([0, 0, w, h], np.float64)
        points = self.regressor(self._for_detection(image), box[None])[0] if self.regressor else np.zeros((5, 2))
        return Face(box, 0.0, points, detected=False)

    def crop(self, image: ImageLike, color: str = "bgr") -> np.ndarray:
        """The size×size face the model sees: aligned on the landmarks (or the box, resized), normalised."""
        bgr = as_image(image, color)
        face = self.main_face(bgr)
        if self.regressor is not None:
            out = align(bgr, face.landmarks, self.size)
        else:
            import cv2

            x0, y0, x1, y1 = square_box(face.box).round().astype(int)
            pad = max(0, -x0, -y0, x1 - bgr.shape[1], y1 - bgr.shape[0])
            padded = cv2.copyMakeBorder(bgr, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
            out = cv2.resize(padded[y0 + pad : y1 + pad, x0 + pad : x1 + pad], (self.size, self.size))
        return normalise(out, self.illumination)

    # -- embedding and verification -------------------------------------------------------------
    def embed(self, images: ImageLike | Sequence[ImageLike], color: str = "bgr") -> np.ndarray:
        """N×D unit-norm embeddings of the main face of each image."""
        crops = [self.crop(item, color) for item in as_list(images)]
        return self.embedder.embed(crops) if crops else np.zeros((0, self.embedder.dim), np.float32)

    def embed_faces(self, image: ImageLike, faces: Sequence[Face], color: str = "bgr") -> np.ndarray:
        """Embeddings of the given faces of one image (each aligned on its landmarks, as `crop` does)."""
        bgr = as_image(image, color)
        crops = []
        for face in faces:
            if self.regressor is not None:
                crops.append(normalise(align(bgr, face.landmarks, self.size), self.illumination))
            else:
                import cv2

                x0, y0, x1, y1 = np.clip(square_box(face.box).round().astype(int), 0, None)
                crops.append(normalise(cv2.resize(bgr[y0:y1, x0:x1], (self.size, self.size)), self.illumination))
        return self.embedder.embed(crops) if crops else np.zeros((0, self.embedder.dim), np.float32)

    # -- liveness --------------------------------------------------------------------------------
    @property
    def liveness_model(self):
        """The anti-spoofing ensemble, loaded on first use."""
        if self._liveness is None:
            from reidkit.faces.liveness import LivenessModel

            self._liveness = LivenessModel(device=self.device)
        return self._liveness

    def liveness(self, image: ImageLike, color: str = "bgr"):
        """The liveness verdict of the main face of an image (NoFaceError when no face is found)."""
        from reidkit.faces.liveness import require_colour

        bgr = as_image(image, color)
        found = self.faces(bgr)
        if not found:
            raise NoFaceError("no face found: liveness needs a detected face")
        require_colour(bgr)
        return self.liveness_model.check(bgr, [found[0].box])[0]

    def require_live(
        self, images: ImageLike | Sequence[ImageLike], color: str = "bgr", names: Sequence[str] | None = None
    ) -> None:
        """SpoofError naming the first image whose main face is judged printed or replayed (`names` name the
        images in messages; paths name themselves)."""
        from reidkit.faces.liveness import SpoofError

        for k, item in enumerate(as_list(images)):
            verdict = self.liveness(item, color)
            if not verdict.real:
                what = names[k] if names else str(item) if isinstance(item, (str, os.PathLike)) else f"image {k + 1}"
                raise SpoofError(
                    f"{what}: the face looks printed or replayed (liveness {verdict.score:.3f} < "
                    f"{verdict.threshold}); a live face is required"
                )

    def predict(self, a, b, color: str = "bgr", liveness: bool = False) -> float | np.ndarray:
        """Probability that a and b show the same person; with `liveness`, both faces must first pass the
        anti-spoofing check (SpoofError otherwise)."""
        if liveness:
            self.require_live(a, color)
            self.require_live(b, color)
        return super().predict(a, b, color)

    def embed_aligned(self, faces: ImageLike | Sequence[ImageLike], color: str = "bgr") -> np.ndarray:
        """Embeddings of faces that are already aligned crops (only illumination normalisation applied)."""
        crops = [normalise(as_image(f, color), self.illumination) for f in as_list(faces)]
        return self.embedder.embed(crops)
