"""Signed citation links: the `/#cite=…` links of Slack answers open one passage's source for whoever holds them,
until they expire, and nothing else.

A link is `s1.<key id>.<passage>.<signature>`: the passage (source id, offsets, the cited sentence's first
words, the expiry time) as base64url JSON, signed with HMAC-SHA256 under a server secret kept in
`<data dir>/cite_link.key` (mode 0600, made on first use). `sourcier keys rotate-links` replaces the secret,
and every link made before stops working. Refusals are French: the person who clicked reads them.
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

from bot.answer import LINK_WORDS, Citation
from index.errors import CitationLinkError
from index.versions import write_atomic

FILE = "cite_link.key"
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
    """Signs and checks citation links with the secret under the data dir (re-read when it is rotated)."""

    def __init__(self, data_dir: Path, days: float) -> None:
        self.path = data_dir / FILE
        self.lifetime = days * 86400
        self._secret: tuple[tuple[int, int], bytes] | None = None
        self._lock = threading.Lock()

    def _key(self) -> bytes:
        """The secret, made on first use; one stat() per call notices a rotation by another process."""
        with self._lock:
            if not self.path.exists():
                self._first_secret()
            st = os.stat(self.path)
            if self._secret is None or self._secret[0] != (st.st_ino, st.st_mtime_ns):
                self._secret = ((st.st_ino, st.st_mtime_ns), bytes.fromhex(self.path.read_text().strip()))
            return self._secret[1]

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
