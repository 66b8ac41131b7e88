"""`datakit init` and `datakit plan`: scaffolding, generated artefacts, drift, hand edits."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from datakit.errors import ArtefactError, ProjectError
from datakit.plan import init_project, plan
from datakit.project import Project

TEMPLATES = [
    "text_classification",
    "ner",
    "image_classification",
    "object_detection",
    "transcription",
]


@pytest.fixture(scope="module")
def gx_context():  # type: ignore[no-untyped-def]
    import great_expectations as gx

    return gx.get_context(mode="ephemeral")


@pytest.mark.parametrize("template", TEMPLATES)
def test_plan_artefacts_pass_their_own_validators(make_project, gx_context, template: str) -> None:  # type: ignore[no-untyped-def]
    import great_expectations as gx
    from label_studio_sdk.label_interface import LabelInterface

    root = make_project(template)
    for folder in ("data/raw", "data/source", "labeling", "expectations", "reports", "releases"):
        assert (root / folder).is_dir()
    gitignore = (root / ".gitignore").read_text()
    assert "/.datakit/" in gitignore and "/data/raw/" in gitignore

    project = Project(root)
    result = plan(project)
    assert {a.state for a in result.artefacts} == {"created"}
    paths = project.paths

    # Label Studio parses the labeling config, with the label field as a control tag.
    li = LabelInterface(paths.label_config.read_text(encoding="utf-8"))
    controls = {c.name for c in li.controls}
    assert project.spec.task.label_field in controls
    for attr in project.spec.task.attributes:
        assert attr.name in controls

    # The label schema is a valid draft 2020-12 schema and accepts a well-formed record.
    schema = json.loads(paths.label_schema.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    assert set(schema["required"]) == {f.name for f in project.spec.fields if f.required}

    # GX loads both suites.
    for name in ("datakit.labels.json", "datakit.manifest.json"):
        suite = gx.ExpectationSuite(**json.loads((paths.expectations / name).read_text()))
        assert len(suite.expectations) >= 5

    guide = paths.guide.read_text(encoding="utf-8")
    assert guide.startswith(f"# {project.spec.dataset.name_ko} 가공(라벨링) 가이드라인")
    for heading in ("## 1. 개요", "## 4. 라벨링 규칙", "## 6. 교차검증", "## 8. 검수 기준"):
        assert heading in guide
    category = paths.category_doc.read_text(encoding="utf-8")
    for cls in project.spec.task.classes:
        assert f"| {cls.name} |" in category


def test_label_schema_accepts_good_and_rejects_bad_records(make_project) -> None:  # type: ignore[no-untyped-def]
    project = Project(make_project("text_classification"))
    plan(project)
    validator = jsonschema.Draft202012Validator(json.loads(project.paths.label_schema.read_text()))
    good = {"id": "a1", "text": "배송이 빨라요 좋아요", "source": "쇼핑몰A", "label": "긍정"}
    assert not list(validator.iter_errors(good))
    assert not list(validator.iter_errors({**good, "difficulty": None}))
    bad_label = {**good, "label": "좋음"}
    assert [e.validator for e in validator.iter_errors(bad_label)] == ["enum"]
    assert [e.validator for e in validator.iter_errors({**good, "extra": 1})] == [
        "additionalProperties"
    ]
    missing = {k: v for k, v in good.items() if k != "label"}
    assert [e.validator for e in validator.iter_errors(missing)] == ["required"]


def test_box_schema(make_project) -> None:  # type: ignore[no-untyped-def]
    project = Project(make_project("object_detection"))
    plan(project)
    validator = jsonschema.Draft202012Validator(json.loads(project.paths.label_schema.read_text()))
    rec = {
        "id": "img1",
        "file_name": "a.png",
        "width": 160,
        "height": 120,
        "objects": [{"label": "차량", "x": 10, "y": 20, "width": 30.5, "height": 12}],
    }
    assert not list(validator.iter_errors(rec))
    rec["objects"][0]["x"] = 120  # percent out of range
    assert [e.validator for e in validator.iter_errors(rec)] == ["maximum"]


def test_plan_is_deterministic(make_project, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    names = {"name_ko": "뉴스 개체명", "name_en": "News NER"}
    a = Project(make_project("ner", name="a", **names))
    b = Project(make_project("ner", name="b", **names))
    plan(a)
    plan(b)
    for rel in ("labeling/label_config.xml", "labeling/label.schema.json",
                "expectations/datakit.labels.json", "labeling/가공_가이드라인.md"):  # fmt: skip
        assert (a.root / rel).read_bytes() == (b.root / rel).read_bytes()
    second = plan(a)
    assert {x.state for x in second.artefacts} == {"unchanged"}


def test_plan_check_detects_drift(make_project) -> None:  # type: ignore[no-untyped-def]
    root = make_project("text_classification")
    project = Project(root)
    missing = plan(Project(root), check=True)
    assert not missing.ok and {a.state for a in missing.artefacts} == {"missing"}
    assert not (root / "labeling" / "label_config.xml").exists()  # --check writes nothing

    plan(project)
    assert plan(Project(root), check=True).ok

    spec = root / "datakit.yaml"
    spec.write_text(
        spec.read_text(encoding="utf-8").replace("definition: 불만,", "definition: 불평,"),
        encoding="utf-8",
    )
    before = (root / "labeling" / "카테고리_정의서.md").read_bytes()
    result = plan(Project(root), check=True)
    assert not result.ok
    stale = {a.path for a in result.drift}
    assert "labeling/카테고리_정의서.md" in stale and "labeling/label_config.xml" in stale
    assert "labeling/label.schema.json" not in stale  # definitions do not reach the schema
    assert (root / "labeling" / "카테고리_정의서.md").read_bytes() == before

    plan(Project(root))
    assert plan(Project(root), check=True).ok


def test_hand_edits_are_not_clobbered(make_project) -> None:  # type: ignore[no-untyped-def]
    root = make_project("text_classification")
    plan(Project(root))
    guide = root / "labeling" / "가공_가이드라인.md"
    edited = guide.read_text(encoding="utf-8") + "\n## 10. 팀 메모\n손으로 쓴 내용\n"
    guide.write_text(edited, encoding="utf-8")
    spec = root / "datakit.yaml"
    spec.write_text(spec.read_text(encoding="utf-8").replace("seed: 42", "seed: 43"), "utf-8")

    with pytest.raises(ArtefactError) as info:
        plan(Project(root))
    assert "labeling/가공_가이드라인.md" in info.value.message
    assert "--keep-edited" in (info.value.hint or "")
    assert guide.read_text(encoding="utf-8") == edited

    check = plan(Project(root), check=True)
    assert [a.path for a in check.drift if a.state == "edited"] == ["labeling/가공_가이드라인.md"]

    kept = plan(Project(root), edited="keep")
    assert {a.path: a.state for a in kept.artefacts}["labeling/가공_가이드라인.md"] == "kept-edited"
    assert guide.read_text(encoding="utf-8") == edited

    over = plan(Project(root), edited="overwrite")
    states = {a.path: a.state for a in over.artefacts}
    assert states["labeling/가공_가이드라인.md"] == "overwrote-edited"
    assert "손으로 쓴 내용" not in guide.read_text(encoding="utf-8")


def test_init_never_overwrites(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    init_project(root, template="ner", dataset_id="my-ner")
    spec = root / "datakit.yaml"
    spec.write_text("# mine\n", encoding="utf-8")
    with pytest.raises(ProjectError) as info:
        init_project(root, template="text_classification")
    assert "datakit.yaml" in info.value.message and "nothing was written" in info.value.message
    assert spec.read_text(encoding="utf-8") == "# mine\n"
    init_project(root, template="text_classification", dataset_id="my-tc", force=True)
    assert "id: my-tc" in spec.read_text(encoding="utf-8")


def test_init_names_and_licence(tmp_path: Path) -> None:
    root = tmp_path / "리뷰"
    init_project(
        root,
        template="text_classification",
        dataset_id="reviews",
        name_ko='상품 리뷰 "감성"',
        name_en="Product Reviews",
        license="CC-BY-SA-4.0",
    )
    spec = Project(root).spec
    assert spec.dataset.name_ko == '상품 리뷰 "감성"'
    assert spec.dataset.name_en == "Product Reviews"
    assert spec.dataset.license == "CC-BY-SA-4.0"


def test_init_unknown_template(tmp_path: Path) -> None:
    with pytest.raises(ProjectError) as info:
        init_project(tmp_path / "x", template="segmentation")
    assert "unknown template 'segmentation'" in info.value.message
    assert not (tmp_path / "x").exists()
