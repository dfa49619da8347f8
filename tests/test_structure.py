"""Document structure: headings become section paths and are never body text; code and tables are skipped."""

from ingest.chunk import chunk_document
from ingest.plaintext import layout_of
from ingest.read import SourceDoc

MARKDOWN = """---
title: Fête
tags: [hareng]
---
# La fête du hareng fumé de Brumeville

## Origines

La fête a été fondée en 1957 par Jeanne Caudron. Elle a lieu chaque automne.

- Le premier jour, un défilé de barques.
- Le second jour, un concours de fumage.

```
# pas un titre
hareng --fumer
```

| jour | visiteurs |
|------|-----------|
| 1    | 5 000     |

## Fréquentation

Environ 12 000 visiteurs viennent chaque année.
> Une citation du maire.
"""


def _bodies(text: str, path: str) -> list[tuple[str, str]]:
    layout = layout_of(text, path)
    return [(text[r.start:r.end].strip(), " › ".join(r.path)) for r in layout.regions if not r.heading]


def test_structure_markdown_headings_become_paths_and_code_tables_front_matter_are_skipped() -> None:
    bodies = _bodies(MARKDOWN, "fete.md")
    assert bodies == [
        ("La fête a été fondée en 1957 par Jeanne Caudron. Elle a lieu chaque automne.",
         "La fête du hareng fumé de Brumeville › Origines"),
        ("Le premier jour, un défilé de barques.", "La fête du hareng fumé de Brumeville › Origines"),
        ("Le second jour, un concours de fumage.", "La fête du hareng fumé de Brumeville › Origines"),
        ("Environ 12 000 visiteurs viennent chaque année.", "La fête du hareng fumé de Brumeville › Fréquentation"),
        ("Une citation du maire.", "La fête du hareng fumé de Brumeville › Fréquentation"),
    ]
    assert layout_of(MARKDOWN, "fete.md").title == "La fête du hareng fumé de Brumeville"


def test_structure_setext_headings_and_deeper_levels_nest() -> None:
    text = "Guide\n=====\n\nIntro.\n\n### Détail\n\nUn point.\n\nPartie\n------\n\nFin.\n"
    assert [p for _, p in _bodies(text, "g.md")] == ["Guide", "Guide › Détail", "Guide › Partie"]


def test_structure_plain_text_title_lines_are_headings_not_body() -> None:
    text = "Notes\n\nLa réunion est reportée. Le café est offert.\n\nBudget\n\nIl reste 300 euros.\nDéfinition\n"
    bodies = _bodies(text, "notes.txt")
    assert bodies[0] == ("La réunion est reportée. Le café est offert.", "Notes")
    assert bodies[1] == ("Il reste 300 euros.", "Notes › Budget")
    assert bodies[2] == ("Définition", "Notes › Budget")  # not alone between blank lines: a line of the body


def test_structure_chunks_stay_inside_sections_and_carry_their_path() -> None:
    doc = SourceDoc("fete", "fete.md", "La fête", MARKDOWN, "0")
    chunks = chunk_document(doc, size=700, overlap=1)
    assert [c.section.split(" › ")[-1] for c in chunks] == ["Origines", "Fréquentation"]
    assert all(MARKDOWN[c.start:c.end] == c.text and "#" not in c.text for c in chunks)
    assert chunks[0].context.startswith("La fête du hareng fumé de Brumeville › Origines\n")


def test_structure_document_of_headings_only_keeps_its_lines() -> None:
    assert _bodies("Titre seul\n", "t.txt") == [("Titre seul", "")]


def test_structure_headings_are_regions_retrieval_reads_and_no_answer_quotes() -> None:
    layout = layout_of(MARKDOWN, "fete.md")
    headings = [(MARKDOWN[r.start:r.end], r.path[-1]) for r in layout.regions if r.heading]
    assert ("Origines", "Origines") in headings and ("Fréquentation", "Fréquentation") in headings
    chunks = chunk_document(SourceDoc("fete", "fete.md", "La fête", MARKDOWN, "0"), size=700, overlap=1)
    for chunk in chunks:
        marked = {MARKDOWN[chunk.sentences[i][0]:chunk.sentences[i][1]] for i in chunk.headings}
        assert marked == {chunk.section.split(" › ")[-1]}  # the section's heading is a unit, flagged


class _CountingDict(dict[str, int]):
    """Counts membership checks: how many names `slug` tried."""

    checks = 0

    def __contains__(self, key: object) -> bool:
        _CountingDict.checks += 1
        return super().__contains__(key)


def test_structure_identical_headings_get_github_anchors_trying_each_name_once() -> None:
    from ingest.formats.markdown import read_markdown
    from ingest.structure import markdown_layout, slug

    text = "# a\n\nun.\n\n# a\n\ndeux.\n\n# a-1\n\ntrois.\n\n# a\n\nquatre.\n"
    assert [b.anchor for b in read_markdown(text.encode(), "x.md")[1].regions if b.heading] == \
        ["a", "a-1", "a-1-1", "a-2"]
    assert [r.anchor for r in markdown_layout(text).regions if r.heading] == ["a", "a-1", "a-1-1", "a-2"]
    taken = _CountingDict()
    anchors = [slug("Titre", taken) for _ in range(20_000)]
    assert len(set(anchors)) == 20_000 and anchors[-1] == "titre-19999"
    assert _CountingDict.checks <= 3 * 20_000  # trying -1, -2, … from the start each time: 200 million checks
