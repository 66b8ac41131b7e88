"""The bundled example projects: their specs load and plan cleanly, and their raw data holds
exactly the planted problems their READMEs document. The plants are re-found here with
independent checks (regexes, check digits, hashes, Pillow), not read back from the generator."""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import io
import itertools
import json
import re
import sys
from collections import Counter
from collections.abc import Callable
from datetime import date
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from datakit.spec import load_spec

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
REVIEWS = EXAMPLES / "review-sentiment"
ROAD = EXAMPLES / "road-objects"
NAMES = ("review-sentiment", "road-objects")


def _make_examples() -> ModuleType:
    path = REPO / "scripts" / "make_examples.py"
    spec = importlib.util.spec_from_file_location("datakit_scripts_make_examples", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


# -- both examples ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_spec_loads(name: str) -> None:
    spec = load_spec(EXAMPLES / name / "datakit.yaml")
    assert spec.dataset.id == name
    assert (
        spec.task.type
        == {"review-sentiment": "text_classification", "road-objects": "object_detection"}[name]
    )
    assert spec.targets.total is not None
    assert sum(spec.targets.per_class.values()) <= spec.targets.total
    for shares in spec.targets.composition.values():
        assert sum(shares.values()) == pytest.approx(1.0)
    # default quality targets of the AI Hub guide are kept
    q = spec.targets.quality
    assert (q.syntactic, q.format, q.semantic, q.completeness) == (0.995, 0.99, 0.9, 1.0)


@pytest.mark.parametrize("name", NAMES)
def test_plan_check_passes_on_a_copy(
    name: str, example_project: Callable[[str], Path], cli: Callable[..., Any]
) -> None:
    root = example_project(name)
    result = cli("plan", "-p", root, "--check", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["ok"] is True
    assert {a["state"] for a in report["artefacts"]} == {"unchanged"}
    assert len(report["artefacts"]) == 6


@pytest.mark.parametrize("name", NAMES)
def test_plan_check_catches_a_changed_spec(
    name: str, example_project: Callable[[str], Path], cli: Callable[..., Any]
) -> None:
    root = example_project(name)
    spec = root / "datakit.yaml"
    spec.write_text(
        spec.read_text(encoding="utf-8").replace("definition: ", "definition: (개정) ", 1),
        encoding="utf-8",
    )
    result = cli("plan", "-p", root, "--check")
    assert result.exit_code == 1


@pytest.mark.parametrize("name", NAMES)
def test_gitignore_keeps_raw_data_in_git(name: str) -> None:
    from datakit.plan.init import GITIGNORE

    text = (EXAMPLES / name / ".gitignore").read_text(encoding="utf-8")
    rules = {line for line in text.splitlines() if line and not line.startswith("#")}
    init_rules = {line for line in GITIGNORE.splitlines() if line and not line.startswith("#")}
    assert rules == init_rules - {"/data/raw/"}


@pytest.mark.parametrize("name", NAMES)
def test_readme_names_the_commands(name: str) -> None:
    text = (EXAMPLES / name / "README.md").read_text(encoding="utf-8")
    for command in ("datakit plan --check", "datakit collect data/raw/", "datakit annotate push",
                    "datakit check", "datakit package"):  # fmt: skip
        assert command in text, command


def test_generated_raw_data_is_committed(tmp_path: Path) -> None:
    """scripts/make_examples.py is deterministic and its output is what is committed."""
    from PIL import Image

    make = _make_examples()
    rendered = make.render(tmp_path)
    assert len(rendered) == 1 + 2 + 40 + 1  # csv + 2 sidecars + images + truth.json
    for path, data in rendered.items():
        committed = EXAMPLES / path.relative_to(tmp_path)
        assert committed.is_file(), f"{committed} is missing: run scripts/make_examples.py"
        if committed.suffix == ".png" and committed.read_bytes() != data:
            # another zlib may compress the same pixels differently; pixels must agree
            a, b = Image.open(committed), Image.open(io.BytesIO(data))
            assert a.size == b.size and a.tobytes() == b.tobytes(), committed
        else:
            assert committed.read_bytes() == data, f"{committed} differs from the generator"
    assert make.render(tmp_path) == rendered  # same bytes on a second run


def test_examples_are_small() -> None:
    total = sum(
        p.stat().st_size for p in EXAMPLES.rglob("*") if p.is_file() and ".datakit" not in p.parts
    )
    assert total < 3 * 1024 * 1024, total


# -- review-sentiment ------------------------------------------------------------------------

PHONE = re.compile(r"01[016789]-\d{3,4}-\d{4}")
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
RRN = re.compile(r"(\d{6})-(\d{7})")
CARD = re.compile(r"\d{4}-\d{4}-\d{4}-\d{4}")


def _rows() -> list[dict[str, str]]:
    with (REVIEWS / "data/raw/reviews.csv").open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == ["review_id", "text", "source", "region", "sentiment"]
        return list(reader)


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _rrn_valid(front: str, back: str) -> bool:
    century = {"1": 1900, "2": 1900, "3": 2000, "4": 2000}.get(back[0])
    if century is None:
        return False
    try:
        date(century + int(front[:2]), int(front[2:4]), int(front[4:6]))
    except ValueError:
        return False
    digits = front + back
    weights = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)
    check = (11 - sum(int(d) * w for d, w in zip(digits, weights, strict=False)) % 11) % 10
    return check == int(digits[12])


def _readme_ids(kind: str) -> set[str]:
    text = (REVIEWS / "README.md").read_text(encoding="utf-8")
    line = next(line for line in text.splitlines() if line.startswith(f"| {kind} |"))
    return set(re.findall(r"RV-\d{5}", line))


def test_reviews_shape_and_values() -> None:
    rows = _rows()
    spec = load_spec(REVIEWS / "datakit.yaml")
    assert len(rows) == 312
    assert len({r["review_id"] for r in rows}) == 312
    assert {r["sentiment"] for r in rows} == set(spec.task.class_names)
    assert {r["source"] for r in rows} == set(spec.targets.composition["source"])
    assert {r["region"] for r in rows} == set(spec.field("region").values)
    assert all(r["text"] == r["text"].strip() and "\n" not in r["text"] for r in rows)
    # varied, not copy-paste: many distinct openings and closings
    assert len({r["text"][:12] for r in rows}) > 150
    sentences = Counter(
        part.strip()
        for r in rows
        for part in re.split(r"[.!~]+\s*|ㅎㅎ|ㅠㅠ|\^\^", r["text"])
        if part.strip()
    )
    assert len(sentences) > 250
    assert max(sentences.values()) < 0.1 * len(rows)  # no sentence in more than 10% of rows


def test_reviews_pii_rows() -> None:
    rows = _rows()
    found: dict[str, set[str]] = {}
    for r in rows:
        kinds = set()
        if PHONE.search(r["text"]):
            kinds.add("phone")
        if EMAIL.search(r["text"]):
            kinds.add("email")
        for m in RRN.finditer(r["text"]):
            assert _rrn_valid(m.group(1), m.group(2)), m.group(0)
            kinds.add("rrn")
        for m in CARD.finditer(r["text"]):
            assert _luhn(m.group(0).replace("-", "")), m.group(0)
            kinds.add("card")
        if kinds:
            found[r["review_id"]] = kinds
    assert len(found) == 6
    assert Counter(k for kinds in found.values() for k in kinds) == {
        "phone": 3,
        "email": 2,
        "rrn": 1,
        "card": 1,
    }
    assert set(found) == _readme_ids("personal information")


def test_reviews_pii_is_found_by_the_collect_detector() -> None:
    import datakit.collect.pii as pii

    spec = load_spec(REVIEWS / "datakit.yaml")
    hits = {r["review_id"] for r in _rows() if pii.find_pii(r["text"], spec.pii.detect)}
    assert hits == _readme_ids("personal information")


def test_reviews_exact_duplicates() -> None:
    first: dict[str, str] = {}
    dups: list[tuple[str, str]] = []
    for r in _rows():
        key = r["text"]
        if key in first:
            dups.append((r["review_id"], first[key]))
        else:
            first[key] = r["review_id"]
    assert len(dups) == 4
    assert {i for pair in dups for i in pair} == _readme_ids("exact duplicates")


def _shingles(text: str) -> set[str]:
    s = "".join(text.split())
    return {s[i : i + 3] for i in range(len(s) - 2)}


def test_reviews_near_duplicates() -> None:
    rows = [r for r in _rows() if len(r["text"]) >= 5]
    sh = [_shingles(r["text"]) for r in rows]
    near: list[tuple[str, str]] = []
    top_other = 0.0
    for i, j in itertools.combinations(range(len(rows)), 2):
        if rows[i]["text"] == rows[j]["text"]:
            continue
        sim = len(sh[i] & sh[j]) / len(sh[i] | sh[j])
        if sim >= 0.8:
            near.append((rows[i]["review_id"], rows[j]["review_id"]))
        else:
            top_other = max(top_other, sim)
    assert len(near) == 5
    assert {i for pair in near for i in pair} == _readme_ids("near-duplicates (small edits)")
    assert top_other < 0.5  # everything else is clearly distinct: no accidental clusters


def test_reviews_too_short() -> None:
    spec = load_spec(REVIEWS / "datakit.yaml")
    short = {r["review_id"] for r in _rows() if len(r["text"]) < (spec.data.text.min_length or 0)}
    assert short == _readme_ids("too short (< 5 characters)")
    assert len(short) == 3


def test_reviews_meet_the_targets_after_cleaning() -> None:
    spec = load_spec(REVIEWS / "datakit.yaml")
    seen: set[str] = set()
    usable = []
    for r in _rows():
        if r["text"] in seen or len(r["text"]) < 5:
            continue
        seen.add(r["text"])
        usable.append(r)
    assert len(usable) == 305 >= (spec.targets.total or 0)
    per_class = Counter(r["sentiment"] for r in usable)
    for name, target in spec.targets.per_class.items():
        assert per_class[name] >= target, name
    for attribute, planned in spec.targets.composition.items():
        actual = Counter(r[attribute] for r in usable)
        overlap = sum(min(share, actual[value] / len(usable)) for value, share in planned.items())
        assert overlap >= spec.targets.quality.diversity, (attribute, overlap)


def test_reviews_sidecar_maps_the_columns() -> None:
    import yaml

    side = yaml.safe_load((REVIEWS / "data/raw/reviews.csv.meta.yaml").read_text(encoding="utf-8"))
    assert side["mapping"] == {
        "id": "review_id",
        "text": "text",
        "source": "source",
        "label": "sentiment",
        "attributes": ["region"],
    }
    assert side["consent"] == "yes" and side["license"] and side["collection_date"]


# -- road-objects ----------------------------------------------------------------------------


def _images() -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((ROAD / "data/raw/images").glob("*.png"))}


def _truth() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ROAD / "data/raw/truth.json").read_text(encoding="utf-8"))
    return data


def _decode(data: bytes) -> Any:
    from PIL import Image

    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def test_road_images_and_truth() -> None:
    spec = load_spec(ROAD / "datakit.yaml")
    images, truth = _images(), _truth()
    assert len(images) == 40
    assert set(truth) == set(images)
    classes = set(spec.task.class_names)
    for name, t in truth.items():
        assert t["weather"] in spec.field("weather").values, name
        for box in t["objects"]:
            assert set(box) == {"label", "x", "y", "width", "height"}
            assert box["label"] in classes
            assert box["x"] >= 0 and box["x"] + box["width"] <= 100.01, (name, box)
            assert box["y"] >= 0 and box["y"] + box["height"] <= 100.01, (name, box)
            assert box["width"] > 0 and box["height"] > 0
    assert sum(map(len, images.values())) < 1_000_000


def test_road_corrupt_image_fails_to_decode() -> None:
    bad = []
    for name, data in _images().items():
        try:
            _decode(data)
        except OSError:
            bad.append(name)
    assert bad == ["road_0008.png"]
    assert _images()["road_0008.png"].startswith(b"\x89PNG\r\n\x1a\n")  # looks like a PNG


def test_road_too_small_image() -> None:
    spec = load_spec(ROAD / "datakit.yaml")
    small = []
    for name, data in _images().items():
        if name == "road_0008.png":
            continue
        img = _decode(data)
        assert img.mode == "RGB"
        if img.width < (spec.data.image.min_width or 0) or img.height < (
            spec.data.image.min_height or 0
        ):
            small.append((name, img.size))
        else:
            assert img.size == (160, 120)
    assert small == [("road_0016.png", (48, 36))]


def test_road_exact_duplicates() -> None:
    by_hash: dict[str, list[str]] = {}
    for name, data in _images().items():
        by_hash.setdefault(hashlib.sha256(data).hexdigest(), []).append(name)
    groups = sorted(names for names in by_hash.values() if len(names) > 1)
    assert groups == [["road_0005.png", "road_0011.png"], ["road_0021.png", "road_0028.png"]]


def test_road_near_duplicates() -> None:
    import imagehash

    hashes = {}
    for name, data in _images().items():
        if name in ("road_0008.png", "road_0016.png"):
            continue
        hashes[name] = imagehash.phash(_decode(data))
    near = []
    for a, b in itertools.combinations(sorted(hashes), 2):
        d = hashes[a] - hashes[b]
        if d <= 6 and _images()[a] != _images()[b]:
            near.append((a, b))
    assert near == [("road_0010.png", "road_0023.png"), ("road_0029.png", "road_0035.png")]
    truth = _truth()  # the shifted copy's boxes moved with it; the brightened copy's did not
    assert truth["road_0029.png"] == truth["road_0035.png"]
    xs = [
        (a["x"], b["x"])
        for a, b in zip(
            truth["road_0010.png"]["objects"], truth["road_0023.png"]["objects"], strict=True
        )
    ]
    assert all(b == pytest.approx(a + 1.25, abs=0.02) for a, b in xs)


def test_road_meets_the_targets_after_cleaning() -> None:
    spec = load_spec(ROAD / "datakit.yaml")
    truth = _truth()
    usable = {
        n: t
        for n, t in truth.items()
        if n not in {"road_0008.png", "road_0016.png", "road_0011.png", "road_0028.png"}
    }
    assert len(usable) == 36 >= (spec.targets.total or 0)
    with_class = Counter(lab for t in usable.values() for lab in {o["label"] for o in t["objects"]})
    boxes = Counter(o["label"] for t in usable.values() for o in t["objects"])
    for name, target in spec.targets.per_class.items():
        assert with_class[name] >= target and boxes[name] >= target, name
    planned = spec.targets.composition["weather"]
    actual = Counter(t["weather"] for t in usable.values())
    overlap = sum(min(share, actual[v] / len(usable)) for v, share in planned.items())
    assert overlap >= spec.targets.quality.diversity


def test_road_sidecar_carries_weather() -> None:
    import yaml

    side = yaml.safe_load((ROAD / "data/raw/images/_meta.yaml").read_text(encoding="utf-8"))
    truth = _truth()
    assert side["files"] == {
        name: {"attributes": {"weather": t["weather"]}} for name, t in truth.items()
    }
    assert side["consent"] == "not_required" and side["source"] and side["license"]


# -- through the real collect stage ----------------------------------------------------------


def _collect(cli: Callable[..., Any], root: Path, source: str) -> tuple[dict[str, Any], Any]:
    import pyarrow.parquet as pq

    result = cli("collect", "-p", root, str(root / source), "--json")
    assert result.exit_code == 0, result.output
    manifest = pq.read_table(root / "data/manifest.parquet").to_pylist()
    return json.loads(result.output), manifest


def test_collect_finds_the_review_plants(
    example_project: Callable[[str], Path], cli: Callable[..., Any]
) -> None:
    root = example_project("review-sentiment")
    summary, rows = _collect(cli, root, "data/raw/reviews.csv")
    assert (summary["items"], summary["ok"], summary["duplicates"], summary["quarantined"]) == (
        312,
        305,
        4,
        3,
    )
    by_id = {r["id"]: r for r in rows}
    assert {r["id"] for r in rows if r["status"] == "quarantined"} == _readme_ids(
        "too short (< 5 characters)"
    )
    assert all(
        r["reason"].startswith("text.too_short") for r in rows if r["status"] == "quarantined"
    )
    dups = {r["id"] for r in rows if r["status"] == "duplicate"}
    assert dups | {by_id[i]["duplicate_of"] for i in dups} == _readme_ids("exact duplicates")
    clusters: dict[str, set[str]] = {}
    for r in rows:
        if r["near_dup_cluster"]:
            clusters.setdefault(r["near_dup_cluster"], set()).add(r["id"])
    assert len(clusters) == 5 and all(len(c) == 2 for c in clusters.values())
    assert set().union(*clusters.values()) == _readme_ids("near-duplicates (small edits)")
    pii_rows = {r["id"] for r in rows if r["pii"]}
    assert pii_rows == _readme_ids("personal information")
    assert summary["pii_by_kind"] == {"phone": 3, "email": 2, "rrn": 1, "card": 1}
    for i in pii_rows:  # masked: no identifier survives into the manifest text
        text = by_id[i]["text"]
        assert not (
            PHONE.search(text) or EMAIL.search(text) or RRN.search(text) or CARD.search(text)
        )
        assert "*" in text
    ok = [r for r in rows if r["status"] == "ok"]
    assert Counter(r["intake_label"] for r in ok) == {"긍정": 102, "부정": 99, "중립": 104}
    assert Counter(r["source"] for r in ok) == {"쇼핑몰A": 153, "쇼핑몰B": 152}
    assert {json.loads(r["attributes"])["region"] for r in ok} == set(
        load_spec(REVIEWS / "datakit.yaml").field("region").values
    )
    assert {(r["license"], r["consent"], r["collection_date"]) for r in rows} == {
        ("CC-BY-4.0", "yes", "2026-10-31")
    }


def test_collect_finds_the_image_plants(
    example_project: Callable[[str], Path], cli: Callable[..., Any]
) -> None:
    root = example_project("road-objects")
    summary, rows = _collect(cli, root, "data/raw/images")
    assert (summary["items"], summary["ok"], summary["duplicates"], summary["quarantined"]) == (
        40,
        36,
        2,
        2,
    )
    name = {r["id"]: r["source_path"].rsplit("/", 1)[-1] for r in rows}
    reasons = {
        name[r["id"]]: r["reason"].split(":")[0] for r in rows if r["status"] == "quarantined"
    }
    assert reasons == {"road_0008.png": "image.corrupt", "road_0016.png": "image.too_small"}
    dups = {name[r["id"]]: name[r["duplicate_of"]] for r in rows if r["status"] == "duplicate"}
    assert {frozenset(p) for p in dups.items()} == {
        frozenset({"road_0005.png", "road_0011.png"}),
        frozenset({"road_0021.png", "road_0028.png"}),
    }
    clusters: dict[str, set[str]] = {}
    for r in rows:
        if r["near_dup_cluster"]:
            clusters.setdefault(r["near_dup_cluster"], set()).add(name[r["id"]])
    assert sorted(map(sorted, clusters.values())) == [
        ["road_0010.png", "road_0023.png"],
        ["road_0029.png", "road_0035.png"],
    ]
    truth = _truth()
    for r in rows:
        assert json.loads(r["attributes"]) == {"weather": truth[name[r["id"]]]["weather"]}
        assert (r["source"], r["consent"]) == ("도로촬영팀", "not_required")
