"""The AI Hub release tree (guide §4)::

    aihub/<데이터셋명>/3.개방데이터/1.데이터/
      Training/01.원천데이터/TS_<분류>.zip      source files (text as <id>.txt)
      Training/02.라벨링데이터/TL_<분류>.zip    one label JSON per item (<id>.json)
      Validation/01.원천데이터/VS_<분류>.zip
      Validation/02.라벨링데이터/VL_<분류>.zip

The test split is kept out, as the guide's public releases do. <분류> is the value of the
stratify key (the class for classification), else "전체". Every label JSON is validated
against the project's label schema before it is written. Zip entries carry the release date,
so rebuilding gives identical bytes.
"""

from __future__ import annotations

import json
import unicodedata
import zipfile
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from datakit.errors import ReleaseError
from datakit.io import read_json
from datakit.labels import content_column
from datakit.project import Project
from datakit.spec.model import ProjectSpec

from .shards import is_media

PUBLIC_SPLITS = {"train": ("Training", "TS", "TL"), "validation": ("Validation", "VS", "VL")}
MAX_BUCKETS = 50


def tree_root(spec: ProjectSpec) -> str:
    name = unicodedata.normalize("NFC", spec.dataset.name_ko).replace("/", "_").strip()
    return f"aihub/{name}/3.개방데이터/1.데이터"


def label_validator(project: Project, spec: ProjectSpec) -> Any:
    """Compiled validator of one label record (labeling/label.schema.json, else the spec's)."""
    import fastjsonschema

    path = project.paths.label_schema
    if path.is_file():
        schema = read_json(path)
    else:
        from datakit.labels import label_record_schema

        schema = label_record_schema(spec)
    return fastjsonschema.compile(schema)


def label_record(row: dict[str, Any], spec: ProjectSpec) -> dict[str, Any]:
    """The label record of a release row: field-dictionary fields, no nulls."""
    rec: dict[str, Any] = {}
    media = is_media(spec)
    content = content_column(spec)
    for f in spec.fields:
        if media and f.name == content:
            continue
        v = row.get(f.name)
        if v is None:
            continue
        if f.type in ("spans", "boxes"):
            v = [{k: x for k, x in el.items() if x is not None} for el in v]
        rec[f.name] = v
    return rec


def _bucket(value: Any) -> str:
    if value is None:
        return "기타"
    if isinstance(value, list):
        value = "+".join(str(v) for v in value) or "기타"
    text = unicodedata.normalize("NFC", str(value))
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in text)


def write_aihub_tree(
    project: Project,
    spec: ProjectSpec,
    out: Path,
    shards: dict[str, list[dict[str, Any]]],
    date: str,
) -> list[str]:
    validate = label_validator(project, spec)
    import fastjsonschema

    y, m, d = (int(x) for x in date.split("-"))
    stamp = (max(y, 1980), m, d, 0, 0, 0)
    key = spec.stratify_key
    content = content_column(spec)
    media = is_media(spec)
    written: list[str] = []
    root = out / tree_root(spec)
    for split, (folder, src_prefix, lbl_prefix) in PUBLIC_SPLITS.items():
        if split not in shards:
            continue
        buckets: dict[str, tuple[zipfile.ZipFile, zipfile.ZipFile]] = {}
        seen_values: set[str] = set()
        try:
            for shard in shards[split]:
                pf = pq.ParquetFile(out / shard["path"])
                for batch in pf.iter_batches(batch_size=1024 if not media else 64):
                    for row in batch.to_pylist():
                        rec = label_record(row, spec)
                        try:
                            validate(rec)
                        except fastjsonschema.JsonSchemaValueException as exc:
                            raise ReleaseError(
                                f"item {row['id']}: the label record does not match "
                                f"labeling/label.schema.json ({exc.message})",
                                hint="run `datakit check` and fix the syntactic-accuracy errors",
                            ) from exc
                        value = _bucket(row.get(key)) if key else "전체"
                        seen_values.add(value)
                        if len(seen_values) > MAX_BUCKETS:
                            raise ReleaseError(
                                f"more than {MAX_BUCKETS} values of {key} for the AI Hub zip names",
                                hint="set splits.stratify to a field with fewer values, "
                                "or leave out --layout aihub",
                            )
                        name = value
                        if name not in buckets:
                            src_zip = root / folder / "01.원천데이터" / f"{src_prefix}_{name}.zip"
                            lbl_zip = root / folder / "02.라벨링데이터" / f"{lbl_prefix}_{name}.zip"
                            src_zip.parent.mkdir(parents=True, exist_ok=True)
                            lbl_zip.parent.mkdir(parents=True, exist_ok=True)
                            buckets[name] = (
                                zipfile.ZipFile(src_zip, "w", zipfile.ZIP_DEFLATED),
                                zipfile.ZipFile(lbl_zip, "w", zipfile.ZIP_DEFLATED),
                            )
                            written += [
                                src_zip.relative_to(out).as_posix(),
                                lbl_zip.relative_to(out).as_posix(),
                            ]
                        zs, zl = buckets[name]
                        item = str(row["id"])
                        if media:
                            cell = row.get(content)
                            if isinstance(cell, dict):
                                data = cell.get("bytes") or b""
                                fname = cell.get("path") or item
                            else:  # referenced media: the copied file inside the release
                                data = (out / str(cell)).read_bytes()
                                fname = Path(str(cell)).name
                            _add(zs, fname, data, stamp, zipfile.ZIP_STORED)
                        else:
                            _add(zs, f"{item}.txt", str(row.get(content) or "").encode(), stamp)
                        body = json.dumps(rec, ensure_ascii=False, indent=2) + "\n"
                        _add(zl, f"{item}.json", body.encode(), stamp)
        finally:
            for zs, zl in buckets.values():
                zs.close()
                zl.close()
    return written


def _add(
    z: zipfile.ZipFile,
    name: str,
    data: bytes,
    stamp: tuple[int, ...],
    method: int = zipfile.ZIP_DEFLATED,
) -> None:
    info = zipfile.ZipInfo(unicodedata.normalize("NFC", name), date_time=stamp)  # type: ignore[arg-type]
    info.compress_type = method
    info.external_attr = 0o644 << 16
    z.writestr(info, data)
