"""Face search and liveness on the shared face sets.

1. Face search: for every person of a set with at least two photos, the first photo (in name order) is enrolled
   with `gallery enroll --face`'s code path; every other photo searches the gallery (`search --face`); top-1 is
   right when the best match is that person. Sets: AT&T (40 × 10), Yale (15 × 11), deepface-pairs (people
   joined through master.csv's "Yes" pairs).
2. Liveness: the three anti-spoofing samples (P(real) of each), and the share of each face set's real faces
   accepted as live at the default threshold; greyscale sets are reported as "not judged" (the models need
   colour frames).

    python benchmarks/face_search.py
"""

from __future__ import annotations

import csv
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import data_root, machine  # noqa: E402

from reidkit.errors import ImageError  # noqa: E402
from reidkit.faces import FaceReId  # noqa: E402
from reidkit.faces.liveness import LIVENESS_THRESHOLD, require_colour  # noqa: E402
from reidkit.gallery import open_gallery  # noqa: E402
from reidkit.gallery.ops import enroll_faces, search_face  # noqa: E402
from reidkit.images import load_image  # noqa: E402


def face_sets(root: Path) -> dict[str, dict[str, list[Path]]]:
    """{set: {person: [photos]}} of the shared face sets, people with at least two photos."""
    att = {
        p.name: sorted(p.glob("*.pgm"), key=lambda f: int(f.stem))
        for p in sorted((root / "att_faces").iterdir())
        if p.is_dir()
    }
    yale: dict[str, list[Path]] = defaultdict(list)
    for f in sorted((root / "yalefaces").iterdir()):
        if f.is_file() and f.name.startswith("subject"):
            yale[f.name.split(".")[0]].append(f)
    deep = root / "deepface-pairs"
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    with open(deep / "master.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            if row["Decision"].strip().lower() == "yes":
                parent[find(row["file_x"])] = find(row["file_y"])
    people: dict[str, list[Path]] = defaultdict(list)
    for name in sorted(parent, key=lambda n: int("".join(c for c in n if c.isdigit()) or 0)):
        people[find(name)].append(deep / name)
    sets = {"att_faces": att, "yalefaces": dict(yale), "deepface-pairs": dict(people)}
    return {k: {p: v for p, v in s.items() if len(v) >= 2} for k, s in sets.items()}


def search_top1(fr: FaceReId, people: dict[str, list[Path]]) -> tuple[float, int, float]:
    """(top-1 accuracy, queries, seconds per query) of enrol-one / search-the-rest."""
    with tempfile.TemporaryDirectory() as tmp, open_gallery(Path(tmp) / "faces.db") as store:
        ids = {}
        for person, photos in people.items():
            ids[enroll_faces(store, fr, person, [str(photos[0])])[0]] = person
        hits = queries = 0
        start = time.perf_counter()
        for person, photos in people.items():
            for photo in photos[1:]:
                best = search_face(store, fr, str(photo), k=1)[0]
                hits += ids[best.sighting.identity_id] == person
                queries += 1
        return hits / queries, queries, (time.perf_counter() - start) / queries


def accept_rate(fr: FaceReId, photos: list[Path]) -> str:
    scores = []
    for photo in photos:
        image = load_image(photo)
        try:
            require_colour(image)
        except ImageError:
            return f"not judged ({len(photos)} greyscale faces: the models need colour frames)"
        faces = fr.faces(image)
        if faces:
            scores.append(fr.liveness_model.check(image, [faces[0].box])[0].score)
    s = np.array(scores)
    return f"{(s >= LIVENESS_THRESHOLD).mean():.3f} of {len(s)} accepted (median P(real) {np.median(s):.3f})"


def main() -> None:
    print(f"machine: {machine()}\n")
    root = data_root() / "faces"
    fr = FaceReId()
    sets = face_sets(root)
    print("### Face search: enrol one photo per person, search with each other photo\n")
    print("| set | people | queries | top-1 | ms / query |\n|---|---|---|---|---|")
    for name, people in sets.items():
        top1, queries, seconds = search_top1(fr, people)
        print(f"| {name} | {len(people)} | {queries} | {top1:.3f} | {seconds * 1000:.0f} |", flush=True)
    print(f"\n### Liveness (threshold P(real) >= {LIVENESS_THRESHOLD})\n")
    print("| image | P(real) | verdict |\n|---|---|---|")
    for photo in sorted((root / "antispoof-samples").glob("*.jpg")):
        verdict = fr.liveness(str(photo))
        truth = "real" if "_T" in photo.name else "fake"
        print(f"| {photo.name} ({truth}) | {verdict.score:.3f} | {'accepted' if verdict.real else 'refused'} |")
    print("\n| face set (all real) | accepted as live |\n|---|---|")
    photos = {
        "att_faces": sorted((root / "att_faces").rglob("*.pgm")),
        "yalefaces": [p for v in sets["yalefaces"].values() for p in v],
        "deepface-pairs (every photo)": sorted((root / "deepface-pairs").glob("*.jpg")),
    }
    for name, files in photos.items():
        print(f"| {name} | {accept_rate(fr, files)} |", flush=True)


if __name__ == "__main__":
    main()
