"""The validity result travels into the release: metadata.json, the 데이터설명서 and the
dataset card (model-index style), read back by the type that wrote it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from datakit.check.report import write_reports
from datakit.check.validity import measure_validity
from datakit.io import read_json
from datakit.package.run import package
from datakit.validity_report import ValidityResult
from tests.package.builders import make_ready_project, write_quality


def test_release_carries_the_validity_result(make_project: Callable[..., Path]) -> None:
    from datakit.check import indicators as ind

    project = make_ready_project(make_project, n=90)
    report = write_quality(project, passed=True)
    result = measure_validity(project)
    assert result.value is not None
    report.indicators["validity"] = result.to_indicator()
    report.passed = ind.gate(report.indicators.values())
    write_reports(project, report)
    # the builder's labels do not follow its texts: the baseline misses its target
    assert report.failed_indicators == ["validity"]

    built = package(project, accept_failed_check=True)
    folder = built.path
    meta = read_json(folder / "metadata.json")
    again = ValidityResult.from_dict(meta["quality"]["validity"])
    assert again.value == result.value and again.model == result.model
    assert meta["quality"]["indicators"]["validity"]["passed"] is False
    assert meta["quality"]["state"] == "failed"
    docs = {p.name: p.read_text(encoding="utf-8") for p in folder.glob("*.md")}
    description = next(t for n, t in docs.items() if "데이터설명서" in n)
    assert "### 모델·유효성 검증" in description
    assert "| 모델 | 특징 | 지표 | 결과값 | 목표 | 판정 |" in description
    assert "부적합" in description
    card = docs["README.md"]
    assert "model-index:" in card and "macro_f1" in card
