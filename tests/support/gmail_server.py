"""A local HTTP server that answers like Google's OAuth2 token and Gmail send endpoints.

Tests queue answers per endpoint (``server.token_answers``/``send_answers``:
``(status, json body, headers)``); with none queued it answers success. Every
request is recorded with its path, headers and body.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = tuple[int, dict[str, Any], dict[str, str]]


@dataclass
class RecordedRequest:
    """One request the fake Google received."""

    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class GmailState:
    """Queued answers and recorded requests, shared with the handler thread."""

    token_answers: list[Answer] = field(default_factory=list)
    send_answers: list[Answer] = field(default_factory=list)
    requests: list[RecordedRequest] = field(default_factory=list)
    tokens_issued: int = 0

    def paths(self) -> list[str]:
        """Paths requested, in order."""
        return [request.path for request in self.requests]


def _handler(state: GmailState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.requests.append(RecordedRequest(self.path, dict(self.headers), body))
            if self.path == "/token":
                status, payload, headers = self._next(state.token_answers, self._token())
            else:
                status, payload, headers = self._next(
                    state.send_answers, (200, {"id": "gmail-1", "threadId": "t-1"}, {})
                )
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _token(self) -> Answer:
            state.tokens_issued += 1
            token = f"access-{state.tokens_issued}"
            return 200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}, {}

        def _next(self, queue: list[Answer], default: Answer) -> Answer:
            return queue.pop(0) if queue else default

        def log_message(self, format: str, *args: Any) -> None:
            return None  # keep test output quiet

    return Handler


class GmailTestServer:
    """The fake Google on 127.0.0.1, in a thread."""

    def __init__(self) -> None:
        self.state = GmailState()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.state))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> GmailTestServer:
        """Start serving; returns self."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()
