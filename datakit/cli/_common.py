"""Shared CLI pieces: consoles, the --project/--json options, JSON output."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def resolve_cli_path(value: Any) -> Any:
    """A Typer ``callback=`` for path arguments and options: a name typed in NFC finds the
    file saved in NFD (macOS) and back (:func:`datakit.io.resolve_path`). Lists, ``None`` and
    globs (left to the command, which expands them) pass through."""
    from datakit.io import resolve_path

    if isinstance(value, list | tuple):
        return [resolve_cli_path(v) for v in value]
    if value is None or any(c in str(value) for c in "*?["):
        return value
    resolved = resolve_path(value)
    return resolved if isinstance(value, Path) else str(resolved)


ProjectOpt = Annotated[
    Path | None,
    typer.Option(
        "--project",
        "-p",
        help="Project folder (default: the nearest folder holding datakit.yaml; "
        "env DATAKIT_PROJECT).",
        show_default=False,
        callback=resolve_cli_path,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON for scripts.")]


class EngineChoice(StrEnum):
    local = "local"
    spark = "spark"


EngineOpt = Annotated[
    EngineChoice | None,
    typer.Option(
        "--engine",
        help="local (this machine) or spark (Apache Spark; pip install 'datakit[spark]'). "
        "Default: env DATAKIT_ENGINE, then engine.name in datakit.yaml, then local.",
        show_default=False,
    ),
]


def open_project(path: Path | None) -> Any:
    from datakit.project import Project

    return Project.open(resolve_cli_path(path))


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


STEP_STYLE = {"failed": "red", "warning": "yellow", "todo": "cyan", "done": "green"}


def step_line(step: Any, project: Any = None) -> str:
    """A :class:`datakit.status.NextStep` as one line of Rich markup; its command gets
    ``-p <project>`` when the project is not the folder the command runs in."""
    import dataclasses

    from rich.markup import escape

    if step.command and project is not None and _needs_project_option(project.root):
        step = dataclasses.replace(step, command=f"{step.command} -p {_shown(project.root)}")
    style = STEP_STYLE.get(step.severity, "cyan")
    return f"[{style}]next:[/] {escape(step.render())}"


def print_next_steps(project: Any, *, limit: int = 2) -> None:
    """Close a command's output with what to do next (:func:`datakit.status.top_steps`),
    derived from the project's files the way ``datakit status`` derives it."""
    from datakit.errors import DatakitError
    from datakit.status import next_steps, top_steps

    try:
        steps = top_steps(next_steps(project), limit)
    except (DatakitError, OSError, ValueError):
        return  # the command itself succeeded; `datakit status` shows what is unreadable
    for step in steps:
        console.print(step_line(step, project))


def _needs_project_option(root: Path) -> bool:
    from datakit.errors import ProjectError
    from datakit.project import Project

    try:
        found = Project.open(None).root
    except ProjectError:  # no project around the working folder
        return True
    return bool(found.resolve() != root.resolve())


def _shown(root: Path) -> str:
    import os

    try:
        rel = os.path.relpath(root)
    except ValueError:  # another drive (Windows)
        return str(root)
    return rel if not rel.startswith("..") and " " not in rel else str(root)


class ProgressBar:
    """The ``progress(done, total)`` callback the library takes, drawn as a Rich bar on
    stderr; ``phase(name)`` starts a new phase of a multi-step command."""

    def __init__(self, bar: Any, task: Any) -> None:
        self._bar, self._task = bar, task

    def __call__(self, done: int, total: int | None) -> None:
        self._bar.update(self._task, completed=done, total=total)

    def phase(self, name: str) -> None:
        self._bar.update(self._task, description=name, completed=0, total=None)


@contextlib.contextmanager
def progress_bar(label: str, enabled: bool = True) -> Iterator[ProgressBar | None]:
    """A transient progress bar, or None when disabled (``--json``) or stderr is no terminal."""
    if not enabled or not err_console.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        yield ProgressBar(bar, bar.add_task(label, total=None))
