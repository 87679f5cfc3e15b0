"""The service's endpoints, grouped in routers; each parses the request, calls the library, shapes JSON."""

from __future__ import annotations

from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import Response

from reidkit.service.state import ServiceState, audited, authenticate, read_image, require_admin, state

# Authentication is the app's gate (app.py): every route but /healthz and /login needs a key or a session.
# Routes that change the gallery also need the admin role.
models = APIRouter(tags=["models"])
gallery = APIRouter(tags=["gallery"])
faces = APIRouter(prefix="/faces", tags=["faces"])
health = APIRouter(tags=["health"])
login = APIRouter(tags=["login"])
ADMIN = [Depends(require_admin)]


@health.get("/healthz")
def healthz(request: Request, s: ServiceState = Depends(state)) -> dict:
    """Liveness; with a key, also what is loaded (never the gallery's location or credentials)."""
    if authenticate(request) is None:
        return {"status": "ok"}
    with s.lock:
        sightings = s.store.count()
    return {"status": "ok", "model": s.embedder.name, "backend": s.backend, "sightings": sightings}


@login.get("/login", include_in_schema=False)
def login_page() -> Response:
    """The sign-in form of the page (a key typed once, then a session cookie)."""
    from fastapi.responses import FileResponse

    from reidkit.service.state import STATIC

    return FileResponse(STATIC / "login.html")


@login.post("/login", include_in_schema=False)
def login_submit(request: Request, key: str = Form(...), next: str = Form("/"), s: ServiceState = Depends(state)):
    """Check the key; on success open a page session (HttpOnly, SameSite=Strict cookie) and go to `next`."""
    from fastapi.responses import RedirectResponse

    from reidkit.service.auth import SESSION_COOKIE, SESSION_S

    target = next if next.startswith("/") and not next.startswith("//") else "/"
    who = s.keys.identify(key) if s.keys is not None else None
    if who is None:
        return RedirectResponse(f"/login?failed=1&next={target}", status_code=303)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        s.sessions.open(who),
        max_age=int(SESSION_S),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@models.post("/logout", include_in_schema=False)
def logout(request: Request, s: ServiceState = Depends(state)) -> Response:
    """End the page session."""
    from reidkit.service.auth import SESSION_COOKIE

    s.sessions.close(request.cookies.get(SESSION_COOKIE))
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@models.post("/embed")
def embed(image: UploadFile = File(...), s: ServiceState = Depends(state)) -> dict:
    """The unit-norm embedding of an uploaded crop."""
    vector = s.embedder.embed(read_image(image, s.max_upload))[0]
    return {"model": s.embedder.name, "embedding": [round(float(v), 6) for v in vector]}


@models.post("/verify")
def verify(image_a: UploadFile = File(...), image_b: UploadFile = File(...), s: ServiceState = Depends(state)) -> dict:
    """Calibrated probability that two crops show the same person."""
    from reidkit.calibration_math import logistic

    a, b = read_image(image_a, s.max_upload, "image_a"), read_image(image_b, s.max_upload, "image_b")
    sim = float(s.reid.similarity(a, b))
    prob = float(logistic(sim, s.reid.calibration))
    return {"similarity": sim, "probability": prob, "same": prob > 0.5}


@gallery.post("/gallery/enroll", dependencies=ADMIN)
def gallery_enroll(
    request: Request,
    image: UploadFile = File(...),
    name: str = Form(...),
    camera: str = Form(""),
    s: ServiceState = Depends(state),
) -> dict:
    """Enrol a person from one crop."""
    from reidkit.gallery.ops import enroll

    bgr = read_image(image, s.max_upload)
    with s.lock:
        ident, ids = enroll(s.store, s.embedder, name, [bgr], camera=camera, attributes=s.attributes)
        audited(request, "enroll", identity=ident, sightings=len(ids))
    return {"identity": ident, "name": name.strip(), "sightings": ids}


@gallery.post("/gallery/search")
def gallery_search(
    request: Request,
    image: UploadFile = File(...),
    k: int = Form(5),
    where: str = Form(""),
    rerank: bool = Form(True),
    box: str = Form(""),
    s: ServiceState = Depends(state),
) -> dict:
    """Best matches of a person: a crop as it is, the person in `box` (x0,y0,x1,y1) of a photo, or else the
    photo's largest detected person. `where` filters by person attributes (e.g. backpack=yes,upper=red);
    `rerank` reorders the best 100 by k-reciprocal re-ranking. Answers every match and the same grouped by
    identity and track (best sighting first)."""
    from reidkit.attributes import parse_where
    from reidkit.gallery.ops import RERANK_POOL, group_matches, model_key, query_crop, rerank_matches

    if not 1 <= k <= 1000:
        raise HTTPException(422, "k must be between 1 and 1000")
    conditions = parse_where(where)
    person, chosen = query_crop(read_image(image, s.max_upload), lambda: s.detector, box)
    query = s.embedder.embed(person)[0]
    with s.lock:
        matches = s.store.search(query, model_key(s.embedder), max(k, RERANK_POOL) if rerank else k, where=conditions)
        if rerank:
            matches = rerank_matches(s.store, query, matches)[:k]
        audited(request, "search", k=k, where=where, results=len(matches))
    return {
        "query_box": chosen,
        "matches": [m.as_dict() for m in matches],
        "groups": [g.as_dict() for g in group_matches(matches)],
    }


@gallery.post("/gallery/detect")
def gallery_detect(image: UploadFile = File(...), s: ServiceState = Depends(state)) -> dict:
    """The people of a photo, largest first (the page draws them for the user to pick one), and whether the
    image is already a person crop."""
    from reidkit.gallery.ops import CROP_ASPECT, detect_people

    picture = read_image(image, s.max_upload)
    h, w = picture.shape[:2]
    return {"width": w, "height": h, "crop": h >= CROP_ASPECT * w, "people": detect_people(picture, s.detector)}


@gallery.get("/sightings/{sighting_id}/frame")
def sighting_frame(sighting_id: int, request: Request, s: ServiceState = Depends(state)) -> Response:
    """The frame a sighting was found in, read from its source, with the sighting's box drawn (JPEG)."""
    import cv2

    from reidkit.gallery.ops import sighting_frame as frame_of

    with s.lock:
        sighting = s.store.sighting(sighting_id)
        audited(request, "frame", sighting=sighting_id, identity=sighting.identity_id)
    ok, data = cv2.imencode(".jpg", frame_of(sighting), [cv2.IMWRITE_JPEG_QUALITY, 88])
    return Response(content=data.tobytes(), media_type="image/jpeg")


@gallery.get("/gallery/find")
def gallery_find(request: Request, where: str, k: int = 20, s: ServiceState = Depends(state)) -> dict:
    """Person sightings by description alone (e.g. where=gender=male,backpack=yes,upper=red), most probable
    first; each match's score is the product of the conditions' probabilities."""
    from reidkit.attributes import parse_where

    if not 1 <= k <= 1000:
        raise HTTPException(422, "k must be between 1 and 1000")
    conditions = parse_where(where)
    with s.lock:
        matches = s.store.find(conditions, k)
        audited(request, "find", where=where, k=k, results=len(matches))
    return {"matches": [m.as_dict() for m in matches]}


@gallery.get("/identities")
def identities(s: ServiceState = Depends(state)) -> dict:
    """Every identity with its sighting count."""
    with s.lock:
        rows = s.store.identities()
    return {"identities": [{"id": i.identity_id, "name": i.name, "sightings": i.sightings} for i in rows]}


@gallery.get("/identities/{identity_id}")
def identity(identity_id: int, request: Request, s: ServiceState = Depends(state)) -> dict:
    """One identity and its sightings."""
    with s.lock:
        ident = s.store.identity(identity_id)
        sightings = s.store.sightings_of(identity_id)
        audited(request, "view", identity=identity_id, sightings=len(sightings))
    return {
        "id": ident.identity_id,
        "name": ident.name,
        "metadata": ident.metadata,
        "sightings": [
            {
                "id": x.sighting_id,
                "source": x.source,
                "camera": x.camera,
                "frame": x.frame,
                "box": list(x.box) if x.box else None,
            }
            for x in sightings
        ],
    }


@gallery.delete("/identities/{identity_id}", dependencies=ADMIN)
def delete_identity(identity_id: int, request: Request, s: ServiceState = Depends(state)) -> dict:
    """Delete an identity and its sightings."""
    with s.lock:
        removed = s.store.delete_identity(identity_id)
        audited(request, "delete", identity=identity_id, sightings=removed)
    return {"deleted": identity_id, "sightings": removed}


@gallery.get("/sightings/{sighting_id}/thumbnail")
def sighting_thumbnail(sighting_id: int, s: ServiceState = Depends(state)) -> Response:
    """The JPEG thumbnail of a sighting."""
    with s.lock:
        data = s.store.thumbnail(sighting_id)
    if not data:
        raise HTTPException(404, "no thumbnail stored for this sighting")
    return Response(content=data, media_type="image/jpeg")


@faces.post("/enroll", dependencies=ADMIN)
def face_enroll(
    request: Request,
    image: UploadFile = File(...),
    name: str = Form(...),
    camera: str = Form(""),
    liveness: bool = Form(False),
    s: ServiceState = Depends(state),
) -> dict:
    """Enrol a person from a photo of their face (the main face); with `liveness`, a spoof is refused (400)."""
    from reidkit.gallery.ops import face_sightings, store_faces
    from reidkit.gallery.store import checked_name

    checked_name(name)
    found = face_sightings(s.face_reid, [read_image(image, s.max_upload)], liveness, names=["uploaded image"])
    with s.lock:
        ident, ids = store_faces(s.store, s.face_reid, name, found, camera=camera)
        audited(request, "enroll", identity=ident, sightings=len(ids), face=True)
    return {"identity": ident, "name": name.strip(), "sightings": ids}


@faces.post("/search")
def face_search(
    request: Request,
    image: UploadFile = File(...),
    k: int = Form(5),
    liveness: bool = Form(False),
    s: ServiceState = Depends(state),
) -> dict:
    """Best face matches of the main face of an uploaded photo."""
    from reidkit.gallery.ops import face_sightings, model_key

    if not 1 <= k <= 1000:
        raise HTTPException(422, "k must be between 1 and 1000")
    vectors, _, _ = face_sightings(s.face_reid, [read_image(image, s.max_upload)], liveness, names=["uploaded image"])
    with s.lock:
        matches = s.store.search(vectors[0], model_key(s.face_reid.embedder), k, role="face")
        audited(request, "search", k=k, face=True, results=len(matches))
    return {"matches": [m.as_dict() for m in matches]}


@faces.post("/verify")
def face_verify(
    image_a: UploadFile = File(...),
    image_b: UploadFile = File(...),
    liveness: bool = Form(False),
    s: ServiceState = Depends(state),
) -> dict:
    """Calibrated probability that the main faces of two photos are the same person."""
    from reidkit.calibration_math import logistic
    from reidkit.gallery.ops import face_sightings

    images = [read_image(image_a, s.max_upload, "image_a"), read_image(image_b, s.max_upload, "image_b")]
    vectors, _, _ = face_sightings(s.face_reid, images, liveness, names=["image_a", "image_b"])
    sim = float(vectors[0] @ vectors[1])
    prob = float(logistic(sim, s.face_reid.calibration))
    return {"similarity": sim, "probability": prob, "same": prob > 0.5, "liveness_checked": liveness}
