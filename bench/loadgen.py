"""A small HTTP/1.1 keep-alive load generator (asyncio), shared by the web benchmarks.

It runs in its own process so its CPU use is measured apart from the server's;
each of ``clients`` connections sends one request at a time and waits for the
full response, like a browser tab.
"""
from __future__ import annotations

import asyncio
import ssl
import statistics
import time


async def _exchange(reader, writer, host, port, path):
    """One request and its full response: (status, head).

    A path written ``//name/rest`` is sent as ``/rest`` with ``Host: name``
    (several towns on one server, chosen by host name)."""
    if path.startswith("//"):
        host, _, rest = path[2:].partition("/")
        path = "/" + rest
    request = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept-Language: ja\r\n"
               "Connection: keep-alive\r\n\r\n").encode()
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await reader.readexactly(length)
    return status, head


def _location(head: bytes) -> str | None:
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"location:"):
            return line.split(b":", 1)[1].strip().decode()
    return None


def _connect(host, port, tls):
    # tls: an SSLContext (through the TLS proxy) or None (plain HTTP to waitress)
    return asyncio.open_connection(host, port, ssl=tls, server_hostname=host if tls else None)


async def _client(host, port, paths, deadline, latencies, errors, statuses, follow_redirects=False, tls=None):
    reader, writer = await _connect(host, port, tls)
    i = 0
    try:
        while time.perf_counter() < deadline:
            path = paths[i % len(paths)]
            i += 1
            t0 = time.perf_counter()
            status, head = await _exchange(reader, writer, host, port, path)
            # With follow_redirects a "request" is the redirect plus the page
            # it points to, timed together, as a browser experiences it.
            if follow_redirects and status in (301, 302, 303, 307, 308) and b"connection: close" not in head.lower():
                target = _location(head)
                if target and target.startswith("/"):
                    status, head = await _exchange(reader, writer, host, port, target)
            latencies.append(time.perf_counter() - t0)
            statuses[status] = statuses.get(status, 0) + 1
            if status >= 400:
                errors.append(status)
            if b"connection: close" in head.lower():
                writer.close()
                reader, writer = await _connect(host, port, tls)
    finally:
        writer.close()


async def _run(host, port, paths, clients, seconds, follow_redirects=False, tls=None):
    latencies: list[float] = []
    errors: list[int] = []
    statuses: dict[int, int] = {}
    start = time.perf_counter()
    deadline = start + seconds
    await asyncio.gather(*(_client(host, port, paths, deadline, latencies, errors, statuses, follow_redirects, tls)
                           for _ in range(clients)))
    elapsed = time.perf_counter() - start
    return latencies, errors, statuses, elapsed


def measure(host: str, port: int, paths: list[str], *, clients: int = 32, seconds: float = 8.0,
            follow_redirects: bool = False, cafile: str | None = None) -> dict:
    """``cafile``: speak TLS, trusting that certificate (the local proxy's self-signed one)."""
    tls = ssl.create_default_context(cafile=cafile) if cafile else None
    latencies, errors, statuses, elapsed = asyncio.run(_run(host, port, paths, clients, seconds, follow_redirects,
                                                            tls))
    latencies.sort()

    def pct(p):
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else float("nan")

    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "mean_ms": statistics.fmean(latencies) * 1000 if latencies else float("nan"),
        "errors": len(errors),
        "statuses": statuses,
    }
