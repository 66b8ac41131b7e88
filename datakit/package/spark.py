"""The Spark engine of ``datakit package``: the local builder's inputs, split rules, figures
and shard layout (``run.build_local``), computed as Spark jobs.

No per-item data reaches the driver, only figures. Where the local engine's result depends
on pyarrow/numpy (parsing labels.jsonl, the item hash, the stratum of a field, the figures'
string casts) the local engine's own code runs on the executors in ``mapInArrow``, so the
two engines agree exactly. The work, in the order it runs:

1. **Keys** (narrow): the manifest's ok rows (its row index is the manifest position) joined
   on id with the label records, parsed by pyarrow with the field dictionary's types; only
   what the split rules need is kept (item hash, stratum, group, sha256, cluster).
2. **Splits** (``splits.assign_split_indices``): units are the connected components over
   shared sha256 / group / cluster values, found by min-label propagation with pointer
   jumping among the items that share a value; the unit key is the smallest member
   ``stable_hash64`` with its sign bit flipped (an order-preserving signed long); the
   running item count of units per stratum in key order is a distributed prefix sum; a
   unit's split is the number of ratio bounds at or below its midpoint, in numpy's float64
   arithmetic. Leakage is one aggregation over the keys.
3. **Shards**: rows numbered within their split in manifest order; the keys joined with the
   label records, lineage and content; one Spark partition per shard. Each task writes its
   shard with pyarrow (the release schema with its Hugging Face features, the local
   writer's row groups, dictionary columns and compression) and returns the figures of its
   rows (``metadata.class_counts`` …), which the driver adds up.
"""

from __future__ import annotations

import itertools
import shutil
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from datakit.errors import InputError, ReleaseError
from datakit.project import Project
from datakit.spec.model import ProjectSpec
from datakit.tables import CONSENSUS_SCHEMA, MANIFEST_SCHEMA

from .balance import SplitReport, large_unit, named_units, planned_shares
from .figures import ReleaseFigures
from .inputs import LINEAGE_SOURCE, require_manifest_columns
from .leakage import LEAKAGE_KEYS
from .run import MEDIA_SHARD_BYTES, ROW_GROUP_BYTES, TEXT_SHARD_BYTES, BuiltRelease, _no_items
from .shards import (
    MediaMode,
    content_column,
    is_media,
    label_table_schema,
    release_schema,
    writer_options,
)
from .shards import shard_name as _shard_name
from .splits import large_unit_threshold, place_large_units, split_names, stable_hash64

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

Progress = Callable[[int, int | None], None]

ROWS_PER_PARTITION = 250_000  # shuffle partitions: about this many rows each
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


def build_spark(
    project: Project,
    spec: ProjectSpec,
    out: Path,
    media: MediaMode,
    rows_per_shard: int | None,
    progress: Progress | None,
    split_check: Callable[[SplitReport], SplitReport] | None = None,
) -> BuiltRelease:
    """The Spark engine: the release ``build_local`` builds, computed by Spark jobs."""
    from datakit.engine import spark_session

    spark = spark_session(spec)
    schema = release_schema(spec, media)  # fails on lineage name clashes, as locally
    project.require(project.paths.manifest, produced_by="datakit collect")
    project.require(project.paths.labels, produced_by="datakit annotate pull")
    if progress is not None:
        progress(0, None)
    manifest, facts = _read_manifest(spark, project)
    with _shuffle_partitions(spark, int(facts["rows"])):
        labels = _read_labels(spark, project, spec)
        keys, stats, skipped = _load_keys(project, manifest, labels, facts)
        got = _assign(spark, keys, spec, stats, split_check)
        keys, units, sizes = got.keys, got.units, got.sizes
        if got.excluded_rows:
            skipped["cross_group_near_duplicate"] = len(got.excluded_rows)
        pii_items = int(stats["pii"] or 0) - got.excluded_pii
        leakage = _leakage(keys, stats)
        shards, figures = _write_shards(
            spark, project, spec, keys, labels, out, schema, sizes, media, rows_per_shard, stats
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


@contextmanager
def _shuffle_partitions(spark: SparkSession, rows: int) -> Iterator[None]:
    """Size shuffles to ``rows``: about ``ROWS_PER_PARTITION`` rows each, never more than the
    session's ``spark.sql.shuffle.partitions``. On small data a job's time is per-task and
    per-job overhead; with one partition adaptive execution has nothing to coalesce or
    rebalance, and turning it off saves a job per shuffle (a 400-item release runs 31 jobs
    instead of 104). Joins of two item-sized tables carry a sort-merge hint instead: a side
    whose Parquet file looks small can be far larger decoded, too large to broadcast."""
    parts, adaptive = "spark.sql.shuffle.partitions", "spark.sql.adaptive.enabled"
    before = {key: spark.conf.get(key, None) for key in (parts, adaptive)}
    n = max(1, min(int(before[parts] or 200), -(-rows // ROWS_PER_PARTITION)))
    spark.conf.set(parts, str(n))
    if n == 1:
        spark.conf.set(adaptive, "false")
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, value)


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
        from .inputs import _locate_bad_label

        path = project.paths.labels
        _locate_bad_label(path, spec, project, reason)
        raise InputError(
            f"cannot read label records: {reason}", file=project.paths.rel(path)
        ) from None


def _label_parser(
    spec: ProjectSpec, schema: pa.Schema
) -> Callable[[Iterable[pa.RecordBatch]], Iterable[pa.RecordBatch]]:
    """What each task runs over its lines of labels.jsonl: pyarrow's JSON reader with the
    local reader's options (a value that does not fit its field fails the same way), then
    the item hash, the stratum and the spec's group field, by the local engine's code."""
    from .inputs import _stratum

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
                "_stratum": _stratum(spec, table),
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
        *_hex_prefix_flags(list(LEAKAGE_KEYS.values())),
        F.avg("size").alias("mean_size"),
        F.count(F.when(F.col("_pii"), 1)).alias("pii"),
    ).first()
    assert stats is not None
    released, n_ok = int(stats["released"]), int(facts["ok"])
    if released == 0:
        raise _no_items()
    skipped = {
        "not_ok": int(facts["rows"]) - n_ok,  # duplicates and quarantined items
        "unlabelled": n_ok - released,
        "labels_not_released": int(check["records"] or 0) - released,
    }
    return keys, stats, skipped


def _hex_prefix_flags(columns: list[str]) -> list[Column]:
    """Aggregates ``_hex_<column>``: does every value qualify for ``splits.hex64_prefix`` (no
    nulls, 64 bytes, the first 16 characters hex digits)? Then values compare on that
    prefix, as in the local engine (two digests sharing 64 bits join two units)."""
    from pyspark.sql import functions as F

    out = []
    for c in columns:
        ok = (F.octet_length(F.col(c)) == 64) & F.col(c).rlike("^[0-9a-fA-F]{16}")
        out.append(F.min(F.coalesce(ok, F.lit(False)).cast("int")).alias(f"_hex_{c}"))
    return out


def _value_key(name: str, stats: Any) -> Column:
    """A unit/leakage column's value as compared: its hex prefix, or the whole value."""
    from pyspark.sql import functions as F

    if stats[f"_hex_{name}"]:
        return F.lower(F.substring(F.col(name), 1, 16))
    return F.col(name)


# -- splits -------------------------------------------------------------------------------------


@dataclass
class _Assigned:
    """``keys`` of the released items with ``_split`` (checkpointed), the split report and
    the rows of the items left out as cross-group near-duplicates."""

    keys: DataFrame
    units: int
    sizes: dict[str, int]
    report: SplitReport
    excluded_rows: list[dict[str, Any]]
    excluded_pii: int


def _unsigned(key: int) -> int:
    """An ``_hkey`` (the item hash with its top bit flipped, as a signed long) as the
    unsigned 64-bit hash the local engine orders by."""
    return (int(key) & 0xFFFFFFFFFFFFFFFF) ^ (1 << 63)


def _bridging(keys: DataFrame) -> DataFrame:
    """``keys`` plus ``_home`` (the home group of the item's cluster when that cluster lies
    across groups) and ``_away`` (the item is a copy outside the home group):
    ``splits.bridging_members`` as aggregations."""
    from pyspark.sql import functions as F

    both = keys.filter(F.col("_group").isNotNull() & F.col("near_dup_cluster").isNotNull())
    runs = both.groupBy("near_dup_cluster", "_group").agg(
        F.count(F.lit(1)).alias("_n"), F.min("_hkey").alias("_h")
    )
    home = (
        runs.groupBy("near_dup_cluster")
        .agg(
            F.count(F.lit(1)).alias("_ng"),
            F.min(F.struct((-F.col("_n")).alias("n"), F.col("_h").alias("h"), "_group")).alias(
                "_best"
            ),
        )
        .filter(F.col("_ng") > 1)
        .select("near_dup_cluster", F.col("_best._group").alias("_home"))
    )
    away = (
        F.col("_home").isNotNull()
        & F.col("_group").isNotNull()
        & (F.col("_group") != F.col("_home"))
    )
    return keys.join(home, "near_dup_cluster", "left").withColumn(
        "_away", F.coalesce(away, F.lit(False))
    )


def _assign(
    spark: SparkSession,
    keys: DataFrame,
    spec: ProjectSpec,
    stats: Any,
    split_check: Callable[[SplitReport], SplitReport] | None,
) -> _Assigned:
    """The split of every released item: the local rules (``splits.assign_split_indices``)
    as Spark jobs, with the large units placed on the driver by the same function."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import DoubleType, LongType, StringType, StructField, StructType

    policy = spec.splits.cross_group_near_duplicates
    excluded_rows: list[dict[str, Any]] = []
    excluded_pii = 0
    cluster_link = F.col("near_dup_cluster")
    if policy != "together":
        keys = _bridging(keys).localCheckpoint(eager=True)
        if policy == "exclude":
            away = (
                keys.filter("_away")
                .select("id", "near_dup_cluster", "_group", "_home", "_pii")
                .orderBy("id")
                .collect()
            )
            excluded_rows = [
                {
                    "id": r["id"],
                    "cluster": r["near_dup_cluster"],
                    "group": r["_group"],
                    "home_group": r["_home"],
                }
                for r in away
            ]
            excluded_pii = sum(1 for r in away if r["_pii"])
            keys = keys.filter(~F.col("_away"))
        else:  # ignore: the copies stay, their cluster link is not followed
            cluster_link = F.when(~F.col("_away"), F.col("near_dup_cluster"))
        keys = keys.drop("_home")
    # Units: items sharing a value (sha256, group, cluster) are one connected component.
    links = None
    for kind, value in (
        ("s", _value_key("source_sha256", stats)),
        ("g", F.col("_group")),
        ("c", cluster_link),
    ):
        e = keys.select("_pos", F.concat(F.lit(kind + ":"), value).alias("_node"))
        links = e if links is None else links.unionByName(e)
    assert links is not None
    links = links.filter(F.col("_node").isNotNull())
    shared = links.groupBy("_node").count().filter(F.col("count") > 1).select("_node")
    links = links.join(shared, "_node", "left_semi").localCheckpoint(eager=True)
    n_links = links.count()
    comp = None
    if n_links:
        with _shuffle_partitions(spark, n_links):  # usually far fewer than the items
            comp = _components(links)

    if "_away" in keys.columns:
        keys = keys.drop("_away")
    item = keys.select("_pos", "_hkey", F.coalesce(F.col("_stratum"), F.lit("")).alias("_st"))
    if comp is None:
        singles, joined = item, None
    else:  # only items in a multi-item unit need grouping
        item = item.join(comp, "_pos", "left").localCheckpoint(eager=True)  # used thrice
        singles = item.filter(F.col("_lab").isNull()).drop("_lab")
        joined = item.filter(F.col("_lab").isNotNull())
    units = singles.select(
        F.col("_pos").alias("_comp"),
        F.lit(1).cast("long").alias("_size"),
        F.col("_hkey").alias("_key"),
        F.col("_st").alias("_stratum"),
    )
    if joined is not None:
        # size, key (the smallest member hash), majority stratum (ties: the smallest value)
        runs = joined.groupBy("_lab", "_st").agg(
            F.count(F.lit(1)).alias("_n"), F.min("_hkey").alias("_k")
        )
        grouped = runs.groupBy(F.col("_lab").alias("_comp")).agg(
            F.sum("_n").alias("_size"),
            F.min("_k").alias("_key"),
            F.min(F.struct((-F.col("_n")).alias("neg"), F.col("_st").alias("st")))
            .getField("st")
            .alias("_stratum"),
        )
        units = units.unionByName(grouped)
    units = units.localCheckpoint(eager=True)
    n_units = int(units.agg(F.countDistinct("_key")).first()[0])  # type: ignore[index]

    # Large units first, placed on the driver by the local engine's function.
    names = split_names(spec.splits.ratios)
    totals = {
        r["_stratum"]: int(r["_t"])
        for r in units.groupBy("_stratum").agg(F.sum("_size").alias("_t")).collect()
    }
    limits = spark.createDataFrame(
        [(st, large_unit_threshold(t, spec.splits.ratios)) for st, t in totals.items()],
        StructType([StructField("_stratum", StringType()), StructField("_limit", DoubleType())]),
    )
    units = units.join(F.broadcast(limits), "_stratum").withColumn(
        "_large", F.col("_size").cast("double") > F.col("_limit")
    )
    large_rows = units.filter("_large").select("_comp", "_stratum", "_size", "_key").collect()
    large_rows.sort(key=lambda r: r["_comp"])
    placement = place_large_units(
        totals,
        [(r["_stratum"], int(r["_size"]), _unsigned(r["_key"])) for r in large_rows],
        spec.splits.ratios,
    )
    large_split = spark.createDataFrame(
        [(int(r["_comp"]), names[j]) for r, j in zip(large_rows, placement.splits, strict=True)],
        StructType([StructField("_comp", LongType()), StructField("_split", StringType())]),
    )

    # The rest: within a stratum, units in key order; the midpoint of a unit's item range
    # against the stratum's remaining deficits (numpy's searchsorted, side=right).
    k = len(names)
    bound_cols = [f"_b{i}" for i in range(k - 1)]
    bounds = spark.createDataFrame(
        [(st, *placement.bounds[st]) for st in totals],
        StructType(
            [StructField("_stratum", StringType())]
            + [StructField(c, DoubleType()) for c in bound_cols]
        ),
    )
    small = units.filter(~F.col("_large")).drop("_large", "_limit")
    ranked = _running_total(spark, small, "_stratum", ["_key", "_comp"], "_size", "_cum")
    size = F.col("_size").cast("double")
    mid = (F.col("_cum").cast("double") - size / F.lit(2.0)) / F.col("_total").cast("double")
    index = F.lit(0)
    for c in bound_cols:
        index = index + F.when(F.col(c) <= mid, 1).otherwise(0)
    small_split = ranked.join(F.broadcast(bounds), "_stratum").select(
        "_comp", F.element_at(F.array(*(F.lit(s) for s in names)), index + 1).alias("_split")
    )
    unit_split = small_split.unionByName(large_split)
    comp_of = F.col("_pos") if comp is None else F.coalesce("_lab", "_pos")
    item_comp = item.select("_pos", comp_of.alias("_comp"))
    item_split = item_comp.join(unit_split.hint("merge"), "_comp")
    keys = keys.join(item_split.hint("merge"), "_pos").localCheckpoint(eager=True)
    sizes = dict.fromkeys(names, 0)
    for row in keys.groupBy("_split").count().collect():
        sizes[row["_split"]] = int(row["count"])

    plain = SplitReport(
        planned_shares(spec.splits.ratios),
        sizes,
        spec.splits.tolerance,
        policy,
        excluded=len(excluded_rows),
    )
    large = [
        {
            "component": int(r["_comp"]),
            "key": _unsigned(r["_key"]),
            "size": int(r["_size"]),
            "split": int(j),
            "excess": float(x),
        }
        for r, j, x in zip(large_rows, placement.splits, placement.excess, strict=True)
    ]
    named = []
    for u in named_units(large, plain):
        members = keys.join(
            item_comp.filter(F.col("_comp") == u["component"]).select("_pos"), "_pos", "left_semi"
        )
        values = {}
        for col in ("_group", "near_dup_cluster"):
            values[col] = {
                r[col]: int(r["count"])
                for r in members.filter(F.col(col).isNotNull()).groupBy(col).count().collect()
            }
        named.append(
            large_unit(
                u["size"],
                names[u["split"]],
                u["excess"],
                values["_group"],
                values["near_dup_cluster"],
            )
        )
    report = SplitReport(
        plain.planned,
        sizes,
        plain.tolerance,
        policy,
        excluded=len(excluded_rows),
        large_units=tuple(named),
    )
    if split_check is not None:
        report = split_check(report)
    return _Assigned(keys, n_units, sizes, report, excluded_rows, excluded_pii)


def _components(links: DataFrame) -> DataFrame:
    """``(_pos, _lab)``: the smallest ``_pos`` of each linked item's component (``links``:
    item ``_pos`` – shared value ``_node``). Each round takes the smallest label over the
    shared values, then jumps once (an item takes its label's label). Labels only ever
    decrease, so an unchanged sum means the fixed point."""
    from pyspark.sql import functions as F

    labels = links.select("_pos").distinct().withColumn("_lab", F.col("_pos"))
    labels = labels.localCheckpoint(eager=True)
    total = labels.agg(F.sum("_lab")).first()[0]  # type: ignore[index]
    while True:
        node_min = links.join(labels, "_pos").groupBy("_node").agg(F.min("_lab").alias("_nm"))
        new = links.join(node_min, "_node").groupBy("_pos").agg(F.min("_nm").alias("_lab"))
        hop = new.select(F.col("_pos").alias("_hp"), F.col("_lab").alias("_hl"))
        labels = (
            new.join(hop, new["_lab"] == hop["_hp"], "left")
            .select("_pos", F.least(F.col("_lab"), F.coalesce("_hl", "_lab")).alias("_lab"))
            .localCheckpoint(eager=True)
        )
        before, total = total, labels.agg(F.sum("_lab")).first()[0]  # type: ignore[index]
        if total == before:
            return labels


def _running_total(
    spark: SparkSession,
    df: DataFrame,
    part: str,
    order: list[str],
    value: str | None,
    out: str,
) -> DataFrame:
    """``df`` plus ``out``, the running sum of ``value`` (a count when None) within ``part``
    in ``order`` (inclusive), and ``_total``, the sum over the whole ``part``.

    With several shuffle partitions, range partitions sorted by (part, order) take a window
    each, offset by the sums of the same ``part`` in earlier partitions (one figure per
    partition and part, added up on the driver): no task holds a whole stratum or split."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F
    from pyspark.sql.types import IntegerType, LongType, StringType, StructField, StructType

    n_parts = max(1, int(spark.conf.get("spark.sql.shuffle.partitions") or 1))
    val = F.col(value) if value else F.lit(1)
    upto = (Window.unboundedPreceding, Window.currentRow)
    if n_parts == 1:
        whole = Window.partitionBy(part)
        return df.withColumn(
            out, F.sum(val).over(whole.orderBy(*order).rowsBetween(*upto))
        ).withColumn("_total", F.sum(val).over(whole))
    ranged = (
        df.repartitionByRange(n_parts, part, *order)
        .withColumn("_rp", F.spark_partition_id())
        .localCheckpoint(eager=True)
    )
    sums = ranged.groupBy("_rp", part).agg(F.sum(val).alias("_t")).collect()
    running: dict[Any, int] = defaultdict(int)
    offsets = []
    for row in sorted(sums, key=lambda r: r["_rp"]):
        offsets.append((row["_rp"], row[part], running[row[part]]))
        running[row[part]] += int(row["_t"])
    off_schema = StructType(
        [
            StructField("_rp", IntegerType()),
            StructField(part, StringType()),
            StructField("_off", LongType()),
            StructField("_total", LongType()),
        ]
    )
    off = spark.createDataFrame([(*o, running[o[1]]) for o in offsets], off_schema)
    window = Window.partitionBy("_rp", part).orderBy(*order).rowsBetween(*upto)
    return (
        ranged.join(F.broadcast(off), ["_rp", part])
        .withColumn(out, F.sum(val).over(window) + F.col("_off"))
        .drop("_rp", "_off")
    )


def _leakage(keys: DataFrame, stats: Any) -> dict[str, int]:
    """``leakage.leakage_figures``: distinct values found in more than one split, per key."""
    from pyspark.sql import functions as F

    cols = list(LEAKAGE_KEYS.values())
    kv = [F.struct(F.lit(c).alias("k"), _value_key(c, stats).alias("v")) for c in cols]
    spread = (
        keys.select("_split", F.explode(F.array(*kv)).alias("_kv"))
        .select("_split", "_kv.k", "_kv.v")
        .filter(F.col("v").isNotNull())
        .groupBy("k", "v")
        .agg(F.countDistinct("_split").alias("n"))
        .filter(F.col("n") > 1)
        .groupBy("k")
        .count()
        .collect()
    )
    per_col = {r["k"]: int(r["count"]) for r in spread}
    out = {name: per_col.get(col, 0) for name, col in LEAKAGE_KEYS.items()}
    out["total"] = sum(out.values())
    return out


# -- shards and figures -------------------------------------------------------------------------


def _write_shards(
    spark: SparkSession,
    project: Project,
    spec: ProjectSpec,
    keys: DataFrame,
    labels: DataFrame,
    out: Path,
    schema: pa.Schema,
    sizes: dict[str, int],
    media: MediaMode,
    rows_per_shard: int | None,
    stats: Any,
) -> tuple[dict[str, list[dict[str, Any]]], ReleaseFigures]:
    """Number the rows within their split in manifest order, join them with their label
    records, lineage and content, give every shard its own Spark partition and let each task
    write its shard. Returns split → [{path, rows, bytes}] and the figures of all rows."""
    import pyarrow.parquet as pq
    from pyspark.sql import functions as F

    from datakit.engine import spark_path

    paths = project.paths
    media_data = is_media(spec)
    content = content_column(spec)
    # shard sizes as the local builder chooses them
    avg = max(1.0, float(stats["mean_size"] or 1.0))
    target = MEDIA_SHARD_BYTES if media_data else TEXT_SHARD_BYTES
    per_shard = rows_per_shard or max(1, int(target / avg))
    row_group = max(1, min(per_shard, 100 if media_data else 100_000, int(ROW_GROUP_BYTES / avg)))
    counts = {s: max(1, -(-n // per_shard)) for s, n in sizes.items()}
    first_shard: dict[str, int] = {}
    shard_of: dict[int, tuple[str, int]] = {}
    for s in sizes:
        first_shard[s] = len(shard_of)
        for k in range(counts[s]):
            shard_of[len(shard_of)] = (s, k)

    source_col = "stored_path" if media_data else "text"
    manifest = spark.read.parquet(spark_path(paths.manifest))
    if source_col not in manifest.columns:
        raise InputError(f"manifest has no {source_col} column", file=paths.rel(paths.manifest))
    source = manifest.select(
        F.col("_metadata.row_index").alias("_pos"),
        F.col("source").alias("source_name"),
        F.col(source_col).alias("_src"),
    )

    start = F.element_at(
        F.create_map(*(x for s in sizes for x in (F.lit(s), F.lit(first_shard[s])))),
        F.col("_split"),
    )
    rows = keys.select("id", "_pos", "_split", "source_sha256", "near_dup_cluster")
    if any(n > 1 for n in counts.values()):  # number the rows of each split
        ranked = _running_total(
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
        media=media if media_data else None,
        shard_of=shard_of,
        counts=counts,
        row_group=row_group,
        lineage=consensus.is_file(),
        out_uri=spark_path(out),
        root_uri=spark_path(project.root),
    )
    result_schema = ", ".join(f"{n} {_SQL_TYPES[t]}" for n, t in _RESULT_FIELDS)
    results = by_shard.mapInArrow(task.run, result_schema).collect()

    errors = [r for r in results if r["err_message"] is not None]
    if errors:
        e = min(errors, key=lambda r: r["err_pos"])
        raise InputError(
            e["err_message"],
            file=e["err_file"],
            item=e["err_item"],
            field="stored_path",
            hint=None
            if e["err_file"] == "data/manifest.parquet"
            else "rerun `datakit collect` to restore data/source/",
        )
    figures = ReleaseFigures.empty()
    written: dict[str, dict[int, dict[str, Any]]] = defaultdict(dict)
    for r in results:
        figures.add(ReleaseFigures.from_json(r["figures"]))
        name = _shard_name(r["split"], r["shard"], counts[r["split"]])
        written[r["split"]][r["shard"]] = {
            "path": f"data/{name}",
            "rows": int(r["rows"]),
            "bytes": int(r["bytes"]),
        }
    shards: dict[str, list[dict[str, Any]]] = {}
    for s, n in sizes.items():
        if n == 0:  # an empty split still gets one (empty) shard, as the local writer does
            path = out / "data" / _shard_name(s, 0, 1)
            pq.ParquetWriter(path, schema, **writer_options(schema)).close()
            written[s][0] = {"path": f"data/{path.name}", "rows": 0, "bytes": path.stat().st_size}
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


class _ItemError(Exception):
    def __init__(self, pos: int, item: str, file: str, msg: str) -> None:
        super().__init__(msg)
        self.pos, self.item, self.file, self.msg = pos, item, file, msg


@dataclass
class _ShardTask:
    """What each write task runs: its rows arrive sorted by (shard, manifest position); it
    streams every shard it holds into ``data/`` with pyarrow (a temporary name, renamed when
    complete) and yields one result row per shard: rows, bytes and the shard's figures, or
    an error row naming an item whose stored file is missing."""

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
        src_fs, src_root = pafs.FileSystem.from_uri(self.root_uri)
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
                        name = _shard_name(split, k, self.counts[split])
                        shard = _OpenShard(
                            self, g, split, out_fs, f"{out_root}/data/{name}", attempt
                        )
                    part = batch.slice(int(a), int(b - a))
                    try:
                        values = _content_values(
                            part, self.media, shard.split, src_fs, src_root, out_fs, out_root
                        )
                    except _ItemError as err:
                        yield _result(
                            err_pos=err.pos,
                            err_item=err.item,
                            err_file=err.file,
                            err_message=err.msg,
                        )
                        return  # the open shard is removed on the way out
                    shard.add(part, values)
            if shard is not None:
                done, shard = shard, None
                yield done.close()
        finally:
            if shard is not None:
                shard.abort()


class _OpenShard:
    """One shard being written: exactly ``row_group`` rows per row group, as the local
    writer; the figures of its rows accumulated on the way."""

    def __init__(
        self, task: _ShardTask, g: int, split: str, fs: Any, path: str, attempt: str
    ) -> None:
        import pyarrow.parquet as pq

        self.task, self.g, self.split, self.fs, self.path = task, g, split, fs, path
        self.tmp = f"{path}.{attempt}.tmp"
        self.writer = pq.ParquetWriter(
            self.tmp, task.schema, filesystem=fs, **writer_options(task.schema)
        )
        self.buffer: list[pa.RecordBatch] = []
        self.buffered = self.rows = 0
        self.figures = ReleaseFigures.empty()

    def add(self, part: pa.RecordBatch, content: pa.Array) -> None:
        schema = self.task.schema
        name = content_column(self.task.spec)
        arrays = []
        for f in schema:
            if f.name == name:
                arrays.append(content.cast(f.type))
            elif f.name in part.schema.names:
                arrays.append(part.column(f.name).cast(f.type))
            else:
                arrays.append(pa.nulls(part.num_rows, f.type))
        batch = pa.RecordBatch.from_arrays(arrays, schema=schema)
        splits = pa.array([self.split] * batch.num_rows, pa.string())
        table = pa.Table.from_batches([batch])
        self.figures.add(ReleaseFigures.of(self.task.spec, table, splits, self.task.lineage))
        self.buffer.append(batch)
        self.buffered += batch.num_rows
        self._flush()

    def _flush(self, final: bool = False) -> None:
        size = self.task.row_group
        while self.buffered >= size or (final and self.buffered):
            table = pa.Table.from_batches(self.buffer, schema=self.task.schema)
            n = min(size, table.num_rows)
            self.writer.write_table(table.slice(0, n), row_group_size=n)
            rest = table.slice(n)
            self.buffer, self.buffered = rest.to_batches(), rest.num_rows
            self.rows += n

    def close(self) -> pa.RecordBatch:
        self._flush(final=True)
        self.writer.close()
        self.fs.move(self.tmp, self.path)
        _, k = self.task.shard_of[self.g]
        return _result(
            split=self.split,
            shard=k,
            rows=self.rows,
            bytes=self.fs.get_file_info(self.path).size,
            figures=self.figures.to_json(),
        )

    def abort(self) -> None:
        self.writer.close()
        with suppress(FileNotFoundError):
            self.fs.delete_file(self.tmp)


def _result(**values: Any) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays(
        [pa.array([values.get(n)], t) for n, t in _RESULT_FIELDS],
        names=[n for n, _ in _RESULT_FIELDS],
    )


def _content_values(
    part: pa.RecordBatch,
    media: MediaMode | None,
    split: str,
    src_fs: Any,
    src_root: str,
    out_fs: Any,
    out_root: str,
) -> pa.Array:
    """The content of a slice of rows: the manifest text, or each item's stored file
    embedded as {bytes, path} or copied to ``files/<split>/`` (``run._media_values``)."""
    src = part.column("_src")
    if media is None:
        return src
    import pyarrow.fs as pafs

    # On a local filesystem, read and copy as the local engine does (the same errors).
    local = isinstance(src_fs, pafs.LocalFileSystem) and isinstance(out_fs, pafs.LocalFileSystem)
    values: list[Any] = []
    ids = part.column("id").to_pylist()
    positions = part.column("_pos").to_pylist()
    folder = f"{out_root}/files/{split}"
    for item_id, rel, pos in zip(ids, src.to_pylist(), positions, strict=True):
        if not rel:
            raise _ItemError(pos, item_id, "data/manifest.parquet", "the item has no stored file")
        name = unicodedata.normalize("NFC", f"{item_id}{PurePosixPath(rel).suffix.lower()}")
        path = f"{src_root}/{rel}"
        try:
            if media == "embed" and local:
                values.append({"bytes": Path(path).read_bytes(), "path": name})
            elif media == "embed":
                with src_fs.open_input_stream(path) as fh:
                    values.append({"bytes": fh.read(), "path": name})
            elif local:
                Path(folder).mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, f"{folder}/{name}")
                values.append(f"files/{split}/{name}")
            else:
                out_fs.create_dir(folder, recursive=True)
                pafs.copy_files(
                    path,
                    f"{folder}/{name}",
                    source_filesystem=src_fs,
                    destination_filesystem=out_fs,
                )
                values.append(f"files/{split}/{name}")
        except OSError as exc:
            reason = exc.strerror or str(exc).splitlines()[0]
            raise _ItemError(pos, item_id, rel, f"cannot read the source file ({reason})") from None
    if media == "embed":
        return pa.array(values, pa.struct([("bytes", pa.binary()), ("path", pa.string())]))
    return pa.array(values, pa.string())
