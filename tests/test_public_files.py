"""Signed render-file URLs (public_file/): the token round trip, its refusals, and the
unauthenticated `GET /files/{id}?token=` endpoint that serves the bytes Printful downloads."""

import time
import uuid
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from structlog.testing import capture_logs

from flashfusion.config import get_settings
from flashfusion.models import MediaAsset, RenderFile, RenderFileKind
from flashfusion.public_file import service
from flashfusion.public_file.service import (
    EXPIRY_STEP_SECONDS,
    TTL_SECONDS,
    expiry,
    sign,
    unreachable_reason,
    url_for,
    verify,
)
from flashfusion.studio.media import get_storage
from tests.fixtures.objects import Tenant
from tests.publishing.fakes import publishable

NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z
NOT_FOUND = {"error": "PublicFileNotFound", "detail": "File not found."}


def token_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["token"][0]


# --- tokens ------------------------------------------------------------------------------------


def test_a_signed_url_round_trips_and_names_the_file_not_the_token_in_its_path() -> None:
    file_id = uuid.uuid4()
    url = url_for("https://ff.example.com/", file_id, now=NOW)
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "https",
        "ff.example.com",
        f"/files/{file_id}",
    )
    token = token_of(url)
    expires = int(token.split(".")[0])
    assert expires == expiry(NOW)
    assert verify(str(file_id), token, now=NOW) == file_id
    assert verify(str(file_id), token, now=expires - 1) == file_id
    # 32-byte HMAC, base64url without padding.
    assert len(token.split(".")[1]) == 43
    assert len(url) < 250  # fits Printful's sync_product.thumbnail (maxLength 250)


def test_expiry_is_at_least_the_ttl_and_rounded_to_a_day() -> None:
    at = expiry(NOW)
    assert at % EXPIRY_STEP_SECONDS == 0
    assert NOW + TTL_SECONDS <= at < NOW + TTL_SECONDS + EXPIRY_STEP_SECONDS
    assert TTL_SECONDS == 7 * 24 * 3600
    # The same URL all day long (Printful reuses a file whose URL it has seen).
    file_id = uuid.uuid4()
    start = (NOW // EXPIRY_STEP_SECONDS) * EXPIRY_STEP_SECONDS
    assert url_for("https://a.example", file_id, now=start + 1) == url_for(
        "https://a.example", file_id, now=start + EXPIRY_STEP_SECONDS - 1
    )


def test_expired_forged_and_other_files_tokens_are_refused() -> None:
    file_id, other = uuid.uuid4(), uuid.uuid4()
    token = sign(file_id, expiry(NOW))
    expires, signature = token.split(".")
    assert verify(str(file_id), token, now=int(expires)) is None  # expired at the second
    assert verify(str(other), token, now=NOW) is None  # another file's token
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    assert verify(str(file_id), f"{expires}.{flipped}", now=NOW) is None  # forged signature
    # A later expiry with the old signature (extending the URL) is a forgery too.
    assert verify(str(file_id), f"{int(expires) + 86400}.{signature}", now=NOW) is None
    for bad in ("", ".", expires, f"{expires}.", f"x{expires}.{signature}", f"-1.{signature}",
                "9" * 13 + "." + signature):  # fmt: skip
        assert verify(str(file_id), bad, now=NOW) is None, bad
    assert verify("../../etc/passwd", token, now=NOW) is None
    assert verify(str(file_id).upper(), token, now=NOW) == file_id  # the same UUID


def test_a_token_signed_under_another_master_secret_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    file_id = uuid.uuid4()
    token = sign(file_id, expiry(NOW))
    monkeypatch.setattr(service, "KEY_LABEL", "hmac:public_file_url:other")
    assert verify(str(file_id), token, now=NOW) is None


@pytest.mark.parametrize(
    ("base_url", "reason"),
    [
        ("https://flashfusion.example.com", None),
        ("http://203.0.113.9:8000", "is a private address the internet cannot reach"),
        ("http://8.8.8.8", None),
        ("http://127.0.0.1:8000", "is a loopback address the internet cannot reach"),
        ("http://[::1]:8000", "is a loopback address the internet cannot reach"),
        ("http://10.1.2.3", "is a private address the internet cannot reach"),
        ("http://169.254.1.1", "is a link-local address the internet cannot reach"),
        ("http://localhost:8000", "names a host (localhost) only this machine or its network can resolve"),
        ("http://testserver", "names a host (testserver) only this machine or its network can resolve"),
        ("http://shop.local", "names a host (shop.local) only this machine or its network can resolve"),
        ("http://nas", "names a host (nas) only this machine or its network can resolve"),
    ],
)  # fmt: skip
def test_unreachable_reason(base_url: str, reason: str | None) -> None:
    assert unreachable_reason(base_url) == reason


# --- the endpoint ------------------------------------------------------------------------------


async def print_file(session: AsyncSession, tenant: Tenant) -> tuple[RenderFile, MediaAsset]:
    product = await publishable(session, tenant.organization)
    row = (
        await session.execute(
            select(RenderFile, MediaAsset)
            .join(MediaAsset, MediaAsset.id == RenderFile.media_asset_id)
            .where(
                RenderFile.render_id == product.render_id,
                RenderFile.kind == RenderFileKind.print_file,
            )
        )
    ).one()
    return row[0], row[1]


async def test_the_endpoint_serves_the_bytes_without_a_session_and_logs_no_token(
    session: AsyncSession, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    render_file, asset = await print_file(session, tenant)
    url = url_for(get_settings().BASE_URL, render_file.id)
    token = token_of(url)
    with capture_logs() as logs:
        response = await client.get(url)
    assert response.status_code == 200
    assert response.content == await get_storage().get(asset.storage_key)
    assert len(response.content) == asset.byte_size
    assert response.headers["content-type"] == "image/png"
    assert response.headers["cache-control"] == "private, no-store"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "set-cookie" not in response.headers
    served = [e for e in logs if e["event"] == "public_file.served"]
    assert served == [
        {"event": "public_file.served", "file_id": str(render_file.id),
         "bytes": asset.byte_size, "log_level": "info"}
    ]  # fmt: skip
    access = [e for e in logs if e["event"] == "http.request"]
    assert [(e["path"], e["route"]) for e in access] == [
        (f"/files/{render_file.id}", "/files/{file_id:path}")
    ]
    assert token not in repr(logs)
    assert token.split(".")[1] not in repr(logs)

    head = await client.head(url)
    assert (head.status_code, head.headers["content-type"]) == (200, "image/png")


async def test_unknown_expired_forged_and_other_files_tokens_get_one_and_the_same_404(
    session: AsyncSession, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    render_file, asset = await print_file(session, tenant)
    mockup = (
        await session.execute(
            select(RenderFile).where(
                RenderFile.render_id == render_file.render_id,
                RenderFile.kind == RenderFileKind.mockup,
            )
        )
    ).scalar_one()
    good = sign(render_file.id, expiry())
    expires, signature = good.split(".")
    past = int(time.time()) - 1
    unknown = uuid.uuid4()
    cases = {
        "expired": f"/files/{render_file.id}?token={sign(render_file.id, past)}",
        "forged": f"/files/{render_file.id}?token={expires}.{'A' * 43}",
        "extended": f"/files/{render_file.id}?token={int(expires) + 86400}.{signature}",
        "another file's token": f"/files/{render_file.id}?token={sign(mockup.id, int(expires))}",
        # Signed, but for a file that does not exist: the same answer as a forgery.
        "unknown file": f"/files/{unknown}?token={sign(unknown, int(expires))}",
        "no token": f"/files/{render_file.id}",
        "not a uuid": f"/files/..%2F..%2Fsecret_key?token={good}",
        "traversal": f"/files/{render_file.id}%2F..%2F..%2Fsecret_key?token={good}",
        "long token": f"/files/{render_file.id}?token={'9' * 500}",
    }
    for name, path in cases.items():
        response = await client.get(path)
        assert (response.status_code, response.json()) == (404, NOT_FOUND), name
        assert response.headers["cache-control"] == "private, no-store", name
    # A deleted render file: its still-valid URL stops working.
    await session.delete(render_file)
    await session.flush()
    response = await client.get(f"/files/{render_file.id}?token={good}")
    assert (response.status_code, response.json()) == (404, NOT_FOUND)
    # The mockup's own token still opens the mockup.
    ok = await client.get(url_for("http://testserver", mockup.id))
    assert ok.status_code == 200


async def test_a_file_whose_bytes_are_gone_is_a_404(
    session: AsyncSession, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    render_file, asset = await print_file(session, tenant)
    await get_storage().delete(asset.storage_key)
    response = await client.get(url_for("http://testserver", render_file.id))
    assert (response.status_code, response.json()) == (404, NOT_FOUND)
