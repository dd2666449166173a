"""A/B experiments over the API: 2–4 saved versions of a listing as variants with a traffic
split; draft → running → stopped; outcomes as analytics reports them (totals, so reporting twice
changes nothing); the winner."""

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.models import ContentExperiment, ListingCopy, Role
from tests.conftest import count_rows
from tests.content.test_endpoints import (
    API,
    READ,
    WRITE,
    assert_refused,
    assert_role_refused,
    audit_events,
    create_listing_copy,
    fields,
    headers,
    iso,
    reload,
)
from tests.fixtures.objects import Tenant

TITLES = ("Coffee First Tee", "Coffee First Shirt", "Coffee Lover Gift Tee")


async def three_versions(session: AsyncSession, tenant: Tenant) -> ListingCopy:
    return await create_listing_copy(
        session, tenant.organization, versions=[fields(title) for title in TITLES]
    )


def variant(key: str, version: int, percent: int, **outcome: int | None) -> dict[str, Any]:
    return {
        "key": key,
        "version": version,
        "text": TITLES[version - 1],
        "traffic_percent": percent,
        "impressions": None,
        "clicks": None,
        "orders": None,
        **outcome,
    }


def experiment_body(e: ContentExperiment) -> dict[str, Any]:
    return {
        "id": str(e.id),
        "created_at": iso(e.created_at),
        "modified_at": iso(e.modified_at),
        "organization_id": str(e.organization_id),
        "listing_copy_id": str(e.listing_copy_id),
        "field": e.field,
        "variants": e.variants,
        "status": e.status,
        "winner": e.winner,
        "started_at": iso(e.started_at),
        "ended_at": iso(e.ended_at),
    }


async def create(
    client: httpx.AsyncClient, tenant: Tenant, copy: ListingCopy, **body: Any
) -> dict[str, Any]:
    response = await client.post(
        f"{API}/content/experiments",
        json={"listing_copy_id": str(copy.id), "field": "title", "versions": [1, 2], **body},
        headers=headers(tenant, Role.editor),
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_create_an_experiment_from_saved_versions(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, other_tenant: Tenant
) -> None:
    copy = await three_versions(session, tenant)
    url = f"{API}/content/experiments"
    body = {"listing_copy_id": str(copy.id), "field": "title", "versions": [1, 3]}
    await assert_refused(client, session, tenant, other_tenant, "POST", url, scope=WRITE, json=body)
    await assert_role_refused(client, session, tenant, Role.viewer, "POST", url, json=body)
    assert await count_rows(session, "content_experiments") == 0

    response = await client.post(url, json=body, headers=headers(tenant, Role.editor))
    assert response.status_code == 201, response.text
    experiment = await reload(session, ContentExperiment, uuid.UUID(response.json()["id"]))
    assert response.json() == experiment_body(experiment)
    assert experiment.variants == [variant("A", 1, 50), variant("B", 3, 50)]
    assert (experiment.field, experiment.status, experiment.winner) == ("title", "draft", None)
    assert (experiment.started_at, experiment.ended_at) == (None, None)
    assert experiment.created_by_user_id == tenant.users[Role.editor].id
    [event] = await audit_events(session, tenant.organization.id, "content_experiment.created")
    assert event.details == {"listing_copy_id": str(copy.id), "field": "title", "versions": [1, 3]}

    # A chosen split, and the even split of three (the remainder to A).
    chosen = await create(client, tenant, copy, versions=[2, 1], traffic=[70, 30])
    assert chosen["variants"] == [variant("A", 2, 70), variant("B", 1, 30)]
    even = await create(client, tenant, copy, versions=[1, 2, 3])
    assert [v["traffic_percent"] for v in even["variants"]] == [34, 33, 33]
    assert [v["key"] for v in even["variants"]] == ["A", "B", "C"]


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        ({"versions": [1]}, "versions: choose 2 to 4 versions of the listing (got 1)."),
        ({"versions": [1, 2, 3, 1, 2]}, "versions: choose 2 to 4 versions of the listing (got 5)."),
        ({"versions": [2, 2]}, "versions: each version may be a variant only once."),
        ({"versions": [1, 9]}, "versions: the listing has no version 9 (it has 1 to 3)."),
        ({"versions": [0, 1]}, "versions: the listing has no version 0 (it has 1 to 3)."),
        ({"traffic": [60, 30]}, "traffic: the percentages add up to 90, not 100."),
        ({"traffic": [100]}, "traffic: give one percentage per version (2), got 1."),
        ({"traffic": [100, 0]}, "traffic: each variant gets 1 to 99 percent."),
        ({"field": "tags"}, "field: Input should be 'title' or 'description'"),
        ({"versions": [1, 4]}, "versions: versions 1 and 4 have the same title;"),
        ({"listing_copy_id": str(uuid.uuid4())}, "Listing copy not found."),
    ],
    ids=[
        "one version",
        "five versions",
        "same version twice",
        "missing version",
        "version zero",
        "split under 100",
        "split too short",
        "zero traffic",
        "unknown field",
        "same text",
        "unknown copy",
    ],
)
async def test_a_bad_experiment_saves_nothing(
    client: httpx.AsyncClient,
    session: AsyncSession,
    tenant: Tenant,
    change: dict[str, Any],
    detail: str,
) -> None:
    copy = await create_listing_copy(
        session,
        tenant.organization,
        versions=[fields(title) for title in (*TITLES, TITLES[0])],
    )
    copy.latest_version = 3 if change.get("versions") != [1, 4] else 4
    await session.flush()
    body = {"listing_copy_id": str(copy.id), "field": "title", "versions": [1, 2], **change}
    response = await client.post(
        f"{API}/content/experiments", json=body, headers=headers(tenant, Role.owner)
    )
    assert response.status_code in (404, 422), response.text
    assert response.json()["detail"].startswith(detail), response.json()["detail"]
    assert await count_rows(session, "content_experiments") == 0


async def test_start_record_outcomes_and_stop(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, other_tenant: Tenant
) -> None:
    copy = await three_versions(session, tenant)
    created = await create(client, tenant, copy)
    base = f"{API}/content/experiments/{created['id']}"
    outcome = {"variant": "A", "impressions": 1000, "clicks": 52, "orders": 3}

    # Outcomes wait for the start.
    response = await client.post(
        f"{base}/outcome", json=outcome, headers=headers(tenant, Role.editor)
    )
    assert response.status_code == 409
    assert response.json()["detail"] == (
        "status: the experiment has not started; start it before recording outcomes."
    )

    await assert_refused(
        client, session, tenant, other_tenant, "POST", f"{base}/start", scope=WRITE
    )
    await assert_role_refused(client, session, tenant, Role.viewer, "POST", f"{base}/start")
    response = await client.post(f"{base}/start", headers=headers(tenant, Role.editor))
    assert response.status_code == 200, response.text
    experiment = await reload(session, ContentExperiment, uuid.UUID(created["id"]))
    assert response.json() == experiment_body(experiment)
    assert experiment.status == "running"
    assert experiment.started_at is not None
    again = await client.post(f"{base}/start", headers=headers(tenant, Role.editor))
    assert again.status_code == 409
    assert again.json()["detail"] == (
        "status: the experiment is running; only a draft can be started."
    )
    # A second test of the same field would split the same traffic.
    rival = await create(client, tenant, copy, versions=[2, 3])
    response = await client.post(
        f"{API}/content/experiments/{rival['id']}/start", headers=headers(tenant, Role.editor)
    )
    assert response.status_code == 409
    assert response.json()["detail"] == (
        f"status: experiment {experiment.id} already tests this listing's title; stop it first."
    )

    await assert_refused(
        client, session, tenant, other_tenant, "POST", f"{base}/outcome", scope=WRITE, json=outcome
    )
    await assert_role_refused(
        client, session, tenant, Role.viewer, "POST", f"{base}/outcome", json=outcome
    )
    for _ in range(2):  # totals, not increments: a retried report changes nothing
        response = await client.post(
            f"{base}/outcome", json=outcome, headers=headers(tenant, Role.editor)
        )
        assert response.status_code == 200, response.text
        assert response.json()["variants"] == [
            variant("A", 1, 50, impressions=1000, clicks=52, orders=3),
            variant("B", 2, 50),
        ]
    response = await client.post(
        f"{base}/outcome",
        json={"variant": "B", "impressions": 980, "clicks": 75, "orders": 6},
        headers=headers(tenant, Role.editor),
    )
    assert response.json()["variants"] == [
        variant("A", 1, 50, impressions=1000, clicks=52, orders=3),
        variant("B", 2, 50, impressions=980, clicks=75, orders=6),
    ]
    events = await audit_events(
        session, tenant.organization.id, "content_experiment.outcome_recorded"
    )
    assert [e.details for e in events] == [
        {"variant": "A", "impressions": 1000, "clicks": 52, "orders": 3},
        {"variant": "A", "impressions": 1000, "clicks": 52, "orders": 3},
        {"variant": "B", "impressions": 980, "clicks": 75, "orders": 6},
    ]
    before = (await reload(session, ContentExperiment, experiment.id)).variants
    for bad, detail in (
        ({**outcome, "clicks": -1}, "clicks: must be a whole number, 0 or more."),
        ({**outcome, "orders": 1.5}, "orders: Input should be a valid integer"),
        ({**outcome, "variant": "C"}, "variant: name one of the variants A, B."),
    ):
        response = await client.post(
            f"{base}/outcome", json=bad, headers=headers(tenant, Role.owner)
        )
        assert response.status_code == 422, response.text
        assert response.json()["detail"].startswith(detail), response.json()["detail"]
    assert (await reload(session, ContentExperiment, experiment.id)).variants == before

    stop = f"{base}/stop"
    wrong = await client.post(stop, json={"winner": "Z"}, headers=headers(tenant, Role.editor))
    assert (wrong.status_code, wrong.json()["detail"]) == (
        422,
        "winner: name one of the variants A, B.",
    )
    await assert_refused(
        client, session, tenant, other_tenant, "POST", stop, scope=WRITE, json={"winner": "B"}
    )
    await assert_role_refused(client, session, tenant, Role.viewer, "POST", stop, json={})
    response = await client.post(stop, json={"winner": "B"}, headers=headers(tenant, Role.editor))
    assert response.status_code == 200, response.text
    experiment = await reload(session, ContentExperiment, experiment.id)
    assert response.json() == experiment_body(experiment)
    assert (experiment.status, experiment.winner) == ("stopped", "B")
    assert experiment.ended_at is not None
    again = await client.post(stop, json={}, headers=headers(tenant, Role.editor))
    assert (again.status_code, again.json()["detail"]) == (
        409,
        "status: the experiment is stopped; only a running one can be stopped.",
    )
    # Late reports still land: analytics counts after the end of the test too.
    late = await client.post(
        f"{base}/outcome",
        json={"variant": "B", "impressions": 1010, "clicks": 77, "orders": 7},
        headers=headers(tenant, Role.editor),
    )
    assert late.status_code == 200
    # Now the rival may run.
    response = await client.post(
        f"{API}/content/experiments/{rival['id']}/start", headers=headers(tenant, Role.editor)
    )
    assert response.json()["status"] == "running"
    actions = [
        e.action
        for name in ("created", "started", "stopped")
        for e in await audit_events(session, tenant.organization.id, f"content_experiment.{name}")
    ]
    assert actions == [
        "content_experiment.created",
        "content_experiment.created",
        "content_experiment.started",
        "content_experiment.started",
        "content_experiment.stopped",
    ]


async def test_list_and_get_experiments(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, other_tenant: Tenant
) -> None:
    copy = await three_versions(session, tenant)
    other_copy = await create_listing_copy(
        session,
        tenant.organization,
        versions=[fields("Coffee Tee", "Strong coffee."), fields("Coffee Tee", "Slow mornings.")],
    )
    first = await create(client, tenant, copy)
    second = await create(client, tenant, other_copy, field="description")
    assert [v["text"] for v in second["variants"]] == ["Strong coffee.", "Slow mornings."]
    started = await client.post(
        f"{API}/content/experiments/{second['id']}/start", headers=headers(tenant, Role.editor)
    )
    assert started.status_code == 200
    theirs = await create_listing_copy(
        session, other_tenant.organization, versions=[fields(t) for t in TITLES[:2]]
    )
    await create(client, other_tenant, theirs)

    url = f"{API}/content/experiments"
    own = {"organization_id": str(tenant.organization.id)}
    await assert_refused(
        client, session, tenant, other_tenant, "GET", url, scope=READ, foreign={"params": own}
    )
    viewer = headers(tenant, Role.viewer)
    rows = {
        e["id"]: experiment_body(await reload(session, ContentExperiment, uuid.UUID(e["id"])))
        for e in (first, second)
    }
    listed = await client.get(url, headers=viewer)
    assert listed.status_code == 200, listed.text
    assert listed.json() == {
        "items": [rows[second["id"]], rows[first["id"]]],
        "pagination": {"total_count": 2, "max_page": 1},
    }
    running = await client.get(url, params={"status": "running"}, headers=viewer)
    assert [e["id"] for e in running.json()["items"]] == [second["id"]]
    of_copy = await client.get(url, params={"listing_copy_id": str(copy.id)}, headers=viewer)
    assert [e["id"] for e in of_copy.json()["items"]] == [first["id"]]
    bad = await client.get(url, params={"status": "paused"}, headers=viewer)
    assert (bad.status_code, bad.json()["detail"]) == (
        422,
        "status: use one of draft, running, stopped.",
    )

    one = f"{API}/content/experiments/{first['id']}"
    await assert_refused(client, session, tenant, other_tenant, "GET", one, scope=READ)
    response = await client.get(one, headers=viewer)
    assert response.json() == rows[first["id"]]
