"""`datakit check` end to end through the CLI: reports, the gate's exit code, staged runs,
imported labels, the inspection flow and `datakit status`."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema

from datakit.schemas import load_schema
from tests.check.conftest import (
    CLASSES,
    label_record,
    manifest_row,
    write_agreement,
    write_labels,
)

Cli = Callable[..., Any]


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def test_clean_project_passes_and_writes_every_report(text_project: Any, cli: Cli) -> None:
    root = text_project()
    res = cli("check", "-p", root, "--json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    jsonschema.validate(data, load_schema("quality-report"))
    assert data["passed"] is True
    inds = data["indicators"]
    assert inds["syntactic"]["value"] == 1.0
    assert inds["syntactic"]["details"]["records"] == 30
    assert inds["completeness"]["value"] == 1.0
    assert inds["diversity"]["value"] == 1.0
    assert inds["format"]["value"] == 1.0
    assert inds["expectations"]["passed"] is True
    # imported labels: no sample, no agreement.json → not measured, not a crash
    assert inds["semantic"]["status"] == "not_measured"
    assert inds["agreement"]["status"] == "not_measured"
    reports = root / "reports"
    on_disk = json.loads((reports / "quality.json").read_text(encoding="utf-8"))
    assert on_disk["passed"] is True
    from datakit.io import sha256_file

    assert on_disk["inputs"]["manifest_sha256"] == sha256_file(root / "data/manifest.parquet")
    assert on_disk["inputs"]["labels_sha256"] == sha256_file(root / "annotations/labels.jsonl")
    for name in ("quality.html", "품질검증_결과서.md", "형식_오류목록.csv", "구조_오류목록.csv",
                 "파일_오류목록.csv"):  # fmt: skip
        assert (reports / name).is_file(), name
    md = (reports / "품질검증_결과서.md").read_text(encoding="utf-8")
    assert "| 구문 정확성 | 99.50% | 100.00% | 적합 |" in md
    assert _read_csv(reports / "형식_오류목록.csv") == []


def test_planted_defects_fail_the_gate_with_exact_counts(text_project: Any, cli: Cli) -> None:
    root = text_project(labels=False)
    rows = [manifest_row(i) for i in range(30)]
    recs: list[Any] = [label_record(r) for r in rows]
    recs[0]["label"] = "모름"  # 형식
    recs[1]["text"] = 7  # 형식
    del recs[2]["source"]  # 구조
    recs[3]["id"] = "r9999"  # 파일: no such item
    recs.append("{broken")  # 파일
    write_labels(root, recs)
    res = cli("check", "-p", root, "--checkpoint", "30%")
    assert res.exit_code == 1, res.output
    assert "gate failed" in res.output and "syntactic" in res.output
    data = json.loads((root / "reports/quality.json").read_text(encoding="utf-8"))
    syn = data["indicators"]["syntactic"]
    assert syn["details"]["errors"] == {"형식": 2, "구조": 1, "파일": 2}
    assert syn["details"]["records"] == 31 and syn["details"]["valid"] == 26
    assert syn["value"] == 26 / 31 and syn["passed"] is False
    assert data["checkpoint"]["name"] == "30%"
    rows_형식 = _read_csv(root / "reports/형식_오류목록.csv")
    assert sorted((r["item"], r["path"], r["line"]) for r in rows_형식) == [
        ("r0000", "$.label", "1"),
        ("r0001", "$.text", "2"),
    ]
    rows_파일 = _read_csv(root / "reports/파일_오류목록.csv")
    assert sorted(r["rule"] for r in rows_파일) == ["json", "unpaired"]
    # completeness: r0000 (긍정) has a wrong class and r0003 (긍정) is unpaired → 8/10
    comp = {r["name"]: r for r in data["indicators"]["completeness"]["details"]["rows"]}
    assert comp["긍정"]["delivered"] == 8 and comp["전체"]["delivered"] == 29
    # generated GX suite catches the bad class too
    failed = {
        (e["suite"], e["type"], e["column"]) for e in data["expectations"] if not e["success"]
    }
    assert (
        "test-text-classification.labels",
        "expect_column_values_to_be_in_set",
        "label",
    ) in failed


def test_staged_runs_are_kept_and_status_shows_the_last(
    text_project: Any, cli: Cli, tmp_path: Path
) -> None:
    root = text_project(n=30, labels=False)
    rows = [manifest_row(i) for i in range(30)]
    write_labels(root, [label_record(r) for r in rows[:9]])
    first = cli("check", "-p", root, "--checkpoint", "30%", "--json")
    assert first.exit_code == 1  # completeness 30%
    import time

    time.sleep(1.1)  # run folders are named by the second
    write_labels(root, [label_record(r) for r in rows])
    second = cli("check", "-p", root, "--checkpoint", "100%", "--json")
    assert second.exit_code == 0, second.output
    runs = sorted((root / "reports/runs").iterdir())
    assert len(runs) == 2
    names = [json.loads((r / "quality.json").read_text())["checkpoint"]["name"] for r in runs]
    assert names == ["30%", "100%"]
    html = (root / "reports/quality.html").read_text(encoding="utf-8")
    assert "단계별 추이" in html and "30%" in html and "<polyline" in html
    status = cli("status", "-p", root, "--json")
    assert status.exit_code == 0
    section = json.loads(status.output)["check"]
    assert section["passed"] is True and section["stale"] is False
    assert section["indicators"]["completeness"]["value"] == 1.0
    write_labels(root, [label_record(r) for r in rows[:10]])
    section = json.loads(cli("status", "-p", root, "--json").output)["check"]
    assert section["stale"] is True


def test_inspection_flow_with_csv_verdicts(text_project: Any, cli: Cli) -> None:
    root = text_project()
    res = cli("check", "sample", "-p", root, "--json")
    assert res.exit_code == 0, res.output
    plan = json.loads(res.output)
    assert plan["method"] == "iso2859-1" and plan["lot_size"] == 30 and plan["size"] == 8
    again = json.loads(cli("check", "sample", "-p", root, "--json").output)
    assert again["items"] == plan["items"]  # same seed, same sample
    sheet = root / "reports/inspection/의미정확성_검수표.csv"
    rows = _read_csv(sheet)
    assert [r["item_id"] for r in rows] == plan["items"]
    assert all(r["verdict"] == "" and "label" in r["label"] for r in rows)
    # An inspector fills it in: one FAIL, one left blank, 합격 spelled in Korean
    for i, r in enumerate(rows):
        r["verdict"] = "FAIL" if i == 0 else ("" if i == 1 else ("합격" if i % 2 else "pass"))
        r["note"] = "라벨 오류" if i == 0 else ""
    with sheet.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    res = cli("check", "verdicts", sheet, "-p", root, "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.output) == {
        "received": 7, "passed": 6, "failed": 1, "pending": 1, "sample_size": 8,
    }  # fmt: skip
    data = json.loads(cli("check", "-p", root, "--json").output)
    sem = data["indicators"]["semantic"]
    assert sem["value"] == 6 / 7
    assert sem["passed"] is False and sem["details"]["pending"] == 1
    # the last verdict arrives: 7/8 = 87.5% < 90% → the gate fails on semantic accuracy
    rows[1]["verdict"] = "PASS"
    with sheet.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    assert cli("check", "verdicts", sheet, "-p", root).exit_code == 0
    res = cli("check", "-p", root, "--json")
    assert res.exit_code == 1
    sem = json.loads(res.output)["indicators"]["semantic"]
    assert sem["value"] == 7 / 8 and sem["details"]["pending"] == 0
    assert sem["details"]["interval"][0] < 0.875 < sem["details"]["interval"][1]
    # redrawing needs --force once verdicts exist
    res = cli("check", "sample", "-p", root)
    assert res.exit_code == 2 and "--force" in res.output


def test_bad_verdict_names_file_item_and_field(text_project: Any, cli: Cli) -> None:
    root = text_project()
    plan = json.loads(cli("check", "sample", "-p", root, "--json").output)
    sheet = root / "verdicts.csv"
    sheet.write_text(f"item_id,verdict\n{plan['items'][0]},maybe\n", encoding="utf-8")
    res = cli("check", "verdicts", sheet, "-p", root)
    assert res.exit_code == 2
    assert "verdicts.csv:2" in res.output and plan["items"][0] in res.output
    assert "field verdict" in res.output and "Traceback" not in res.output
    sheet.write_text("item_id,verdict\nnot-sampled,PASS\n", encoding="utf-8")
    res = cli("check", "verdicts", sheet, "-p", root)
    assert res.exit_code == 2 and "not in the current inspection sample" in res.output


def test_missing_inputs_are_errors_not_tracebacks(make_project: Any, cli: Cli) -> None:
    root = make_project("text_classification")
    res = cli("check", "-p", root)
    assert res.exit_code == 2
    assert "data/manifest.parquet does not exist" in res.output
    assert "datakit collect" in res.output


def test_per_item_label_files_are_censused(text_project: Any, cli: Cli) -> None:
    root = text_project(labels=False)
    folder = root / "annotations" / "labels"
    folder.mkdir(parents=True)
    for i in range(30):
        rec = label_record(manifest_row(i))
        (folder / f"r{i:04d}.json").write_text(json.dumps(rec, ensure_ascii=False), "utf-8")
    (folder / "r0005.json").write_bytes(b"\xff\xfe{")
    data = json.loads(cli("check", "-p", root, "--json").output)
    syn = data["indicators"]["syntactic"]["details"]
    assert syn["records"] == 30 and syn["errors"] == {"형식": 0, "구조": 0, "파일": 1}
    assert data["inputs"]["label_files"] == "annotations/labels"
    assert data["inputs"]["label_files_count"] == 30


def test_engines_meet_the_check_through_one_seam() -> None:
    """``check_engine`` picks an engine by name, and both engines have the seam's methods
    with its signatures (run.check calls nothing else of them)."""
    import inspect

    from datakit.check.engine import CheckEngine
    from datakit.check.local import LocalCheckEngine
    from datakit.check.run import check_engine
    from datakit.check.spark import SparkCheckEngine

    engine = check_engine("local", workers=1, batch_rows=10)
    assert isinstance(engine, LocalCheckEngine) and engine.name == "local"
    assert (engine.workers, engine.batch_rows) == (1, 10)
    assert SparkCheckEngine.name == "spark"
    for method in ("measure", "validate", "keep_label_table"):
        want = inspect.signature(getattr(CheckEngine, method))
        for cls in (LocalCheckEngine, SparkCheckEngine):
            assert inspect.signature(getattr(cls, method)) == want, (cls.__name__, method)


def test_cli_help_does_not_import_heavy_modules() -> None:
    code = (
        "import sys; from datakit.cli.app import app; "
        "heavy = [m for m in ('pandas', 'pyarrow', 'great_expectations', 'scipy', 'jsonschema',"
        " 'fastjsonschema') if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_agreement_and_task_metric_from_the_annotate_stage(text_project: Any, cli: Cli) -> None:
    import pyarrow as pa

    from datakit.tables import CONSENSUS_SCHEMA, write_table

    root = text_project()
    # two annotators on 28 items, agreeing on 18: Cohen's κ well below the 0.6 target
    labels = {
        f"r{i:04d}": {"a": CLASSES[i % 3], "b": CLASSES[(i + (i % 3 == 0)) % 3]} for i in range(28)
    }
    agreement = write_agreement(root, labels)
    assert agreement.metric == "cohen_kappa" and agreement.value < 0.6
    ids = [f"r{i:04d}" for i in range(30)]
    table = pa.table(
        {
            "item_id": ids,
            "method": ["majority"] * 28 + ["single"] * 2,
            "n_annotators": [2] * 28 + [1] * 2,
            "annotation_ids": [[1, 2]] * 30,
            "annotators": [["a", "b"]] * 30,
            "agreement": [1.0] * 20 + [0.5] * 8 + [None] * 2,
            "decided_by": [None] * 30,
            "needs_review": [False] * 22 + [True] * 8,
        },
        schema=CONSENSUS_SCHEMA,
    )
    write_table(table, root / "annotations/consensus.parquet")
    res = cli("check", "-p", root, "--json")
    assert res.exit_code == 1  # κ 0.55 < 0.6
    data = json.loads(res.output)
    agr = data["indicators"]["agreement"]
    assert (agr["value"], agr["target"], agr["passed"]) == (agreement.value, 0.6, False)
    details = agr["details"]
    assert (details["metric"], details["n_items"], details["annotators"]) == ("cohen_kappa", 28, 2)
    assert details["interval"] == agreement.interval.to_dict()
    assert "same two annotators" in details["metric_reason"]
    assert data["failed"] == ["agreement"]
    # the 결과서 and the HTML report show the figure with its interval
    md = (root / "reports/품질검증_결과서.md").read_text(encoding="utf-8")
    assert "## 작업자 간 일치도" in md and agreement.interval.text() in md
    assert agreement.interval.text() in (root / "reports/quality.html").read_text("utf-8")
    tm = data["indicators"]["semantic"]["details"]["task_metric"]
    assert tm["items"] == 28 and tm["mean"] == (20 + 4) / 28 and tm["needs_review"] == 8
