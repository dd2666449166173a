"""Listing copy in the web UI: the product page's listing section (generate, stream), the listing
page (history, edit, revert), batches and their progress, and the AI costs page. No provider
keys here, so every chain ends at the built-in offline provider; viewers and other workspaces
are refused and change nothing."""

import html
import json
import re
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.catalog.registry import get_catalog
from flashfusion.content import rules as platform_rules
from flashfusion.content.compose import compose_listing
from flashfusion.content.draft import BrandVoiceProfile, ListingBrief, Platform
from flashfusion.content.writer import brief_for
from flashfusion.models import (
    AIGeneration,
    ContentBatch,
    ContentBatchItem,
    ListingCopy,
    ListingCopyStatus,
    ListingCopyVersion,
    Product,
    Role,
)
from tests.content.test_batch import run_job
from tests.content.test_endpoints import content_rows, offline_copy
from tests.fixtures.objects import Tenant
from tests.fixtures.studio import create_design, create_product
from tests.fixtures.web import csrf
from tests.web.test_org_views import follow, post, sign_in

PHRASE = "Stay Wild"


async def make_product(session: AsyncSession, tenant: Tenant) -> Product:
    design, version = await create_design(session, tenant.organization, name=PHRASE)
    return await create_product(session, design, version, title="Stay Wild tee")


def product_brief(language: str, platform: Platform = Platform.etsy) -> ListingBrief:
    """What the web UI writes from for the test product: its design's phrase on a t-shirt."""
    return brief_for(
        get_catalog(),
        idea=PHRASE,
        product_type_key="tshirt",
        platform=platform,
        language=language,
        brand_voice=BrandVoiceProfile(),
        keywords=[],
        audience=None,
        occasion=None,
    )


async def copies_of(session: AsyncSession, product: Product) -> list[ListingCopy]:
    rows = await session.execute(
        select(ListingCopy)
        .where(ListingCopy.product_id == product.id)
        .order_by(ListingCopy.language)
        .execution_options(populate_existing=True)
    )
    return list(rows.scalars())


async def versions_of(session: AsyncSession, copy: ListingCopy) -> list[ListingCopyVersion]:
    rows = await session.execute(
        select(ListingCopyVersion)
        .where(ListingCopyVersion.listing_copy_id == copy.id)
        .order_by(ListingCopyVersion.version)
        .execution_options(populate_existing=True)
    )
    return list(rows.scalars())


def rows_of(fragment: str) -> list[tuple[str, str]]:
    return re.findall(r'<tr data-platform="([a-z_]+)" data-language="([a-z]+)">', fragment)


async def generate(
    client: httpx.AsyncClient, tenant: Tenant, product: Product, *languages: str
) -> httpx.Response:
    form = [("platforms", "etsy"), *(("languages", code) for code in languages)]
    return await post(
        client, f"/orgs/{tenant.organization.id}/products/{product.id}/listings", form
    )


def sse_events(body: str) -> list[tuple[str, str]]:
    """(event, decoded data) for each server-sent event of a response body."""
    events = []
    for block in body.split("\n\n"):
        if not block:
            continue
        name, data = block.split("\n", 1)
        assert name.startswith("event: "), block
        assert data.startswith("data: "), block
        events.append((name[7:], json.loads(data[6:])))
    return events


# --- the product page ---------------------------------------------------------------------------


async def test_the_product_page_writes_listings_offline_per_platform_and_language(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    product = await make_product(session, tenant)
    await sign_in(client, session, tenant.owner)
    org = tenant.organization.id
    fragment_url = f"/orgs/{org}/products/{product.id}/listings"

    page = await client.get(f"/orgs/{org}/products/{product.id}")
    assert page.status_code == 200
    assert "<h2>Listing copy</h2>" in page.text
    assert f'<div hx-get="{fragment_url}" hx-trigger="load" hx-swap="outerHTML">' in page.text

    empty = await client.get(fragment_url)
    assert empty.status_code == 200
    assert '<p class="muted">No listing copy yet.</p>' in empty.text
    assert 'id="listing-form"' in empty.text
    assert rows_of(empty.text) == []

    written = await generate(client, tenant, product, "en", "de")

    assert written.status_code == 200
    fragment = html.unescape(written.text)
    assert '<p class="flash flash-success" role="status">Wrote 2 listing(s).</p>' in fragment
    copies = await copies_of(session, product)
    assert [(c.platform, c.language, c.status, c.latest_version) for c in copies] == [
        ("etsy", "de", ListingCopyStatus.ready, 1),
        ("etsy", "en", ListingCopyStatus.ready, 1),
    ]
    listed = await client.get(fragment_url)
    for markup in (fragment, html.unescape(listed.text)):
        assert sorted(rows_of(markup)) == [("etsy", "de"), ("etsy", "en")]
        assert (
            markup.count(
                '<span class="badge badge-muted" title="Written by the built-in '
                'offline composer, without an AI provider">offline</span>'
            )
            == 2
        )
        assert markup.count('<td class="cost">$0.0000</td>') == 2
        for copy in copies:
            [version] = await versions_of(session, copy)
            expected = offline_copy(product_brief(copy.language))
            assert version.fields == expected
            assert (
                f'<a href="/orgs/{org}/listings/{copy.id}">{expected["title"]}</a> '
                '<small class="muted">v1</small>'
            ) in markup
            assert f"<td><small>{', '.join(expected['tags'])}</small></td>" in markup


async def test_a_listing_streams_as_server_sent_events_then_is_saved(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    product = await make_product(session, tenant)
    await sign_in(client, session, tenant.owner)
    url = f"/orgs/{tenant.organization.id}/products/{product.id}/listings/stream"

    response = await client.post(
        url, data={"csrf_token": await csrf(client), "platform": "etsy", "language": "en"}
    )

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-store"
    events = sse_events(response.text)
    [copy] = await copies_of(session, product)
    # The offline provider sends its answer in four pieces, then the saved copy's id.
    assert [name for name, _ in events] == ["delta"] * 4 + ["done"]
    assert events[-1] == ("done", str(copy.id))
    brief = product_brief("en")
    composed = compose_listing(brief, platform_rules.get_rules(Platform.etsy))
    assert "".join(data for _, data in events[:-1]) == composed.model_dump_json()
    [version] = await versions_of(session, copy)
    assert (copy.status, version.source, version.provider) == (
        ListingCopyStatus.ready,
        "generated",
        "offline",
    )
    assert version.fields == offline_copy(brief)
    generation = await session.get(AIGeneration, version.generation_id)
    assert generation is not None
    assert (generation.provider, generation.product_id, generation.listing_copy_id) == (
        "offline",
        product.id,
        copy.id,
    )

    # An unknown platform is refused before anything is streamed or written.
    bad = await client.post(
        url, data={"csrf_token": await csrf(client), "platform": "ebay", "language": "en"}
    )
    assert (bad.status_code, bad.text) == (
        422,
        "platform: 'ebay' is not a platform; use one of etsy, amazon, shopify, tiktok_shop, "
        "pinterest, instagram, facebook",
    )
    assert len(await copies_of(session, product)) == 1


async def test_a_viewer_sees_listings_but_cannot_write_them(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    product = await make_product(session, tenant)
    await sign_in(client, session, tenant.users[Role.viewer])
    base = f"/orgs/{tenant.organization.id}/products/{product.id}/listings"
    before = await content_rows(session, tenant.organization.id)
    refusal = "Your role does not allow 'content:manage'; ask a workspace owner or admin."

    fragment = await client.get(base)
    assert fragment.status_code == 200
    assert 'id="listing-form"' not in fragment.text

    written = await generate(client, tenant, product, "en")
    assert f'<p class="flash flash-error" role="alert">{refusal}</p>' in html.unescape(written.text)
    assert 'id="listing-form"' not in written.text

    streamed = await client.post(
        f"{base}/stream",
        data={"csrf_token": await csrf(client), "platform": "etsy", "language": "en"},
    )
    assert refusal in await follow(client, streamed)

    assert await content_rows(session, tenant.organization.id) == before


async def test_a_refused_listing_form_answers_a_fragment_htmx_will_show(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    product = await make_product(session, tenant)
    await sign_in(client, session, tenant.owner)
    response = await post(
        client,
        f"/orgs/{tenant.organization.id}/products/{product.id}/listings",
        [("languages", "en")],  # no platform ticked
    )
    assert "platforms: choose at least one platform." in response.text
    assert response.status_code == 200


# --- the listing page ---------------------------------------------------------------------------


async def test_the_listing_page_shows_history_and_revert_saves_a_new_version(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    product = await make_product(session, tenant)
    await sign_in(client, session, tenant.owner)
    await generate(client, tenant, product, "en")
    [copy] = await copies_of(session, product)
    [first] = await versions_of(session, copy)
    page_url = f"/orgs/{tenant.organization.id}/listings/{copy.id}"

    edited = await post(
        client,
        page_url,
        {
            "title": "Stay Wild Shirt for Hikers",
            "description": first.fields["description"],
            "tags": "stay wild, hiking shirt",
        },
    )
    assert "Saved as version 2; ready to publish." in await follow(client, edited)

    page = html.unescape((await client.get(page_url)).text)
    history = page.split('<table id="versions">', 1)[1].split("</table>", 1)[0]
    assert re.findall(r"<tr><td>(\d+)</td><td>(\w+)", history) == [
        ("2", "edited"),
        ("1", "generated"),
    ]
    assert "<td>Stay Wild Shirt for Hikers</td>" in history
    assert f"<td>{first.fields['title']}</td>" in history
    # Only the older version offers a revert.
    assert history.count('name="version" value="1"') == 1
    assert 'name="version" value="2"' not in history
    assert "What changed in version 2" in page

    reverted = await post(client, f"{page_url}/revert", {"version": "1"})
    assert reverted.headers["location"] == page_url
    page = await follow(client, reverted)
    assert "Reverted to version 1 (saved as a new version)." in page

    versions = await versions_of(session, copy)
    assert [(v.version, v.source, v.note) for v in versions] == [
        (1, "generated", None),
        (2, "edited", None),
        (3, "reverted", "reverted to version 1"),
    ]
    assert versions[2].fields == first.fields
    assert (versions[2].provider, versions[2].generation_id) == ("offline", first.generation_id)
    copy = (await copies_of(session, product))[0]
    assert (copy.latest_version, copy.status) == (3, ListingCopyStatus.ready)
    assert '<td>3</td><td>reverted <small class="muted">reverted to version 1</small>' in page


async def test_an_edit_over_the_title_limit_is_saved_as_a_draft_with_the_error(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    product = await make_product(session, tenant)
    await sign_in(client, session, tenant.owner)
    await generate(client, tenant, product, "en")
    [copy] = await copies_of(session, product)
    [first] = await versions_of(session, copy)
    limit = platform_rules.get_rules(Platform.etsy).title_max
    assert limit is not None
    assert limit.value == 140
    title = "Stay Wild " + "x" * 131  # 141 characters

    response = await post(
        client,
        f"/orgs/{tenant.organization.id}/listings/{copy.id}",
        {
            "title": title,
            "description": first.fields["description"],
            "tags": ", ".join(first.fields["tags"]),
        },
    )

    page = await follow(client, response)
    assert (
        "Saved as version 2, but it breaks 1 platform rule(s), so it stays a draft: fix what "
        "is listed below."
    ) in page
    versions = await versions_of(session, copy)
    [violation] = versions[1].violations
    assert (violation["field"], violation["code"], violation["limit"]) == ("title", "too_long", 140)
    assert f"<li><code>title</code>: {violation['message']}</li>" in page
    assert '<span class="badge badge-muted" id="copy-status">draft</span>' in page
    assert versions[1].fields["title"] == title  # kept as typed: an edit is never auto-fixed
    copy = (await copies_of(session, product))[0]
    assert (copy.status, copy.latest_version) == (ListingCopyStatus.draft, 2)


# --- batches ------------------------------------------------------------------------------------


async def test_a_batch_from_pasted_lines_and_its_progress(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    await sign_in(client, session, tenant.owner)
    org = tenant.organization.id
    page = await client.get(f"/orgs/{org}/content/batches")
    assert page.status_code == 200
    assert 'id="batch-form"' in page.text
    assert '<td colspan="6" class="muted">No batches yet.</td>' in page.text

    created = await post(
        client,
        f"/orgs/{org}/content/batches",
        {"ideas": "Coffee first,mug,coffee mug\nPlant mom,tshirt\n", "platforms": "etsy"},
    )

    batch = (
        await session.execute(select(ContentBatch).where(ContentBatch.organization_id == org))
    ).scalar_one()
    assert created.headers["location"] == f"/orgs/{org}/content/batches/{batch.id}"
    batch_page = await follow(client, created)
    assert "Batch of 2 queued." in batch_page
    assert "<h1>Batch of 2</h1>" in batch_page
    progress_url = f"/orgs/{org}/content/batches/{batch.id}/progress"
    queued = html.unescape((await client.get(progress_url)).text)
    # Polled every second while it runs.
    assert f'hx-get="{progress_url}" hx-trigger="every 1s"' in queued
    assert 'id="batch-status">queued</span>' in queued
    assert "0 done · 0 failed · 2 in all" in queued
    assert '<progress value="0" max="2"></progress>' in queued

    assert await run_job(batch.id) == 2

    done = html.unescape((await client.get(progress_url)).text)
    assert "hx-get" not in done
    assert '<span class="badge badge-success" id="batch-status">succeeded</span>' in done
    assert "2 done · 0 failed · 2 in all" in done
    assert '<progress value="2" max="2"></progress>' in done
    items = (
        await session.execute(
            select(ContentBatchItem)
            .where(ContentBatchItem.batch_id == batch.id)
            .order_by(ContentBatchItem.position)
        )
    ).scalars()
    for item in items:
        [copy_id] = item.listing_copy_ids
        assert (
            f"<tr><td>{item.position + 1}</td><td>{item.idea}</td><td>{item.product_type}</td>"
            "<td>succeeded</td>"
        ) in done
        assert f'<a href="/orgs/{org}/listings/{copy_id}">copy 1</a>' in done
    listing = await client.get(f"/orgs/{org}/listings/{copy_id}")
    assert listing.status_code == 200

    batches = await client.get(f"/orgs/{org}/content/batches")
    assert f'href="/orgs/{org}/content/batches/{batch.id}"' in batches.text
    assert "<td>succeeded</td><td>2/2</td><td>0</td><td>etsy</td><td>en</td>" in batches.text


async def test_a_bad_pasted_line_is_refused_and_nothing_is_queued(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    await sign_in(client, session, tenant.owner)
    org = tenant.organization.id
    response = await post(
        client,
        f"/orgs/{org}/content/batches",
        {"ideas": "Coffee first,mug\nPlant mom\n", "platforms": "etsy"},
    )
    assert response.headers["location"] == f"/orgs/{org}/content/batches"
    page = await follow(client, response)
    assert "row 2: needs two columns, idea and product_type (e.g. 'Coffee first,mug')." in page
    assert (
        await session.execute(select(ContentBatch).where(ContentBatch.organization_id == org))
    ).first() is None


# --- the AI costs page --------------------------------------------------------------------------


async def test_the_ai_costs_page_shows_the_months_spend_and_the_chains(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    org = tenant.organization.id
    for provider, cost, when in (
        ("openai", 12_345, datetime.now(UTC)),
        ("anthropic", 1_000, datetime.now(UTC)),
        ("openai", 5_000_000, datetime.now(UTC).replace(day=1) - timedelta(days=1)),
    ):
        session.add(
            AIGeneration(
                organization_id=org,
                task="listing_copy",
                provider=provider,
                model="m",
                status="succeeded",
                input_tokens=100,
                output_tokens=10,
                cost_microusd=cost,
                price_version="2026.12.1",
                fallback_path=[],
                created_at=when,
            )
        )
    await session.flush()
    await sign_in(client, session, tenant.owner)

    page = await client.get(f"/orgs/{org}/ai")

    assert page.status_code == 200
    text = html.unescape(page.text)
    # This month only: last month's $5 is not counted against the free plan's $2.
    assert '<p id="spend"><strong>$0.0133</strong> of $2.00 (free plan)</p>' in text
    assert 'id="budget-warning"' not in text
    chains = text.split('<table id="chains">', 1)[1].split("</table>", 1)[0]
    assert (
        '<tr><td>listing_copy</td><td><span class="badge badge-muted" title="key: none">OpenAI'
        '</span> → <span class="badge badge-muted" title="key: none">Anthropic</span> → '
        '<span class="badge badge-muted" title="key: none">Google Gemini</span> → '
        '<span class="badge badge-success" title="key: built-in">Offline (built in)</span>'
        "</td></tr>"
    ) in chains
    by_provider = text.split('<table id="by-provider">', 1)[1].split("</table>", 1)[0]
    assert re.findall(
        r"<tr><td>(\w+)</td><td>(\d+)</td><td>(\d+)</td><td>([^<]+)</td>"
        r"<td>([^<]+)</td></tr>",
        by_provider,
    ) == [
        ("openai", "1", "0", "100 / 10", "$0.0123"),
        ("anthropic", "1", "0", "100 / 10", "$0.0010"),
    ]


async def test_a_viewer_cannot_open_the_ai_costs_page(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    await sign_in(client, session, tenant.users[Role.viewer])
    page = await client.get(f"/orgs/{tenant.organization.id}/ai")
    assert page.status_code == 403
    assert (
        "<h1>Not allowed</h1>\n  <p>Your role does not allow 'ai_usage:read'; ask a workspace "
        "owner or admin.</p>"
    ) in html.unescape(page.text)
    assert 'id="spend"' not in page.text


# --- other workspaces ---------------------------------------------------------------------------


async def test_another_workspaces_product_and_listing_are_not_found(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, other_tenant: Tenant
) -> None:
    theirs = await make_product(session, other_tenant)
    await sign_in(client, session, other_tenant.owner)
    await generate(client, other_tenant, theirs, "en")
    [their_copy] = await copies_of(session, theirs)
    client.cookies.clear()
    await sign_in(client, session, tenant.owner)
    mine, yours = tenant.organization.id, other_tenant.organization.id
    before = (await content_rows(session, mine), await content_rows(session, yours))

    for url in (
        f"/orgs/{mine}/products/{theirs.id}/listings",
        f"/orgs/{yours}/products/{theirs.id}/listings",
        f"/orgs/{mine}/listings/{their_copy.id}",
        f"/orgs/{yours}/listings/{their_copy.id}",
        f"/orgs/{mine}/listings/{uuid.uuid4()}",
    ):
        response = await client.get(url)
        assert response.status_code == 404, url
    for url, form, message in (
        (f"/orgs/{mine}/products/{theirs.id}/listings", [("platforms", "etsy")], "Product"),
        (f"/orgs/{mine}/products/{theirs.id}/listings/stream", [("platform", "etsy")], "Product"),
        (f"/orgs/{mine}/listings/{their_copy.id}", [("title", "Mine now")], "Listing copy"),
        (f"/orgs/{mine}/listings/{their_copy.id}/revert", [("version", "1")], "Listing copy"),
    ):
        # A refused form post goes back (here: home) with the error, as every web form does.
        response = await post(client, url, form)
        assert (response.status_code, response.headers["location"]) == (303, "/"), url
        assert f"{message} not found." in await follow(client, response), url
    assert (await content_rows(session, mine), await content_rows(session, yours)) == before
