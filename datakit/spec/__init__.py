"""The project spec (``datakit.yaml``): typed model (``datakit.spec.model``) and loader
(``datakit.spec.load``). Names are resolved lazily so the CLI can start fast."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datakit.spec.load import load_spec, validate_spec_data
    from datakit.spec.model import FieldDef, LabelClass, ProjectSpec

__all__ = ["FieldDef", "LabelClass", "ProjectSpec", "load_spec", "validate_spec_data"]


def __getattr__(name: str) -> Any:
    import importlib

    if name in ("load_spec", "validate_spec_data"):
        return getattr(importlib.import_module("datakit.spec.load"), name)
    if name in ("FieldDef", "LabelClass", "ProjectSpec"):
        return getattr(importlib.import_module("datakit.spec.model"), name)
    raise AttributeError(name)
