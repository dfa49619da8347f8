"""Block Kit formatting: Slack's limits respected, hostile text escaped."""

from __future__ import annotations

from bot.answer import Answer, Citation
from bot.slack.blocks import MAX_BLOCKS, MAX_TEXT, answer_blocks, escape, thanks_blocks


def citation(n: int, text: str, sentence: tuple[int, int] | None = None, cited: bool = True) -> Citation:
    a, b = sentence or (0, len(text))
    return Citation(n=n, source_id="s", title="Titre", text=text, start=0, end=len(text), score=1.0,
                    sentence_start=a, sentence_end=b, cited=cited, section="Titre › Partie")


def test_slack_blocks_escape_control_sequences() -> None:
    hostile = "Alerte <!channel> <!here> <@U123> & <https://evil|clic>"
    assert escape(hostile) == "Alerte &lt;!channel&gt; &lt;!here&gt; &lt;@U123&gt; &amp; &lt;https://evil|clic&gt;"
    answer = Answer("q", f"{hostile} [1]", True, [citation(1, hostile)], "fr", 0.5)
    rendered = str(answer_blocks(answer, "id", {}))
    assert "<!channel>" not in rendered and "<@U123>" not in rendered and "&lt;!here&gt;" in rendered


def test_slack_blocks_stay_within_limits() -> None:
    long_text = "mot " * 2000
    citations = [citation(n, long_text, (100, 5000)) for n in range(1, 80)]
    answer = Answer("q", ("Une phrase. " * 400) + "[1]", True, citations, "fr", 0.5)
    blocks = thanks_blocks(answer_blocks(answer, "id", {n: "https://x/#c" for n in range(1, 80)},
                                         shareable=True), "U1", 1, 0)
    assert len(blocks) <= MAX_BLOCKS
    for block in blocks:
        texts = [block.get("text", {}).get("text", "")] + [e.get("text", "") for e in block.get("elements", [])
                                                          if isinstance(e.get("text"), str)]
        assert all(len(t) <= MAX_TEXT for t in texts)


def test_slack_blocks_bold_the_cited_sentence() -> None:
    text = "Avant. La phrase citée. Après."
    block = answer_blocks(Answer("q", "La phrase citée. [1]", True, [citation(1, text, (7, 23))], "fr", 0.5),
                          "id", {})[1]
    assert "Avant. *La phrase citée.* Après." in block["elements"][0]["text"]


def test_slack_blocks_show_uncited_passages_as_one_see_also_line() -> None:
    answer = Answer("q", "Phrase. [1]", True, [citation(1, "Phrase."), citation(2, "Autre <!here>.", cited=False),
                                                 citation(3, "Encore.", cited=False)], "fr", 0.9)
    blocks = answer_blocks(answer, "id", {3: "https://x/#c3"})
    texts = [e["text"] for b in blocks if b["type"] == "context" for e in b["elements"]]
    assert texts[0].startswith("*[1]* Titre › Partie")
    assert texts[1] == "_Voir aussi :_ [2] Titre › Partie · [3] <https://x/#c3|Titre › Partie>"
