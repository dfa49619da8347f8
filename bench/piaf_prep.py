"""Lay out piaf-dev for the eval suite and the reader's training: which articles are indexed, which are left out.

    python bench/piaf_prep.py                            # from the copy in tests/data/eval/piaf/ (the clone)
    python bench/piaf_prep.py ../shared/eval/piaf-dev    # from the original share (same articles, same questions)

Its output is committed (indexed/, left-out/, piaf.jsonl, piaf_unanswerable.jsonl), beside the share's own
questions.jsonl, so it reruns from a bare clone; `make test`, `make eval` and bench/train_reader.py read only that.

Every third article (in name order) is left out of the index: its questions become near-domain
unanswerable questions (same style, same kind of vocabulary), unless their answer string occurs in what
was kept. Each answerable question keeps its exact answer span and the sentence that holds it.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ingest.text import normalise, sentences


def gold_sentence(text: str, start: int, end: int) -> str:
    """The sentence of the article that holds the answer span (the whole span when it crosses sentences)."""
    spans = [s for s in sentences(text) if s.start < end and start < s.end]
    return text[spans[0].start : spans[-1].end] if spans else text[start:end]


def _articles(share: Path | None, out: Path) -> dict[str, str]:
    """Every article's text by file name: from the share's corpus/, or from the committed layout."""
    folders = [share / "corpus"] if share is not None else [out / "indexed", out / "left-out"]
    return {p.name: p.read_text(encoding="utf-8") for folder in folders for p in sorted(folder.glob("*.md"))}


def main(share: Path | None) -> None:
    """Lay the articles out into indexed/ and left-out/, and write the two gold files."""
    out = ROOT / "tests/data/eval/piaf"
    texts = _articles(share, out)
    questions = ((share or out) / "questions.jsonl").read_text(encoding="utf-8")
    articles = sorted(texts)
    left_out = set(articles[2::3])
    for folder in ("indexed", "left-out"):
        shutil.rmtree(out / folder, ignore_errors=True)
        (out / folder).mkdir(parents=True)
    for name in articles:
        (out / ("left-out" if name in left_out else "indexed") / name).write_text(texts[name], encoding="utf-8")
    (out / "questions.jsonl").write_text(questions, encoding="utf-8")
    kept = normalise("\n".join(texts[n] for n in articles if n not in left_out)).lower()
    answerable, unanswerable = [], []
    for line in questions.splitlines():
        row = json.loads(line)
        text = texts[row["article"]]
        assert text[row["start"] : row["end"]] == row["answer"]
        if row["article"] in left_out:
            if normalise(row["answer"]).lower() not in kept:
                unanswerable.append({"q": row["question"], "unanswerable": True, "kind": "near",
                                     "article": row["article"]})
            continue
        sentence = normalise(gold_sentence(text, row["start"], row["end"]))
        answerable.append({"q": row["question"], "evidence": [sentence], "answer": normalise(row["answer"]),
                           "article": row["article"]})
    for name, rows in (("piaf.jsonl", answerable), ("piaf_unanswerable.jsonl", unanswerable)):
        (out / name).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    print(f"{len(articles) - len(left_out)} articles indexed, {len(left_out)} left out; "
          f"{len(answerable)} answerable, {len(unanswerable)} unanswerable questions")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else None)
