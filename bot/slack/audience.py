"""Which audiences a Slack user belongs to: `public`, and `slack:<channel>` for each audience channel they are a
member of. Guests (`is_restricted`, `is_ultra_restricted`), people of another workspace (Slack Connect: the
event's `user_team`, or their `team_id`, differs from ours; `is_stranger`) and anyone Slack cannot tell us about
get `public` only: when in doubt, less.

Member lists come from `conversations.members` (every page) and are trusted for a short TTL; Slack's
`member_joined_channel` / `member_left_channel` events drop a channel's list at once. A failed call (the bot is
not in that private channel, a rate limit past the retries) counts as « not a member », and is not cached.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.access import PUBLIC, SLACK, AccessPolicy

log = logging.getLogger(__name__)
PUBLIC_ONLY = frozenset({PUBLIC})
_FAILURES = (SlackApiError, SlackClientError, aiohttp.ClientError, asyncio.TimeoutError)


class SlackAudiences:
    """Audiences of Slack users, from users.info and conversations.members, cached for `ttl` seconds."""

    def __init__(self, policy: AccessPolicy, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy
        self.ttl = ttl
        self.clock = clock
        self._members: dict[str, tuple[float, frozenset[str]]] = {}
        self._users: dict[str, tuple[float, dict[str, Any]]] = {}

    async def of(self, client: AsyncWebClient, user: str | None, team: str | None,
                 user_team: str | None = None) -> frozenset[str]:
        """The audiences of this user, asking from workspace `team` (the event's `user_team` when it has one)."""
        if not user or (user_team and team and user_team != team):
            return PUBLIC_ONLY  # Slack Connect: a person of another company
        info = await self._user(client, user)
        if info is None or info.get("is_restricted") or info.get("is_ultra_restricted") or info.get("is_stranger") \
                or info.get("deleted") or (team and info.get("team_id") not in (None, team)):
            return PUBLIC_ONLY
        mine = {PUBLIC}
        for channel in sorted(self.policy.channels()):
            if user in await self.members(client, channel):
                mine.add(SLACK + channel)
        return frozenset(mine)

    def channel_view(self, channel: str | None) -> frozenset[str]:
        """What everyone in a channel may read: an answer posted there is seen by all its members."""
        return frozenset({PUBLIC, SLACK + channel}) if channel else PUBLIC_ONLY

    def forget(self, channel: str | None) -> None:
        """A member joined or left: ask Slack again at the next question."""
        self._members.pop(channel or "", None)

    async def _user(self, client: AsyncWebClient, user: str) -> dict[str, Any] | None:
        """users.info's `user`, cached; None when Slack would not say (then: public only)."""
        cached = self._users.get(user)
        if cached is not None and cached[0] > self.clock():
            return cached[1]
        try:
            response = await client.users_info(user=user)
        except _FAILURES as exc:
            log.warning("users.info %s failed (%s): answering from public sources only", user, exc)
            return None
        info = response.get("user")
        if not isinstance(info, dict):
            return None
        self._users[user] = (self.clock() + self.ttl, info)
        return info

    async def members(self, client: AsyncWebClient, channel: str) -> frozenset[str]:
        """The channel's members, every page of them, cached for the TTL; empty when Slack refuses."""
        cached = self._members.get(channel)
        if cached is not None and cached[0] > self.clock():
            return cached[1]
        found: set[str] = set()
        cursor = None
        try:
            while True:
                response = await client.conversations_members(channel=channel, limit=200, cursor=cursor)
                found.update(response.get("members") or [])
                cursor = (response.get("response_metadata") or {}).get("next_cursor")
                if not cursor:
                    break
        except _FAILURES as exc:
            log.warning("conversations.members %s failed (%s): nobody counts as a member", channel, exc)
            return frozenset()
        members = frozenset(found)
        self._members[channel] = (self.clock() + self.ttl, members)
        return members
