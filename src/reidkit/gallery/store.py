"""The gallery interface and its value objects; backends implement `GalleryStore`."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from reidkit.errors import ReidkitError


class GalleryError(ReidkitError):
    """A gallery operation is impossible: unknown identity, model mismatch, locked or corrupt store."""


@dataclass(frozen=True)
class Identity:
    """A named person in the gallery."""

    identity_id: int
    name: str
    metadata: dict = field(default_factory=dict)
    sightings: int = 0


@dataclass(frozen=True)
class Sighting:
    """One stored embedding: where it came from (source, camera, frame, time, box) and whose it is."""

    sighting_id: int
    identity_id: int | None
    source: str = ""
    camera: str = ""
    frame: int | None = None
    time: float | None = None
    box: tuple[float, float, float, float] | None = None


@dataclass(frozen=True)
class Match:
    """A search hit: the sighting, its identity (if any) and the cosine similarity."""

    sighting: Sighting
    score: float
    name: str | None = None

    def as_dict(self) -> dict:
        """The JSON shape of `reidkit gallery search --json`."""
        s = self.sighting
        return {"identity": s.identity_id, "name": self.name, "score": round(float(self.score), 6),
                "source": s.source, "camera": s.camera, "frame": s.frame, "time": s.time,
                "box": list(s.box) if s.box else None, "sighting": s.sighting_id}


class GalleryStore(ABC):
    """What every backend offers. Embeddings are unit-norm float32 rows of one model only."""

    model: str | None
    dim: int | None

    @abstractmethod
    def add_identity(self, name: str, metadata: dict | None = None) -> int:
        """Create an identity; returns its id."""

    @abstractmethod
    def add_sightings(self, embeddings: np.ndarray, model: str, sightings: list[dict],
                      thumbnails: list[bytes | None] | None = None) -> list[int]:
        """Store embeddings with their metadata (identity_id, source, camera, frame, time, box)."""

    @abstractmethod
    def search(self, query: np.ndarray, model: str, k: int = 5, camera: str | None = None,
               time_range: tuple[float, float] | None = None, identities_only: bool = False) -> list[Match]:
        """Top-k sightings by cosine similarity, best first, optionally filtered."""

    @abstractmethod
    def identities(self) -> list[Identity]:
        """Every identity with its sighting count."""

    @abstractmethod
    def identity(self, identity_id: int) -> Identity:
        """One identity; GalleryError if unknown."""

    @abstractmethod
    def sightings_of(self, identity_id: int) -> list[Sighting]:
        """The sightings of one identity."""

    @abstractmethod
    def thumbnail(self, sighting_id: int) -> bytes | None:
        """The JPEG thumbnail stored with a sighting."""

    @abstractmethod
    def rename(self, identity_id: int, name: str) -> None:
        """Change an identity's name."""

    @abstractmethod
    def merge(self, keep: int, absorb: int) -> None:
        """Move every sighting of `absorb` to `keep` and delete `absorb`."""

    @abstractmethod
    def delete_identity(self, identity_id: int) -> int:
        """Delete an identity and its sightings (from the index too); returns sightings removed."""

    @abstractmethod
    def export(self, path: Path) -> dict:
        """Write NPZ (embeddings) + JSON (identities, sightings) next to `path`; returns counts."""

    @abstractmethod
    def import_(self, path: Path) -> dict:
        """Read an export back in (new ids are assigned); returns counts."""

    @abstractmethod
    def close(self) -> None:
        """Flush the index and release the store."""

    def __enter__(self) -> "GalleryStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def check_model(self, model: str, dim: int) -> None:
        """Refuse embeddings of another model than the store's (the first one stored fixes it)."""
        if self.model is not None and model != self.model:
            raise GalleryError(f"this gallery holds {self.model} embeddings; refusing {model} (embeddings of "
                               "different models are not comparable): use another gallery")
        if self.dim is not None and dim != self.dim:
            raise GalleryError(f"this gallery holds {self.dim}-d embeddings, got {dim}-d")


def open_gallery(location: str | Path, **kwargs) -> GalleryStore:
    """Open a gallery by path (embedded SQLite file) or URL (postgresql://... is not available yet)."""
    text = str(location)
    if text.startswith(("postgresql://", "postgres://")):
        raise GalleryError("the PostgreSQL + pgvector backend is not available in this build: pgvector cannot "
                           "be installed here; use an embedded gallery file (reidkit gallery --db FILE)")
    from reidkit.gallery.sqlite import SqliteGallery

    return SqliteGallery(Path(location), **kwargs)
