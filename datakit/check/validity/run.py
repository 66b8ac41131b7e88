"""유효성 검증: measure the task metric on the release's held-out split and judge it.

Classification and NER train a baseline here (train → tune on validation → score on test);
detection and transcription score the user's predictions for the test split. When the
release has no test items, the validation split is used and the result says so.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from datakit.project import Project
from datakit.validity_report import ValidityResult

from .data import SplitItems, split_items
from .suspects import METHOD, SUSPECTS_FILE

DEFAULT_FOLDS = 5
# A baseline on more items says little more about the labels and costs minutes: above this,
# a seeded sample of the usable items (every split in its share) is used, and said so.
MAX_ITEMS = 100_000


# Below this many items the folds run in this process: starting worker processes (each
# imports scikit-learn) costs more than the small fits they would share.
PARALLEL_FROM = 5000


def _jobs(n_jobs: int | None, n_items: int) -> int:
    import os

    if n_jobs is not None:
        return n_jobs
    return 1 if n_items < PARALLEL_FROM else max(1, min(2, os.cpu_count() or 1))


def measure_validity(
    project: Project,
    *,
    predictions: Path | None = None,
    suspects: bool = True,
    folds: int = DEFAULT_FOLDS,
    n_jobs: int | None = None,
    write: bool = True,
) -> ValidityResult:
    """The validity result of the project as it stands (``reports/validity.json`` and, for
    classification, ``reports/의심_라벨오류.csv`` are written unless ``write`` is False)."""
    spec = project.spec
    metric, target = spec.validity_target
    result = ValidityResult(task=spec.task.type, metric=metric, target=target)
    result.seed = spec.splits.seed
    started = time.perf_counter()
    task = spec.task.type
    stale = project.paths.reports / SUSPECTS_FILE
    items = _items_or_reason(project, result)
    if items is None:
        pass  # result.reason says why
    elif len(items) == 0:
        result.reason = "no labelled items"
    elif task in ("text_classification", "image_classification"):
        kind: Any = "text" if task == "text_classification" else "image"
        jobs = _jobs(n_jobs, len(items))
        _classification(project, items, result, kind, suspects, folds, jobs, write)
    elif task == "ner":
        _ner(project, items, result)
    elif predictions is None:
        result.reason = (
            f"{task} has no CPU baseline: score your model's predictions for the test split "
            "with `datakit check --predictions FILE`"
        )
    else:
        _predictions(project, items, result, predictions)
    listed = result.suspects is not None and result.suspects.get("count") is not None
    if write and not listed and stale.is_file():
        stale.unlink()  # a list from an earlier run would no longer match the labels
    result.seconds = round(time.perf_counter() - started, 3)
    result.finish()
    if write:
        project.paths.reports.mkdir(parents=True, exist_ok=True)
        result.write(project.paths.reports)
    return result


def _items_or_reason(project: Project, result: ValidityResult) -> SplitItems | None:
    """The items, or None with the reason they cannot be read: the check reports bad label
    records itself (syntactic accuracy); validity then says it was not measured."""
    from datakit.errors import DatakitError

    if not project.paths.labels.is_file():
        result.reason = "no label records yet"
        return None
    try:
        items = split_items(project)
    except DatakitError as exc:
        result.reason = f"the label records cannot be read: {exc}"
        return None
    result.split_sizes = items.sizes()
    return items


def _capped(usable: npt.NDArray[np.int64], result: ValidityResult) -> npt.NDArray[np.int64]:
    if len(usable) <= MAX_ITEMS:
        return usable
    rng = np.random.default_rng(result.seed or 0)
    result.params["sampled_items"] = MAX_ITEMS
    result.params["usable_items"] = len(usable)
    return np.sort(rng.choice(usable, MAX_ITEMS, replace=False))


def _eval_split(
    items: SplitItems, usable: npt.NDArray[np.int64]
) -> tuple[str | None, npt.NDArray[np.int64]]:
    for name in ("test", "validation"):
        idx = np.intersect1d(items.index(name), usable)
        if len(idx):
            return name, idx
    return None, np.zeros(0, np.int64)


def _classification(
    project: Project,
    items: SplitItems,
    result: ValidityResult,
    kind: Any,
    suspects: bool,
    folds: int,
    n_jobs: int,
    write: bool,
) -> None:
    from .classify import (
        IMAGE_FEATURES,
        IMAGE_MODEL,
        TEXT_FEATURES,
        TEXT_MODEL,
        fit_classifier,
        image_features,
    )
    from .scoring import classification_figures

    spec = project.spec
    if spec.label_field.type == "classes":
        result.reason = "multi-label classification has no baseline yet"
        return
    result.model = TEXT_MODEL if kind == "text" else IMAGE_MODEL
    result.features = TEXT_FEATURES if kind == "text" else IMAGE_FEATURES
    usable = np.flatnonzero(np.array([isinstance(v, str) and v != "" for v in items.labels]))
    usable = _capped(usable, result)
    if kind == "text":
        x_all: Any = np.array([t or "" for t in items.texts], dtype=object)
    else:
        usable = np.intersect1d(usable, np.flatnonzero([f is not None for f in items.files]))
        x_all = np.zeros((len(items), 0), np.float32)
        if len(usable):
            feats = image_features([project.root / str(items.files[i]) for i in usable])
            x_all = np.zeros((len(items), feats.shape[1]), np.float32)
            x_all[usable] = feats
    y_all = np.array([str(v) if isinstance(v, str) else "" for v in items.labels], dtype=object)
    train = np.intersect1d(items.index("train"), usable)
    val = np.intersect1d(items.index("validation"), usable)
    evaluated_on, ev = _eval_split(items, usable)
    if len(set(y_all[train].tolist())) < 2:
        result.reason = "the training split has fewer than two classes"
    elif evaluated_on is None:
        result.reason = "no labelled items in the test or validation split"
    else:
        fitted = fit_classifier(
            kind,
            _take(x_all, train, kind),
            y_all[train].tolist(),
            _take(x_all, val, kind) if evaluated_on == "test" else None,
            y_all[val].tolist() if evaluated_on == "test" else None,
        )
        pred = fitted.estimator.predict(_take(x_all, ev, kind))
        figures, per_class, confusion = classification_figures(
            y_all[ev].tolist(), [str(p) for p in pred], spec.task.class_names
        )
        result.evaluated_on = evaluated_on
        result.params = {"C": fitted.c, **result.params}
        result.tuning = fitted.tuning
        result.figures = figures
        result.per_class = per_class
        result.confusion = confusion
    if suspects and len(usable) >= 2:
        _suspects(project, items, result, kind, x_all, y_all, usable, folds, n_jobs, write)


def _take(x: Any, idx: npt.NDArray[np.int64], kind: Any) -> Any:
    return x[idx].tolist() if kind == "text" else x[idx]


def _suspects(
    project: Project,
    items: SplitItems,
    result: ValidityResult,
    kind: Any,
    x_all: Any,
    y_all: npt.NDArray[Any],
    usable: npt.NDArray[np.int64],
    folds: int,
    n_jobs: int,
    write: bool,
) -> None:
    from .classify import DEFAULT_C, out_of_fold_probabilities
    from .suspects import suspect_list

    classes = [c for c in project.spec.task.class_names if c in set(y_all[usable].tolist())]
    classes += sorted(set(y_all[usable].tolist()) - set(classes))
    if len(classes) < 2:
        return
    code = {c: i for i, c in enumerate(classes)}
    y = np.array([code[v] for v in y_all[usable].tolist()], dtype=np.int64)
    c = float(result.params.get("C", DEFAULT_C[kind]))
    try:
        probs, used = out_of_fold_probabilities(
            kind,
            _take(x_all, usable, kind),
            y,
            items.unit[usable],
            c=c,
            folds=folds,
            seed=project.spec.splits.seed,
            n_jobs=n_jobs,
        )
    except ValueError as exc:
        result.suspects = {"count": None, "reason": str(exc)}
        return
    found = suspect_list(
        [items.ids[i] for i in usable],
        [items.names[int(items.split[i])] for i in usable],
        y,
        probs,
        classes,
        [items.texts[i] or items.files[i] for i in usable],
    )
    path = project.paths.reports / SUSPECTS_FILE
    if write:
        project.paths.reports.mkdir(parents=True, exist_ok=True)
        found.write(path)
    result.suspects = {
        "count": len(found),
        "checked": len(usable),
        "rate": round(len(found) / len(usable), 6),
        "file": project.paths.rel(path),
        "method": METHOD,
        "folds": used,
        "grouped_by": "split unit (sha256, group, near-duplicate cluster)",
        "C": c,
    }


def _ner(project: Project, items: SplitItems, result: ValidityResult) -> None:
    from .ner import FEATURES, MODEL, fit_crf, iob_tags, predict_tags
    from .scoring import entity_figures

    result.model, result.features = MODEL, FEATURES
    usable = np.flatnonzero(
        np.array(
            [
                isinstance(t, str) and isinstance(s, list)
                for t, s in zip(items.texts, items.labels, strict=True)
            ]
        )
    )
    usable = _capped(usable, result)
    texts = [items.texts[i] or "" for i in range(len(items))]
    tags = [
        iob_tags(texts[i], items.labels[i]) if i in set(usable.tolist()) else []
        for i in range(len(items))
    ]
    train = np.intersect1d(items.index("train"), usable)
    val = np.intersect1d(items.index("validation"), usable)
    evaluated_on, ev = _eval_split(items, usable)
    if not any(t != "O" for i in train for t in tags[i]):
        result.reason = "the training split has no entities"
        return
    if evaluated_on is None:
        result.reason = "no labelled items in the test or validation split"
        return
    tune = evaluated_on == "test"
    fitted = fit_crf(
        [texts[i] for i in train],
        [tags[i] for i in train],
        [texts[i] for i in val] if tune else (),
        [tags[i] for i in val] if tune else (),
    )
    pred = predict_tags(fitted, [texts[i] for i in ev])
    figures, per_class = entity_figures([tags[i] for i in ev], pred)
    result.evaluated_on = evaluated_on
    result.params = {**fitted.params, **result.params}
    result.tuning = fitted.tuning
    result.figures = figures
    result.per_class = per_class


def _predictions(project: Project, items: SplitItems, result: ValidityResult, path: Path) -> None:
    from .scoring import detection_figures, load_predictions, transcription_figures

    spec = project.spec
    field = spec.task.label_field
    preds = load_predictions(path)
    usable = np.flatnonzero(np.array([v is not None for v in items.labels]))
    evaluated_on, ev = _eval_split(items, usable)
    result.model = "user predictions"
    result.features = None
    if evaluated_on is None:
        result.reason = "no labelled items in the test or validation split"
        return
    ids = [items.ids[i] for i in ev]
    missing = [i for i in ids if i not in preds]
    result.predictions = {
        "file": str(path),
        "items_scored": len(ids),
        "missing": len(missing),  # scored as empty output (no boxes, empty transcript)
        "missing_examples": missing[:5],
        "ignored": len(set(preds) - set(ids)),  # predictions for items outside the split
        "model_version": _versions(preds.values()),
    }
    result.evaluated_on = evaluated_on
    try:
        if spec.task.type == "object_detection":
            truth = {items.ids[i]: list(items.labels[i] or []) for i in ev}
            guess = {}
            for item in ids:
                rec = preds.get(item, {})
                default = float(rec.get("score", 1.0))
                guess[item] = [
                    _box(b, default, file=str(path), item=item, field=field)
                    for b in rec.get(field) or []
                ]
            result.figures, result.per_class = detection_figures(
                truth, guess, spec.task.class_names
            )
        else:
            refs = [str(items.labels[i] or "") for i in ev]
            hyps = [str(preds.get(item, {}).get(field) or "") for item in ids]
            result.figures = transcription_figures(refs, hyps)
    except ValueError as exc:
        result.reason = str(exc)


def _box(b: Any, score: float, *, file: str, item: str, field: str) -> dict[str, Any]:
    """A predicted box checked for what the evaluator needs (label, x, y, width, height)."""
    from datakit.errors import InputError

    try:
        return {
            "label": str(b["label"]),
            **{k: float(b[k]) for k in ("x", "y", "width", "height")},
            "score": float(b.get("score", score)),
        }
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(
            f"a predicted box needs label, x, y, width, height (and an optional score): {exc}",
            file=file,
            item=item,
            field=field,
        ) from exc


def _versions(recs: Any) -> list[str]:
    seen: Sequence[str] = sorted({str(r["model_version"]) for r in recs if r.get("model_version")})
    return list(seen)
