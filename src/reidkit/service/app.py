"""FastAPI app: embed, verify, enrol, search, browse identities; serves the web page."""

import threading
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Optional, Union

import numpy as np
from fastapi import Depends, FastAPI, File, Form, Header, HTTPException, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse, Response

from reidkit.errors import ImageError, ReidkitError

STATIC = Path(__file__).with_name("static")
MAX_UPLOAD = 10 * 1024 * 1024


def decode_upload(data: bytes) -> np.ndarray:
    """An uploaded image as BGR uint8, or ImageError."""
    import cv2

    from reidkit.preprocess import to_bgr

    if not data:
        raise ImageError("the uploaded image is empty")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ImageError("the upload is not a decodable image (JPEG, PNG, BMP, ...)")
    return to_bgr(image)


def create_app(db: Union[str, Path], model: str = "person-reidentification-retail-0287",
               precision: Optional[str] = None, api_key: Optional[str] = None, max_upload: int = MAX_UPLOAD):
    """The ASGI app over one gallery and one re-id model."""
    from reidkit import __version__
    from reidkit.embed import Embedder
    from reidkit.gallery import GalleryError, open_gallery
    from reidkit.gallery.ops import enroll, model_key, thumbnail
    from reidkit.verify import ReId, logistic

    store = open_gallery(db)
    embedder = Embedder(model, precision)
    reid = ReId(embedder=embedder)
    lock = threading.Lock()  # one writer/reader at a time on the store's connection
    @asynccontextmanager
    async def lifespan(_: FastAPI):
        yield
        with lock:
            store.close()

    app = FastAPI(title="reidkit", version=__version__, lifespan=lifespan,
                  description="Person re-identification: embed, verify, enrol and search a gallery.")

    def check_key(x_api_key: Optional[str] = Header(default=None)) -> None:
        if api_key and x_api_key != api_key:
            raise HTTPException(401, "missing or wrong X-API-Key")

    @app.middleware("http")
    async def limit_size(request: Request, call_next):
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > max_upload:
            return JSONResponse({"detail": f"request larger than {max_upload} bytes"}, status_code=413)
        return await call_next(request)

    @app.exception_handler(ReidkitError)
    async def reidkit_error(_: Request, exc: ReidkitError):
        status = 404 if isinstance(exc, GalleryError) and str(exc).startswith("no ") else 400
        return JSONResponse({"detail": str(exc)}, status_code=status)

    async def read_image(upload: UploadFile) -> np.ndarray:
        data = await upload.read(max_upload + 1)
        if len(data) > max_upload:
            raise HTTPException(413, f"image larger than {max_upload} bytes")
        return decode_upload(data)

    @app.get("/healthz")
    def healthz() -> dict:
        """Liveness and what is loaded."""
        return {"status": "ok", "model": embedder.name, "gallery": str(db), "sightings": store.count()}

    @app.post("/embed", dependencies=[Depends(check_key)])
    async def embed(image: UploadFile = File(...)) -> dict:
        """The unit-norm embedding of an uploaded crop."""
        vector = embedder.embed(await read_image(image))[0]
        return {"model": embedder.name, "embedding": [round(float(v), 6) for v in vector]}

    @app.post("/verify", dependencies=[Depends(check_key)])
    async def verify(image_a: UploadFile = File(...), image_b: UploadFile = File(...)) -> dict:
        """Calibrated probability that two crops show the same person."""
        a, b = await read_image(image_a), await read_image(image_b)
        sim = float(reid.similarity(a, b))
        prob = float(logistic(sim, reid.calibration))
        return {"similarity": sim, "probability": prob, "same": prob > 0.5}

    @app.post("/gallery/enroll", dependencies=[Depends(check_key)])
    async def gallery_enroll(image: UploadFile = File(...), name: str = Form(...), camera: str = Form("")) -> dict:
        """Enrol a person from one crop."""
        bgr = await read_image(image)
        with lock:
            ident, ids = enroll(store, embedder, name, [bgr], camera=camera)
        return {"identity": ident, "name": name, "sightings": ids}

    @app.post("/gallery/search", dependencies=[Depends(check_key)])
    async def gallery_search(image: UploadFile = File(...), k: int = Form(5)) -> dict:
        """Best matches of a query crop: enrolled identities and indexed sightings."""
        if not 1 <= k <= 1000:
            raise HTTPException(422, "k must be between 1 and 1000")
        query = embedder.embed(await read_image(image))[0]
        with lock:
            matches = store.search(query, model_key(embedder), k)
        return {"matches": [m.as_dict() for m in matches]}

    @app.get("/identities", dependencies=[Depends(check_key)])
    def identities() -> dict:
        """Every identity with its sighting count."""
        with lock:
            return {"identities": [{"id": i.identity_id, "name": i.name, "sightings": i.sightings}
                                   for i in store.identities()]}

    @app.get("/identities/{identity_id}", dependencies=[Depends(check_key)])
    def identity(identity_id: int) -> dict:
        """One identity and its sightings."""
        with lock:
            ident = store.identity(identity_id)
            sightings = store.sightings_of(identity_id)
        return {"id": ident.identity_id, "name": ident.name, "metadata": ident.metadata,
                "sightings": [{"id": s.sighting_id, "source": s.source, "camera": s.camera, "frame": s.frame,
                               "box": list(s.box) if s.box else None} for s in sightings]}

    @app.delete("/identities/{identity_id}", dependencies=[Depends(check_key)])
    def delete_identity(identity_id: int) -> dict:
        """Delete an identity and its sightings."""
        with lock:
            removed = store.delete_identity(identity_id)
        return {"deleted": identity_id, "sightings": removed}

    @app.get("/sightings/{sighting_id}/thumbnail", dependencies=[Depends(check_key)])
    def sighting_thumbnail(sighting_id: int) -> Response:
        """The JPEG thumbnail of a sighting."""
        with lock:
            data = store.thumbnail(sighting_id)
        if not data:
            raise HTTPException(404, "no thumbnail stored for this sighting")
        return Response(content=data, media_type="image/jpeg")

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    app.state.store = store
    app.state.thumbnail = thumbnail
    return app
