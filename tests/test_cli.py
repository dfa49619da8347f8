"""Each CLI command against a real index, through Typer's runner."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli.cli import app
from tests.conftest import DEV_SET, ROOT, SEEDS

runner = CliRunner()


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index built through the CLI itself."""
    path = tmp_path_factory.mktemp("cli") / "index"
    result = runner.invoke(app, ["ingest", str(SEEDS), "--index-dir", str(path)])
    assert result.exit_code == 0, result.output
    assert "1 sources" in result.output and "newly embedded" in result.output
    return path


def test_cli_ingest_again_reports_nothing_embedded(index_dir: Path) -> None:
    result = runner.invoke(app, ["ingest", str(SEEDS), "--index-dir", str(index_dir), "--json"])
    report = json.loads(result.output)
    assert result.exit_code == 0 and report["embedded"] == 0 and not report["changed"]


def test_cli_ask_prints_answer_and_sources(index_dir: Path) -> None:
    result = runner.invoke(app, ["ask", "Qui dirige OpenAI par intérim ?", "--index-dir", str(index_dir)],
                           terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "Mira Murati" in result.output and "[1]" in result.output
    assert "Sources" in result.output and "openai-altman-microsoft.txt" in result.output
    assert "    Mira Murati, directrice technique" in result.output and "**" not in result.output  # piped: plain


def test_cli_json_keeps_accents_as_they_are_whatever_the_locale(index_dir: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "bot.cli", "ask", "Qui dirige OpenAI par intérim ?", "--json",
                             "--index-dir", str(index_dir)], check=False, capture_output=True, timeout=120, cwd=ROOT,
                            env={**os.environ, "PYTHONIOENCODING": "ascii", "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stderr.decode()
    assert "par intérim" in result.stdout.decode("utf-8") and b"\\u00e9" not in result.stdout
    assert json.loads(result.stdout)["question"] == "Qui dirige OpenAI par intérim ?"


def test_cli_ask_json_and_k(index_dir: Path) -> None:
    result = runner.invoke(app, ["ask", "Qui a fondé Twitch.tv ?", "-k", "2", "--json", "--index-dir",
                                 str(index_dir)])
    data = json.loads(result.output)
    assert data["found"] and len(data["citations"]) == 2 and "text" not in data and "[1]" in data["answer"]
    assert {"n", "source_id", "title", "text", "start", "end", "score", "sentence_start"} <= set(data["citations"][0])


def test_cli_search_through_a_pipe_is_plain_lines(index_dir: Path) -> None:
    result = runner.invoke(app, ["search", "GPU Microsoft", "-k", "2", "--index-dir", str(index_dir)])
    lines = result.output.splitlines()
    assert result.exit_code == 0 and lines[0].startswith("1. fused ") and "openai-altman-microsoft" in lines[0]
    assert lines[1].startswith("    ") and len(lines[1]) > 200 and lines[2].startswith("2. fused ")
    assert not any(c in result.output for c in "┃│━─")  # no table drawn for a pipe


def test_cli_search_shows_scores(index_dir: Path) -> None:
    result = runner.invoke(app, ["search", "GPU Microsoft", "--json", "--index-dir", str(index_dir)])
    hits = json.loads(result.output)["hits"]
    assert hits[0]["rank"] == 1 and {"dense", "lexical", "score", "sentence"} <= set(hits[0])


def test_cli_versions_json_lists_each_version(index_dir: Path) -> None:
    result = runner.invoke(app, ["versions", "--json", "--index-dir", str(index_dir)])
    rows = json.loads(result.output)
    assert result.exit_code == 0 and rows[-1]["live"] and rows[-1]["sources"] == 1 and rows[-1]["chunks"] > 10
    assert rows[-1]["sources_root"] == str(SEEDS.resolve()) and rows[-1]["version"] in result.output


def test_cli_source_takes_a_folder_prefix_like_the_slack_channel_mapping(tmp_path: Path) -> None:
    docs, index = tmp_path / "docs", str(tmp_path / "index")
    (docs / "man").mkdir(parents=True)
    (docs / "man" / "chats.txt").write_text("Le chat dort sur le canapé toute la journée.", encoding="utf-8")
    (docs / "chiens.txt").write_text("Le chien dort dans sa niche toute la journée.", encoding="utf-8")
    assert runner.invoke(app, ["ingest", str(docs), "--index-dir", index]).exit_code == 0
    for prefix in ("man/", "man"):
        result = runner.invoke(app, ["ask", "Qui dort toute la journée ?", "--source", prefix, "--json",
                                     "--index-dir", index])
        cited = {c["source_id"] for c in json.loads(result.output)["citations"]}
        assert result.exit_code == 0 and cited == {"man/chats"}, result.output
    wrong = runner.invoke(app, ["ask", "Qui dort ?", "--source", "ma/", "--index-dir", index])
    assert wrong.exit_code == 1 and "unknown source id(s): ma/" in wrong.output


def test_cli_sources_and_versions(index_dir: Path) -> None:
    result = runner.invoke(app, ["sources", "--index-dir", str(index_dir)], terminal_width=200)
    assert "openai-altman-microsoft" in result.output
    result = runner.invoke(app, ["versions", "--index-dir", str(index_dir)])
    assert result.output.startswith("* ")


def test_cli_eval_reports_metrics(index_dir: Path) -> None:
    result = runner.invoke(app, ["eval", str(DEV_SET), "--json", "--index-dir", str(index_dir)])
    report = json.loads(result.output)["index"]
    assert result.exit_code == 0 and report["hit_at_1"] >= 0.8 and report["abstained"] == 4
    assert len(report["outcomes"]) == 36 and set(report["outcomes"][0]["signals"]) >= {"select", "cov_passage", "kind_evidence"}
    right = round(report["answer_contains_evidence"] * report["answerable"])
    assert report["answered_wrong"] == report["answerable"] - report["false_abstentions"] - right
    assert report["answered_wrong"] == sum("answered without the evidence" in m["why"] for m in report["missed"])


def test_cli_eval_suite_runs_each_corpus_and_plots_the_curves(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "fete.md").write_text("# Fête\n\n## Origines\n\nLa fête a été fondée en 1957 par Jeanne Caudron.\n",
                                  encoding="utf-8")
    (tmp_path / "fete.jsonl").write_text(
        '{"q": "Qui a fondé la fête ?", "source": "fete"}\n'
        '{"q": "Quelle est la recette du cassoulet ?", "unanswerable": true, "kind": "off"}\n', encoding="utf-8")
    suite = tmp_path / "suite.json"
    suite.write_text(json.dumps({"corpora": [
        {"name": "seed", "sources": str(SEEDS), "gold": [str(DEV_SET)]},
        {"name": "fete", "sources": "docs", "gold": ["fete.jsonl"]}]}), encoding="utf-8")
    png = tmp_path / "curves.png"
    env = {"SOURCIER_DATA_DIR": str(tmp_path / "var")}
    result = runner.invoke(app, ["eval", "--suite", str(suite), "--plot", str(png), "--json"], env=env)
    reports = json.loads(result.output)
    assert result.exit_code == 0, result.output
    assert reports["seed"]["answerable"] == 32 and reports["seed"]["hit_at_3"] >= 0.95
    assert reports["fete"]["hit_at_1"] == 1.0 and reports["fete"]["abstained"] == 1
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ask", "   "], "question is empty"),
        (["ask", "Bonjour ?", "--source", "inconnu"], "unknown source"),
        (["eval", "/nonexistent.jsonl"], "cannot read gold set"),
        (["ask", "Bonjour ?", "--source", "[/foo]"], "unknown source id(s): [/foo]"),
    ],
)
def test_cli_user_errors_are_one_line_and_exit_1(index_dir: Path, args: list[str], message: str) -> None:
    result = runner.invoke(app, [*args, "--index-dir", str(index_dir)])
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output


def test_cli_no_index_says_how_to_build_one(tmp_path: Path) -> None:
    result = runner.invoke(app, ["ask", "Bonjour ?", "--index-dir", str(tmp_path / "none")])
    assert result.exit_code == 1 and "sourcier ingest" in result.output


def test_cli_empty_corpus_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = runner.invoke(app, ["ingest", str(tmp_path / "empty"), "--index-dir", str(tmp_path / "i")])
    assert result.exit_code == 1 and "no sources to ingest" in result.output


def test_cli_help_version_and_option_defaults() -> None:
    assert runner.invoke(app, ["-h"]).exit_code == 0
    version = runner.invoke(app, ["--version"])
    assert version.exit_code == 0 and version.output.startswith("sourcier ")
    help_text = " ".join(runner.invoke(app, ["ask", "--help"], terminal_width=200).output.split())
    assert "with [n] markers" in help_text and "<bool>" not in help_text
    assert "(default 5; 1–20; env SOURCIER_K)" in help_text


def test_cli_ingest_help_names_every_format_it_reads() -> None:
    help_text = " ".join(runner.invoke(app, ["ingest", "-h"], terminal_width=200).output.split())
    assert ".txt/.md" not in help_text
    assert all(ext in help_text for ext in (".txt", ".md", ".html", ".pdf", ".docx", ".odt"))


def test_cli_help_command_summaries_are_never_cut() -> None:
    listing = runner.invoke(app, ["--help"], terminal_width=80).output.split("Commands:")[1]
    assert "..." not in listing and "…" not in listing
    assert "Index sources: embed only new or changed files, then publish." in " ".join(listing.split())
    assert len(listing.strip().splitlines()) == 12  # one line per command at 80 columns


def test_cli_versions_and_rollback_name_what_exists(index_dir: Path) -> None:
    listing = runner.invoke(app, ["versions", "--index-dir", str(index_dir)]).output
    assert listing.startswith("* ") and "1 sources" in listing and "passages" in listing
    result = runner.invoke(app, ["rollback", "2000-01-01T00-00-00Z-dead", "--index-dir", str(index_dir)])
    assert result.exit_code == 1 and "valid versions: " + listing.split()[1] in " ".join(result.output.split())


def test_cli_ingest_report_names_added_changed_and_removed(tmp_path: Path) -> None:
    docs, index = tmp_path / "docs", str(tmp_path / "index")
    docs.mkdir()
    (docs / "a.txt").write_text("Le chat dort. Il aime le soleil.", encoding="utf-8")
    (docs / "b.txt").write_text("Le chien court. Il aime la pluie.", encoding="utf-8")
    assert "added: a, b" in runner.invoke(app, ["ingest", str(docs), "--index-dir", index]).output
    (docs / "a.txt").write_text("Le chat dort toute la journée.", encoding="utf-8")
    (docs / "b.txt").unlink()
    (docs / "[c].txt").write_text("Le [/bold] poisson :x: nage.", encoding="utf-8")
    output = runner.invoke(app, ["ingest", str(docs), "--index-dir", index]).output
    assert "added: c" in output and "changed: a" in output and "removed: b" in output
    sources = runner.invoke(app, ["sources", "--index-dir", index])
    assert sources.exit_code == 0 and "Le [/bold] poisson :x: nage." in sources.output


def test_cli_ingest_groups_many_unsupported_files_into_one_line(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    (docs / "images").mkdir(parents=True)
    (docs / "a.txt").write_text("Le chat dort sur le canapé.", encoding="utf-8")
    for n in range(6):
        (docs / "images" / f"{n}.png").write_bytes(b"\x89PNG")
    (docs / "style.css").write_text("body {}", encoding="utf-8")
    result = runner.invoke(app, ["ingest", str(docs), "--index-dir", str(tmp_path / "i")])
    assert result.exit_code == 0, result.output
    assert "skipped 7 files of unsupported formats (.png ×6, .css ×1)" in " ".join(result.output.split())
    assert "0.png" not in result.output


def test_cli_ingest_without_a_folder_rereads_the_folder_that_built_the_index(corpus: Path, tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    index = str(tmp_path / "index")
    monkeypatch.chdir(tmp_path)  # `seeds` (the default for a new index) does not exist here
    assert runner.invoke(app, ["ingest", str(corpus), "--index-dir", index]).exit_code == 0
    again = runner.invoke(app, ["ingest", "--index-dir", index, "--json"])
    assert again.exit_code == 0 and json.loads(again.output)["sources"] == 3  # not seeds/, not an error
    wipe = runner.invoke(app, ["ingest", str(SEEDS), "--index-dir", index])
    assert wipe.exit_code == 1 and "would remove 3 of 3 indexed sources (chats, fromages, trains)" in \
        " ".join(wipe.output.split()) and "--replace" in wipe.output
    replaced = runner.invoke(app, ["ingest", str(SEEDS), "--index-dir", index, "--replace", "--json"])
    assert replaced.exit_code == 0 and json.loads(replaced.output)["removed_sources"] == ["chats", "fromages", "trains"]
    assert json.loads(runner.invoke(app, ["ingest", "--index-dir", index, "--json"]).output)["sources"] == 1


def test_cli_ingest_of_a_new_index_without_a_folder_reads_the_seeds(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # what `make run` does on a fresh clone
    result = runner.invoke(app, ["ingest", "--index-dir", str(tmp_path / "index"), "--json"])
    assert result.exit_code == 0 and json.loads(result.output)["sources"] == 1


CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")  # what a terminal would obey


def test_cli_never_prints_control_sequences_from_titles_and_file_names(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    title = "\x1b[2J\x1b]8;;https://evil.example\x07Cliquez\x1b]8;;\x07 \x9b31m\u202eexe.txt"
    (docs / "\x1b]52;c;ZXZpbA==\x07coffre.md").write_text(
        f"# {title}\n\nLe mot de passe du coffre est tournesol. Il change chaque lundi.\n", encoding="utf-8")
    (docs / "\x1b[2Jimage.xlsx").write_bytes(b"PK")  # skipped: its name is in the report
    index = str(tmp_path / "i")
    outputs = {"ingest": runner.invoke(app, ["ingest", str(docs), "--index-dir", index]),
               "sources": runner.invoke(app, ["sources", "--index-dir", index]),
               "ask": runner.invoke(app, ["ask", "Quel est le mot de passe du coffre ?", "--index-dir", index]),
               "search": runner.invoke(app, ["search", "mot de passe du coffre", "--index-dir", index])}
    for command, result in outputs.items():
        assert result.exit_code == 0, (command, result.output)
        assert not CONTROL.search(result.output), (command, result.output)
    assert "\\x1b[2Jimage.xlsx" in outputs["ingest"].output and "\\x1b[2J\\x1b]8;;" in outputs["sources"].output
    assert "tournesol" in outputs["ask"].output and "\\x1b]52;c;" in outputs["ask"].output
    as_json = runner.invoke(app, ["ask", "Quel est le mot de passe du coffre ?", "--json", "--index-dir", index])
    assert not CONTROL.search(as_json.output)
    assert json.loads(as_json.output)["citations"][0]["title"] == title  # the data itself is exact
