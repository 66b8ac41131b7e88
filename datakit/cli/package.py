"""CLI of the package stage: ``package``, ``verify``, ``trace``, ``diff``."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, cast

import typer

from datakit.cli._common import (
    EngineOpt,
    JsonOpt,
    ProjectOpt,
    console,
    open_project,
    print_json,
    progress_bar,
    resolve_cli_path,
)


class LayoutChoice(StrEnum):
    aihub = "aihub"
    huggingface = "huggingface"
    coco = "coco"
    yolo = "yolo"
    conll = "conll"


class MediaChoice(StrEnum):
    embed = "embed"
    reference = "reference"


def package(
    project: ProjectOpt = None,
    release_version: Annotated[
        str | None,
        typer.Option(
            "--release-version", help="Version folder to build (default: dataset.version)."
        ),
    ] = None,
    layout: Annotated[
        list[LayoutChoice] | None,
        typer.Option(
            "--layout",
            help="Extra layout: aihub (Training/Validation zips); coco, yolo (object "
            "detection: COCO JSON, Ultralytics data.yaml); conll (NER, IOB2). Repeatable.",
            case_sensitive=False,
        ),
    ] = None,
    media: Annotated[
        MediaChoice,
        typer.Option(
            "--media",
            help="Images/audio: embed ({bytes, path} structs) or reference (files/).",
            case_sensitive=False,
        ),
    ] = MediaChoice.embed,
    accept_failed_check: Annotated[
        bool,
        typer.Option(
            "--accept-failed-check",
            help="Release although the last check failed or is stale; the release records it.",
        ),
    ] = False,
    accept_split_deviation: Annotated[
        bool,
        typer.Option(
            "--accept-split-deviation",
            help="Release although a split's share misses its ratio by more than "
            "splits.tolerance; the release records it.",
        ),
    ] = False,
    engine: EngineOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Build releases/VERSION/: Parquet shards (Hugging Face layout) with deterministic
    grouped, stratified splits, metadata.json, 데이터설명서, README card, croissant.json and
    SHA256SUMS. Refuses when the last quality check failed or is out of date, and (exit 1)
    when a split's share misses its ratio by more than splits.tolerance.

    Example: datakit package -p reviews --layout aihub

    Example: datakit package -p roads --layout coco --layout yolo
    """
    from datakit.package.balance import LargeUnit
    from datakit.package.run import Layout
    from datakit.package.run import package as run_package

    layouts = [x.value for x in (layout or [])]
    proj = open_project(project)
    with progress_bar("writing shards", not json_out) as progress:
        result = run_package(
            proj,
            version=release_version,
            layouts=[cast(Layout, x) for x in layouts if x != "huggingface"],
            media=media.value,
            accept_failed_check=accept_failed_check,
            accept_split_deviation=accept_split_deviation,
            progress=progress,
            engine=engine.value if engine else None,
        )
    if json_out:
        print_json(result.to_dict())
        return
    from rich.table import Table

    console.print(f"[green]release {result.version}[/] → {result.path} ({result.release_date})")
    sr = result.split_report
    t = Table(title="splits", title_justify="left")
    t.add_column("split")
    t.add_column("items", justify="right")
    t.add_column("share", justify="right")
    t.add_column("planned", justify="right")
    for s, n in result.splits.items():
        t.add_row(s, f"{n:,}", f"{sr['achieved'][s]:.1%}", f"{sr['planned'][s]:.1%}")
    t.add_row("[bold]total[/]", f"[bold]{result.total:,}[/]", "", "")
    console.print(t)
    if sr["accepted_deviation"]:
        console.print(
            f"[yellow]split shares outside the tolerance of {sr['tolerance']:g}, accepted[/]"
        )
    else:
        console.print(f"split shares within the tolerance of {sr['tolerance']:g}")
    for u in sr["large_units"]:
        console.print(f"  large unit: {LargeUnit.from_dict(u).describe()}", highlight=False)
    if sr["excluded"]:
        console.print(
            f"left out {sr['excluded']:,} cross-group near-duplicate copies "
            "(listed in excluded.csv; splits.cross_group_near_duplicates: exclude)"
        )
    lk = result.leakage
    console.print(
        f"leakage between splits: {lk['total']} (exact hash {lk['exact_hash']}, near-duplicate "
        f"{lk['near_duplicate']}, group {lk['group']})"
    )
    q = result.gate
    if q["accepted_failed_check"]:
        console.print(f"[yellow]quality check {q['state']}, accepted: {'; '.join(q['reasons'])}[/]")
    else:
        console.print("quality check: [green]passed[/]")
    skipped = {k: v for k, v in result.skipped.items() if v}
    if skipped:
        console.print("left out: " + ", ".join(f"{k} {v:,}" for k, v in skipped.items()))
    console.print(
        f"{result.files} files, {result.bytes / 1e6:.1f} MB · "
        f"check it with `datakit verify {result.path}`"
    )


def verify(
    release: Annotated[
        str,
        typer.Argument(
            help="Release folder, or a version name in the project.", callback=resolve_cli_path
        ),
    ],
    project: ProjectOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Check a release: checksums, metadata against its schema, every shard re-read, counts
    and the leakage figure. Exit code 0 when everything holds, 1 otherwise.

    Example: datakit verify reviews/releases/1.0
    """
    from datakit.errors import DatakitError
    from datakit.package.verify import resolve_release, verify_release

    releases = None
    if not Path(release).is_dir():
        try:
            releases = open_project(project).paths.releases
        except DatakitError:
            releases = None
    report = verify_release(resolve_release(release, releases))
    if json_out:
        print_json(report.to_dict())
    else:
        for check, ok in report.checks.items():
            console.print(f"{'[green]✓[/]' if ok else '[red]✗[/]'} {check}")
        for p in report.problems[:100]:
            console.print(f"  [red]{p}[/]", markup=True, highlight=False)
        rows = ", ".join(f"{k} {v:,}" for k, v in report.rows.items())
        verdict = (
            "[green]release verified[/]"
            if report.ok
            else f"[red]{len(report.problems)} problem(s)[/]"
        )
        console.print(f"{verdict} · {report.files_checked} files · {rows}")
    if not report.ok:
        raise typer.Exit(1)


def trace(
    item_id: Annotated[str, typer.Argument(help="Item id (the manifest's id column).")],
    project: ProjectOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Show an item's whole path: raw file and source, hashes, PII handling, annotations and
    annotators, the decided label, checks, and the releases and splits it is in.

    Example: datakit trace review-000123 -p reviews
    """
    from datakit.package.trace import trace_item

    result = trace_item(open_project(project), item_id)
    d = result.to_dict()
    if json_out:
        print_json(d)
        return
    _render_trace(d)


def _render_trace(d: dict[str, Any]) -> None:
    from rich.table import Table

    console.print(f"[bold]{d['item_id']}[/]")
    item = d["item"] or {}
    t = Table(title="1. collected", title_justify="left", show_header=False)
    for key in (
        "source_path",
        "stored_path",
        "source",
        "license",
        "consent",
        "sha256",
        "size",
        "media_type",
        "collected_at",
        "status",
        "reason",
        "near_dup_cluster",
        "group",
        "pii",
        "pii_action",
        "text_preview",
    ):
        if item.get(key) not in (None, "", {}):
            t.add_row(key, str(item[key]))
    if d["duplicates"]:
        t.add_row("duplicates", ", ".join(d["duplicates"]))
    console.print(t if item else "[dim]not in the manifest[/]")
    if d["annotations"]:
        t = Table(title="2. annotations", title_justify="left")
        for c in ("annotation_id", "annotator", "created_at", "result"):
            t.add_column(c)
        for a in d["annotations"]:
            t.add_row(
                str(a.get("annotation_id")),
                str(a.get("annotator")),
                str(a.get("created_at")),
                str(a.get("result"))[:80],
            )
        console.print(t)
    c = d["consensus"]
    if c:
        console.print(
            f"label decided by [bold]{c.get('method')}[/] from {c.get('n_annotators')} annotator(s)"
            f" ({', '.join(c.get('annotators') or [])}), agreement {c.get('agreement')}"
        )
    if d["label"]:
        console.print(f"label record: {d['label']}", markup=False)
    ch = d["checks"]
    console.print(
        f"quality check: {ch['quality_state']}"
        + (f" ({'; '.join(ch['reasons'])})" if ch["reasons"] else "")
    )
    for f in ch["findings"]:
        console.print(f"  finding in {f['file']}:{f['line']}: {f['finding']}", markup=False)
    if d["releases"]:
        for r in d["releases"]:
            console.print(
                f"in release [bold]{r['release']}[/], split [bold]{r['split']}[/] ({r['shard']})"
            )
    else:
        console.print("[dim]in no release[/]")


def diff(
    old: Annotated[
        str, typer.Argument(help="Old release folder or version name.", callback=resolve_cli_path)
    ],
    new: Annotated[
        str, typer.Argument(help="New release folder or version name.", callback=resolve_cli_path)
    ],
    project: ProjectOpt = None,
    limit: Annotated[
        int, typer.Option("--limit", help="Items listed per kind (--json lists all).")
    ] = 20,
    json_out: JsonOpt = False,
) -> None:
    """List the items added, removed and relabelled between two releases (and those whose
    content or split changed).

    Example: datakit diff 1.0 1.1 -p reviews
    """
    from datakit.errors import DatakitError
    from datakit.package.diff import diff_releases
    from datakit.package.verify import resolve_release

    releases = None
    if not (Path(old).is_dir() and Path(new).is_dir()):
        try:
            releases = open_project(project).paths.releases
        except DatakitError:
            releases = None
    result = diff_releases(resolve_release(old, releases), resolve_release(new, releases))
    if json_out:
        print_json(result.to_dict())
        return
    d = result.to_dict(limit)
    console.print(" · ".join(f"{k} {v:,}" for k, v in d["counts"].items()))
    for kind in ("added", "removed", "content_changed"):
        if d[kind]:
            console.print(f"[bold]{kind}[/]: " + ", ".join(d[kind]), markup=True)
    for r in d["relabelled"]:
        console.print(f"relabelled {r['id']}: {r['old']} → {r['new']}", markup=False)
    for r in d["moved"]:
        console.print(f"moved {r['id']}: {r['old']} → {r['new']}", markup=False)


def register(app: typer.Typer) -> None:
    app.command("package")(package)
    app.command("verify")(verify)
    app.command("trace")(trace)
    app.command("diff")(diff)
