"""In-process vector index over sighting ids (FAISS): exact inner product, or HNSW when large."""

from __future__ import annotations

from pathlib import Path

import numpy as np

HNSW_ABOVE = 200_000  # "auto": exact search up to this many vectors, HNSW beyond


class VectorIndex:
    """Maps sighting ids to unit-norm vectors; inner product = cosine similarity."""

    def __init__(self, dim: int, kind: str = "auto", expected: int = 0, hnsw_m: int = 32, ef_search: int = 64) -> None:
        import faiss

        self.dim = dim
        self.kind = ("hnsw" if expected > HNSW_ABOVE else "exact") if kind == "auto" else kind
        if self.kind == "exact":
            self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        elif self.kind == "hnsw":
            base = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
            base.hnsw.efConstruction = 80
            base.hnsw.efSearch = ef_search
            self._index = faiss.IndexIDMap2(base)
        else:
            raise ValueError(f"unknown index kind {kind!r}: use exact, hnsw or auto")

    def __len__(self) -> int:
        return int(self._index.ntotal)

    @property
    def supports_removal(self) -> bool:
        """Exact indexes delete in place; HNSW graphs are rebuilt instead."""
        return self.kind == "exact"

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add rows under the given int64 ids."""
        if len(ids):
            self._index.add_with_ids(np.ascontiguousarray(vectors, np.float32), np.asarray(ids, np.int64))

    def remove(self, ids: np.ndarray) -> None:
        """Remove ids (exact index only)."""
        import faiss

        self._index.remove_ids(faiss.IDSelectorBatch(np.asarray(ids, np.int64)))

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids) of the k best rows for one query, best first; ids -1 pad when fewer exist."""
        q = np.ascontiguousarray(np.asarray(query, np.float32).reshape(1, -1))
        scores, ids = self._index.search(q, max(1, min(k, max(1, len(self)))))
        return scores[0], ids[0]

    def save(self, path: Path) -> None:
        """Write the index atomically."""
        import faiss

        tmp = path.with_suffix(path.suffix + ".tmp")
        faiss.write_index(self._index, str(tmp))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path, dim: int) -> "VectorIndex":
        """Read an index written by `save`."""
        import faiss

        obj = cls.__new__(cls)
        obj.dim = dim
        obj._index = faiss.read_index(str(path))
        inner = faiss.downcast_index(obj._index.index) if hasattr(obj._index, "index") else obj._index
        obj.kind = "hnsw" if isinstance(inner, faiss.IndexHNSWFlat) else "exact"
        if obj._index.d != dim:
            raise ValueError("index dimension does not match the store")
        return obj
