"""The project spec: every bad spec gets an exact, located error message."""

from __future__ import annotations

from pathlib import Path

import pytest

from datakit.errors import SpecError
from datakit.spec.load import load_spec

BASE = """\
datakit: 1
dataset:
  id: test-set
  name: {ko: 테스트, en: Test}
  version: "1.0"
  license: CC-BY-4.0
data:
  type: text
task:
  type: text_classification
  classes:
    - {name: 긍정, definition: 좋음}
    - {name: 부정, definition: 나쁨}
fields:
  - {name: id, type: string, description: 식별자}
  - {name: text, type: string, description: 본문}
  - {name: label, type: class, description: 감성}
targets:
  total: 100
  per_class: {긍정: 50, 부정: 50}
splits:
  ratios: {train: 0.8, validation: 0.1, test: 0.1}
  stratify: label
"""


def problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "datakit.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_spec(path)
    prefix = f"{path}:"
    return [str(p).removeprefix(prefix) for p in info.value.problems]


def test_base_spec_loads_with_defaults(tmp_path: Path) -> None:
    path = tmp_path / "datakit.yaml"
    path.write_text(BASE, encoding="utf-8")
    spec = load_spec(path)
    assert spec.task.class_names == ("긍정", "부정")
    assert spec.label_field.name == "label"
    assert spec.targets.quality.syntactic == 0.995
    assert spec.targets.quality.format == 0.99
    assert spec.targets.quality.semantic == 0.9
    assert spec.targets.quality.completeness == 1.0
    assert spec.splits.ratios == {"train": 0.8, "validation": 0.1, "test": 0.1}
    assert spec.annotation.annotators_per_item == 2
    assert spec.pii.action == "mask"
    assert spec.stratify_key == "label"


def test_duplicate_class_name(tmp_path: Path) -> None:
    text = BASE.replace("{name: 부정, definition: 나쁨}", "{name: 긍정, definition: 나쁨}")
    text = text.replace("{긍정: 50, 부정: 50}", "{긍정: 50}")
    assert problems(tmp_path, text) == [
        "13: task.classes[1].name: duplicate class name '긍정' (first at task.classes[0])"
    ]


def test_split_ratios_must_sum_to_one(tmp_path: Path) -> None:
    text = BASE.replace("test: 0.1}", "test: 0.2}")
    assert problems(tmp_path, text) == [
        "22: splits.ratios: ratios must sum to 1, found 1.1 (train 0.8 + validation 0.1 + test 0.2)"
    ]


def test_per_class_targets_exceed_total(tmp_path: Path) -> None:
    text = BASE.replace("total: 100", "total: 90")
    assert problems(tmp_path, text) == [
        "20: targets.per_class: per-class targets add up to 100, more than targets.total 90"
    ]


def test_per_class_target_for_unknown_class(tmp_path: Path) -> None:
    text = BASE.replace("부정: 50}", "부정정: 50}")
    assert problems(tmp_path, text) == [
        "20: targets.per_class.부정정: '부정정' is not a class in task.classes "
        "(did you mean '부정'?)"
    ]


def test_stratify_key_not_a_field(tmp_path: Path) -> None:
    text = BASE.replace("stratify: label", "stratify: lable")
    assert problems(tmp_path, text) == [
        "23: splits.stratify: 'lable' is not a declared field (did you mean 'label'?)"
    ]


def test_group_key_not_a_field(tmp_path: Path) -> None:
    text = BASE + "  group: speaker\n"
    assert problems(tmp_path, text) == ["24: splits.group: 'speaker' is not a declared field"]


def test_unknown_key_suggests_nearest(tmp_path: Path) -> None:
    text = BASE.replace("  name: {ko:", "  nmae: {ko:")
    assert problems(tmp_path, text) == [
        "2: dataset: missing required key 'name'",
        "4: dataset.nmae: unknown key 'nmae' (did you mean 'name'?)",
    ]


def test_unknown_top_level_key(tmp_path: Path) -> None:
    text = BASE + "target:\n  total: 5\n"
    assert problems(tmp_path, text) == [
        "24: target: unknown key 'target' (did you mean 'targets'?)"
    ]


def test_wrong_type_names_expected_and_found(tmp_path: Path) -> None:
    text = BASE.replace('version: "1.0"', "version: 1.0")
    assert problems(tmp_path, text) == ["5: dataset.version: expected a string, found number 1.0"]


def test_enum_lists_allowed_values(tmp_path: Path) -> None:
    text = BASE.replace("  type: text\n", "  type: txt\n")
    assert problems(tmp_path, text) == [
        "8: data.type: expected one of text, image, audio, video, tabular; found string 'txt'"
    ]


def test_label_field_of_wrong_type(tmp_path: Path) -> None:
    text = BASE.replace("{name: label, type: class,", "{name: label, type: string,")
    assert problems(tmp_path, text) == [
        "17: fields[2].type: the label field of a text_classification task must be of type "
        "class or classes, found 'string'"
    ]


def test_task_needs_matching_data_type(tmp_path: Path) -> None:
    text = BASE.replace("  type: text\n", "  type: image\n")
    assert problems(tmp_path, text) == [
        "8: data.type: a text_classification task needs data.type text or tabular, found 'image'"
    ]


def test_composition_shares_and_attribute(tmp_path: Path) -> None:
    text = BASE.replace(
        "  per_class: {긍정: 50, 부정: 50}\n",
        "  per_class: {긍정: 50, 부정: 50}\n  composition:\n    region: {서울: 0.5, 부산: 0.4}\n",
    )
    assert problems(tmp_path, text) == [
        "22: targets.composition.region: 'region' is neither a declared field nor one of "
        "source, license, media_type, consent",
        "22: targets.composition.region: shares must sum to 1, found 0.9",
    ]


def test_duplicate_field_and_missing_id(tmp_path: Path) -> None:
    text = BASE.replace("{name: id, type: string", "{name: text, type: string")
    assert problems(tmp_path, text) == [
        "14: fields: no 'id' field; every label record needs an `id` (type string)",
        "16: fields[1].name: duplicate field name 'text' (first at fields[0])",
    ]


def test_invalid_yaml_reports_line(tmp_path: Path) -> None:
    text = BASE.replace("  license: CC-BY-4.0\n", "  license: [CC-BY-4.0\n")
    (msg,) = problems(tmp_path, text)
    assert msg.startswith("7: (top level): invalid YAML:")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as info:
        load_spec(tmp_path / "nope.yaml")
    assert str(info.value.problems[0]) == f"{tmp_path / 'nope.yaml'}: (top level): file not found"
    assert info.value.hint and "datakit init" in info.value.hint


def test_several_problems_are_reported_together(tmp_path: Path) -> None:
    text = BASE.replace("stratify: label", "stratify: lable").replace("total: 100", "total: 90")
    assert len(problems(tmp_path, text)) == 2


@pytest.mark.parametrize(
    "template",
    ["text_classification", "ner", "image_classification", "object_detection", "transcription"],
)
def test_templates_are_valid_specs(make_project, template: str) -> None:  # type: ignore[no-untyped-def]
    root = make_project(template)
    spec = load_spec(root / "datakit.yaml")
    assert spec.task.type == template
    assert spec.dataset.id == "test-" + template.replace("_", "-")
