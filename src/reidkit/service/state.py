"""What the service holds (one gallery, one model) and the request dependencies built on it."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
from fastapi import Header, HTTPException, Query, Request, UploadFile

from reidkit.images import decode_image

MAX_UPLOAD = 10 * 1024 * 1024


@dataclass
class ServiceState:
    """The gallery, the embedding model and its verifier, and the lock serialising use of the store's
    connection. Endpoints are plain functions run in FastAPI's thread pool, so inference never blocks the
    event loop and other requests (health checks, page loads) go on meanwhile."""

    store: object
    embedder: object
    reid: object
    backend: str
    api_key: Optional[str] = None
    max_upload: int = MAX_UPLOAD
    lock: threading.Lock = field(default_factory=threading.Lock)
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


def check_key(
    request: Request,
    x_api_key: Optional[str] = Header(default=None),
    key: Optional[str] = Query(default=None, include_in_schema=False),
) -> None:
    """Refuse a request without the configured API key (header X-API-Key, or ?key= for images in pages)."""
    expected = state(request).api_key
    if expected and expected not in (x_api_key, key):
        raise HTTPException(401, "missing or wrong X-API-Key")


def read_image(upload: UploadFile, limit: int, field_name: str = "image") -> np.ndarray:
    """An uploaded image as BGR uint8: size-limited, header-checked, decoded (ImageError otherwise)."""
    data = upload.file.read(limit + 1)
    if len(data) > limit:
        raise HTTPException(413, f"{field_name} larger than {limit} bytes")
    return decode_image(data, what=f"uploaded {field_name}")
