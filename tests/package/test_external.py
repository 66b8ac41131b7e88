"""External proof: the release is read by the tools users already have."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from datakit.io import read_json
from datakit.package.run import package


@pytest.fixture
def text_release(ready) -> Path:  # type: ignore[no-untyped-def]
    return package(ready(n=60), layouts=["aihub"]).path


@pytest.fixture
def image_release(ready) -> Path:  # type: ignore[no-untyped-def]
    return package(ready("object_detection", n=30), layouts=["aihub"]).path


def test_hugging_face_datasets_loads_features_and_split_sizes(
    text_release: Path, image_release: Path, tmp_path: Path
) -> None:
    import datasets

    ds = datasets.load_dataset(
        "parquet", data_dir=str(text_release / "data"), cache_dir=str(tmp_path / "hf")
    )
    assert {k: v.num_rows for k, v in ds.items()} == {"train": 48, "validation": 6, "test": 6}
    f = ds["train"].features
    assert f["label"] == datasets.Value("string") and f["annotation_ids"] == datasets.List(
        datasets.Value("int64")
    )
    assert ds["train"][0]["text"]
    img = datasets.load_dataset(
        "parquet", data_dir=str(image_release / "data"), cache_dir=str(tmp_path / "hf2")
    )
    feats = img["train"].features
    assert isinstance(feats["image"], datasets.Image)
    assert img["train"][0]["image"].size == (72, 72)  # decoded by PIL through the Image feature
    assert feats["objects"] == datasets.List(
        {
            k: datasets.Value("string" if k == "label" else "float64")
            for k in ("label", "x", "y", "width", "height", "rotation")
        }
    )
    # The README's YAML header agrees with the data.
    import yaml

    card = (text_release / "README.md").read_text(encoding="utf-8")
    header = yaml.safe_load(card.split("---")[1])
    assert {s["name"]: s["num_examples"] for s in header["dataset_info"]["splits"]} == {
        "train": 48,
        "validation": 6,
        "test": 6,
    }
    assert header["configs"][0]["data_files"][0] == {"split": "train", "path": "data/train-*"}
    assert header["task_categories"] == ["text-classification"] and header["license"] == "cc-by-4.0"


def test_pandas_pyarrow_and_duckdb_read_the_shards(text_release: Path) -> None:
    import duckdb
    import pandas as pd
    import pyarrow.dataset as pads

    df = pd.read_parquet(text_release / "data" / "train-00000-of-00001.parquet")
    assert len(df) == 48 and set(df["label"]) == {"긍정", "부정", "중립"}
    table = pads.dataset(text_release / "data", format="parquet").to_table()
    assert table.num_rows == 60
    con = duckdb.connect()
    rows = con.execute(
        "SELECT regexp_extract(filename, '/(train|validation|test)-[0-9]{5}-of-', 1) AS split, "
        f"label, count(*) FROM read_parquet('{text_release}/data/*.parquet', filename=true) "
        "GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    meta = read_json(text_release / "metadata.json")
    expected = sorted(
        (s, c, n) for c, per in meta["counts"]["classes"].items() for s, n in per.items()
    )
    assert sorted(rows) == expected


def test_croissant_validates_and_loads_records(text_release: Path) -> None:
    exe = Path(sys.executable).with_name("mlcroissant")
    proc = subprocess.run(
        [str(exe), "validate", "--jsonld", str(text_release / "croissant.json")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    import mlcroissant as mlc

    doc = read_json(text_release / "croissant.json")
    for key in (
        "rai:dataAnnotationProtocol",
        "rai:annotationsPerItem",
        "rai:personalSensitiveInformation",
        "rai:dataCollection",
        "rai:dataCollectionTimeframe",
        "rai:dataAnnotationAnalysis",
    ):
        assert doc[key], key
    records = list(mlc.Dataset(jsonld=str(text_release / "croissant.json")).records("default"))
    assert len(records) == 60
    splits = sorted(r["default/split"].decode() for r in records)
    assert splits.count("train") == 48 and splits.count("test") == 6


def test_aihub_label_files_pass_the_syntactic_check(
    image_release: Path, text_release: Path, tmp_path: Path
) -> None:
    from datakit.check.census import census_files

    for release, n in ((text_release, 54), (image_release, 27)):
        schema = read_json(release.parent.parent / "labeling" / "label.schema.json")
        out = tmp_path / "extracted" / release.parent.parent.name
        for z in release.rglob("*L_*.zip"):
            zipfile.ZipFile(z).extractall(out / z.stem)
        files = sorted(out.rglob("*.json"))
        assert len(files) == n  # Training + Validation; the test split is held back
        result = census_files(files, schema, workers=1)
        assert result.records == n and result.valid == n and result.rate == 1.0


def _hf_features(release: Path) -> Any:
    """The features the shards' own ``huggingface`` schema metadata declares."""
    import json

    import datasets
    import pyarrow.parquet as pq

    shard = next((release / "data").glob("train-*.parquet"))
    meta = json.loads(pq.read_schema(shard).metadata[b"huggingface"])
    return datasets.Features.from_dict(meta["info"]["features"])


def _class_label_agrees(ds: Any, release: Path, column: str, inner: str | None) -> int:
    """Every integer ``datasets`` gives decodes to the string the Parquet holds; the count."""
    import pyarrow.parquet as pq

    checked = 0
    for split, part in ds.items():
        table = pq.read_table(sorted((release / "data").glob(f"{split}-*.parquet")))
        strings = table.column(column).to_pylist()
        feature = part.features[column]
        label = feature if inner is None else feature.feature[inner]
        for got, want in zip(part[column], strings, strict=True):
            if inner is None:
                assert (None if got is None else label.int2str(got)) == want
                checked += got is not None
            else:
                assert [label.int2str(g[inner]) for g in got or []] == [
                    w[inner] for w in want or []
                ]
                checked += len(got or [])
    return checked


def test_class_fields_are_class_labels_through_the_card_and_the_metadata(
    text_release: Path, image_release: Path, tmp_path: Path
) -> None:
    import datasets
    import yaml

    # Through the dataset card (README.md's dataset_info): load the release folder itself.
    ds = datasets.load_dataset(str(text_release), cache_dir=str(tmp_path / "c1"))
    assert ds["train"].features["label"] == datasets.ClassLabel(names=["긍정", "부정", "중립"])
    assert _class_label_agrees(ds, text_release, "label", None) == 60
    # The card's YAML and the shards' metadata declare the same features.
    card = (text_release / "README.md").read_text(encoding="utf-8")
    header = yaml.safe_load(card.split("---")[1])
    card_features = datasets.Features._from_yaml_list(header["dataset_info"]["features"])
    assert card_features == _hf_features(text_release)
    # Through the Parquet loader: the Parquet keeps strings (DuckDB, pandas), and datasets
    # takes metadata features only when their Arrow type matches, so ClassLabel comes with
    # features= read from that metadata.
    plain = datasets.load_dataset(
        "parquet", data_dir=str(text_release / "data"), cache_dir=str(tmp_path / "c2")
    )
    assert plain["train"].features["label"] == datasets.Value("string")
    typed = datasets.load_dataset(
        "parquet",
        data_dir=str(text_release / "data"),
        features=_hf_features(text_release),
        cache_dir=str(tmp_path / "c3"),
    )
    assert typed["train"].features == ds["train"].features
    assert _class_label_agrees(typed, text_release, "label", None) == 60

    # Boxes: a List of structs with a ClassLabel inside, the image as Image, choice as ClassLabel.
    for kw in ({}, {"features": _hf_features(image_release)}):
        path = str(image_release) if not kw else "parquet"
        extra = {} if not kw else {"data_dir": str(image_release / "data")}
        img = datasets.load_dataset(path, cache_dir=str(tmp_path / f"i{len(kw)}"), **extra, **kw)
        feats = img["train"].features
        names = ["차량", "보행자", "신호등"]
        assert feats["objects"] == datasets.List(
            {
                "label": datasets.ClassLabel(names=names),
                **{k: datasets.Value("float64") for k in ("x", "y", "width", "height", "rotation")},
            }
        )
        assert feats["weather"] == datasets.ClassLabel(names=["맑음", "흐림", "비"])
        assert isinstance(feats["image"], datasets.Image)
        assert img["train"][0]["image"].size == (72, 72)
        assert _class_label_agrees(img, image_release, "objects", "label") == 30
        assert _class_label_agrees(img, image_release, "weather", None) > 0


@pytest.mark.parametrize("template", ["ner", "transcription"])
def test_spans_and_audio_features_through_the_card(ready, template: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import datasets

    # The NER template groups by source (two units here), so one split is empty: the card
    # declares only the splits with rows, and the whole release loads through it.
    release = package(ready(template, n=30), accept_split_deviation=True).path
    ds = datasets.load_dataset(str(release), cache_dir=str(tmp_path / "hf"))
    counts = read_json(release / "metadata.json")["counts"]["splits"]
    assert {s: len(ds[s]) for s in ds} == {s: n for s, n in counts.items() if n}
    if template == "ner":
        assert 0 in counts.values()  # the case this test is about
    train = ds["train"]
    feats = train.features
    assert feats == _hf_features(release)
    if template == "ner":
        assert feats["entities"] == datasets.List(
            {
                "start": datasets.Value("int64"),
                "end": datasets.Value("int64"),
                "label": datasets.ClassLabel(names=["인명", "기관", "지명"]),
                "text": datasets.Value("string"),
            }
        )
        n_train = read_json(release / "metadata.json")["counts"]["splits"]["train"]
        assert _class_label_agrees(ds, release, "entities", "label") == n_train > 0
    else:
        assert isinstance(feats["audio"], datasets.Audio)


def test_card_yaml_of_every_feature_shape_reads_back_in_datasets() -> None:
    """``classes`` (a list of ClassLabel) has no template: check its card form directly."""
    import datasets

    from datakit.package.documents import _feature_yaml

    names = ["가", "나"]
    features = datasets.Features(
        {
            "tags": datasets.List(datasets.ClassLabel(names=names)),
            "label": datasets.ClassLabel(names=names),
            "boxes": datasets.List(
                {"label": datasets.ClassLabel(names=names), "x": datasets.Value("float64")}
            ),
            "image": datasets.Image(),
            "ids": datasets.List(datasets.Value("int64")),
        }
    )
    card = [_feature_yaml(k, v) for k, v in features.to_dict().items()]
    assert datasets.Features._from_yaml_list(card) == features
