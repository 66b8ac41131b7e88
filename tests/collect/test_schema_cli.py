"""The manifest's JSON Schema agrees with the Arrow contract; the CLI is wired and honest."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa

from datakit.tables import MANIFEST_SCHEMA

REPO = Path(__file__).resolve().parents[2]

_ARROW_NAMES = {
    pa.string(): "string",
    pa.int64(): "int64",
    pa.int32(): "int32",
    pa.int16(): "int16",
    pa.float64(): "double",
}
_JSON_TYPES = {
    "string": "string",
    "int64": "integer",
    "int32": "integer",
    "int16": "integer",
    "double": "number",
}


def test_manifest_json_schema_matches_arrow_schema() -> None:
    schema = json.loads((REPO / "specs" / "manifest.schema.json").read_text(encoding="utf-8"))
    props = schema["properties"]
    assert list(props) == MANIFEST_SCHEMA.names
    assert schema["x-column-order"] == MANIFEST_SCHEMA.names
    assert sorted(schema["required"]) == sorted(MANIFEST_SCHEMA.names)
    for f in MANIFEST_SCHEMA:
        p = props[f.name]
        arrow = _ARROW_NAMES[f.type]
        assert p["x-arrow-type"] == arrow, f.name
        if "enum" in p and "type" not in p:
            assert not f.nullable and all(isinstance(v, str) for v in p["enum"]), f.name
            continue
        types = p["type"] if isinstance(p["type"], list) else [p["type"]]
        assert _JSON_TYPES[arrow] in types, f.name
        assert ("null" in types) == f.nullable, f.name


def test_manifest_rows_validate_against_the_json_schema(make_project: Callable[..., Path]) -> None:
    import jsonschema

    from datakit.collect import collect
    from datakit.project import Project
    from tests.collect.helpers import read_manifest

    root = make_project("text_classification")
    raw = root / "data" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    (raw / "a.txt").write_text("연락처 010-1234-5678 남긴 리뷰입니다", encoding="utf-8")
    (raw / "b.txt").write_text("연락처 010-1234-5678 남긴 리뷰입니다", encoding="utf-8")
    (raw / "c.txt").write_text("짧", encoding="utf-8")
    collect(Project(root), [raw], consent="yes")
    schema = json.loads((REPO / "specs" / "manifest.schema.json").read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    rows = read_manifest(root)
    assert {r["status"] for r in rows} == {"ok", "duplicate", "quarantined"}
    for row in rows:
        assert not list(validator.iter_errors(row)), row


def test_cli_collect_json_and_status(
    make_project: Callable[..., Path], cli: Callable[..., object]
) -> None:
    root = make_project("text_classification")
    csv_path = root / "data" / "raw" / "reviews.csv"
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    csv_path.write_text(
        "id,text,source,region,label\n"
        "r1,배송 빠르고 포장도 꼼꼼해요 재구매 의사 있어요,쇼핑몰A,서울,긍정\n"
        "r2,사이즈가 너무 작고 교환도 안 해주네요,쇼핑몰B,부산,부정\n",
        encoding="utf-8",
    )
    res = cli(
        "collect", csv_path, "-p", root, "--source-column", "source", "--label-column", "label",
        "--attr", "region", "--license", "CC-BY-4.0", "--consent", "yes", "--json",
    )  # fmt: skip
    assert res.exit_code == 0, res.output  # type: ignore[attr-defined]
    data = json.loads(res.stdout)  # type: ignore[attr-defined]
    assert data["ok"] == 2 and data["by_source"] == {"쇼핑몰A": 1, "쇼핑몰B": 1}
    res = cli("status", "-p", root, "--json")
    status = json.loads(res.stdout)  # type: ignore[attr-defined]
    assert status["collect"]["per_class"]["긍정"]["collected"] == 1
    res = cli(
        "collect", csv_path, "-p", root, "--source-column", "source", "--label-column", "label",
        "--attr", "region", "--license", "CC-BY-4.0", "--consent", "yes",
    )  # fmt: skip
    assert res.exit_code == 0  # type: ignore[attr-defined]
    assert "nothing changed" in res.stdout  # type: ignore[attr-defined]
    assert "1 unchanged" in res.stdout  # type: ignore[attr-defined]
    # the same file named through its folder, without the mapping: made again, not doubled
    res = cli("collect", "-p", root, "--json")  # no sources: data/raw
    assert res.exit_code == 0, res.output  # type: ignore[attr-defined]
    data = json.loads(res.stdout)  # type: ignore[attr-defined]
    assert (data["files_read"], data["items"], data["by_source"]) == (1, 2, {"raw": 2})


def test_cli_bad_input_exit_code_and_message(make_project: Callable[..., Path]) -> None:
    root = make_project("text_classification")
    csv_path = root / "data" / "raw" / "reviews.csv"
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    csv_path.write_text("id,text\nr1,리뷰 본문입니다 정말로\n", encoding="utf-8")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "datakit",
            "collect",
            str(csv_path),
            "-p",
            str(root),
            "--text-column",
            "body",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert proc.returncode == 2
    assert "reviews.csv" in proc.stderr and "field body" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "--text-column" in proc.stderr  # the hint


def test_cli_help_has_an_example(cli: Callable[..., object]) -> None:
    res = cli("collect", "--help")
    assert "Example: datakit collect" in res.output  # type: ignore[attr-defined]


def test_item_rows_carry_exactly_the_manifest_columns(tmp_path: Path) -> None:
    """Rows are made as dicts; every manifest column is set, extras are private (_name)."""
    from datakit.collect.items import Context, process_entry
    from datakit.collect.pseudonym import PseudonymKey
    from datakit.collect.sources import Entry, SourceOptions
    from datakit.spec.model import Data, PiiPolicy, Splits

    class Spec:  # the parts of ProjectSpec that item processing reads
        data = Data(type="text")
        pii = PiiPolicy()
        splits = Splits()
        fields = ()

    f = tmp_path / "a.txt"
    f.write_text("열 가지 열을 모두 채우는지 보는 리뷰", encoding="utf-8")
    ctx = Context(
        spec=Spec(),  # type: ignore[arg-type]
        options=SourceOptions(name="s"),
        origin_dir="s",
        source_root=tmp_path / "source",
        tmp_dir=tmp_path,
        project_root=tmp_path,
        collected_at="2026-01-01T00:00:00Z",
        record_files=True,
        pseudonyms=PseudonymKey("NO_PSEUDONYM_KEY_IN_THIS_TEST", tmp_path / "pseudonym.key"),
    )
    st = f.stat()
    (row,) = process_entry(Entry("file", str(f), "a.txt", "a.txt", st.st_size, st.st_mtime_ns), ctx)
    assert set(MANIFEST_SCHEMA.names) <= set(row)
    assert all(k.startswith("_") for k in set(row) - set(MANIFEST_SCHEMA.names))
