"""Expectation suites (Great Expectations 1.x) over tables of any size.

Suites are GX suite JSON files in ``expectations/``: the generated ``datakit.labels.json``
and ``datakit.manifest.json`` plus any suite users add. ``meta.datakit.table`` names the
table a suite is for (``labels`` or ``manifest``); a user suite without it is matched by
its file name (a name containing ``labels`` or ``manifest``), else it is refused.

A table that fits in one batch is validated by GX in one run, exactly as GX would. A
larger table is validated batch by batch with bounded memory, and the results combined:

* row-wise expectations (``expect_column_values_to_*``, lengths, pairs, multicolumn …)
  run on every batch; element, missing and unexpected counts add up, and ``mostly`` is
  applied to the totals;
* uniqueness (``expect_column_values_to_be_unique``, ``expect_compound_columns_to_be_unique``)
  is checked across batches: 64-bit hashes of every value are kept (8 bytes a row), and
  values whose hash repeats are counted exactly in a second pass;
* schema expectations (column exists, column set/order/count) run on the first batch;
* row-count expectations are decided from the total row count;
* any other (aggregate) expectation runs once on only the columns it names.

GX never sees a text longer than :data:`VALUE_CAP` characters (more when a length bound or
a value set in the suites is longer): such a value is cut to its start plus a marker that
keeps its full length and a digest (:func:`cap_text`). GX and pandas hold and copy a
value many times over (issue 13: a 50 MiB text ended in a MemoryError asking for 58 GiB),
while the cut value still decides every length bound, value set and uniqueness the way
the whole one would. A
pattern is matched against the cut value only; the census checks the whole value against
the label schema, patterns included. Reports only show clipped examples.

The seam is :func:`validate_batches`: a callable returning a fresh iterator of Arrow
record batches or pandas DataFrames, and the suites. It knows nothing about projects.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from datakit.errors import InputError

TableName = Literal["labels", "manifest"]
Progress = Callable[[int, int | None], None]
BATCH_ROWS = 1_000_000
EXAMPLES = 20
VALUE_CAP = 1 << 16  # characters of one text value GX gets (see the module docstring)
EXAMPLE_CHARS = 200  # characters of one example value in the reports
# DataFrame.attrs: no text in the batch is longer than _LONGEST, except texts already cut
# (cap_text) at _CUT_AT characters.
_LONGEST = "datakit_longest_text"
_CUT_AT = "datakit_cut_at"
_LENGTH_TYPES = ("expect_column_value_lengths_to_",)

_ROW_PREFIXES = (
    "expect_column_values_to_",
    "expect_column_value_lengths_to_",
    "expect_column_pair_values_",
    "expect_multicolumn_",
    "expect_select_column_values_to_be_unique_within_record",
)
_UNIQUE = ("expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique")
_SCHEMA = (
    "expect_column_to_exist",
    "expect_table_columns_to_match_ordered_list",
    "expect_table_columns_to_match_set",
    "expect_table_column_count_to_equal",
    "expect_table_column_count_to_be_between",
)
_ROW_COUNT = ("expect_table_row_count_to_be_between", "expect_table_row_count_to_equal")


@dataclass(frozen=True)
class Suite:
    name: str
    table: TableName
    file: str
    expectations: tuple[dict[str, Any], ...]
    generated: bool = False


@dataclass
class Outcome:
    """One expectation's combined result over the whole table."""

    suite: str
    table: str
    index: int
    type: str
    kwargs: dict[str, Any]
    rule: str | None
    success: bool = True
    element_count: int | None = None
    missing_count: int | None = None
    unexpected_count: int | None = None
    observed_value: Any = None
    unexpected_examples: list[Any] = field(default_factory=list)
    unexpected_rows: list[int] = field(default_factory=list)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "suite": self.suite,
            "table": self.table,
            "index": self.index,
            "type": self.type,
            "column": self.kwargs.get("column"),
            "kwargs": _jsonable(_clipped(self.kwargs)),
            "rule": self.rule,
            "success": self.success,
            "element_count": self.element_count,
            "missing_count": self.missing_count,
            "unexpected_count": self.unexpected_count,
            "observed_value": _jsonable(_clipped(self.observed_value)),
            "unexpected_examples": _jsonable(_clipped(self.unexpected_examples[:EXAMPLES])),
            "unexpected_rows": self.unexpected_rows[:EXAMPLES],
            "error": self.error,
        }


def _clipped(value: Any) -> Any:
    """``value`` with every text longer than :data:`EXAMPLE_CHARS` cut for the reports."""
    if isinstance(value, str):
        if len(value) <= EXAMPLE_CHARS:
            return value
        marked = _CAP_MARK.search(value, max(0, len(value) - 120))
        n = int(marked.group(1).replace(",", "")) if marked else len(value)
        return f"{value[:EXAMPLE_CHARS]}… ({n:,} characters)"
    if isinstance(value, list | tuple):
        return [_clipped(v) for v in value]
    if isinstance(value, dict):
        return {k: _clipped(v) for k, v in value.items()}
    return value


def _jsonable(value: Any) -> Any:
    # NaN (pandas' missing value) and infinities are not JSON: they become null.
    dumped = json.dumps(value, ensure_ascii=False, default=str)
    return json.loads(dumped, parse_constant=lambda _: None)


# -- loading suites -------------------------------------------------------------------------


def load_suites(folder: Path, *, rel: Callable[[Path], str] = str) -> list[Suite]:
    """Every ``*.json`` suite in ``folder`` (sorted by file name)."""
    suites: list[Suite] = []
    if not folder.is_dir():
        return suites
    for path in sorted(folder.glob("*.json")):
        name = rel(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise InputError(
                f"not a JSON expectation suite: {exc}",
                file=name,
                hint="fix or remove the file; suites are Great Expectations suite JSON",
            ) from exc
        if not isinstance(data, dict) or not isinstance(data.get("expectations"), list):
            raise InputError(
                "an expectation suite needs an 'expectations' list",
                file=name,
                field="expectations",
                hint="write the suite in Great Expectations' suite JSON format",
            )
        meta: dict[str, Any] = data["meta"] if isinstance(data.get("meta"), dict) else {}
        dk: dict[str, Any] = meta["datakit"] if isinstance(meta.get("datakit"), dict) else {}
        table = dk.get("table") or _table_from_name(path.name)
        if table not in ("labels", "manifest"):
            raise InputError(
                f"cannot tell which table the suite is for (meta.datakit.table is {table!r})",
                file=name,
                field="meta.datakit.table",
                hint='add "meta": {"datakit": {"table": "labels"}} (or "manifest"), or put '
                "'labels' or 'manifest' in the file name",
            )
        for i, exp in enumerate(data["expectations"]):
            if not isinstance(exp, dict) or not isinstance(exp.get("type"), str):
                raise InputError(
                    "an expectation needs a 'type' (e.g. expect_column_values_to_not_be_null)",
                    file=name,
                    field=f"expectations[{i}].type",
                )
        suites.append(
            Suite(
                name=str(data.get("name") or path.stem),
                table="labels" if table == "labels" else "manifest",
                file=name,
                expectations=tuple(data["expectations"]),
                generated=bool(dk.get("generated")),
            )
        )
    return suites


def _table_from_name(name: str) -> str | None:
    lowered = name.lower()
    if "labels" in lowered or "label" in lowered.split("."):
        return "labels"
    if "manifest" in lowered:
        return "manifest"
    return None


# -- GX plumbing ----------------------------------------------------------------------------


def expectation_kind(exp_type: str, kwargs: dict[str, Any]) -> str:
    """How an expectation is run: ``row`` (batch by batch, counts added up), ``unique``,
    ``schema``, ``row_count`` or ``aggregate`` (over the whole table)."""
    if exp_type in _UNIQUE:
        return "aggregate" if "row_condition" in kwargs else "unique"
    if exp_type in _SCHEMA:
        return "schema"
    if exp_type in _ROW_COUNT:
        return "row_count"
    if exp_type.startswith(_ROW_PREFIXES):
        return "row"
    return "aggregate"


class GxRunner:
    """One ephemeral GX context; one validation definition per expectation group. Batches
    arrive as pandas frames; ``spark_expectations`` subclasses it for Spark frames."""

    def __init__(self) -> None:
        os.environ.setdefault("TQDM_DISABLE", "1")
        import logging

        import great_expectations as gx

        logging.getLogger("great_expectations").setLevel(logging.ERROR)
        self.gx = gx
        self.ctx = gx.get_context(mode="ephemeral")
        try:
            from great_expectations.data_context.types.base import ProgressBarsConfig

            self.ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
        except Exception:  # pragma: no cover - older/newer GX without this knob
            pass
        self.asset = self.data_source().add_dataframe_asset("table")
        self.n = 0

    def data_source(self) -> Any:
        """The GX data source the batches arrive through (the Spark engine overrides it)."""
        return self.ctx.data_sources.add_pandas("datakit")

    def definition(
        self, exps: Sequence[tuple[int, dict[str, Any]]], outcomes: dict[int, Outcome]
    ) -> Any | None:
        """A ValidationDefinition for the expectations (index, expectation). Expectations GX
        refuses (unknown type, bad kwargs) are marked failed with the reason."""
        from great_expectations.expectations.expectation_configuration import (
            ExpectationConfiguration,
        )

        self.n += 1
        domain_objs = []
        for idx, exp in exps:
            meta = {**(exp.get("meta") or {}), "datakit_index": idx}
            try:
                cfg = ExpectationConfiguration(
                    type=exp["type"], kwargs=dict(exp.get("kwargs") or {}), meta=meta
                )
                domain_objs.append(cfg.to_domain_obj())
            except Exception as exc:
                outcomes[idx].success = False
                outcomes[idx].error = f"{type(exc).__name__}: {exc}"
        if not domain_objs:
            return None
        suite = self.ctx.suites.add(
            self.gx.ExpectationSuite(name=f"s{self.n}", expectations=domain_objs)
        )
        batch = self.asset.add_batch_definition_whole_dataframe(f"b{self.n}")
        return self.ctx.validation_definitions.add(
            self.gx.ValidationDefinition(name=f"v{self.n}", data=batch, suite=suite)
        )

    @staticmethod
    def run(vd: Any, df: Any) -> list[tuple[int, Any]]:
        res = vd.run(batch_parameters={"dataframe": df}, result_format="SUMMARY")
        return [(int(r.expectation_config.meta["datakit_index"]), r) for r in res.results]


def _error_of(r: Any) -> str | None:
    info = r.exception_info or {}
    if isinstance(info, dict) and info.get("raised_exception"):
        return str(info.get("exception_message") or "expectation raised an exception")
    if isinstance(info, dict):
        for v in info.values():
            if isinstance(v, dict) and v.get("raised_exception"):
                return str(v.get("exception_message") or "expectation raised an exception")
    return None


def _absorb(o: Outcome, r: Any, offset: int) -> None:
    """Add one batch's GX result for a row-wise expectation to the running totals."""
    err = _error_of(r)
    if err:
        o.success = False
        o.error = o.error or err
        return
    res = r.result or {}
    for key in ("element_count", "missing_count", "unexpected_count"):
        if key in res and res[key] is not None:
            setattr(o, key, (getattr(o, key) or 0) + int(res[key]))
    if len(o.unexpected_examples) < EXAMPLES:
        o.unexpected_examples.extend(res.get("partial_unexpected_list") or [])
        o.unexpected_rows.extend(
            offset + int(i)
            for i in (res.get("partial_unexpected_index_list") or [])
            if isinstance(i, int)
        )
    if "observed_value" in res:
        o.observed_value = res["observed_value"]


def _finish_row(o: Outcome, kwargs: dict[str, Any]) -> None:
    if o.error:
        o.success = False
        return
    unexpected = o.unexpected_count or 0
    nonmissing = (o.element_count or 0) - (o.missing_count or 0)
    mostly = kwargs.get("mostly")
    if isinstance(mostly, int | float) and nonmissing > 0:
        o.success = (1 - unexpected / nonmissing) + 1e-12 >= float(mostly)
    else:
        o.success = unexpected == 0


def adopt_result(o: Outcome, r: Any) -> None:
    """Take a whole-table GX result as it is."""
    res = r.result or {}
    o.success = bool(r.success)
    o.error = _error_of(r)
    if o.error:
        o.success = False
    o.element_count = res.get("element_count")
    o.missing_count = res.get("missing_count")
    o.unexpected_count = res.get("unexpected_count")
    o.observed_value = res.get("observed_value")
    o.unexpected_examples = list(res.get("partial_unexpected_list") or [])
    o.unexpected_rows = [
        int(i) for i in (res.get("partial_unexpected_index_list") or []) if isinstance(i, int)
    ]


# -- long texts ------------------------------------------------------------------------------

_CAP_MARK = re.compile(r"…\[([0-9,]+) characters, blake2b ([0-9a-f]{16})\]$")


def cap_text(text: str, cap: int) -> str:
    """``text`` itself, or, when it is longer than ``cap``, its first ``cap`` characters and a
    marker with its length and a digest: longer than ``cap`` like the text, equal to the cut
    of an equal text only, never equal to a text of the value sets (shorter than ``cap``)."""
    if len(text) <= cap:
        return text
    h = hashlib.blake2b(digest_size=8)
    for i in range(0, len(text), 1 << 20):  # piece by piece: no second copy of the text
        h.update(text[i : i + (1 << 20)].encode("utf-8", "surrogatepass"))
    return f"{text[:cap]}…[{len(text):,} characters, blake2b {h.hexdigest()}]"


def _cap_any(value: Any, cap: int) -> Any:
    if isinstance(value, str):
        return cap_text(value, cap)
    if isinstance(value, list):
        return [_cap_any(v, cap) for v in value]
    if isinstance(value, dict):
        return {k: _cap_any(v, cap) for k, v in value.items()}
    return value


def value_cap(suites: Sequence[Suite]) -> int:
    """How many characters of a text GX gets: :data:`VALUE_CAP`, or more when a length bound
    or a text in the suites' arguments is as long, so that cutting never changes a result."""
    cap = VALUE_CAP
    for suite in suites:
        for exp in suite.expectations:
            kwargs = exp.get("kwargs") or {}
            lengths = str(exp.get("type", "")).startswith(_LENGTH_TYPES)
            for v in _leaves(kwargs):
                if isinstance(v, str):
                    cap = max(cap, len(v) + 1)
                elif lengths and isinstance(v, int | float) and not isinstance(v, bool):
                    cap = max(cap, int(min(v, 1 << 40)) + 1)
    return cap


def _leaves(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for v in value.values():
            yield from _leaves(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _leaves(v)
    else:
        yield value


def _cap_frame(df: Any, cap: int) -> Any:
    """``df`` with every text longer than ``cap`` cut (:func:`cap_text`), also inside lists
    and dicts. Free when the batch says no text in it is that long."""
    longest = df.attrs.get(_LONGEST)
    if longest is not None and longest <= cap and df.attrs.get(_CUT_AT, cap) <= cap:
        return df
    for col in df.columns:
        s = df[col]
        if s.dtype != object and not str(s.dtype).startswith("str"):
            continue
        values = s.tolist()
        capped = [_cap_any(v, cap) for v in values]
        if any(a is not b for a, b in zip(capped, values, strict=True)):
            df[col] = s.__class__(capped, index=s.index, dtype=s.dtype, name=s.name)
    df.attrs[_LONGEST], df.attrs[_CUT_AT] = cap, cap
    return df


# -- validation ------------------------------------------------------------------------------


def _to_pandas(batch: Any) -> Any:
    import pandas as pd

    if isinstance(batch, pd.DataFrame):
        return batch
    df = batch.to_pandas()
    df.attrs[_LONGEST] = _longest_text(batch)
    return df


def _longest_text(batch: Any) -> int | None:
    """The length (bytes, at least the characters) of the longest text in an Arrow batch,
    or None when it has nested columns (a text may hide in them)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    longest = 0
    for col, f in zip(batch.columns, batch.schema, strict=True):
        t = f.type
        if pa.types.is_string(t) or pa.types.is_large_string(t):
            n = pc.max(pc.binary_length(col)).as_py()
            longest = max(longest, n or 0)
        elif pa.types.is_nested(t) or pa.types.is_dictionary(t):
            return None
    return longest


def _hashable(value: Any) -> Any:
    try:
        hash(value)
    except TypeError:
        return ("\x00json", json.dumps(value, sort_keys=True, ensure_ascii=False, default=str))
    return value


def _columns_of(kwargs: dict[str, Any]) -> list[str] | None:
    cols: list[str] = []
    for key in ("column", "column_A", "column_B"):
        if isinstance(kwargs.get(key), str):
            cols.append(kwargs[key])
    if isinstance(kwargs.get("column_list"), list):
        cols.extend(str(c) for c in kwargs["column_list"])
    if "row_condition" in kwargs:
        return None  # the condition may name any column
    return cols or None


def number_expectations(
    suites: Sequence[Suite],
) -> tuple[dict[int, Outcome], list[tuple[int, dict[str, Any], str]]]:
    """Every expectation of ``suites`` numbered in order: its (not yet run) outcome by
    number, and ``(number, expectation, kind)`` for the engines to run."""
    outcomes: dict[int, Outcome] = {}
    flat: list[tuple[int, dict[str, Any], str]] = []
    for suite in suites:
        for i, exp in enumerate(suite.expectations):
            idx = len(flat)
            kwargs = dict(exp.get("kwargs") or {})
            rule = (exp.get("meta") or {}).get("datakit_rule")
            outcomes[idx] = Outcome(suite.name, suite.table, i, exp["type"], kwargs, rule)
            flat.append((idx, exp, expectation_kind(exp["type"], kwargs)))
    return outcomes, flat


def validate_batches(
    open_batches: Callable[[], Iterator[Any]],
    suites: Sequence[Suite],
    *,
    total_rows: int | None = None,
    progress: Progress | None = None,
) -> list[Outcome]:
    """Run ``suites`` (all for one table) over the batches ``open_batches()`` yields.

    ``open_batches`` is called again when a second pass is needed (uniqueness
    verification, aggregate expectations), so it must return a fresh iterator each time.
    """
    import numpy as np
    import pandas as pd

    gx = GxRunner()
    cap = value_cap(suites)

    def prep(batch: Any) -> Any:
        return _cap_frame(_to_pandas(batch), cap)

    outcomes, flat = number_expectations(suites)
    if not flat:
        return []

    batches = open_batches()
    first = next(batches, None)
    first_df = prep(first) if first is not None else pd.DataFrame()
    second = next(batches, None) if first is not None else None
    if second is None:
        # One batch: plain GX, identical to running the suite directly.
        vd = gx.definition([(i, e) for i, e, _ in flat], outcomes)
        if vd is not None:
            for idx, r in gx.run(vd, first_df):
                adopt_result(outcomes[idx], r)
        if progress is not None:
            progress(len(first_df), len(first_df))
        return [outcomes[i] for i in range(len(flat))]

    row_exps = [(i, e) for i, e, k in flat if k == "row"]
    schema_exps = [(i, e) for i, e, k in flat if k == "schema"]
    unique_exps = [(i, e) for i, e, k in flat if k == "unique"]
    agg_exps = [(i, e) for i, e, k in flat if k == "aggregate"]
    count_exps = [(i, e) for i, e, k in flat if k == "row_count"]
    row_vd = gx.definition(row_exps, outcomes) if row_exps else None
    schema_vd = gx.definition(schema_exps, outcomes) if schema_exps else None
    hashes: dict[int, list[Any]] = {i: [] for i, _ in unique_exps}

    def unique_cols(exp: dict[str, Any]) -> list[str]:
        kw = exp.get("kwargs") or {}
        return [kw["column"]] if "column" in kw else list(kw.get("column_list") or [])

    def batch_hashes(df: Any, cols: list[str]) -> tuple[Any, Any, list[Any]]:
        """(hashes, batch positions, keys) of the rows whose value counts (not all null).

        Python's own hash of the value (a tuple for several columns) is 4-6x faster than
        pandas' hashing of Arrow strings; it is stable within this process, which is all
        the two passes need. Unhashable values (lists) are keyed by their JSON.
        """
        sub = df[cols]
        if len(cols) == 1:
            keep = np.asarray(sub.iloc[:, 0].notna())
            values = sub.iloc[:, 0].tolist()
        else:
            keep = np.asarray(sub.notna().any(axis=1))
            values = list(zip(*(sub[c].tolist() for c in cols), strict=True))
        pos = np.flatnonzero(keep)
        keys = values if len(pos) == len(values) else [values[i] for i in pos]
        try:
            h = np.fromiter(map(hash, keys), dtype=np.int64, count=len(keys))
        except TypeError:
            keys = [_hashable(k) for k in keys]
            h = np.fromiter(map(hash, keys), dtype=np.int64, count=len(keys))
        return h, pos, keys

    rows = 0
    n_batches = 0

    def feed(df: Any) -> None:
        nonlocal rows, n_batches
        if n_batches == 0 and schema_vd is not None:
            for idx, r in gx.run(schema_vd, df.head(1)):  # only the columns matter
                adopt_result(outcomes[idx], r)
        if row_vd is not None:
            for idx, r in gx.run(row_vd, df):
                _absorb(outcomes[idx], r, rows)
        for idx, exp in unique_exps:
            cols = unique_cols(exp)
            missing = [c for c in cols if c not in df.columns]
            if missing:
                outcomes[idx].error = f"column {missing[0]!r} does not exist"
                continue
            h, _, _ = batch_hashes(df, cols)
            hashes[idx].append(h)
            o = outcomes[idx]
            o.element_count = (o.element_count or 0) + len(df)
            o.missing_count = (o.missing_count or 0) + (len(df) - len(h))
        rows += len(df)
        n_batches += 1
        if progress is not None:
            progress(rows, total_rows)

    feed(first_df)
    del first_df
    feed(prep(second))
    del second
    for batch in batches:
        feed(prep(batch))

    for idx, exp in row_exps:
        _finish_row(outcomes[idx], dict(exp.get("kwargs") or {}))

    # Uniqueness across batches: candidate hashes first, exact values second.
    candidates: dict[int, Any] = {}
    for idx, _exp in unique_exps:
        if outcomes[idx].error:
            outcomes[idx].success = False
            continue
        all_h = np.concatenate(hashes.pop(idx)) if hashes[idx] else np.array([], np.int64)
        all_h.sort()
        repeated = all_h[1:][all_h[1:] == all_h[:-1]]
        candidates[idx] = np.unique(repeated)
        del all_h, repeated
    needs_pass = {i: c for i, c in candidates.items() if len(c)}
    for idx in candidates:
        if idx not in needs_pass:
            outcomes[idx].unexpected_count = 0
            outcomes[idx].success = True
    if needs_pass:
        seen: dict[int, Counter[Any]] = {i: Counter() for i in needs_pass}
        where: dict[int, list[tuple[Any, int]]] = {i: [] for i in needs_pass}
        offset = 0
        exp_of = dict(unique_exps)
        for batch in open_batches():
            df = prep(batch)
            for idx, cand in needs_pass.items():
                cols = unique_cols(exp_of[idx])
                h, pos, keys = batch_hashes(df, cols)
                hit = np.flatnonzero(np.isin(h, cand))
                for j in hit:
                    key = keys[j]
                    seen[idx][key] += 1
                    where[idx].append((key, offset + int(pos[j])))
            offset += len(df)
        for idx in needs_pass:
            dup = {k for k, c in seen[idx].items() if c > 1}
            o = outcomes[idx]
            o.unexpected_count = sum(seen[idx][k] for k in dup)
            o.success = o.unexpected_count == 0
            hits = [(k, r) for k, r in where[idx] if k in dup][:EXAMPLES]
            o.unexpected_examples = [list(k) if isinstance(k, tuple) else k for k, _ in hits]
            o.unexpected_rows = [r for _, r in hits]

    for idx, exp in count_exps:
        o = outcomes[idx]
        kw = exp.get("kwargs") or {}
        o.observed_value = rows
        if exp["type"] == "expect_table_row_count_to_equal":
            o.success = rows == kw.get("value")
        else:
            lo, hi = kw.get("min_value"), kw.get("max_value")
            o.success = (lo is None or rows >= lo) and (hi is None or rows <= hi)

    # Aggregate expectations: once, on only the columns they name.
    for idx, exp in agg_exps:
        named = _columns_of(dict(exp.get("kwargs") or {}))
        parts = []
        for batch in open_batches():
            df = prep(batch)
            parts.append(df[[c for c in named if c in df.columns]] if named else df)
        whole = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
        del parts
        vd = gx.definition([(idx, exp)], outcomes)
        if vd is not None:
            for i, r in gx.run(vd, whole):
                adopt_result(outcomes[i], r)
        del whole
    return [outcomes[i] for i in range(len(flat))]


# -- the project's tables -------------------------------------------------------------------


def manifest_batches(path: Path, batch_rows: int = BATCH_ROWS) -> Callable[[], Iterator[Any]]:
    import pyarrow.parquet as pq

    def open_batches() -> Iterator[Any]:
        pf = pq.ParquetFile(path)
        yield from pf.iter_batches(batch_size=batch_rows)

    return open_batches


def labels_batches(
    path: Path,
    columns: Sequence[str],
    batch_rows: int = BATCH_ROWS,
    *,
    value_cap: int = VALUE_CAP,
) -> Callable[[], Iterator[Any]]:
    """DataFrames of label records, ``columns`` (the field dictionary) first; lines that
    are not JSON objects are left out (the census reports them as 파일 errors). Texts longer
    than ``value_cap`` are cut as they are read (:func:`cap_text`; give the suites'
    :func:`value_cap`): a DataFrame would hold several copies of them."""

    def open_batches() -> Iterator[Any]:
        import orjson
        import pandas as pd

        rows: list[Any] = []
        longest = 0  # bytes of the longest line: no text in the batch is longer
        with path.open("rb") as fh:
            for raw in fh:
                if raw.isspace():  # not strip(): that copies a 50 MiB line
                    continue
                try:
                    rec = orjson.loads(raw)
                except ValueError:
                    continue
                if isinstance(rec, dict):
                    if len(raw) > value_cap:  # bytes ≥ characters: only then can a text be cut
                        rec = _cap_any(rec, value_cap)
                    else:
                        longest = max(longest, len(raw))
                    rows.append(rec)
                del raw
                if len(rows) >= batch_rows:
                    yield _frame(rows, columns, pd, longest, value_cap)
                    rows, longest = [], 0
        if rows:
            yield _frame(rows, columns, pd, longest, value_cap)

    return open_batches


def _frame(
    rows: list[dict[str, Any]], columns: Sequence[str], pd: Any, longest: int, cut_at: int
) -> Any:
    df = pd.DataFrame.from_records(rows)
    extra = [c for c in df.columns if c not in columns]
    df = df.reindex(columns=[*columns, *extra])
    df.attrs[_LONGEST], df.attrs[_CUT_AT] = longest, cut_at
    return df
