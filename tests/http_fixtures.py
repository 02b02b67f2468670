"""A real HTTP server on 127.0.0.1 (a thread) for the model-download tests, and a tiny checkpoint in the
authors' layout (``{'epoch', 'state_dict': {'module.' + key: tensor}}``)."""

from __future__ import annotations

import http.server
import io
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch

from tests.model_helpers import tiny_model


def authors_layout_bytes(seed: int = 0, **overrides: object) -> bytes:
    """A tiny Sym-Net saved the way the authors' train.py saves: DDP ``module.`` prefix, epoch, state_dict."""
    state = tiny_model(1, seed=seed, **overrides).state_dict()
    buf = io.BytesIO()
    torch.save({"epoch": 3, "state_dict": {"module." + k: v for k, v in state.items()}}, buf)
    return buf.getvalue()


@dataclass
class ServerState:
    """What the server serves and how it misbehaves. ``drop_after``: on the first full (non-Range) GET,
    send that many bytes of the body then close the connection. ``requests``: (path, Range header) seen."""

    files: dict[str, bytes] = field(default_factory=dict)
    drop_after: int | None = None
    honour_range: bool = True
    chunk_delay_s: float = 0.0
    requests: list[tuple[str, str | None]] = field(default_factory=list)


def _handler(state: ServerState):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # keep pytest output clean
            pass

        def do_GET(self) -> None:
            rng = self.headers.get("Range")
            state.requests.append((self.path, rng))
            body = state.files.get(self.path)
            if body is None:
                self.send_error(404)
                return
            start = 0
            if rng and state.honour_range:
                start = int(rng.split("=")[1].split("-")[0])
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            else:
                self.send_response(200)
            self.send_header("Content-Length", str(len(body) - start))
            self.send_header("Accept-Ranges", "bytes")
            self.end_headers()
            if state.drop_after is not None and not rng:
                self.wfile.write(body[: state.drop_after])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)
                return
            if not state.chunk_delay_s:
                self.wfile.write(body[start:])
                return
            for i in range(start, len(body), 65536):  # a slow server: cancel tests can act mid-file
                try:
                    self.wfile.write(body[i : i + 65536])
                except OSError:
                    return
                time.sleep(state.chunk_delay_s)

    return Handler


@contextmanager
def serve(state: ServerState):
    """Serve ``state`` on 127.0.0.1 (a free port); yields the base URL ``http://127.0.0.1:PORT``."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
