"""Workspace pages: create and switch, members and invitations, API keys, audit log and
exports, jobs; what a viewer sees; a foreign workspace is a 404."""

import csv
import html
import io
import re
import uuid

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.audit.log import CSV_COLUMNS
from flashfusion.audit.tasks import write_export
from flashfusion.auth.service import auth as auth_service
from flashfusion.kit.crypto import is_well_formed_api_key
from flashfusion.models import (
    APIKey,
    AuditEvent,
    AuditExport,
    Invitation,
    Job,
    Member,
    Organization,
    Role,
    SessionState,
    User,
)
from tests.fixtures.objects import (
    Tenant,
    bearer,
    create_api_key,
    create_organization,
    create_user,
)
from tests.fixtures.web import csrf

# --- helpers ----------------------------------------------------------------------------


async def sign_in(client: httpx.AsyncClient, session: AsyncSession, user: User) -> None:
    """A signed-in browser for `user` (the sign-in pages themselves are tested elsewhere)."""
    _, token = await auth_service.create_session(session, user, SessionState.active)
    client.cookies.set("ff_session", token)


async def post(
    client: httpx.AsyncClient, path: str, data: dict[str, str] | list[tuple[str, str]]
) -> httpx.Response:
    items = list(data.items()) if isinstance(data, dict) else list(data)
    form: dict[str, list[str]] = {"csrf_token": [await csrf(client)]}
    for key, value in items:
        form.setdefault(key, []).append(value)
    return await client.post(path, data=form)


async def follow(client: httpx.AsyncClient, response: httpx.Response) -> str:
    assert response.status_code == 303, response.text[:500]
    page = await client.get(response.headers["location"], follow_redirects=True)
    return html.unescape(page.text)


async def count(session: AsyncSession, model: type, *where: object) -> int:
    result = await session.execute(select(func.count()).select_from(model).where(*where))
    return int(result.scalar_one())


def nav_links(page: str, org_id: uuid.UUID) -> list[str]:
    nav = page.split('<nav id="org-nav"', 1)[1].split("</nav>", 1)[0]
    return re.findall(rf'href="/orgs/{org_id}(/[a-z/-]*)?"', nav)


# --- workspaces -----------------------------------------------------------------------------


async def test_create_a_workspace(client: httpx.AsyncClient, session: AsyncSession) -> None:
    user = await create_user(session)
    await sign_in(client, session, user)
    home = await client.get("/")
    assert (home.status_code, home.headers["location"]) == (303, "/orgs/new")
    form = await client.get("/orgs/new")
    assert form.status_code == 200
    assert 'action="/orgs/new"' in form.text

    response = await post(client, "/orgs/new", {"name": "  Sunny Paws Apparel "})
    organization = (await session.execute(select(Organization))).scalar_one()
    assert organization.name == "Sunny Paws Apparel"
    assert organization.slug == "sunny-paws-apparel"
    assert response.headers["location"] == f"/orgs/{organization.id}"
    page = await follow(client, response)
    assert "Workspace “Sunny Paws Apparel” created." in page
    assert "<h1>Sunny Paws Apparel</h1>" in page
    member = (await session.execute(select(Member))).scalar_one()
    assert (member.user_id, member.role) == (user.id, Role.owner)
    event = (
        await session.execute(select(AuditEvent).where(AuditEvent.action == "organization.created"))
    ).scalar_one()
    assert (event.organization_id, event.actor_id, event.details) == (
        organization.id,
        user.id,
        {"name": "Sunny Paws Apparel"},
    )


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "Check the form: name: Field required"),
        ("   ", "name: use 1 to 100 characters for the workspace name."),
        ("x" * 101, "name: use 1 to 100 characters for the workspace name."),
    ],
)
async def test_workspace_name_is_checked(
    client: httpx.AsyncClient, session: AsyncSession, name: str, message: str
) -> None:
    user = await create_user(session)
    await sign_in(client, session, user)
    response = await client.post(
        "/orgs/new",
        data={"name": name, "csrf_token": await csrf(client)},
        headers={"Referer": "http://testserver/orgs/new"},
    )
    assert response.headers["location"] == "/orgs/new"
    assert message in await follow(client, response)
    assert await count(session, Organization) == 0


async def test_switcher_lists_my_workspaces_and_switches(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    user = await create_user(session)
    alpha = await create_organization(session, owner=user, name="Alpha Shop")
    beta = await create_organization(session, owner=user, name="Beta Shop")
    foreign = await create_organization(session, owner=await create_user(session), name="Gamma")
    await sign_in(client, session, user)

    page = await client.get(f"/orgs/{alpha.id}")
    switcher = page.text.split('<form method="post" action="/orgs/switch"', 1)[1].split(
        "</form>", 1
    )[0]
    options = re.findall(r'<option value="([^"]+)"\s*(selected)?>([^<]+)</option>', switcher)
    assert options == [(str(alpha.id), "selected", "Alpha Shop"), (str(beta.id), "", "Beta Shop")]
    assert "Gamma" not in page.text

    switched = await post(client, "/orgs/switch", {"organization_id": str(beta.id)})
    assert switched.headers["location"] == f"/orgs/{beta.id}"
    await client.get(f"/orgs/{beta.id}")
    # The home page remembers the last workspace of this session.
    home = await client.get("/")
    assert home.headers["location"] == f"/orgs/{beta.id}"

    refused = await post(client, "/orgs/switch", {"organization_id": str(foreign.id)})
    assert "Organization not found." in await follow(client, refused)
    assert refused.headers["location"] != f"/orgs/{foreign.id}"
    garbage = await post(client, "/orgs/switch", {"organization_id": "nope"})
    assert "organization_id: choose a workspace from the list." in await follow(client, garbage)


async def test_foreign_or_missing_workspace_is_the_same_404_page(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, other_tenant: Tenant
) -> None:
    await sign_in(client, session, tenant.owner)
    foreign = await client.get(f"/orgs/{other_tenant.organization.id}/members")
    missing = await client.get(f"/orgs/{uuid.uuid4()}/members")
    assert foreign.status_code == missing.status_code == 404
    assert "<h1>Not found</h1>" in foreign.text
    assert "Organization not found." in foreign.text
    assert foreign.text == missing.text
    assert other_tenant.owner.email not in foreign.text
    for path in ("", "/audit", "/api-keys", "/jobs", "/settings"):
        response = await client.get(f"/orgs/{other_tenant.organization.id}{path}")
        assert response.status_code == 404, path


async def test_anonymous_visitor_is_sent_to_sign_in(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    response = await client.get(f"/orgs/{tenant.organization.id}/members")
    assert response.status_code == 303
    assert response.headers["location"] == (
        f"/login?next=%2Forgs%2F{tenant.organization.id}%2Fmembers"
    )


# --- members and invitations ---------------------------------------------------------------


async def test_members_page_invite_change_role_and_remove(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    org = tenant.organization
    await sign_in(client, session, tenant.owner)
    page = await client.get(f"/orgs/{org.id}/members")
    assert page.status_code == 200
    for _role, user in tenant.users.items():
        assert user.email in page.text
    assert 'id="send-invite"' in page.text
    editor_member = tenant.members[Role.editor]
    assert f'action="/orgs/{org.id}/members/{editor_member.id}/role"' in page.text
    # No role or remove form for the owner's own row.
    assert f"/members/{tenant.members[Role.owner].id}/remove" not in page.text

    invited = await post(
        client, f"/orgs/{org.id}/invitations", {"email": " New.Hire@Example.com ", "role": "editor"}
    )
    assert "Invitation sent to new.hire@example.com." in await follow(client, invited)
    invitation = (await session.execute(select(Invitation))).scalar_one()
    assert (invitation.email, invitation.role, invitation.status) == (
        "new.hire@example.com",
        Role.editor,
        "pending",
    )
    assert invitation.invited_by_user_id == tenant.owner.id
    job = (await session.execute(select(Job).where(Job.kind == "email.invitation"))).scalar_one()
    assert job.arguments == [str(invitation.id)]
    page = await client.get(f"/orgs/{org.id}/members")
    assert "<h3>Pending invitations</h3>" in page.text
    assert f"/invitations/{invitation.id}/revoke" in page.text

    changed = await post(
        client, f"/orgs/{org.id}/members/{editor_member.id}/role", {"role": "viewer"}
    )
    editor_email = tenant.users[Role.editor].email
    assert f"{editor_email} is now viewer." in await follow(client, changed)
    await session.refresh(editor_member)
    assert editor_member.role == Role.viewer

    editor_key, editor_token = await create_api_key(
        session, organization=org, user=tenant.users[Role.editor]
    )
    removed = await post(client, f"/orgs/{org.id}/members/{editor_member.id}/remove", {})
    assert f"{editor_email} was removed." in await follow(client, removed)
    assert await count(session, Member, Member.id == editor_member.id) == 0
    await session.refresh(editor_key)
    assert editor_key.revoked_at is not None
    assert (await client.get("/api/v1/me", headers=bearer(editor_token))).status_code == 401


async def test_admin_cannot_change_the_owner_or_grant_above_itself(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    org = tenant.organization
    await sign_in(client, session, tenant.users[Role.admin])
    owner_member = tenant.members[Role.owner]
    response = await client.post(
        f"/orgs/{org.id}/members/{owner_member.id}/role",
        data={"role": "viewer", "csrf_token": await csrf(client)},
        headers={"Referer": f"http://testserver/orgs/{org.id}/members"},
    )
    assert response.headers["location"] == f"/orgs/{org.id}/members"
    assert "The owner can't be changed or removed" in await follow(client, response)
    await session.refresh(owner_member)
    assert owner_member.role == Role.owner
    peer = tenant.members[Role.admin]
    page = await client.get(f"/orgs/{org.id}/members")
    assert f"/members/{peer.id}/remove" not in page.text


async def test_viewer_sees_members_but_cannot_manage(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    org = tenant.organization
    await sign_in(client, session, tenant.users[Role.viewer])
    page = await client.get(f"/orgs/{org.id}/members")
    assert page.status_code == 200
    assert tenant.owner.email in page.text
    assert 'id="send-invite"' not in page.text
    assert "/role" not in page.text
    assert "/remove" not in page.text
    response = await post(
        client, f"/orgs/{org.id}/invitations", {"email": "x@example.com", "role": "viewer"}
    )
    assert "Your role does not allow 'members:manage'" in await follow(client, response)
    assert await count(session, Invitation) == 0


# --- API keys -------------------------------------------------------------------------------


async def test_api_key_is_shown_once_and_works(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    org = tenant.organization
    await sign_in(client, session, tenant.owner)
    keys_before = await count(session, APIKey)
    response = await post(
        client,
        f"/orgs/{org.id}/api-keys",
        [("name", "Reporting"), ("scopes", "members:read"), ("scopes", "audit:read")],
    )
    assert response.status_code == 200
    match = re.search(r'<code id="new-api-key" class="secret">([^<]+)</code>', response.text)
    assert match
    token = match.group(1)
    assert is_well_formed_api_key(token)
    key = (await session.execute(select(APIKey).where(APIKey.name == "Reporting"))).scalar_one()
    assert key.scopes == ["audit:read", "members:read"]
    assert key.display_prefix == token[:8]
    assert token not in key.token_hash
    assert await count(session, APIKey) == keys_before + 1

    me = await client.get("/api/v1/me", headers=bearer(token))
    assert me.status_code == 200
    assert me.json()["scopes"] == ["audit:read", "members:read"]

    listing = await client.get(f"/orgs/{org.id}/api-keys")
    assert "Reporting" in listing.text
    assert f"<code>{token[:8]}…</code>" in listing.text
    assert token not in listing.text  # never shown again

    revoked = await post(client, f"/orgs/{org.id}/api-keys/{key.id}/revoke", {})
    assert "Key “Reporting” revoked." in await follow(client, revoked)
    assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 401


async def test_api_key_scopes_are_limited_by_role(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    org = tenant.organization
    await sign_in(client, session, tenant.users[Role.editor])
    page = await client.get(f"/orgs/{org.id}/api-keys")
    assert re.search(r'value="audit:read"\s+disabled', page.text)
    assert not re.search(r'value="api_keys:write"\s+disabled', page.text)
    before = await count(session, APIKey)
    response = await post(
        client,
        f"/orgs/{org.id}/api-keys",
        [("name", "Too much"), ("scopes", "audit:read"), ("scopes", "members:read")],
    )
    assert "You can't grant audit:read" in await follow(client, response)
    assert await count(session, APIKey) == before


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ([("name", ""), ("scopes", "members:read")], "name: give the key a name"),
        ([("name", "k")], "scopes: choose at least one scope."),
        ([("name", "k"), ("scopes", "root:all")], "scopes: unknown scope(s): root:all"),
        (
            [("name", "k"), ("scopes", "members:read"), ("expires_in_days", "0")],
            "expires_in_days: enter a number of days from 1 to 3650",
        ),
    ],
)
async def test_api_key_form_errors(
    client: httpx.AsyncClient,
    session: AsyncSession,
    tenant: Tenant,
    form: list[tuple[str, str]],
    message: str,
) -> None:
    await sign_in(client, session, tenant.owner)
    before = await count(session, APIKey)
    response = await post(client, f"/orgs/{tenant.organization.id}/api-keys", form)
    assert message in await follow(client, response)
    assert await count(session, APIKey) == before


# --- audit log ------------------------------------------------------------------------------


async def test_audit_page_lists_and_filters_events(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    org = tenant.organization
    await sign_in(client, session, tenant.owner)
    await post(client, f"/orgs/{org.id}/invitations", {"email": "a@example.com", "role": "viewer"})
    await post(client, f"/orgs/{org.id}/settings", {"name": "Renamed Tenant"})
    viewer_client_user = tenant.users[Role.viewer]
    session.add(
        AuditEvent(
            organization_id=org.id,
            user_id=viewer_client_user.id,
            actor_type="user",
            actor_id=viewer_client_user.id,
            actor_label=viewer_client_user.email,
            action="member.removed",
            outcome="denied",
            details={},
        )
    )
    await session.flush()

    page = await client.get(f"/orgs/{org.id}/audit")
    assert page.status_code == 200
    body = html.unescape(page.text)
    for action in ("invitation.created", "organization.updated", "member.removed"):
        assert f"<code>{action}</code>" in body
    assert "Export 3 event(s) as CSV" in body

    only_org = await client.get(f"/orgs/{org.id}/audit", params={"action": "organization."})
    assert "<code>organization.updated</code>" in only_org.text
    assert "<code>invitation.created</code>" not in only_org.text
    assert "Export 1 event(s) as CSV" in only_org.text
    assert 'value="organization."' in only_org.text  # the filter stays filled in

    denied = await client.get(f"/orgs/{org.id}/audit", params={"outcome": "denied"})
    assert "<code>member.removed</code>" in denied.text
    assert "Export 1 event(s) as CSV" in denied.text

    by_actor = await client.get(
        f"/orgs/{org.id}/audit", params={"actor": viewer_client_user.email.upper()}
    )
    assert "Export 1 event(s) as CSV" in by_actor.text

    future = await client.get(f"/orgs/{org.id}/audit", params={"since": "2999-01-01"})
    assert "No events match." in future.text

    bad = await client.get(f"/orgs/{org.id}/audit", params={"outcome": "maybe"})
    assert bad.status_code == 400
    assert "outcome: choose success, denied or failure." in bad.text
    bad_date = await client.get(f"/orgs/{org.id}/audit", params={"since": "yesterday"})
    assert bad_date.status_code == 400
    assert "since: use a date like 2026-11-25." in bad_date.text


async def test_viewer_has_no_audit_link_and_gets_403(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    org = tenant.organization
    viewer = tenant.users[Role.viewer]
    await sign_in(client, session, viewer)
    overview = await client.get(f"/orgs/{org.id}")
    assert overview.status_code == 200
    assert nav_links(overview.text, org.id) == [
        "",
        "/studio",
        "/products",
        "/pricing",
        "/content/batches",
        "/safeguards",
        "/connections",
        "/publishing",
        "/members",
        "/settings",
    ]
    assert f"/orgs/{org.id}/audit" not in overview.text

    response = await client.get(f"/orgs/{org.id}/audit")
    assert response.status_code == 403
    assert "<h1>Not allowed</h1>" in response.text
    assert (
        "Your role does not allow &#39;audit:read&#39;; ask a workspace owner or admin."
        in response.text
    )
    denial = (
        await session.execute(
            select(AuditEvent).where(
                AuditEvent.action == "audit.read", AuditEvent.outcome == "denied"
            )
        )
    ).scalar_one()
    assert (denial.organization_id, denial.actor_id) == (org.id, viewer.id)
    export = await post(client, f"/orgs/{org.id}/audit/export", {})
    assert "Your role does not allow 'audit:read'" in await follow(client, export)
    assert await count(session, AuditExport) == 0


async def test_owner_nav_has_every_section(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    org = tenant.organization
    await sign_in(client, session, tenant.owner)
    overview = await client.get(f"/orgs/{org.id}")
    assert nav_links(overview.text, org.id) == [
        "",
        "/studio",
        "/products",
        "/pricing",
        "/content/batches",
        "/safeguards",
        "/connections",
        "/publishing",
        "/orders",
        "/ai",
        "/members",
        "/api-keys",
        "/jobs",
        "/audit",
        "/settings",
    ]


async def test_export_page_shows_progress_then_the_download(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    org = tenant.organization
    await sign_in(client, session, tenant.owner)
    await post(client, f"/orgs/{org.id}/settings", {"name": "=HYPERLINK(1)"})
    started = await post(client, f"/orgs/{org.id}/audit/export", {"action": "organization."})
    export = (await session.execute(select(AuditExport))).scalar_one()
    assert started.headers["location"] == f"/orgs/{org.id}/audit/exports/{export.id}"
    assert export.filters == {"action": "organization."}

    full = await client.get(f"/orgs/{org.id}/audit/exports/{export.id}")
    assert full.status_code == 200
    assert "<h1>Audit log export</h1>" in full.text
    assert "Waiting for a worker…" in full.text
    fragment = await client.get(
        f"/orgs/{org.id}/audit/exports/{export.id}", headers={"HX-Request": "true"}
    )
    assert fragment.status_code == 200
    assert fragment.text.lstrip().startswith('<div id="export-status"')
    assert "<html" not in fragment.text
    assert f'hx-get="/orgs/{org.id}/audit/exports/{export.id}" hx-trigger="every 1s"' in (
        fragment.text
    )
    early = await client.get(f"/orgs/{org.id}/audit/exports/{export.id}/download")
    assert early.status_code == 409
    assert "The export is pending; download it once it is done." in early.text

    assert await write_export(str(export.id)) == 1
    done = await client.get(
        f"/orgs/{org.id}/audit/exports/{export.id}", headers={"HX-Request": "true"}
    )
    assert "hx-trigger" not in done.text  # polling stops
    assert "Ready</span> 1 event(s)" in done.text
    assert 'id="download-export"' in done.text
    download = await client.get(f"/orgs/{org.id}/audit/exports/{export.id}/download")
    assert download.status_code == 200
    assert download.headers["content-type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(
        r'attachment; filename="audit-log-\d{8}-\d{6}\.csv"',
        download.headers["content-disposition"],
    )
    rows = list(csv.reader(io.StringIO(download.text)))
    assert rows[0] == CSV_COLUMNS
    assert len(rows) == 2
    assert rows[1][1] == "organization.updated"
    details = rows[1][CSV_COLUMNS.index("details")]
    assert '"after": {"name": "=HYPERLINK(1)"}' in details


async def test_jobs_page_and_its_refreshing_fragment(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    org = tenant.organization
    await sign_in(client, session, tenant.owner)
    empty = await client.get(f"/orgs/{org.id}/jobs")
    assert "No jobs." in empty.text
    await post(client, f"/orgs/{org.id}/invitations", {"email": "b@example.com", "role": "viewer"})
    job = (await session.execute(select(Job))).scalar_one()

    page = await client.get(f"/orgs/{org.id}/jobs")
    assert page.status_code == 200
    assert "<h1>Background jobs</h1>" in page.text
    assert f'<a href="/orgs/{org.id}/jobs/{job.id}">Invitation email</a>' in page.text
    assert "Invitation email to b@example.com" in page.text
    assert '<span class="badge status-enqueued">ENQUEUED</span>' in page.text
    fragment = await client.get(f"/orgs/{org.id}/jobs", headers={"HX-Request": "true"})
    assert fragment.text.lstrip().startswith('<div id="jobs-table"')
    assert "<html" not in fragment.text
    filtered = await client.get(f"/orgs/{org.id}/jobs", params={"status": "SUCCESS"})
    assert "No jobs with status SUCCESS." in filtered.text
    bad = await client.get(f"/orgs/{org.id}/jobs", params={"status": "DONE"})
    assert bad.status_code == 400
    detail = await client.get(f"/orgs/{org.id}/jobs/{job.id}")
    assert detail.status_code == 200
    assert "Invitation email to b@example.com" in detail.text


async def test_jobs_of_another_workspace_are_not_found(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, other_tenant: Tenant
) -> None:
    await sign_in(client, session, other_tenant.owner)
    await post(
        client,
        f"/orgs/{other_tenant.organization.id}/invitations",
        {"email": "other-workspace-invitee@example.net", "role": "viewer"},
    )
    job = (await session.execute(select(Job))).scalar_one()
    client.cookies.clear()
    await sign_in(client, session, tenant.owner)
    response = await client.get(f"/orgs/{tenant.organization.id}/jobs/{job.id}")
    assert response.status_code == 404
    listing = await client.get(f"/orgs/{tenant.organization.id}/jobs")
    # The address is one no generated user's can end with (theirs are ...-<hex>@example.com).
    assert "other-workspace-invitee@example.net" not in listing.text
    assert "Invitation email to" not in listing.text
