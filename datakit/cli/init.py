from __future__ import annotations

from pathlib import Path
from typing import Annotated, get_args

import typer

from datakit.cli._common import JsonOpt, console, open_project, print_json, print_next_steps
from datakit.spec.model import TaskType

TEMPLATES = get_args(TaskType)


def init(
    directory: Annotated[
        Path, typer.Argument(help="Folder for the new project (created if missing).")
    ],
    template: Annotated[
        str,
        typer.Option("--template", "-t", help=f"Task template: {', '.join(TEMPLATES)}."),
    ] = "text_classification",
    dataset_id: Annotated[
        str | None, typer.Option("--id", help="Dataset id: lowercase, digits, dashes.")
    ] = None,
    name_ko: Annotated[str | None, typer.Option("--name-ko", help="데이터셋명 (국문).")] = None,
    name_en: Annotated[
        str | None, typer.Option("--name-en", help="Dataset name (English).")
    ] = None,
    license: Annotated[
        str, typer.Option("--license", help="Licence of the release.")
    ] = "CC-BY-4.0",
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing files.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Scaffold a dataset project: spec, folders, .gitignore and a README.

    Example: datakit init reviews --template text_classification --name-ko "상품 리뷰 감성"
    """
    from datakit.plan.init import init_project

    result = init_project(
        directory,
        template=template,
        dataset_id=dataset_id,
        name_ko=name_ko,
        name_en=name_en,
        license=license,
        force=force,
    )
    if json_out:
        print_json(result.to_dict())
        return
    console.print(f"created a [bold]{template}[/] project in {result.root}")
    for name in result.created:
        console.print(f"  + {name}")
    console.print(f"next: edit {result.root / 'datakit.yaml'} (targets, classes, fields)")
    print_next_steps(open_project(result.root))


def register(app: typer.Typer) -> None:
    app.command("init")(init)
