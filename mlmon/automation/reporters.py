"""Reporters: who hears about a finished scenario run.

`stdout` prints a summary, `file` appends the run as one JSON line, `webhook` POSTs it (plain
JSON or a Slack message). Each may have `when:`, a Jinja expression over the run (`outcome`,
`scenario`, `trigger`, `run_id`, `steps`) evaluated in a sandbox.

A reporter never raises into the run: every failure becomes a `ReportResult(ok=False)` and a
logged warning. Webhook URLs and headers carry secrets (rendered from env vars before they get
here), so they are kept out of reprs, logs and errors: a URL is shown as scheme://host/…, and
every text a reporter produces is redacted of the values it read from env vars, in every form
(mlmon.automation.secrets).
"""

from __future__ import annotations

import json
import logging
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Final, Iterable, Literal, Mapping, Sequence, TextIO
from urllib.parse import urlsplit

from jinja2 import StrictUndefined, TemplateSyntaxError, meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

from mlmon.automation.delivery import post
from mlmon.automation.outcomes import RunRecord
from mlmon.automation.secrets import header_secrets, redact, safe_url, url_secrets
from mlmon.errors import ConfigError, Location, ProjectErrors, did_you_mean
from mlmon.jsontext import plain

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
_ENV = ImmutableSandboxedEnvironment(undefined=StrictUndefined)


@dataclass(frozen=True)
class ReportResult:
    reporter: str  # a description safe to print
    ok: bool
    skipped: bool = False  # `when` was false: nothing sent
    error: str | None = None
    attempts: int = 0


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
    secrets: frozenset[str] = field(default=frozenset(), repr=False, compare=False)  # values read from env vars
    kind: str = field(default="", init=False, repr=False)
    _when_fn: Callable[..., Any] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_when_fn", _compile_when(self.when, None))

    @property
    def description(self) -> str:
        return self.name or self.kind

    @property
    def safe_description(self) -> str:
        """`description` with the reporter's secrets hidden (a file path may hold one)."""
        return redact(self.description, self._secrets())

    def report(self, run: RunRecord) -> ReportResult:
        """Send `run`, unless `when` says not to. Never raises."""
        try:
            if self._when_fn is not None and not self._when_fn(**_when_context(run)):
                return ReportResult(self.safe_description, ok=True, skipped=True)
        except Exception as exc:
            return self._failed(f"'when' could not be evaluated: {exc}", 0, exc)
        try:
            return self._send(run)
        except Exception as exc:  # a reporter must never break the run that it reports on
            return self._failed(f"{type(exc).__name__}: {exc}", 1, exc)

    def _send(self, run: RunRecord) -> ReportResult:
        raise NotImplementedError

    def _secrets(self) -> set[str]:
        return set(self.secrets)

    def _failed(self, error: str, attempts: int, exc: BaseException | None = None) -> ReportResult:
        secrets = self._secrets()
        error = redact(error, secrets)
        logger.warning("reporter %s failed: %s", self.safe_description, error)
        if exc is not None and logger.isEnabledFor(logging.DEBUG):
            logger.debug("reporter %s traceback:\n%s", self.safe_description,
                         redact("".join(traceback.format_exception(exc)), secrets))
        return ReportResult(self.safe_description, ok=False, error=error, attempts=attempts)


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
        return ReportResult(self.safe_description, ok=True, attempts=1)


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
        return ReportResult(self.safe_description, ok=True, attempts=1)


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
        return set(self.secrets) | url_secrets(self.url) | header_secrets(self.headers)

    def body(self, run: RunRecord) -> dict[str, Any]:
        return slack_payload(run) if self.format == "slack" else run.payload()

    def _send(self, run: RunRecord) -> ReportResult:
        """POST the run; `timeout` bounds the whole delivery, every retry and pause included."""
        data = json.dumps(plain(self.body(run)), default=str, ensure_ascii=False, allow_nan=False).encode("utf-8")
        headers = {"Content-Type": "application/json", "User-Agent": "mlmon", **self.headers}
        deadline = time.monotonic() + self.timeout
        error = f"no complete response within {self.timeout:g}s"
        attempts = 0
        for attempt in range(self.retries + 1):
            if attempt:
                pause = min(self.backoff * 2 ** (attempt - 1), 30.0)
                if time.monotonic() + pause >= deadline:
                    break
                time.sleep(pause)
            attempts += 1
            reply = post(self.url, data, headers, deadline - time.monotonic())
            if reply.ok:
                return ReportResult(self.safe_description, ok=True, attempts=attempts)
            if reply.status is None:
                error = f"no complete response within {self.timeout:g}s" if reply.timed_out else reply.error or error
                continue
            error = f"HTTP {reply.status}"
            if reply.status not in _RETRYABLE_STATUS:  # a redirect is not followed: it would resend the secrets
                break
        return self._failed(f"{error} (after {attempts} attempt{'s' if attempts != 1 else ''})", attempts)


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


def parse_reporter(spec: Any, *, location: Location | None = None, base_dir: Path | None = None,
                   secrets: Iterable[str] = ()) -> Reporter:
    """One reporter from YAML. A relative file `path` is resolved against `base_dir`; `secrets`
    are the env var values its spec was rendered with, hidden from everything it reports.

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
    common: dict[str, Any] = {"when": when, "secrets": frozenset(s for s in secrets if s)}
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
    _check_url(url.strip(), location)
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


def _check_url(url: str, location: Location | None) -> None:
    # Never quotes the URL: it may hold a token.
    if any(ord(c) <= 32 or ord(c) == 127 for c in url):
        raise ConfigError("webhook url holds a space or a control character", location=location,
                          hint="percent-encode it (a space is %20)")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError for a port that is not a number in range)
    except ValueError:
        raise ConfigError("webhook url is malformed (check the brackets around an IPv6 host and the port)",
                          location=location) from None
    if parts.scheme not in ("http", "https") or safe_url(url) == "<invalid url>":
        raise ConfigError("webhook url must be an http:// or https:// URL", location=location)


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
