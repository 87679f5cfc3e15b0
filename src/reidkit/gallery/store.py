"""The gallery interface and its value objects; backends implement `GalleryStore`."""

from __future__ import annotations

import json
import re
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
    location: str  # file path or URL, for messages

    def add_identity(self, name: str, metadata: dict | None = None) -> int:
        """Create an identity; returns its id."""
        if not name or not name.strip():
            raise GalleryError("an identity needs a non-empty name")
        return self._insert_identity(name.strip(), metadata or {})

    def add_sightings(self, embeddings: np.ndarray, model: str, sightings: list[dict],
                      thumbnails: list[bytes | None] | None = None) -> list[int]:
        """Store embeddings with their metadata (identity_id, source, camera, frame, time, box) in one
        transaction; returns the new sighting ids."""
        emb = checked_embeddings(embeddings, len(sightings))
        if not len(emb):
            return []
        return self._insert_sightings(emb, model, sightings, thumbnails or [None] * len(sightings))

    @abstractmethod
    def _insert_identity(self, name: str, metadata: dict) -> int:
        """Backend part of add_identity: one transaction inserting a validated identity."""

    @abstractmethod
    def _insert_sightings(self, embeddings: np.ndarray, model: str, sightings: list[dict],
                          thumbnails: list[bytes | None]) -> list[int]:
        """Backend part of add_sightings: validated unit rows; checks the model inside its transaction."""

    @abstractmethod
    def search(self, query: np.ndarray, model: str, k: int = 5, camera: str | None = None,
               time_range: tuple[float, float] | None = None, identities_only: bool = False) -> list[Match]:
        """Top-k sightings by cosine similarity, best first, optionally filtered."""

    @abstractmethod
    def identities(self) -> list[Identity]:
        """Every identity with its sighting count."""

    def identity(self, identity_id: int) -> Identity:
        """One identity; GalleryError if unknown."""
        for ident in self.identities():
            if ident.identity_id == identity_id:
                return ident
        raise GalleryError(f"no identity {identity_id} in {redact(self.location)}")

    @abstractmethod
    def sightings_of(self, identity_id: int) -> list[Sighting]:
        """The sightings of one identity."""

    @abstractmethod
    def count(self) -> int:
        """Number of stored sightings."""

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

    def import_(self, path: Path) -> dict:
        """Add an export to this gallery (identities get new ids); returns counts."""
        path = Path(path)
        try:
            doc = json.loads(path.with_suffix(".json").read_text())
            data = np.load(path.with_suffix(".npz"))
        except (OSError, ValueError) as exc:
            raise GalleryError(f"cannot read export {path}: {exc}") from None
        if not doc["sightings"]:
            return {"identities": 0, "sightings": 0}
        self.check_model(doc["model"], int(doc["dim"]))
        new_ids = {i["id"]: self.add_identity(i["name"], i.get("metadata")) for i in doc["identities"]}
        row_of = {int(s): k for k, s in enumerate(data["ids"])}
        infos = [dict(s, identity_id=new_ids.get(s["identity_id"])) for s in doc["sightings"]]
        emb = data["embeddings"][[row_of[s["id"]] for s in doc["sightings"]]]
        self.add_sightings(emb, doc["model"], infos)
        return {"identities": len(new_ids), "sightings": len(infos)}

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


def sighting_from_row(r) -> Sighting:
    """A Sighting from (id, identity_id, source, camera, frame, time, x0, y0, x1, y1)."""
    box = None if r[6] is None else (float(r[6]), float(r[7]), float(r[8]), float(r[9]))
    return Sighting(int(r[0]), None if r[1] is None else int(r[1]), r[2], r[3], r[4], r[5], box)


def filter_clauses(camera: str | None, time_range: tuple[float, float] | None, identities_only: bool,
                   mark: str) -> tuple[list[str], list]:
    """SQL conditions and their arguments for search filters (`mark`: the driver's placeholder, ? or %s)."""
    where, args = [], []
    if camera is not None:
        where.append(f"camera = {mark}")
        args.append(camera)
    if time_range is not None:
        where.append(f"time BETWEEN {mark} AND {mark}")
        args += [float(time_range[0]), float(time_range[1])]
    if identities_only:
        where.append("identity_id IS NOT NULL")
    return where, args


def checked_embeddings(embeddings: np.ndarray, count: int) -> np.ndarray:
    """`count` embeddings as contiguous N×D float32 rows; GalleryError unless finite and unit-norm."""
    emb = np.ascontiguousarray(np.asarray(embeddings, np.float32).reshape(count, -1))
    if len(emb) and (not np.all(np.isfinite(emb)) or np.any(np.abs(np.linalg.norm(emb, axis=1) - 1) > 1e-3)):
        raise GalleryError("embeddings must be finite and L2-normalised")
    return emb


def sighting_values(info: dict) -> tuple:
    """(identity_id, source, camera, frame, time, x0, y0, x1, y1) of a sighting dict, as stored."""
    box = info.get("box") or (None, None, None, None)
    return (info.get("identity_id"), str(info.get("source", "")), str(info.get("camera", "")), info.get("frame"),
            info.get("time"), *[None if v is None else float(v) for v in box])


def write_export(path: Path, model: str | None, dim: int | None, identities: list[Identity], rows: list,
                 embeddings: np.ndarray) -> dict:
    """Write `<path>.npz` (ids, embeddings) and `<path>.json` (model, identities, sightings); returns counts.

    `rows` are (id, identity_id, source, camera, frame, time, x0, y0, x1, y1) in the order of `embeddings`.
    """
    np.savez_compressed(path.with_suffix(".npz"), ids=np.array([r[0] for r in rows], np.int64), embeddings=embeddings)
    doc = {"model": model, "dim": dim,
           "identities": [{"id": i.identity_id, "name": i.name, "metadata": i.metadata} for i in identities],
           "sightings": [{"id": r[0], "identity_id": r[1], "source": r[2], "camera": r[3], "frame": r[4],
                          "time": r[5], "box": None if r[6] is None else [r[6], r[7], r[8], r[9]]} for r in rows]}
    path.with_suffix(".json").write_text(json.dumps(doc, indent=1))
    return {"identities": len(doc["identities"]), "sightings": len(rows)}


def redact(location: str | Path) -> str:
    """A gallery location fit for messages: a URL's password replaced by ***."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", str(location))


def is_url(location: str | Path) -> bool:
    """True for a PostgreSQL URL (postgresql://... or postgres://...)."""
    return str(location).startswith(("postgresql://", "postgres://"))


def open_gallery(location: str | Path, **kwargs) -> GalleryStore:
    """Open a gallery by path (embedded SQLite file) or PostgreSQL URL (server with pgvector)."""
    if is_url(location):
        from reidkit.gallery.postgres import PostgresGallery

        return PostgresGallery(str(location), **kwargs)
    from reidkit.gallery.sqlite import SqliteGallery

    return SqliteGallery(Path(location), **kwargs)
