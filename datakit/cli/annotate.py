"""``datakit annotate …``: Label Studio server, push, pull, import, status, simulate."""

from __future__ import annotations

import contextlib
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from datakit.cli._common import (
    JsonOpt,
    ProjectOpt,
    console,
    err_console,
    open_project,
    print_json,
    print_next_steps,
    progress_bar,
    resolve_cli_path,
)
from datakit.errors import ProjectError

if TYPE_CHECKING:
    from datakit.annotate.importing import ImportResult
    from datakit.annotate.spans import SpanTally
    from datakit.reports import AgreementFigures

annotate_app = typer.Typer(
    name="annotate",
    help="가공: label items in Label Studio and bring the labels back with agreement figures."
    "\n\nExample: datakit annotate serve --background && datakit annotate push",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@annotate_app.command("serve")
def serve(
    project: ProjectOpt = None,
    port: Annotated[
        int | None,
        typer.Option("--port", help="Port (default: annotation.label_studio.port, 8080)."),
    ] = None,
    background: Annotated[
        bool,
        typer.Option("--background", "-b", help="Start detached, wait until ready, and return."),
    ] = False,
    install: Annotated[
        bool,
        typer.Option(
            "--install", help="Create the Label Studio virtual environment if it is missing."
        ),
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Run a local Label Studio for this project (127.0.0.1, data in .datakit/label-studio/,
    admin account and API token provisioned automatically).

    Example: datakit annotate serve --background --install
    """
    from datakit.annotate.server import ensure_gitignored, start_server, stop_server

    proj = open_project(project)
    ls = proj.spec.annotation.label_studio
    ensure_gitignored(proj.root)
    if not json_out:
        err_console.print("starting Label Studio (the first start takes about a minute)…")
    info, proc = start_server(
        proj.root,
        port=port or ls.port,
        venv=ls.venv,
        install=install,
        log=lambda m: err_console.print(m, markup=False),
    )
    if json_out:
        print_json({**info.to_dict(), "token_file": ".datakit/label-studio/token"})
    else:
        console.print(f"Label Studio is running at [bold]{info.url}[/] (pid {info.pid})")
        console.print(
            f"log in as {info.admin_email}; password in .datakit/label-studio/password "
            "(API token in .datakit/label-studio/token, mode 0600)"
        )
    if background:
        return
    console.print("press Ctrl-C to stop")
    try:
        proc.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stop_server(proj.root)
        console.print("Label Studio stopped")


@annotate_app.command("install")
def install(
    project: ProjectOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Install Label Studio into its own virtual environment (its pins clash with datakit's),
    unless one is already found. Run once per machine; `serve --install` does the same.

    Example: datakit annotate install
    """
    from datakit.annotate.server import DEFAULT_VENV, find_label_studio, install_label_studio

    configured = None
    # Outside a project the default location is used.
    with contextlib.suppress(ProjectError):
        configured = open_project(project).spec.annotation.label_studio.venv
    exe = find_label_studio(configured)
    installed = exe is None
    if exe is None:
        venv = Path(configured).expanduser() if configured else DEFAULT_VENV
        exe = install_label_studio(venv, log=lambda m: err_console.print(m, markup=False))
    if json_out:
        print_json({"label_studio": str(exe), "installed": installed})
    else:
        verb = "installed" if installed else "already installed"
        console.print(f"Label Studio {verb}: {exe}")


@annotate_app.command("stop")
def stop(project: ProjectOpt = None) -> None:
    """Stop the project's local Label Studio started with `serve --background`.

    Example: datakit annotate stop -p reviews
    """
    from datakit.annotate.server import stop_server

    proj = open_project(project)
    if stop_server(proj.root):
        console.print("Label Studio stopped")
    else:
        console.print("no local Label Studio was running for this project")


@annotate_app.command("push")
def push(
    project: ProjectOpt = None,
    predictions: Annotated[
        Path | None,
        typer.Option(
            "--predictions",
            help='Model predictions to pre-annotate with: JSON lines {"item_id", <label '
            'fields>, "score", "model_version"}.',
        ),
    ] = None,
    model_version: Annotated[
        str | None, typer.Option("--model-version", help="Model version for --predictions.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Create or update the Label Studio project and import tasks for new items (status ok).

    Example: datakit annotate push --predictions preds.jsonl --model-version v1
    """
    from datakit.annotate.push import push as run_push

    proj = open_project(project)
    with progress_bar("importing tasks", not json_out) as progress:
        result = run_push(
            proj, predictions=predictions, model_version=model_version, progress=progress
        )
    if json_out:
        print_json(result.to_dict())
        return
    verb = "created" if result.created else "reused"
    console.print(f"{verb} project [bold]{result.title}[/] → {result.project_url}")
    if result.config_updated:
        console.print("labeling config updated")
    if result.settings_updated:
        console.print(f"settings updated: {', '.join(result.settings_updated)}")
    console.print(
        f"tasks: {result.tasks_created:,} new, {result.tasks_existing:,} already there "
        f"({result.items_ok:,} ok items; media: {result.media}); overlap: "
        f"{result.overlap['maximum_annotations']} annotators on "
        f"{result.overlap['overlap_cohort_percentage']}% of tasks"
    )
    if predictions is not None:
        console.print(f"predictions: {result.predictions_created:,} created")
    print_next_steps(proj)


@annotate_app.command("pull")
def pull(
    project: ProjectOpt = None,
    full: Annotated[
        bool, typer.Option("--full", help="Fetch everything again instead of what changed.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Fetch annotations (only what changed since the last pull) and write
    annotations.parquet, labels.jsonl, consensus.parquet and agreement.json.

    Example: datakit annotate pull -p reviews --json
    """
    from datakit.annotate.pull import pull as run_pull
    from datakit.annotate.spans import tally

    proj = open_project(project)
    with progress_bar("pulling annotations", not json_out) as progress, tally() as spans:
        result = run_pull(proj, full=full, progress=progress)
    if json_out:
        print_json({**result.to_dict(), "spans": spans.to_dict()})
        return
    console.print(
        f"{result.mode} pull from project {result.project_id}: {result.tasks_fetched:,} tasks "
        f"fetched, {result.annotations:,} annotations by {len(result.annotators)} annotators"
    )
    _render_build(result.labelled, result.needs_review, result.agreement, result.written)
    if result.review_tasks_created:
        console.print(
            f"{result.review_tasks_created} item(s) sent to review (Label Studio project "
            f"{result.review_project_id})"
        )
    _render_spans(spans)
    _render_invalid(result.invalid_records)
    print_next_steps(proj)


class ImportFormatChoice(StrEnum):
    labelstudio = "labelstudio"
    json_min = "json-min"
    csv = "csv"
    coco = "coco"
    yolo = "yolo"
    aihub = "aihub"


@annotate_app.command("import")
def import_(
    export: Annotated[
        Path,
        typer.Argument(
            help="Labels to bring in: a Label Studio JSON, JSON-MIN or CSV export, a COCO "
            "JSON, a YOLO folder, or AI Hub label JSON (a release, its 02.라벨링데이터 "
            "folder, a TL_/VL_ zip or a folder of <id>.json).",
            callback=resolve_cli_path,
        ),
    ],
    project: ProjectOpt = None,
    fmt: Annotated[
        ImportFormatChoice | None,
        typer.Option("--format", "-f", help="The source's format (default: detected)."),
    ] = None,
    mapping: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            metavar="SRC=DST",
            help="SRC=DST: rename a control, field, data key or class of the source to this "
            "project's (repeatable), e.g. --map label=objects --map closed_door=차량.",
        ),
    ] = None,
    replace: Annotated[
        bool,
        typer.Option(
            "--replace",
            help="Make this export the whole of the imported annotations: remove those "
            "imported earlier that it does not hold (default: add and update, keep the rest).",
        ),
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Bring in labels made elsewhere (Label Studio JSON / JSON-MIN / CSV, COCO, YOLO,
    AI Hub label JSON), with the same normalisation, schema check, agreement and consensus
    as a pull. Tasks are matched to items by data.item_id, the text, the media file's full
    relative path, then its name or stem when unique; the annotations are added to (or
    update) those imported earlier.

    Example: datakit annotate import yolo-export/ --map closed_door=차량 -p road
    """
    from datakit.annotate.formats import Mapping
    from datakit.annotate.importing import import_labels
    from datakit.reports import AgreementFigures

    proj = open_project(project)
    rules = Mapping.parse(mapping)
    built = import_labels(
        proj, export, fmt=fmt.value if fmt else None, mapping=rules, replace=replace
    )
    if json_out:
        print_json(built.to_dict())
        return
    _render_import(built)
    figures = AgreementFigures.from_report(built.agreement)
    _render_build(built.labelled, built.needs_review, figures, built.written)
    _render_spans(built.spans)
    _render_invalid(built.invalid_records)
    print_next_steps(proj)


def _render_import(built: ImportResult) -> None:
    from rich.markup import escape

    how = ", ".join(f"{n:,} by {rule}" for rule, n in built.matched.items() if n)
    matched = sum(built.matched.values())
    console.print(
        f"imported {escape(built.export)} ({built.format}): {matched:,} of {built.tasks:,} "
        + "tasks matched"
        + (f" ({how})" if how else "")
        + f"; {built.items:,} items with annotations"
    )
    unused = [src for src, n in built.mapped.items() if not n]
    if unused:
        err_console.print(
            f"[yellow]--map never applied: {escape(', '.join(unused))}[/] (no such control, "
            "field or class in the source)",
            markup=True,
        )
    if built.unmatched:
        first = built.unmatched[0]
        err_console.print(
            f"[yellow]{len(built.unmatched):,} task(s) fit no ok item and were skipped[/] "
            f"(first: {escape(first['task'])} {escape(repr(first['value']))}: "
            f"{escape(first['reason'])}); "
            "`--json` lists them all",
            markup=True,
        )
    console.print(
        f"annotations: {built.added:,} added, {built.updated:,} updated, "
        f"{built.unchanged:,} unchanged"
        + (f", {built.removed:,} imported earlier removed (--replace)" if built.replace else "")
    )
    if built.kept:
        err_console.print(
            f"[yellow]{built.kept:,} annotation(s) imported earlier are not in this export: "
            "kept[/]; rerun with --replace to remove them",
            markup=True,
        )


def _render_spans(spans: SpanTally) -> None:
    from rich.markup import escape

    if not spans.repaired and not spans.refused:
        return
    console.print(
        f"NER spans: {len(spans.repaired):,} of {spans.checked:,} repaired (offsets moved "
        f"onto their text), {len(spans.refused):,} refused"
    )
    if spans.refused:
        r = spans.refused[0]
        err_console.print(
            f"[yellow]{len(spans.refused):,} span(s) do not match their text and were kept as "
            f"they are[/] (first: item {escape(str(r.item))}, {escape(r.label)} "
            f"{r.start}–{r.end} {escape(repr(r.text))}: {r.reason}); fix them in Label Studio",
            markup=True,
        )


def _render_build(
    labelled: int, needs_review: int, agreement: AgreementFigures, written: list[str]
) -> None:
    console.print(
        f"labels: {labelled:,} final, {needs_review:,} awaiting review; agreement: "
        f"{agreement.text()}"
    )
    if agreement.adjudicated_items:
        console.print(
            f"settled by review: {agreement.adjudicated_items:,} items; of the "
            f"{agreement.items_with_majority:,} where the annotators had a majority, "
            f"{agreement.overturned:,} overturned (reviewers are not counted in agreement)"
        )
    console.print("written: " + (", ".join(written) if written else "nothing changed"))


def _render_invalid(invalid: list[dict[str, str]]) -> None:
    if invalid:
        err_console.print(
            f"[yellow]{len(invalid)} label record(s) break labeling/label.schema.json[/] "
            f"(first: item {invalid[0]['item']}, {invalid[0]['field']}: {invalid[0]['message']});"
            " `datakit check` lists them all"
        )


@annotate_app.command("status")
def status(project: ProjectOpt = None, json_out: JsonOpt = False) -> None:
    """Tasks, annotated and cross-checked items, the review queue, per-annotator counts and
    agreement so far (as of the last pull).

    Example: datakit annotate status --json
    """
    from rich.table import Table

    from datakit.annotate.status import annotation_status

    st = annotation_status(open_project(project))
    if st is None:
        if json_out:
            print_json(None)
        else:
            console.print("nothing pulled or imported yet")
            print_next_steps(open_project(project))
        return
    if json_out:
        print_json(st)
        return
    ag = st["agreement"]
    console.print(
        f"tasks {st['tasks'] if st['tasks'] is not None else '?'} · annotated "
        f"{st['items_annotated']:,} · cross-checked {st['items_cross_checked']:,} · awaiting "
        f"review {st['awaiting_review']:,} · agreement ({ag['metric']}) {ag['value']} "
        f"(target {ag['target']}, {ag['n_items']} items)"
    )
    t = Table(title="annotators", title_justify="left")
    for col in ("annotator", "annotations", "skipped", "agreement", "matches review"):
        t.add_column(col)
    for a in st["annotators"]:
        agree = "reviewer" if a["reviewer"] else str(a["agreement"])
        vs_review = a["accuracy_vs_review"]
        t.add_row(
            a["annotator"],
            str(a["annotations"]),
            str(a["skipped"]),
            agree,
            "" if vs_review is None else f"{vs_review:.0%}",
        )
    console.print(t)


@annotate_app.command("simulate")
def simulate(
    project: ProjectOpt = None,
    annotators: Annotated[
        int, typer.Option("--annotators", "-n", help="Number of simulated annotators.")
    ] = 2,
    error_rate: Annotated[
        float, typer.Option("--error-rate", help="Chance that an annotator picks a wrong label.")
    ] = 0.15,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    review: Annotated[
        bool,
        typer.Option("--review", help="Also answer open review tasks as a simulated reviewer."),
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Simulated annotators label the pushed tasks through the API (demo and tests only).

    Example: datakit annotate simulate -n 2 --error-rate 0.1
    """
    from datakit.annotate.simulate import review as run_review
    from datakit.annotate.simulate import simulate as run_simulate

    proj = open_project(project)
    names = [f"annotator{i + 1}@datakit.local" for i in range(annotators)]
    with progress_bar("annotating", not json_out) as progress:
        result = run_simulate(
            proj, annotators=names, error_rate=error_rate, seed=seed, progress=progress
        )
    if review:
        result.reviews_created = run_review(proj)
    if json_out:
        print_json(result.to_dict())
        return
    console.print(
        f"{result.annotations_created:,} annotations by {len(result.annotators)} simulated "
        f"annotators on {result.tasks:,} tasks"
        + (f"; {result.reviews_created} reviews" if review else "")
    )


def register(app: typer.Typer) -> None:
    app.add_typer(annotate_app, name="annotate")
