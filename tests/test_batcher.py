"""Question micro-batching: each caller its own vector, failures stay alone, a lone question never waits."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import numpy as np
import pytest

from bot.batcher import BatchStats, MicroBatcher
from bot.config import Settings
from bot.engine import Engine
from bot.http.api import create_app
from index.errors import QuestionError
from ingest.embed import Embedder
from tests.conftest import DEV_SET, LiveServer

QUESTIONS = [json.loads(line)["q"] for line in DEV_SET.read_text(encoding="utf-8").splitlines() if line.strip()]
LONE_SURROGATE = "Qui dirige \ud800 OpenAI ?"  # what JSON "\ud800" decodes to: the encoder cannot read it


@pytest.fixture(scope="module")
def pool() -> Iterator[ThreadPoolExecutor]:
    """One CPU thread, as the engine has."""
    with ThreadPoolExecutor(max_workers=1) as executor:
        yield executor


def _batcher(embedder: Embedder, pool: ThreadPoolExecutor, max_batch: int = 16,
             window: float = 0.001) -> MicroBatcher:
    def run(fn: Callable[..., Any], *args: Any) -> Awaitable[Any]:
        return asyncio.get_running_loop().run_in_executor(pool, fn, *args)

    return MicroBatcher(embedder.embed_documents, run, BatchStats(), max_batch, window)


async def _queued_behind_other_work(batcher: MicroBatcher, pool: ThreadPoolExecutor,
                                    questions: list[str]) -> list[np.ndarray | BaseException]:
    """Ask all at once while the CPU thread is busy with other work (as under load), then let it go."""
    gate = threading.Event()
    pool.submit(gate.wait, 30)
    tasks = [asyncio.ensure_future(batcher.embed(q)) for q in questions]
    deadline = time.monotonic() + 30
    while batcher.pending < len(questions) and time.monotonic() < deadline:
        await asyncio.sleep(0)
    gate.set()
    return await asyncio.gather(*tasks, return_exceptions=True)


def test_batcher_gives_each_caller_its_own_vector(embedder: Embedder, pool: ThreadPoolExecutor) -> None:
    batcher = _batcher(embedder, pool)
    questions = QUESTIONS[:16]
    vectors = asyncio.run(_queued_behind_other_work(batcher, pool, questions))
    for question, vector in zip(questions, vectors, strict=True):
        assert isinstance(vector, np.ndarray)
        assert np.abs(vector - embedder.embed_query(question)).max() <= 1e-6
    assert batcher.stats.sizes == {16: 1}  # the queued pass took every question that arrived before it started


def test_batcher_never_exceeds_its_batch_size(embedder: Embedder, pool: ThreadPoolExecutor) -> None:
    batcher = _batcher(embedder, pool, max_batch=4)
    vectors = asyncio.run(_queued_behind_other_work(batcher, pool, QUESTIONS[:13]))
    assert all(isinstance(v, np.ndarray) for v in vectors) and batcher.stats.questions == 13
    assert batcher.stats.sizes == {4: 3, 1: 1}


def test_batcher_failing_question_fails_alone(embedder: Embedder, pool: ThreadPoolExecutor) -> None:
    batcher = _batcher(embedder, pool)
    questions = [*QUESTIONS[:4], LONE_SURROGATE, *QUESTIONS[4:8]]
    results = asyncio.run(_queued_behind_other_work(batcher, pool, questions))
    assert batcher.stats.sizes == {9: 1}  # it was in one pass with the others
    assert isinstance(results[4], UnicodeEncodeError)
    for question, result in zip(questions, results, strict=True):
        if question is not LONE_SURROGATE:
            assert isinstance(result, np.ndarray)
            assert np.abs(result - embedder.embed_query(question)).max() <= 1e-6


def test_batcher_lone_question_is_not_held_back(embedder: Embedder, pool: ThreadPoolExecutor) -> None:
    batcher = _batcher(embedder, pool, window=10.0)  # a window no test could sit out

    async def main() -> None:
        for question in QUESTIONS[:8]:
            vector = await batcher.embed(question)
            assert np.abs(vector - embedder.embed_query(question)).max() <= 1e-6

    asyncio.run(main())
    assert batcher.stats.waits == 0
    assert batcher.stats.sizes == {1: 8}  # each went at once, alone


def test_batcher_question_arriving_while_a_pass_runs_waits_for_the_window(embedder: Embedder,
                                                                          pool: ThreadPoolExecutor) -> None:
    started, gate = threading.Event(), threading.Event()

    def encode(texts: list[str]) -> np.ndarray:  # the real encoder, held at its start until the test lets go
        started.set()
        gate.wait(30)
        return embedder.embed_documents(texts)

    batcher = MicroBatcher(encode, lambda fn, *a: asyncio.get_running_loop().run_in_executor(pool, fn, *a),
                           BatchStats(), 16, 0.001)

    async def main() -> list[np.ndarray]:
        first = asyncio.ensure_future(batcher.embed(QUESTIONS[0]))
        await asyncio.get_running_loop().run_in_executor(None, started.wait, 30)  # its pass is running
        later = [asyncio.ensure_future(batcher.embed(q)) for q in QUESTIONS[1:3]]
        deadline = time.monotonic() + 30
        while not batcher.queued and time.monotonic() < deadline:  # the window ends: their pass is queued
            await asyncio.sleep(0.001)
        gate.set()
        return await asyncio.gather(first, *later)

    vectors = asyncio.run(main())
    assert len(vectors) == 3
    assert batcher.stats.waits == 1  # the second armed the window; the third joined it
    assert batcher.stats.sizes == {1: 1, 2: 1}


def test_engine_ask_async_answers_like_ask(engine: Engine) -> None:
    async def main() -> list[Any]:
        return await asyncio.gather(*(engine.ask_async(q) for q in QUESTIONS[:6]),
                                    *(engine.search_async(q) for q in QUESTIONS[:6]))

    results = asyncio.run(main())
    for question, answer, ranking in zip(QUESTIONS[:6], results[:6], results[6:], strict=True):
        expected = engine.ask(question)
        assert (answer.text, answer.found, answer.citations) == (expected.text, expected.found, expected.citations)
        assert [h.row for h in ranking.hits] == [h.row for h in engine.search(question).hits]


def test_engine_refuses_a_lone_surrogate_as_a_question(engine: Engine) -> None:
    with pytest.raises(QuestionError, match="surrogate"):  # Slack's JSON can carry one; the encoder cannot read it
        asyncio.run(engine.ask_async(LONE_SURROGATE))


def test_engine_lone_requests_are_not_delayed_by_the_window(seed_settings: Settings, embedder: Embedder) -> None:
    engine = Engine(seed_settings.model_copy(update={"answer_cache_size": 0, "embed_window_ms": 50.0}), embedder)

    async def main() -> None:
        for question in QUESTIONS[:6]:
            await engine.ask_async(question)

    asyncio.run(main())
    assert engine.batch_stats.waits == 0 and engine.batch_stats.sizes == {1: 6}


def test_server_concurrent_requests_each_get_their_answer(seed_settings: Settings, engine: Engine) -> None:
    settings = seed_settings.model_copy(update={"answer_cache_size": 0})
    served = Engine(settings, embedder=engine.embedder)
    questions = QUESTIONS[:16]
    expected = {q: engine.ask(q) for q in questions}

    async def main(url: str) -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            asks = [client.post("/v1/ask", json={"question": q}) for q in questions]
            searches = [client.get("/v1/search", params={"q": q}) for q in questions[:4]]
            bad = client.post("/v1/ask", content=b'{"question": "Qui dirige \\ud800 OpenAI ?"}',
                              headers={"Content-Type": "application/json"})
            return await asyncio.gather(*asks, *searches, bad)

    with LiveServer(create_app(settings, served)) as server:
        with server.client() as client:  # one at a time first: each goes at once, alone
            for question in questions[:3]:
                assert client.post("/v1/ask", json={"question": question}).status_code == 200
        assert served.batch_stats.waits == 0 and served.batch_stats.sizes == {1: 3}
        responses = asyncio.run(main(server.url))
        metrics = httpx.get(server.url + "/metrics").text
    for question, response in zip(questions, responses[:16], strict=True):
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["question"] == question and body["answer"] == expected[question].text
        assert [c["start"] for c in body["citations"]] == [c.start for c in expected[question].citations]
    for question, response in zip(questions[:4], responses[16:20], strict=True):
        assert response.status_code == 200
        assert [p["start"] for p in response.json()["passages"]] == [h.chunk.start for h in engine.search(question).hits]
    assert responses[-1].status_code == 422  # refused alone; its neighbours were answered
    assert served.batch_stats.questions == 23
    assert served.batch_stats.largest > 1  # 20 at once shared encoder passes
    assert "sourcier_embed_batch_size_sum 23.0" in metrics


def test_engine_batched_questions_take_one_hop_to_the_cpu_thread(seed_settings: Settings, embedder: Embedder) -> None:
    engine = Engine(seed_settings.model_copy(update={"answer_cache_size": 0}), embedder)
    hops: list[str] = []
    run = engine.run

    async def counted(fn: Callable[..., Any], *args: Any) -> Any:
        hops.append(getattr(fn, "__name__", "?"))
        return await run(fn, *args)

    engine.run = counted  # type: ignore[method-assign]
    gate = threading.Event()

    async def main() -> list[Any]:
        engine._pool.submit(gate.wait, 30)  # the CPU thread is busy, as under load
        tasks = [asyncio.ensure_future(engine.ask_async(q)) for q in QUESTIONS[:8]]
        deadline = time.monotonic() + 30
        while engine.batcher().pending < 8 and time.monotonic() < deadline:
            await asyncio.sleep(0)
        gate.set()
        return await asyncio.gather(*tasks)

    answers = asyncio.run(main())
    assert hops == ["_taken_and_done"]  # prepared, embedded together and answered in one pass: not three hops each
    assert engine.batch_stats.sizes == {8: 1}
    for question, answer in zip(QUESTIONS[:8], answers, strict=True):
        expected = engine.ask(question)
        assert (answer.text, answer.citations) == (expected.text, expected.citations)
