"""`sourcier ask` through a running server: the model stays loaded there, so a call costs milliseconds, not the
1.6 s of loading it in a new process each time."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import httpx

from bot.answer import Answer, Citation
from bot.config import Settings
from index.errors import IndexCorruptError, ServerError
from index.versions import current_version

log = logging.getLogger(__name__)
DEFAULT_URL = "http://127.0.0.1:8000"  # where `sourcier serve` and `make run` listen by default
PROBE_SECONDS = 0.5  # a discovery that finds nothing (connection refused) costs about 1 ms; this bounds a hang
ASK_SECONDS = 60.0


def server_for(settings: Settings, local_index: bool) -> str | None:
    """The server to ask: SOURCIER_SERVER_URL, else the default loopback server when it serves this very index
    version (version names are unique, so it reads the same files); None: answer in process.

    `local_index`: the user named an index or an embedder on the command line, so the answer must come from it.
    """
    if settings.server_url:
        return settings.server_url.rstrip("/")
    if local_index:
        return None
    try:
        version = current_version(settings.index_dir)
    except IndexCorruptError:
        return None
    if version is None:
        return None
    try:
        ready = httpx.get(f"{DEFAULT_URL}/readyz", timeout=PROBE_SECONDS).json()
    except (httpx.HTTPError, ValueError):
        return None
    return DEFAULT_URL if isinstance(ready, dict) and ready.get("index_version") == version else None


def ask_remote(url: str, question: str, k: int | None,
               sources: list[str] | None) -> tuple[Answer, dict[str, str]] | None:
    """The server's answer and the paths of its sources, as the CLI prints them; None when it cannot be reached
    (the caller answers in process), or wants an API key the CLI does not have; ServerError with the server's reason when it refuses the question."""
    body: dict[str, Any] = {"question": question, **({"k": k} if k else {}), **({"sources": sources} if sources else {})}
    try:
        with httpx.Client(base_url=url, timeout=ASK_SECONDS) as client:
            reply = client.post("/v1/ask", json=body)
            if reply.status_code == 401:  # the server wants an API key; this machine reads its own index
                log.info("the server at %s asks for an API key; answering in process", url)
                return None
            if reply.status_code != 200:
                raise ServerError(_detail(reply))
            answer = _answer(reply.json())
            listed = client.get("/v1/sources").json() if answer.citations else []
    except httpx.TransportError as exc:
        log.info("no server at %s (%s); answering in process", url, exc)
        return None
    return answer, {s["source_id"]: s["path"] for s in listed}


def _detail(reply: httpx.Response) -> str:
    """The server's `detail`, in the CLI's words where they differ from the API's."""
    try:
        detail = reply.json().get("detail", reply.text)
    except ValueError:
        detail = reply.text
    text = detail if isinstance(detail, str) else "; ".join(str(d.get("msg", d)) for d in detail)
    return text.replace("GET /v1/sources lists them", "see `sourcier sources`") or f"HTTP {reply.status_code}"


def _answer(data: dict[str, Any]) -> Answer:
    """The API's answer as the Answer the CLI renders (citation links are the server's: dropped, as in process)."""
    citations = [replace(Citation(**c), url=None) for c in data["citations"]]
    return Answer(question=data["question"], text=data["answer"], found=data["found"], citations=citations,
                  language=data["language"], confidence=data["confidence"], timings_ms=data["timings_ms"],
                  index_version=data["index_version"], short=data.get("short", ""))
