"""Settings: the one place that reads the environment; built at the entry point and passed down."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from index.dense import FLAT_MAX
from index.errors import SlackConfigError
from ingest.embed import DEFAULT_EMBEDDER

DEFAULT_SOURCES = Path("seeds")  # what a new, empty index is built from when no folder is named
MAX_QUESTION = 10_000  # the most SOURCIER_MAX_QUESTION_CHARS may allow; request schemas refuse more outright


class Settings(BaseSettings):
    """Every knob of sourcier; env prefix SOURCIER_, except Slack's own SLACK_* names."""

    model_config = SettingsConfigDict(env_prefix="SOURCIER_", extra="ignore", populate_by_name=True)

    index_dir: Path = Field(Path("var/index"), description="where index versions and CURRENT live")
    data_dir: Path = Field(Path("var"), description="other state: feedback database, job reports")
    model_cache_dir: Path = Field(default_factory=lambda: Path(os.environ.get("XDG_CACHE_HOME") or Path.home()
                                                               / ".cache") / "sourcier",
                                  description="the bundled model's weights as files every process of the machine "
                                              "maps (one copy in memory and in the CPU cache); unwritable: each "
                                              "process keeps its own")
    sources_dir: Path | None = Field(None, description="what `ingest` and re-index read; unset: the folder the "
                                                        "index was built from (seeds for a new index)")
    include: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="comma-separated globs on paths under sources_dir to read; empty = all")
    exclude: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="comma-separated globs to leave out, e.g. drafts/*,*.tmp.md")
    max_source_mb: float = Field(50, gt=0, description="larger source files are skipped with a reason")
    read_timeout_seconds: float = Field(60, gt=0, description="a source file still being read after this long is "
                                                              "skipped with a reason; the others are read")
    read_memory_mb: int = Field(2048, ge=128, description="memory a source file's reader process may use; a file "
                                                          "needing more is skipped with a reason")
    source_url_base: str | None = Field(None, description="where the sources are published (intranet): citations "
                                                          "link to base + path + #anchor")
    embedder: str = Field(DEFAULT_EMBEDDER, description="use-multilingual-v3, all-MiniLM-L6-v2, or any HF model")
    threads: int = Field(1, ge=1, le=64, description="BLAS/torch threads per process")
    k: int = Field(5, ge=1, le=20, description="passages returned per question")
    min_confidence: float = Field(0.5, ge=0.0, le=1.0,
                                  description="abstain when the reader's confidence is below this; 0.5 is the fitted cut")
    chunk_size: int = Field(700, ge=100, le=1200, description="target characters per chunk")
    chunk_overlap: int = Field(3, ge=0, le=10, description="sentences repeated between neighbouring chunks")
    index_type: str = Field("auto", pattern="^(auto|flat|ivf|hnsw)$",
                            description="dense index: auto (exact up to flat_max_vectors sentences, then HNSW, IVF "
                                        "past 200k), flat, ivf, hnsw")
    flat_max_vectors: int = Field(FLAT_MAX, ge=0, le=10_000_000,
                                  description="auto index type: exact search up to this many sentences, HNSW past it; "
                                              "a source filter up to it is always searched exactly")
    ingest_workers: int = Field(2, ge=1, le=64, description="embedding processes for large ingests")
    ingest_wait_seconds: float = Field(3600, gt=0, le=7 * 86400, description="`ingest --distributed` waits at most "
                                       "this long for the ingest workers to embed every file, then fails naming the "
                                       "files still pending (nothing published)")
    ingest_heartbeat_seconds: float = Field(10, gt=0, le=600, description="an ingest worker says it is alive this "
                                            "often; one silent for 3 times this is taken as dead, its file retried")
    ingest_hold_seconds: float = Field(0, ge=0, le=3600, description="tests only: an ingest worker holds each job "
                                       "this long before embedding it, so a test can kill it mid-file")
    reindex_nice: int = Field(10, ge=0, le=19, description="CPU niceness of a re-index job's ingest process: "
                                                          "higher serves requests first, lower finishes sooner")
    reindex_timeout_seconds: float = Field(3600, gt=0, description="a re-index job's ingest process is stopped "
                                                                   "after this long; the old version keeps serving")
    keep_versions: int = Field(5, ge=1, le=100, description="index versions kept on disk for roll-back")
    answer_cache_size: int = Field(1024, ge=0, le=1_000_000, description="answers to repeated questions kept per "
                                                                         "process for the live version; 0 = off")
    embed_batch: int = Field(16, ge=1, le=256, description="questions embedded together at most, when several "
                                                          "arrive at once in one worker; 1 = no batching")
    embed_window_ms: float = Field(1.0, ge=0, le=50, description="how long a question arriving while an encoder pass "
                                                                 "runs waits for others before its own pass is queued; "
                                                                 "a question finding the encoder idle never waits")
    max_question_chars: int = Field(1000, ge=10, le=MAX_QUESTION, description="longer questions are refused")
    max_body_bytes: int = Field(65536, ge=1024, description="larger request bodies get a 413")
    rate_limit_per_minute: float = Field(300, ge=0, description="HTTP requests per client IP per minute; 0 = off")
    rate_limit_burst: int = Field(30, ge=1, description="requests a client may send at once before limiting")
    slack_rate_limit_per_minute: float = Field(10, ge=0, description="Slack questions per user per minute; 0 = off")
    slack_channel_sources: Annotated[dict[str, list[str]], NoDecode] = Field(
        default_factory=dict, description="channel id → source ids or prefixes it answers from, e.g. "
                                          "C0JURI:juridique/,C0RH:rh/,C0RH:handbook; other channels use every source")
    slack_retention_days: float = Field(90, gt=0, description="Slack questions, answers and votes older than this "
                                                             "are deleted")
    cors_origins: list[str] = Field(default_factory=list, description="origins allowed by CORS; empty = CORS off")
    access_file: Path | None = Field(None, description="TOML file mapping source prefixes to audiences (public, "
                                                        "slack:<channel>, API key groups); unset: every source public")
    allow_anonymous: bool = Field(False, description="serve clients without an API key on a non-loopback address "
                                                     "(a demo: they read the public sources)")
    cite_link_days: float = Field(3, gt=0, le=365, description="signed citation links (Slack answers) expire after "
                                                              "this many days")
    slack_members_ttl_seconds: float = Field(300, ge=0, description="how long a Slack channel's member list is "
                                                                    "trusted for its audience; 0 = ask every time")
    audit_questions: bool = Field(False, description="write the question text in the audit log lines "
                                                     "(sourcier.audit); off: who, surface and sources only")
    forwarded_allow_ips: str | None = Field(None, description="comma-separated addresses (or *) of reverse proxies "
                                                           "whose X-Forwarded-For (and user header) are believed")
    user_header: str | None = Field(None, description="header an authenticating reverse proxy sets to the signed-in "
                                                      "user (e.g. X-Forwarded-User); believed only from "
                                                      "forwarded_allow_ips; their audiences: [people] in the access "
                                                      "file")
    admin_token: SecretStr | None = Field(None, description="Bearer token for /v1/admin; unset disables admin")
    public_url: str | None = Field(None, description="public base URL of the web page, for citation links")
    server_url: str | None = Field(None, description="a running `sourcier serve` that `sourcier ask` asks over HTTP "
                                                     "(no model load per call); unset: the one on 127.0.0.1:8000 when "
                                                     "it serves this index's version, else in process")
    database_url: SecretStr | None = Field(None, description="PostgreSQL + pgvector URL (postgresql://user:password@"
                                                             "host:port/db): the index and the state replicas "
                                                             "share (Slack, jobs); unset: index_dir and data_dir")
    database_read_url: SecretStr | None = Field(None, description="a streaming-replication standby of "
                                                                  "database_url that this replica reads the index "
                                                                  "from; writes and flips go to database_url")
    database_pool_size: int = Field(8, ge=1, le=200, description="database connections per process")
    database_timeout_seconds: float = Field(5, gt=0, le=120, description="the longest a request waits for a "
                                                                         "database connection before a 503")
    database_poll_seconds: float = Field(1, ge=0, le=600, description="how often a server asks which version is "
                                                                      "current: replicas serve a flip within this")
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING or ERROR")
    slack_bot_token: SecretStr | None = Field(None, validation_alias=AliasChoices("SLACK_BOT_TOKEN"))
    slack_signing_secret: SecretStr | None = Field(None, validation_alias=AliasChoices("SLACK_SIGNING_SECRET"))
    slack_app_token: SecretStr | None = Field(None, validation_alias=AliasChoices("SLACK_APP_TOKEN"))
    slack_api_url: str = Field("https://slack.com/api/", description="Slack Web API base URL (tests point it at a fake)")

    def sources_root(self, recorded: Path | None) -> Path:
        """The folder to ingest: the one named, else the one the index was built from, else the seeds."""
        return self.sources_dir or recorded or DEFAULT_SOURCES

    def slack_enabled(self, socket_mode: bool = False) -> bool:
        """Whether Slack is configured; half a configuration is an error, not a silent no."""
        needed = {"SLACK_BOT_TOKEN": self.slack_bot_token,
                  "SLACK_APP_TOKEN" if socket_mode else "SLACK_SIGNING_SECRET":
                      self.slack_app_token if socket_mode else self.slack_signing_secret}
        present = {name for name, value in needed.items() if value is not None and value.get_secret_value()}
        if not present and not socket_mode:
            return False
        missing = sorted(set(needed) - present)
        if missing:
            raise SlackConfigError(f"Slack is half configured: set {' and '.join(missing)} (or unset the other "
                                   f"SLACK_* variables to run without Slack)")
        return True

    @field_validator("include", "exclude", mode="before")
    @classmethod
    def _globs(cls, value: object) -> object:
        """`drafts/*,*.tmp.md` from the environment; a list from code."""
        return [g.strip() for g in value.split(",") if g.strip()] if isinstance(value, str) else value

    @field_validator("slack_channel_sources", mode="before")
    @classmethod
    def _channel_sources(cls, value: object) -> object:
        """`C0JURI:juridique/,C0RH:rh/` from the environment (one channel may appear several times)."""
        if not isinstance(value, str):
            return value
        mapping: dict[str, list[str]] = {}
        for pair in filter(None, (p.strip() for p in value.split(","))):
            channel, sep, source = pair.partition(":")
            if not sep or not channel.strip() or not source.strip():
                raise ValueError(f"{pair!r} is not channel:source (e.g. C0JURI:juridique/)")
            mapping.setdefault(channel.strip(), []).append(source.strip())
        return mapping

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        """Refuse a typo early instead of logging nothing."""
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("log_level must be DEBUG, INFO, WARNING or ERROR")
        return level
