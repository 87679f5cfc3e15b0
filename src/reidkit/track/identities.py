"""Identity memory for video: gives a track the global id of a person seen before, or a new one. Pure NumPy.

Each identity keeps a bounded ring of recent exemplar embeddings. A newly confirmed track is compared with
every identity not visible in the same camera by the *average pairwise cosine similarity* between the
track's crops and the identity's exemplars, which is in the same units as the re-id model's calibration
(one crop against one crop); the calibrated probability of the best match must exceed `threshold`.
(Cosine between re-normalised mean embeddings would not be: averaging inflates it for everyone.)

The memory is bounded for runs that never end: past `max_identities`, the identity seen longest ago is forgotten
(a live site's people come and go; who was here hours ago is the persistent gallery's to answer). That also bounds
the cost of matching a new track, which compares it with every identity held.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from reidkit.models.catalog import Calibration
from reidkit.verify import logistic

MAX_IDENTITIES = 2000  # about 35 MB of float32 exemplars (16 × 256 each), and ~20 ms to match a new track


@dataclass
class Identity:
    """A person known to the pipeline: global id, appearance memory, where it was last seen."""

    identity_id: int
    mean: np.ndarray
    exemplars: list[np.ndarray] = field(default_factory=list)
    cameras: set[str] = field(default_factory=set)
    last_camera: str = ""
    last_frame: int = -1
    last_box: np.ndarray | None = None
    sightings: int = 0
    last_time: float = 0.0  # seconds (file time or wall clock) of the last sighting


class IdentityGallery:
    """Global identities shared by every camera of a run."""

    def __init__(
        self,
        calibration: Calibration,
        threshold: float = 0.5,
        max_exemplars: int = 16,
        ema_alpha: float = 0.9,
        max_speed: float = 1.0,
        max_identities: int | None = MAX_IDENTITIES,
    ) -> None:
        self.calibration = calibration
        self.max_identities = max_identities  # None: never forget
        self.forgotten = 0
        self.threshold = threshold
        self.max_exemplars = max_exemplars
        self.ema_alpha = ema_alpha
        self.max_speed = max_speed  # body heights per second: a person cannot have walked further
        self.identities: dict[int, Identity] = {}
        self._next = 1

    def reachable(self, ident: Identity, camera: str, frame: int, box: np.ndarray | None, fps: float) -> bool:
        """Whether a person last seen as `ident` could be at `box` now: same-camera motion gate.

        In the camera it was last seen in, the box centre may have moved at most
        (1 + max_speed × seconds elapsed) body heights; another camera, or an unknown box, is no constraint.
        """
        if box is None or ident.last_box is None or ident.last_camera != camera:
            return True
        seconds = max(0.0, (frame - ident.last_frame) / max(fps, 1e-6))
        height = max(ident.last_box[3] - ident.last_box[1], box[3] - box[1], 1.0)
        moved = np.hypot(*((box[:2] + box[2:]) / 2 - (ident.last_box[:2] + ident.last_box[2:]) / 2))
        return moved <= height * (1.0 + self.max_speed * seconds)

    def match(
        self,
        features: np.ndarray,
        exclude: set[int],
        camera: str = "",
        frame: int = 0,
        box: np.ndarray | None = None,
        fps: float = 30.0,
    ) -> tuple[int | None, float]:
        """Best identity for a track's recent unit-norm features (K×D) outside `exclude`, and its probability."""
        candidates = [
            i
            for i in self.identities.values()
            if i.identity_id not in exclude and self.reachable(i, camera, frame, box, fps)
        ]
        if not candidates or len(features) == 0:
            return None, 0.0
        probs = self.probabilities(features, [c.identity_id for c in candidates])
        best = int(np.argmax(probs))
        prob = float(probs[best])
        return (candidates[best].identity_id, prob) if prob > self.threshold else (None, prob)

    def probabilities(self, features: np.ndarray, identity_ids: list[int]) -> np.ndarray:
        """Calibrated P(same person) of a track's unit-norm features (K×D) against each listed identity."""
        if not identity_ids or len(features) == 0:
            return np.zeros(len(identity_ids))
        query = np.asarray(features, np.float64).mean(axis=0)  # unnormalised: mean·mean = mean pairwise cosine
        exemplars = [self.identities[i].exemplars for i in identity_ids]
        sims = np.array([np.mean(np.stack(e), axis=0, dtype=np.float64) @ query if e else -1.0 for e in exemplars])
        probs = np.asarray(logistic(sims, self.calibration), np.float64).reshape(-1)
        return np.where([bool(e) for e in exemplars], probs, 0.0)

    def new(
        self, features: np.ndarray, camera: str, frame: int, box: np.ndarray | None = None, time: float | None = None
    ) -> int:
        """Create an identity from a track's features (K×D, K may be 0); returns its id."""
        feats = np.asarray(features, np.float64)
        feats = feats.reshape(-1, feats.shape[-1]) if feats.size else np.zeros((0, 1))
        mean = feats.mean(axis=0) if len(feats) else np.zeros(1)
        ident = Identity(
            self._next,
            mean / max(np.linalg.norm(mean), 1e-12),
            [f.astype(np.float32) for f in feats[-self.max_exemplars :]],
        )
        self._next += 1
        self.identities[ident.identity_id] = ident
        self.seen(ident.identity_id, None, camera, frame, box, time)
        if self.max_identities is not None and len(self.identities) > self.max_identities:
            self._forget_oldest(keep=ident.identity_id)
        return ident.identity_id

    def _forget_oldest(self, keep: int) -> None:
        """Drop the identity whose last sighting is the oldest (not `keep`, the one just made)."""
        oldest = min((i for i in self.identities.values() if i.identity_id != keep), key=lambda i: i.last_time)
        del self.identities[oldest.identity_id]
        self.forgotten += 1

    def seen(
        self,
        identity_id: int,
        embedding: np.ndarray | None,
        camera: str,
        frame: int,
        box: np.ndarray | None = None,
        time: float | None = None,
    ) -> None:
        """Record a sighting, folding its embedding into the identity's memory."""
        ident = self.identities[identity_id]
        ident.cameras.add(camera)
        ident.last_camera, ident.last_frame = camera, frame
        if time is not None:
            ident.last_time = float(time)
        if box is not None:
            ident.last_box = np.asarray(box, np.float64)
        ident.sightings += 1
        if embedding is not None:
            e = np.asarray(embedding, np.float64)
            if ident.mean.shape != e.shape:  # an identity created without features
                ident.mean = np.zeros_like(e)
            ident.mean = self.ema_alpha * ident.mean + (1 - self.ema_alpha) * e
            ident.mean /= max(np.linalg.norm(ident.mean), 1e-12)
            ident.exemplars.append(e.astype(np.float32))  # float32 halves the memory; sums run in float64
            del ident.exemplars[: -self.max_exemplars]
