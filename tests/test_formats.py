"""Every format round-trips: real files (LibreOffice, python-docx, qpdf, hand-written HTML/Markdown) are read,
indexed with the real model, and a question is answered with the right sentence, section path and PDF page."""

from __future__ import annotations

import io
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import Settings
from bot.engine import Engine
from ingest import formats
from ingest.embed import Embedder
from ingest.read import read_source
from tests.conftest import ROOT, LiveServer, serve

FIXTURES = ROOT / "tests" / "data" / "formats"
GOOD = ("guide.docx", "guide.odt", "guide.pdf", "intranet.html", "creche-1252.html", "notes.md")


@pytest.fixture(scope="module")
def formats_engine(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Engine:
    base = tmp_path_factory.mktemp("formats")
    for name in GOOD:
        shutil.copy(FIXTURES / name, base / name)
    settings = Settings(index_dir=base / "index", data_dir=base / "var", sources_dir=base,
                        source_url_base="https://intranet.example.org/docs", rate_limit_per_minute=0)
    engine = Engine(settings, embedder=embedder)
    report = engine.ingest()
    assert report.errors == [] and report.sources == len(GOOD)
    return engine


def _ids(engine: Engine) -> dict[str, str]:
    return {entry.path: sid for sid, entry in engine.snapshot.manifest.sources.items()}


@pytest.mark.parametrize("name", ["guide.docx", "guide.odt", "guide.pdf"])
@pytest.mark.parametrize(("question", "sentence", "section", "page"), [
    ("Où est rangé le papier japonais ?", "Le papier japonais est rangé dans le tiroir du bas de l'armoire grise.",
     "Guide de l'atelier de reliure › Matériel › Papiers", 1),
    ("Où se trouve la trousse de secours en cas de coupure ?",
     "En cas de coupure, la trousse de secours se trouve sous l'évier de la salle du fond.",
     "Guide de l'atelier de reliure › Sécurité", 2),
])
def test_formats_office_and_pdf_answer_with_sentence_section_and_page(
        formats_engine: Engine, name: str, question: str, sentence: str, section: str, page: int) -> None:
    answer = formats_engine.ask(question, sources=[_ids(formats_engine)[name]])
    cited = [c for c in answer.citations if c.cited]
    assert answer.found and sentence in answer.text, answer.text
    assert cited[0].section == section
    assert cited[0].page == (page if name.endswith(".pdf") else 0)
    if name.endswith(".pdf"):
        assert cited[0].place.endswith(f", p. {page}")
        assert cited[0].source_url == f"https://intranet.example.org/docs/guide.pdf#page={page}"


@pytest.mark.parametrize("name", ["guide.docx", "guide.odt"])
def test_formats_table_rows_are_whole_units_labelled_by_their_header(formats_engine: Engine, name: str) -> None:
    answer = formats_engine.ask("Quel est le prix du poinçon ?", sources=[_ids(formats_engine)[name]])
    assert "Outil : Poinçon ; Emplacement : Établi 3 ; Prix : 8 euros" in answer.text, answer.text
    assert next(c.section for c in answer.citations if c.cited).endswith("Matériel › Outils")


def test_formats_html_keeps_main_content_and_links_to_the_heading_anchor(formats_engine: Engine) -> None:
    sid = _ids(formats_engine)["intranet.html"]
    text = formats_engine.snapshot.texts[sid]
    for boilerplate in ("ne-pas-indexer", "pied de page", "mentions légales", "Ressources humaines", "cantine",
                        "Menu caché", "Accueil"):
        assert boilerplate not in text
    answer = formats_engine.ask("Quand a lieu le déménagement des archives ?", sources=[sid])
    cited = next(c for c in answer.citations if c.cited)
    assert answer.found and "Le déménagement a lieu du 12 au 16 mai." in answer.text
    assert cited.section == "Déménagement des archives › Calendrier"
    assert cited.source_url == "https://intranet.example.org/docs/intranet.html#calendrier"
    labels = formats_engine.ask("Quel jour part le service urbanisme ?", sources=[sid])
    assert "Service : Urbanisme ; Jour de départ : mercredi 14 mai" in labels.text, labels.text


def test_formats_html_declared_windows_1252_is_decoded(formats_engine: Engine) -> None:
    text = formats_engine.snapshot.texts[_ids(formats_engine)["creche-1252.html"]]
    assert "L’été, la crèche ferme ses portes trois semaines en août. L’inscription coûte 15 € par an." in text


def test_formats_markdown_front_matter_and_code_are_not_quoted_and_headings_are_anchors(
        formats_engine: Engine) -> None:
    sid = _ids(formats_engine)["notes.md"]
    chunks = [c for c in formats_engine.snapshot.chunks if c.source_id == sid]
    assert all("tags:" not in c.text for c in chunks)
    restic = [(c, i) for c in chunks for i, (a, b) in enumerate(c.sentences)
              if "restic" in c.text[a - c.start : b - c.start]]
    assert restic and all(i in c.code for c, i in restic)  # code lines are units of their own, marked as code
    answer = formats_engine.ask("À quelle heure partent les sauvegardes des serveurs ?", sources=[sid])
    cited = next(c for c in answer.citations if c.cited)
    assert answer.found and cited.section == "Notes de l'équipe infrastructure › Sauvegardes"
    assert cited.source_url == "https://intranet.example.org/docs/notes.md#sauvegardes"
    assert "partent chaque nuit à 2 h vers le stockage objet du centre de données de Lille." in answer.text  # as read


@pytest.fixture(scope="module")
def formats_server(formats_engine: Engine) -> Iterator[LiveServer]:
    from bot.http.api import create_app

    yield from serve(create_app(formats_engine.settings, formats_engine))


def test_formats_api_returns_page_section_and_the_source_sections(formats_server: LiveServer,
                                                                   formats_engine: Engine) -> None:
    sid = _ids(formats_engine)["guide.pdf"]
    with formats_server.client() as http:
        body = http.post("/v1/ask", json={"question": "Où se trouve la trousse de secours ?",
                                          "sources": [sid]}).json()
        source = http.get(f"/v1/sources/{sid}").json()
    cited = next(c for c in body["citations"] if c["cited"])
    assert (cited["page"], cited["section"]) == (2, "Guide de l'atelier de reliure › Sécurité")
    assert cited["source_url"].endswith("guide.pdf#page=2")
    pages = {s["path"].split(" › ")[-1]: s["page"] for s in source["sections"]}
    assert pages == {"Guide de l'atelier de reliure": 1, "Horaires et accès": 1, "Papiers": 1, "Outils": 1,
                     "Sécurité": 2}
    for section in source["sections"]:
        assert source["text"][section["start"]:section["end"]].strip()


def _zip_bomb() -> bytes:
    """A .docx-shaped zip whose document.xml unzips to 200 MB of spaces (about 200 KB on disk)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("word/document.xml", "w") as member:
            block = b" " * 2**20
            for _ in range(200):
                member.write(block)
    return out.getvalue()


def test_formats_bad_files_get_one_line_each_and_never_stop_the_others(tmp_path: Path, embedder: Embedder) -> None:
    docs = tmp_path / "docs"
    shutil.copytree(FIXTURES / "bad", docs)
    shutil.copy(FIXTURES / "guide.odt", docs / "guide.odt")
    (docs / "bomb.docx").write_bytes(_zip_bomb())
    (docs / "big.txt").write_text("Un gros fichier. " * 70_000, encoding="utf-8")  # 1.2 MB
    (docs / "table.xlsx").write_bytes(b"PK\x03\x04")
    settings = Settings(index_dir=tmp_path / "index", data_dir=tmp_path / "var", sources_dir=docs, max_source_mb=1)
    report = Engine(settings, embedder=embedder).ingest()
    assert report.sources == 1
    reasons = {line.split(": ", 1)[0].rsplit("/", 1)[-1]: line.split(": ", 1)[1] for line in report.errors}
    assert "password-protected" in reasons["protected.pdf"]
    assert "no text layer" in reasons["scanned.pdf"] and "OCR is not supported" in reasons["scanned.pdf"]
    assert "not a valid Word (.docx) file" in reasons["corrupt.docx"]
    assert "zip bomb" in reasons["bomb.docx"]
    assert "over the 1 MB cap (SOURCIER_MAX_SOURCE_MB)" in reasons["big.txt"]
    assert "unsupported format (.xlsx)" in reasons["table.xlsx"]
    assert all("\n" not in line for line in report.errors)


def test_formats_reader_version_is_in_the_hash_so_improving_a_reader_rereads_its_files(
        tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("guide.odt", "notes.md"):
        shutil.copy(FIXTURES / name, docs / name)
    engine = Engine(Settings(index_dir=tmp_path / "index", data_dir=tmp_path / "var", sources_dir=docs),
                    embedder=embedder)
    engine.ingest()
    assert engine.ingest().changed is False
    reader = formats.READERS[".odt"]
    monkeypatch.setitem(formats.READERS, ".odt", reader._replace(version=reader.version + 1))
    monkeypatch.setattr("ingest.read.INLINE_SUFFIXES", (".odt",))  # patched here: read here, not in a worker
    report = engine.ingest()
    assert report.changed_sources == ["guide"] and report.reused > 0


def test_formats_each_reader_gives_exact_offsets_into_its_stored_text() -> None:
    for name in GOOD:
        doc = read_source(FIXTURES / name, FIXTURES)
        assert doc.layout is not None and doc.layout.regions
        for region in doc.layout.regions:
            assert doc.text[region.start:region.end].strip() == doc.text[region.start:region.end].strip("\n ")
            assert region.end <= len(doc.text)


def test_formats_pdf_wrapped_lines_join_into_paragraphs_and_broken_words_rejoin() -> None:
    from ingest.formats.pdf import _paragraphs
    from ingest.formats.pdflines import Line

    texts = ["Le mot informa\x02", "tique est coupé, le porte-", "manteau aussi.", "• une puce", "Fin de page."]
    lines = [Line(text, False, 10.0, 700.0 - 12 * i) for i, text in enumerate(texts)]
    assert [b.text for b in _paragraphs(lines, 3, 12.0)] == [
        "Le mot informatique est coupé, le porte-manteau aussi.", "• une puce Fin de page."]
