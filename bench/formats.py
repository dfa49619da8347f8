"""Ingest the French Debian handbook from its HTML as shipped, and time extraction per format.

    apt-get download debian-handbook && dpkg -x debian-handbook_*.deb /tmp/hb
    .venv/bin/python bench/formats.py /tmp/hb/usr/share/doc/debian-handbook/html/fr-FR [PDF ...]

Prints Markdown for docs/formats.md: extraction speed (pages/s, MB/s) against the whole ingest, the
passages it made, ten questions from tests/data/eval/handbook.jsonl answered with their section paths, and,
for the PDFs given, pypdfium2 against pdfminer.six (`pip install pdfminer.six`) on the same files.

    .venv/bin/python bench/formats.py --per-file tests/data/formats

reads each file of a folder (no embedding) and prints, per file, its reader, the extraction time, the
characters stored and the share of them indexed as body text (the rest: headings, code, tables' furniture).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from bot.config import Settings
from bot.engine import Engine
from ingest.read import find_sources, read_source

ROOT = Path(__file__).resolve().parent.parent


def extraction(folder: Path) -> tuple[int, float, float]:
    """Pages, MB and seconds to read every supported file of a folder."""
    paths = find_sources(folder)
    started = time.perf_counter()
    for path in paths:
        read_source(path, folder)
    return len(paths), sum(p.stat().st_size for p in paths) / 2**20, time.perf_counter() - started


def pdf_compare(pdfs: list[Path]) -> list[str]:
    """Seconds and characters for each PDF library on the same files."""
    import pypdfium2 as pdfium
    from pdfminer.high_level import extract_text

    def with_pdfium(path: Path) -> str:
        pdf = pdfium.PdfDocument(path)
        return "".join(page.get_textpage().get_text_range() for page in pdf)

    rows = ["| library | pages | seconds | pages/s | characters |", "|---|---|---|---|---|"]
    pages = sum(len(pdfium.PdfDocument(p)) for p in pdfs)
    for name, extract in (("pypdfium2", with_pdfium), ("pdfminer.six", lambda p: extract_text(str(p)))):
        started = time.perf_counter()
        chars = sum(len(extract(p)) for p in pdfs)
        seconds = time.perf_counter() - started
        rows.append(f"| {name} | {pages} | {seconds:.2f} | {pages / seconds:.0f} | {chars:,} |")
    return rows


def per_file(folder: Path) -> list[str]:
    """Reader, extraction milliseconds, stored characters and share indexed as body, for each file of a folder."""
    from ingest.formats import reader_for

    rows = ["| file | reader | ms | stored | indexed |", "|---|---|---|---|---|"]
    for path in sorted(p for p in folder.iterdir() if reader_for(p.name)):
        started = time.perf_counter()
        doc = read_source(path, folder)
        ms = (time.perf_counter() - started) * 1000
        body = sum(r.end - r.start for r in doc.layout.regions) if doc.layout else 0
        rows.append(f"| `{path.name}` | {reader_for(path.name).name} | {ms:.0f} | {len(doc.text):,} | "
                    f"{body / max(len(doc.text), 1):.0%} |")
    return rows


def main(folder: Path, pdfs: list[Path]) -> None:
    pages, mb, read_s = extraction(folder)
    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine(Settings(index_dir=Path(tmp) / "index", data_dir=Path(tmp), sources_dir=folder))
        report = engine.ingest()
        print(f"{pages} pages, {mb:.2f} MB of HTML: extraction {read_s:.2f} s ({pages / read_s:.0f} pages/s, "
              f"{mb / read_s:.1f} MB/s); whole ingest {report.seconds:.1f} s ({read_s / report.seconds:.1%} "
              f"extraction); {report.chunks} passages, {len(report.errors)} files skipped\n")
        chars = sum(len(t) for t in engine.snapshot.texts.values())
        print(f"{chars:,} characters stored\n")
        print("| question | answer | where |\n|---|---|---|")
        lines = (ROOT / "tests/data/eval/handbook.jsonl").read_text(encoding="utf-8").splitlines()[:10]
        for line in lines:
            question = json.loads(line)["q"]
            answer = engine.ask(question)
            cited = next((c for c in answer.citations if c.cited), None)
            where = f"{cited.place} (`{cited.source_id}`)" if cited else "—"
            print(f"| {question} | {answer.text.replace('|', '∣')[:220]} | {where} |")
    if pdfs:
        print()
        print("\n".join(pdf_compare(pdfs)))


if __name__ == "__main__":
    if sys.argv[1] == "--per-file":
        print("\n".join(per_file(Path(sys.argv[2]))))
    else:
        main(Path(sys.argv[1]), [Path(p) for p in sys.argv[2:]])
