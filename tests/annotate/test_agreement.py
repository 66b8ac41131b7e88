"""Agreement statistics against hand-computed textbook values."""

from __future__ import annotations

import math

import pytest

from datakit.annotate.agreement import (
    Ann,
    cer,
    cohen_kappa,
    compute_agreement,
    fleiss_kappa,
    iou,
    krippendorff_alpha,
    match_boxes,
    match_spans,
)

# Wikipedia, "Fleiss' kappa", worked example: 10 items, 14 raters, 5 categories → κ = 0.210
FLEISS_TABLE = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]


def test_cohen_kappa_wikipedia_example() -> None:
    # 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no: p_o = 0.7, p_e = 0.5 → κ = 0.4
    a = ["yes"] * 25 + ["no"] * 25
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.4)


def test_cohen_kappa_edges() -> None:
    assert cohen_kappa(["a", "b"], ["a", "b"]) == pytest.approx(1.0)
    assert cohen_kappa(["a", "a"], ["a", "a"]) is None  # p_e = 1: undefined
    assert cohen_kappa([], []) is None
    # systematic disagreement on a balanced set is κ = -1
    assert cohen_kappa(["a", "b"], ["b", "a"]) == pytest.approx(-1.0)


def test_fleiss_kappa_wikipedia_example() -> None:
    kappa, per = fleiss_kappa(FLEISS_TABLE)
    assert kappa == pytest.approx(0.210, abs=5e-4)
    # hand check of P̄ and P̄e from the article: 0.378 and 0.213
    n, N = 14, 10
    p = [sum(r[j] for r in FLEISS_TABLE) / (N * n) for j in range(5)]
    assert [round(x, 3) for x in p] == [0.143, 0.200, 0.279, 0.150, 0.229]
    assert len(per) == 5 and all(v is not None for v in per)


def test_fleiss_kappa_needs_constant_raters() -> None:
    with pytest.raises(ValueError):
        fleiss_kappa([[1, 1], [3, 0]])


def test_krippendorff_alpha_wikipedia_example() -> None:
    # Wikipedia "Krippendorff's alpha": 3 coders, 15 units, nominal α = 0.691
    coders = [
        [None, None, None, None, None, 3, 4, 1, 2, 1, 1, 3, 3, None, 3],
        [1, None, 2, 1, 3, 3, 4, 3, None, None, None, None, None, None, None],
        [None, None, 2, 1, 3, 4, 4, None, 2, 1, 1, 3, 3, None, 4],
    ]
    units = [[c[j] for c in coders if c[j] is not None] for j in range(15)]
    assert krippendorff_alpha(units) == pytest.approx(0.691, abs=5e-4)


def test_krippendorff_alpha_hand_computed_ordinal_and_nominal() -> None:
    # units (1,1), (2,2), (1,3). Coincidences o11=2, o22=2, o13=o31=1; n1=3, n2=2, n3=1.
    # nominal: D_o = 2/6, D_e = 2(6+3+2)/30 → α = 1 − (1/3)/(22/30) = 6/11
    # ordinal: δ²12 = 6.25, δ²13 = 16, δ²23 = 2.25 → D_o = 32/6, D_e = 6 → α = 1/9
    units = [[1, 1], [2, 2], [1, 3]]
    assert krippendorff_alpha(units) == pytest.approx(6 / 11)
    assert krippendorff_alpha(units, level="ordinal", order=[1, 2, 3]) == pytest.approx(1 / 9)
    # the ordinal order is the spec's, not the order values first appear in
    labels = [["중", "중"], ["하", "하"], ["중", "상"]]
    assert krippendorff_alpha(labels, level="ordinal", order=["하", "중", "상"]) != pytest.approx(
        krippendorff_alpha(labels, level="ordinal", order=["중", "하", "상"])
    )
    assert krippendorff_alpha([["a", "a"], ["a", "a"]]) is None


def test_iou_and_box_matching() -> None:
    a = {"label": "차량", "x": 0, "y": 0, "width": 10, "height": 10}
    b = {"label": "차량", "x": 5, "y": 0, "width": 10, "height": 10}
    assert iou(a, b) == pytest.approx(50 / 150)
    assert iou(a, a) == pytest.approx(1.0)
    assert match_boxes([a], [b], 0.5) == []
    assert match_boxes([a], [b], 0.3) == [(0, 0)]
    other = {**a, "label": "보행자"}
    assert match_boxes([a], [other], 0.1) == []  # labels must agree
    # one-to-one: two boxes of A cannot both match B's single box
    assert len(match_boxes([a, a], [a], 0.5)) == 1


def test_span_matching_and_cer() -> None:
    s1 = {"start": 0, "end": 3, "label": "인명"}
    s2 = {"start": 5, "end": 8, "label": "지명"}
    assert match_spans([s1, s2], [s1]) == [(0, 0)]
    assert match_spans([s1], [{**s1, "end": 4}]) == []
    assert cer("안녕하세요", "안녕하세요") == 0.0
    assert cer("abcd", "abed") == pytest.approx(1 / 4)  # one substitution, mean length 4
    assert cer("", "") == 0.0


def _ann(who: str, i: int, **fields: object) -> Ann:
    return Ann(who, i, dict(fields))


def test_compute_agreement_classification(planned_project) -> None:  # type: ignore[no-untyped-def]
    project = planned_project("text_classification", [])
    spec = project.spec
    # 4 items, 2 annotators: agree on 3 (긍정, 부정, 긍정), disagree on 1 (중립 vs 부정)
    items = {
        "a": [_ann("x", 1, label="긍정"), _ann("y", 2, label="긍정")],
        "b": [_ann("x", 3, label="부정"), _ann("y", 4, label="부정")],
        "c": [_ann("x", 5, label="긍정"), _ann("y", 6, label="긍정")],
        "d": [_ann("x", 7, label="중립"), _ann("y", 8, label="부정")],
        "e": [_ann("x", 9, label="긍정")],  # single: not cross-checked
    }
    res = compute_agreement(spec, items)
    # hand: p_o = 3/4; x = (긍2, 부1, 중1), y = (긍2, 부2) → p_e = (2·2 + 1·2)/16 = 6/16
    expected = (0.75 - 6 / 16) / (1 - 6 / 16)
    lab = res.report.fields["label"]
    assert lab["cohen_kappa"]["value"] == pytest.approx(expected, abs=1e-6)
    assert lab["cohen_kappa"]["n_items"] == 4
    assert res.report.metric == "cohen_kappa"
    assert "same two annotators" in res.report.metric_reason
    assert res.report.value == pytest.approx(expected, abs=1e-6)
    assert res.report.n_items_cross_checked == 4
    assert res.report.raters_per_item == {"2": 4}
    assert res.per_item == {"a": 1.0, "b": 1.0, "c": 1.0, "d": 0.5}
    assert res.report.per_annotator["x"]["n_annotated"] == 2 + 3
    assert res.report.per_annotator["x"]["agreement"] == pytest.approx(0.75)
    assert lab["per_class"]["긍정"]["n_items"] == 2
    assert math.isclose(lab["percent_agreement"]["value"], 0.75)


def test_compute_agreement_boxes(planned_project) -> None:  # type: ignore[no-untyped-def]
    project = planned_project("object_detection", [])
    box = {"label": "차량", "x": 10, "y": 10, "width": 20, "height": 20}
    shifted = {**box, "x": 25}  # IoU = 5·20 / (800 − 100) < 0.5
    items = {
        "a": [_ann("x", 1, objects=[box]), _ann("y", 2, objects=[box])],
        "b": [_ann("x", 3, objects=[box]), _ann("y", 4, objects=[shifted])],
        "c": [_ann("x", 5, objects=[]), _ann("y", 6, objects=[])],
    }
    res = compute_agreement(project.spec, items)
    f = res.report.fields["objects"]
    assert f["value"] == pytest.approx(2 * 1 / 4)  # 1 match among 4 boxes
    assert res.report.metric == "box_f1" and res.report.value == pytest.approx(0.5)
    assert res.report.n_items_cross_checked == 3
    assert res.per_item == {"a": 1.0, "b": 0.0, "c": 1.0}
    assert f["per_class"]["차량"]["n_objects"] == 4
