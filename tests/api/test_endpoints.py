"""Public API, valid calls with exact bodies: organizations, members, invitations, API keys,
audit; plus the key lifecycle (shown once, scopes bounded by role, revoked, expired, creator
removed) and the invitation rules."""

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.auth.models import AuthSubject
from flashfusion.auth.scope import Scope
from flashfusion.auth.service import auth as auth_service
from flashfusion.exceptions import Conflict, Gone, NotPermitted
from flashfusion.invitation.service import invitation as invitation_service
from flashfusion.kit import encryption
from flashfusion.kit.crypto import generate_api_key, is_well_formed_api_key
from flashfusion.models import (
    APIKey,
    AuditEvent,
    AuditExport,
    Invitation,
    Member,
    Organization,
    Outcome,
    Role,
    SessionState,
    utc_now,
)
from tests.fixtures.objects import Tenant, bearer, create_api_key, create_user

API = "/api/v1"


def iso(value: datetime | None) -> str | None:
    """A datetime as the API writes it (ISO 8601, UTC as Z)."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def fresh(session: AsyncSession, model: type, id: uuid.UUID) -> Any:
    """The row as the database has it now (the app wrote it through its own session)."""
    result = await session.execute(
        select(model).where(model.id == id).execution_options(populate_existing=True)  # type: ignore[attr-defined]
    )
    return result.scalar_one()


def organization_body(organization: Organization) -> dict[str, Any]:
    return {
        "id": str(organization.id),
        "created_at": iso(organization.created_at),
        "modified_at": iso(organization.modified_at),
        "name": organization.name,
        "slug": organization.slug,
    }


def member_body(member: Member, email: str) -> dict[str, Any]:
    return {
        "id": str(member.id),
        "created_at": iso(member.created_at),
        "modified_at": iso(member.modified_at),
        "organization_id": str(member.organization_id),
        "role": str(member.role),
        "user": {"id": str(member.user_id), "email": email},
    }


def key_body(key: APIKey) -> dict[str, Any]:
    return {
        "id": str(key.id),
        "created_at": iso(key.created_at),
        "modified_at": iso(key.modified_at),
        "organization_id": str(key.organization_id),
        "name": key.name,
        "display_prefix": key.display_prefix,
        "scopes": key.scopes,
        "status": key.status,
        "expires_at": iso(key.expires_at),
        "revoked_at": iso(key.revoked_at),
        "last_used_at": iso(key.last_used_at),
        "created_by_user_id": str(key.created_by_user_id),
    }


def invitation_body(invitation: Invitation) -> dict[str, Any]:
    return {
        "id": str(invitation.id),
        "created_at": iso(invitation.created_at),
        "modified_at": iso(invitation.modified_at),
        "organization_id": str(invitation.organization_id),
        "email": invitation.email,
        "role": str(invitation.role),
        "status": invitation.status,
        "expires_at": iso(invitation.expires_at),
    }


def owner(tenant: Tenant) -> dict[str, str]:
    return bearer(tenant.tokens[Role.owner])


async def events(session: AsyncSession, action: str) -> list[AuditEvent]:
    result = await session.execute(
        select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.created_at)
    )
    return list(result.scalars())


# --- organizations --------------------------------------------------------------------------


async def test_list_and_get_organizations(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    listing = await client.get(f"{API}/organizations", headers=owner(tenant))
    assert listing.status_code == 200
    assert listing.json() == {
        "items": [organization_body(tenant.organization)],
        "pagination": {"total_count": 1, "max_page": 1},
    }
    one = await client.get(f"{API}/organizations/{tenant.organization.id}", headers=owner(tenant))
    assert one.status_code == 200
    assert one.json() == organization_body(tenant.organization)


async def test_rename_organization(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    org_id = tenant.organization.id
    response = await client.patch(
        f"{API}/organizations/{org_id}", json={"name": "  New Name "}, headers=owner(tenant)
    )
    assert response.status_code == 200
    stored = await fresh(session, Organization, org_id)
    assert stored.name == "New Name"
    assert stored.modified_at is not None
    assert response.json() == organization_body(stored)
    [event] = await events(session, "organization.updated")
    assert event.details == {"before": {"name": "Tenant A"}, "after": {"name": "New Name"}}
    assert event.outcome == Outcome.success
    # An empty update changes nothing and records nothing.
    same = await client.patch(f"{API}/organizations/{org_id}", json={}, headers=owner(tenant))
    assert same.json() == organization_body(stored)
    assert len(await events(session, "organization.updated")) == 1


# --- members --------------------------------------------------------------------------------


async def test_list_and_get_members(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.get(f"{API}/members", headers=owner(tenant))
    assert response.status_code == 200
    assert response.json() == {
        "items": [member_body(tenant.members[r], tenant.users[r].email) for r in Role],
        "pagination": {"total_count": 4, "max_page": 1},
    }
    page = await client.get(f"{API}/members", params={"limit": 3, "page": 2}, headers=owner(tenant))
    assert page.json() == {
        "items": [member_body(tenant.members[Role.viewer], tenant.users[Role.viewer].email)],
        "pagination": {"total_count": 4, "max_page": 2},
    }
    editor = tenant.members[Role.editor]
    one = await client.get(f"{API}/members/{editor.id}", headers=owner(tenant))
    assert one.json() == member_body(editor, tenant.users[Role.editor].email)


async def test_change_a_members_role(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    editor = tenant.members[Role.editor]
    response = await client.patch(
        f"{API}/members/{editor.id}", json={"role": "admin"}, headers=owner(tenant)
    )
    assert response.status_code == 200
    stored = await fresh(session, Member, editor.id)
    assert stored.role == Role.admin
    assert response.json() == member_body(stored, tenant.users[Role.editor].email)
    [event] = await events(session, "member.role_changed")
    assert event.details == {
        "email": tenant.users[Role.editor].email,
        "from": "editor",
        "to": "admin",
    }
    # The member's keys now act with the new role.
    me = await client.get(f"{API}/me", headers=bearer(tenant.tokens[Role.editor]))
    assert me.json()["role"] == "admin"


async def test_admin_cannot_promote_to_owner_or_manage_peers(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    admin = bearer(tenant.tokens[Role.admin])
    owner_member = tenant.members[Role.owner]
    response = await client.patch(
        f"{API}/members/{owner_member.id}", json={"role": "viewer"}, headers=admin
    )
    assert response.status_code == 403
    assert response.json() == {
        "error": "NotPermitted",
        "detail": "The owner can't be changed or removed; the owner can transfer ownership.",
    }
    promote = await client.patch(
        f"{API}/members/{tenant.members[Role.viewer].id}", json={"role": "owner"}, headers=admin
    )
    assert promote.status_code == 422  # "owner" is not an accepted value
    assert (await fresh(session, Member, owner_member.id)).role == Role.owner


async def test_removed_members_keys_stop_working(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    editor = tenant.members[Role.editor]
    editor_token = tenant.tokens[Role.editor]
    assert (await client.get(f"{API}/me", headers=bearer(editor_token))).status_code == 200
    response = await client.delete(f"{API}/members/{editor.id}", headers=owner(tenant))
    assert response.status_code == 204
    assert response.content == b""
    assert await session.scalar(select(func.count()).where(Member.id == editor.id)) == 0
    after = await client.get(f"{API}/me", headers=bearer(editor_token))
    assert after.status_code == 401
    assert after.json() == {
        "error": "Unauthorized",
        "detail": "This API key is revoked. Create a new key.",
    }
    [event] = await events(session, "member.removed")
    assert event.details == {"email": tenant.users[Role.editor].email, "role": "editor"}


async def test_key_of_a_creator_who_left_stops_working(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    """Even a key that escaped revocation: authentication checks the creator's membership."""
    viewer = tenant.members[Role.viewer]
    await session.delete(viewer)
    await session.flush()
    response = await client.get(f"{API}/me", headers=bearer(tenant.tokens[Role.viewer]))
    assert response.status_code == 401
    assert response.json() == {
        "error": "Unauthorized",
        "detail": "The member who created this API key has left the workspace; create a new key.",
    }


# --- invitations ----------------------------------------------------------------------------


def invitation_secret(invitation: Invitation) -> str:
    assert invitation.token_encrypted is not None
    return encryption.decrypt(
        invitation.token_encrypted,
        aad=encryption.bound_to("invitations", "token_encrypted", invitation.id),
    )


async def invite(
    client: httpx.AsyncClient, tenant: Tenant, email: str, role: str = "editor"
) -> httpx.Response:
    return await client.post(
        f"{API}/invitations", json={"email": email, "role": role}, headers=owner(tenant)
    )


async def test_create_list_and_revoke_an_invitation(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    created = await invite(client, tenant, "New.Hire@Example.com")
    assert created.status_code == 201
    invitation = await fresh(session, Invitation, uuid.UUID(created.json()["id"]))
    assert invitation.email == "new.hire@example.com"
    assert invitation.invited_by_user_id == tenant.owner.id
    assert created.json() == invitation_body(invitation)
    assert created.json()["status"] == "pending"
    lifetime = invitation.expires_at - invitation.created_at
    assert abs(lifetime - timedelta(days=7)) < timedelta(seconds=5)
    assert "token" not in created.text

    listing = await client.get(f"{API}/invitations", headers=owner(tenant))
    assert listing.json() == {
        "items": [invitation_body(invitation)],
        "pagination": {"total_count": 1, "max_page": 1},
    }

    revoked = await client.delete(f"{API}/invitations/{invitation.id}", headers=owner(tenant))
    assert revoked.status_code == 200
    invitation = await fresh(session, Invitation, invitation.id)
    assert invitation.status == "revoked"
    assert invitation.token_encrypted is None
    assert revoked.json() == invitation_body(invitation)
    again = await client.delete(f"{API}/invitations/{invitation.id}", headers=owner(tenant))
    assert again.status_code == 409
    assert again.json() == {"error": "Conflict", "detail": "This invitation is already revoked."}
    pending = await client.get(
        f"{API}/invitations", params={"pending": "true"}, headers=owner(tenant)
    )
    assert pending.json()["items"] == []
    # Once revoked, the address can be invited again.
    assert (await invite(client, tenant, "new.hire@example.com")).status_code == 201


async def test_duplicate_pending_invitation_is_a_conflict(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    assert (await invite(client, tenant, "dup@example.com")).status_code == 201
    response = await invite(client, tenant, "DUP@example.com", role="viewer")
    assert response.status_code == 409
    assert response.json() == {
        "error": "Conflict",
        "detail": "dup@example.com already has a pending invitation; revoke it to send a new one.",
    }
    count = await session.scalar(select(func.count()).select_from(Invitation))
    assert count == 1


async def test_inviting_a_member_is_a_conflict(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    email = tenant.users[Role.viewer].email
    response = await invite(client, tenant, email.upper())
    assert response.status_code == 409
    assert response.json() == {
        "error": "Conflict",
        "detail": f"{email} is already a member of this workspace.",
    }
    assert await session.scalar(select(func.count()).select_from(Invitation)) == 0


async def test_invitation_role_is_bounded_by_the_inviters_role(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    # An admin may invite admins (its own rank) but the editor role cannot invite at all.
    admin = await client.post(
        f"{API}/invitations",
        json={"email": "a2@example.com", "role": "admin"},
        headers=bearer(tenant.tokens[Role.admin]),
    )
    assert admin.status_code == 201
    editor = await client.post(
        f"{API}/invitations",
        json={"email": "e2@example.com", "role": "viewer"},
        headers=bearer(tenant.tokens[Role.editor]),
    )
    assert editor.status_code == 403
    assert editor.json()["detail"] == (
        "This API key acts with the role of the member who created it (editor), which does not "
        "allow 'members:manage'; ask a workspace admin."
    )


async def test_accepting_needs_the_invited_address(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    created = await invite(client, tenant, "invitee@example.com", role="viewer")
    invitation = await fresh(session, Invitation, uuid.UUID(created.json()["id"]))
    secret = invitation_secret(invitation)
    stranger = await create_user(session, email="stranger@example.com")
    invitee = await create_user(session, email="invitee@example.com")

    with pytest.raises(NotPermitted) as refused:
        await invitation_service.accept(session, AuthSubject(stranger), secret)
    assert refused.value.status_code == 403
    assert refused.value.detail == (
        "This invitation was sent to invitee@example.com. Sign in with that address to accept it."
    )
    memberships = (
        select(func.count())
        .select_from(Member)
        .where(Member.organization_id == tenant.organization.id)
    )
    assert await session.scalar(memberships) == 4
    assert (await fresh(session, Invitation, invitation.id)).status == "pending"

    member = await invitation_service.accept(session, AuthSubject(invitee), secret)
    assert (member.organization_id, member.user_id, member.role) == (
        tenant.organization.id,
        invitee.id,
        Role.viewer,
    )
    assert await session.scalar(memberships) == 5
    accepted = await fresh(session, Invitation, invitation.id)
    assert (accepted.status, accepted.accepted_by_user_id) == ("accepted", invitee.id)
    with pytest.raises(Gone):
        await invitation_service.accept(session, AuthSubject(invitee), secret)


async def test_accepting_in_the_browser_as_someone_else_is_refused(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    created = await invite(client, tenant, "invitee@example.com", role="viewer")
    invitation = await fresh(session, Invitation, uuid.UUID(created.json()["id"]))
    secret = invitation_secret(invitation)
    stranger = await create_user(session, email="stranger@example.com")
    _, token = await auth_service.create_session(session, stranger, SessionState.active)
    client.cookies.set("ff_session", token)
    page = await client.get("/invitations/accept", params={"token": secret})
    assert page.status_code == 200
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match
    response = await client.post(
        "/invitations/accept", data={"token": secret, "csrf_token": match.group(1)}
    )
    assert response.status_code == 303
    assert not response.headers["location"].startswith(f"/orgs/{tenant.organization.id}")
    assert (
        await session.scalar(
            select(func.count()).select_from(Member).where(Member.user_id == stranger.id)
        )
        == 0
    )
    [denial] = await events(session, "invitation.accepted")
    assert (denial.outcome, denial.actor_id) == (Outcome.denied, stranger.id)
    assert denial.details == {"reason": "signed in as a different address"}


async def test_existing_member_accepting_again_is_a_conflict(
    session: AsyncSession, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    created = await invite(client, tenant, "later@example.com")
    invitation = await fresh(session, Invitation, uuid.UUID(created.json()["id"]))
    later = await create_user(session, email="later@example.com")
    member = Member(organization_id=tenant.organization.id, user_id=later.id, role=Role.viewer)
    session.add(member)
    await session.flush()
    with pytest.raises(Conflict, match="You are already a member of this workspace."):
        await invitation_service.accept(session, AuthSubject(later), invitation_secret(invitation))


# --- API keys -------------------------------------------------------------------------------


async def test_created_key_is_shown_once_and_works(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    response = await client.post(
        f"{API}/api_keys",
        json={"name": " Zapier ", "scopes": ["members:read", "organizations:read"]},
        headers=owner(tenant),
    )
    assert response.status_code == 201
    body = response.json()
    token = body.pop("token")
    assert is_well_formed_api_key(token)
    key = await fresh(session, APIKey, uuid.UUID(body["id"]))
    assert body == key_body(key)
    assert (key.name, key.scopes, key.status) == (
        "Zapier",
        ["members:read", "organizations:read"],
        "active",
    )
    assert key.created_by_user_id == tenant.owner.id
    assert key.display_prefix == token[:8]
    assert token not in key.token_hash

    me = await client.get(f"{API}/me", headers=bearer(token))
    assert me.status_code == 200
    assert me.json() == {
        "api_key_id": str(key.id),
        "organization_id": str(tenant.organization.id),
        "role": "owner",
        "scopes": ["members:read", "organizations:read"],
        "effective_permissions": ["members:read", "organization:read"],
    }
    assert (await client.get(f"{API}/members", headers=bearer(token))).status_code == 200
    refused = await client.get(f"{API}/api_keys", headers=bearer(token))
    assert refused.status_code == 403
    assert refused.json() == {
        "error": "InsufficientScope",
        "detail": "This API key lacks the scope api_keys:read; create a key that has it.",
    }

    again = await client.get(f"{API}/api_keys/{key.id}", headers=owner(tenant))
    key = await fresh(session, APIKey, key.id)
    assert again.json() == key_body(key)
    assert key.last_used_at is not None  # the call above was recorded
    listing = await client.get(f"{API}/api_keys", headers=owner(tenant))
    assert token not in listing.text
    assert listing.json()["pagination"] == {"total_count": 5, "max_page": 1}
    [created] = await events(session, "api_key.created")
    assert created.details == {"name": "Zapier", "scopes": ["members:read", "organizations:read"]}


async def test_key_with_an_expiry(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    response = await client.post(
        f"{API}/api_keys",
        json={"name": "temp", "scopes": ["organizations:read"], "expires_in_days": 30},
        headers=owner(tenant),
    )
    key = await fresh(session, APIKey, uuid.UUID(response.json()["id"]))
    assert key.expires_at is not None
    assert abs(key.expires_at - utc_now() - timedelta(days=30)) < timedelta(seconds=10)
    assert response.json()["expires_at"] == iso(key.expires_at)


@pytest.mark.parametrize(
    ("creator", "scopes", "excess"),
    [
        (Role.editor, ["organizations:read", "audit:read"], "audit:read"),
        (Role.editor, ["members:write"], "members:write"),
        (Role.admin, ["members:read", "jobs:write"], None),
        (Role.viewer, ["organizations:read"], "forbidden"),
    ],
)
async def test_scopes_beyond_the_creators_role_are_refused(
    client: httpx.AsyncClient,
    session: AsyncSession,
    tenant: Tenant,
    creator: Role,
    scopes: list[str],
    excess: str | None,
) -> None:
    before = await session.scalar(select(func.count()).select_from(APIKey))
    response = await client.post(
        f"{API}/api_keys",
        json={"name": "escalate", "scopes": scopes},
        headers=bearer(tenant.tokens[creator]),
    )
    after = await session.scalar(select(func.count()).select_from(APIKey))
    if excess is None:
        assert response.status_code == 201
        assert after == before + 1
        return
    assert response.status_code == 403
    assert after == before
    if excess == "forbidden":  # a viewer may not create keys at all
        assert response.json() == {
            "error": "NotPermitted",
            "detail": "This API key acts with the role of the member who created it (viewer), "
            "which does not allow 'api_keys:manage'; ask a workspace admin.",
        }
        return
    assert response.json() == {
        "error": "NotPermitted",
        "detail": f"You can't grant {excess}: a key can only hold scopes your role (and, for a "
        "key, the calling key) has.",
    }
    [denial] = await events(session, "api_key.created")
    assert denial.outcome == Outcome.denied
    assert denial.details == {"reason": "scopes beyond the creator's reach", "scopes": [excess]}


async def test_a_key_cannot_grant_scopes_it_does_not_hold(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    _, narrow = await create_api_key(
        session,
        organization=tenant.organization,
        user=tenant.owner,
        scopes={Scope.api_keys_write},
    )
    response = await client.post(
        f"{API}/api_keys",
        json={"name": "wider", "scopes": ["api_keys:write", "members:read"]},
        headers=bearer(narrow),
    )
    assert response.status_code == 403
    assert response.json()["detail"].startswith("You can't grant members:read:")


async def test_revoked_key_is_401(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    key, token = await create_api_key(session, organization=tenant.organization, user=tenant.owner)
    assert (await client.get(f"{API}/me", headers=bearer(token))).status_code == 200
    response = await client.delete(f"{API}/api_keys/{key.id}", headers=owner(tenant))
    assert response.status_code == 200
    key = await fresh(session, APIKey, key.id)
    assert key.status == "revoked"
    assert response.json() == key_body(key)
    refused = await client.get(f"{API}/me", headers=bearer(token))
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == 'Bearer realm="flashfusion"'
    assert refused.json() == {
        "error": "Unauthorized",
        "detail": "This API key is revoked. Create a new key.",
    }
    denial = await events(session, "api_key.authenticate")
    assert [(e.outcome, e.target_id, e.details) for e in denial] == [
        (Outcome.denied, str(key.id), {"reason": "revoked"})
    ]


async def test_expired_key_is_401(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    key, token = await create_api_key(session, organization=tenant.organization, user=tenant.owner)
    key.expires_at = utc_now() + timedelta(minutes=1)
    await session.flush()
    assert (await client.get(f"{API}/me", headers=bearer(token))).status_code == 200
    key.expires_at = utc_now() - timedelta(seconds=1)
    await session.flush()
    response = await client.get(f"{API}/organizations", headers=bearer(token))
    assert response.status_code == 401
    assert response.json() == {
        "error": "Unauthorized",
        "detail": "This API key is expired. Create a new key.",
    }
    shown = await client.get(f"{API}/api_keys/{key.id}", headers=owner(tenant))
    assert shown.json()["status"] == "expired"


async def test_unknown_and_malformed_keys_are_401(client: httpx.AsyncClient) -> None:
    unknown = await client.get(f"{API}/organizations", headers=bearer(generate_api_key()))
    assert unknown.status_code == 401
    assert unknown.json()["detail"] == (
        "Unknown API key. It may have been deleted; create a new one."
    )
    malformed = await client.get(f"{API}/organizations", headers=bearer("ffk_typo"))
    assert malformed.status_code == 401
    assert malformed.json()["detail"].startswith("This is not a FlashFusion API key")
    anonymous = await client.get(f"{API}/organizations")
    assert anonymous.status_code == 401
    assert anonymous.json()["detail"].startswith("Authentication required")


# --- audit ----------------------------------------------------------------------------------


async def test_audit_events_of_api_calls(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    await client.patch(
        f"{API}/organizations/{tenant.organization.id}",
        json={"name": "Renamed"},
        headers={**owner(tenant), "X-Request-ID": "trace-12345678", "User-Agent": "ci/1.0"},
    )
    [event] = await events(session, "organization.updated")
    response = await client.get(
        f"{API}/audit_events", params={"action": "organization."}, headers=owner(tenant)
    )
    assert response.status_code == 200
    owner_key = (
        await session.execute(
            select(APIKey).where(
                APIKey.organization_id == tenant.organization.id,
                APIKey.created_by_user_id == tenant.owner.id,
            )
        )
    ).scalar_one()
    assert response.json() == {
        "items": [
            {
                "id": str(event.id),
                "created_at": iso(event.created_at),
                "organization_id": str(tenant.organization.id),
                "actor_type": "api_key",
                "actor_id": str(owner_key.id),
                "actor_label": f"API key test key ({owner_key.display_prefix}…)",
                "action": "organization.updated",
                "target_type": "organization",
                "target_id": str(tenant.organization.id),
                "outcome": "success",
                "ip": "203.0.113.7",
                "user_agent": "ci/1.0",
                "request_id": "trace-12345678",
                "details": {"before": {"name": "Tenant A"}, "after": {"name": "Renamed"}},
            }
        ],
        "pagination": {"total_count": 1, "max_page": 1},
    }


async def test_create_and_get_an_export(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    response = await client.post(
        f"{API}/audit_events/exports",
        json={"outcome": "denied", "since": "2026-11-01T00:00:00Z"},
        headers=owner(tenant),
    )
    assert response.status_code == 202
    export = await fresh(session, AuditExport, uuid.UUID(response.json()["id"]))
    expected = {
        "id": str(export.id),
        "created_at": iso(export.created_at),
        "modified_at": None,
        "organization_id": str(tenant.organization.id),
        "status": "pending",
        "filters": {"outcome": "denied", "since": "2026-11-01T00:00:00+00:00"},
        "rows_total": None,
        "rows_written": 0,
        "byte_size": None,
        "error": None,
        "completed_at": None,
    }
    assert response.json() == expected
    got = await client.get(f"{API}/audit_events/exports/{export.id}", headers=owner(tenant))
    assert got.json() == expected
    assert export.requested_by_api_key_id is not None
    jobs = await client.get(f"{API}/jobs", headers=owner(tenant))
    assert [(j["kind"], j["status"]) for j in jobs.json()["items"]] == [
        ("audit.export", "ENQUEUED")
    ]
