"""Crash and disk safety of the index: SIGKILL mid-ingest, full and read-only disks, pruning under use."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from bench.corpus import write_corpus
from bot.config import Settings
from bot.engine import Engine
from index.store import load_snapshot
from index.versions import current_version, list_versions
from ingest.embed import Embedder
from ingest.pipeline import IngestError, build_index
from tests.conftest import CHUNKING, ROOT

pytestmark = pytest.mark.slow


def rewrite(corpus: Path, trial: int) -> None:
    """Change every document, so the next ingest re-embeds and rewrites everything."""
    for path in sorted(corpus.rglob("*.txt")):
        path.write_text(path.read_text(encoding="utf-8").split("\n\nRévision")[0] + f"\n\nRévision {trial}.",
                        encoding="utf-8")


def test_crash_sigkill_mid_ingest_never_breaks_current(tmp_path: Path, embedder: Embedder) -> None:
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    write_corpus(corpus, 80, length=6)
    build_index(corpus, index_dir, embedder, CHUNKING)
    rng = random.Random(20261129)
    env = {**os.environ, "SOURCIER_INGEST_WORKERS": "1", "SOURCIER_LOG_LEVEL": "WARNING"}
    killed_late = 0
    for trial in range(20):
        before = current_version(index_dir)
        rewrite(corpus, trial)
        proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "ingest", str(corpus), "--index-dir", str(index_dir)],
                                cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            proc.wait(timeout=rng.uniform(0.5, 4.0))
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        after = current_version(index_dir)
        snapshot = load_snapshot(index_dir)  # CURRENT always names a complete, loadable version
        assert snapshot.version == after and after in list_versions(index_dir)
        killed_late += after != before and proc.returncode == -signal.SIGKILL
    leftovers = [p.name for p in index_dir.iterdir() if p.name.startswith(".tmp-")]
    report = build_index(corpus, index_dir, embedder, CHUNKING)  # the next ingest succeeds and cleans up
    assert report.version == current_version(index_dir)
    assert not [p for p in index_dir.iterdir() if p.name.startswith(".tmp-")]
    assert not [p for p in (index_dir / "segments").iterdir() if p.name.startswith(".tmp-")]
    for version in list_versions(index_dir):  # every kept version is whole: its shared segments are all there
        load_snapshot(index_dir, version, verify=True)
    print(f"leftovers cleaned: {len(leftovers)}; kills after publish: {killed_late}")


@pytest.fixture()
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1.5 MB tmpfs, when this machine lets us mount one (root); else the test injects the failure."""
    mount = tmp_path / "disk"
    mount.mkdir()
    ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1500k", "tmpfs", str(mount)],
                        capture_output=True, check=False).returncode == 0
    yield mount if ok else Path("")
    if ok:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True, check=False)


def test_crash_full_disk_is_a_clear_error_and_old_version_serves(small_disk: Path, tmp_path: Path,
                                                                 embedder: Embedder,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = tmp_path / "corpus"
    write_corpus(corpus, 3, length=4)
    index_dir = (small_disk if small_disk.name else tmp_path) / "index"
    engine = Engine(Settings(index_dir=index_dir, sources_dir=corpus, rate_limit_per_minute=0), embedder=embedder)
    old = engine.ingest().version
    write_corpus(corpus, 150, length=8, seed=1)  # several MB of vectors: more than the disk left can hold
    if not small_disk.name:
        def full(*args: object, **kwargs: object) -> None:
            raise OSError(28, "No space left on device")
        monkeypatch.setattr(np, "save", full)
    with pytest.raises(IngestError, match=r"cannot write a new index version .*MB free\); the current version keeps"):
        engine.ingest()
    assert current_version(index_dir) == old and engine.snapshot.version == old
    assert engine.ask("Qui a nommé un nouveau PDG ?").citations
    assert not [p for p in index_dir.iterdir() if p.name.startswith(".tmp-")]


def test_crash_read_only_index_is_a_clear_error(small_disk: Path, tmp_path: Path, embedder: Embedder) -> None:
    if not small_disk.name:
        pytest.skip("needs a mount to make a read-only filesystem (root)")
    corpus = tmp_path / "corpus"
    write_corpus(corpus, 3, length=4)
    index_dir = small_disk / "index"
    old = build_index(corpus, index_dir, embedder, CHUNKING).version
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    rewrite(corpus, 1)
    with pytest.raises(IngestError, match="Read-only file system"):
        build_index(corpus, index_dir, embedder, CHUNKING)
    assert load_snapshot(index_dir).version == old


def test_crash_prune_spares_versions_a_server_still_uses(tmp_path: Path, embedder: Embedder) -> None:
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    write_corpus(corpus, 3, length=4)
    settings = Settings(index_dir=index_dir, sources_dir=corpus, keep_versions=1)
    server = Engine(settings, embedder=embedder)
    held = server.ingest().version
    for trial in range(3):
        rewrite(corpus, trial)
        build_index(corpus, index_dir, embedder, CHUNKING, keep_versions=1)  # another process publishing
    assert held in list_versions(index_dir) and server.live is not None and server.live.version == held
    server.refresh()  # the server moves on; its old lease goes
    rewrite(corpus, 9)
    build_index(corpus, index_dir, embedder, CHUNKING, keep_versions=1)
    assert held not in list_versions(index_dir)


def _children(pid: int) -> set[int]:
    """Direct child processes, from /proc."""
    found = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        children = (task / "children").read_text().split() if (task / "children").exists() else []
        found |= {int(c) for c in children}
    return found


def test_crash_embedding_workers_die_with_a_killed_parent(tmp_path: Path) -> None:
    script = ("from ingest.embed import UseEmbedder, embed_stream\n"
              "texts = (f'Phrase numéro {i} sur le fromage du Jura.' for i in range(10**6))\n"
              "for _ in embed_stream(UseEmbedder(threads=1), texts, workers=2, parallel=True): pass\n")
    parent = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT)
    workers: set[int] = set()
    try:
        deadline = time.monotonic() + 120
        while len(workers) < 2:  # the two spawn workers (and the resource tracker) have started
            assert time.monotonic() < deadline and parent.poll() is None, "workers never started"
            workers = {c for c in _children(parent.pid)
                       if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()} if Path(f"/proc/{parent.pid}").exists() else set()
            time.sleep(0.2)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(10)
        deadline = time.monotonic() + 30
        while any(Path(f"/proc/{w}").exists() and b"Z" not in Path(f"/proc/{w}/stat").read_bytes().split()[2]
                  for w in workers):
            assert time.monotonic() < deadline, f"workers {workers} outlived their parent"
            time.sleep(0.2)
    finally:
        if parent.poll() is None:
            parent.kill()
        for worker in workers:  # never leak them into the rest of the run, even when the test fails
            try:
                os.kill(worker, signal.SIGKILL)
            except ProcessLookupError:
                pass
