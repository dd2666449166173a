"""The Printify and Etsy sandbox twins served on local ports from a process of their own, for
reliability tests that kill FlashFusion processes: the twins' state (what was created, what
was counted) outlives every FlashFusion process.

`python -m tests.reliability.twins '<json config>'` serves, each on a free port:

- the Printify twin and the Etsy twin (`flashfusion.sandbox.printify` / `.etsy`, unchanged),
  each behind a `FaultGate`: per request it arms the twin's own one-shot faults
  (`commit_then_timeout`, `drop_connection`) with a seeded probability, answers some requests
  with a 429 burst itself (platform-shaped, counted here: so every 429 the twin itself sends
  means a real quota was exceeded), and turns an exception of the twin into a connection
  closed mid-answer (served by uvicorn, an app exception would otherwise become a 500);
- a control app: `GET /state` (the twins' counters), `POST /etsy/tokens` (an OAuth grant, as
  the consent + code exchange would give), `POST /faults` (on/off).

It prints one line `TWINS READY {"printify": url, "etsy": url, "control": url}` once listening.
`TwinsProcess` starts it from a test and reads that line.

Also here: the Python snippets FlashFusion processes are started with by these tests. They are
the real `flashfusion worker` / app, with what the lead has not wired yet done first
(registering the issue-6 job kinds, mounting the webhook endpoint) and the sandbox runtime's
per-process credentials set to the ones the served twins accept.
"""

import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGI = Callable[[Scope, Receive, Send], Awaitable[None]]

# Scopes the Etsy connector's calls need (connector/platforms/etsy/connector.py SCOPES) plus
# shops_w, as FlashFusion asks for them (connector/service.py DEFAULT_SCOPES).
ETSY_SCOPES = ["listings_d", "listings_r", "listings_w", "shops_r", "shops_w", "transactions_r"]


class DropConnection(Exception):
    """Raised after a response start: uvicorn closes the socket mid-answer."""


@dataclass
class FaultGate:
    """Faults around one twin (see the module docstring). Rates are per request: `mutating` for
    POST/PUT/PATCH/DELETE, `reading` for the rest (FlashFusion's test mix, not platform data)."""

    app: ASGI
    state: Any
    platform: str
    seed: int = 0
    mutating: float = 0.0
    reading: float = 0.0
    burst_retry_after: str = "1"
    on: bool = True
    injected: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rng = random.Random(f"{self.platform}-{self.seed}")

    def _count(self, name: str) -> None:
        self.injected[name] = self.injected.get(name, 0) + 1

    async def _burst(self, send: Send) -> None:
        """A 429 as the platform words it (the twins' own shapes)."""
        if self.platform == "printify":
            body: dict[str, Any] = {
                "status": "error",
                "code": 429,
                "message": "Too Many Requests",
                "errors": {"reason": "rate limit exceeded: injected", "code": 429},
            }
        else:
            body = {"error": "Rate limit exceeded."}
        raw = json.dumps(body).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(raw)).encode()),
            (b"retry-after", self.burst_retry_after.encode()),
        ]
        await send({"type": "http.response.start", "status": 429, "headers": headers})
        await send({"type": "http.response.body", "body": raw})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_token = scope.get("path", "").endswith("/oauth/token")
        if self.on and not is_token:
            mutating = scope.get("method") in ("POST", "PUT", "PATCH", "DELETE")
            rate = self.mutating if mutating else self.reading
            roll = self.rng.random()
            if roll < rate:
                kind = self.rng.choice(
                    ["commit_then_timeout", "drop_connection", "rate_limit", "server_error"]
                    if mutating
                    else ["drop_connection", "rate_limit", "server_error"]
                )
                self._count(kind)
                if kind == "rate_limit":
                    await self._burst(send)
                    return
                if kind == "server_error":
                    # The twin's own dice: one 500 on this request.
                    self.state.faults.error_rate = 1.0
                else:
                    setattr(self.state.faults, kind, getattr(self.state.faults, kind) + 1)
        sent: list[Message] = []

        async def buffer(message: Message) -> None:
            sent.append(message)

        try:
            await self.app(scope, receive, buffer)
        except Exception:  # noqa: BLE001 - the twin's "never answered" / "dropped" faults
            self._count("connection_closed")
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-length", b"100000")],
                }
            )
            raise DropConnection("connection closed by the twin (injected fault)") from None
        finally:
            self.state.faults.error_rate = 0.0
        for message in sent:
            await send(message)


def _state_of(twin: Any) -> Any:
    return twin.state.sandbox


def _printify_state(state: Any, gate: FaultGate) -> dict[str, Any]:
    products = [p for shop in state.products.values() for p in shop.values()]
    return {
        "requests": dict(state.requests),
        "errors": dict(state.errors),
        "created": dict(state.created),
        "max_rate_seen": dict(state.max_rate_seen),
        "duplicates": state.duplicates(),
        "duplicate_groups": state.duplicate_groups(),
        "products": len(products),
        "published": sum(1 for p in products if p.get("external")),
        "locked": sum(1 for p in products if p.get("is_locked")),
        "outbox": len(state.outbox),
        "delivered": len(state.delivered),
        "delivery_failures": state.delivery_failures,
        "injected": dict(gate.injected),
    }


def _etsy_state(state: Any, gate: FaultGate) -> dict[str, Any]:
    states: dict[str, int] = {}
    for listing in state.listings.values():
        states[listing["state"]] = states.get(listing["state"], 0) + 1
    return {
        "requests": dict(state.requests),
        "errors": dict(state.errors),
        "created": dict(state.created),
        "max_rate_seen": dict(state.max_rate_seen),
        "duplicates": state.duplicates(),
        "listings": states,
        "refresh_calls": state.refresh_calls,
        "injected": dict(gate.injected),
    }


def build(config: dict[str, Any]) -> tuple[ASGI, ASGI, ASGI]:
    """(printify, etsy, control) ASGI apps for `config` (see `TwinsProcess`)."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from flashfusion.sandbox import etsy, printify
    from flashfusion.sandbox.delivery import http_deliver

    scale = float(config.get("time_scale", 1.0))
    seed = int(config.get("seed", 0))
    printify_twin = printify.create_app(
        tokens={config["printify_token"]}, time_scale=scale, deliver=http_deliver, seed=seed
    )
    etsy_twin = etsy.create_app(
        apps={config["etsy_keystring"]: config["etsy_shared_secret"]},
        time_scale=scale,
        webhook_secret=config.get("etsy_webhook_secret"),
        seed=seed,
    )
    p_state, e_state = _state_of(printify_twin), _state_of(etsy_twin)
    # "Never answers" lasts this long before the connection is closed (the client's own read
    # timeout is 30 s: waiting for it would only slow the test down).
    p_state.faults.hang_seconds = float(config.get("hang_seconds", 0.05))
    rates = {
        "mutating": float(config.get("mutating", 0.0)),
        "reading": float(config.get("reading", 0.0)),
    }
    on = bool(config.get("faults_on", True))
    p_gate = FaultGate(printify_twin, p_state, "printify", seed, on=on, **rates)
    e_gate = FaultGate(etsy_twin, e_state, "etsy", seed, on=on, **rates)

    async def state(request: Request) -> JSONResponse:
        return JSONResponse(
            {"printify": _printify_state(p_state, p_gate), "etsy": _etsy_state(e_state, e_gate)}
        )

    async def etsy_tokens(request: Request) -> JSONResponse:
        issued = e_state.issue_tokens(
            e_state.default_user_id, config["etsy_keystring"], frozenset(ETSY_SCOPES)
        )
        return JSONResponse(issued | {"user_id": e_state.default_user_id})

    async def faults(request: Request) -> JSONResponse:
        body = await request.json()
        p_gate.on = e_gate.on = bool(body.get("on"))
        return JSONResponse({"on": p_gate.on})

    control = Starlette(
        routes=[
            Route("/state", state),
            Route("/etsy/tokens", etsy_tokens, methods=["POST"]),
            Route("/faults", faults, methods=["POST"]),
        ]
    )
    return p_gate, e_gate, control


def _listen() -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(512)
    sock.setblocking(False)
    return sock


async def _serve(config: dict[str, Any]) -> None:
    import uvicorn

    apps = build(config)
    sockets = [_listen() for _ in apps]
    servers = [
        uvicorn.Server(uvicorn.Config(app, log_level="critical", lifespan="off", access_log=False))
        for app in apps
    ]
    tasks = [
        asyncio.create_task(server.serve(sockets=[sock]))
        for server, sock in zip(servers, sockets, strict=True)
    ]
    while not all(server.started for server in servers):
        await asyncio.sleep(0.02)
    urls = [f"http://127.0.0.1:{sock.getsockname()[1]}" for sock in sockets]
    ready = dict(zip(("printify", "etsy", "control"), urls, strict=True))
    print("TWINS READY " + json.dumps(ready), flush=True)  # noqa: T201 - read by TwinsProcess
    await asyncio.gather(*tasks)


def main() -> None:
    config = json.loads(sys.argv[1])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    asyncio.run(_serve(config))


# --- from the test process -----------------------------------------------------------------------


@dataclass
class TwinsProcess:
    """The twins' process, started with `config` (time_scale, seed, printify_token,
    etsy_keystring, etsy_shared_secret, mutating, reading)."""

    config: dict[str, Any]
    log_path: Path
    env: dict[str, str]
    popen: subprocess.Popen[bytes] | None = None
    urls: dict[str, str] = field(default_factory=dict)

    def start(self, timeout: float = 30) -> "TwinsProcess":
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child keeps it
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "tests.reliability.twins", json.dumps(self.config)],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=str(Path(__file__).resolve().parents[2]),
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log_path.read_text(errors="replace")
            for line in text.splitlines():
                if line.startswith("TWINS READY "):
                    self.urls = json.loads(line.removeprefix("TWINS READY "))
                    return self
            if self.popen.poll() is not None:
                raise RuntimeError(f"the twins exited early:\n{text[-4000:]}")
            time.sleep(0.1)
        raise RuntimeError(f"the twins did not start:\n{self.log_path.read_text()[-4000:]}")

    def state(self) -> dict[str, Any]:
        response = httpx.get(self.urls["control"] + "/state", timeout=30)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def etsy_tokens(self) -> dict[str, Any]:
        response = httpx.post(self.urls["control"] + "/etsy/tokens", timeout=30)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def faults(self, on: bool) -> None:
        httpx.post(self.urls["control"] + "/faults", json={"on": on}, timeout=30).raise_for_status()

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=10)


# What the lead wires into flashfusion/tasks.py and flashfusion/api.py for issue 6; imported
# first by the processes below so they run before that lands (harmless after).
PRELUDE = """
import json, os, sys
sys.path.insert(0, os.environ["RELIABILITY_REPO"])
import flashfusion.connector.tasks, flashfusion.external_event.tasks
import flashfusion.order.tasks, flashfusion.publishing.tasks
from flashfusion.sandbox import runtime
# The sandbox runtime makes random credentials per process; these are the served twins'.
runtime._credentials.update(json.loads(os.environ["RELIABILITY_SANDBOX_CREDENTIALS"]))
"""

WORKER = (
    PRELUDE
    + """
from flashfusion.cli import main
sys.argv = ["flashfusion", "worker"]
main()
"""
)

WEB = (
    PRELUDE
    + """
import uvicorn
from flashfusion.app import create_app
from flashfusion.external_event.endpoints import router
app = create_app(run_jobs=False)
app.include_router(router)
print("WEB READY", flush=True)
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""
)


if __name__ == "__main__":
    main()
