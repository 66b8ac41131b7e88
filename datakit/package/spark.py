"""The Spark engine of ``datakit package``: the local builder's inputs, split rules, figures
and shard layout (``local.LocalEngine``), computed as Spark jobs.

No per-item data reaches the driver, only figures. Where the local engine's result depends
on pyarrow/numpy (parsing labels.jsonl, the item hash, the stratum of a field, the figures'
string casts) the local engine's own code runs on the executors in ``mapInArrow``, so the
two engines agree exactly. The work, in the order it runs:

1. **Keys** (narrow): the manifest's ok rows (its row index is the manifest position) joined
   on id with the label records, parsed by pyarrow with the field dictionary's types; only
   what the split rules need is kept (item hash, stratum, group, sha256, cluster).
2. **Splits** (``spark_splits``, the rules of ``splits.assign_split_indices``): units are
   the connected components over shared sha256 / group / cluster values, found by min-label
   propagation with pointer jumping among the items that share a value; the unit key is
   the smallest member ``stable_hash64`` with its sign bit flipped (an order-preserving
   signed long); the running item count of units per stratum in key order is a distributed
   prefix sum; a unit's split is the number of ratio bounds at or below its midpoint, in
   numpy's float64 arithmetic. Leakage is one aggregation over the keys.
3. **Shards**: rows numbered within their split in manifest order (``engine.ShardPlan``);
   the keys joined with the label records, lineage and content; one Spark partition per
   shard. Each task projects its rows onto the release schema (``engine.release_batch``),
   reads media through ``engine.MediaReader`` and writes its shard with the local engine's
   writer (``shards.ShardFile``, whose bytes depend only on the rows), and returns the
   figures of its rows (``metadata.class_counts`` …), which the driver adds up.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from datakit.errors import InputError, ReleaseError
from datakit.label_table import label_table_schema
from datakit.labels import content_column
from datakit.project import Project
from datakit.release_keys import LINEAGE_SOURCE, require_manifest_columns
from datakit.spec.model import ProjectSpec
from datakit.splits import stable_hash64
from datakit.tables import CONSENSUS_SCHEMA, MANIFEST_SCHEMA

from .engine import (
    BuildOptions,
    BuiltRelease,
    MediaReader,
    ShardPlan,
    SourceFileError,
    no_items,
    release_batch,
    source_file_error,
)
from .figures import ReleaseFigures
from .leakage import LEAKAGE_KEYS
from .shards import MediaMode, ShardFile, is_media, release_schema, shard_name
from .spark_splits import (
    assign_splits,
    hex_prefix_flags,
    leakage_figures,
    running_total,
    shuffle_partitions,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

_SIGN = np.uint64(1 << 63)
_LABELS_UNREADABLE = "datakit: labels.jsonl unreadable: "
_SQL_TYPES = {pa.string(): "string", pa.int64(): "long", pa.int32(): "int"}
_RESULT_FIELDS = (
    ("split", pa.string()),
    ("shard", pa.int32()),
    ("rows", pa.int64()),
    ("bytes", pa.int64()),
    ("figures", pa.string()),  # JSON: this shard's counts, see _ShardTask.figures
    ("err_pos", pa.int64()),
    ("err_item", pa.string()),
    ("err_file", pa.string()),
    ("err_message", pa.string()),
)


class SparkEngine:
    """``PackageEngine`` on Spark: the release ``local.LocalEngine`` builds, computed by
    Spark jobs. The full gate (``before_write``) runs first, before any job reads the data."""

    name = "spark"

    def build(
        self, project: Project, spec: ProjectSpec, out: Path, options: BuildOptions
    ) -> BuiltRelease:
        from datakit.engine import spark_session

        if options.before_write is not None:
            options.before_write()
        spark = spark_session(spec)
        release_schema(spec, options.media)  # fails on lineage name clashes, as locally
        return _build(spark, project, spec, out, options)


def _build(
    spark: SparkSession, project: Project, spec: ProjectSpec, out: Path, options: BuildOptions
) -> BuiltRelease:
    progress = options.progress
    project.require(project.paths.manifest, produced_by="datakit collect")
    project.require(project.paths.labels, produced_by="datakit annotate pull")
    if progress is not None:
        progress(0, None)
    manifest, facts = _read_manifest(spark, project)
    with shuffle_partitions(spark, int(facts["rows"])):
        labels = _read_labels(spark, project, spec)
        keys, stats, skipped = _load_keys(project, manifest, labels, facts)
        got = assign_splits(spark, keys, spec, stats, options.split_check)
        keys, units, sizes = got.keys, got.units, got.sizes
        if got.excluded_rows:
            skipped["cross_group_near_duplicate"] = len(got.excluded_rows)
        pii_items = int(stats["pii"] or 0) - got.excluded_pii
        leakage = leakage_figures(keys, stats)
        shards, figures = _write_shards(
            spark, project, spec, keys, labels, out, sizes, stats, options
        )
    if progress is not None:
        total = sum(sizes.values())
        progress(total, total)
    return BuiltRelease(
        split_sizes=sizes,
        shards=shards,
        leakage=leakage,
        **figures.release_fields(spec),
        split_report=got.report,
        excluded_rows=got.excluded_rows,
        units=units,
        skipped=skipped,
        pii_items=pii_items,
        collection_dates=(facts["first_date"], facts["last_date"]),
        latest_collected_at=facts["last_collected"],
    )


# -- keys ---------------------------------------------------------------------------------------


def _spark_type(t: pa.DataType) -> Any:
    from pyspark.sql.pandas.types import from_arrow_type

    return from_arrow_type(t)


def _read_manifest(spark: SparkSession, project: Project) -> tuple[DataFrame, Any]:
    """The manifest with ``_pos`` (its row index: manifest order), and its facts (rows, ok
    rows, collection dates) from one pass. Columns of ``NARROW`` it lacks read as nulls."""
    from pyspark.sql import functions as F

    from datakit.engine import spark_path

    paths = project.paths
    raw = spark.read.parquet(spark_path(paths.manifest))
    have = set(raw.columns)
    require_manifest_columns(project, have)
    filled = [
        F.lit(None).cast(_spark_type(f.type)).alias(f.name)
        for f in MANIFEST_SCHEMA
        if f.name not in have
    ]
    manifest = raw.select("*", *filled, F.col("_metadata.row_index").alias("_pos"))
    facts = manifest.agg(
        F.count(F.lit(1)).alias("rows"),
        F.count(F.when(F.col("status") == "ok", 1)).alias("ok"),
        F.min("collection_date").alias("first_date"),
        F.max("collection_date").alias("last_date"),
        F.max("collected_at").alias("last_collected"),
    ).first()
    assert facts is not None
    return manifest, facts


def _read_labels(spark: SparkSession, project: Project, spec: ProjectSpec) -> DataFrame:
    """labels.jsonl parsed on the executors (``_label_parser``), checkpointed. A record that
    does not parse stops the run with the local reader's error (line, item and field)."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import LongType, StringType, StructField, StructType

    from datakit.engine import spark_path

    schema = label_table_schema(spec)
    out_schema = StructType(
        [
            *_spark_type(pa.struct(list(schema))).fields,
            StructField("_line", LongType()),
            StructField("_hkey", LongType()),
            StructField("_stratum", StringType()),
            StructField("_lgroup", StringType()),
        ]
    )
    lines = (
        spark.read.text(spark_path(project.paths.labels))
        .withColumn("_line", F.monotonically_increasing_id())
        .filter(F.col("value").rlike(r"\S"))
    )
    parsed = lines.mapInArrow(_label_parser(spec, schema), out_schema)
    try:
        return parsed.localCheckpoint(eager=True)
    except Exception as exc:  # a failed task arrives as a Py4J/PySpark error
        text = str(exc)
        if _LABELS_UNREADABLE not in text:
            raise
        reason = text.split(_LABELS_UNREADABLE, 1)[1].splitlines()[0]
        from datakit.label_table import locate_bad_label

        path = project.paths.labels
        locate_bad_label(path, spec, project, reason)
        raise InputError(
            f"cannot read label records: {reason}", file=project.paths.rel(path)
        ) from None


def _label_parser(
    spec: ProjectSpec, schema: pa.Schema
) -> Callable[[Iterable[pa.RecordBatch]], Iterable[pa.RecordBatch]]:
    """What each task runs over its lines of labels.jsonl: pyarrow's JSON reader with the
    local reader's options (a value that does not fit its field fails the same way), then
    the item hash, the stratum and the spec's group field, by the local engine's code."""
    from datakit.release_keys import stratum_values

    seed, group_field = spec.splits.seed, spec.splits.group
    nl, empty = pa.scalar("\n", pa.large_string()), pa.scalar("", pa.large_string())

    def parse(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        import pyarrow.json as pj

        for batch in batches:
            n = batch.num_rows
            if n == 0:
                continue
            # the lines, newline-terminated, straight from the Arrow buffers
            joined = pc.binary_join_element_wise(batch.column(0).cast(pa.large_string()), empty, nl)
            start, end = np.frombuffer(joined.buffers()[1], np.int64)[[0, n]]
            body = joined.buffers()[2].slice(int(start), int(end - start))
            try:
                table = pj.read_json(
                    pa.BufferReader(body),
                    read_options=pj.ReadOptions(use_threads=False, block_size=max(1, body.size)),
                    parse_options=pj.ParseOptions(
                        explicit_schema=schema, unexpected_field_behavior="ignore"
                    ),
                )
            except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
                raise ValueError(_LABELS_UNREADABLE + str(exc).replace("\n", " ")) from None
            if table.num_rows != n:
                raise ValueError(
                    f"{_LABELS_UNREADABLE}{n} lines gave {table.num_rows} records "
                    "(one JSON object per line expected)"
                )
            table = table.select(schema.names).cast(schema)
            hkey = (stable_hash64(table.column("id"), seed) ^ _SIGN).view(np.int64)
            group = (
                table.column(group_field).cast(pa.string())
                if group_field and group_field in schema.names
                else pa.nulls(n, pa.string())
            )
            extra = {
                "_line": batch.column("_line"),
                "_hkey": pa.array(hkey, pa.int64()),
                "_stratum": stratum_values(spec, table),
                "_lgroup": group,
            }
            for name, values in extra.items():
                table = table.append_column(name, values)
            yield from table.to_batches()

    return parse


def _load_keys(
    project: Project, manifest: DataFrame, labels: DataFrame, facts: Any
) -> tuple[DataFrame, Any, dict[str, int]]:
    """The released items (status ok and labelled, the local selection rules) with only
    their split keys, checkpointed; figures over them; the skipped counts."""
    from pyspark.sql import functions as F

    paths = project.paths
    # One query checks the records: how many, any without an id, the first id seen twice.
    per_id = labels.groupBy("id").agg(F.count(F.lit(1)).alias("n"), F.min("_line").alias("first"))
    check = per_id.agg(
        F.sum("n").alias("records"),
        F.count(F.when(F.col("id").isNull(), 1)).alias("no_id"),
        F.min(F.when(F.col("n") > 1, F.struct("first", "id"))).alias("dup"),
    ).first()
    assert check is not None
    if check["no_id"]:
        raise InputError("a label record has no id", file=paths.rel(paths.labels), field="id")
    if check["dup"] is not None:
        raise InputError(
            "the item has more than one final label record",
            file=paths.rel(paths.labels),
            item=str(check["dup"]["id"]),
            field="id",
            hint="labels.jsonl holds one record per item; rerun `datakit annotate pull`",
        )
    keys = (
        manifest.filter(F.col("status") == "ok")
        .select(
            "id",
            "_pos",
            F.col("sha256").alias("source_sha256"),
            "near_dup_cluster",
            "group",
            "size",
            (~F.coalesce(F.col("pii"), F.lit("{}")).isin("{}", "")).alias("_pii"),
        )
        .join(labels.select("id", "_hkey", "_stratum", "_lgroup").hint("merge"), "id")
        .select(
            "id",
            "_pos",
            "_hkey",
            "_stratum",
            "source_sha256",
            "near_dup_cluster",
            F.coalesce("group", "_lgroup").alias("_group"),
            "size",
            "_pii",
        )
        .localCheckpoint(eager=True)
    )
    stats = keys.agg(
        F.count(F.lit(1)).alias("released"),
        *hex_prefix_flags(list(LEAKAGE_KEYS.values())),
        F.avg("size").alias("mean_size"),
        F.count(F.when(F.col("_pii"), 1)).alias("pii"),
    ).first()
    assert stats is not None
    released, n_ok = int(stats["released"]), int(facts["ok"])
    if released == 0:
        raise no_items()
    skipped = {
        "not_ok": int(facts["rows"]) - n_ok,  # duplicates and quarantined items
        "unlabelled": n_ok - released,
        "labels_not_released": int(check["records"] or 0) - released,
    }
    return keys, stats, skipped


# -- shards and figures -------------------------------------------------------------------------


def _write_shards(
    spark: SparkSession,
    project: Project,
    spec: ProjectSpec,
    keys: DataFrame,
    labels: DataFrame,
    out: Path,
    sizes: dict[str, int],
    stats: Any,
    options: BuildOptions,
) -> tuple[dict[str, list[dict[str, Any]]], ReleaseFigures]:
    """Number the rows within their split in manifest order, join them with their label
    records, lineage and content, give every shard its own Spark partition and let each task
    write its shard. Returns split → [{path, rows, bytes}] and the figures of all rows."""
    from pyspark.sql import functions as F

    from datakit.engine import spark_path

    paths = project.paths
    media_data = is_media(spec)
    content = content_column(spec)
    schema = release_schema(spec, options.media)
    plan = ShardPlan.of(spec, stats["mean_size"], options.rows_per_shard)  # as the local one
    per_shard = plan.rows_per_shard
    counts = {s: plan.shard_count(n) for s, n in sizes.items()}
    first_shard: dict[str, int] = {}
    shard_of: dict[int, tuple[str, int]] = {}
    for s in sizes:
        first_shard[s] = len(shard_of)
        for k in range(counts[s]):
            shard_of[len(shard_of)] = (s, k)

    manifest = spark.read.parquet(spark_path(paths.manifest))
    plan.require_source(project, manifest.columns)
    source = manifest.select(
        F.col("_metadata.row_index").alias("_pos"),
        F.col("source").alias("source_name"),
        F.col(plan.source_column).alias("_src"),
    )

    start = F.element_at(
        F.create_map(*(x for s in sizes for x in (F.lit(s), F.lit(first_shard[s])))),
        F.col("_split"),
    )
    rows = keys.select("id", "_pos", "_split", "source_sha256", "near_dup_cluster")
    if any(n > 1 for n in counts.values()):  # number the rows of each split
        ranked = running_total(
            spark, rows.select("_pos", "_split"), "_split", ["_pos"], None, "_rn"
        )
        index = F.floor((F.col("_rn") - 1) / F.lit(per_shard)).cast("int")
        rows = rows.join(ranked.select("_pos", (start + index).alias("_g")).hint("merge"), "_pos")
    else:
        rows = rows.withColumn("_g", start)
    label_cols = [c for c in labels.columns if not c.startswith("_")]
    rows = rows.join(labels.select(*label_cols).hint("merge"), "id")
    consensus = paths.annotations / "consensus.parquet"
    if consensus.is_file():
        rows = _join_lineage(spark, rows, spark_path(consensus))
    rows = rows.join(source.hint("merge"), "_pos")
    keep = [f.name for f in schema if f.name != content and f.name in rows.columns]
    by_shard = (
        rows.select(*keep, "_pos", "_g", "_src")
        .repartition(len(shard_of), "_g")
        .sortWithinPartitions("_g", "_pos")
    )
    (out / "data").mkdir(parents=True, exist_ok=True)
    task = _ShardTask(
        spec=spec,
        schema=schema,
        media=options.media if media_data else None,
        shard_of=shard_of,
        counts=counts,
        row_group=plan.row_group_rows,
        lineage=consensus.is_file(),
        out_uri=spark_path(out),
        root_uri=spark_path(project.root),
    )
    result_schema = ", ".join(f"{n} {_SQL_TYPES[t]}" for n, t in _RESULT_FIELDS)
    results = by_shard.mapInArrow(task.run, result_schema).collect()

    errors = [r for r in results if r["err_message"] is not None]
    if errors:
        e = min(errors, key=lambda r: r["err_pos"])
        raise source_file_error(e["err_message"], e["err_file"], e["err_item"])
    figures = ReleaseFigures.empty()
    written: dict[str, dict[int, dict[str, Any]]] = defaultdict(dict)
    for r in results:
        figures.add(ReleaseFigures.from_json(r["figures"]))
        name = shard_name(r["split"], r["shard"], counts[r["split"]])
        written[r["split"]][r["shard"]] = {
            "path": f"data/{name}",
            "rows": int(r["rows"]),
            "bytes": int(r["bytes"]),
        }
    shards: dict[str, list[dict[str, Any]]] = {}
    for s, n in sizes.items():
        if n == 0:  # an empty split still gets one (empty) shard, as the local writer does
            name = shard_name(s, 0, 1)
            size = ShardFile(out / "data" / name, schema, plan.row_group_rows).close()
            written[s][0] = {"path": f"data/{name}", "rows": 0, "bytes": size}
        got = written[s]
        if sorted(got) != list(range(counts[s])) or sum(x["rows"] for x in got.values()) != n:
            raise ReleaseError(  # pragma: no cover - guards the shard numbering
                f"split {s}: shards {sorted(got)} hold {sum(x['rows'] for x in got.values())} "
                f"rows, expected {counts[s]} shard(s) with {n}"
            )
        shards[s] = [got[i] for i in range(counts[s])]
    return shards, figures


def _join_lineage(spark: SparkSession, rows: DataFrame, uri: str) -> DataFrame:
    """Lineage columns from consensus.parquet; an item's first row wins, as in the local
    engine's ``index_in`` lookup."""
    from pyspark.sql import functions as F

    cons = spark.read.parquet(uri).select(
        F.col("item_id").alias("_c_id"),
        F.col("_metadata.row_index").alias("_c_row"),
        *(
            F.col(src).cast(_spark_type(CONSENSUS_SCHEMA.field(src).type)).alias(name)
            for name, src in LINEAGE_SOURCE.items()
        ),
    )
    first = cons.groupBy("_c_id").agg(F.min("_c_row").alias("_c_row"))
    lineage = cons.join(first, ["_c_id", "_c_row"], "left_semi").drop("_c_row")
    joined = rows.join(lineage.hint("merge"), rows["id"] == lineage["_c_id"], "left")
    return joined.drop("_c_id")


@dataclass
class _ShardTask:
    """What each write task runs: its rows arrive sorted by (shard, manifest position); it
    streams every shard it holds into ``data/`` with ``ShardFile`` (a temporary name per
    task attempt, renamed when complete) and yields one result row per shard: rows, bytes
    and the shard's figures, or an error row naming an item whose stored file is missing."""

    spec: ProjectSpec
    schema: pa.Schema
    media: MediaMode | None  # None: text content from the manifest
    shard_of: dict[int, tuple[str, int]]  # global shard number → (split, index)
    counts: dict[str, int]  # split → shards
    row_group: int
    lineage: bool  # consensus.parquet exists: lineage figures are measured
    out_uri: str
    root_uri: str

    def run(self, batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        import pyarrow.fs as pafs
        from pyspark import TaskContext

        out_fs, out_root = pafs.FileSystem.from_uri(self.out_uri)
        reader = MediaReader(self.media, self.root_uri, self.out_uri) if self.media else None
        ctx = TaskContext.get()
        attempt = f"{ctx.stageId()}-{ctx.partitionId()}-{ctx.attemptNumber()}" if ctx else "0"
        shard: _OpenShard | None = None
        try:
            for batch in batches:
                g_all = np.asarray(batch.column("_g").to_numpy(zero_copy_only=False))
                cuts = np.flatnonzero(np.r_[True, g_all[1:] != g_all[:-1], True])
                for a, b in itertools.pairwise(cuts):
                    g = int(g_all[a])
                    if shard is None or shard.g != g:
                        if shard is not None:
                            done, shard = shard, None  # closed: nothing to abort any more
                            yield done.close()
                        split, k = self.shard_of[g]
                        name = shard_name(split, k, self.counts[split])
                        shard = _OpenShard(
                            self, g, split, out_fs, f"{out_root}/data/{name}", attempt
                        )
                    part = batch.slice(int(a), int(b - a))
                    content = part.column("_src")
                    if reader is not None:
                        try:
                            content = reader.values(
                                part.column("id").to_pylist(),
                                content.to_pylist(),
                                part.column("_pos").to_pylist(),
                                shard.split,
                            )
                        except SourceFileError as err:
                            yield _result(
                                err_pos=err.pos,
                                err_item=err.item,
                                err_file=err.file,
                                err_message=err.message,
                            )
                            return  # the open shard is removed on the way out
                    shard.add(part, content)
            if shard is not None:
                done, shard = shard, None
                yield done.close()
        finally:
            if shard is not None:
                shard.abort()


class _OpenShard:
    """One shard being written (``ShardFile``), the figures of its rows accumulated."""

    def __init__(
        self, task: _ShardTask, g: int, split: str, fs: Any, path: str, attempt: str
    ) -> None:
        self.task, self.g, self.split = task, g, split
        self.file = ShardFile(
            path, task.schema, task.row_group, filesystem=fs, staging=f".{attempt}.tmp"
        )
        self.content = content_column(task.spec)
        self.figures = ReleaseFigures.empty()

    def add(self, part: pa.RecordBatch, content: pa.Array) -> None:
        columns = {name: part.column(name) for name in part.schema.names}
        batch = release_batch(self.task.schema, self.content, columns, content, part.num_rows)
        splits = pa.array([self.split] * batch.num_rows, pa.string())
        table = pa.Table.from_batches([batch])
        self.figures.add(ReleaseFigures.of(self.task.spec, table, splits, self.task.lineage))
        self.file.add(batch)

    def close(self) -> pa.RecordBatch:
        size = self.file.close()
        _, k = self.task.shard_of[self.g]
        return _result(
            split=self.split,
            shard=k,
            rows=self.file.rows,
            bytes=size,
            figures=self.figures.to_json(),
        )

    def abort(self) -> None:
        self.file.abort()


def _result(**values: Any) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays(
        [pa.array([values.get(n)], t) for n, t in _RESULT_FIELDS],
        names=[n for n, _ in _RESULT_FIELDS],
    )
