"""API keys for HTTP clients: each with the audiences it may read, stored only as a SHA-256 digest.

A key is `sk_<id>_<43 random URL-safe characters>` (256 bits from `secrets`): with that much entropy a plain
SHA-256 is as safe as a slow hash, and checking one costs microseconds per request. The file
(`<data dir>/api_keys.json`, mode 0600) is replaced atomically by `sourcier keys create|revoke`, and a running
server reads it again when it changes, so a revocation applies at the next request.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from bot.access import PUBLIC
from index.errors import ApiKeyError
from index.versions import write_atomic

FILE = "api_keys.json"


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


class KeyStore:
    """The key file under the data dir, re-read when another process changed it."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / FILE
        self._keys: dict[str, ApiKey] = {}
        self._stat: tuple[int, int, int] | None = None
        self._lock = threading.Lock()

    def _load(self) -> dict[str, ApiKey]:
        """The keys as on disk now (one stat() when nothing changed)."""
        try:
            st = os.stat(self.path)
            stat: tuple[int, int, int] | None = (st.st_ino, st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            stat = None
        with self._lock:
            if stat != self._stat:
                rows = json.loads(self.path.read_text(encoding="utf-8")) if stat is not None else []
                self._keys = {r["key_id"]: ApiKey(**{**r, "audiences": tuple(r["audiences"])}) for r in rows}
                self._stat = stat
            return self._keys

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
        keys = dict(self._load())
        keys[key_id] = key
        self._save(keys)
        return key, secret

    def revoke(self, key_id: str) -> ApiKey:
        """Mark a key revoked (kept, so `keys list` shows when); an unknown id names the command that lists them."""
        keys = dict(self._load())
        if key_id not in keys:
            raise ApiKeyError(f"no API key {key_id!r}; `sourcier keys list` shows their ids")
        keys[key_id] = replace(keys[key_id], revoked_at=keys[key_id].revoked_at or _now())
        self._save(keys)
        return keys[key_id]

    def check(self, secret: str) -> ApiKey:
        """The key this secret is, compared in constant time; unknown and revoked keys are refused alike."""
        key_id = secret.split("_")[1] if secret.count("_") >= 2 and secret.startswith("sk_") else ""
        key = self._load().get(key_id)
        if key is None or not hmac.compare_digest(key.digest, _digest(secret)) or key.revoked_at is not None:
            raise ApiKeyError("unknown or revoked API key (`sourcier keys list` on the server)")
        return key
