"""Issue 13, the collect stage: bad input gets a clear error (file, item, field) or a real
quarantine reason, never a traceback, a ballooning process or a wrong answer."""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import tarfile
import tracemalloc
import unicodedata
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from datakit.collect import Limits, collect
from datakit.collect import items as items_mod
from datakit.collect.sniff import sniff_media_type
from datakit.errors import InputError
from datakit.io import resolve_path
from datakit.project import Project
from tests.collect.helpers import read_manifest

MiB = 1 << 20
REVIEW = "배송이 빠르고 포장도 꼼꼼해요. 재구매 의사 있습니다!"


@pytest.fixture
def root(make_project: Callable[..., Path]) -> Path:
    return make_project("text_classification")


def _raw(root: Path) -> Path:
    raw = root / "data" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    return raw


def _err(result: Any) -> str:
    assert result.exit_code == 2, (result.exit_code, result.output)
    err = str(result.stderr)
    assert "Traceback" not in err and "Traceback" not in result.stdout
    return err


# -- 6: zip bombs, huge members, record files and text files -------------------------------


@pytest.fixture(scope="module")
def zip_bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """306 KB of zip that unpacks to 300 MiB, written in a stream (nothing big on disk)."""
    path = tmp_path_factory.mktemp("bomb") / "reviews.zip"
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf,
        zf.open("big.txt", "w", force_zip64=True) as fh,
    ):
        chunk = b"a" * MiB
        for _ in range(300):
            fh.write(chunk)
    assert path.stat().st_size < 400_000
    return path


def test_zip_bomb_is_refused_before_anything_is_unpacked(
    root: Path, zip_bomb: Path, cli: Callable[..., Any]
) -> None:
    bomb = shutil.copy(zip_bomb, _raw(root) / "reviews.zip")
    tracemalloc.start()
    try:
        with pytest.raises(InputError) as info:
            collect(Project(root), [bomb])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * MiB, f"peak {peak / MiB:.1f} MiB"  # main read the 300 MiB member whole
    exc = info.value
    assert (exc.item, exc.field) == ("big.txt", "compression_ratio")
    assert exc.file == "data/raw/reviews.zip"
    assert "300.0 MiB" in exc.message and "zip bomb" in exc.message
    assert not (root / "data" / "manifest.parquet").exists()
    assert not any((root / ".datakit" / "collect" / "tmp").iterdir())

    err = _err(cli("collect", bomb, "-p", root))
    assert "big.txt" in err and "--max-ratio" in err


def _tar_gz(path: Path, members: dict[str, int]) -> Path:
    """A .tar.gz of members of zero bytes, each streamed (``name: size``)."""

    class Zeros(io.RawIOBase):
        def __init__(self, n: int) -> None:
            self.left = n

        def readable(self) -> bool:
            return True

        def readinto(self, b: Any) -> int:
            n = min(len(b), self.left)
            b[:n] = bytes(n)
            self.left -= n
            return n

    with tarfile.open(path, "w:gz") as tf:
        for name, size in members.items():
            info = tarfile.TarInfo(name)
            info.size = size
            tf.addfile(info, io.BufferedReader(Zeros(size)))
    return path


def test_tar_gz_bomb_is_refused(root: Path) -> None:
    bomb = _tar_gz(_raw(root) / "batch.tar.gz", {"a.txt": 40 * MiB})
    with pytest.raises(InputError) as info:
        collect(Project(root), [bomb])
    assert (info.value.file, info.value.field) == ("data/raw/batch.tar.gz", "compression_ratio")
    assert "the archive unpacks" in info.value.message
    assert not (root / "data" / "manifest.parquet").exists()


def test_archive_member_over_the_size_limit_is_refused(root: Path, cli: Callable[..., Any]) -> None:
    path = _raw(root) / "batch.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("ok.txt", REVIEW)
        zf.writestr("big.txt", os.urandom(2 * MiB))
    with pytest.raises(InputError) as info:
        collect(Project(root), [path], limits=Limits(member_bytes=MiB))
    assert (info.value.item, info.value.field) == ("big.txt", "size")
    assert "2.0 MiB, over the limit of 1.0 MiB" in info.value.message
    err = _err(cli("collect", path, "-p", root, "--max-member-size", "1MiB"))
    assert "big.txt" in err
    assert "not a size" in _err(cli("collect", path, "-p", root, "--max-member-size", "lots"))
    assert "ratio" in _err(cli("collect", path, "-p", root, "--max-ratio", "0"))
    collect(Project(root), [path])  # the defaults take it
    assert {r["status"] for r in read_manifest(root)} == {"ok", "quarantined"}


def test_a_damaged_zip_member_is_named_not_a_traceback(root: Path, cli: Callable[..., Any]) -> None:
    path = _raw(root) / "batch.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.txt", os.urandom(50_000).hex())
    data = bytearray(path.read_bytes())
    for i in range(200, 400):  # inside the deflate stream: zlib.error, not an OSError
        data[i] ^= 0x55
    path.write_bytes(bytes(data))
    with pytest.raises(InputError) as info:
        collect(Project(root), [path])
    assert (info.value.file, info.value.item) == ("data/raw/batch.zip", "a.txt")
    assert "unzip -t" in _err(cli("collect", path, "-p", root))


def test_big_archive_member_streams_through_a_temporary_file(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hashlib

    monkeypatch.setattr(items_mod, "_BIG", MiB)  # stands for 256 MiB: members past it stream
    spec = root / "datakit.yaml"
    spec.write_text(
        spec.read_text(encoding="utf-8").replace("formats: [txt, csv, jsonl]", "formats: []"),
        encoding="utf-8",
    )
    blob = b"%PDF-1.4\n" + os.urandom(24 * MiB)
    want = (hashlib.sha256(blob).hexdigest(), len(blob))
    path = _raw(root) / "batch.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("doc.pdf", blob)
    del blob
    warm = _raw(root) / "warm-up.txt"  # the first run imports pyarrow & co.: not measured
    warm.write_text(REVIEW, encoding="utf-8")
    collect(Project(root), [warm])
    tracemalloc.start()
    try:
        collect(Project(root), [path])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * MiB, f"peak {peak / MiB:.1f} MiB"  # main read the member whole
    (row,) = [r for r in read_manifest(root) if str(r["source_path"]).endswith("doc.pdf")]
    assert (row["sha256"], row["size"]) == want
    assert row["reason"] == "format.wrong_type: application/pdf is not text"
    assert not any((root / ".datakit" / "collect" / "tmp").iterdir())  # spill file removed


def test_record_file_over_the_limit_is_refused(root: Path, cli: Callable[..., Any]) -> None:
    path = _raw(root) / "reviews.jsonl"
    line = json.dumps({"text": REVIEW}, ensure_ascii=False) + "\n"
    path.write_text(line * (2 * MiB // len(line.encode()) + 1), encoding="utf-8")
    with pytest.raises(InputError) as info:
        collect(Project(root), [path], limits=Limits(record_bytes=MiB))
    assert info.value.field == "size"
    assert info.value.file == "data/raw/reviews.jsonl"
    assert "over the limit of 1.0 MiB for one record file" in info.value.message
    err = _err(cli("collect", path, "-p", root, "--max-record-size", "1MiB"))
    assert "split" in err
    zipped = _raw(root) / "reviews.zip"
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_STORED) as zf:
        zf.write(path, "reviews.jsonl")
    with pytest.raises(InputError) as info:
        collect(Project(root), [zipped], limits=Limits(record_bytes=MiB))
    assert (info.value.item, info.value.field) == ("reviews.jsonl", "size")


def test_a_big_plain_text_file_gets_a_real_reason(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(items_mod, "_BIG", MiB)  # stands for 256 MiB: keep the test small
    path = _raw(root) / "novel.txt"
    path.write_text(REVIEW * (2 * MiB // len(REVIEW.encode()) + 1), encoding="utf-8")
    collect(Project(root), [path])
    (row,) = read_manifest(root)
    assert row["status"] == "quarantined"
    assert str(row["reason"]).startswith("file.too_large: 2.0 MiB of text/plain is over the")


# -- 7: UTF-16/32 text with a byte-order mark ----------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
def test_unicode_text_with_a_bom_is_transcoded(
    root: Path, encoding: str, capfd: pytest.CaptureFixture[str]
) -> None:
    raw = _raw(root)
    (raw / "notepad.txt").write_bytes("\ufeff".encode(encoding) + REVIEW.encode(encoding))
    result = collect(Project(root), [raw])
    (row,) = read_manifest(root)
    assert (row["status"], row["media_type"], row["encoding"]) == ("ok", "text/plain", encoding)
    assert row["text"] == REVIEW
    stored = root / str(row["stored_path"])
    assert stored.read_bytes() == REVIEW.encode("utf-8")  # 원천데이터 is UTF-8
    assert result.quarantined == 0
    assert "pipe" not in capfd.readouterr().err  # no decoder noise from an MP3 attempt


def test_sniffing_a_utf16_bom_is_text_not_mp3() -> None:
    assert sniff_media_type("\ufeff안녕".encode("utf-16-le")) == "text/plain"
    assert sniff_media_type("\ufeff안녕".encode("utf-16-be")) == "text/plain"
    assert sniff_media_type(b"\xff\xfb\x90\x00" + bytes(100)) == "audio/mpeg"  # still MP3


def test_excel_unicode_text_record_file_is_read(root: Path) -> None:
    path = _raw(root) / "reviews.tsv"  # Excel's "Unicode text": UTF-16 LE, tabs, a BOM
    body = f"id\ttext\r\nr1\t{REVIEW}\r\nr2\t{REVIEW} 또 살게요\r\n"
    path.write_bytes("\ufeff".encode("utf-16-le") + body.encode("utf-16-le"))
    collect(Project(root), [path])
    rows = {r["id"]: r for r in read_manifest(root)}
    assert rows["r1"]["text"] == REVIEW and rows["r1"]["status"] == "ok"
    assert rows["r2"]["encoding"] == "utf-16-le"


# -- 8: a copied or renamed project re-collects its own record file ------------------------


def _reviews(root: Path) -> Path:
    path = _raw(root) / "reviews.jsonl"
    lines = [{"id": f"r{i}", "text": f"{REVIEW} {i}"} for i in range(1, 4)]
    path.write_text(
        "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), encoding="utf-8"
    )
    return path


@pytest.mark.parametrize("how", ["copy", "rename", "copy-of-an-old-cache"])
def test_a_copied_or_renamed_project_recollects_its_record_file(root: Path, how: str) -> None:
    _reviews(root)
    collect(Project(root), [root / "data/raw/reviews.jsonl"])
    before = sorted(str(r["id"]) for r in read_manifest(root))
    other = root.with_name("moved")
    if how == "rename":
        root.rename(other)
    else:
        shutil.copytree(root, other)  # copy2: mtimes kept
    if how == "copy-of-an-old-cache":  # a cache from before it recorded the project folder
        db = sqlite3.connect(other / ".datakit" / "collect" / "cache.sqlite")
        db.execute("DELETE FROM meta WHERE k = 'root'")
        db.commit()
        db.close()
        os.utime(other / "data/raw/reviews.jsonl")  # and the file changed too
    result = collect(Project(other), [other / "data/raw/reviews.jsonl"])
    assert sorted(str(r["id"]) for r in read_manifest(other)) == before
    assert result.items == 3
    if how != "copy-of-an-old-cache":
        assert result.files_unchanged == 1  # the stat cache moved with the project
    db = sqlite3.connect(other / ".datakit" / "collect" / "cache.sqlite")
    keys = [k for (k,) in db.execute("SELECT key FROM files")]
    db.close()
    assert keys == [str(other / "data/raw/reviews.jsonl")]


def test_another_file_reusing_an_id_is_still_an_error(root: Path) -> None:
    _reviews(root)
    collect(Project(root), [root / "data/raw/reviews.jsonl"])
    again = _raw(root) / "more.jsonl"
    again.write_text(json.dumps({"id": "r2", "text": REVIEW}) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"'r2' is already used by data/raw/reviews\.jsonl#row=2"):
        collect(Project(root), [again])


# -- 10: silent acceptance -------------------------------------------------------------------


def test_a_glob_that_matches_nothing_is_an_error(root: Path, cli: Callable[..., Any]) -> None:
    _raw(root)
    with pytest.raises(InputError, match="the glob matches no files") as info:
        collect(Project(root), [f"{root}/data/raw/*.txt"])
    assert info.value.file == f"{root}/data/raw/*.txt"
    err = _err(cli("collect", f"{root}/data/raw/**/*.txt", "-p", root))
    assert "matches no files" in err


def test_a_glob_source_is_named_after_its_folder(root: Path) -> None:
    raw = _raw(root) / "reviews"
    raw.mkdir()
    (raw / "a.txt").write_text(REVIEW, encoding="utf-8")
    (raw / "b.md").write_text(REVIEW + " 두 번째", encoding="utf-8")
    collect(Project(root), [f"{raw}/*.txt"])
    (row,) = read_manifest(root)
    assert row["source"] == "reviews"
    assert row["stored_path"] == "data/source/reviews/a.txt"
    assert sorted(p.name for p in (root / "data" / "source").iterdir()) == ["reviews"]


def test_a_file_named_like_a_glob_is_that_file(root: Path) -> None:
    path = _raw(root) / "후기[1].txt"
    path.write_text(REVIEW, encoding="utf-8")
    (_raw(root) / "후기1.txt").write_text(REVIEW + " 다른 글", encoding="utf-8")
    result = collect(Project(root), [path])
    assert result.items == 1
    (row,) = read_manifest(root)
    assert row["source_path"] == "data/raw/후기[1].txt"


@pytest.mark.parametrize(
    ("record", "field", "shown"),
    [
        ({"id": "a1", "text": ["좋아요", "별로"]}, "text", '["좋아요", "별로"]'),
        ({"id": ["a1"], "text": REVIEW}, "id", '["a1"]'),
        ({"id": "a1", "text": REVIEW, "speaker": {"name": "kim"}}, "speaker", "JSON object"),
    ],
)
def test_a_list_in_a_mapped_column_is_an_error(
    root: Path, record: dict[str, Any], field: str, shown: str, cli: Callable[..., Any]
) -> None:
    path = _raw(root) / "reviews.jsonl"
    ok = {"id": "a0", "text": REVIEW, "speaker": "s1"}
    path.write_text(
        json.dumps(ok, ensure_ascii=False) + "\n" + json.dumps(record, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
    from datakit.collect import Mapping

    with pytest.raises(InputError) as info:
        collect(Project(root), [path], mapping=Mapping(group="speaker"))
    assert (info.value.item, info.value.field) == ("row 2", field)
    assert info.value.file == "data/raw/reviews.jsonl"
    assert shown in info.value.message
    err = _err(cli("collect", path, "-p", root, "--group-column", "speaker"))
    assert f"item row 2, field {field}" in err


def test_a_list_attribute_is_kept_as_json(root: Path) -> None:
    path = _raw(root) / "reviews.jsonl"
    path.write_text(
        json.dumps({"id": "a1", "text": REVIEW, "tags": ["배송", "포장"]}, ensure_ascii=False),
        encoding="utf-8",
    )
    from datakit.collect import Mapping

    collect(Project(root), [path], mapping=Mapping(attributes=("tags",)))
    (row,) = read_manifest(root)
    assert json.loads(str(row["attributes"])) == {"tags": ["배송", "포장"]}


@pytest.mark.parametrize(
    ("kwargs", "flag", "field", "said"),
    [
        ({"jobs": 0}, ["-j", "0"], "jobs", "--jobs must be 1 or more, got 0"),
        ({"jobs": -2}, ["--jobs", "-2"], "jobs", "--jobs must be 1 or more, got -2"),
        ({"image_distance": -3}, ["--image-distance", "-3"], "image_distance", "0 to 64"),
        ({"image_distance": 65}, ["--image-distance", "65"], "image_distance", "got 65"),
        ({"text_threshold": 7.0}, ["--near-dup-threshold", "7"], "near_dup_threshold", "at most 1"),
    ],
)
def test_out_of_range_options_are_refused(
    root: Path,
    cli: Callable[..., Any],
    kwargs: dict[str, Any],
    flag: list[str],
    field: str,
    said: str,
) -> None:
    path = _raw(root) / "a.txt"
    path.write_text(REVIEW, encoding="utf-8")
    with pytest.raises(InputError) as info:
        collect(Project(root), [path], **kwargs)
    assert info.value.field == field and said in info.value.message
    assert not (root / "data" / "manifest.parquet").exists()
    assert said in _err(cli("collect", path, "-p", root, *flag))


# -- 12: a name saved in NFD (macOS) and typed in NFC ------------------------------------------


def _nfd(s: str) -> str:
    return unicodedata.normalize("NFD", s)


def test_resolve_path_finds_the_other_normalisation(tmp_path: Path) -> None:
    folder = tmp_path / _nfd("리뷰")  # a folder in NFD holding a file whose name mixes forms
    folder.mkdir()
    mixed = "상품" + _nfd("후기") + ".txt"
    (folder / mixed).write_text("x", encoding="utf-8")
    typed = tmp_path / "리뷰" / "상품후기.txt"
    assert not typed.exists()
    assert resolve_path(typed) == folder / mixed
    assert resolve_path(str(typed)).read_text(encoding="utf-8") == "x"
    missing = tmp_path / "리뷰" / "없음.txt"
    assert resolve_path(missing) == missing  # not found: what was typed, for the error
    assert resolve_path("plain/ascii.txt") == Path("plain/ascii.txt")


def test_nfd_names_typed_in_nfc_are_found(root: Path, cli: Callable[..., Any]) -> None:
    raw = _raw(root)
    nfd_file = raw / _nfd("리뷰모음.jsonl")
    nfd_file.write_text(
        json.dumps({"id": "k1", "text": REVIEW}, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    nfd_dir = raw / _nfd("사진")
    nfd_dir.mkdir()
    (nfd_dir / _nfd("후기.txt")).write_text(REVIEW + " 사진도 좋아요", encoding="utf-8")
    typed = raw / "리뷰모음.jsonl"
    assert not typed.exists()

    result = collect(Project(root), [typed, raw / "사진", f"{raw}/사진/후*.txt"])
    assert result.items == 2
    rows = read_manifest(root)
    assert {r["source_path"] for r in rows} == {
        "data/raw/리뷰모음.jsonl#row=1",
        "data/raw/사진/후기.txt",
    }

    # the CLI: the source, --meta and --project, all typed in NFC
    meta = raw / _nfd("메타.yaml")
    meta.write_text("license: CC-BY-4.0\n", encoding="utf-8")
    moved = root.with_name(_nfd("프로젝트"))
    root.rename(moved)
    typed_root = root.with_name("프로젝트")
    res = cli(
        "collect",
        typed_root / "data/raw/리뷰모음.jsonl",
        "--meta",
        typed_root / "data/raw/메타.yaml",
        "-p",
        typed_root,
        "--json",
    )
    assert res.exit_code == 0, res.output
    assert {r["license"] for r in read_manifest(moved) if "리뷰" in str(r["source_path"])} == {
        "CC-BY-4.0"
    }
