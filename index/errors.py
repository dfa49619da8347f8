"""Every error a person can act on, in one tree; each edge translates `SourcierError` once.

    SourcierError                 base; `status` is the HTTP status an edge answers with
    ├── IndexNotFoundError   503  nothing ingested yet (run `sourcier ingest`)
    ├── IndexCorruptError    503  a version on disk is truncated or unreadable (roll back or re-ingest)
    ├── EmbedderMismatchError 503 the index was built with another embedder than the configured one
    ├── EmbedderError        503  the configured embedding model cannot be loaded
    ├── IndexTypeError       400  an unknown dense index type was asked for
    ├── SourceError          422  one source file cannot be read (the others are still ingested)
    ├── ExtractionError      422  a format reader cannot get text out of a file (ingest adds the path)
    ├── IngestError          409  nothing to ingest, another ingest holds the lock, or the disk refused
    ├── ReplaceRefusedError  409  an ingest from another folder, or one removing over half the sources, unasked
    ├── JobRunningError      409  a re-index job is already running
    ├── JobStateError        409  a re-index job that cannot be cancelled (finished, or run by another process)
    ├── QuestionError        422  an empty or over-long question
    ├── UnknownSourceError   404  a source filter names no source (by id or folder prefix) the index holds
    ├── GoldSetError         400  an evaluation file that is not a gold set or suite
    ├── ServerError          502  the server `sourcier ask` asked refused the question (its reason) or failed
    ├── SlackConfigError     500  Slack half configured (names the missing variable)
    ├── AccessConfigError    500  the access file (SOURCIER_ACCESS_FILE) is unreadable or malformed
    ├── ApiKeyError          401  a missing, unknown or revoked API key (`sourcier keys create`)
    ├── CitationLinkError    403  a signed citation link that is tampered with, expired or from an old secret
    ├── DatabaseConfigError  503  SOURCIER_DATABASE_URL unusable: refused password, no pgvector, an older schema
    └── DatabaseUnavailableError 503  PostgreSQL did not answer in time (restarting, pool exhausted): retry

The message is written for a person and names the command or variable that fixes the problem.
The HTTP handler answers `status` with the message as `detail`; the CLI prints one line and exits 1;
Slack posts a short apology in the thread. Anything else is a bug and is logged with its traceback.
"""

from __future__ import annotations

from pathlib import Path

from index.printable import printable_path


class SourcierError(Exception):
    """A problem a person can fix, with the HTTP status it maps to."""

    status = 500

    def http_detail(self) -> str:
        """What an HTTP client reads: the message, unless it points at a command the client cannot run."""
        return str(self)


class IndexNotFoundError(SourcierError):
    """No index version has been published yet."""

    status = 503


class IndexCorruptError(SourcierError):
    """A version directory is incomplete, truncated or unreadable."""

    status = 503


class EmbedderMismatchError(SourcierError):
    """The index was built with another embedder than the one asked for."""

    status = 503


class EmbedderError(SourcierError):
    """The configured embedding model cannot be loaded."""

    status = 503


class IndexTypeError(SourcierError):
    """An unknown dense index type."""

    status = 400


class SourceError(SourcierError):
    """A source file that cannot be ingested (not UTF-8, binary, empty, unreadable)."""

    status = 422

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{printable_path(path)}: {reason}")
        self.path = path
        self.reason = reason

    def __reduce__(self) -> tuple[type[SourceError], tuple[Path, str]]:
        """Pickled by its fields, so a reader worker process can hand one back (ingest/budget.py)."""
        return type(self), (self.path, self.reason)


class ExtractionError(SourcierError):
    """A format reader cannot get text out of a file (encrypted, scanned, corrupt); ingest adds the path."""

    status = 422


class IngestError(SourcierError):
    """Ingest cannot produce an index: nothing to read, another ingest holds the lock, or the disk refused."""

    status = 409


class ReplaceRefusedError(SourcierError):
    """An ingest would replace the index (another folder, or most sources gone) and --replace was not given."""

    status = 409


class JobRunningError(SourcierError):
    """A re-index job is already running."""

    status = 409


class JobStateError(SourcierError):
    """A re-index job cannot be cancelled: it has finished, or another server process runs it."""

    status = 409


class QuestionError(SourcierError):
    """The question cannot be searched: empty, or too long."""

    status = 422


class UnknownSourceError(SourcierError):
    """A source filter names a source the index does not hold."""

    status = 404

    def __init__(self, unknown: list[str]) -> None:
        self.unknown = unknown
        super().__init__(f"unknown source id(s): {', '.join(unknown)} (a source id, or a folder prefix such as "
                         "man/); see `sourcier sources`")

    def http_detail(self) -> str:
        """An HTTP client lists sources with GET /v1/sources, not the CLI."""
        return str(self).replace("see `sourcier sources`", "GET /v1/sources lists them")


class GoldSetError(SourcierError):
    """The gold file or suite is missing or has a line that is not a gold question."""

    status = 400


class ServerError(SourcierError):
    """The running server `sourcier ask` used answered an error: its detail, as the server said it."""

    status = 502


class ListenError(SourcierError):
    """`sourcier serve` cannot listen on the address it was given (in use, not this machine's)."""


class SlackConfigError(SourcierError):
    """Slack is half configured."""


class AccessConfigError(SourcierError):
    """The access file cannot be read or says something sourcier cannot apply."""

    status = 500


class ApiKeyError(SourcierError):
    """A request without a valid API key where one is needed."""

    status = 401


class CitationLinkError(SourcierError):
    """A signed citation link that cannot be honoured; the message is French, for the person who clicked."""

    status = 403


class DatabaseConfigError(SourcierError):
    """SOURCIER_DATABASE_URL cannot be used: unreachable, refused credentials, no pgvector, an old schema."""

    status = 503


class DatabaseUnavailableError(SourcierError):
    """The database did not answer in time (restarting, or every pooled connection busy): retry shortly."""

    status = 503
