"""Label Studio results → the spec's label fields, and back."""

from __future__ import annotations

import pytest

from datakit.annotate.agreement import Ann
from datakit.annotate.consensus import decide
from datakit.annotate.normalize import normalize_result, to_result
from datakit.errors import InputError


def test_classification_with_attribute(planned_project) -> None:  # type: ignore[no-untyped-def]
    spec = planned_project("text_classification", []).spec
    result = [
        {
            "from_name": "label",
            "to_name": "text",
            "type": "choices",
            "value": {"choices": ["부정"]},
        },
        {
            "from_name": "difficulty",
            "to_name": "text",
            "type": "choices",
            "value": {"choices": ["쉬움"]},
        },
    ]
    fields = normalize_result(spec, result)
    assert fields == {"label": "부정", "difficulty": "쉬움"}
    assert normalize_result(spec, to_result(spec, fields)) == fields


def test_unknown_class_and_control_name_the_item_and_field(planned_project) -> None:  # type: ignore[no-untyped-def]
    spec = planned_project("text_classification", []).spec
    bad = [{"from_name": "label", "type": "choices", "value": {"choices": ["없는값"]}}]
    with pytest.raises(InputError) as exc:
        normalize_result(spec, bad, file="export.json", item="r1")
    assert exc.value.file == "export.json" and exc.value.item == "r1" and exc.value.field == "label"
    with pytest.raises(InputError) as exc:
        normalize_result(spec, [{"from_name": "sentiment", "type": "choices", "value": {}}])
    assert exc.value.field == "sentiment"


def test_ner_spans_sorted(planned_project) -> None:  # type: ignore[no-untyped-def]
    spec = planned_project("ner", []).spec
    result = [
        {"from_name": "entities", "to_name": "text", "type": "labels",
         "value": {"start": 9, "end": 11, "text": "부산", "labels": ["지명"]}},
        {"from_name": "entities", "to_name": "text", "type": "labels",
         "value": {"start": 0, "end": 3, "text": "김민수", "labels": ["인명"]}},
    ]  # fmt: skip
    fields = normalize_result(spec, result)
    assert fields == {
        "entities": [
            {"start": 0, "end": 3, "label": "인명", "text": "김민수"},
            {"start": 9, "end": 11, "label": "지명", "text": "부산"},
        ]
    }
    assert normalize_result(spec, to_result(spec, fields)) == fields
    assert normalize_result(spec, []) == {"entities": []}


def test_boxes_and_transcripts(planned_project) -> None:  # type: ignore[no-untyped-def]
    spec = planned_project("object_detection", []).spec
    result = [{"from_name": "objects", "to_name": "image", "type": "rectanglelabels",
               "value": {"x": 10.123456, "y": 5, "width": 20, "height": 30, "rotation": 0,
                         "rectanglelabels": ["차량"]}}]  # fmt: skip
    assert normalize_result(spec, result) == {
        "objects": [{"label": "차량", "x": 10.1235, "y": 5.0, "width": 20.0, "height": 30.0}]
    }
    tspec = planned_project("transcription", []).spec
    r = [{"from_name": "transcript", "to_name": "audio", "type": "textarea",
          "value": {"text": ["안녕하세요", "반갑습니다"]}}]  # fmt: skip
    assert normalize_result(tspec, r) == {"transcript": "안녕하세요\n반갑습니다"}


def test_consensus_rules(planned_project) -> None:  # type: ignore[no-untyped-def]
    spec = planned_project("text_classification", []).spec  # review_below 0.5
    three = [
        Ann("a", 1, {"label": "긍정"}),
        Ann("b", 2, {"label": "긍정"}),
        Ann("c", 3, {"label": "부정"}),
    ]
    d = decide(spec, "i", three, 2 / 3)
    assert (d.method, d.needs_review, d.fields) == ("majority", False, {"label": "긍정"})
    tie = [Ann("a", 1, {"label": "긍정"}), Ann("b", 2, {"label": "부정"})]
    d = decide(spec, "i", tie, 0.5)
    assert d.needs_review and d.fields is None and d.reason == "tie"
    d = decide(spec, "i", tie, 0.5, adjudication=Ann("rev", 9, {"label": "부정"}))
    assert (d.method, d.decided_by, d.fields) == ("adjudicated", "rev", {"label": "부정"})
    # an annotator's latest annotation counts, once
    again = [Ann("a", 1, {"label": "부정"}, "1"), Ann("a", 5, {"label": "긍정"}, "2")]
    d = decide(spec, "i", again, None)
    assert (d.method, d.n_annotators, d.fields) == ("single", 1, {"label": "긍정"})

    ner = planned_project("ner", []).spec  # review_below 0.8
    s1 = {"start": 0, "end": 2, "label": "인명"}
    s2 = {"start": 4, "end": 6, "label": "지명"}
    d = decide(
        ner, "n", [Ann("a", 1, {"entities": [s1, s2]}), Ann("b", 2, {"entities": [s1, s2]})], 1.0
    )
    assert d.method == "unanimous" and d.fields == {"entities": [s1, s2]}
    d = decide(
        ner, "n", [Ann("a", 1, {"entities": [s1, s2]}), Ann("b", 2, {"entities": [s1]})], 2 / 3
    )
    assert d.needs_review  # F1 0.67 < 0.8

    od = planned_project("object_detection", []).spec
    box = {"label": "차량", "x": 10, "y": 10, "width": 20, "height": 20}
    near = {**box, "x": 11}
    far = {**box, "x": 60}
    anns = [
        Ann("a", 1, {"objects": [far]}),
        Ann("b", 2, {"objects": [box]}),
        Ann("c", 3, {"objects": [near]}),
    ]
    d = decide(od, "o", anns, 0.6)
    assert d.method == "best_annotator" and d.fields == {"objects": [box]}


def test_simulated_reviewer_answers_from_the_intake_label(planned_project) -> None:  # type: ignore[no-untyped-def]
    from datakit.annotate.simulate import _reviewer_label, simulated_label

    spec = planned_project("text_classification", []).spec
    labels = [{"label": "긍정"}, {"label": "부정"}]
    assert _reviewer_label(spec, "부정", labels) == {"label": "부정"}
    assert _reviewer_label(spec, "중립", labels) == {"label": "중립"}
    assert _reviewer_label(spec, None, labels) == {"label": "긍정"}
    # simulated annotators answer from the intake label; error_rate 0 never errs
    row = {"id": "x", "intake_label": "중립"}
    assert simulated_label(spec, row, "a", error_rate=0.0, seed=1)["label"] == "중립"
    wrong = [
        simulated_label(spec, {**row, "id": f"x{i}"}, "a", error_rate=1.0, seed=1)
        for i in range(20)
    ]
    assert all(w["label"] != "중립" for w in wrong)
