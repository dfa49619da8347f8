"""The shape of a signed Slack request, checked before Bolt sees it: a field our listeners read with the wrong
type (`"event": "x"`, `"actions": ["x"]`, `"text": 7`) is a clear 400, not a 500 from Bolt or a traceback in a
listener. Only the fields sourcier reads are checked, so new fields Slack adds pass through."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

_TEXT = ("type", "event_id", "team_id", "api_app_id", "token", "response_url", "trigger_id", "callback_id",
         "action_id", "value")  # the last two: block_suggestion
_OBJECTS = ("user", "team", "channel", "container", "message", "view", "enterprise")
_HANDLED = ("app_mention", "message", "app_home_opened")  # other events may carry objects in `user`, `channel`
_EVENT_TEXT = ("user", "channel", "ts", "thread_ts", "text", "channel_type", "subtype", "bot_id", "event_ts", "tab")
_MESSAGE_TEXT = ("ts", "thread_ts", "text", "user")
_ACTION_TEXT = ("action_id", "value", "block_id")


def payload_problem(body: bytes, content_type: str) -> str | None:
    """What is wrong with a signed request's payload, in words for its sender, or None when listeners can read it."""
    try:
        data = _decode(body, content_type)
    except (UnicodeDecodeError, ValueError):
        return "the body is not JSON, nor a form whose payload is JSON"
    if data is None:  # a slash command: form fields, strings by construction
        return None
    if not isinstance(data, dict):
        return "the payload is not a JSON object"
    return _fields(data, "", _TEXT, _OBJECTS) or _ids(data) or _event(data.get("event")) \
        or _actions(data.get("actions")) or _message(data.get("message"))


def _decode(body: bytes, content_type: str) -> Any:
    """The JSON payload, or None for a form without one (slash commands)."""
    if "application/x-www-form-urlencoded" in content_type:
        form = parse_qs(body.decode("utf-8"), keep_blank_values=True)
        return json.loads(form["payload"][0]) if "payload" in form else None
    return json.loads(body)


def _fields(data: dict[str, Any], where: str, text: tuple[str, ...], objects: tuple[str, ...] = ()) -> str | None:
    """The first field of the wrong type: names in `text` must be strings, in `objects` JSON objects."""
    for name in text:
        if name in data and data[name] is not None and not isinstance(data[name], str):
            return f"`{where}{name}` must be a string"
    for name in objects:
        if name in data and data[name] is not None and not isinstance(data[name], dict):
            return f"`{where}{name}` must be an object"
    return None


def _ids(data: dict[str, Any]) -> str | None:
    """The `id` of `user`, `team`, `channel`… and the view's `callback_id`: strings (Bolt matches on them)."""
    for name in _OBJECTS:
        if isinstance(data.get(name), dict) and (p := _fields(data[name], f"{name}.", ("id", "callback_id"))):
            return p
    return None


def _event(event: Any) -> str | None:
    """An Events API callback's `event`: an object whose fields we read are strings, its files a list."""
    if event is None:
        return None
    if not isinstance(event, dict):
        return "`event` must be an object"
    if not isinstance(event.get("type"), str):
        return "`event.type` must be a string"
    if event["type"] not in _HANDLED:
        return None
    if "files" in event and not isinstance(event["files"], list):
        return "`event.files` must be a list"
    return _fields(event, "event.", _EVENT_TEXT)


def _actions(actions: Any) -> str | None:
    """A block action's `actions`: a list of objects whose ids and values are strings."""
    if actions is None:
        return None
    if not isinstance(actions, list) or not all(isinstance(a, dict) for a in actions):
        return "`actions` must be a list of objects"
    return next((p for a in actions if (p := _fields(a, "actions[].", _ACTION_TEXT))), None)


def _message(message: Any) -> str | None:
    """A shortcut's or button's `message` (already known to be an object or absent): its text fields."""
    return _fields(message, "message.", _MESSAGE_TEXT) if isinstance(message, dict) else None
