"""Who may read what: the access file, and retrieval that treats a forbidden source as if it did not exist."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.access import AccessPolicy
from bot.config import Settings
from bot.engine import Engine
from index.errors import AccessConfigError, UnknownSourceError
from ingest.embed import Embedder
from tests.access_corpus import RH_QUESTION, write_access, write_corpus


def _engine(root: Path, embedder: Embedder, with_rh: bool = True, access: Path | None = None) -> Engine:
    docs = write_corpus(root, with_rh)
    engine = Engine(Settings(index_dir=root / "index", sources_dir=docs, access_file=access), embedder)
    engine.ingest()
    return engine


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Engine:
    root = tmp_path_factory.mktemp("guarded")
    return _engine(root, embedder, access=write_access(root))


def test_access_policy_longest_rule_wins_and_default_applies(tmp_path: Path) -> None:
    policy = AccessPolicy.load(write_access(tmp_path, 'default = "none"\n[sources]\n"rh" = ["rh"]\n'
                                                      '"rh/public/" = ["public"]\n"wiki/a.md" = "public"\n'))
    assert policy.audiences_of("rh/paie.md") == {"rh"}
    assert policy.audiences_of("rh/public/charte.md") == {"public"}
    assert policy.audiences_of("wiki/a.md") == {"public"}
    assert policy.audiences_of("wiki/b.md") == frozenset()  # default none: nobody
    assert policy.audiences_of("rhum.md") == frozenset()  # a prefix names folders, not the start of a name
    ids = ["rh/paie.md", "rh/public/charte.md", "wiki/a.md", "wiki/b.md"]
    assert policy.readable({"public"}, ids) == {"rh/public/charte.md", "wiki/a.md"}
    assert policy.readable(None, ids) is None


def test_access_without_a_file_everything_is_public() -> None:
    policy = AccessPolicy.load(None)
    assert policy.readable({"public"}, ["a", "b/c"]) is None  # nothing to filter: today's behaviour


@pytest.mark.parametrize("text, words", [("default = 3\n", "default"), ("[sources]\n\"rh/\" = [1]\n", "sources.'rh/'"),
                                         ("colour = 1\n", "unknown key"), ("[sources\n", "access file")])
def test_access_file_mistakes_name_the_place(tmp_path: Path, text: str, words: str) -> None:
    with pytest.raises(AccessConfigError, match=words.replace("[", r"\[").replace("'", "'")):
        AccessPolicy.load(write_access(tmp_path, text))


def test_access_forbidden_source_abstains_as_if_it_did_not_exist(tmp_path: Path, embedder: Embedder,
                                                                  guarded: Engine) -> None:
    without = _engine(tmp_path, embedder, with_rh=False)
    assert guarded.ask(RH_QUESTION, audiences={"rh"}).found  # the answer is there, for those who may read it
    public = guarded.ask(RH_QUESTION, audiences={"public"})
    alone = without.ask(RH_QUESTION)
    assert not public.found and public.confidence == alone.confidence
    assert [c.source_id for c in public.citations] == [c.source_id for c in alone.citations]
    assert all(not c.source_id.startswith("rh/") for c in public.citations)
    hits = guarded.search(RH_QUESTION, audiences={"public"}).hits
    assert hits and all(not h.chunk.source_id.startswith("rh/") for h in hits)
    for question in (RH_QUESTION, "Combien de places compte le parking ?"):  # the corpus statistics too (IDF)
        assert guarded.search(question, audiences={"public"}).confidence == without.search(question).confidence


def test_access_source_filter_on_a_forbidden_source_is_unknown(guarded: Engine) -> None:
    with pytest.raises(UnknownSourceError, match="rh/"):
        guarded.ask(RH_QUESTION, sources=["rh/"], audiences={"public"})
    assert guarded.ask(RH_QUESTION, sources=["rh/"], audiences={"rh"}).found


def test_access_no_audience_reads_nothing(guarded: Engine) -> None:
    answer = guarded.ask(RH_QUESTION, audiences=set())
    assert not answer.found and answer.citations == []


def test_access_cache_never_hands_one_callers_answer_to_another(guarded: Engine) -> None:
    guarded.cache.clear()
    seen: list[bool] = []
    guarded.cache.on_lookup = seen.append
    assert guarded.ask(RH_QUESTION, audiences={"rh", "public"}).found
    assert not guarded.ask(RH_QUESTION, audiences={"public"}).found  # same question, another reader: a miss
    assert guarded.ask(RH_QUESTION, audiences={"slack:C0RH", "public"}).found  # another mix reading the same sources
    assert seen == [False, False, True]
    guarded.cache.on_lookup = None
