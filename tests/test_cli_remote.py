"""`sourcier ask` asks a running server (a real uvicorn on loopback) instead of loading the model, and prints what
it prints in process."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import remote
from bot.cli.cli import app
from bot.config import Settings
from bot.engine import Engine
from ingest.embed import Embedder
from ingest.pipeline import build_index
from tests.conftest import CHUNKING, SEEDS, LiveServer

runner = CliRunner()
QUESTION = "Qui dirige OpenAI par intérim ?"


class NoEngine:
    """Stands in for Engine: answering in process (loading the model) fails the test."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        raise AssertionError("the CLI loaded the model instead of asking the server")


def _ask(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["ask", QUESTION, *args], terminal_width=200)
    return result.exit_code, result.output


def _in_process(index_dir: Path, *args: str) -> str:
    code, output = _ask("--index-dir", str(index_dir), *args)  # a named index is always answered in process
    assert code == 0, output
    return output


def _without_timings(output: str) -> dict[str, object]:
    data = json.loads(output)
    data.pop("timings_ms")
    return data


def test_cli_remote_configured_server_answers_with_the_same_output(live_server: LiveServer, seed_settings: Settings,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    plain, as_json = _in_process(seed_settings.index_dir), _in_process(seed_settings.index_dir, "--json")
    monkeypatch.setenv("SOURCIER_SERVER_URL", live_server.url)
    monkeypatch.setenv("SOURCIER_INDEX_DIR", str(seed_settings.index_dir))
    monkeypatch.setattr("bot.cli.cli.Engine", NoEngine)
    assert _ask() == (0, plain)
    code, output = _ask("--json")
    assert code == 0 and _without_timings(output) == _without_timings(as_json)


def test_cli_remote_discovers_the_loopback_server_only_when_it_serves_this_index(
        live_server: LiveServer, seed_settings: Settings, tmp_path: Path, embedder: Embedder,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(remote, "DEFAULT_URL", live_server.url)  # the default address, on a port the OS picked
    monkeypatch.setenv("SOURCIER_INDEX_DIR", str(seed_settings.index_dir))
    with monkeypatch.context() as patch:
        patch.setattr("bot.cli.cli.Engine", NoEngine)
        code, output = _ask()
        assert code == 0 and "[1]" in output
    other = tmp_path / "other"
    build_index(SEEDS, other, embedder, CHUNKING)  # another index: the server's version is not this one's
    monkeypatch.setenv("SOURCIER_INDEX_DIR", str(other))
    assert remote.server_for(Settings(), local_index=False) is None
    built: list[Engine] = []
    monkeypatch.setattr("bot.cli.cli.Engine", lambda settings: built.append(Engine(settings, embedder=embedder))
                        or built[-1])
    code, output = _ask()
    assert code == 0 and built and "[1]" in output  # answered in process, from the other index


def test_cli_remote_server_refusal_is_one_line_and_exit_1(live_server: LiveServer, seed_settings: Settings,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCIER_SERVER_URL", live_server.url)
    monkeypatch.setenv("SOURCIER_INDEX_DIR", str(seed_settings.index_dir))
    monkeypatch.setattr("bot.cli.cli.Engine", NoEngine)
    code, output = _ask("--source", "pas-une-source")
    text = " ".join(output.split())  # the error console wraps at its width
    assert code == 1 and text.startswith("error: unknown source id(s): pas-une-source") and text.count("error") == 1
    assert text.endswith("see `sourcier sources`")  # the CLI's words, not the API's « GET /v1/sources »


def test_cli_remote_unreachable_server_falls_back_to_in_process(seed_settings: Settings, embedder: Embedder,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:  # a loopback port nobody listens on any more
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("SOURCIER_SERVER_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("SOURCIER_INDEX_DIR", str(seed_settings.index_dir))
    monkeypatch.setattr("bot.cli.cli.Engine", lambda settings: Engine(settings, embedder=embedder))
    code, output = _ask()
    assert code == 0 and output == _in_process(seed_settings.index_dir)
