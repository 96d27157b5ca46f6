"""Keeping reporter secrets out of everything mlmon prints or stores.

A secret is a value a reporter read from an env var, and the pieces of a webhook's URL and
headers. Error texts quote values in other forms than the raw one (Python escapes control
characters in a repr, URLs are percent-encoded or decoded, tracebacks quote both), so every
form is hidden, not just the value as written.
"""

from __future__ import annotations

import json
from typing import Final, Iterable, Mapping
from urllib.parse import quote, quote_plus, unquote, unquote_plus, urlsplit

__all__ = ["REDACTED", "redact", "secret_forms", "safe_url", "url_secrets", "header_secrets"]

REDACTED: Final = "***"
_MIN_PIECE = 4  # shorter pieces of a URL ("/", "v1") are not worth hiding and would garble text


def secret_forms(secret: str) -> set[str]:
    """`secret` as error texts may quote it: raw, escaped (repr, ascii, unicode_escape, JSON),
    percent-encoded (quote, quote_plus, with and without safe characters) and decoded."""
    forms = {secret, unquote(secret), unquote_plus(secret)}
    for text in list(forms):
        forms.update({
            repr(text)[1:-1], ascii(text)[1:-1], json.dumps(text)[1:-1],
            text.encode("unicode_escape").decode("ascii"),
            quote(text), quote(text, safe=""), quote_plus(text), quote_plus(text, safe=""),
        })
    return {f for f in forms if f}


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """`text` with every form of each secret replaced by ***.

    Longest first, so a secret containing another is hidden whole.
    """
    forms: set[str] = set()
    for secret in secrets:
        if secret:
            forms.update(secret_forms(secret))
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, REDACTED)
    return text


def safe_url(url: str) -> str:
    """scheme://host[:port]/… — what a log may say about a URL that may hold a token."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<invalid url>"
    if not parts.scheme or not host or any(c in host for c in "%\\") or not host.isprintable():
        return "<invalid url>"
    rest = "/…" if (parts.path not in ("", "/") or parts.query or parts.fragment) else ""
    return f"{parts.scheme}://{host}{port}{rest}"


def url_secrets(url: str) -> set[str]:
    """The URL and the pieces an error may quote alone (a path, a query value, credentials)."""
    found = {url}
    try:
        parts = urlsplit(url)
        pieces = [parts.path, parts.query, parts.fragment, parts.username or "", parts.password or ""]
    except ValueError:  # unparseable: only the whole is known, and what follows the host
        pieces = [url.partition("//")[2].partition("/")[2]]
        parts = None
    if parts is not None:
        pieces += parts.path.split("/") + [kv.partition("=")[2] for kv in parts.query.split("&")]
    found.update(p for p in pieces if len(p) >= _MIN_PIECE and p.strip("/"))
    return found


def header_secrets(headers: Mapping[str, str]) -> set[str]:
    found: set[str] = set()
    for value in headers.values():
        found.add(value)
        found.update(part for part in value.split() if len(part) >= _MIN_PIECE)  # "Bearer <token>"
    return found
