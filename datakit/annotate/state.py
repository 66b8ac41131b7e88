"""Local bookkeeping of the annotate stage (``.datakit/annotate/``, never released).

``state.json`` remembers which Label Studio project (and review project) belongs to this
dataset on which server; ``tasks.json`` maps item ids to task ids so pushes never
duplicate a task; ``pull.json`` holds the incremental-pull watermark and the tasks still
to fetch when a pull was interrupted. All are caches: when they disagree with the server,
the server wins and they are rebuilt.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

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


def read_state(project: Project, name: str) -> dict[str, Any]:
    """The state file ``name`` whichever server it was written for (empty when missing or
    unreadable): what ``datakit status`` shows."""
    return _load(state_dir(project) / f"{name}.json")


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


PullMode = Literal["full", "incremental"]


@dataclass
class PullState:
    """``pull.json``, read and written only here.

    ``watermark`` is the server time at which the last complete pull started: the next pull
    fetches tasks updated after it. While a pull runs, ``pending`` lists the task ids it has
    still to fetch (with its ``mode`` and the ``started`` time that becomes the watermark
    when it completes); a pull that dies leaves them for the next run."""

    project_id: int | None = None
    watermark: str | None = None
    mode: PullMode = "incremental"
    started: str | None = None
    pending: list[int] | None = None

    @property
    def interrupted(self) -> bool:
        return self.pending is not None

    @classmethod
    def load(cls, project: Project, server: str, project_id: int) -> PullState:
        """The state for this server and Label Studio project; empty for another project,
        and for a file of another shape (it is a cache: the next pull is then a full one)."""
        data = load(project, "pull", server)
        if data.get("project_id") != project_id:
            return cls(project_id=project_id)
        pending = data.get("pending")
        try:
            return cls(
                project_id=project_id,
                watermark=str(data["watermark"]) if data.get("watermark") else None,
                mode="full" if data.get("mode") == "full" else "incremental",
                started=str(data["started"]) if data.get("started") else None,
                pending=None if pending is None else [int(i) for i in pending],
            )
        except (TypeError, ValueError):
            return cls(project_id=project_id)

    def save(self, project: Project, server: str) -> None:
        data: dict[str, Any] = {"project_id": self.project_id, "watermark": self.watermark}
        if self.pending is not None:
            data.update(mode=self.mode, started=self.started, pending=self.pending)
        save(project, "pull", server, data)

    def completed(self) -> PullState:
        """The state after this pull finished: its start is the next watermark."""
        return PullState(project_id=self.project_id, watermark=self.started or self.watermark)
