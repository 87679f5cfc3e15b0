"""Server gallery: PostgreSQL with pgvector. Same behaviour as the embedded store, for galleries that outgrow it.

Every write is one transaction, so concurrent clients and processes are serialised by the server and a client
killed mid-write leaves the previous consistent state. Sightings arrive by COPY into a temporary table and are
inserted from there, skipping any whose natural key (source, frame, box) is already stored. The HNSW index
(inner product on unit vectors) is built in bulk, after the write that takes the gallery to HNSW_FROM
sightings has committed — maintaining it row by row from the first insert would make enrolment 10× slower —
and is then kept up to date by the server. Unfiltered searches use it from then on; small galleries and
filtered searches scan exactly.
"""

from __future__ import annotations

import json
import re
import threading
import time

import numpy as np

from reidkit.errors import (
    GalleryBusyError,
    GalleryError,
    GalleryNotFoundError,
    GalleryReadOnlyError,
    IdentityNotFoundError,
    InputError,
    ModelMismatchError,
)
from reidkit.gallery.store import (
    ROLES,
    TRACKED,
    GalleryStore,
    Identity,
    Match,
    NewIdentity,
    Sighting,
    SightingBatch,
    redact,
    resolve_identity,
    sighting_from_row,
    sighting_values,
)

HNSW_FROM = 200_000  # sightings; below this a search is an exact scan (as the embedded store's index)
HNSW_M, HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH = 16, 200, 100  # ef_search: p50 9 ms, recall@10 1.0 at 200k
SCHEMA_LOCK, MODEL_LOCK, BUILD_LOCK = 0x7E1D_0001, 0x7E1D_0002, 0x7E1D_0003

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
CREATE INDEX IF NOT EXISTS sightings_camera_time ON sightings(camera, time);
ALTER TABLE sightings ADD COLUMN IF NOT EXISTS key TEXT;
ALTER TABLE sightings ADD COLUMN IF NOT EXISTS attributes JSONB;
CREATE UNIQUE INDEX IF NOT EXISTS sightings_key ON sightings(key);
CREATE TABLE IF NOT EXISTS reidkit_audit (
    id BIGSERIAL PRIMARY KEY, time DOUBLE PRECISION NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
    target JSONB NOT NULL DEFAULT '{}');
CREATE INDEX IF NOT EXISTS reidkit_audit_time ON reidkit_audit(time)
"""
SIGHTING_COLUMNS = (
    "identity_id, source, camera, frame, time, x0, y0, x1, y1, key, attributes, thumbnail, model, embedding, created"
)
COLUMNS = "s.id, s.identity_id, s.source, s.camera, s.frame, s.time, s.x0, s.y0, s.x1, s.y1, s.attributes"


def _attribute_sql(key: str, numeric: bool) -> str:
    """PostgreSQL's expression for one stored person attribute (keys come from reidkit.attributes' fixed lists)."""
    return f"(s.attributes->>'{key}')::float8" if numeric else f"(s.attributes->>'{key}')"


def vector_text(v: np.ndarray) -> str:
    """pgvector's text form of a vector."""
    return "[" + ",".join(f"{x:.9g}" for x in np.asarray(v, np.float32).ravel()) + "]"


def parse_vector(text: str) -> np.ndarray:
    """A pgvector text value as float32."""
    return np.array(text.strip("[]").split(","), np.float32)


class PostgresGallery(GalleryStore):
    """A gallery in a PostgreSQL database with the pgvector extension (`postgresql://user@host/db`)."""

    def __init__(
        self,
        url: str,
        index: str = "auto",
        timeout: float = 10.0,
        build_memory: str = "1GB",
        create: bool = True,
        read_only: bool = False,
    ) -> None:
        try:
            import psycopg
        except ImportError:
            raise GalleryError("a postgresql:// gallery needs psycopg: pip install 'reidkit[postgres]'") from None
        self.url = url
        self.location = url
        if index not in ("auto", "exact", "hnsw"):
            raise InputError(f"unknown index kind {index!r}: use auto, exact or hnsw")
        self.index_kind = index
        self.read_only = read_only
        self.ef_search = HNSW_EF_SEARCH
        if not re.fullmatch(r"\d+(kB|MB|GB)", build_memory):
            raise InputError(f"build_memory must look like 512MB or 4GB, got {build_memory!r}")
        # maintenance_work_mem for the HNSW build: the graph must fit, or pgvector builds on disk, ~10x slower
        self.build_memory = build_memory
        self._psycopg = psycopg
        self._lock = threading.RLock()
        try:
            self._db = psycopg.connect(url, autocommit=True, connect_timeout=max(1, int(timeout)))
        except psycopg.Error as exc:
            raise GalleryError(f"cannot connect to {redact(url)}: {str(exc).strip().splitlines()[0]}") from None
        except Exception as exc:  # a malformed URL: psycopg's parser raises plain errors
            raise InputError(f"not a usable PostgreSQL URL {redact(url)}: {exc}") from None
        try:
            self._open(create)
        except BaseException:
            self._db.close()
            raise

    def _open(self, create: bool) -> None:
        exists = self._db.execute("SELECT to_regclass('reidkit_meta') IS NOT NULL").fetchone()[0]
        if self.read_only:
            self._db.execute("SET default_transaction_read_only = on")
        if exists and self.read_only:
            return
        if not exists and (self.read_only or not create):
            raise GalleryNotFoundError(f"no reidkit gallery in {redact(self.url)} (enroll, index or import create one)")
        if exists and self._schema_current():
            if not self._db.execute("SELECT has_table_privilege('sightings', 'INSERT')").fetchone()[0]:
                self.read_only = True  # a role that may only read: read-only use still works
                self._db.execute("SET default_transaction_read_only = on")
            return  # no schema transaction: its ALTER TABLE would lock out every other open and write
        try:
            with self._db.transaction():
                self._db.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
                for statement in SCHEMA.split(";"):
                    self._db.execute(statement)
        except self._psycopg.Error as exc:
            first = str(exc).strip().splitlines()[0]
            if exists and isinstance(
                exc, (self._psycopg.errors.InsufficientPrivilege, self._psycopg.errors.ReadOnlySqlTransaction)
            ):
                self.read_only = True  # a role that may only read: read-only use still works
                self._db.execute("SET default_transaction_read_only = on")
                return
            hint = " (the pgvector extension must be installed on the server)" if "vector" in first else ""
            raise GalleryError(f"{redact(self.url)} cannot hold a reidkit gallery: {first}{hint}") from None

    def _schema_current(self) -> bool:
        """Whether the gallery already has this version's columns and indexes."""
        columns = self._db.execute(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'sightings' "
            "AND column_name IN ('key', 'attributes') AND table_schema = current_schema()"
        ).fetchone()[0]
        current = "SELECT to_regclass('sightings_key') IS NOT NULL AND to_regclass('reidkit_audit') IS NOT NULL"
        return columns == 2 and self._db.execute(current).fetchone()[0]

    def _sql(self, query: str, args=()):
        """Run one statement (outside or inside the current transaction), with errors as GalleryError."""
        try:
            return self._db.execute(query, args)
        except self._psycopg.Error as exc:
            raise self._error(exc) from None

    def _error(self, exc: Exception) -> GalleryError:
        """A driver error as the gallery error family."""
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        errors = self._psycopg.errors
        if isinstance(exc, (errors.ReadOnlySqlTransaction, errors.InsufficientPrivilege)):
            return GalleryReadOnlyError(f"{redact(self.url)} is read-only for this connection: {first}")
        if isinstance(exc, (errors.LockNotAvailable, errors.DeadlockDetected, errors.SerializationFailure)):
            return GalleryBusyError(f"{redact(self.url)} is busy: {first}; try again")
        return GalleryError(f"{redact(self.url)}: {first}")

    def _write_tx(self):
        """A write transaction (refused at once on a read-only gallery)."""
        if self.read_only:
            raise GalleryReadOnlyError(f"{redact(self.url)} is opened read-only: cannot change it")
        return self._db.transaction()

    def _meta(self, key: str) -> str | None:
        row = self._sql("SELECT value FROM reidkit_meta WHERE key = %s", (key,)).fetchone()
        return row[0] if row else None

    def _meta_value(self, key: str) -> str | None:
        with self._lock:
            return self._meta(key)

    # -- writes ---------------------------------------------------------------------------------
    def _fix_model(self, model: str, dim: int, role: str) -> None:
        """The first embeddings of a role fix its model; the first of any role fix the column's dimension, which
        the other role must share (one vector column holds both)."""
        self._sql("SELECT pg_advisory_xact_lock(%s)", (MODEL_LOCK,))
        self.check_model(model, dim, role)
        model_key, dim_key = ROLES[role]
        if self._meta(model_key) is not None:
            return
        fixed = [int(self._meta(ROLES[r][1])) for r in ROLES if r != role and self._meta(ROLES[r][1])]
        if fixed and fixed[0] != dim:
            raise ModelMismatchError(
                f"{model} makes {dim}-d embeddings; this PostgreSQL gallery's vectors are {fixed[0]}-d (persons and "
                "faces share one vector column): use a separate gallery"
            )
        self._sql("INSERT INTO reidkit_meta VALUES (%s, %s), (%s, %s)", (model_key, model, dim_key, str(dim)))
        if not fixed:
            self._sql(f"ALTER TABLE sightings ALTER COLUMN embedding TYPE vector({int(dim)})")

    def has_hnsw(self) -> bool:
        """Whether the HNSW index has been built (and is valid)."""
        with self._lock:
            return (
                self._sql(
                    "SELECT 1 FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid "
                    "WHERE c.relname = 'sightings_hnsw' AND x.indisvalid"
                ).fetchone()
                is not None
            )

    def build_index(self) -> None:
        """Build the HNSW index now (it is built automatically at HNSW_FROM sightings)."""
        if self.dim is None:
            raise GalleryError("the gallery is empty: nothing to index yet")
        with self._lock:
            self._build_hnsw(wait=True)

    def _maybe_build_hnsw(self) -> None:
        """After a write has committed: build the HNSW index once the gallery is large enough (or at once when
        index='hnsw'). The sequence's last value bounds the row count, so no COUNT(*) runs per write."""
        if self.index_kind == "exact" or self.read_only or self.has_hnsw():
            return
        if self.index_kind != "hnsw":
            last = self._sql("SELECT pg_sequence_last_value(pg_get_serial_sequence('sightings', 'id'))").fetchone()[0]
            if (last or 0) < HNSW_FROM or self.count() < HNSW_FROM:
                return
        self._build_hnsw(wait=False)

    def _build_hnsw(self, wait: bool) -> None:
        """CREATE INDEX in its own statement, under a session lock; another process already building it wins."""
        got = self._sql(
            "SELECT pg_advisory_lock(%s)" if wait else "SELECT pg_try_advisory_lock(%s)", (BUILD_LOCK,)
        ).fetchone()[0]
        if got is False:
            return
        try:
            self._sql(f"SET maintenance_work_mem = '{self.build_memory}'")
            self._sql(
                f"CREATE INDEX IF NOT EXISTS sightings_hnsw ON sightings USING hnsw (embedding vector_ip_ops) "
                f"WITH (m = {HNSW_M}, ef_construction = {HNSW_EF_CONSTRUCTION})"
            )
        finally:
            self._sql("RESET maintenance_work_mem")
            self._sql("SELECT pg_advisory_unlock(%s)", (BUILD_LOCK,))

    def _write_batch(self, identities: list[NewIdentity], batches: list[SightingBatch]) -> tuple[list[int], list[int]]:
        """Create identities and add sightings in one transaction; duplicates of a sighting key are skipped."""
        with self._lock:
            with self._write_tx():
                if any(self._meta(ROLES[b.role][0]) is None for b in batches):
                    # the first write fixes the model and may ALTER the vector column, which locks the identities
                    # table too: take the model lock before touching any table, or two first writers deadlock
                    self._sql("SELECT pg_advisory_xact_lock(%s)", (MODEL_LOCK,))
                now = time.time()
                new_ids = [
                    int(
                        self._sql(
                            "INSERT INTO identities (name, metadata, created) VALUES (%s, %s, %s) RETURNING id",
                            (i.name, json.dumps(i.metadata), now),
                        ).fetchone()[0]
                    )
                    for i in identities
                ]
                ids = [i for batch in batches for i in self._insert_sightings(batch, new_ids, now)]
            if batches:
                self._maybe_build_hnsw()
        return new_ids, ids

    def _insert_sightings(self, batch: SightingBatch, new_ids: list[int], now: float) -> list[int]:
        self.check_model(batch.model, batch.embeddings.shape[1], batch.role)
        if self._meta(ROLES[batch.role][0]) is None:
            self._fix_model(batch.model, batch.embeddings.shape[1], batch.role)
        wanted = {
            int(i["identity_id"])
            for i in batch.sightings
            if i.get("identity_id") is not None and i.get("new_identity") is None
        }
        if wanted:
            known = {r[0] for r in self._sql("SELECT id FROM identities WHERE id = ANY(%s)", (list(wanted),))}
            if wanted - known:
                raise IdentityNotFoundError(f"no identity {min(wanted - known)}")
        self._sql(
            f"CREATE TEMP TABLE incoming ON COMMIT DROP AS SELECT 0::bigint AS ord, {SIGHTING_COLUMNS} "
            "FROM sightings WITH NO DATA"
        )
        try:
            with self._db.cursor().copy(f"COPY incoming (ord, {SIGHTING_COLUMNS}) FROM STDIN") as copy:
                rows = zip(batch.embeddings, batch.sightings, batch.thumbnails)
                for k, (vector, info, thumb) in enumerate(rows):
                    values = sighting_values(info, resolve_identity(info, new_ids))
                    copy.write_row((k, *values, thumb, batch.model, vector_text(vector), now))
        except self._psycopg.Error as exc:
            raise self._error(exc) from None
        added = self._sql(
            f"INSERT INTO sightings ({SIGHTING_COLUMNS}) SELECT {SIGHTING_COLUMNS} FROM incoming "
            "ORDER BY ord ON CONFLICT (key) DO NOTHING RETURNING id"
        ).fetchall()
        self._sql("DROP TABLE incoming")
        return sorted(int(r[0]) for r in added)

    def _require(self, identity_id: int) -> None:
        if self._sql("SELECT 1 FROM identities WHERE id = %s", (identity_id,)).fetchone() is None:
            raise IdentityNotFoundError(f"no identity {identity_id} in {redact(self.url)}")

    def _rename(self, identity_id: int, name: str) -> None:
        with self._lock, self._write_tx():
            self._require(identity_id)
            self._sql("UPDATE identities SET name = %s WHERE id = %s", (name, identity_id))

    def _merge(self, keep: int, absorb: int) -> None:
        with self._lock, self._write_tx():
            self._require(keep)
            self._require(absorb)
            self._sql("UPDATE sightings SET identity_id = %s WHERE identity_id = %s", (keep, absorb))
            self._sql("DELETE FROM identities WHERE id = %s", (absorb,))

    def _move_sightings(self, sighting_ids: list[int], identity_id: int) -> int:
        with self._lock, self._write_tx():
            self._require(identity_id)
            moved = self._sql(
                "UPDATE sightings SET identity_id = %s WHERE id = ANY(%s)", (identity_id, list(sighting_ids))
            ).rowcount
        return int(moved)

    def _delete_identity(self, identity_id: int) -> int:
        """Delete an identity and its sightings (the HNSW index follows the table)."""
        with self._lock, self._write_tx():
            self._require(identity_id)
            removed = self._sql("DELETE FROM sightings WHERE identity_id = %s", (identity_id,)).rowcount
            self._sql("DELETE FROM identities WHERE id = %s", (identity_id,))
        return int(removed)

    def _prune(self, cutoff: float, keep_enrolled: bool) -> tuple[int, int]:
        """Old sightings, then emptied identities (the HNSW index follows the table)."""
        spared = (
            "AND (s.identity_id IS NULL OR EXISTS (SELECT 1 FROM identities i WHERE i.id = s.identity_id "
            f"AND i.metadata ? '{TRACKED}'))"
        )
        with self._lock, self._write_tx():
            removed = self._sql(
                f"DELETE FROM sightings s WHERE s.created < %s {spared if keep_enrolled else ''}", (cutoff,)
            ).rowcount
            gone = self._sql(
                f"DELETE FROM identities i WHERE (i.metadata ? '{TRACKED}' OR (NOT %s AND i.created < %s)) "
                "AND NOT EXISTS (SELECT 1 FROM sightings s WHERE s.identity_id = i.id)",
                (keep_enrolled, cutoff),
            ).rowcount
        return int(removed), int(gone)

    def _append_audit(self, when: float, actor: str, action: str, target: str) -> None:
        with self._lock, self._write_tx():
            self._sql(
                "INSERT INTO reidkit_audit (time, actor, action, target) VALUES (%s, %s, %s, %s::jsonb)",
                (when, actor, action, target),
            )

    def _audit_rows(self, limit, actor, action, since) -> list:
        with self._lock:
            if not self._sql("SELECT to_regclass('reidkit_audit') IS NOT NULL").fetchone()[0]:
                return []  # a read-only gallery from before the audit log
            where, args = ["TRUE"], []
            for clause, value in (("actor = %s", actor), ("action = %s", action), ("time >= %s", since)):
                if value is not None:
                    where.append(clause)
                    args.append(value)
            return self._sql(
                f"SELECT id, time, actor, action, target FROM reidkit_audit WHERE {' AND '.join(where)} "
                "ORDER BY id DESC LIMIT %s",
                (*args, limit),
            ).fetchall()

    # -- reads ----------------------------------------------------------------------------------
    def identities(self) -> list[Identity]:
        """Every identity with its sighting count."""
        with self._lock:
            rows = self._sql(
                "SELECT i.id, i.name, i.metadata, COUNT(s.id) FROM identities i LEFT JOIN sightings s "
                "ON s.identity_id = i.id GROUP BY i.id ORDER BY i.id"
            ).fetchall()
        return [Identity(int(r[0]), r[1], dict(r[2]), int(r[3])) for r in rows]

    def _sightings_of(self, identity_id: int) -> list[Sighting]:
        with self._lock:
            self._require(identity_id)
            rows = self._sql(
                f"SELECT {COLUMNS} FROM sightings s WHERE s.identity_id = %s ORDER BY s.id", (identity_id,)
            ).fetchall()
        return [sighting_from_row(r) for r in rows]

    def count(self) -> int:
        """Number of stored sightings."""
        with self._lock:
            return int(self._sql("SELECT COUNT(*) FROM sightings").fetchone()[0])

    def _thumbnail(self, sighting_id: int) -> bytes | None:
        with self._lock:
            row = self._sql("SELECT thumbnail FROM sightings WHERE id = %s", (sighting_id,)).fetchone()
        if row is None:
            raise IdentityNotFoundError(f"no sighting {sighting_id}")
        return None if row[0] is None else bytes(row[0])

    def _use_hnsw(self) -> bool:
        return self.index_kind != "exact" and self.has_hnsw()

    def _where(self, filters, role) -> tuple[str, list]:
        where, args = filters.sql("%s", _attribute_sql)
        return " AND ".join(["s.model = %s", *where]), [self.model_of(role), *args]

    def _sighting(self, sighting_id: int) -> Sighting | None:
        with self._lock:
            row = self._sql(f"SELECT {COLUMNS} FROM sightings s WHERE s.id = %s", (sighting_id,)).fetchone()
        return None if row is None else sighting_from_row(row)

    def _embeddings(self, sighting_ids: list[int]) -> dict[int, np.ndarray]:
        with self._lock:
            rows = self._sql(
                "SELECT id, embedding::text FROM sightings WHERE id = ANY(%s)", (list(sighting_ids),)
            ).fetchall()
        return {int(r[0]): parse_vector(r[1]) for r in rows}

    def _select(self, filters, role) -> list:
        where, args = self._where(filters, role)
        with self._lock:
            rows = self._sql(
                f"SELECT {COLUMNS}, i.name FROM sightings s LEFT JOIN identities i ON i.id = s.identity_id "
                f"WHERE {where} ORDER BY s.id",
                args,
            ).fetchall()
        return [(sighting_from_row(r[:11]), r[11]) for r in rows]

    def _search(self, q, k, filters, role) -> list[Match]:
        """HNSW when built and unfiltered; filtered searches scan the matching rows exactly."""
        filtered = bool(filters)
        where, args = self._where(filters, role)
        with self._lock, self._db.transaction():
            if filtered or not self._use_hnsw():
                self._sql("SET LOCAL enable_indexscan = off")
            else:
                self._sql(f"SET LOCAL hnsw.ef_search = {min(1000, max(int(self.ef_search), int(k)))}")
            text = vector_text(q)
            rows = self._sql(
                f"WITH hits AS (SELECT s.id, s.embedding <#> %s::vector AS d FROM sightings s WHERE {where}"
                f" ORDER BY s.embedding <#> %s::vector LIMIT %s) "
                f"SELECT {COLUMNS}, i.name, -hits.d FROM hits JOIN sightings s ON s.id = hits.id "
                f"LEFT JOIN identities i ON i.id = s.identity_id ORDER BY hits.d, s.id",
                (text, *args, text, int(k)),
            ).fetchall()
        return [Match(sighting_from_row(r[:11]), float(r[12]), r[11]) for r in rows]

    # -- export ---------------------------------------------------------------------------------
    def _export_rows(self, role: str) -> tuple[list, np.ndarray]:
        with self._lock:
            rows = self._sql(
                f"SELECT {COLUMNS}, s.embedding::text FROM sightings s WHERE s.model = %s ORDER BY s.id",
                (self.model_of(role),),
            ).fetchall()
        dim = self.dim_of(role) or 0
        emb = np.stack([parse_vector(r[11]) for r in rows]) if rows else np.zeros((0, dim), np.float32)
        return [r[:11] for r in rows], emb

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._db.close()
