"""Server gallery: PostgreSQL with pgvector. Same behaviour as the embedded store, for galleries that outgrow it.

Every write is one transaction, so concurrent clients and processes are serialised by the server and a client
killed mid-write leaves the previous consistent state. Sightings arrive by COPY. The HNSW index (inner
product on unit vectors) is built in bulk when the gallery reaches HNSW_FROM sightings — maintaining it row by
row from the first insert would make enrolment 10× slower — and is then kept up to date by the server.
Unfiltered searches use it from then on; small galleries and filtered searches scan exactly.
"""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path

import numpy as np

from reidkit.gallery.store import (GalleryError, GalleryStore, Identity, Match, Sighting, filter_clauses, redact,
                                   sighting_from_row, sighting_values, write_export)

HNSW_FROM = 200_000  # sightings; below this a search is an exact scan (as the embedded store's index)
HNSW_M, HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH = 16, 200, 100  # ef_search: p50 9 ms, recall@10 1.0 at 200k
SCHEMA_LOCK, MODEL_LOCK = 0x7E1D_0001, 0x7E1D_0002

SCHEMA = """
CREATE EXTENSION IF NOT EXISTS vector;
CREATE TABLE IF NOT EXISTS reidkit_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS identities (
    id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL, metadata JSONB NOT NULL DEFAULT '{}',
    created DOUBLE PRECISION NOT NULL);
CREATE TABLE IF NOT EXISTS sightings (
    id BIGSERIAL PRIMARY KEY,
    identity_id BIGINT REFERENCES identities(id) ON DELETE CASCADE,
    source TEXT NOT NULL DEFAULT '', camera TEXT NOT NULL DEFAULT '', frame INTEGER, time DOUBLE PRECISION,
    x0 REAL, y0 REAL, x1 REAL, y1 REAL, thumbnail BYTEA, model TEXT NOT NULL, embedding vector NOT NULL,
    created DOUBLE PRECISION NOT NULL);
CREATE INDEX IF NOT EXISTS sightings_identity ON sightings(identity_id);
CREATE INDEX IF NOT EXISTS sightings_camera_time ON sightings(camera, time)
"""
COLUMNS = "s.id, s.identity_id, s.source, s.camera, s.frame, s.time, s.x0, s.y0, s.x1, s.y1"


def vector_text(v: np.ndarray) -> str:
    """pgvector's text form of a vector."""
    return "[" + ",".join(f"{x:.9g}" for x in np.asarray(v, np.float32).ravel()) + "]"


def parse_vector(text: str) -> np.ndarray:
    """A pgvector text value as float32."""
    return np.array(text.strip("[]").split(","), np.float32)


class PostgresGallery(GalleryStore):
    """A gallery in a PostgreSQL database with the pgvector extension (`postgresql://user@host/db`)."""

    def __init__(self, url: str, index: str = "auto", timeout: float = 10.0, build_memory: str = "1GB") -> None:
        try:
            import psycopg
        except ImportError:
            raise GalleryError("a postgresql:// gallery needs psycopg: pip install 'reidkit[postgres]'") from None
        self.url = url
        self.location = url
        self.index_kind = index
        self.ef_search = HNSW_EF_SEARCH
        if not re.fullmatch(r"\d+(kB|MB|GB)", build_memory):
            raise GalleryError(f"build_memory must look like 512MB or 4GB, got {build_memory!r}")
        # maintenance_work_mem for the HNSW build: the graph must fit, or pgvector builds on disk, ~10x slower
        self.build_memory = build_memory
        self._psycopg = psycopg
        self._lock = threading.RLock()
        try:
            self._db = psycopg.connect(url, autocommit=True, connect_timeout=max(1, int(timeout)))
        except psycopg.Error as exc:
            raise GalleryError(f"cannot connect to {redact(url)}: {str(exc).strip().splitlines()[0]}") from None
        try:
            with self._db.transaction():
                self._db.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
                for statement in SCHEMA.split(";"):
                    self._db.execute(statement)
        except psycopg.Error as exc:
            self._db.close()
            first = str(exc).strip().splitlines()[0]
            hint = " (the pgvector extension must be installed on the server)" if "vector" in first else ""
            raise GalleryError(f"{redact(url)} cannot hold a reidkit gallery: {first}{hint}") from None

    def _sql(self, query: str, args=()):
        """Run one statement (outside or inside the current transaction), with errors as GalleryError."""
        try:
            return self._db.execute(query, args)
        except self._psycopg.Error as exc:
            raise GalleryError(f"{redact(self.url)}: {str(exc).strip().splitlines()[0]}") from None

    def _meta(self, key: str) -> str | None:
        row = self._sql("SELECT value FROM reidkit_meta WHERE key = %s", (key,)).fetchone()
        return row[0] if row else None

    @property
    def model(self) -> str | None:  # type: ignore[override]
        """The model whose embeddings this gallery holds (None while empty)."""
        with self._lock:
            return self._meta("model")

    @property
    def dim(self) -> int | None:  # type: ignore[override]
        """Embedding size (None while empty)."""
        with self._lock:
            value = self._meta("dim")
        return int(value) if value else None

    # -- writes ---------------------------------------------------------------------------------
    def _insert_identity(self, name: str, metadata: dict) -> int:
        """Insert a validated identity in one transaction."""
        with self._lock, self._db.transaction():
            row = self._sql("INSERT INTO identities (name, metadata, created) VALUES (%s, %s, %s) RETURNING id",
                            (name, json.dumps(metadata), time.time())).fetchone()
            return int(row[0])

    def _fix_model(self, model: str, dim: int) -> None:
        """The first embeddings stored fix the model and the column's dimension."""
        self._sql("SELECT pg_advisory_xact_lock(%s)", (MODEL_LOCK,))
        self.check_model(model, dim)
        if self._meta("model") is None:
            self._sql("INSERT INTO reidkit_meta VALUES ('model', %s), ('dim', %s)", (model, str(dim)))
            self._sql(f"ALTER TABLE sightings ALTER COLUMN embedding TYPE vector({int(dim)})")

    def has_hnsw(self) -> bool:
        """Whether the HNSW index has been built."""
        with self._lock:
            return self._sql("SELECT 1 FROM pg_indexes WHERE tablename = 'sightings' AND indexname = 'sightings_hnsw'"
                             ).fetchone() is not None

    def build_index(self) -> None:
        """Build the HNSW index now (it is built automatically at HNSW_FROM sightings)."""
        if self.dim is None:
            raise GalleryError("the gallery is empty: nothing to index yet")
        with self._lock, self._db.transaction():
            self._build_hnsw()

    def _maybe_build_hnsw(self) -> None:
        """Build the HNSW index once the gallery is large enough (or at once when index='hnsw')."""
        if self.index_kind == "exact" or self.has_hnsw():
            return
        if self.index_kind != "hnsw" and self.count() < HNSW_FROM:
            return
        self._build_hnsw()

    def _build_hnsw(self) -> None:
        self._sql("SELECT pg_advisory_xact_lock(%s)", (MODEL_LOCK,))
        self._sql(f"SET LOCAL maintenance_work_mem = '{self.build_memory}'")
        self._sql(f"CREATE INDEX IF NOT EXISTS sightings_hnsw ON sightings USING hnsw (embedding vector_ip_ops) "
                  f"WITH (m = {HNSW_M}, ef_construction = {HNSW_EF_CONSTRUCTION})")

    def _insert_sightings(self, emb: np.ndarray, model: str, sightings: list[dict],
                          thumbnails: list[bytes | None]) -> list[int]:
        """Insert validated embeddings with their metadata in one transaction; returns the new sighting ids."""
        wanted = {int(i["identity_id"]) for i in sightings if i.get("identity_id") is not None}
        with self._lock, self._db.transaction():
            self.check_model(model, emb.shape[1])
            if self._meta("model") is None:
                self._fix_model(model, emb.shape[1])
            if wanted:
                known = {r[0] for r in self._sql("SELECT id FROM identities WHERE id = ANY(%s)", (list(wanted),))}
                if wanted - known:
                    raise GalleryError(f"no identity {min(wanted - known)}")
            ids = [r[0] for r in self._sql("SELECT nextval(pg_get_serial_sequence('sightings', 'id')) "
                                           "FROM generate_series(1, %s)", (len(emb),))]
            now = time.time()
            try:
                with self._db.cursor().copy(
                        "COPY sightings (id, identity_id, source, camera, frame, time, x0, y0, x1, y1, thumbnail, "
                        "model, embedding, created) FROM STDIN") as copy:
                    for sid, vector, info, thumb in zip(ids, emb, sightings, thumbnails):
                        copy.write_row((sid, *sighting_values(info), thumb, model, vector_text(vector), now))
            except self._psycopg.Error as exc:
                raise GalleryError(f"{redact(self.url)}: {str(exc).strip().splitlines()[0]}") from None
            self._maybe_build_hnsw()
        return [int(i) for i in ids]

    def _require(self, identity_id: int) -> None:
        if self._sql("SELECT 1 FROM identities WHERE id = %s", (identity_id,)).fetchone() is None:
            raise GalleryError(f"no identity {identity_id} in {redact(self.url)}")

    def rename(self, identity_id: int, name: str) -> None:
        """Change an identity's name."""
        with self._lock, self._db.transaction():
            self._require(identity_id)
            self._sql("UPDATE identities SET name = %s WHERE id = %s", (name.strip(), identity_id))

    def merge(self, keep: int, absorb: int) -> None:
        """Move every sighting of `absorb` to `keep` and delete `absorb`."""
        if keep == absorb:
            raise GalleryError("cannot merge an identity with itself")
        with self._lock, self._db.transaction():
            self._require(keep)
            self._require(absorb)
            self._sql("UPDATE sightings SET identity_id = %s WHERE identity_id = %s", (keep, absorb))
            self._sql("DELETE FROM identities WHERE id = %s", (absorb,))

    def delete_identity(self, identity_id: int) -> int:
        """Delete an identity and its sightings (the HNSW index follows the table)."""
        with self._lock, self._db.transaction():
            self._require(identity_id)
            removed = self._sql("DELETE FROM sightings WHERE identity_id = %s", (identity_id,)).rowcount
            self._sql("DELETE FROM identities WHERE id = %s", (identity_id,))
        return int(removed)

    # -- reads ----------------------------------------------------------------------------------
    def identities(self) -> list[Identity]:
        """Every identity with its sighting count."""
        with self._lock:
            rows = self._sql("SELECT i.id, i.name, i.metadata, COUNT(s.id) FROM identities i LEFT JOIN sightings s "
                             "ON s.identity_id = i.id GROUP BY i.id ORDER BY i.id").fetchall()
        return [Identity(int(r[0]), r[1], dict(r[2]), int(r[3])) for r in rows]

    def sightings_of(self, identity_id: int) -> list[Sighting]:
        """The sightings of one identity."""
        with self._lock:
            self._require(identity_id)
            rows = self._sql(f"SELECT {COLUMNS} FROM sightings s WHERE s.identity_id = %s ORDER BY s.id",
                             (identity_id,)).fetchall()
        return [sighting_from_row(r) for r in rows]

    def count(self) -> int:
        """Number of stored sightings."""
        with self._lock:
            return int(self._sql("SELECT COUNT(*) FROM sightings").fetchone()[0])

    def thumbnail(self, sighting_id: int) -> bytes | None:
        """The JPEG thumbnail of a sighting."""
        with self._lock:
            row = self._sql("SELECT thumbnail FROM sightings WHERE id = %s", (sighting_id,)).fetchone()
        if row is None:
            raise GalleryError(f"no sighting {sighting_id}")
        return None if row[0] is None else bytes(row[0])

    def _use_hnsw(self) -> bool:
        return self.index_kind != "exact" and self.has_hnsw()

    def search(self, query: np.ndarray, model: str, k: int = 5, camera: str | None = None,
               time_range: tuple[float, float] | None = None, identities_only: bool = False) -> list[Match]:
        """Top-k sightings by cosine similarity, best first; filtered searches scan the matching rows exactly."""
        q = np.asarray(query, np.float32).reshape(-1)
        if self.model is None:
            return []
        self.check_model(model, q.size)
        where, args = filter_clauses(camera, time_range, identities_only, "%s")
        filtered = bool(where)
        where = ["TRUE", *where]
        with self._lock, self._db.transaction():
            if filtered or not self._use_hnsw():
                self._sql("SET LOCAL enable_indexscan = off")
            else:
                self._sql(f"SET LOCAL hnsw.ef_search = {min(1000, max(int(self.ef_search), int(k)))}")
            text = vector_text(q)
            rows = self._sql(
                f"WITH hits AS (SELECT id, embedding <#> %s::vector AS d FROM sightings WHERE {' AND '.join(where)}"
                f" ORDER BY embedding <#> %s::vector LIMIT %s) "
                f"SELECT {COLUMNS}, i.name, -hits.d FROM hits JOIN sightings s ON s.id = hits.id "
                f"LEFT JOIN identities i ON i.id = s.identity_id ORDER BY hits.d, s.id",
                (text, *args, text, int(k))).fetchall()
        return [Match(sighting_from_row(r[:10]), float(r[11]), r[10]) for r in rows]

    # -- export ---------------------------------------------------------------------------------
    def export(self, path: Path) -> dict:
        """Write `<path>.npz` (ids, embeddings) and `<path>.json` (model, identities, sightings)."""
        with self._lock:
            rows = self._sql(f"SELECT {COLUMNS}, s.embedding::text FROM sightings s ORDER BY s.id").fetchall()
        emb = np.stack([parse_vector(r[10]) for r in rows]) if rows else np.zeros((0, self.dim or 0), np.float32)
        return write_export(Path(path), self.model, self.dim, self.identities(), [r[:10] for r in rows], emb)

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._db.close()
