"""The HTTP API on a real uvicorn: every endpoint, and every bad input answered with a clear 4xx."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from bot.config import Settings
from bot.engine import Engine
from bot.http.api import NOT_JSON, create_app
from ingest.embed import Embedder
from tests.conftest import ADMIN_TOKEN, LiveServer


@pytest.fixture()
def client(live_server: LiveServer) -> httpx.Client:
    with live_server.client() as c:
        yield c


def test_api_ask_answers_with_citations(client: httpx.Client) -> None:
    r = client.post("/v1/ask", json={"question": "Qui dirige OpenAI par intérim ?", "k": 3})
    assert r.status_code == 200
    data = r.json()
    assert data["found"] and "Mira Murati" in data["answer"] and "[1]" in data["answer"]
    assert len(data["citations"]) == 3 and data["index_version"]
    first = data["citations"][0]
    source = client.get(f"/v1/sources/{first['source_id']}").json()["text"]
    assert source[first["start"] : first["end"]] == first["text"]
    assert first["url"].startswith("/#cite=openai-altman-microsoft:")
    assert set(data["timings_ms"]) >= {"embed", "candidates", "fusion"}


def test_api_ask_abstains_in_english(client: httpx.Client) -> None:
    data = client.post("/v1/ask", json={"question": "Who wrote the novel Les Misérables?"}).json()
    assert not data["found"] and data["language"] == "en" and data["answer"].startswith("I don't know")


def test_api_ask_filters_by_source(client: httpx.Client) -> None:
    r = client.post("/v1/ask", json={"question": "Quel rôle a Mira Murati ?", "sources": ["openai-altman-microsoft"]})
    assert r.status_code == 200 and r.json()["found"]


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({"question": ""}, 422, "question is empty"),
        ({"question": "   \n "}, 422, "question is empty"),
        ({"question": "x" * 1001}, 422, "limit is 1000"),
        ({"question": "Qui ?", "k": 0}, 422, "k:"),
        ({"question": "Qui ?", "k": 21}, 422, "k:"),
        ({}, 422, "question: Field required"),
        ({"question": "Qui ?", "sources": ["nope"]}, 404, ("unknown source id(s): nope (a source id, or a folder "
                                                           "prefix such as man/); GET /v1/sources lists them")),
        ({"question": "Qui ?", "extra": 1}, 422, "extra"),
    ],
)
def test_api_ask_bad_input_gets_clear_4xx(client: httpx.Client, body: dict[str, object], status: int,
                                          detail: str) -> None:
    r = client.post("/v1/ask", json=body)
    assert r.status_code == status
    assert detail in r.json()["detail"]


@pytest.mark.parametrize("headers", [{}, {"Content-Type": "text/plain"},
                                     {"Content-Type": "application/x-www-form-urlencoded"}])
def test_api_body_not_sent_as_json_gets_the_content_type_hint(client: httpx.Client, headers: dict[str, str]) -> None:
    r = client.post("/v1/ask", content=b'{"question": "Qui ?"}', headers=headers)
    assert r.status_code == 422 and r.json()["detail"] == NOT_JSON
    assert "valid dictionary" not in r.json()["detail"] and "Content-Type: application/json" in NOT_JSON
    admin = client.post("/v1/admin/reindex", content=b'{"replace": true}',
                        headers={**headers, "Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert admin.status_code == 422 and admin.json()["detail"] == NOT_JSON


def test_api_unknown_source_points_at_the_api_not_the_cli(client: httpx.Client) -> None:
    detail = client.post("/v1/ask", json={"question": "Qui ?", "sources": ["nope/"]}).json()["detail"]
    assert "GET /v1/sources" in detail and "sourcier sources" not in detail


def test_api_sources_take_a_folder_prefix_like_the_slack_channel_mapping(tmp_path: Path, embedder: Embedder) -> None:
    docs = tmp_path / "docs"
    (docs / "man").mkdir(parents=True)
    (docs / "man" / "chats.txt").write_text("Le chat dort sur le canapé toute la journée.", encoding="utf-8")
    (docs / "chiens.txt").write_text("Le chien dort dans sa niche toute la journée.", encoding="utf-8")
    settings = Settings(index_dir=tmp_path / "index", data_dir=tmp_path / "var", rate_limit_per_minute=0)
    engine = Engine(settings, embedder=embedder)
    engine.ingest(docs)
    with LiveServer(create_app(settings, engine)) as live, live.client() as c:
        for prefix in ("man/", "man"):
            r = c.post("/v1/ask", json={"question": "Qui dort toute la journée ?", "sources": [prefix]})
            assert r.status_code == 200 and {x["source_id"] for x in r.json()["citations"]} == {"man/chats"}
        assert c.post("/v1/ask", json={"question": "Qui dort ?", "sources": ["ma/"]}).status_code == 404


def test_api_ask_malformed_json_is_422(client: httpx.Client) -> None:
    r = client.post("/v1/ask", content=b'{"question": ', headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and "JSON" in r.json()["detail"]


def test_api_search_ranks_passages_with_scores(client: httpx.Client) -> None:
    data = client.get("/v1/search", params={"q": "GPU Microsoft", "k": 2}).json()
    assert len(data["passages"]) == 2 and data["passages"][0]["rank"] == 1
    assert {"dense", "lexical", "sentence", "score"} <= set(data["passages"][0])
    assert client.get("/v1/search", params={"q": "GPU", "k": 99}).status_code == 422
    assert client.get("/v1/search").status_code == 422


def test_api_sources_list_and_text(client: httpx.Client) -> None:
    listing = client.get("/v1/sources").json()
    assert [s["source_id"] for s in listing] == ["openai-altman-microsoft"]
    assert listing[0]["chunks"] > 10 and len(listing[0]["sha256"]) == 64 and listing[0]["ingested_at"]
    one = client.get("/v1/sources/openai-altman-microsoft").json()
    assert one["text"].startswith("Consolidation de l'IA")


@pytest.mark.parametrize("path", ["nope", "..%2F..%2Fetc%2Fpasswd", "../../etc/passwd"])
def test_api_unknown_source_is_404(client: httpx.Client, path: str) -> None:
    r = client.get(f"/v1/sources/{path}")
    assert r.status_code == 404


def test_api_health_ready_and_metrics(client: httpx.Client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["ready"] and ready["chunks"] > 10 and ready["embedder"] == "use-multilingual-v3"
    client.post("/v1/ask", json={"question": "Quelle est la météo à Marseille ?"})
    text = client.get("/metrics").text
    assert 'sourcier_requests_total{method="POST",route="/v1/ask",status="200"}' in text
    assert "sourcier_request_seconds_bucket" in text
    assert 'sourcier_answers_total{outcome="abstained"}' in text
    assert f'sourcier_index_info{{version="{ready["index_version"]}"}} 1.0' in text
    assert ADMIN_TOKEN not in text


def test_api_admin_requires_the_token(client: httpx.Client) -> None:
    assert client.post("/v1/admin/reindex").status_code == 401
    r = client.post("/v1/admin/reindex", headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401 and ADMIN_TOKEN not in r.text
    assert client.get("/v1/admin/reindex/abc", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).status_code == 404


def test_api_serves_page_and_openapi(client: httpx.Client) -> None:
    page = client.get("/")
    assert page.status_code == 200 and 'lang="fr"' in page.text and "Votre question" in page.text
    assert client.get("/static/app.js").status_code == 200
    assert "/v1/ask" in client.get("/openapi.json").json()["paths"]


def test_api_source_paths_are_relative_to_the_sources_root(live_server: LiveServer) -> None:
    with live_server.client() as client:
        paths = [s["path"] for s in client.get("/v1/sources").json()]
        one = client.get("/v1/sources/openai-altman-microsoft").json()["path"]
    assert paths == ["openai-altman-microsoft.txt"] and one == "openai-altman-microsoft.txt"
