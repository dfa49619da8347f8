"""Each source's main language (fr or en), weighted by characters, in the manifest and in `GET /v1/sources`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.config import Settings
from bot.engine import Engine
from ingest.chunk import chunk_document
from ingest.embed import Embedder
from ingest.language import main_language
from ingest.read import read_source
from tests.conftest import ROOT, LiveServer

FIXTURES = ROOT / "tests" / "data" / "formats"


@pytest.mark.parametrize(("name", "language"), [
    ("preface.fr.txt", "fr"),  # French with one English paragraph
    ("adduser.8.txt", "fr"),
    ("adduser.8.en.txt", "en"),
    ("i18n.fr.odt", "en"),  # « fr » in its name, but most of debian-reference's chapter 8 is untranslated
])
def test_language_is_the_one_most_characters_are_in(name: str, language: str) -> None:
    doc = read_source(FIXTURES / name, FIXTURES)
    assert main_language(c.text for c in chunk_document(doc, 700, 1)) == language


def test_language_is_empty_when_there_is_too_little_text() -> None:
    assert main_language(["Oui."]) == "" and main_language([]) == ""


def test_language_is_in_the_manifest_and_the_sources_listing(tmp_path: Path, embedder: Embedder) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("preface.fr.txt", "adduser.8.en.txt"):
        shutil.copy(FIXTURES / name, docs / name)
    engine = Engine(Settings(index_dir=tmp_path / "index", data_dir=tmp_path / "var", sources_dir=docs,
                             rate_limit_per_minute=0), embedder=embedder)
    engine.ingest()
    shutil.copy(FIXTURES / "sauvegarde.md", docs / "sauvegarde.md")  # unchanged sources keep theirs
    assert engine.ingest().reused > 0
    by_path = {e.path: e.language for e in engine.snapshot.manifest.sources.values()}
    assert by_path == {"preface.fr.txt": "fr", "adduser.8.en.txt": "en", "sauvegarde.md": "fr"}
    from bot.http.api import create_app

    with LiveServer(create_app(engine.settings, engine)) as server, server.client() as http:
        listing = http.get("/v1/sources").json()
    assert {s["path"]: s["language"] for s in listing} == by_path
