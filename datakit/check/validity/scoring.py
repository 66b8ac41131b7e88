"""Task metrics: classification figures, strict entity-span F1, COCO mAP for boxes, CER/WER
for transcripts, and reading the user's predictions.

Predictions have the shape ``datakit annotate push --predictions`` takes: JSON lines (or one
JSON array) of ``{"item_id": ..., <label field>: ..., "score"?: ...}``. Boxes are the label
records' boxes (``label``, ``x``, ``y``, ``width``, ``height`` in percent of the image) with
an optional ``score`` each (else the record's, else 1). IoU does not change when both axes are
scaled, so percent coordinates give the same matches as pixels.
"""

from __future__ import annotations

import contextlib
import io
import json
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from datakit.errors import InputError


def load_predictions(path: Path) -> dict[str, dict[str, Any]]:
    """item id → prediction record (the last one wins)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the predictions: {exc}", file=str(path)) from exc
    try:
        if text.lstrip().startswith("["):
            rows = [dict(d) for d in json.loads(text)]
        else:
            rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    except (ValueError, TypeError) as exc:
        raise InputError(f"not valid JSON: {exc}", file=str(path)) from None
    out: dict[str, dict[str, Any]] = {}
    for n, rec in enumerate(rows, 1):
        if not isinstance(rec, dict) or not rec.get("item_id"):
            raise InputError("a prediction has no item_id", file=f"{path}:{n}", field="item_id")
        out[str(rec["item_id"])] = rec
    return out


def classification_figures(
    y_true: Sequence[str], y_pred: Sequence[str], classes: Sequence[str]
) -> tuple[dict[str, float], list[dict[str, Any]], dict[str, Any]]:
    """(accuracy / macro / weighted F1, per-class P/R/F1/support, confusion matrix with
    rows = given label, columns = predicted)."""
    with warnings.catch_warnings():  # a split with one class present: figures still defined
        warnings.simplefilter("ignore", UserWarning)
        return _classification_figures(y_true, y_pred, classes)


def _classification_figures(
    y_true: Sequence[str], y_pred: Sequence[str], classes: Sequence[str]
) -> tuple[dict[str, float], list[dict[str, Any]], dict[str, Any]]:
    from sklearn.metrics import (
        accuracy_score,
        confusion_matrix,
        f1_score,
        precision_recall_fscore_support,
    )

    present = sorted(set(y_true) | set(y_pred), key=lambda c: (c not in classes, c))
    labels = [c for c in classes if c in present] + [c for c in present if c not in classes]
    figures = {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(
            f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)
        ),
        "weighted_f1": float(
            f1_score(y_true, y_pred, labels=labels, average="weighted", zero_division=0)
        ),
    }
    p, r, f, s = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, average=None, zero_division=0
    )
    per_class = [
        {
            "label": c,
            "precision": float(p[i]),
            "recall": float(r[i]),
            "f1": float(f[i]),
            "support": int(s[i]),
        }
        for i, c in enumerate(labels)
    ]
    matrix = confusion_matrix(y_true, y_pred, labels=labels)
    return figures, per_class, {"labels": labels, "matrix": matrix.astype(int).tolist()}


def entity_figures(
    y_true: Sequence[Sequence[str]], y_pred: Sequence[Sequence[str]]
) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """Strict entity-span precision/recall/F1 (seqeval, IOB2): an entity counts only when
    its type and both boundaries match."""
    from seqeval.metrics import classification_report, f1_score, precision_score, recall_score
    from seqeval.scheme import IOB2

    t, p = [list(s) for s in y_true], [list(s) for s in y_pred]
    kw: dict[str, Any] = {"mode": "strict", "scheme": IOB2, "zero_division": 0}
    figures = {
        "entity_f1": float(f1_score(t, p, **kw)),
        "entity_precision": float(precision_score(t, p, **kw)),
        "entity_recall": float(recall_score(t, p, **kw)),
    }
    report = classification_report(t, p, output_dict=True, **kw)
    per_class = [
        {
            "label": name,
            "precision": float(v["precision"]),
            "recall": float(v["recall"]),
            "f1": float(v["f1-score"]),
            "support": int(v["support"]),
        }
        for name, v in report.items()
        if not name.endswith(" avg")
    ]
    return figures, per_class


def detection_figures(
    truth: Mapping[str, Sequence[Mapping[str, Any]]],
    predicted: Mapping[str, Sequence[Mapping[str, Any]]],
    classes: Sequence[str],
) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """COCO mAP@[.5:.95], mAP@0.5 and mAP@0.75 (pycocotools, 101-point interpolation, all
    areas, 100 detections per image) over the items of ``truth``; per-class AP alongside."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    seen = {str(b["label"]) for boxes in truth.values() for b in boxes}
    seen |= {str(b["label"]) for boxes in predicted.values() for b in boxes}
    names = [c for c in classes if c in seen] + sorted(seen - set(classes))
    cat = {c: i + 1 for i, c in enumerate(names)}
    items = sorted(truth)
    img = {item: i + 1 for i, item in enumerate(items)}

    def bbox(b: Mapping[str, Any]) -> list[float]:
        return [float(b["x"]), float(b["y"]), float(b["width"]), float(b["height"])]

    anns: list[dict[str, Any]] = []
    for item in items:
        for b in truth[item]:
            x = bbox(b)
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": img[item],
                    "category_id": cat[str(b["label"])],
                    "bbox": x,
                    "area": x[2] * x[3],
                    "iscrowd": 0,
                }
            )
    gt = COCO()
    gt.dataset = {
        "images": [{"id": i} for i in img.values()],
        "annotations": anns,
        "categories": [{"id": i, "name": c} for c, i in cat.items()],
    }
    dets = [
        {
            "image_id": img[item],
            "category_id": cat[str(b["label"])],
            "bbox": bbox(b),
            "score": float(b.get("score", 1.0)),
        }
        for item in items
        for b in predicted.get(item, ())
    ]
    zero = {"map": 0.0, "map50": 0.0, "map75": 0.0}
    if not anns:
        raise ValueError("no ground-truth boxes in the evaluated split")
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
        gt.createIndex()
        if not dets:
            return zero, [{"label": c, "ap": 0.0, "ap50": 0.0} for c in names]
        dt = gt.loadRes(dets)
        ev = COCOeval(gt, dt, iouType="bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    stats = ev.stats
    figures = {"map": _clip(stats[0]), "map50": _clip(stats[1]), "map75": _clip(stats[2])}
    precision = ev.eval["precision"]  # [iou thresholds, recall points, classes, areas, max dets]
    per_class = []
    for k, c in enumerate(names):
        pk = precision[:, :, k, 0, -1]
        p50 = precision[0, :, k, 0, -1]
        per_class.append(
            {
                "label": c,
                "ap": _mean_valid(pk),
                "ap50": _mean_valid(p50),
                "support": sum(1 for a in anns if a["category_id"] == cat[c]),
            }
        )
    return figures, per_class


def _clip(x: float) -> float:
    return max(0.0, float(x))  # pycocotools reports -1 when a figure is undefined


def _mean_valid(a: Any) -> float:
    v = np.asarray(a)
    v = v[v > -1]
    return float(v.mean()) if v.size else 0.0


def transcription_figures(refs: Sequence[str], hyps: Sequence[str]) -> dict[str, float]:
    """Corpus CER and WER (jiwer: total edits over total reference characters / words).
    Items with an empty reference are left out (their error rate is undefined)."""
    import jiwer

    pairs = [(r, h) for r, h in zip(refs, hyps, strict=True) if r.strip()]
    if not pairs:
        raise ValueError("no non-empty reference transcripts in the evaluated split")
    r, h = [p[0] for p in pairs], [p[1] for p in pairs]
    return {"cer": float(jiwer.cer(r, h)), "wer": float(jiwer.wer(r, h))}
