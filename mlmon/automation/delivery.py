"""One HTTP POST of a webhook, bounded by a deadline however slowly the server answers.

A socket timeout bounds each wait for a byte, not the exchange: a server dripping a byte a
second holds a plain request for ever. The exchange runs in a worker thread; when the deadline
passes, its socket is shut down, which ends the worker's blocking read at once. A reply that
stops before its Content-Length (or its last chunk) is a failure, not a delivery.
"""

from __future__ import annotations

import base64
import http.client
import socket
import threading
import urllib.request
from dataclasses import dataclass
from typing import Mapping
from urllib.parse import SplitResult, unquote, urlsplit

__all__ = ["Reply", "post"]

_MAX_BODY = 1 << 20  # a webhook's reply is read to check it is whole, not kept


@dataclass(frozen=True)
class Reply:
    status: int | None  # None: no complete reply
    error: str | None = None  # why there is none, free of the URL
    timed_out: bool = False  # the deadline passed first

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def post(url: str, body: bytes, headers: Mapping[str, str], seconds: float) -> Reply:
    """POST `body` to `url` (redirects are not followed); the reply within `seconds`."""
    parts = urlsplit(url)
    connection, target, headers = _connect(parts, headers, max(seconds, 0.001))
    outcome: dict[str, object] = {}

    def exchange() -> None:
        try:
            connection.request("POST", target, body=body, headers=dict(headers))
            response = connection.getresponse()
            _read_whole(response)
            outcome["status"] = response.status
        except BaseException as exc:  # reported by the caller's thread
            outcome["error"] = exc

    worker = threading.Thread(target=exchange, name="mlmon-webhook", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        _abort(connection)
        worker.join(1.0)
        return Reply(None, "no complete response in time", timed_out=True)
    connection.close()
    if "status" in outcome:
        return Reply(int(outcome["status"]))  # type: ignore[call-overload]
    error = outcome.get("error")
    return Reply(None, _describe(error), timed_out=isinstance(error, TimeoutError))


def _connect(parts: SplitResult, headers: Mapping[str, str],
             seconds: float) -> tuple[http.client.HTTPConnection, str, Mapping[str, str]]:
    """The connection, request target and headers, through the proxy the environment names
    (http_proxy / https_proxy / no_proxy, as urllib reads them) if there is one."""
    https = parts.scheme == "https"
    host = parts.hostname or ""
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    proxy = urllib.request.getproxies().get(parts.scheme)
    if not proxy or urllib.request.proxy_bypass(host):
        connection_class = http.client.HTTPSConnection if https else http.client.HTTPConnection
        return connection_class(host, parts.port, timeout=seconds), path, headers
    via = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    credentials = {}
    if via.username:
        token = base64.b64encode(f"{unquote(via.username)}:{unquote(via.password or '')}".encode()).decode()
        credentials = {"Proxy-Authorization": f"Basic {token}"}
    if https:  # a CONNECT tunnel: the proxy never sees the path, the headers or the body
        connection = http.client.HTTPSConnection(via.hostname or "", via.port or 8080, timeout=seconds)
        connection.set_tunnel(host, parts.port, headers=credentials)
        return connection, path, headers
    connection = http.client.HTTPConnection(via.hostname or "", via.port or 8080, timeout=seconds)
    return connection, parts.geturl(), {**headers, **credentials}


def _read_whole(response: http.client.HTTPResponse) -> None:
    received = 0
    while received <= _MAX_BODY:
        chunk = response.read(65536)  # raises IncompleteRead for a cut chunked reply
        if not chunk:
            break
        received += len(chunk)
    if received <= _MAX_BODY and response.length:  # read(n) returns short silently
        raise http.client.IncompleteRead(b"", response.length)


def _abort(connection: http.client.HTTPConnection) -> None:
    sock = connection.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    connection.close()


def _describe(error: object) -> str:
    # Only the exception's type and a fixed text where its message could quote the URL.
    if isinstance(error, TimeoutError):
        return "no complete response in time"
    if isinstance(error, http.client.IncompleteRead):
        return "the reply was cut short (fewer bytes than its Content-Length)"
    if isinstance(error, http.client.InvalidURL):
        return "InvalidURL: the url holds characters that cannot be sent"
    if isinstance(error, http.client.HTTPException):
        return f"{type(error).__name__}: the server's reply is not valid HTTP"
    if isinstance(error, OSError):
        return f"{type(error).__name__}: {error.strerror or error}"
    return f"{type(error).__name__}: {error}"
