from __future__ import annotations

from typing import Annotated

import typer

from datakit.cli._common import (
    JsonOpt,
    ProjectOpt,
    console,
    open_project,
    print_json,
    print_next_steps,
)


def plan(
    project: ProjectOpt = None,
    check: Annotated[
        bool,
        typer.Option("--check", help="Change nothing; exit 1 when the artefacts are out of date."),
    ] = False,
    keep_edited: Annotated[
        bool, typer.Option("--keep-edited", help="Keep hand-edited artefacts as they are.")
    ] = False,
    overwrite_edited: Annotated[
        bool, typer.Option("--overwrite-edited", help="Replace hand-edited artefacts.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Validate datakit.yaml and generate the labeling config, label schema, expectation
    suites, 카테고리 정의서 and annotation guide.

    Example: datakit plan -p reviews --check
    """
    from datakit.errors import DatakitError
    from datakit.plan.run import EditedPolicy
    from datakit.plan.run import plan as run_plan

    if keep_edited and overwrite_edited:
        raise DatakitError("--keep-edited and --overwrite-edited exclude each other")
    policy: EditedPolicy = "keep" if keep_edited else "overwrite" if overwrite_edited else "refuse"
    result = run_plan(open_project(project), check=check, edited=policy)
    if json_out:
        print_json(result.to_dict())
    else:
        _render(result)
        if result.ok:
            print_next_steps(open_project(project))
    if not result.ok:
        raise typer.Exit(1)


def _render(result) -> None:  # type: ignore[no-untyped-def]
    from rich.table import Table

    marks = {
        "created": "[green]+ created[/]",
        "updated": "[green]~ updated[/]",
        "unchanged": "  unchanged",
        "kept-edited": "[yellow]! kept (edited by hand)[/]",
        "overwrote-edited": "[yellow]! overwritten (was edited by hand)[/]",
        "missing": "[red]✗ missing[/]",
        "stale": "[red]✗ out of date[/]",
        "edited": "[red]✗ edited by hand[/]",
    }
    for a in result.artefacts:
        console.print(f"{marks[a.state]:<40} {a.path}")
    if result.classes:
        t = Table(title="targets per class", title_justify="left")
        t.add_column("class")
        t.add_column("target", justify="right")
        for name, n in result.classes:
            t.add_row(name, "" if n is None else f"{n:,}")
        if result.total is not None:
            t.add_row("[bold]total[/]", f"[bold]{result.total:,}[/]")
        console.print(t)
    elif result.total is not None:
        console.print(f"target volume: {result.total:,} items")
    t = Table(title="quality targets", title_justify="left")
    t.add_column("indicator")
    t.add_column("target", justify="right")
    for name, target in result.indicators:
        t.add_row(name, target)
    console.print(t)
    if result.check_only:
        if result.drift:
            console.print("[red]artefacts are out of date with datakit.yaml; run `datakit plan`[/]")
        else:
            console.print("[green]artefacts are up to date[/]")


def register(app: typer.Typer) -> None:
    app.command("plan")(plan)
