"""Indicator figures from known inputs: completeness, diversity, format fitness,
semantic accuracy, agreement, and the gate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from datakit.check import indicators as ind
from datakit.tables import MANIFEST_SCHEMA
from tests.check.conftest import manifest_row


def test_completeness_rows_and_lowest_rate() -> None:
    res = ind.completeness(
        27,
        {"긍정": 10, "부정": 12, "중립": 5},
        target_total=30,
        target_per_class={"긍정": 10, "부정": 10, "중립": 10},
        target=1.0,
    )
    rows = {r["name"]: (r["target"], r["delivered"], r["rate"]) for r in res.details["rows"]}
    assert rows == {
        "전체": (30, 27, 0.9),
        "긍정": (10, 10, 1.0),
        "부정": (10, 12, 1.2),
        "중립": (10, 5, 0.5),
    }
    assert res.value == 0.5
    assert res.passed is False
    ok = ind.completeness(30, {"a": 10}, target_total=30, target_per_class={"a": 10}, target=1.0)
    assert ok.value == 1.0 and ok.passed is True
    none = ind.completeness(3, {}, target_total=None, target_per_class={}, target=1.0)
    assert none.passed is None


def test_classes_of_label_values() -> None:
    assert ind.classes_of("긍정") == {"긍정"}
    assert ind.classes_of(["a", "b"]) == {"a", "b"}
    assert ind.classes_of([{"label": "차량", "x": 1}, {"label": "차량"}, {"label": "신호등"}]) == {
        "차량",
        "신호등",
    }
    assert ind.classes_of(None) == set()


def test_diversity_overlap_and_shortfalls() -> None:
    res = ind.diversity(
        {"source": {"A": 70, "B": 30}, "weather": {"맑음": 50, "흐림": 30, "기타": 20}},
        {"source": {"A": 0.5, "B": 0.5}, "weather": {"맑음": 0.5, "흐림": 0.25, "비": 0.25}},
        0.9,
    )
    attrs = {a["attribute"]: a for a in res.details["attributes"]}
    assert attrs["source"]["overlap"] == pytest.approx(0.8)  # min(.5,.7)+min(.5,.3)
    assert attrs["weather"]["overlap"] == pytest.approx(0.75)  # .5 + .25 + 0 (기타 unplanned)
    assert [s["value"] for s in attrs["weather"]["shortfalls"]] == ["비"]
    assert attrs["weather"]["shortfalls"][0]["gap"] == pytest.approx(0.25)
    assert attrs["source"]["shortfalls"][0]["value"] == "B"
    assert res.value == pytest.approx(0.75)
    assert res.passed is False
    assert ind.diversity({}, {}, 0.9).passed is None


def test_format_fitness_counts_quarantined_and_unfit(make_project: Any) -> None:
    from datakit.project import Project

    spec = Project(make_project("text_classification")).spec  # text 5..2000 chars, utf-8
    rows = [manifest_row(i) for i in range(20)]
    rows[0].update(status="quarantined", reason="text.too_short: 3 < 5")
    rows[1].update(status="quarantined", reason="text.too_short: 2 < 5")
    rows[2].update(status="duplicate", duplicate_of="r0003")
    rows[3].update(text_length=3)  # ok but outside the requirement
    rows[4].update(encoding="euc-kr")  # ok but not the required encoding
    rows[5].update(source_path="data/raw/x.docx")  # not an allowed format
    cols = {f.name: [r.get(f.name) for r in rows] for f in MANIFEST_SCHEMA}
    res = ind.format_fitness(pa.table(cols, schema=MANIFEST_SCHEMA), spec, 0.99)
    assert res.details["items"] == 19
    assert res.details["quarantined"] == 2
    assert res.details["ok_but_unfit"] == 3
    assert res.details["reasons"] == {
        "text.too_short": 2,
        "format.extension": 1,
        "text.length": 1,
        "text.encoding": 1,
    }
    assert res.value == pytest.approx(14 / 19)
    assert res.passed is False


def test_semantic_rate_bound_and_pending() -> None:
    verdicts: dict[str, bool | None] = {f"i{i}": True for i in range(48)}
    verdicts.update({"f1": False, "f2": False})
    res = ind.semantic(verdicts, 0.9)
    assert res.value == pytest.approx(0.96)
    assert res.passed is True
    assert res.details["interval"][0] == pytest.approx(0.8629, abs=1e-3)
    assert res.details["bound_clears_target"] is False  # one-sided lower ≈ 0.88 < 0.9
    strict = ind.semantic(verdicts, 0.9, gate="bound")
    assert strict.passed is False
    verdicts["p"] = None
    pending = ind.semantic(verdicts, 0.9)
    assert pending.passed is False and pending.details["pending"] == 1
    assert ind.semantic({"a": None}, 0.9).passed is None


def test_agreement_reads_the_annotate_stage_report(tmp_path: Path) -> None:
    from datakit.reports import Adjudication, AgreementReport, Interval

    report = AgreementReport(
        task_type="text_classification",
        metric="krippendorff_alpha",
        metric_requested="auto",
        metric_reason="auto: annotators per item vary",
        value=0.72,
        interval=Interval(0.66, 0.78, 0.95, 1000, 42),
        target=0.6,
        n_items=130,
        n_items_cross_checked=120,
        raters_per_item={"2": 100, "3": 20},
        annotators=["a", "b", "c"],
        fields={},
        per_annotator={},
        adjudication=Adjudication(n_items=9, n_items_with_majority=4, overturned=1),
    )
    # through the file, as the check stage reads it
    path = tmp_path / "agreement.json"
    path.write_text(json.dumps(report.to_dict()), encoding="utf-8")
    res = ind.agreement(AgreementReport.read(path), 0.6)
    assert (res.value, res.passed) == (0.72, True)
    assert res.details["metric"] == "krippendorff_alpha" and res.details["n_items"] == 120
    assert res.details["interval"]["low"] == 0.66 and res.details["annotators"] == 3
    assert (res.details["adjudicated_items"], res.details["overturned"]) == (9, 1)
    assert res.details["overturn_rate"] == 0.25
    assert ind.agreement(None, 0.6).passed is None
    report.value, report.interval = None, None
    assert ind.agreement(report, 0.6).passed is None


def test_gate() -> None:
    ok = ind.Indicator("syntactic", 1.0, 0.995, True)
    bad = ind.Indicator("format", 0.5, 0.99, False)
    na = ind.not_measured("semantic", 0.9, "none")
    assert ind.gate([ok, na]) is True
    assert ind.gate([ok, bad, na]) is False
    assert ind.gate([na]) is False
