"""Ingest across machines on the PostgreSQL job queue: the shared embedding store, real `sourcier ingest-worker`
processes and the `ingest --distributed` coordinator, against a real server and the real embedder."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from pydantic import SecretStr

from bot.config import Settings
from bot.engine import Engine
from bot.retrieve import Retrieval, retrieve
from index.errors import IngestError
from index.pg.connect import connect, open_pool
from index.pg.embeddings import StoredEmbedder
from index.pg.queue import apply_queue_schema, defer_file, make_app, wait_for
from ingest.embed import Embedder

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ["Où dort le chat ?", "Combien de temps met le TGV entre Paris et Lyon ?", "Où vieillit le comté ?",
             "Qui a peint la Joconde ?", "Quel fleuve traverse Paris ?"]


class Counting:
    """An embedder that records what it was asked to embed."""

    def __init__(self, inner: Embedder) -> None:
        self.inner, self.name, self.dim = inner, inner.name, inner.dim
        self.calls: list[list[str]] = []

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self.inner.embed_query(text)


def test_stored_embedder_returns_the_wrapped_vectors_and_embeds_only_misses(embedder: Embedder, pg_url: str) -> None:
    texts = ["Le chat dort sur le canapé.", "Le comté vieillit en cave.", "Le chat dort sur le canapé."]
    counting = Counting(embedder)
    with open_pool(pg_url, 1, 5) as pool, open_pool(pg_url, 1, 5) as other_host:
        store = StoredEmbedder(counting, pool)
        assert np.allclose(store.embed_documents(texts), embedder.embed_documents(texts), atol=1e-6, rtol=0)
        assert counting.calls == [texts[:2]] and (store.embedded, store.stored) == (2, 0)  # the repeat: once
        more = ["Le comté vieillit en cave.", "Le TGV relie Paris à Lyon."]
        assert np.allclose(store.embed_documents(more), embedder.embed_documents(more), atol=1e-6, rtol=0)
        assert counting.calls[1:] == [more[1:]] and (store.embedded, store.stored) == (3, 1)
        elsewhere = Counting(embedder)  # another worker, its own connection: finds what the first one stored
        again = StoredEmbedder(elsewhere, other_host).embed_documents(texts + more)
        assert elsewhere.calls == [] and np.allclose(again, embedder.embed_documents(texts + more), atol=1e-6, rtol=0)
        assert np.allclose(store.embed_query("chat"), embedder.embed_query("chat"), atol=1e-6, rtol=0)
    assert _count(pg_url, "select count(*) from embeddings") == 3


def test_queue_joins_a_waiting_job_and_reports_a_failed_one_by_file(pg_url: str) -> None:
    apply_queue_schema(pg_url)

    async def run() -> None:
        app = make_app(pg_url)
        async with app.open_async():
            first = await defer_file(app, "/srv/docs/a.md", "/srv/docs")
            assert await defer_file(app, "/srv/docs/a.md", "/srv/docs") == first  # a second coordinator joins it
            other = await defer_file(app, "/srv/docs/b.md", "/srv/docs")
            await app.connector.execute_query_async(
                "update procrastinate_jobs set status = 'failed', attempts = 3 where id = %(id)s", id=first)
            with pytest.raises(IngestError, match=r"embedding failed for 1 of 2 files .*nothing published: "
                                                  r"a\.md \(failed after 3 attempts\)$"):
                await wait_for(app, {first: "a.md", other: "b.md"}, 30)

    asyncio.run(run())
    assert _count(pg_url, "select count(*) from procrastinate.procrastinate_jobs") == 2


def _docs(root: Path) -> Path:
    root.mkdir()
    files = {"chats.md": "# Les chats\n\nLe chat dort sur le canapé. Il aime le soleil du matin.\n",
             "trains.md": "# Les trains\n\nLe TGV relie Paris à Lyon en deux heures. M. Dupont le prend le lundi.\n",
             "fromages.md": "# Fromages\n\nLe comté est un fromage du Jura. Il vieillit dix-huit mois en cave.\n",
             "peinture.md": "# Peinture\n\nLéonard de Vinci a peint la Joconde. Elle est au Louvre.\n",
             "fleuves.md": "# Fleuves\n\nLa Seine traverse Paris. Elle se jette dans la Manche au Havre.\n"}
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")
    return root


def _count(url: str, sql: str) -> int:
    with connect(url) as conn:
        row = conn.execute(sql).fetchone()
    return int(row[0]) if row else 0


def _env(tmp_path: Path, url: str, **settings: str) -> dict[str, str]:
    """A process environment: this test's database and index, workers beating every half second."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOURCIER_")}
    return env | {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "SOURCIER_DATABASE_URL": url,
                  "SOURCIER_INDEX_DIR": str(tmp_path / "index"), "SOURCIER_DATA_DIR": str(tmp_path / "var"),
                  "SOURCIER_INGEST_HEARTBEAT_SECONDS": "0.5"} | {f"SOURCIER_{k.upper()}": v for k, v in settings.items()}


class Worker:
    """A real `sourcier ingest-worker` process and the lines of its log."""

    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "ingest-worker"], cwd=ROOT, env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=lambda: [self.lines.put(line) for line in self.proc.stderr or ()], daemon=True).start()

    def wait_for(self, pattern: str, timeout: float = 120) -> re.Match[str]:
        """The first log line matching `pattern`, within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.seen.append(self.lines.get(timeout=0.2))
            except queue.Empty:
                if self.proc.poll() is not None:
                    pytest.fail(f"ingest-worker exited {self.proc.returncode}: {''.join(self.seen)}")
                continue
            if match := re.search(pattern, self.seen[-1]):
                return match
        pytest.fail(f"no {pattern!r} from ingest-worker within {timeout:.0f} s: {''.join(self.seen)}")

    def log(self) -> str:
        """Everything it logged so far."""
        while not self.lines.empty():
            self.seen.append(self.lines.get_nowait())
        return "".join(self.seen)


@contextlib.contextmanager
def worker(env: dict[str, str]) -> Iterator[Worker]:
    """A worker once it is ready to take jobs; stopped at the end."""
    running = Worker(env)
    try:
        running.wait_for("ingest worker ready")
        yield running
    finally:
        if running.proc.poll() is None:
            running.proc.terminate()
            running.proc.wait(timeout=30)


def _coordinator(env: dict[str, str], docs: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "bot.cli", "ingest", "--distributed", str(docs), "--json"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finished(proc: subprocess.Popen[str], timeout: float = 300) -> tuple[int, dict[str, object], str]:
    out, err = proc.communicate(timeout=timeout)
    report = json.loads(out[out.index("{"):]) if proc.returncode == 0 else {}
    return proc.returncode, report, err


def _same_ranking(a: Retrieval, b: Retrieval) -> bool:
    """The same passages in the same order and verdict, scores equal to 1e-5 (pgvector and FAISS add floats in
    different orders)."""
    return [h.chunk.chunk_id for h in a.hits] == [h.chunk.chunk_id for h in b.hits] and a.found == b.found and \
        np.allclose([(h.score, h.sentence_cos) for h in a.hits], [(h.score, h.sentence_cos) for h in b.hits],
                    atol=1e-5, rtol=0)


def test_distributed_ingest_two_workers_publish_what_a_plain_ingest_ranks(tmp_path: Path, embedder: Embedder,
                                                                         pg_url: str) -> None:
    docs = _docs(tmp_path / "docs")
    apply_queue_schema(pg_url)
    env = _env(tmp_path, pg_url, ingest_wait_seconds="240")
    with worker(env) as first, worker(env) as second:
        code, report, err = _finished(_coordinator(env, docs))
        logs = first.log() + second.log()
    assert code == 0, err
    assert report["distributed"] == {"files_queued": 5, "waited_seconds": report["distributed"]["waited_seconds"],  # type: ignore[index]
                                     "from_store": report["distributed"]["from_store"], "embedded_here": 0}  # type: ignore[index]
    assert report["distributed"]["from_store"] > 0  # type: ignore[index]
    assert all(f"embedding {docs.absolute() / name}" in logs for name in os.listdir(docs))
    plain = Engine(Settings(index_dir=tmp_path / "plain", sources_dir=docs), embedder)
    plain.ingest()
    published = Engine(Settings(index_dir=tmp_path / "reader", database_url=SecretStr(pg_url)), embedder)
    assert set(published.snapshot.manifest.sources) == set(plain.snapshot.manifest.sources) and \
        len(plain.snapshot.manifest.sources) == 5
    for question in QUESTIONS:
        assert _same_ranking(retrieve(question, published.snapshot, embedder, 5, published.params),
                             retrieve(question, plain.snapshot, embedder, 5, plain.params)), question


def test_ingest_worker_killed_mid_file_its_job_is_retried_by_another(tmp_path: Path, embedder: Embedder,
                                                                     pg_url: str) -> None:
    docs = _docs(tmp_path / "docs")
    apply_queue_schema(pg_url)
    env = _env(tmp_path, pg_url, ingest_wait_seconds="240")
    with worker(env | {"SOURCIER_INGEST_HOLD_SECONDS": "600"}) as doomed:
        coordinator = _coordinator(env, docs)
        held = doomed.wait_for(r"embedding (\S+)").group(1)
        assert _count(pg_url, "select count(*) from procrastinate.procrastinate_jobs where status = 'doing'") == 1
        doomed.proc.send_signal(signal.SIGKILL)
        doomed.proc.wait(timeout=30)
    with worker(env) as survivor:
        code, report, err = _finished(coordinator)
        log = survivor.log()
    assert code == 0, err
    assert "held by a worker that stopped; queued again" in log and f"embedding {held}" in log
    assert report["distributed"]["embedded_here"] == 0  # type: ignore[index]
    with connect(pg_url) as conn:
        row = conn.execute("select status::text, attempts from procrastinate.procrastinate_jobs where args->>'path' = %s",
                           (held,)).fetchone()
    assert row is not None and row[0] == "succeeded"
    published = Engine(Settings(index_dir=tmp_path / "reader", database_url=SecretStr(pg_url)), embedder)
    assert len(published.snapshot.manifest.sources) == 5 and _count(pg_url, "select count(*) from versions") == 1


def test_distributed_ingest_deadline_without_workers_names_the_files_and_publishes_nothing(tmp_path: Path,
                                                                                          pg_url: str) -> None:
    docs = _docs(tmp_path / "docs")
    apply_queue_schema(pg_url)
    code, _, err = _finished(_coordinator(_env(tmp_path, pg_url, ingest_wait_seconds="1"), docs), timeout=120)
    assert code == 1 and "5 of 5 files still not embedded after 1 s" in err and "chats.md" in err, err
    assert err.count("error:") == 1 and "Traceback" not in err and "/docs/" not in err, err  # paths under the root
    assert _count(pg_url, "select count(*) from versions") == 0 and _count(pg_url, "select count(*) from sources") == 0
