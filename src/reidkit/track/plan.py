"""Which cameras a run has: sources and names from the command line and/or a cameras file, checked together."""

from __future__ import annotations

from pathlib import Path

from reidkit.cameras import CameraLayout, load_layout
from reidkit.errors import ConfigError, NotFoundError
from reidkit.sources import camera_names, is_live


def plan_cameras(
    sources: list[str], names: list[str], cameras_file: str | Path | None = None
) -> tuple[list[str], list[str] | None, CameraLayout | None]:
    """(sources, camera names or None for the defaults, layout or None).

    Without SOURCE arguments the cameras file must give every camera a source. With both, the file's cameras
    must be among the run's camera names, so a mistyped name never silently disables a rule.
    """
    layout = load_layout(cameras_file) if cameras_file is not None else None
    if not sources:
        if layout is None or not layout.cameras:
            raise ConfigError("give at least one SOURCE, or a --cameras file whose cameras have sources")
        missing = [c.name for c in layout.cameras.values() if not c.source]
        if missing:
            raise ConfigError(f"camera {missing[0]!r} of the cameras file has no source (and no SOURCE was given)")
        if names:
            raise ConfigError("--camera names come from the cameras file when no SOURCE is given")
        sources = [c.source for c in layout.cameras.values()]
        names = [c.name for c in layout.cameras.values()]
    if names and len(names) != len(sources):
        raise ConfigError(f"give one --camera per source ({len(sources)}), got {len(names)}")
    for source in sources:
        if not is_live(source) and not Path(source).exists():
            raise NotFoundError(f"source not found: {source}")
    if layout is not None and layout.cameras:
        run_names = set(camera_names(sources, names or None))
        unknown = [c for c in layout.cameras if c not in run_names]
        if unknown:
            raise ConfigError(
                f"camera {unknown[0]!r} of the cameras file is not one of this run's cameras "
                f"({', '.join(sorted(run_names))}); name sources with --camera"
            )
    return sources, names or None, layout
