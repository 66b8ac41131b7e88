"""External proof: the release is read by the tools users already have."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

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
