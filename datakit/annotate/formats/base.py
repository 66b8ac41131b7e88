"""The records and context every format reader shares (``--map``, ids, the project)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from datakit.errors import InputError
from datakit.labels import TASK_DATA_KEY
from datakit.spec.model import ProjectSpec

FormatName = Literal["labelstudio", "json-min", "csv", "coco", "yolo", "aihub"]
FORMATS: tuple[FormatName, ...] = get_args(FormatName)
# the value lists of a result region that hold class (or choice) names
CLASS_KEYS = ("choices", "labels", "rectanglelabels")


@dataclass
class SourceTask:
    """One task read from a source: ``where`` names it in messages (``labels/a.txt``,
    ``image 7``, ``task 12``), ``file`` is the file inside a folder source it came from;
    ``synthetic`` tasks get their ids from the matched item."""

    task: dict[str, Any]
    where: str
    synthetic: bool = False
    file: str | None = None  # the file it came from, when not the source itself


class Mapping:
    """``--map SRC=DST``: renames controls, fields, data keys and class (choice) names.
    Counts how often each rule was used, so a rule that never applied can be reported."""

    def __init__(self, rules: dict[str, str] | None = None) -> None:
        self.rules = dict(rules or {})
        self.used = dict.fromkeys(self.rules, 0)

    @classmethod
    def parse(cls, items: list[str] | None) -> Mapping:
        rules: dict[str, str] = {}
        for raw in items or []:
            src, sep, dst = raw.partition("=")
            src, dst = src.strip(), dst.strip()
            if not sep or not src or not dst:
                raise InputError(
                    f"--map {raw!r} is not SRC=DST",
                    field="--map",
                    hint="e.g. --map label=objects --map closed_door=차량",
                )
            if src in rules and rules[src] != dst:
                raise InputError(
                    f"--map gives {src!r} two targets: {rules[src]!r} and {dst!r}", field="--map"
                )
            rules[src] = dst
        return cls(rules)

    def __call__(self, name: str) -> str:
        if name in self.rules:
            self.used[name] += 1
            return self.rules[name]
        return name

    def __bool__(self) -> bool:
        return bool(self.rules)

    def task(self, task: dict[str, Any]) -> dict[str, Any]:
        """A Label Studio task with data keys, control names and class names mapped."""
        if not self.rules:
            return task
        out = dict(task)
        if isinstance(task.get("data"), dict):
            out["data"] = {self(str(k)): v for k, v in task["data"].items()}
        anns = task.get("annotations")
        if isinstance(anns, list):
            out["annotations"] = [
                {**a, "result": self.result(a.get("result"))} if isinstance(a, dict) else a
                for a in anns
            ]
        return out

    def result(self, result: Any) -> Any:
        if not isinstance(result, list):
            return result
        return [self.region(r) if isinstance(r, dict) else r for r in result]

    def region(self, region: dict[str, Any]) -> dict[str, Any]:
        out = dict(region)
        for key in ("from_name", "to_name"):
            if isinstance(region.get(key), str):
                out[key] = self(region[key])
        value = region.get("value")
        if isinstance(value, dict):
            out["value"] = {
                k: [self(x) if isinstance(x, str) else x for x in v]
                if k in CLASS_KEYS and isinstance(v, list)
                else v
                for k, v in value.items()
            }
        return out


@dataclass
class ReadContext:
    """What a reader needs to know about the project."""

    spec: ProjectSpec
    mapping: Mapping = field(default_factory=Mapping)

    @property
    def data_key(self) -> str:
        return TASK_DATA_KEY[self.spec.data.type]

    @property
    def label_field(self) -> str:
        return self.spec.task.label_field

    @property
    def controls(self) -> set[str]:
        return {self.label_field, *(a.name for a in self.spec.task.attributes)}

    def require_detection(self, fmt: str, file: Path) -> None:
        if self.spec.task.type != "object_detection":
            raise InputError(
                f"{fmt} files hold boxes; this project's task is {self.spec.task.type}",
                file=str(file),
                hint="import boxes into an object_detection project",
            )


def stable_id(*parts: str) -> int:
    """A positive 48-bit id from text: the same item and format give the same id."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    return int(digest[:12], 16)
