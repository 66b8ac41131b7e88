"""The NER baseline: a linear-chain CRF (sklearn-crfsuite, L-BFGS) over characters.

Korean entity boundaries often fall inside an eojeol (``서울시에서`` → ``서울시`` + ``에서``),
so the sequence is the characters and each gets its own features: the character, its kind
(Hangul, Latin, digit, space, punctuation), and its neighbours within two positions and their
bigrams. Spans become character-level IOB2 tags; entity F1 is scored strictly (seqeval).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

MODEL = "linear-chain CRF (sklearn-crfsuite, L-BFGS)"
FEATURES = "character, character kind, neighbours within 2 and their bigrams (IOB2 over characters)"
GRID: tuple[tuple[float, float], ...] = ((0.05, 0.01), (0.2, 0.05))  # (c1, c2)
DEFAULT = GRID[0]
MAX_ITERATIONS = 100


def _kind(ch: str) -> str:
    if ch.isspace():
        return "space"
    if "\uac00" <= ch <= "\ud7a3" or "\u3131" <= ch <= "\u318e":
        return "hangul"
    if ch.isdigit():
        return "digit"
    if ch.isalpha():
        return "alpha"
    return unicodedata.category(ch)[0]  # P (punctuation), S (symbol), …


def char_features(text: str) -> list[dict[str, Any]]:
    n = len(text)
    out = []
    for i, ch in enumerate(text):
        f: dict[str, Any] = {"bias": 1.0, "c": ch, "k": _kind(ch)}
        for d in (-2, -1, 1, 2):
            j = i + d
            f[f"c{d}"] = text[j] if 0 <= j < n else ("<s>" if j < 0 else "</s>")
            if 0 <= j < n:
                f[f"k{d}"] = _kind(text[j])
        f["b-1"] = text[i - 1 : i + 1] if i > 0 else "<s>" + ch
        f["b+1"] = text[i : i + 2] if i + 1 < n else ch + "</s>"
        out.append(f)
    return out


def iob_tags(text: str, spans: Sequence[Mapping[str, Any]] | None) -> list[str]:
    """Character IOB2 tags of ``spans`` (``start``/``end`` character offsets, ``label``);
    an overlapping span loses to the one that started first."""
    tags = ["O"] * len(text)
    for s in sorted(spans or (), key=lambda s: (int(s["start"]), -int(s["end"]))):
        start, end = max(0, int(s["start"])), min(len(text), int(s["end"]))
        if start >= end or any(t != "O" for t in tags[start:end]):
            continue
        tags[start] = f"B-{s['label']}"
        for k in range(start + 1, end):
            tags[k] = f"I-{s['label']}"
    return tags


@dataclass
class FittedCrf:
    model: Any
    params: dict[str, float]
    tuning: list[dict[str, Any]] = field(default_factory=list)


def _crf(c1: float, c2: float) -> Any:
    import sklearn_crfsuite

    return sklearn_crfsuite.CRF(
        algorithm="lbfgs",
        c1=c1,
        c2=c2,
        max_iterations=MAX_ITERATIONS,
        all_possible_transitions=True,
    )


def fit_crf(
    train: Sequence[str],
    train_tags: Sequence[Sequence[str]],
    val: Sequence[str] = (),
    val_tags: Sequence[Sequence[str]] = (),
) -> FittedCrf:
    """Train on the training split, pick (c1, c2) by strict entity F1 on validation."""
    from .scoring import entity_figures

    x_train = [char_features(t) for t in train]
    y_train = [list(t) for t in train_tags]
    grid = GRID if val else (DEFAULT,)
    x_val = [char_features(t) for t in val]
    best: tuple[float, tuple[float, float], Any] | None = None
    tuning: list[dict[str, Any]] = []
    for c1, c2 in grid:
        model = _crf(c1, c2)
        model.fit(x_train, y_train)
        if not val:
            best = (0.0, (c1, c2), model)
            break
        f1 = entity_figures(val_tags, model.predict(x_val))[0]["entity_f1"]
        tuning.append({"c1": c1, "c2": c2, "validation_entity_f1": round(f1, 6)})
        if best is None or f1 > best[0]:
            best = (f1, (c1, c2), model)
    assert best is not None
    return FittedCrf(best[2], {"c1": best[1][0], "c2": best[1][1]}, tuning)


def predict_tags(fitted: FittedCrf, texts: Sequence[str]) -> list[list[str]]:
    return [list(p) for p in fitted.model.predict([char_features(t) for t in texts])]
