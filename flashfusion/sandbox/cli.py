"""`flashfusion sandbox serve`: the sandbox twins on local ports, for trying FlashFusion (or a
script using the vendors' SDKs) without real accounts.

Each twin gets its own port, from `--port-base` up in the order of `flashfusion.sandbox.SERVICES`
(`--port-base 0`: any free ports). The keys the twins accept are made for this run and printed
once, with the FLASHFUSION_* settings that point FlashFusion at the twins; `--api-key` (or
FLASHFUSION_SANDBOX_API_KEY) sets one key for all of them instead. Ctrl-C stops every twin.
"""

import asyncio
import contextlib
import errno
import ipaddress
import secrets
import signal
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

import typer
import uvicorn
from rich.console import Console
from rich.table import Table
from starlette.types import ASGIApp

from flashfusion.sandbox import SERVICES, Service

sandbox_app = typer.Typer(help="Sandbox twins of the external services.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)


@dataclass
class Served:
    service: Service
    socket: socket.socket
    url: str
    secret: str
    access_key_id: str


class _Server(uvicorn.Server):
    """A uvicorn server that leaves the signals to `serve` (several run in one loop)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def chosen(only: str | None) -> list[Service]:
    """The services named in `only` (comma-separated), in registry order; all by default."""
    if only is None or not only.strip():
        return list(SERVICES.values())
    names = [name.strip().lower() for name in only.split(",") if name.strip()]
    unknown = [name for name in names if name not in SERVICES]
    if unknown:
        raise typer.BadParameter(
            f"unknown service {', '.join(repr(n) for n in unknown)}; choose from "
            + ", ".join(SERVICES),
            param_hint="--only",
        )
    return [service for name, service in SERVICES.items() if name in names]


def _bind(host: str, port: int, service: Service) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError as e:
        sock.close()
        if e.errno == errno.EADDRINUSE:
            raise PortInUse(
                f"port {port} on {host} ({service.name}) is already in use: stop what listens "
                "there, or choose other ports with --port-base (0 picks free ones)."
            ) from None
        raise PortInUse(
            f"cannot listen on {host}:{port} ({service.name}): {e.strerror}. Check --host, or "
            "choose other ports with --port-base (0 picks free ones)."
        ) from None
    sock.setblocking(False)
    return sock


class PortInUse(Exception):
    pass


def _url(host: str, sock: socket.socket) -> str:
    port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def bind_all(host: str, port_base: int, services: list[Service]) -> list[socket.socket]:
    """One listening socket per service (all or none: a busy port closes the others)."""
    sockets: list[socket.socket] = []
    try:
        for offset, service in enumerate(services):
            sockets.append(_bind(host, port_base + offset if port_base else 0, service))
    except PortInUse:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def environment(served: list[Served]) -> list[tuple[str, str]]:
    """(FLASHFUSION_ setting, value) pairs that point FlashFusion at the served twins."""
    pairs: list[tuple[str, str]] = []
    for one in served:
        found = one.service.settings(one.url, one.secret, one.access_key_id)
        pairs += [(f"FLASHFUSION_{name}", value) for name, value in found.items()]
    return pairs


async def _serve(apps: list[tuple[ASGIApp, socket.socket]]) -> None:
    servers = [
        _Server(uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False))
        for app, _ in apps
    ]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    tasks = [
        asyncio.create_task(server.serve(sockets=[sock]))
        for server, (_, sock) in zip(servers, apps, strict=True)
    ]
    waiter = asyncio.create_task(stop.wait())
    try:
        # Until Ctrl-C, or until a server ends on its own (it failed: stop the rest too).
        await asyncio.wait([waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
    finally:
        for server in servers:
            server.should_exit = True
        await asyncio.gather(*tasks, return_exceptions=True)
        waiter.cancel()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


@sandbox_app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port_base: Annotated[
        int,
        typer.Option(
            min=0, max=65535, help="First port; each twin takes the next one. 0: free ports."
        ),
    ] = 8900,
    only: Annotated[
        str | None,
        typer.Option(help="Comma-separated twins to serve (default: all): " + ", ".join(SERVICES)),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            envvar="FLASHFUSION_SANDBOX_API_KEY",
            show_default=False,
            help="The key every twin accepts (S3: the secret access key). Default: a new random "
            "key per twin for this run.",
        ),
    ] = None,
) -> None:
    """Serve the sandbox twins on local ports until Ctrl-C."""
    services = chosen(only)
    if port_base and port_base + len(services) - 1 > 65535:
        raise typer.BadParameter(
            f"{len(services)} twins from port {port_base} go past 65535; choose a lower one.",
            param_hint="--port-base",
        )
    if api_key is not None and len(api_key.strip()) < 8:
        raise typer.BadParameter("use at least 8 characters.", param_hint="--api-key")
    try:
        sockets = bind_all(host, port_base, services)
    except PortInUse as e:
        err.print(f"[bold red]Error:[/] {e}")
        raise typer.Exit(1) from None
    served = [
        Served(
            service,
            sock,
            _url(host, sock),
            api_key.strip() if api_key else f"sandbox-{secrets.token_urlsafe(24)}",
            f"SANDBOX{secrets.token_hex(8).upper()}",
        )
        for service, sock in zip(services, sockets, strict=True)
    ]
    try:
        apps = [(one.service.build(one.secret, one.access_key_id), one.socket) for one in served]
    except Exception as e:
        for sock in sockets:
            sock.close()
        err.print(f"[bold red]Error:[/] a twin could not start ({type(e).__name__}: {e}).")
        raise typer.Exit(1) from None

    table = Table(title="Sandbox twins")
    table.add_column("service")
    table.add_column("URL")
    table.add_column("what it is")
    for one in served:
        table.add_row(one.service.name, one.url, one.service.label)
    console.print(table)
    if not _is_loopback(host):
        err.print(
            f"[yellow]Warning:[/] listening on {host}: other machines can reach the twins, "
            "and the keys below open them."
        )
    console.print(
        "Point FlashFusion at them (the keys are made for this run and shown only here):",
        highlight=False,
    )
    for name, value in environment(served):
        # Plain lines, never wrapped: they are meant to be pasted into a shell.
        console.print(f"export {name}={value}", markup=False, highlight=False, soft_wrap=True)
    for one in served:
        if one.service.connect_hint:
            console.print(
                f"{one.service.label}: connect it in FlashFusion with this "
                f"{one.service.connect_hint}: {one.secret}",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
    console.print("Serving; press Ctrl-C to stop.", highlight=False)
    sys.stdout.flush()  # piped output (| tee, a test) would otherwise hold it back
    try:
        asyncio.run(_serve(apps))
    finally:
        for sock in sockets:
            sock.close()
    console.print("Stopped.", highlight=False)
    sys.stdout.flush()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
