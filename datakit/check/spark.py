"""``datakit check --engine spark``: the check's per-record work as Spark jobs.

Nothing here decides what is valid, paired or counted: the rules are the local engine's
(``census.validate_lines`` / ``census.census_file_group`` with the same compiled validator,
``census.pairing_problem``, ``indicators.classes_of`` / ``attribute_value``, the helpers in
``engine``, Great Expectations' own expectations). This module distributes them and brings
back only what the driver needs: the errors (one row per error, so bounded by the errors,
not by the records) and aggregated counts. The indicators are then computed on the driver by
the same functions as for the local engine.

* **Census of labels.jsonl**: the driver splits the file into byte ranges from its size
  alone. A task owns the lines that *start* in its range (Hadoop-style: it skips the partial
  first line unless the range starts at 0, and reads past its end to finish its last line),
  reads those bytes with ``pyarrow.fs`` (any filesystem pyarrow reaches) and runs
  ``validate_lines`` on them undecoded, so invalid UTF-8 stays a 파일/encoding error. Line
  numbers are local to the range and fixed with a prefix sum over the per-range line counts.
* **Per-item label files**: the driver lists them in the local engine's order; groups of
  paths are parallelised and each group runs ``census_file_group``.
* **Pairing, completeness, diversity**: the per-record facts (item, file, line, valid,
  facets as JSON text) form a DataFrame joined with the manifest; the first record of an item
  is a window ``row_number`` in file order (labels.jsonl by line, then the files by name).
  Class and attribute counts are Spark aggregations.
* **Expectation suites**: ``spark_expectations``.

:class:`SparkCheckEngine` is the check's Spark engine (``engine.CheckEngine``): it returns
the local engine's ``Measures`` and outcomes.

The format (형식성), semantic and agreement indicators stay on the driver, shared with the
local engine: they read the manifest's columns, the inspection verdicts and agreement.json.

Where the engines can differ (everything else is equal, tested on the bundled examples, on
data with every error class and on 1,000,000 records):

* expectation suites over the label table: Spark types the columns from the field
  dictionary, pandas keeps each record's Python value. A value of the wrong JSON type (a
  형식 error in the census anyway) is null in an integer/number/boolean column and its JSON
  text in a string column, so an expectation over that column may count it differently;
  ``expect_column_values_to_be_of_type`` names Spark types; aggregate figures (means,
  quantiles) are Spark's (GX uses approximate quantiles on Spark);
* a pandas-syntax ``row_condition`` runs as Spark SQL: plain comparisons (``status=="ok"``,
  what the generated suites use) mean the same, pandas-only syntax fails as GX reports it;
* uniqueness with more than ``spark_expectations.COMPLETE_LIMIT`` duplicated rows lists 20
  of them as examples, not the first 20;
* per-item label files are read by the executors at the driver's path (a filesystem they
  share); labels.jsonl and the manifest are read through pyarrow/Spark filesystems.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from datakit.check import indicators as ind
from datakit.check.census import (
    FILES_PER_TASK,
    CensusOptions,
    CensusResult,
    RecordError,
    pairing_problem,
)
from datakit.check.engine import (
    CheckInputs,
    Measures,
    PhaseCallback,
    Progress,
    Table,
    composition_sources,
    facet_key,
    manifest_attribute_columns,
    source_file_name,
)
from datakit.check.spark_jobs import (
    arrow_batch,
    arrow_schema,
    byte_ranges,
    file_size,
    one_task_per_row,
    owned_bytes,
)

if TYPE_CHECKING:
    from datakit.check.expectations import Outcome, Suite
    from datakit.engine import Engine
    from datakit.project import Project

_JSONL, _FILES = 0, 1  # the parts, in the order the local engine merges them
_ORDER_SHIFT = 40  # a record's place in file order: part << 40 | line (or file index)

# Output schemas of the mapInArrow tasks (Spark DDL; ``arrow_schema`` gives the Arrow one).
# The census: one row per fact (F), error (E) or range summary (S).
_CENSUS_COLUMNS = (
    "tag string, part int, chunk int, seq long, k int, item string, file string, line long, "
    "valid boolean, facets string, ekind string, epath string, erule string, "
    "emsg string, n_records long, n_valid long, n_disagree long, n_lines long"
)
_PAIRING_COLUMNS = (
    "part int, seq long, item string, file string, line long, valid boolean, epath string, "
    "erule string, emsg string, what string, attr string, value string, n long, first long"
)
_COUNT_COLUMNS = "what string, attr string, value string, n long, first long"


# -- census tasks (executors) -------------------------------------------------------------------


def _census_batch(
    part: int, chunk: int, res: CensusResult, seqs: Callable[[list[Any]], list[int]], lines: int
) -> Any:
    """One Arrow batch of census rows, built column by column (a million facts per range is
    common): the facts (facets as one JSON array), the errors, then the range's summary."""
    import orjson
    import pyarrow as pa

    f, errors = res.facts, res.errors
    nf, ne = len(f.items), len(errors)
    gap_f, gap_e = [None] * nf, [None] * ne
    dumps = orjson.dumps
    cols: dict[str, list[Any]] = {
        "tag": ["F"] * nf + ["E"] * ne + ["S"],
        "part": [part] * (nf + ne + 1),
        "chunk": [chunk] * (nf + ne + 1),
        "seq": [*seqs(f.files if part == _FILES else f.lines),
                *seqs([e.file if part == _FILES else e.line for e in errors]), None],
        "k": [*gap_f, *range(ne), None],
        "item": [*f.items, *(e.item for e in errors), None],
        "file": [*f.files, *(e.file for e in errors), None],
        "line": [*f.lines, *(e.line for e in errors), None],
        "valid": [*f.schema_valid, *gap_e, None],
        "facets": [*(dumps(x).decode() for x in f.facets), *gap_e, None],
        "ekind": [*gap_f, *(e.kind for e in errors), None],
        "epath": [*gap_f, *(e.path for e in errors), None],
        "erule": [*gap_f, *(e.rule for e in errors), None],
        "emsg": [*gap_f, *(e.message for e in errors), None],
    }  # fmt: skip
    gap = [None] * (nf + ne)
    for name, value in (
        ("n_records", res.records),
        ("n_valid", res.valid),
        ("n_disagree", res.disagreements),
        ("n_lines", lines),
    ):
        cols[name] = [*gap, value]  # fmt: skip
    return pa.RecordBatch.from_pydict(cols, schema=arrow_schema(_CENSUS_COLUMNS))


def _jsonl_task(
    location: str, name: str, opts: CensusOptions
) -> Callable[[Iterator[Any]], Iterator[Any]]:
    """mapInArrow function: (chunk, start, end) → census rows of the lines owned."""

    def run(batches: Iterator[Any]) -> Iterator[Any]:
        from datakit.check.census import validate_lines

        for b in batches:
            d = b.to_pydict()
            for chunk, start, end in zip(d["chunk"], d["start"], d["end"], strict=True):
                data = owned_bytes(location, start, end)
                # local line numbers (1-based within the range); the driver adds the offset
                res = validate_lines(data.split(b"\n"), 1, opts, name)
                yield _census_batch(_JSONL, chunk, res, list, data.count(b"\n"))

    return run


def _indices(names: list[str], first: int) -> Callable[[list[Any]], list[int]]:
    """file names → their place in the sorted list of all files."""
    index = {n: first + i for i, n in enumerate(names)}

    def seqs(files: list[Any]) -> list[int]:
        return [index[f] for f in files]

    return seqs


def _files_task_fn(opts: CensusOptions) -> Callable[[Iterator[Any]], Iterator[Any]]:
    """mapInArrow function: (chunk, first, paths, names) → census rows of those files."""

    def run(batches: Iterator[Any]) -> Iterator[Any]:
        from datakit.check.census import census_file_group

        for b in batches:
            d = b.to_pydict()
            for chunk, first, paths, names in zip(
                d["chunk"], d["first"], d["paths"], d["names"], strict=True
            ):
                res = census_file_group(paths, names, opts)
                yield _census_batch(_FILES, chunk, res, _indices(names, first), 0)

    return run


# -- the census on Spark (driver) ---------------------------------------------------------------


def _census(
    spark: Any,
    opts: CensusOptions,
    labels: tuple[str, str] | None,
    files: tuple[Sequence[str], Sequence[str]] | None,
) -> tuple[Any, CensusResult, dict[int, list[RecordError]], int, Any]:
    """(facts DataFrame, census counts, census errors per part in file order, labels.jsonl
    records, the persisted DataFrame to unpersist when done). The facts carry global line
    numbers (labels.jsonl) or file indices in ``seq`` and the order key ``ord``
    (part << 40 | seq)."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    frames = []
    if labels is not None:
        location, name = labels
        ranges = byte_ranges(file_size(location), spark.sparkContext.defaultParallelism)
        work = [(i, a, b) for i, (a, b) in enumerate(ranges)]
        if work:
            frames.append(
                one_task_per_row(spark, work, "chunk int, start long, end long").mapInArrow(
                    _jsonl_task(location, name, opts), _CENSUS_COLUMNS
                )
            )
    if files is not None and files[0]:
        paths, names = list(files[0]), list(files[1])
        per = max(1, min(FILES_PER_TASK, -(-len(paths) // spark.sparkContext.defaultParallelism)))
        groups = [
            (c, i, paths[i : i + per], names[i : i + per])
            for c, i in enumerate(range(0, len(paths), per))
        ]
        frames.append(
            one_task_per_row(
                spark, groups, "chunk int, first long, paths array<string>, names array<string>"
            ).mapInArrow(_files_task_fn(opts), _CENSUS_COLUMNS)
        )
    census = CensusResult()
    errors: dict[int, list[RecordError]] = {_JSONL: [], _FILES: []}
    if not frames:
        empty = spark.createDataFrame([], _CENSUS_COLUMNS).drop("tag")
        return empty.withColumn("ord", F.lit(0).cast("long")), census, errors, 0, empty
    rows = frames[0]
    for other in frames[1:]:
        rows = rows.unionByName(other)
    rows = rows.persist(StorageLevel.MEMORY_AND_DISK)

    small = rows.filter(F.col("tag") != "F").drop("facets").collect()  # errors and summaries
    summaries = sorted((r for r in small if r.tag == "S"), key=lambda r: (r.part, r.chunk))
    line_counts = [r.n_lines for r in summaries if r.part == _JSONL]
    offsets = [0] * len(line_counts)
    for i in range(1, len(line_counts)):
        offsets[i] = offsets[i - 1] + line_counts[i - 1]
    jsonl_records = 0
    for s in summaries:
        census.records += s.n_records
        census.valid += s.n_valid
        census.disagreements += s.n_disagree
        if s.part == _JSONL:
            jsonl_records += s.n_records
    for e in sorted((r for r in small if r.tag == "E"), key=lambda r: (r.part, r.chunk, r.k)):
        line = None if e.line is None else e.line + offsets[e.chunk]
        errors[e.part].append(RecordError(e.ekind, e.file, line, e.item, e.epath, e.erule, e.emsg))

    facts = rows.filter(F.col("tag") == "F").select(
        "part", "chunk", "seq", "item", "file", "line", "valid", "facets"
    )
    if offsets:
        shift = F.when(
            F.col("part") == _JSONL, F.get(F.array(*[F.lit(o) for o in offsets]), F.col("chunk"))
        ).otherwise(F.lit(0))
        facts = facts.withColumn("seq", F.col("seq") + shift).withColumn(
            "line", F.col("line") + shift
        )
    facts = facts.withColumn(
        "ord", F.shiftleft(F.col("part").cast("long"), _ORDER_SHIFT) + F.col("seq")
    )
    return facts, census, errors, jsonl_records, rows


# -- pairing and figures (executors) -----------------------------------------------------------


def _pairing_task(
    fn_i: int | None, attrs: Sequence[tuple[str, int]]
) -> Callable[[Iterator[Any]], Iterator[Any]]:
    """mapInArrow function: facts joined with the manifest → one row per pairing error
    (``census.pairing_problem``), and partial counts over the delivered records (the first
    record of an item whose status is ``ok``): records, classes (``indicators.classes_of``
    of facet 0, the label field) and the ``attrs`` read from the labels (``facet_key``)."""

    def run(batches: Iterator[Any]) -> Iterator[Any]:
        import orjson

        counts: dict[tuple[str, str, str], list[int]] = {}
        loads = orjson.loads
        for b in batches:
            d = b.to_pydict()
            errors: list[dict[str, Any]] = []
            for i, status in enumerate(d["status"]):
                facets = None
                expected = got = None
                if fn_i is not None:
                    facets = loads(d["facets"][i])
                    expected, got = d["expected"][i], facets[fn_i]
                problem = pairing_problem(status, d["rn_part"][i] > 1, expected, got)
                if problem is not None:
                    path, rule, message = problem
                    errors.append(
                        {"part": d["part"][i], "seq": d["seq"][i], "item": d["item"][i],
                         "file": d["file"][i], "line": d["line"][i], "valid": d["valid"][i],
                         "epath": path, "erule": rule, "emsg": message}
                    )  # fmt: skip
                if status != "ok" or d["rn_all"][i] != 1:
                    continue
                order = d["ord"][i]
                _tally(counts, "delivered", "", "", order)
                values = facets if facets is not None else loads(d["facets"][i])
                if not values:
                    continue
                for c in ind.classes_of(values[0]):
                    _tally(counts, "class", "", c, order)
                for attr, k in attrs:
                    _tally(counts, "attr", attr, facet_key(values[k]), order)
            if errors:
                yield arrow_batch(_PAIRING_COLUMNS, errors)
        if counts:
            yield _count_batch(counts, _PAIRING_COLUMNS)

    return run


def _tally(
    counts: dict[tuple[str, str, str], list[int]], what: str, attr: str, value: str, order: int
) -> None:
    c = counts.get((what, attr, value))
    if c is None:
        counts[(what, attr, value)] = [1, order]
    else:
        c[0] += 1
        c[1] = min(c[1], order)


def _count_batch(counts: dict[tuple[str, str, str], list[int]], ddl: str) -> Any:
    rows = [
        {"what": w, "attr": a, "value": v, "n": n, "first": first}
        for (w, a, v), (n, first) in counts.items()
    ]
    return arrow_batch(ddl, rows)


def _manifest_attrs_task(
    columns: Sequence[str], attrs: Sequence[str], group_key: str | None
) -> Callable[[Iterator[Any]], Iterator[Any]]:
    """mapInArrow function: manifest rows → partial counts of ``indicators.attribute_value``."""

    def run(batches: Iterator[Any]) -> Iterator[Any]:
        counts: dict[tuple[str, str, str], list[int]] = {}
        for b in batches:
            d = b.to_pydict()
            for r in range(b.num_rows):
                row = {c: d[c][r] for c in columns}
                for a in attrs:
                    _tally(counts, "attr", a, ind.attribute_value(row, a, group_key), d["_mrow"][r])
        if counts:
            yield _count_batch(counts, _COUNT_COLUMNS)

    return run


def _expected_names_task() -> Callable[[Iterator[Any]], Iterator[Any]]:
    def run(batches: Iterator[Any]) -> Iterator[Any]:
        import pyarrow as pa

        for b in batches:
            d = b.to_pydict()
            expected = [None if p is None else source_file_name(p) for p in d["source_path"]]
            yield pa.RecordBatch.from_pydict(
                {"id": d["id"], "status": d["status"], "expected": expected},
                schema=pa.schema([("id", pa.string()), ("status", pa.string()),
                                  ("expected", pa.string())]),
            )  # fmt: skip

    return run


# -- pairing and figures (driver) ----------------------------------------------------------------


def _manifest_frame(spark: Any, location: str) -> Any:
    from pyspark.sql import functions as F

    from datakit.engine import spark_path

    return spark.read.parquet(spark_path(location)).withColumn(
        "_mrow", F.monotonically_increasing_id()
    )


def _ordered(rows: list[Any]) -> dict[str, dict[str, int]]:
    """attr → value → count, values in order of first appearance (as a Counter fills)."""
    out: dict[str, dict[str, int]] = {}
    for r in sorted(rows, key=lambda r: (r.first, r.value)):
        out.setdefault(r.attr, {})[r.value] = int(r.n)
    return out


def measure(
    spark: Any,
    project: Project,
    *,
    schema: dict[str, Any],
    facet_fields: list[str],
    labels: tuple[str, str] | None,
    files: tuple[Sequence[str], Sequence[str]] | None,
    progress: Progress | None = None,
) -> Measures:
    """Census, pairing with the manifest, completeness and diversity figures on Spark.

    ``labels`` is (location of labels.jsonl, name in errors); ``files`` is (locations, names)
    of the per-item label files in the local engine's order."""
    import json

    from pyspark import StorageLevel
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    from datakit.tables import MANIFEST_SCHEMA

    spec = project.spec
    steps = 4
    opts = CensusOptions(json.dumps(schema, sort_keys=True), tuple(facet_fields))
    facts, census, census_errors, jsonl_records, cached = _census(spark, opts, labels, files)
    if progress is not None:
        progress(1, steps)

    # -- pairing: the manifest's last row per id, as a dict built from it would hold ------------
    check_names = "file_name" in facet_fields
    mf = _manifest_frame(spark, str(project.paths.manifest))
    latest = mf.groupBy("id").agg(
        F.max_by("status", "_mrow").alias("status"),
        F.max_by("source_path", "_mrow").alias("source_path"),
    )
    if check_names:
        latest = latest.mapInArrow(
            _expected_names_task(), "id string, status string, expected string"
        )
    else:
        latest = latest.select("id", "status", F.lit(None).cast("string").alias("expected"))
    fn_i = facet_fields.index("file_name") if check_names else None
    joined = facts.join(latest, facts["item"] == latest["id"], "left").drop("id")
    # One window in file order per item: the first record overall (delivered when ok) and
    # the place among the records of its own part (pairing looks for duplicates per part).
    in_order = Window.partitionBy("item").orderBy("ord")
    w = in_order.rowsBetween(Window.unboundedPreceding, 0)
    joined = joined.withColumn("rn_all", F.row_number().over(in_order))
    joined = joined.withColumn(
        "rn_part",
        F.when(
            F.col("part") == _JSONL, F.sum((F.col("part") == _JSONL).cast("int")).over(w)
        ).otherwise(F.sum((F.col("part") == _FILES).cast("int")).over(w)),
    )
    _, maybe_manifest = composition_sources(spec, facet_fields, True)
    if maybe_manifest:  # the delivered ids are needed again below
        joined = joined.persist(StorageLevel.MEMORY_AND_DISK)
    attrs = [(a, facet_fields.index(a)) for a in spec.targets.composition if a in facet_fields]
    out = (
        joined.select("part", "seq", "ord", "item", "file", "line", "valid", "status",
                      "expected", "facets", "rn_part", "rn_all")
        .mapInArrow(_pairing_task(fn_i, attrs), _PAIRING_COLUMNS)
        .persist(StorageLevel.MEMORY_AND_DISK)  # small: errors and partial counts
    )  # fmt: skip
    pairing = out.filter(F.col("what").isNull()).collect()
    counted = (
        out.filter(F.col("what").isNotNull())
        .groupBy("what", "attr", "value")
        .agg(F.sum("n").alias("n"), F.min("first").alias("first"))
        .collect()
    )
    for part in (_JSONL, _FILES):
        # The local engine's order: a part's census errors, then its pairing errors.
        mine = sorted((p for p in pairing if p.part == part), key=lambda p: p.seq)
        census.errors.extend(census_errors[part])
        census.errors.extend(
            RecordError("파일", p.file, p.line, p.item, p.epath, p.erule, p.emsg) for p in mine
        )
        census.valid -= sum(1 for p in mine if p.valid)
    if progress is not None:
        progress(2, steps)

    # -- completeness and diversity over the delivered items -----------------------------------
    delivered = sum(int(r.n) for r in counted if r.what == "delivered")
    from_labels, from_manifest = composition_sources(spec, facet_fields, delivered > 0)
    per_class: Counter[str] = Counter()
    for r in sorted((r for r in counted if r.what == "class"), key=lambda r: r.first):
        per_class[r.value] = int(r.n)
    composition = _ordered([r for r in counted if r.what == "attr" and r.attr in from_labels])
    if progress is not None:
        progress(3, steps)

    if from_manifest:
        columns = manifest_attribute_columns(MANIFEST_SCHEMA.names, from_manifest)
        population = mf.select(*columns, "_mrow")
        if delivered:
            first = (F.col("status") == "ok") & (F.col("rn_all") == 1)
            ids = joined.filter(first).select(F.col("item").alias("id"))
            population = population.join(ids, "id", "left_semi")
        else:
            population = population.filter(F.col("status") == "ok")
        rows = (
            population.mapInArrow(
                _manifest_attrs_task(columns, from_manifest, spec.splits.group),
                _COUNT_COLUMNS,
            )
            .groupBy("what", "attr", "value")
            .agg(F.sum("n").alias("n"), F.min("first").alias("first"))
            .collect()
        )
        composition.update(_ordered(rows))
    composition = {a: composition.get(a, {}) for a in spec.targets.composition}
    for df in (joined, out, cached):
        df.unpersist()
    if progress is not None:
        progress(4, steps)
    return Measures(census, jsonl_records, delivered, per_class, composition)


# -- the engine -----------------------------------------------------------------------------------


class SparkCheckEngine:
    """The check on Spark: the census and figures as Spark jobs (:func:`measure`), the suites
    through GX's Spark data source (``spark_expectations``). pyspark is required at once, so
    a missing install fails before any work, with the install hint."""

    name: Engine = "spark"

    def __init__(self) -> None:
        from datakit.engine import require_pyspark

        require_pyspark()

    @staticmethod
    def session(project: Project) -> Any:
        from datakit.engine import spark_session

        return spark_session(project.spec, app_name="datakit check")

    def measure(
        self, inputs: CheckInputs, progress: Progress | None, phase: PhaseCallback
    ) -> Measures:
        project, paths, files = inputs.project, inputs.project.paths, inputs.files
        phase("Spark: 구문 정확성 · 완전성 · 다양성")
        return measure(
            self.session(project),
            project,
            schema=inputs.schema,
            facet_fields=inputs.facet_fields,
            labels=(str(paths.labels), paths.rel(paths.labels)) if paths.labels.is_file() else None,
            files=([str(f) for f in files], [paths.rel(f) for f in files]) if files else None,
            progress=progress,
        )

    def validate(
        self, inputs: CheckInputs, table: Table, suites: Sequence[Suite], rows: int,
        progress: Progress | None,
    ) -> list[Outcome]:  # fmt: skip
        from datakit.check.spark_expectations import validate_table

        outcomes = validate_table(self.session(inputs.project), inputs.project, table, suites)
        if progress is not None:
            progress(rows, rows)
        return outcomes

    def keep_label_table(self, project: Project, labels_sha256: str) -> None:
        """Nothing: the label table is not parsed on the driver (it need not fit there), so
        ``datakit package`` reads labels.jsonl itself."""
