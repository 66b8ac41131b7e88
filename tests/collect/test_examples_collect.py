"""The bundled examples collect to exactly what their READMEs promise."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from datakit.collect import collect
from datakit.project import Project
from tests.collect.helpers import read_manifest


def test_review_sentiment(example_project: Callable[[str], Path]) -> None:
    root = example_project("review-sentiment")
    result = collect(Project(root), [root / "data" / "raw" / "reviews.csv"])  # sidecar mapping
    rows = {str(r["id"]): r for r in read_manifest(root)}
    assert (result.items, result.ok, result.duplicates, result.quarantined) == (312, 305, 4, 3)
    assert {k: rows[k]["duplicate_of"] for k in rows if rows[k]["status"] == "duplicate"} == {
        "RV-10177": "RV-10105",
        "RV-10199": "RV-10184",
        "RV-10250": "RV-10147",
        "RV-10272": "RV-10260",
    }
    clusters: dict[str, set[str]] = {}
    for k, r in rows.items():
        if r["near_dup_cluster"]:
            clusters.setdefault(str(r["near_dup_cluster"]), set()).add(k)
    assert sorted(map(sorted, clusters.values())) == [
        ["RV-10072", "RV-10125"],
        ["RV-10085", "RV-10157"],
        ["RV-10106", "RV-10196"],
        ["RV-10144", "RV-10268"],
        ["RV-10215", "RV-10239"],
    ]
    short = sorted(k for k, r in rows.items() if r["status"] == "quarantined")
    assert short == ["RV-10257", "RV-10266", "RV-10307"]
    assert result.pii_by_kind == {"card": 1, "email": 2, "phone": 3, "rrn": 1}
    pii_ids = sorted(k for k, r in rows.items() if r["pii"])
    assert pii_ids == ["RV-10007", "RV-10077", "RV-10083", "RV-10116", "RV-10270", "RV-10288"]
    ok = [r for r in rows.values() if r["status"] == "ok"]
    assert Counter(r["intake_label"] for r in ok) == {"긍정": 102, "부정": 99, "중립": 104}
    assert Counter(r["source"] for r in ok) == {"쇼핑몰A": 153, "쇼핑몰B": 152}
    assert {r["license"] for r in ok} == {"CC-BY-4.0"} and {r["consent"] for r in ok} == {"yes"}
    assert all(json.loads(str(r["attributes"])).keys() == {"region"} for r in ok)


def test_road_objects(example_project: Callable[[str], Path]) -> None:
    root = example_project("road-objects")
    result = collect(Project(root), [root / "data" / "raw" / "images"])
    rows = {str(r["source_path"]).rsplit("/", 1)[-1]: r for r in read_manifest(root)}
    assert (result.items, result.ok, result.duplicates, result.quarantined) == (40, 36, 2, 2)
    dups = {k: r["duplicate_of"] for k, r in rows.items() if r["status"] == "duplicate"}
    assert dups == {
        "road_0011.png": rows["road_0005.png"]["id"],
        "road_0028.png": rows["road_0021.png"]["id"],
    }
    assert str(rows["road_0008.png"]["reason"]).startswith("image.corrupt")
    assert str(rows["road_0016.png"]["reason"]).startswith("image.too_small: 48x36")
    clusters: dict[str, set[str]] = {}
    for k, r in rows.items():
        if r["near_dup_cluster"]:
            clusters.setdefault(str(r["near_dup_cluster"]), set()).add(k)
    assert sorted(map(sorted, clusters.values())) == [
        ["road_0010.png", "road_0023.png"],
        ["road_0029.png", "road_0035.png"],
    ]
    ok = [r for r in rows.values() if r["status"] == "ok"]
    weather = Counter(json.loads(str(r["attributes"]))["weather"] for r in ok)
    assert weather == {"맑음": 17, "흐림": 10, "비": 9}
    assert {r["source"] for r in ok} == {"도로촬영팀"}


def test_collect_without_arguments_applies_the_sidecars_in_data_raw(
    example_project: Callable[[str], Path], tmp_path: Path
) -> None:
    """`datakit collect` (what `datakit status` suggests) collects data/raw/reviews.csv with
    its sidecar's mapping, as naming the file does: the same ids, intake labels and sources."""
    import shutil

    from typer.testing import CliRunner

    from datakit.cli.app import app

    named = example_project("review-sentiment")
    bare = shutil.copytree(named, tmp_path / "bare")
    collect(Project(named), [named / "data" / "raw" / "reviews.csv"])
    result = CliRunner().invoke(app, ["collect", "-p", str(bare)])
    assert result.exit_code == 0, result.output

    def facts(root: Path) -> list[tuple[str, str, str, str]]:
        return sorted(
            (str(r["id"]), str(r["status"]), str(r["intake_label"]), str(r["source"]))
            for r in read_manifest(root)
        )

    got = facts(bare)
    assert got == facts(named)
    assert {r[3] for r in got} == {"쇼핑몰A", "쇼핑몰B"}  # per-row source from the mapping
    assert sum(r[2] != "None" for r in got) > 300  # intake labels from the mapping
