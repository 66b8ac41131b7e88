"""Great Expectations suites in batches: the combined result equals one GX run over the
whole table (counts add up), and uniqueness is checked across batches."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datakit.check.expectations import Suite, labels_batches, load_suites, validate_batches
from datakit.errors import InputError

EXPS: tuple[dict[str, Any], ...] = (
    {"type": "expect_column_to_exist", "kwargs": {"column": "id"}},
    {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "id"}},
    {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "id"}},
    {"type": "expect_compound_columns_to_be_unique", "kwargs": {"column_list": ["label", "n"]}},
    {"type": "expect_column_values_to_be_in_set",
     "kwargs": {"column": "label", "value_set": ["긍정", "부정"]}},
    {"type": "expect_column_values_to_be_in_set",
     "kwargs": {"column": "label", "value_set": ["긍정", "부정"], "mostly": 0.95}},
    {"type": "expect_column_values_to_be_between",
     "kwargs": {"column": "n", "min_value": 0, "max_value": 10,
                "row_condition": 'label=="긍정"', "condition_parser": "pandas"}},
    {"type": "expect_column_value_lengths_to_be_between",
     "kwargs": {"column": "text", "min_value": 3, "max_value": 50}},
    {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1, "max_value": 5000}},
    {"type": "expect_column_max_to_be_between", "kwargs": {"column": "n", "max_value": 11}},
    {"type": "expect_column_distinct_values_to_be_in_set",
     "kwargs": {"column": "label", "value_set": ["긍정", "부정", "중립"]}},
    {"type": "expect_column_values_to_be_fantastic", "kwargs": {"column": "n"}},
)  # fmt: skip


def _frame(n: int = 4000) -> pd.DataFrame:
    labels = ["중립" if i % 100 == 0 else ("긍정" if i % 2 else "부정") for i in range(n)]
    df = pd.DataFrame(
        {
            "id": [f"i{i}" for i in range(n)],
            "label": labels,
            "n": [i % 12 for i in range(n)],
            "text": ["가나다라" * (1 + i % 15) for i in range(n)],
        }
    )
    # Duplicates that live in different batches (batches of 500 rows below)
    df.loc[3100, "id"] = "i7"
    df.loc[3900, "id"] = "i7"
    df.loc[1200, "id"] = "i1999"
    df.loc[2500, "id"] = None
    return df


def test_batched_equals_one_gx_run() -> None:
    df = _frame()
    suite = Suite("t", "labels", "t.json", EXPS)
    whole = validate_batches(lambda: iter([df]), [suite])
    table = pa.Table.from_pandas(df, preserve_index=False)
    batched = validate_batches(lambda: iter(table.to_batches(max_chunksize=500)), [suite])
    assert len(whole) == len(batched) == len(EXPS)
    for a, b in zip(whole, batched, strict=True):
        assert (a.type, a.success, a.element_count, a.missing_count, a.unexpected_count) == (
            b.type,
            b.success,
            b.element_count,
            b.missing_count,
            b.unexpected_count,
        ), a.type
        assert (a.error is None) == (b.error is None)
    by_type = {o.type: o for o in batched}
    unique = by_type["expect_column_values_to_be_unique"]
    assert unique.unexpected_count == 5  # i7 ×3 and i1999 ×2; the null is missing, not a dup
    assert unique.missing_count == 1
    assert sorted(unique.unexpected_rows) == [7, 1200, 1999, 3100, 3900]
    assert by_type["expect_column_values_to_not_be_null"].unexpected_count == 1
    assert by_type["expect_table_row_count_to_be_between"].observed_value == 4000
    assert by_type["expect_column_values_to_be_fantastic"].success is False
    assert "fantastic" in (by_type["expect_column_values_to_be_fantastic"].error or "")
    in_set = [o for o in batched if o.type == "expect_column_values_to_be_in_set"]
    assert in_set[0].unexpected_count == 40 and in_set[0].success is False
    assert in_set[1].success is True  # mostly 0.95 over the totals


def test_unique_with_no_duplicates_across_batches(tmp_path: Path) -> None:
    df = _frame()
    df["id"] = [f"u{i}" for i in range(len(df))]
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), tmp_path / "t.parquet")
    from datakit.check.expectations import manifest_batches

    suite = Suite("t", "manifest", "t.json", (EXPS[2],))
    (out,) = validate_batches(manifest_batches(tmp_path / "t.parquet", 700), [suite])
    assert out.success is True and out.unexpected_count == 0 and out.element_count == 4000


def test_load_suites_tables_and_errors(tmp_path: Path) -> None:
    folder = tmp_path / "expectations"
    folder.mkdir()
    (folder / "datakit.labels.json").write_text(
        json.dumps({"name": "g", "expectations": [], "meta": {"datakit": {"table": "labels"}}})
    )
    (folder / "my_manifest_rules.json").write_text(json.dumps({"expectations": []}))
    suites = load_suites(folder)
    assert [(s.name, s.table) for s in suites] == [
        ("g", "labels"),
        ("my_manifest_rules", "manifest"),
    ]
    (folder / "extra.json").write_text(json.dumps({"expectations": []}))
    with pytest.raises(InputError) as exc:
        load_suites(folder)
    assert exc.value.file and exc.value.file.endswith("extra.json")
    assert exc.value.field == "meta.datakit.table"
    (folder / "extra.json").write_text("{oops")
    with pytest.raises(InputError):
        load_suites(folder)


def test_labels_batches_keep_the_field_dictionary_columns(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    path.write_text(
        '{"id": "a", "label": "긍정"}\n\nnot json\n[1]\n{"id": "b", "label": "부정", "x": 1}\n',
        encoding="utf-8",
    )
    frames = list(labels_batches(path, ["id", "label", "difficulty"], batch_rows=1)())
    assert [list(f.columns) for f in frames] == [
        ["id", "label", "difficulty"],
        ["id", "label", "difficulty", "x"],
    ]
    assert [f["id"].iloc[0] for f in frames] == ["a", "b"]
