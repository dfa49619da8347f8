"""Re-index jobs on the shared database's queue: two real `sourcier serve` replicas on one PostgreSQL; one job at a
time across both, cancelled from the replica that does not run it, and finished by the other when the replica
running it is killed."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import psutil
import pytest
from pydantic import SecretStr

from bot.config import Settings
from bot.engine import Engine
from ingest.embed import Embedder
from tests.conftest import ADMIN_TOKEN, SEED_FILE, SEEDS
from tests.processes import sourcier_serve
from tests.test_reindex import AUTH, NEW_FACT, wait_for_job

FACT_QUESTION = {"question": "Qui est le nouveau directeur financier d'OpenAI ?"}
Replica = tuple[str, subprocess.Popen[str]]


@pytest.fixture()
def replicas(tmp_path: Path, embedder: Embedder, database_url: str) -> Iterator[tuple[list[Replica], Path]]:
    """Two replicas on one database, the seed published there; their sources folder, to edit."""
    sources = tmp_path / "seeds"
    shutil.copytree(SEEDS, sources)
    Engine(Settings(index_dir=tmp_path / "built", sources_dir=sources, database_url=SecretStr(database_url)),
           embedder=embedder).ingest()
    base = {**os.environ, "HF_HUB_OFFLINE": "1", "SOURCIER_DATABASE_URL": database_url,
            "SOURCIER_SOURCES_DIR": str(sources), "SOURCIER_ADMIN_TOKEN": ADMIN_TOKEN,
            "SOURCIER_RATE_LIMIT_PER_MINUTE": "0", "SOURCIER_INGEST_HEARTBEAT_SECONDS": "0.5",
            "SOURCIER_DATABASE_POLL_SECONDS": "0.2"}
    with ExitStack() as stack:
        found = [stack.enter_context(sourcier_serve({**base, "SOURCIER_DATA_DIR": str(tmp_path / name),
                                                     "SOURCIER_INDEX_DIR": str(tmp_path / name / "index")}))
                 for name in ("a", "b")]
        yield found, sources


def _running_on(replicas: list[Replica], deadline_s: float = 60) -> tuple[int, int]:
    """(index of the replica running the job, pid of its `sourcier ingest` child) once the child has started."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        for i, (_, proc) in enumerate(replicas):
            for child in psutil.Process(proc.pid).children(recursive=True):
                try:
                    if "ingest" in child.cmdline():
                        return i, child.pid
                except psutil.NoSuchProcess:
                    continue
        time.sleep(0.02)
    raise AssertionError("no replica started the ingest child")


def _answers(url: str) -> str:
    return str(httpx.post(f"{url}/v1/ask", json=FACT_QUESTION, timeout=30).json()["answer"])


def _add_fact(sources: Path) -> None:
    with (sources / SEED_FILE.name).open("a", encoding="utf-8") as f:
        f.write(NEW_FACT)


def test_reindex_queue_one_job_across_replicas_cancelled_from_the_one_not_running_it(
        replicas: tuple[list[Replica], Path]) -> None:
    servers, sources = replicas
    _add_fact(sources)
    urls = [url for url, _ in servers]
    with httpx.Client(base_url=urls[0], timeout=30) as a, httpx.Client(base_url=urls[1], timeout=30) as b:
        job_id = a.post("/v1/admin/reindex", headers=AUTH).json()["job_id"]
        refused = b.post("/v1/admin/reindex", headers=AUTH)
        assert refused.status_code == 409 and job_id in refused.json()["detail"], refused.json()
        runner, child = _running_on(servers)
        other = (a, b)[1 - runner]
        cancelled = other.delete(f"/v1/admin/reindex/{job_id}", headers=AUTH)
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled", cancelled.json()
        assert not psutil.pid_exists(child) or psutil.Process(child).status() == psutil.STATUS_ZOMBIE
        assert all("Zéphyrin" not in _answers(url) for url in urls)  # the old version keeps serving
        again = b.post("/v1/admin/reindex", headers=AUTH)
        assert again.status_code == 202, again.json()
        assert wait_for_job(a, again.json()["job_id"], deadline_s=120)["status"] == "done"
    deadline = time.monotonic() + 10
    while not all("Zéphyrin Valadier" in _answers(url) for url in urls):
        assert time.monotonic() < deadline, "a replica did not serve the new version"
        time.sleep(0.1)


def test_reindex_queue_replica_killed_mid_job_the_other_runs_it_to_the_end(
        replicas: tuple[list[Replica], Path]) -> None:
    servers, sources = replicas
    _add_fact(sources)
    job_id = httpx.post(f"{servers[0][0]}/v1/admin/reindex", headers=AUTH, timeout=30).json()["job_id"]
    runner, _ = _running_on(servers)
    os.kill(servers[runner][1].pid, signal.SIGKILL)  # no shutdown: its heartbeat just stops
    survivor = servers[1 - runner][0]
    with httpx.Client(base_url=survivor, timeout=30) as client:
        job = wait_for_job(client, job_id, deadline_s=120)
    assert job["status"] == "done", job
    assert "Zéphyrin Valadier" in _answers(survivor)
