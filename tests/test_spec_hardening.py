"""The spec says each fact once: duplicate keys and two keys bounding the same value in two
places are refused with both places named (issue 13, items 10 and 14)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from datakit.errors import SpecError
from datakit.spec.load import load_spec


def _edit(root: Path, old: str, new: str) -> Path:
    spec = root / "datakit.yaml"
    text = spec.read_text(encoding="utf-8")
    assert old in text
    spec.write_text(text.replace(old, new, 1), encoding="utf-8")
    return spec


def test_a_duplicate_key_is_refused_with_both_lines(make_project: Callable[..., Path]) -> None:
    spec = _edit(make_project(), "  seed: 42\n", "  seed: 42\n  seed: 7\n")
    with pytest.raises(SpecError) as err:
        load_spec(spec)
    (problem,) = err.value.problems
    assert problem.path == "splits.seed" and "duplicate key" in problem.message
    first = next(
        n
        for n, line in enumerate(spec.read_text(encoding="utf-8").splitlines(), 1)
        if line == "  seed: 42"
    )
    assert problem.line == first + 1 and f"line {first}" in problem.message


def test_text_length_stated_twice_must_agree(make_project: Callable[..., Path]) -> None:
    spec = _edit(make_project(), "{min_length: 5,", "{min_length: 10,")
    with pytest.raises(SpecError) as err:
        load_spec(spec)
    (problem,) = err.value.problems
    assert problem.path == "data.requirements.text.min_length"
    assert "fields[" in problem.message and ".minimum = 5" in problem.message
    assert problem.line is not None and "(line " in problem.message


def test_image_size_stated_twice_must_agree(make_project: Callable[..., Path]) -> None:
    spec = _edit(make_project("image_classification"), "min_width: 224", "min_width: 320")
    with pytest.raises(SpecError) as err:
        load_spec(spec)
    assert [p.path for p in err.value.problems] == ["data.requirements.image.min_width"]


@pytest.mark.parametrize("template", ["image_classification", "transcription"])
def test_template_example_choices_are_not_required(
    make_project: Callable[..., Path], template: str
) -> None:
    spec = load_spec(make_project(template) / "datakit.yaml")
    example_only = {"region", "gender", "age_band"}
    assert all(not f.required for f in spec.fields if f.name in example_only)
