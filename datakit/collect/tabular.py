"""Record files (CSV/TSV, JSON, JSONL, Parquet): each row or object becomes an item.

Rows are yielded as ``(row_number, {column: value})``; row numbers are 1-based data rows
(for JSONL: the line number). Bad input — a file that mixes encodings, a row that is not
JSON, a mapping to a column the file does not have — raises :class:`InputError` naming the
file, the row and the field.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

from datakit.collect.sniff import unicode_bom
from datakit.collect.sources import Mapping
from datakit.errors import InputError

_ICONV_HINT = "convert the file to UTF-8, e.g. `iconv -f cp949 -t utf-8 IN > OUT`, and run again"


def text_encoding(data: bytes) -> str:
    """The encoding a text record file is read in: UTF-16/32 when it starts with that
    byte-order mark (Excel's "Unicode text" is UTF-16 LE), else UTF-8 (BOM or not)."""
    bom = unicode_bom(data[:4])
    return bom[0] if bom is not None else "utf-8"


def _decode(data: bytes, file: str, *, header_lines: int) -> str:
    bom = unicode_bom(data[:4])
    if bom is not None:
        enc, skip = bom
        try:
            return data[skip:].decode(enc)
        except UnicodeDecodeError as exc:
            raise InputError(
                f"not valid {enc.upper()} (byte {exc.start + skip}), though it starts with "
                "that byte-order mark",
                file=file,
                hint="save it again as UTF-8 and run again",
            ) from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        row = max(1, line - header_lines)
        mixed = exc.start > 0 and _is_utf8(data[: data.rfind(b"\n", 0, exc.start) + 1])
        what = "the file mixes encodings: " if mixed and exc.start > 0 else ""
        raise InputError(
            f"{what}line {line} is not valid UTF-8 (byte 0x{data[exc.start]:02x})",
            file=file,
            item=f"row {row}",
            hint=_ICONV_HINT,
        ) from exc


def _is_utf8(b: bytes) -> bool:
    try:
        b.decode("utf-8-sig")
    except UnicodeDecodeError:
        return False
    return True


def iter_records(data: bytes, name: str, file: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """Rows of a record file, by its extension (``name``). ``file`` is used in errors."""
    ext = name.lower().rsplit(".", 1)[-1]
    if ext in ("csv", "tsv"):
        yield from _csv(data, file, "\t" if ext == "tsv" else ",")
    elif ext in ("jsonl", "ndjson"):
        yield from _jsonl(data, file)
    elif ext == "json":
        yield from _json(data, file)
    elif ext == "parquet":
        yield from _parquet(data, file)
    else:  # pragma: no cover - callers route only record extensions here
        raise InputError(f"not a record file: .{ext}", file=file)


def _csv(data: bytes, file: str, delimiter: str) -> Iterator[tuple[int, dict[str, Any]]]:
    text = _decode(data, file, header_lines=1)
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for n, row in enumerate(reader, 1):
            if None in row:
                raise InputError(
                    f"has {len(row) - 1 + len(row[None])} cells, the header has {len(row) - 1}",
                    file=file,
                    item=f"row {n}",
                )
            yield n, dict(row)
    except csv.Error as exc:
        raise InputError(f"not valid CSV: {exc}", file=file, item=f"row {reader.line_num}") from exc


def _jsonl(data: bytes, file: str) -> Iterator[tuple[int, dict[str, Any]]]:
    text = _decode(data, file, header_lines=0)
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"not valid JSON: {exc.msg}", file=file, item=f"line {n}") from exc
        if not isinstance(obj, dict):
            raise InputError("each line must be a JSON object", file=file, item=f"line {n}")
        yield n, obj


def _json(data: bytes, file: str) -> Iterator[tuple[int, dict[str, Any]]]:
    text = _decode(data, file, header_lines=0)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc.msg} (line {exc.lineno})", file=file) from exc
    if isinstance(doc, dict):
        lists = [v for v in doc.values() if isinstance(v, list)]
        if len(lists) != 1:
            raise InputError(
                "a JSON record file must be a list of objects, or an object holding one list",
                file=file,
            )
        doc = lists[0]
    if not isinstance(doc, list):
        raise InputError("a JSON record file must be a list of objects", file=file)
    for n, obj in enumerate(doc, 1):
        if not isinstance(obj, dict):
            raise InputError("each record must be a JSON object", file=file, item=f"row {n}")
        yield n, obj


def _parquet(data: bytes, file: str) -> Iterator[tuple[int, dict[str, Any]]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(pa.BufferReader(data))
        n = 0
        for batch in pf.iter_batches(batch_size=10_000):
            for row in batch.to_pylist():
                n += 1
                yield n, row
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"cannot read the Parquet file: {exc}", file=file) from exc


def check_mapping(
    mapping: Mapping, columns: list[str], file: str, *, text_required: bool = True
) -> Mapping:
    """The mapping with defaults filled in; an error for a mapped column the file lacks."""
    resolved = mapping
    if resolved.text is None:
        if "text" not in columns and text_required:
            raise InputError(
                f"no column 'text' (columns: {', '.join(columns)})",
                file=file,
                field="text",
                hint="name the content column with --text-column",
            )
        resolved = Mapping(**{**_fields(resolved), "text": "text"})
    if resolved.id is None and "id" in columns:
        resolved = Mapping(**{**_fields(resolved), "id": "id"})
    for key in ("text", "id", "group", "label", "source", "license", "consent", "date"):
        col = getattr(resolved, key)
        if col is not None and col not in columns:
            raise InputError(
                f"no column {col!r} (columns: {', '.join(columns)})",
                file=file,
                field=col,
                hint=f"check --{key}-column (or mapping.{key} in the sidecar)",
            )
    for col in resolved.attributes:
        if col not in columns:
            raise InputError(
                f"no column {col!r} (columns: {', '.join(columns)})",
                file=file,
                field=col,
                hint="check --attr (or mapping.attributes in the sidecar)",
            )
    return resolved


def _fields(m: Mapping) -> dict[str, Any]:
    return {
        "text": m.text,
        "id": m.id,
        "group": m.group,
        "label": m.label,
        "source": m.source,
        "license": m.license,
        "consent": m.consent,
        "date": m.date,
        "attributes": m.attributes,
    }
