"""Syntactic census: planted defects are found, classed and located exactly; the fast
validator and jsonschema agree; the parallel path gives the same answer as the serial one."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from datakit.check import census as census_mod
from datakit.check.census import (
    CensusOptions,
    census_files,
    census_jsonl,
    classify,
    pair_with_manifest,
    validate_record,
)
from tests.check.conftest import label_record, manifest_row

TEMPLATES = (
    "text_classification",
    "ner",
    "image_classification",
    "object_detection",
    "transcription",
)


def _schema(make_project: Any, template: str = "text_classification") -> dict[str, Any]:
    from datakit.labels import label_record_schema
    from datakit.project import Project

    root = make_project(template)
    return label_record_schema(Project(root).spec)


def _planted(rows: list[dict[str, Any]]) -> list[Any]:
    """30 good records with exactly: 형식 4, 구조 4, 파일 2 (+ pairing added later)."""
    recs: list[Any] = [label_record(r) for r in rows]
    recs[0]["label"] = "모름"  # 형식 enum          $.label
    recs[1]["text"] = 12345  # 형식 type            $.text
    recs[2]["text"] = "짧음"  # 형식 minLength      $.text
    recs[3]["difficulty"] = "매우 어려움"  # 형식 enum (nullable anyOf) $.difficulty
    del recs[4]["source"]  # 구조 required          $.source
    recs[5]["extra"] = 1  # 구조 additionalProperties $.extra
    recs[6]["source"] = {"name": "쇼핑몰A"}  # 구조: object where a string belongs
    recs[7] = [recs[7]]  # 구조: an array where the record object belongs
    recs.append("{not json")  # 파일 json
    recs.append(b'{"id": "r9999", "text": "\xff\xfe bad"}')  # 파일 encoding
    return recs


def _write(path: Path, recs: list[Any]) -> None:
    with path.open("wb") as fh:
        for r in recs:
            if isinstance(r, bytes):
                fh.write(r)
            elif isinstance(r, str):
                fh.write(r.encode())
            else:
                fh.write(json.dumps(r, ensure_ascii=False).encode())
            fh.write(b"\n")


def test_planted_defects_are_counted_per_class_with_item_line_and_path(
    make_project: Any, tmp_path: Path
) -> None:
    schema = _schema(make_project)
    rows = [manifest_row(i) for i in range(30)]
    path = tmp_path / "labels.jsonl"
    recs = _planted(rows)
    recs[24]["id"] = "r0023"  # a second label for item r0023 (valid by the schema)
    _write(path, recs)
    res = census_jsonl(path, schema, file="annotations/labels.jsonl", facet_fields=["label"])
    assert res.records == 32
    assert res.counts() == {"형식": 4, "구조": 4, "파일": 2}
    assert res.valid == 22
    assert res.disagreements == 0
    where = {(e.line, e.item, e.path, e.rule) for e in res.errors}
    assert (1, "r0000", "$.label", "enum") in where
    assert (2, "r0001", "$.text", "type") in where
    assert (3, "r0002", "$.text", "minLength") in where
    assert (4, "r0003", "$.difficulty", "enum") in where
    assert (5, "r0004", "$.source", "required") in where
    assert (6, "r0005", "$.extra", "additionalProperties") in where
    assert (7, "r0006", "$.source", "type") in where
    assert (8, None, "$", "type") in where
    rules = {e.line: (e.kind, e.rule) for e in res.errors if e.kind == "파일"}
    assert rules == {31: ("파일", "json"), 32: ("파일", "encoding")}
    assert all(e.file == "annotations/labels.jsonl" for e in res.errors)

    # Pairing: an unknown id, a second label for the same item, an item not 'ok'.
    statuses = {r["id"]: "ok" for r in rows}
    statuses["r0020"] = "quarantined"
    statuses.pop("r0021")
    pair_with_manifest(res, statuses)
    pairing = sorted(
        (e.item, e.rule, e.line) for e in res.errors if e.rule in ("unpaired", "duplicate")
    )
    assert pairing == [
        ("r0020", "unpaired", 21),
        ("r0021", "unpaired", 22),
        ("r0023", "duplicate", 25),
    ]
    assert res.counts() == {"형식": 4, "구조": 4, "파일": 5}
    assert res.valid == 19


def test_parallel_census_equals_serial(
    make_project: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    schema = _schema(make_project)
    rows = [manifest_row(i) for i in range(3000)]
    recs = _planted(rows)
    path = tmp_path / "labels.jsonl"
    _write(path, recs)
    serial = census_jsonl(path, schema, workers=1)
    monkeypatch.setattr(census_mod, "PARALLEL_MIN_BYTES", 0)
    parallel = census_jsonl(path, schema, workers=2, chunk_bytes=20_000)
    assert parallel.records == serial.records == 3002
    assert parallel.valid == serial.valid
    assert parallel.errors == serial.errors
    assert parallel.facts.items == serial.facts.items
    assert parallel.facts.lines == serial.facts.lines


def test_per_item_files(make_project: Any, tmp_path: Path) -> None:
    schema = _schema(make_project)
    rows = [manifest_row(i) for i in range(5)]
    folder = tmp_path / "labels"
    folder.mkdir()
    for r in rows:
        (folder / f"{r['id']}.json").write_text(
            json.dumps(label_record(r), ensure_ascii=False), encoding="utf-8"
        )
    # BOM is accepted; broken encoding and broken JSON are 파일 errors
    (folder / "r0000.json").write_bytes(
        b"\xef\xbb\xbf" + json.dumps(label_record(rows[0]), ensure_ascii=False).encode()
    )
    (folder / "r0001.json").write_bytes(b'{"id": "r0001", "text": "' + b'\xb0\xa1"}')
    (folder / "r0002.json").write_text("{", encoding="utf-8")
    bad = label_record(rows[3])
    bad["label"] = 3
    (folder / "r0003.json").write_text(json.dumps(bad), encoding="utf-8")
    files = sorted(folder.glob("*.json"))
    res = census_files(files, schema, names=[f"annotations/labels/{f.name}" for f in files])
    assert res.records == 5
    assert res.valid == 2
    got = sorted((e.file, e.kind, e.rule, e.item) for e in res.errors)
    assert got == [
        ("annotations/labels/r0001.json", "파일", "encoding", "r0001"),
        ("annotations/labels/r0002.json", "파일", "json", "r0002"),
        ("annotations/labels/r0003.json", "형식", "enum", "r0003"),
    ]


# -- the fast validator and jsonschema agree ------------------------------------------------


def _mutations(record: dict[str, Any], rng: random.Random) -> list[Any]:
    """Edge cases for every key: wrong types, bool vs int, floats for integers, nulls,
    empty strings/lists, nested junk, missing and extra keys."""
    values: list[Any] = [
        None, True, False, 0, 1, -1, 1.0, 1.5, -0.0, 1e300, "", "x", "가" * 3, [], [1],
        {}, {"a": 1}, "2024-13-45", "2024-01-01", 100, 101, 64, 63,
    ]  # fmt: skip
    out: list[Any] = [record, [], "", None, 1]
    for key in list(record):
        for v in values:
            r = copy.deepcopy(record)
            r[key] = v
            out.append(r)
        r = copy.deepcopy(record)
        del r[key]
        out.append(r)
        if isinstance(record[key], list) and record[key]:
            for sub in values:
                r = copy.deepcopy(record)
                r[key] = [sub]
                out.append(r)
            first = record[key][0]
            if isinstance(first, dict):
                for k in first:
                    for v in values:
                        r = copy.deepcopy(record)
                        r[key][0][k] = v
                        out.append(r)
                    r = copy.deepcopy(record)
                    del r[key][0][k]
                    out.append(r)
                r = copy.deepcopy(record)
                r[key][0]["extra"] = 1
                out.append(r)
    r = copy.deepcopy(record)
    r["unknown"] = rng.random()
    out.append(r)
    return out


_GOOD: dict[str, dict[str, Any]] = {
    "text_classification": {"id": "a", "text": "좋아요 정말로", "source": "s", "label": "긍정"},
    "ner": {"id": "a", "text": "홍길동은 서울에 산다", "source": "s",
            "entities": [{"start": 0, "end": 3, "label": "인물", "text": "홍길동"}]},
    "image_classification": {"id": "a", "file_name": "a.png", "width": 300, "height": 300,
                             "label": "고양이"},
    "object_detection": {"id": "a", "file_name": "a.png", "width": 640, "height": 480,
                         "objects": [{"label": "차량", "x": 1, "y": 2, "width": 3, "height": 4}]},
    "transcription": {"id": "a", "file_name": "a.wav", "duration": 3.5, "transcript": "안녕하세요"},
}  # fmt: skip


@pytest.mark.parametrize("template", TEMPLATES)
def test_fast_validator_agrees_with_jsonschema(make_project: Any, template: str) -> None:
    schema = _schema(make_project, template)
    cls = jsonschema.validators.validator_for(schema)
    slow = cls(schema)
    good = dict(_GOOD[template])
    for key in schema["required"]:
        if key not in good:  # fill required keys the table above does not know
            good[key] = _example(schema["properties"][key])
    good = {
        k: _fit(v, schema["properties"][k]) for k, v in good.items() if k in schema["properties"]
    }
    assert slow.is_valid(good), list(slow.iter_errors(good))
    opts = CensusOptions(json.dumps(schema, sort_keys=True))
    rng = random.Random(7)
    cases = _mutations(good, rng)
    assert len(cases) > 100
    n_invalid = 0
    for case in cases:
        _, errors, disagreed = validate_record(case, opts, "f", 1)
        assert not disagreed, case
        assert (not errors) == slow.is_valid(case), case
        n_invalid += bool(errors)
    assert n_invalid > len(cases) // 3  # the table really exercises failures


def _fit(value: Any, prop: dict[str, Any]) -> Any:
    """Make a hand-written value use the template's own classes."""
    if "enum" in prop and value not in prop["enum"]:
        return prop["enum"][0]
    if isinstance(value, list) and "items" in prop:
        return [_fit(v, prop["items"]) for v in value]
    if isinstance(value, dict) and "properties" in prop:
        return {k: _fit(v, prop["properties"].get(k, {})) for k, v in value.items()}
    return value


def _example(prop: dict[str, Any]) -> Any:
    if "enum" in prop:
        return prop["enum"][0]
    t = prop.get("type")
    t = t[0] if isinstance(t, list) else t
    return {"string": "abcdef", "integer": 100, "number": 1.0, "boolean": True, "array": []}.get(
        str(t), "abcdef"
    )


def test_classify_names_missing_and_extra_keys() -> None:
    schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["a", "b"],
        "properties": {"a": {"type": "string"}, "b": {"type": "integer"}},
    }
    v = jsonschema.Draft202012Validator(schema)
    errs = [
        e for err in v.iter_errors({"b": "x", "z": 1, "y": 2}) for e in classify(err, "f", 3, "i")
    ]
    got = sorted((e.kind, e.path, e.rule) for e in errs)
    assert got == [
        ("구조", "$.a", "required"),
        ("구조", "$.y", "additionalProperties"),
        ("구조", "$.z", "additionalProperties"),
        ("형식", "$.b", "type"),
    ]
