"""The trained baselines: deterministic, on the release's splits, flagging planted label noise,
and the suspect list written safely for spreadsheets."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from datakit.check.validity import SUSPECTS_FILE, SuspectList, measure_validity
from datakit.check.validity.data import split_items
from datakit.check.validity.suspects import Suspect, safe_cell
from datakit.project import Project
from datakit.validity_report import ValidityResult
from tests.check.conftest import manifest_row, write_labels, write_manifest
from tests.fixtures.corpora import HATE_SPEECH, corpus
from tests.validity.builders import (
    HATE_TO_CLASS,
    flip_labels,
    image_project,
    read_hate_speech,
    synthetic_reviews,
    text_project,
)


def test_fixed_seed_gives_the_same_metric_twice(make_project: Callable[..., Path]) -> None:
    rows = read_hate_speech(corpus(HATE_SPEECH, "train.tsv"))[:600]
    root = text_project(make_project, [r[0] for r in rows], [HATE_TO_CLASS[r[1]] for r in rows])
    project = Project(root)
    first = measure_validity(project, n_jobs=1)
    csv_first = (project.paths.reports / SUSPECTS_FILE).read_bytes()
    second = measure_validity(project, n_jobs=1)
    assert first.value is not None
    assert first.value == second.value
    assert first.figures == second.figures
    assert first.confusion == second.confusion
    assert (project.paths.reports / SUSPECTS_FILE).read_bytes() == csv_first
    assert first.evaluated_on == "test"
    assert sum(first.split_sizes.values()) == 600
    # the result is read back by the same object that wrote it
    again = ValidityResult.read(project.paths.reports)
    assert again is not None and again.to_dict() == second.to_dict()


def test_splits_are_the_release_splits(make_project: Callable[..., Path]) -> None:
    """The baseline trains on the items `datakit package` will put in train, and one group
    never straddles two splits (nor two folds)."""
    import pyarrow as pa

    from datakit.splits import assign_splits

    texts, labels = synthetic_reviews(90)
    groups = [f"g{i // 3}" for i in range(90)]
    root = text_project(make_project, texts, labels, groups=groups)
    items = split_items(Project(root))
    table = pa.table(
        {
            "id": items.ids,
            "group": groups,
            "stratum": labels,
        }
    )
    spec = Project(root).spec
    ref = assign_splits(table, ratios=spec.splits.ratios, seed=spec.splits.seed)
    assert [items.names[s] for s in items.split] == ref.column("split").to_pylist()
    by_group: dict[str, set[int]] = {}
    for g, u in zip(groups, items.unit.tolist(), strict=True):
        by_group.setdefault(g, set()).add(u)
    assert all(len(v) == 1 for v in by_group.values())


def test_planted_label_noise_is_flagged(make_project: Callable[..., Path]) -> None:
    texts, truth = synthetic_reviews(300)
    noisy, flipped = flip_labels(truth, ["긍정", "부정", "중립"], 0.08, seed=3)
    root = text_project(make_project, texts, noisy)
    project = Project(root)
    result = measure_validity(project, n_jobs=1)
    assert result.suspects is not None and result.suspects["folds"] == 5
    found = SuspectList.read(project.paths.reports / SUSPECTS_FILE)
    ids = [f"r{i:04d}" for i in range(300)]
    planted = {ids[i] for i in flipped}
    top = {s.item_id for s in found.top(len(planted))}
    hits = len(top & planted)
    # at k = the number planted: random picking would find 8% of them
    assert hits / len(planted) >= 0.7, (hits, len(found))
    assert hits / len(top) >= 0.9, (hits, len(found))
    # the suggestion for a planted flip is the true class
    fixes = {s.item_id: s.suggested_label for s in found.rows if s.item_id in planted}
    right = sum(fixes[i] == truth[ids.index(i)] for i in fixes)
    assert right >= 0.8 * len(fixes)
    # clean separable data: the baseline itself reaches the target on test
    assert result.passed is True


def test_suspect_csv_is_formula_safe_and_reads_back(tmp_path: Path) -> None:
    rows = [
        Suspect(1, "=cmd|' /C calc'!A0", "train", "+긍정", "-부정", 0.01, 0.9, "@SUM(A1)"),
        Suspect(2, "plain", None, "중립", "긍정", 0.2, 0.7, "텍스트"),
    ]
    path = SuspectList(rows).write(tmp_path / SUSPECTS_FILE)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: Excel shows Korean
    text = raw.decode("utf-8-sig")
    assert "'=cmd" in text and "'+긍정" in text and "'-부정" in text and "'@SUM" in text
    assert SuspectList.read(path).rows == rows
    assert safe_cell("정상") == "정상"


def test_image_baseline_on_generated_shapes(make_project: Callable[..., Path]) -> None:
    root, _ = image_project(make_project, 150)
    result = measure_validity(Project(root), n_jobs=1)
    assert result.reason is None
    assert result.model is not None and "LogisticRegression" in result.model
    assert result.value is not None and result.value >= 0.8, result.figures
    assert result.confusion is not None and len(result.confusion["labels"]) == 3


def test_ner_baseline_learns_entities(make_project: Callable[..., Path]) -> None:
    root = make_project("ner")
    names = ["김철수", "이영희", "박민수", "최지우", "정하늘", "강서준"]
    places = ["서울", "부산", "대전", "광주"]
    rows, records = [], []
    for i in range(120):
        who, where = names[i % 6], places[i % 4]
        text = f"{who} 씨는 어제 {where}에서 회의를 했다 {i}"
        start = text.index(where)
        spans = [
            {"start": 0, "end": len(who), "label": "인명"},
            {"start": start, "end": start + len(where), "label": "지명"},
        ]
        row = manifest_row(i, text=text, sha256=hashlib.sha256(text.encode()).hexdigest())
        rows.append(row)
        records.append({"id": row["id"], "text": text, "source": f"기사{i}", "entities": spans})
    write_manifest(root, rows)
    write_labels(root, records)
    result = measure_validity(Project(root))
    assert result.metric == "entity_f1"
    assert result.reason is None, result.reason
    assert result.value is not None and result.value >= 0.9, result.figures
    assert {c["label"] for c in result.per_class} == {"인명", "지명"}
    assert result.suspects is None  # no suspect list for NER yet
    assert json.loads(json.dumps(result.to_dict()))["metric"] == "entity_f1"


def test_large_projects_use_a_seeded_sample(
    make_project: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from datakit.check.validity import run

    monkeypatch.setattr(run, "MAX_ITEMS", 60)
    texts, labels = synthetic_reviews(120)
    project = Project(text_project(make_project, texts, labels))
    first = measure_validity(project, n_jobs=1)
    assert first.params["sampled_items"] == 60 and first.params["usable_items"] == 120
    assert sum(first.split_sizes.values()) == 120  # the release's sizes, not the sample's
    assert first.suspects is not None and first.suspects["checked"] == 60
    assert measure_validity(project, n_jobs=1).figures == first.figures
