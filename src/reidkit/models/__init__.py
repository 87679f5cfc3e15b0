"""Model catalog (models as data) and the store that finds, downloads and verifies model files."""

from reidkit.models.catalog import FileSpec, ModelSpec, get_spec, list_specs
from reidkit.models.store import ModelStore, ResolvedModel

__all__ = ["FileSpec", "ModelSpec", "ModelStore", "ResolvedModel", "get_spec", "list_specs"]
