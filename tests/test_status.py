"""Next steps (issue 15, part 4): ``datakit status`` ends each stage with what to do next,
derived from the project's files only, in text and as ``next_steps`` in ``--json``; every
command closes with the top step(s) through the same code. Projects are real: made by
``init``/``plan``, collected by the collect stage or written with the manifest/labels
writers the check tests use, checked and packaged by the real commands, annotated on a
real Label Studio server."""

from __future__ import annotations

import csv
import json
import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.check.conftest import label_record, manifest_row, write_labels, write_manifest

Cli = Any


def _status(cli: Cli, root: Path) -> dict[str, Any]:
    res = cli("status", "-p", root, "--json")
    assert res.exit_code == 0, res.output
    data: dict[str, Any] = json.loads(res.stdout)
    return data


def _steps(cli: Cli, root: Path) -> dict[str, dict[str, Any]]:
    """reason → step, from ``status --json``."""
    return {s["reason"]: s for s in _status(cli, root)["next_steps"]}


def _next_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("next:")]


def _text_project(make_project: Any, n: int = 30, **row: Any) -> Path:
    from datakit.plan.run import plan
    from datakit.project import Project

    root: Path = make_project("text_classification", dataset_id=f"status-{uuid.uuid4().hex[:8]}")
    plan(Project(root))
    write_manifest(root, [manifest_row(i, **row) for i in range(n)])
    return root


# -- plan and collect ---------------------------------------------------------------------------


def test_a_new_project_is_told_to_plan_then_collect(cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "reviews"
    res = cli("init", root, "--template", "text_classification", "--id", "reviews")
    assert res.exit_code == 0, res.output
    # init closes with the derived step, with -p because the project is not the working folder
    assert _next_lines(res.output)[:2] == [
        f"next: edit {root / 'datakit.yaml'} (targets, classes, fields)",
        f"next: labeling config, label schema and documents not generated yet → "
        f"`datakit plan -p {root}`",
    ]
    steps = _status(cli, root)["next_steps"]
    assert [(s["stage"], s["severity"], s["reason"]) for s in steps] == [
        ("plan", "todo", "plan.not_run"),
        ("collect", "todo", "collect.none"),
    ]
    assert steps[1]["command"] == "datakit collect" and "data/raw/" in steps[1]["text"]

    res = cli("plan", "-p", root)
    assert res.exit_code == 0
    assert _next_lines(res.output) == [
        f"next: nothing collected yet (raw data goes in data/raw/) → `datakit collect -p {root}`"
    ]
    spec = root / "datakit.yaml"
    spec.write_text(spec.read_text("utf-8").replace("total: 30", "total: 60"), "utf-8")
    assert list(_steps(cli, root)) == ["plan.stale", "collect.none"]


def test_collect_names_the_quarantined_files_and_what_comes_next(
    cli: Cli, example_project: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = example_project("review-sentiment")
    monkeypatch.chdir(root)  # commands run inside the project: no -p in the hint
    res = cli("collect", "data/raw/reviews.csv")
    assert res.exit_code == 0, res.output
    # the command closes with the next things to do, not with the warning
    assert _next_lines(res.output) == [
        "next: 305 collected items not pushed to Label Studio yet → `datakit annotate push`"
    ]
    steps = _steps(cli, root)
    q = steps["collect.quarantined"]
    assert q["severity"] == "warning" and q["path"] == "data/manifest.parquet"
    assert q["text"].startswith("3 files quarantined (text.too_short 3;")
    assert "data.requirements" in q["text"]
    assert list(steps) == ["collect.quarantined", "annotate.not_pushed"]
    text = cli("status").output
    # the steps follow their stage's table: the collect table, then its warning
    table_end = text.index("│ quarantined │ text.too_short │ 3")
    assert table_end < text.index("next: 3 files quarantined") < text.index("next: 305")


# -- classes known only after annotation (NER) --------------------------------------------------


def test_ner_classes_are_counted_from_the_labels_not_shown_as_zero(
    cli: Cli, make_project: Any
) -> None:
    from datakit.plan.run import plan
    from datakit.project import Project

    root = make_project("ner")
    plan(Project(root))
    sentences = [
        ("김민수 선수가 부산에서 열린 경기에서 결승골을 넣었다.", [(0, 3, "인명"), (7, 9, "지명")]),
        ("한국은행은 오늘 기준금리를 동결했다고 밝혔다.", [(0, 4, "기관")]),
        ("이영희와 박철수는 서울 본사로 출근했다.", [(0, 3, "인명"), (5, 8, "인명")]),
    ]
    rows = [
        manifest_row(i, text=t, intake_label=None, text_length=len(t))
        for i, (t, _) in enumerate(sentences)
    ]
    write_manifest(root, rows)
    before = _status(cli, root)
    assert before["collect"]["per_class"]["인명"] == {"collected": None, "target": 300}
    out = cli("status", "-p", root).output
    assert "known after annotation" in out and "0.0%" not in out.split("annotate")[0]

    labels = [
        {
            "id": r["id"],
            "text": r["text"],
            "source": r["source"],
            "entities": [
                {"start": a, "end": b, "label": c, "text": r["text"][a:b]} for a, b, c in spans
            ],
        }
        for r, (_, spans) in zip(rows, sentences, strict=True)
    ]
    write_labels(root, labels)
    labelled = _status(cli, root)["annotate"]["labelled"]
    assert labelled["items"] == 3 and labelled["unit"] == "entities"
    assert labelled["per_class"]["인명"] == {
        "items": 2, "entities": 3, "target": 300, "achieved": round(2 / 300, 4),
    }  # fmt: skip
    assert labelled["per_class"]["기관"]["entities"] == 1
    assert labelled["per_class"]["지명"]["entities"] == 1
    out = cli("status", "-p", root).output
    assert "2 items · 3 entities · target 300 items · 0.7%" in out
    assert "labels pulled but never checked → `datakit check" in out


# -- check and package --------------------------------------------------------------------------


def test_check_steps_from_never_checked_to_released(cli: Cli, make_project: Any) -> None:
    root = _text_project(make_project)
    rows = [manifest_row(i) for i in range(30)]
    write_labels(root, [label_record(r) for r in rows])
    assert list(_steps(cli, root)) == ["check.never_run"]

    res = cli("check", "-p", root)
    assert res.exit_code == 0, res.output
    steps = _steps(cli, root)
    assert list(steps) == [
        "check.semantic_unmeasured",
        "check.agreement_unmeasured",  # a warning: labels written without agreement.json
        "package.not_built",
    ]
    assert steps["check.agreement_unmeasured"]["severity"] == "warning"
    assert steps["check.semantic_unmeasured"]["command"] == "datakit check sample"
    assert steps["package.not_built"]["command"] == "datakit package"
    assert _next_lines(res.output) == [
        f"next: 의미 정확성 not measured: no inspection sample yet → "
        f"`datakit check sample -p {root}`",
        f"next: quality gate passed; release 1.0 not built yet → `datakit package -p {root}`",
    ]

    # the inspection: a sample to fill in, then verdicts newer than the check
    res = cli("check", "sample", "-p", root)
    assert res.exit_code == 0, res.output
    sheet = root / "reports/inspection/의미정확성_검수표.csv"
    pending = _steps(cli, root)["check.verdicts_pending"]
    assert pending["text"].startswith("의미 정확성: 8 of 8 sampled items await a verdict")
    assert pending["command"] == "datakit check verdicts reports/inspection/의미정확성_검수표.csv"
    assert "await a verdict" in _next_lines(res.output)[0]
    with sheet.open(encoding="utf-8-sig") as fh:
        sheet_rows = list(csv.DictReader(fh))
    for r in sheet_rows:
        r["verdict"] = "PASS"
    with sheet.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(sheet_rows[0]))
        w.writeheader()
        w.writerows(sheet_rows)
    res = cli("check", "verdicts", sheet, "-p", root)
    assert res.exit_code == 0, res.output
    assert _next_lines(res.output)[0] == (
        "next: 의미 정확성: verdicts for the 8 sampled items recorded since the last check → "
        f"`datakit check -p {root}`"
    )
    assert cli("check", "-p", root).exit_code == 0
    assert list(_steps(cli, root)) == ["check.agreement_unmeasured", "package.not_built"]

    res = cli("package", "-p", root)
    assert res.exit_code == 0, res.output
    done = _steps(cli, root)["package.released"]
    assert done["severity"] == "done" and done["command"] == "datakit verify 1.0"
    assert done["text"] == "release 1.0 built (30 items)"
    assert cli("verify", "1.0", "-p", root).exit_code == 0  # the step's command works

    # labels change after the check: check again, nothing else until then
    write_labels(root, [label_record(r) for r in rows[:29]])
    steps = _steps(cli, root)
    assert list(steps) == ["annotate.unlabelled", "check.stale"]
    assert steps["check.stale"]["text"] == "labels changed since the last check"
    assert steps["annotate.unlabelled"]["text"] == "1 collected items have no label yet"


def test_gate_failures_say_which_indicator_with_its_figures(cli: Cli, make_project: Any) -> None:
    root = _text_project(make_project)
    rows = [manifest_row(i) for i in range(30)]
    too_short = [
        manifest_row(100 + i, status="quarantined", reason="text.too_short: 3 characters < 5")
        for i in range(3)
    ]
    write_manifest(root, rows + too_short)
    write_labels(root, [label_record(r) for r in rows[:21]])  # 7 of each class
    res = cli("check", "-p", root)
    assert res.exit_code == 1
    steps = _steps(cli, root)
    fmt, comp = steps["gate.format"], steps["gate.completeness"]
    assert fmt["severity"] == comp["severity"] == "failed"
    assert fmt["text"].startswith(
        "gate failed on 형식성 (기술 적합성): 90.91% against the target 99.00%; "
        "3 files quarantined (3 as text.too_short)"
    )
    assert "data.requirements" in fmt["text"] and fmt["path"] == "data/manifest.parquet"
    assert "전체 21/30, 긍정 7/10, 부정 7/10, 중립 7/10" in comp["text"]
    assert "package.not_built" not in steps  # the gate has not passed
    # the command's own closing lines are the failures, most important first
    assert [line.split(":")[0] for line in _next_lines(res.output)] == ["next", "next"]
    assert "형식성" in _next_lines(res.output)[0] and "완전성" in _next_lines(res.output)[1]
    out = cli("status", "-p", root).output
    assert out.index("last check") < out.index("next: gate failed on 형식성")


# -- annotate, on a real Label Studio ---------------------------------------------------------


def test_annotate_steps_point_at_label_studio_without_the_token(
    cli: Cli, make_project: Any, label_studio: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LABEL_STUDIO_URL", label_studio.url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", label_studio.api_key)
    root = _text_project(make_project, n=30)
    assert list(_steps(cli, root)) == ["annotate.not_pushed"]

    res = cli("annotate", "push", "-p", root)
    assert res.exit_code == 0, res.output
    state = json.loads((root / ".datakit/annotate/state.json").read_text("utf-8"))
    url = f"{label_studio.url}/projects/{state['project_id']}/data"
    waiting = _steps(cli, root)["annotate.awaiting_annotation"]
    assert waiting["url"] == url and waiting["command"] == "datakit annotate pull"
    assert waiting["text"] == "30 items await annotation in Label Studio; nothing pulled yet"
    assert _next_lines(res.output) == [
        "next: 30 items await annotation in Label Studio; nothing pulled yet → "
        f"{url}, then `datakit annotate pull -p {root}`"
    ]

    res = cli("annotate", "simulate", "-p", root, "--error-rate", "0.4", "--seed", "3")
    assert res.exit_code == 0, res.output
    res = cli("annotate", "pull", "-p", root)
    assert res.exit_code == 0, res.output
    status = _status(cli, root)
    n_review = status["annotate"]["awaiting_review"]
    assert n_review > 0  # 40% mistakes by two annotators: some disagree
    steps = {s["reason"]: s for s in status["next_steps"]}
    review = steps["annotate.awaiting_review"]
    state = json.loads((root / ".datakit/annotate/state.json").read_text("utf-8"))
    assert review["url"] == f"{label_studio.url}/projects/{state['review_project_id']}/data"
    assert review["text"] == f"{n_review} items await review in Label Studio"
    assert "annotate.awaiting_annotation" not in steps  # both annotators did every item
    assert "check.never_run" in steps
    out = cli("status", "-p", root).output + res.output
    assert f"{n_review} items await review in Label Studio → {review['url']}" in out
    assert label_studio.api_key not in out + json.dumps(status)
    assert os.environ["LABEL_STUDIO_API_KEY"] not in out
