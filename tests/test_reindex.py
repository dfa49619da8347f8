"""Zero-downtime re-indexing: under load, on failure, from another process, and with no index at all."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from bot.config import Settings
from bot.engine import Engine
from bot.http.api import create_app
from bot.http.jobs import Job, ReindexJobs
from bot.http.metrics import Metrics
from ingest.embed import Embedder
from ingest.guards import ingest_lock
from ingest.pipeline import build_index
from tests.conftest import ADMIN_TOKEN, SEEDS, LiveServer

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
NEW_FACT = " Le nouveau directeur financier d'OpenAI s'appelle Zéphyrin Valadier."


@pytest.fixture()
def settings(tmp_path: Path) -> Settings:
    shutil.copytree(SEEDS, tmp_path / "seeds")
    return Settings(index_dir=tmp_path / "index", data_dir=tmp_path / "var", sources_dir=tmp_path / "seeds",
                    admin_token=SecretStr(ADMIN_TOKEN), rate_limit_per_minute=0)


@pytest.fixture()
def server(settings: Settings, embedder: Embedder) -> Iterator[LiveServer]:
    engine = Engine(settings, embedder=embedder)
    engine.ingest()
    with LiveServer(create_app(settings, engine)) as live:
        yield live


def wait_for_job(client: httpx.Client, job_id: str, deadline_s: float = 60) -> dict[str, object]:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        job = client.get(f"/v1/admin/reindex/{job_id}", headers=AUTH).json()
        if job["status"] in ("done", "failed", "cancelled"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish in {deadline_s}s")


def test_reindex_under_load_never_fails_a_request(server: LiveServer, settings: Settings) -> None:
    statuses: list[int] = []
    stop = threading.Event()

    def hammer() -> None:
        with server.client() as c:
            while not stop.is_set() and len(statuses) < 5000:
                statuses.append(c.post("/v1/ask", json={"question": "Qui a fondé Twitch.tv ?"}).status_code)

    workers = [threading.Thread(target=hammer) for _ in range(3)]
    for w in workers:
        w.start()
    with server.client() as client:
        before = client.get("/readyz").json()["index_version"]
        seed = next(settings.sources_dir.glob("*.txt"))
        seed.write_text(seed.read_text(encoding="utf-8") + NEW_FACT, encoding="utf-8")
        r = client.post("/v1/admin/reindex", headers=AUTH)
        assert r.status_code == 202 and r.headers["Location"].endswith(r.json()["job_id"])
        job = wait_for_job(client, r.json()["job_id"])
        time.sleep(0.3)  # keep the load running across the swap (bounded, not a synchronisation)
        stop.set()
        for w in workers:
            w.join(timeout=30)
        assert job["status"] == "done" and job["report"]["embedded"] > 0
        after = client.get("/readyz").json()["index_version"]
        assert after != before and after == job["report"]["version"]
        answer = client.post("/v1/ask", json={"question": "Qui est le directeur financier d'OpenAI ?"}).json()
        assert "Zéphyrin Valadier" in answer["answer"]
        metrics = client.get("/metrics").text
        assert 'sourcier_reindex_jobs_total{status="done"} 1.0' in metrics
    assert len(statuses) > 10 and set(statuses) == {200}


def test_reindex_failure_keeps_old_version_serving(server: LiveServer, settings: Settings) -> None:
    with server.client() as client:
        before = client.get("/readyz").json()["index_version"]
        for path in settings.sources_dir.iterdir():
            path.unlink()
        job = wait_for_job(client, client.post("/v1/admin/reindex", headers=AUTH).json()["job_id"])
        assert job["status"] == "failed" and "no sources to ingest" in job["error"]
        assert client.get("/readyz").json()["index_version"] == before
        assert client.post("/v1/ask", json={"question": "Qui a fondé Twitch.tv ?"}).json()["found"]


def test_reindex_picks_up_current_written_by_another_process(server: LiveServer, settings: Settings,
                                                             embedder: Embedder) -> None:
    with server.client() as client:
        before = client.get("/readyz").json()["index_version"]
        seed = next(settings.sources_dir.glob("*.txt"))
        seed.write_text(seed.read_text(encoding="utf-8") + NEW_FACT, encoding="utf-8")
        published = build_index(settings.sources_dir, settings.index_dir, embedder,
                                Engine.chunking(settings)).version
        assert published != before
        deadline = time.monotonic() + 30
        while client.get("/readyz").json()["index_version"] != published:
            assert time.monotonic() < deadline, "server never swapped to the new CURRENT"
            time.sleep(0.02)


def test_reindex_disabled_without_token(tmp_path: Path, embedder: Embedder) -> None:
    settings = Settings(index_dir=tmp_path / "none", sources_dir=tmp_path)
    with LiveServer(create_app(settings, Engine(settings, embedder=embedder))) as live, live.client() as client:
        r = client.post("/v1/admin/reindex", headers=AUTH)
        assert r.status_code == 403 and "SOURCIER_ADMIN_TOKEN" in r.json()["detail"]
        ask = client.post("/v1/ask", json={"question": "Qui ?"})
        assert ask.status_code == 503 and "sourcier ingest" in ask.json()["detail"]
        ready = client.get("/readyz")
        assert ready.status_code == 503 and not ready.json()["ready"] and "sourcier ingest" in ready.json()["detail"]
        assert client.get("/v1/sources").status_code == 503


def test_reindex_job_status_is_visible_to_other_workers(server: LiveServer, settings: Settings,
                                                        embedder: Embedder) -> None:
    with server.client() as client:
        job = wait_for_job(client, client.post("/v1/admin/reindex", headers=AUTH).json()["job_id"])
    other = create_app(settings, Engine(settings, embedder=embedder))  # a second worker process, in effect
    with LiveServer(other) as second, second.client() as client:
        seen = client.get(f"/v1/admin/reindex/{job['job_id']}", headers=AUTH).json()
        assert seen["status"] == job["status"] and seen["job_id"] == job["job_id"]
        assert client.get("/v1/admin/reindex/../../etc", headers=AUTH).status_code == 404


def test_reindex_first_answer_after_an_ingest_comes_from_the_new_version(server: LiveServer, settings: Settings,
                                                                         embedder: Embedder) -> None:
    question = {"question": "Où est caché le trésor de Brumeville ?"}
    extra = settings.sources_dir / "tresor.txt"

    def publish() -> None:  # what `sourcier ingest` does from another process
        build_index(settings.sources_dir, settings.index_dir, embedder, Engine.chunking(settings))

    with server.client() as client:
        extra.write_text("Le trésor de Brumeville est caché sous le vieux phare du port.\n", encoding="utf-8")
        publish()
        cited = client.post("/v1/ask", json=question).json()["citations"]
        assert any(c["source_id"] == "tresor" for c in cited)  # the very first request sees the new file
        extra.unlink()
        publish()
        after = client.post("/v1/ask", json=question).json()
        assert not any(c["source_id"] == "tresor" for c in after["citations"])  # nor cites a deleted one
        assert client.get("/v1/sources/tresor").status_code == 404


def test_reindex_engine_follows_a_version_published_elsewhere_on_the_next_call(settings: Settings,
                                                                             embedder: Embedder) -> None:
    engine = Engine(settings, embedder=embedder)  # a Slack Socket Mode process, or an HTTP worker
    engine.ingest()
    (settings.sources_dir / "tresor.txt").write_text("Le trésor est caché sous le vieux phare.\n", encoding="utf-8")
    published = build_index(settings.sources_dir, settings.index_dir, embedder, Engine.chunking(settings)).version
    hits = engine.search("Où est caché le trésor ?").hits
    assert hits[0].chunk.source_id == "tresor"
    assert engine.live is not None and engine.live.version == published


@pytest.mark.parametrize("damage", ["directory", "binary", "path"])
def test_reindex_malformed_current_keeps_the_old_version_serving(server: LiveServer, settings: Settings,
                                                                 damage: str) -> None:
    current = settings.index_dir / "CURRENT"
    with server.client() as client:
        before = client.get("/readyz").json()["index_version"]
        current.unlink()
        if damage == "directory":
            current.mkdir()
        else:
            current.write_bytes(b"\xff\xfe\x00" if damage == "binary" else b"../../etc")
        for _ in range(3):
            response = client.post("/v1/ask", json={"question": "Qui dirige OpenAI par intérim ?"})
            assert response.status_code == 200 and response.json()["index_version"] == before
        assert client.get("/readyz").json()["index_version"] == before


def test_reindex_job_files_are_pruned_and_interrupted_jobs_say_so(server: LiveServer, settings: Settings) -> None:
    jobs = settings.data_dir / "jobs"
    jobs.mkdir(parents=True, exist_ok=True)
    for i in range(60):
        (jobs / f"{i:016x}.json").write_text(json.dumps({"job_id": f"{i:016x}", "status": "done",
                                                          "created_at": "2026-01-01T00:00:00Z"}), encoding="utf-8")
    killed = "feedfacefeedface"
    (jobs / f"{killed}.json").write_text(json.dumps({"job_id": killed, "status": "running",
                                                     "created_at": "2026-01-01T00:00:00Z"}), encoding="utf-8")
    with server.client() as client:
        job = client.get(f"/v1/admin/reindex/{killed}", headers=AUTH).json()
        assert job["status"] == "failed" and job["error"].startswith("interrupted")
        wait_for_job(client, client.post("/v1/admin/reindex", headers=AUTH).json()["job_id"])
    assert len(list(jobs.glob("*.json"))) == 50


def _children() -> list[int]:
    """This process's child processes (the re-index child is forked by the server's event-loop thread)."""
    pids = []
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        try:
            pids += [int(pid) for pid in (task / "children").read_text().split()]
        except OSError:
            continue  # the thread ended between listing and reading
    return pids


def _ingest_children() -> list[int]:
    """The `sourcier ingest` children among them (other tests may leave workers of their own behind)."""
    pids = []
    for pid in _children():
        try:
            if b"bot.cli\0ingest" in Path(f"/proc/{pid}/cmdline").read_bytes():
                pids.append(pid)
        except OSError:
            continue  # the child exited between listing and reading
    return pids


def _ingest_child(deadline_s: float = 30) -> int:
    """The pid of the running `sourcier ingest` child, once it has started."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if found := _ingest_children():
            return found[0]
        time.sleep(0.01)
    raise AssertionError(f"no ingest child within {deadline_s}s")


def _gone(pid: int, deadline_s: float = 10) -> bool:
    """Whether a process has exited (and been reaped) within the deadline."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                return True  # dead, waiting to be reaped
        except FileNotFoundError:
            return True
        time.sleep(0.02)
    return False


def test_reindex_runs_in_a_child_process_that_publishes_for_the_server(
        server: LiveServer, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    seed = next(settings.sources_dir.glob("*.txt"))
    seed.write_text(seed.read_text(encoding="utf-8") + NEW_FACT, encoding="utf-8")
    secrets = {"SLACK_BOT_TOKEN": "xoxb-secret", "SLACK_SIGNING_SECRET": "signing-secret",
               "SLACK_APP_TOKEN": "xapp-secret", "SOURCIER_ADMIN_TOKEN": ADMIN_TOKEN, "AWS_SECRET_ACCESS_KEY": "k"}
    for name, value in secrets.items():  # what a server started from a configured shell has in its environment
        monkeypatch.setenv(name, value)
    with server.client() as client:
        job_id = client.post("/v1/admin/reindex", headers=AUTH).json()["job_id"]
        child = _ingest_child()
        command = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        nice = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()[16]  # field 19: the niceness
        environ = dict(line.split("=", 1) for line in
                       Path(f"/proc/{child}/environ").read_bytes().decode().split("\0") if "=" in line)
        job = wait_for_job(client, job_id)
        assert job["status"] == "done" and job["report"]["sources"] == 1
        assert "-m bot.cli ingest --report-file" in command and nice == str(settings.reindex_nice)
        assert not set(secrets) & set(environ) and not any(v in environ.values() for v in secrets.values())
        assert environ["SOURCIER_INDEX_DIR"] == str(settings.index_dir) and "PATH" in environ
        assert "Zéphyrin Valadier" in client.post("/v1/ask", json={"question": "Qui est le directeur financier "
                                                                              "d'OpenAI ?"}).json()["answer"]


def test_reindex_child_printing_noise_still_reports_done(server: LiveServer, settings: Settings, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    noisy = tmp_path / "noisy"
    noisy.mkdir()
    (noisy / "sitecustomize.py").write_text(  # a library that prints on import, at exit, and below Python
        "import atexit, os, sys\nprint('loading weights… 100%')\nos.write(1, b'{not json\\n')\n"
        "atexit.register(lambda: print('bye from a library'))\n", encoding="utf-8")
    monkeypatch.setenv("PYTHONPATH", str(noisy))
    seed = next(settings.sources_dir.glob("*.txt"))
    seed.write_text(seed.read_text(encoding="utf-8") + NEW_FACT, encoding="utf-8")
    with server.client() as client:
        job = wait_for_job(client, client.post("/v1/admin/reindex", headers=AUTH).json()["job_id"])
        assert job["status"] == "done" and job["error"] is None, job
        assert client.get("/readyz").json()["index_version"] == job["report"]["version"]


def test_reindex_killed_child_fails_and_the_old_version_keeps_serving(server: LiveServer, settings: Settings) -> None:
    seed = next(settings.sources_dir.glob("*.txt"))
    seed.write_text(seed.read_text(encoding="utf-8") + NEW_FACT, encoding="utf-8")
    with server.client() as client:
        before = client.get("/readyz").json()["index_version"]
        job_id = client.post("/v1/admin/reindex", headers=AUTH).json()["job_id"]
        os.kill(_ingest_child(), signal.SIGKILL)
        job = wait_for_job(client, job_id)
        assert job["status"] == "failed" and job["error"] == "the ingest process was killed by SIGKILL", job
        assert client.get("/readyz").json()["index_version"] == before
        assert "Zéphyrin" not in client.post("/v1/ask", json={"question": "Qui dirige OpenAI par intérim ?"}).text
        again = wait_for_job(client, client.post("/v1/admin/reindex", headers=AUTH).json()["job_id"])
        assert again["status"] == "done"  # the killed child left nothing in the way


def test_reindex_job_past_its_timeout_is_stopped(settings: Settings, embedder: Embedder) -> None:
    settings = settings.model_copy(update={"reindex_timeout_seconds": 0.3})
    engine = Engine(settings, embedder=embedder)
    before = engine.ingest().version
    with LiveServer(create_app(settings, engine)) as live, live.client() as client:
        job_id = client.post("/v1/admin/reindex", headers=AUTH).json()["job_id"]
        child = _ingest_child()
        job = wait_for_job(client, job_id)
        assert job["status"] == "failed" and "timed out after 0.3 s (SOURCIER_REINDEX_TIMEOUT_SECONDS)" in job["error"]
        assert _gone(child) and client.get("/readyz").json()["index_version"] == before


def test_reindex_cancel_kills_the_child_and_the_old_version_keeps_serving(server: LiveServer,
                                                                          settings: Settings) -> None:
    seed = next(settings.sources_dir.glob("*.txt"))
    seed.write_text(seed.read_text(encoding="utf-8") + NEW_FACT, encoding="utf-8")
    with server.client() as client:
        before = client.get("/readyz").json()["index_version"]
        job_id = client.post("/v1/admin/reindex", headers=AUTH).json()["job_id"]
        child = _ingest_child()
        r = client.delete(f"/v1/admin/reindex/{job_id}", headers=AUTH)
        assert r.status_code == 200 and r.json()["status"] == "cancelled" and r.json()["finished_at"], r.json()
        assert _gone(child), child
        assert client.get("/readyz").json()["index_version"] == before
        assert client.get(f"/v1/admin/reindex/{job_id}", headers=AUTH).json()["status"] == "cancelled"
        again = client.delete(f"/v1/admin/reindex/{job_id}", headers=AUTH)
        assert again.status_code == 409 and "already cancelled" in again.json()["detail"], again.json()
        assert client.delete("/v1/admin/reindex/0123456789abcdef", headers=AUTH).status_code == 404
        assert client.delete(f"/v1/admin/reindex/{job_id}").status_code == 401
        retry = client.post("/v1/admin/reindex", headers=AUTH)
        assert retry.status_code == 202, retry.json()
        assert wait_for_job(client, retry.json()["job_id"])["status"] == "done"


def test_reindex_during_a_cli_ingest_is_refused_up_front(server: LiveServer, settings: Settings) -> None:
    jobs = settings.data_dir / "jobs"
    known = set(jobs.glob("*.json")) if jobs.exists() else set()
    with ingest_lock(settings.index_dir), server.client() as client:  # what `sourcier ingest` holds while it runs
        r = client.post("/v1/admin/reindex", headers=AUTH)
        assert r.status_code == 409 and "another ingest is running on this index" in r.json()["detail"]
    assert (set(jobs.glob("*.json")) if jobs.exists() else set()) == known  # no job was started


def test_reindex_rereads_the_folder_that_built_the_index_and_replaces_only_when_asked(
        corpus: Path, tmp_path: Path, embedder: Embedder) -> None:
    settings = Settings(index_dir=tmp_path / "index", data_dir=tmp_path / "var", admin_token=SecretStr(ADMIN_TOKEN),
                        rate_limit_per_minute=0)  # no SOURCIER_SOURCES_DIR: `make run` with the team's index
    assert settings.sources_dir is None
    engine = Engine(settings, embedder=embedder)
    engine.ingest(corpus)
    (corpus / "trains.txt").write_text("Le TGV relie Paris à Marseille en trois heures.\n", encoding="utf-8")
    with LiveServer(create_app(settings, engine)) as live, live.client() as client:
        job = wait_for_job(client, client.post("/v1/admin/reindex", headers=AUTH).json()["job_id"])
        assert job["status"] == "done" and job["report"]["changed_sources"] == ["trains"], job
        before = job["report"]["version"]
        (corpus / "chats.md").unlink()
        (corpus / "fromages.txt").unlink()
        job = wait_for_job(client, client.post("/v1/admin/reindex", headers=AUTH).json()["job_id"])
        assert job["status"] == "failed" and "would remove 2 of 3 indexed sources (chats, fromages)" in job["error"]
        assert '{"replace": true}' in job["error"] and client.get("/readyz").json()["index_version"] == before
        r = client.post("/v1/admin/reindex", headers=AUTH, json={"replace": True})
        job = wait_for_job(client, r.json()["job_id"])
        assert job["status"] == "done" and job["report"]["removed_sources"] == ["chats", "fromages"]
        assert client.post("/v1/admin/reindex", headers=AUTH, json={"replace": 1, "x": 2}).status_code == 422


def test_reindex_cancel_before_the_job_started_reads_cancelled(settings: Settings, embedder: Embedder) -> None:
    engine = Engine(settings, embedder=embedder)

    async def start_and_cancel() -> Job | None:
        jobs = ReindexJobs(engine, Metrics(), settings.data_dir / "jobs")
        job = jobs.start_here()  # its task has not run a single step yet
        return await jobs.cancel(job.job_id)

    job = asyncio.run(start_and_cancel())
    assert job is not None and job.status == "cancelled" and job.finished_at and "old version" in (job.error or "")
    saved = json.loads((settings.data_dir / "jobs" / f"{job.job_id}.json").read_text(encoding="utf-8"))
    assert saved["status"] == "cancelled" and not _ingest_children()


def test_reindex_job_polled_on_another_worker_right_away_is_running_not_interrupted(
        server: LiveServer, settings: Settings, embedder: Embedder) -> None:
    other = create_app(settings, Engine(settings, embedder=embedder))  # a second worker process, in effect
    with LiveServer(other) as second, second.client() as polling, server.client() as client:
        job_id = client.post("/v1/admin/reindex", headers=AUTH).json()["job_id"]
        seen = polling.get(f"/v1/admin/reindex/{job_id}", headers=AUTH).json()  # before the child holds the lock
        assert seen["status"] in ("queued", "running"), seen
        assert "worker" not in seen
        assert wait_for_job(polling, job_id)["status"] == "done"


def test_reindex_child_that_published_then_failed_reports_done(server: LiveServer, settings: Settings,
                                                               tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dying = tmp_path / "dying"
    dying.mkdir()
    (dying / "sitecustomize.py").write_text(  # a library whose exit handler crashes the process after the ingest
        "import atexit, os\natexit.register(lambda: os._exit(3))\n", encoding="utf-8")
    monkeypatch.setenv("PYTHONPATH", str(dying))
    seed = next(settings.sources_dir.glob("*.txt"))
    seed.write_text(seed.read_text(encoding="utf-8") + NEW_FACT, encoding="utf-8")
    with server.client() as client:
        before = client.get("/readyz").json()["index_version"]
        job = wait_for_job(client, client.post("/v1/admin/reindex", headers=AUTH).json()["job_id"])
        assert job["status"] == "done" and job["report"]["version"] != before, job
        assert "exited with status 3" in job["report"]["note"]
        assert client.get("/readyz").json()["index_version"] == job["report"]["version"]
