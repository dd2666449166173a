"""A small HTTP/1.1 load generator for benchmarks/api_overhead.py, run as its own process.

    python benchmarks/loadgen.py open   --url URL --rate 200 --duration 20
    python benchmarks/loadgen.py closed --url URL --connections 8 --duration 20

`open` is an open-loop (constant arrival rate) generator: request i is due at start + i/rate and
is sent then whatever happened to the earlier ones, on an idle keep-alive connection or on a new
one when every open connection is busy. Its latency is measured from the time it was *due*, not
from when it was sent, so a stalled server or a late sender shows up in the percentiles instead
of being hidden (coordinated omission).

`closed` keeps N connections each sending the next request as soon as the previous answer has
arrived; it is the fallback when wrk is not available.

Headers come from --header and from the BENCH_AUTHORIZATION environment variable (kept off the
command line). Prints one line: `RESULT {json}`.
"""

import argparse
import asyncio
import json
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit

REQUEST_TIMEOUT_SECONDS = 10.0


@dataclass
class Target:
    host: str
    port: int
    request: bytes

    @classmethod
    def parse(cls, url: str, headers: list[str]) -> "Target":
        parts = urlsplit(url)
        if parts.scheme != "http" or parts.hostname is None:
            raise SystemExit(f"loadgen: only http:// URLs are supported, got {url!r}")
        port = parts.port or 80
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        lines = [f"GET {path} HTTP/1.1", f"Host: {parts.hostname}:{port}", "User-Agent: loadgen"]
        lines += headers
        authorization = os.environ.get("BENCH_AUTHORIZATION")
        if authorization:
            lines.append(f"Authorization: {authorization}")
        request = ("\r\n".join(lines) + "\r\n\r\n").encode()
        return cls(parts.hostname, port, request)


class StaleConnection(ConnectionError):
    """A kept-alive connection the server had closed while it sat idle (uvicorn closes them
    after 5 s); nothing was answered on it, so the request is sent again on a new one, as any
    HTTP client does."""


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.reusable = True
        self.answered = 0

    @classmethod
    async def open(cls, target: Target) -> "Connection":
        reader, writer = await asyncio.open_connection(target.host, target.port)
        return cls(reader, writer)

    def close(self) -> None:
        self.writer.close()

    async def get(self, request: bytes) -> int:
        """Send one request and read the whole response; returns the status code."""
        try:
            self.writer.write(request)
            status_line = await self.reader.readline()
        except OSError as e:
            if self.answered:
                raise StaleConnection(str(e)) from e
            raise
        if not status_line:
            if self.answered:
                raise StaleConnection("closed by the server while idle")
            raise ConnectionError("connection closed by the server")
        status = int(status_line.split(b" ", 2)[1])
        length: int | None = None
        chunked = False
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b"\n"):
                break
            if not line:
                raise ConnectionError("connection closed in the headers")
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
            elif name == b"connection" and value.strip().lower() == b"close":
                self.reusable = False
        if chunked:
            while True:
                size = int((await self.reader.readline()).split(b";")[0], 16)
                await self.reader.readexactly(size + 2)
                if size == 0:
                    break
        elif length is not None:
            await self.reader.readexactly(length)
        else:
            await self.reader.read()
            self.reusable = False
        self.answered += 1
        return status


@dataclass
class Result:
    mode: str
    duration: float = 0.0
    scheduled: int = 0
    completed: int = 0
    errors: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    max_send_lag: float = 0.0
    max_connections: int = 0
    resent: int = 0

    def summary(self) -> dict[str, object]:
        values = sorted(self.latencies)

        def percentile(p: float) -> float | None:
            if not values:
                return None
            # Nearest rank: the smallest value with at least p% of the samples at or below it.
            rank = max(1, -(-len(values) * p // 100))
            return round(values[int(rank) - 1] * 1000, 3)

        return {
            "mode": self.mode,
            "duration_s": round(self.duration, 3),
            "scheduled": self.scheduled,
            "completed": self.completed,
            "errors": self.errors,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "throughput": round(self.completed / self.duration, 1) if self.duration else 0.0,
            "p50_ms": percentile(50),
            "p95_ms": percentile(95),
            "p99_ms": percentile(99),
            "max_ms": round(values[-1] * 1000, 3) if values else None,
            "max_send_lag_ms": round(self.max_send_lag * 1000, 3),
            "max_connections": self.max_connections,
            "resent_on_stale_connection": self.resent,
        }


async def open_loop(target: Target, rate: float, duration: float) -> Result:
    result = Result("open")
    idle: list[Connection] = []
    busy = 0
    total = int(rate * duration)
    interval = 1.0 / rate
    in_flight: set[asyncio.Task[None]] = set()

    async def fire(due: float) -> None:
        nonlocal busy
        busy += 1
        result.max_connections = max(result.max_connections, busy + len(idle))
        connection: Connection | None = idle.pop() if idle else None

        async def exchange() -> int:
            nonlocal connection
            if connection is not None:
                try:
                    return await connection.get(target.request)
                except StaleConnection:
                    connection.close()
                    result.resent += 1
            connection = await Connection.open(target)
            return await connection.get(target.request)

        try:
            status = await asyncio.wait_for(exchange(), REQUEST_TIMEOUT_SECONDS)
            result.latencies.append(time.perf_counter() - due)
            result.statuses[status] += 1
            if 200 <= status < 300:
                result.completed += 1
            else:
                result.errors += 1
            assert connection is not None
            if connection.reusable:
                idle.append(connection)
                connection = None
        except (OSError, ValueError, asyncio.IncompleteReadError):  # TimeoutError is an OSError
            result.errors += 1
        finally:
            busy -= 1
            if connection is not None:
                connection.close()

    start = time.perf_counter() + 0.05
    for i in range(total):
        due = start + i * interval
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        result.max_send_lag = max(result.max_send_lag, time.perf_counter() - due)
        task = asyncio.create_task(fire(due))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
    if in_flight:
        await asyncio.wait(in_flight, timeout=REQUEST_TIMEOUT_SECONDS + 1)
    result.scheduled = total
    result.errors += len(in_flight)  # still unanswered after the timeout
    result.duration = duration
    for connection in idle:
        connection.close()
    return result


async def closed_loop(target: Target, connections: int, duration: float) -> Result:
    result = Result("closed", max_connections=connections)
    deadline = 0.0

    async def worker() -> None:
        connection: Connection | None = None
        while time.perf_counter() < deadline:
            sent = time.perf_counter()
            try:
                if connection is None:
                    connection = await Connection.open(target)
                status = await asyncio.wait_for(
                    connection.get(target.request), REQUEST_TIMEOUT_SECONDS
                )
            except (OSError, ValueError, asyncio.IncompleteReadError):  # TimeoutError is an OSError
                result.errors += 1
                if connection is not None:
                    connection.close()
                    connection = None
                continue
            result.latencies.append(time.perf_counter() - sent)
            result.statuses[status] += 1
            if 200 <= status < 300:
                result.completed += 1
            else:
                result.errors += 1
            if not connection.reusable:
                connection.close()
                connection = None
        if connection is not None:
            connection.close()

    started = time.perf_counter()
    deadline = started + duration
    await asyncio.gather(*(worker() for _ in range(connections)))
    result.duration = time.perf_counter() - started
    result.scheduled = result.completed + result.errors
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["open", "closed"])
    parser.add_argument("--url", required=True)
    parser.add_argument("--rate", type=float, default=200.0, help="open loop: requests/s")
    parser.add_argument("--connections", type=int, default=8, help="closed loop: connections")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds")
    parser.add_argument("--header", action="append", default=[], help="'Name: value'")
    args = parser.parse_args(argv)
    target = Target.parse(args.url, args.header)
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
        runner = asyncio.run
    if args.mode == "open":
        result = runner(open_loop(target, args.rate, args.duration))
    else:
        result = runner(closed_loop(target, args.connections, args.duration))
    print("RESULT " + json.dumps(result.summary()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
