"""Benchmark: how long ``models add`` takes to fail when the host cannot be reached.

Three cases, each timed with ``time.monotonic`` around :meth:`ModelManager.add` (no server involved):

* ``refused_s``: 127.0.0.1 on a port nobody listens on (connection refused);
* ``blackhole_s``: 10.255.255.1, a non-routed private address (the connect times out; the limit is
  the downloader's 1.5 s connect timeout);
* ``bad_name_s``: a name that does not resolve (``.invalid`` is reserved by RFC 2606).

Each reports ``attempts`` (HTTP connections opened: 1 = no retry loop) and the first words of the error.
With an http proxy in the environment the proxy answers instead (its own error, e.g. 404/502): run
with ``no_proxy='*'`` to time the direct path. ``proxy_from_environment`` lists the schemes that had one.
Usage: ``python bench/bench_models_unreachable.py``. Prints one JSON object.
"""

from __future__ import annotations

import json
import socket
import tempfile
import time


def _time(url: str, models_dir: str) -> dict:
    from symnet_core.weights import DownloadError, ModelManager

    t0 = time.monotonic()
    try:
        ModelManager(models_dir).add(url)
    except DownloadError as exc:
        return {"seconds": round(time.monotonic() - t0, 3), "attempts": exc.attempts, "error": str(exc)[:160]}
    return {"seconds": round(time.monotonic() - t0, 3), "attempts": None, "error": "unexpectedly succeeded"}


def main() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as d:
        out = {
            "refused": _time(f"http://127.0.0.1:{port}/x.pth", d),
            "blackhole": _time("http://10.255.255.1/x.pth", d),
            "bad_name": _time("http://no-such-host.invalid/x.pth", d),
        }
    import urllib.request

    out["proxy_from_environment"] = sorted(urllib.request.getproxies())  # schemes only, never the address
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
