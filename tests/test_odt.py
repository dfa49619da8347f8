"""OpenDocument and Word files made by pandoc: read from their XML with entities and network off, code kept as code,
and every zip entry sized up before anything is unpacked."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from index.errors import ExtractionError
from ingest.formats.odt import read_odt
from ingest.formats.office import read_docx
from ingest.read import read_source
from tests.conftest import ROOT

FIXTURES = ROOT / "tests" / "data" / "formats"
PANDOC_ODT = FIXTURES / "i18n.fr.odt"


def _with_entries(raw: bytes, extra: dict[str, bytes], replace: bool = False) -> bytes:
    """A copy of a real archive with entries added (or replaced), compressed as an office suite would."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(raw)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if not (replace and info.filename in extra):
                dst.writestr(info, src.read(info.filename))
        for name, data in extra.items():
            dst.writestr(name, data)
    return out.getvalue()


def test_odt_pandoc_file_is_read_with_its_meta_title_and_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    doc = read_source(PANDOC_ODT, FIXTURES)
    assert doc.title == "Chapitre 8. I18N et L10N"
    assert "Les paramètres linguistiques (« locale »)" in doc.text
    assert doc.layout is not None and len(doc.layout.regions) > 50
    assert capsys.readouterr().out == ""


def test_odt_pandoc_file_keeps_ingest_json_valid(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from bot.cli.cli import app

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / PANDOC_ODT.name).write_bytes(PANDOC_ODT.read_bytes())
    result = CliRunner().invoke(app, ["ingest", str(docs), "--index-dir", str(tmp_path / "index"), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)  # odfpy printed ~860 lines of XML here
    assert report["sources"] == 1 and report["errors"] == []


def test_odt_preformatted_paragraphs_are_one_code_block_never_quoted() -> None:
    text, layout = read_odt(PANDOC_ODT.read_bytes(), PANDOC_ODT.name)
    listing = "“double quoted text” is not \"double quoted ASCII\"\n‘single quoted text’ is not 'single quoted ASCII'"
    at = text.index(listing)
    assert not any(r.start <= at < r.end and not r.code for r in layout.regions)


def test_odt_docx_source_code_paragraphs_are_one_code_block_never_quoted() -> None:
    raw = (FIXTURES / "i18n.fr.docx").read_bytes()
    text, layout = read_docx(raw, "i18n.fr.docx")
    at = text.index("“double quoted text” is not \"double quoted ASCII\"\n‘single quoted text’")
    assert not any(r.start <= at < r.end and not r.code for r in layout.regions)


def test_odt_entity_declarations_are_refused_not_expanded() -> None:
    raw = PANDOC_ODT.read_bytes()
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        content = archive.read("content.xml").decode()
    declaration = content[:content.index("?>") + 2]
    hostile = content.replace(declaration, declaration + '<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>', 1)
    hostile = hostile.replace("Chapitre 8. I18N et L10N</text:h>", "&x;</text:h>", 1)
    with pytest.raises(ExtractionError, match="DTD"):
        read_odt(_with_entries(raw, {"content.xml": hostile.encode()}, replace=True), "x.odt")


@pytest.mark.parametrize(("extra", "reason"), [
    ({"Pictures/photo.png": b"\0" * (65 * 2**20)}, "when unzipped"),  # not XML, counted all the same
    ({f"Pictures/{i}.png": b"" for i in range(5001)}, "zip entries"),
    ({"Pictures/photo.png": b"\0" * (8 * 2**20)}, "compressed"),  # under the size cap, a thousandfold ratio
])
def test_odt_zip_bombs_in_any_entry_are_refused_with_a_reason(tmp_path: Path, extra: dict[str, bytes],
                                                              reason: str) -> None:
    for name in ("i18n.fr.odt", "i18n.fr.docx"):
        bomb = tmp_path / name
        bomb.write_bytes(_with_entries((FIXTURES / name).read_bytes(), extra))
        with pytest.raises(Exception, match=f"{reason}.*zip bomb") as caught:
            read_source(bomb, tmp_path)
        assert type(caught.value).__name__ == "SourceError"


def test_odt_footnotes_follow_their_paragraph_instead_of_cutting_its_sentence() -> None:
    doc = read_source(FIXTURES / "reliure-notes.odt", FIXTURES)
    assert doc.title == "Reliure japonaise"
    assert doc.layout is not None
    bodies = [doc.text[r.start:r.end] for r in doc.layout.regions if not r.heading]
    assert bodies == ["La reliure japonaise se coud avec un fil de lin ciré. Le papier se plie en deux avant la couture.",
                      "Le fil de lin ciré se trouve dans la boîte bleue du deuxième tiroir."]


def _content_xml(body: str) -> bytes:
    """An OpenDocument content.xml holding `body` as its text."""
    return ('<?xml version="1.0" encoding="UTF-8"?><office:document-content '
            'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
            'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"><office:body><office:text>'
            f'{body}</office:text></office:body></office:document-content>').encode()


def test_odt_huge_space_counts_are_not_expanded_and_code_keeps_its_indent() -> None:
    body = ('<text:p>Le papier est<text:s text:c="50000000"/>rangé ici.</text:p>' * 8 +
            '<text:p text:style-name="Preformatted_20_Text"><text:s text:c="4"/>make install</text:p>'
            '<text:p text:style-name="Preformatted_20_Text"><text:s text:c="99999999"/>x</text:p>')
    raw = _with_entries(PANDOC_ODT.read_bytes(), {"content.xml": _content_xml(body)}, replace=True)
    text, _ = read_odt(raw, "espaces.odt")
    assert text.count("Le papier est rangé ici.") == 8
    assert "\n    make install\n" in text and len(text) < 2000  # was 400 MB of spaces (and 4 GB for 110 KB)


class _Counted:
    """Counts how often python-docx resolves a paragraph's style (a scan of every style of the document)."""

    def __init__(self, prop: property) -> None:
        self.prop, self.calls = prop, 0

    def __get__(self, obj: object, owner: type | None = None) -> object:
        self.calls += 1
        return self.prop.__get__(obj, owner)


def test_odt_docx_empty_paragraphs_resolve_each_style_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from docx.text.paragraph import Paragraph

    raw = (FIXTURES / "i18n.fr.docx").read_bytes()
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        xml = archive.read("word/document.xml")
    padded = _with_entries(raw, {"word/document.xml": xml.replace(b"<w:body>", b"<w:body>" + b"<w:p/>" * 2000, 1)},
                           replace=True)
    counted = _Counted(Paragraph.style)
    monkeypatch.setattr(Paragraph, "style", counted)
    assert read_docx(padded, "vide.docx")[0] == read_docx(raw, "i18n.fr.docx")[0]
    assert counted.calls < 100  # once per distinct style; was twice per paragraph (45 KB of them: 897 s)


def _merged_table_docx(rows: int) -> tuple[bytes, list[list[str]]]:
    """A Word file whose first table has spanned and vertically merged cells, then `rows` rows merged down
    its first column; and python-docx's own reading of the first table's rows."""
    import docx
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.table import _Cell

    document = docx.Document()
    small = document.add_table(rows=4, cols=3)
    for r, row in enumerate(small.rows):
        for c, cell in enumerate(row.cells):
            cell.text = f"{r}{c}"
    small.cell(0, 0).merge(small.cell(0, 1))  # spanned
    small.cell(1, 2).merge(small.cell(3, 2))  # merged down
    expected = [[c.text for c in row.cells] for row in small.rows]
    long = document.add_table(rows=rows, cols=2)
    for i, tr in enumerate(long._tbl.tr_lst):  # by the XML: `row.cells` climbs the merge (a RecursionError)
        merge = OxmlElement("w:vMerge")
        if i == 0:
            merge.set(qn("w:val"), "restart")
        tr.tc_lst[0].get_or_add_tcPr().append(merge)
        _Cell(tr.tc_lst[1], long).text = f"ligne {i}"
    out = io.BytesIO()
    document.save(out)
    return out.getvalue(), expected


def test_odt_docx_merged_cells_read_in_one_pass_as_python_docx_reads_them() -> None:
    import docx

    from ingest.formats.office import _cell_texts

    raw, expected = _merged_table_docx(1_500)
    assert list(_cell_texts(docx.Document(io.BytesIO(raw)).tables[0])) == expected
    text, _ = read_docx(raw, "fusion.docx")
    assert "ligne 1499" in text  # was a RecursionError past 1,000 merged rows (800 rows: 20 s)
