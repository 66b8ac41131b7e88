"""datakit: build AI training datasets the AI Hub way.

The library API mirrors the CLI: each stage is a subpackage with a function of the same
name (``from datakit.collect import collect``); the most used names are re-exported
here. Heavy dependencies
(pandas, pyarrow, Great Expectations, the Label Studio SDK) are imported only by the
stages that need them, so ``import datakit`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "Project": "datakit.project",
    "load_spec": "datakit.spec",
    "ProjectSpec": "datakit.spec",
    "init_project": "datakit.plan",
    "project_status": "datakit.status",
    "DatakitError": "datakit.errors",
    "SpecError": "datakit.errors",
}

if TYPE_CHECKING:
    from datakit.errors import DatakitError, SpecError
    from datakit.plan import init_project
    from datakit.project import Project
    from datakit.spec import ProjectSpec, load_spec
    from datakit.status import project_status

__all__ = [
    "DatakitError",
    "Project",
    "ProjectSpec",
    "SpecError",
    "__version__",
    "init_project",
    "load_spec",
    "project_status",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'datakit' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
