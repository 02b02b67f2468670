"""A small, torch-free HTTP(S) downloader on :mod:`urllib`: progress, resume, cancel, sha256.

:func:`download_url` streams a URL into a temporary ``.part`` file inside the destination folder and
returns it with its sha256; the caller moves it into place (``os.replace``, same folder, atomic)
after its own checks. Behaviour:

* **Proxies** come from the environment (``http_proxy``, ``https_proxy``, ``no_proxy``: urllib's
  :class:`~urllib.request.ProxyHandler`).
* **Fail fast**: the host (or proxy) name is resolved in a helper thread bounded by
  ``connect_timeout`` and the TCP connect (plus TLS handshake) uses the same bound; a host that
  refuses or does not answer fails on the first attempt, with no retry loop. Once connected, reads
  use ``read_timeout``.
* **Resume**: a connection that drops mid-body is reopened with ``Range: bytes=N-`` (HTTP 206
  appends; a server answering 200 restarts from zero). Only a retry that follows progress is made,
  at most ``max_resumes`` in a row without new bytes.
* **Cancel**: ``cancel.is_set()`` is polled between 64 KiB chunks; the temporary file is removed and
  :class:`~symnet_core.cancel.OperationCancelled` raised. Any failure removes the temporary file too.
* **sha256**: with ``expected_sha256`` a mismatch removes the file and raises :class:`HashMismatch`
  naming both hashes.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import secrets
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from symnet_core.cancel import CancelLike, OperationCancelled

__all__ = ["DownloadError", "DownloadProgress", "HashMismatch", "download_url", "sha256_file"]

CHUNK = 64 * 1024
PART_SUFFIX = ".part"


class DownloadError(RuntimeError):
    """A download failed. ``attempts``: HTTP connections opened (1 = failed at once, no retry loop)."""

    def __init__(self, message: str, attempts: int = 1) -> None:
        super().__init__(message)
        self.attempts = attempts


class HashMismatch(DownloadError):
    """The file's sha256 is not the expected one (the file has been removed)."""

    def __init__(self, what: str, expected: str, actual: str) -> None:
        super().__init__(f"{what}: sha256 mismatch — expected {expected}, got {actual}; the file was removed")
        self.expected = expected
        self.actual = actual


@dataclass(frozen=True)
class DownloadProgress:
    """done: bytes on disk so far; total: expected bytes or None; rate: bytes/s this session;
    eta: seconds left or None."""

    done: int
    total: int | None
    rate: float
    eta: float | None

    def describe(self) -> str:
        mb = 1024 * 1024
        total = f"/{self.total / mb:.1f}" if self.total else ""
        eta = f", {int(self.eta) // 60}:{int(self.eta) % 60:02d} left" if self.eta is not None else ""
        return f"{self.done / mb:.1f}{total} MB at {self.rate / mb:.2f} MB/s{eta}"


def sha256_file(path: str | os.PathLike[str], cancel: CancelLike | None = None) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks (``cancel`` polled between blocks)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            if cancel is not None and cancel.is_set():
                raise OperationCancelled()
            h.update(block)
    return h.hexdigest()


def _resolve_bounded(host: str, port: int, timeout: float) -> None:
    """getaddrinfo in a daemon thread, bounded by ``timeout`` (socket timeouts do not cover DNS)."""
    outcome: list[BaseException | None] = []

    def work() -> None:
        try:
            socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            outcome.append(None)
        except OSError as exc:
            outcome.append(exc)

    t = threading.Thread(target=work, name="symnet-dns", daemon=True)
    t.start()
    t.join(timeout)
    if not outcome:
        raise OSError(f"name lookup of {host} took longer than {timeout:g} s")
    if outcome[0] is not None:
        raise outcome[0]


def _connection_classes(connect_timeout: float, read_timeout: float):
    class _Conn(http.client.HTTPConnection):
        def connect(self) -> None:
            self.timeout = connect_timeout
            super().connect()
            self.sock.settimeout(read_timeout)

    class _SConn(http.client.HTTPSConnection):
        def connect(self) -> None:
            self.timeout = connect_timeout
            super().connect()
            self.sock.settimeout(read_timeout)

    class _Handler(urllib.request.HTTPHandler):
        def http_open(self, req):
            return self.do_open(_Conn, req)

    class _SHandler(urllib.request.HTTPSHandler):
        def https_open(self, req):
            return self.do_open(_SConn, req, context=self._context)

    return _Handler, _SHandler


def _endpoint(url: str) -> tuple[str, int]:
    """(host, port) the first TCP connection goes to: the proxy's when the environment sets one."""
    parsed = urlparse(url)
    proxies = urllib.request.getproxies()
    proxy = proxies.get(parsed.scheme)
    if proxy and not urllib.request.proxy_bypass(parsed.hostname or ""):
        p = urlparse(proxy if "://" in proxy else f"http://{proxy}")
        return p.hostname or "", p.port or 80
    return parsed.hostname or "", parsed.port or (443 if parsed.scheme == "https" else 80)


def _hand_hint(url: str, dest_dir: Path) -> str:
    return (f"download it by another means (browser, another machine) and register it with "
            f"`symnet-annotate models add /path/to/{Path(urlparse(url).path).name or 'file'}`; "
            f"models folder: {dest_dir}")


def download_url(
    url: str,
    dest_dir: str | os.PathLike[str],
    *,
    expected_sha256: str | None = None,
    progress: Callable[[DownloadProgress], None] | None = None,
    cancel: CancelLike | None = None,
    connect_timeout: float = 1.5,
    read_timeout: float = 30.0,
    max_resumes: int = 5,
) -> tuple[Path, str]:
    """Download ``url`` into a temporary file in ``dest_dir``; return (temporary path, sha256 hex).

    Raises :class:`DownloadError` (unreachable, HTTP error, dropped beyond resuming),
    :class:`HashMismatch`, :class:`~symnet_core.cancel.OperationCancelled`. Nothing is left in
    ``dest_dir`` when it raises.
    """
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    scheme = urlparse(url).scheme
    if scheme not in ("http", "https"):
        raise DownloadError(f"{url}: only http(s) URLs are downloaded here")
    handler, shandler = _connection_classes(connect_timeout, read_timeout)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler(), handler(), shandler())
    opener.addheaders = [("User-Agent", "symnet-annotate-models/1"), ("Accept-Encoding", "identity")]
    part = dest / f".{secrets.token_hex(6)}{PART_SUFFIX}"
    hasher = hashlib.sha256()
    done = 0
    total: int | None = None
    attempts = 0
    stalls = 0
    start = time.monotonic()
    session_bytes = 0
    try:
        with open(part, "wb") as out:
            while True:
                if cancel is not None and cancel.is_set():
                    raise OperationCancelled()
                req = urllib.request.Request(url)
                if done:
                    req.add_header("Range", f"bytes={done}-")
                attempts += 1
                try:
                    if attempts == 1:
                        host, port = _endpoint(url)
                        _resolve_bounded(host, port, connect_timeout)
                    resp = opener.open(req)
                except urllib.error.HTTPError as exc:
                    raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}; {_hand_hint(url, dest)}",
                                        attempts) from exc
                except (urllib.error.URLError, OSError) as exc:
                    reason = getattr(exc, "reason", exc)
                    if done == 0 or attempts == 1:
                        host, port = _endpoint(url)
                        raise DownloadError(
                            f"{url}: cannot connect to {host}:{port} ({reason}; tried once, "
                            f"{connect_timeout:g} s limit, proxies from the environment); {_hand_hint(url, dest)}",
                            attempts) from exc
                    stalls += 1
                    if stalls > max_resumes:
                        raise DownloadError(f"{url}: connection lost at {done} bytes and could not be resumed "
                                            f"({reason}); {_hand_hint(url, dest)}", attempts) from exc
                    continue
                with resp:
                    if done and resp.status != 206:  # the server ignored Range: start over
                        out.seek(0)
                        out.truncate()
                        hasher = hashlib.sha256()
                        done = 0
                    if total is None or resp.status == 200:
                        length = resp.headers.get("Content-Length")
                        total = (int(length) + done) if length and length.isdigit() else None
                    got_any = False
                    try:
                        while True:
                            if cancel is not None and cancel.is_set():
                                raise OperationCancelled()
                            chunk = resp.read(CHUNK)
                            if not chunk:
                                break
                            out.write(chunk)
                            hasher.update(chunk)
                            done += len(chunk)
                            session_bytes += len(chunk)
                            got_any = True
                            if progress is not None:
                                elapsed = max(time.monotonic() - start, 1e-6)
                                rate = session_bytes / elapsed
                                eta = (total - done) / rate if total and rate > 0 else None
                                progress(DownloadProgress(done, total, rate, eta))
                    except (http.client.IncompleteRead, OSError) as exc:
                        stalls = 0 if got_any else stalls + 1
                        if stalls > max_resumes:
                            raise DownloadError(f"{url}: connection lost at {done} bytes and could not be "
                                                f"resumed ({exc}); {_hand_hint(url, dest)}", attempts) from exc
                        continue
                if total is not None and done < total:  # closed early without an error
                    stalls = 0 if got_any else stalls + 1
                    if stalls > max_resumes:
                        raise DownloadError(f"{url}: the server sent {done} of {total} bytes; "
                                            f"{_hand_hint(url, dest)}", attempts)
                    continue
                break
            out.flush()
            os.fsync(out.fileno())
        digest = hasher.hexdigest()
        if expected_sha256 and digest != expected_sha256.lower():
            raise HashMismatch(url, expected_sha256.lower(), digest)
        return part, digest
    except BaseException:
        part.unlink(missing_ok=True)
        raise
