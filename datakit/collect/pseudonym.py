"""Pseudonyms (가명처리) for personal information in the values that name or group items.

Masking is right for text and wrong for a key: every phone number masks to
``***-****-****``, so a group column of phone numbers would become one group, and an id
column would repeat. In the id column, the group column and the split-key attributes
(``splits.group``, ``splits.stratify``, fields with ``unique: true``), a value in which
:func:`~datakit.collect.pii.find_pii` finds an identifier is replaced as a whole by

    ``pseud-<kind>-<16 base32 characters>``

where the characters are the first 80 bits of HMAC-SHA256(key, value): equal values stay
equal (groups stay groups), different values stay different (two among ten million collide
with odds of about 4e-11), and without the key the value cannot be recovered or checked
against a guess. Lower-case base32 letters keep the token itself from looking like an
identifier to a later scan.

The key is a secret, kept out of the project files like the Label Studio token: the
environment variable named by ``pii.pseudonym_key_env`` (default ``DATAKIT_PSEUDONYM_KEY``),
else ``.datakit/pseudonym.key``. When neither exists, the first value that needs a pseudonym
makes a random key in that file (mode 0600), so a first ``collect`` just works and reruns
give the same pseudonyms. The key is never written anywhere else; the collect cache keeps
only a key id (an HMAC of a fixed text) to refuse to mix pseudonyms made with two keys.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import threading
from collections.abc import Iterable
from pathlib import Path

from datakit.collect.pii import Match, find_pii
from datakit.errors import ProjectError
from datakit.spec.model import ProjectSpec

PREFIX = "pseud"
TOKEN_BYTES = 10  # 80 bits, 16 base32 characters
KEY_FILE = "pseudonym.key"
MIN_KEY_CHARS = 16
_KEY_ID_TEXT = b"datakit pseudonym key id"


def pseudonym(key: bytes, value: str, kind: str) -> str:
    """``pseud-<kind>-<token>``: the token is the first 80 bits of HMAC-SHA256(key, value)."""
    digest = hmac.new(key, value.encode("utf-8"), hashlib.sha256).digest()
    token = base64.b32encode(digest[:TOKEN_BYTES]).decode("ascii").lower()
    return f"{PREFIX}-{kind}-{token}"


def key_id(key: bytes) -> str:
    """A name for a key that does not reveal it (kept in the collect cache)."""
    return hmac.new(key, _KEY_ID_TEXT, hashlib.sha256).hexdigest()[:16]


def key_fields(spec: ProjectSpec) -> frozenset[str]:
    """Names of the item fields (record attributes) that are split or identity keys."""
    names = {spec.splits.group, spec.splits.stratify} | {f.name for f in spec.fields if f.unique}
    return frozenset(n for n in names if n)


class PseudonymKey:
    """The project's pseudonym key, looked up once per run and made on first need.

    ``source`` says where the key came from (an env var or the key file), never what it is.
    Shared by the collect worker threads.
    """

    def __init__(self, env: str, key_file: Path) -> None:
        self.env = env
        self.key_file = key_file
        self.generated = False
        self.used = False
        self._lock = threading.Lock()
        self._key: bytes | None = None
        value = os.environ.get(env)
        if value:
            self.source = f"env {env}"
            self._key = _checked(value, self.source)
        else:
            self.source = f".datakit/{KEY_FILE}"
            if key_file.is_file():
                self._key = _checked(key_file.read_text(encoding="utf-8").strip(), self.source)

    @classmethod
    def for_project(cls, spec: ProjectSpec, state_dir: Path) -> PseudonymKey:
        return cls(spec.pii.pseudonym_key_env, state_dir / KEY_FILE)

    @property
    def key_id(self) -> str | None:
        """The id of the key in use, or None while there is none yet."""
        return None if self._key is None else key_id(self._key)

    def pseudonym(self, value: str, kind: str) -> str:
        self.used = True
        return pseudonym(self._get(), value, kind)

    def _get(self) -> bytes:
        if self._key is not None:
            return self._key
        with self._lock:
            if self._key is None:
                self._key = self._make()
        return self._key

    def _make(self) -> bytes:
        self.key_file.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self.key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another collect made it first: use that one
            return _checked(self.key_file.read_text(encoding="utf-8").strip(), self.source)
        value = secrets.token_hex(32)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(value + "\n")
        self.generated = True
        return value.encode("utf-8")

    def __repr__(self) -> str:  # never the key, in a traceback or a log
        return f"PseudonymKey(source={self.source!r})"


def _checked(value: str, source: str) -> bytes:
    if len(value) < MIN_KEY_CHARS:
        raise ProjectError(
            f"the pseudonym key in {source} is too short ({len(value)} characters)",
            hint=f"use at least {MIN_KEY_CHARS} random characters, e.g. `openssl rand -hex 32`",
        )
    return value.encode("utf-8")


def check_key(stored_id: str | None, key: PseudonymKey) -> None:
    """Refuse to add pseudonyms made with another key than the collected items' (``stored_id``):
    one value would then have two pseudonyms, and its group would split in two."""
    if stored_id is None or stored_id == key.key_id:
        return
    what = "is missing" if key.key_id is None else f"in {key.source} is not the one used before"
    raise ProjectError(
        f"the items collected so far were pseudonymised with another key; the key {what}",
        hint=f"set {key.env} to the key used before (what .datakit/{KEY_FILE} held), "
        "or delete .datakit/collect/ and collect every source again with the new key",
    )


def pseudonymise(
    value: str, kinds: Iterable[str], key: PseudonymKey | None
) -> tuple[str, list[Match]]:
    """``value`` replaced by its pseudonym when it holds an identifier, and what was found.

    ``key=None`` only looks (``pii.action: flag``) and returns the value as it is.
    """
    found = find_pii(value, kinds)
    if not found or key is None:
        return value, found
    return key.pseudonym(value, found[0].kind), found
