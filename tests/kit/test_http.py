"""client_ip: X-Forwarded-For is believed only when it comes from a configured proxy."""

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection

from flashfusion.app import create_app
from flashfusion.config import get_settings
from flashfusion.kit.crypto import generate_api_key
from flashfusion.kit.http import client_ip
from tests.fixtures.objects import bearer

PROXIES = ["10.0.0.0/8", "192.0.2.1", "2001:db8::/32"]


def connection(peer: str | None, *forwarded_for: str) -> HTTPConnection:
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded_for]
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "headers": headers,
        "client": (peer, 50000) if peer is not None else None,
    }
    return HTTPConnection(scope)


def test_no_proxies_configured_ignores_the_header() -> None:
    assert client_ip(connection("203.0.113.7", "198.51.100.1"), []) == "203.0.113.7"


def test_header_from_an_untrusted_peer_is_ignored() -> None:
    # Anyone can write X-Forwarded-For; a direct client claiming another address is not believed.
    assert client_ip(connection("203.0.113.7", "198.51.100.1"), PROXIES) == "203.0.113.7"


def test_trusted_proxy_forwards_the_client_address() -> None:
    assert client_ip(connection("10.1.2.3", "198.51.100.1"), PROXIES) == "198.51.100.1"
    assert client_ip(connection("192.0.2.1", "198.51.100.1"), PROXIES) == "198.51.100.1"


def test_spoofed_left_entries_are_skipped_walking_from_the_right() -> None:
    # The client sent "1.1.1.1"; the proxy appended the address it really saw.
    conn = connection("10.0.0.5", "1.1.1.1, 198.51.100.1")
    assert client_ip(conn, PROXIES) == "198.51.100.1"


def test_chain_of_trusted_proxies_is_walked() -> None:
    conn = connection("10.0.0.5", "1.1.1.1, 198.51.100.1, 10.9.9.9, 192.0.2.1")
    assert client_ip(conn, PROXIES) == "198.51.100.1"


def test_repeated_headers_are_joined_in_order() -> None:
    conn = connection("10.0.0.5", "1.1.1.1", "198.51.100.1, 10.2.2.2")
    assert client_ip(conn, PROXIES) == "198.51.100.1"


def test_every_hop_trusted_gives_the_leftmost() -> None:
    assert client_ip(connection("10.0.0.5", "10.0.0.9, 10.0.0.8"), PROXIES) == "10.0.0.9"


def test_garbage_hop_falls_back_to_the_peer() -> None:
    conn = connection("10.0.0.5", "198.51.100.1, not-an-ip")
    assert client_ip(conn, PROXIES) == "10.0.0.5"


def test_trusted_proxy_without_header_is_the_client() -> None:
    assert client_ip(connection("10.0.0.5"), PROXIES) == "10.0.0.5"
    assert client_ip(connection("10.0.0.5", " , "), PROXIES) == "10.0.0.5"


def test_ipv6() -> None:
    assert client_ip(connection("2001:db8::1", "2001:db9::7"), PROXIES) == "2001:db9::7"
    assert client_ip(connection("2001:db9::1", "198.51.100.1"), PROXIES) == "2001:db9::1"


def test_no_client_is_unknown() -> None:
    assert client_ip(connection(None, "198.51.100.1"), PROXIES) == "unknown"


def test_non_ip_peer_is_never_trusted() -> None:
    assert client_ip(connection("testclient", "198.51.100.1"), PROXIES) == "testclient"


@pytest.mark.parametrize(
    ("trusted", "expected"),
    [([], "203.0.113.7"), (["203.0.113.0/24"], "198.51.100.1")],
)
async def test_the_audited_address_honours_trusted_proxies(
    trusted: list[str],
    expected: str,
    monkeypatch: pytest.MonkeyPatch,
    session: AsyncSession,
) -> None:
    """End to end: the middleware resolves the address that the audit log records."""
    monkeypatch.setattr(get_settings(), "TRUSTED_PROXIES", trusted)
    application = create_app(run_jobs=False)
    transport = httpx.ASGITransport(app=application, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get(
            "/api/v1/me",
            headers={"X-Forwarded-For": "198.51.100.1", **bearer(generate_api_key())},
        )
    assert response.status_code == 401
    ips = (
        (
            await session.execute(
                text("SELECT ip FROM audit_events WHERE action = 'api_key.authenticate'")
            )
        )
        .scalars()
        .all()
    )
    assert ips == [expected]
