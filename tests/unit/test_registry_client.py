"""The HTTP registry client against a scripted loopback server: what a real registry does at the edges.

Apicurio with Kafka storage, just started, refuses a compatibility rule it has not read back
from its journal yet ("409 A rule named 'COMPATIBILITY' already exists"); `irl topics create`
run then (as `make up` does right after starting it) must not fail.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from streams.registry import HttpRegistryClient, RegistryRefused


class _Script:
    """Answers per method: a list of (status, body), the last repeated."""

    def __init__(self, answers: dict[str, list[tuple[int, Any]]]) -> None:
        self.answers = answers
        self.calls: list[str] = []

    def next(self, method: str) -> tuple[int, Any]:
        self.calls.append(method)
        queue = self.answers[method]
        return queue.pop(0) if len(queue) > 1 else queue[0]


@pytest.fixture
def server() -> Iterator[tuple[str, _Script]]:
    script = _Script({})

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            status, body = script.next(self.command)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_PUT = _answer

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/apis/ccompat/v7", script
    finally:
        httpd.shutdown()
        httpd.server_close()


CONFLICT = (409, {"error_code": 409, "message": "A rule named 'COMPATIBILITY' already exists."})


def test_a_rule_that_exists_already_is_set(server: tuple[str, _Script]) -> None:
    url, script = server
    script.answers = {"PUT": [CONFLICT, CONFLICT, (200, {})], "GET": [(404, {}), (404, {})]}
    HttpRegistryClient(url).set_compatibility("irl.touchpoint.web-value", "FULL_TRANSITIVE")
    assert script.calls == ["PUT", "GET", "PUT", "GET", "PUT"]


def test_a_conflict_that_reads_back_as_the_rule_is_done(server: tuple[str, _Script]) -> None:
    url, script = server
    script.answers = {"PUT": [CONFLICT], "GET": [(200, {"compatibilityLevel": "FULL_TRANSITIVE"})]}
    HttpRegistryClient(url).set_compatibility("irl.touchpoint.web-value", "FULL_TRANSITIVE")
    assert script.calls == ["PUT", "GET"]


def test_other_refusals_still_raise(server: tuple[str, _Script]) -> None:
    url, script = server
    script.answers = {"PUT": [(422, {"error_code": 42203, "message": "Invalid compatibility level"})]}
    with pytest.raises(RegistryRefused) as caught:
        HttpRegistryClient(url).set_compatibility("irl.touchpoint.web-value", "SIDEWAYS")
    assert caught.value.status == 422
