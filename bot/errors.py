"""The errors a user can act on, gathered so each edge (CLI, HTTP, Slack) translates the same set once.

- IngestError, SourceError: sources missing, unreadable, or another ingest running.
- IndexNotFoundError: nothing ingested yet.
- IndexCorruptError: a version on disk is truncated or unreadable.
- EmbedderMismatchError, EmbedderError: the index and the configured model disagree, or the model is missing.
- QuestionError, UnknownSourceError: bad question or source filter.
- GoldSetError: an evaluation file that is not a gold set.
- SlackConfigError: Slack half configured (names the missing variable).
"""

from __future__ import annotations

from bot.evaluate import GoldSetError
from bot.retrieve import QuestionError, UnknownSourceError
from bot.slack import SlackConfigError
from index.store import EmbedderMismatchError, IndexCorruptError
from index.versions import IndexNotFoundError
from ingest.embed import EmbedderError
from ingest.pipeline import IngestError
from ingest.read import SourceError

USER_ERRORS: tuple[type[Exception], ...] = (
    IngestError,
    SourceError,
    IndexNotFoundError,
    IndexCorruptError,
    EmbedderMismatchError,
    EmbedderError,
    QuestionError,
    UnknownSourceError,
    GoldSetError,
    SlackConfigError,
)
