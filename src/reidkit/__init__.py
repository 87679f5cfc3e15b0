"""reidkit: re-identify people and faces across camera views and video frames, on a plain CPU."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Embedder", "ReId", "ReidkitError", "__version__"]

if TYPE_CHECKING:  # pragma: no cover
    from reidkit.embed import Embedder
    from reidkit.errors import ReidkitError
    from reidkit.verify import ReId


def __getattr__(name: str) -> Any:
    """Import the public classes lazily, so `import reidkit` stays cheap and loads no model."""
    if name == "Embedder":
        from reidkit.embed import Embedder

        return Embedder
    if name == "ReId":
        from reidkit.verify import ReId

        return ReId
    if name == "ReidkitError":
        from reidkit.errors import ReidkitError

        return ReidkitError
    raise AttributeError(f"module 'reidkit' has no attribute {name!r}")
