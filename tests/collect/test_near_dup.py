"""Near-duplicates are near-duplicates: hand-labelled pairs, no chains, short texts equal.

The labelled pairs are ``tests/fixtures/near_dup_pairs.jsonl`` (see
``tests/fixtures/README.md`` for how they were drawn and judged).
"""

from __future__ import annotations

import csv
import json
import random
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

import pytest

from datakit.collect import Mapping, collect
from datakit.collect.dedup import (
    image_clusters,
    near_duplicate_texts,
    normalize_text,
    text_clusters,
)
from datakit.errors import InputError, SpecError
from datakit.project import Project
from datakit.spec.model import NearDuplicateSettings
from tests.collect.helpers import read_manifest
from tests.fixtures.corpora import unlabeled_comments, write_comments_csv

REPO = Path(__file__).resolve().parents[2]
PAIRS = REPO / "tests" / "fixtures" / "near_dup_pairs.jsonl"
SPEC = NearDuplicateSettings()


def _pairs() -> list[dict[str, object]]:
    with PAIRS.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def test_labelled_pairs_precision_and_recall() -> None:
    pairs = _pairs()
    assert len(pairs) >= 300
    assert {p["source"] for p in pairs} >= {"korean-hate-speech/unlabeled_comments_5", "generated"}
    counts: Counter[tuple[bool, bool]] = Counter()
    by_source: dict[str, Counter[tuple[bool, bool]]] = defaultdict(Counter)
    for p in pairs:
        said = near_duplicate_texts(
            str(p["a"]), str(p["b"]), threshold=SPEC.threshold, min_length=SPEC.min_length
        )
        truth = bool(p["duplicate"])
        counts[said, truth] += 1
        by_source[str(p["source"])][said, truth] += 1
    tp, fp, fn = counts[True, True], counts[True, False], counts[False, True]
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    print(
        f"\n{len(pairs)} labelled pairs ({tp + fn} duplicates): precision {precision:.3f} "
        f"({tp}/{tp + fp}), recall {recall:.3f} ({tp}/{tp + fn})"
    )
    for source, c in sorted(by_source.items()):
        print(f"  {source}: said yes {c[True, True] + c[True, False]}, right {c[True, True]}")
    assert precision >= 0.95


def test_normal_form() -> None:
    assert normalize_text("축하 드립니다~~") == normalize_text("축하드립니다 ~~~~~")
    assert normalize_text("ㅋㅋ귀요미") == normalize_text("귀요미^^") == "귀요미"
    assert normalize_text("ＯＳＴ 최고") == normalize_text("ost 최고!")
    assert normalize_text("좋아요!!!!") == normalize_text("좋아요") == "좋아요"
    assert normalize_text("재미있다ㅠㅠ") == "재미있다"
    # laughter alone is kept (cut to two), so "ㅋㅋㅋ" and "ㅋㅋㅋㅋㅋ" match, "ㅎㅎ" does not
    assert normalize_text("ㅋㅋㅋ") == normalize_text("ㅋ ㅋ ㅋ ㅋ ㅋ") != normalize_text("ㅎㅎ")
    assert normalize_text("https://www1.president.go.kr/petitions/584936문재인") == "문재인"
    assert normalize_text("!!! ^^") == ""


def test_short_texts_must_be_equal() -> None:
    assert near_duplicate_texts("응원합니다", "응원합니다!!!")
    assert not near_duplicate_texts("응원합니다", "축하합니다")
    assert not near_duplicate_texts("완전 재미있다", "그닥 재미없다")
    assert not near_duplicate_texts("!!!", "!!!!")  # nothing left to compare
    # below min_length even a high shingle similarity is not enough
    a, b = "정말 재미있게 잘 봤어요", "정말 재미있게 잘 봤어"
    assert not near_duplicate_texts(a, b)
    assert near_duplicate_texts(a, b, min_length=0)


def test_long_texts_use_shingles() -> None:
    a = "구매 전에 궁금했던 부분 적어 볼게요. 17인치 노트북까지 올릴 수 있대요."
    b = "구매 전에 궁금했던 부분 적어 볼게요. 그리고 17인치 노트북까지 올릴 수 있대요."
    assert near_duplicate_texts(a, b)
    assert not near_duplicate_texts(a, b, threshold=0.99)


def _groups(clusters: dict[int, str]) -> list[list[int]]:
    out: dict[str, list[int]] = defaultdict(list)
    for i, c in clusters.items():
        out[c].append(i)
    return sorted(sorted(g) for g in out.values())


def test_clusters_do_not_chain() -> None:
    # b is within 0.5 of a and of c, but a and c are not near-duplicates of each other:
    # connected components made one cluster of all three
    w = ["가나다", "라마바", "사아자", "차카타", "파하거", "너더러"]
    w += ["머버서", "어저처", "커터퍼", "허고노", "도로모", "보소오"]
    a, b, c = " ".join(w[0:8]), " ".join(w[2:10]), " ".join(w[4:12])  # 24 characters each
    assert near_duplicate_texts(a, b) and near_duplicate_texts(b, c)  # Jaccard 17/29
    assert not near_duplicate_texts(a, c)  # 11/35
    clusters = text_clusters(["t1", "t2", "t3"], [a, b, c])
    assert _groups(clusters) == [[0, 1]]
    assert clusters[0] == "nd-t1"
    # when b comes first by id, it represents both: a star around b, still no chain
    clusters = text_clusters(["t2", "t1", "t3"], [a, b, c])
    assert _groups(clusters) == [[0, 1, 2]] and clusters[0] == "nd-t1"


def test_every_member_is_a_near_duplicate_of_its_representative() -> None:
    rng = random.Random(3)
    stems = ["배송 빠르고 포장 꼼꼼해요", "사이즈가 너무 작아요", "색상이 사진이랑 달라요"]
    texts = []
    for _ in range(300):
        words = rng.choice(stems).split() + rng.sample(["정말", "진짜", "너무", "다시", "또"], 2)
        rng.shuffle(words)
        texts.append(" ".join(words) + rng.choice(["", "!", "~~", " ㅎㅎ"]))
    ids = [f"r{i:04d}" for i in range(len(texts))]
    clusters = text_clusters(ids, texts, min_length=0)
    assert clusters
    for i, cid in clusters.items():
        rep = ids.index(cid.removeprefix("nd-"))
        assert near_duplicate_texts(texts[rep], texts[i], min_length=0), (texts[rep], texts[i])
        assert cid == "nd-" + min(ids[j] for j, c in clusters.items() if c == cid)


def test_clusters_do_not_depend_on_input_order() -> None:
    texts = [
        "응원합니다",
        "응원합니다!!",
        "축하합니다",
        "축하합니다~~",
        "행복하세요",
        "배송이 빠르고 포장도 꼼꼼해서 정말 만족합니다. 다음에 또 살게요",
        "배송이 빠르고 포장도 꼼꼼해서 만족합니다!! 다음에 또 살게요",
        "배송이 빠르고 포장도 꼼꼼해서 정말 만족해요. 다음에 또 살게요",
    ]
    ids = [f"x{i}" for i in range(len(texts))]
    want = {ids[i]: c for i, c in text_clusters(ids, texts).items()}
    order = list(range(len(texts)))
    for seed in range(5):
        random.Random(seed).shuffle(order)
        got = text_clusters([ids[i] for i in order], [texts[i] for i in order])
        assert {ids[order[i]]: c for i, c in got.items()} == want
    assert want["x0"] == want["x1"] == "nd-x0"
    assert want["x2"] == want["x3"] == "nd-x2"
    assert "x4" not in want and want["x5"] == want["x6"] == want["x7"] == "nd-x5"


def test_image_clusters_do_not_chain() -> None:
    a = 0
    b = 0b1111  # 4 bits from a
    c = 0b11111111  # 4 bits from b, 8 from a
    hashes = [f"{h:016x}" for h in (a, b, c)]
    clusters = image_clusters(["i1", "i2", "i3"], hashes, max_distance=6)
    assert _groups(clusters) == [[0, 1]] and clusters[0] == "nd-i1"
    clusters = image_clusters(["i3", "i2", "i1"], hashes, max_distance=6)
    assert _groups(clusters) == [[1, 2]] and clusters[2] == "nd-i1"


def _write(root: Path, rows: list[tuple[str, str]]) -> Path:
    path = root / "data" / "raw" / "reviews.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "text"])
        w.writerows(rows)
    return path


SHORT = [
    ("r1", "정말 재미있게 잘 봤어요"),
    ("r2", "정말 재미있게 잘 봤어"),
    ("r3", "정말 재미있게 잘 봤어요!!"),
]


def test_spec_min_length_and_threshold_reach_collect(make_project: Callable[..., Path]) -> None:
    root = make_project("text_classification")
    src = _write(root, SHORT)
    first = collect(Project(root), [src])
    assert (first.near_dup_clusters, first.near_dup_items) == (1, 2)  # r1 + r3 only
    spec = root / "datakit.yaml"
    text = spec.read_text(encoding="utf-8")
    spec.write_text(text + "collect:\n  near_duplicates: {min_length: 0}\n", encoding="utf-8")
    assert Project(root).spec.collect.near_duplicates == NearDuplicateSettings(0.5, 0)
    second = collect(Project(root), [src])  # no file changed, but the rule did
    assert second.manifest_written
    assert (second.near_dup_clusters, second.near_dup_items) == (1, 3)
    rows = {str(r["id"]): r["near_dup_cluster"] for r in read_manifest(root)}
    assert rows == {"r1": "nd-r1", "r2": "nd-r1", "r3": "nd-r1"}
    third = collect(Project(root), [src], text_threshold=0.95)  # the option beats the spec
    assert third.manifest_written and (third.near_dup_clusters, third.near_dup_items) == (1, 2)
    assert not collect(Project(root), [src], text_threshold=0.95).manifest_written


@pytest.mark.parametrize("bad", [0.0, -0.1, 1.5, float("nan")])
def test_threshold_out_of_range_is_refused(
    make_project: Callable[..., Path], bad: float, cli: Callable[..., object]
) -> None:
    root = make_project("text_classification")
    src = _write(root, SHORT)
    with pytest.raises(InputError, match="--near-dup-threshold"):
        collect(Project(root), [src], text_threshold=bad)
    assert not (root / "data" / "manifest.parquet").exists()
    result = cli("collect", src, "-p", root, "--near-dup-threshold", str(bad))
    assert result.exit_code == 2  # type: ignore[attr-defined]
    err = result.stderr  # type: ignore[attr-defined]
    assert "--near-dup-threshold must be greater than 0 and at most 1" in err


def test_spec_rejects_a_bad_threshold(make_project: Callable[..., Path]) -> None:
    root = make_project("text_classification")
    spec = root / "datakit.yaml"
    text = spec.read_text(encoding="utf-8")
    spec.write_text(text + "collect:\n  near_duplicates: {threshold: 0}\n", encoding="utf-8")
    with pytest.raises(SpecError, match=r"collect\.near_duplicates\.threshold"):
        _ = Project(root).spec


@pytest.mark.slow
def test_shared_corpus_clusters(make_project: Callable[..., Path]) -> None:
    """The Korean HateSpeech comments (CC BY-SA 4.0, Moon et al., 2020) collected for real,
    with the news title as the group; fails (not skips) without the corpus when CI is set."""
    root = make_project("text_classification")
    src = write_comments_csv(root / "data" / "raw" / "comments.csv", unlabeled_comments())
    result = collect(Project(root), [src], mapping=Mapping(group="title"))
    rows = [r for r in read_manifest(root) if r["status"] == "ok"]
    clusters: dict[str, list[dict[str, object]]] = defaultdict(list)
    for r in rows:
        if r["near_dup_cluster"]:
            clusters[str(r["near_dup_cluster"])].append(r)
    assert len(clusters) == result.near_dup_clusters > 0
    for cid, members in clusters.items():
        rep = next(r for r in members if r["id"] == cid.removeprefix("nd-"))
        assert rep["id"] == min(str(r["id"]) for r in members)
        for r in members:
            assert near_duplicate_texts(str(rep["text"]), str(r["text"])), (cid, r["text"])
    home = {str(r["text"]): r["near_dup_cluster"] for r in rows}
    trio = [home.get(t) for t in ("응원합니다", "행복하세요", "축하합니다")]
    assert all(trio) and len(set(trio)) == 3
    sizes = sorted((len(m) for m in clusters.values()), reverse=True)
    print(
        f"\n{len(rows):,} ok comments: {len(clusters):,} near-duplicate clusters, "
        f"{sum(sizes):,} items, largest {sizes[0]} (then {sizes[1:5]})"
    )
    assert sizes[0] < 100
