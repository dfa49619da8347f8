"""Lay out piaf-dev for the eval suite and the reader's training: which articles are indexed, which are left out.

    python bench/piaf_prep.py ../shared/eval/piaf-dev    # writes tests/data/eval/piaf/

Run once by hand: its output is committed, and `make test`, `make eval` and bench/train_reader.py read only that.

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


def main(share: Path) -> None:
    """Copy the articles into indexed/ and left-out/, and write the two gold files."""
    out = ROOT / "tests/data/eval/piaf"
    shutil.rmtree(out, ignore_errors=True)
    articles = sorted(p.name for p in (share / "corpus").glob("*.md"))
    left_out = set(articles[2::3])
    for name in articles:
        folder = out / ("left-out" if name in left_out else "indexed")
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(share / "corpus" / name, folder / name)
    kept = normalise("\n".join((out / "indexed" / n).read_text(encoding="utf-8") for n in articles
                               if n not in left_out)).lower()
    answerable, unanswerable = [], []
    for line in (share / "questions.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        text = (share / "corpus" / row["article"]).read_text(encoding="utf-8")
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
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared/eval/piaf-dev")
