"""The split rules of the Spark engine (``spark.py``) as Spark jobs: units as connected
components, the large units placed on the driver by the local engine's function, the rest by
their midpoints in a distributed running total, and the leakage figures. What runs here
gives every item the split ``splits.assign_split_indices`` gives it locally."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from datakit.spec.model import ProjectSpec
from datakit.splits import large_unit_threshold, place_large_units, split_names

from .balance import SplitReport, large_unit, named_units, planned_shares
from .leakage import LEAKAGE_KEYS

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

ROWS_PER_PARTITION = 250_000  # shuffle partitions: about this many rows each


@contextmanager
def shuffle_partitions(spark: SparkSession, rows: int) -> Iterator[None]:
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


def hex_prefix_flags(columns: list[str]) -> list[Column]:
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


@dataclass
class Assigned:
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


def assign_splits(
    spark: SparkSession,
    keys: DataFrame,
    spec: ProjectSpec,
    stats: Any,
    split_check: Callable[[SplitReport], SplitReport] | None,
) -> Assigned:
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
        with shuffle_partitions(spark, n_links):  # usually far fewer than the items
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
    ranked = running_total(spark, small, "_stratum", ["_key", "_comp"], "_size", "_cum")
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
    return Assigned(keys, n_units, sizes, report, excluded_rows, excluded_pii)


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


def running_total(
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


def leakage_figures(keys: DataFrame, stats: Any) -> dict[str, int]:
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
