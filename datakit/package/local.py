"""The local engine of ``datakit package``: the release built on this machine, in two
passes. Pass one reduces the manifest and the label records to fixed-width keys and assigns
the splits; pass two streams the manifest's content batch by batch, joins each batch with
its labels and lineage, writes the shards and accumulates the figures. Only keys, label
records and lineage are held for all items at once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from datakit.labels import content_column
from datakit.project import Project
from datakit.release_keys import ReleaseKeys, load_keys, release_memory
from datakit.spec.model import ProjectSpec
from datakit.splits import Assignment, split_names
from datakit.splits import preload as preload_splits

from .balance import LargeUnit, SplitReport, large_unit, named_units, planned_shares
from .engine import (
    BuildOptions,
    BuiltRelease,
    MediaReader,
    ShardPlan,
    SourceFileError,
    no_items,
    release_batch,
)
from .figures import ReleaseFigures
from .leakage import leakage_from_keys
from .shards import MediaMode, ShardWriter, is_media, release_schema


class LocalEngine:
    """``PackageEngine`` on this machine: numpy and pyarrow, the shards written on threads."""

    name = "local"

    def build(
        self, project: Project, spec: ProjectSpec, out: Path, options: BuildOptions
    ) -> BuiltRelease:
        preload_splits()
        keys = load_keys(project, spec)
        if keys.count == 0:
            raise no_items()
        release_memory()
        got = keys.assign(spec)
        names = split_names(spec.splits.ratios)
        kept = ~got.excluded
        leakage = leakage_from_keys([(v, ok & kept) for v, ok in keys.keys], got.item_split)
        counts = np.bincount(got.item_split[kept], minlength=len(names))
        split_sizes = {s: int(counts[i]) for i, s in enumerate(names)}
        if not kept.any():
            raise no_items()
        report, excluded_rows = _split_report(project, spec, keys, got, names, split_sizes)
        if options.split_check is not None:  # refuse before any shard is written
            report = options.split_check(report)
        split_idx = got.item_split[kept] if got.excluded.any() else got.item_split
        if got.excluded.any():
            keys.drop(got.excluded)
            keys.skipped = {**keys.skipped, "cross_group_near_duplicate": int(got.excluded.sum())}
        units = got.units
        # Pass two needs none of the keys: free them before it starts.
        del got
        keys.item_hash, keys.keys, keys.stratum = np.zeros(0, np.uint64), [], None
        release_memory()
        if options.before_write is not None:
            options.before_write()
        figures = ReleaseFigures.empty()
        shards = _write_shards(
            _ReleaseRows(project, spec, keys, split_idx, names, out, options.media, figures),
            split_sizes,
            options,
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


def _split_report(
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


# -- pass two: shards -----------------------------------------------------------------------


class _ReleaseRows:
    """What pass two reads and writes: the released items' keys and split, the release
    schema, the content (text, or media read by ``MediaReader``) and the figures."""

    def __init__(
        self,
        project: Project,
        spec: ProjectSpec,
        keys: ReleaseKeys,
        split_idx: np.ndarray[Any, Any],
        names: list[str],
        out: Path,
        media: MediaMode,
        figures: ReleaseFigures,
    ) -> None:
        self.project, self.spec, self.keys = project, spec, keys
        self.split_idx, self.names, self.figures, self.out = split_idx, names, figures, out
        self.schema = release_schema(spec, media)
        self.content = content_column(spec)
        self.media = MediaReader(media, str(project.root), str(out)) if is_media(spec) else None

    def rows(
        self, batches: Iterable[pa.RecordBatch], source_col: str
    ) -> Iterable[tuple[str, pa.RecordBatch]]:
        """Join each manifest batch with its labels and lineage; yield (split, release rows)."""
        keys, names = self.keys, self.names
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
            rows = positions[i0:i1] if keys.label_rows is None else keys.label_rows[i0:i1]
            lab = _rows(keys.labels, rows)
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
            sidx = self.split_idx[i0:i1]
            splits = pa.DictionaryArray.from_arrays(pa.array(sidx.astype(np.int32)), split_dict)
            self.figures.add(ReleaseFigures.of(self.spec, sub, splits, keys.lineage is not None))
            src = m.column(source_col)
            pos = pa.array(positions[i0:i1])
            counts = np.bincount(sidx, minlength=len(names))
            if np.count_nonzero(counts) > 1:  # one gather puts each split's rows together
                order = pa.array(np.argsort(sidx, kind="stable"))
                sub, src, pos = sub.take(order), src.take(order), pos.take(order)
            start = 0
            for k, split in enumerate(names):
                if not counts[k]:
                    continue
                size = int(counts[k])
                part = sub.slice(start, size)
                content = src.slice(start, size)
                if self.media is not None:
                    content = self.media.values(
                        part.column("id").to_pylist(),
                        content.to_pylist(),
                        pos.slice(start, size).to_pylist(),
                        split,
                    )
                start += size
                columns = {name: part.column(name) for name in part.column_names}
                yield split, release_batch(self.schema, self.content, columns, content, size)


def _write_shards(
    work: _ReleaseRows, split_sizes: dict[str, int], options: BuildOptions
) -> dict[str, list[dict[str, Any]]]:
    project, spec = work.project, work.spec
    plan = ShardPlan.of(spec, work.keys.mean_size, options.rows_per_shard)
    pf = pq.ParquetFile(project.paths.manifest)
    have = pf.schema_arrow.names
    plan.require_source(project, have)
    wanted = ("id", plan.source_column, "sha256", "source", "near_dup_cluster")
    batches = pf.iter_batches(
        batch_size=256 if is_media(spec) else 65_536, columns=[c for c in wanted if c in have]
    )
    writer = ShardWriter(
        work.out / "data",
        work.schema,
        split_sizes,
        rows_per_shard=plan.rows_per_shard,
        row_group_rows=plan.row_group_rows,
        progress=options.progress,
    )
    try:
        for split, rows in work.rows(batches, plan.source_column):
            writer.add(split, rows)
    except SourceFileError as err:
        writer.abort()
        raise err.input_error() from None
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


def _rows(table: pa.Table, rows: np.ndarray[Any, Any]) -> pa.Table:
    """``table.take(rows)``, or a zero-copy slice when the rows are consecutive."""
    if len(rows) and int(rows[-1]) - int(rows[0]) == len(rows) - 1:
        return table.slice(int(rows[0]), len(rows))
    return table.take(pa.array(rows))
