"""``datakit init``: scaffold a dataset project from one of the task templates."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from importlib.resources import files
from pathlib import Path
from string import Template
from typing import get_args

from datakit.errors import ProjectError
from datakit.io import write_text
from datakit.project import SPEC_FILE
from datakit.spec.model import TaskType

TEMPLATES: tuple[str, ...] = get_args(TaskType)
FOLDERS = (
    "data/raw",
    "data/source",
    "labeling",
    "expectations",
    "annotations",
    "reports",
    "releases",
)
GITIGNORE = """\
# datakit: bulky data and local secrets stay out of git
/data/raw/
/data/source/
/data/quarantine/
/data/*.parquet
/annotations/*.parquet
/annotations/*.jsonl
/releases/
/reports/runs/
# local state: caches, Label Studio database and API token (0600)
/.datakit/
.env
"""

PROJECT_README = """\
# ${name_ko} (${name_en})

A datakit dataset project (template: `${template}`). The spec is `datakit.yaml`.

## What to run next

1. Edit `datakit.yaml`: purpose, classes (카테고리 정의서), field dictionary, targets.
2. `datakit plan` — validates the spec and writes `labeling/` and `expectations/`.
3. Put raw files under `data/raw/` and run `datakit collect data/raw`.
4. `datakit annotate serve` (local Label Studio), then `datakit annotate push` and
   `datakit annotate pull`.
5. `datakit check` — quality indicators and the gate.
6. `datakit package` — the release under `releases/`.

`datakit status` shows where the project stands at any time.
"""


@dataclass(frozen=True)
class InitResult:
    root: Path
    template: str
    created: list[str]

    def to_dict(self) -> dict[str, object]:
        return {"root": str(self.root), "template": self.template, "created": self.created}


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:63] if len(slug) >= 2 else "dataset"


def template_text(template: str) -> str:
    if template not in TEMPLATES:
        raise ProjectError(
            f"unknown template '{template}'",
            hint=f"choose one of: {', '.join(TEMPLATES)}",
        )
    return (files("datakit.plan") / "templates" / f"{template}.yaml").read_text(encoding="utf-8")


def _yaml_str(value: str) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    import json

    return json.dumps(value, ensure_ascii=False)


def init_project(
    directory: str | Path,
    *,
    template: str = "text_classification",
    dataset_id: str | None = None,
    name_ko: str | None = None,
    name_en: str | None = None,
    license: str = "CC-BY-4.0",
    year: int | None = None,
    force: bool = False,
) -> InitResult:
    """Create a dataset project in ``directory``. Refuses to overwrite files unless ``force``."""
    root = Path(unicodedata.normalize("NFC", str(directory))).resolve()
    text = template_text(template)
    name_en = name_en or root.name.replace("-", " ").replace("_", " ").title() or "Dataset"
    name_ko = name_ko or root.name
    values = {
        "dataset_id": dataset_id or slugify(name_en if name_en else root.name),
        "name_ko": _yaml_str(name_ko),
        "name_en": _yaml_str(name_en),
        "license": _yaml_str(license),
        "year": str(year or date.today().year),
        "template": template,
    }
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{1,62}", values["dataset_id"]):
        raise ProjectError(
            f"dataset id '{values['dataset_id']}' is not valid",
            hint="use lowercase letters, digits and dashes, e.g. --id review-sentiment",
        )
    files_to_write = {
        SPEC_FILE: Template(text).substitute(values),
        ".gitignore": GITIGNORE,
        "README.md": Template(PROJECT_README).substitute(
            {**values, "name_ko": name_ko, "name_en": name_en}
        ),
    }
    existing = [name for name in files_to_write if (root / name).exists()]
    if existing and not force:
        raise ProjectError(
            f"{root} already has {', '.join(existing)}; nothing was written",
            hint="choose an empty folder, or pass --force to overwrite these files",
        )
    created: list[str] = []
    for folder in FOLDERS:
        (root / folder).mkdir(parents=True, exist_ok=True)
    for name, content in files_to_write.items():
        write_text(root / name, content)
        created.append(name)
    return InitResult(root=root, template=template, created=created)
