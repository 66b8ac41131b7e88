"""User predictions scored against values computed by hand: COCO mAP for boxes, CER/WER
for transcripts, on the metric functions and through a project's test split."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from datakit.check.validity import measure_validity
from datakit.check.validity.data import split_items
from datakit.check.validity.scoring import detection_figures, transcription_figures
from datakit.project import Project
from tests.validity.builders import media_project


def box(label: str, x: float, y: float, w: float, h: float, score: float = 1.0) -> dict:
    return {"label": label, "x": x, "y": y, "width": w, "height": h, "score": score}


def test_detection_ap_by_hand() -> None:
    # Two images, one car each. Ranked detections: TP (0.9), FP (0.8), TP (0.7).
    # Precision/recall: (1, .5), (.5, .5), (2/3, 1). 101-point interpolation: recall 0..0.50
    # (51 points) at precision 1, recall 0.51..1.00 (50 points) at 2/3.
    truth = {"a": [box("차량", 10, 10, 20, 20)], "b": [box("차량", 50, 50, 30, 30)]}
    pred = {
        "a": [box("차량", 10, 10, 20, 20, 0.9), box("차량", 70, 5, 10, 10, 0.8)],
        "b": [box("차량", 50, 50, 30, 30, 0.7)],
    }
    figures, per_class = detection_figures(truth, pred, ["차량"])
    expected = (51 + 50 * 2 / 3) / 101
    assert figures["map50"] == pytest.approx(expected, abs=1e-6)
    assert figures["map"] == pytest.approx(expected, abs=1e-6)  # exact boxes: every IoU
    assert per_class == [
        {
            "label": "차량",
            "ap": pytest.approx(expected),
            "ap50": pytest.approx(expected),
            "support": 2,
        }
    ]


def test_detection_iou_thresholds_by_hand() -> None:
    # Prediction shifted by 2 of 10 units: IoU = (8*10)/(12*10) = 2/3 → matched at the
    # thresholds .50 .55 .60 .65 (4 of 10): mAP@.5 = 1, mAP@[.5:.95] = 0.4.
    truth = {"a": [box("차량", 0, 0, 10, 10)]}
    pred = {"a": [box("차량", 2, 0, 10, 10, 0.5)]}
    figures, _ = detection_figures(truth, pred, ["차량"])
    assert figures["map50"] == pytest.approx(1.0)
    assert figures["map"] == pytest.approx(0.4)
    assert figures["map75"] == pytest.approx(0.0)


def test_detection_without_predictions_is_zero() -> None:
    figures, _ = detection_figures({"a": [box("차량", 0, 0, 10, 10)]}, {}, ["차량"])
    assert figures == {"map": 0.0, "map50": 0.0, "map75": 0.0}


def test_transcription_by_hand() -> None:
    # "오늘 날씨 맑음" (8 characters with spaces) right; "내일 비" (4) with one character
    # wrong: CER 1/12; WER: 1 of 5 words.
    refs = ["오늘 날씨 맑음", "내일 비", ""]
    hyps = ["오늘 날씨 맑음", "내일 눈", "무시됨"]  # an empty reference is left out
    got = transcription_figures(refs, hyps)
    assert got["cer"] == pytest.approx(1 / 12)
    assert got["wer"] == pytest.approx(1 / 5)


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


def test_project_boxes_scored_on_the_test_split(
    make_project: Callable[..., Path], tmp_path: Path
) -> None:
    labels = [[box("차량", 10 + i % 7, 10, 20, 20)] for i in range(60)]
    root = media_project(make_project, "object_detection", labels)
    project = Project(root)
    items = split_items(project)
    test = [items.ids[i] for i in items.index("test")]
    assert len(test) >= 3
    truth = {items.ids[i]: items.labels[i] for i in range(len(items))}
    # Perfect boxes for every test item but the first, which gets none; a prediction for a
    # training item is ignored.
    rows = [{"item_id": t, "objects": truth[t]} for t in test[1:]]
    rows.append({"item_id": items.ids[items.index("train")[0]], "objects": []})
    preds = _write(tmp_path / "pred.jsonl", rows)
    result = measure_validity(project, predictions=preds)
    n = len(test)
    points = sum(1 for k in range(101) if k / 100 <= (n - 1) / n + 1e-12)
    assert result.metric == "map50"
    assert result.evaluated_on == "test"
    assert result.value == pytest.approx(points / 101, abs=1e-6)
    assert result.figures["map"] == pytest.approx(points / 101, abs=1e-6)
    assert result.predictions is not None
    assert result.predictions["missing"] == 1
    assert result.predictions["ignored"] == 1
    assert result.passed is True  # default target 0.5


def test_project_transcripts_scored(make_project: Callable[..., Path], tmp_path: Path) -> None:
    labels = [f"문장 번호 {i:02d}" for i in range(50)]  # 8 characters, 3 words each
    root = media_project(make_project, "transcription", labels)
    project = Project(root)
    items = split_items(project)
    test = [items.ids[i] for i in items.index("test")]
    truth = dict(zip(items.ids, items.labels, strict=True))
    # One character wrong in every test transcript.
    rows = [{"item_id": t, "transcript": truth[t][:-1] + "X"} for t in test]
    result = measure_validity(project, predictions=_write(tmp_path / "p.jsonl", rows))
    assert result.metric == "cer"
    assert result.value == pytest.approx(1 / 8)
    assert result.figures["wer"] == pytest.approx(1 / 3)
    assert result.passed is True  # CER 0.125 ≤ 0.15: lower is better


def test_detection_without_predictions_is_unmeasured(make_project: Callable[..., Path]) -> None:
    root = media_project(make_project, "object_detection", [[box("차량", 1, 1, 5, 5)]] * 20)
    result = measure_validity(Project(root))
    assert result.value is None
    assert result.passed is None
    assert result.reason is not None and "--predictions" in result.reason


def test_a_malformed_predicted_box_is_named(
    make_project: Callable[..., Path], tmp_path: Path
) -> None:
    from datakit.errors import InputError

    root = media_project(make_project, "object_detection", [[box("차량", 1, 1, 5, 5)]] * 30)
    project = Project(root)
    items = split_items(project)
    target = items.ids[items.index("test")[0]]
    preds = _write(tmp_path / "bad.jsonl", [{"item_id": target, "objects": [{"x": 1}]}])
    with pytest.raises(InputError, match="label, x, y") as err:
        measure_validity(project, predictions=preds)
    assert err.value.item == target
