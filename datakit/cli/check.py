"""``datakit check …``: 검수·품질검증 — indicators, expectation suites, the gate, and the
sampling inspection (``check sample`` / ``check verdicts``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from datakit.cli._common import (
    EngineOpt,
    JsonOpt,
    ProjectOpt,
    console,
    open_project,
    print_json,
    print_next_steps,
    progress_bar,
    resolve_cli_path,
)

if TYPE_CHECKING:
    from datakit.reports import QualityReport

check_app = typer.Typer(
    name="check",
    help="검수·품질검증: measure the AI Hub quality indicators against the spec's targets, run "
    "the expectation suites, write reports/ and exit 1 when a target is missed.\n\n"
    "Example: datakit check -p reviews --checkpoint 30%",
    invoke_without_command=True,
    rich_markup_mode=None,
)


@check_app.callback()
def check(
    ctx: typer.Context,
    project: ProjectOpt = None,
    checkpoint: Annotated[
        str | None,
        typer.Option(
            "--checkpoint",
            help="Name of this staged check, e.g. 10%, 30%, 50%, 100% (shown in the trend).",
        ),
    ] = None,
    label_files: Annotated[
        Path | None,
        typer.Option(
            "--label-files",
            help="Folder of AI Hub-style per-item label JSON files to census as well "
            "(default: annotations/labels/ when it exists).",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=1, help="Processes for the census (default: CPU count)."),
    ] = None,
    semantic_gate: Annotated[
        str,
        typer.Option(
            "--semantic-gate",
            help="Gate semantic accuracy on the pass 'rate' (AI Hub practice) or on its exact "
            "lower confidence 'bound'.",
        ),
    ] = "rate",
    engine: EngineOpt = None,
    validity: Annotated[
        bool,
        typer.Option(
            "--validity/--no-validity",
            help="Train the task's baseline on the release's splits (유효성) and list the "
            "labels it doubts (reports/의심_라벨오류.csv); --no-validity skips it.",
        ),
    ] = True,
    predictions: Annotated[
        Path | None,
        typer.Option(
            "--predictions",
            help="Your model's output for the test split (JSON lines, as for annotate push "
            "--predictions): scored for object_detection (mAP) and transcription (CER/WER).",
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Measure every quality indicator, run the expectation suites, write reports/
    (quality.json, quality.html, 품질검증_결과서.md, 형식/구조/파일 오류목록) and exit 1 when
    any measured indicator misses its target.

    Example: datakit check -p reviews --checkpoint 30%
    """
    if ctx.invoked_subcommand is not None:
        return
    from datakit.check.run import check as run_check
    from datakit.errors import InputError

    if semantic_gate not in ("rate", "bound"):
        raise InputError("must be 'rate' or 'bound'", field="--semantic-gate")
    proj = open_project(project)
    with progress_bar("check", not json_out) as bar:
        update, phase = (bar, bar.phase) if bar else (None, None)
        report = run_check(
            proj,
            checkpoint=checkpoint,
            label_files=label_files,
            workers=workers,
            semantic_gate=semantic_gate,
            progress=update,
            on_phase=phase,
            engine=engine,
            validity=validity,
            predictions=predictions,
        )
    if json_out:
        print_json(report.to_dict())
    else:
        _render(report)
        print_next_steps(proj)
    if not report.passed:
        raise typer.Exit(1)


def _render(report: QualityReport) -> None:
    from rich.table import Table

    from datakit.check.report import fmt_value

    marks = {True: "[green]적합[/]", False: "[red]부적합[/]", None: "[dim]미측정[/]"}
    t = Table(title="품질 지표 (quality indicators)", title_justify="left")
    for col in ("지표", "목표", "결과", "판정", "비고"):
        t.add_column(col, justify="right" if col in ("목표", "결과") else "left")
    for name, i in report.indicators.items():
        t.add_row(
            i.title,
            fmt_value(name, i.target),
            fmt_value(name, i.value),
            marks[i.passed],
            i.note or "",
        )
    console.print(t)
    agreement = report.agreement_figures()
    if agreement is not None:
        console.print(f"agreement: {agreement.text()} — {agreement.metric_reason}")
    counts = report.error_counts
    files = report.files
    if sum(counts.values()):
        console.print(
            "오류: "
            + " · ".join(f"{k} {v:,}" for k, v in counts.items())
            + f"  (lists: {', '.join(files[f'errors_{k}'] for k in counts)})"
        )
    console.print(f"report: {files['html']} · {files['markdown']}")
    if report.passed:
        console.print("[bold green]gate passed[/]")
    else:
        console.print(f"[bold red]gate failed:[/] {', '.join(report.failed_indicators)}")


@check_app.command("sample")
def sample(
    project: ProjectOpt = None,
    size: Annotated[
        int | None,
        typer.Option("--size", min=1, help="Inspect exactly this many items."),
    ] = None,
    confidence: Annotated[
        float | None,
        typer.Option("--confidence", help="Size the sample for this confidence (e.g. 0.95)."),
    ] = None,
    margin: Annotated[
        float | None,
        typer.Option("--margin", help="… and this margin of error (e.g. 0.05)."),
    ] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Random seed (default: the spec's split seed).")
    ] = None,
    label_studio: Annotated[
        bool,
        typer.Option(
            "--label-studio", help="Also create a Label Studio review project with PASS/FAIL."
        ),
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Draw a new sample even if verdicts exist.")
    ] = False,
    suspects: Annotated[
        int,
        typer.Option(
            "--suspects",
            min=0,
            help="Also hand out the top N labels the validity baseline doubts "
            "(reports/의심_라벨오류.csv), marked 'suspect' and kept out of the estimate; "
            "with --label-studio they go to the review project too.",
        ),
    ] = 0,
    json_out: JsonOpt = False,
) -> None:
    """Draw the semantic-accuracy inspection sample (KS Q ISO 2859-1 general level II by
    default, or sized by --confidence/--margin, or --size) and write the hand-out CSV
    reports/inspection/의미정확성_검수표.csv.

    Example: datakit check sample -p reviews --suspects 20 --label-studio
    """
    from datakit.check.inspection import draw, push_review

    proj = open_project(project)
    plan = draw(
        proj,
        size=size,
        confidence=confidence,
        margin=margin,
        seed=seed,
        force=force,
        suspects=suspects,
    )
    if label_studio:
        from datakit.annotate.client import LabelStudioClient, connect

        with LabelStudioClient(connect(proj)) as client:
            push_review(proj, client)
        plan = _reload(proj)
    if json_out:
        print_json(
            {k: v for k, v in plan.to_dict().items() if k != "items"} | {"items": plan.items}
        )
        return
    how = {
        "iso2859-1": "KS Q ISO 2859-1 general inspection level II",
        "margin": f"±{(plan.margin or 0) * 100:g}% at {(plan.confidence or 0) * 100:g}% confidence",
        "fixed": "fixed size",
    }[plan.method]
    console.print(
        f"sample: [bold]{plan.size}[/] of {plan.lot_size:,} labelled items "
        f"({how}, seed {plan.seed})"
    )
    if plan.suspects:
        console.print(
            f"+ {len(plan.suspects)} suspect labels (marked 'suspect'; not part of the estimate)"
        )
    console.print(f"hand-out: {plan.files['sheet']} — fill in verdict (PASS/FAIL) and note")
    if plan.label_studio_project is not None:
        console.print(f"Label Studio review project: {plan.label_studio_project}")
    print_next_steps(proj)


@check_app.command("validity")
def validity_command(
    project: ProjectOpt = None,
    predictions: Annotated[
        Path | None,
        typer.Option(
            "--predictions",
            help="Your model's output for the test split (object_detection, transcription).",
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """유효성 검증 alone: train the baseline on the release's splits (or score --predictions),
    write reports/validity.json and, for classification, reports/의심_라벨오류.csv. Exit 1
    when the target is missed. `datakit check` runs the same step with every indicator.

    Example: datakit check validity -p reviews
    """
    from datakit.check.validity import measure_validity
    from datakit.validity_report import rows_ko

    proj = open_project(project)
    result = measure_validity(proj, predictions=predictions)
    if json_out:
        print_json(result.to_dict())
    else:
        for key, value in rows_ko(result):
            console.print(f"{key}: {value}", markup=False)
    if result.passed is False:
        raise typer.Exit(1)


def _reload(proj: Any) -> Any:
    from datakit.check.inspection import load_sample

    return load_sample(proj)


@check_app.command("verdicts")
def verdicts(
    file: Annotated[
        Path | None,
        typer.Argument(
            help="The filled-in hand-out CSV (item_id, verdict, note, inspector).",
            callback=resolve_cli_path,
        ),
    ] = None,
    project: ProjectOpt = None,
    from_label_studio: Annotated[
        bool,
        typer.Option("--from-label-studio", help="Take the verdicts from the review project."),
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Record inspection verdicts (PASS/FAIL with a note) from the CSV or Label Studio.

    Example: datakit check verdicts reports/inspection/의미정확성_검수표.csv -p reviews
    """
    from datakit.check.inspection import import_verdicts_csv, pull_review
    from datakit.errors import InputError

    proj = open_project(project)
    if from_label_studio == (file is not None):
        raise InputError(
            "give either a CSV file or --from-label-studio",
            hint="datakit check verdicts 검수표.csv, or datakit check verdicts --from-label-studio",
        )
    if file is not None:
        result = import_verdicts_csv(proj, file)
    else:
        from datakit.annotate.client import LabelStudioClient, connect

        with LabelStudioClient(connect(proj)) as client:
            result = pull_review(proj, client)
    if json_out:
        print_json(result.to_dict())
        return
    console.print(
        f"verdicts: {result.received} received · sample {result.sample_size}: "
        f"[green]{result.passed} PASS[/] · [red]{result.failed} FAIL[/] · {result.pending} pending"
    )
    print_next_steps(proj)


def register(app: typer.Typer) -> None:
    app.add_typer(check_app, name="check")
