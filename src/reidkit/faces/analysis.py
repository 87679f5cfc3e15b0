"""FaceAnalysis: every face of an image with its box, landmarks, age, gender, liveness and (optionally) embedding.

insightface's pattern: one object composes the task models — detection and landmarks (FaceReId's), the
age/gender model, the anti-spoofing ensemble, the face embedding — and each fills in its part of one
`AnalysedFace` per face.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from reidkit.faces.landmarks import square_box
from reidkit.faces.liveness import Liveness, require_colour
from reidkit.faces.reid import FaceReId
from reidkit.images import ImageLike, as_image
from reidkit.models.catalog import model_or_default
from reidkit.models.store import ModelStore
from reidkit.preprocess import fit_batch
from reidkit.runtime import Engine


@dataclass
class AnalysedFace:
    """One face and what the task models say about it."""

    box: np.ndarray
    score: float
    landmarks: np.ndarray
    age: float | None = None
    male_probability: float | None = None
    liveness: Liveness | None = None
    liveness_note: str | None = None
    embedding: np.ndarray | None = field(default=None, repr=False)

    @property
    def gender(self) -> str | None:
        """'male' or 'female' (the likelier), None when not analysed."""
        if self.male_probability is None:
            return None
        return "male" if self.male_probability >= 0.5 else "female"

    def as_dict(self) -> dict:
        """The JSON shape of `reidkit faces analyze --json`."""
        out = {
            "box": [round(float(v), 1) for v in self.box],
            "score": round(self.score, 4),
            "landmarks": np.round(self.landmarks, 1).tolist(),
        }
        if self.male_probability is not None:
            p = self.male_probability
            out.update(age=round(float(self.age), 1), gender=self.gender, gender_probability=round(max(p, 1 - p), 4))
        if self.liveness is not None:
            out["liveness"] = self.liveness.as_dict()
        elif self.liveness_note:
            out["liveness"] = {"note": self.liveness_note}
        return out


class AgeGender:
    """Age (years) and P(male) of face crops (the catalog's face-attributes default)."""

    def __init__(self, model: str | os.PathLike | None = None, device: str = "CPU", store: ModelStore | None = None):
        resolved = (store or ModelStore()).resolve(model_or_default(model, "face-attributes"))
        self.engine = Engine.for_model(resolved, ("face-attributes",), "an age/gender model", device)

    def __call__(self, image: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(ages, male probabilities) of face boxes of a BGR image."""
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        if not len(boxes):
            return np.zeros(0), np.zeros(0)
        h, w = image.shape[:2]
        crops = []
        for box in boxes:
            x0, y0, x1, y1 = square_box(box, 1.0).round().astype(int)
            x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, max(x1, x0 + 1)), min(h, max(y1, y0 + 1))
            crops.append(image[y0:y1, x0:x1])
        spec = self.engine.input_spec
        prob, age = self.engine.infer_outputs(fit_batch(crops, spec.width, spec.height, spec.color))
        return age[:, 0] * 100.0, prob[:, 1]


class FaceAnalysis:
    """Detect every face and analyse it: landmarks, age and gender, liveness, and optionally its embedding."""

    def __init__(
        self,
        device: str = "CPU",
        age_gender: bool = True,
        liveness: bool = True,
        embeddings: bool = False,
        face_reid: FaceReId | None = None,
    ) -> None:
        self.reid = face_reid or FaceReId(device=device)
        self.age_gender = AgeGender(device=device) if age_gender else None
        self.use_liveness = liveness
        self.embeddings = embeddings

    def analyze(self, image: ImageLike, color: str = "bgr") -> list[AnalysedFace]:
        """Every detected face of an image, largest first, analysed."""
        bgr = as_image(image, color)
        faces = self.reid.faces(bgr)
        out = [AnalysedFace(f.box, f.score, f.landmarks) for f in faces]
        if not out:
            return out
        boxes = np.stack([f.box for f in faces])
        if self.age_gender is not None:
            ages, male = self.age_gender(bgr, boxes)
            for face, a, m in zip(out, ages, male):
                face.age, face.male_probability = float(a), float(m)
        if self.use_liveness:
            self._liveness(bgr, boxes, out)
        if self.embeddings:
            for face, vector in zip(out, self.reid.embed_faces(bgr, faces)):
                face.embedding = vector
        return out

    get = analyze  # insightface's name

    def _liveness(self, bgr: np.ndarray, boxes: np.ndarray, out: list[AnalysedFace]) -> None:
        from reidkit.errors import ImageError

        try:
            require_colour(bgr)
        except ImageError as exc:
            for face in out:
                face.liveness_note = str(exc)
            return
        for face, verdict in zip(out, self.reid.liveness_model.check(bgr, boxes)):
            face.liveness = verdict
