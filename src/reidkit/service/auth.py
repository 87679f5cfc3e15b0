"""Who may use the service: API keys with roles, page sessions, and the gate every route stands behind.

Keys are never stored: a keys file holds each key's name, role and SHA-256 digest (`reidkit keys add` writes
one and prints the key once). A request proves who it is with the `X-API-Key` header, or with the session
cookie the login page sets (HttpOnly, SameSite=Strict; never a key in a URL). Digests are compared in constant
time. Roles: a **viewer** searches and watches (search, find, identities, history, live view, frames); an
**admin** also changes the gallery (enrol, rename, merge, delete, import).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from reidkit.errors import ConfigError, ConflictError, InputError

ROLES = ("viewer", "admin")
SESSION_COOKIE = "reidkit_session"
SESSION_S = 12 * 3600.0
MAX_SESSIONS = 10_000


@dataclass(frozen=True)
class Principal:
    """The key a request was made with: its name (in the audit log) and its role."""

    name: str
    role: str

    @property
    def admin(self) -> bool:
        return self.role == "admin"


ANONYMOUS_ADMIN = Principal("anonymous", "admin")  # a service started without keys trusts everyone


def key_digest(key: str) -> str:
    """The hex SHA-256 of a key (what a keys file stores)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _checked_role(role: str, what: str) -> str:
    if role not in ROLES:
        raise ConfigError(f"{what}: role must be one of {', '.join(ROLES)}, got {role!r}")
    return role


class KeyRing:
    """Named keys (as digests) with their roles; `identify` answers the principal of a presented key."""

    def __init__(self, entries: dict[str, tuple[str, str]]) -> None:
        self._entries = {
            name: (_checked_role(role, f"key {name!r}"), digest) for name, (role, digest) in entries.items()
        }
        if not self._entries:
            raise ConfigError("a key ring needs at least one key")

    @classmethod
    def from_options(cls, api_key: str | None = None, keys_file: str | os.PathLike | None = None) -> "KeyRing | None":
        """The keys of `--keys FILE` plus `--api-key KEY` (an admin key named "api-key"); None when neither."""
        entries = read_keys(keys_file) if keys_file else {}
        if api_key:
            entries["api-key"] = ("admin", key_digest(api_key))
        return cls(entries) if entries else None

    def identify(self, key: str | None) -> Principal | None:
        """The principal whose key this is (every digest compared, in constant time), or None."""
        if not key:
            return None
        presented = key_digest(key)
        found = None
        for name, (role, digest) in self._entries.items():
            if hmac.compare_digest(presented, digest):
                found = Principal(name, role)
        return found


class Sessions:
    """Page sessions: random tokens (the cookie's value) mapped to a principal, expiring after `lifetime_s`."""

    def __init__(self, lifetime_s: float = SESSION_S, limit: int = MAX_SESSIONS) -> None:
        self.lifetime_s, self.limit = lifetime_s, limit
        self._tokens: dict[str, tuple[Principal, float]] = {}
        self._lock = threading.Lock()

    def open(self, principal: Principal) -> str:
        token = secrets.token_urlsafe(32)
        now = time.monotonic()
        with self._lock:
            self._tokens = {t: v for t, v in self._tokens.items() if v[1] > now}
            while len(self._tokens) >= self.limit:  # the oldest session goes first
                self._tokens.pop(next(iter(self._tokens)))
            self._tokens[token] = (principal, now + self.lifetime_s)
        return token

    def get(self, token: str | None) -> Principal | None:
        if not token:
            return None
        with self._lock:
            found = self._tokens.get(token)
            if found is None or found[1] <= time.monotonic():
                self._tokens.pop(token, None)
                return None
            return found[0]

    def close(self, token: str | None) -> None:
        with self._lock:
            self._tokens.pop(token or "", None)


# -- the keys file ------------------------------------------------------------------------------------------------
def read_keys(path: str | os.PathLike) -> dict[str, tuple[str, str]]:
    """`{name: (role, sha256)}` from a keys file (`[keys.NAME]` tables with `role` and `sha256`)."""
    from reidkit.files import read_toml

    path = Path(path)
    data = read_toml(path, "keys file", f" (create one with `reidkit keys add NAME --file {path}`)")
    table = data.get("keys", {})
    if not isinstance(table, dict):
        raise InputError(f"keys file {path}: [keys] must be a table of [keys.NAME] entries")
    entries = {}
    for name, entry in table.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str):
            raise InputError(f'keys file {path}: [keys.{name}] needs sha256 = "<hex digest of the key>"')
        digest = entry["sha256"].lower()
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise InputError(f"keys file {path}: [keys.{name}] sha256 is not a 64-digit hex digest")
        entries[name] = (_checked_role(str(entry.get("role", "viewer")), f"keys file {path}, [keys.{name}]"), digest)
    return entries


def add_key(path: str | os.PathLike, name: str, role: str = "viewer") -> str:
    """Add a new random key named `name` to the keys file (created when missing); returns the key (shown once,
    only its digest is written)."""
    import tomlkit

    from reidkit.files import atomic_write

    _checked_role(role, "--role")
    if not name or not all(c.isalnum() or c in "-_." for c in name):
        raise InputError(f"a key name is letters, digits, '-', '_' or '.', got {name!r}")
    path = Path(path)
    doc = tomlkit.parse(path.read_text(encoding="utf-8")) if path.exists() else tomlkit.document()
    if path.exists():
        read_keys(path)  # refuse to extend a broken file
    keys = doc.setdefault("keys", tomlkit.table(is_super_table=True))
    if name in keys:
        raise ConflictError(f"keys file {path} already has a key named {name!r}")
    key = secrets.token_urlsafe(24)
    entry = tomlkit.table()
    entry["role"] = role
    entry["sha256"] = key_digest(key)
    keys[name] = entry
    with atomic_write(path) as fh:
        fh.write(tomlkit.dumps(doc))
    os.chmod(path, 0o600)
    return key
