"""An unchanged PDF, DOCX, ODT or HTML file is not parsed again: its raw bytes are hashed first and the previous
version's text, sections and passages reused (keyed by the bytes, the reader's version and the chunking)."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest

from bot.config import Settings
from bot.engine import Engine
from ingest import formats
from ingest.embed import Embedder
from ingest.formats import Reader
from tests.conftest import ROOT

FIXTURES = ROOT / "tests" / "data" / "formats"
FILES = ("guide.docx", "guide.odt", "guide.pdf", "intranet.html", "notes.md")


@pytest.fixture()
def calls(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """How often each format's reader runs; files are read in this process so the count sees every call."""
    seen: Counter[str] = Counter()
    for suffix, reader in list(formats.READERS.items()):
        def counted(raw: bytes, name: str, reader: Reader = reader) -> object:
            seen[name] += 1
            return reader.extract(raw, name)
        monkeypatch.setitem(formats.READERS, suffix, reader._replace(extract=counted))
    monkeypatch.setattr("ingest.read.INLINE_SUFFIXES", tuple(formats.READERS))
    monkeypatch.setattr("ingest.read.INLINE_BYTES", 1 << 30)
    return seen


def _engine(tmp_path: Path, embedder: Embedder, **settings: object) -> Engine:
    docs = tmp_path / "docs"
    if not docs.exists():
        docs.mkdir()
        for name in FILES:
            shutil.copy(FIXTURES / name, docs / name)
    return Engine(Settings(index_dir=tmp_path / "index", data_dir=tmp_path / "var", sources_dir=docs,
                           **settings), embedder=embedder)  # type: ignore[arg-type]


def test_read_cache_unchanged_files_are_not_parsed_again(tmp_path: Path, embedder: Embedder,
                                                         calls: Counter[str]) -> None:
    engine = _engine(tmp_path, embedder)
    first = engine.ingest()
    assert first.read_cached == 0 and calls == Counter({name: 1 for name in FILES})
    before = engine.snapshot.manifest.sources
    notes = tmp_path / "docs" / "notes.md"
    notes.write_text(notes.read_text(encoding="utf-8") + "\nUn paragraphe ajouté sur la reliure.\n", encoding="utf-8")
    second = engine.ingest()
    assert second.changed_sources == ["notes"] and second.read_cached == len(FILES) - 1
    assert calls == Counter({name: 1 for name in FILES} | {"notes.md": 2})  # only the edited file was parsed
    after = engine.snapshot
    for sid, entry in before.items():  # sections, pages and text of the unparsed files are the same as before
        if sid != "notes":
            assert (after.manifest.sources[sid].sections, after.manifest.sources[sid].title) == (entry.sections,
                                                                                                 entry.title)
    pdf_id = next(sid for sid, e in after.manifest.sources.items() if e.path == "guide.pdf")
    assert {c.page for c in after.chunks if c.source_id == pdf_id} == {1, 2}
    answer = engine.ask("Où se trouve la trousse de secours en cas de coupure ?", sources=[pdf_id])
    assert answer.found and answer.citations[0].page == 2


def test_read_cache_a_chunking_change_parses_everything_again(tmp_path: Path, embedder: Embedder,
                                                              calls: Counter[str]) -> None:
    _engine(tmp_path, embedder).ingest()
    report = _engine(tmp_path, embedder, chunk_size=Settings().chunk_size + 200).ingest()
    assert report.read_cached == 0 and calls == Counter({name: 2 for name in FILES})


def test_read_cache_works_with_files_read_in_worker_processes(tmp_path: Path, embedder: Embedder) -> None:
    engine = _engine(tmp_path, embedder)  # the default budget: PDF, Office and HTML are read in workers
    engine.ingest()
    (tmp_path / "docs" / "guide.pdf").unlink()
    report = engine.ingest()
    assert report.removed_sources and report.read_cached == len(FILES) - 1 and report.embedded == 0
