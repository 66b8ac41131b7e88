"""Validity in the quality gate: a missed target fails it, an unmeasured one does not, and
the figure reaches quality.json, the 결과서 and the HTML report."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from datakit.check.run import check
from datakit.project import Project
from datakit.validity_report import ValidityResult
from tests.check.conftest import label_record, manifest_row, write_labels, write_manifest


def _spec_validity(root: Path, block: str) -> None:
    spec = root / "datakit.yaml"
    text = spec.read_text(encoding="utf-8")
    text = text.replace("    agreement: 0.6\n", f"    agreement: 0.6\n{block}", 1)
    spec.write_text(text, encoding="utf-8")


def _noisy_project(make_project: Callable[..., Path], target: float) -> Path:
    from datakit.plan.run import plan

    root = make_project("text_classification")
    _spec_validity(root, f"    validity: {{metric: macro_f1, target: {target}}}\n")
    plan(Project(root))
    rows = [manifest_row(i, group=f"g{i}") for i in range(90)]
    write_manifest(root, rows)
    # every fourth label is wrong: the baseline cannot be perfect on the test split
    classes = ("긍정", "부정", "중립")
    recs = [
        label_record(r, None if i % 4 else classes[(classes.index(r["intake_label"]) + 1) % 3])
        for i, r in enumerate(rows)
    ]
    write_labels(root, recs)
    return root


def test_missed_target_fails_the_gate(make_project: Callable[..., Path]) -> None:
    root = _noisy_project(make_project, 0.999)
    report = check(Project(root))
    v = report.indicators["validity"]
    assert v.value is not None and v.value < 0.999
    assert v.passed is False
    assert "validity" in report.failed_indicators
    assert report.passed is False
    # the indicator carries the whole result; the same object reads it back
    result = ValidityResult.from_indicator(v)
    assert result is not None and result.metric == "macro_f1" and result.confusion is not None
    data = json.loads((root / "reports" / "quality.json").read_text(encoding="utf-8"))
    assert data["indicators"]["validity"]["passed"] is False
    md = (root / "reports" / "품질검증_결과서.md").read_text(encoding="utf-8")
    assert "## 유효성 검증" in md and "부적합" in md
    html = (root / "reports" / "quality.html").read_text(encoding="utf-8")
    assert "유효성 검증" in html and "혼동 행렬" in html


def test_reached_target_passes_and_switch_skips(make_project: Callable[..., Path]) -> None:
    root = _noisy_project(make_project, 0.3)
    report = check(Project(root))
    assert report.indicators["validity"].passed is True
    skipped = check(Project(root), validity=False)
    assert skipped.indicators["validity"].passed is None
    assert "validity" not in skipped.failed_indicators


def test_unmeasured_validity_does_not_fail_the_gate(
    make_project: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    """Detection without --predictions: validity is not measured; the gate ignores it."""
    from datakit.check import indicators as ind

    root = _noisy_project(make_project, 0.999)
    res = cli("check", "-p", root, "--no-validity", "--json")
    data = json.loads(res.stdout)
    assert data["indicators"]["validity"]["status"] == "not_measured"
    assert "validity" not in data["failed"]
    unmeasured = ValidityResult("object_detection", "map50", 0.5, reason="no predictions")
    assert ind.gate([unmeasured.finish().to_indicator()]) is False  # nothing measured at all
    ok = ind.Indicator("syntactic", 1.0, 0.995, True)
    assert ind.gate([ok, unmeasured.to_indicator()]) is True


def test_cli_validity_alone(make_project: Callable[..., Path], cli: Callable[..., Any]) -> None:
    root = _noisy_project(make_project, 0.999)
    res = cli("check", "validity", "-p", root, "--json")
    assert res.exit_code == 1  # the target is missed
    data = json.loads(res.stdout)
    assert data["metric"] == "macro_f1" and data["passed"] is False
    assert (root / "reports" / "validity.json").is_file()
    assert (root / "reports" / "의심_라벨오류.csv").is_file()
    res = cli("check", "validity", "-p", root)
    assert "판정: 부적합" in res.output
