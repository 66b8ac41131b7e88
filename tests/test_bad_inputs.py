"""A sweep of bad inputs through every command: each one ends with the documented exit code
(README, "Exit codes"), a message that names the file, the item or the field, and no
traceback. The cases come from the hostile pass of issue 13; the stage tests hold the
details, this sweep holds the promise across the CLI."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from datakit.cli.app import app
from datakit.project import Project
from tests.package.builders import make_ready_project

Case = Callable[[Path, Callable[..., Path]], list[str]]


def _edit(root: Path, old: str, new: str) -> None:
    spec = root / "datakit.yaml"
    text = spec.read_text(encoding="utf-8")
    assert old in text
    spec.write_text(text.replace(old, new, 1), encoding="utf-8")


def _write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def plan_duplicate_key(root: Path, _: Callable[..., Path]) -> list[str]:
    _edit(root, "  seed: 42\n", "  seed: 42\n  seed: 7\n")
    return ["plan", "-p", str(root)]


def plan_drift(root: Path, _: Callable[..., Path]) -> list[str]:
    _edit(root, "{min_length: 5,", "{min_length: 9,")
    return ["plan", "-p", str(root)]


def plan_bad_yaml(root: Path, _: Callable[..., Path]) -> list[str]:
    _edit(root, "  seed: 42\n", "  seed: [42\n")
    return ["plan", "-p", str(root)]


def collect_missing_file(root: Path, _: Callable[..., Path]) -> list[str]:
    return ["collect", "-p", str(root), str(root / "data/raw/없는파일.csv")]


def collect_empty_glob(root: Path, _: Callable[..., Path]) -> list[str]:
    (root / "data/raw").mkdir(parents=True, exist_ok=True)
    return ["collect", "-p", str(root), str(root / "data/raw/*.txt")]


def _one_text(root: Path) -> str:
    return str(_write(root, "data/raw/a.txt", "배송 빠르고 포장도 꼼꼼해요. 재구매 의사 있어요."))


def collect_zero_jobs(root: Path, _: Callable[..., Path]) -> list[str]:
    return ["collect", "-p", str(root), _one_text(root), "-j", "0"]


def collect_threshold_out_of_range(root: Path, _: Callable[..., Path]) -> list[str]:
    return ["collect", "-p", str(root), _one_text(root), "--near-dup-threshold", "7"]


def collect_negative_distance(root: Path, _: Callable[..., Path]) -> list[str]:
    return ["collect", "-p", str(root), _one_text(root), "--image-distance", "-3"]


def collect_list_value(root: Path, _: Callable[..., Path]) -> list[str]:
    rows = [{"id": "r1", "text": ["좋아요", "별로예요"]}, {"id": "r2", "text": "괜찮아요 정말로"}]
    path = _write(
        root, "data/raw/reviews.jsonl", "\n".join(json.dumps(r, ensure_ascii=False) for r in rows)
    )
    return ["collect", "-p", str(root), str(path)]


def collect_zip_bomb(root: Path, _: Callable[..., Path]) -> list[str]:
    path = root / "data/raw/bomb.zip"
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("big.txt", b"0" * (64 << 20))  # 64 MiB of zeros: a ratio near 1000
    return ["collect", "-p", str(root), str(path)]


def _collected(root: Path) -> None:
    from datakit.collect.run import collect

    rows = "id,text\nr1,배송 빠르고 포장도 꼼꼼해요\nr2,사이즈가 너무 작고 교환도 안 돼요\n"
    collect(Project(root), [_write(root, "data/raw/reviews.csv", rows)])


def import_bad_annotations(root: Path, _: Callable[..., Path]) -> list[str]:
    _collected(root)
    export = _write(
        root,
        "export.json",
        json.dumps([{"id": 7, "data": {"text": "좋아요"}, "annotations": "oops"}]),
    )
    return ["annotate", "import", "-p", str(root), str(export)]


def import_not_json(root: Path, _: Callable[..., Path]) -> list[str]:
    _collected(root)
    export = _write(root, "export.json", "{ this is not json")
    return ["annotate", "import", "-p", str(root), str(export)]


def check_before_collect(root: Path, _: Callable[..., Path]) -> list[str]:
    return ["check", "-p", str(root)]


def _ready(make_project: Callable[..., Path], **kw: object) -> Project:
    return make_ready_project(make_project, n=60, **kw)


def package_bad_media(root: Path, make_project: Callable[..., Path]) -> list[str]:
    return ["package", "-p", str(_ready(make_project).root), "--media", "embedd"]


def package_bad_engine(root: Path, make_project: Callable[..., Path]) -> list[str]:
    return ["package", "-p", str(_ready(make_project).root), "--engine", "sparkle"]


def package_without_check(root: Path, make_project: Callable[..., Path]) -> list[str]:
    return ["package", "-p", str(_ready(make_project, quality=None).root)]


def package_split_deviation(root: Path, make_project: Callable[..., Path]) -> list[str]:
    project = _ready(make_project, group=lambda i: f"g{i % 2}")  # two units cannot make 8:1:1
    return ["package", "-p", str(project.root)]


def verify_not_a_release(root: Path, _: Callable[..., Path]) -> list[str]:
    return ["verify", str(root)]


def status_not_a_project(root: Path, _: Callable[..., Path]) -> list[str]:
    elsewhere = root.parent / "not-a-project"
    elsewhere.mkdir()
    return ["status", "-p", str(elsewhere)]


# (case, exit code, words the message must hold: the file, item or field it names)
CASES: list[tuple[Case, int, tuple[str, ...]]] = [
    (plan_duplicate_key, 2, ("datakit.yaml:", "splits.seed", "duplicate key")),
    (plan_drift, 2, ("data.requirements.text.min_length", "minimum")),
    (plan_bad_yaml, 2, ("datakit.yaml", "invalid YAML")),
    (collect_missing_file, 2, ("없는파일.csv",)),
    (collect_empty_glob, 2, ("*.txt",)),
    (collect_zero_jobs, 2, ("jobs",)),
    (collect_threshold_out_of_range, 2, ("threshold",)),
    (collect_negative_distance, 2, ("distance",)),
    (collect_list_value, 2, ("reviews.jsonl", "text")),
    (collect_zip_bomb, 2, ("bomb.zip", "big.txt")),
    (import_bad_annotations, 2, ("export.json", "annotations")),
    (import_not_json, 2, ("export.json",)),
    (check_before_collect, 2, ("manifest", "datakit collect")),
    (package_bad_media, 2, ("embedd", "reference")),
    (package_bad_engine, 2, ("sparkle",)),
    (package_without_check, 2, ("quality check",)),
    (package_split_deviation, 1, ("tolerance", "Too large to fit")),
    (verify_not_a_release, 2, ("metadata.json",)),
    (status_not_a_project, 2, ("datakit.yaml",)),
]


@pytest.mark.parametrize(("case", "code", "words"), CASES, ids=[c[0].__name__ for c in CASES])
def test_bad_input_gets_a_clear_error(
    case: Case,
    code: int,
    words: tuple[str, ...],
    make_project: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root = make_project(name="sweep")
    argv = case(root, make_project)
    monkeypatch.setenv("COLUMNS", "200")  # keep long paths on one line
    result = CliRunner().invoke(app, argv)
    output = result.output
    assert "Traceback" not in output, output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert result.exit_code == code, output
    for word in words:
        assert word in output, f"{word!r} not in: {output}"
