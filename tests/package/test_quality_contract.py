"""The check → package hand-off: the release reads reports/quality.json through the same
QualityReport that `datakit check` wrote it with, so what the release says about the check
(when it ran, its indicators, the agreement with its interval) is what the check said."""

from __future__ import annotations

import json
from typing import Any

import pytest

from datakit.errors import ReleaseError
from datakit.io import read_json
from datakit.package.run import package
from datakit.reports import QualityReport
from tests.package.builders import write_quality


def test_release_records_when_the_real_check_ran(ready: Any) -> None:
    from datakit.check import check

    project = ready(n=30, quality=None)
    report = check(project)  # the real check stage, writing reports/quality.json
    on_disk = read_json(project.paths.reports / "quality.json")
    assert on_disk["generated_at"] == report.generated_at
    result = package(project, accept_failed_check=not report.passed)
    meta = read_json(result.path / "metadata.json")
    assert meta["quality"]["checked_at"] == report.generated_at
    assert meta["quality"]["state"] == ("passed" if report.passed else "failed")
    assert meta["quality"]["indicators"]["syntactic"] == {
        "value": report.indicators["syntactic"].value,
        "target": report.indicators["syntactic"].target,
        "passed": report.indicators["syntactic"].passed,
    }
    assert meta["quality"]["agreement"] is None  # no agreement.json in this project


def test_release_carries_the_annotators_agreement_with_its_interval(ready: Any) -> None:
    from datakit.annotate.agreement import Ann, compute_agreement

    project = ready(n=30, quality=None)
    classes = project.spec.task.class_names
    items = {
        f"i{i}": [
            Ann("a", 2 * i, {"label": classes[i % len(classes)]}),
            Ann("b", 2 * i + 1, {"label": classes[(i + (i % 5 == 0)) % len(classes)]}),
        ]
        for i in range(50)
    }
    agreement = compute_agreement(project.spec, items).report
    written = write_quality(project, agreement=agreement, generated_at="2026-10-03T04:05:06+00:00")
    result = package(project)
    meta = read_json(result.path / "metadata.json")
    q = meta["quality"]
    assert q["checked_at"] == written.generated_at == "2026-10-03T04:05:06+00:00"
    assert q["agreement"]["metric"] == "cohen_kappa"
    assert q["agreement"]["value"] == agreement.value
    assert q["agreement"]["n_items"] == 50
    assert agreement.interval is not None
    assert q["agreement"]["interval"] == agreement.interval.to_dict()
    doc = (result.path / "데이터설명서.md").read_text(encoding="utf-8")
    assert f"Cohen's κ {agreement.value:.3f}" in doc and agreement.interval.text() in doc
    croissant = json.loads((result.path / "croissant.json").read_text(encoding="utf-8"))
    assert agreement.interval.text() in croissant["rai:dataAnnotationAnalysis"]


def test_a_quality_report_with_a_missing_key_stops_the_release(ready: Any) -> None:
    project = ready(n=30)
    path = project.paths.reports / "quality.json"
    data = read_json(path)
    assert QualityReport.from_dict(data).to_dict() == data
    del data["generated_at"]
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ReleaseError) as exc:
        package(project)
    assert "reports/quality.json: generated_at is missing" in exc.value.message
