"""API keys for HTTP clients: each with the audiences it may read, stored only as a SHA-256 digest.

A key is `sk_<id>_<43 random URL-safe characters>` (256 bits from `secrets`): with that much entropy a plain
SHA-256 is as safe as a slow hash, and checking one costs microseconds per request. The file
(`<data dir>/api_keys.json`, mode 0600) is replaced atomically by `sourcier keys create|revoke`, and a running
server reads it again when it changes, so a revocation applies at the next request. With SOURCIER_DATABASE_URL
the keys are a table of the shared database instead, so that every replica accepts the same keys: each server
keeps a copy in memory, re-read every SOURCIER_DATABASE_POLL_SECONDS (a new key or a revocation reaches every
replica within that); the keys of an existing file are copied in the first time.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.access import PUBLIC
from bot.statedb import Mirror, Sql, shared_for_a_command
from index.errors import ApiKeyError
from index.versions import write_atomic

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger(__name__)
FILE = "api_keys.json"
TABLE = ("CREATE TABLE IF NOT EXISTS api_keys (key_id TEXT PRIMARY KEY, record TEXT NOT NULL)",)


@dataclass(frozen=True)
class ApiKey:
    """One key as stored: never the key itself, only its digest."""

    key_id: str
    name: str
    audiences: tuple[str, ...]
    digest: str
    created_at: str
    revoked_at: str | None = None

    @property
    def readers(self) -> frozenset[str]:
        """The audiences this key reads: its own and `public` (everyone who reaches the bot)."""
        return frozenset({*self.audiences, PUBLIC})


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _key(record: dict[str, Any]) -> ApiKey:
    return ApiKey(**{**record, "audiences": tuple(record["audiences"])})


class KeyStore:
    """The key file under the data dir, re-read when another process changed it; or, given the shared database
    (`sql`), its table, followed every `every` seconds (None: read once, for a command)."""

    def __init__(self, data_dir: Path, sql: Sql | None = None, every: float | None = None) -> None:
        self.path = data_dir / FILE
        self._keys: dict[str, ApiKey] = {}  # the table's copy, by id
        self._file: dict[str, ApiKey] = {}
        self._stat: tuple[int, int, int] | None = None
        self._lock = threading.Lock()
        self._mirror: Mirror | None = None
        self._rows: list[Any] | None = None
        if sql is not None:
            sql.create(TABLE)
            self._mirror = Mirror(sql, "SELECT record FROM api_keys", every)
            self._adopt_file()

    def _adopt_file(self) -> None:
        """A deployment moving to a shared database keeps the keys its clients hold: the file's are copied in."""
        assert self._mirror is not None
        if self._mirror.rows or not self.path.exists():
            return
        for key in self._file_keys().values():
            self._put(key, only_new=True)
        log.info("copied the API keys of %s into the shared database", self.path)

    def _load(self) -> dict[str, ApiKey]:
        """The keys now: the file's (one stat() when nothing changed), or the shared table's copy in memory."""
        if self._mirror is None:
            return self._file_keys()
        rows = self._mirror.rows
        with self._lock:
            if rows is not self._rows:
                keys = [_key(json.loads(r[0])) for r in rows]
                self._keys, self._rows = {k.key_id: k for k in sorted(keys, key=lambda k: k.created_at)}, rows
            return self._keys

    def _put(self, key: ApiKey, only_new: bool = False) -> None:
        """Write one key (the file is rewritten whole; a table row alone, so two commands never lose each other's)."""
        if self._mirror is None:
            keys = dict(self._file_keys())
            keys[key.key_id] = key
            self._save(keys)
            return
        update = "NOTHING" if only_new else "UPDATE SET record = excluded.record"
        self._mirror.write(f"INSERT INTO api_keys VALUES (?, ?) ON CONFLICT (key_id) DO {update}",
                           (key.key_id, json.dumps(asdict(key), ensure_ascii=False)))

    def close(self) -> None:
        """Stop following the shared table."""
        if self._mirror is not None:
            self._mirror.close()

    def _file_keys(self) -> dict[str, ApiKey]:
        """The keys as on disk now (one stat() when nothing changed)."""
        try:
            st = os.stat(self.path)
            stat: tuple[int, int, int] | None = (st.st_ino, st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            stat = None
        with self._lock:
            if stat != self._stat:
                rows = json.loads(self.path.read_text(encoding="utf-8")) if stat is not None else []
                self._file = {r["key_id"]: _key(r) for r in rows}
                self._stat = stat
            return self._file

    def _save(self, keys: dict[str, ApiKey]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = json.dumps([asdict(k) for k in keys.values()], ensure_ascii=False, indent=1).encode()
        write_atomic(self.path, data)
        os.chmod(self.path, 0o600)

    def keys(self) -> list[ApiKey]:
        """Every key, revoked ones included, oldest first."""
        return list(self._load().values())

    def active(self) -> bool:
        """Whether any key can still be used: the server then asks every client for one."""
        return any(k.revoked_at is None for k in self._load().values())

    def create(self, name: str, audiences: list[str]) -> tuple[ApiKey, str]:
        """A new key; the secret is returned once and never stored."""
        key_id = secrets.token_hex(4)
        secret = f"sk_{key_id}_{secrets.token_urlsafe(32)}"
        key = ApiKey(key_id, name, tuple(dict.fromkeys(a.strip() for a in audiences if a.strip())), _digest(secret),
                     _now())
        self._put(key)
        return key, secret

    def revoke(self, key_id: str) -> ApiKey:
        """Mark a key revoked (kept, so `keys list` shows when); an unknown id names the command that lists them."""
        found = self._load().get(key_id)
        if found is None:
            raise ApiKeyError(f"no API key {key_id!r}; `sourcier keys list` shows their ids")
        key = replace(found, revoked_at=found.revoked_at or _now())
        self._put(key)
        return key

    def check(self, secret: str) -> ApiKey:
        """The key this secret is, compared in constant time; unknown and revoked keys are refused alike."""
        key_id = secret.split("_")[1] if secret.count("_") >= 2 and secret.startswith("sk_") else ""
        key = self._load().get(key_id)
        if key is None or not hmac.compare_digest(key.digest, _digest(secret)) or key.revoked_at is not None:
            raise ApiKeyError("unknown or revoked API key (`sourcier keys list` on the server)")
        return key


@contextmanager
def key_store(settings: Settings) -> Iterator[KeyStore]:
    """The keys this deployment uses, for one command: the shared database's when configured, else the file."""
    with shared_for_a_command(settings) as shared:
        yield KeyStore(settings.data_dir, shared)
