"""Shared fixtures: the real embedder and a real index of the seed article, built once per session."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bot.config import Settings  # noqa: E402
from bot.engine import Engine  # noqa: E402
from ingest.embed import Embedder, UseEmbedder  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SEED_FILE = SEEDS / "openai-altman-microsoft.txt"
DEV_SET = ROOT.parent / "shared" / "eval" / "dev_fr.jsonl"


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The real default model (USE multilingual), loaded once."""
    return UseEmbedder(threads=1)


@pytest.fixture(scope="session")
def seed_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings pointing at a private copy of the seeds and a private index directory."""
    base = tmp_path_factory.mktemp("sourcier")
    shutil.copytree(SEEDS, base / "seeds")
    return Settings(index_dir=base / "index", data_dir=base / "var", sources_dir=base / "seeds")


@pytest.fixture(scope="session")
def engine(seed_settings: Settings, embedder: Embedder) -> Engine:
    """An engine over a freshly built index of the seed article."""
    engine = Engine(seed_settings, embedder=embedder)
    engine.ingest()
    return engine


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    """A small writable corpus of three French sources."""
    root = tmp_path / "docs"
    root.mkdir()
    (root / "chats.md").write_text("# Les chats\n\nLe chat dort sur le canapé. Il aime le soleil.\n", encoding="utf-8")
    (root / "fromages.txt").write_text("Le comté est un fromage du Jura. Il vieillit en cave.\n", encoding="utf-8")
    (root / "trains.txt").write_text("Le TGV relie Paris à Lyon en deux heures. M. Dupont le prend.\n", encoding="utf-8")
    return root
