"""Plain text as a person reads it: a hard-wrapped paragraph is one region, and man pages (from `man | col -b` and
through pandoc Markdown) are titled by their NAME line with NOM, SYNOPSIS, DESCRIPTION… as sections."""

from __future__ import annotations

from ingest.chunk import chunk_document
from ingest.read import read_source
from tests.conftest import ROOT

FIXTURES = ROOT / "tests" / "data" / "formats"
ADDUSER = "adduser, addgroup – Ajouter ou manipuler des utilisateurs ou des groupes"


def test_plaintext_wrapped_paragraph_is_one_region_and_its_sentences_stay_whole() -> None:
    doc = read_source(FIXTURES / "preface.fr.txt", FIXTURES)
    chunks = chunk_document(doc, size=700, overlap=1)
    assert all(doc.text[c.start:c.end] == c.text for c in chunks)
    sentences = {" ".join(doc.text[a:b].split()) for c in chunks for a, b in c.sentences}
    assert ("Le lecteur cible est quelqu’un qui désire apprendre les scripts de l’interpréteur de commandes mais qui "
            "ne souhaite pas lire tous les sources en C pour comprendre le fonctionnement du système GNU /Linux."
            ) in sentences
    assert doc.layout is not None
    assert not any(doc.text[r.start:r.end].strip("-") == "" for r in doc.layout.regions)  # rules are not text


def test_plaintext_man_page_title_is_the_name_line_and_furniture_is_not_text() -> None:
    doc = read_source(FIXTURES / "adduser.8.txt", FIXTURES)
    assert doc.title == ADDUSER
    assert doc.layout is not None
    paths = [r.path for r in doc.layout.regions]
    assert (ADDUSER, "DESCRIPTION") in paths and (ADDUSER, "OPTIONS") in paths
    assert (ADDUSER, "DESCRIPTION", "Ajout d’un utilisateur normal") in paths
    assert not any(p[1:2] == ("SYNOPSIS",) for p in paths)  # command syntax: code, never quoted
    bodies = [doc.text[r.start:r.end] for r in doc.layout.regions]
    assert not any("System Manager's Manual" in b or "ADDUSER(8)" in b for b in bodies)
    chunks = chunk_document(doc, size=700, overlap=1)
    assert all(doc.text[c.start:c.end] == c.text for c in chunks)
    assert any(" ".join(c.text.split()).startswith("adduser et addgroup ajoutent des utilisateurs ou des groupes au "
                                                   "système en fonction des options") for c in chunks)


def test_plaintext_man_page_through_pandoc_markdown_is_titled_by_its_name_line() -> None:
    doc = read_source(FIXTURES / "adduser.8.md", FIXTURES)
    assert doc.title.startswith("adduser, addgroup") and doc.title.endswith("Ajouter ou manipuler des utilisateurs "
                                                                           "ou des groupes")
    assert doc.layout is not None
    assert any(r.path[-1] == "DESCRIPTION" for r in doc.layout.regions)


def test_plaintext_lines_broken_on_purpose_stay_apart_when_the_text_is_not_wrapped() -> None:
    spf = ROOT / "tests" / "data" / "eval" / "spf" / "corpus"
    doc = read_source(spf / "F35063.txt", spf)  # one table cell or item per line, as scraped
    assert doc.layout is not None
    bodies = [doc.text[r.start:r.end] for r in doc.layout.regions]
    assert "170 trimestres (42 ans + 6 mois)" in bodies and "1978 à 1980" in bodies
    assert not any("\n" in b for b in bodies)


def test_plaintext_man_page_option_list_keeps_each_wrapped_sentence_whole() -> None:
    team = ROOT / "tests" / "data" / "eval" / "team" / "corpus"  # `man -l … | col -b` at 100 columns: tabs, options
    doc = read_source(team / "passwd.txt", team)
    chunks = chunk_document(doc, size=700, overlap=1)
    sentences = {" ".join(doc.text[a:b].split()) for c in chunks for i, (a, b) in enumerate(c.sentences)
                 if i not in c.headings}
    assert ("Ceci permet d'obliger un utilisateur à changer son mot de passe lors de sa prochaine connexion."
            in sentences)  # wrapped under « -e, --expire »: one sentence, not two halves
    assert not any(s.startswith("passwd - ") for s in sentences)  # the NAME line is the title: never quoted,
    assert all(c.context.startswith(doc.title) for c in chunks) and doc.title.startswith("passwd - ")  # but searched
