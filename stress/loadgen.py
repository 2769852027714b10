"""The stress load generator (its own process): offers pre-signed messages at a fixed rate over
keep-alive HTTP/1.1 and retries, as a client would, every one not yet acknowledged.

Open loop: message i is due at t0 + i / rate whatever happened to the ones before it. A message
counts as acknowledged only on a 202 carrying a receipt id. A refused connection, a reset, a
timeout, a 5xx or a 429 is retried (backing off, 0.25 s to 4 s) until acknowledged or the drain
deadline passes; another 4xx is a refusal and is not retried (a correct workload gets none).
Resending is safe: the same signed message gets the same receipt and lands once.

Raw asyncio streams, not an HTTP library: on two cores the generator must cost far less CPU than
the server it loads.

    python -m stress.loadgen --url http://127.0.0.1:8000 --input messages.tsv --start 0 \
        --count 10000 --rate 400 --out acks.json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import heapq
import json
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

REQUEST_TIMEOUT_S = 30.0
RETRY_FIRST_S = 0.25
RETRY_MAX_S = 4.0
WINDOW_S = 10.0
CONN_ERROR_PAUSE_S = 0.25


class Failed(Exception):
    """A request that got no usable answer (no connection, reset, timeout)."""


@dataclass
class Stats:
    t0: float
    acks: list[tuple[int, str, float, int]] = field(default_factory=list)  # index, id, t, tries
    refused: list[tuple[int, int, str]] = field(default_factory=list)  # index, status, body
    latencies: list[tuple[float, float]] = field(default_factory=list)  # t_ack, ms since due
    windows: dict[int, Counter[str]] = field(default_factory=dict)

    def count(self, what: str, at: float | None = None) -> None:
        window = int(((at if at is not None else time.time()) - self.t0) // WINDOW_S)
        self.windows.setdefault(window, Counter())[what] += 1


async def run(
    url: str,
    lines: list[tuple[str, bytes]],
    rate: float,
    concurrency: int,
    drain_s: float,
) -> Stats:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    queue: asyncio.Queue[int | None] = asyncio.Queue()
    retry_heap: list[tuple[float, int]] = []
    tries = [0] * len(lines)
    due = [0.0] * len(lines)
    settled = 0
    all_settled = asyncio.Event()
    stats = Stats(t0=time.time())
    if not lines:
        all_settled.set()

    def settle() -> None:
        nonlocal settled
        settled += 1
        if settled == len(lines):
            all_settled.set()

    def retry_later(index: int) -> None:
        delay = min(RETRY_MAX_S, RETRY_FIRST_S * 2 ** min(tries[index] - 1, 5))
        heapq.heappush(retry_heap, (time.monotonic() + delay * random.uniform(0.8, 1.2), index))

    async def exchange(
        conn: tuple[asyncio.StreamReader, asyncio.StreamWriter], index: int
    ) -> tuple[int, bytes, bool]:
        reader, writer = conn
        path, body = lines[index]
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        writer.write(head + body)
        await writer.drain()
        status_line = await reader.readline()
        if not status_line:
            raise Failed("closed")
        length, close = 0, False
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
        payload = await reader.readexactly(length)
        return int(status_line.split(b" ")[1]), payload, close

    async def worker() -> None:
        conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        while (index := await queue.get()) is not None:
            tries[index] += 1
            stats.count("attempts")
            try:
                if conn is None:
                    conn = await asyncio.wait_for(
                        asyncio.open_connection(host, port), REQUEST_TIMEOUT_S
                    )
                status, payload, close = await asyncio.wait_for(
                    exchange(conn, index), REQUEST_TIMEOUT_S
                )
            except (OSError, Failed, TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
                stats.count("error:" + ("timeout" if isinstance(exc, TimeoutError) else "conn"))
                if conn is not None:
                    conn[1].close()
                    conn = None
                retry_later(index)
                # The server is away: this connection waits a little, or 64 of them would spin.
                await asyncio.sleep(CONN_ERROR_PAUSE_S)
                continue
            if close:
                conn[1].close()
                conn = None
            now = time.time()
            if status == 202:
                receipt = json.loads(payload)["id"]
                stats.acks.append((index, receipt, now, tries[index]))
                stats.latencies.append((now, (now - due[index]) * 1000))
                stats.count("acked", now)
                settle()
            elif status == 429 or status >= 500:
                stats.count(f"error:{status}")
                retry_later(index)
            else:
                stats.refused.append((index, status, payload.decode(errors="replace")[:300]))
                stats.count(f"refused:{status}")
                settle()
        if conn is not None:
            conn[1].close()

    async def retrier() -> None:
        while not all_settled.is_set():
            now = time.monotonic()
            while retry_heap and retry_heap[0][0] <= now:
                queue.put_nowait(heapq.heappop(retry_heap)[1])
            await asyncio.sleep(0.05)

    workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
    retry_task = asyncio.create_task(retrier())
    start = time.perf_counter()
    wall = time.time()
    stats.t0 = wall
    print(f"t0 {wall:.3f}", flush=True)
    for i in range(len(lines)):
        at = start + i / rate
        delay = at - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        due[i] = wall + (at - start)
        stats.count("offered", due[i])
        queue.put_nowait(i)
    print(f"offered {len(lines)} in {time.perf_counter() - start:.1f}s", flush=True)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(all_settled.wait(), drain_s)
    all_settled.set()
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers, retry_task)
    return stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--input", type=Path, required=True, help="lines of path<TAB>json body")
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--rate", type=float, required=True, help="messages per second offered")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--drain-s", type=float, default=120.0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    with args.input.open("rb") as fh:
        raw = fh.read().splitlines()[args.start : args.start + args.count]
    lines = []
    for line in raw:
        path, _, body = line.partition(b"\t")
        lines.append((path.decode(), body))
    stats = asyncio.run(run(args.url, lines, args.rate, args.concurrency, args.drain_s))
    settled = {i for i, *_ in stats.acks} | {i for i, *_ in stats.refused}
    result = {
        "t0": stats.t0,
        "start": args.start,
        "count": len(lines),
        "rate": args.rate,
        "acks": [[args.start + i, rid, round(t, 4), n] for i, rid, t, n in stats.acks],
        "refused": [[args.start + i, s, b] for i, s, b in stats.refused],
        "unsettled": [args.start + i for i in range(len(lines)) if i not in settled],
        "latencies": [[round(t, 4), round(ms, 2)] for t, ms in stats.latencies],
        "windows": {str(w): dict(c) for w, c in sorted(stats.windows.items())},
    }
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(json.dumps(result))
    tmp.replace(args.out)
    print(f"acked {len(stats.acks)} refused {len(stats.refused)}", file=sys.stderr)


if __name__ == "__main__":
    main()
