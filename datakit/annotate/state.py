"""Local bookkeeping of the annotate stage (``.datakit/annotate/``, never released).

``state.json`` remembers which Label Studio project (and review project) belongs to this
dataset on which server; ``tasks.json`` maps item ids to task ids so pushes never
duplicate a task; ``pull.json`` holds the incremental-pull watermark and the tasks still
to fetch when a pull was interrupted. All are caches: when they disagree with the server,
the server wins and they are rebuilt.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from datakit.io import read_json, write_json
from datakit.project import Project


def state_dir(project: Project) -> Path:
    return project.paths.state / "annotate"


def _load(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = read_json(path)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def load(project: Project, name: str, server: str) -> dict[str, Any]:
    """The state file ``name`` if it was written for ``server``, else an empty dict."""
    data = _load(state_dir(project) / f"{name}.json")
    return data if data.get("server") == server else {}


def save(project: Project, name: str, server: str, data: dict[str, Any]) -> None:
    write_json(state_dir(project) / f"{name}.json", {**data, "server": server}, indent=None)


def project_title(project: Project, review: bool = False) -> str:
    """Label Studio project title (at most 50 characters)."""
    base = project.spec.dataset.id
    if len(base) < 3:  # Label Studio wants at least 3 characters
        base = f"datakit {base}"
    if review:
        return f"{base[:42]} review"
    return base[:50]
