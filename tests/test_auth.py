"""HTTP access on a real server: API keys and their audiences, anonymous loopback, the audit log, start-up."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from bot.cli.cli import app as cli
from bot.config import Settings
from bot.engine import Engine
from bot.http.api import create_app
from bot.keys import KeyStore
from ingest.embed import Embedder
from tests.access_corpus import ACCESS, RH_QUESTION, write_access, write_corpus
from tests.conftest import LiveServer

runner = CliRunner()
RH_TEXT = "4 200 euros"


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[LiveServer]:
    root = tmp_path_factory.mktemp("auth")
    settings = Settings(index_dir=root / "index", sources_dir=write_corpus(root), access_file=write_access(root),
                        data_dir=root / "var", rate_limit_per_minute=0)
    engine = Engine(settings, embedder)
    engine.ingest()
    with LiveServer(create_app(settings, engine)) as server:
        server.data_dir = settings.data_dir  # type: ignore[attr-defined]
        yield server


@pytest.fixture()
def keys(guarded: LiveServer) -> Iterator[KeyStore]:
    store = KeyStore(guarded.data_dir)  # type: ignore[attr-defined]
    yield store
    store.path.unlink(missing_ok=True)


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def _every_door(server: LiveServer, headers: dict[str, str]) -> list[httpx.Response]:
    """Every way to read the index: ask, ask with a source filter, search, the source list and text."""
    with server.client(headers=headers) as client:
        return [client.post("/v1/ask", json={"question": RH_QUESTION}),
                client.post("/v1/ask", json={"question": RH_QUESTION, "sources": ["rh/"]}),
                client.get("/v1/search", params={"q": RH_QUESTION, "k": 10}),
                client.get("/v1/sources"), client.get("/v1/sources/rh/salaires"), client.get("/")]


def test_auth_loopback_without_keys_is_open_to_public_sources_only(guarded: LiveServer) -> None:
    ask, scoped, search, sources, text, page = _every_door(guarded, {})
    assert ask.status_code == 200 and not ask.json()["found"]
    assert scoped.status_code == 404 and "rh/" in scoped.json()["detail"]
    assert search.status_code == 200 and page.status_code == 200
    assert {p["source_id"] for p in search.json()["passages"]} <= {"wiki/cantine", "wiki/parking"}
    assert [s["source_id"] for s in sources.json()] == ["wiki/cantine", "wiki/parking"]
    assert text.status_code == 404
    assert all(RH_TEXT not in r.text and "rh/salaires" not in r.text for r in (ask, search, sources, page))
    assert text.json()["detail"] == "unknown source 'rh/salaires'; GET /v1/sources lists them"  # as if not there


def test_auth_key_scoped_to_the_wiki_never_reads_hr(guarded: LiveServer, keys: KeyStore) -> None:
    _, wiki = keys.create("wiki-reader", [])
    _, hr = keys.create("hr-reader", ["rh"])
    ask, scoped, search, sources, text, page = _every_door(guarded, _bearer(wiki))
    assert scoped.status_code == 404 and text.status_code == 404
    for r in (ask, search, sources, page):
        assert r.status_code == 200 and RH_TEXT not in r.text and "salaires" not in r.text, r.text
    ask, scoped, search, sources, text, _ = _every_door(guarded, _bearer(hr))
    assert ask.json()["found"] and RH_TEXT in ask.json()["answer"] and scoped.json()["found"]
    assert "rh/salaires" in {p["source_id"] for p in search.json()["passages"]}
    assert len(sources.json()) == 4 and RH_TEXT in text.json()["text"]


def test_auth_once_a_key_exists_every_client_needs_one(guarded: LiveServer, keys: KeyStore) -> None:
    key, secret = keys.create("intranet", [])
    assert httpx.get(guarded.url + "/v1/sources", headers=_bearer(secret)).status_code == 200
    missing = httpx.get(guarded.url + "/v1/sources")
    assert missing.status_code == 401 and "sourcier keys create" in missing.json()["detail"]
    assert missing.headers["www-authenticate"] == "Bearer"
    assert httpx.get(guarded.url + "/v1/sources", headers=_bearer(secret + "x")).status_code == 401
    keys.revoke(key.key_id)  # as `sourcier keys revoke` would, in another process
    revoked = httpx.post(guarded.url + "/v1/ask", json={"question": "Quand ouvre la cantine ?"},
                         headers=_bearer(secret))
    assert revoked.status_code == 401 and "revoked" in revoked.json()["detail"]
    assert httpx.get(guarded.url + "/healthz").status_code == 200  # probes need no key


def test_auth_keys_are_stored_hashed(guarded: LiveServer, keys: KeyStore) -> None:
    key, secret = keys.create("alice", ["rh"])
    stored = keys.path.read_text()
    assert secret not in stored and secret.split("_", 2)[2] not in stored  # the random part may hold "_"
    assert hashlib.sha256(secret.encode()).hexdigest() in stored and keys.path.stat().st_mode & 0o077 == 0
    assert len(secret) > 40 and keys.check(secret) == key


def test_auth_metrics_and_health_show_no_question_or_text(guarded: LiveServer, keys: KeyStore) -> None:
    _, hr = keys.create("hr", ["rh"])
    assert httpx.post(guarded.url + "/v1/ask", json={"question": RH_QUESTION}, headers=_bearer(hr)).json()["found"]
    for path in ("/metrics", "/healthz", "/readyz"):
        body = httpx.get(guarded.url + path).text
        assert "Jeanne" not in body and "prime" not in body and RH_TEXT not in body and "salaires" not in body


def test_auth_audit_line_names_who_and_which_sources_but_not_the_question(
        guarded: LiveServer, keys: KeyStore, caplog: pytest.LogCaptureFixture) -> None:
    key, hr = keys.create("hr-audit", ["rh"])
    with caplog.at_level(logging.INFO, logger="sourcier.audit"):
        httpx.post(guarded.url + "/v1/ask", json={"question": RH_QUESTION}, headers=_bearer(hr))
    lines = [r.getMessage() for r in caplog.records if r.name == "sourcier.audit"]
    assert lines and f"who=key:{key.key_id}:hr-audit surface=http action=ask" in lines[-1]
    assert "rh/salaires" in lines[-1] and "found=true" in lines[-1] and "Jeanne" not in lines[-1]


def test_auth_serve_on_a_public_address_without_keys_refuses_and_names_the_fix(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCIER_DATA_DIR", str(tmp_path))
    result = runner.invoke(cli, ["serve", "--host", "0.0.0.0", "--index-dir", str(tmp_path / "none")])
    assert result.exit_code == 1
    assert "sourcier keys create" in result.output and "--allow-anonymous" in result.output


def test_auth_keys_commands_create_list_revoke(tmp_path: Path) -> None:
    made = runner.invoke(cli, ["keys", "create", "intranet", "--audience", "rh", "--data-dir", str(tmp_path)])
    assert made.exit_code == 0, made.output
    secret = made.output.split()[0]
    key_id = secret.split("_")[1]
    listed = runner.invoke(cli, ["keys", "list", "--data-dir", str(tmp_path)])
    assert listed.output.split()[:3] == [key_id, "intranet", "public,rh"] and secret not in listed.output
    assert runner.invoke(cli, ["keys", "revoke", key_id, "--data-dir", str(tmp_path)]).exit_code == 0
    assert "revoked" in runner.invoke(cli, ["keys", "list", "--data-dir", str(tmp_path)]).output
    unknown = runner.invoke(cli, ["keys", "revoke", "nope", "--data-dir", str(tmp_path)])
    assert unknown.exit_code == 1 and "sourcier keys list" in unknown.output


@pytest.mark.parametrize("proxies, reads_hr", [("127.0.0.1", True), ("10.9.9.9", False)])
def test_auth_proxy_user_header_is_believed_only_from_the_allowed_proxies(
        tmp_path: Path, embedder: Embedder, proxies: str, reads_hr: bool) -> None:
    access = write_access(tmp_path, ACCESS + '[people]\n"alice@example.org" = ["rh"]\n')
    settings = Settings(index_dir=tmp_path / "index", sources_dir=write_corpus(tmp_path), access_file=access,
                        data_dir=tmp_path / "var", rate_limit_per_minute=0, forwarded_allow_ips=proxies,
                        user_header="X-Forwarded-User")
    engine = Engine(settings, embedder)
    engine.ingest()
    with LiveServer(create_app(settings, engine)) as server, server.client() as client:
        alice = client.post("/v1/ask", json={"question": RH_QUESTION},
                            headers={"X-Forwarded-User": "alice@example.org", "X-Forwarded-For": "198.51.100.4"})
        bob = client.post("/v1/ask", json={"question": RH_QUESTION},
                          headers={"X-Forwarded-User": "bob@example.org", "X-Forwarded-For": "198.51.100.5"})
    assert alice.status_code == 200 and alice.json()["found"] is reads_hr
    assert bob.status_code == 200 and not bob.json()["found"]  # named by the proxy, but in no [people] audience
