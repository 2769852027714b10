"""Open-loop load generator (its own process): POSTs signed ballots at a fixed offered rate over
keep-alive HTTP/1.1 connections and records each acknowledgement's latency.

Raw asyncio streams on uvloop, not an HTTP library: on a two-core machine the generator must
cost far less CPU than the server it measures (it shares the cores with the server, its relay
worker and the node).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from urllib.parse import urlsplit

import uvloop


async def run(url: str, bodies: list[bytes], rate: float, concurrency: int) -> dict[str, object]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    queue: asyncio.Queue[tuple[int, bytes] | None] = asyncio.Queue()
    latencies: list[float] = []
    errors: dict[str, int] = {}
    scheduled: list[float] = [0.0] * len(bodies)

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while (item := await queue.get()) is not None:
                index, body = item
                head = (
                    f"POST /v1/ballots HTTP/1.1\r\nHost: {host}:{port}\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
                ).encode()
                writer.write(head + body)
                status_line = await reader.readline()
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                await reader.readexactly(length)
                # Latency from when the request was due, not sent: queueing in the generator
                # counts against the server, as it would for a real client.
                elapsed = (time.perf_counter() - scheduled[index]) * 1000
                status = status_line.split(b" ")[1].decode() if status_line else "closed"
                if status == "202":
                    latencies.append(elapsed)
                else:
                    errors[status] = errors.get(status, 0) + 1
        finally:
            writer.close()

    workers = [asyncio.create_task(connection()) for _ in range(concurrency)]
    t0 = time.perf_counter()
    for i, body in enumerate(bodies):
        due = t0 + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        scheduled[i] = due
        queue.put_nowait((i, body))
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    seconds = time.perf_counter() - t0
    return {
        "accepted": len(latencies),
        "errors": errors,
        "seconds": seconds,
        "latencies_ms": latencies,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--input", type=Path, required=True)
    parser.add_argument("--rate", type=float, default=1000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    bodies = [line.encode() for line in args.input.read_text().splitlines()]
    result = uvloop.run(run(args.url, bodies, args.rate, args.concurrency))
    args.out.write_text(json.dumps(result))


if __name__ == "__main__":
    main()
