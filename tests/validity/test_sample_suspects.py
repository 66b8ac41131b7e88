"""`datakit check sample --suspects N`: the doubted labels join the hand-out, marked, and
stay out of the random sample whose verdicts estimate the semantic accuracy."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from datakit.check import indicators
from datakit.check.inspection import (
    SHEET_FILE,
    draw,
    import_verdicts_csv,
    inspection_dir,
    sample_verdicts,
)
from datakit.check.validity import SUSPECTS_FILE, SuspectList, measure_validity
from datakit.errors import ProjectError
from datakit.project import Project
from tests.validity.builders import flip_labels, synthetic_reviews, text_project


@pytest.fixture
def noisy_project(make_project: Callable[..., Path]) -> Path:
    texts, truth = synthetic_reviews(240)
    noisy, _ = flip_labels(truth, ["긍정", "부정", "중립"], 0.1, seed=5)
    root = text_project(make_project, texts, noisy)
    measure_validity(Project(root), n_jobs=1)
    return root


def _sheet(project: Project) -> list[dict[str, str]]:
    path = inspection_dir(project) / SHEET_FILE
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def test_suspects_are_marked_and_kept_out_of_the_estimate(noisy_project: Path) -> None:
    project = Project(noisy_project)
    doubted = SuspectList.read(project.paths.reports / SUSPECTS_FILE)
    assert len(doubted) >= 5
    plan = draw(project, size=20, suspects=5)
    assert len(plan.items) == 20 and len(plan.suspects) == 5
    assert not set(plan.items) & set(plan.suspects)
    # the suspects are the top of the list, skipping any already drawn at random
    expected = [s.item_id for s in doubted.rows if s.item_id not in set(plan.items)][:5]
    assert plan.suspects == expected
    # the random part is exactly what a draw without suspects gives
    assert draw(project, size=20, force=True).items == plan.items
    plan = draw(project, size=20, suspects=5, force=True)

    rows = _sheet(project)
    assert [r["sample"] for r in rows] == ["random"] * 20 + ["suspect"] * 5
    # Inspectors fail every suspect and pass every random item: the estimate sees only the
    # random sample (20 of 20), not 20 of 25.
    for r in rows:
        r["verdict"] = "FAIL" if r["sample"] == "suspect" else "PASS"
    filled = project.root / "filled.csv"
    with filled.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    got = import_verdicts_csv(project, filled)
    assert (got.passed, got.failed, got.pending, got.sample_size) == (20, 0, 0, 20)
    assert (got.suspects_checked, got.suspects_failed) == (5, 5)
    _, verdicts = sample_verdicts(project)
    assert len(verdicts) == 20 and all(verdicts.values())
    semantic = indicators.semantic(verdicts, 0.9)
    assert semantic.value == 1.0  # the suspects' FAILs do not pull the estimate down


def test_cli_sample_with_suspects(noisy_project: Path, cli: Callable[..., Any]) -> None:
    result = cli(
        "check", "sample", "-p", noisy_project, "--size", "10", "--suspects", "3", "--json"
    )
    out = json.loads(result.stdout)
    assert len(out["items"]) == 10 and len(out["suspects"]) == 3


def test_suspects_need_the_list(make_project: Callable[..., Path]) -> None:
    texts, labels = synthetic_reviews(30)
    project = Project(text_project(make_project, texts, labels))
    with pytest.raises(ProjectError, match="no suspect list"):
        draw(project, size=5, suspects=3)


class _FakeClient:
    """What push_review asks of the Label Studio client, recorded."""

    def __init__(self) -> None:
        self.tasks: list[dict[str, Any]] = []

    def project(self, pid: int) -> None:
        return None

    def create_project(self, **settings: Any) -> dict[str, Any]:
        assert set(settings) == {"title", "label_config"}
        return {"id": 7}

    def import_tasks(self, pid: int, tasks: list[dict[str, Any]]) -> None:
        self.tasks.extend(tasks)


def test_suspects_go_to_the_review_project_marked(noisy_project: Path) -> None:
    from datakit.check.inspection import push_review, verdicts_from_export

    project = Project(noisy_project)
    plan = draw(project, size=8, suspects=4)
    client = _FakeClient()
    assert push_review(project, client) == 7
    kinds = [t["sample"] for t in client.tasks]
    assert kinds == ["random"] * 8 + ["suspect"] * 4
    doubted = [t for t in client.tasks if t["sample"] == "suspect"]
    assert [t["item_id"] for t in doubted] == plan.suspects
    assert all(t["label_view"].startswith("[suspect") for t in doubted)
    # verdicts pulled back count for the suspects, never for the estimate
    export = [
        {
            "data": {"item_id": t["item_id"]},
            "annotations": [
                {"id": n, "result": [{"from_name": "verdict", "value": {"choices": ["FAIL"]}}]}
            ],
        }
        for n, t in enumerate(doubted)
    ]
    found = verdicts_from_export(export)
    assert set(found) == set(plan.suspects)
