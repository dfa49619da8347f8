"""Rebuild the format fixtures with the tools teams use (run by hand; the outputs are committed).

    apt-get install libreoffice-writer-nogui libreoffice-draw-nogui qpdf
    .venv/bin/python tests/data/formats/make_fixtures.py

guide.docx is written by python-docx with Word's built-in heading styles, a table and a page break;
LibreOffice (headless) converts it to guide.odt and guide.pdf (with bookmarks from the headings);
qpdf encrypts a copy (protected.pdf); LibreOffice Draw turns a PNG of text, drawn by matplotlib, into a
PDF with no text layer (scanned.pdf). The HTML and Markdown fixtures are written by hand.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import docx
from docx.enum.text import WD_BREAK

HERE = Path(__file__).parent
EXPORT_PDF = 'pdf:writer_pdf_Export:{"ExportBookmarks":{"type":"boolean","value":"true"}}'


def write_docx(target: Path) -> None:
    """Headings on three levels, body paragraphs, a table with a header row, and a second page."""
    document = docx.Document()
    document.core_properties.title = "Guide de l'atelier de reliure"
    document.add_heading("Guide de l'atelier de reliure", level=1)
    document.add_paragraph("Ce guide présente l'atelier de reliure de la médiathèque de Brumeville.")
    document.add_heading("Horaires et accès", level=2)
    document.add_paragraph("L'atelier ouvre le mardi et le jeudi de 14 h à 18 h. L'entrée se fait par la porte "
                           "bleue de la cour intérieure.")
    document.add_heading("Matériel", level=2)
    document.add_heading("Papiers", level=3)
    document.add_paragraph("Le papier japonais est rangé dans le tiroir du bas de l'armoire grise.")
    document.add_heading("Outils", level=3)
    table = document.add_table(rows=3, cols=3)
    for row, cells in zip(table.rows, [("Outil", "Emplacement", "Prix"), ("Plioir en os", "Établi 2", "12 euros"),
                                       ("Poinçon", "Établi 3", "8 euros")], strict=True):
        for cell, text in zip(row.cells, cells, strict=True):
            cell.text = text
    document.add_paragraph("Les outils empruntés sont rapportés sur leur établi avant de partir.")
    document.paragraphs[-1].runs[-1].add_break(WD_BREAK.PAGE)
    document.add_heading("Sécurité", level=2)
    document.add_paragraph("Les cutters sont rangés lame rentrée après chaque séance. En cas de coupure, la "
                           "trousse de secours se trouve sous l'évier de la salle du fond.")
    document.save(str(target))


def soffice(source: Path, target_format: str, outdir: Path) -> None:
    """LibreOffice headless conversion, in a throwaway profile so it never clashes with a running instance."""
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(["soffice", f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to",
                        target_format, "--outdir", str(outdir), str(source)], check=True, capture_output=True)


def write_scan(target: Path) -> None:
    """A page that is only a picture of text, as a scanner makes it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with tempfile.TemporaryDirectory() as tmp:
        png = Path(tmp) / "scanned.png"
        fig = plt.figure(figsize=(8.27, 11.69), dpi=72)
        fig.text(0.1, 0.9, "Compte rendu de la réunion du 3 mars : le budget est voté.", fontsize=14)
        fig.savefig(png)
        soffice(png, "pdf", Path(tmp))
        shutil.copy(Path(tmp) / "scanned.pdf", target)


def main() -> None:
    if not shutil.which("soffice") or not shutil.which("qpdf"):
        sys.exit("needs LibreOffice (soffice) and qpdf: apt-get install libreoffice-writer-nogui "
                 "libreoffice-draw-nogui qpdf")
    write_docx(HERE / "guide.docx")
    soffice(HERE / "guide.docx", "odt", HERE)
    soffice(HERE / "guide.docx", EXPORT_PDF, HERE)
    subprocess.run(["qpdf", "--encrypt", "secret", "secret", "256", "--", str(HERE / "guide.pdf"),
                    str(HERE / "bad" / "protected.pdf")], check=True)
    write_scan(HERE / "bad" / "scanned.pdf")
    (HERE / "bad" / "corrupt.docx").write_bytes((HERE / "guide.docx").read_bytes()[:3000])


if __name__ == "__main__":
    main()
