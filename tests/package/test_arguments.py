"""Library entry points validate their own arguments (issue 13, item 11): a wrong enum is an
InputError naming the field before anything is written, and the CLI lists the choices."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from typer.testing import CliRunner

from datakit.cli.app import app
from datakit.errors import InputError
from datakit.package.run import package
from datakit.project import Project


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"media": "embedd"}, "media"),
        ({"layouts": ["aihub", "coco-ish"]}, "layouts"),
        ({"rows_per_shard": 0}, "rows_per_shard"),
    ],
)
def test_package_refuses_bad_arguments_before_writing(
    ready: Callable[..., Project], kwargs: dict[str, object], field: str
) -> None:
    project = ready(n=30)
    with pytest.raises(InputError) as err:
        package(project, **kwargs)  # type: ignore[arg-type]
    assert err.value.field == field
    assert not project.paths.releases.exists() or not any(project.paths.releases.iterdir())


def test_cli_lists_the_choices(ready: Callable[..., Project]) -> None:
    project = ready(n=30)
    result = CliRunner().invoke(app, ["package", "-p", str(project.root), "--media", "embedd"])
    assert result.exit_code == 2
    assert "embed" in result.output and "reference" in result.output
    help_text = CliRunner().invoke(app, ["package", "--help"]).output
    assert "embed|reference" in help_text and "aihub|huggingface" in help_text
    bad_engine = CliRunner().invoke(app, ["package", "-p", str(project.root), "--engine", "x"])
    assert bad_engine.exit_code == 2 and "local" in bad_engine.output
