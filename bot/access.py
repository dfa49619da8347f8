"""Who may read what: source prefixes mapped to audiences (one small TOML file), and the sources a caller reads.

An audience is `public` (everyone who can reach the bot), `slack:<channel id>` (the members of that Slack
channel), or any other name (a group that API keys carry, e.g. `rh`). A source's audiences come from the
longest rule naming it (exact id or folder prefix, the rule of `matching_sources`); a source no rule names
gets `default`, which is `["public"]` (today's behaviour) unless the operator writes `default = "none"`.

    default = ["public"]          # or "none": a source no rule names is read by nobody
    [sources]
    "wiki/" = ["public"]
    "rh/" = ["rh", "slack:C0RH"]
    [people]                      # users an authenticating reverse proxy names (SOURCIER_USER_HEADER)
    "alice@example.org" = ["rh"]
"""

from __future__ import annotations

import tomllib
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bot.retrieve import names_source
from index.errors import AccessConfigError

PUBLIC = "public"
SLACK = "slack:"


@dataclass(frozen=True)
class Caller:
    """Who asks (for the audit log) and the audiences they belong to; `audiences=None` is the operator (CLI)."""

    who: str
    surface: str
    audiences: frozenset[str] | None = None

    @property
    def label(self) -> str:
        """The audiences as the audit log and App Home show them."""
        return "all" if self.audiences is None else ",".join(sorted(self.audiences)) or "none"


@dataclass(frozen=True)
class AccessPolicy:
    """The rules of one access file; without a file every source is `public`."""

    rules: Mapping[str, frozenset[str]] = field(default_factory=dict)
    default: frozenset[str] = frozenset({PUBLIC})
    origin: str = "(no access file)"
    people: Mapping[str, frozenset[str]] = field(default_factory=dict)  # proxy user -> audiences

    @classmethod
    def load(cls, path: Path | None) -> AccessPolicy:
        """Read an access file; a missing or malformed one is an AccessConfigError naming the file."""
        if path is None:
            return cls()
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise AccessConfigError(f"access file {path}: {exc} (fix it or unset SOURCIER_ACCESS_FILE)") from exc
        unknown = set(data) - {"default", "sources", "people"}
        if unknown:
            raise AccessConfigError(f"access file {path}: unknown key(s) {', '.join(sorted(unknown))}; "
                                    "only `default`, a [sources] and a [people] table")
        default = _audiences(data.get("default", [PUBLIC]), f"{path}: default")
        table = data.get("sources", {})
        people = data.get("people", {})
        if not isinstance(table, dict) or not isinstance(people, dict):
            raise AccessConfigError(f"access file {path}: [sources] and [people] must be tables of name = [audiences]")
        rules = {prefix: _audiences(value, f"{path}: sources.{prefix!r}") for prefix, value in table.items()}
        users = {user: _audiences(value, f"{path}: people.{user!r}") for user, value in people.items()}
        return cls(rules, default, str(path), users)

    def people_audiences(self, user: str) -> frozenset[str]:
        """What a user named by a trusted proxy reads: `public` and the audiences [people] gives them."""
        return frozenset({PUBLIC, *self.people.get(user, frozenset())})

    def audiences_of(self, source_id: str) -> frozenset[str]:
        """The audiences of one source: its longest matching rule's, else the default."""
        named = [p for p in self.rules if names_source(p, source_id)]
        return self.rules[max(named, key=len)] if named else self.default

    def readable(self, audiences: Collection[str] | None, ids: Iterable[str]) -> frozenset[str] | None:
        """The source ids these audiences may read; None when that is every source (nothing to filter)."""
        ids = list(ids)
        if audiences is None:
            return None
        mine = set(audiences)
        allowed = frozenset(sid for sid in ids if self.audiences_of(sid) & mine)
        return None if len(allowed) == len(ids) else allowed

    def channels(self) -> frozenset[str]:
        """The Slack channels whose members form an audience somewhere in the rules."""
        every = set(self.default).union(*self.rules.values())
        return frozenset(a.removeprefix(SLACK) for a in every if a.startswith(SLACK))


def _audiences(value: object, where: str) -> frozenset[str]:
    """`["public", "rh"]`, or `"none"` for nobody; anything else names the place to fix."""
    if value == "none":
        return frozenset()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(a, str) and a.strip() for a in value):
        raise AccessConfigError(f"access file {where}: expected a list of audiences such as [\"public\", \"rh\", "
                                "\"slack:C0RH\"], or \"none\"")
    return frozenset(a.strip() for a in value)
