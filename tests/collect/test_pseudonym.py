"""Pseudonyms (가명처리) for PII in id, group and split-key columns: never a shared mask."""

from __future__ import annotations

import json
import shutil
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from datakit.collect import CollectResult, Mapping, collect
from datakit.collect.pii import find_pii
from datakit.collect.pseudonym import KEY_FILE, PseudonymKey, key_fields, pseudonym
from datakit.errors import ProjectError
from datakit.project import Project
from tests.collect.helpers import read_manifest, set_spec

KEY = "test-pseudonym-key-0123456789abcdef"
ENV = "DATAKIT_PSEUDONYM_KEY"

# writer: the group. 10- and 11-digit mobile numbers and RRNs, some repeated; one plain value.
# member: a `unique: true` field kept as an attribute. id: two ids are phone numbers.
ROWS = [
    ("r1", "0101234567", "9001011234568", "배송 빠르고 포장도 꼼꼼해요 재구매 의사 있어요"),
    ("r2", "0101234567", "9001011234568", "사이즈가 작아요 교환 연락 010-2222-3333 주세요"),
    ("01055556666", "0109876543", "8503152234561", "색상은 사진과 같고 두께는 보통입니다"),
    ("r4", "0109876543", "plain-7", "가격 대비 괜찮고 다시 살 의사 있어요"),
    ("01077778888", "9001011234568", "8503152234561", "디자인 예쁘고 튼튼해서 만족합니다"),
    ("r6", "editor-kim", "plain-8", "설명과 달라요 냄새가 나서 불만입니다"),
    ("r7", "01012345678", "plain-9", "부모님 선물로 샀는데 좋아하세요"),
]


@pytest.fixture
def project(make_project: Callable[..., Path], monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv(ENV, raising=False)
    root = make_project("text_classification")
    set_spec(root, "  stratify: label", "  stratify: label\n  group: writer")
    set_spec(
        root,
        "  - {name: source,",
        "  - {name: member, type: string, description: 회원번호, unique: true}\n"
        "  - {name: writer, type: string, description: 작성자}\n"
        "  - {name: source,",
    )
    raw = root / "data" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    lines = ["id,writer,member,text"] + [",".join(r) for r in ROWS]
    (raw / "reviews.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


MAPPING = Mapping(group="writer", attributes=("member",))


def _collect(root: Path) -> tuple[CollectResult, dict[str, dict[str, object]]]:
    result = collect(Project(root), [root / "data" / "raw" / "reviews.csv"], mapping=MAPPING)
    rows = read_manifest(root)
    by_row = {str(r["source_path"]).rsplit("=", 1)[-1]: r for r in rows}
    return result, by_row


def _written_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and p.name != KEY_FILE]


def test_group_id_and_key_attributes_are_pseudonymised_not_masked(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV, KEY)
    result, rows = _collect(project)
    groups = [rows[str(n)]["group"] for n in range(1, len(ROWS) + 1)]
    raw_groups = [r[1] for r in ROWS]
    # distinct groups stay distinct, equal ones equal: the same partition as the raw values
    assert len(set(groups)) == len(set(raw_groups)) == 5
    for i in range(len(ROWS)):
        for j in range(len(ROWS)):
            assert (groups[i] == groups[j]) == (raw_groups[i] == raw_groups[j])
    assert groups[0] == pseudonym(KEY.encode(), "0101234567", "phone")
    assert str(groups[0]).startswith("pseud-phone-") and str(groups[4]).startswith("pseud-rrn-")
    assert groups[5] == "editor-kim"  # not PII: left as it is
    assert not any("*" in str(g) for g in groups)
    # the ids: unique, and a phone number is no longer there
    ids = [str(rows[str(n)]["id"]) for n in range(1, len(ROWS) + 1)]
    assert len(set(ids)) == len(ids)
    assert ids[0] == "r1" and ids[2].startswith("pseud-phone-") and ids[4] != ids[2]
    # a unique field kept as an attribute
    members = [json.loads(str(rows[str(n)]["attributes"]))["member"] for n in range(1, 8)]
    assert members[0] == members[1] != members[2] == members[4]
    assert members[0].startswith("pseud-rrn-") and members[3] == "plain-7"
    # no raw identifier is left in any key column, and a pseudonym does not look like one
    for value in [*groups, *ids, *members]:
        assert find_pii(str(value)) == []
    # text is still masked as before
    assert rows["2"]["text"] == "사이즈가 작아요 교환 연락 ***-****-**** 주세요"
    # reported like any other PII: per item, per kind, and per column in the summary
    assert json.loads(str(rows["3"]["pii"])) == {"phone": 2, "rrn": 1}
    assert rows["3"]["pii_action"] == "mask"
    assert result.pii_pseudonymised == {
        "attributes.member": {"rrn": 4},
        "group": {"phone": 5, "rrn": 1},
        "id": {"phone": 2},
    }
    assert result.pii_by_kind == {"phone": 8, "rrn": 5}
    assert result.pseudonym_key == f"env {ENV}"
    record = Project(project).stage_record("collect")
    assert record is not None
    assert record["summary"]["pii_pseudonymised"]["group"] == {"phone": 5, "rrn": 1}
    # the key is in no file datakit wrote; the raw key values are not in the manifest or cache
    raw_keys = ("0101234567", "9001011234568", "01055556666", "8503152234561")
    manifest = json.dumps(read_manifest(project), ensure_ascii=False, default=str)
    assert not any(v in manifest for v in raw_keys)
    for path in _written_files(project):
        if path.name == "reviews.csv":
            continue
        data = path.read_bytes()
        assert KEY.encode() not in data, path
        assert not any(v.encode() in data for v in raw_keys), path


def test_same_key_same_pseudonyms_on_a_fresh_collect(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV, KEY)
    _, first = _collect(project)
    again = _collect(project)[1]  # unchanged rerun: nothing is made again
    assert {k: r["group"] for k, r in again.items()} == {k: r["group"] for k, r in first.items()}
    shutil.rmtree(project / ".datakit" / "collect")  # start over: the same pseudonyms
    (project / "data" / "manifest.parquet").unlink()
    result, fresh = _collect(project)
    assert result.items_made == len(ROWS)
    for k, r in first.items():
        assert (fresh[k]["id"], fresh[k]["group"], fresh[k]["attributes"]) == (
            r["id"],
            r["group"],
            r["attributes"],
        )
    monkeypatch.setenv(ENV, KEY + "-other")  # another key: other pseudonyms
    other = PseudonymKey(ENV, project / ".datakit" / KEY_FILE).pseudonym("0101234567", "phone")
    assert other != first["1"]["group"]


def test_missing_key_is_made_once_into_datakit_with_0600(project: Path) -> None:
    result, rows = _collect(project)
    key_file = project / ".datakit" / KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text(encoding="utf-8").strip()
    assert len(key) == 64
    assert result.pseudonym_key == f".datakit/{KEY_FILE} (new)"
    assert rows["1"]["group"] == pseudonym(key.encode(), "0101234567", "phone")
    for path in _written_files(project):
        assert key.encode() not in path.read_bytes(), path
    # a later run reads the same file; the key in the env var is the same key
    (project / "data" / "raw" / "more.csv").write_text(
        "id,writer,member,text\nr8,0101234567,plain-1,겨울에 따뜻하고 가볍고 좋아요\n",
        encoding="utf-8",
    )
    result = collect(Project(project), [project / "data" / "raw" / "more.csv"], mapping=MAPPING)
    assert result.pseudonym_key == f".datakit/{KEY_FILE}"
    groups = {r["id"]: r["group"] for r in read_manifest(project)}
    assert groups["r8"] == groups["r1"]


def test_another_or_lost_key_is_refused(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _collect(project)
    (project / "data" / "raw" / "more.csv").write_text(
        "id,writer,member,text\nr8,0101234567,plain-1,겨울에 따뜻하고 가볍고 좋아요\n",
        encoding="utf-8",
    )
    more = project / "data" / "raw" / "more.csv"
    monkeypatch.setenv(ENV, KEY)  # not the key the first items were made with
    with pytest.raises(ProjectError, match="pseudonymised with another key") as err:
        collect(Project(project), [more], mapping=MAPPING)
    assert err.value.hint is not None and ENV in err.value.hint
    monkeypatch.delenv(ENV)
    key_file = project / ".datakit" / KEY_FILE
    saved = key_file.read_text(encoding="utf-8")
    key_file.unlink()
    with pytest.raises(ProjectError, match="the key is missing"):
        collect(Project(project), [more], mapping=MAPPING)
    assert not key_file.exists()  # a lost key is not silently replaced
    monkeypatch.setenv(ENV, saved.strip())  # the old key, given through the env var
    collect(Project(project), [more], mapping=MAPPING)


def test_short_key_is_refused(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "secret")
    with pytest.raises(ProjectError, match="too short") as err:
        _collect(project)
    assert "secret" not in str(err.value) and "secret" not in str(err.value.hint)


def test_flag_leaves_keys_and_drop_pseudonymises_the_quarantined(project: Path) -> None:
    set_spec(project, "action: mask", "action: flag")
    result, rows = _collect(project)
    assert rows["1"]["group"] == "0101234567" and rows["3"]["id"] == "01055556666"
    assert json.loads(str(rows["1"]["pii"])) == {"phone": 1, "rrn": 1}
    assert result.pii_pseudonymised == {}
    assert result.pseudonym_key is None
    assert not (project / ".datakit" / KEY_FILE).exists()  # not needed, not made
    set_spec(project, "action: flag", "action: drop")
    result, rows = _collect(project)
    assert rows["1"]["status"] == "quarantined"
    assert str(rows["1"]["group"]).startswith("pseud-phone-")
    assert rows["6"]["group"] == "editor-kim"
    assert result.pii_pseudonymised["group"] == {"phone": 5, "rrn": 1}


def test_group_from_a_sidecar_is_pseudonymised(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV, KEY)
    folder = project / "data" / "raw" / "notes"
    folder.mkdir()
    for name in ("a", "b", "c"):
        (folder / f"{name}.txt").write_text(f"{name} 배송 빠르고 포장도 꼼꼼해요", encoding="utf-8")
    (folder / "_meta.yaml").write_text(
        "files:\n"
        "  a.txt: {group: '010-1234-5678', attributes: {member: '9001011234568'}}\n"
        "  b.txt: {group: '010-1234-5678'}\n"
        "  c.txt: {group: '010-9999-0000'}\n",
        encoding="utf-8",
    )
    result = collect(Project(project), [folder])
    rows = {str(r["source_path"]).rsplit("/", 1)[-1]: r for r in read_manifest(project)}
    assert rows["a.txt"]["group"] == rows["b.txt"]["group"] != rows["c.txt"]["group"]
    assert rows["a.txt"]["group"] == pseudonym(KEY.encode(), "010-1234-5678", "phone")
    member = json.loads(str(rows["a.txt"]["attributes"]))["member"]
    assert member == pseudonym(KEY.encode(), "9001011234568", "rrn")
    assert result.pii_pseudonymised == {
        "attributes.member": {"rrn": 1},
        "group": {"phone": 3},
    }


def test_key_fields_are_the_split_and_identity_keys(project: Path) -> None:
    assert key_fields(Project(project).spec) == {"id", "member", "writer", "label"}


def test_pseudonym_is_keyed_and_never_looks_like_pii(monkeypatch: pytest.MonkeyPatch) -> None:
    key = b"k" * 32
    values = [f"010{n:08d}" for n in range(2000)]
    tokens = {pseudonym(key, v, "phone") for v in values}
    assert len(tokens) == len(values)
    assert all(find_pii(t) == [] for t in tokens)
    assert pseudonym(key, values[0], "phone") == pseudonym(key, values[0], "phone")
    assert pseudonym(b"j" * 32, values[0], "phone") != pseudonym(key, values[0], "phone")
    token = pseudonym(key, values[0], "phone").removeprefix("pseud-phone-")
    assert len(token) == 16 and token.isalnum() and token == token.lower()
    monkeypatch.setenv(ENV, KEY)
    assert KEY not in repr(PseudonymKey(ENV, Path("/nonexistent") / KEY_FILE))
