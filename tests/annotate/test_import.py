"""`annotate import`: tasks are matched to items by full relative path before name or stem,
an ambiguous match is an error, unmatched tasks are reported; an import adds to or updates
the annotations imported earlier (keyed by task and annotation) and only `--replace`
removes any (issue 13, items 1 and 2). Exports are made with the real `to_result` writer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from datakit.annotate.importing import import_export
from datakit.annotate.normalize import to_result
from datakit.errors import EXIT_BAD_INPUT, InputError

A, B = "a@test.local", "b@test.local"


def _image(iid: str, stored: str, source: str | None = None) -> dict[str, Any]:
    return {
        "id": iid,
        "stored_path": stored,
        "source_path": source or stored.removeprefix("data/source/"),
        "media_type": "image/png",
        "width": 640,
        "height": 480,
    }


def _task(
    project: Any, tid: int, data: dict[str, Any], labels: list[tuple[int, str, str]]
) -> dict[str, Any]:
    """One exported task; ``labels`` = [(annotation id, annotator, class)]."""
    return {
        "id": tid,
        "data": data,
        "annotations": [
            {
                "id": aid,
                "completed_by": {"id": 1 if who == A else 2, "email": who},
                "result": to_result(project.spec, {"label": label}),
                "was_cancelled": False,
                "ground_truth": False,
                "created_at": "2026-11-01T00:00:00Z",
                "updated_at": f"2026-11-01T00:00:{aid % 60:02d}Z",
                "lead_time": 3.0,
            }
            for aid, who, label in labels
        ],
    }


def _write(path: Path, tasks: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps(tasks, ensure_ascii=False), encoding="utf-8")
    return path


def _labels(project: Any) -> dict[str, Any]:
    return {
        json.loads(x)["id"]: json.loads(x)["label"]
        for x in project.paths.labels.read_text(encoding="utf-8").splitlines()
    }


# -- item 1: matching -------------------------------------------------------------------------


@pytest.fixture
def twin_images(planned_project: Any) -> Any:
    """Two images with the same file name in different folders, plus unique ones."""
    return planned_project(
        "image_classification",
        [
            _image("a3", "data/source/a/3/img.png"),
            _image("a5", "data/source/a/5/img.png"),
            _image("cat", "data/source/b/cat.png"),
            _image("dog", "data/source/b/dog.png"),
        ],
    )


def test_same_file_name_in_two_folders_goes_to_the_right_item(
    twin_images: Any, tmp_path: Path
) -> None:
    project = twin_images
    export = _write(
        tmp_path / "export.json",
        [
            _task(
                project,
                1,
                {"image": "/data/local-files/?d=data/source/a/5/img.png"},
                [(1, A, "갈색무늬병")],
            ),
            _task(
                project,
                2,
                {"image": "/data/local-files/?d=data/source/a/3/img.png"},
                [(2, A, "정상")],
            ),
        ],
    )
    built = import_export(project, export)
    assert _labels(project) == {"a3": "정상", "a5": "갈색무늬병"}
    assert built.items == 2 and built.tasks == 2
    assert built.matched["path"] == 2 and built.unmatched == []


def test_urls_of_every_kind_match_by_path_then_unique_name_or_stem(
    twin_images: Any, tmp_path: Path
) -> None:
    project = twin_images
    export = _write(
        tmp_path / "export.json",
        [
            # local-files relative to a storage root above the project, URL-quoted
            _task(
                project,
                1,
                {"image": "/data/local-files/?d=work/proj/data%2Fsource%2Fa%2F5%2Fimg.png"},
                [(1, A, "갈색무늬병")],
            ),
            # an absolute URL whose tail is the path under data/source
            _task(
                project,
                2,
                {"image": "https://cdn.example.com/bucket/a/3/img.png"},
                [(2, A, "정상")],
            ),
            # an upload carries only its name (after Label Studio's 8-hex prefix)
            _task(
                project, 3, {"image": "/data/upload/7/0a1b2c3d-cat.png"}, [(3, A, "점무늬낙엽병")]
            ),
            # a converted file: only the stem is the same
            _task(project, 4, {"image": "s3://other-bucket/jpeg/dog.jpg"}, [(4, A, "정상")]),
        ],
    )
    built = import_export(project, export)
    assert _labels(project) == {
        "a5": "갈색무늬병",
        "a3": "정상",
        "cat": "점무늬낙엽병",
        "dog": "정상",
    }
    assert built.matched == {"item_id": 0, "text": 0, "path": 2, "name": 1, "stem": 1}


def test_ambiguous_name_is_an_error_naming_the_task_and_candidates(
    twin_images: Any, tmp_path: Path
) -> None:
    project = twin_images
    export = _write(
        tmp_path / "export.json",
        [_task(project, 9, {"image": "/data/upload/1/deadbeef-img.png"}, [(1, A, "정상")])],
    )
    with pytest.raises(InputError) as exc:
        import_export(project, export)
    e = exc.value
    assert e.item == "task 9" and e.exit_code == EXIT_BAD_INPUT
    assert "a3" in e.message and "a5" in e.message and "name 'img.png'" in e.message
    assert not project.paths.labels.exists()  # nothing was written


def test_a_partial_path_shared_by_two_items_is_ambiguous(
    planned_project: Any, tmp_path: Path
) -> None:
    project = planned_project(
        "image_classification",
        [_image("x", "data/source/x/5/img.png"), _image("y", "data/source/y/5/img.png")],
    )
    export = _write(
        tmp_path / "e.json", [_task(project, 4, {"image": "http://h/5/img.png"}, [(1, A, "정상")])]
    )
    with pytest.raises(InputError, match=r"2 items by path '5/img.png': x, y"):
        import_export(project, export)


def test_unmatched_tasks_are_reported_not_fatal(twin_images: Any, tmp_path: Path) -> None:
    project = twin_images
    export = _write(
        tmp_path / "export.json",
        [
            _task(
                project,
                1,
                {"image": "/data/local-files/?d=data/source/b/cat.png"},
                [(1, A, "정상")],
            ),
            _task(
                project, 2, {"image": "/data/local-files/?d=elsewhere/bird.png"}, [(2, A, "정상")]
            ),
            _task(project, 3, {"item_id": "gone", "image": "x/zebra.png"}, [(3, A, "정상")]),
        ],
    )
    built = import_export(project, export)
    assert built.matched["path"] == 1 and built.tasks == 3
    assert [u["task"] for u in built.unmatched] == ["task 2", "task 3"]
    assert "no ok item" in built.unmatched[0]["reason"]
    assert "'gone' is not an ok item" in built.unmatched[1]["reason"]
    assert _labels(project) == {"cat": "정상"}


def test_an_export_that_fits_nothing_is_an_error(twin_images: Any, tmp_path: Path) -> None:
    project = twin_images
    export = _write(
        tmp_path / "e.json", [_task(project, 1, {"image": "/x/elsewhere.png"}, [(1, A, "정상")])]
    )
    with pytest.raises(InputError, match="none of the 1 tasks fits"):
        import_export(project, export)


def test_text_tasks_match_by_text(planned_project: Any, tmp_path: Path) -> None:
    project = planned_project(
        "text_classification", [{"id": "t1", "text": "배송 빨라요"}, {"id": "t2", "text": "별로"}]
    )
    export = _write(
        tmp_path / "e.json",
        [
            _task(project, 1, {"text": "별로"}, [(1, A, "부정")]),
            _task(project, 2, {"item_id": "t1", "text": "…"}, [(2, A, "긍정")]),
        ],
    )
    built = import_export(project, export)
    assert built.matched["text"] == 1 and built.matched["item_id"] == 1
    assert _labels(project) == {"t1": "긍정", "t2": "부정"}


# -- item 2: merging --------------------------------------------------------------------------


def _reviews(planned_project: Any, n: int = 6) -> Any:
    return planned_project(
        "text_classification", [{"id": f"r{i}", "text": f"리뷰 {i}"} for i in range(n)]
    )


def _export_of(project: Any, path: Path, labels: dict[int, str], first_ann: int = 1) -> Path:
    return _write(
        path,
        [
            _task(project, 100 + i, {"item_id": f"r{i}"}, [(first_ann + i, A, label)])
            for i, label in labels.items()
        ],
    )


def test_empty_export_keeps_every_earlier_label(planned_project: Any, tmp_path: Path) -> None:
    project = _reviews(planned_project)
    first = _export_of(project, tmp_path / "1.json", dict.fromkeys(range(6), "긍정"))
    import_export(project, first)
    assert len(_labels(project)) == 6
    built = import_export(project, _write(tmp_path / "empty.json", []))
    assert len(_labels(project)) == 6
    assert built.kept == 6 and built.removed == 0 and built.added == 0 and built.tasks == 0


def test_partial_export_adds_and_updates_keyed_by_task_and_annotation(
    planned_project: Any, tmp_path: Path
) -> None:
    project = _reviews(planned_project)
    import_export(
        project, _export_of(project, tmp_path / "1.json", dict.fromkeys(range(6), "긍정"))
    )
    # r1 relabelled (same task and annotation), a second annotator on r2 (new annotation)
    export = _write(
        tmp_path / "2.json",
        [
            _task(project, 101, {"item_id": "r1"}, [(2, A, "부정")]),
            _task(project, 102, {"item_id": "r2"}, [(3, A, "긍정"), (50, B, "긍정")]),
        ],
    )
    built = import_export(project, export)
    assert (built.added, built.updated, built.unchanged, built.kept) == (1, 1, 1, 4)
    labels = _labels(project)
    assert len(labels) == 6 and labels["r1"] == "부정" and labels["r0"] == "긍정"
    rows = pq.read_table(project.paths.annotations_table).to_pylist()
    assert len(rows) == 7 and {r["origin"] for r in rows} == {"import"}


def test_replace_removes_what_the_export_does_not_hold(
    planned_project: Any, tmp_path: Path
) -> None:
    project = _reviews(planned_project)
    import_export(
        project, _export_of(project, tmp_path / "1.json", dict.fromkeys(range(6), "긍정"))
    )
    built = import_export(
        project, _export_of(project, tmp_path / "2.json", {0: "중립"}), replace=True
    )
    assert built.removed == 5 and built.kept == 0 and built.replace
    assert _labels(project) == {"r0": "중립"}


def test_cli_says_how_many_were_kept_and_asks_for_replace(
    planned_project: Any, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from datakit.cli.app import app

    project = _reviews(planned_project)
    runner = CliRunner()
    first = _export_of(project, tmp_path / "1.json", dict.fromkeys(range(6), "긍정"))
    res = runner.invoke(app, ["annotate", "import", str(first), "-p", str(project.root)])
    assert res.exit_code == 0, res.output
    assert "6 of 6 tasks matched (6 by item_id)" in res.output
    assert "6 added" in res.output
    empty = _write(tmp_path / "empty.json", [])
    res = runner.invoke(app, ["annotate", "import", str(empty), "-p", str(project.root)])
    assert res.exit_code == 0, res.output
    assert "6 annotation(s) imported earlier are not in this export: kept" in res.output
    assert "--replace" in res.output and len(_labels(project)) == 6
    res = runner.invoke(
        app, ["annotate", "import", str(empty), "-p", str(project.root), "--replace", "--json"]
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["removed"] == 6 and out["labelled"] == 0
