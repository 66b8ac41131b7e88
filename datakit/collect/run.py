"""``collect()``: sources in, ``data/manifest.parquet`` and ``data/source/`` out.

1. Expand every source into files; a file whose (size, mtime, processing fingerprint) is in
   the stat cache is not read again.
2. New and changed files are processed in a thread pool (hashlib, Pillow and libsndfile
   release the GIL) and committed to the cache in small atomic batches.
3. The manifest is rebuilt from the cache — every item ever collected — with exact
   duplicates and near-duplicate clusters worked out over all of it, and written
   atomically. When nothing changed since the last build, nothing is written.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from datakit.collect import dedup
from datakit.collect.cache import CollectCache
from datakit.collect.items import Context, file_key, process_entry
from datakit.collect.pseudonym import PseudonymKey, check_key
from datakit.collect.sources import (
    Entry,
    Limits,
    Mapping,
    Source,
    expand_source,
    is_glob,
    nfc,
    resolve_options,
)
from datakit.errors import InputError
from datakit.io import resolve_path, sha256_text
from datakit.project import Project
from datakit.spec.model import NearDuplicateSettings

Progress = Callable[[int, int | None], None]
# Bump when per-item processing changes, so cached rows are made again.
# 2: PII in id, group and split-key values is pseudonymised
# 3: UTF-16/32 text with a BOM is transcoded (it was sniffed as MP3); big text: file.too_large
PROCESS_VERSION = 3
_COMMIT_EVERY = 256
_COMMIT_SECONDS = 1.0


@dataclass
class CollectResult:
    """What a collect run did (this run) and what the manifest now holds (all runs)."""

    manifest: str
    sources: list[str]
    files_scanned: int = 0
    files_read: int = 0  # new or changed files read in this run
    files_unchanged: int = 0  # skipped thanks to the stat cache
    items_made: int = 0  # items (re)made in this run
    manifest_written: bool = False
    items: int = 0
    ok: int = 0
    duplicates: int = 0
    quarantined: int = 0
    quarantined_by_reason: dict[str, int] = field(default_factory=dict)
    near_dup_clusters: int = 0
    near_dup_items: int = 0
    pii_by_kind: dict[str, int] = field(default_factory=dict)
    pii_items: int = 0
    # values replaced by a pseudonym (가명처리), {column: {kind: n}}, e.g. {"group": {"phone": 3}}
    pii_pseudonymised: dict[str, dict[str, int]] = field(default_factory=dict)
    # where this run's pseudonym key came from (never the key); None when none was needed
    pseudonym_key: str | None = None
    by_source: dict[str, int] = field(default_factory=dict)
    bytes: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _fingerprint(project: Project, source: Source) -> str:
    raw = project.spec.raw
    return sha256_text(
        json.dumps(
            {
                "v": PROCESS_VERSION,
                "data": raw.get("data"),
                "pii": raw.get("pii"),
                "options": source.options.fingerprint_data(),
            },
            ensure_ascii=False,
            sort_keys=True,
            default=str,
        )
    )[:16]


def _without_outputs(src: Source, project: Project) -> Source:
    """A source must not feed datakit's own outputs back in (``datakit collect data``)."""
    outputs = [
        str(p.resolve())
        for p in (project.paths.source, project.paths.quarantine, project.paths.state)
    ]
    manifest = str(project.paths.manifest.resolve())
    root = str(src.root.resolve())
    for out in outputs:
        if root == out or root.startswith(out + os.sep):
            raise InputError(
                "this is where datakit writes its own output, not a source",
                file=src.spec,
                hint="collect from data/raw (or anywhere outside data/source and .datakit)",
            )

    if not any(o.startswith(root + os.sep) for o in [*outputs, manifest]):
        return src  # the usual case: no per-file checks

    def inside(e: Entry) -> bool:
        real = os.path.realpath(e.fspath)
        return real == manifest or any(real.startswith(o + os.sep) for o in outputs)

    entries = [e for e in src.entries if not inside(e)]
    if len(entries) == len(src.entries):
        return src
    return Source(src.spec, src.root, src.options, entries)


def _origin_dir(name: str) -> str:
    safe = nfc(name).replace("/", "_").replace("\\", "_").replace("\x00", "").strip(". ")
    return safe or "source"


def collect(
    project: Project,
    sources: Sequence[str | Path],
    *,
    source_name: str | None = None,
    license: str | None = None,
    consent: str | None = None,
    collection_date: str | None = None,
    mapping: Mapping | None = None,
    label_from_folder: bool | None = None,
    meta_file: Path | None = None,
    jobs: int | None = None,
    link: bool = False,
    text_threshold: float | None = None,
    text_min_length: int | None = None,
    image_distance: int = dedup.DEFAULT_IMAGE_DISTANCE,
    limits: Limits | None = None,
    progress: Progress | None = None,
) -> CollectResult:
    """Collect ``sources`` (files, folders, globs, archives, record files) into the project.

    ``link=True`` hard-links media files that are stored unchanged into ``data/source``
    instead of copying them (same file system only; raw files must then not be edited in
    place). Text is always written, since it is stored de-identified.

    ``text_threshold`` and ``text_min_length`` override the spec's
    ``collect.near_duplicates`` (see :func:`datakit.collect.dedup.near_duplicate_texts`).
    ``limits`` bound what is read of archives and record files (:class:`Limits`).

    Paths are looked up as typed, then in the other Unicode normalisation (NFC/NFD).
    """
    t0 = time.perf_counter()
    spec = project.spec
    if not sources:
        raise InputError("no sources given", hint="e.g. `datakit collect data/raw`")
    near_dup = _near_dup_settings(project, text_threshold, text_min_length)
    _check_options(jobs, image_distance)
    limits = limits if limits is not None else Limits()
    if meta_file is not None:
        meta_file = resolve_path(meta_file)
    record_files = spec.data.type in ("text", "tabular")
    expanded: list[Source] = []
    for s in sources:
        target = Path(s) if is_glob(str(s)) else resolve_path(s)  # NFC typed, NFD on disk
        opts = resolve_options(
            target,
            name=source_name,
            license=license,
            consent=consent,
            collection_date=collection_date,
            mapping=mapping,
            label_from_folder=label_from_folder,
            meta_file=meta_file,
        )
        src = expand_source(str(target), opts, project.root, record_files=record_files)
        expanded.append(_without_outputs(src, project))

    collected_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    state = project.paths.state / "collect"
    cache = CollectCache(state / "cache.sqlite")
    tmp_dir = state / "tmp"
    if tmp_dir.is_dir():  # half-written files of a killed run
        for stale in tmp_dir.iterdir():
            stale.unlink(missing_ok=True)
    tmp_dir.mkdir(parents=True, exist_ok=True)
    try:
        cache.rebase(file_key(project.root))
        states = cache.file_states()
        pseudonyms = PseudonymKey.for_project(spec, project.paths.state)
        work: list[tuple[Entry, Context, str, str]] = []
        scanned = 0
        seen: set[str] = set()
        for src in expanded:
            fp = _fingerprint(project, src)
            ctx = Context(
                spec=spec,
                options=src.options,
                origin_dir=_origin_dir(src.options.name),
                source_root=project.paths.source,
                tmp_dir=tmp_dir,
                project_root=project.root,
                collected_at=collected_at,
                record_files=record_files,
                pseudonyms=pseudonyms,
                link=link,
                limits=limits,
            )
            for e in src.entries:
                scanned += 1
                key = file_key(e.fspath)
                if key in seen:  # named twice (overlapping sources): the first naming wins
                    scanned -= 1
                    continue
                seen.add(key)
                if states.get(key) != (e.size, e.mtime_ns, fp):
                    work.append((e, ctx, key, fp))
        result = CollectResult(
            manifest=project.paths.rel(project.paths.manifest),
            sources=[str(s) for s in sources],
            files_scanned=scanned,
            files_read=len(work),
            files_unchanged=scanned - len(work),
        )
        del states, expanded, seen  # the file lists are not needed any more
        if work:
            check_key(cache.get("pseudonym_key"), pseudonyms)
            result.items_made = _process(cache, work, jobs, progress)
            if pseudonyms.used:
                new = " (new)" if pseudonyms.generated else ""
                result.pseudonym_key = pseudonyms.source + new
        elif progress:
            progress(0, 0)
        del work
        _finish(project, cache, result, near_dup, image_distance)
    finally:
        cache.close()
    result.seconds = round(time.perf_counter() - t0, 3)
    project.record_stage("collect", result.to_dict())
    return result


Done = tuple[str, int, int, str, list[dict[str, Any]]]  # key, size, mtime_ns, fp, rows
Work = tuple[Entry, Context, str, str]  # entry, context, key, fp


def _run_chunk(chunk: list[Work]) -> tuple[list[Done], BaseException | None]:
    """Process a few files; what finished before an error is returned with the error."""
    done: list[Done] = []
    for e, ctx, key, fp in chunk:
        try:
            rows = process_entry(e, ctx)
        except Exception as exc:
            return done, exc
        done.append((key, e.size, e.mtime_ns, fp, rows))
    return done, None


def _chunks(work: list[Work], max_files: int = 32, max_bytes: int = 8 << 20) -> list[list[Work]]:
    out: list[list[Work]] = []
    cur: list[Work] = []
    size = 0
    for w in work:
        cur.append(w)
        size += w[0].size
        if len(cur) >= max_files or size >= max_bytes:
            out.append(cur)
            cur, size = [], 0
    if cur:
        out.append(cur)
    return out


def _process(
    cache: CollectCache,
    work: list[Work],
    jobs: int | None,
    progress: Progress | None,
) -> int:
    """Process ``work`` in chunks (threads when jobs > 1), committing to the cache in
    batches; on any error, what finished is committed before the error propagates."""
    n_jobs = max(1, jobs or min(4, os.cpu_count() or 1))
    total = len(work)
    state = {"done": 0, "made": 0}
    last = [time.monotonic()]
    batch: list[Done] = []

    def take(done: list[Done], exc: BaseException | None) -> None:
        batch.extend(done)
        state["done"] += len(done)
        state["made"] += sum(len(d[4]) for d in done)
        now = time.monotonic()
        if exc is not None or len(batch) >= _COMMIT_EVERY or now - last[0] > _COMMIT_SECONDS:
            if batch:
                cache.commit_files(batch)
                batch.clear()
            last[0] = now
        if exc is not None:
            raise exc
        if progress:
            progress(state["done"], total)

    chunks = _chunks(work)
    if n_jobs == 1:  # no thread hand-offs at all
        try:
            for chunk in chunks:
                take(*_run_chunk(chunk))
        except BaseException:  # Ctrl-C included: keep what is finished
            if batch:
                cache.commit_files(batch)
                batch.clear()
            raise
    else:
        it = iter(chunks)
        running: set[Future[tuple[list[Done], BaseException | None]]] = set()
        with ThreadPoolExecutor(max_workers=n_jobs, thread_name_prefix="collect") as ex:
            try:
                for chunk in it:
                    running.add(ex.submit(_run_chunk, chunk))
                    if len(running) >= n_jobs * 2:
                        break
                while running:
                    finished, running = wait(running, return_when=FIRST_COMPLETED)
                    for chunk in it:
                        running.add(ex.submit(_run_chunk, chunk))
                        if len(running) >= n_jobs * 2:
                            break
                    for fut in finished:
                        take(*fut.result())
            except BaseException:
                for f in running:
                    f.cancel()
                for f in running:  # keep what the other workers finish
                    if not f.cancelled():
                        done, _ = f.result()
                        batch.extend(done)
                if batch:
                    cache.commit_files(batch)
                raise
    if batch:
        cache.commit_files(batch)
    return state["made"]


def _manifest_stamp(path: Path) -> str | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return f"{st.st_size}:{st.st_mtime_ns}"


def _check_options(jobs: int | None, image_distance: int) -> None:
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        raise InputError(
            f"--jobs must be 1 or more, got {jobs}",
            field="jobs",
            hint="leave it out for the default: the number of cores, at most 4",
        )
    bad = isinstance(image_distance, bool) or not isinstance(image_distance, int)
    if bad or not 0 <= image_distance <= 64:
        raise InputError(
            f"--image-distance must be a whole number from 0 to 64, got {image_distance}",
            field="image_distance",
            hint="it is the most bits in which two 64-bit perceptual hashes may differ; "
            f"the default is {dedup.DEFAULT_IMAGE_DISTANCE}",
        )


def _near_dup_settings(
    project: Project, threshold: float | None, min_length: int | None
) -> NearDuplicateSettings:
    """The spec's ``collect.near_duplicates`` with the caller's overrides, checked."""
    spec_nd = project.spec.collect.near_duplicates
    if threshold is None:
        threshold = spec_nd.threshold
    elif isinstance(threshold, bool) or not 0 < threshold <= 1:  # NaN fails too
        raise InputError(
            f"--near-dup-threshold must be greater than 0 and at most 1, got {threshold}",
            field="near_dup_threshold",
            hint="it is the character-pair (2-shingle) Jaccard similarity of two texts; "
            f"the spec's collect.near_duplicates.threshold is {spec_nd.threshold}",
        )
    if min_length is None:
        min_length = spec_nd.min_length
    elif isinstance(min_length, bool) or min_length < 0:
        raise InputError(
            f"near-duplicate min_length must be 0 or more, got {min_length}",
            field="near_dup_min_length",
            hint=f"the spec's collect.near_duplicates.min_length is {spec_nd.min_length}",
        )
    return NearDuplicateSettings(threshold=float(threshold), min_length=int(min_length))


def _finish(
    project: Project,
    cache: CollectCache,
    result: CollectResult,
    near_dup: NearDuplicateSettings,
    image_distance: int,
) -> None:
    # a changed rule or setting clusters again, even when no file changed
    settings = (
        f"nd{dedup.NEAR_DUP_VERSION}:{near_dup.threshold}:{near_dup.min_length}:{image_distance}"
    )
    built = cache.get("manifest_built")
    stamp = _manifest_stamp(project.paths.manifest)
    current = json.dumps([cache.generation, stamp, settings])
    if built == current and stamp is not None:
        summary = json.loads(cache.get("summary") or "{}")
        for k, v in summary.items():
            setattr(result, k, v)
        return
    summary = build_manifest(
        project,
        cache,
        near_dup.threshold,
        image_distance,
        text_min_length=near_dup.min_length,
    )
    for k, v in summary.items():
        setattr(result, k, v)
    result.manifest_written = True
    cache.set("summary", json.dumps(summary, ensure_ascii=False))
    cache.set(
        "manifest_built",
        json.dumps([cache.generation, _manifest_stamp(project.paths.manifest), settings]),
    )


def build_manifest(
    project: Project,
    cache: CollectCache,
    text_threshold: float = dedup.DEFAULT_TEXT_THRESHOLD,
    image_distance: int = dedup.DEFAULT_IMAGE_DISTANCE,
    *,
    text_min_length: int = dedup.DEFAULT_MIN_LENGTH,
) -> dict[str, Any]:
    """Rebuild ``data/manifest.parquet`` from the cache; return the manifest's summary.

    Rows become Arrow record batches as they are read (compact, not Python objects); only
    the columns dedup needs are pulled out as Python lists.
    """
    import pyarrow as pa

    from datakit.tables import MANIFEST_SCHEMA, write_table

    batches: list[pa.RecordBatch] = []
    phash: dict[int, str] = {}
    pseudonymised: Counter[tuple[str, str]] = Counter()
    n = 0
    for chunk in cache.iter_row_batches():
        for j, row in enumerate(chunk):
            if row.get("_phash"):
                phash[n + j] = row["_phash"]
            if row.get("_pseudonyms"):
                pseudonymised.update(row["_pseudonyms"].items())
        batches.append(pa.RecordBatch.from_pylist(chunk, schema=MANIFEST_SCHEMA))
        n += len(chunk)
    table = pa.Table.from_batches(batches, schema=MANIFEST_SCHEMA)
    del batches
    ids: list[str] = table.column("id").to_pylist()
    status: list[str] = table.column("status").to_pylist()
    sha: list[str] = table.column("sha256").to_pylist()
    ok = [i for i in range(n) if status[i] == "ok"]
    collected_at = table.column("collected_at")
    source_path = table.column("source_path")

    def order(i: int) -> tuple[Any, ...]:
        return (collected_at[ok[i]].as_py(), dedup.natural_key(source_path[ok[i]].as_py()))

    dups = dedup.exact_duplicates([ids[i] for i in ok], [sha[i] for i in ok], order)
    del sha
    duplicate_of: dict[int, str] = {}
    for local, kept in dups.items():
        i = ok[local]
        status[i] = "duplicate"
        duplicate_of[i] = ids[ok[kept]]
    kept_ok = [i for i in ok if status[i] == "ok"]
    text_col = table.column("text")
    texts = [i for i in kept_ok if text_col[i].is_valid]
    images = [i for i in kept_ok if i in phash]
    clusters: dict[int, str] = {}
    text_values = text_col.take(pa.array(texts, type=pa.int64())).to_pylist() if texts else []
    for local, cid in dedup.text_clusters(
        [ids[i] for i in texts],
        text_values,
        threshold=text_threshold,
        min_length=text_min_length,
    ).items():
        clusters[texts[local]] = cid
    del text_values
    for local, cid in dedup.image_clusters(
        [ids[i] for i in images], [phash[i] for i in images], max_distance=image_distance
    ).items():
        clusters[images[local]] = cid

    reason: list[str | None] = table.column("reason").to_pylist()
    for i, kept_id in duplicate_of.items():
        reason[i] = "duplicate.exact: same sha256 as " + kept_id
    dup_col = table.column("duplicate_of").to_pylist()
    for i, kept_id in duplicate_of.items():
        dup_col[i] = kept_id
    cluster_col = table.column("near_dup_cluster").to_pylist()
    for i, cid in clusters.items():
        cluster_col[i] = cid
    for name, values in (
        ("status", status),
        ("reason", reason),
        ("duplicate_of", dup_col),
        ("near_dup_cluster", cluster_col),
    ):
        idx = MANIFEST_SCHEMA.get_field_index(name)
        table = table.set_column(idx, MANIFEST_SCHEMA.field(name), pa.array(values, pa.string()))
    write_table(table, project.paths.manifest)
    return {**_summary(table, status, reason, clusters), **_pseudonym_summary(pseudonymised)}


def _pseudonym_summary(counts: Counter[tuple[str, str]]) -> dict[str, Any]:
    out: dict[str, dict[str, int]] = {}
    for (column, kind), n in sorted(counts.items()):
        out.setdefault(column, {})[kind] = n
    return {"pii_pseudonymised": out}


def _summary(
    table: Any, status: list[str], reason: list[str | None], clusters: dict[int, str]
) -> dict[str, Any]:
    import pyarrow.compute as pc

    reasons: Counter[str] = Counter(
        str(reason[i]).split(":", 1)[0] for i, s in enumerate(status) if s == "quarantined"
    )
    pii: Counter[str] = Counter()
    pii_items = 0
    for value in table.column("pii").drop_null().to_pylist():
        pii_items += 1
        pii.update(json.loads(value))
    counts = Counter(status)
    by_source = {
        str(d["values"]): int(d["counts"])
        for d in pc.value_counts(table.column("source")).to_pylist()
    }
    return {
        "items": len(status),
        "ok": counts["ok"],
        "duplicates": counts["duplicate"],
        "quarantined": counts["quarantined"],
        "quarantined_by_reason": dict(sorted(reasons.items())),
        "near_dup_clusters": len(set(clusters.values())),
        "near_dup_items": len(clusters),
        "pii_by_kind": dict(sorted(pii.items())),
        "pii_items": pii_items,
        "by_source": dict(sorted(by_source.items())),
        "bytes": int(pc.sum(table.column("size")).as_py() or 0),
    }
