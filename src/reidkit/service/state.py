"""What the service holds (one gallery, one model) and the request dependencies built on it."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
from fastapi import HTTPException, Request, UploadFile

from reidkit.images import decode_image
from reidkit.service.auth import ANONYMOUS_ADMIN, KeyRing, Principal, Sessions

MAX_UPLOAD = 10 * 1024 * 1024
STATIC = Path(__file__).with_name("static")  # the page, the login form


@dataclass
class ServiceState:
    """The gallery, the embedding model and its verifier, and the lock serialising use of the store's
    connection. Endpoints are plain functions run in FastAPI's thread pool, so inference never blocks the
    event loop and other requests (health checks, page loads) go on meanwhile."""

    store: object
    embedder: object
    reid: object
    backend: str
    keys: Optional[KeyRing] = None  # None: no keys, everyone is an admin (a service on loopback only)
    max_upload: int = MAX_UPLOAD
    lock: threading.Lock = field(default_factory=threading.Lock)
    sessions: Sessions = field(default_factory=Sessions)
    _loaded: dict = field(default_factory=dict)
    _load_lock: threading.Lock = field(default_factory=threading.Lock)

    def _lazy(self, name: str, factory):
        """A model loaded on the first request that needs it, then shared."""
        with self._load_lock:
            if name not in self._loaded:
                self._loaded[name] = factory()
            return self._loaded[name]

    @property
    def detector(self):
        """The person detector (the catalog's default), for photo searches."""
        from reidkit.detect import Detector

        return self._lazy("detector", lambda: Detector(confidence=0.5))

    @property
    def attributes(self):
        """The person attribute model, for enrolments."""
        from reidkit.attributes import AttributeRecognizer

        return self._lazy("attributes", AttributeRecognizer)

    @property
    def face_reid(self):
        """The face pipeline (detection, landmarks, embedding, liveness), for face requests."""
        from reidkit.faces import FaceReId

        return self._lazy("face_reid", FaceReId)


def state(request: Request) -> ServiceState:
    """The app's ServiceState."""
    return request.app.state.reidkit


def principal(request: Request) -> Principal:
    """Who made the request (set by the app's authentication gate)."""
    return getattr(request.state, "principal", None) or ANONYMOUS_ADMIN


def authenticate(request: Request) -> Optional[Principal]:
    """The principal of a request's X-API-Key header or session cookie; None when it has neither (or a wrong
    one). Keys in URLs are not accepted: they end up in logs and browser history."""
    from reidkit.service.auth import SESSION_COOKIE

    s = state(request)
    if s.keys is None:
        return ANONYMOUS_ADMIN
    return s.keys.identify(request.headers.get("x-api-key")) or s.sessions.get(request.cookies.get(SESSION_COOKIE))


def audited(request: Request, action: str, **target) -> None:
    """Append what the request's key did to the gallery's audit log (call with the state's lock held). A
    read-only gallery cannot be written: the service says so once at start and serves without the log."""
    s = state(request)
    if not s.store.read_only:
        s.store.record(principal(request).name, action, target)


def require_admin(request: Request) -> None:
    """Refuse (403) a request whose key is not an admin's: it changes the gallery."""
    who = principal(request)
    if not who.admin:
        raise HTTPException(403, f"key {who.name!r} has the {who.role} role; this needs an admin key")


def read_image(upload: UploadFile, limit: int, field_name: str = "image") -> np.ndarray:
    """An uploaded image as BGR uint8: size-limited, header-checked, decoded (ImageError otherwise)."""
    data = upload.file.read(limit + 1)
    if len(data) > limit:
        raise HTTPException(413, f"{field_name} larger than {limit} bytes")
    return decode_image(data, what=f"uploaded {field_name}")
