"""``datakit check --engine spark`` gives the local engine's report, on a real local Spark.

Each test checks the same project twice, once per engine, and compares the reports field by
field: every indicator (value, verdict, details), the error list (same errors, same order),
the expectation outcomes (same success, counts, examples and rows) and quality.json.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from datakit.check.run import QualityReport, check
from datakit.project import Project
from tests.check.conftest import label_record, manifest_row, write_labels, write_manifest

TIMINGS: dict[str, float] = {}


def both(root: Path, **kw: Any) -> tuple[QualityReport, QualityReport]:
    """(local report, spark report) of the same project, nothing written."""
    t = time.perf_counter()
    local = check(Project(root), engine="local", write=False, **kw)
    TIMINGS[f"{root.name} local"] = time.perf_counter() - t
    t = time.perf_counter()
    spark = check(Project(root), engine="spark", write=False, **kw)
    TIMINGS[f"{root.name} spark"] = time.perf_counter() - t
    return local, spark


def comparable(report: QualityReport) -> dict[str, Any]:
    data = report.to_dict()
    for key in ("generated_at", "engine", "files"):
        data.pop(key)
    return data


def assert_same(local: QualityReport, spark: QualityReport) -> None:
    assert local.engine == "local" and spark.engine == "spark"
    a, b = comparable(local), comparable(spark)
    for name in a["indicators"]:
        assert b["indicators"][name] == a["indicators"][name], name
    for i, (x, y) in enumerate(zip(a["expectations"], b["expectations"], strict=True)):
        assert y == x, (i, x["type"], x["column"])
    assert b == a
    assert [e.to_dict() for e in spark.errors] == [e.to_dict() for e in local.errors]


# -- hand-built data with every kind of error ------------------------------------------------


@pytest.fixture
def planned(make_project: Callable[..., Path]) -> Callable[..., Path]:
    def make(template: str = "text_classification", name: str | None = None) -> Path:
        from datakit.plan.run import plan

        root = make_project(template, name=name)
        plan(Project(root))
        return root

    return make


def every_error_project(root: Path) -> None:
    """labels.jsonl and per-item files with every error class the census knows."""
    rows = [manifest_row(i) for i in range(40)]
    rows[5]["status"] = "quarantined"
    rows[6]["status"] = "duplicate"
    write_manifest(root, rows)
    good = [label_record(r) for r in rows]
    lines: list[Any] = list(good[:20])
    lines[1] = {**good[1], "label": "모름"}  # 형식: enum
    lines[2] = {**good[2], "text": 42}  # 형식: type
    lines[3] = {k: v for k, v in good[3].items() if k != "source"}  # 구조: required
    lines[4] = {**good[4], "extra": "x", "more": [1]}  # 구조: additionalProperties
    lines[7] = {**good[7], "difficulty": ["쉬움"]}  # 구조: type array
    lines.append('{"id": "r0008", "text": "잘린')  # 파일: json
    lines.append("")  # blank lines are skipped
    lines.append({**good[9], "label": "부정"})  # duplicate of item r0009
    lines.append({**good[0], "id": "r9999"})  # unpaired
    lines.append("[1, 2]")  # not an object
    lines.append('{"id": "r0010", "text": NaN}')  # 파일: NaN
    lines.append({**good[21], "text": "ok"})  # 형식: minLength
    lines.append({**good[22], "id": 7})  # no usable id
    lines.append({**good[19], "id": "r0039", "text": "긴 리뷰 " * 150})  # longer than a range
    path = write_labels(root, lines)
    with path.open("ab") as fh:
        fh.write(b'{"id": "r0023", "text": "\xff\xfe broken", "source": "x"}\n')  # 파일: encoding
        fh.write(json.dumps({**good[24], "region": "서울"}, ensure_ascii=False).encode())
        # the last line has no newline
    files = root / "annotations" / "labels"
    (files / "b").mkdir(parents=True)
    for r in rows[25:35]:
        (files / f"{r['id']}.json").write_text(
            json.dumps(label_record(r), ensure_ascii=False), encoding="utf-8"
        )
    (files / "r0025.json").write_bytes(
        b"\xef\xbb\xbf" + json.dumps(good[25], ensure_ascii=False).encode()
    )  # a BOM is accepted
    (files / "r0026.json").write_text("{not json", encoding="utf-8")
    (files / "r0027.json").write_bytes(b'{"id": "r0027", "text": "\xc3\x28"}')
    (files / "b" / "again.json").write_text(json.dumps(good[28], ensure_ascii=False), "utf-8")
    (files / "b" / "r0012.json").write_text(json.dumps(good[12], ensure_ascii=False), "utf-8")
    (files / "b" / "stray.json").write_text(
        json.dumps({**good[0], "id": "zz"}, ensure_ascii=False), "utf-8"
    )
    (files / "b" / "q.json").write_text(json.dumps({**good[29], "label": 3}), "utf-8")


def test_every_error_class_local_equals_spark(spark: Any, planned: Callable[..., Path]) -> None:
    root = planned(name="errors")
    every_error_project(root)
    local, remote = both(root)
    assert_same(local, remote)
    # the data really holds every class and rule (else the comparison proves little)
    rules = {(e.kind, e.rule) for e in local.errors}
    for kind_rule in [
        ("형식", "enum"),
        ("형식", "type"),
        ("형식", "minLength"),
        ("구조", "required"),
        ("구조", "additionalProperties"),
        ("구조", "type"),
        ("파일", "json"),
        ("파일", "encoding"),
        ("파일", "unpaired"),
        ("파일", "duplicate"),
    ]:
        assert kind_rule in rules, kind_rule
    assert any(e.line is None for e in local.errors)  # per-item files took part
    assert {e.line for e in local.errors if e.rule == "encoding"} - {None} == {30}
    assert not local.passed and not remote.passed


def test_every_error_class_over_many_byte_ranges(
    spark: Any, planned: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ranges of 400 bytes: most lines straddle a range boundary, one owns no line."""
    import datakit.check.spark_jobs as jobs

    root = planned(name="ranges")
    every_error_project(root)
    monkeypatch.setattr(jobs, "RANGE_BYTES", 400)
    path = str(root / "annotations/labels.jsonl")
    ranges = jobs.byte_ranges(jobs.file_size(path), 2)
    owned = [jobs.owned_bytes(path, a, b) for a, b in ranges]
    assert len(ranges) > 8 and b"" in owned
    local, remote = both(root)
    assert_same(local, remote)


def test_only_per_item_files(spark: Any, planned: Callable[..., Path]) -> None:
    """labels.jsonl holds only blank lines (no label table for the suites); the labels are
    per-item files, one of them twice under another name."""
    root = planned(name="files-only")
    rows = [manifest_row(i) for i in range(12)]
    write_manifest(root, rows)
    (root / "annotations").mkdir(exist_ok=True)
    (root / "annotations" / "labels.jsonl").write_text("\n\n  \n", encoding="utf-8")
    folder = root / "annotations" / "labels"
    folder.mkdir()
    for r in rows:
        (folder / f"{r['id']}.json").write_text(json.dumps(label_record(r)), encoding="utf-8")
    (folder / "again.json").write_text(json.dumps(label_record(rows[4], "부정")), "utf-8")
    local, remote = both(root)
    assert_same(local, remote)
    assert local.indicators["completeness"].details["delivered"] == 12
    assert [e.rule for e in local.errors] == ["duplicate"]
    assert {o["table"] for o in local.expectations} == {"manifest"}


# -- byte ranges (no Spark needed) -----------------------------------------------------------


def test_byte_ranges_own_every_line_once(tmp_path: Path) -> None:
    import random

    from datakit.check.spark_jobs import byte_ranges, owned_bytes

    rng = random.Random(7)
    lines = [b"x" * rng.choice([0, 1, 5, 80, 400]) for _ in range(60)]
    for tail in (b"\n", b""):
        path = tmp_path / f"f{len(tail)}.jsonl"
        data = b"\n".join(lines) + tail
        path.write_bytes(data)
        for size in (3, 64, 333, 4096, len(data)):
            ranges = byte_ranges(len(data), 2, size)
            assert ranges[0][0] == 0 and ranges[-1][1] == len(data)
            parts = [owned_bytes(str(path), a, b) for a, b in ranges]
            assert b"".join(parts) == data, size
            owning = [p for p in parts if p]
            assert all(p.endswith(b"\n") for p in owning[:-1])
    assert byte_ranges(0, 2) == []


# -- the bundled examples --------------------------------------------------------------------


def review_labels(root: Path) -> None:
    """labels.jsonl for the collected review-sentiment items: the intake label, a few
    relabelled, as `annotate pull` would write them."""
    from datakit.records import item_fields, ordered_record
    from datakit.tables import read_manifest, write_label_records

    project = Project(root)
    rows = read_manifest(project.paths.manifest).to_pylist()
    records = []
    for i, row in enumerate(r for r in rows if r["status"] == "ok"):
        label = row["intake_label"] if i % 17 else ("긍정", "부정", "중립")[i % 3]
        rec = {**item_fields(row, project.spec), "label": label, "difficulty": "보통"}
        records.append(ordered_record(rec, project.spec))
    write_label_records(project.paths.labels, records)


def test_review_sentiment_example(
    spark: Any, example_project: Callable[[str], Path], cli: Callable[..., Any]
) -> None:
    root = example_project("review-sentiment")
    res = cli("collect", "-p", root, str(root / "data/raw/reviews.csv"))
    assert res.exit_code == 0, res.output
    local, remote = both(root)  # before labelling: composition from the manifest
    assert_same(local, remote)
    assert local.indicators["syntactic"].passed is None
    review_labels(root)
    local, remote = both(root)
    assert_same(local, remote)
    assert local.indicators["completeness"].details["delivered"] == 305
    assert local.indicators["syntactic"].value == 1.0
    assert all(o["success"] for o in local.expectations)


def road_labels(root: Path) -> None:
    """Half the collected images labelled in labels.jsonl, half as AI Hub per-item files;
    one file names the wrong image, one item is labelled twice."""
    from datakit.records import item_fields, ordered_record
    from datakit.tables import read_manifest, write_label_records

    project = Project(root)
    spec = project.spec
    rows = [r for r in read_manifest(project.paths.manifest).to_pylist() if r["status"] == "ok"]
    classes = spec.task.class_names
    records = []
    for i, row in enumerate(rows):
        boxes = [
            {"label": classes[(i + k) % 3], "x": 5.0 * k, "y": 10.0, "width": 20.0, "height": 15.5}
            for k in range(1 + i % 3)
        ]
        records.append(ordered_record({**item_fields(row, spec), "objects": boxes}, spec))
    write_label_records(project.paths.labels, records[::2])
    folder = project.paths.annotations / "labels"
    folder.mkdir(parents=True)
    for rec in records[1::2]:
        (folder / f"{rec['file_name']}.json").write_text(
            json.dumps(rec, ensure_ascii=False), encoding="utf-8"
        )
    wrong = {**records[3], "file_name": "road_9999.png"}
    (folder / "road_0004.png.json").write_text(json.dumps(wrong, ensure_ascii=False), "utf-8")
    (folder / "zz_again.json").write_text(json.dumps(records[5], ensure_ascii=False), "utf-8")


def test_road_objects_example(
    spark: Any,
    example_project: Callable[[str], Path],
    cli: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root = example_project("road-objects")
    monkeypatch.chdir(root)
    res = cli("collect", "data/raw/images")
    assert res.exit_code == 0, res.output
    road_labels(root)
    local, remote = both(root)
    assert_same(local, remote)
    rules = [e.rule for e in local.errors]
    assert "pairing" in rules and "duplicate" in rules
    assert local.inputs["label_files_count"] > 10
    assert local.failed_indicators == remote.failed_indicators != []


# -- the command line -----------------------------------------------------------------------


def test_cli_engine_spark_writes_the_same_reports(
    spark: Any, planned: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    root = planned(name="cli")
    every_error_project(root)
    reports = root / "reports"
    got: dict[str, Any] = {}
    for engine in ("local", "spark"):
        res = cli("check", "-p", root, "--engine", engine)
        data = json.loads((reports / "quality.json").read_text(encoding="utf-8"))
        lists = {p.name: p.read_bytes() for p in sorted(reports.glob("*_오류목록.csv"))}
        got[engine] = (res.exit_code, data, lists)
    (code_l, data_l, lists_l), (code_s, data_s, lists_s) = got["local"], got["spark"]
    assert code_l == code_s == 1
    assert data_l.pop("engine") == "local" and data_s.pop("engine") == "spark"
    for key in ("generated_at", "files"):
        data_l.pop(key), data_s.pop(key)
    assert data_s == data_l
    assert lists_s == lists_l and len(lists_l) == 3
    assert Project(root).stage_record("check")["summary"]["engine"] == "spark"  # type: ignore[index]


def test_cli_engine_spark_without_pyspark(
    planned: Callable[..., Path], runner: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No pyspark: exit 2, the install hint, no traceback, nothing measured or written."""
    import sys

    from datakit.cli.app import app

    root = planned(name="nospark")
    every_error_project(root)
    monkeypatch.setitem(sys.modules, "pyspark", None)  # `import pyspark` raises ImportError
    res = runner.invoke(app, ["check", "-p", str(root), "--engine", "spark"])
    assert res.exit_code == 2, res.output
    assert "pip install 'datakit[spark]'" in res.output
    assert "Traceback" not in res.output
    assert not (root / "reports" / "quality.json").exists()
    monkeypatch.setenv("DATAKIT_ENGINE", "spark")  # the environment setting, same answer
    res = runner.invoke(app, ["check", "-p", str(root)])
    assert res.exit_code == 2 and "datakit[spark]" in res.output


# -- one million label records ---------------------------------------------------------------

MILLION = 1_000_000


def million_project(root: Path, n: int = MILLION) -> dict[str, int]:
    """A manifest of ``n`` items and labels.jsonl with ``n`` records, built with Arrow
    kernels; a few hundred records carry planted errors. Returns the planted counts."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from datakit.tables import MANIFEST_SCHEMA
    from tests.collect.helpers import WORDS

    i = np.arange(n, dtype=np.int64)

    def pick(values: list[str], idx: Any) -> Any:
        return pa.array(values).take(pa.array(idx))

    def cat(*parts: Any) -> Any:
        return pc.binary_join_element_wise(*parts, "")

    ids = cat("r", pc.utf8_lpad(pc.cast(pa.array(i), pa.string()), 7, "0"))
    words = list(WORDS)
    text = pc.binary_join_element_wise(
        pick(words, i % len(words)),
        pick(words, (i * 7 + 3) % len(words)),
        pick(words, (i * 13 + 5) % len(words)),
        cat("#", pc.cast(pa.array(i), pa.string())),
        " ",
    )
    source = pick(["쇼핑몰A", "쇼핑몰B"], i % 2)
    label = pick(["긍정", "부정", "중립"], i % 3)
    difficulty = pick(["쉬움", "보통", "어려움"], (i // 3) % 3)
    planted = {
        "enum": i % 5000 == 1,
        "required": i % 7919 == 3,
        "type": i % 9973 == 5,
        "json": i % 10007 == 11,
        "encoding": i % 20011 == 13,
        "duplicate": i % 25013 == 17,
        "unpaired": i % 30011 == 19,
        "quarantined": i % 50021 == 23,
    }
    status = pa.array(np.where(planted["quarantined"], "quarantined", "ok"))
    hexes = [hashlib.sha256(str(k).encode()).hexdigest() for k in range(997)]
    nulls = pa.nulls(n)
    columns: dict[str, Any] = {
        "id": ids,
        "source_path": cat("data/raw/reviews.csv#row=", pc.cast(pa.array(i), pa.string())),
        "text": text,
        "sha256": pick(hexes, i % 997),
        "size": pc.binary_length(text),
        "media_type": pa.array(["text/plain"] * n),
        "text_length": pc.utf8_length(text),
        "encoding": pa.array(["utf-8"] * n),
        "source": source,
        "collected_at": pa.array(["2026-11-29T00:00:00+00:00"] * n),
        "status": status,
        "intake_label": label,
    }
    table = pa.table(
        {f.name: columns[f.name].cast(f.type) if f.name in columns else nulls.cast(f.type)
         for f in MANIFEST_SCHEMA},
        schema=MANIFEST_SCHEMA,
    )  # fmt: skip
    (root / "data").mkdir(exist_ok=True)
    pq.write_table(table, root / "data" / "manifest.parquet", row_group_size=250_000)

    label_id = pa.array(np.where(planted["duplicate"], np.roll(np.array(ids), 1), np.array(ids)))
    label_id = pc.if_else(pa.array(planted["unpaired"]), cat("zz", label_id), label_id)
    label_value = pc.if_else(pa.array(planted["enum"]), "모름", label)
    text_json = pc.if_else(pa.array(planted["type"]), "42", cat('"', text, '"'))
    source_json = pc.if_else(pa.array(planted["required"]), "", cat(',"source":"', source, '"'))
    lines = cat(
        '{"id":"', label_id, '","text":', text_json, source_json, ',"label":"', label_value,
        '","difficulty":"', difficulty, '"}',
    )  # fmt: skip
    lines = pc.if_else(pa.array(planted["json"]), cat(lines, ","), lines)
    data = lines.cast(pa.binary()).to_pylist()
    for k in np.flatnonzero(planted["encoding"]):
        data[k] = data[k].replace("쇼핑몰".encode(), b"\xff\xfe\xfd", 1)
    path = root / "annotations" / "labels.jsonl"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(b"\n".join(data) + b"\n")
    return {k: int(v.sum()) for k, v in planted.items()}


@pytest.mark.slow
def test_million_records_local_equals_spark(spark: Any, planned: Callable[..., Path]) -> None:
    """THE ≥1,000,000-record equality test: census, pairing, completeness, diversity and the
    expectation suites over 1M label records agree between the engines."""
    root = planned(name="million")
    counts = million_project(root)
    local, remote = both(root)
    assert_same(local, remote)
    syn = local.indicators["syntactic"].details
    assert syn["records"] == MILLION
    assert 400 < syn["invalid"] < 1000
    rules = Counter(e.rule for e in local.errors)
    # a planted error can land on a line that carries another one
    for rule in ("duplicate", "encoding", "enum", "unpaired"):
        assert 0.9 * counts[rule] <= rules[rule] <= counts[rule] + counts["quarantined"], rule
    took = {k: f"{v:.1f} s" for k, v in TIMINGS.items() if k.startswith("million")}
    print(f"\n1M label records: {took}")
