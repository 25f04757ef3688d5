"""A small HTTP/1.1 keep-alive load generator (asyncio), shared by the web benchmarks.

It runs in its own process so its CPU use is measured apart from the server's;
each of ``clients`` connections sends one request at a time and waits for the
full response, like a browser tab.
"""
from __future__ import annotations

import asyncio
import statistics
import time


async def _client(host, port, paths, deadline, latencies, errors, statuses):
    reader, writer = await asyncio.open_connection(host, port)
    i = 0
    try:
        while time.perf_counter() < deadline:
            path = paths[i % len(paths)]
            i += 1
            request = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept-Language: ja\r\n"
                       "Connection: keep-alive\r\n\r\n").encode()
            t0 = time.perf_counter()
            writer.write(request)
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - t0)
            statuses[status] = statuses.get(status, 0) + 1
            if status >= 400:
                errors.append(status)
            if b"connection: close" in head.lower():
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
    finally:
        writer.close()


async def _run(host, port, paths, clients, seconds):
    latencies: list[float] = []
    errors: list[int] = []
    statuses: dict[int, int] = {}
    start = time.perf_counter()
    deadline = start + seconds
    await asyncio.gather(*(_client(host, port, paths, deadline, latencies, errors, statuses)
                           for _ in range(clients)))
    elapsed = time.perf_counter() - start
    return latencies, errors, statuses, elapsed


def measure(host: str, port: int, paths: list[str], *, clients: int = 32, seconds: float = 8.0) -> dict:
    latencies, errors, statuses, elapsed = asyncio.run(_run(host, port, paths, clients, seconds))
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
