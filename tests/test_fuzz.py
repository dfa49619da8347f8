"""Fuzzing: arbitrary Unicode through the text pipeline (hypothesis), and the live API against its own schema."""

from __future__ import annotations

import re

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error, response_schema_conformance

from ingest.chunk import chunk_document
from ingest.plaintext import layout_of
from ingest.read import SourceDoc
from ingest.text import normalise, sentences
from tests.conftest import LiveServer

TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=3000) | st.from_regex(
    r"([A-ZÉ][a-zé]{1,8}[ .?!»«\n]{0,3}){0,80}", fullmatch=True)


@given(TEXT, st.integers(100, 1200), st.integers(0, 4))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_fuzz_chunks_slice_exactly_and_cover_every_visible_body_character(raw: str, size: int, overlap: int) -> None:
    text = normalise(raw)
    for span in sentences(text):
        assert 0 <= span.start < span.end <= len(text)
    chunks = chunk_document(SourceDoc("s", "s.txt", "t", text, "0"), size, overlap)
    covered = bytearray(len(text))
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text and len(chunk.text) <= 1200
        covered[chunk.start : chunk.end] = b"\x01" * (chunk.end - chunk.start)
    body = [i for r in layout_of(text, "s.txt").regions if not r.heading for i in range(r.start, r.end)
            if not text[i].isspace()]
    assert all(covered[i] for i in body)  # only headings, which become section paths, stay outside chunks


@given(st.text(max_size=500))
@settings(max_examples=200, deadline=None)
def test_fuzz_analyzer_never_crashes(raw: str) -> None:
    from index.lexical import FrenchAnalyzer

    terms = FrenchAnalyzer().terms(raw)
    assert all(t and not re.search(r"\s", t) for t in terms)


def test_fuzz_api_never_500s_and_matches_its_schema(live_server: LiveServer) -> None:
    api = schemathesis.openapi.from_url(live_server.url + "/openapi.json")
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) >= 8
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(base_url=live_server.url, checks=[not_a_server_error,
                                                                     response_schema_conformance])

        check()
