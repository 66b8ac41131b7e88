"""Expectation suites on Spark, through Great Expectations' Spark data source.

The tables are the local engine's, built by Spark:

* the manifest: ``data/manifest.parquet`` as Spark reads it;
* the label records: the lines of ``labels.jsonl`` that are JSON objects (the rows
  ``expectations.labels_batches`` keeps), parsed by Spark with the field dictionary's types
  (integer → long, number → double, boolean → boolean, anything else → string; lists and
  objects stay JSON text), then the keys outside the field dictionary as JSON text in order
  of first appearance.

Both carry a row number (``ROW_COLUMN``, the row's place in the local engine's table), which
GX returns for unexpected rows (``unexpected_index_column_names``), so ``unexpected_rows``
match the local engine's; table-shape expectations see the tables without it. Unexpected
label values are reported as the records hold them (a ``42`` in a text field is the number
42, not Spark's text ``"42"``): they are read back from the lines of their rows.

The outcomes are ``expectations.Outcome``, as the local engine gives them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from datakit.check.expectations import (
    EXAMPLES,
    GxRunner,
    Outcome,
    Suite,
    adopt_result,
    expectation_kind,
    number_expectations,
)
from datakit.check.spark_jobs import (
    arrow_batch,
    byte_ranges,
    file_size,
    one_task_per_row,
    owned_bytes,
)

if TYPE_CHECKING:
    from datakit.check.engine import Table
    from datakit.project import Project

ROW_COLUMN = "__datakit_row"
# Duplicated rows fetched to list the first 20 by row; beyond this, any 20 of them.
COMPLETE_LIMIT = 200_000
# The label lines: a JSON-object line (R), a range's count of them (C), a key outside the
# field dictionary in order of first appearance (K).
_LINES_COLUMNS = "tag string, chunk int, idx long, text string"


def _spark_type(field_type: str) -> str:
    return {"integer": "long", "number": "double", "boolean": "boolean"}.get(field_type, "string")


def _lines_task(location: str, fields: Sequence[str]) -> Callable[[Iterator[Any]], Iterator[Any]]:
    """mapInArrow function: (chunk, start, end) → the JSON-object lines the range owns."""

    def run(batches: Iterator[Any]) -> Iterator[Any]:
        import orjson

        known = set(fields)
        for b in batches:
            d = b.to_pydict()
            for chunk, start, end in zip(d["chunk"], d["start"], d["end"], strict=True):
                rows: list[dict[str, Any]] = []
                extra: dict[str, None] = {}
                for raw in owned_bytes(location, start, end).split(b"\n"):
                    if not raw.strip():
                        continue
                    try:
                        rec = orjson.loads(raw)
                    except ValueError:
                        continue
                    if isinstance(rec, dict):
                        rows.append(
                            {"tag": "R", "chunk": chunk, "idx": len(rows), "text": raw.decode()}
                        )
                        for key in rec:
                            if key not in known and key not in extra:
                                extra[key] = None
                rows.append({"tag": "C", "chunk": chunk, "idx": len(rows)})
                rows.extend(
                    {"tag": "K", "chunk": chunk, "idx": i, "text": k} for i, k in enumerate(extra)
                )
                yield arrow_batch(_LINES_COLUMNS, rows)

    return run


def _lookup(array: list[int], column: str) -> Any:
    """The element of a literal ``array`` at the index in ``column`` (0 when empty)."""
    from pyspark.sql import functions as F

    if not array:
        return F.lit(0)
    return F.get(F.array(*[F.lit(v) for v in array]), F.col(column))


@dataclass
class LabelRecords:
    """The label records as a persisted DataFrame, and the persisted lines they came from."""

    frame: Any
    lines: Any  # (ROW_COLUMN, text) of every row, from ``cached``
    cached: Any  # the _lines_task output, persisted

    def values(self, rows: set[int]) -> dict[int, dict[str, Any]]:
        """row → the record as parsed from its line."""
        import orjson
        from pyspark.sql import functions as F

        if not rows:
            return {}
        got = self.lines.filter(F.col(ROW_COLUMN).isin(sorted(rows))).select(ROW_COLUMN, "text")
        return {int(r[0]): orjson.loads(r[1]) for r in got.collect()}

    def unpersist(self) -> None:
        self.frame.unpersist()
        self.cached.unpersist()


def labels_frame(spark: Any, location: str, fields: Sequence[tuple[str, str]]) -> LabelRecords:
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    names = [n for n, _ in fields]
    ranges = byte_ranges(file_size(location), spark.sparkContext.defaultParallelism)
    work = [(i, a, b) for i, (a, b) in enumerate(ranges)]
    lines = (
        one_task_per_row(spark, work, "chunk int, start long, end long")
        .mapInArrow(_lines_task(location, names), _LINES_COLUMNS)
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    small = lines.filter(F.col("tag") != "R").collect()
    counts = {r.chunk: r.idx for r in small if r.tag == "C"}
    offsets = [0] * len(work)
    for i in range(1, len(work)):
        offsets[i] = offsets[i - 1] + counts.get(i - 1, 0)
    extra: dict[str, None] = {}
    for r in sorted((r for r in small if r.tag == "K"), key=lambda r: (r.chunk, r.idx)):
        extra.setdefault(r.text, None)
    columns = [*names, *extra]
    ddl = ", ".join(
        [f"`{n}` {_spark_type(t)}" for n, t in fields] + [f"`{k}` string" for k in extra]
    )
    rows = lines.filter(F.col("tag") == "R").select(
        (F.col("idx") + _lookup(offsets, "chunk")).alias(ROW_COLUMN), "text"
    )
    frame = (
        rows.select(ROW_COLUMN, F.from_json("text", ddl, {"mode": "PERMISSIVE"}).alias("r"))
        .select(*[F.col("r").getField(c).alias(c) for c in columns], ROW_COLUMN)
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    frame.count()
    return LabelRecords(frame, rows, lines)


def manifest_frame(spark: Any, location: str) -> Any:
    """The manifest as Spark reads it, plus ``ROW_COLUMN`` (the row's place in the file).
    :func:`validate_frame` caches the columns the expectations read."""
    from pyspark.sql import functions as F

    from datakit.engine import spark_path

    def read() -> Any:
        return spark.read.parquet(spark_path(location)).withColumn("_pid", F.spark_partition_id())

    sizes = {r["_pid"]: r["count"] for r in read().groupBy("_pid").count().collect()}
    offsets: list[int] = []
    total = 0
    for pid in range(max(sizes, default=-1) + 1):
        offsets.append(total)
        total += sizes.get(pid, 0)
    # monotonically_increasing_id() is (partition id << 33) + place in the partition, and a
    # file scan splits the file the same way every time
    place = F.monotonically_increasing_id().bitwiseAND(F.lit((1 << 33) - 1))
    return read().withColumn(ROW_COLUMN, place + _lookup(offsets, "_pid")).drop("_pid")


# -- Great Expectations ---------------------------------------------------------------------------


class _SparkGx(GxRunner):
    """The local engine's GX plumbing with a Spark data source instead of pandas."""

    def data_source(self) -> Any:
        return self.ctx.data_sources.add_spark("datakit")

    @staticmethod
    def run(
        vd: Any, df: Any, *, rows: bool = True, complete: bool = False
    ) -> list[tuple[int, Any]]:
        fmt: dict[str, Any] = {
            "result_format": "COMPLETE" if complete else "SUMMARY",
            "partial_unexpected_count": EXAMPLES,
        }
        if rows:
            fmt["unexpected_index_column_names"] = [ROW_COLUMN]
        res = vd.run(batch_parameters={"dataframe": df}, result_format=fmt)
        return [(int(r.expectation_config.meta["datakit_index"]), r) for r in res.results]


def _for_spark(exp: dict[str, Any]) -> dict[str, Any]:
    """A pandas-syntax row condition runs as Spark SQL: the simple comparisons the generated
    suites use (``status=="ok"``) read the same in both."""
    kwargs = dict(exp.get("kwargs") or {})
    if kwargs.get("condition_parser") == "pandas":
        kwargs["condition_parser"] = "spark"
    return {**exp, "kwargs": kwargs}


def _adopt_spark(o: Outcome, r: Any, listed_key: str = "partial_unexpected_index_list") -> None:
    """GX's result, with the examples and their rows taken from the index list, ordered by
    row (GX on Spark lists them in whatever order its plan produced), the first 20."""
    adopt_result(o, r)
    listed = (r.result or {}).get(listed_key) or []
    if not listed or not all(isinstance(x, dict) and ROW_COLUMN in x for x in listed):
        return
    column = o.kwargs.get("column")
    if isinstance(column, str) and all(column in x for x in listed):
        pairs = sorted(((int(x[ROW_COLUMN]), x[column]) for x in listed), key=lambda p: p[0])
        o.unexpected_rows = [p[0] for p in pairs[:EXAMPLES]]
        o.unexpected_examples = [p[1] for p in pairs[:EXAMPLES]]
    else:
        o.unexpected_rows = sorted(int(x[ROW_COLUMN]) for x in listed)[:EXAMPLES]


def _columns_read(exps: Sequence[dict[str, Any]], columns: Sequence[str]) -> list[str]:
    """The columns of ``columns`` the expectations read: those they name, and any whose name
    appears in a row condition; all of them when an expectation names none."""
    out: set[str] = set()
    for exp in exps:
        kw = exp.get("kwargs") or {}
        named = [kw[k] for k in ("column", "column_A", "column_B") if isinstance(kw.get(k), str)]
        named += [c for c in kw.get("column_list") or [] if isinstance(c, str)]
        condition = kw.get("row_condition")
        if condition is not None:
            named += [c for c in columns if c in str(condition)]
        if not named and expectation_kind(exp["type"], kw) != "row_count":
            return list(columns)
        out.update(named)
    return [c for c in columns if c in out]


def _cached(df: Any, exps: Sequence[dict[str, Any]]) -> Any:
    """Only the columns the expectations read, in contiguous row ranges kept in row order
    (so GX's first unexpected rows stay the first by row; a small file would otherwise be
    one partition), persisted: every expectation reads it again."""
    from pyspark import StorageLevel

    columns = [c for c in df.columns if c != ROW_COLUMN]
    narrow = df.select(*_columns_read(exps, columns), ROW_COLUMN)
    parts = max(df.sparkSession.sparkContext.defaultParallelism, df.rdd.getNumPartitions())
    narrow = narrow.repartitionByRange(parts, ROW_COLUMN).sortWithinPartitions(ROW_COLUMN)
    return narrow.persist(StorageLevel.MEMORY_AND_DISK)


def validate_frame(df: Any, suites: Sequence[Suite], *, cache: bool = False) -> list[Outcome]:
    """Run ``suites`` (all for one table) on ``df`` (which carries ``ROW_COLUMN``); with
    ``cache``, on a persisted copy of the columns they read (table-shape expectations see
    ``df`` itself, without ``ROW_COLUMN``)."""
    gx = _SparkGx()
    outcomes, flat = number_expectations(suites)
    shape = [(idx, _for_spark(exp)) for idx, exp, kind in flat if kind == "schema"]
    other = [(idx, _for_spark(exp)) for idx, exp, kind in flat if kind != "schema"]
    if shape:
        vd = gx.definition(shape, outcomes)
        if vd is not None:
            for idx, r in gx.run(vd, df.drop(ROW_COLUMN), rows=False):
                adopt_result(outcomes[idx], r)
    if not other:
        return [outcomes[i] for i in range(len(outcomes))]
    data = _cached(df, [e for _, e in other]) if cache else df
    try:
        _validate_rows(gx, data, other, outcomes)
    finally:
        if cache:
            data.unpersist()
    return [outcomes[i] for i in range(len(outcomes))]


def _validate_rows(
    gx: _SparkGx, df: Any, exps: list[tuple[int, dict[str, Any]]], outcomes: dict[int, Outcome]
) -> None:
    vd = gx.definition(exps, outcomes)
    if vd is not None:
        for idx, r in gx.run(vd, df):
            _adopt_spark(outcomes[idx], r)
    # Uniqueness is a window over the values: the 20 rows GX lists are any 20 duplicates. The
    # local engine lists the first 20 by row, so fetch them all (when not too many) and cut.
    again = [
        (idx, exp)
        for idx, exp in exps
        if expectation_kind(exp["type"], outcomes[idx].kwargs) == "unique"
        and EXAMPLES < (outcomes[idx].unexpected_count or 0) <= COMPLETE_LIMIT
    ]
    if again:
        vd = gx.definition(again, outcomes)
        if vd is not None:
            for idx, r in gx.run(vd, df, complete=True):
                _adopt_spark(outcomes[idx], r, listed_key="unexpected_index_list")


def _as_recorded(records: LabelRecords, outcomes: list[Outcome]) -> None:
    """Replace Spark's typed example values by the values the records hold."""
    rows = {
        r
        for o in outcomes
        if isinstance(o.kwargs.get("column"), str)
        and len(o.unexpected_rows) == len(o.unexpected_examples)
        for r in o.unexpected_rows
    }
    found = records.values(rows)
    for o in outcomes:
        column = o.kwargs.get("column")
        if not isinstance(column, str) or len(o.unexpected_rows) != len(o.unexpected_examples):
            continue
        for i, row in enumerate(o.unexpected_rows):
            value = found.get(row, {}).get(column)
            if value is not None:
                o.unexpected_examples[i] = value


def validate_table(
    spark: Any, project: Project, table: Table, suites: Sequence[Suite]
) -> list[Outcome]:
    """The outcomes of ``suites`` (all for ``table``) on the table as Spark builds it."""
    if table == "manifest":
        return validate_frame(
            manifest_frame(spark, str(project.paths.manifest)), suites, cache=True
        )
    fields = [(f.name, f.type) for f in project.spec.fields]
    records = labels_frame(spark, str(project.paths.labels), fields)
    try:
        outcomes = validate_frame(records.frame, suites)
        _as_recorded(records, outcomes)
    finally:
        records.unpersist()
    return outcomes
