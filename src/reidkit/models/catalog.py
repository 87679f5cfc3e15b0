"""Read `catalog.toml` into immutable ModelSpec value objects."""

from __future__ import annotations

import difflib
import math
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

from reidkit.errors import ModelNotFoundError

CATALOG_PATH = Path(__file__).with_name("catalog.toml")
TASKS = (
    "person-reid",
    "face-reid",
    "person-detect",
    "face-detect",
    "face-landmarks",
    "face-attributes",
    "person-attributes",
    "face-liveness",
)  # [defaults] may also name a model for a use of a task: person-reid-tracking, person-reid-trainable


@dataclass(frozen=True)
class FileSpec:
    """One file of one precision of a model: where it lives relative to a model root, and its checksum."""

    precision: str
    path: str
    sha256: str
    size: int
    url: str | None = None


@dataclass(frozen=True)
class InputSpec:
    """What a model's image input expects: size, colour order, layout and normalisation."""

    names: tuple[str, ...]
    height: int
    width: int
    color: str = "bgr"
    layout: str = "NCHW"
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)

    @property
    def normalised(self) -> bool:
        """True when the model wants (pixel - mean) / std rather than raw 0-255 values."""
        return any(m != 0.0 for m in self.mean) or any(s != 1.0 for s in self.std)


@dataclass(frozen=True)
class OutputSpec:
    """A model's output: accepted tensor names and the flattened size (embedding dimension)."""

    names: tuple[str, ...]
    size: int | None = None


@dataclass(frozen=True)
class Calibration:
    """Logistic map from cosine similarity to probability of same identity."""

    scale: float
    bias: float
    source: str = ""

    @property
    def threshold(self) -> float:
        """Cosine similarity at which the probability is exactly 0.5."""
        return -self.bias / self.scale


@dataclass(frozen=True)
class ModelSpec:
    """Everything reidkit knows about one model, as data."""

    name: str
    task: str
    format: str
    path: str
    precisions: tuple[str, ...]
    input: InputSpec
    output: OutputSpec
    description: str = ""
    published: dict[str, float] = field(default_factory=dict)
    params: dict = field(default_factory=dict)  # task-specific settings (a liveness model's crop scale, ...)
    calibration: Calibration | None = None
    files: tuple[FileSpec, ...] = ()

    def relative_path(self, precision: str) -> str:
        """The main model file (.xml or .onnx) of `precision`, relative to a model root."""
        return self.path.format(name=self.name, precision=precision)

    def files_for(self, precision: str) -> tuple[FileSpec, ...]:
        """The files (with checksums) that make up `precision`, empty when none are catalogued."""
        return tuple(f for f in self.files if f.precision == precision)


def _parse(name: str, entry: dict) -> ModelSpec:
    inp = entry["input"]
    out = entry["output"]
    cal = entry.get("calibration")
    return ModelSpec(
        name=name,
        task=entry["task"],
        format=entry.get("format", "ir"),
        path=entry["path"],
        precisions=tuple(entry["precisions"]),
        description=entry.get("description", ""),
        input=InputSpec(
            names=tuple(inp["names"]),
            height=int(inp["height"]),
            width=int(inp["width"]),
            color=inp.get("color", "bgr"),
            layout=inp.get("layout", "NCHW"),
            mean=tuple(float(v) for v in inp.get("mean", (0.0, 0.0, 0.0))),
            std=tuple(float(v) for v in inp.get("std", (1.0, 1.0, 1.0))),
        ),
        output=OutputSpec(names=tuple(out["names"]), size=out.get("size")),
        published=dict(entry.get("published", {})),
        params=dict(entry.get("params", {})),
        calibration=Calibration(float(cal["scale"]), float(cal["bias"]), cal.get("source", "")) if cal else None,
        files=tuple(
            FileSpec(f["precision"], f["path"], f["sha256"], int(f["size"]), f.get("url"))
            for f in entry.get("files", ())
        ),
    )


@lru_cache(maxsize=4)
def _read(path: Path) -> dict:
    with open(path, "rb") as fh:
        return tomllib.load(fh)


def load_catalog(path: Path = CATALOG_PATH) -> dict[str, ModelSpec]:
    """Parse a catalog file into {name: ModelSpec}."""
    return {name: _parse(name, entry) for name, entry in _read(path)["models"].items()}


def model_or_default(model, task: str):
    """`model` as given, or the task's default model when it is None or empty."""
    return default_model(task) if model is None or str(model) == "" else model


def default_models(task: str, path: Path = CATALOG_PATH) -> list[str]:
    """The default models of a task whose default is an ensemble (a list in `[defaults]`), or the one default."""
    value = _read(path).get("defaults", {}).get(task)
    return list(value) if isinstance(value, list) else [default_model(task, path)]


def default_model(task: str, path: Path = CATALOG_PATH) -> str:
    """The catalog's default model for a task (the `[defaults]` table): the one place a default is named."""
    defaults = _read(path).get("defaults", {})
    if task not in defaults:
        raise ModelNotFoundError(
            f"the catalog names no default model for task {task!r} (tasks with one: {', '.join(sorted(defaults))})"
        )
    return defaults[task]


def list_specs(task: str | None = None) -> list[ModelSpec]:
    """All catalogued models, optionally only those of one task."""
    return [s for s in load_catalog().values() if task is None or s.task == task]


def get_spec(name: str) -> ModelSpec:
    """The catalog entry of `name`, or a ModelNotFoundError suggesting close names."""
    catalog = load_catalog()
    if name in catalog:
        return catalog[name]
    close = difflib.get_close_matches(name, catalog, n=3, cutoff=0.5)
    hint = f" Did you mean: {', '.join(close)}?" if close else " Run `reidkit models list` to see them."
    raise ModelNotFoundError(f"unknown model {name!r}.{hint}")


def format_calibration(cal: Calibration) -> str:
    """The TOML line that stores a calibration in a catalog entry."""
    source = cal.source.replace("\\", "/").replace('"', "'")
    return f'calibration = {{ scale = {cal.scale:.6f}, bias = {cal.bias:.6f}, source = "{source}" }}'


def write_calibration(name: str, cal: Calibration, path: Path = CATALOG_PATH) -> None:
    """Store `cal` in the catalog entry of `name`, replacing any calibration line it had."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    header = f'[models."{name}"]'
    if header not in lines:
        raise ModelNotFoundError(f"{name!r} is not in the catalog {path}")
    start = lines.index(header) + 1
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("[")), len(lines))
    new = format_calibration(cal)
    existing = [i for i in range(start, end) if lines[i].startswith("calibration =")]
    if existing:
        lines[existing[0]] = new
    else:
        lines.insert(end, new)
    tmp = Path(path).with_suffix(".toml.tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(path)
    _read.cache_clear()


def read_calibration_file(path: Path, name: str) -> Calibration:
    """The calibration of model `name` from a TOML file written by `reidkit calibrate -o`."""
    from reidkit.errors import CalibrationError

    try:
        with open(path, "rb") as fh:
            raw = tomllib.load(fh)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CalibrationError(f"cannot read calibration file {path}: {exc}") from None
    models = raw.get("models", {}) if isinstance(raw.get("models"), dict) else {}
    entry = models.get(name, {}).get("calibration") if isinstance(models.get(name), dict) else None
    if entry is None:
        known = ", ".join(models) or "none"
        raise CalibrationError(f"{path} holds no calibration for {name} (it has: {known})")
    try:
        cal = Calibration(float(entry["scale"]), float(entry["bias"]), str(entry.get("source", path)))
    except (KeyError, TypeError, ValueError):
        raise CalibrationError(f"{path}: the calibration of {name} needs numbers scale and bias") from None
    if not (math.isfinite(cal.scale) and math.isfinite(cal.bias)) or cal.scale <= 0:
        raise CalibrationError(f"{path}: the calibration of {name} is degenerate (scale {cal.scale}); refit it")
    return cal
