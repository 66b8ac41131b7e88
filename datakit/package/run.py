"""``package(project)``: build ``releases/<version>/`` in a temporary folder, rename it into
place at the end. Never overwrites a version; the same inputs give byte-identical files."""

from __future__ import annotations

import os
import re
import shutil
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from datakit import __version__
from datakit.errors import InputError, ReleaseError
from datakit.io import read_json, sha256_file, with_path, write_json, write_text
from datakit.project import Project
from datakit.spec.model import ProjectSpec

from .balance import (
    EXCLUDED_FILE,
    LargeUnit,
    SplitDeviationError,
    SplitReport,
    large_unit,
    named_units,
    planned_shares,
    write_excluded,
)
from .figures import ReleaseFigures
from .gate import GateResult, enforce_gate, file_sha256, prefetch_sha256
from .inputs import ReleaseKeys, load_keys, release_memory
from .leakage import leakage_from_keys
from .metadata import check_metadata
from .shards import (
    LINEAGE_NAMES,
    MediaMode,
    ShardWriter,
    content_column,
    is_media,
    release_schema,
)
from .splits import Assignment, split_names
from .splits import preload as preload_splits

Layout = Literal["huggingface", "aihub"]
Progress = Callable[[int, int | None], None]
SPLIT_ALGORITHM = "datakit-units-fnv1a64-splitmix-large-first-midpoint/v2"
SUMS_FILE = "SHA256SUMS"
METADATA_FILE = "metadata.json"
TEXT_SHARD_BYTES = 256 << 20
MEDIA_SHARD_BYTES = 512 << 20
ROW_GROUP_BYTES = 64 << 20


@dataclass
class PackageResult:
    version: str
    path: Path
    splits: dict[str, int]
    total: int
    leakage: dict[str, int]
    gate: dict[str, Any]
    layouts: list[str]
    files: int
    bytes: int
    release_date: str
    skipped: dict[str, int] = field(default_factory=dict)
    split_report: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "path": str(self.path),
            "release_date": self.release_date,
            "total": self.total,
            "splits": self.splits,
            "leakage": self.leakage,
            "quality": self.gate,
            "layouts": self.layouts,
            "files": self.files,
            "bytes": self.bytes,
            "skipped": self.skipped,
            "split_report": self.split_report,
        }


def release_date(spec: ProjectSpec, latest_collected_at: str | None = None) -> tuple[str, str]:
    """(YYYY-MM-DD, where it came from): the spec, SOURCE_DATE_EPOCH, else the latest
    collection time in the manifest. Never the clock, so rebuilds are byte-identical."""
    if spec.dataset.release_date:
        return spec.dataset.release_date, "spec"
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        try:
            return datetime.fromtimestamp(int(epoch), UTC).date().isoformat(), "SOURCE_DATE_EPOCH"
        except ValueError as exc:
            raise ReleaseError(
                f"SOURCE_DATE_EPOCH={epoch!r} is not a number of seconds",
                hint="unset it or set it to a Unix time, e.g. SOURCE_DATE_EPOCH=1767225600",
            ) from exc
    if latest_collected_at:
        return latest_collected_at[:10], "manifest.collected_at"
    raise ReleaseError(
        "no release date",
        hint="set dataset.release_date in datakit.yaml or the SOURCE_DATE_EPOCH variable",
    )


def _check_version(version: str) -> str:
    version = unicodedata.normalize("NFC", version.strip())
    if not re.fullmatch(r"[0-9A-Za-z][0-9A-Za-z._+-]*", version):
        raise ReleaseError(
            f"release version {version!r} cannot be a folder name",
            hint="use letters, digits, dots and dashes, e.g. 1.0 or 1.1-beta",
        )
    return version


def package(
    project: Project,
    *,
    version: str | None = None,
    layouts: Iterable[Layout] = ("huggingface",),
    media: MediaMode = "embed",
    accept_failed_check: bool = False,
    accept_split_deviation: bool = False,
    rows_per_shard: int | None = None,
    progress: Progress | None = None,
    engine: str | None = None,
) -> PackageResult:
    """Build a release of the project's labelled items. See docs/package.md.

    ``engine`` is ``local`` or ``spark`` (default: ``DATAKIT_ENGINE``, then the spec); both
    give the same split per item, the same figures and a release that passes ``verify``.

    Raises :class:`~datakit.package.balance.SplitDeviationError` (exit 1) when a split's share
    misses its ratio by more than ``splits.tolerance``, unless ``accept_split_deviation``."""
    spec = project.spec
    version = _check_version(version or spec.dataset.version)
    layouts = list(layouts)
    unknown = sorted(set(layouts) - {"huggingface", "aihub"})
    if unknown:
        raise InputError(
            f"unknown layout {', '.join(map(repr, unknown))}",
            field="layouts",
            hint="layouts are huggingface (always written) and aihub",
        )
    if media not in ("embed", "reference"):
        raise InputError(
            f"unknown media mode {media!r}", field="media", hint="use 'embed' or 'reference'"
        )
    if rows_per_shard is not None and rows_per_shard < 1:
        raise InputError(
            f"rows_per_shard must be at least 1, not {rows_per_shard}", field="rows_per_shard"
        )
    layout_names: list[str] = sorted({"huggingface", *layouts})
    final = project.paths.releases / version
    if final.exists():
        raise ReleaseError(
            f"release {version} already exists ({project.paths.rel(final)})",
            hint="releases are never overwritten: raise dataset.version in datakit.yaml "
            "(or pass --release-version), or delete the folder yourself",
        )
    from datakit.engine import resolve_engine

    engine_name = resolve_engine(engine, spec)
    # Refuse early on a missing, failed or spec-stale check; whether the data changed since
    # the check needs their hashes, which run on a thread while pass one reads the inputs.
    prefetch_sha256([project.paths.manifest, project.paths.labels])
    enforce_gate(project, accept_failed_check=accept_failed_check, check_data=False)
    gate: GateResult | None = None

    def full_gate() -> None:
        nonlocal gate
        gate = enforce_gate(project, accept_failed_check=accept_failed_check)

    def split_check(report: SplitReport) -> SplitReport:
        if report.within_tolerance:
            return report
        if accept_split_deviation:
            return report.accepted()
        raise SplitDeviationError(report)

    root = project.paths.releases
    root.mkdir(parents=True, exist_ok=True)
    for stale in root.glob(f".tmp-{version}-*"):  # left by an interrupted run
        shutil.rmtree(stale, ignore_errors=True)
    tmp = root / f".tmp-{version}-{os.getpid()}"
    tmp.mkdir()
    try:
        if engine_name == "spark":
            from .spark import build_spark

            full_gate()
            built = build_spark(project, spec, tmp, media, rows_per_shard, progress, split_check)
        else:
            built = build_local(
                project,
                spec,
                tmp,
                media,
                rows_per_shard,
                progress,
                before_write=full_gate,
                split_check=split_check,
            )
        assert gate is not None
        allowed = built.leakage["near_duplicate"] if _ignores_links(spec) else 0
        if built.leakage["total"] > allowed:  # pragma: no cover - the units rule this out
            raise ReleaseError(f"split leakage found: {built.leakage}")
        if built.excluded_rows:
            write_excluded(tmp / EXCLUDED_FILE, built.excluded_rows)
        date, date_source = release_date(spec, built.latest_collected_at)
        if "aihub" in layout_names:
            from .aihub import write_aihub_tree

            write_aihub_tree(project, spec, tmp, built.shards, date)
        facts = _facts(project, spec, built, gate, version, date, date_source, layout_names, media)
        facts["metadata"]["release"]["engine"] = engine_name
        from .documents import write_documents

        write_documents(tmp, spec, facts)
        files = _file_list(tmp)
        meta = {**facts["metadata"], "files": files}
        check_metadata(meta)
        write_json(tmp / METADATA_FILE, meta)
        write_sums(tmp, {f["path"]: f["sha256"] for f in files})
        tmp.replace(final)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        named = with_path(exc, project.paths.rel(final))
        if named is not exc:
            raise named from exc
        raise
    split_sizes = built.split_sizes
    total_bytes = sum(f["bytes"] for f in files)
    result = PackageResult(
        version=version,
        path=final,
        splits=split_sizes,
        total=sum(split_sizes.values()),
        leakage=built.leakage,
        gate=gate.to_dict(),
        layouts=layout_names,
        files=len(files) + 2,
        bytes=total_bytes,
        release_date=date,
        skipped={k: v for k, v in built.skipped.items() if not k.startswith("_")},
        split_report=built.split_report.to_dict(),
    )
    project.record_stage(
        "package",
        {
            "version": version,
            "total": result.total,
            "splits": split_sizes,
            "split_shares": built.split_report.achieved,
            "split_deviation_accepted": built.split_report.accepted_deviation,
            "leakage": built.leakage["total"],
            "engine": engine_name,
            "quality": gate.state,
            "accepted_failed_check": gate.accepted,
        },
    )
    return result


# -- the engine seam ------------------------------------------------------------------------


@dataclass
class BuiltRelease:
    """What an engine hands back once the shards are in the temporary release folder. The
    figures are aggregates (never per item), so the driver's work after this is small."""

    split_sizes: dict[str, int]
    shards: dict[str, list[dict[str, Any]]]  # split → [{path, rows, bytes}]
    leakage: dict[str, int]  # leakage_figures(): exact_hash, near_duplicate, group, total
    classes: dict[str, dict[str, int]]  # metadata.class_counts()
    attributes: dict[str, dict[str, dict[str, int]]]  # metadata.attribute_counts()
    sources: dict[str, int]  # source name → items
    methods: dict[str, int]  # label method → items (empty without consensus lineage)
    mean_agreement: float | None
    mean_annotators: float | None
    units: int  # split units (connected groups, clusters, exact duplicates)
    skipped: dict[str, int]  # not_ok, unlabelled, labels_not_released, cross_group_…
    pii_items: int
    split_report: SplitReport
    excluded_rows: list[dict[str, Any]]  # items left out as cross-group near-duplicates
    collection_dates: tuple[str | None, str | None] = (None, None)
    latest_collected_at: str | None = None


def _ignores_links(spec: ProjectSpec) -> bool:
    return spec.splits.cross_group_near_duplicates == "ignore"


def _no_items() -> ReleaseError:
    return ReleaseError(
        "no item is both collected (status ok) and labelled",
        hint="run `datakit collect` and `datakit annotate pull` first",
    )


def build_local(
    project: Project,
    spec: ProjectSpec,
    out: Path,
    media: MediaMode,
    rows_per_shard: int | None,
    progress: Progress | None,
    before_write: Callable[[], None] | None = None,
    split_check: Callable[[SplitReport], SplitReport] | None = None,
) -> BuiltRelease:
    """The local engine, in two passes. Pass one reduces the manifest and the label records to
    fixed-width keys and assigns the splits; pass two streams the manifest's content batch by
    batch, joins each batch with its labels and lineage, writes the shards and accumulates
    the figures. Only keys, label records and lineage are held for all items at once."""
    preload_splits()
    keys = load_keys(project, spec)
    if keys.count == 0:
        raise _no_items()
    release_memory()
    got = keys.assign(spec)
    names = split_names(spec.splits.ratios)
    kept = ~got.excluded
    leakage = leakage_from_keys([(v, ok & kept) for v, ok in keys.keys], got.item_split)
    counts = np.bincount(got.item_split[kept], minlength=len(names))
    split_sizes = {s: int(counts[i]) for i, s in enumerate(names)}
    if not kept.any():
        raise _no_items()
    report, excluded_rows = _local_split_report(project, spec, keys, got, names, split_sizes)
    if split_check is not None:  # refuse before any shard is written
        report = split_check(report)
    split_idx = got.item_split[kept] if got.excluded.any() else got.item_split
    if got.excluded.any():
        keys.drop(got.excluded)
        keys.skipped = {**keys.skipped, "cross_group_near_duplicate": int(got.excluded.sum())}
    units = got.units
    # Pass two needs none of the keys: free them before it starts.
    del got
    keys.item_hash, keys.keys, keys.stratum = np.zeros(0, np.uint64), [], None
    release_memory()
    if before_write is not None:
        before_write()
    figures = ReleaseFigures.empty()
    shards = _write_shards(
        project,
        spec,
        keys,
        split_idx,
        names,
        out,
        split_sizes,
        media,
        rows_per_shard,
        progress,
        figures,
    )
    return BuiltRelease(
        split_sizes=split_sizes,
        shards=shards,
        leakage=leakage,
        **figures.release_fields(spec),
        split_report=report,
        excluded_rows=excluded_rows,
        units=units,
        skipped=keys.skipped,
        pii_items=keys.pii_items,
        collection_dates=keys.collection_dates,
        latest_collected_at=keys.latest_collected_at,
    )


def _local_split_report(
    project: Project,
    spec: ProjectSpec,
    keys: ReleaseKeys,
    got: Assignment,
    names: list[str],
    split_sizes: dict[str, int],
) -> tuple[SplitReport, list[dict[str, Any]]]:
    """The split report, with the group and cluster values of the large units and of the
    excluded items read back from the manifest (and the label records) only when needed."""
    plain = SplitReport(
        planned_shares(spec.splits.ratios),
        split_sizes,
        spec.splits.tolerance,
        spec.splits.cross_group_near_duplicates,
    )
    big = named_units(got.large_units, plain)
    excluded = np.flatnonzero(got.excluded)
    large: list[LargeUnit] = []
    rows: list[dict[str, Any]] = []
    if big or excluded.size:
        ids, groups, clusters = _member_values(project, spec, keys)
        for u in big:
            members = np.flatnonzero(got.components == u["component"]).tolist()
            large.append(
                large_unit(
                    u["size"],
                    names[u["split"]],
                    u["excess"],
                    Counter(g for g in (groups[i] for i in members) if g is not None),
                    Counter(c for c in (clusters[i] for i in members) if c is not None),
                )
            )
        home: dict[str, str] = {}
        for i in np.flatnonzero(~got.excluded).tolist():
            c, g = clusters[i], groups[i]
            if c is not None and g is not None:
                home.setdefault(c, g)
        for i in excluded.tolist():
            c = clusters[i]
            rows.append(
                {"id": ids[i], "cluster": c, "group": groups[i], "home_group": home.get(c or "")}
            )
        rows.sort(key=lambda r: r["id"])
    report = SplitReport(
        plain.planned,
        split_sizes,
        plain.tolerance,
        plain.cross_group_near_duplicates,
        excluded=int(excluded.size),
        large_units=tuple(large),
    )
    return report, rows


def _member_values(
    project: Project, spec: ProjectSpec, keys: ReleaseKeys
) -> tuple[list[str], list[str | None], list[str | None]]:
    """(id, group value, near-duplicate cluster) of every released item, as strings."""
    pf = pq.ParquetFile(project.paths.manifest)
    cols = [c for c in ("id", "group", "near_dup_cluster") if c in pf.schema_arrow.names]
    m = pf.read(columns=cols).take(pa.array(keys.positions))
    n = m.num_rows
    ids = m.column("id").to_pylist()
    groups = m.column("group").to_pylist() if "group" in cols else [None] * n
    gf = spec.splits.group
    if gf and gf in keys.labels.column_names:
        rows = keys.positions if keys.label_rows is None else keys.label_rows
        lg = keys.labels.column(gf).take(pa.array(rows)).cast(pa.string()).to_pylist()
        groups = [g if g is not None else x for g, x in zip(groups, lg, strict=True)]
    has_clusters = "near_dup_cluster" in cols
    clusters = m.column("near_dup_cluster").to_pylist() if has_clusters else [None] * n
    return ids, groups, clusters


# -- shards ------------------------------------------------------------------------------


def _write_shards(
    project: Project,
    spec: ProjectSpec,
    keys: ReleaseKeys,
    split_idx: np.ndarray[Any, Any],
    names: list[str],
    out: Path,
    split_sizes: dict[str, int],
    media: MediaMode,
    rows_per_shard: int | None,
    progress: Progress | None,
    figures: ReleaseFigures,
) -> dict[str, list[dict[str, Any]]]:
    schema = release_schema(spec, media)
    content = content_column(spec)
    media_data = is_media(spec)
    avg = max(1.0, keys.mean_size)
    target = MEDIA_SHARD_BYTES if media_data else TEXT_SHARD_BYTES
    per_shard = rows_per_shard or max(1, int(target / avg))
    row_group = max(1, min(per_shard, 100 if media_data else 100_000, int(ROW_GROUP_BYTES / avg)))
    writer = ShardWriter(
        out / "data",
        schema,
        split_sizes,
        rows_per_shard=per_shard,
        row_group_rows=row_group,
        progress=progress,
    )
    source_col = "stored_path" if media_data else "text"
    manifest_path = project.paths.manifest
    pf = pq.ParquetFile(manifest_path)
    if source_col not in pf.schema_arrow.names:
        raise InputError(
            f"manifest has no {source_col} column", file=project.paths.rel(manifest_path)
        )
    have = set(pf.schema_arrow.names)
    wanted = [c for c in ("id", source_col, "sha256", "source", "near_dup_cluster") if c in have]
    batch_rows = 256 if media_data else 65_536
    try:
        _stream_batches(
            project,
            spec,
            keys,
            split_idx,
            names,
            out,
            media,
            schema,
            writer,
            figures,
            pf.iter_batches(batch_size=batch_rows, columns=wanted),
            content,
            source_col,
        )
    except BaseException:
        writer.abort()
        raise
    files = writer.close()
    return {
        split: [
            {
                "path": f"data/{p.name}",
                "rows": pq.ParquetFile(p).metadata.num_rows,
                "bytes": p.stat().st_size,
            }
            for p in paths
        ]
        for split, paths in files.items()
    }


def _stream_batches(
    project: Project,
    spec: ProjectSpec,
    keys: ReleaseKeys,
    split_idx: np.ndarray[Any, Any],
    names: list[str],
    out: Path,
    media: MediaMode,
    schema: pa.Schema,
    writer: ShardWriter,
    figures: ReleaseFigures,
    batches: Iterable[pa.RecordBatch],
    content: str,
    source_col: str,
) -> None:
    """Pass two: join each manifest batch with its labels and lineage, route it by split."""
    media_data = is_media(spec)
    positions = keys.positions
    split_dict = pa.array(names, pa.string())
    label_names = [n for n in keys.labels.column_names if n != "id"]
    offset = 0
    for batch in batches:
        n = batch.num_rows
        i0, i1 = (int(x) for x in np.searchsorted(positions, [offset, offset + n]))
        offset += n
        if i1 == i0:
            continue
        m = pa.Table.from_batches([batch])
        if i1 - i0 != n:  # some rows of this batch are not released
            m = m.take(pa.array(positions[i0:i1] - (offset - n)))
        lab = _rows(
            keys.labels, positions[i0:i1] if keys.label_rows is None else keys.label_rows[i0:i1]
        )
        cols: dict[str, Any] = {name: lab.column(name) for name in label_names}
        cols["id"] = m.column("id")
        cols["source_sha256"] = m.column("sha256")
        cols["source_name"] = m.column("source")
        if "near_dup_cluster" in m.column_names:
            cols["near_dup_cluster"] = m.column("near_dup_cluster")
        if keys.lineage is not None:
            lineage = keys.lineage.slice(i0, i1 - i0)
            for name in lineage.column_names:
                cols[name] = lineage.column(name)
        sub = pa.table(cols)
        sidx = split_idx[i0:i1]
        splits = pa.DictionaryArray.from_arrays(pa.array(sidx.astype(np.int32)), split_dict)
        figures.add(ReleaseFigures.of(spec, sub, splits, keys.lineage is not None))
        src = m.column(source_col)
        counts = np.bincount(sidx, minlength=len(names))
        if np.count_nonzero(counts) > 1:  # one gather puts each split's rows together
            order = pa.array(np.argsort(sidx, kind="stable"))
            sub, src = sub.take(order), src.take(order)
        start = 0
        for k, split in enumerate(names):
            if not counts[k]:
                continue
            part = sub.slice(start, int(counts[k]))
            part_src = src.slice(start, int(counts[k]))
            start += int(counts[k])
            if media_data:
                cvalues: Any = _media_values(
                    project, part, part_src.combine_chunks(), out, split, media
                )
            else:
                cvalues = part_src
            arrays = []
            for f in schema:
                if f.name == content:
                    arrays.append(
                        pa.array(cvalues, f.type)
                        if isinstance(cvalues, list)
                        else cvalues.combine_chunks().cast(f.type)
                    )
                elif f.name in part.column_names:
                    arrays.append(part.column(f.name).combine_chunks().cast(f.type))
                else:
                    arrays.append(pa.nulls(part.num_rows, f.type))
            writer.add(split, pa.RecordBatch.from_arrays(arrays, schema=schema))


def _rows(table: pa.Table, rows: np.ndarray[Any, Any]) -> pa.Table:
    """``table.take(rows)``, or a zero-copy slice when the rows are consecutive."""
    if len(rows) and int(rows[-1]) - int(rows[0]) == len(rows) - 1:
        return table.slice(int(rows[0]), len(rows))
    return table.take(pa.array(rows))


def _media_values(
    project: Project, part: pa.Table, stored: pa.Array, out: Path, split: str, media: MediaMode
) -> list[Any]:
    values: list[Any] = []
    for item_id, rel in zip(part.column("id").to_pylist(), stored.to_pylist(), strict=True):
        if not rel:
            raise InputError(
                "the item has no stored file",
                file="data/manifest.parquet",
                item=item_id,
                field="stored_path",
            )
        path = project.root / rel
        name = unicodedata.normalize("NFC", f"{item_id}{Path(rel).suffix.lower()}")
        try:
            if media == "embed":
                values.append({"bytes": path.read_bytes(), "path": name})
            else:
                dest = out / "files" / split / name
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, dest)
                values.append(f"files/{split}/{name}")
        except OSError as exc:
            raise InputError(
                f"cannot read the source file ({exc.strerror})",
                file=rel,
                item=item_id,
                field="stored_path",
                hint="rerun `datakit collect` to restore data/source/",
            ) from exc
    return values


# -- facts, checksums --------------------------------------------------------------------


def _file_list(folder: Path) -> list[dict[str, Any]]:
    out = []
    for p in sorted(folder.rglob("*")):
        if p.is_file() and p.name not in (METADATA_FILE, SUMS_FILE):
            rel = p.relative_to(folder).as_posix()
            out.append({"path": rel, "sha256": sha256_file(p), "bytes": p.stat().st_size})
    return sorted(out, key=lambda f: f["path"])


def write_sums(folder: Path, known: dict[str, str] | None = None) -> None:
    """SHA256SUMS of every file (``sha256sum -c`` format); ``known`` holds digests already
    computed (path → sha256) so large shards are not hashed twice."""
    known = known or {}
    lines = []
    for p in sorted(folder.rglob("*")):
        if p.is_file() and p.name != SUMS_FILE:
            rel = p.relative_to(folder).as_posix()
            lines.append(f"{known.get(rel) or sha256_file(p)}  {rel}")
    write_text(folder / SUMS_FILE, "\n".join(sorted(lines, key=lambda s: s[66:])) + "\n")


def _facts(
    project: Project,
    spec: ProjectSpec,
    built: BuiltRelease,
    gate: GateResult,
    version: str,
    date: str,
    date_source: str,
    layouts: list[str],
    media: MediaMode,
) -> dict[str, Any]:
    ds = spec.dataset
    counts_split = {s: sum(x["rows"] for x in v) for s, v in built.shards.items()}
    schema = release_schema(spec, media)
    content = content_column(spec)
    label_names = {spec.task.label_field, *(a.name for a in spec.task.attributes)}

    def role(name: str) -> str:
        if name == "id":
            return "id"
        if name == content:
            return "content"
        if name in LINEAGE_NAMES:
            return "lineage"
        return "label" if name in label_names else "field"

    metadata: dict[str, Any] = {
        "datakit_release": 1,
        "dataset": {
            "id": ds.id,
            "name": {"ko": ds.name_ko, "en": ds.name_en},
            "version": ds.version,
            "license": ds.license,
            "domain": ds.domain,
            "purpose": ds.purpose,
            "services": list(ds.services),
            "keywords": list(ds.keywords),
            "year": ds.year,
            "organizations": {
                "builder": ds.organizations.builder,
                "labeler": ds.organizations.labeler,
                "inspector": ds.organizations.inspector,
            },
            "contact": {"name": ds.contact_name, "email": ds.contact_email},
        },
        "release": {
            "version": version,
            "date": date,
            "date_source": date_source,
            "layouts": layouts,
            "media": media if is_media(spec) else "none",
        },
        "task": {
            "type": spec.task.type,
            "data_type": spec.data.type,
            "label_field": spec.task.label_field,
            "classes": list(spec.task.class_names),
        },
        "counts": {
            "total": sum(counts_split.values()),
            "splits": counts_split,
            "classes": built.classes,
            "attributes": built.attributes,
            "skipped": dict(built.skipped),
        },
        "splits": {
            "ratios": dict(spec.splits.ratios),
            "seed": spec.splits.seed,
            "stratify": spec.stratify_key,
            "group": spec.splits.group,
            "algorithm": SPLIT_ALGORITHM,
            "units": built.units,
            **built.split_report.to_dict(),
        },
        "leakage": built.leakage,
        "quality": gate.to_dict(),
        "fields": [
            {
                "name": f.name,
                "type": f.type,
                "required": f.required,
                "description": f.description,
                "group": f.group,
                "range": f.range_text()
                or (
                    ", ".join(spec.task.class_names)
                    if f.type in ("class", "classes", "spans", "boxes")
                    else ""
                ),
                "minimum": f.minimum,
                "maximum": f.maximum,
                "values": list(f.values),
            }
            for f in spec.fields
        ],
        "columns": [
            {"name": f.name, "arrow_type": str(f.type), "role": role(f.name)} for f in schema
        ],
        "shards": built.shards,
        "provenance": {
            "datakit_version": __version__,
            "spec_sha256": project.spec_hash,
            "manifest_sha256": file_sha256(project.paths.manifest),
            "labels_sha256": file_sha256(project.paths.labels),
            "consensus_sha256": (
                sha256_file(project.paths.annotations / "consensus.parquet")
                if (project.paths.annotations / "consensus.parquet").is_file()
                else None
            ),
            "sources": built.sources,
            "collection_period": {
                "from": built.collection_dates[0],
                "to": built.collection_dates[1],
            },
            "annotation": {
                "annotators_per_item": spec.annotation.annotators_per_item,
                "mean_annotators": _round(built.mean_annotators),
                "mean_agreement": _round(built.mean_agreement),
                "methods": built.methods,
            },
        },
        "pii": {
            "detect": list(spec.pii.detect),
            "action": spec.pii.action,
            "content": "de-identified",
            "items_with_findings": built.pii_items,
        },
    }
    return {"metadata": metadata, "spec": spec, "history": release_history(project)}


def release_history(project: Project) -> list[dict[str, Any]]:
    """Earlier releases of the project (version, date, total), oldest first."""
    out = []
    for meta_path in project.paths.releases.glob(f"*/{METADATA_FILE}"):
        try:
            m = read_json(meta_path)
            total = int(m["counts"]["total"])
            out.append(
                {"version": m["release"]["version"], "date": m["release"]["date"], "total": total}
            )
        except (ValueError, KeyError, TypeError):
            continue
    out.sort(key=lambda h: (h["date"], h["version"]))
    for i, h in enumerate(out):
        prev = out[i - 1]["total"] if i else None
        h["change"] = (
            f"최초 공개 ({h['total']:,}건)"
            if prev is None
            else f"{h['total']:,}건 (이전 버전 대비 {h['total'] - prev:+,}건)"
        )
    return out


def _round(x: float | None) -> float | None:
    return None if x is None else round(float(x), 4)
