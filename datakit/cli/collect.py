from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from datakit.cli._common import (
    JsonOpt,
    ProjectOpt,
    console,
    open_project,
    print_json,
    print_next_steps,
    progress_bar,
    resolve_cli_path,
)


def collect(
    sources: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Files, folders, quoted globs, zip/tar archives or record files "
            "(CSV/TSV/JSON/JSONL/Parquet). Default: the project's data/raw (each entry on "
            "its own when files there have their own sidecars).",
            show_default=False,
            callback=resolve_cli_path,
        ),
    ] = None,
    project: ProjectOpt = None,
    source: Annotated[
        str | None,
        typer.Option("--source", help="Source name (default: sidecar, else the folder/file name)."),
    ] = None,
    license: Annotated[str | None, typer.Option("--license", help="Licence of the source.")] = None,
    consent: Annotated[
        str | None,
        typer.Option("--consent", help="Consent status: yes | no | not_required | unknown."),
    ] = None,
    date: Annotated[
        str | None, typer.Option("--date", help="Collection date of the source, YYYY-MM-DD.")
    ] = None,
    text_column: Annotated[
        str | None,
        typer.Option(
            "--text-column", help="Record files: column with the content (default: text)."
        ),
    ] = None,
    id_column: Annotated[
        str | None,
        typer.Option(
            "--id-column", help="Record files: column with the item id (default: id, if present)."
        ),
    ] = None,
    group_column: Annotated[
        str | None,
        typer.Option(
            "--group-column", help="Record files: group key (speaker, document, product…)."
        ),
    ] = None,
    label_column: Annotated[
        str | None, typer.Option("--label-column", help="Record files: class known at intake.")
    ] = None,
    source_column: Annotated[
        str | None, typer.Option("--source-column", help="Record files: per-row source name.")
    ] = None,
    attr: Annotated[
        list[str] | None,
        typer.Option("--attr", help="Record files: a column kept as an attribute (repeatable)."),
    ] = None,
    label_from_folder: Annotated[
        bool | None,
        typer.Option(
            "--label-from-folder/--no-label-from-folder",
            help="Take each file's class from its folder name (raw/정상/a.jpg → 정상).",
            show_default=False,
        ),
    ] = None,
    meta: Annotated[
        Path | None,
        typer.Option(
            "--meta",
            help="Sidecar file (YAML/JSON) with the source's metadata and mapping.",
            callback=resolve_cli_path,
        ),
    ] = None,
    jobs: Annotated[
        int | None,
        typer.Option("--jobs", "-j", help="Worker threads, 1 or more (default: cores, max 4)."),
    ] = None,
    link: Annotated[
        bool,
        typer.Option(
            "--link",
            help="Hard-link media files into data/source instead of copying (same file "
            "system; do not edit raw files in place afterwards).",
        ),
    ] = False,
    near_dup_threshold: Annotated[
        float | None,
        typer.Option(
            "--near-dup-threshold",
            help="Text near-duplicates: 2-shingle Jaccard similarity, 0 < t ≤ 1, for texts of "
            "at least collect.near_duplicates.min_length characters (shorter ones must be "
            "equal after normalisation). Default: the spec's "
            "collect.near_duplicates.threshold (0.5).",
            show_default=False,
        ),
    ] = None,
    image_distance: Annotated[
        int,
        typer.Option(
            "--image-distance",
            help="Image near-duplicates: max perceptual-hash bit distance, 0–64.",
        ),
    ] = 6,
    max_member_size: Annotated[
        str,
        typer.Option(
            "--max-member-size",
            help="Largest archive member unpacked (e.g. 4GiB); a bigger one refuses the archive.",
        ),
    ] = "2GiB",
    max_ratio: Annotated[
        float,
        typer.Option(
            "--max-ratio",
            help="Largest unpacked ÷ packed size of a zip member or a whole archive "
            "(zip bombs), applied past 1 MiB.",
        ),
    ] = 100.0,
    max_record_size: Annotated[
        str,
        typer.Option(
            "--max-record-size",
            help="Largest record file (CSV/TSV/JSON/JSONL/Parquet, parsed whole), e.g. 1GiB.",
        ),
    ] = "256MiB",
    json_out: JsonOpt = False,
) -> None:
    """Take raw data in: hash, sniff, decode, check fitness, find PII, de-duplicate, and
    write data/manifest.parquet plus the de-identified 원천데이터 under data/source/.

    Reruns read only new or changed files; a run killed half-way is simply run again.

    Example: datakit collect data/raw/reviews.csv --license CC-BY-4.0 --consent yes --attr region
    """
    from datakit.collect import Mapping
    from datakit.collect import collect as run_collect
    from datakit.collect.sources import Limits, default_sources, parse_size

    proj = open_project(project)
    srcs = list(sources or [])
    if not srcs:
        srcs = default_sources(proj.paths.raw)
    mapping = Mapping(
        text=text_column,
        id=id_column,
        group=group_column,
        label=label_column,
        source=source_column,
        attributes=tuple(attr or ()),
    )
    kwargs: dict[str, Any] = {
        "source_name": source,
        "license": license,
        "consent": consent,
        "collection_date": date,
        "mapping": mapping,
        "label_from_folder": label_from_folder,
        "meta_file": meta,
        "jobs": jobs,
        "link": link,
        "text_threshold": near_dup_threshold,
        "image_distance": image_distance,
        "limits": Limits(
            member_bytes=parse_size(max_member_size, field="max_member_size"),
            ratio=max_ratio,
            record_bytes=parse_size(max_record_size, field="max_record_size"),
        ),
    }
    with progress_bar("collecting", not json_out) as progress:
        result = run_collect(proj, srcs, progress=progress, **kwargs)
    if json_out:
        print_json(result.to_dict())
    else:
        _render(result.to_dict(), key_env=proj.spec.pii.pseudonym_key_env)
        print_next_steps(proj)


def _render(d: dict[str, Any], *, key_env: str) -> None:
    from rich.table import Table

    console.print(
        f"scanned {d['files_scanned']:,} files: {d['files_read']:,} new or changed, "
        f"{d['files_unchanged']:,} unchanged · {d['seconds']:.2f}s"
    )
    t = Table(title=f"{d['manifest']}", title_justify="left")
    t.add_column("")
    t.add_column("items", justify="right")
    t.add_row("collected (ok)", f"{d['ok']:,}")
    t.add_row("exact duplicates", f"{d['duplicates']:,}")
    t.add_row(
        "near-duplicate clusters", f"{d['near_dup_clusters']:,} ({d['near_dup_items']:,} items)"
    )
    t.add_row("quarantined", f"{d['quarantined']:,}")
    for reason, n in d["quarantined_by_reason"].items():
        t.add_row(f"  {reason}", f"{n:,}")
    t.add_row("with PII", f"{d['pii_items']:,}")
    for kind, n in d["pii_by_kind"].items():
        t.add_row(f"  {kind}", f"{n:,}")
    for column, kinds in d.get("pii_pseudonymised", {}).items():
        for kind, n in kinds.items():
            t.add_row(f"  {column}: {kind} → pseudonym (가명처리)", f"{n:,}")
    t.add_row("[bold]total[/]", f"[bold]{d['items']:,}[/]")
    console.print(t)
    if not d["manifest_written"]:
        console.print("[dim]nothing changed; manifest left as it was[/]")
    if d.get("pseudonym_key") and d["pseudonym_key"].endswith("(new)"):
        console.print(
            "made a pseudonym key in .datakit/pseudonym.key (0600): keep a copy, and set "
            f"{key_env} to it on another machine to get the same pseudonyms"
        )


def register(app: typer.Typer) -> None:
    app.command("collect")(collect)
