"""Client address resolution: X-Forwarded-For only from configured proxies."""

import ipaddress
from functools import cache

from starlette.requests import HTTPConnection


@cache
def _networks(
    proxies: tuple[str, ...],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(p, strict=False) for p in proxies)


def _is_trusted(address: str, proxies: tuple[str, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in _networks(proxies))


def client_ip(connection: HTTPConnection, trusted_proxies: list[str]) -> str:
    """The first address, walking X-Forwarded-For from the right, that is not a trusted proxy.

    A header arriving from an untrusted peer is ignored entirely: anyone can write it.
    """
    peer = connection.client.host if connection.client else "unknown"
    proxies = tuple(trusted_proxies)
    if not proxies or not _is_trusted(peer, proxies):
        return peer
    header = ",".join(connection.headers.getlist("x-forwarded-for"))
    hops = [hop.strip() for hop in header.split(",") if hop.strip()]
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return peer
        if not _is_trusted(hop, proxies):
            return hop
    return hops[0] if hops else peer
