"""The publish payload's images: Printful (which downloads files by URL) gets signed, expiring
URLs of this app for every print file and mockup; a live Printful connection that could not
reach the app is refused with what to set; other platforms get the bytes and no URL."""

from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

import flashfusion.config
from flashfusion.auth.models import AuthSubject
from flashfusion.config import Settings, get_settings
from flashfusion.models import PublishIntent, RenderFile, RenderFileKind, Role
from flashfusion.public_file.service import verify
from flashfusion.publishing.payload import PayloadIncomplete, build_payload, payload_hash
from flashfusion.publishing.service import publishing
from tests.fixtures.objects import Tenant
from tests.publishing.fakes import create_connection, publishable

PREFIX = (
    "Set FLASHFUSION_BASE_URL to the public address of this FlashFusion (for example "
    "https://flashfusion.example.com), reachable from the internet, and restart it: Printful "
    "downloads each print file from a signed link under that address (/files/...), and "
    "FLASHFUSION_BASE_URL "
)
UNSET = PREFIX + "is not set (it defaults to http://127.0.0.1:8000)."
LOCAL = (
    PREFIX + "is http://testserver, which names a host (testserver) only this machine or its "
    "network can resolve."
)


async def render_files(
    session: AsyncSession, render_id: object
) -> dict[RenderFileKind, RenderFile]:
    rows = await session.execute(select(RenderFile).where(RenderFile.render_id == render_id))
    return {row.kind: row for row in rows.scalars()}


@pytest.fixture
def unset_base_url(monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings as an operator who never set FLASHFUSION_BASE_URL has them."""
    monkeypatch.delenv("FLASHFUSION_BASE_URL")
    settings = Settings()
    assert "BASE_URL" not in settings.model_fields_set
    monkeypatch.setattr(flashfusion.config, "get_settings", lambda: settings)
    return settings


async def test_printful_images_get_signed_urls_of_the_app_outside_the_hash(
    session: AsyncSession, tenant: Tenant
) -> None:
    product = await publishable(session, tenant.organization)
    printful = await create_connection(session, tenant.organization.id, "printful")
    printful.sandbox = True
    built = await build_payload(session, product, printful, external_id="ff-1")
    files = await render_files(session, product.render_id)
    images = built.payload.images
    assert [(i.role, i.placement, i.filename) for i in images] == [
        ("print_file", "front", "print_file.png"),
        ("mockup", "front", "mockup.png"),
    ]
    for image, kind in zip(images, (RenderFileKind.print_file, RenderFileKind.mockup), strict=True):
        assert image.url is not None
        parts = urlsplit(image.url)
        assert f"{parts.scheme}://{parts.netloc}{parts.path}" == (
            f"http://testserver/files/{files[kind].id}"
        )
        token = parse_qs(parts.query)["token"][0]
        assert verify(str(files[kind].id), token) == files[kind].id
        assert image.content is None  # a request's build reads no bytes
    # The URL (its expiry) is not part of "this version of the listing".
    without = replace(built.payload, images=[replace(i, url=None) for i in images])
    assert payload_hash(without, built.image_hashes) == built.hash
    again = await build_payload(session, product, printful, external_id="ff-1", with_content=True)
    assert again.hash == built.hash
    assert [i.content is not None for i in again.payload.images] == [True, True]


async def test_other_platforms_get_the_bytes_and_no_url(
    session: AsyncSession, tenant: Tenant
) -> None:
    product = await publishable(session, tenant.organization)
    for platform in ("printify", "etsy"):
        connection = await create_connection(session, tenant.organization.id, platform)
        connection.account = {"listing_defaults": {"who_made": "i_did"}}
        built = await build_payload(
            session, product, connection, external_id="ff-2", with_content=True
        )
        assert [i.url for i in built.payload.images] == [None, None], platform
        assert all(i.content for i in built.payload.images), platform


async def test_a_live_printful_connection_is_refused_when_the_base_url_is_unset(
    session: AsyncSession, tenant: Tenant, unset_base_url: Settings
) -> None:
    product = await publishable(session, tenant.organization)
    printful = await create_connection(session, tenant.organization.id, "printful")
    with pytest.raises(PayloadIncomplete) as refused:
        await build_payload(session, product, printful, external_id="ff-3")
    assert refused.value.detail == UNSET
    assert refused.value.status_code == 422
    # In sandbox mode the twin fetches through the app itself: no public address needed.
    printful.sandbox = True
    built = await build_payload(session, product, printful, external_id="ff-3")
    assert built.payload.images[0].url is not None
    assert built.payload.images[0].url.startswith("http://127.0.0.1:8000/files/")


async def test_a_live_printful_connection_is_refused_when_the_base_url_is_local(
    session: AsyncSession, tenant: Tenant
) -> None:
    assert get_settings().BASE_URL == "http://testserver"
    product = await publishable(session, tenant.organization)
    printful = await create_connection(session, tenant.organization.id, "printful")
    with pytest.raises(PayloadIncomplete) as refused:
        await build_payload(session, product, printful, external_id="ff-4")
    assert refused.value.detail == LOCAL


async def test_a_live_printful_connection_gets_urls_under_a_public_base_url(
    session: AsyncSession, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "BASE_URL", "https://ff.example.com")
    product = await publishable(session, tenant.organization)
    printful = await create_connection(session, tenant.organization.id, "printful")
    built = await build_payload(session, product, printful, external_id="ff-5")
    assert [i.url is not None and i.url.startswith("https://ff.example.com/files/")
            for i in built.payload.images] == [True, True]  # fmt: skip


async def test_a_local_base_url_is_enough_when_printful_is_a_twin_the_operator_runs(
    session: AsyncSession, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FLASHFUSION_PRINTFUL_BASE_URL points at a twin on this machine, which can reach a local
    FlashFusion: only an unset base URL is refused then."""
    monkeypatch.setattr(get_settings(), "PRINTFUL_BASE_URL", "http://127.0.0.1:9")
    product = await publishable(session, tenant.organization)
    printful = await create_connection(session, tenant.organization.id, "printful")
    built = await build_payload(session, product, printful, external_id="ff-6")
    assert built.payload.images[0].url is not None
    assert built.payload.images[0].url.startswith("http://testserver/files/")


async def test_publishing_to_live_printful_without_a_public_url_is_refused_and_queues_nothing(
    session: AsyncSession, tenant: Tenant, unset_base_url: Settings
) -> None:
    product = await publishable(session, tenant.organization)
    printful = await create_connection(session, tenant.organization.id, "printful")
    result = await publishing.publish(
        session,
        AuthSubject(tenant.users[Role.owner]),
        product_ids=[product.id],
        connection_ids=[printful.id],
    )
    assert [(i.outcome, i.message) for i in result.items] == [("refused", UNSET)]
    assert (await session.execute(select(func.count()).select_from(PublishIntent))).scalar() == 0
