"""The RabbitMQ management HTTP API, read with the standard library (urllib, basic auth).

The API lives under ``/api/`` of the management plugin's listener (port 15672 by default);
every request carries the URL's user and password (``guest``/``guest`` when the URL names
none; RabbitMQ lets ``guest`` in from loopback only). Each failure a user can fix is one line:
an unreachable listener, wrong credentials (401), a user without monitoring rights or a vhost
it may not see (403), a vhost that does not exist (404), an answer that is not the API's JSON.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from qsim.errors import QsimError

__all__ = ["TIMEOUT", "ManagementClient", "NotFound"]

TIMEOUT = 10.0
"""Seconds to wait for each answer of the management API."""

_STATUS = {
    401: "wrong user or password (401 Unauthorized)",
    403: "the user may not read this (403 Forbidden: it needs the monitoring tag and the vhost)",
    404: "not found (404): no such vhost or object",
}


class NotFound(QsimError):
    """The API answered 404: no such vhost or object."""


@dataclass(frozen=True)
class ManagementClient:
    """GETs JSON from one management API at ``base`` (``http://host:port``)."""

    base: str
    user: str
    password: str

    @classmethod
    def from_url(cls, url: str) -> ManagementClient:
        """A client for ``http(s)://[user:password@]host[:port][/]``; anything else is a
        one-line error."""
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise QsimError(
                f"--amqp-management: expected an http:// URL such as "
                f"http://guest:guest@127.0.0.1:15672/, got {url!r}"
            )
        try:
            port = parts.port
        except ValueError:
            raise QsimError(f"--amqp-management: bad port in {url!r}") from None
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        base = f"{parts.scheme}://{host}:{port or 15672}{parts.path.rstrip('/')}"
        user = urllib.parse.unquote(parts.username or "guest")
        password = urllib.parse.unquote(parts.password or "guest")
        return cls(base, user, password)

    @property
    def where(self) -> str:
        """The API's address without credentials, for messages."""
        return self.base

    def get(self, path: str, **query: str | int) -> Any:
        """The decoded JSON at ``/api/<path>``; failures are one-line :class:`QsimError`."""
        url = f"{self.base}/api/{path}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        request = urllib.request.Request(url, headers={"Authorization": self._auth()})
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:
            exc.close()
            reason = _STATUS.get(exc.code, f"HTTP {exc.code} {exc.reason}")
            kind = NotFound if exc.code == 404 else QsimError
            raise kind(f"management API at {self.where}: /api/{path}: {reason}") from None
        except (TimeoutError, urllib.error.URLError, OSError) as exc:
            cause: object = getattr(exc, "reason", None) or exc
            raise QsimError(f"cannot reach the management API at {self.where}: {cause}") from None
        try:
            return json.loads(body)
        except ValueError:
            raise QsimError(
                f"not the RabbitMQ management API at {self.where}: /api/{path} is not JSON"
            ) from None

    def _auth(self) -> str:
        token = f"{self.user}:{self.password}".encode()
        return "Basic " + base64.b64encode(token).decode("ascii")
