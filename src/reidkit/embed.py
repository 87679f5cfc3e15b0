"""Embedder: images -> L2-normalised embedding rows, through the model store and the runtime."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence

import numpy as np

from reidkit.images import ImageLike, as_image, as_list
from reidkit.models.catalog import ModelSpec, model_or_default
from reidkit.models.store import ModelStore, ResolvedModel
from reidkit.preprocess import fit_batch, l2_normalize
from reidkit.runtime import Engine

EMBEDDING_TASKS = ("person-reid", "face-reid")


class Embedder:
    """Embeds person crops (or aligned faces) with a catalogued model or a model file."""

    def __init__(
        self,
        model: str | os.PathLike | None = None,
        precision: str | None = None,
        device: str = "CPU",
        *,
        path: str | os.PathLike | None = None,
        store: ModelStore | None = None,
        batch_size: int = 8,
        flip: bool = False,
        inference_precision: str | None = None,
    ) -> None:
        self.store = store or ModelStore()
        if path is None:
            model = model_or_default(model, "person-reid")
        self.resolved: ResolvedModel = self.store.resolve(path if path is not None else model, precision)
        self.engine = Engine.for_model(
            self.resolved, EMBEDDING_TASKS, "an embedding model", device, batch_size, inference_precision
        )
        self.flip = flip

    @property
    def name(self) -> str:
        """Model name (catalog name, or the file stem for a model given by path)."""
        return self.resolved.name

    @property
    def precision(self) -> str | None:
        """Precision of the loaded file, when known."""
        return self.resolved.precision

    @property
    def spec(self) -> ModelSpec | None:
        """The catalog entry, None for an uncatalogued file."""
        return self.resolved.spec

    @property
    def dim(self) -> int:
        """Embedding size."""
        return int(np.prod(self.engine.io.output_shape[1:]))

    def embed(self, images: ImageLike | Sequence[ImageLike], color: str = "bgr") -> np.ndarray:
        """N×D float32 unit-norm embeddings of one image or a list (paths or H×W×3 uint8 arrays)."""
        items = as_list(images)
        if not items:
            return np.zeros((0, self.dim), np.float32)
        vectors = self.engine.infer_stream(self._batches(items, color, mirror=False), total=len(items))
        if self.flip:
            mirrored = self.engine.infer_stream(self._batches(items, color, mirror=True), total=len(items))
            vectors = l2_normalize(vectors) + l2_normalize(mirrored)
        return l2_normalize(vectors)

    def _batches(self, items: list[ImageLike], color: str, mirror: bool) -> Iterator[np.ndarray]:
        """Load and resize items lazily, one batch at a time, so decoding overlaps inference."""
        spec = self.engine.input_spec
        step = self.engine.batch_size
        for start in range(0, len(items), step):
            bgr = [as_image(item, color) for item in items[start : start + step]]
            if mirror:
                bgr = [img[:, ::-1] for img in bgr]
            yield fit_batch(bgr, spec.width, spec.height, spec.color)
