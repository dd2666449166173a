"""Video scripts in the content library, over the API and in the web UI: every generated script
(offline provider: no keys in tests) is saved as a version of its script (one per idea or
product × video platform × language); regenerating and editing add versions, reverting saves an
old one as the newest; the library lists and filters scripts and never mixes them with listing
copy; other workspaces, viewers and bad input are refused and change nothing."""

import html
import re
import uuid
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.content.compose import VideoScript, compose_script
from flashfusion.content.draft import BrandVoiceProfile, Platform
from flashfusion.content.script_service import violations_of
from flashfusion.models import AIGeneration, ListingCopy, ListingCopyVersion, Role
from tests.content.test_endpoints import (
    API,
    READ,
    WRITE,
    assert_refused,
    assert_role_refused,
    audit_events,
    brief,
    content_rows,
    headers,
)
from tests.fixtures.objects import Tenant
from tests.fixtures.studio import create_design, create_product
from tests.web.test_org_views import follow, post, sign_in

SCRIPTS = f"{API}/content/scripts"
BODY = {"idea": "Coffee first", "product_type": "tshirt", "platform": "tiktok", "seconds": 20}


def composed(seconds: int = 20, platform: str = "tiktok", language: str = "en") -> dict[str, Any]:
    """What the offline composer writes for BODY (the service's brief: an Instagram-style one)."""
    the_brief = brief("Coffee first", "tshirt", Platform.instagram, language)
    return compose_script(the_brief, platform=platform, seconds=seconds).model_dump()


async def write(
    client: httpx.AsyncClient, tenant: Tenant, role: Role = Role.editor, **changes: Any
) -> dict[str, Any]:
    response = await client.post(SCRIPTS, json={**BODY, **changes}, headers=headers(tenant, role))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def versions_of(session: AsyncSession, script_id: str) -> list[ListingCopyVersion]:
    rows = await session.execute(
        select(ListingCopyVersion)
        .where(ListingCopyVersion.listing_copy_id == uuid.UUID(script_id))
        .order_by(ListingCopyVersion.version)
        .execution_options(populate_existing=True)
    )
    return list(rows.scalars())


async def test_a_script_is_saved_then_regenerated_edited_and_reverted(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    first = await write(client, tenant)
    script_id = first["script_id"]
    assert (first["version"], first["status"], first["violations"]) == (1, "ready", [])
    [row] = (
        await session.execute(select(ListingCopy).where(ListingCopy.id == uuid.UUID(script_id)))
    ).scalars()
    assert (row.platform, row.language, row.idea, row.product_type, row.product_id) == (
        "script:tiktok",
        "en",
        "Coffee first",
        "tshirt",
        None,
    )
    [generated] = await versions_of(session, script_id)
    assert generated.fields == composed()
    assert (generated.source, generated.provider, generated.violations) == (
        "generated",
        "offline",
        [],
    )
    ledger = await session.get(AIGeneration, generated.generation_id)
    assert ledger is not None
    assert (ledger.task, ledger.listing_copy_id, str(ledger.id)) == (
        "script",
        row.id,
        first["generation_id"],
    )

    detail = (
        await client.get(f"{SCRIPTS}/{script_id}", headers=headers(tenant, Role.viewer))
    ).json()
    assert {k: detail[k] for k in ("platform", "language", "status", "latest_version")} == {
        "platform": "tiktok",
        "language": "en",
        "status": "ready",
        "latest_version": 1,
    }
    assert detail["latest"]["fields"] == composed()
    assert (detail["latest"]["seconds"], detail["latest"]["script_id"]) == (20, script_id)

    # The same idea, platform and language again (30 seconds now): version 2 of the same script.
    again = await write(client, tenant, seconds=30)
    assert (again["script_id"], again["version"], again["seconds"]) == (script_id, 2, 30)

    # An edit: version 3, the hook changed and nothing else.
    edited = await client.patch(
        f"{SCRIPTS}/{script_id}",
        json={"hook": "Coffee first. Always.", "note": "punchier"},
        headers=headers(tenant, Role.editor),
    )
    assert edited.status_code == 200, edited.text
    latest = edited.json()["latest"]
    assert (latest["version"], latest["source"], latest["note"], latest["provider"]) == (
        3,
        "edited",
        "punchier",
        None,
    )
    assert latest["fields"] == {**composed(30), "hook": "Coffee first. Always."}

    diff = await client.get(f"{SCRIPTS}/{script_id}/diff", headers=headers(tenant, Role.viewer))
    assert diff.json() == {
        "script_id": script_id,
        "a": 2,
        "b": 3,
        "changes": [
            {
                "field": "hook",
                "before": composed(30)["hook"],
                "after": "Coffee first. Always.",
                "diff": [
                    "@@ -1 +1 @@",
                    f"-{composed(30)['hook']}",
                    "+Coffee first. Always.",
                ],
            }
        ],
    }
    lengths = await client.get(
        f"{SCRIPTS}/{script_id}/diff", params={"a": 1, "b": 2}, headers=headers(tenant, Role.viewer)
    )
    assert "scenes" in [c["field"] for c in lengths.json()["changes"]]

    # Back to the first: saved again as version 4.
    reverted = await client.post(
        f"{SCRIPTS}/{script_id}/revert", json={"version": 1}, headers=headers(tenant, Role.editor)
    )
    assert reverted.status_code == 201, reverted.text
    assert reverted.json()["latest"]["version"] == 4
    versions = await versions_of(session, script_id)
    assert [(v.version, v.source, v.note) for v in versions] == [
        (1, "generated", None),
        (2, "generated", None),
        (3, "edited", "punchier"),
        (4, "reverted", "reverted to version 1"),
    ]
    assert versions[3].fields == versions[0].fields
    assert (versions[3].provider, versions[3].generation_id) == ("offline", generated.generation_id)
    listed = await client.get(
        f"{SCRIPTS}/{script_id}/versions", headers=headers(tenant, Role.viewer)
    )
    assert [v["version"] for v in listed.json()["items"]] == [4, 3, 2, 1]
    one = await client.get(
        f"{SCRIPTS}/{script_id}/versions/3", headers=headers(tenant, Role.viewer)
    )
    assert one.json()["fields"]["hook"] == "Coffee first. Always."
    missing = await client.get(
        f"{SCRIPTS}/{script_id}/versions/9", headers=headers(tenant, Role.viewer)
    )
    assert (missing.status_code, missing.json()["detail"]) == (404, "Script version not found.")

    actions = [
        len(await audit_events(session, tenant.organization.id, action))
        for action in (
            "content.script_generated",
            "content.script_edited",
            "content.script_reverted",
        )
    ]
    assert actions == [2, 1, 1]


async def test_an_edit_that_breaks_a_rule_is_saved_as_a_draft_and_bad_edits_write_nothing(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    script_id = (await write(client, tenant))["script_id"]
    url = f"{SCRIPTS}/{script_id}"
    long_scenes = [
        {"seconds": 100, "shot": "Wide", "voice_over": "Coffee.", "on_screen_text": "Coffee"},
        {"seconds": 90, "shot": "Close", "voice_over": "First.", "on_screen_text": "First"},
    ]
    response = await client.patch(
        url, json={"scenes": long_scenes}, headers=headers(tenant, Role.editor)
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["latest"]["seconds"]) == ("draft", 190)
    assert body["latest"]["violations"] == [
        {
            "field": "scenes",
            "code": "too_long",
            "message": "the scenes add up to 190 seconds; keep the video to 180 or fewer",
            "limit": 180,
            "source": "FlashFusion's script length range (10–180 seconds)",
        }
    ]

    before = await content_rows(session, tenant.organization.id)
    for change, status, detail in (
        ({}, 422, "body: change at least one of hook, scenes, call_to_action, hashtags."),
        ({"scenes": []}, 422, None),
        (
            {"scenes": [{"seconds": 0, "shot": "", "voice_over": "", "on_screen_text": ""}]},
            422,
            None,
        ),
        ({"hook": 5}, 422, None),
    ):
        bad = await client.patch(url, json=change, headers=headers(tenant, Role.editor))
        assert bad.status_code == status, (change, bad.text)
        if detail is not None:
            assert bad.json()["detail"] == detail
    assert await content_rows(session, tenant.organization.id) == before


def test_script_rules_name_what_is_wrong() -> None:
    script = VideoScript.model_validate(
        {
            "hook": " ",
            "scenes": [
                {"seconds": 4, "shot": "Cheap mug", "voice_over": "Hi", "on_screen_text": "x"}
            ],
            "call_to_action": "Shop now",
            "hashtags": ["cheapfinds", "mugs"],
        }
    )
    voice = BrandVoiceProfile(name="Shop", banned_words=["cheap"])
    assert violations_of(script, voice, "en") == [
        {
            "field": "scenes",
            "code": "too_short",
            "message": "the scenes add up to 4 seconds; make the video at least 10",
            "limit": 10,
            "source": "FlashFusion's script length range (10–180 seconds)",
        },
        {"field": "hook", "code": "required", "message": "hook is empty", "limit": None,
         "source": None},
        {"field": "scenes[0].shot", "code": "banned_word",
         "message": "scenes[0].shot contains 'cheap', banned by brand voice 'Shop'",
         "limit": None, "source": None},
    ]  # fmt: skip
    fine = script.model_copy(
        update={"hook": "Hello", "scenes": [script.scenes[0].model_copy(update={"seconds": 12})]}
    )
    assert violations_of(fine, BrandVoiceProfile(), "en") == []


async def test_the_library_lists_and_filters_scripts_apart_from_listing_copy(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    tiktok = await write(client, tenant)
    shorts = await write(client, tenant, platform="youtube_shorts")
    german = await write(client, tenant, language="de")
    design, version = await create_design(session, tenant.organization, name="Stay Wild")
    product = await create_product(session, design, version, title="Stay Wild tee")
    for_product = await write(
        client, tenant, idea=None, product_type=None, product_id=str(product.id)
    )
    assert for_product["product_id"] == str(product.id)
    listing = await client.post(
        f"{API}/content/listings/generate",
        json={"idea": "Coffee first", "product_type": "tshirt", "platforms": ["etsy"]},
        headers=headers(tenant, Role.editor),
    )
    assert listing.status_code == 201, listing.text
    listing_id = listing.json()[0]["id"]

    async def ids(**params: str) -> list[str]:
        response = await client.get(SCRIPTS, params=params, headers=headers(tenant, Role.viewer))
        assert response.status_code == 200, response.text
        return sorted(item["id"] for item in response.json()["items"])

    everything = sorted(s["script_id"] for s in (tiktok, shorts, german, for_product))
    assert await ids() == everything
    assert await ids(platform="tiktok") == sorted(
        s["script_id"] for s in (tiktok, german, for_product)
    )
    assert await ids(platform="youtube_shorts") == [shorts["script_id"]]
    assert await ids(language="de") == [german["script_id"]]
    assert await ids(product_id=str(product.id)) == [for_product["script_id"]]
    bad = await client.get(
        SCRIPTS, params={"platform": "vimeo"}, headers=headers(tenant, Role.viewer)
    )
    assert (bad.status_code, bad.json()["detail"]) == (
        422,
        "platform: 'vimeo' is not a video platform; use one of tiktok, youtube_shorts, "
        "instagram_reels",
    )
    # Listing copy and scripts never cross: each library 404s the other's ids.
    listings = await client.get(f"{API}/content/listings", headers=headers(tenant, Role.viewer))
    assert [item["id"] for item in listings.json()["items"]] == [listing_id]
    for url, error in (
        (f"{API}/content/listings/{tiktok['script_id']}", "Listing copy not found."),
        (f"{API}/content/listings/{tiktok['script_id']}/versions", "Listing copy not found."),
        (f"{SCRIPTS}/{listing_id}", "Script not found."),
    ):
        response = await client.get(url, headers=headers(tenant, Role.viewer))
        assert (response.status_code, response.json()["detail"]) == (404, error), url


async def test_other_workspaces_and_viewers_are_refused_and_change_nothing(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, other_tenant: Tenant
) -> None:
    script_id = (await write(client, tenant))["script_id"]
    await write(client, tenant, seconds=30)
    url = f"{SCRIPTS}/{script_id}"
    for method, path, scope, body in (
        ("GET", url, READ, None),
        ("GET", f"{url}/versions", READ, None),
        ("GET", f"{url}/versions/1", READ, None),
        ("GET", f"{url}/diff", READ, None),
        ("PATCH", url, WRITE, {"hook": "Theirs now"}),
        ("POST", f"{url}/revert", WRITE, {"version": 1}),
    ):
        await assert_refused(
            client, session, tenant, other_tenant, method, path, scope=scope, json=body
        )
    await assert_role_refused(
        client, session, tenant, Role.viewer, "PATCH", url, json={"hook": "x"}
    )
    await assert_role_refused(
        client, session, tenant, Role.viewer, "POST", f"{url}/revert", json={"version": 1}
    )
    # The other workspace's library does not list it.
    theirs = await client.get(SCRIPTS, headers=headers(other_tenant, Role.owner))
    assert theirs.json()["items"] == []
    assert [v.version for v in await versions_of(session, script_id)] == [1, 2]


# --- web --------------------------------------------------------------------------------------


async def test_the_scripts_page_writes_edits_and_reverts_a_script(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    await sign_in(client, session, tenant.owner)
    base = f"/orgs/{tenant.organization.id}"
    written = await post(
        client,
        f"{base}/content/scripts",
        {"idea": "Coffee first", "product_type": "tshirt", "platform": "tiktok",
         "seconds": "20", "language": "en"},
    )  # fmt: skip
    [copy] = (
        await session.execute(
            select(ListingCopy).where(ListingCopy.organization_id == tenant.organization.id)
        )
    ).scalars()
    page_url = f"{base}/scripts/{copy.id}"
    assert written.headers["location"] == page_url
    page = await follow(client, written)
    assert "Saved as version 1." in page
    assert composed()["hook"] in page
    scenes = page.split('<table id="scenes">', 1)[1].split("</table>", 1)[0]
    assert len(re.findall(r"<tr><td>\d+</td>", scenes)) == len(composed()["scenes"])

    library = html.unescape((await client.get(f"{base}/content/scripts")).text)
    assert f'<tr data-script="{copy.id}" data-platform="tiktok" data-language="en">' in library
    filtered = html.unescape(
        (await client.get(f"{base}/content/scripts", params={"platform": "youtube_shorts"})).text
    )
    assert "No scripts yet." in filtered
    refused = html.unescape(
        (await client.get(f"{base}/content/scripts", params={"platform": "vimeo"})).text
    )
    assert (
        "platform: 'vimeo' is not a video platform; use one of tiktok, youtube_shorts, "
        "instagram_reels" in refused
    )

    lines = "\n".join(
        f"{s['seconds']}s | {s['shot']} | {s['voice_over']} | {s['on_screen_text']}"
        for s in composed()["scenes"]
    )
    edited = await post(
        client,
        page_url,
        {"hook": "Coffee first. Always.", "scenes": lines,
         "call_to_action": composed()["call_to_action"],
         "hashtags": ", ".join(composed()["hashtags"])},
    )  # fmt: skip
    assert "Saved as version 2." in await follow(client, edited)
    versions = await versions_of(session, str(copy.id))
    assert versions[1].fields == {**composed(), "hook": "Coffee first. Always."}

    broken = await post(client, page_url, {"hook": "x", "scenes": "3s | only three parts"})
    assert "scenes: line 1 needs four parts" in await follow(client, broken)
    assert len(await versions_of(session, str(copy.id))) == 2

    reverted = await post(client, f"{page_url}/revert", {"version": "1"})
    page = await follow(client, reverted)
    assert "Reverted to version 1 (saved as a new version)." in page
    history = page.split('<table id="versions">', 1)[1].split("</table>", 1)[0]
    assert re.findall(r"<tr><td>(\d+)</td><td>(\w+)", history) == [
        ("3", "reverted"),
        ("2", "edited"),
        ("1", "generated"),
    ]
    assert [v.fields for v in await versions_of(session, str(copy.id))][2] == composed()


async def test_another_workspaces_script_page_is_not_found(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, other_tenant: Tenant
) -> None:
    theirs = (await write(client, other_tenant))["script_id"]
    await sign_in(client, session, tenant.owner)
    mine, yours = tenant.organization.id, other_tenant.organization.id
    before = (await content_rows(session, mine), await content_rows(session, yours))
    for url in (f"/orgs/{mine}/scripts/{theirs}", f"/orgs/{yours}/scripts/{theirs}"):
        assert (await client.get(url)).status_code == 404, url
    for url, form in (
        (f"/orgs/{mine}/scripts/{theirs}", {"hook": "Mine now"}),
        (f"/orgs/{mine}/scripts/{theirs}/revert", {"version": "1"}),
    ):
        response = await post(client, url, form)
        assert (response.status_code, response.headers["location"]) == (303, "/"), url
        assert "Script not found." in await follow(client, response), url
    assert (await content_rows(session, mine), await content_rows(session, yours)) == before


async def test_a_products_script_is_not_screened_as_a_marketplace_listing(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    from flashfusion.safeguard.service import safeguard as safeguard_service

    design, version = await create_design(session, tenant.organization, name="Stay Wild")
    product = await create_product(session, design, version, title="Stay Wild tee")
    await write(client, tenant, idea=None, product_type=None, product_id=str(product.id))
    subject = await safeguard_service.subject_for_product(session, product)
    assert subject.platforms == ("etsy",)
