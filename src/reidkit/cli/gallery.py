"""`reidkit gallery --db PATH enroll | search | find | list | rename | merge | delete | export | import | index |
prune | audit`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from reidkit.cli.common import JsonOption, err, fail, out, print_json
from reidkit.gallery.store import redact

app = typer.Typer(
    help="Enrol people, index footage, and search: where else did this person appear?", no_args_is_help=True
)
state: dict = {}


@app.callback()
def gallery(
    db: str = typer.Option(
        "gallery.db", "--db", help="Gallery file (embedded SQLite + FAISS) or postgresql://URL (pgvector)."
    ),
    model: Optional[str] = typer.Option(
        None, "--model", "-m", help="Re-id model (default: the one the gallery holds, else the catalog's)."
    ),
    precision: Optional[str] = typer.Option(None, "--precision", "-p"),
) -> None:
    """Gallery commands share --db and --model (a gallery holds one model's embeddings)."""
    state.update(db=db, model=model, precision=precision)


def _store(create: bool = False):
    """The gallery of --db; only commands that add data (enroll, index, import) may create it."""
    from reidkit.gallery import open_gallery

    return open_gallery(state["db"], create=create)


def _record(store, action: str, **target) -> None:
    """Append a CLI action to the gallery's audit log, as `cli:USER` (skipped on a read-only gallery)."""
    import getpass

    if not store.read_only:
        try:
            user = getpass.getuser()
        except (KeyError, OSError):  # no passwd entry (containers)
            user = str(__import__("os").getuid())
        store.record(f"cli:{user}", action, target)


def _detector():
    from reidkit.detect import Detector

    return Detector(confidence=0.5)


def _attributes():
    from reidkit.attributes import AttributeRecognizer

    return AttributeRecognizer()


def _face_reid():
    from reidkit.faces import FaceReId

    return FaceReId()


def _embedder():
    """The person model: --model, else the one the gallery already holds, else the catalog's default."""
    from reidkit.embed import Embedder
    from reidkit.errors import GalleryNotFoundError
    from reidkit.gallery import open_gallery

    model = state["model"]
    if not model:
        try:
            with open_gallery(state["db"], create=False, read_only=True) as store:
                model = store.model_of("person")
        except GalleryNotFoundError:
            model = None
    return Embedder(model, state["precision"])


@app.command("enroll")
def enroll(
    images: list[Path] = typer.Argument(..., help="Crops of one person (photos of their face with --face)."),
    name: str = typer.Option(..., "--name", help="The person's name."),
    camera: str = typer.Option("", "--camera"),
    face: bool = typer.Option(False, "--face", help="Enrol the main face of each photo (face model)."),
    liveness: bool = typer.Option(False, "--liveness", help="With --face: refuse printed or replayed faces."),
    as_json: bool = JsonOption,
) -> None:
    """Enrol a person from one or more crops, or (--face) from photos of their face."""
    from reidkit.gallery.ops import enroll as do_enroll
    from reidkit.gallery.ops import face_sightings, store_faces
    from reidkit.gallery.store import checked_name
    from reidkit.images import load_image

    checked_name(name)
    if liveness and not face:
        fail("--liveness checks faces: use it with --face")
    pictures = [load_image(p) for p in images]  # every image is read before a gallery is opened or created
    sources = [str(p) for p in images]
    if face:
        fr = _face_reid()
        found = face_sightings(fr, pictures, liveness, sources)  # every face checked before anything is written
        with _store(create=True) as store:
            ident, ids = store_faces(store, fr, name, found, camera=camera)
            _record(store, "enroll", identity=ident, sightings=len(ids), face=True)
    else:
        embedder, attributes = _embedder(), _attributes()
        with _store(create=True) as store:
            ident, ids = do_enroll(
                store, embedder, name, pictures, camera=camera, sources=sources, attributes=attributes
            )
            _record(store, "enroll", identity=ident, sightings=len(ids))
    result = {"identity": ident, "name": name.strip(), "sightings": ids}
    print_json(result) if as_json else out.print(f"enrolled {name} as identity {ident} ({len(ids)} images)")


@app.command("search")
def search(
    image: Path = typer.Argument(
        ...,
        help="A person crop, or any photo or frame: its largest person is searched (a photo with a face, with --face).",
    ),
    k: int = typer.Option(5, "-k", "--top", min=1),
    box: Optional[str] = typer.Option(None, "--box", help="Search the person in this box of IMAGE: x0,y0,x1,y1."),
    face: bool = typer.Option(False, "--face", help="Search the gallery's faces with the image's main face."),
    camera: Optional[str] = typer.Option(None, "--camera"),
    since: Optional[float] = typer.Option(None, "--since", help="Time range start (seconds)."),
    until: Optional[float] = typer.Option(None, "--until", help="Time range end (seconds)."),
    identities_only: bool = typer.Option(False, "--enrolled", help="Only sightings with an identity."),
    where: Optional[str] = typer.Option(
        None, "--where", help="Person attributes, e.g. backpack=yes,upper=red,gender=female (see `gallery find`)."
    ),
    rerank: bool = typer.Option(
        True,
        "--rerank/--no-rerank",
        help="Reorder the best 100 candidates by k-reciprocal re-ranking (persons; on by default, +13 ms).",
    ),
    as_json: bool = JsonOption,
) -> None:
    """Where else did this person appear? Top-k sightings by cosine similarity, grouped by identity and track."""
    from reidkit.attributes import parse_where
    from reidkit.gallery.ops import parse_box, search_face, search_photo
    from reidkit.images import load_image

    time_range = (
        (since if since is not None else float("-inf"), until if until is not None else float("inf"))
        if since is not None or until is not None
        else None
    )
    conditions = parse_where(where)  # a bad filter is refused before any model loads
    if conditions and face:
        fail("--where filters person attributes; it does not apply to --face searches")
    filters = {"camera": camera, "time_range": time_range, "identities_only": identities_only}
    if conditions:
        filters["where"] = conditions
    picture = load_image(image)
    parse_box(box, picture.shape[1], picture.shape[0])  # a bad box is refused before any model loads
    chosen = None
    with _store() as store:
        if face:
            matches = search_face(store, _face_reid(), picture, k, **filters)
        else:
            matches, chosen = search_photo(store, _embedder(), picture, _detector, k, box=box, rerank=rerank, **filters)
        _record(store, "search", image=str(image), k=k, face=face, results=len(matches))
    _print_matches(matches, as_json, chosen)


def _print_matches(matches, as_json: bool, query_box=None) -> None:
    """Matches as JSON (every match, and the same grouped by identity and track), or a table of the groups."""
    from reidkit.gallery.ops import group_matches

    groups = [g.as_dict() for g in group_matches(matches)]
    if as_json:
        print_json({"query_box": query_box, "matches": [m.as_dict() for m in matches], "groups": groups})
        return
    if query_box is not None:
        out.print(f"searching the person at {[round(v) for v in query_box]}")
    table = Table("score", "identity", "name", "sightings", "best: source", "frame", "box", "attributes")
    for g in groups:
        m = g["best"]
        table.add_row(
            f"{m['score']:.3f}",
            str(m["identity"] or "-"),
            m["name"] or "-",
            str(g["count"]),
            m["source"] or "-",
            str(m["frame"] if m["frame"] is not None else "-"),
            str(m["box"] or "-"),
            _describe(m.get("attributes")),
        )
    out.print(table)


def _describe(attributes: dict | None) -> str:
    """`male, backpack, red top, black bottom` from stored attributes."""
    if not attributes:
        return "-"
    from reidkit.attributes import FLAGS

    words = [attributes.get("gender", "")] + [k for k in FLAGS[1:] if attributes.get(k, 0) >= 0.5]
    words += [f"{attributes.get('upper')} top", f"{attributes.get('lower')} bottom"]
    return ", ".join(w for w in words if w)


@app.command("find")
def find(
    where: str = typer.Option(
        ...,
        "--where",
        help="e.g. gender=male,backpack=yes,upper=red (keys: gender, bag, "
        "backpack, hat, longsleeves, longpants, longhair, coat, upper, lower).",
    ),
    k: int = typer.Option(20, "-k", "--top", min=1),
    camera: Optional[str] = typer.Option(None, "--camera"),
    as_json: bool = JsonOption,
) -> None:
    """Search by description alone: person sightings whose attributes match, most probable first."""
    from reidkit.attributes import parse_where

    conditions = parse_where(where)
    with _store() as store:
        matches = store.find(conditions, k, camera=camera)
        _record(store, "find", where=where, k=k, results=len(matches))
    _print_matches(matches, as_json)


@app.command("list")
def list_identities(as_json: bool = JsonOption) -> None:
    """List identities with their sighting counts."""
    with _store() as store:
        rows = [{"identity": i.identity_id, "name": i.name, "sightings": i.sightings} for i in store.identities()]
        total = store.count()
    if as_json:
        print_json({"identities": rows, "sightings": total})
        return
    table = Table("identity", "name", "sightings", title=f"{redact(state['db'])} ({total} sightings)")
    for r in rows:
        table.add_row(str(r["identity"]), r["name"], str(r["sightings"]))
    out.print(table)


@app.command("rename")
def rename(identity: int = typer.Argument(...), name: str = typer.Argument(...)) -> None:
    """Rename an identity."""
    with _store() as store:
        store.rename(identity, name)
        _record(store, "rename", identity=identity)
    out.print(f"identity {identity} is now {name}")


@app.command("merge")
def merge(keep: int = typer.Argument(...), absorb: int = typer.Argument(...)) -> None:
    """Merge identity ABSORB into KEEP."""
    with _store() as store:
        store.merge(keep, absorb)
        _record(store, "merge", identity=keep, absorbed=absorb)
    out.print(f"merged {absorb} into {keep}")


@app.command("delete")
def delete(identity: int = typer.Argument(...)) -> None:
    """Delete an identity and all its sightings (also from the index)."""
    with _store() as store:
        removed = store.delete_identity(identity)
        _record(store, "delete", identity=identity, sightings=removed)
    out.print(f"deleted identity {identity} and {removed} sightings")


@app.command("export")
def export(
    path: Path = typer.Argument(..., help="Writes PATH.npz and PATH.json."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing export of that name."),
) -> None:
    """Export embeddings (NPZ) and identities/sightings (JSON)."""
    with _store() as store:
        counts = store.export(path, overwrite=force)
    out.print(
        f"exported {counts['identities']} identities, {counts['sightings']} sightings to "
        f"{' and '.join(counts['files'])}"
    )


@app.command("import")
def import_(path: Path = typer.Argument(..., help="PATH.npz + PATH.json from export.")) -> None:
    """Import an export (identities get new ids)."""
    from reidkit.gallery.store import read_export

    batch = read_export(path)  # a malformed export is refused before any gallery is created
    with _store(create=True) as store:
        counts = store.import_batch(batch)
        _record(store, "import", file=str(path), identities=counts["identities"], sightings=counts["sightings"])
    skipped = f" ({counts['skipped']} already stored)" if counts.get("skipped") else ""
    out.print(f"imported {counts['identities']} identities, {counts['sightings']} sightings{skipped}")


@app.command("prune")
def prune(
    older_than: str = typer.Option(..., "--older-than", help="Delete sightings stored longer ago: 30d, 12h, 90m."),
    include_enrolled: bool = typer.Option(
        False, "--include-enrolled", help="Also prune enrolled identities' sightings (kept by default)."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Retention: delete sightings older than a duration (their embeddings, index entries and thumbnails), and
    tracked identities left without sightings. Enrolled identities are kept unless --include-enrolled."""
    from reidkit.gallery.store import parse_duration

    seconds = parse_duration(older_than, "--older-than")
    with _store() as store:
        counts = store.prune(seconds, keep_enrolled=not include_enrolled)
        _record(store, "prune", older_than_s=seconds, **{k: counts[k] for k in ("sightings", "identities")})
    if as_json:
        print_json(counts)
    else:
        out.print(
            f"pruned {counts['sightings']} sightings and {counts['identities']} identities older than {older_than}"
        )


@app.command("audit")
def audit(
    limit: int = typer.Option(50, "--limit", "-n", min=1, help="Newest N entries."),
    actor: Optional[str] = typer.Option(None, "--actor", help="Only this key name (or cli:USER)."),
    action: Optional[str] = typer.Option(None, "--action", help="Only this action (search, view, enroll, delete...)."),
    since: Optional[str] = typer.Option(None, "--since", help="Only the last duration: 24h, 7d."),
    as_json: bool = JsonOption,
) -> None:
    """Who looked at or changed what: the gallery's audit log, newest first."""
    import time

    from reidkit.gallery.store import parse_duration

    after = time.time() - parse_duration(since, "--since") if since else None
    with _store() as store:
        entries = store.audit(limit, actor=actor, action=action, since=after)
    if as_json:
        print_json({"entries": [e.as_dict() for e in entries]})
        return
    table = Table("time (UTC)", "actor", "action", "target", title=f"audit log of {redact(state['db'])}")
    for e in entries:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(e.time))
        table.add_row(when, escape(e.actor), e.action, escape(", ".join(f"{k}={v}" for k, v in e.target.items())))
    out.print(table)


@app.command("index")
def index(
    paths: list[Path] = typer.Argument(..., help="Images, videos or folders of them."),
    camera: Optional[str] = typer.Option(None, "--camera", help="Camera name (default: file stem)."),
    stride: int = typer.Option(10, "--stride", min=1, help="Every N-th video frame."),
    detector: Optional[str] = typer.Option(None, "--detector", help="Person detector (default: the catalog's)."),
    faces: bool = typer.Option(False, "--faces", help="Store every detected face (face model) instead of people."),
    ray: Optional[str] = typer.Option(
        None,
        "--ray",
        help="Index on Ray: no ADDRESS (or 'local') starts a local Ray for the run; 'auto' or ray://host:port "
        "joins a cluster.",
    ),
    segment_s: float = typer.Option(600.0, "--segment-s", min=1.0, help="With --ray: seconds of video per task."),
    workers: Optional[int] = typer.Option(None, "--workers", min=1, help="With --ray: pool size (default: CPUs)."),
    as_json: bool = JsonOption,
) -> None:
    """Detect people (or faces) in footage and store every detection as a searchable sighting.

    Files that are not readable images or videos are skipped and listed; re-indexing the same footage stores
    nothing twice."""
    from reidkit.detect import Detector
    from reidkit.gallery.ops import FaceFinder, PersonFinder, index_media, media_files

    files = media_files(paths)  # missing paths are refused before any gallery is created
    if ray is not None:
        if faces:
            from reidkit.cli.common import fail

            fail("--faces is not available with --ray yet")
        from reidkit.scale.ray_jobs import ray_index

        summary = ray_index(
            files, state["db"], ray, stride, camera, state["model"], detector, segment_s=segment_s, workers=workers
        )
        _print_index(summary, as_json)
        return
    if faces:
        finder = FaceFinder(_face_reid())
    else:
        finder = PersonFinder(_embedder(), Detector(detector, confidence=0.5), attributes=_attributes())
    with _store(create=True) as store:
        summary = index_media(store, finder, files, stride, camera)
    _print_index(summary, as_json)


def _print_index(summary: dict, as_json: bool) -> None:
    if as_json:
        print_json(summary)
        return
    already = f" ({summary['already_stored']} already stored)" if summary.get("already_stored") else ""
    if "workers" in summary:
        already += f" on {len(summary['workers'])} workers, {summary['segments']} segments"
        if summary["retried"]:
            already += f", {summary['retried']} retried"
    out.print(f"{summary['sightings']} sightings from {summary['frames']} frames of {summary['files']} files{already}")
    for item in summary["skipped"]:
        err.print(f"skipped {escape(item['file'])}: {escape(item['reason'])}")
    for notice in summary["warnings"]:
        err.print(f"warning: {escape(notice)}")
