"""유효성 검증: the figures behind the validity step (docs/check.md, issue 14).

1. **Text baseline vs the same pipeline by hand.** The shared corpus (Korean HateSpeech,
   CC BY-SA 4.0, Moon et al., 2020; ``hate`` column, 3 classes): train on ``train.tsv``,
   macro-F1 on ``dev.tsv``, datakit's ``fit_classifier`` (one C) next to the scikit-learn
   pipeline written by hand (``TfidfVectorizer(char_wb, 1-3, min_df=2, sublinear_tf)`` +
   ``LogisticRegression(C=4)``). Best of ``--repeat`` runs each, alternating; the ratio.
2. **Baseline + suspects on ~8,000 texts.** ``train.tsv`` as a datakit project with a
   seeded 5% of its labels flipped; ``measure_validity`` end to end (release splits, C grid on
   validation, test figure, 5-fold grouped out-of-fold probabilities, cleanlab): the time,
   and the suspect list's precision and recall at k = the number flipped (random: 5%).
3. **Image baseline** on a generated set of shapes (circle / square / triangle on noise).

Usage: .venv/bin/python bench/bench_validity.py [--corpus DIR] [--repeat 2] [--images 600]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from datakit.check.validity import SUSPECTS_FILE, SuspectList, measure_validity  # noqa: E402
from datakit.check.validity.classify import fit_classifier  # noqa: E402
from datakit.plan.init import init_project  # noqa: E402
from datakit.project import Project  # noqa: E402
from tests.validity.builders import (  # noqa: E402
    HATE_TO_CLASS,
    flip_labels,
    image_project,
    read_hate_speech,
    text_project,
)

CORPUS = REPO.parent / "shared" / "corpora" / "korean-hate-speech"


def by_hand(train: list[tuple[str, str]], dev: list[tuple[str, str]]) -> float:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    from sklearn.pipeline import make_pipeline

    model = make_pipeline(
        TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), min_df=2, sublinear_tf=True),
        LogisticRegression(C=4, max_iter=2000),
    )
    model.fit([t for t, _ in train], [y for _, y in train])
    pred = model.predict([t for t, _ in dev])
    return float(f1_score([y for _, y in dev], pred, average="macro"))


def with_datakit(train: list[tuple[str, str]], dev: list[tuple[str, str]]) -> float:
    from sklearn.metrics import f1_score

    fitted = fit_classifier("text", [t for t, _ in train], [y for _, y in train], grid=(4.0,))
    pred = fitted.estimator.predict([t for t, _ in dev])
    return float(f1_score([y for _, y in dev], pred, average="macro"))


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def maker(tmp: Path) -> Callable[..., Path]:
    def make(template: str = "text_classification", name: str | None = None) -> Path:
        root = tmp / (name or template)
        init_project(root, template=template, dataset_id="bench-" + template.replace("_", "-"))
        return root

    return make


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--images", type=int, default=600)
    ap.add_argument("--noise", type=float, default=0.05)
    ap.add_argument("--steps", default="123", help="which parts to run, e.g. 2 or 13")
    args = ap.parse_args()
    train = read_hate_speech(args.corpus / "train.tsv")
    dev = read_hate_speech(args.corpus / "dev.tsv")
    print(f"corpus: train {len(train):,} · dev {len(dev):,} · {os.cpu_count()} cores")

    if "1" in args.steps:
        compare_by_hand(train, dev, args.repeat)
    with tempfile.TemporaryDirectory() as tmp:
        make = maker(Path(tmp))
        if "2" in args.steps:
            noisy_project(make, train, args.noise)
        if "3" in args.steps:
            images(make, args.images)
    return 0


def compare_by_hand(train: list[tuple[str, str]], dev: list[tuple[str, str]], repeat: int) -> None:
    with_datakit(train[:200], dev[:50])  # imports and warm-up outside the timings
    from threadpoolctl import threadpool_limits

    def by_hand_one_thread() -> float:
        with threadpool_limits(limits=1):
            return by_hand(train, dev)

    hand_t, hand1_t, dk_t = [], [], []
    for _ in range(repeat):
        t, f1_hand = timed(lambda: by_hand(train, dev))
        hand_t.append(t)
        t, f1_hand1 = timed(by_hand_one_thread)
        hand1_t.append(t)
        t, f1_dk = timed(lambda: with_datakit(train, dev))
        dk_t.append(t)
    print("\n1. text baseline, train → dev macro-F1 (best of", repeat, "runs)")
    print(f"   by hand (scikit-learn)            macro-F1 {f1_hand:.4f}  {min(hand_t):6.2f} s")
    print(f"   by hand, BLAS on one thread       macro-F1 {f1_hand1:.4f}  {min(hand1_t):6.2f} s")
    print(f"   datakit fit_classifier            macro-F1 {f1_dk:.4f}  {min(dk_t):6.2f} s")
    print(
        f"   time ratio datakit / by hand: {min(dk_t) / min(hand_t):.2f}x; / by hand on one "
        f"BLAS thread: {min(dk_t) / min(hand1_t):.2f}x (goal ≤ 1.2x)"
    )


def noisy_project(make: Callable[..., Path], train: list[tuple[str, str]], noise: float) -> None:
    texts = [t for t, _ in train]
    labels = [HATE_TO_CLASS[y] for _, y in train]
    noisy, flipped = flip_labels(labels, ["긍정", "부정", "중립"], noise, seed=2026)
    root = text_project(make, texts, noisy, name="hate-noisy")
    project = Project(root)
    t, result = timed(lambda: measure_validity(project))
    found = SuspectList.read(project.paths.reports / SUSPECTS_FILE)
    ids = [f"r{i:04d}" for i in range(len(texts))]
    planted = {ids[i] for i in flipped}
    k = len(planted)
    top = {s.item_id for s in found.top(k)}
    hits = len(top & planted)
    print(f"\n2. measure_validity on {len(texts):,} texts, {k} labels flipped ({noise:.0%})")
    print(
        f"   {result.metric} on {result.evaluated_on} {result.value:.4f} "
        f"(C={result.params.get('C')}, splits {result.split_sizes})"
    )
    print(f"   time {t:.1f} s (goal < 60 s on 2 cores)")
    print(f"   cleanlab flagged {len(found):,} items ({len(found) / len(texts):.1%})")
    print(
        f"   at k={k}: precision {hits / max(1, len(top)):.3f} · recall {hits / k:.3f} "
        f"(random: precision {noise:.3f} · recall {len(top) / len(texts):.3f})"
    )
    flagged = {s.item_id for s in found.rows}
    print(
        f"   whole list: recall {len(flagged & planted) / k:.3f} "
        f"· precision {len(flagged & planted) / max(1, len(flagged)):.3f}"
    )


def images(make: Callable[..., Path], n: int) -> None:
    root, _ = image_project(make, n, name="shapes")
    t, img = timed(lambda: measure_validity(Project(root)))
    print(f"\n3. image baseline on {n} generated shapes (3 classes)")
    print(
        f"   {img.metric} on {img.evaluated_on} {img.value:.4f} · accuracy "
        f"{img.figures.get('accuracy', 0):.4f} (C={img.params.get('C')}, "
        f"splits {img.split_sizes}) · {t:.1f} s incl. HOG and 5-fold suspects"
    )


if __name__ == "__main__":
    sys.exit(main())
