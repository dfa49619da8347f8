"""The web page in real headless Chromium: ask, see the answer and citations, open a cited passage."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import LiveServer

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")
FLAGS = ["--no-sandbox", "--headless=new", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield browser
        browser.close()


def test_browser_ask_and_open_citation(browser, live_server: LiveServer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone-width screen
    page.goto(live_server.url + "/")
    page.get_by_label("Votre question").fill("Qui dirige OpenAI par intérim ?")
    page.keyboard.press("Enter")
    answer = page.locator("#answer")
    answer.get_by_role("button", name="Voir la source 1").first.wait_for(timeout=15000)
    assert "Mira Murati" in answer.inner_text()
    assert page.locator("#citations li").count() >= 3
    page.screenshot(path=str(tmp_path / "answer.png"), full_page=True)
    answer.get_by_role("button", name="Voir la source 1").first.click()
    sentence = page.locator("#source-text mark.sentence")
    sentence.wait_for(state="visible", timeout=10000)
    assert "Mira Murati" in sentence.inner_text()
    assert sentence.is_visible() and page.locator("#source-text mark.passage").is_visible()
    assert "#cite=openai-altman-microsoft" in page.url
    page.screenshot(path=str(tmp_path / "citation.png"), full_page=True)
    page.close()


def test_browser_shows_abstention_and_errors(browser, live_server: LiveServer) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page()
    page.goto(live_server.url + "/")
    page.get_by_label("Votre question").fill("Quelle est la hauteur de la tour Eiffel ?")
    page.get_by_role("button", name="Demander").click()
    page.locator("#citations li").first.wait_for(timeout=15000)
    assert "Je ne sais pas" in page.locator("#answer").inner_text()
    assert "peut-être utiles" in page.locator("#citations-title").inner_text()
    page.close()


def test_browser_citation_link_opens_source(browser, live_server: LiveServer) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page()
    page.goto(live_server.url + "/#cite=openai-altman-microsoft:0-60:0-30")
    mark = page.locator("#source-text mark.sentence")
    mark.wait_for(state="visible", timeout=10000)
    assert mark.inner_text() == "Consolidation de l'IA générati"
    page.close()
