"""End-to-end collect runs on planted inputs, asserting exact outcomes."""

from __future__ import annotations

import json
import random
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from datakit.collect import Mapping, collect
from datakit.collect.status import status_section
from datakit.errors import InputError
from datakit.project import Project
from tests.collect.helpers import korean_text, near_dup, read_manifest, set_spec


@pytest.fixture
def text_project(make_project: Callable[..., Path]) -> Path:
    return make_project("text_classification")


def _by_name(root: Path) -> dict[str, dict[str, object]]:
    return {str(r["source_path"]).rsplit("/", 1)[-1]: r for r in read_manifest(root)}


def test_text_folder_exact_and_near_duplicates(text_project: Path) -> None:
    rng = random.Random(7)
    raw = text_project / "data" / "raw" / "reviews"
    raw.mkdir(parents=True)
    base = [korean_text(rng, 14) for _ in range(40)]
    for i, t in enumerate(base):
        (raw / f"r{i:03d}.txt").write_text(t, encoding="utf-8")
    for i in range(5):  # 5 exact duplicates (of items 0..4)
        (raw / f"dup{i}.txt").write_text(base[i], encoding="utf-8")
    for i in range(10, 13):  # 3 near-duplicate clusters (of items 10..12)
        (raw / f"near{i}.txt").write_text(near_dup(base[i], rng), encoding="utf-8")
    result = collect(Project(text_project), [raw], license="CC-BY-4.0", consent="yes")
    rows = _by_name(text_project)
    assert result.items == 48
    assert result.duplicates == 5
    assert result.near_dup_clusters == 3
    assert result.near_dup_items == 6
    for i in range(5):  # one of each pair is kept, the other points at it
        a, b = rows[f"dup{i}.txt"], rows[f"r{i:03d}.txt"]
        kept, dup = (a, b) if a["status"] == "ok" else (b, a)
        assert (kept["status"], dup["status"]) == ("ok", "duplicate")
        assert dup["duplicate_of"] == kept["id"]
        assert kept is a  # same collection time: the first by path ("dup0" < "r000") is kept
    for i in range(10, 13):
        cluster = rows[f"near{i}.txt"]["near_dup_cluster"]
        assert cluster is not None and cluster == rows[f"r{i:03d}.txt"]["near_dup_cluster"]
    assert {r["license"] for r in rows.values()} == {"CC-BY-4.0"}
    assert {r["source"] for r in rows.values()} == {"reviews"}
    assert all(str(r["source_path"]).startswith("data/raw/reviews/") for r in rows.values())


def test_text_files_pii_masked_and_bad_encodings_quarantined(text_project: Path) -> None:
    raw = text_project / "data" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    (raw / "pii.txt").write_text(
        "제 번호는 010-1234-5678 이고 주민번호 900101-1234568 입니다", encoding="utf-8"
    )
    (raw / "홍길동_010-9876-5432.txt").write_text(
        "이름 파일에 전화번호가 있는 리뷰입니다", encoding="utf-8"
    )
    (raw / "legacy.txt").write_bytes("완성형 인코딩으로 저장된 리뷰입니다".encode("cp949"))
    (raw / "broken.txt").write_bytes("정상 시작 ".encode() + b"\xff\xfe\xfa" + "끝".encode())
    (raw / "empty.txt").write_bytes(b"")
    collect(Project(text_project), [raw])
    rows = {str(r["source_path"]).rsplit("/", 1)[-1]: r for r in read_manifest(text_project)}
    pii = rows["pii.txt"]
    assert pii["text"] == "제 번호는 ***-****-**** 이고 주민번호 ******-******* 입니다"
    assert json.loads(str(pii["pii"])) == {"phone": 1, "rrn": 1}
    assert pii["pii_action"] == "mask"
    stored = (text_project / str(pii["stored_path"])).read_text(encoding="utf-8")
    assert stored == pii["text"]
    # PII in a file name: masked in the manifest and in the stored copy's name
    named = rows["홍길동_***-****-****.txt"]
    assert "9876" not in str(named["stored_path"]) and "9876" not in str(named["source_path"])
    assert json.loads(str(named["pii"])) == {"phone": 1}
    assert (text_project / str(named["stored_path"])).is_file()
    assert str(rows["legacy.txt"]["reason"]).startswith("text.encoding: cp949")
    assert str(rows["broken.txt"]["reason"]).startswith("text.invalid_encoding")
    assert str(rows["empty.txt"]["reason"]).startswith("file.empty")
    # nothing unmasked reaches data/source
    for f in (text_project / "data" / "source").rglob("*"):
        if f.is_file():
            assert "5678" not in f.read_text(encoding="utf-8")
            assert "5432" not in f.name


def test_pii_drop_and_flag(text_project: Path) -> None:
    raw = text_project / "data" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    (raw / "a.txt").write_text(
        "카드 4111-1111-1111-1111 로 결제했어요 배송 빨라요", encoding="utf-8"
    )
    (raw / "b.txt").write_text("개인정보 없는 평범한 리뷰입니다", encoding="utf-8")
    set_spec(text_project, "action: mask", "action: drop")
    collect(Project(text_project), [raw])
    rows = _by_name(text_project)
    assert rows["a.txt"]["status"] == "quarantined"
    assert rows["a.txt"]["reason"] == "pii.found: card=1"
    assert rows["a.txt"]["text"] is None and rows["a.txt"]["stored_path"] is None
    assert rows["b.txt"]["status"] == "ok"
    set_spec(text_project, "action: drop", "action: flag")
    result = collect(Project(text_project), [raw])
    assert result.files_read == 2  # the PII policy changed: items are made again
    rows = _by_name(text_project)
    assert rows["a.txt"]["status"] == "ok"
    assert "4111-1111-1111-1111" in str(rows["a.txt"]["text"])
    assert rows["a.txt"]["pii_action"] == "flag"


CSV = (
    "id,text,source,region,label,writer\n"
    "r1,배송 빠르고 포장도 꼼꼼해요. 재구매 의사 있습니다!,쇼핑몰A,서울,긍정,kim@example.com\n"
    "r2,사이즈가 너무 작고 교환도 안 해주네요. 연락 010-1234-5678,쇼핑몰B,부산,부정,lee\n"
    "r3,배송 빠르고 포장도 꼼꼼해요. 재구매 의사 있습니다!,쇼핑몰A,서울,긍정,park\n"
    "r4,색상은 사진과 같고 두께는 보통입니다.,쇼핑몰B,대구,중립,choi\n"
)


def test_record_file_mapping(text_project: Path) -> None:
    src = text_project / "data" / "raw" / "reviews.csv"
    src.parent.mkdir(parents=True, exist_ok=True)
    src.write_text(CSV, encoding="utf-8")
    mapping = Mapping(source="source", label="label", attributes=("region", "writer"))
    result = collect(Project(text_project), [src], mapping=mapping, collection_date="2026-03-01")
    rows = {r["id"]: r for r in read_manifest(text_project)}
    assert sorted(rows) == ["r1", "r2", "r3", "r4"]
    assert rows["r1"]["source"] == "쇼핑몰A" and rows["r2"]["source"] == "쇼핑몰B"
    assert rows["r2"]["intake_label"] == "부정"
    assert rows["r2"]["source_path"] == "data/raw/reviews.csv#row=2"
    assert rows["r2"]["stored_path"] is None
    assert rows["r2"]["text"] == "사이즈가 너무 작고 교환도 안 해주네요. 연락 ***-****-****"
    assert json.loads(str(rows["r1"]["attributes"])) == {
        "region": "서울",
        "writer": "***@*******.***",
    }
    assert json.loads(str(rows["r1"]["pii"])) == {"email": 1}
    assert rows["r3"]["status"] == "duplicate" and rows["r3"]["duplicate_of"] == "r1"
    assert rows["r4"]["collection_date"] == "2026-03-01"
    assert result.by_source == {"쇼핑몰A": 2, "쇼핑몰B": 2}
    section = status_section(Project(text_project))
    assert section is not None
    assert section["per_class"]["긍정"] == {"collected": 1, "target": 10}
    assert section["composition"]["source"]["쇼핑몰A"]["collected"] == 1
    assert section["composition"]["source"]["쇼핑몰B"] == {
        "collected": 2,
        "share": 0.6667,
        "planned": 0.5,
    }


def test_jsonl_and_parquet_records(text_project: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    raw = text_project / "data" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    lines = [{"body": f"{korean_text(random.Random(i))}", "speaker": f"s{i % 2}"} for i in range(3)]
    (raw / "a.jsonl").write_text(
        "\n".join(json.dumps(x, ensure_ascii=False) for x in lines), encoding="utf-8"
    )
    pq.write_table(
        pa.Table.from_pylist([{"body": "파케이 파일의 리뷰 본문입니다", "speaker": "s9"}]),
        raw / "b.parquet",
    )
    collect(Project(text_project), [raw], mapping=Mapping(text="body", group="speaker"))
    rows = read_manifest(text_project)
    assert len(rows) == 4
    assert {r["group"] for r in rows} == {"s0", "s1", "s9"}
    assert any(str(r["source_path"]).endswith("a.jsonl#row=2") for r in rows)


def test_bad_record_input_names_file_row_and_field(text_project: Path) -> None:
    raw = text_project / "data" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    good = raw / "good.txt"
    good.write_text("이미 수집된 정상적인 리뷰입니다", encoding="utf-8")
    collect(Project(text_project), [good])
    before = read_manifest(text_project)

    csv_path = raw / "reviews.csv"
    csv_path.write_text(CSV, encoding="utf-8")
    with pytest.raises(InputError) as err:
        collect(Project(text_project), [csv_path], mapping=Mapping(text="body"))
    assert "reviews.csv" in err.value.message and "field body" in err.value.message
    assert "columns: id, text" in err.value.message

    mixed = CSV.encode("utf-8") + "r5,완성형으로 저장된 줄,쇼핑몰A,서울,긍정,x\n".encode("cp949")
    csv_path.write_bytes(mixed)
    with pytest.raises(InputError) as err:
        collect(Project(text_project), [csv_path])
    assert "reviews.csv" in err.value.message and "row 5" in err.value.message
    assert "mixes encodings" in err.value.message and err.value.hint and "iconv" in err.value.hint

    csv_path.write_text(
        CSV + "r1,같은 아이디가 다시 나오는 줄입니다,쇼핑몰A,서울,긍정,x\n", encoding="utf-8"
    )
    with pytest.raises(InputError, match=r"id .r1. repeats row 1"):
        collect(Project(text_project), [csv_path])
    # nothing already collected is lost
    assert read_manifest(text_project) == before


def test_archives_and_zip_slip(text_project: Path, tmp_path: Path) -> None:
    raw = text_project / "data" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(raw / "batch.zip", "w") as zf:
        zf.writestr("리뷰/one.txt", "압축 파일 안의 첫 번째 리뷰입니다")
        zf.writestr("리뷰/two.txt", "압축 파일 안의 두 번째 리뷰랍니다")
    result = collect(Project(text_project), [raw])
    rows = read_manifest(text_project)
    assert result.ok == 2
    assert {r["source_path"] for r in rows} == {
        "data/raw/batch.zip!/리뷰/one.txt",
        "data/raw/batch.zip!/리뷰/two.txt",
    }
    assert all((text_project / str(r["stored_path"])).is_file() for r in rows)

    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("ok.txt", "괜찮은 파일입니다 정말로")
        zf.writestr("../../outside.txt", "탈출 시도")
    with pytest.raises(InputError, match="zip-slip"):
        collect(Project(text_project), [evil])
    assert not (tmp_path / "outside.txt").exists()
    assert not list(tmp_path.rglob("outside.txt"))

    evil_tar = tmp_path / "evil.tar"
    target = tmp_path / "secret.txt"
    target.write_text("비밀", encoding="utf-8")
    with tarfile.open(evil_tar, "w") as tf:
        info = tarfile.TarInfo("link.txt")
        info.type = tarfile.SYMTYPE
        info.linkname = str(target)
        tf.addfile(info)
    with pytest.raises(InputError, match="link"):
        collect(Project(text_project), [evil_tar])

    folder = tmp_path / "linked"
    folder.mkdir()
    (folder / "fine.txt").write_text("폴더 안의 평범한 리뷰입니다", encoding="utf-8")
    (folder / "escape.txt").symlink_to(target)
    with pytest.raises(InputError, match="outside the source"):
        collect(Project(text_project), [folder])
    assert len(read_manifest(text_project)) == 2  # what was collected is still there


def test_rerun_reads_nothing_new_and_ids_are_stable(text_project: Path) -> None:
    raw = text_project / "data" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for i in range(20):
        (raw / f"r{i}.txt").write_text(korean_text(random.Random(i)), encoding="utf-8")
    first = collect(Project(text_project), [raw])
    manifest = text_project / "data" / "manifest.parquet"
    stamp = manifest.stat().st_mtime_ns
    ids = {r["source_path"]: r["id"] for r in read_manifest(text_project)}
    assert first.files_read == 20 and first.manifest_written

    again = collect(Project(text_project), [raw])
    assert (again.files_read, again.files_unchanged, again.manifest_written) == (0, 20, False)
    assert again.items == 20 and again.ok == first.ok
    assert manifest.stat().st_mtime_ns == stamp

    (raw / "r3.txt").write_text("바뀐 내용의 리뷰 본문입니다 새로 읽어야 해요", encoding="utf-8")
    (raw / "new.txt").write_text("새로 들어온 리뷰 파일의 본문입니다", encoding="utf-8")
    third = collect(Project(text_project), [raw])
    assert third.files_read == 2 and third.items == 21
    rows = {r["source_path"]: r for r in read_manifest(text_project)}
    assert rows["data/raw/r3.txt"]["text"] == "바뀐 내용의 리뷰 본문입니다 새로 읽어야 해요"
    assert all(rows[p]["id"] == i for p, i in ids.items())  # ids do not move


def test_sidecar_and_label_from_folder(make_project: Callable[..., Path]) -> None:
    from tests.collect.helpers import write_image

    root = make_project("image_classification")
    raw = root / "data" / "raw" / "leaves"
    write_image(raw / "정상" / "a.png", 1)
    write_image(raw / "갈색무늬병" / "b.png", 2)
    (raw.parent / "leaves.meta.yaml").write_text(
        "source: 농가A\nlicense: CC-BY-4.0\nconsent: not_required\ncollection_date: 2026-05-02\n"
        "label_from_folder: true\nattributes: {region: 경기}\n"
        "files:\n  정상/a.png: {group: 농장1, attributes: {region: 제주}}\n",
        encoding="utf-8",
    )
    collect(Project(root), [raw])
    rows = _by_name(root)
    a, b = rows["a.png"], rows["b.png"]
    assert (a["source"], a["license"], a["consent"], a["collection_date"]) == (
        "농가A", "CC-BY-4.0", "not_required", "2026-05-02",
    )  # fmt: skip
    assert (a["intake_label"], b["intake_label"]) == ("정상", "갈색무늬병")
    assert json.loads(str(a["attributes"])) == {"region": "제주"}
    assert json.loads(str(b["attributes"])) == {"region": "경기"}
    assert a["group"] == "농장1"
    assert str(a["stored_path"]).startswith("data/source/농가A/")
    section = status_section(Project(root))
    assert section is not None
    assert section["composition"]["region"]["제주"]["collected"] == 1


def test_manifest_matches_the_contract(text_project: Path) -> None:
    from datakit.tables import MANIFEST_SCHEMA
    from datakit.tables import read_manifest as read_contract

    raw = text_project / "data" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    (raw / "a.txt").write_text("계약대로 기록되는지 확인하는 리뷰", encoding="utf-8")
    collect(Project(text_project), [raw])
    import pyarrow.parquet as pq

    assert pq.read_schema(text_project / "data" / "manifest.parquet").names == MANIFEST_SCHEMA.names
    assert read_contract(text_project / "data" / "manifest.parquet").num_rows == 1
    record = Project(text_project).stage_record("collect")
    assert record is not None and record["summary"]["ok"] == 1


def test_outputs_are_never_collected_again(text_project: Path) -> None:
    raw = text_project / "data" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    (raw / "a.txt").write_text("한 번만 수집되어야 하는 리뷰입니다", encoding="utf-8")
    collect(Project(text_project), [raw])
    again = collect(Project(text_project), [text_project / "data"])  # holds data/source too
    assert again.files_scanned == 1 and again.items == 1
    with pytest.raises(InputError, match="its own output"):
        collect(Project(text_project), [text_project / "data" / "source"])


def test_nfd_text_is_stored_nfc(text_project: Path) -> None:
    import unicodedata

    raw = text_project / "data" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    text = "맥에서 저장된 리뷰 본문입니다"
    (raw / unicodedata.normalize("NFD", "리뷰.txt")).write_text(
        unicodedata.normalize("NFD", text), encoding="utf-8"
    )
    collect(Project(text_project), [raw])
    (row,) = read_manifest(text_project)
    assert row["text"] == text and row["text_length"] == len(text)
    assert row["source_path"] == "data/raw/리뷰.txt"


def test_record_ids_must_be_unique_across_files(text_project: Path) -> None:
    raw = text_project / "data" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    (raw / "a.csv").write_text("id,text\nr1,첫 번째 파일의 리뷰 본문\n", encoding="utf-8")
    collect(Project(text_project), [raw / "a.csv"])
    (raw / "b.csv").write_text("id,text\nr1,두 번째 파일의 다른 리뷰\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"item id 'r1' is already used by data/raw/a.csv#row=1"):
        collect(Project(text_project), [raw / "b.csv"])
    assert [r["id"] for r in read_manifest(text_project)] == ["r1"]


def test_missing_source_and_bad_metadata_are_clear_errors(text_project: Path) -> None:
    with pytest.raises(InputError, match=r"file nope/raw: the source does not exist"):
        collect(Project(text_project), ["nope/raw"])
    raw = text_project / "data" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    (raw / "a.txt").write_text("메타데이터 오류를 확인하는 리뷰입니다", encoding="utf-8")
    with pytest.raises(InputError, match="consent must be one of"):
        collect(Project(text_project), [raw], consent="maybe")
    with pytest.raises(InputError, match="is not YYYY-MM-DD"):
        collect(Project(text_project), [raw], collection_date="29/11/2026")
    (raw.parent / "raw.meta.yaml").write_text("licence: typo\n", encoding="utf-8")
    with pytest.raises(InputError, match="unknown keys: licence"):
        collect(Project(text_project), [raw])
    assert not (text_project / "data" / "manifest.parquet").exists()
