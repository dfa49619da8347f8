"""What one edited paragraph costs: seconds and bytes added per version, in a large synthetic corpus and in a
mixed-format folder (real PDF from groff, DOCX from python-docx, ODT and HTML from pandoc).

    git archive main | tar -x -C /tmp/before      # the code to compare against (optional)
    .venv/bin/python bench/edit_cost.py --documents 10000 --formats 40 [--before /tmp/before]

Each corpus: a full ingest, then three ingests each after one paragraph of one document was edited. Prints JSON
lines; docs/performance.md records the results.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def disk_bytes(root: Path) -> int:
    """Bytes allocated under root, each inode once (du)."""
    seen = {}
    for path in root.rglob("*"):
        info = os.lstat(path)
        seen[(info.st_dev, info.st_ino)] = info.st_blocks * 512
    return sum(seen.values())


def ingest(code: Path, corpus: Path, index_dir: Path) -> dict[str, object]:
    """`sourcier ingest --json` run from a checkout of the code, timed from outside."""
    started = time.perf_counter()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "SOURCIER_INGEST_WORKERS": "2", "PYTHONDONTWRITEBYTECODE": "1"}
    out = subprocess.run([sys.executable, "-m", "bot.cli", "ingest", str(corpus), "--index-dir", str(index_dir),
                          "--json", "--replace"], cwd=code, env=env, check=True, capture_output=True, text=True).stdout
    report = json.loads(out)
    report["wall_s"] = round(time.perf_counter() - started, 2)
    return report


def mixed_folder(root: Path, files: int) -> list[Path]:
    """A team folder: a quarter each of PDF (groff), DOCX (python-docx), ODT and HTML (pandoc)."""
    import random

    import docx

    from bench.corpus import _seed_sentences, _vary

    rng, pool = random.Random(3), _seed_sentences()
    root.mkdir(parents=True, exist_ok=True)
    made = []
    for i in range(files):
        sections = [(f"Partie {j + 1}", [" ".join(_vary(s, rng) for s in rng.sample(pool, 5)) for _ in range(4)])
                    for j in range(4)]
        kind = ("pdf", "docx", "odt", "html")[i % 4]
        path = root / f"doc-{i:03d}.{kind}"
        if kind == "docx":
            document = docx.Document()
            document.add_heading(f"Document {i}", level=1)
            for title, paragraphs in sections:
                document.add_heading(title, level=2)
                for text in paragraphs:
                    document.add_paragraph(text)
            document.save(str(path))
        elif kind == "pdf":
            roff = f".TL\nDocument {i}\n" + "".join(f".NH\n{t}\n" + "".join(f".PP\n{p}\n" for p in ps)
                                                    for t, ps in sections)
            path.write_bytes(subprocess.run(["groff", "-k", "-ms", "-Tpdf"], input=roff.encode(),
                                            capture_output=True, check=True).stdout)
        else:
            markdown = f"# Document {i}\n\n" + "".join(f"## {t}\n\n" + "".join(f"{p}\n\n" for p in ps)
                                                      for t, ps in sections)
            subprocess.run(["pandoc", "-f", "markdown", "-s", "--metadata", f"title=Document {i}", "-o", str(path)],
                           input=markdown.encode(), check=True, capture_output=True)
        made.append(path)
    return made


def edit(path: Path, n: int) -> None:
    """One paragraph edited: a sentence appended to a text file, or a paragraph added to a DOCX."""
    if path.suffix == ".docx":
        import docx

        document = docx.Document(str(path))
        document.add_paragraph(f"Paragraphe modifié numéro {n} : la réunion est déplacée au jeudi.")
        document.save(str(path))
    else:
        path.write_text(path.read_text(encoding="utf-8") + f"\nModification {n} : la réunion est déplacée au jeudi.\n",
                        encoding="utf-8")


def run(label: str, code: Path, corpus: Path, targets: list[Path], work: Path) -> None:
    """A full ingest, then three one-paragraph edits; seconds and bytes added each time."""
    index_dir = work / f"index-{corpus.name}"
    full = ingest(code, corpus, index_dir)
    size = disk_bytes(index_dir)
    print(json.dumps({"code": label, "corpus": corpus.name, "step": "full ingest", "sources": full["sources"],
                      "chunks": full["chunks"], "wall_s": full["wall_s"], "inside_s": full["seconds"],
                      "bytes": size}), flush=True)
    for n, target in enumerate(targets, 1):
        edit(target, n)
        report = ingest(code, corpus, index_dir)
        now = disk_bytes(index_dir)
        print(json.dumps({"code": label, "corpus": corpus.name, "step": f"edit {n} ({target.name})",
                          "embedded": report["embedded"], "not_parsed": report.get("read_cached", "n/a"),
                          "wall_s": report["wall_s"], "inside_s": report["seconds"], "bytes_added": now - size,
                          "versions": len([p for p in index_dir.iterdir() if p.name[:2] == "20"])}), flush=True)
        size = now


def main() -> None:
    from bench.corpus import write_corpus

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument("--formats", type=int, default=40)
    parser.add_argument("--before", type=Path, default=None, help="a checkout of the code to compare against")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp())
    codes = [("before", args.before)] if args.before else []
    for label, code in [*codes, ("after", ROOT)]:
        notes = write_corpus(work / label / "notes", args.documents)  # the same corpus for each code
        run(label, code, work / label / "notes", [notes[len(notes) // 3], notes[len(notes) // 2], notes[-1]],
            work / label)
        folder = mixed_folder(work / label / "team", args.formats)
        run(label, code, work / label / "team", [folder[1], folder[5], folder[9]], work / label)


if __name__ == "__main__":
    main()
