from __future__ import annotations

import io
import json
import logging
import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Iterator

import pytest

from mlmon.automation.outcomes import SKIPPED, Outcome, RunRecord, StepRecord
from mlmon.automation.reporters import (
    FileReporter,
    StdoutReporter,
    WebhookReporter,
    parse_reporter,
    parse_reporters,
    redact,
    report_all,
    safe_url,
    slack_payload,
)
from mlmon.errors import ConfigError, Location, ProjectErrors

SECRETS = ("T0SECRET", "xoxbSECRETTOKEN", "qs-secret-value", "hdr-secret-token")
SECRET_PATH = "/services/T0SECRET/B0/xoxbSECRETTOKEN?token=qs-secret-value"
SECRET_HEADERS = {"Authorization": "Bearer hdr-secret-token"}


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    # urllib honours proxy variables: keep every request on 127.0.0.1.
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


def make_run(outcome: Outcome = Outcome.FAILED) -> RunRecord:
    start = datetime(2024, 1, 1, 6, 0, tzinfo=timezone.utc)
    return RunRecord(
        run_id="run-1",
        scenario="retrain_model",
        trigger="weekly",
        outcome=outcome,
        started_at=start,
        ended_at=start + timedelta(seconds=4),
        steps=[
            StepRecord("build_mes", "build", "SUCCESS"),
            StepRecord("run_mes_checks", "run_checks", str(outcome), "data_drift_in_range: ERROR <0.7>"),
            StepRecord("build_model", "train", SKIPPED),
        ],
    )


@dataclass
class Server:
    """What a real local HTTP server received, and how it answers."""

    statuses: list[int] = field(default_factory=lambda: [200])  # the last one repeats
    delay: float = 0.0
    location: str | None = None
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    url: str = ""


@contextmanager
def serve(server: Server) -> Iterator[Server]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            server.requests.append((self.path, dict(self.headers), body))
            if server.delay:
                server.release.wait(server.delay)
            status = server.statuses.pop(0) if len(server.statuses) > 1 else server.statuses[0]
            try:
                self.send_response(status)
                if server.location:
                    self.send_header("Location", server.location)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
            except OSError:
                pass  # the client gave up waiting

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield server
    finally:
        server.release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def assert_no_secret(*texts: str | None) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in (text or ""), f"{secret!r} leaked into {text!r}"


# ---------------------------------------------------------------------------------------------
# webhook


def test_webhook_posts_the_run_as_json() -> None:
    with serve(Server()) as server:
        reporter = parse_reporter({"type": "webhook", "url": server.url + SECRET_PATH, "headers": SECRET_HEADERS})
        result = reporter.report(make_run())
    assert result.ok and result.attempts == 1 and not result.skipped
    path, headers, body = server.requests[0]
    assert path == SECRET_PATH
    assert headers["Content-Type"] == "application/json"
    assert headers["Authorization"] == "Bearer hdr-secret-token"
    payload = json.loads(body)
    assert payload == make_run().payload()
    assert set(payload) == {"scenario", "run_id", "trigger", "outcome", "started_at", "ended_at", "steps"}
    assert payload["steps"][1] == {"name": "run_mes_checks", "kind": "run_checks", "outcome": "FAILED", "message": "data_drift_in_range: ERROR <0.7>"}
    assert_no_secret(result.reporter, repr(reporter))


def test_webhook_retries_server_errors() -> None:
    with serve(Server(statuses=[500, 500, 200])) as server:
        reporter = WebhookReporter(url=server.url + "/hook", retries=2, backoff=0.01)
        result = reporter.report(make_run())
    assert result.ok and result.attempts == 3
    assert len(server.requests) == 3


def test_webhook_gives_up_after_retries(caplog: pytest.LogCaptureFixture) -> None:
    with serve(Server(statuses=[503])) as server, caplog.at_level(logging.WARNING, "mlmon"):
        reporter = WebhookReporter(url=server.url + SECRET_PATH, headers=SECRET_HEADERS, retries=1, backoff=0.01)
        result = reporter.report(make_run())
    assert not result.ok and result.attempts == 2
    assert result.error == "HTTP 503 (after 2 attempts)"
    assert len(server.requests) == 2
    assert "reporter webhook http://127.0.0.1:" in caplog.text and "/… failed: HTTP 503" in caplog.text
    assert_no_secret(result.error, result.reporter, caplog.text)


def test_webhook_does_not_retry_client_errors() -> None:
    with serve(Server(statuses=[404])) as server:
        result = WebhookReporter(url=server.url + "/hook", retries=3, backoff=0.01).report(make_run())
    assert not result.ok and result.attempts == 1 and result.error == "HTTP 404 (after 1 attempt)"


def test_webhook_does_not_follow_redirects() -> None:
    # following would resend the secret headers to wherever the redirect points
    with serve(Server(statuses=[307], location="/elsewhere")) as server:
        result = WebhookReporter(url=server.url + SECRET_PATH, headers=SECRET_HEADERS, retries=2, backoff=0.01).report(make_run())
    assert not result.ok and result.error == "HTTP 307 (after 1 attempt)"
    assert [p for p, _, _ in server.requests] == [SECRET_PATH]


def test_webhook_timeout_is_bounded() -> None:
    with serve(Server(delay=30)) as server:
        reporter = WebhookReporter(url=server.url + SECRET_PATH, timeout=0.3, retries=1, backoff=0.05)
        started = time.monotonic()
        result = reporter.report(make_run())
        elapsed = time.monotonic() - started
    assert not result.ok
    assert result.error == "no complete response within 0.3s (after 1 attempt)"  # the deadline covers the retries
    assert elapsed < 2.0
    assert_no_secret(result.error)


@contextmanager
def raw_server(answer: "Callable[[socket.socket], None]", received: list[bytes] | None = None) -> Iterator[str]:
    """A TCP server on 127.0.0.1 that reads a request's head and lets `answer` write anything."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    stop = threading.Event()

    def loop() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(5)
                try:
                    request = b""
                    while b"\r\n\r\n" not in request:
                        request += conn.recv(65536)
                    head, _, body = request.partition(b"\r\n\r\n")
                    if received is not None:
                        received.append(head)
                    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                                      if line.lower().startswith(b"content-length")))
                    while len(body) < length:  # read it all: closing on unread bytes resets the connection
                        body += conn.recv(65536)
                    answer(conn)
                except OSError:
                    pass  # the client hung up

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def test_a_slow_drip_server_cannot_stretch_the_deadline() -> None:
    # one byte every 0.1 s: each read succeeds well within a socket timeout, for 100 s in all
    def drip(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
        for _ in range(1000):
            conn.sendall(b"x")
            time.sleep(0.1)

    with raw_server(drip) as url:
        started = time.monotonic()
        result = WebhookReporter(url=url + SECRET_PATH, timeout=1.0, retries=2, backoff=0.01).report(make_run())
        elapsed = time.monotonic() - started
    assert not result.ok and result.error.startswith("no complete response within 1s")
    assert elapsed < 10  # one 1 s deadline for every attempt; per byte, the drip would last 100 s
    assert_no_secret(result.error)


def test_a_truncated_reply_is_a_failure() -> None:
    def cut(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part")

    with raw_server(cut) as url:
        result = WebhookReporter(url=url + "/hook", timeout=5, retries=1, backoff=0.01).report(make_run())
    assert not result.ok and result.attempts == 2
    assert result.error == "the reply was cut short (fewer bytes than its Content-Length) (after 2 attempts)"


def test_a_cut_chunked_reply_is_a_failure() -> None:
    def cut(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nonly")

    with raw_server(cut) as url:
        result = WebhookReporter(url=url + "/hook", timeout=5, retries=0).report(make_run())
    assert not result.ok and "cut short" in (result.error or "")


def test_webhook_connection_refused_never_raises() -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = WebhookReporter(url=f"http://127.0.0.1:{port}{SECRET_PATH}", headers=SECRET_HEADERS, retries=1, backoff=0.01).report(make_run())
    assert not result.ok and result.attempts == 2
    assert "ConnectionRefusedError" in (result.error or "")
    assert_no_secret(result.error, result.reporter)


def test_slack_payload_shape() -> None:
    payload = slack_payload(make_run())
    assert payload["text"].startswith(":x: Scenario retrain_model: FAILED")
    header, summary, steps = payload["blocks"]
    assert header == {"type": "header", "text": {"type": "plain_text", "text": "Scenario retrain_model: FAILED", "emoji": True}}
    assert summary["type"] == "section" and all(f["type"] == "mrkdwn" for f in summary["fields"])
    assert "*Duration*\n4.0s" in [f["text"] for f in summary["fields"]]
    assert steps["type"] == "section" and steps["text"]["type"] == "mrkdwn"
    lines = steps["text"]["text"].splitlines()
    assert lines[1] == ":x: *run_mes_checks* (run_checks): FAILED — data_drift_in_range: ERROR &lt;0.7&gt;"
    assert lines[2] == ":fast_forward: *build_model* (train): SKIPPED"


def test_slack_payload_respects_slack_limits() -> None:
    run = make_run()
    run.scenario = "s" * 300
    run.steps = [StepRecord(f"step_{i}", "build", "FAILED", "x" * 1000) for i in range(50)]
    payload = slack_payload(run)
    assert len(payload["blocks"][0]["text"]["text"]) <= 150
    assert len(payload["blocks"][2]["text"]["text"]) <= 3000


def test_webhook_sends_slack_format() -> None:
    with serve(Server()) as server:
        result = parse_reporter({"type": "webhook", "url": server.url + "/slack", "format": "slack"}).report(make_run())
    assert result.ok
    body = json.loads(server.requests[0][2])
    assert set(body) == {"text", "blocks"} and body == slack_payload(make_run())


# ---------------------------------------------------------------------------------------------
# when


def test_when_filters_runs() -> None:
    with serve(Server()) as server:
        reporter = parse_reporter({"type": "webhook", "url": server.url + "/hook", "when": "outcome == 'FAILED'"})
        skipped = reporter.report(make_run(Outcome.SUCCESS))
        sent = reporter.report(make_run(Outcome.FAILED))
    assert skipped.ok and skipped.skipped and skipped.attempts == 0
    assert sent.ok and not sent.skipped
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    "expression,outcome,expected",
    [
        ("outcome in ['FAILED', 'ABORTED']", Outcome.ABORTED, True),
        ("outcome != 'SUCCESS' and scenario == 'retrain_model'", Outcome.WARNING, True),
        ("trigger == 'manual'", Outcome.FAILED, False),
        ("run_id.startswith('run-')", Outcome.SUCCESS, True),
        ("steps | selectattr('outcome', 'equalto', 'FAILED') | list | length > 0", Outcome.FAILED, True),
        ("steps | selectattr('outcome', 'equalto', 'FAILED') | list | length > 0", Outcome.SUCCESS, False),
    ],
)
def test_when_expressions(expression: str, outcome: Outcome, expected: bool, tmp_path: Path) -> None:
    reporter = parse_reporter({"type": "file", "path": "runs.jsonl", "when": expression}, base_dir=tmp_path)
    result = reporter.report(make_run(outcome))
    assert result.ok and result.skipped is not expected
    assert (tmp_path / "runs.jsonl").exists() is expected


@pytest.mark.parametrize(
    "expression,fragment,hint",
    [
        ("outcom == 'FAILED'", "unknown variable 'outcom'", "did you mean 'outcome'?"),
        ("outcome ==", "not a valid expression", None),
        ("", "must be an expression", None),
    ],
)
def test_when_errors_at_parse_time(expression: str, fragment: str, hint: str | None) -> None:
    with pytest.raises(ConfigError) as info:
        parse_reporter({"type": "stdout", "when": expression}, location=Location("monitors/s.yml", 9))
    assert fragment in info.value.message and info.value.hint == hint
    assert str(info.value.location) == "monitors/s.yml:9"


@pytest.mark.parametrize("expression", ["steps[7].name == 'x'", "outcome.__class__.__mro__[1].__subclasses__()"])
def test_when_failing_at_run_time_never_raises(expression: str, tmp_path: Path) -> None:
    reporter = FileReporter(path=tmp_path / "r.jsonl", when=expression)
    result = reporter.report(make_run())
    assert not result.ok and "'when' could not be evaluated" in (result.error or "")
    assert not (tmp_path / "r.jsonl").exists()


# ---------------------------------------------------------------------------------------------
# file and stdout


def test_file_reporter_appends_json_lines(tmp_path: Path) -> None:
    reporter = parse_reporter({"type": "file", "path": "logs/runs/scenarios.jsonl"}, base_dir=tmp_path)
    assert reporter.report(make_run(Outcome.SUCCESS)).ok
    assert reporter.report(make_run(Outcome.FAILED)).ok
    lines = (tmp_path / "logs" / "runs" / "scenarios.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["outcome"] for line in lines] == ["SUCCESS", "FAILED"]
    assert json.loads(lines[0]) == make_run(Outcome.SUCCESS).payload()


def test_file_reporter_failure_is_a_result(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    result = FileReporter(path=tmp_path / "taken").report(make_run())
    assert not result.ok and "IsADirectoryError" in (result.error or "")


def test_stdout_reporter(capsys: pytest.CaptureFixture[str]) -> None:
    assert parse_reporter({"type": "stdout"}).report(make_run()).ok
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "scenario retrain_model run run-1: FAILED (trigger weekly, 4.0s)"
    assert out[2] == "  FAILED   run_mes_checks [run_checks]: data_drift_in_range: ERROR <0.7>"
    assert out[3] == "  SKIPPED  build_model [train]"
    stream = io.StringIO()
    StdoutReporter(stream=stream).report(make_run())
    assert stream.getvalue().startswith("scenario retrain_model")


def test_report_all_isolates_failures(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    reporters = parse_reporters(
        [
            {"type": "webhook", "url": f"http://127.0.0.1:{port}/x", "retries": 0},
            {"type": "file", "path": "runs.jsonl"},
        ],
        base_dir=tmp_path,
    )
    results = report_all(reporters, make_run())
    assert [r.ok for r in results] == [False, True]


# ---------------------------------------------------------------------------------------------
# secrets and parsing


def test_redact_and_safe_url() -> None:
    assert redact("token abc and abcdef", ["abc", "abcdef", "", None]) == "token *** and ***"
    assert safe_url("https://user:pw@hooks.slack.com/services/T0/B0/X?y=1") == "https://hooks.slack.com/…"
    assert safe_url("http://127.0.0.1:8080") == "http://127.0.0.1:8080"
    assert safe_url("not a url") == "<invalid url>"


def test_secrets_stay_out_of_reprs_and_errors() -> None:
    url = "https://hooks.example.com" + SECRET_PATH
    reporter = parse_reporter({"type": "webhook", "url": url, "headers": SECRET_HEADERS, "name": None})
    assert_no_secret(repr(reporter), reporter.description, str(reporter.__dict__.get("when")))
    assert reporter.description == "webhook https://hooks.example.com/…"
    with pytest.raises(ConfigError) as info:
        parse_reporter({"type": "webhook", "url": "ftp://x/" + SECRET_PATH, "headers": SECRET_HEADERS})
    assert_no_secret(str(info.value))


@pytest.mark.parametrize(
    "spec,fragment,hint",
    [
        ({"type": "slack"}, "reporter type must be one of", None),
        ({"type": "stdot"}, "reporter type must be one of", "did you mean 'stdout'?"),
        ({"type": "file"}, "file reporter needs a path", None),
        ({"type": "webhook", "url": ""}, "webhook reporter needs a url", "is the environment variable it reads set?"),
        ({"type": "webhook", "url": "http://h/x", "timeout": 0}, "timeout must be a number of seconds > 0", None),
        ({"type": "webhook", "url": "http://h/x", "retries": True}, "retries must be a whole number", None),
        ({"type": "webhook", "url": "http://h/x", "retries": 1.5}, "retries must be a whole number", None),
        ({"type": "webhook", "url": "http://h/x", "format": "teams"}, "format must be 'json' or 'slack'", None),
        ({"type": "webhook", "url": "http://h/x", "headers": ["a"]}, "headers must map", None),
        ({"type": "webhook", "url": "http://h/x", "retry": 2}, "unknown key 'retry'", "did you mean 'retries'?"),
        ("stdout", "must be a mapping", None),
    ],
)
def test_parse_errors(spec: object, fragment: str, hint: str | None) -> None:
    with pytest.raises(ConfigError) as info:
        parse_reporter(spec)
    assert fragment in info.value.message and info.value.hint == hint


def test_parse_reporters_collects_errors() -> None:
    with pytest.raises(ProjectErrors) as info:
        parse_reporters([{"type": "stdout"}, {"type": "x"}, {"type": "file"}])
    assert len(info.value.errors) == 2
    assert parse_reporters(None) == []


# ---------------------------------------------------------------------------------------------
# redaction by the secret values themselves, one test per form they can take

ENV_SECRET = "tok/en+va=lue&\x01ctl é"


def test_redact_hides_the_raw_value() -> None:
    assert redact(f"error at https://h/{ENV_SECRET}/x", [ENV_SECRET]) == "error at https://h/***/x"


def test_redact_hides_the_repr_escaped_value() -> None:
    for text in (repr(ENV_SECRET), ascii(ENV_SECRET), json.dumps(ENV_SECRET),
                 ENV_SECRET.encode("unicode_escape").decode("ascii")):
        assert "tok" not in redact(f"URL can't contain control characters. {text}", [ENV_SECRET]), text


def test_redact_hides_the_url_encoded_value() -> None:
    from urllib.parse import quote, quote_plus

    for text in (quote(ENV_SECRET), quote(ENV_SECRET, safe=""), quote_plus(ENV_SECRET)):
        assert "tok" not in redact(f"GET /hook/{text} failed", [ENV_SECRET]), text
    encoded = "a%2Fsecret%20here"  # a secret written percent-encoded is hidden decoded too
    assert redact("path a/secret here", [encoded]) == "path ***"


def test_redact_hides_the_value_inside_a_traceback() -> None:
    import traceback

    def deep(url: str) -> None:
        raise ValueError(f"cannot post to {url!r}")

    try:
        deep("http://h/" + ENV_SECRET)
    except ValueError as exc:
        text = "".join(traceback.format_exception(exc))
    assert "tok" in text
    assert "tok" not in redact(text, [ENV_SECRET])


def test_a_failing_reporter_logs_its_traceback_redacted(caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    secret = "env-Secret-9f\x02x"
    (tmp_path / "a_file").write_text("")
    reporter = FileReporter(path=tmp_path / "a_file" / secret / "runs.jsonl", secrets=frozenset({secret}))
    with caplog.at_level(logging.DEBUG, "mlmon"):
        result = reporter.report(make_run())
    assert not result.ok and "Traceback" in caplog.text and "***" in caplog.text
    for text in (caplog.text, result.error or ""):
        assert "env-Secret" not in text


@pytest.mark.parametrize("url,fragment", [
    ("http://[hooks.example.com/T0SECRET", "webhook url is malformed"),
    ("http://127.0.0.1:99999/T0SECRET", "webhook url is malformed"),
    ("http://127.0.0.1/T0SECRET\x01", "space or a control character"),
    ("http://127.0.0.1/T0 SECRET", "space or a control character"),
])
def test_a_malformed_url_is_a_config_error_that_does_not_quote_it(url: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_reporter({"type": "webhook", "url": url})
    assert fragment in info.value.message
    assert "SECRET" not in str(info.value)


def test_webhook_goes_through_the_http_proxy_the_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    heads: list[bytes] = []

    def proxy(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")

    with raw_server(proxy, heads) as url:
        monkeypatch.setenv("http_proxy", url.replace("http://", "http://user:pw@"))
        monkeypatch.setenv("no_proxy", "")
        result = WebhookReporter(url="http://hooks.invalid/path?x=1", retries=0).report(make_run())
    assert result.ok, result.error
    request_line, *header_lines = heads[0].decode().split("\r\n")
    assert request_line == "POST http://hooks.invalid/path?x=1 HTTP/1.1"  # the absolute form a proxy reads
    assert "Proxy-Authorization: Basic dXNlcjpwdw==" in header_lines
