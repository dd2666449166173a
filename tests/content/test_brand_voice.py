"""Brand voices over the API: create, list (the default first), get, change, delete; the limits
on each field; one default per workspace; generation writes in the default (or named) voice."""

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.content.draft import BrandVoiceProfile, Platform
from flashfusion.models import BrandVoice, ListingCopy, Role
from tests.conftest import count_rows
from tests.content.test_endpoints import (
    API,
    READ,
    WRITE,
    assert_refused,
    assert_role_refused,
    audit_events,
    brief,
    headers,
    iso,
    offline_copy,
    reload,
    versions_of,
)
from tests.fixtures.objects import Tenant

PLAYFUL = {
    "name": "  Playful   shop ",
    "tone": ["playful", " warm ", "Playful"],
    "audience": "cat people",
    "vocabulary": ["purr-fect", "cosy"],
    "banned_words": ["cheap"],
    "example_copy": "Meow. A tee for the cat in charge.",
    "is_default": True,
}


def voice_body(v: BrandVoice) -> dict[str, Any]:
    return {
        "id": str(v.id),
        "created_at": iso(v.created_at),
        "modified_at": iso(v.modified_at),
        "organization_id": str(v.organization_id),
        "name": v.name,
        "tone": v.tone,
        "audience": v.audience,
        "vocabulary": v.vocabulary,
        "banned_words": v.banned_words,
        "example_copy": v.example_copy,
        "is_default": v.is_default,
    }


async def create_voice(client: httpx.AsyncClient, tenant: Tenant, **body: Any) -> dict[str, Any]:
    response = await client.post(
        f"{API}/brand-voices", json=body, headers=headers(tenant, Role.editor)
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_create_list_change_and_delete_brand_voices(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, other_tenant: Tenant
) -> None:
    url = f"{API}/brand-voices"
    own = {"organization_id": str(tenant.organization.id)}
    await assert_refused(
        client,
        session,
        tenant,
        other_tenant,
        "POST",
        url,
        scope=WRITE,
        json=PLAYFUL,
        foreign={"json": {**PLAYFUL, **own}},
    )
    await assert_role_refused(client, session, tenant, Role.viewer, "POST", url, json=PLAYFUL)
    assert await count_rows(session, "brand_voices") == 0

    response = await client.post(url, json=PLAYFUL, headers=headers(tenant, Role.editor))
    assert response.status_code == 201, response.text
    playful = await reload(session, BrandVoice, uuid.UUID(response.json()["id"]))
    assert response.json() == voice_body(playful)
    # Whitespace tidied, the repeated tone word (in any case) kept once.
    assert (playful.name, playful.tone, playful.vocabulary, playful.banned_words) == (
        "Playful shop",
        ["playful", "warm"],
        ["purr-fect", "cosy"],
        ["cheap"],
    )
    assert (playful.audience, playful.example_copy, playful.is_default) == (
        "cat people",
        "Meow. A tee for the cat in charge.",
        True,
    )

    # A new default takes over; the old one stops being the default.
    calm = await create_voice(client, tenant, name="Calm", is_default=True)
    minimal = await create_voice(client, tenant, name="Minimal")
    assert (minimal["tone"], minimal["audience"], minimal["is_default"]) == ([], "", False)
    assert (await reload(session, BrandVoice, playful.id)).is_default is False
    theirs = await create_voice(client, other_tenant, name="Theirs")

    await assert_refused(
        client, session, tenant, other_tenant, "GET", url, scope=READ, foreign={"params": own}
    )
    listed = await client.get(url, headers=headers(tenant, Role.viewer))
    assert listed.status_code == 200, listed.text
    assert [v["name"] for v in listed.json()["items"]] == ["Calm", "Minimal", "Playful shop"]
    assert listed.json()["pagination"] == {"total_count": 3, "max_page": 1}
    assert theirs["id"] not in listed.text

    one = f"{url}/{playful.id}"
    await assert_refused(client, session, tenant, other_tenant, "GET", one, scope=READ)
    response = await client.get(one, headers=headers(tenant, Role.viewer))
    assert response.json() == voice_body(await reload(session, BrandVoice, playful.id))

    change = {"is_default": True, "banned_words": ["cheap", "discount"], "audience": "cat owners"}
    await assert_refused(
        client, session, tenant, other_tenant, "PATCH", one, scope=WRITE, json=change
    )
    await assert_role_refused(client, session, tenant, Role.viewer, "PATCH", one, json=change)
    response = await client.patch(one, json=change, headers=headers(tenant, Role.editor))
    assert response.status_code == 200, response.text
    playful = await reload(session, BrandVoice, playful.id)
    assert response.json() == voice_body(playful)
    assert (playful.is_default, playful.banned_words, playful.audience) == (
        True,
        ["cheap", "discount"],
        "cat owners",
    )
    assert playful.name == "Playful shop"  # left out, so unchanged
    assert (await reload(session, BrandVoice, uuid.UUID(calm["id"]))).is_default is False
    defaults = await session.execute(
        select(BrandVoice.id).where(
            BrandVoice.organization_id == tenant.organization.id, BrandVoice.is_default
        )
    )
    assert list(defaults.scalars()) == [playful.id]

    await assert_refused(client, session, tenant, other_tenant, "DELETE", one, scope=WRITE)
    await assert_role_refused(client, session, tenant, Role.viewer, "DELETE", one)
    response = await client.delete(one, headers=headers(tenant, Role.editor))
    assert response.status_code == 200, response.text
    deleted = await reload(session, BrandVoice, playful.id)
    assert (deleted.deleted_at is not None, deleted.is_default) == (True, False)
    assert response.json() == voice_body(deleted)
    assert (await client.get(one, headers=headers(tenant, Role.viewer))).status_code == 404

    events = {
        action: [e.details for e in await audit_events(session, tenant.organization.id, action)]
        for action in ("brand_voice.created", "brand_voice.updated", "brand_voice.deleted")
    }
    assert events == {
        "brand_voice.created": [
            {"name": "Playful shop", "is_default": True},
            {"name": "Calm", "is_default": True},
            {"name": "Minimal", "is_default": False},
        ],
        "brand_voice.updated": [{"fields": ["audience", "banned_words", "is_default"]}],
        "brand_voice.deleted": [{"name": "Playful shop"}],
    }


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"name": "   "}, "name: is empty; give the brand voice a name."),
        ({"name": "x" * 101}, "name: is 101 characters; keep it to 100."),
        ({"tone": [f"tone{i}" for i in range(9)]}, "tone: has 9 entries; keep it to 8."),
        ({"tone": ["x" * 31]}, "tone[0]: is 31 characters; keep each to 30."),
        ({"tone": ["warm", " "]}, "tone[1]: is empty; remove it or type a word."),
        (
            {"vocabulary": [f"word{i}" for i in range(101)]},
            "vocabulary: has 101 entries; keep it to 100.",
        ),
        ({"banned_words": ["x" * 41]}, "banned_words[0]: is 41 characters; keep each to 40."),
        ({"example_copy": "x" * 5001}, "example_copy: is 5001 characters; keep it to 5000."),
        ({"audience": "x" * 301}, "audience: is 301 characters; keep it to 300."),
        ({"tone": "playful"}, "tone: Input should be a valid list"),
    ],
    ids=[
        "blank name",
        "long name",
        "too many tones",
        "long tone",
        "empty tone",
        "too many words",
        "long banned word",
        "long example",
        "long audience",
        "tone not a list",
    ],
)
async def test_a_bad_brand_voice_saves_nothing(
    client: httpx.AsyncClient,
    session: AsyncSession,
    tenant: Tenant,
    body: dict[str, Any],
    detail: str,
) -> None:
    response = await client.post(
        f"{API}/brand-voices", json={"name": "Voice", **body}, headers=headers(tenant, Role.owner)
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"].startswith(detail), response.json()["detail"]
    assert await count_rows(session, "brand_voices") == 0

    # The same values refused as a change, and the voice left as it was.
    created = await create_voice(client, tenant, name="Voice")
    before = voice_body(await reload(session, BrandVoice, uuid.UUID(created["id"])))
    response = await client.patch(
        f"{API}/brand-voices/{created['id']}", json=body, headers=headers(tenant, Role.owner)
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"].startswith(detail), response.json()["detail"]
    assert voice_body(await reload(session, BrandVoice, uuid.UUID(created["id"]))) == before


async def test_null_fields_are_refused_on_change(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    created = await create_voice(client, tenant, name="Voice")
    for name in ("name", "tone", "audience", "example_copy", "is_default"):
        response = await client.patch(
            f"{API}/brand-voices/{created['id']}",
            json={name: None},
            headers=headers(tenant, Role.owner),
        )
        assert response.status_code == 422, response.text
        expected = (
            "is_default: send true or false."
            if name == "is_default"
            else (f"{name}: must not be null.")
        )
        assert response.json()["detail"] == expected


async def test_generation_writes_in_the_default_or_named_voice(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, other_tenant: Tenant
) -> None:
    default = await create_voice(client, tenant, **PLAYFUL)
    named = await create_voice(
        client, tenant, name="Bold", tone=["bold"], banned_words=["coffee"], is_default=False
    )
    theirs = await create_voice(client, other_tenant, name="Theirs")
    url = f"{API}/content/listings/generate"
    body = {"idea": "Cat naps are sacred", "product_type": "tshirt", "platforms": ["etsy"]}

    response = await client.post(url, json=body, headers=headers(tenant, Role.editor))
    assert response.status_code == 201, response.text
    [listing] = response.json()
    profile = BrandVoiceProfile(
        name="Playful shop",
        tone=["playful", "warm"],
        audience="cat people",
        vocabulary=["purr-fect", "cosy"],
        banned_words=["cheap"],
        example_copy="Meow. A tee for the cat in charge.",
    )
    expected = offline_copy(brief("Cat naps are sacred", "tshirt", Platform.etsy, voice=profile))
    assert listing["brand_voice_id"] == default["id"]
    assert listing["latest"]["fields"] == expected
    assert listing["latest"]["voice_score"] is not None
    # Without a voice the same brief reads differently: the voice is really applied.
    assert expected != offline_copy(brief("Cat naps are sacred", "tshirt", Platform.etsy))

    response = await client.post(
        url,
        json={**body, "idea": "Morning coffee club", "brand_voice_id": named["id"]},
        headers=headers(tenant, Role.editor),
    )
    assert response.status_code == 201, response.text
    [listing] = response.json()
    bold = BrandVoiceProfile(name="Bold", tone=["bold"], banned_words=["coffee"])
    assert listing["brand_voice_id"] == named["id"]
    assert listing["latest"]["fields"] == offline_copy(
        brief("Morning coffee club", "tshirt", Platform.etsy, voice=bold)
    )
    copy = await reload(session, ListingCopy, uuid.UUID(listing["id"]))
    [version] = await versions_of(session, copy.id)
    assert "coffee" not in version.fields["title"].lower()

    before = await count_rows(session, "listing_copies")
    ledger = await count_rows(session, "ai_generations")
    for voice_id in (theirs["id"], str(uuid.uuid4())):
        response = await client.post(
            url, json={**body, "brand_voice_id": voice_id}, headers=headers(tenant, Role.editor)
        )
        assert response.status_code == 422, response.text
        assert response.json()["detail"] == (
            "brand_voice_id: no such brand voice in this workspace; list them at "
            "/api/v1/brand-voices."
        )
    assert await count_rows(session, "listing_copies") == before
    assert await count_rows(session, "ai_generations") == ledger
