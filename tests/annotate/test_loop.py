"""The whole annotate loop on a real Label Studio server."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from datakit.annotate.client import Connection, LabelStudioClient
from datakit.annotate.importing import import_export
from datakit.annotate.normalize import to_result
from datakit.annotate.pull import pull
from datakit.annotate.push import push
from datakit.annotate.simulate import annotate, ensure_users, review, simulate
from datakit.reports import AgreementReport

pytestmark = pytest.mark.labelstudio

A1, A2, REV = "ann1@test.local", "ann2@test.local", "rev@test.local"
A1_LABELS = ["긍정", "부정", "긍정", "중립", "긍정", "부정", "중립", "긍정", "부정", "중립"]
A2_LABELS = list(A1_LABELS)
A2_LABELS[2] = "부정"  # planted disagreement
A2_LABELS[7] = "중립"  # planted disagreement
# hand-computed Cohen's κ: p_o = 8/10; A1 = (긍4, 부3, 중3), A2 = (긍2, 부4, 중4)
# p_e = (4·2 + 3·4 + 3·4)/100 = 0.32 → κ = (0.8 − 0.32)/(1 − 0.32)
KAPPA = (0.8 - 0.32) / (1 - 0.32)


def _items() -> list[dict[str, Any]]:
    return [{"id": f"rv{i:02d}", "text": f"상품 리뷰 {i}번: 배송이 빨랐어요"} for i in range(11)]


def _plan() -> dict[str, dict[str, dict[str, Any]]]:
    plan: dict[str, dict[str, dict[str, Any]]] = {}
    for i in range(10):
        plan[f"rv{i:02d}"] = {A1: {"label": A1_LABELS[i]}, A2: {"label": A2_LABELS[i]}}
    plan["rv10"] = {A1: {"label": "긍정"}}  # a single annotation
    return plan


def _mtimes(project: Any) -> dict[str, int]:
    ann = project.paths.annotations
    return {p.name: p.stat().st_mtime_ns for p in sorted(ann.iterdir())}


def test_full_loop(planned_project, ls_conn: Connection, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    project = planned_project("text_classification", _items())
    res = push(project, conn=ls_conn)
    assert res.created and res.tasks_created == 11
    assert res.overlap == {
        "maximum_annotations": 2,
        "overlap_cohort_percentage": 100,
        "show_overlap_first": True,
    }
    with LabelStudioClient(ls_conn) as client:
        lsp = client.project(res.project_id)
        assert lsp is not None
        assert lsp["maximum_annotations"] == 2 and lsp["overlap_cohort_percentage"] == 100
        tasks = {t["data"]["item_id"]: t for t in client.iter_tasks(res.project_id)}
        assert sorted(tasks) == [f"rv{i:02d}" for i in range(11)]
        assert tasks["rv03"]["data"]["text"] == "상품 리뷰 3번: 배송이 빨랐어요"

    sim = simulate(project, conn=ls_conn, plan=_plan())
    assert sim.annotations_created == 21
    # a skipped (cancelled) annotation by A2 on the single-annotation item
    with LabelStudioClient(ls_conn) as client:
        uid = ensure_users(client, [A2])[A2]
        client.create_annotation(
            int(tasks["rv10"]["id"]), result=[], completed_by=uid, was_cancelled=True
        )

    time.sleep(1.1)  # tasks changed in the second a pull starts are fetched again next time
    first = pull(project, conn=ls_conn)
    assert first.mode == "full"
    assert first.annotations == 22
    table = pq.read_table(project.paths.annotations_table).to_pylist()
    assert len(table) == 22
    skipped = [r for r in table if r["was_cancelled"]]
    assert [(r["item_id"], r["annotator"]) for r in skipped] == [("rv10", A2)]
    row = next(r for r in table if r["item_id"] == "rv02" and r["annotator"] == A2)
    assert json.loads(row["result"]) == {"label": "부정"}
    assert row["lead_time"] > 0 and row["origin"] == "label_studio"

    # agreement equals the hand-computed figures
    agreement = json.loads((project.paths.annotations / "agreement.json").read_text())
    lab = agreement["fields"]["label"]
    assert agreement["metric"] == "cohen_kappa"
    assert agreement["value"] == pytest.approx(KAPPA, abs=1e-6)
    assert lab["cohen_kappa"]["n_items"] == 10
    assert lab["percent_agreement"]["value"] == pytest.approx(0.8)
    assert agreement["per_annotator"][A1]["agreement"] == pytest.approx(0.8)
    assert agreement["per_annotator"][A1]["n_annotated"] == 11
    assert agreement["needs_review"] == ["rv02", "rv07"]

    # review tasks exist for exactly the planted disagreements
    assert first.review_tasks_created == 2
    with LabelStudioClient(ls_conn) as client:
        review_tasks = list(client.iter_tasks(int(first.review_project_id or 0), include="id,data"))
    assert sorted(t["data"]["item_id"] for t in review_tasks) == ["rv02", "rv07"]

    # consensus: unanimous for agreed items, single for rv10, review for rv02/rv07
    cons = {
        r["item_id"]: r
        for r in pq.read_table(project.paths.annotations / "consensus.parquet").to_pylist()
    }
    assert cons["rv00"]["method"] == "unanimous" and cons["rv00"]["agreement"] == 1.0
    assert cons["rv10"]["method"] == "single" and cons["rv10"]["n_annotators"] == 1
    assert cons["rv02"]["needs_review"] and cons["rv07"]["needs_review"]
    assert sum(r["needs_review"] for r in cons.values()) == 2
    labels = [json.loads(line) for line in project.paths.labels.read_text().splitlines()]
    assert [r["id"] for r in labels] == [f"rv{i:02d}" for i in range(11) if i not in (2, 7)]
    assert {r["id"]: r["label"] for r in labels}["rv05"] == "부정"
    assert list(labels[0]) == ["id", "text", "source", "label"]  # field-dictionary order

    # rerun of push and pull changes nothing
    before = _mtimes(project)
    again = push(project, conn=ls_conn)
    assert not again.created and again.tasks_created == 0 and again.tasks_existing == 11
    second = pull(project, conn=ls_conn)
    assert second.mode == "incremental" and second.tasks_fetched == 0
    assert second.written == [] and second.review_tasks_created == 0
    assert _mtimes(project) == before
    with LabelStudioClient(ls_conn) as client:
        assert len(list(client.iter_tasks(res.project_id, include="id"))) == 11
        assert len(list(client.iter_tasks(int(first.review_project_id or 0), include="id"))) == 2

    # an annotator changes one label: the incremental pull fetches just that task
    with LabelStudioClient(ls_conn) as client:
        ann_id = next(
            r["annotation_id"] for r in table if r["item_id"] == "rv03" and r["annotator"] == A2
        )
        client.sdk.annotations.update(
            ann_id,
            result=[
                {
                    "from_name": "label",
                    "to_name": "text",
                    "type": "choices",
                    "value": {"choices": ["부정"]},
                }
            ],
        )
    third = pull(project, conn=ls_conn)
    assert third.tasks_fetched == 1
    assert (
        "rv03"
        in json.loads((project.paths.annotations / "agreement.json").read_text())["needs_review"]
    )

    # the reviewer decides; the adjudicated label records who decided
    before_review = AgreementReport.read(project.paths.annotations / "agreement.json")
    n = review(project, conn=ls_conn, reviewer=REV, decide=lambda iid, labels: {"label": "중립"})
    assert n == 3
    fourth = pull(project, conn=ls_conn)
    assert fourth.adjudicated == 3 and fourth.needs_review == 0
    # review settles items, it does not add a rater: the headline stays the annotators'
    after_review = AgreementReport.read(project.paths.annotations / "agreement.json")
    assert after_review.value == before_review.value and after_review.value is not None
    assert after_review.value < 1.0 and after_review.metric == "cohen_kappa"
    assert after_review.interval == before_review.interval
    adj = after_review.adjudication
    assert adj.sources == {"review_project": 3} and adj.reviewers == [REV]
    # rv02 긍정/부정, rv03 중립/부정, rv07 긍정/중립 → the reviewer's 중립 matches one of each
    assert adj.per_annotator == {
        A1: {"n_items": 3, "accuracy": round(1 / 3, 6)},
        A2: {"n_items": 3, "accuracy": round(1 / 3, 6)},
    }
    cons = {
        r["item_id"]: r
        for r in pq.read_table(project.paths.annotations / "consensus.parquet").to_pylist()
    }
    assert cons["rv02"]["method"] == "adjudicated" and cons["rv02"]["decided_by"] == REV
    labels = {
        json.loads(x)["id"]: json.loads(x) for x in project.paths.labels.read_text().splitlines()
    }
    assert len(labels) == 11 and labels["rv07"]["label"] == "중립"

    # the stage record and the status section
    from datakit.annotate.status import annotation_status

    st = annotation_status(project)
    assert st is not None
    assert st["items_annotated"] == 11 and st["items_cross_checked"] == 10
    assert {a["annotator"]: a["skipped"] for a in st["annotators"]}[A2] == 1
    assert project.stage_record("annotate") is not None


def test_ground_truth_review_in_the_labelling_project_is_not_a_rater(
    planned_project: Any, ls_conn: Connection
) -> None:
    """The report of issue 12: a reviewer settles the two disagreements with a third,
    ground-truth annotation in the labelling project. The headline stays the two
    annotators' Cohen's κ over all ten items (it used to become Fleiss' κ = 1.0 over the
    eight items with the most common number of raters: the unanimous ones)."""
    from datakit.check import check

    project = planned_project("text_classification", _items()[:10])
    res = push(project, conn=ls_conn)
    simulate(project, conn=ls_conn, plan={k: v for k, v in _plan().items() if k != "rv10"})
    time.sleep(1.1)
    first = pull(project, conn=ls_conn)
    assert first.agreement.value == pytest.approx(KAPPA, abs=1e-6)
    assert first.needs_review == 2
    settle = {"rv02": "긍정", "rv07": "중립"}  # A1's label on rv02, A2's on rv07
    with LabelStudioClient(ls_conn) as client:
        uid = ensure_users(client, [REV])[REV]
        tasks = {t["data"]["item_id"]: t["id"] for t in client.iter_tasks(res.project_id)}
        for iid, label in settle.items():
            client.create_annotation(
                tasks[iid],
                result=to_result(project.spec, {"label": label}),
                completed_by=uid,
                ground_truth=True,
            )
    time.sleep(1.1)
    second = pull(project, conn=ls_conn)
    rows = pq.read_table(project.paths.annotations_table).to_pylist()
    assert sorted(r["item_id"] for r in rows if r["ground_truth"]) == ["rv02", "rv07"]
    assert {r["annotator"] for r in rows if r["ground_truth"]} == {REV}
    report = AgreementReport.read(project.paths.annotations / "agreement.json")
    assert report.metric == "cohen_kappa"
    assert report.value == pytest.approx(KAPPA, abs=1e-6)
    assert report.n_items_cross_checked == 10 and report.raters_per_item == {"2": 10}
    assert report.annotators == [A1, A2] and REV not in report.per_annotator
    assert report.interval is not None and report.interval.low is not None
    adj = report.adjudication
    assert adj.sources == {"ground_truth": 2} and adj.reviewers == [REV]
    assert adj.per_annotator == {
        A1: {"n_items": 2, "accuracy": 0.5},
        A2: {"n_items": 2, "accuracy": 0.5},
    }
    assert second.needs_review == 0 and second.labelled == 10
    cons = {
        r["item_id"]: r
        for r in pq.read_table(project.paths.annotations / "consensus.parquet").to_pylist()
    }
    assert cons["rv07"]["method"] == "adjudicated" and cons["rv07"]["decided_by"] == REV
    assert cons["rv07"]["n_annotators"] == 2
    labels = {
        json.loads(x)["id"]: json.loads(x)["label"]
        for x in project.paths.labels.read_text().splitlines()
    }
    assert labels["rv02"] == "긍정" and labels["rv07"] == "중립"
    # the check reads the same figure back through AgreementReport
    quality = check(project)
    agreement = quality.indicators["agreement"]
    assert agreement.value == report.value
    assert agreement.details["interval"] == report.interval.to_dict()


def test_import_of_ui_export_matches_pull(planned_project, ls_conn: Connection) -> None:  # type: ignore[no-untyped-def]
    project = planned_project("text_classification", _items())
    push(project, conn=ls_conn)
    simulate(project, conn=ls_conn, plan=_plan())
    pulled = pull(project, conn=ls_conn)
    export = project.root / "ui-export.json"
    with LabelStudioClient(ls_conn) as client:
        client.export_to(pulled.project_id, export)
    other = planned_project("text_classification", _items())
    built = import_export(other, export)
    assert built.labelled == pulled.labelled and built.needs_review == 2
    assert other.paths.labels.read_text() == project.paths.labels.read_text()
    a = json.loads((other.paths.annotations / "agreement.json").read_text())
    assert a["value"] == pytest.approx(KAPPA, abs=1e-6)
    rows = pq.read_table(other.paths.annotations_table).to_pylist()
    assert {r["origin"] for r in rows} == {"import"} and len(rows) == 21


def test_changed_config_that_orphans_annotations_is_refused(
    planned_project, ls_conn: Connection
) -> None:  # type: ignore[no-untyped-def]
    from datakit.errors import ProjectError

    project = planned_project("text_classification", _items()[:3])
    res = push(project, conn=ls_conn)
    with LabelStudioClient(ls_conn) as client:
        tid = next(iter(client.iter_tasks(res.project_id)))["id"]
        uid = ensure_users(client, [A1])[A1]
        annotate(client, project.spec, tid, uid, {"label": "중립"})
    cfg = project.paths.label_config
    original = cfg.read_text(encoding="utf-8")
    # adding a class is fine: the project is updated
    cfg.write_text(
        original.replace(
            '<Choice value="중립"', '<Choice value="기타"/>\n    <Choice value="중립"'
        ),
        encoding="utf-8",
    )
    assert push(project, conn=ls_conn).config_updated
    # removing the class an annotation uses is refused, with an explanation
    cfg.write_text(original.replace("중립", "보통"), encoding="utf-8")
    with pytest.raises(ProjectError) as exc:
        push(project, conn=ls_conn)
    assert "orphan" in exc.value.message and exc.value.hint


def test_predictions_are_imported_with_model_version_and_score(
    planned_project, ls_conn: Connection
) -> None:  # type: ignore[no-untyped-def]
    project = planned_project("text_classification", _items()[:3])
    preds = project.root / "preds.jsonl"
    preds.write_text(
        "\n".join(
            json.dumps(
                {"item_id": f"rv{i:02d}", "label": "긍정", "score": 0.5 + i / 10},
                ensure_ascii=False,
            )
            for i in range(3)
        ),
        encoding="utf-8",
    )
    res = push(project, conn=ls_conn, predictions=preds, model_version="bert-v1")
    assert res.predictions_created == 3
    assert (
        push(project, conn=ls_conn, predictions=preds, model_version="bert-v1").predictions_created
        == 0
    )
    with LabelStudioClient(ls_conn) as client:
        got = client.predictions(res.project_id)
    got = [p for p in got if p["task"] in set(_task_ids(ls_conn, res.project_id))]
    assert sorted(round(p["score"], 2) for p in got) == [0.5, 0.6, 0.7]
    assert {p["model_version"] for p in got} == {"bert-v1"}
    assert got[0]["result"][0]["value"] == {"choices": ["긍정"]}


def _task_ids(conn: Connection, pid: int) -> list[int]:
    with LabelStudioClient(conn) as client:
        return [int(t["id"]) for t in client.iter_tasks(pid, include="id")]
