"""The gallery contract and its value objects.

`GalleryStore` validates and normalises every operation (names, ids, embeddings, exports) and then calls one
backend method that runs it as one transaction. Backends (SQLite + vector index, PostgreSQL + pgvector)
implement only those transactions and the reads, so both behave the same on every input, good or bad.
"""

from __future__ import annotations

import json
import os
import re
import time
import zipfile
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from reidkit.errors import (
    ConflictError,
    GalleryError,
    IdentityNotFoundError,
    InputError,
    ModelMismatchError,
    NotFoundError,
)

MAX_ID = 2**63 - 1  # ids are signed 64-bit integers in both backends
MAX_NAME = 200
MAX_RESULTS = 10_000  # k of one search
ROLES = {"person": ("model", "dim"), "face": ("face_model", "face_dim")}  # role -> its metadata keys
# what the audit log records: every look at people (searches, an identity's details and history, a sighting's
# frame or thumbnail) and every change (enrolment, deletion, import, prune)
AUDIT_ACTIONS = ("search", "find", "view", "history", "frame", "enroll", "delete", "import", "prune", "merge", "rename")
TRACKED = "global_id"  # metadata key of identities a tracking run created (not enrolled by a person)


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
    attributes: dict | None = None  # person attributes (reidkit.attributes), when recognised


@dataclass(frozen=True)
class Match:
    """A search hit: the sighting, its identity (if any) and the cosine similarity."""

    sighting: Sighting
    score: float
    name: str | None = None

    def as_dict(self) -> dict:
        """The JSON shape of `reidkit gallery search --json`."""
        s = self.sighting
        return {
            "identity": s.identity_id,
            "name": self.name,
            "score": round(float(self.score), 6),
            "source": s.source,
            "camera": s.camera,
            "frame": s.frame,
            "time": s.time,
            "box": list(s.box) if s.box else None,
            "sighting": s.sighting_id,
            **({"attributes": s.attributes} if s.attributes else {}),
        }


@dataclass(frozen=True)
class AuditEntry:
    """One row of the audit log: when, which key (or CLI user), what it did, and to what."""

    entry_id: int
    time: float
    actor: str
    action: str
    target: dict

    def as_dict(self) -> dict:
        return {"id": self.entry_id, "time": self.time, "actor": self.actor, "action": self.action, **self.target}


@dataclass(frozen=True)
class NewIdentity:
    """An identity to create in a write batch; sightings refer to it by its position in the batch."""

    name: str
    metadata: dict = field(default_factory=dict)


@dataclass
class SightingBatch:
    """Checked sightings of one role (person or face) and their embeddings, for one write."""

    role: str
    model: str
    embeddings: np.ndarray
    sightings: list[dict]
    thumbnails: list[bytes | None]


class GalleryStore(ABC):
    """What every backend offers. Embeddings are unit-norm float32 rows; a gallery holds one person model's and
    one face model's embeddings, kept apart by their model key (the role: "person" or "face")."""

    location: str  # file path or URL, for messages
    read_only: bool = False

    @abstractmethod
    def _meta_value(self, key: str) -> str | None:
        """A value of the gallery's metadata table (None when absent)."""

    def model_of(self, role: str = "person") -> str | None:
        """The model whose embeddings the gallery holds for a role (None while it holds none)."""
        return self._meta_value(ROLES[checked_role(role)][0])

    def dim_of(self, role: str = "person") -> int | None:
        """Their embedding size (None while the gallery holds none)."""
        value = self._meta_value(ROLES[checked_role(role)][1])
        return int(value) if value else None

    @property
    def model(self) -> str | None:
        """The person model (see model_of for faces)."""
        return self.model_of("person")

    @property
    def dim(self) -> int | None:
        """The person embedding size (see dim_of for faces)."""
        return self.dim_of("person")

    # -- writes: validated here, one backend transaction each ---------------------------------------
    def add_identity(self, name: str, metadata: dict | None = None) -> int:
        """Create an identity; returns its id."""
        new = NewIdentity(checked_name(name), checked_metadata(metadata))
        identity_ids, _ = self._write_batch([new], [])
        return identity_ids[0]

    def add_sightings(
        self,
        embeddings: np.ndarray,
        model: str,
        sightings: list[dict],
        thumbnails: list[bytes | None] | None = None,
        role: str = "person",
    ) -> list[int]:
        """Store embeddings with their metadata (identity_id, source, camera, frame, time, box) in one
        transaction; returns the new sighting ids.

        A sighting with a source and a box is keyed by (source, frame, box): storing it again (re-indexing the
        same footage, a retried job) is skipped, so the ids returned are those of the rows actually added.
        """
        batch = checked_batch(role, model, embeddings, sightings, thumbnails)
        if not len(batch.embeddings):
            return []
        _, ids = self._write_batch([], [batch])
        return ids

    def add_person(
        self,
        name: str,
        embeddings: np.ndarray,
        model: str,
        sightings: list[dict],
        thumbnails: list[bytes | None] | None = None,
        metadata: dict | None = None,
        role: str = "person",
    ) -> tuple[int, list[int]]:
        """Create an identity together with its sightings, in one transaction (all or nothing)."""
        new = NewIdentity(checked_name(name), checked_metadata(metadata))
        batch = checked_batch(role, model, embeddings, sightings, thumbnails)
        if not len(batch.embeddings):
            raise InputError("a new identity needs at least one sighting")
        batch.sightings = [dict(r, identity_id=None, new_identity=0) for r in batch.sightings]
        identity_ids, ids = self._write_batch([new], [batch])
        return identity_ids[0], ids

    def rename(self, identity_id: int, name: str) -> None:
        """Change an identity's name."""
        self._rename(checked_id(identity_id), checked_name(name))

    def merge(self, keep: int, absorb: int) -> None:
        """Move every sighting of `absorb` to `keep` and delete `absorb`."""
        keep, absorb = checked_id(keep), checked_id(absorb)
        if keep == absorb:
            raise ConflictError("cannot merge an identity with itself")
        self._merge(keep, absorb)

    def move_sightings(self, sighting_ids: list[int], identity_id: int) -> int:
        """Give these sightings to `identity_id` (one transaction); returns how many moved. What re-association
        does when it finds a track belonged to another person."""
        ids = sorted({checked_id(i) for i in sighting_ids})
        if not ids:
            return 0
        return self._move_sightings(ids, checked_id(identity_id))

    def delete_identity(self, identity_id: int) -> int:
        """Delete an identity and its sightings (from the index too); returns sightings removed."""
        return self._delete_identity(checked_id(identity_id))

    def import_(self, path: Path) -> dict:
        """Add an export to this gallery in one transaction (identities get new ids); returns counts.

        The export is read and validated whole first: on any problem nothing is written.
        """
        return self.import_batch(read_export(Path(path)))

    def import_batch(self, batch: "ExportBatch") -> dict:
        """Write an export already read and validated by `read_export`, in one transaction; returns counts."""
        total = sum(len(part.sightings) for part in batch.parts)
        if not total and not batch.identities:
            return {"identities": 0, "sightings": 0}
        for part in batch.parts:
            self.check_model(part.model, part.embeddings.shape[1], part.role)
        identity_ids, sighting_ids = self._write_batch(batch.identities, batch.parts)
        return {"identities": len(identity_ids), "sightings": len(sighting_ids), "skipped": total - len(sighting_ids)}

    @abstractmethod
    def _write_batch(self, identities: list[NewIdentity], batches: list[SightingBatch]) -> tuple[list[int], list[int]]:
        """One transaction: create `identities`, then add each batch's checked sightings (whose `new_identity` is
        an index into `identities`, or whose `identity_id` must exist); returns (identity ids, added sighting
        ids). Refuses another model's embeddings for a role inside the transaction."""

    @abstractmethod
    def _rename(self, identity_id: int, name: str) -> None:
        """One transaction: rename an existing identity (IdentityNotFoundError if unknown)."""

    @abstractmethod
    def _merge(self, keep: int, absorb: int) -> None:
        """One transaction: move `absorb`'s sightings to `keep`, delete `absorb`."""

    @abstractmethod
    def _delete_identity(self, identity_id: int) -> int:
        """One transaction: delete an identity and its sightings; returns sightings removed."""

    def prune(self, older_than_s: float, keep_enrolled: bool = True, now: float | None = None) -> dict:
        """Delete sightings stored more than `older_than_s` seconds before `now` (their embeddings leave the vector
        index and their thumbnails go with the row), then identities a tracking run created that are left without
        sightings. Enrolled identities (not created by tracking) keep their sightings unless `keep_enrolled` is
        False; an enrolled identity is never deleted while `keep_enrolled` holds. One transaction; returns counts."""
        if isinstance(older_than_s, bool) or not np.isfinite(older_than_s) or older_than_s < 0:
            raise InputError(f"older_than must be a non-negative number of seconds, got {older_than_s}")
        cutoff = (time.time() if now is None else float(now)) - float(older_than_s)
        sightings, identities = self._prune(cutoff, bool(keep_enrolled))
        return {"sightings": sightings, "identities": identities, "before": cutoff}

    @abstractmethod
    def _prune(self, cutoff: float, keep_enrolled: bool) -> tuple[int, int]:
        """One transaction: delete sightings created before `cutoff` (not those of enrolled identities when
        `keep_enrolled`), then tracked identities (and, unless `keep_enrolled`, any created before `cutoff`) left
        without sightings; returns (sightings, identities) removed."""

    # -- the audit log ----------------------------------------------------------------------------
    def record(self, actor: str, action: str, target: dict | None = None) -> None:
        """Append who (`actor`: a key's name, or `cli:USER`) did what (`action`, one of AUDIT_ACTIONS) to what
        (`target`: ids, a camera, a query's size; never an image) to the gallery's audit log."""
        if action not in AUDIT_ACTIONS:
            raise InputError(f"unknown audit action {action!r}: one of {', '.join(AUDIT_ACTIONS)}")
        actor = str(actor or "anonymous")[:MAX_NAME]
        self._append_audit(time.time(), actor, action, json.dumps(target or {}, default=str, sort_keys=True))

    def audit(
        self, limit: int = 100, actor: str | None = None, action: str | None = None, since: float | None = None
    ) -> list[AuditEntry]:
        """The audit log, newest first: at most `limit` rows, optionally of one actor, one action, or after `since`
        (epoch seconds)."""
        if isinstance(limit, bool) or not 1 <= int(limit) <= 1_000_000:
            raise InputError(f"limit must be between 1 and 1000000, got {limit}")
        if action is not None and action not in AUDIT_ACTIONS:
            raise InputError(f"unknown audit action {action!r}: one of {', '.join(AUDIT_ACTIONS)}")
        rows = self._audit_rows(int(limit), actor, action, since)
        return [AuditEntry(int(r[0]), float(r[1]), r[2], r[3], _as_dict(r[4])) for r in rows]

    @abstractmethod
    def _append_audit(self, when: float, actor: str, action: str, target: str) -> None:
        """Append one audit row (its own small transaction; it does not change the gallery's version)."""

    @abstractmethod
    def _audit_rows(self, limit: int, actor: str | None, action: str | None, since: float | None) -> list:
        """(id, time, actor, action, target JSON) rows, newest first."""

    # -- reads -----------------------------------------------------------------------------------
    def search(
        self,
        query: np.ndarray,
        model: str,
        k: int = 5,
        camera: str | None = None,
        time_range: tuple[float, float] | None = None,
        identities_only: bool = False,
        role: str = "person",
        where=None,
    ) -> list[Match]:
        """Top-k sightings of a role by cosine similarity, best first, optionally filtered (camera, time range in
        seconds, enrolled identities only, person attributes `where` such as "backpack=yes,upper=red"); a
        gallery without that role's sightings answers no matches."""
        q = np.asarray(query, np.float32).reshape(-1)
        if not np.all(np.isfinite(q)) or q.size == 0:
            raise InputError("a search needs a finite, non-empty query embedding")
        if isinstance(k, bool) or not 1 <= int(k) <= MAX_RESULTS:
            raise InputError(f"k must be between 1 and {MAX_RESULTS}, got {k}")
        if self.model_of(role) is None:
            return []
        self.check_model(model, q.size, role)
        if time_range is not None and (len(time_range) != 2 or time_range[0] > time_range[1]):
            raise InputError(f"a time range is (start, end) with start <= end, got {time_range}")
        filters = Filters(camera, time_range, identities_only, checked_conditions(where))
        return self._search(q, int(k), filters, role)

    def find(
        self,
        where,
        k: int = 20,
        camera: str | None = None,
        time_range: tuple[float, float] | None = None,
        identities_only: bool = False,
    ) -> list[Match]:
        """Person sightings by description alone ("man with a backpack, red top"): those whose stored attributes
        satisfy every condition of `where`, ranked by the product of the conditions' probabilities (the
        Match score)."""
        from reidkit.attributes import attribute_score

        conditions = checked_conditions(where)
        if not conditions:
            raise InputError("find needs at least one attribute condition, e.g. backpack=yes,upper=red")
        if isinstance(k, bool) or not 1 <= int(k) <= MAX_RESULTS:
            raise InputError(f"k must be between 1 and {MAX_RESULTS}, got {k}")
        if self.model_of("person") is None:
            return []
        found = self._select(Filters(camera, time_range, identities_only, conditions), "person")
        scored = [Match(s, attribute_score(s.attributes, conditions), name) for s, name in found]
        scored.sort(key=lambda m: (-m.score, m.sighting.sighting_id))
        return scored[: int(k)]

    def sighting(self, sighting_id: int) -> Sighting:
        """One sighting (IdentityNotFoundError if unknown)."""
        sighting_id = checked_id(sighting_id, "sighting")
        found = self._sighting(sighting_id)
        if found is None:
            raise IdentityNotFoundError(f"no sighting {sighting_id}")
        return found

    @abstractmethod
    def _sighting(self, sighting_id: int) -> Sighting | None:
        """One sighting, or None."""

    def embeddings_of(self, sighting_ids: list[int]) -> np.ndarray:
        """The stored embeddings of sightings, in the order asked (NotFoundError for an unknown id)."""
        ids = [checked_id(i, "sighting") for i in sighting_ids]
        found = self._embeddings(ids)
        missing = [i for i in ids if i not in found]
        if missing:
            raise IdentityNotFoundError(f"no sighting {missing[0]}")
        return np.stack([found[i] for i in ids]) if ids else np.zeros((0, 0), np.float32)

    @abstractmethod
    def _embeddings(self, sighting_ids: list[int]) -> dict[int, np.ndarray]:
        """{sighting id: embedding} of those that exist."""

    @abstractmethod
    def _select(self, filters: "Filters", role: str) -> list[tuple[Sighting, str | None]]:
        """Every sighting of a role that passes the filters, with its identity's name (no ranking)."""

    @abstractmethod
    def _search(self, q: np.ndarray, k: int, filters: "Filters", role: str) -> list[Match]:
        """Top-k of a checked query among the role's sightings, best first."""

    @abstractmethod
    def identities(self) -> list[Identity]:
        """Every identity with its sighting count."""

    def identity(self, identity_id: int) -> Identity:
        """One identity; IdentityNotFoundError if unknown."""
        identity_id = checked_id(identity_id)
        for ident in self.identities():
            if ident.identity_id == identity_id:
                return ident
        raise IdentityNotFoundError(f"no identity {identity_id} in {redact(self.location)}")

    def sightings_of(self, identity_id: int) -> list[Sighting]:
        """The sightings of one identity."""
        return self._sightings_of(checked_id(identity_id))

    @abstractmethod
    def _sightings_of(self, identity_id: int) -> list[Sighting]:
        """The sightings of one existing identity (IdentityNotFoundError if unknown)."""

    @abstractmethod
    def count(self) -> int:
        """Number of stored sightings."""

    def thumbnail(self, sighting_id: int) -> bytes | None:
        """The JPEG thumbnail stored with a sighting."""
        return self._thumbnail(checked_id(sighting_id, "sighting"))

    @abstractmethod
    def _thumbnail(self, sighting_id: int) -> bytes | None:
        """The thumbnail of an existing sighting (IdentityNotFoundError if unknown)."""

    def export(self, path: Path, overwrite: bool = False) -> dict:
        """Write `<path>.npz` (ids, embeddings per role) and `<path>.json` (models, identities, sightings);
        returns counts and the two file names."""
        npz, doc = export_paths(Path(path))
        for target in (npz, doc):
            if target.exists() and not overwrite:
                raise ConflictError(f"{target} exists: choose another name, or overwrite it explicitly")
        if not npz.parent.is_dir():
            raise NotFoundError(f"folder {npz.parent} does not exist")
        parts = {role: (self.model_of(role), self.dim_of(role), *self._export_rows(role)) for role in ROLES}
        counts = write_export(npz, doc, parts, self.identities())
        return {**counts, "files": [str(npz), str(doc)]}

    @abstractmethod
    def _export_rows(self, role: str) -> tuple[list, np.ndarray]:
        """Every sighting of a role as (id, identity_id, source, camera, frame, time, x0, y0, x1, y1), with the
        embeddings in the same order."""

    @abstractmethod
    def close(self) -> None:
        """Flush the index and release the store."""

    def __enter__(self) -> "GalleryStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def check_model(self, model: str, dim: int, role: str = "person") -> None:
        """Refuse embeddings of another model than the store's for that role (the first one stored fixes it)."""
        held, held_dim = self.model_of(role), self.dim_of(role)
        other = next(r for r in ROLES if r != role)
        if held is None and model == self.model_of(other):
            raise ModelMismatchError(f"{model} is this gallery's {other} model; it cannot also be its {role} model")
        if held is not None and model != held:
            raise ModelMismatchError(
                f"this gallery holds {held} {role} embeddings; refusing {model} (embeddings of different models "
                "are not comparable): use another gallery"
            )
        if held_dim is not None and dim != held_dim:
            raise ModelMismatchError(f"this gallery holds {held_dim}-d {role} embeddings, got {dim}-d")


# -- validation --------------------------------------------------------------------------------------
DURATION_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 7 * 86400.0}


def parse_duration(text, what: str = "a duration") -> float:
    """'30d', '12h', '90m', '45s', '2w' (or a plain number of seconds) as seconds."""
    value = str(text).strip().lower()
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([smhdw]?)", value)
    if not match:
        raise InputError(f"{what} looks like 30d, 12h, 90m or 45s; got {text!r}")
    return float(match.group(1)) * DURATION_UNITS[match.group(2) or "s"]


def checked_id(value, what: str = "identity") -> int:
    """An identity or sighting id as int; ids outside the stored range cannot exist."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InputError(f"{what} id must be a whole number, got {value!r}") from None
    if isinstance(value, float) and value != number:
        raise InputError(f"{what} id must be a whole number, got {value!r}")
    if not 1 <= number <= MAX_ID:
        raise IdentityNotFoundError(f"no {what} {number}")
    return number


def checked_name(name) -> str:
    """A non-empty identity name of printable characters, stripped."""
    if not isinstance(name, str):
        raise InputError(f"an identity name must be text, got {type(name).__name__}")
    name = name.strip()
    if not name:
        raise InputError("an identity needs a non-empty name")
    if len(name) > MAX_NAME:
        raise InputError(f"an identity name is at most {MAX_NAME} characters, got {len(name)}")
    if any(ord(c) < 32 or c == "\x7f" for c in name):
        raise InputError("an identity name cannot contain control characters")
    return name


def checked_metadata(metadata) -> dict:
    """Identity metadata: a JSON-serialisable dict."""
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise InputError(f"identity metadata must be a mapping, got {type(metadata).__name__}")
    try:
        json.dumps(metadata)
    except (TypeError, ValueError) as exc:
        raise InputError(f"identity metadata must be JSON-serialisable: {exc}") from None
    return dict(metadata)


def checked_model_name(model) -> str:
    """A model key: non-empty text."""
    if not isinstance(model, str) or not model.strip():
        raise InputError("embeddings need the name of the model that made them")
    return model


def checked_embeddings(embeddings: np.ndarray, count: int) -> np.ndarray:
    """`count` embeddings as contiguous N×D float32 rows; InputError unless finite and unit-norm."""
    try:
        emb = np.asarray(embeddings, np.float32)
        emb = np.ascontiguousarray(emb.reshape(count, -1)) if count else np.zeros((0, 0), np.float32)
    except (TypeError, ValueError) as exc:
        raise InputError(f"embeddings must be an array of {count} rows: {exc}") from None
    if len(emb) and (
        emb.shape[1] == 0 or not np.all(np.isfinite(emb)) or np.any(np.abs(np.linalg.norm(emb, axis=1) - 1) > 1e-3)
    ):
        raise InputError("embeddings must be finite and L2-normalised")
    return emb


def checked_sighting(info: dict) -> dict:
    """A sighting dict with checked types: identity_id, source, camera, frame, time, box (x0, y0, x1, y1)."""
    if not isinstance(info, dict):
        raise InputError(f"a sighting must be a mapping, got {type(info).__name__}")
    out = dict(info)
    if out.get("identity_id") is not None:
        out["identity_id"] = checked_id(out["identity_id"])
    for key in ("source", "camera"):
        if not isinstance(out.get(key, ""), str):
            raise InputError(f"sighting {key} must be text, got {out[key]!r}")
    frame = out.get("frame")
    if frame is not None and (isinstance(frame, bool) or not isinstance(frame, (int, np.integer)) or frame < 0):
        raise InputError(f"sighting frame must be a non-negative whole number, got {frame!r}")
    t = out.get("time")
    if t is not None and (isinstance(t, bool) or not isinstance(t, (int, float, np.floating)) or not np.isfinite(t)):
        raise InputError(f"sighting time must be a finite number of seconds, got {t!r}")
    box = out.get("box")
    if box is not None:
        try:
            values = [float(v) for v in box]
        except (TypeError, ValueError):
            raise InputError(f"sighting box must be four numbers x0, y0, x1, y1, got {box!r}") from None
        if len(values) != 4 or not all(np.isfinite(values)):
            raise InputError(f"sighting box must be four finite numbers x0, y0, x1, y1, got {box!r}")
        out["box"] = values
    attributes = out.get("attributes")
    if attributes is not None:
        if not isinstance(attributes, dict):
            raise InputError(f"sighting attributes must be a mapping, got {type(attributes).__name__}")
        try:
            json.dumps(attributes)
        except (TypeError, ValueError) as exc:
            raise InputError(f"sighting attributes must be JSON-serialisable: {exc}") from None
    return out


@dataclass(frozen=True)
class Filters:
    """Search filters: camera, time range (seconds), enrolled identities only, person attribute conditions."""

    camera: str | None = None
    time_range: tuple[float, float] | None = None
    identities_only: bool = False
    conditions: tuple = ()

    def __bool__(self) -> bool:
        return self.camera is not None or self.time_range is not None or self.identities_only or bool(self.conditions)

    def sql(self, mark: str, attribute) -> tuple[list[str], list]:
        """SQL conditions and arguments (see filter_clauses)."""
        return filter_clauses(self.camera, self.time_range, self.identities_only, mark, self.conditions, attribute)


def checked_conditions(where) -> tuple:
    """Attribute conditions from text ("backpack=yes,upper=red"), a list of Conditions, or None."""
    if where is None or where == "":
        return ()
    if isinstance(where, str):
        from reidkit.attributes import parse_where

        return tuple(parse_where(where))
    return tuple(where)


def checked_role(role) -> str:
    """ "person" or "face"."""
    if role not in ROLES:
        raise InputError(f"a sighting role is one of {', '.join(ROLES)}, got {role!r}")
    return role


def checked_batch(
    role: str, model: str, embeddings: np.ndarray, sightings: list[dict], thumbnails: list[bytes | None] | None
) -> SightingBatch:
    """Embeddings, sightings and thumbnails of one write, checked and of one length."""
    emb = checked_embeddings(embeddings, len(sightings))
    rows = [checked_sighting(s) for s in sightings]
    thumbs = list(thumbnails) if thumbnails is not None else [None] * len(rows)
    if len(thumbs) != len(rows):
        raise InputError(f"{len(rows)} sightings but {len(thumbs)} thumbnails")
    return SightingBatch(checked_role(role), checked_model_name(model), emb, rows, thumbs)


def sighting_key(info: dict) -> str | None:
    """The natural key of a sighting detected in footage, (source, frame, box); None for enrolment photos (no
    frame: the same photo may be enrolled again, on purpose)."""
    if not info.get("source") or info.get("box") is None or info.get("frame") is None:
        return None
    box = ",".join(f"{v:.1f}" for v in info["box"])
    return f"{info['source']}|{int(info['frame'])}|{box}"


def sighting_from_row(r) -> Sighting:
    """A Sighting from (id, identity_id, source, camera, frame, time, x0, y0, x1, y1[, attributes])."""
    box = None if r[6] is None else (float(r[6]), float(r[7]), float(r[8]), float(r[9]))
    attributes = r[10] if len(r) > 10 else None
    if isinstance(attributes, str):
        attributes = json.loads(attributes)
    return Sighting(int(r[0]), None if r[1] is None else int(r[1]), r[2], r[3], r[4], r[5], box, attributes or None)


def filter_clauses(
    camera: str | None,
    time_range: tuple[float, float] | None,
    identities_only: bool,
    mark: str,
    conditions=(),
    attribute=None,
) -> tuple[list[str], list]:
    """SQL conditions and their arguments for search filters (`mark`: the driver's placeholder, ? or %s).

    Attribute `conditions` (reidkit.attributes.Condition) become SQL through `attribute(key, numeric)`, the
    backend's expression for one stored attribute; keys come from a fixed list, never from the user verbatim."""
    where, args = [], []
    for c in conditions:
        if c.key in ("upper", "lower"):
            where.append(f"{attribute(c.key, False)} = {mark}")
            args.append(c.value)
        else:
            where.append(f"{attribute(c.key, True)} {'>=' if c.value else '<'} 0.5")
    if camera is not None:
        where.append(f"camera = {mark}")
        args.append(camera)
    if time_range is not None:
        where.append(f"time BETWEEN {mark} AND {mark}")
        args += [float(time_range[0]), float(time_range[1])]
    if identities_only:
        where.append("identity_id IS NOT NULL")
    return where, args


def sighting_values(info: dict, identity_id: int | None) -> tuple:
    """(identity_id, source, camera, frame, time, x0, y0, x1, y1, key, attributes) of a checked sighting, as
    stored (attributes as JSON text)."""
    box = info.get("box") or (None, None, None, None)
    frame = info.get("frame")
    t = info.get("time")
    return (
        identity_id,
        str(info.get("source", "")),
        str(info.get("camera", "")),
        None if frame is None else int(frame),
        None if t is None else float(t),
        *[None if v is None else float(v) for v in box],
        sighting_key(info),
        None if info.get("attributes") is None else json.dumps(info["attributes"]),
    )


def resolve_identity(info: dict, new_ids: list[int]) -> int | None:
    """The identity id of a batch sighting: a new identity of the batch, an existing one, or none."""
    if info.get("new_identity") is not None:
        return new_ids[int(info["new_identity"])]
    return info.get("identity_id")


# -- export / import -----------------------------------------------------------------------------------
def export_paths(path: Path) -> tuple[Path, Path]:
    """(`<path>.npz`, `<path>.json`): the suffixes are added, so names with dots (shop.2024-01) stay whole."""
    path = Path(path)
    if path.is_dir():
        raise ConflictError(f"{path} is a folder; give the export a file name (PATH.npz and PATH.json are written)")
    if path.suffix.lower() in (".npz", ".json"):
        path = path.with_suffix("")
    if not path.name:
        raise InputError(f"an export needs a file name, got {str(path)!r}")
    return Path(f"{path}.npz"), Path(f"{path}.json")


def write_export(npz: Path, doc_path: Path, parts: dict, identities: list[Identity]) -> dict:
    """Write the NPZ and the JSON of an export atomically; returns counts.

    `parts` maps a role to (model, dim, rows, embeddings), rows being (id, identity_id, source, camera, frame,
    time, x0, y0, x1, y1) in the order of the embeddings. The NPZ holds `ids`/`embeddings` for persons and
    `face_ids`/`face_embeddings` for faces; the JSON names each role's model and marks each sighting's role.
    """
    from reidkit.files import atomic_write

    doc = {"format": "reidkit-gallery-export", "version": 2}
    arrays, sightings = {}, []
    for role, (model, dim, rows, embeddings) in parts.items():
        model_key, dim_key = ROLES[role]
        prefix = "" if role == "person" else f"{role}_"
        doc[model_key], doc[dim_key] = model, dim
        arrays[f"{prefix}ids"] = np.array([r[0] for r in rows], np.int64)
        arrays[f"{prefix}embeddings"] = embeddings
        sightings += [
            {
                "id": r[0],
                "role": role,
                "identity_id": r[1],
                "source": r[2],
                "camera": r[3],
                "frame": r[4],
                "time": r[5],
                "box": None if r[6] is None else [r[6], r[7], r[8], r[9]],
                **({"attributes": _as_dict(r[10])} if len(r) > 10 and r[10] else {}),
            }
            for r in rows
        ]
    doc["identities"] = [{"id": i.identity_id, "name": i.name, "metadata": i.metadata} for i in identities]
    doc["sightings"] = sightings
    with atomic_write(npz, "wb") as fh:
        np.savez_compressed(fh, **arrays)
    with atomic_write(doc_path, "w") as fh:
        fh.write(json.dumps(doc, indent=1))
    return {"identities": len(doc["identities"]), "sightings": len(sightings)}


@dataclass
class ExportBatch:
    """A validated export, ready to be written in one transaction."""

    identities: list[NewIdentity]
    parts: list[SightingBatch]


def read_export(path: Path) -> ExportBatch:
    """Read and validate an export whole (never unpickling anything); InputError naming the first problem."""
    npz_path, doc_path = export_paths(path)
    for p in (npz_path, doc_path):
        if not p.is_file():
            raise NotFoundError(f"export file not found: {p}")
    try:
        doc = json.loads(doc_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{doc_path} is not a reidkit export (unreadable JSON: {exc})") from None
    if (
        not isinstance(doc, dict)
        or not isinstance(doc.get("identities"), list)
        or not isinstance(doc.get("sightings"), list)
    ):
        raise InputError(f"{doc_path} is not a reidkit export (needs identities and sightings lists)")
    identities, index_of = _export_identities(doc["identities"], doc_path)
    try:
        with np.load(npz_path, allow_pickle=False) as data:
            arrays = {key: np.asarray(data[key]) for key in data.files}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise InputError(f"{npz_path} is not a reidkit export (needs ids and embeddings arrays: {exc})") from None
    parts = []
    for role, (model_key, dim_key) in ROLES.items():
        items = [s for s in doc["sightings"] if isinstance(s, dict) and s.get("role", "person") == role]
        if not items:
            continue
        prefix = "" if role == "person" else f"{role}_"
        ids, embeddings = _export_arrays(arrays, prefix, npz_path)
        sightings, rows = _export_sightings(items, index_of, ids, doc_path)
        model, dim = doc.get(model_key), doc.get(dim_key)
        if not isinstance(model, str) or not model:
            raise InputError(f"{doc_path}: the export names no {role} model")
        if embeddings.shape[1] != dim:
            raise InputError(f"{doc_path}: declares {dim}-d {role} embeddings, the NPZ holds {embeddings.shape[1]}-d")
        try:
            emb = checked_embeddings(embeddings[rows], len(rows))
        except InputError as exc:
            raise InputError(f"{npz_path}: {exc}") from None
        parts.append(SightingBatch(role, model, emb, sightings, [None] * len(sightings)))
    unknown = [s for s in doc["sightings"] if not isinstance(s, dict) or s.get("role", "person") not in ROLES]
    if unknown:
        raise InputError(f"{doc_path}: a sighting of unknown role: {str(unknown[0])[:80]}")
    return ExportBatch(identities, parts)


def _export_arrays(arrays: dict, prefix: str, npz_path: Path) -> tuple[np.ndarray, np.ndarray]:
    ids, embeddings = arrays.get(f"{prefix}ids"), arrays.get(f"{prefix}embeddings")
    if ids is None or embeddings is None:
        raise InputError(f"{npz_path} is not a reidkit export (needs {prefix}ids and {prefix}embeddings arrays)")
    if ids.dtype.kind not in "iu" or ids.ndim != 1:
        raise InputError(f"{npz_path}: {prefix}ids must be a 1-d integer array")
    if embeddings.dtype.kind != "f" or embeddings.ndim != 2 or len(embeddings) != len(ids):
        raise InputError(
            f"{npz_path}: {prefix}embeddings must be a {len(ids)}×D float array, got {embeddings.shape} "
            f"{embeddings.dtype}"
        )
    return ids, embeddings


def _export_identities(items: list, doc_path: Path) -> tuple[list[NewIdentity], dict]:
    identities, index_of = [], {}
    for k, item in enumerate(items):
        if not isinstance(item, dict) or "id" not in item:
            raise InputError(f"{doc_path}: identity #{k + 1} is not an object with an id")
        try:
            identities.append(NewIdentity(checked_name(item.get("name")), checked_metadata(item.get("metadata"))))
        except InputError as exc:
            raise InputError(f"{doc_path}: identity #{k + 1}: {exc}") from None
        if item["id"] in index_of:
            raise InputError(f"{doc_path}: identity id {item['id']} appears twice")
        index_of[item["id"]] = k
    return identities, index_of


def _export_sightings(items: list, index_of: dict, ids: np.ndarray, doc_path: Path) -> tuple[list[dict], list[int]]:
    row_of = {int(s): k for k, s in enumerate(ids)}
    sightings, rows = [], []
    for k, item in enumerate(items):
        where = f"{doc_path}: sighting #{k + 1}"
        if not isinstance(item, dict) or item.get("id") not in row_of:
            raise InputError(f"{where} has no embedding in the NPZ")
        owner = item.get("identity_id")
        if owner is not None and owner not in index_of:
            raise InputError(f"{where} points at identity {owner}, which the export does not hold")
        info = {key: item.get(key) for key in ("source", "camera", "frame", "time", "box", "attributes")}
        info = {key: v for key, v in info.items() if v is not None}
        try:
            info = checked_sighting(info)
        except InputError as exc:
            raise InputError(f"{where}: {exc}") from None
        info["new_identity"] = None if owner is None else index_of[owner]
        sightings.append(info)
        rows.append(row_of[item["id"]])
    return sightings, rows


def _as_dict(value) -> dict:
    return json.loads(value) if isinstance(value, str) else dict(value)


def redact(location: str | Path) -> str:
    """A gallery location fit for messages: a URL's password replaced by ***."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", str(location))


def is_url(location: str | Path) -> bool:
    """True for a PostgreSQL URL (postgresql://... or postgres://...)."""
    return str(location).startswith(("postgresql://", "postgres://"))


def open_gallery(location: str | Path, create: bool = True, read_only: bool = False, **kwargs) -> GalleryStore:
    """Open a gallery by path (embedded SQLite file) or PostgreSQL URL (server with pgvector).

    `create=False` refuses a location that holds no gallery yet (GalleryNotFoundError) instead of making one;
    `read_only=True` opens it for reading only (writes raise GalleryReadOnlyError).
    """
    if not str(location).strip():
        raise InputError("a gallery location (file or postgresql:// URL) is needed")
    if is_url(location):
        from reidkit.gallery.postgres import PostgresGallery

        return PostgresGallery(str(location), create=create, read_only=read_only, **kwargs)
    from reidkit.gallery.sqlite import SqliteGallery

    return SqliteGallery(Path(os.fspath(location)), create=create, read_only=read_only, **kwargs)


__all__ = ["GalleryError", "GalleryStore", "Identity", "Match", "NewIdentity", "Sighting", "open_gallery"]
