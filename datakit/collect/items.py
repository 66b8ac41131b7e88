"""Making manifest rows: one per file, archive member or record. Pure per-item work (hash,
decode, fitness, PII, store the 원천데이터 copy), safe to run in threads and to redo."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datakit.collect.fitness import check_fitness
from datakit.collect.pii import Match, count_kinds, find_pii, mask
from datakit.collect.pseudonym import PseudonymKey, key_fields, pseudonymise
from datakit.collect.sniff import Technical, inspect
from datakit.collect.sources import (
    RECORD_EXTS,
    Entry,
    Limits,
    Mapping,
    SourceOptions,
    format_size,
    iter_archive,
    nfc,
)
from datakit.collect.tabular import check_mapping, iter_records, text_encoding
from datakit.errors import InputError
from datakit.spec.model import ProjectSpec

_BIG = 256 << 20  # files above this are hashed in a stream and not decoded in memory


@dataclass(frozen=True)
class Context:
    """What every item of one source needs to know. Shared read-only by worker threads."""

    spec: ProjectSpec
    options: SourceOptions
    origin_dir: str  # folder under data/source for this source
    source_root: Path  # data/source
    tmp_dir: Path  # same file system; emptied at the start of every run
    project_root: Path
    collected_at: str
    record_files: bool
    pseudonyms: PseudonymKey  # for PII in id, group and split-key values
    link: bool = False  # hard-link unchanged media files instead of copying them
    limits: Limits = field(default_factory=Limits)
    created: set[str] = field(default_factory=set, compare=False)
    source_root_s: str = field(init=False, compare=False)
    tmp_dir_s: str = field(init=False, compare=False)
    key_fields: frozenset[str] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "source_root_s", str(self.source_root))
        object.__setattr__(self, "tmp_dir_s", str(self.tmp_dir))
        object.__setattr__(self, "key_fields", key_fields(self.spec))

    lock: threading.Lock = field(default_factory=threading.Lock, compare=False)


def file_key(path: str | Path) -> str:
    """The stat cache's key of a source file: its absolute NFC path. The same file named
    through another source (folder vs file, another name) is the same file: its items are
    replaced, not doubled."""
    if isinstance(path, str) and path.startswith("/"):
        return nfc(path)
    return nfc(os.path.abspath(path))  # noqa: PTH100 (keeps symlinks, drops ..)


def derived_id(origin: str, rel: str) -> str:
    """The stable id of an item that has no id of its own: 16 hex digits of
    sha256(source name + "/" + NFC path in the source [+ "#row=N"])."""
    return hashlib.sha256(f"{origin}/{rel}".encode()).hexdigest()[:16]


def process_entry(entry: Entry, ctx: Context) -> list[dict[str, Any]]:
    """All manifest rows of one source file (one for media/text, many for archives/records)."""
    if entry.kind == "records":
        ctx.limits.check_record_file(entry.display, entry.size)
        try:
            data = entry.path.read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror}", file=entry.fspath) from exc
        return _records(data, entry.rel, entry.display, entry.path.name, ctx)
    if entry.kind == "archive":
        return _archive(entry, ctx)
    try:
        if entry.size > _BIG:
            return [_item(None, entry.fspath, entry.rel, entry.display, ctx)]
        with open(entry.fspath, "rb") as fh:  # noqa: PTH123
            data = fh.read()
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", file=entry.fspath) from exc
    return [_item(data, None, entry.rel, entry.display, ctx, on_disk=entry.fspath)]


def _is_record(name: str, ctx: Context) -> bool:
    return ctx.record_files and name.rsplit(".", 1)[-1].lower() in RECORD_EXTS


def _archive(entry: Entry, ctx: Context) -> list[dict[str, Any]]:
    """The rows of an archive's members. Sizes are checked before anything is extracted;
    members over ``_BIG`` go through a temporary file, like big files on disk."""
    rows: list[dict[str, Any]] = []
    members = iter_archive(
        entry.path,
        limits=ctx.limits,
        spill_dir=ctx.tmp_dir_s,
        spill_bytes=_BIG,
        is_record=lambda name: _is_record(name, ctx),
        display=entry.display,
    )
    for member in members:
        rel = f"{entry.rel}/{member.name}"
        display = f"{entry.display}!/{member.name}"
        try:
            if member.data is None:
                assert member.spilled is not None  # never a record member (iter_archive)
                rows.append(_item(None, member.spilled, rel, display, ctx))
            elif _is_record(member.name, ctx):
                rows.extend(_records(member.data, rel, display, member.name, ctx))
            else:
                rows.append(_item(member.data, None, rel, display, ctx))
        finally:
            if member.spilled is not None:
                Path(member.spilled).unlink(missing_ok=True)
    return rows


def _pii_scan(ctx: Context, *texts: str | None) -> list[list[Match]]:
    kinds = ctx.spec.pii.detect
    return [find_pii(t, kinds) if t else [] for t in texts]


def _apply_pii(
    row: dict[str, Any], found: dict[str, int], ctx: Context
) -> tuple[bool, dict[str, Any]]:
    """Record PII counts; True when the item must be dropped (quarantined)."""
    if not found:
        return False, row
    action = ctx.spec.pii.action
    row["pii"] = json.dumps(found, ensure_ascii=False, sort_keys=True)
    row["pii_action"] = action
    if action == "drop":
        kinds = ", ".join(f"{k}={n}" for k, n in found.items())
        row["status"] = "quarantined"
        row["reason"] = f"pii.found: {kinds}"
        row["text"] = None
        return True, row
    return False, row


def _merge_counts(*ms: list[Match]) -> dict[str, int]:
    out: dict[str, int] = {}
    for m in ms:
        for k, n in count_kinds(m).items():
            out[k] = out.get(k, 0) + n
    return out


def _key_value(
    value: str, column: str, ctx: Context, done: dict[str, str]
) -> tuple[str, list[Match]]:
    """A value of an id, group or split-key column: pseudonymised, never masked, when it holds
    PII (a mask would make every such value the same key). ``done`` gets ``{column: kind}``."""
    key = ctx.pseudonyms if ctx.spec.pii.action != "flag" else None
    new, found = pseudonymise(value, ctx.spec.pii.detect, key)
    if found and key is not None:
        done[column] = found[0].kind
    return new, found


def _note_pseudonyms(row: dict[str, Any], done: dict[str, str], ctx: Context) -> None:
    """Private row keys (not manifest columns): what was pseudonymised, for the summary, and
    which key did it, for the cache's same-key check."""
    if done:
        row["_pseudonyms"] = done
        row["_pseudonym_key"] = ctx.pseudonyms.key_id


def _mask_attrs(
    attrs: dict[str, Any], ctx: Context, done: dict[str, str]
) -> tuple[dict[str, Any], list[Match]]:
    found: list[Match] = []
    out: dict[str, Any] = {}
    for k, v in attrs.items():
        if k in ctx.key_fields and isinstance(v, str | int) and not isinstance(v, bool):
            new, ms = _key_value(str(v), f"attributes.{k}", ctx, done)
            found.extend(ms)
            out[k] = v if new == str(v) else new  # an int key stays an int unless replaced
        elif isinstance(v, str) and v:
            ms = find_pii(v, ctx.spec.pii.detect)
            found.extend(ms)
            hide = ms and ctx.spec.pii.action != "flag"  # a dropped item's row keeps them too
            out[k] = mask(v, ms, ctx.spec.pii) if hide else v
        else:
            out[k] = v
    return out, found


def _base_row(item_id: str, source_path: str, ctx: Context) -> dict[str, Any]:
    o = ctx.options
    return {
        "id": item_id,
        "source_path": source_path,
        "stored_path": None,
        "text": None,
        "source": o.name,
        "license": o.license,
        "consent": o.consent,
        "collection_date": o.collection_date,
        "collected_at": ctx.collected_at,
        "status": "ok",
        "reason": None,
        "duplicate_of": None,
        "near_dup_cluster": None,
        "group": None,
        "intake_label": None,
        "attributes": None,
        "pii": None,
        "pii_action": None,
    }


def _tech_fields(row: dict[str, Any], tech: Technical) -> None:
    for k in (
        "media_type",
        "width",
        "height",
        "mode",
        "sample_rate",
        "channels",
        "duration",
        "text_length",
        "encoding",
    ):
        row[k] = getattr(tech, k)


def _item(
    data: bytes | None,
    path: str | None,
    rel: str,
    display: str,
    ctx: Context,
    on_disk: str | None = None,
) -> dict[str, Any]:
    """The row of one media/text file (``data`` in memory, or a big file at ``path``)."""
    origin = ctx.options.name
    meta = ctx.options.files.get(rel) or ctx.options.files.get(rel.rsplit("/", 1)[-1]) or {}
    if data is not None:
        sha = hashlib.sha256(data).hexdigest()
        size = len(data)
        tech = inspect(
            data, want_phash=ctx.spec.data.type == "image", path=Path(on_disk) if on_disk else None
        )
    else:
        assert path is not None
        sha, size, head = _stream_hash(Path(path))
        from datakit.collect.sniff import sniff_media_type

        tech = Technical(media_type=sniff_media_type(head))
        if tech.media_type.startswith(("text/", "image/")):  # these are only read whole
            tech.problem = (
                f"file.too_large: {format_size(size)} of {tech.media_type} is over the "
                f"{format_size(_BIG)} datakit decodes at once (split it into smaller files)"
            )
    row = _base_row(derived_id(origin, rel), display, ctx)
    row["sha256"] = sha
    row["size"] = size
    _tech_fields(row, tech)
    row["_phash"] = tech.phash
    label = meta.get("label")
    if label is None and ctx.options.label_from_folder and "/" in rel:
        label = rel.rsplit("/", 2)[-2]
    row["intake_label"] = nfc(str(label)) if label is not None else None
    row["group"] = str(meta["group"]) if meta.get("group") is not None else None
    for k in ("license", "consent", "collection_date"):
        if meta.get(k) is not None:
            row[k] = str(meta[k])
    attrs = {**ctx.options.attributes, **(meta.get("attributes") or {})}
    pseudonymised: dict[str, str] = {}
    attrs, attr_found = _mask_attrs(attrs, ctx, pseudonymised)
    row["attributes"] = json.dumps(attrs, ensure_ascii=False, sort_keys=True) if attrs else None
    group_found: list[Match] = []
    if row["group"]:
        row["group"], group_found = _key_value(row["group"], "group", ctx, pseudonymised)
    _note_pseudonyms(row, pseudonymised, ctx)

    name_found, text_found = _pii_scan(ctx, rel, tech.text)
    policy = ctx.spec.pii
    masking = policy.action in ("mask", "drop")
    stored_rel = mask(rel, name_found, policy) if name_found and masking else rel
    if name_found and masking:
        row["source_path"] = mask(display, find_pii(display, policy.detect), policy)
    text = tech.text
    if text is not None and text_found and policy.action == "mask":
        text = mask(text, text_found, policy)
    row["text"] = text
    reason = check_fitness(tech, ctx.spec.data)
    if reason:
        row["status"] = "quarantined"
        row["reason"] = reason
    found_any = name_found or text_found or group_found or attr_found
    counts = _merge_counts(name_found, text_found, group_found, attr_found) if found_any else {}
    dropped, row = _apply_pii(row, counts, ctx)
    if row["status"] == "ok" and not dropped:
        target = f"{ctx.origin_dir}/{stored_rel}"
        disk = on_disk or path
        if text is not None:
            _store(ctx, target, text.encode("utf-8"))
        elif ctx.link and disk is not None and _link(ctx, target, disk):
            pass
        elif data is not None:
            _store(ctx, target, data)
        else:
            assert path is not None
            _store_copy(ctx, target, path)
        row["stored_path"] = f"data/source/{target}"
    return row


def _stream_hash(path: Path) -> tuple[str, int, bytes]:
    h = hashlib.sha256()
    size = 0
    head = b""
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 22):
            if not head:
                head = chunk[:512]
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size, head


# String paths on the per-file path: pathlib's parsing cost more than the system calls.


def _target_path(ctx: Context, target: str) -> str:
    dest = os.path.join(ctx.source_root_s, target)  # noqa: PTH118
    parent = os.path.dirname(dest)  # noqa: PTH120
    if parent not in ctx.created:
        os.makedirs(parent, exist_ok=True)  # noqa: PTH103
        with ctx.lock:
            ctx.created.add(parent)
    return dest


def _tmp_name(ctx: Context) -> str:
    return os.path.join(ctx.tmp_dir_s, f"{os.getpid()}.{threading.get_ident()}.tmp")  # noqa: PTH118


def _store(ctx: Context, target: str, data: bytes) -> None:
    """Write a 원천데이터 file: temporary name + rename (a killed run leaves no half file)."""
    dest = _target_path(ctx, target)
    tmp = _tmp_name(ctx)
    with open(tmp, "wb") as fh:  # noqa: PTH123
        fh.write(data)
    _move(tmp, dest)


def _link(ctx: Context, target: str, source: str) -> bool:
    """Hard-link ``source`` as the stored file; False when the file system will not."""
    dest = _target_path(ctx, target)
    tmp = _tmp_name(ctx)
    try:
        try:
            os.link(source, tmp)
        except FileExistsError:
            os.unlink(tmp)  # noqa: PTH108
            os.link(source, tmp)
    except OSError:
        return False
    _move(tmp, dest)
    return True


def _store_copy(ctx: Context, target: str, path: str) -> None:
    dest = _target_path(ctx, target)
    tmp = _tmp_name(ctx)
    shutil.copyfile(path, tmp)
    _move(tmp, dest)


def _move(tmp: str, dest: str) -> None:
    try:
        os.replace(tmp, dest)  # noqa: PTH105
    except OSError as exc:  # data/ on another file system than .datakit/
        if exc.errno != errno.EXDEV:
            raise
        near = dest + ".tmp"
        shutil.move(tmp, near)
        os.replace(near, dest)  # noqa: PTH105


# -- records ---------------------------------------------------------------------------------


def _scalars(rec: dict[str, Any], mapping: Mapping, file: str, n: int) -> None:
    """A mapped column (text, id, group, label…) must hold one value: a list or an object
    would become the text "['…']". Attributes may hold anything JSON can."""
    for key in ("text", "id", "group", "label", "source", "license", "consent", "date"):
        col = getattr(mapping, key)
        v = rec.get(col) if col is not None else None
        if isinstance(v, list | tuple | dict | bytes | bytearray):
            what = (
                "binary data"
                if isinstance(v, bytes | bytearray)
                else ("JSON object" if isinstance(v, dict) else "list")
            )
            shown = (
                ""
                if isinstance(v, bytes | bytearray)
                else f": {json.dumps(v, ensure_ascii=False, default=str)[:60]}"
            )
            raise InputError(
                f"the {key} column holds a {what}, not a single value{shown}",
                file=file,
                item=f"row {n}",
                field=col,
                hint=f"map {key} to a column of text or numbers; keep lists as attributes "
                "(--attr), which are stored as JSON",
            )


def _records(data: bytes, rel: str, display: str, name: str, ctx: Context) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    mapping: Mapping | None = None
    policy = ctx.spec.pii
    kinds = policy.detect
    file_label = display
    encoding = "utf-8" if name.lower().endswith(".parquet") else text_encoding(data)
    for n, rec in iter_records(data, name, file_label):
        if mapping is None:
            mapping = check_mapping(ctx.options.mapping, list(rec), file_label)
        assert mapping.text is not None
        _scalars(rec, mapping, file_label, n)
        if mapping.id is not None:
            raw_id = rec.get(mapping.id)
            if raw_id is None or str(raw_id).strip() == "":
                raise InputError(
                    "the id is empty", file=file_label, item=f"row {n}", field=mapping.id
                )
            item_id = nfc(str(raw_id).strip())
            if item_id in seen:
                raise InputError(
                    f"id {item_id!r} repeats row {seen[item_id]}",
                    file=file_label,
                    item=f"row {n}",
                    field=mapping.id,
                )
            seen[item_id] = n
        else:
            item_id = derived_id(ctx.options.name, f"{rel}#row={n}")
        pseudonymised: dict[str, str] = {}
        id_found: list[Match] = []
        if mapping.id is not None:
            item_id, id_found = _key_value(item_id, "id", ctx, pseudonymised)
        value = rec.get(mapping.text)
        content = "" if value is None else nfc(value if isinstance(value, str) else str(value))
        raw = content.encode("utf-8")
        row = _base_row(item_id, f"{display}#row={n}", ctx)
        row["_own_id"] = mapping.id is not None
        row["sha256"] = hashlib.sha256(raw).hexdigest()
        row["size"] = len(raw)
        tech = Technical(
            media_type="text/plain", text_length=len(content), encoding=encoding, text=content
        )
        _tech_fields(row, tech)
        row["_phash"] = None
        for key, col in (
            ("source", mapping.source),
            ("license", mapping.license),
            ("consent", mapping.consent),
            ("collection_date", mapping.date),
        ):
            if col is not None and rec.get(col) not in (None, ""):
                row[key] = nfc(str(rec[col]))
        if mapping.label is not None and rec.get(mapping.label) not in (None, ""):
            row["intake_label"] = nfc(str(rec[mapping.label]))
        group = rec.get(mapping.group) if mapping.group else None
        group_s = nfc(str(group)) if group not in (None, "") else None
        attrs: dict[str, Any] = dict(ctx.options.attributes)
        for col in mapping.attributes:
            v = rec.get(col)
            attrs[col] = nfc(v) if isinstance(v, str) else v
        attrs, attr_found = _mask_attrs(attrs, ctx, pseudonymised)
        row["attributes"] = json.dumps(attrs, ensure_ascii=False, sort_keys=True) if attrs else None
        text_found = find_pii(content, kinds)
        group_found: list[Match] = []
        if group_s:
            group_s, group_found = _key_value(group_s, "group", ctx, pseudonymised)
        if policy.action == "mask" and text_found:
            content = mask(content, text_found, policy)
        row["group"] = group_s
        _note_pseudonyms(row, pseudonymised, ctx)
        row["text"] = content
        reason = (
            "text.missing: no value"
            if value is None
            else check_fitness(tech, ctx.spec.data, record=True)
        )
        if reason:
            row["status"] = "quarantined"
            row["reason"] = reason
        _apply_pii(row, _merge_counts(id_found, text_found, group_found, attr_found), ctx)
        rows.append(row)
    return rows
