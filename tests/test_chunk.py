"""Chunks are whole sentences, overlap, stay under the size cap, and slice their source exactly."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

from ingest.chunk import chunk_document
from ingest.read import SourceDoc, find_sources, read_sources
from ingest.text import sentences
from tests.conftest import SEEDS


def doc_of(text: str) -> SourceDoc:
    return SourceDoc("doc", "doc.txt", "Doc", text, "0" * 64)


def test_chunk_offsets_slice_every_seed_exactly() -> None:
    docs, errors = read_sources(find_sources(SEEDS), SEEDS)
    assert docs and not errors
    for doc in docs:
        chunks = chunk_document(doc, 700, 3)
        assert chunks
        for chunk in chunks:
            assert doc.text[chunk.start : chunk.end] == chunk.text
            assert len(chunk.text) <= 1200
            for start, end in chunk.sentences:
                assert chunk.start <= start < end <= chunk.end


def test_chunk_covers_every_sentence_and_overlaps() -> None:
    text = " ".join(f"Phrase numéro {i} qui parle de sujets variés." for i in range(40))
    doc = doc_of(text)
    chunks = chunk_document(doc, size=200, overlap=1)
    covered = {s for c in chunks for s in c.sentences}
    assert {(s.start, s.end) for s in sentences(text)} <= covered
    for before, after in pairwise(chunks):
        assert before.sentences[-1] == after.sentences[0]


def test_chunk_cuts_an_overlong_sentence_at_clauses() -> None:
    text = ", ".join(["une clause assez longue pour remplir"] * 80) + "."
    chunks = chunk_document(doc_of(text), size=300, overlap=0, max_chars=300)
    assert len(chunks) > 5
    assert all(len(c.text) <= 300 for c in chunks)
    assert "".join(c.text for c in chunks).replace(" ", "") == text.replace(" ", "")


def test_chunk_ids_are_stable_and_ordered(tmp_path: Path) -> None:
    chunks = chunk_document(doc_of("Un. Deux. Trois. Quatre."), size=10, overlap=0)
    assert [c.chunk_id for c in chunks] == [f"doc#{i}" for i in range(len(chunks))]
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
