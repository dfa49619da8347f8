"""Signed citation links: the `/#cite=…` links of Slack answers open one passage's source for whoever holds them,
until they expire, and nothing else.

A link is `s1.<key id>.<passage>.<signature>`: the passage (source id, offsets, the cited sentence's first
words, the expiry time) as base64url JSON, signed with HMAC-SHA256 under a server secret kept in
`<data dir>/cite_link.key` (mode 0600, made on first use), or with SOURCIER_DATABASE_URL in the shared
database, so that a link one replica signed opens on every other. `sourcier keys rotate-links` replaces the
secret, and every link made before stops working. Refusals are French: the person who clicked reads them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bot.answer import LINK_WORDS, Citation
from bot.statedb import Mirror, Sql
from index.errors import CitationLinkError
from index.versions import write_atomic

if TYPE_CHECKING:
    from bot.config import Settings

FILE = "cite_link.key"
TABLE = ("CREATE TABLE IF NOT EXISTS link_secrets (name TEXT PRIMARY KEY, secret TEXT NOT NULL)",)
_NAME = "cite"
MALFORMED = "Ce lien de citation est mal formé : copiez-le en entier depuis la réponse."
ROTATED = ("Ce lien de citation n'est plus valide : la clé de signature du serveur a changé depuis. "
           "Reposez la question pour obtenir un nouveau lien.")
TAMPERED = "Ce lien de citation a été modifié : il ne correspond à aucune réponse envoyée."
EXPIRED = "Ce lien de citation a expiré le {when} : reposez la question pour obtenir un nouveau lien."


@dataclass(frozen=True)
class SignedPassage:
    """What a valid link opens: one passage of one source, with the words that find it again after an edit."""

    source_id: str
    start: int
    end: int
    sentence_start: int
    sentence_end: int
    words: str
    expires: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class LinkSigner:
    """Signs and checks citation links with the secret under the data dir (re-read when it is rotated), or the
    shared database's (`sql`), followed every `every` seconds."""

    def __init__(self, data_dir: Path, days: float, sql: Sql | None = None, every: float | None = None) -> None:
        self.path = data_dir / FILE
        self.lifetime = days * 86400
        self._secret: tuple[tuple[int, int], bytes] | None = None
        self._lock = threading.Lock()
        self._mirror: Mirror | None = None
        if sql is not None:
            sql.create(TABLE)
            first = self.path.read_text().strip() if self.path.exists() else secrets.token_hex(32)
            sql.run("INSERT INTO link_secrets VALUES (?, ?) ON CONFLICT (name) DO NOTHING", (_NAME, first))
            self._mirror = Mirror(sql, f"SELECT secret FROM link_secrets WHERE name = '{_NAME}'", every)

    def _key(self, fresh: bool = False) -> bytes:
        """The secret, made on first use; one stat() per call notices a rotation by another process (the shared
        one: the copy in memory, read again when `fresh`)."""
        if self._mirror is not None:
            rows = self._mirror.refresh() if fresh else self._mirror.rows
            return bytes.fromhex(str(rows[0][0]))
        with self._lock:
            if not self.path.exists():
                self._first_secret()
            st = os.stat(self.path)
            if self._secret is None or self._secret[0] != (st.st_ino, st.st_mtime_ns):
                self._secret = ((st.st_ino, st.st_mtime_ns), bytes.fromhex(self.path.read_text().strip()))
            return self._secret[1]

    def close(self) -> None:
        """Stop following the shared secret."""
        if self._mirror is not None:
            self._mirror.close()

    def _first_secret(self) -> None:
        """Made once, exclusively: two processes starting together agree on one secret."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))

    def rotate(self) -> None:
        """A new secret: every link signed before stops working."""
        if self._mirror is not None:
            self._mirror.write("UPDATE link_secrets SET secret = ? WHERE name = ?", (secrets.token_hex(32), _NAME))
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(self.path, secrets.token_hex(32).encode())
        os.chmod(self.path, 0o600)

    @staticmethod
    def _kid(key: bytes) -> str:
        return hashlib.sha256(b"kid" + key).hexdigest()[:8]

    def sign(self, citation: Citation, now: float | None = None) -> str:
        """The token for one cited passage, valid for the configured lifetime."""
        a, b = citation.sentence_start - citation.start, citation.sentence_end - citation.start
        words = citation.text[a:b][:LINK_WORDS]
        expires = int((now if now is not None else time.time()) + self.lifetime)
        body = [citation.source_id, citation.start, citation.end, citation.sentence_start, citation.sentence_end,
                words, expires]
        key = self._key()
        payload = _b64(json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode())
        head = f"s1.{self._kid(key)}.{payload}"
        return f"{head}.{_b64(hmac.new(key, head.encode(), hashlib.sha256).digest())}"

    def link(self, base_url: str | None, citation: Citation) -> str:
        """The web page's address opening this passage through a signed token."""
        return f"{(base_url or '').rstrip('/')}/#cite={self.sign(citation)}"

    def check(self, token: str, now: float | None = None) -> SignedPassage:
        """The passage a token opens, or a CitationLinkError saying in French why not."""
        parts = token.split(".")
        if len(parts) != 4 or parts[0] != "s1":
            raise CitationLinkError(MALFORMED)
        key = self._key()
        if not hmac.compare_digest(parts[1], self._kid(key)) and self._mirror is not None:
            key = self._key(fresh=True)  # another replica may have rotated it a moment ago
        if not hmac.compare_digest(parts[1], self._kid(key)):
            raise CitationLinkError(ROTATED)
        try:
            expected = hmac.new(key, ".".join(parts[:3]).encode(), hashlib.sha256).digest()
            if not hmac.compare_digest(expected, _unb64(parts[3])):
                raise CitationLinkError(TAMPERED)
            sid, start, end, s_start, s_end, words, expires = json.loads(_unb64(parts[2]))
            passage = SignedPassage(str(sid), int(start), int(end), int(s_start), int(s_end), str(words), int(expires))
        except (binascii.Error, ValueError, TypeError) as exc:
            raise CitationLinkError(TAMPERED) from exc
        if passage.expires < (now if now is not None else time.time()):
            when = datetime.fromtimestamp(passage.expires, UTC).strftime("%d/%m/%Y à %H:%M UTC")
            raise CitationLinkError(EXPIRED.format(when=when))
        return passage


def link_signer(settings: Settings, shared: Sql | None) -> LinkSigner:
    """The signer a server uses: on the shared database when one is configured, following its rotations."""
    return LinkSigner(settings.data_dir, settings.cite_link_days, shared, settings.database_poll_seconds)
