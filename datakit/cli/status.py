from __future__ import annotations

from typing import Any

import typer

from datakit.cli._common import (
    JsonOpt,
    ProjectOpt,
    console,
    open_project,
    print_json,
    step_line,
)


def status(project: ProjectOpt = None, json_out: JsonOpt = False) -> None:
    """Show where the project stands: stages run, counts against targets, last checks, and
    what to do next (`next_steps` in --json).

    Example: datakit status -p reviews --json
    """
    from datakit.status import project_status

    proj = open_project(project)
    report = project_status(proj)
    if json_out:
        print_json(report.to_dict())
        return
    _render(report, proj)


def _render(report: Any, project: Any) -> None:
    from rich.markup import escape
    from rich.table import Table

    from datakit.project import STAGES

    d = report.to_dict()
    console.print(
        f"[bold]{escape(d['dataset'])}[/] v{escape(d['version'])} · {d['task']} · "
        f"{escape(d['project'])}"
    )
    t = Table(title="stages", title_justify="left")
    t.add_column("stage")
    t.add_column("last run")
    t.add_column("note")
    for stage, rec in d["stages"].items():
        if rec is None:
            t.add_row(stage, "[dim]not run[/]", "")
        else:
            note = "[yellow]spec changed since[/]" if rec["spec_changed_since"] else ""
            t.add_row(stage, rec["finished_at"], note)
    console.print(t)
    for key in STAGES:
        section = d.get(key)
        if section and isinstance(section.get("table"), dict):
            tbl = section["table"]
            st = Table(title=escape(tbl.get("title", key)), title_justify="left")
            for col in tbl["columns"]:
                st.add_column(str(col))
            for row in tbl["rows"]:
                st.add_row(*[escape(str(c)) for c in row])
            console.print(st)
        for step in report.next_steps:
            if step.stage == key:
                console.print(step_line(step, project))


def register(app: typer.Typer) -> None:
    app.command("status")(status)
