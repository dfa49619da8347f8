"""Man pages as Debian ships them (roff, gzipped or not) are rendered by man(1) and read like the page a person sees."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest

from bot.config import Settings
from bot.engine import Engine
from ingest.embed import Embedder
from ingest.formats.roff import MAX_RENDERED, man_suffix
from ingest.read import SourceError, read_source, source_id_for
from ingest.scan import scan_sources

MAN = Path(__file__).parent / "data/man"


def test_roff_names_of_man_pages_are_recognised_and_others_are_not() -> None:
    assert all(man_suffix(n) for n in ("passwd.1", "usermod.8.gz", "Locale::gettext.3pm.gz", "openssl.1ssl"))
    assert not any(man_suffix(n) for n in ("archive.tar.gz", "notes.txt", ".8", "photo.10", "a.gz"))


def test_roff_gzipped_page_is_rendered_titled_and_laid_out_by_section() -> None:
    doc = read_source(MAN / "usermod.8.gz", MAN)
    assert doc.source_id == "usermod" and doc.title == "usermod - Modifier un compte utilisateur"
    assert "       -a, --append\n           Add the user to the supplementary group(s)." in doc.text
    assert "\x08" not in doc.text and "\\f" not in doc.text and ".TH" not in doc.text  # rendered, not the source
    sections = {r.path[-1] for r in doc.layout.regions}
    assert {"OPTIONS", "DESCRIPTION"} <= sections
    assert source_id_for(MAN / "passwd.1", MAN) == "passwd"


def test_roff_answer_quotes_the_option_from_man_pages_in_their_source_form(tmp_path: Path,
                                                                           embedder: Embedder) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    for page in MAN.glob("*.[18]*"):
        shutil.copy(page, folder / page.name)
    engine = Engine(Settings(index_dir=tmp_path / "index", sources_dir=folder), embedder)
    report = engine.ingest()
    assert not report.errors and sorted(engine.snapshot.manifest.sources) == ["passwd", "usermod"]
    answer = engine.ask("comment verrouiller le mot de passe d'un compte")
    assert answer.found and answer.text.startswith("`-l, --lock` Verrouiller le mot de passe du compte indiqué.")
    cited = answer.citations[0]
    assert cited.source_id == "passwd"
    assert engine.snapshot.texts["passwd"][cited.start : cited.end] == cited.text


@pytest.mark.parametrize(("content", "why"), [
    (b'.TH T 1\n.SH NOM\nt \\- essai\n.so /etc/passwd\n', "includes another file"),
    (b".TH T 1\n.SH NOM\n.nx /etc/hostname\n", "includes another file"),
    (gzip.compress(b".\\\" " + b"x" * (MAX_RENDERED + 10)), "MiB once decompressed"),
    (b"\x1f\x8b\x08\x00broken", "not a readable gzip file"),
    (".TH T 1\nUne page en latin-1 : été\n".encode("latin-1"), "not valid UTF-8"),
    (b"Version 1.2 : notes de publication.\n", "no .TH"),
])
def test_roff_page_that_reads_files_or_is_broken_is_skipped_with_its_reason(tmp_path: Path, content: bytes,
                                                                            why: str) -> None:
    page = tmp_path / "page.1"
    page.write_bytes(content)
    with pytest.raises(SourceError, match=why):
        read_source(page, tmp_path)


def test_roff_folder_scan_takes_man_pages_and_still_skips_other_archives(tmp_path: Path) -> None:
    for name in ("usermod.8.gz", "passwd.1"):
        shutil.copy(MAN / name, tmp_path / name)
    (tmp_path / "backup.tar.gz").write_bytes(gzip.compress(b"x"))
    found, skipped = scan_sources(tmp_path)
    assert sorted(f.path.name for f in found) == ["passwd.1", "usermod.8.gz"]
    assert [s.path.name for s in skipped] == ["backup.tar.gz"] and "unsupported format (.gz)" in skipped[0].reason


ATTACKS = [
    '.ds x so\n.\\*x {secret}\n',  # a request named by a string
    '.als yy cf\n.yy {secret}\n',  # an alias of a request that copies a file
    '.ds x s\n.as x o\n.\\*[x] {secret}\n',  # a name built from pieces
    '.rn nx zz\n.zz {secret}\n',
    '.ds b so\n.als Y m\\*b\n.Y {secret}\n',  # `mso`, which the man macros use, under another name
    '.ds b so\n.do m\\*b {secret}\n',
    '.ds b so\n.if 1 .nop .m\\*b {secret}\n',
    '.ds b so\n.de X\n.m\\*b {secret}\n..\n.X\n',
]


@pytest.mark.parametrize("before_title", [False, True])
@pytest.mark.parametrize("attack", ATTACKS)
def test_roff_page_never_pulls_a_local_file_into_the_index(tmp_path: Path, attack: str, before_title: bool) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("MOT DE PASSE 7f3c9a\n", encoding="utf-8")
    page = tmp_path / "page.1"
    head, body = ".TH PAGE 1\n.SH NOM\npage \\- essai\n.SH DESCRIPTION\nAvant.\n", attack.format(secret=secret)
    page.write_text(body + head + "Après.\n" if before_title else head + body + "Après.\n", encoding="utf-8")
    doc = read_source(page, tmp_path)
    assert "page - essai" in doc.text and "Après." in doc.text and "7f3c9a" not in doc.text
    assert "STAND-IN" not in doc.text and doc.text.startswith("PAGE(1)")  # the stand-in .TH left no trace
