"""The collect stage's local state: ``.datakit/collect/cache.sqlite``.

* ``files``: one row per source file seen (key = source name + NUL + path in the source),
  with the size, mtime and processing fingerprint it had when its items were made. A file
  whose three values are unchanged is not read again.
* ``items``: the pre-dedup manifest row of every item, as JSON, keyed by item id, with the
  file it came from (``parent``). ``data/manifest.parquet`` is rebuilt from this table.
* ``meta``: a generation counter bumped by every change, and what the last manifest was
  built from, so an unchanged rerun writes nothing; and ``pseudonym_key``, the id (not the
  value) of the key the items' pseudonyms were made with, set in the same transaction as
  the first rows that carry one; and ``root``, the project folder the file keys were made
  in: a project copied or moved elsewhere has its keys moved with it (:meth:`rebase`).

SQLite commits are atomic: a run killed with ``kill -9`` loses at most the files of the
batch it was working on, and the rerun does them again (per-file work is idempotent).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from datakit.errors import InputError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    key TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    fp TEXT NOT NULL, n_items INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    id TEXT PRIMARY KEY, parent TEXT NOT NULL, row TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS items_parent ON items(parent);
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
"""


class CollectCache:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(_SCHEMA)

    def close(self) -> None:
        self.db.close()

    # -- files ---------------------------------------------------------------------------
    def file_states(self) -> dict[str, tuple[int, int, str]]:
        cur = self.db.execute("SELECT key, size, mtime_ns, fp FROM files")
        return {k: (s, m, fp) for k, s, m, fp in cur}

    def owner_of(self, item_id: str) -> str | None:
        row = self.db.execute("SELECT parent FROM items WHERE id = ?", (item_id,)).fetchone()
        return None if row is None else str(row[0])

    def commit_files(self, done: Iterable[tuple[str, int, int, str, list[dict[str, Any]]]]) -> None:
        """Replace the items of each (key, size, mtime_ns, fp, rows) file in one transaction."""
        cur = self.db.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            key_ids: set[str] = set()
            for key, size, mtime_ns, fp, rows in done:
                key_ids.update(r["_pseudonym_key"] for r in rows if r.get("_pseudonym_key"))
                for r in rows:
                    if not r.get("_own_id"):
                        continue  # derived ids hash the file's path: they cannot collide
                    hit = cur.execute(
                        "SELECT parent, row FROM items WHERE id = ?", (r["id"],)
                    ).fetchone()
                    if hit is not None and hit[0] != key:
                        other = json.loads(hit[1]).get("source_path")
                        if other == r.get("source_path"):
                            # the same file under another key: a project moved before its
                            # cache recorded its folder. This file's rows replace those.
                            self._forget(cur, hit[0])
                            continue
                        raise InputError(
                            f"item id {r['id']!r} is already used by {other}",
                            file=r.get("source_path"),
                            field="id",
                            hint="item ids must be unique across sources; fix the id column "
                            "or drop --id-column to let datakit derive ids from paths",
                        )
                cur.execute("DELETE FROM items WHERE parent = ?", (key,))
                cur.executemany(
                    "INSERT OR REPLACE INTO items(id, parent, row) VALUES (?, ?, ?)",
                    [(r["id"], key, json.dumps(r, ensure_ascii=False)) for r in rows],
                )
                cur.execute(
                    "INSERT OR REPLACE INTO files(key, size, mtime_ns, fp, n_items) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (key, size, mtime_ns, fp, len(rows)),
                )
            cur.execute(
                "INSERT INTO meta(k, v) VALUES ('generation', '1') ON CONFLICT(k) "
                "DO UPDATE SET v = CAST(CAST(v AS INTEGER) + 1 AS TEXT)"
            )
            for key_id in key_ids:  # one per run: collect checks the key before it starts
                cur.execute(
                    "INSERT INTO meta(k, v) VALUES ('pseudonym_key', ?) "
                    "ON CONFLICT(k) DO UPDATE SET v = excluded.v",
                    (key_id,),
                )
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise

    @staticmethod
    def _forget(cur: sqlite3.Cursor, key: str) -> None:
        cur.execute("DELETE FROM items WHERE parent = ?", (key,))
        cur.execute("DELETE FROM files WHERE key = ?", (key,))

    def rebase(self, root: str) -> None:
        """Move the file keys of a project found in another folder than last time (copied
        or renamed) to ``root``, the absolute NFC project folder: its own files keep their
        cache entries instead of clashing with themselves as "another file"."""
        old = self.get("root")
        if old == root:
            return
        cur = self.db.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            if old is not None:
                prefix, new = old.rstrip("/") + "/", root.rstrip("/") + "/"
                args = (new, len(prefix) + 1, len(prefix), prefix)
                cur.execute(
                    "UPDATE OR REPLACE files SET key = ? || substr(key, ?) "
                    "WHERE substr(key, 1, ?) = ?",
                    args,
                )
                cur.execute(
                    "UPDATE items SET parent = ? || substr(parent, ?) "
                    "WHERE substr(parent, 1, ?) = ?",
                    args,
                )
            cur.execute(
                "INSERT INTO meta(k, v) VALUES ('root', ?) "
                "ON CONFLICT(k) DO UPDATE SET v = excluded.v",
                (root,),
            )
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise

    # -- items ---------------------------------------------------------------------------
    def iter_row_batches(self, batch: int = 1000) -> Iterator[list[dict[str, Any]]]:
        """Every item row, in id order, ``batch`` at a time."""
        cur = self.db.execute("SELECT row FROM items ORDER BY id")
        while chunk := cur.fetchmany(batch):
            yield [json.loads(row) for (row,) in chunk]

    def count_items(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM items").fetchone()[0])

    # -- meta ----------------------------------------------------------------------------
    def get(self, key: str) -> str | None:
        row = self.db.execute("SELECT v FROM meta WHERE k = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set(self, key: str, value: str) -> None:
        self.db.execute(
            "INSERT INTO meta(k, v) VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v",
            (key, value),
        )

    @property
    def generation(self) -> int:
        return int(self.get("generation") or 0)
