"""Who is asking over HTTP: an API key (Bearer) and its audiences, or an anonymous reader of public sources.

Behind an authenticating reverse proxy (SOURCIER_USER_HEADER), the user it names is believed only on
connections from SOURCIER_FORWARDED_ALLOW_IPS, and reads `public` and the audiences `[people]` gives them in
the access file. Anonymous clients are served only where that was chosen: from loopback while no key exists (a local trial),
or anywhere with SOURCIER_ALLOW_ANONYMOUS / `serve --allow-anonymous` (a demo). Once a key exists, every
other client needs one. Anonymous readers read the `public` audience only.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from bot.access import PUBLIC, Caller
from bot.config import Settings
from bot.engine import Engine
from bot.http.proxy import VIA_PROXY
from bot.keys import KeyStore
from index.errors import ApiKeyError

_bearer = HTTPBearer(auto_error=False)
NEEDS_KEY = ("this server needs an API key: send Authorization: Bearer <key> (an operator creates one with "
             "`sourcier keys create NAME --audience public`)")


def is_loopback(host: str | None) -> bool:
    """127.0.0.0/8, ::1 or `localhost`; anything unparsable is not."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


async def _caller(request: Request,
                  credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Caller:
    """The caller of this request; a wrong, revoked or missing (where needed) key is a 401. On the event loop: one
    stat() of the key file (a thread hop per request would cost more), a read only when it changed."""
    settings: Settings = request.app.state.settings
    keys: KeyStore = request.app.state.keys
    if settings.user_header and request.scope.get(VIA_PROXY) and (user := request.headers.get(settings.user_header)):
        engine: Engine = request.app.state.engine
        return Caller(f"proxy:{user}", "http", engine.access.people_audiences(user))
    if credentials is not None:
        key = keys.check(credentials.credentials)
        return Caller(f"key:{key.key_id}:{key.name}", "http", key.readers)
    host = request.client.host if request.client else None
    if settings.allow_anonymous or (is_loopback(host) and not keys.active()):
        return Caller(f"anonymous:{host or '?'}", "http", frozenset({PUBLIC}))
    raise ApiKeyError(NEEDS_KEY)


CallerDep = Annotated[Caller, Depends(_caller)]
