"""Reading sources: UTF-8 with BOM and CRLF, bad files skipped by name, titles."""

from __future__ import annotations

import functools
import json
import os
import shutil
import signal
from pathlib import Path

import pytest

from index.errors import IngestError, SourceError
from ingest.budget import Budget, ReadPool
from ingest.read import MAX_DEPTH, Found, ReadParams, SourceDoc, find_sources, read_source, read_sources, scan_sources
from tests.conftest import ROOT

FORMATS = ROOT / "tests" / "data" / "formats"


def test_read_accepts_bom_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes("\ufeffTitre\r\nLe texte.\r\n".encode())
    docs, errors = read_sources([path], tmp_path)
    assert not errors
    assert docs[0].text == "Titre\nLe texte.\n"
    assert docs[0].title == "Titre"


def test_read_reports_non_utf8_and_binary_by_name_and_keeps_the_rest(tmp_path: Path) -> None:
    (tmp_path / "good.md").write_text("# Bon\n\nDu texte.", encoding="utf-8")
    (tmp_path / "latin1.txt").write_bytes("Café crème".encode("latin-1"))
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02PNG")
    docs, errors = read_sources(find_sources(tmp_path), tmp_path)
    assert [d.source_id for d in docs] == ["good"]
    messages = " ".join(str(e) for e in errors)
    assert "latin1.txt" in messages and "UTF-8" in messages
    assert "binary.txt" in messages and "binary" in messages


def test_read_uses_markdown_heading_as_title(tmp_path: Path) -> None:
    path = tmp_path / "notes" / "plan.md"
    path.parent.mkdir()
    path.write_text("intro\n# Le plan\ncorps", encoding="utf-8")
    docs, _ = read_sources([path], tmp_path)
    assert docs[0].title == "Le plan"
    assert docs[0].source_id == "notes/plan"


def test_find_sources_reports_unsupported_formats_and_passes_over_hidden_files(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("a", encoding="utf-8")
    (tmp_path / "b.xlsx").write_bytes(b"PK")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD.txt").write_text("ref", encoding="utf-8")
    found, skipped = scan_sources(tmp_path)
    assert [f.path.name for f in found] == ["a.txt"]
    assert [(e.path.name, e.reason) for e in skipped] == [("b.xlsx", "unsupported format (.xlsx); skipped")]


def test_read_gives_colliding_names_distinct_ids(tmp_path: Path) -> None:
    for name in ("notes.md", "notes.txt", "a b.txt", "a-b.txt"):
        (tmp_path / name).write_text(f"Texte de {name}.", encoding="utf-8")
    docs, errors = read_sources(find_sources(tmp_path), tmp_path)
    ids = [d.source_id for d in docs]
    assert not errors and len(set(ids)) == 4
    assert {"notes", "notes-txt"} <= set(ids)


def test_find_sources_skips_links_leaving_the_root_dangling_links_and_fifos(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_text("Un texte.", encoding="utf-8")
    secret = tmp_path / "secret.txt"
    secret.write_text("SLACK_SIGNING_SECRET=abc", encoding="utf-8")
    (root / "passwd.txt").symlink_to("/etc/passwd")
    (root / "secret.txt").symlink_to(secret)
    (root / "dehors").symlink_to(tmp_path)  # a directory link leaving the root
    (root / "dangling.md").symlink_to(root / "nope.md")
    (root / "inside.txt").symlink_to(root / "a.txt")  # links inside the root are fine
    os.mkfifo(root / "sub" / "pipe.txt")
    found, skipped = scan_sources(root)
    assert [f.path.name for f in found] == ["a.txt", "inside.txt"]
    reasons = {e.path.name: e.reason for e in skipped}
    assert set(reasons) == {"passwd.txt", "secret.txt", "dehors", "dangling.md", "pipe.txt"}
    assert "outside the sources folder" in reasons["passwd.txt"] and "dangling" in reasons["dangling.md"]
    assert "FIFO" in reasons["pipe.txt"]


def test_read_decodes_utf16_with_a_byte_order_mark(tmp_path: Path) -> None:
    (tmp_path / "windows.txt").write_bytes("Le café est offert.".encode("utf-16"))
    docs, errors = read_sources(find_sources(tmp_path), tmp_path)
    assert not errors and docs[0].text == "Le café est offert."


def test_read_refuses_files_swapped_after_the_scan(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_text("SLACK_SIGNING_SECRET=abc", encoding="utf-8")
    for name in ("lien.txt", "autre.txt", "tube.txt", "stable.txt"):
        (root / name).write_text(f"Le texte de {name}.", encoding="utf-8")
    found, _ = scan_sources(root)
    (root / "lien.txt").unlink()
    (root / "lien.txt").symlink_to(secret)  # a link swapped in once the scan has checked the links
    (tmp_path / "neuf.txt").write_text("Un autre fichier.", encoding="utf-8")
    os.replace(tmp_path / "neuf.txt", root / "autre.txt")  # another inode under the same name
    (root / "tube.txt").unlink()
    os.mkfifo(root / "tube.txt")  # reading a FIFO would hang the ingest
    docs, errors = read_sources(found, root)
    assert [d.path for d in docs] == ["stable.txt"]
    assert not any("SLACK_SIGNING_SECRET" in d.text for d in docs)
    reasons = {e.path.name: e.reason for e in errors}
    assert set(reasons) == {"lien.txt", "autre.txt", "tube.txt"}
    assert "symbolic link" in reasons["lien.txt"] and "replaced" in reasons["autre.txt"]


def test_scan_skips_a_name_that_is_not_utf8_with_a_printable_reason(tmp_path: Path) -> None:
    (tmp_path / "bon.txt").write_text("Un texte.", encoding="utf-8")
    with open(os.path.join(os.fsencode(tmp_path), "résumé.txt".encode("latin-1")), "wb") as handle:
        handle.write("Mon résumé.".encode())
    os.mkdir(os.path.join(os.fsencode(tmp_path), b"donn\xe9es"))
    found, skipped = scan_sources(tmp_path)
    assert [f.path.name for f in found] == ["bon.txt"]
    assert len(skipped) == 2 and all("not valid UTF-8" in e.reason for e in skipped)
    message = json.dumps([str(e) for e in skipped], ensure_ascii=False)
    assert "r\\\\xe9sum\\\\xe9.txt" in message  # the bytes shown as \xe9, the way a person can find the file
    message.encode("utf-8")  # what the manifest, the job file and the terminal write: must not raise


def test_scan_walks_a_tree_990_deep_without_recursing_and_reports_where_it_stopped(tmp_path: Path) -> None:
    (tmp_path / "haut.txt").write_text("En haut.", encoding="utf-8")
    deep = os.fsencode(tmp_path) + b"/d" * 990
    for level in range(1, 991):  # os.makedirs recurses too
        os.mkdir(os.fsencode(tmp_path) + b"/d" * level)
    with open(deep + b"/fond.txt", "wb") as handle:
        handle.write(b"Tout au fond.")
    shallow = tmp_path / "a" / "b"
    shallow.mkdir(parents=True)
    (shallow / "milieu.txt").write_text("Au milieu.", encoding="utf-8")
    try:
        found, skipped = scan_sources(tmp_path)
    finally:  # removed leaf first: shutil.rmtree recurses and would fail on this tree too
        for level in range(990, 0, -1):
            if level == 990:
                os.unlink(deep + b"/fond.txt")
            os.rmdir(os.fsencode(tmp_path) + b"/d" * level)
    assert [f.path.name for f in found] == ["milieu.txt", "haut.txt"]
    assert len(skipped) == 1 and f"more than {MAX_DEPTH} levels" in skipped[0].reason
    assert len(skipped[0].path.relative_to(tmp_path).parts) == MAX_DEPTH + 1


def test_scan_reasons_show_newlines_and_bidi_overrides_in_names_as_escapes(tmp_path: Path) -> None:
    name = "facture\n\u202egpj.exe"  # raw, the override shows it as « facture / exe.jpg »
    (tmp_path / name).write_bytes(b"MZ")
    _, skipped = scan_sources(tmp_path)
    assert [e.path.name for e in skipped] == [name]  # the real path is kept for whoever needs it
    assert "facture\\n\\u202egpj.exe: unsupported format" in str(skipped[0])
    assert "\n" not in str(skipped[0]) and "\u202e" not in str(skipped[0])


def test_scan_skips_a_link_loop_with_a_reason(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Un texte.", encoding="utf-8")
    (tmp_path / "boucle.txt").symlink_to(tmp_path / "boucle.txt")  # resolve() raises on Python 3.11
    found, skipped = scan_sources(tmp_path)
    assert [f.path.name for f in found] == ["a.txt"]
    assert [(e.path.name, e.reason) for e in skipped] == [("boucle.txt", "dangling symbolic link; skipped")]


def _budgeted(tmp_path: Path, budget: Budget, bad: str, text: str) -> tuple[list[SourceDoc], list[SourceError]]:
    """Read real files of every format beside one bad Markdown file, under a budget."""
    for name in ("guide.docx", "guide.odt", "guide.pdf", "notes.md", "intranet.html"):
        shutil.copy(FORMATS / name, tmp_path / name)
    (tmp_path / bad).write_text(text)
    return read_sources(scan_sources(tmp_path)[0], tmp_path, ReadParams(2**30, budget=budget))


def test_read_budget_skips_a_file_over_its_time_with_the_reason_and_reads_the_others(tmp_path: Path) -> None:
    # 1 MB of « ![ »: markdown-it reads it in linear time, but at 15 µs a byte (14 s here); stopped after 1 s
    docs, errors = _budgeted(tmp_path, Budget(1.0, 2048, 2), "lent.md", "![" * 500_000)
    assert [str(e) for e in errors] == [(f"{tmp_path}/lent.md: took more than 1 s to read "
                                        "(SOURCIER_READ_TIMEOUT_SECONDS); skipped")]
    assert sorted(d.path for d in docs) == ["guide.docx", "guide.odt", "guide.pdf", "intranet.html", "notes.md"]
    assert docs == read_sources(scan_sources(tmp_path, ReadParams(2**30, exclude=("lent.md",)))[0], tmp_path)[0]


def test_read_budget_skips_a_file_over_its_memory_with_the_reason_and_reads_the_others(tmp_path: Path) -> None:
    docs, errors = _budgeted(tmp_path, Budget(120, 200, 1), "gros.md", ("mot " * 20 + "\n\n") * 100_000)
    assert [str(e) for e in errors] == [(f"{tmp_path}/gros.md: needed more than 200 MB to read "
                                        "(SOURCIER_READ_MEMORY_MB); skipped")]
    assert sorted(d.path for d in docs) == ["guide.docx", "guide.odt", "guide.pdf", "intranet.html", "notes.md"]


def _crash_on_boom(found: Found) -> SourceDoc:
    """A reader whose C library dies on one file (run in a budget worker)."""
    if found.path.name == "boom.txt":
        os.kill(os.getpid(), signal.SIGSEGV)
    return read_source(found, found.path.parent)


def test_read_budget_worker_that_dies_skips_its_file_and_a_new_one_reads_the_rest(tmp_path: Path) -> None:
    for name in ("a.txt", "boom.txt", "c.txt"):
        (tmp_path / name).write_text(f"Le fichier {name} parle de reliure.\n")
    with ReadPool(_crash_on_boom, Budget(30, 2048, 1)) as pool:
        results = pool.map(scan_sources(tmp_path)[0])
    assert [r.path if isinstance(r, SourceDoc) else str(r) for r in results] == [
        "a.txt", (f"{tmp_path}/boom.txt: its reader process died (SIGSEGV), most likely over the 2048 MB memory "
                 "budget (SOURCIER_READ_MEMORY_MB); skipped"), "c.txt"]


def test_read_small_text_files_are_read_in_process_under_a_budget(tmp_path: Path) -> None:
    (tmp_path / "petit.md").write_text("# Petit\n\nUn texte court.\n")
    docs, errors = read_sources(scan_sources(tmp_path)[0], tmp_path, ReadParams(2**30, budget=Budget(0.000001, 1)))
    assert errors == [] and [d.title for d in docs] == ["Petit"]  # no worker: the budget does not apply


def test_read_budget_worker_that_cannot_start_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Un texte.\n")
    with ReadPool(read_source, Budget(30, 2048, 1), preload="tests.no_such_module") as pool, \
            pytest.raises(IngestError, match=r"a reader process exited as it started \(status 1\)"):
        pool.map(scan_sources(tmp_path)[0])


def test_read_budget_worker_killed_while_idle_is_replaced_and_the_file_read(tmp_path: Path) -> None:
    (tmp_path / "a.docx").write_bytes((FORMATS / "guide.docx").read_bytes())
    found = scan_sources(tmp_path)[0]
    with ReadPool(functools.partial(read_source, root=tmp_path), Budget(30, 2048, 1)) as pool:
        assert [d.path for d in pool.map(found) if isinstance(d, SourceDoc)] == ["a.docx"]
        idle = pool._workers[0].proc
        idle.kill()  # the kernel's OOM killer, an operator
        idle.wait()
        assert [d.path for d in pool.map(found) if isinstance(d, SourceDoc)] == ["a.docx"]


def test_read_gzipped_documents_as_the_file_they_hold(tmp_path: Path) -> None:
    import gzip

    (tmp_path / "NEWS.md.gz").write_bytes(gzip.compress("# Nouveautés\n\nLa version 2 lit les pages gzippées.\n"
                                                        .encode()))
    (tmp_path / "guide.html.gz").write_bytes(gzip.compress(b"<html><head><title>Guide</title></head><body>"
                                                           b"<h1>Guide</h1><p>Bonjour.</p></body></html>"))
    (tmp_path / "backup.tar.gz").write_bytes(gzip.compress(b"x"))
    (tmp_path / "big.txt.gz").write_bytes(gzip.compress(b"a" * (64 * 2**20 + 1)))
    (tmp_path / "broken.txt.gz").write_bytes(b"\x1f\x8b\x08\x00broken")
    docs, errors = read_sources(find_sources(tmp_path), tmp_path)
    by_id = {d.source_id: d for d in docs}
    assert sorted(by_id) == ["NEWS", "guide"]
    assert by_id["NEWS"].title == "Nouveautés" and by_id["NEWS"].text == "Nouveautés\n\nLa version 2 lit les pages gzippées.\n"
    assert by_id["guide"].title == "Guide" and "Bonjour." in by_id["guide"].text
    reasons = {e.path.name: e.reason for e in errors}
    assert "MiB once decompressed" in reasons["big.txt.gz"] and "not a readable gzip file" in reasons["broken.txt.gz"]
    _, skipped = scan_sources(tmp_path)
    assert [s.path.name for s in skipped] == ["backup.tar.gz"]
