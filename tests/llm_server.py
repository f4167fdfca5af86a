"""A stand-in for a paid OpenAI-compatible chat service, on loopback.

It speaks the streaming chat-completions protocol (server-sent events, one
`data:` line per delta, then `data: [DONE]`) and replies with whatever the test
scripts; it also records the requests it received. Used only where a real
service would cost money; everything else in the LLM path is the real code.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeChatService:
    def __init__(self) -> None:
        self.pieces: list[str] = ["回答[1]。"]
        self.delay = 0.0
        self.status = 200
        self.requests: list[dict] = []
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                # The client may give up first (the timeout tests do so on purpose).
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self._reply()

            def _reply(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                service.requests.append(
                    {
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": json.loads(self.rfile.read(length) or b"{}"),
                    }
                )
                time.sleep(service.delay)
                if service.status != 200:
                    self.send_response(service.status)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for piece in service.pieces:
                    chunk = {"choices": [{"index": 0, "delta": {"content": piece}}]}
                    self.wfile.write(f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode())
                    self.wfile.flush()
                self.wfile.write(b"data: [DONE]\n\n")

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeChatService:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextlib.contextmanager
def answering_through(service, url: str, timeout: float = 5.0) -> Iterator[None]:
    """`service` answers through the chat service at `url` inside the block, and
    extractively again after it, whatever the block raised."""
    from answer.llm import ChatClient

    service.llm = ChatClient(url, "m", None, timeout=timeout)
    try:
        yield
    finally:
        service.llm = None
