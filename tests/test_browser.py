"""The web page in real headless Chromium: ask, see the answer and citations, open a cited passage."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import LiveServer

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")]
FLAGS = ["--no-sandbox", "--headless=new", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _ask(page, question: str) -> None:  # type: ignore[no-untyped-def]
    """Type a question in the page's box and send it with Enter, as a person does."""
    page.get_by_label("Votre question").fill(question)
    page.keyboard.press("Enter")


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
    _ask(page, "Qui dirige OpenAI par intérim ?")
    answer = page.locator("#answer")
    answer.get_by_role("button", name="Voir la source 1").first.wait_for(timeout=15000)
    assert "Mira Murati" in answer.inner_text()
    assert page.locator("#citations li.cited").count() >= 1
    assert page.locator("#citations li, #see-also li").count() >= 3
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


def test_browser_new_question_closes_the_old_source_and_blank_gets_a_message(  # type: ignore[no-untyped-def]
        browser, live_server: LiveServer) -> None:
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.goto(live_server.url + "/")
    _ask(page, "Qui dirige OpenAI par intérim ?")
    page.locator("#answer").get_by_role("button", name="Voir la source 1").first.click()
    sentence = page.locator("#source-text mark.sentence")
    sentence.wait_for(state="visible", timeout=15000)
    box = page.locator("#viewer").bounding_box()
    assert box is not None and box["y"] < 844  # on a phone the source opens on screen, not far below
    page.get_by_role("button", name="Fermer la source").click()
    _ask(page, "Quelle entreprise Emmett Shear a-t-il fondée ?")
    page.locator("#answer").get_by_role("button", name="Voir la source 1").first.wait_for(timeout=15000)
    assert page.locator("#viewer").is_hidden() and page.locator("#source-text mark").count() == 0
    _ask(page, "   ")
    assert "Écrivez une question" in page.locator("#status").inner_text()
    assert page.locator("#answer").inner_text() == ""
    page.close()


@pytest.mark.parametrize("fragment", ["#cite=disparu:0-10:0-5", "#cite=%E0%A4%A:0-10:0-5",
                                      "#cite=openai-altman-microsoft:0-999999:0-5"])
def test_browser_stale_or_broken_citation_link_says_source_not_found(  # type: ignore[no-untyped-def]
        browser, live_server: LiveServer, fragment: str) -> None:
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(live_server.url + "/" + fragment)
    title = page.locator("#viewer-title")
    title.wait_for(state="visible", timeout=10000)
    page.wait_for_function("document.querySelector('#viewer-title').textContent === 'Source introuvable'",
                           timeout=10000)
    assert not errors, errors
    page.close()


def test_browser_api_docs_render_offline(browser, live_server: LiveServer) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(live_server.url + "/docs")
    page.locator(".swagger-ui .opblock-summary-path", has_text="/v1/ask").first.wait_for(timeout=15000)
    assert page.locator(".swagger-ui .title").first.inner_text().startswith("sourcier")
    assert requested and all(url.startswith(live_server.url) for url in requested), requested
    assert httpx.get(live_server.url + "/favicon.ico").headers["content-type"] == "image/x-icon"
    page.close()


def test_browser_renders_hostile_source_as_text(browser, tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    from bot.config import Settings
    from bot.engine import Engine
    from bot.http.api import create_app

    (tmp_path / "seeds").mkdir()
    (tmp_path / "seeds" / "piege.md").write_text(
        "# Piège\n\nAttention <script>window.pwned=1</script> et <img src=x onerror=\"window.pwned=2\"> "
        "<!channel>. Le mot de passe du coffre est tournesol.\n", encoding="utf-8")
    settings = Settings(index_dir=tmp_path / "index", sources_dir=tmp_path / "seeds", rate_limit_per_minute=0)
    engine = Engine(settings, embedder=embedder)
    engine.ingest()
    with LiveServer(create_app(settings, engine)) as server:
        page = browser.new_page()
        page.goto(server.url + "/")
        _ask(page, "Quel est le mot de passe du coffre ?")
        page.locator("#citations li").first.wait_for(timeout=15000)
        page.locator("#citations button.link").first.click()
        page.locator("#source-text mark.sentence").wait_for(state="visible", timeout=10000)
        assert "<script>window.pwned=1</script>" in page.locator("#citations").inner_text()
        assert "<img src=x" in page.locator("#source-text").inner_text()
        assert page.evaluate("window.pwned === undefined")
        assert page.locator("#citations img, #source-text img, #citations script").count() == 0
        page.close()


@pytest.fixture(scope="module")
def pdf_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    from bot.config import Settings
    from bot.engine import Engine
    from bot.http.api import create_app
    from ingest.embed import UseEmbedder
    from tests.conftest import ROOT

    base = tmp_path_factory.mktemp("pdfweb")
    (base / "docs").mkdir()
    shutil.copy(ROOT / "tests" / "data" / "formats" / "guide.pdf", base / "docs" / "guide.pdf")
    settings = Settings(index_dir=base / "index", data_dir=base / "var", sources_dir=base / "docs",
                        source_url_base="https://intranet.example.org/docs", rate_limit_per_minute=0)
    engine = Engine(settings, embedder=UseEmbedder(threads=1))
    engine.ingest()
    with LiveServer(create_app(settings, engine)) as server:
        yield server


def test_browser_pdf_citation_shows_section_page_and_links_the_original(  # type: ignore[no-untyped-def]
        browser, pdf_server: LiveServer, tmp_path: Path) -> None:
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.goto(pdf_server.url + "/")
    _ask(page, "Où se trouve la trousse de secours en cas de coupure ?")
    cited = page.locator("#citations li.cited").first
    cited.wait_for(timeout=15000)
    assert "Guide de l'atelier de reliure › Sécurité, p. 2" in cited.locator("strong").inner_text()
    original = cited.get_by_role("link", name="original")
    assert original.get_attribute("href") == "https://intranet.example.org/docs/guide.pdf#page=2"
    page.screenshot(path=str(tmp_path / "pdf-citation.png"), full_page=True)
    page.get_by_role("button", name="Voir la source 1").first.click()
    sentence = page.locator("#source-text mark.sentence")
    sentence.wait_for(state="visible", timeout=10000)
    assert "trousse de secours" in sentence.inner_text()
    page.close()


def test_browser_shows_newlines_and_bidi_overrides_in_names_inert(  # type: ignore[no-untyped-def]
        browser, tmp_path: Path, embedder) -> None:
    from bot.config import Settings
    from bot.engine import Engine
    from bot.http.api import create_app

    name = "a\nb\u202eexe.md"  # shown raw, the override reverses the rest of the line: « a / b dm.exe … »
    (tmp_path / "seeds").mkdir()
    (tmp_path / "seeds" / name).write_text("# Titre\u202eesrever\n\nLe coffre ouvre à huit heures.\n", encoding="utf-8")
    settings = Settings(index_dir=tmp_path / "index", sources_dir=tmp_path / "seeds", rate_limit_per_minute=0)
    engine = Engine(settings, embedder=embedder)
    engine.ingest()
    with LiveServer(create_app(settings, engine)) as server:
        listed = httpx.get(server.url + "/v1/sources").json()
        assert [s["path"] for s in listed] == [name]  # the API keeps the real path
        page = browser.new_page()
        page.goto(f"{server.url}/#cite={listed[0]['source_id']}:0-10:0-5")
        page.locator("#source-text mark.sentence").wait_for(state="visible", timeout=10000)
        meta, title = page.locator("#viewer-meta").inner_text(), page.locator("#viewer-title").inner_text()
        assert "a\\nb\\u202eexe.md" in meta and "\n" not in meta and "\u202e" not in meta + title
        assert title == "Titre\\u202eesrever" and page.locator("#viewer-meta bdi").count() == 1
        page.close()


def test_browser_citation_shows_section_not_character_offsets(  # type: ignore[no-untyped-def]
        browser, live_server: LiveServer) -> None:
    question = "Qui dirige OpenAI par intérim ?"
    first = httpx.post(live_server.url + "/v1/ask", json={"question": question}).json()["citations"][0]
    section = first["section"].split(" › ", 1)[-1]
    page = browser.new_page()
    page.goto(live_server.url + "/")
    _ask(page, question)
    item = page.locator("#citation-1")
    item.wait_for(timeout=15000)
    assert f"{first['title']} › {section}" in item.locator("strong").inner_text()
    assert "caractères" not in page.locator("#citations").inner_text()
    assert item.locator("strong").get_attribute("title") == f"caractères {first['start']}–{first['end']}"
    item.get_by_role("button", name="voir dans la source").click()
    page.locator("#source-text mark.sentence").wait_for(state="visible", timeout=10000)
    meta = page.locator("#viewer-meta").inner_text()
    assert section in meta and "caractères" not in meta
    page.close()


def test_browser_abstention_shows_one_message(browser, live_server: LiveServer) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page()
    page.goto(live_server.url + "/")
    _ask(page, "Quelle est la hauteur de la tour Eiffel ?")
    page.locator("#citations li").first.wait_for(timeout=15000)
    shown = page.locator("#status").inner_text() + "\n" + page.locator("#answer").inner_text()
    assert shown.count("Je ne sais pas") == 1 and "Pas de réponse sûre" not in shown
    page.close()


def _only_third_cited(server: LiveServer) -> dict[str, object]:
    """An answer citing only [3] among five passages of the seed source, built from real offsets."""
    hits = httpx.get(server.url + "/v1/search", params={"q": "OpenAI Microsoft Altman", "k": 5}).json()["passages"]
    citations = []
    for n, hit in enumerate(hits, 1):
        start, end = hit["start"], hit["end"]
        sid, sentence_end = hit["source_id"], start + min(40, end - start)
        citations.append({"n": n, "source_id": sid, "title": hit["title"], "section": hit["section"],
                          "page": hit["page"], "anchor": "", "text": hit["text"], "start": start, "end": end,
                          "score": 1.0, "sentence_start": start, "sentence_end": sentence_end, "cited": n == 3,
                          "url": f"/#cite={sid}:{start}-{end}:{start}-{sentence_end}", "source_url": ""})
    quoted = citations[2]["text"][:40]
    return {"question": "q", "answer": f"{quoted} [3]", "found": True, "language": "fr", "confidence": 0.9,
            "short": "", "citations": citations, "index_version": "v", "timings_ms": {}}


def test_browser_citations_numbered_like_the_answer_markers(  # type: ignore[no-untyped-def]
        browser, live_server: LiveServer) -> None:
    body = _only_third_cited(live_server)
    page = browser.new_page()
    page.route("**/v1/ask", lambda route: route.fulfill(json=body))
    page.goto(live_server.url + "/")
    _ask(page, "Qui dirige OpenAI ?")
    page.locator("#see-also li").first.wait_for(timeout=15000)
    assert page.locator("#citations li .num").all_inner_texts() == ["[3]"]
    assert page.locator("#see-also li .num").all_inner_texts() == ["[1]", "[2]", "[4]", "[5]"]
    styles = page.eval_on_selector_all(".citations li", "items => items.map(li => getComputedStyle(li).listStyleType)")
    assert set(styles) == {"none"}  # no list position « 1. » beside the [n]
    page.locator("#answer").get_by_role("button", name="Voir la source 3").click()
    sentence = page.locator("#source-text mark.sentence")
    sentence.wait_for(state="visible", timeout=10000)
    assert sentence.inner_text() == body["citations"][2]["text"][:40]  # type: ignore[index]
    assert page.locator("#citation-3.active").count() == 1
    page.close()


def test_browser_source_viewer_keeps_title_and_close_on_a_phone_screen(  # type: ignore[no-untyped-def]
        browser, live_server: LiveServer, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 375, "height": 667})
    page.goto(live_server.url + "/")
    _ask(page, "Quelle entreprise Emmett Shear a-t-il fondée ?")
    page.locator("#answer").get_by_role("button", name="Voir la source 1").first.click()
    expect(page.locator("#source-text mark.sentence")).to_be_in_viewport(timeout=15000)
    for locator in (page.locator("#viewer-title"), page.get_by_role("button", name="Fermer la source")):
        expect(locator).to_be_in_viewport(ratio=1)
    page.screenshot(path=str(tmp_path / "phone-viewer.png"))
    page.get_by_role("button", name="Fermer la source").click()
    expect(page.locator("#viewer")).to_be_hidden()
    page.close()


def test_browser_link_to_deleted_source_says_so_in_french(  # type: ignore[no-untyped-def]
        browser, live_server: LiveServer) -> None:
    from playwright.sync_api import expect

    assert httpx.get(live_server.url + "/v1/sources/supprimee").status_code == 404
    page = browser.new_page()
    page.goto(live_server.url + "/#cite=supprimee:0-10:0-5")
    meta = page.locator("#viewer-meta")
    expect(meta).to_contain_text("Cette source n'est plus dans l'index", timeout=10000)
    assert "« supprimee »" in meta.inner_text()
    assert not any(english in meta.inner_text() for english in ("unknown source", "GET /v1/sources", "lists them"))
    expect(page.locator("#viewer-title")).to_have_text("Source introuvable")
    page.close()


def test_browser_source_server_error_says_so_in_french(  # type: ignore[no-untyped-def]
        browser, live_server: LiveServer) -> None:
    from playwright.sync_api import expect

    page = browser.new_page()
    page.route("**/v1/sources/**", lambda route: route.fulfill(status=503, json={"detail": "no index yet: run it"}))
    page.goto(live_server.url + "/#cite=openai-altman-microsoft:0-60:0-30")
    meta = page.locator("#viewer-meta")
    expect(meta).to_contain_text("erreur 503", timeout=10000)
    assert "no index" not in meta.inner_text()
    page.close()


def test_browser_answer_keeps_code_spans_and_short_highlight(  # type: ignore[no-untyped-def]
        browser, live_server: LiveServer) -> None:
    body = _only_third_cited(live_server)
    body.update(answer="Lancez `sourcier ingest` puis demandez à Mira Murati. [3]", short="Mira Murati")
    page = browser.new_page()
    page.route("**/v1/ask", lambda route: route.fulfill(json=body))
    page.goto(live_server.url + "/")
    _ask(page, "Qui dirige OpenAI ?")
    page.locator("#answer").get_by_role("button", name="Voir la source 3").wait_for(timeout=15000)
    assert page.locator("#answer code").all_inner_texts() == ["sourcier ingest"]
    assert page.locator("#answer mark.short").all_inner_texts() == ["Mira Murati"]
    assert page.locator("#citations li .num").all_inner_texts() == ["[3]"]
    page.close()


def test_browser_citation_link_finds_its_passage_after_an_edit(  # type: ignore[no-untyped-def]
        browser, tmp_path: Path, embedder) -> None:
    from bot.config import Settings
    from bot.engine import Engine
    from bot.http.api import create_app

    sources = tmp_path / "wiki"
    sources.mkdir()
    page_md = sources / "acces.md"
    page_md.write_text("# Accès\n\nLe badge ouvre la porte nord à partir de sept heures. Le parking est au sous-sol.\n",
                       encoding="utf-8")
    settings = Settings(index_dir=tmp_path / "index", sources_dir=sources, rate_limit_per_minute=0)
    engine = Engine(settings, embedder=embedder)
    engine.ingest()
    with LiveServer(create_app(settings, engine)) as server:
        cited = next(c for c in httpx.post(server.url + "/v1/ask", json={
            "question": "À partir de quelle heure le badge ouvre-t-il la porte nord ?"}).json()["citations"] if c["cited"])
        link = cited["url"]  # pasted in Slack last week
        sentence = "Le badge ouvre la porte nord à partir de sept heures."
        page_md.write_text("# Accès\n\nLe bâtiment a été rénové en 2025 et compte désormais trois étages.\n\n"
                           "Le badge ouvre la porte nord à partir de sept heures. Le parking est au sous-sol.\n",
                           encoding="utf-8")
        engine.ingest()
        page = browser.new_page()
        page.goto(server.url + "/" + link[link.index("#"):])
        mark = page.locator("#source-text mark.sentence")
        mark.wait_for(state="visible", timeout=10000)
        assert mark.inner_text() == sentence  # found again where the edit moved it, not cut mid-word
        assert "retrouvé" in page.locator("#viewer-meta").inner_text()
        page_md.write_text("# Accès\n\nLe badge ne sert plus : la porte nord est ouverte à tous.\n", encoding="utf-8")
        engine.ingest()
        page.goto("about:blank")
        page.goto(server.url + "/" + link[link.index("#"):])
        page.locator("#viewer-meta .moved").wait_for(state="visible", timeout=10000)
        assert "a changé" in page.locator("#viewer-meta").inner_text()
        page.close()
