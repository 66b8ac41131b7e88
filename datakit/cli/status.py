from __future__ import annotations

from typing import Any

import typer

from datakit.cli._common import JsonOpt, ProjectOpt, console, open_project, print_json


def status(project: ProjectOpt = None, json_out: JsonOpt = False) -> None:
    """Show where the project stands: stages run, counts against targets, last checks.

    Example: datakit status -p reviews --json
    """
    from datakit.status import project_status

    report = project_status(open_project(project))
    if json_out:
        print_json(report.to_dict())
        return
    _render(report.to_dict())


def _render(d: dict[str, Any]) -> None:
    from rich.table import Table

    console.print(f"[bold]{d['dataset']}[/] v{d['version']} · {d['task']} · {d['project']}")
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
    for key in ("collect", "annotate", "check", "package"):
        section = d.get(key)
        if section and isinstance(section.get("table"), dict):
            tbl = section["table"]
            st = Table(title=tbl.get("title", key), title_justify="left")
            for col in tbl["columns"]:
                st.add_column(str(col))
            for row in tbl["rows"]:
                st.add_row(*[str(c) for c in row])
            console.print(st)


def register(app: typer.Typer) -> None:
    app.command("status")(status)
