"""The export layouts (coco, yolo, conll), each read back by the tool that consumes it:
pycocotools for COCO, seqeval for IOB2, and for YOLO a reader of Ultralytics' documented
detection format (``ultralytics`` pulls torch and CUDA wheels, several GB, to install)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import yaml

from datakit.errors import InputError, ReleaseError
from datakit.io import read_json
from datakit.package.layouts.conll import iob2_tokens
from datakit.package.run import package
from datakit.package.verify import verify_release
from datakit.project import Project
from tests.package.builders import build_inputs, review_text
from tests.spark.conftest import spark as spark  # the Spark session fixture

CLASSES = ("차량", "보행자", "신호등")


def boxes_of(i: int) -> list[dict[str, Any]]:
    """Two or three boxes per image in percent; every fifth image has a rotated one, every
    seventh has none (a background image)."""
    if i % 7 == 3:
        return []
    out = [
        {"label": CLASSES[i % 3], "x": 5.0 + i % 10, "y": 10.0, "width": 25.5, "height": 30.0},
        {
            "label": CLASSES[(i + 1) % 3],
            "x": 50.0,
            "y": 40.0 + i % 5,
            "width": 40.0,
            "height": 20.0,
        },
    ]
    if i % 5 == 0:
        out.append(
            {
                "label": "신호등",
                "x": 20.0,
                "y": 20.0,
                "width": 10.0,
                "height": 10.0,
                "rotation": 90.0,
            }
        )
    return out


def spans_of(i: int) -> list[dict[str, Any]]:
    """A whole first word and the first character of the second word (a span inside a word)."""
    text = review_text(i)
    words = text.split(" ")
    second = len(words[0]) + 1
    ner = ("인명", "기관", "지명")
    return [
        {"start": 0, "end": len(words[0]), "label": ner[i % 3], "text": words[0]},
        {"start": second, "end": second + 1, "label": ner[(i + 1) % 3], "text": text[second]},
    ]


def shard_rows(release: Path, split: str, columns: list[str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for p in sorted((release / "data").glob(f"{split}-*.parquet")):
        rows += pq.read_table(p, columns=columns).to_pylist()
    return rows


def expected_pixels(box: dict[str, Any], w: int, h: int) -> list[float]:
    """The enclosing axis-aligned box in pixels, computed here independently: a 90° clockwise
    turn about the top-left corner puts the box to the left of that corner."""
    x, y = box["x"] * w / 100, box["y"] * h / 100
    bw, bh = box["width"] * w / 100, box["height"] * h / 100
    if box.get("rotation") == 90.0:
        x, y, bw, bh = x - bh, y, bh, bw
    return [x, y, bw, bh]


def ner_project(make_project: Callable[..., Path], n: int) -> Project:
    """The NER template without its group key (its two sources would make two split units)."""
    from datakit.plan.run import plan

    root = make_project("ner")
    spec = root / "datakit.yaml"
    text = spec.read_text(encoding="utf-8")
    text = text.replace("  group: source ", "  # group: source ", 1)
    text = text.replace('  version: "1.0"\n', '  version: "1.0"\n  release_date: "2026-11-01"\n', 1)
    spec.write_text(text, encoding="utf-8")
    plan(Project(root))
    return build_inputs(root, n, label_of=spans_of)  # type: ignore[arg-type]


@pytest.fixture(params=["embed", "reference"])
def detection_release(ready, request) -> Path:  # type: ignore[no-untyped-def]
    project = ready("object_detection", n=40, label_of=boxes_of)
    return package(project, layouts=["coco", "yolo"], media=request.param).path


def test_coco_layout_loads_in_pycocotools_with_the_shards_boxes(detection_release: Path) -> None:
    from PIL import Image
    from pycocotools.coco import COCO

    meta = read_json(detection_release / "metadata.json")
    assert meta["release"]["layouts"] == ["coco", "huggingface", "yolo"]
    for split, n in meta["counts"]["splits"].items():
        coco = COCO(str(detection_release / "coco" / "annotations" / f"instances_{split}.json"))
        cats = coco.loadCats(coco.getCatIds())
        assert [(c["id"], c["name"]) for c in cats] == [(1, "차량"), (2, "보행자"), (3, "신호등")]
        rows = shard_rows(detection_release, split, ["id", "objects"])
        assert len(coco.getImgIds()) == n == len(rows)
        by_name = {img["file_name"]: img for img in coco.loadImgs(coco.getImgIds())}
        for row in rows:
            img = by_name[f"{row['id']}.png"]
            path = detection_release / "coco" / "images" / split / img["file_name"]
            with Image.open(path) as im:  # the file is there and its size is recorded
                assert (img["width"], img["height"]) == im.size == (72, 72)
            anns = coco.loadAnns(coco.getAnnIds(imgIds=[img["id"]]))
            assert len(anns) == len(row["objects"])
            for ann, box in zip(anns, row["objects"], strict=True):
                assert coco.loadCats(ann["category_id"])[0]["name"] == box["label"]
                want = expected_pixels(box, 72, 72)
                assert ann["bbox"] == pytest.approx(want, abs=1e-3)
                assert ann["area"] == pytest.approx(want[2] * want[3], abs=1e-2)
                assert ann["iscrowd"] == 0
        # pycocotools' evaluator accepts the file: the ground truth scored against itself is 1.
        if coco.getAnnIds():
            from pycocotools.cocoeval import COCOeval

            dets = [{**a, "score": 1.0} for a in coco.loadAnns(coco.getAnnIds())]
            ev = COCOeval(coco, coco.loadRes(dets), "bbox")
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
            assert ev.stats[1] == pytest.approx(1.0)  # AP@0.5
    assert verify_release(detection_release).ok


def read_ultralytics(data_yaml: Path) -> dict[str, list[tuple[Path, list[list[float]]]]]:
    """Read a detection dataset as Ultralytics documents it (docs.ultralytics.com/datasets/
    detect): ``train``/``val`` (required) and ``test`` in data.yaml are image folders relative
    to ``path``, else to the yaml's folder; ``names`` maps ids 0… to names; each image's labels
    are at the image path with the last ``/images/`` replaced by ``/labels/`` and the suffix
    by ``.txt``: one ``class x_center y_center width height`` row per object, normalised to
    0…1; a missing or empty file means no objects. The checks are those of
    ``ultralytics.data.utils.verify_image_label``."""
    from PIL import Image

    data = yaml.safe_load(data_yaml.read_text(encoding="utf-8"))
    assert "train" in data and "val" in data and "names" in data
    names = data["names"]
    assert sorted(names) == list(range(len(names))) and data.get("nc", len(names)) == len(names)
    root = Path(data.get("path") or data_yaml.parent)
    out: dict[str, list[tuple[Path, list[list[float]]]]] = {}
    for key in ("train", "val", "test"):
        if not data.get(key):
            continue
        folder = root / data[key]
        assert folder.is_dir(), folder
        items = []
        for img in sorted(folder.iterdir()):
            assert img.suffix.lower().lstrip(".") in {"bmp", "jpeg", "jpg", "png", "tif", "webp"}
            with Image.open(img) as im:
                im.verify()
                assert min(im.size) > 9
            s = str(img)
            label = Path("/labels/".join(s.rsplit("/images/", 1)).rsplit(".", 1)[0] + ".txt")
            rows: list[list[float]] = []
            if label.is_file():
                for line in label.read_text(encoding="utf-8").splitlines():
                    parts = [float(v) for v in line.split()]
                    assert len(parts) == 5, line
                    assert int(parts[0]) == parts[0] and 0 <= parts[0] < len(names)
                    assert all(0 <= v <= 1 for v in parts[1:]), line
                    rows.append(parts)
            items.append((img, rows))
        out[key] = items
    return out


def test_yolo_layout_reads_as_ultralytics_documents_it(detection_release: Path) -> None:
    data_yaml = detection_release / "yolo" / "data.yaml"
    data = yaml.safe_load(data_yaml.read_text(encoding="utf-8"))
    assert data["names"] == {0: "차량", 1: "보행자", 2: "신호등"}
    assert "path" not in data  # relative to the yaml: the folder can move
    read = read_ultralytics(data_yaml)
    meta = read_json(detection_release / "metadata.json")
    split_of = {"train": "train", "val": "validation", "test": "test"}
    assert {split_of[k]: len(v) for k, v in read.items()} == meta["counts"]["splits"]
    for key, items in read.items():
        rows = {
            r["id"]: r["objects"]
            for r in shard_rows(detection_release, split_of[key], ["id", "objects"])
        }
        for img, labels in items:
            boxes = rows[img.stem]
            assert len(labels) == len(boxes)
            for (cls, cx, cy, w, h), box in zip(labels, boxes, strict=True):
                assert data["names"][int(cls)] == box["label"]
                x, y, bw, bh = expected_pixels(box, 72, 72)
                got = [cx - w / 2, cy - h / 2, w, h]
                assert got == pytest.approx([x / 72, y / 72, bw / 72, bh / 72], abs=2e-6)
    # Images are stored once: the yolo and coco copies are the same file on disk.
    img = read["train"][0][0]
    twin = detection_release / "coco" / "images" / "train" / img.name
    assert img.stat().st_ino == twin.stat().st_ino
    assert verify_release(detection_release).ok


def test_conll_layout_is_iob2_that_seqeval_reads_back(make_project) -> None:  # type: ignore[no-untyped-def]
    from seqeval.metrics import classification_report, f1_score
    from seqeval.metrics.sequence_labeling import get_entities
    from seqeval.scheme import IOB2

    release = package(ner_project(make_project, 40), layouts=["conll"]).path
    meta = read_json(release / "metadata.json")
    labels = (release / "conll" / "labels.txt").read_text(encoding="utf-8").split()
    assert labels == ["O", "B-인명", "I-인명", "B-기관", "I-기관", "B-지명", "I-지명"]
    for split, n in meta["counts"]["splits"].items():
        text = (release / "conll" / f"{split}.conll").read_text(encoding="utf-8")
        sentences = [
            [line.split(" ") for line in block.splitlines()]
            for block in text.split("\n\n")
            if block.strip()
        ]
        ids = (release / "conll" / f"{split}.ids.txt").read_text(encoding="utf-8").split()
        rows = {r["id"]: r for r in shard_rows(release, split, ["id", "text", "entities"])}
        assert len(sentences) == len(ids) == n
        tags = [[t for _, t in s] for s in sentences]
        # seqeval's strict IOB2 mode accepts every sentence (it raises on a bad tag) ...
        assert f1_score(tags, tags, mode="strict", scheme=IOB2) == 1.0
        classification_report(tags, tags, mode="strict", scheme=IOB2)
        for item, sent in zip(ids, sentences, strict=True):
            row = rows[item]
            tokens = [tok for tok, _ in sent]
            assert "".join(tokens) == "".join(row["text"].split())
            # ... and its chunker gives back the shard's entities, label and text.
            got = [
                (kind, "".join(tokens[a : b + 1]))
                for kind, a, b in get_entities([t for _, t in sent])
            ]
            want = [
                (e["label"], e["text"]) for e in sorted(row["entities"], key=lambda e: e["start"])
            ]
            assert got == want
    assert verify_release(release).ok


def test_iob2_cuts_words_at_span_edges_and_refuses_overlaps() -> None:
    text = "서울에서  김철수 씨를 만났다"
    spans = [
        {"start": 0, "end": 2, "label": "지명"},
        {"start": 6, "end": 9, "label": "인명"},
    ]
    assert iob2_tokens(text, spans, "x") == [
        ("서울", "B-지명"),
        ("에서", "O"),
        ("김철수", "B-인명"),
        ("씨를", "O"),
        ("만났다", "O"),
    ]
    two_words = [{"start": 0, "end": 9, "label": "지명"}]
    assert [t for _, t in iob2_tokens(text, two_words, "x")][:2] == ["B-지명", "I-지명"]
    with pytest.raises(ReleaseError, match="item x: spans overlap"):
        iob2_tokens(text, [*spans, {"start": 1, "end": 3, "label": "기관"}], "x")
    with pytest.raises(ReleaseError, match="outside the text"):
        iob2_tokens(text, [{"start": 5, "end": 99, "label": "기관"}], "x")


def test_a_layout_the_task_cannot_fill_is_refused_before_work(ready) -> None:  # type: ignore[no-untyped-def]
    project = ready(n=20)
    with pytest.raises(InputError, match="layout coco needs a object_detection project"):
        package(project, layouts=["coco"])
    with pytest.raises(InputError, match="unknown layout 'voc'"):
        package(project, layouts=["voc"])  # type: ignore[list-item]
    assert not any(project.paths.releases.glob("*")) if project.paths.releases.exists() else True


def test_verify_names_a_layout_file_missing_from_the_checksums(make_project) -> None:  # type: ignore[no-untyped-def]
    release = package(ner_project(make_project, 20), layouts=["conll"]).path
    (release / "conll" / "train.ids.txt").unlink()
    report = verify_release(release)
    assert not report.ok
    assert any(p.check == "checksums" and p.where == "conll/train.ids.txt" for p in report.problems)
    assert any(p.check == "layouts" and "conll" in p.message for p in report.problems)


def test_pixel_box_rotation_matches_a_hand_computed_corner() -> None:
    from datakit.package.layouts.coco import pixel_box

    # 45° about the top-left corner: the width edge goes down-right, the height edge down-left.
    box = {"x": 50.0, "y": 10.0, "width": 10.0, "height": 10.0, "rotation": 45.0}
    x, y, w, h = pixel_box(box, 100, 100)
    d = 10 / math.sqrt(2)
    assert (x, y, w, h) == pytest.approx((50 - d, 10, 2 * d, 2 * d))
    json.dumps([x, y, w, h])


def test_layouts_rebuild_byte_identical(ready, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import shutil

    project = ready("object_detection", n=20, label_of=boxes_of)
    first = package(project, layouts=["coco", "yolo"]).path
    copy = tmp_path / "copy"
    shutil.copytree(project.root, copy, ignore=shutil.ignore_patterns("releases", ".datakit"))
    second = package(Project(copy), layouts=["coco", "yolo"]).path
    sums = (first / "SHA256SUMS").read_text(encoding="utf-8")
    assert sums == (second / "SHA256SUMS").read_text(encoding="utf-8")
    assert "coco/annotations/instances_train.json" in sums and "yolo/data.yaml" in sums
    doc = json.loads((first / "coco/annotations/instances_train.json").read_text("ascii"))
    assert doc["info"]["version"] == "1.0" and doc["info"]["date_created"] == "2026-11-01"
    desc = (first / "데이터설명서.md").read_text(encoding="utf-8")
    assert "`coco/annotations/instances_<분할>.json`" in desc and "`yolo/data.yaml`" in desc


@pytest.mark.slow
def test_the_spark_engine_writes_the_same_layouts(spark, ready, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Layouts are written from the finished shards, after either engine."""
    import shutil

    project = ready("object_detection", n=20, label_of=boxes_of)
    copy = tmp_path / "spark-copy"
    shutil.copytree(project.root, copy, ignore=shutil.ignore_patterns("releases", ".datakit"))
    local = package(project, layouts=["coco", "yolo"], engine="local").path
    remote = package(Project(copy), layouts=["coco", "yolo"], engine="spark").path

    def layout_sums(release: Path) -> list[str]:
        lines = (release / "SHA256SUMS").read_text(encoding="utf-8").splitlines()
        return [x for x in lines if x[66:].startswith(("coco/", "yolo/"))]

    assert layout_sums(local) == layout_sums(remote) and len(layout_sums(local)) > 40
    assert verify_release(remote).ok


def test_cli_layout_options(ready, cli) -> None:  # type: ignore[no-untyped-def]
    project = ready("object_detection", n=20, label_of=boxes_of)
    r = cli("package", "-p", str(project.root), "--layout", "conll")
    assert r.exit_code == 2 and "layout conll needs a ner project" in r.output
    assert "Traceback" not in r.output
    r = cli("package", "-p", str(project.root), "--layout", "COCO", "--layout", "yolo", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["layouts"] == ["coco", "huggingface", "yolo"]
    r = cli("verify", "1.0", "-p", str(project.root), "--json")
    assert r.exit_code == 0 and json.loads(r.output)["checks"]["layouts"] is True


def test_road_objects_example_to_coco_and_yolo(
    example_project: Callable[[str], Path],
    cli: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The bundled example, collected for real (160×120 PNGs, not square), labelled with its
    generator's truth: COCO pixels and YOLO fractions agree with the truth on every box."""
    from pycocotools.coco import COCO

    from datakit.records import item_fields, ordered_record
    from datakit.tables import read_manifest, write_label_records
    from tests.package.builders import write_quality

    root = example_project("road-objects")
    monkeypatch.chdir(root)
    assert cli("collect", "data/raw/images").exit_code == 0
    truth = json.loads((root / "data/raw/truth.json").read_text(encoding="utf-8"))
    project = Project(root)
    rows = [r for r in read_manifest(project.paths.manifest).to_pylist() if r["status"] == "ok"]
    records = []
    for row in rows:
        rec = item_fields(row, project.spec)
        rec["objects"] = truth[rec["file_name"]]["objects"]
        records.append(ordered_record(rec, project.spec))
    write_label_records(project.paths.labels, records)
    write_quality(project)
    release = package(project, layouts=["coco", "yolo"], accept_failed_check=True).path
    assert verify_release(release).ok
    name_of = {r["id"]: r["file_name"] for r in records}
    boxes = 0
    for split in read_json(release / "metadata.json")["counts"]["splits"]:
        coco = COCO(str(release / "coco" / "annotations" / f"instances_{split}.json"))
        for img in coco.loadImgs(coco.getImgIds()):
            assert (img["width"], img["height"]) == (160, 120)
            want = truth[name_of[Path(img["file_name"]).stem]]["objects"]
            anns = coco.loadAnns(coco.getAnnIds(imgIds=[img["id"]]))
            got = [(coco.loadCats(a["category_id"])[0]["name"], a["bbox"]) for a in anns]
            assert got == [
                (
                    b["label"],
                    pytest.approx(
                        [b["x"] * 1.6, b["y"] * 1.2, b["width"] * 1.6, b["height"] * 1.2], abs=1e-3
                    ),
                )
                for b in want
            ]
            lines = (
                (release / "yolo" / "labels" / split / f"{Path(img['file_name']).stem}.txt")
                .read_text(encoding="utf-8")
                .splitlines()
            )
            for line, b in zip(lines, want, strict=True):
                cls, cx, cy, w, h = (float(v) for v in line.split())
                assert cls == ["차량", "보행자", "신호등"].index(b["label"])
                assert [cx - w / 2, cy - h / 2, w, h] == pytest.approx(
                    [b["x"] / 100, b["y"] / 100, b["width"] / 100, b["height"] / 100], abs=2e-6
                )
            boxes += len(want)
    assert boxes > 40


def test_yolo_alone_links_the_referenced_files(ready) -> None:  # type: ignore[no-untyped-def]
    project = ready("object_detection", n=20, label_of=boxes_of)
    release = package(project, layouts=["yolo"], media="reference").path
    read = read_ultralytics(release / "yolo" / "data.yaml")
    assert sum(len(v) for v in read.values()) == 20 and not (release / "coco").exists()
    img = read["train"][0][0]
    assert img.stat().st_ino == (release / "files" / "train" / img.name).stat().st_ino
    assert verify_release(release).ok
