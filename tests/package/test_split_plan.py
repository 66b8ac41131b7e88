"""Splits that meet the plan: large units placed first, shares within ``splits.tolerance``,
cross-group near-duplicates left out (or joined, or ignored) as the spec says, the release
refused (exit 1) when a share misses, and the figures in metadata, documents and ``verify``.

Tried on a generated scenario (short generic texts recurring under many groups) and on the
real shared corpus (Korean news comments grouped by article title)."""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from datakit.cli.app import app
from datakit.io import read_json, sha256_file, write_json
from datakit.package.balance import SplitDeviationError
from datakit.package.leakage import leakage_figures
from datakit.package.run import package
from datakit.package.verify import verify_release
from datakit.project import Project
from datakit.splits import place_large_units
from tests.fixtures.corpora import corpus_project
from tests.package.builders import make_ready_project, write_quality

RATIOS = {"train": 0.8, "validation": 0.1, "test": 0.1}
CLASSES = ("긍정", "부정", "중립")


def _set_spec(project: Project, old: str, new: str) -> Project:
    path = project.root / "datakit.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    from datakit.plan.run import plan

    fresh = Project(project.root)
    plan(fresh)
    write_quality(fresh)
    return fresh


def _policy(project: Project, policy: str) -> Project:
    return _set_spec(
        project,
        "  seed: 42\n",
        f"  seed: 42\n  cross_group_near_duplicates: {policy}\n",
    )


def _release_rows(release: Path) -> list[dict[str, Any]]:
    rows = []
    for p in sorted((release / "data").glob("*.parquet")):
        split = p.name.split("-", 1)[0]
        t = pq.read_table(p, columns=["id", "near_dup_cluster"])
        rows += [dict(r, split=split) for r in t.to_pylist()]
    return rows


# -- the placement rule ---------------------------------------------------------------------


def test_a_unit_too_large_to_fit_overflows_and_the_rest_make_up_the_other_splits() -> None:
    # one stratum of 1,000 items: a unit of 900 and 100 singletons
    got = place_large_units({0: 1000}, [(0, 900, 5)], RATIOS)
    assert got.splits == [0]  # train: the largest deficit
    assert got.excess == [100.0]  # 900 items where 800 were planned
    assert got.bounds[0] == [0.0, 0.5]  # the singletons go half to validation, half to test


def test_large_units_go_largest_first_to_the_largest_deficit() -> None:
    # 10 units of 90 and 100 singletons: 1,000 items, targets 800/100/100
    large = [(0, 90, k) for k in range(10)]
    got = place_large_units({0: 1000}, large, RATIOS)
    assert got.splits == [0] * 8 + [1, 2]  # train until its deficit drops below 100
    assert got.excess == [0.0] * 10
    # left to fill: train 80, validation 10, test 10 — the singletons in those shares
    assert got.bounds[0] == pytest.approx([0.8, 0.9])


def test_rounding_in_many_small_strata_does_not_add_up() -> None:
    # 30 strata of 5 singletons: each stratum rounds, the total must still be near 8:1:1
    strata = dict.fromkeys(range(30), 5)
    large = [(s, 1, s * 10 + k) for s in range(30) for k in range(5)]
    got = place_large_units(strata, large, RATIOS)
    counts = Counter(got.splits)
    assert counts[0] == 120 and abs(counts[1] - 15) <= 1 and abs(counts[2] - 15) <= 1


# -- a generated scenario: short generic texts under many groups ------------------------------


def _recurring(i: int) -> str | None:
    """Every 7th item is a copy of one of 40 generic comments ("응원합니다"-like) posted
    under many groups; the copies form near-duplicate clusters across groups."""
    return f"generic-{random.Random(i).randrange(40)}" if i % 7 == 0 else None


@pytest.fixture
def recurring(make_project: Callable[..., Path]) -> Project:
    return make_ready_project(
        make_project,
        n=2400,
        group=lambda i: f"article-{(i * 37) % 120}",  # 120 groups of 20
        cluster=_recurring,
        label_of=lambda i: CLASSES[(i * 7) % 3],
    )


def test_together_joins_the_groups_into_one_unit_and_the_release_is_refused(
    recurring: Project,
) -> None:
    project = _policy(recurring, "together")
    with pytest.raises(SplitDeviationError) as err:
        package(project)
    report = err.value.report
    assert report.outside  # the unit of nearly every item cannot be split 8:1:1
    unit = report.large_units[0]
    assert unit.size > 0.9 * 2400 and unit.split == "train" and unit.excess > 0
    assert unit.n_groups > 100 and unit.n_clusters == 40  # named with what joined it
    assert "generic-" in str(err.value) and "article-" in str(err.value)
    assert not (project.paths.releases / "1.0").exists()  # nothing half-written
    # the CLI exits 1 (like a failed gate) and names the unit, without a traceback
    result = CliRunner().invoke(app, ["package", "-p", str(project.root)])
    assert result.exit_code == 1, result.output
    assert "Too large to fit" in result.output and "Traceback" not in result.output


def test_exclude_keeps_the_ratios_and_lists_the_left_out_copies(recurring: Project) -> None:
    rel = package(recurring)  # exclude is the default
    meta = read_json(rel.path / "metadata.json")
    sp = meta["splits"]
    assert sp["cross_group_near_duplicates"] == "exclude" and sp["within_tolerance"]
    for s, planned in RATIOS.items():
        assert abs(sp["achieved"][s] - planned) <= sp["tolerance"]
        assert sp["planned"][s] == planned
    assert meta["leakage"]["total"] == 0
    rows = _release_rows(rel.path)
    # every cluster left in the release sits in one split (and in one group)
    per_cluster: dict[str, set[str]] = {}
    for r in rows:
        if r["near_dup_cluster"]:
            per_cluster.setdefault(r["near_dup_cluster"], set()).add(r["split"])
    assert per_cluster and all(len(v) == 1 for v in per_cluster.values())
    listed = (rel.path / "excluded.csv").read_text(encoding="utf-8-sig").splitlines()
    assert listed[0] == "id,reason,near_dup_cluster,group,home_group"
    assert (
        len(listed) - 1 == sp["excluded"] == meta["counts"]["skipped"]["cross_group_near_duplicate"]
    )
    released = {r["id"] for r in rows}
    for line in listed[1:]:
        item, reason, cluster, group, home = line.split(",")
        assert reason == "cross_group_near_duplicate" and item not in released
        assert cluster.startswith("generic-") and group != home
    assert len(released) + sp["excluded"] == 2400
    assert verify_release(rel.path).ok
    # the shares are in the documents and in the package summary
    desc = (rel.path / "데이터설명서.md").read_text(encoding="utf-8")
    assert "계획 비율" in desc and "허용 오차" in desc and "excluded.csv" in desc
    card = (rel.path / "README.md").read_text(encoding="utf-8")
    assert "planned" in card and "within ±2.0%" in card
    assert rel.split_report["achieved"] == sp["achieved"]


def test_ignore_releases_the_copies_and_counts_their_leakage(recurring: Project) -> None:
    project = _policy(recurring, "ignore")
    rel = package(project)
    meta = read_json(rel.path / "metadata.json")
    assert meta["splits"]["within_tolerance"] and meta["splits"]["excluded"] == 0
    assert meta["leakage"]["near_duplicate"] > 0 and meta["leakage"]["group"] == 0
    assert meta["leakage"]["total"] == meta["leakage"]["near_duplicate"]
    assert sum(meta["counts"]["splits"].values()) == 2400
    report = verify_release(rel.path)
    assert report.ok, [str(p) for p in report.problems]
    assert report.leakage["near_duplicate"] == meta["leakage"]["near_duplicate"]


def test_accepting_a_deviation_is_recorded_and_verify_rechecks_it(recurring: Project) -> None:
    project = _policy(recurring, "together")
    result = CliRunner().invoke(
        app, ["package", "-p", str(project.root), "--accept-split-deviation"]
    )
    assert result.exit_code == 0, result.output
    assert "outside the tolerance" in result.output and "accepted" in result.output
    release = project.paths.releases / "1.0"
    meta = read_json(release / "metadata.json")
    assert meta["splits"]["accepted_deviation"] and not meta["splits"]["within_tolerance"]
    assert meta["splits"]["large_units"][0]["n_clusters"] == 40
    assert "--accept-split-deviation" in (release / "데이터설명서.md").read_text(encoding="utf-8")
    assert verify_release(release).ok
    # A release that claims no deviation was accepted, with checksums redone, fails verify.
    meta["splits"]["accepted_deviation"] = False
    write_json(release / "metadata.json", meta)
    sums = (release / "SHA256SUMS").read_text(encoding="utf-8").splitlines()
    digest = sha256_file(release / "metadata.json")
    (release / "SHA256SUMS").write_text(
        "\n".join(
            f"{digest}  metadata.json" if line.endswith("  metadata.json") else line
            for line in sums
        )
        + "\n",
        encoding="utf-8",
    )
    report = verify_release(release)
    assert not report.ok
    assert any(p.check == "split shares" and "not accepted" in p.message for p in report.problems)


def test_tolerance_comes_from_the_spec(recurring: Project) -> None:
    project = _set_spec(
        _policy(recurring, "together"), "  seed: 42\n", "  seed: 42\n  tolerance: 0.5\n"
    )
    rel = package(project)  # a 50% tolerance lets even the one big unit through
    sp = read_json(rel.path / "metadata.json")["splits"]
    assert sp["tolerance"] == 0.5 and sp["within_tolerance"] and not sp["accepted_deviation"]


# -- the real corpus ------------------------------------------------------------------------


@pytest.mark.slow
def test_real_corpus_splits_meet_the_plan(
    collected_hate_speech: list[dict[str, Any]], make_project: Callable[..., Path]
) -> None:
    comments = collected_hate_speech
    assert len({r["group"] for r in comments}) == 339
    project = corpus_project(make_project, collected_hate_speech)
    rel = package(project)
    meta = read_json(rel.path / "metadata.json")
    sp = meta["splits"]
    shares = {s: sp["achieved"][s] for s in RATIOS}
    print(f"\nshared corpus, {len(comments)} ok items: shares {shares}, left out {sp['excluded']}")
    assert sp["within_tolerance"], shares
    for s, planned in RATIOS.items():
        assert abs(shares[s] - planned) <= 0.02
    assert meta["leakage"]["total"] == 0
    # with the bridging copies left out, the units are the titles (at most ~120 comments):
    # none could break the tolerance on its own, so none is named
    assert sp["units"] == 339 and sp["large_units"] == []
    rows = _release_rows(rel.path)
    figures = leakage_figures(
        pa.table(
            {
                "near_dup_cluster": [r["near_dup_cluster"] for r in rows],
                "split": [r["split"] for r in rows],
            }
        ),
        keys={"near_duplicate": "near_dup_cluster"},
    )
    assert figures["total"] == 0 and len(rows) + sp["excluded"] == len(comments)
    report = verify_release(rel.path)
    assert report.ok, [str(p) for p in report.problems]


@pytest.mark.slow
def test_real_corpus_joined_groups_are_reported(
    collected_hate_speech: list[dict[str, Any]], make_project: Callable[..., Path]
) -> None:
    """With ``together`` the generic comments join titles into one big unit: it is named with
    its size, titles and clusters, and the shares still hold when it fits in train."""
    project = _policy(corpus_project(make_project, collected_hate_speech), "together")
    try:
        rel = package(project)
        sp = read_json(rel.path / "metadata.json")["splits"]
    except SplitDeviationError as err:
        sp = err.report.to_dict()
    biggest = max(sp["large_units"], key=lambda u: u["size"])
    print(f"\ntogether: largest unit {biggest['size']} items, {biggest['n_groups']} titles")
    assert biggest["n_groups"] > 1 and biggest["n_clusters"] >= 1
    assert json.dumps(biggest, ensure_ascii=False)  # names are real titles, readable
