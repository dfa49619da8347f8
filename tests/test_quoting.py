"""A quoted option description comes with its option; people read answers without the source's line wrapping."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.answer import Answer, Citation
from bot.config import Settings
from bot.engine import Engine
from bot.quoting import option_term, readable
from bot.slack.blocks import answer_blocks, fallback_text
from index.records import Chunk
from ingest.embed import Embedder

MAN = Path(__file__).parent / "data/eval/team/corpus"
PDF = Path(__file__).parent / "data/formats/options-chromium.fr.pdf"  # a <dl> printed by Chromium: no outline
HTML = """<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8"><title>sauvectl</title></head><body>
<h1>sauvectl</h1><h2>Options</h2><dl>
<dt><code>-k</code>, <code>--keep</code> <em>N</em></dt>
<dd><p>Conserver les N dernières sauvegardes et supprimer les plus anciennes après chaque sauvegarde réussie.</p></dd>
<dt><code>-c</code>, <code>--compress</code></dt>
<dd><p>Compresser chaque archive avec zstd avant de l'envoyer sur le serveur distant.</p></dd>
</dl><p>La sauvegarde complète a lieu chaque dimanche à 3 h ; les autres jours, seules les modifications partent.</p>
</body></html>"""


@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Engine:
    folder = tmp_path_factory.mktemp("docs")
    for page in ("passwd.txt", "free.txt", "usermod.txt"):
        shutil.copy(MAN / page, folder / page)
    (folder / "sauvectl.html").write_text(HTML, encoding="utf-8")
    shutil.copy(PDF, folder / PDF.name)
    engine = Engine(Settings(index_dir=folder.parent / f"{folder.name}-index", sources_dir=folder), embedder)
    engine.ingest()
    return engine


def _first_piece(answer: Answer) -> str:
    return answer.text.split(" [1]")[0]


@pytest.mark.parametrize(("question", "option", "description"), [
    ("comment verrouiller le mot de passe d'un compte", "-l, --lock", "Verrouiller le mot de passe du compte indiqué."),
    ("Comment afficher la mémoire en mébioctets avec free ?", "-m, --mebi",
     "Afficher la quantité de mémoire en mébioctets."),
    ("Comment garder seulement les dernières sauvegardes ?", "-k, --keep N",
     "Conserver les N dernières sauvegardes et supprimer les plus anciennes après chaque sauvegarde réussie."),
    ("Comment suivre le journal en continu ?", "-f, --follow",
     "Suivre le journal en continu et afficher les nouvelles entrées dès qu'elles arrivent."),
])
def test_quoting_answer_names_the_option_its_sentence_describes(docs: Engine, question: str, option: str,
                                                                description: str) -> None:
    answer = docs.ask(question)
    assert answer.found and _first_piece(answer) == f"`{option}` {description}"
    cited = answer.citations[0]
    source = docs.snapshot.texts[cited.source_id]
    quoted = source[cited.sentence_start : cited.sentence_end]  # the highlight covers the option and its sentence
    assert quoted.startswith(option) and quoted[len(option):].strip() == description


def test_quoting_a_sentence_outside_an_option_list_is_quoted_alone(docs: Engine) -> None:
    answer = docs.ask("Quel jour a lieu la sauvegarde complète ?")
    assert answer.found and _first_piece(answer).startswith("La sauvegarde complète a lieu chaque dimanche")


def _chunk(text: str, spans: list[tuple[int, int]], code: tuple[int, ...] = ()) -> Chunk:
    return Chunk("c", "s", "t", text, 0, len(text), 0, tuple(spans), code=code)


def _spans(text: str, units: list[str]) -> list[tuple[int, int]]:
    at, out = 0, []
    for unit in units:
        at = text.index(unit, at)
        out.append((at, at + len(unit)))
        at += len(unit)
    return out


def test_quoting_finds_the_option_above_a_description_but_not_across_paragraphs() -> None:
    text = ("       -l, --lock\n\t   Verrouiller le compte. Cette option désactive le mot de passe.\n\n"
            "\t   Le compte reste utilisable par clé SSH.\n")
    units = ["-l, --lock", "Verrouiller le compte.", "Cette option désactive le mot de passe.",
             "Le compte reste utilisable par clé SSH."]
    chunk = _chunk(text, _spans(text, units))
    term = chunk.sentences[0]
    assert option_term(chunk, chunk.sentences[1]) == term and option_term(chunk, chunk.sentences[2]) == term
    assert option_term(chunk, chunk.sentences[3]) is None  # a later paragraph is not the option's description
    assert option_term(_chunk(text, _spans(text, units), code=(0,)), chunk.sentences[1]) == term  # a PDF's monospace
    synopsis = "       usermod [options] LOGIN\n\t   Modifier un compte.\n"
    assert option_term(_chunk(synopsis, _spans(synopsis, ["usermod [options] LOGIN", "Modifier un compte."]),
                              code=(0,)), (35, 54)) is None
    prose = "Utilisez -l pour verrouiller.\nVerrouiller le compte.\n"
    assert option_term(_chunk(prose, _spans(prose, ["Utilisez -l pour verrouiller.", "Verrouiller le compte."])),
                       (30, 52)) is None


def test_quoting_readable_undoes_wrapping_but_keeps_commands_as_written() -> None:
    assert readable("Le  signal  par défaut\n           de kill est TERM. [1]") == "Le signal par défaut de kill est TERM. [1]"
    assert readable("`ls  -l` liste\n  les fichiers [1]") == "`ls  -l` liste les fichiers [1]"


def test_quoting_slack_shows_the_answer_unwrapped() -> None:
    text = "Ceci permet d'obliger\n           un utilisateur à changer son mot de passe."
    cite = Citation(n=1, source_id="s", title="passwd", text=text, start=0, end=len(text), score=1.0,
                    sentence_start=0, sentence_end=len(text), cited=True)
    answer = Answer("q", f"{text} [1]", True, [cite], "fr", 0.9, short="obliger\n           un utilisateur")
    shown = answer_blocks(answer, "a1", {})[0]["text"]["text"]
    assert shown == "Ceci permet d'*obliger un utilisateur* à changer son mot de passe. [1]"
    assert fallback_text(answer) == "Ceci permet d'obliger un utilisateur à changer son mot de passe. [1]"
    expanded = [b for b in answer_blocks(answer, "a1", {}, expanded=True) if b.get("block_id") == "cite-1"]
    assert expanded[0]["elements"][0]["text"].endswith(
        "\n*Ceci permet d'obliger un utilisateur à changer son mot de passe.*")


def test_quoting_an_option_description_is_read_as_a_way_to_do_it(docs: Engine) -> None:
    result = docs.search("Comment suivre le journal en continu ?")
    assert result.reading is not None and result.reading.kind == "how"
    assert result.reading.inputs["kind_evidence"] == 1.0  # like a command line: the option is how it is done
