"""Hostile inputs to `datakit check` (issue 13): a huge label value (item 3) and cells that
a spreadsheet would run as formulas (item 9)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from datakit.io import csv_safe, csv_unsafe
from tests.check.conftest import label_record, manifest_row, write_labels, write_manifest

Cli = Callable[..., Any]
REPO = Path(__file__).resolve().parents[2]
HUGE_BYTES = 50 << 20  # a 50 MiB label value
FORMULAS = ("=", "+", "-", "@", "\t", "\r")


def _read_csv(path: Path) -> list[list[str]]:
    csv.field_size_limit(1 << 30)
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.reader(fh))


def _peak_check_rss(root: Path) -> tuple[int, int]:
    """(exit code, peak RSS in bytes) of `datakit check` run as a child of a fresh Python,
    whose RUSAGE_CHILDREN then covers the check and its census workers, nothing else."""
    code = textwrap.dedent(
        f"""
        import resource, subprocess, sys
        rc = subprocess.run([sys.executable, "-m", "datakit", "check", "-p", {str(root)!r}],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
        print(rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    rc, peak = out.stdout.split()
    return int(rc), int(peak)


# -- item 3: a huge label value -----------------------------------------------------------------


def test_huge_value_is_checked_in_bounded_memory_and_reports_stay_small(
    text_project: Any,
) -> None:
    root = text_project(labels=False, name="baseline")
    rows = [manifest_row(i) for i in range(30)]
    write_labels(root, [label_record(r) for r in rows])
    rc, baseline = _peak_check_rss(root)
    assert rc == 0

    root = text_project(labels=False, name="huge")
    recs = [label_record(r) for r in rows]
    huge = "가" * (HUGE_BYTES // 3)  # Korean text: 3 bytes a character in labels.jsonl
    recs[5]["text"] = huge
    write_labels(root, recs)
    rc, peak = _peak_check_rss(root)
    # a quality failure (the text breaks maxLength), not a crash
    assert rc == 1
    assert peak < 1536 << 20, f"peak RSS {peak >> 20} MiB"
    # today's check holds a few copies of the value, not a dozen
    assert peak - baseline < 5 * HUGE_BYTES, f"{(peak - baseline) >> 20} MiB over the baseline"

    reports = root / "reports"
    small = [reports / "quality.json", reports / "quality.html", *reports.glob("runs/*/*")]
    assert len(small) >= 4
    for path in small:
        assert path.stat().st_size < 1 << 20, f"{path.name}: {path.stat().st_size} bytes"
    data = json.loads((reports / "quality.json").read_text(encoding="utf-8"))
    assert data["indicators"]["syntactic"]["details"]["errors"]["형식"] == 1
    length = next(e for e in data["expectations"] if e["rule"] == "text.length")
    assert length["success"] is False and length["unexpected_count"] == 1
    (example,) = length["unexpected_examples"]
    assert example.startswith("가" * 100) and f"({len(huge):,} characters)" in example
    # the error list names the item and the field, and keeps the whole value
    header, *body = _read_csv(reports / "형식_오류목록.csv")
    assert header == ["item", "file", "line", "path", "rule", "message", "value"]
    (row,) = body
    got = dict(zip(header, row, strict=True))
    assert (got["item"], got["line"], got["path"], got["rule"]) == ("r0005", "6", "$.text",
                                                                    "maxLength")  # fmt: skip
    assert got["message"] == (
        f"text of {len(huge):,} characters is longer than the field's maxLength 2,000"
    )
    assert got["value"] == huge


def test_long_value_of_a_composition_field_is_not_copied_into_reports(
    text_project: Any, cli: Cli
) -> None:
    root = text_project(labels=False)
    rows = [manifest_row(i) for i in range(30)]
    recs = [label_record(r) for r in rows]
    long_source = "쇼핑몰" * (2 << 20)  # `source` has no maxLength and is a composition facet
    recs[4]["source"] = recs[5]["source"] = long_source
    write_labels(root, recs)
    res = cli("check", "-p", root, "--json")
    assert len(res.output) < 1 << 20
    reports = root / "reports"
    for path in (reports / "quality.json", reports / "quality.html", *reports.glob("runs/*/*")):
        assert path.stat().st_size < 1 << 20, f"{path.name}: {path.stat().st_size} bytes"
    data = json.loads((reports / "quality.json").read_text(encoding="utf-8"))
    (source,) = data["indicators"]["diversity"]["details"]["attributes"]
    long_rows = [r for r in source["rows"] if len(r["value"]) > 100]
    assert len(long_rows) == 1  # the two equal long values are counted together
    assert f"[{len(long_source):,} characters, blake2b " in long_rows[0]["value"]


def test_census_names_item_and_field_of_a_too_long_value_without_quoting_it(
    tmp_path: Path,
) -> None:
    from datakit.check.census import census_jsonl

    schema = {
        "type": "object",
        "properties": {"id": {"type": "string"}, "text": {"type": "string", "maxLength": 10}},
    }
    long_text = "=" + "x" * 5_000_000
    path = tmp_path / "labels.jsonl"
    path.write_text(
        json.dumps({"id": "a1", "text": long_text}) + "\n" + json.dumps({"id": "a2", "text": 5}),
        encoding="utf-8",
    )
    res = census_jsonl(path, schema, workers=1)
    long_err, type_err = res.errors
    assert (long_err.kind, long_err.item, long_err.path, long_err.rule) == (
        "형식", "a1", "$.text", "maxLength",
    )  # fmt: skip
    assert (
        long_err.message == "text of 5,000,001 characters is longer than the field's maxLength 10"
    )
    assert long_err.value == long_text
    shown = long_err.to_dict()["value"]
    assert len(shown) < 300 and shown.endswith("(5,000,001 characters)")
    assert type_err.value is None and type_err.message == "5 is not of type 'string'"


def test_expectations_see_capped_values_and_decide_them_as_on_the_whole_value() -> None:
    import pandas as pd

    from datakit.check import expectations
    from datakit.check.expectations import Suite, validate_batches

    cap = getattr(expectations, "VALUE_CAP", 1 << 16)
    prefix = "나" * (cap + 10)  # two texts equal past the cap, then different
    a, b = prefix + "a" * 1000, prefix + "b" * 1000
    frame = pd.DataFrame({"id": ["r1", "r2", "r3", "r4"], "text": [a, b, a, "짧은 글입니다"]})
    exps = (
        {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "text"}},
        {"type": "expect_column_value_lengths_to_be_between",
         "kwargs": {"column": "text", "min_value": 1, "max_value": cap + 500}},
        {"type": "expect_column_value_lengths_to_be_between",
         "kwargs": {"column": "text", "max_value": 20}},
        {"type": "expect_column_values_to_be_in_set",
         "kwargs": {"column": "text", "value_set": [a[:cap]]}},
    )  # fmt: skip
    suite = Suite("s", "labels", "s.json", exps)
    for parts in ([frame], [frame.iloc[:2], frame.iloc[2:]]):  # one batch, and several

        def batches(parts: list[Any] = parts) -> Iterator[Any]:
            return iter([x.copy() for x in parts])

        unique, within, short, in_set = validate_batches(batches, [suite])
        assert unique.unexpected_count == 2  # a and a, not a and b
        assert within.success is False and within.unexpected_count == 3
        assert short.unexpected_count == 3
        assert in_set.unexpected_count == 4
        for outcome in (unique, within, short, in_set):
            shown = json.dumps(outcome.to_dict(), ensure_ascii=False)
            assert len(shown) < 20_000
        assert unique.to_dict()["unexpected_examples"][0].endswith(f"({len(a):,} characters)")


def test_out_of_memory_in_check_is_an_error_with_a_hint_not_a_failed_gate(
    text_project: Any, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    import datakit.check.expectations as expectations

    root = text_project()

    def no_memory(*args: Any, **kwargs: Any) -> Any:
        raise MemoryError

    monkeypatch.setattr(expectations, "validate_batches", no_memory)
    res = cli("check", "-p", root)
    assert res.exit_code == 2, res.output
    assert "ran out of memory" in res.output and "hint:" in res.output
    assert "Traceback" not in res.output


def test_unexpected_error_in_check_does_not_exit_like_a_failed_gate(
    text_project: Any, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    import datakit.check.expectations as expectations

    root = text_project()

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise KeyError("observed_value")

    monkeypatch.setattr(expectations, "validate_batches", broken)
    res = cli("check", "-p", root)
    assert res.exit_code == 2, res.output
    assert "unexpected error: KeyError" in res.output and "--debug" in res.output


# -- item 9: CSV formula injection ------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["=1+2", "+82 10", "-3", "@SUM(A1)", "\tx", "\rx", "'=1", "''+x", "'", "'abc", "abc", "", "가"],
)
def test_csv_safe_quotes_formulas_and_csv_unsafe_restores_them_exactly(value: str) -> None:
    cell = csv_safe(value)
    assert not cell.startswith(FORMULAS)
    assert csv_unsafe(cell) == value
    if value.startswith(FORMULAS):
        assert cell == "'" + value  # OWASP: a leading single quote, the rest readable
    if not value.lstrip("'").startswith(FORMULAS):
        assert cell == value


def test_csv_safe_leaves_numbers_alone() -> None:
    assert csv_safe(-3) == -3 and csv_safe(None) is None and csv_safe(1.5) == 1.5


def test_error_lists_neutralise_formulas(text_project: Any, cli: Cli) -> None:
    root = text_project(labels=False)
    rows = [manifest_row(i) for i in range(30)]
    recs: list[Any] = [label_record(r) for r in rows]
    recs[0]["label"] = '=HYPERLINK("http://evil.example","클릭")'  # 형식 (enum)
    recs[1]["text"] = "@" + "x" * 3000  # 형식 (maxLength), value kept whole
    recs[2]["+cmd"] = 1  # 구조 (extra key)
    recs[3]["id"] = "-2+3"  # 파일 (no such item)
    write_labels(root, recs)
    assert cli("check", "-p", root).exit_code == 1
    seen = 0
    for kind in ("형식", "구조", "파일"):
        _, *body = _read_csv(root / f"reports/{kind}_오류목록.csv")
        for row in body:
            for cell in row:
                seen += 1
                assert not cell.startswith(FORMULAS), (kind, cell[:80])
    assert seen
    _, *형식 = _read_csv(root / "reports/형식_오류목록.csv")
    by_item = {r[0]: r for r in 형식}
    assert by_item["r0001"][6] == "'@" + "x" * 3000
    assert csv_unsafe(by_item["r0001"][6]) == recs[1]["text"]
    _, *파일 = _read_csv(root / "reports/파일_오류목록.csv")
    assert [r[0] for r in 파일] == ["'-2+3"]
    # `datakit package trace` still finds the item in the list that quotes its id
    from datakit.package.trace import trace_item
    from datakit.project import Project

    found = trace_item(Project(root), "-2+3").checks["findings"]
    assert [f["file"] for f in found] == ["reports/파일_오류목록.csv"]


def test_inspection_sheet_neutralises_formulas_and_verdicts_round_trip(
    text_project: Any, cli: Cli
) -> None:
    root = text_project(labels=False)
    texts = ['=HYPERLINK("http://evil.example","클릭")', "+82 10-1234-5678", "-5점 드립니다",
             "@관리자 확인 부탁", "\t들여쓴 리뷰", "\r줄바꿈 리뷰"]  # fmt: skip
    ids = ["=r0", "+r1", "-r2", "@r3", "r4", "r5"]
    rows = [manifest_row(i, id=ids[i], text=texts[i]) for i in range(6)]
    write_manifest(root, rows)
    write_labels(root, [label_record(r) for r in rows])
    res = cli("check", "sample", "-p", root, "--size", "6", "--json")
    assert res.exit_code == 0, res.output
    sheet = root / "reports/inspection/의미정확성_검수표.csv"
    header, *body = _read_csv(sheet)
    assert len(body) == 6
    for row in body:
        for cell in row:
            assert not cell.startswith(FORMULAS), cell
    got = {csv_unsafe(r[0]): csv_unsafe(r[2]) for r in body}
    assert got == dict(zip(ids, texts, strict=True))  # readable: only the quote added
    # the inspector fills the sheet in; notes that look like formulas are quoted too
    col = {name: i for i, name in enumerate(header)}
    for n, row in enumerate(body):
        row[col["verdict"]] = "PASS" if n % 2 else "FAIL"
        row[col["note"]] = csv_safe(f"-{n} 라벨 확인")
        row[col["inspector"]] = "검수자"
    with sheet.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(body)
    res = cli("check", "verdicts", sheet, "-p", root, "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["received"] == 6
    verdicts = json.loads((root / "reports/inspection/verdicts.json").read_text("utf-8"))
    assert sorted(verdicts) == sorted(ids)
    notes = sorted(v["note"] for v in verdicts.values())
    assert notes == sorted(f"-{n} 라벨 확인" for n in range(6))


def test_excluded_csv_neutralises_formulas(tmp_path: Path) -> None:
    from datakit.package.balance import write_excluded

    path = tmp_path / "excluded.csv"
    write_excluded(path, [{"id": "=r1", "cluster": "+c", "group": "@g", "home_group": "-h"}])
    header, row = _read_csv(path)
    assert header[0] == "id"
    assert row[0] == "'=r1" and row[2:] == ["'+c", "'@g", "'-h"]


def test_no_csv_writer_for_people_without_csv_safe() -> None:
    """Every csv.writer under datakit/ that writes a file people open quotes formulas."""
    exempt = {"datakit/check/validity/suspects.py"}  # quotes them itself (safe_cell)
    offenders = []
    for path in sorted((REPO / "datakit").rglob("*.py")):
        rel = path.relative_to(REPO).as_posix()
        text = path.read_text(encoding="utf-8")
        if "csv.writer(" in text and "csv_safe" not in text and rel not in exempt:
            offenders.append(rel)
    assert offenders == []
