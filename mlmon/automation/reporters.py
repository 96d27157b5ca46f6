"""Reporters: who hears about a finished scenario run.

`stdout` prints a summary, `file` appends the run as one JSON line, `webhook` POSTs it (plain
JSON or a Slack message). Each may have `when:`, a Jinja expression over the run (`outcome`,
`scenario`, `trigger`, `run_id`, `steps`) evaluated in a sandbox.

A reporter never raises into the run: every failure becomes a `ReportResult(ok=False)` and a
logged warning. Webhook URLs and headers carry secrets (rendered from env vars before they get
here), so they are kept out of reprs, logs and errors: a URL is shown as scheme://host/….
"""

from __future__ import annotations

import http.client
import json
import logging
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Final, Iterable, Literal, Mapping, Sequence, TextIO
from urllib.error import HTTPError
from urllib.parse import unquote, urlsplit

from jinja2 import StrictUndefined, TemplateSyntaxError, meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

from mlmon.automation.outcomes import RunRecord
from mlmon.jsontext import plain
from mlmon.errors import ConfigError, Location, ProjectErrors, did_you_mean

__all__ = [
    "WHEN_VARIABLES",
    "ReportResult",
    "StdoutReporter",
    "FileReporter",
    "WebhookReporter",
    "Reporter",
    "parse_reporter",
    "parse_reporters",
    "report_all",
    "slack_payload",
    "redact",
    "safe_url",
]

logger = logging.getLogger("mlmon.automation.reporters")

WHEN_VARIABLES: Final = ("outcome", "scenario", "trigger", "run_id", "steps")
_REDACTED: Final = "***"
_ENV = ImmutableSandboxedEnvironment(undefined=StrictUndefined)


@dataclass(frozen=True)
class ReportResult:
    reporter: str  # a description safe to print
    ok: bool
    skipped: bool = False  # `when` was false: nothing sent
    error: str | None = None
    attempts: int = 0


# ---------------------------------------------------------------------------------------------
# secrets


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """`text` with every occurrence of each secret replaced by ***.

    Longest first, so a secret containing another is hidden whole.
    """
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, _REDACTED)
    return text


def safe_url(url: str) -> str:
    """scheme://host[:port]/… — what a log may say about a URL that may hold a token."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<invalid url>"
    if not parts.scheme or not host:
        return "<invalid url>"
    rest = "/…" if (parts.path not in ("", "/") or parts.query or parts.fragment) else ""
    return f"{parts.scheme}://{host}{port}{rest}"


def _url_secrets(url: str) -> set[str]:
    # Errors can quote a URL in pieces (a path, a query value), sometimes percent-decoded.
    found = {url, unquote(url)}
    try:
        parts = urlsplit(url)
    except ValueError:
        return found
    pieces = [parts.path, parts.query, parts.fragment, parts.username or "", parts.password or ""]
    pieces += parts.path.split("/") + [kv.partition("=")[2] for kv in parts.query.split("&")]
    for piece in pieces:
        if len(piece) >= 4 and piece.strip("/"):
            found.update({piece, unquote(piece)})
    return found


def _header_secrets(headers: Mapping[str, str]) -> set[str]:
    found: set[str] = set()
    for value in headers.values():
        found.add(value)
        found.update(part for part in value.split() if len(part) >= 4)  # "Bearer <token>"
    return found


# ---------------------------------------------------------------------------------------------
# `when`


def _compile_when(expression: str | None, location: Location | None) -> Callable[..., Any] | None:
    if expression is None:
        return None
    if not isinstance(expression, str) or not expression.strip():
        raise ConfigError("reporter 'when' must be an expression such as \"outcome == 'FAILED'\"", location=location)
    try:
        unknown = sorted(meta.find_undeclared_variables(_ENV.parse("{{ " + expression + " }}")) - set(WHEN_VARIABLES))
        compiled = _ENV.compile_expression(expression, undefined_to_none=False)
    except TemplateSyntaxError as exc:
        raise ConfigError(f"reporter 'when' is not a valid expression: {exc.message}", location=location) from None
    if unknown:
        raise ConfigError(
            f"reporter 'when' uses unknown variable {unknown[0]!r}: available are {', '.join(WHEN_VARIABLES)}",
            location=location,
            hint=did_you_mean(unknown[0], WHEN_VARIABLES),
        )
    return compiled


def _when_context(run: RunRecord) -> dict[str, Any]:
    return {
        "outcome": str(run.outcome),
        "scenario": run.scenario,
        "trigger": run.trigger,
        "run_id": run.run_id,
        "steps": [s.payload() for s in run.steps],
    }


# ---------------------------------------------------------------------------------------------
# reporters


@dataclass(frozen=True)
class _Base:
    when: str | None = None
    name: str | None = None
    kind: str = field(default="", init=False, repr=False)
    _when_fn: Callable[..., Any] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_when_fn", _compile_when(self.when, None))

    @property
    def description(self) -> str:
        return self.name or self.kind

    def report(self, run: RunRecord) -> ReportResult:
        """Send `run`, unless `when` says not to. Never raises."""
        try:
            if self._when_fn is not None and not self._when_fn(**_when_context(run)):
                return ReportResult(self.description, ok=True, skipped=True)
        except Exception as exc:
            return self._failed(f"'when' could not be evaluated: {exc}", 0)
        try:
            return self._send(run)
        except Exception as exc:  # a reporter must never break the run that it reports on
            return self._failed(f"{type(exc).__name__}: {exc}", 1)

    def _send(self, run: RunRecord) -> ReportResult:
        raise NotImplementedError

    def _secrets(self) -> set[str]:
        return set()

    def _failed(self, error: str, attempts: int) -> ReportResult:
        error = redact(error, self._secrets())
        logger.warning("reporter %s failed: %s", self.description, error)
        return ReportResult(self.description, ok=False, error=error, attempts=attempts)


@dataclass(frozen=True)
class StdoutReporter(_Base):
    stream: TextIO | None = field(default=None, repr=False, compare=False)  # None: sys.stdout now
    kind: str = field(default="stdout", init=False, repr=False)

    def _send(self, run: RunRecord) -> ReportResult:
        out = self.stream or sys.stdout
        elapsed = ""
        if run.ended_at is not None:
            elapsed = f", {(run.ended_at - run.started_at).total_seconds():.1f}s"
        lines = [f"scenario {run.scenario} run {run.run_id}: {run.outcome} (trigger {run.trigger or '-'}{elapsed})"]
        for step in run.steps:
            line = f"  {str(step.outcome):<8} {step.name} [{step.kind}]"
            lines.append(line + (f": {step.message}" if step.message else ""))
        print("\n".join(lines), file=out, flush=True)
        return ReportResult(self.description, ok=True, attempts=1)


@dataclass(frozen=True)
class FileReporter(_Base):
    path: Path = Path("scenario_runs.jsonl")
    kind: str = field(default="file", init=False, repr=False)

    @property
    def description(self) -> str:
        return self.name or f"file {self.path}"

    def _send(self, run: RunRecord) -> ReportResult:
        line = (json.dumps(plain(run.payload()), default=str, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # One unbuffered write on an O_APPEND file: concurrent scenarios' lines do not interleave.
        with open(self.path, "ab", buffering=0) as f:
            f.write(line)
        return ReportResult(self.description, ok=True, attempts=1)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # Following a redirect would resend the secret headers to wherever it points.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_RETRYABLE_STATUS: Final = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class WebhookReporter(_Base):
    url: str = field(default="", repr=False)
    timeout: float = 5.0
    retries: int = 2
    format: Literal["json", "slack"] = "json"
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    backoff: float = 0.5  # seconds before the first retry, doubled for each next one
    kind: str = field(default="webhook", init=False, repr=False)

    @property
    def description(self) -> str:
        return self.name or f"webhook {safe_url(self.url)}"

    def _secrets(self) -> set[str]:
        return _url_secrets(self.url) | _header_secrets(self.headers)

    def body(self, run: RunRecord) -> dict[str, Any]:
        return slack_payload(run) if self.format == "slack" else run.payload()

    def _send(self, run: RunRecord) -> ReportResult:
        data = json.dumps(plain(self.body(run)), default=str, ensure_ascii=False, allow_nan=False).encode("utf-8")
        headers = {"Content-Type": "application/json", "User-Agent": "mlmon", **self.headers}
        opener = urllib.request.build_opener(_NoRedirect)
        error = ""
        attempts = 0
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(min(self.backoff * 2 ** (attempt - 1), 30.0))
            attempts += 1
            request = urllib.request.Request(self.url, data=data, headers=headers, method="POST")
            try:
                with opener.open(request, timeout=self.timeout) as response:
                    response.read(1 << 16)
                return ReportResult(self.description, ok=True, attempts=attempts)
            except HTTPError as exc:
                exc.close()
                error = f"HTTP {exc.code}"
                if exc.code not in _RETRYABLE_STATUS:
                    break
            except TimeoutError:
                error = f"no response within {self.timeout:g}s"
            except (OSError, http.client.HTTPException) as exc:
                reason = getattr(exc, "reason", None) or exc
                error = "no response within {:g}s".format(self.timeout) if isinstance(reason, TimeoutError) else f"{type(reason).__name__}: {reason}"
        return self._failed(f"{error} (after {attempts} attempt{'s' if attempts > 1 else ''})", attempts)


Reporter = StdoutReporter | FileReporter | WebhookReporter


# ---------------------------------------------------------------------------------------------
# Slack


_EMOJI: Final = {"SUCCESS": ":white_check_mark:", "WARNING": ":warning:", "FAILED": ":x:", "ABORTED": ":no_entry:", "SKIPPED": ":fast_forward:"}


def _mrkdwn(text: Any) -> str:
    # Slack's only required escapes: these three would otherwise start links and mentions.
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_payload(run: RunRecord) -> dict[str, Any]:
    """A Slack incoming-webhook message: `text` (the notification) and Block Kit `blocks`."""
    outcome = str(run.outcome)
    text = f"{_EMOJI.get(outcome, '')} Scenario {run.scenario}: {outcome} (trigger {run.trigger or '-'})".strip()
    fields = [
        {"type": "mrkdwn", "text": f"*Outcome*\n{outcome}"},
        {"type": "mrkdwn", "text": f"*Trigger*\n{_mrkdwn(run.trigger or '-')}"},
        {"type": "mrkdwn", "text": f"*Run*\n`{_mrkdwn(run.run_id)}`"},
    ]
    if run.ended_at is not None:
        fields.append({"type": "mrkdwn", "text": f"*Duration*\n{(run.ended_at - run.started_at).total_seconds():.1f}s"})
    step_lines = []
    for step in run.steps:
        line = f"{_EMOJI.get(str(step.outcome), '')} *{_mrkdwn(step.name)}* ({_mrkdwn(step.kind)}): {step.outcome}"
        if step.message:
            line += f" — {_mrkdwn(_clip(step.message, 300))}"
        step_lines.append(line)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _clip(f"Scenario {run.scenario}: {outcome}", 150), "emoji": True}},
        {"type": "section", "fields": fields},
    ]
    if step_lines:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _clip("\n".join(step_lines), 3000)}})
    return {"text": text, "blocks": blocks}


# ---------------------------------------------------------------------------------------------
# parsing

_KEYS: Final[dict[str, tuple[str, ...]]] = {
    "stdout": ("type", "when", "name"),
    "file": ("type", "when", "name", "path"),
    "webhook": ("type", "when", "name", "url", "timeout", "retries", "format", "headers", "backoff"),
}


def _number(spec: Mapping[str, Any], key: str, default: float, location: Location | None, *, integer: bool = False) -> Any:
    value = spec.get(key, default)
    wanted = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, wanted) or value < 0 or (key == "timeout" and value == 0):
        kind = "a whole number ≥ 0" if integer else "a number of seconds > 0" if key == "timeout" else "a number ≥ 0"
        raise ConfigError(f"webhook {key} must be {kind}, got {value!r}", location=location)
    return value


def parse_reporter(spec: Any, *, location: Location | None = None, base_dir: Path | None = None) -> Reporter:
    """One reporter from YAML. A relative file `path` is resolved against `base_dir`.

    Error messages never quote a webhook's url or header values.
    """
    if not isinstance(spec, Mapping):
        raise ConfigError(f"a reporter must be a mapping such as {{type: stdout}}, got {type(spec).__name__}", location=location)
    kind = spec.get("type")
    if kind not in _KEYS:
        hint = did_you_mean(kind, _KEYS) if isinstance(kind, str) else None
        raise ConfigError(f"reporter type must be one of {', '.join(_KEYS)}, got {kind!r}", location=location, hint=hint)
    for key in spec:
        if key not in _KEYS[kind]:
            raise ConfigError(f"unknown key {key!r} in a {kind} reporter", location=location, hint=did_you_mean(str(key), _KEYS[kind]))
    when = spec.get("when")
    _compile_when(when, location)  # here, to point the error at the file
    common: dict[str, Any] = {"when": when}
    if spec.get("name") is not None:
        common["name"] = str(spec["name"])
    if kind == "stdout":
        return StdoutReporter(**common)
    if kind == "file":
        raw = spec.get("path")
        if not isinstance(raw, str) or not raw.strip():
            raise ConfigError("file reporter needs a path", location=location)
        path = Path(raw)
        if base_dir is not None and not path.is_absolute():
            path = base_dir / path
        return FileReporter(**common, path=path)

    url = spec.get("url")
    if not isinstance(url, str) or not url.strip():
        raise ConfigError("webhook reporter needs a url", location=location, hint="is the environment variable it reads set?")
    if urlsplit(url.strip()).scheme not in ("http", "https") or safe_url(url.strip()) == "<invalid url>":
        raise ConfigError("webhook url must be an http:// or https:// URL", location=location)
    headers = spec.get("headers") or {}
    if not isinstance(headers, Mapping) or not all(isinstance(k, str) and isinstance(v, (str, int, float)) for k, v in headers.items()):
        raise ConfigError("webhook headers must map header names to strings", location=location)
    fmt = spec.get("format", "json")
    if fmt not in ("json", "slack"):
        raise ConfigError(f"webhook format must be 'json' or 'slack', got {fmt!r}", location=location, hint=did_you_mean(str(fmt), ("json", "slack")))
    return WebhookReporter(
        **common,
        url=url.strip(),
        timeout=float(_number(spec, "timeout", 5.0, location)),
        retries=min(int(_number(spec, "retries", 2, location, integer=True)), 10),  # bounds the run's wait
        format=fmt,
        headers={k: str(v) for k, v in headers.items()},
        backoff=float(_number(spec, "backoff", 0.5, location)),
    )


def parse_reporters(specs: Any, *, location: Location | None = None, base_dir: Path | None = None) -> list[Reporter]:
    """A scenario's `reporters` list; every error in it is reported at once (ProjectErrors)."""
    if specs is None:
        return []
    if not isinstance(specs, list):
        raise ProjectErrors([ConfigError("reporters must be a list", location=location)])
    reporters: list[Reporter] = []
    errors: list[ConfigError] = []
    for spec in specs:
        try:
            reporters.append(parse_reporter(spec, location=location, base_dir=base_dir))
        except ConfigError as exc:
            errors.append(exc)
    if errors:
        raise ProjectErrors(errors)
    return reporters


def report_all(reporters: Sequence[Reporter], run: RunRecord) -> list[ReportResult]:
    """Run every reporter in turn; one failing does not stop the others."""
    return [reporter.report(run) for reporter in reporters]
