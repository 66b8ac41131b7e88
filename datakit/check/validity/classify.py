"""Classification baselines (text and image) and their out-of-fold probabilities.

* **text** — TF-IDF over character n-grams (``char_wb``, 1–3, sublinear tf) and a
  multinomial logistic regression: a strong classic baseline for Korean, where words carry
  particles and a word-level vocabulary fragments.
* **image** — HOG of a 64×64 grey image plus an 8×8 colour thumbnail, standardised, and a
  logistic regression. No pretrained weights: nothing can be downloaded, and the figure must
  not depend on a model the user cannot see.

Both are deterministic (lbfgs, no random initialisation) and CPU-only. The regularisation
``C`` is chosen on the validation split from a small grid; the model trained on the training
split with that ``C`` is then scored on the test split.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

Kind = Literal["text", "image"]

TEXT_MODEL = "LogisticRegression (multinomial, lbfgs)"
TEXT_FEATURES = "TF-IDF over character n-grams (char_wb, 1-3, min_df=2, sublinear tf)"
IMAGE_MODEL = "LogisticRegression (multinomial, lbfgs) on standardised features"
IMAGE_FEATURES = "HOG of a 64x64 grey image (9 orientations, 8x8 cells) + 8x8 RGB thumbnail"
GRID: dict[Kind, tuple[float, ...]] = {"text": (1.0, 4.0, 16.0), "image": (0.01, 0.1, 1.0)}
DEFAULT_C: dict[Kind, float] = {"text": 4.0, "image": 0.1}
IMAGE_SIDE = 64


def text_vectorizer() -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(
        analyzer="char_wb", ngram_range=(1, 3), min_df=2, sublinear_tf=True, dtype=np.float32
    )


def linear_model(c: float) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, max_iter=2000)


def make_estimator(kind: Kind, c: float) -> Any:
    """A fresh, unfitted pipeline of the baseline (for cross-validation)."""
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    if kind == "text":
        return Pipeline([("tfidf", text_vectorizer()), ("model", linear_model(c))])
    return Pipeline([("scale", StandardScaler()), ("model", linear_model(c))])


def image_features(paths: Sequence[Path]) -> npt.NDArray[np.float32]:
    """One row per image: HOG of the 64×64 grey image, then the 8×8 RGB thumbnail in 0..1."""
    from PIL import Image
    from skimage.feature import hog

    rows = []
    for path in paths:
        with Image.open(path) as im:
            rgb = im.convert("RGB")
            grey = np.asarray(rgb.convert("L").resize((IMAGE_SIDE, IMAGE_SIDE)), np.float32)
            thumb = np.asarray(rgb.resize((8, 8)), np.float32).ravel() / 255.0
        h = hog(grey / 255.0, orientations=9, pixels_per_cell=(8, 8), cells_per_block=(2, 2))
        rows.append(np.concatenate([h.astype(np.float32), thumb]))
    return np.vstack(rows) if rows else np.zeros((0, 0), np.float32)


def single_threaded() -> Any:
    """BLAS on one thread: on a shared machine its spinning threads slow lbfgs down 2-4x
    (the fits are small dense products; parallelism comes from the folds instead)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


@dataclass
class FittedClassifier:
    estimator: Any  # predict / predict_proba on raw inputs (texts or feature rows)
    c: float
    tuning: list[dict[str, Any]] = field(default_factory=list)


def _macro_f1(y_true: Sequence[Any], y_pred: Sequence[Any]) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(y_true, y_pred, average="macro", zero_division=0))


def fit_classifier(
    kind: Kind,
    x_train: Any,
    y_train: Sequence[str],
    x_val: Any = None,
    y_val: Sequence[str] | None = None,
    *,
    grid: Sequence[float] | None = None,
) -> FittedClassifier:
    """Train on the training split; pick ``C`` by macro-F1 on the validation split (the first
    best on a tie, so the smaller ``C``). Features are fitted once on train and shared by the
    grid. Without validation items the default ``C`` is used."""
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    prep = text_vectorizer() if kind == "text" else StandardScaler()
    f_train = prep.fit_transform(x_train)
    has_val = x_val is not None and y_val is not None and len(y_val) > 0
    cs = tuple(grid) if grid is not None else GRID[kind]
    if not has_val or len(cs) == 1:
        cs = cs[:1] if len(cs) == 1 else (DEFAULT_C[kind],)
    f_val = prep.transform(x_val) if has_val and len(cs) > 1 else None
    best: tuple[float, float, Any] | None = None
    tuning: list[dict[str, Any]] = []
    # Along the C path each fit starts from the previous solution (warm start): the grid
    # costs little more than its largest C alone. lbfgs from a given start is deterministic.
    model = linear_model(cs[0])
    model.set_params(warm_start=True)
    with single_threaded():
        for c in cs:
            model.set_params(C=c)
            model.fit(f_train, list(y_train))
            if f_val is None:
                best = (0.0, c, copy.deepcopy(model))
                break
            score = _macro_f1(list(y_val or ()), model.predict(f_val))
            tuning.append({"C": c, "validation_macro_f1": round(score, 6)})
            if best is None or score > best[0]:
                best = (score, c, copy.deepcopy(model))
    assert best is not None
    name = "tfidf" if kind == "text" else "scale"
    return FittedClassifier(Pipeline([(name, prep), ("model", best[2])]), best[1], tuning)


def out_of_fold_probabilities(
    kind: Kind,
    x: Any,
    y: npt.NDArray[np.int64],
    groups: npt.NDArray[np.int64],
    *,
    c: float,
    folds: int = 5,
    seed: int = 42,
    n_jobs: int | None = None,
) -> tuple[npt.NDArray[np.float64], int]:
    """Predicted probabilities of every item from a model that never saw it, with folds over
    ``groups`` (stratified when every class can be spread): items of one unit stay in one
    fold, as they stay in one split. Returns (probabilities, folds used)."""
    import warnings

    from sklearn.model_selection import GroupKFold, StratifiedGroupKFold, cross_val_predict

    k = int(min(folds, len(np.unique(groups))))
    if k < 2:
        raise ValueError("fewer than two groups: no cross-validation possible")
    counts = np.bincount(y)
    estimator = make_estimator(kind, c)
    if kind == "text":
        # TF-IDF is fitted once on every text: it sees no labels, so nothing of a held-out
        # fold's labels reaches its model, and five vectoriser fits are saved.
        x = text_vectorizer().fit_transform(x)
        estimator = linear_model(c)
    cv: Any
    if counts[counts > 0].min() >= k:
        cv = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    else:
        cv = GroupKFold(n_splits=k)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a class missing from a training fold
        warnings.simplefilter("ignore", RuntimeWarning)
        if n_jobs in (None, 1):
            with single_threaded():
                probs = cross_val_predict(
                    estimator, x, y, groups=groups, cv=cv, method="predict_proba"
                )
        else:
            probs = cross_val_predict(
                estimator,
                x,
                y,
                groups=groups,
                cv=cv,
                method="predict_proba",
                n_jobs=n_jobs,
            )
    probs = np.asarray(probs, dtype=np.float64)
    sums = probs.sum(axis=1, keepdims=True)
    probs = np.divide(probs, sums, out=np.full_like(probs, 1.0 / probs.shape[1]), where=sums > 0)
    return probs, k
