"""HTML from documentation generators: heading permalinks (« ¶ », « # », « 🔗 ») are not text; code stays code."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.errors import SourceError
from ingest.formats.html import read_html
from ingest.read import read_source
from tests.conftest import ROOT

FIXTURES = ROOT / "tests" / "data" / "formats"


@pytest.mark.parametrize(("name", "title", "section", "anchor", "command"), [
    ("sphinx-sauvegarde.html", "Guide de sauvegarde de l’atelier", "Planification", "planification",
     "$ sudo borg create /srv/sauvegardes::atelier-{now} /home"),
    ("mkdocs-prets.html", "Prêt des outils de l'atelier", "Emprunter un outil", "emprunter-un-outil",
     "lpr -P atelier /srv/prets/en-cours.txt"),
])
def test_html_generator_permalinks_are_dropped_from_headings_and_text(name: str, title: str, section: str,
                                                                       anchor: str, command: str) -> None:
    doc = read_source(FIXTURES / name, FIXTURES)
    assert doc.title == title
    assert "¶" not in doc.text and "#" not in doc.text
    assert doc.layout is not None
    assert (title, section) in [r.path for r in doc.layout.regions]
    assert anchor in [r.anchor for r in doc.layout.regions]
    at = doc.text.index(command)  # the command is kept, as code: never a region to quote
    assert not any(r.start <= at < r.end and not r.code for r in doc.layout.regions)


def test_html_hash_link_and_icon_anchors_of_other_generators_are_dropped() -> None:
    page = ('<main><h2 id="a">Accès<a class="hash-link" href="#a" aria-label="Lien direct">\u200b</a></h2>'
            '<p>Le badge ouvre la porte.</p><h2 id="b"><a href="#b">🔗</a> Horaires</h2><p>De 8 h à 18 h.</p>'
            '<p>Voir <a href="#a">Accès</a> plus haut.</p></main>').encode()
    text, layout = read_html(page, "x.html")
    assert [r.path[-1] for r in layout.regions if not r.heading] == ["Accès", "Horaires", "Horaires"]
    assert "🔗" not in text and "\u200b" not in text and "Voir Accès plus haut." in text


def test_html_hidden_text_is_never_read_and_visible_text_around_it_is() -> None:
    doc = read_source(FIXTURES / "cache-cache.html", FIXTURES)
    text = " ".join(doc.text.split())
    for decoy in ("brouillon caché", "0000", "minuit", "trottinettes y sont admises", "badge", "absente"):
        assert decoy not in text
    assert doc.title == "Accès au local vélos"
    assert "Le code de la porte du local vélos est 4721." in text
    assert "Le local ouvre à 6 h et ferme à 22 h." in text  # the tail after a hidden span stays
    assert "Lundi" in text and "Mme Roux" in text and "Les trottinettes sont interdites dans le local." in text


def _nested(depth: int) -> bytes:
    """A page whose one sentence sits `depth` <div>s deep, with a paragraph after the nest."""
    return ("<html><body>" + "<div>" * depth + "<p>Le trésor est sous le chêne.</p>" + "</div>" * depth
            + "<p>La carte est à la mairie.</p></body></html>").encode()


def test_html_nested_2000_deep_is_read_whole(tmp_path: Path) -> None:
    page = tmp_path / "profond.html"
    page.write_bytes(_nested(2000))  # past libxml2's default 256 levels and Python's recursion limit
    doc = read_source(page, tmp_path)
    assert "Le trésor est sous le chêne." in doc.text and "La carte est à la mairie." in doc.text


def test_html_nested_past_the_parser_limit_is_refused_with_the_reason(tmp_path: Path) -> None:
    page = tmp_path / "abysse.html"
    page.write_bytes(_nested(5000))
    with pytest.raises(SourceError, match="nested deeper than 2048 elements"):
        read_source(page, tmp_path)
