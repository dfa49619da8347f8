"""A real PDF (maint-guide.fr.pdf, DBLaTeX + xdvipdfmx, pages kept by qpdf): metadata title first, running headers
and contents pages out of the body, no U+FFFE, commands (monospace) kept as code."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ingest.budget import Budget
from ingest.read import ReadParams, SourceDoc, read_source, read_sources, scan_sources
from tests.conftest import ROOT

FIXTURES = ROOT / "tests" / "data" / "formats"


@pytest.fixture(scope="module")
def guide() -> SourceDoc:
    return read_source(FIXTURES / "maint-guide-extrait.fr.pdf", FIXTURES)


def _bodies(doc: SourceDoc) -> list[str]:
    assert doc.layout is not None
    return [doc.text[r.start:r.end] for r in doc.layout.regions]


def test_pdf_metadata_title_comes_before_the_first_bookmark(guide: SourceDoc) -> None:
    assert guide.title == "Guide du nouveau responsable Debian"


def test_pdf_running_headers_and_contents_pages_are_not_text(guide: SourceDoc) -> None:
    assert "/ 58" not in guide.text and "Debian iv" not in guide.text  # « Guide du … Debian 9 / 58 » on every page
    assert ". . . ." not in guide.text and "Table des matières" not in guide.text
    assert "Guide du nouveau responsable Debian" not in " ".join(_bodies(guide))


def test_pdf_non_characters_are_removed_and_the_hyphenated_word_rejoins(guide: SourceDoc) -> None:
    assert "\ufffe" not in guide.text
    assert "disponible sur Guide du responsable Debian (https://www.debian.org/doc/devel-manuals#debmake-doc)" in \
        guide.text


def test_pdf_monospace_command_lines_are_one_code_block_never_quoted(guide: SourceDoc) -> None:
    listing = "$ chmod 755 hello\n$ cd ..\n$ tar -cvzf hello-sh-1.0.tar.gz hello-sh-1.0"
    at = guide.text.index(listing)
    assert guide.layout is not None and not any(r.start <= at < r.end and not r.code for r in guide.layout.regions)
    assert any(b.endswith("vous devriez le vérifier avec aptitude show paquet ou avec dpkg -s paquet.")
               for b in _bodies(guide))  # a command inside a sentence stays in it


def test_pdf_numbered_headings_are_found_on_their_line(guide: SourceDoc) -> None:
    assert guide.layout is not None
    paths = {(r.page, r.path[-1]) for r in guide.layout.regions if r.path}
    assert (5, "Obtenir le programme et l'essayer") in paths
    assert not any(b.startswith("2.3 Obtenir le programme") for b in _bodies(guide))


def test_pdf_chromium_print_header_and_footer_are_not_text() -> None:
    doc = read_source(FIXTURES / "annexe-chromium.fr.pdf", FIXTURES)
    assert doc.title == "Annexe A. Annexe"
    assert "file:///" not in doc.text and " AM " not in doc.text  # « 12/3/26, 6:26 AM Annexe A. Annexe » on top
    assert "La Référence Debian fut lancée par moi-même" in doc.text


def test_pdf_without_an_outline_takes_headings_from_type_size_and_paragraphs_from_spacing() -> None:
    doc = read_source(FIXTURES / "annexe-chromium.fr.pdf", FIXTURES)  # Chromium prints no bookmarks
    assert doc.layout is not None
    heads = [r.path[-1] for r in doc.layout.regions if r.heading]
    assert {"A.1. Le labyrinthe de Debian", "A.2. Historique du Copyright", "A.3. Format du document"} <= set(heads)
    bodies = _bodies(doc)
    assert any(b.startswith("Le système Linux est une plateforme") for b in bodies)  # not glued to its heading
    assert not any("Debian Le système" in b for b in bodies)
    assert any(b.startswith("Il existe une carte très détaillée") for b in bodies)  # a paragraph of its own
    assert doc.text.count("A.2. Historique du Copyright") == 1  # the printed contents' entry is not text
    options = read_source(FIXTURES / "options-chromium.fr.pdf", FIXTURES)
    assert options.layout is not None
    assert [r.path for r in options.layout.regions if r.heading] == [
        ("journal-lire",), ("journal-lire", "Options"), ("journal-lire", "Fichiers")]
    assert "-f, --follow\n\nSuivre le journal en continu" in options.text


def _shared_stream_pdf(pages: int, lines: int) -> bytes:
    """A PDF whose every page draws the same content stream of `lines` lines: a few KB per page in the file,
    the whole stream's text on every page for the reader (371 KB, 2,000 pages: about 1 s a page)."""
    content = b"BT /F1 12 Tf 72 720 Td " + b"".join(b"(Ligne %d du texte.) Tj 0 -14 Td " % i for i in range(lines))
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % (5 + i) for i in range(pages)) +
               b"] /Count %d >>" % pages,
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
               b"<< /Length %d >>\nstream\n" % len(content) + content + b"ET\nendstream"]
    objects += [(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> "
                b"/Contents 4 0 R >>")] * pages
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1) + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def test_pdf_pages_sharing_one_huge_stream_are_stopped_by_the_read_budget(tmp_path: Path) -> None:
    (tmp_path / "partage.pdf").write_bytes(_shared_stream_pdf(400, 2000))  # 130 KB, about 50 s to read here
    shutil.copy(FIXTURES / "guide.pdf", tmp_path / "guide.pdf")
    docs, errors = read_sources(scan_sources(tmp_path)[0], tmp_path, ReadParams(2**30, budget=Budget(1.0, 2048, 2)))
    assert [d.path for d in docs] == ["guide.pdf"]
    assert [str(e) for e in errors] == [(f"{tmp_path}/partage.pdf: took more than 1 s to read "
                                        "(SOURCIER_READ_TIMEOUT_SECONDS); skipped")]
