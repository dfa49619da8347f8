"""Signed citation links: valid, tampered, expired, another source, after rotation; through the real server."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import httpx
import pytest

from bot.answer import Citation
from bot.citelinks import EXPIRED, ROTATED, TAMPERED, LinkSigner
from bot.config import Settings
from bot.engine import Engine
from bot.http.api import create_app
from bot.keys import KeyStore
from index.errors import CitationLinkError
from tests.conftest import LiveServer

TEXT = "La cantine ouvre à midi. Le menu change chaque lundi."


def _citation(source_id: str = "wiki/cantine", start: int = 0) -> Citation:
    return Citation(n=1, source_id=source_id, title="Cantine", text=TEXT, start=start, end=start + len(TEXT),
                    score=1.0, sentence_start=start, sentence_end=start + 24, cited=True)


def _with_payload(token: str, change: dict[int, object]) -> str:
    """The token with fields of its signed passage replaced, its signature kept."""
    head, kid, payload, sig = token.split(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    for i, value in change.items():
        body[i] = value
    forged = base64.urlsafe_b64encode(json.dumps(body).encode()).rstrip(b"=").decode()
    return f"{head}.{kid}.{forged}.{sig}"


def test_citelinks_valid_link_opens_its_passage(tmp_path: Path) -> None:
    signer = LinkSigner(tmp_path, days=3)
    passage = signer.check(signer.sign(_citation()))
    assert (passage.source_id, passage.start, passage.sentence_end) == ("wiki/cantine", 0, 24)
    assert passage.words == "La cantine ouvre à midi."
    assert (tmp_path / "cite_link.key").stat().st_mode & 0o077 == 0
    assert signer.link("https://bot.example.org/", _citation()).startswith("https://bot.example.org/#cite=s1.")


def test_citelinks_tampered_or_other_source_is_refused(tmp_path: Path) -> None:
    signer = LinkSigner(tmp_path, days=3)
    token = signer.sign(_citation())
    for forged in (_with_payload(token, {0: "rh/salaires"}), _with_payload(token, {2: 10**6}),
                   _with_payload(token, {6: int(time.time()) + 10**8}), token[:-2] + ("AA" if token[-2:] != "AA" else "BB")):
        with pytest.raises(CitationLinkError, match=TAMPERED):
            signer.check(forged)
    with pytest.raises(CitationLinkError, match="mal formé"):
        signer.check("wiki/cantine:0-10:0-5")


def test_citelinks_expired_link_says_when(tmp_path: Path) -> None:
    signer = LinkSigner(tmp_path, days=3)
    token = signer.sign(_citation(), now=time.time() - 4 * 86400)
    with pytest.raises(CitationLinkError, match=EXPIRED.split("{")[0]):
        signer.check(token)
    assert signer.check(signer.sign(_citation(), now=time.time() - 2 * 86400)).source_id == "wiki/cantine"


def test_citelinks_stop_working_after_rotation_by_another_process(tmp_path: Path) -> None:
    signer = LinkSigner(tmp_path, days=3)
    token = signer.sign(_citation())
    LinkSigner(tmp_path, days=3).rotate()  # `sourcier keys rotate-links`
    with pytest.raises(CitationLinkError, match=ROTATED.split(":")[0]):
        signer.check(token)
    assert signer.check(signer.sign(_citation())).source_id == "wiki/cantine"


def test_citelinks_server_opens_a_valid_link_without_a_key_and_refuses_the_rest_in_french(
        seed_settings: Settings, engine: Engine, tmp_path: Path) -> None:
    settings = seed_settings.model_copy(update={"data_dir": tmp_path})
    signer = LinkSigner(tmp_path, settings.cite_link_days)
    answer = engine.ask("Qui dirige OpenAI par intérim ?")
    token = signer.sign(answer.citations[0])
    KeyStore(tmp_path).create("someone", [])  # keys exist: the API needs one, a signed link does not
    with LiveServer(create_app(settings, engine)) as server:
        ok = httpx.get(f"{server.url}/v1/cite/{token}")
        assert ok.status_code == 200 and ok.json()["source_id"] == answer.citations[0].source_id
        assert ok.json()["text"][ok.json()["sentence_start"]:].startswith(ok.json()["words"])
        assert httpx.get(f"{server.url}/v1/sources/{answer.citations[0].source_id}").status_code == 401
        forged = httpx.get(f"{server.url}/v1/cite/{_with_payload(token, {0: 'autre'})}")
        assert forged.status_code == 403 and forged.json()["detail"] == TAMPERED
        signer.rotate()
        rotated = httpx.get(f"{server.url}/v1/cite/{token}")
        assert rotated.status_code == 403 and rotated.json()["detail"] == ROTATED
