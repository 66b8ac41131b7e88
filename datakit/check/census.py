"""Syntactic accuracy (구문 정확성): a census of every label record against the label schema.

The happy path is a compiled validator (fastjsonschema) run in several processes over
byte ranges of ``labels.jsonl`` (or over groups of per-item JSON files). Only the records
the fast validator rejects are validated again with ``jsonschema``, which gives the
detailed errors and has the last word on validity: the two must agree, and any record on
which they do not is counted in ``CensusResult.disagreements`` (tested to stay zero).

Errors are classed the way AI Hub's 오류목록 are:

* 형식 (format): a value of the wrong type, outside its range or enum, not matching a pattern;
* 구조 (structure): a missing or extra key, an object or array where a value belongs (nesting);
* 파일 (file): unreadable or not UTF-8, not JSON, or a label not paired with a collected item.

Pure functions over files and an ``id → status`` map, no project needed: a later engine can
reuse :func:`validate_lines` / :func:`classify` on its own partitions.
"""

from __future__ import annotations

import json
import os
import posixpath
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

ErrorClass = Literal["형식", "구조", "파일"]
ERROR_CLASSES: tuple[ErrorClass, ...] = ("형식", "구조", "파일")
Progress = Callable[[int, int | None], None]

# jsonschema keywords whose failure means the shape of the record is wrong (구조).
_STRUCTURE_KEYWORDS = frozenset(
    {
        "required",
        "additionalProperties",
        "unevaluatedProperties",
        "dependentRequired",
        "dependentSchemas",
        "dependencies",
        "propertyNames",
        "minProperties",
        "maxProperties",
        "prefixItems",
        "unevaluatedItems",
    }
)
CHUNK_BYTES = 4 << 20
# A text value longer than this is not quoted in an error message (jsonschema's messages
# quote the whole value: a 50 MiB text made a 50 MiB message); see RecordError.value.
QUOTED_CHARS = 200
FILES_PER_TASK = 2000
# Below this many records a process pool costs more than it saves.
PARALLEL_MIN_BYTES = 8 << 20
PARALLEL_MIN_FILES = 4000


@dataclass(frozen=True)
class RecordError:
    """One error in one label record: which class, which item, where, which rule."""

    kind: ErrorClass
    file: str  # file as given (labels.jsonl or the per-item JSON file)
    line: int | None  # line in a JSONL file, None for per-item files
    item: str | None  # the record's id, when it has one
    path: str  # JSON path inside the record, "$" for the record itself
    rule: str  # schema keyword (type, enum, required, …) or file rule (json, encoding, unpaired …)
    message: str
    # The whole offending value when the message does not quote it (a text longer than
    # QUOTED_CHARS): the error list keeps it, reports show a clipped copy.
    value: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "file": self.file,
            "line": self.line,
            "item": self.item,
            "path": self.path,
            "rule": self.rule,
            "message": self.message,
            "value": None if self.value is None else clip(self.value),
        }


@dataclass
class Facts:
    """What later indicators need from each record that parsed to an object with an id,
    kept as columns (cheap to send between processes) so the labels are parsed once.
    ``facets[i]`` holds the values of ``CensusOptions.facet_fields`` (``None`` when absent)."""

    items: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    lines: list[int | None] = field(default_factory=list)
    schema_valid: list[bool] = field(default_factory=list)
    facets: list[tuple[Any, ...]] = field(default_factory=list)

    def add(
        self, item: str, file: str, line: int | None, valid: bool, facets: tuple[Any, ...]
    ) -> None:
        self.items.append(item)
        self.files.append(file)
        self.lines.append(line)
        self.schema_valid.append(valid)
        self.facets.append(facets)

    def extend(self, other: Facts) -> None:
        self.items.extend(other.items)
        self.files.extend(other.files)
        self.lines.extend(other.lines)
        self.schema_valid.extend(other.schema_valid)
        self.facets.extend(other.facets)

    def __len__(self) -> int:
        return len(self.items)


@dataclass
class CensusResult:
    """Every record counted once; a record is valid when it has no error of any class."""

    records: int = 0
    valid: int = 0
    errors: list[RecordError] = field(default_factory=list)
    disagreements: int = 0  # fast validator rejected, jsonschema accepted (must stay 0)
    # every record that parsed to an object with an id, in file order
    facts: Facts = field(default_factory=Facts)

    @property
    def rate(self) -> float | None:
        return None if self.records == 0 else self.valid / self.records

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = dict.fromkeys(ERROR_CLASSES, 0)
        for e in self.errors:
            out[e.kind] += 1
        return out

    def merge(self, other: CensusResult) -> None:
        self.records += other.records
        self.valid += other.valid
        self.errors.extend(other.errors)
        self.disagreements += other.disagreements
        self.facts.extend(other.facts)


# -- classification -----------------------------------------------------------------------


def _type_is_structural(err: Any) -> bool:
    expected = err.validator_value
    names = set(expected if isinstance(expected, list) else [expected])
    return bool(names & {"object", "array"}) or isinstance(err.instance, dict | list)


def _leaf(err: Any) -> Any:
    """For anyOf/oneOf (nullable wrappers) the most relevant inner error."""
    from jsonschema.exceptions import best_match

    while err.validator in ("anyOf", "oneOf") and err.context:
        inner = best_match(err.context)
        if inner is None:
            break
        err = inner
    return err


def classify(err: Any, file: str, line: int | None, item: str | None) -> list[RecordError]:
    """RecordErrors for one jsonschema ValidationError (one per missing or extra key)."""
    err = _leaf(err)
    path = err.json_path
    keyword = str(err.validator)
    if keyword == "required":
        instance = err.instance if isinstance(err.instance, dict) else {}
        missing = [k for k in err.validator_value if k not in instance and repr(k) in err.message]
        return [
            RecordError("구조", file, line, item, _join(path, k), "required", f"missing key {k!r}")
            for k in missing[:1] or ["?"]
        ]
    if keyword == "additionalProperties" and isinstance(err.instance, dict):
        known = set(err.schema.get("properties", {}))
        extra = [k for k in err.instance if k not in known]
        return [
            RecordError("구조", file, line, item, _join(path, k), "additionalProperties",
                        f"unexpected key {k!r}")
            for k in extra
        ]  # fmt: skip
    if keyword in _STRUCTURE_KEYWORDS or (keyword == "type" and _type_is_structural(err)):
        return [RecordError("구조", file, line, item, path, keyword, _short(err.message))]
    if isinstance(err.instance, str) and len(err.instance) > QUOTED_CHARS:
        return [RecordError("형식", file, line, item, path, keyword, _long_text(err), err.instance)]
    return [RecordError("형식", file, line, item, path, keyword, _short(err.message))]


def _long_text(err: Any) -> str:
    """The message for a text too long to quote: its length and the rule it breaks."""
    n = len(err.instance)
    bound = err.validator_value
    if err.validator == "maxLength":
        return f"text of {n:,} characters is longer than the field's maxLength {bound:,}"
    if err.validator == "minLength":
        return f"text of {n:,} characters is shorter than the field's minLength {bound:,}"
    return f"text of {n:,} characters fails {err.validator} {clip(repr(bound), 100)}"


def clip(text: str, limit: int = QUOTED_CHARS) -> str:
    """``text``, or its start and its length when it is longer than ``limit`` (for reports)."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text):,} characters)"


def _join(path: str, key: str) -> str:
    return (
        f"{path}.{key}" if key.isidentifier() else f"{path}[{json.dumps(key, ensure_ascii=False)}]"
    )


def _short(message: str, limit: int = 300) -> str:
    return message if len(message) <= limit else message[: limit - 1] + "…"


# -- per-process validators -----------------------------------------------------------------

_VALIDATORS: dict[str, tuple[Callable[[Any], Any], Any]] = {}


def _validators(schema_text: str) -> tuple[Callable[[Any], Any], Any]:
    """(fast validate function, jsonschema validator), compiled once per process."""
    cached = _VALIDATORS.get(schema_text)
    if cached is None:
        import fastjsonschema
        import jsonschema

        schema = json.loads(schema_text)
        # Formats off on both sides: the generated schema pairs every format with a
        # pattern, and the two libraries disagree on some formats.
        fast = fastjsonschema.compile(schema, use_formats=False)
        cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        cached = (fast, cls(schema))
        _VALIDATORS[schema_text] = cached
    return cached


@dataclass(frozen=True)
class CensusOptions:
    """What each worker needs besides the data: the schema and which fields to keep."""

    schema_text: str
    facet_fields: tuple[str, ...] = ()


def validate_record(
    record: Any, opts: CensusOptions, file: str, line: int | None
) -> tuple[str | None, list[RecordError], bool]:
    """(item id, errors, disagreement) for one parsed record."""
    import fastjsonschema

    fast, slow = _validators(opts.schema_text)
    item = record.get("id") if isinstance(record, dict) else None
    item = item if isinstance(item, str) else None
    try:
        fast(record)
        return item, [], False
    except fastjsonschema.JsonSchemaException:
        pass
    errors: list[RecordError] = []
    for err in slow.iter_errors(record):
        errors.extend(classify(err, file, line, item))
    return item, errors, not errors


def _loads() -> Callable[[bytes | str], Any]:
    try:
        import orjson
    except ImportError:  # pragma: no cover - orjson is a dependency; json is the fallback
        return json.loads
    return orjson.loads


def _unparsable(raw: bytes, file: str, line: int | None, item: str | None) -> RecordError:
    """The 파일 error for bytes that did not parse: bad encoding or not JSON."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return RecordError("파일", file, line, item, "$", "encoding", f"not UTF-8: {exc.reason}")
    try:
        json.loads(text)
    except ValueError as exc:
        return RecordError("파일", file, line, item, "$", "json", f"not JSON: {exc}")
    return RecordError(
        "파일", file, line, item, "$", "json", "not JSON (NaN or out-of-range number)"
    )


def _facets(record: Any, fields: Sequence[str]) -> tuple[Any, ...]:
    if not fields or not isinstance(record, dict):
        return ()
    return tuple(record.get(f) for f in fields)


def validate_lines(
    lines: Iterable[bytes], first_line: int, opts: CensusOptions, file: str
) -> CensusResult:
    """Validate JSON lines (bytes). Blank lines are skipped, like ``iter_label_records``."""
    import fastjsonschema

    fast, _ = _validators(opts.schema_text)
    fast_error = fastjsonschema.JsonSchemaException
    fields = opts.facet_fields
    out = CensusResult()
    loads = _loads()
    add = out.facts.add
    f = out.facts
    # Bound appends: this loop runs once per record, millions of times.
    add_item, add_file, add_line = f.items.append, f.files.append, f.lines.append
    add_valid, add_facets = f.schema_valid.append, f.facets.append
    getters: list[Callable[[dict[str, Any]], Any]] = [
        (lambda r, k=k: r.get(k))  # type: ignore[misc]
        for k in fields
    ]
    single = fields[0] if len(fields) == 1 else None
    records = valid = 0
    for n, raw in enumerate(lines, first_line):
        if not raw or raw.isspace():
            continue
        records += 1
        try:
            record = loads(raw)
        except ValueError:
            out.errors.append(_unparsable(raw, file, n, None))
            continue
        try:
            fast(record)
        except fast_error:
            item, errors, disagreed = validate_record(record, opts, file, n)
            out.disagreements += disagreed
            out.errors.extend(errors)
            if not errors:
                valid += 1
            if item is not None:
                add(item, file, n, not errors, _facets(record, fields))
            continue
        valid += 1
        item = record.get("id")
        if item.__class__ is str:
            add_item(item)
            add_file(file)
            add_line(n)
            add_valid(True)
            if single is not None:
                add_facets((record.get(single),))
            else:
                add_facets(tuple(g(record) for g in getters) if getters else ())
    out.records += records
    out.valid += valid
    return out


def _jsonl_chunk(
    path: str, start: int, end: int, first_line: int, opts: CensusOptions, file: str
) -> CensusResult:
    with open(path, "rb") as fh:  # noqa: PTH123 - hot path in worker processes
        fh.seek(start)
        data = fh.read(end - start)
    return validate_lines(data.split(b"\n"), first_line, opts, file)


def _chunks(path: Path, chunk_bytes: int) -> list[tuple[int, int, int]]:
    """(start, end, first line number) of newline-aligned byte ranges of the file."""
    out: list[tuple[int, int, int]] = []
    line = 1
    with path.open("rb") as fh:
        start = 0
        while True:
            data = fh.read(chunk_bytes)
            if not data:
                break
            data += fh.readline()  # finish the line the chunk cut
            out.append((start, start + len(data), line))
            line += data.count(b"\n")
            start += len(data)
    return out


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def _executor(workers: int) -> Executor:
    import multiprocessing

    ctx = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
    return ProcessPoolExecutor(max_workers=workers, mp_context=ctx)


def census_jsonl(
    path: str | Path,
    schema: Mapping[str, Any],
    *,
    file: str | None = None,
    facet_fields: Sequence[str] = (),
    workers: int | None = None,
    chunk_bytes: int = CHUNK_BYTES,
    progress: Progress | None = None,
) -> CensusResult:
    """Validate every line of a JSONL file. Line numbers in errors are 1-based file lines."""
    path = Path(path)
    opts = CensusOptions(json.dumps(schema, sort_keys=True), tuple(facet_fields))
    name = file or path.name
    ranges = _chunks(path, chunk_bytes)
    total = path.stat().st_size
    workers = workers or default_workers()
    out = CensusResult()
    if workers <= 1 or total < PARALLEL_MIN_BYTES or len(ranges) < 2:
        for a, b, first in ranges:
            out.merge(_jsonl_chunk(str(path), a, b, first, opts, name))
            if progress is not None:
                progress(b, total)
        return out
    with _executor(workers) as pool:
        futures = [pool.submit(_jsonl_chunk, str(path), a, b, n, opts, name) for a, b, n in ranges]
        for fut, (_, b, _) in zip(futures, ranges, strict=True):
            out.merge(fut.result())
            if progress is not None:
                progress(b, total)
    return out


# -- per-item JSON files ----------------------------------------------------------------------


def _read_file(path: str) -> bytes:
    """Whole file via raw file descriptors: half the overhead of ``open()`` for small files."""
    fd = os.open(path, os.O_RDONLY)
    try:
        parts = []
        while chunk := os.read(fd, 1 << 16):
            parts.append(chunk)
    finally:
        os.close(fd)
    return b"".join(parts)


def _stem(name: str) -> str:
    return posixpath.splitext(posixpath.basename(name))[0]


def census_file_group(
    paths: Sequence[str], names: Sequence[str], opts: CensusOptions
) -> CensusResult:
    """The census of one group of per-item label files (``names`` in the errors): a task of
    :func:`census_files`' process pool, and of the Spark engine's executors."""
    import fastjsonschema

    fast, _ = _validators(opts.schema_text)
    fast_error = fastjsonschema.JsonSchemaException
    fields = opts.facet_fields
    out = CensusResult()
    loads = _loads()
    for path, name in zip(paths, names, strict=True):
        out.records += 1
        try:
            raw = _read_file(path)
        except OSError as exc:
            out.errors.append(
                RecordError("파일", name, None, _stem(name), "$", "unreadable", str(exc))
            )
            continue
        if raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        try:
            record = loads(raw)
        except ValueError:
            out.errors.append(_unparsable(raw, name, None, _stem(name)))
            continue
        try:
            fast(record)
        except fast_error:
            item, errors, disagreed = validate_record(record, opts, name, None)
            out.disagreements += disagreed
            out.errors.extend(errors)
            out.valid += not errors
            if item is not None:
                out.facts.add(item, name, None, not errors, _facets(record, fields))
            continue
        out.valid += 1
        item = record.get("id")
        if isinstance(item, str):
            out.facts.add(item, name, None, True, _facets(record, fields))
    return out


def census_files(
    files: Sequence[Path],
    schema: Mapping[str, Any],
    *,
    names: Sequence[str] | None = None,
    facet_fields: Sequence[str] = (),
    workers: int | None = None,
    progress: Progress | None = None,
) -> CensusResult:
    """Validate per-item JSON files (one label record each; a UTF-8 BOM is accepted)."""
    opts = CensusOptions(json.dumps(schema, sort_keys=True), tuple(facet_fields))
    paths = [str(f) for f in files]
    labels = list(names) if names is not None else [posixpath.basename(p) for p in paths]
    groups = [
        (paths[i : i + FILES_PER_TASK], labels[i : i + FILES_PER_TASK])
        for i in range(0, len(paths), FILES_PER_TASK)
    ]
    workers = workers or default_workers()
    out = CensusResult()
    done = 0
    if workers <= 1 or len(paths) < PARALLEL_MIN_FILES:
        for p, n in groups:
            out.merge(census_file_group(p, n, opts))
            done += len(p)
            if progress is not None:
                progress(done, len(paths))
        return out
    with _executor(workers) as pool:
        futures = [pool.submit(census_file_group, p, n, opts) for p, n in groups]
        for fut, (p, _) in zip(futures, groups, strict=True):
            out.merge(fut.result())
            done += len(p)
            if progress is not None:
                progress(done, len(paths))
    return out


# -- pairing with the manifest ----------------------------------------------------------------


def pair_with_manifest(
    result: CensusResult,
    statuses: Mapping[str, str],
    *,
    file_names: Mapping[str, str] | None = None,
    file_name_facet: int | None = None,
) -> None:
    """Add 파일 errors for a label without a collected item, for an item that is not ``ok``,
    for a second label of the same item and (when ``file_names`` is given) for a
    ``file_name`` (facet number ``file_name_facet``) that is not the item's source file name.
    A record counts as valid only when it is paired."""
    seen: set[str] = set()
    f = result.facts
    for i, item in enumerate(f.items):
        expected = got = None
        if file_names is not None and file_name_facet is not None:
            expected = file_names.get(item)
            got = f.facets[i][file_name_facet] if f.facets[i] else None
        problem = pairing_problem(statuses.get(item), item in seen, expected, got)
        seen.add(item)
        if problem is not None:
            path, rule, message = problem
            result.errors.append(
                RecordError("파일", f.files[i], f.lines[i], item, path, rule, message)
            )
            if f.schema_valid[i]:
                result.valid -= 1


def pairing_problem(
    status: str | None, seen: bool, expected_file_name: str | None, file_name: Any
) -> tuple[str, str, str] | None:
    """(path, rule, message) of the 파일 error for one label record, or None when it pairs:
    ``status`` is its item's manifest status (None: no such item), ``seen`` whether an
    earlier record (file order) had the same id; the file names are compared when both are
    given. Shared by every engine, so that they pair records by the same rules."""
    if status is None:
        return ("$.id", "unpaired", "no item with this id in data/manifest.parquet")
    if status != "ok":
        return ("$.id", "unpaired", f"the item's manifest status is {status!r}, not 'ok'")
    if seen:
        return ("$.id", "duplicate", "a second label record for the same item")
    if expected_file_name is not None and file_name is not None and file_name != expected_file_name:
        return (
            "$.file_name",
            "pairing",
            f"file_name {file_name!r} is not the item's source file {expected_file_name!r}",
        )
    return None


def paired_items(result: CensusResult, statuses: Mapping[str, str]) -> dict[str, tuple[Any, ...]]:
    """item id → facets of the first label of each item paired with an ``ok`` item."""
    out: dict[str, tuple[Any, ...]] = {}
    f = result.facts
    for item, facets in zip(f.items, f.facets, strict=True):
        if statuses.get(item) == "ok" and item not in out:
            out[item] = facets
    return out
