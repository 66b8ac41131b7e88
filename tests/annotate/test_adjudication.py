"""Agreement counts annotators: reviewers settle items but are never raters; the headline
rests on every cross-checked item, whatever the number of raters per item, with a seeded
bootstrap interval. Inputs go through the real writers (a Label Studio export imported by
`annotate import`), and agreement.json is read back through AgreementReport."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest

from datakit.annotate import bootstrap
from datakit.annotate.agreement import (
    Ann,
    choose_metric,
    cohen_kappa,
    compute_agreement,
    fleiss_kappa,
    krippendorff_alpha,
)
from datakit.annotate.importing import import_export
from datakit.annotate.normalize import to_result
from datakit.annotate.pull import build_outputs
from datakit.errors import ArtefactError
from datakit.reports import AgreementReport

A, B, C, R = "a@test.local", "b@test.local", "c@test.local", "reviewer@test.local"
CLASSES = ("긍정", "부정", "중립")


def _items(n: int) -> list[dict[str, Any]]:
    return [{"id": f"it{i:03d}", "text": f"리뷰 {i}번: 배송이 빨랐어요"} for i in range(n)]


def _export(project: Any, path: Path, labels: dict[str, list[tuple[str, str, bool]]]) -> Path:
    """A Label Studio JSON export: item → [(annotator, label, ground_truth)], one task per
    item, annotations in the given order (later ones are newer)."""
    tasks = []
    ann_id = 0
    for t, (iid, anns) in enumerate(labels.items(), 1):
        rows = []
        for who, label, gt in anns:
            ann_id += 1
            rows.append(
                {
                    "id": ann_id,
                    "completed_by": {"id": hash(who) % 1000, "email": who},
                    "result": to_result(project.spec, {"label": label}),
                    "was_cancelled": False,
                    "ground_truth": gt,
                    "created_at": f"2026-11-01T00:00:{ann_id % 60:02d}Z",
                    "updated_at": f"2026-11-01T{ann_id // 60:02d}:00:{ann_id % 60:02d}Z",
                    "lead_time": 5.0,
                }
            )
        tasks.append({"id": t, "data": {"item_id": iid, "text": "…"}, "annotations": rows})
    path.write_text(json.dumps(tasks, ensure_ascii=False), encoding="utf-8")
    return path


def _agreement(project: Any) -> AgreementReport:
    return AgreementReport.read(project.paths.annotations / "agreement.json")


# -- two annotators, a reviewer on the disagreements -------------------------------------------

# A: 16 긍정, 12 부정, 12 중립. B differs on 8 items: 0–3 긍정→부정, 16–17 부정→중립,
# 28–29 중립→긍정. B: 긍정 14, 부정 14, 중립 12.
A_LABELS = ["긍정"] * 16 + ["부정"] * 12 + ["중립"] * 12
B_LABELS = list(A_LABELS)
for i, v in {0: "부정", 1: "부정", 2: "부정", 3: "부정", 16: "중립", 17: "중립", 28: "긍정",
             29: "긍정"}.items():  # fmt: skip
    B_LABELS[i] = v
DISAGREE = [0, 1, 2, 3, 16, 17, 28, 29]
REVIEWER_TAKES_B = {3, 29}  # the reviewer sides with A on six items, with B on two
# Cohen's κ by hand: p_o = 32/40 = 0.8; p_e = (16·14 + 12·14 + 12·12)/40² = 536/1600
KAPPA_AB = (0.8 - 536 / 1600) / (1 - 536 / 1600)  # 0.699248…


def test_reviewer_ground_truth_on_disagreements_is_not_a_rater(
    planned_project: Any, tmp_path: Path
) -> None:
    project = planned_project("text_classification", _items(40))
    labels: dict[str, list[tuple[str, str, bool]]] = {}
    for i in range(40):
        anns = [(A, A_LABELS[i], False), (B, B_LABELS[i], False)]
        if i in DISAGREE:  # the reviewer's third, ground-truth annotation
            settled = B_LABELS[i] if i in REVIEWER_TAKES_B else A_LABELS[i]
            anns.append((R, settled, True))
        labels[f"it{i:03d}"] = anns
    built = import_export(project, _export(project, tmp_path / "export.json", labels))

    report = _agreement(project)
    assert report.to_dict() == built.agreement.to_dict()
    # the headline is the two annotators' κ over all 40 items — not 1.0 over the unanimous 32
    assert report.metric == "cohen_kappa"
    assert report.value == pytest.approx(KAPPA_AB, abs=1e-6)
    assert report.value == pytest.approx(cohen_kappa(A_LABELS, B_LABELS), abs=1e-6)
    assert report.n_items_cross_checked == 40
    assert report.raters_per_item == {"2": 40}
    assert report.annotators == [A, B]
    assert R not in report.per_annotator
    assert "same two annotators" in report.metric_reason
    ci = report.interval
    assert ci is not None and ci.resamples == 1000 and ci.level == 0.95
    assert ci.seed == project.spec.splits.seed
    assert ci.low is not None and ci.high is not None and report.value is not None
    assert ci.low < report.value < ci.high
    # the reviewer, reported apart: eight settled items, no 2-annotator majority to overturn
    adj = report.adjudication
    assert adj.n_items == 8 and adj.sources == {"ground_truth": 8}
    assert adj.reviewers == [R]
    assert adj.n_items_with_majority == 0 and adj.overturned == 0
    assert adj.per_annotator == {
        A: {"n_items": 8, "accuracy": 0.75},
        B: {"n_items": 8, "accuracy": 0.25},
    }
    # the settled label is final; consensus names the reviewer and counts the annotators
    cons = {
        r["item_id"]: r
        for r in pq.read_table(project.paths.annotations / "consensus.parquet").to_pylist()
    }
    assert cons["it003"]["method"] == "adjudicated" and cons["it003"]["decided_by"] == R
    assert cons["it003"]["n_annotators"] == 2 and cons["it003"]["annotators"] == [A, B]
    assert sum(r["method"] == "adjudicated" for r in cons.values()) == 8
    final = {
        json.loads(x)["id"]: json.loads(x)["label"]
        for x in project.paths.labels.read_text(encoding="utf-8").splitlines()
    }
    assert len(final) == 40 and final["it003"] == "부정" and final["it000"] == "긍정"
    assert report.needs_review == []


def test_a_starred_annotator_label_keeps_its_annotator(
    planned_project: Any, tmp_path: Path
) -> None:
    """A reviewer who marks one annotator's label as ground truth does not remove it."""
    project = planned_project("text_classification", _items(6))
    labels = {f"it{i:03d}": [(A, A_LABELS[i], i == 0), (B, B_LABELS[i], False)] for i in range(6)}
    import_export(project, _export(project, tmp_path / "export.json", labels))
    report = _agreement(project)
    assert report.annotators == [A, B] and report.n_items_cross_checked == 6
    assert report.adjudication.reviewers == []
    assert report.adjudication.sources == {"ground_truth": 1}


def test_ground_truth_on_every_annotation_settles_nothing(
    planned_project: Any, tmp_path: Path
) -> None:
    """Annotations imported into Label Studio are all marked ground truth by default."""
    project = planned_project("text_classification", _items(40))
    labels = {f"it{i:03d}": [(A, A_LABELS[i], True), (B, B_LABELS[i], True)] for i in range(40)}
    import_export(project, _export(project, tmp_path / "export.json", labels))
    report = _agreement(project)
    assert report.value == pytest.approx(KAPPA_AB, abs=1e-6)
    assert report.adjudication.n_items == 0 and report.adjudication.reviewers == []
    assert len(report.needs_review) == len(DISAGREE)  # ties still go to review


# -- uneven raters per item ---------------------------------------------------------------------


def _uneven() -> dict[str, list[tuple[str, str, bool]]]:
    """30 items: A and B on all, C on the last 10; some disagreements of each kind."""
    labels: dict[str, list[tuple[str, str, bool]]] = {}
    for i in range(30):
        truth = CLASSES[i % 3]
        anns = [(A, truth, False), (B, CLASSES[(i + 1) % 3] if i % 7 == 0 else truth, False)]
        if i >= 20:
            anns.append((C, CLASSES[(i + 2) % 3] if i % 4 == 0 else truth, False))
        labels[f"it{i:03d}"] = anns
    return labels


def test_uneven_raters_use_krippendorff_alpha_on_every_item(
    planned_project: Any, tmp_path: Path
) -> None:
    import krippendorff

    project = planned_project("text_classification", _items(30))
    labels = _uneven()
    import_export(project, _export(project, tmp_path / "export.json", labels))
    report = _agreement(project)
    # the reference: the krippendorff package on the coders × items matrix (NaN = missing)
    coders = [A, B, C]
    data = np.full((3, 30), np.nan)
    for j, anns in enumerate(labels.values()):
        for who, label, _ in anns:
            data[coders.index(who), j] = CLASSES.index(label)
    expected = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
    assert report.metric == "krippendorff_alpha"
    assert report.value == pytest.approx(expected, abs=1e-6)
    assert report.n_items_cross_checked == 30
    assert report.raters_per_item == {"2": 20, "3": 10}
    assert "vary" in report.metric_reason and "3 annotators on 10 items" in report.metric_reason
    # Fleiss' κ is not computed on a subset of items any more
    fleiss = report.fields["label"]["fleiss_kappa"]
    assert fleiss["value"] is None and "varies" in fleiss["note"]
    assert report.fields["label"]["krippendorff_alpha"]["value"] == pytest.approx(expected)


def test_review_project_overturns_a_majority(planned_project: Any, tmp_path: Path) -> None:
    project = planned_project("text_classification", _items(30))
    labels = _uneven()
    import_export(project, _export(project, tmp_path / "export.json", labels))
    # it024: A and B agree, C differs; the reviewer picks C's (the minority) label
    anns = labels["it024"]
    votes = [label for _, label, _ in anns]
    majority = max(set(votes), key=votes.count)
    assert votes.count(majority) == 2
    minority = next(v for v in votes if v != majority)
    settled = {"it024": Ann(R, 10_000, {"label": minority}, "2026-12-01T00:00:00Z")}
    built = build_outputs(project, adjudications=settled)
    adj = built.agreement.adjudication
    assert adj.sources == {"review_project": 1} and adj.reviewers == [R]
    assert (adj.n_items, adj.n_items_with_majority, adj.overturned) == (1, 1, 1)
    assert adj.overturn_rate == 1.0
    minority_by = next(who for who, label, _ in anns if label == minority)
    assert adj.per_annotator[minority_by] == {"n_items": 1, "accuracy": 1.0}
    # the headline is the same as without the review
    assert built.agreement.value == _agreement(project).value


# -- the metric rule ------------------------------------------------------------------------------


def test_metric_choice_is_explicit_and_falls_back_when_the_data_does_not_fit() -> None:
    pair = [[A, B]] * 5
    three = [[A, B, C]] * 5
    rotating = [[A, B], [B, C], [A, C]]
    uneven = [[A, B], [A, B, C]]
    assert choose_metric("auto", pair)[0] == "cohen_kappa"
    assert choose_metric("auto", three)[0] == "fleiss_kappa"
    assert choose_metric("auto", rotating)[0] == "fleiss_kappa"  # two ratings, other people
    assert choose_metric("auto", uneven)[0] == "krippendorff_alpha"
    metric, why = choose_metric("fleiss_kappa", uneven)
    assert metric == "krippendorff_alpha" and "asks for Fleiss' κ" in why
    metric, why = choose_metric("cohen_kappa", three)
    assert metric == "fleiss_kappa" and "same two annotators" in why
    assert choose_metric("krippendorff_alpha", pair)[0] == "krippendorff_alpha"
    assert choose_metric("fleiss_kappa", pair)[0] == "fleiss_kappa"


def test_three_raters_on_every_item_give_fleiss_kappa(planned_project: Any) -> None:
    project = planned_project("text_classification", [])
    rows = [["긍정", "긍정", "부정"], ["부정", "부정", "부정"], ["중립", "긍정", "중립"],
            ["긍정", "긍정", "긍정"], ["부정", "중립", "중립"]]  # fmt: skip
    items = {
        f"i{j}": [
            Ann(who, j * 10 + k, {"label": v})
            for k, (who, v) in enumerate(zip([A, B, C], r, strict=True))
        ]
        for j, r in enumerate(rows)
    }
    res = compute_agreement(project.spec, items)
    table = [[r.count(c) for c in CLASSES] for r in rows]
    assert res.report.metric == "fleiss_kappa"
    assert res.report.value == pytest.approx(fleiss_kappa(table)[0], abs=1e-6)


# -- the bootstrap --------------------------------------------------------------------------------


def _random_units(rng: np.random.Generator, n: int) -> list[list[int]]:
    return [list(rng.integers(0, 3, size=int(rng.integers(2, 5)))) for _ in range(n)]


def _table(units: list[list[int]]) -> Any:
    return np.array([[u.count(c) for c in range(3)] for u in units], dtype=float)


def test_item_sum_figures_equal_the_textbook_functions() -> None:
    rng = np.random.default_rng(7)
    units = _random_units(rng, 60)
    assert bootstrap.nominal_alpha(_table(units)).point() == pytest.approx(
        krippendorff_alpha(units)
    )
    fixed = [list(rng.integers(0, 3, size=4)) for _ in range(40)]
    assert bootstrap.fleiss_kappa(_table(fixed)).point() == pytest.approx(
        fleiss_kappa(_table(fixed).astype(int).tolist())[0]
    )
    a, b = rng.integers(0, 3, size=50), rng.integers(0, 3, size=50)
    assert bootstrap.cohen_kappa(a, b, 3).point() == pytest.approx(cohen_kappa(list(a), list(b)))


def test_a_resample_is_the_figure_of_the_drawn_items() -> None:
    """The vectorised resample equals recomputing α on the items actually drawn."""
    rng = np.random.default_rng(3)
    units = _random_units(rng, 25)
    figure = bootstrap.nominal_alpha(_table(units))
    weights: Any = next(bootstrap.resample_counts(len(units), 5, seed=11))
    values = figure.value(weights @ figure.per_item)
    for i, w in enumerate(weights):
        drawn = [u for u, k in zip(units, map(int, w), strict=True) for _ in range(k)]
        v = float(values[i])
        assert v == pytest.approx(krippendorff_alpha(drawn))


def test_interval_is_seeded() -> None:
    rng = np.random.default_rng(5)
    figure = bootstrap.nominal_alpha(_table(_random_units(rng, 200)))
    one = figure.interval(seed=42)
    assert one == figure.interval(seed=42)
    assert one != figure.interval(seed=43)
    value = figure.point()
    assert one is not None and value is not None and one.low is not None and one.high is not None
    assert one.low < value < one.high and one.undefined == 0


# -- agreement.json is read back by its own type ---------------------------------------------------


def test_agreement_json_round_trip_and_contract_errors(
    planned_project: Any, tmp_path: Path
) -> None:
    project = planned_project("text_classification", _items(30))
    import_export(project, _export(project, tmp_path / "export.json", _uneven()))
    path = project.paths.annotations / "agreement.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    assert AgreementReport.from_dict(data).to_dict() == data
    broken = {k: v for k, v in data.items() if k != "metric_reason"}
    with pytest.raises(ArtefactError) as exc:
        AgreementReport.from_dict(broken)
    assert "annotations/agreement.json: metric_reason is missing" in exc.value.message
    assert "datakit annotate pull" in (exc.value.hint or "")
    older = {k: v for k, v in data.items() if k != "report_version"}  # before the contract
    with pytest.raises(ArtefactError):
        AgreementReport.from_dict(older)
