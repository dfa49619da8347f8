"""The web page in headless Chromium when access is on: a signed link opens its passage without a key (and a
forged one is refused in French); a server with keys asks for one, and the page then answers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.citelinks import TAMPERED, LinkSigner
from bot.config import Settings
from bot.engine import Engine
from bot.http.api import create_app
from bot.keys import KeyStore
from tests.conftest import LiveServer
from tests.test_browser import CHROMIUM, FLAGS, _ask

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")]


@pytest.fixture(scope="module")
def keyed(seed_settings: Settings, engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data = tmp_path_factory.mktemp("keyed")
    with LiveServer(create_app(seed_settings.model_copy(update={"data_dir": data}), engine)) as server:
        server.data_dir = data  # type: ignore[attr-defined]
        yield server


@pytest.fixture(scope="module")
def page(keyed: LiveServer) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield browser.new_page()
        browser.close()


def test_browser_access_signed_link_opens_its_passage_and_a_forged_one_is_refused(  # type: ignore[no-untyped-def]
        page, keyed: LiveServer, engine: Engine) -> None:
    from playwright.sync_api import expect

    KeyStore(keyed.data_dir).create("someone", [])  # type: ignore[attr-defined]  # the API now needs a key
    citation = engine.ask("Qui dirige OpenAI par intérim ?").citations[0]
    token = LinkSigner(keyed.data_dir, 3).sign(citation)  # type: ignore[attr-defined]
    page.goto(f"{keyed.url}/#cite={token}")
    sentence = citation.text[citation.sentence_start - citation.start:citation.sentence_end - citation.start]
    expect(page.locator("#cited-sentence")).to_have_text(sentence, timeout=15000)
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    page.goto(f"{keyed.url}/?forged#cite={forged}")
    expect(page.locator("#viewer-title")).to_have_text("Lien refusé", timeout=15000)
    expect(page.locator("#viewer-meta")).to_have_text(TAMPERED)
    assert page.locator("#cited-sentence").count() == 0


def test_browser_access_asks_for_a_key_then_answers(page, keyed: LiveServer) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    _, secret = KeyStore(keyed.data_dir).create("browser", [])  # type: ignore[attr-defined]
    page.goto(keyed.url + "/")
    page.evaluate("localStorage.clear()")
    _ask(page, "Qui dirige OpenAI par intérim ?")
    expect(page.locator("#key-hint")).to_contain_text("clé d'accès", timeout=15000)
    page.get_by_label("Clé d'accès").fill(secret)
    page.keyboard.press("Enter")
    _ask(page, "Qui dirige OpenAI par intérim ?")
    expect(page.locator("#answer")).to_contain_text("Mira Murati", timeout=15000)
