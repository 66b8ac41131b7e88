"""`annotate import` of labels made elsewhere (issue 15): Label Studio JSON-MIN and CSV
exports written by Label Studio's own converter, COCO detection JSON, the shared real YOLO
sample (checked against Label Studio's own YOLO importer), AI Hub label JSON and COCO written
by `datakit package`, read back into a fresh project; `--map`; bad input of every format
is an InputError naming file, item and field, and keeps what was imported before."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from datakit.annotate.formats import Mapping, detect
from datakit.annotate.importing import import_export, import_labels
from datakit.annotate.normalize import to_result
from datakit.errors import EXIT_BAD_INPUT, InputError
from datakit.project import Project
from datakit.records import label_fields

YOLO_SAMPLE = Path(__file__).resolve().parents[3] / "shared/corpora/yolo-import"
if not YOLO_SAMPLE.is_dir():  # CI lays shared/ beside the clone
    YOLO_SAMPLE = Path(__file__).resolve().parents[2].parent / "shared/corpora/yolo-import"
DOOR_MAP = {"closed_door": "보행자", "opened_door": "보행자", "bus": "차량", "number": "신호등"}


def _image(iid: str, stored: str, source: str | None = None) -> dict[str, Any]:
    return {
        "id": iid,
        "stored_path": stored,
        "source_path": source or stored.removeprefix("data/source/"),
        "media_type": "image/png",
        "width": 640,
        "height": 480,
    }


def _labels(project: Project) -> dict[str, dict[str, Any]]:
    if not project.paths.labels.is_file():
        return {}
    recs = [json.loads(x) for x in project.paths.labels.read_text(encoding="utf-8").splitlines()]
    return {r["id"]: r for r in recs}


def _ls_export(
    path: Path, project: Project, labels: dict[str, dict[str, Any]], *, item_ids: bool = True
) -> Path:
    """A Label Studio JSON export made with the real `to_result` writer: item → fields
    (``_content``: the task's text or image URL)."""
    key = "image" if project.spec.data.type == "image" else "text"
    tasks = []
    for n, (iid, fields) in enumerate(labels.items(), 1):
        tasks.append(
            {
                "id": n,
                "data": {
                    **({"item_id": iid} if item_ids else {}),
                    key: fields.pop("_content", iid),
                },
                "annotations": [
                    {
                        "id": 100 + n,
                        "completed_by": {"id": 1, "email": "a@test.local"},
                        "result": to_result(project.spec, fields),
                        "was_cancelled": False,
                        "ground_truth": False,
                        "created_at": "2026-11-01T00:00:00Z",
                        "updated_at": "2026-11-01T00:00:00Z",
                        "lead_time": 2.5,
                    }
                ],
            }
        )
    path.write_text(json.dumps(tasks, ensure_ascii=False), encoding="utf-8")
    return path


# -- Label Studio JSON-MIN and CSV, written by Label Studio's converter --------------------------


def _convert(project: Project, export: Path, out: Path, fmt: str) -> Path:
    from label_studio_sdk.converter import Converter

    conv = Converter(
        project.paths.label_config.read_text(encoding="utf-8"),
        project_dir=str(out.parent),
        download_resources=False,
    )
    if fmt == "json-min":
        conv.convert_to_json_min(str(export), str(out), is_dir=False)
        return out / "result.json"
    conv.convert_to_csv(str(export), str(out), is_dir=False, sep=",")
    return out / "result.csv"


@pytest.mark.parametrize("fmt", ["json-min", "csv"])
def test_json_min_and_csv_exports_give_the_labels_the_json_export_gives(
    planned_project: Callable[..., Project], tmp_path: Path, fmt: str
) -> None:
    items = [{"id": f"r{i}", "text": f"리뷰 {i}번 배송 빨라요"} for i in range(4)]
    first = planned_project("ner", items)
    spans = {
        "r0": [{"start": 0, "end": 2, "label": first.spec.task.class_names[0]}],
        "r1": [
            {"start": 0, "end": 2, "label": first.spec.task.class_names[0]},
            {"start": 6, "end": 8, "label": first.spec.task.class_names[-1]},
        ],
        "r2": [],
    }
    texts = {it["id"]: it["text"] for it in items}
    fields = {
        iid: {
            "_content": texts[iid],
            first.spec.task.label_field: [
                {**s, "text": texts[iid][s["start"] : s["end"]]} for s in v
            ],
        }
        for iid, v in spans.items()
    }
    export = _ls_export(tmp_path / "export.json", first, fields, item_ids=False)
    import_export(first, export)
    expected = _labels(first)
    assert len(expected) == 3

    second = planned_project("ner", items)
    converted = _convert(second, export, tmp_path / fmt, fmt)
    assert detect(converted) == fmt
    built = import_labels(second, converted)
    assert built.format == fmt and built.matched["text"] == 3
    assert _labels(second) == expected


def test_a_csv_that_is_not_a_label_studio_export_names_the_missing_column(
    planned_project: Callable[..., Project], tmp_path: Path
) -> None:
    project = planned_project("text_classification", [{"id": "t1", "text": "좋아요"}])
    path = tmp_path / "labels.csv"
    path.write_text("text,label\n좋아요,긍정\n", encoding="utf-8")
    with pytest.raises(InputError) as exc:
        import_labels(project, path)
    assert (exc.value.file, exc.value.field) == (str(path), "annotation_id")
    path.write_text("text,label,annotation_id,id\n좋아요,긍정,x1,3\n", encoding="utf-8")
    with pytest.raises(InputError) as exc:
        import_labels(project, path)
    assert (exc.value.item, exc.value.field) == ("task 3", "annotation_id")
    assert "'x1', not a whole number" in exc.value.message


def test_json_min_of_another_project_with_renamed_control_data_key_and_class(
    planned_project: Callable[..., Project], tmp_path: Path
) -> None:
    project = planned_project(
        "image_classification",
        [
            _image("leaf1", "data/source/leaves/leaf1.png"),
            _image("leaf2", "data/source/x/leaf2.png"),
        ],
    )
    classes = project.spec.task.class_names
    rows = [
        # another project's export: its control is "disease", its data key "img"
        {"img": "/data/upload/3/1a2b3c4d-leaf1.png", "id": 7, "disease": "brown",
         "annotator": "kim@test.local", "annotation_id": 70, "created_at": "2026-11-01",
         "updated_at": "2026-11-01", "lead_time": 3.2},
        {"img": "/leaf2", "id": 8, "disease": classes[1], "annotator": "kim@test.local",
         "annotation_id": 80, "created_at": "2026-11-01", "updated_at": "2026-11-01",
         "lead_time": 1.0},
    ]  # fmt: skip
    path = tmp_path / "min.json"
    path.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    label = project.spec.task.label_field
    built = import_labels(
        project,
        path,
        mapping=Mapping.parse([f"disease={label}", "img=image", f"brown={classes[0]}"]),
    )
    assert built.format == "json-min"
    assert built.matched["name"] == 1 and built.matched["stem"] == 1  # /leaf2 ↔ leaf2.png
    assert {k: v[label] for k, v in _labels(project).items()} == {
        "leaf1": classes[0],
        "leaf2": classes[1],
    }
    assert built.mapped == {"disease": 2, "img": 2, "brown": 1}


# -- the Label Studio export: "/image1" and a control called "label" -------------------


def test_an_export_from_another_project_imports_with_map(
    planned_project: Callable[..., Project], tmp_path: Path
) -> None:
    project = planned_project("object_detection", [_image("i1", "data/source/cam/image1.png")])
    box = {"x": 10, "y": 20, "width": 30, "height": 40, "rotation": 0, "rectanglelabels": ["car"]}
    export = tmp_path / "other.json"
    export.write_text(
        json.dumps(
            [
                {
                    "id": 3,
                    "data": {"image": "/image1"},
                    "annotations": [
                        {
                            "id": 9,
                            "completed_by": 1,
                            "result": [
                                {"from_name": "label", "to_name": "image",
                                 "type": "rectanglelabels", "value": box}
                            ],
                        }
                    ],
                }
            ]
        ),
        encoding="utf-8",
    )  # fmt: skip
    with pytest.raises(InputError) as exc:
        import_labels(project, export)
    assert exc.value.field == "label" and "control 'label'" in exc.value.message
    built = import_labels(project, export, mapping={"label": "objects", "car": "차량"})
    assert built.matched["stem"] == 1
    assert _labels(project)["i1"]["objects"] == [
        {"label": "차량", "x": 10.0, "y": 20.0, "width": 30.0, "height": 40.0}
    ]


# -- YOLO: the shared real sample -------------------------------------------------------------


@pytest.fixture
def doors(planned_project: Callable[..., Project]) -> Project:
    """An object-detection project whose items are the shared YOLO sample's seven images."""
    names = sorted(p.name for p in (YOLO_SAMPLE / "images").iterdir())
    return planned_project(
        "object_detection",
        [_image(f"door-{Path(n).stem}", f"data/source/doors/{n}") for n in names],
    )


def _yolo_copy(tmp_path: Path) -> Path:
    dst = tmp_path / "yolo"
    shutil.copytree(YOLO_SAMPLE, dst)
    for p in dst.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    return dst


def test_the_shared_yolo_sample_imports_as_label_studios_importer_reads_it(
    doors: Project, tmp_path: Path, runner: Any
) -> None:
    from label_studio_sdk.converter.imports.yolo import convert_yolo_to_ls

    from datakit.cli.app import app

    res = runner.invoke(
        app,
        ["annotate", "import", str(YOLO_SAMPLE), "-p", str(doors.root), "--json"]
        + [a for src, dst in DOOR_MAP.items() for a in ("--map", f"{src}={dst}")],
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["format"] == "yolo" and out["matched"]["name"] == 7 and out["labelled"] == 7
    got = {iid: rec["objects"] for iid, rec in _labels(doors).items()}

    # the same folder through Label Studio's own YOLO importer
    ls_out = tmp_path / "ls.json"
    convert_yolo_to_ls(str(_yolo_copy(tmp_path)), str(ls_out))
    want: dict[str, list[dict[str, Any]]] = {}
    for task in json.loads(ls_out.read_text()):
        stem = Path(task["data"]["image"]).stem
        boxes = [
            {
                "label": DOOR_MAP[r["value"]["rectanglelabels"][0]],
                **{k: round(r["value"][k], 4) for k in ("x", "y", "width", "height")},
            }
            for r in task["annotations"][0]["result"]
        ]
        want[f"door-{stem}"] = sorted(boxes, key=lambda b: (b["label"], b["x"], b["y"], b["width"]))
    assert len(want) == 7 and sum(len(v) for v in want.values()) >= 21
    assert got == want


def test_yolo_import_again_updates_instead_of_adding(doors: Project) -> None:
    import_labels(doors, YOLO_SAMPLE, fmt="yolo", mapping=DOOR_MAP)
    again = import_labels(doors, YOLO_SAMPLE, fmt="yolo", mapping=DOOR_MAP)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 7)
    rows = pq.read_table(doors.paths.annotations_table).to_pylist()
    assert len(rows) == 7 and {r["annotator"] for r in rows} == {"import:yolo"}


def test_yolo_classes_the_spec_lacks_point_at_the_label_file_and_map(doors: Project) -> None:
    with pytest.raises(InputError) as exc:
        import_labels(doors, YOLO_SAMPLE)
    e = exc.value
    assert e.file == str(YOLO_SAMPLE / "labels/img_1.txt") and e.field == "objects"
    assert "class 'bus' is not in the spec's classes" in e.message and "--map" in (e.hint or "")
    assert not doors.paths.labels.exists()


def _break(folder: Path, how: str) -> None:
    if how == "no classes.txt":
        (folder / "classes.txt").unlink()
    elif how == "class out of range":
        (folder / "labels/img_3.txt").write_text("0 0.5 0.5 0.1 0.1\n7 0.5 0.5 0.1 0.1\n")
    elif how == "box outside":
        (folder / "labels/img_3.txt").write_text("1 0.95 0.5 0.2 0.1\n")
    elif how == "value outside":
        (folder / "labels/img_3.txt").write_text("1 0.5 1.5 0.2 0.1\n")
    elif how == "ambiguous stem":
        # the label's own path finds no image, and two images have its stem
        (folder / "images/extra").mkdir()
        shutil.copy(folder / "images/img_3.png", folder / "images/extra/img_3.jpg")
        (folder / "labels/sub").mkdir()
        (folder / "labels/img_3.txt").rename(folder / "labels/sub/img_3.txt")


@pytest.mark.parametrize(
    ("how", "file", "item", "field", "words"),
    [
        ("no classes.txt", "classes.txt", None, None, "needs classes.txt (one class"),
        ("class out of range", "labels/img_3.txt", "labels/img_3.txt line 2", "class", "index 7"),
        ("box outside", "labels/img_3.txt", "labels/img_3.txt line 1", "box", "not inside"),
        ("value outside", "labels/img_3.txt", "labels/img_3.txt line 1", "cy", "outside 0..1"),
        (
            "ambiguous stem",
            "labels/sub/img_3.txt",
            "labels/sub/img_3.txt",
            "image",
            "2 images have the stem 'img_3'",
        ),
    ],
)
def test_bad_yolo_input_names_file_item_field_and_keeps_earlier_labels(
    doors: Project,
    tmp_path: Path,
    runner: Any,
    how: str,
    file: str,
    item: str | None,
    field: str | None,
    words: str,
) -> None:
    from datakit.cli.app import app

    import_labels(doors, YOLO_SAMPLE, mapping=DOOR_MAP)
    before = doors.paths.labels.read_bytes()
    folder = _yolo_copy(tmp_path)
    _break(folder, how)
    with pytest.raises(InputError) as exc:
        import_labels(doors, folder, mapping=DOOR_MAP)
    e = exc.value
    assert e.file == str(folder / file) and e.item == item and e.field == field
    assert words in e.message and e.exit_code == EXIT_BAD_INPUT
    res = runner.invoke(app, ["annotate", "import", str(folder), "-p", str(doors.root)])
    assert res.exit_code == EXIT_BAD_INPUT and "Traceback" not in res.output
    assert doors.paths.labels.read_bytes() == before


# -- COCO ---------------------------------------------------------------------------------


def _coco(path: Path, **changes: Any) -> Path:
    doc: dict[str, Any] = {
        "images": [
            {"id": 1, "file_name": "cam/a.png", "width": 200, "height": 100},
            {"id": 2, "file_name": "b.png", "width": 50, "height": 50},
            {"id": 3, "file_name": "empty.png", "width": 50, "height": 50},
        ],
        "categories": [{"id": 1, "name": "car"}, {"id": 2, "name": "person"}],
        "annotations": [
            {"id": 10, "image_id": 1, "category_id": 1, "bbox": [20, 10, 100, 50], "area": 5000,
             "iscrowd": 0},
            {"id": 11, "image_id": 1, "category_id": 2, "bbox": [0, 0, 200, 100], "area": 20000,
             "iscrowd": 0},
            {"id": 12, "image_id": 2, "category_id": 2, "bbox": [5, 5, 10, 20.5], "area": 205,
             "iscrowd": 0},
        ],
    }  # fmt: skip
    for key, value in changes.items():
        doc[key] = value(doc[key]) if callable(value) else value
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


@pytest.fixture
def cams(planned_project: Callable[..., Project]) -> Project:
    return planned_project(
        "object_detection",
        [
            _image("a", "data/source/cam/a.png", "cam/a.png"),
            _image("b", "data/source/b.png"),
            _image("e", "data/source/empty.png"),
        ],
    )


COCO_MAP = ["car=차량", "person=보행자"]


def test_coco_boxes_are_read_as_pycocotools_reads_them(cams: Project, tmp_path: Path) -> None:
    from pycocotools.coco import COCO

    path = _coco(tmp_path / "instances.json")
    built = import_labels(cams, path, mapping=Mapping.parse(COCO_MAP))
    assert built.format == "coco" and built.matched == {
        "item_id": 0, "text": 0, "path": 1, "name": 2, "stem": 0
    }  # fmt: skip
    got = _labels(cams)
    coco = COCO(str(path))
    names = {"car": "차량", "person": "보행자"}
    for img_id, iid in ((1, "a"), (2, "b"), (3, "e")):
        img = coco.loadImgs(img_id)[0]
        want = sorted(
            (
                {
                    "label": names[coco.loadCats(a["category_id"])[0]["name"]],
                    "x": round(a["bbox"][0] / img["width"] * 100, 4),
                    "y": round(a["bbox"][1] / img["height"] * 100, 4),
                    "width": round(a["bbox"][2] / img["width"] * 100, 4),
                    "height": round(a["bbox"][3] / img["height"] * 100, 4),
                }
                for a in coco.loadAnns(coco.getAnnIds(imgIds=img_id))
            ),
            key=lambda b: (b["label"], b["x"], b["y"], b["width"]),
        )
        assert got[iid]["objects"] == want
    assert got["e"]["objects"] == []


@pytest.mark.parametrize(
    ("changes", "item", "field", "words"),
    [
        (
            {"annotations": lambda a: [*a, {"id": 13, "image_id": 9, "category_id": 1,
                                            "bbox": [1, 1, 2, 2]}]},
            "annotation 13", "image_id", "image_id 9 is not one of",
        ),
        (
            {"annotations": lambda a: [*a, {"id": 14, "image_id": 2, "category_id": 5,
                                            "bbox": [1, 1, 2, 2]}]},
            "annotation 14", "category_id", "category_id 5",
        ),
        (
            {"annotations": lambda a: [*a, {"id": 15, "image_id": 2, "category_id": 1,
                                            "bbox": [40, 40, 30, 5]}]},
            "annotation 15", "bbox", "not inside the 50×50 image",
        ),
        (
            {"images": lambda i: [*i, {"id": 4, "file_name": "c.png"}]},
            "image 4 (c.png)", "width", "not a size in pixels",
        ),
    ],
)  # fmt: skip
def test_bad_coco_input_names_the_annotation_and_field_and_keeps_earlier_labels(
    cams: Project,
    tmp_path: Path,
    changes: dict[str, Any],
    item: str,
    field: str,
    words: str,
) -> None:
    import_labels(cams, _coco(tmp_path / "good.json"), mapping=Mapping.parse(COCO_MAP))
    before = cams.paths.labels.read_bytes()
    bad = _coco(tmp_path / "bad.json", **changes)
    with pytest.raises(InputError) as exc:
        import_labels(cams, bad, mapping=Mapping.parse(COCO_MAP))
    e = exc.value
    assert (e.file, e.item, e.field) == (str(bad), item, field) and words in e.message
    assert cams.paths.labels.read_bytes() == before


def test_boxes_into_a_project_without_boxes_is_an_error(
    planned_project: Callable[..., Project], tmp_path: Path
) -> None:
    project = planned_project("text_classification", [{"id": "t1", "text": "좋아요"}])
    with pytest.raises(InputError, match="this project's task is text_classification"):
        import_labels(project, _coco(tmp_path / "c.json"))


def test_an_undetectable_source_asks_for_format(tmp_path: Path) -> None:
    odd = tmp_path / "labels.xml"
    odd.write_text("<annotations/>")
    with pytest.raises(InputError) as exc:
        detect(odd)
    assert exc.value.field == "--format" and "labels.xml" in str(exc.value)


def test_a_format_given_for_the_wrong_kind_of_source_is_an_input_error(
    doors: Project, tmp_path: Path, runner: Any
) -> None:
    from datakit.cli.app import app

    for args, words in (
        (["--format", "coco", str(YOLO_SAMPLE)], "is not a file: coco labels are one file"),
        (["-f", "yolo", str(_coco(tmp_path / "c.json"))], "is not a folder"),
        (["-f", "csv", str(tmp_path / "missing.csv")], "file or folder not found"),
    ):
        res = runner.invoke(app, ["annotate", "import", "-p", str(doors.root), *args])
        assert res.exit_code == EXIT_BAD_INPUT and "Traceback" not in res.output, res.output
        assert words in res.output


def test_map_needs_src_equals_dst() -> None:
    with pytest.raises(InputError, match="not SRC=DST"):
        Mapping.parse(["label"])
    with pytest.raises(InputError, match="two targets"):
        Mapping.parse(["a=b", "a=c"])


# -- round trips: a release's aihub and coco labels into a fresh project ----------------------


@pytest.fixture
def ready(make_project: Callable[..., Path]) -> Callable[..., Project]:
    from tests.package.builders import make_ready_project

    def make(template: str, **kw: Any) -> Project:
        return make_ready_project(make_project, template, **kw)

    return make


def _fresh_copy(project: Project, dst: Path) -> Project:
    """The same project and items, without any annotations, reports or releases."""
    shutil.copytree(
        project.root,
        dst,
        ignore=shutil.ignore_patterns("annotations", "reports", "releases", ".datakit"),
    )
    return Project(dst)


@pytest.mark.parametrize("template", ["text_classification", "ner", "object_detection"])
def test_aihub_release_labels_round_trip_into_a_fresh_project(
    ready: Callable[..., Project], tmp_path: Path, template: str
) -> None:
    import zipfile

    from datakit.package import package

    project = ready(template, n=30)
    release = package(project, layouts=["aihub"], accept_split_deviation=True).path
    released = {}
    for z in release.rglob("*.zip"):
        if "02.라벨링데이터" in z.parts:
            with zipfile.ZipFile(z) as zf:
                for name in zf.namelist():
                    rec = json.loads(zf.read(name))
                    released[rec["id"]] = rec
    assert len(released) >= 20  # train + validation; the test split is not public

    fresh = _fresh_copy(project, tmp_path / "fresh")
    assert detect(release) == "aihub"
    built = import_labels(fresh, release)
    assert built.format == "aihub" and built.matched["item_id"] == len(released)
    assert built.unmatched == [] and built.invalid_records == []
    # the label fields; the item fields come from the fresh project's manifest, which the
    # test builder does not keep in step with its hand-written labels.jsonl (file_name, width)
    keep = label_fields(fresh.spec)

    def labels_of(recs: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        return {i: {k: v for k, v in r.items() if k in keep} for i, r in recs.items()}

    assert labels_of(_labels(fresh)) == labels_of(released)
    assert all(labels_of(released).values())

    one_zip = next(z for z in release.rglob("TL_*.zip"))
    again = import_labels(fresh, one_zip)  # one zip of the same release: nothing changes
    assert again.added == 0 and again.updated == 0 and again.kept == len(released) - again.unchanged
    assert labels_of(_labels(fresh)) == labels_of(released)


def test_bad_aihub_records_name_the_zip_and_member(
    planned_project: Callable[..., Project], tmp_path: Path
) -> None:
    import zipfile

    project = planned_project("text_classification", [{"id": "t1", "text": "좋아요"}])
    label = project.spec.task.label_field
    good = tmp_path / "TL_전체.zip"
    with zipfile.ZipFile(good, "w") as z:
        z.writestr("t1.json", json.dumps({"id": "t1", "text": "좋아요", label: "긍정"}))
    assert detect(good) == "aihub"
    import_labels(project, good)
    assert _labels(project)["t1"][label] == "긍정"
    for member, body, item, words in (
        ("t1.json", "{oops", "t1.json", "not JSON"),
        ("t1.json", json.dumps({"id": "t1", label: "최고"}), "t1", "class '최고'"),
    ):
        bad = tmp_path / "bad" / "VL_전체.zip"
        bad.parent.mkdir(exist_ok=True)
        with zipfile.ZipFile(bad, "w") as z:
            z.writestr(member, body)
        with pytest.raises(InputError) as exc:
            import_labels(project, bad.parent)
        assert exc.value.file == str(bad) and exc.value.item == item, exc.value
        assert words in exc.value.message
        assert _labels(project)["t1"][label] == "긍정"


def test_coco_release_labels_round_trip_into_a_fresh_project(
    ready: Callable[..., Project], tmp_path: Path
) -> None:
    from datakit.package import package

    project = ready("object_detection", n=30)
    release = package(project, layouts=["coco"], accept_split_deviation=True).path
    source = {
        r["id"]: r["objects"]
        for r in map(json.loads, project.paths.labels.read_text(encoding="utf-8").splitlines())
    }
    fresh = _fresh_copy(project, tmp_path / "fresh")
    files = sorted((release / "coco/annotations").glob("instances_*.json"))
    assert [f.name for f in files] == [
        "instances_test.json", "instances_train.json", "instances_validation.json"
    ]  # fmt: skip
    for f in files:
        assert detect(f) == "coco"
        import_labels(fresh, f)
    got = {iid: rec["objects"] for iid, rec in _labels(fresh).items()}
    assert got == source


def test_yolo_release_labels_round_trip_into_a_fresh_project(
    ready: Callable[..., Project], tmp_path: Path
) -> None:
    from datakit.package import package

    project = ready("object_detection", n=30)
    release = package(project, layouts=["yolo"], accept_split_deviation=True).path
    source = {
        r["id"]: r["objects"]
        for r in map(json.loads, project.paths.labels.read_text(encoding="utf-8").splitlines())
    }
    fresh = _fresh_copy(project, tmp_path / "fresh")
    assert detect(release / "yolo") == "yolo"  # data.yaml names the classes
    built = import_labels(fresh, release / "yolo")
    assert built.matched["path"] + built.matched["name"] == len(source)
    got = {iid: rec["objects"] for iid, rec in _labels(fresh).items()}
    assert got == source
