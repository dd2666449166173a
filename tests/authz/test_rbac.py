"""RBAC: the role -> permission table, scopes on top of it, who may assign and manage whom, and
the ownership invariants (one owner, who cannot leave or be demoted, and only hands over by
transfer)."""

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.api_key.service import api_key as api_key_service
from flashfusion.auth.models import AuthSubject
from flashfusion.auth.scope import ALL_SCOPES, Scope
from flashfusion.authz.permission import (
    PERMISSION_SCOPE,
    ROLE_PERMISSIONS,
    Permission,
    can_assign,
    can_manage,
)
from flashfusion.authz.service import authz
from flashfusion.exceptions import Conflict, NotPermitted, ResourceNotFound, Unauthorized
from flashfusion.kit.password import hash_password
from flashfusion.member.repository import MemberRepository
from flashfusion.member.service import member as member_service
from flashfusion.models import APIKey, AuditEvent, Member, Role, User, utc_now
from flashfusion.organization.service import organization as organization_service
from tests.conftest import count_rows
from tests.fixtures.objects import Tenant, add_member, bearer, create_api_key

# The table as the docs state it (docs/security.md, the members page). ROLE_PERMISSIONS must
# say exactly this; changing a role's powers means changing this line on purpose.
DOCUMENTED_TABLE: dict[Role, set[str]] = {
    Role.viewer: {
        "organization:read",
        "members:read",
        "designs:read",
        "products:read",
        "content:read",
        "safeguards:read",
        "connections:read",
        "publishing:read",
    },
    Role.editor: {
        "organization:read",
        "members:read",
        "api_keys:read",
        "api_keys:manage",
        "jobs:read",
        "designs:read",
        "designs:manage",
        "products:read",
        "products:manage",
        "content:read",
        "content:manage",
        "ai_usage:read",
        "safeguards:read",
        "safeguards:manage",
        "connections:read",
        "publishing:read",
        "publishing:manage",
        "orders:read",
    },
    Role.admin: {
        "organization:read",
        "organization:manage",
        "members:read",
        "members:manage",
        "api_keys:read",
        "api_keys:manage",
        "audit:read",
        "jobs:read",
        "jobs:manage",
        "designs:read",
        "designs:manage",
        "products:read",
        "products:manage",
        "pricing:manage",
        "catalog:manage",
        "content:read",
        "content:manage",
        "ai_usage:read",
        "ai:manage",
        "safeguards:read",
        "safeguards:manage",
        "safeguards:override",
        "safeguards:configure",
        "connections:read",
        "connections:manage",
        "publishing:read",
        "publishing:manage",
        "orders:read",
    },
    Role.owner: {
        "organization:read",
        "organization:manage",
        "organization:transfer",
        "members:read",
        "members:manage",
        "api_keys:read",
        "api_keys:manage",
        "audit:read",
        "jobs:read",
        "jobs:manage",
        "designs:read",
        "designs:manage",
        "products:read",
        "products:manage",
        "pricing:manage",
        "catalog:manage",
        "content:read",
        "content:manage",
        "ai_usage:read",
        "ai:manage",
        "safeguards:read",
        "safeguards:manage",
        "safeguards:override",
        "safeguards:configure",
        "connections:read",
        "connections:manage",
        "publishing:read",
        "publishing:manage",
        "orders:read",
    },
}

DOCUMENTED_SCOPES: dict[str, str | None] = {
    "organization:read": "organizations:read",
    "organization:manage": "organizations:write",
    "organization:transfer": None,  # never through an API key
    "members:read": "members:read",
    "members:manage": "members:write",
    "api_keys:read": "api_keys:read",
    "api_keys:manage": "api_keys:write",
    "audit:read": "audit:read",
    "jobs:read": "jobs:read",
    "jobs:manage": "jobs:write",
    "designs:read": "designs:read",
    "designs:manage": "designs:write",
    "products:read": "products:read",
    "products:manage": "products:write",
    # Pricing rules and catalog overrides are product settings: the same write scope.
    "pricing:manage": "products:write",
    "catalog:manage": "products:write",
    "content:read": "content:read",
    "content:manage": "content:write",
    "ai_usage:read": "ai:read",
    "ai:manage": "ai:write",
    "safeguards:read": "safeguards:read",
    "safeguards:manage": "safeguards:write",
    "safeguards:override": None,  # a human decision with a reason: never through an API key
    "safeguards:configure": "safeguards:write",
    "connections:read": "connections:read",
    "connections:manage": "connections:write",
    "publishing:read": "publishing:read",
    "publishing:manage": "publishing:write",
    "orders:read": "orders:read",
}

# Roles an actor may hand out, and roles of members it may change or remove.
ASSIGNABLE: dict[Role, set[Role]] = {
    Role.owner: {Role.admin, Role.editor, Role.viewer},
    Role.admin: {Role.admin, Role.editor, Role.viewer},
    Role.editor: {Role.editor, Role.viewer},
    Role.viewer: {Role.viewer},
}
MANAGEABLE: dict[Role, set[Role]] = {
    Role.owner: {Role.admin, Role.editor, Role.viewer},
    Role.admin: {Role.editor, Role.viewer},
    Role.editor: {Role.viewer},
    Role.viewer: set(),
}

_PASSWORD_HASH = hash_password("a long enough test password")


async def quick_user(session: AsyncSession, label: str = "user") -> User:
    """A user without paying for a fresh argon2 hash (the matrices below make dozens)."""
    user = User(
        id=uuid.uuid4(),
        email=f"{label}-{uuid.uuid4().hex[:10]}@example.com",
        password_hash=_PASSWORD_HASH,
        password_changed_at=utc_now(),
        email_verified_at=utc_now(),
    )
    session.add(user)
    await session.flush()
    return user


async def owners_of(session: AsyncSession, tenant: Tenant) -> list[uuid.UUID]:
    rows = await session.execute(
        select(Member.user_id).where(
            Member.organization_id == tenant.organization.id, Member.role == Role.owner
        )
    )
    return list(rows.scalars().all())


async def role_of(session: AsyncSession, member_id: uuid.UUID) -> Role | None:
    row = await session.execute(select(Member.role).where(Member.id == member_id))
    return row.scalar_one_or_none()


async def denials(session: AsyncSession, organization_id: uuid.UUID, action: str) -> list[Any]:
    rows = await session.execute(
        select(AuditEvent)
        .where(
            AuditEvent.organization_id == organization_id,
            AuditEvent.action == action,
            AuditEvent.outcome == "denied",
        )
        .order_by(AuditEvent.created_at)
    )
    return list(rows.scalars().all())


# --- the table --------------------------------------------------------------------------------


def test_role_table_is_the_documented_one() -> None:
    assert {role: {p.value for p in perms} for role, perms in ROLE_PERMISSIONS.items()} == (
        DOCUMENTED_TABLE
    )
    assert {p.value: (s.value if s else None) for p, s in PERMISSION_SCOPE.items()} == (
        DOCUMENTED_SCOPES
    )


def test_roles_are_nested_and_every_scope_is_reachable() -> None:
    ordered = sorted(Role, key=lambda r: r.rank)
    for lower, higher in zip(ordered, ordered[1:], strict=False):
        assert ROLE_PERMISSIONS[lower] < ROLE_PERMISSIONS[higher], (lower, higher)
    assert set(PERMISSION_SCOPE) == set(Permission)
    assert {s for s in PERMISSION_SCOPE.values() if s is not None} == set(ALL_SCOPES)
    # Only the owner can hand over the workspace, and no key can.
    assert [r for r in Role if Permission.organization_transfer in ROLE_PERMISSIONS[r]] == [
        Role.owner
    ]


@pytest.mark.parametrize("role", list(Role))
async def test_user_permissions_equal_the_table(
    session: AsyncSession, tenant: Tenant, other_tenant: Tenant, role: Role
) -> None:
    subject = AuthSubject(tenant.users[role])
    for permission in Permission:
        has = await authz.has_permission(session, subject, tenant.organization.id, permission)
        assert has == (permission.value in DOCUMENTED_TABLE[role]), (role, permission)
        # Nothing at all in a workspace the user doesn't belong to.
        assert not await authz.has_permission(
            session, subject, other_tenant.organization.id, permission
        ), (role, permission, "other workspace")


@pytest.mark.parametrize("role", list(Role))
async def test_api_key_permissions_are_table_and_scopes(
    session: AsyncSession, tenant: Tenant, other_tenant: Tenant, role: Role
) -> None:
    """A key can do what its scopes allow within its creator's role, never more."""
    scope_sets = [ALL_SCOPES, frozenset(), *(frozenset({s}) for s in Scope)]
    for scopes in scope_sets:
        _, token = await create_api_key(
            session, organization=tenant.organization, user=tenant.users[role], scopes=scopes
        )
        subject = await api_key_service.authenticate(session, token)
        assert subject.api_key_role == role
        assert subject.scopes == scopes
        for permission in Permission:
            want = permission.value in DOCUMENTED_TABLE[role] and (
                DOCUMENTED_SCOPES[permission.value] in {s.value for s in scopes}
            )
            has = await authz.has_permission(session, subject, tenant.organization.id, permission)
            assert has == want, (role, sorted(scopes), permission)
            assert not await authz.has_permission(
                session, subject, other_tenant.organization.id, permission
            )


async def test_api_key_follows_its_creators_current_role(
    session: AsyncSession, tenant: Tenant
) -> None:
    _, token = await create_api_key(
        session, organization=tenant.organization, user=tenant.users[Role.admin]
    )
    before = await api_key_service.authenticate(session, token)
    assert await authz.has_permission(
        session, before, tenant.organization.id, Permission.jobs_manage
    )
    admin = await member_service.get(
        session, AuthSubject(tenant.owner), tenant.members[Role.admin].id
    )
    await member_service.update_role(session, AuthSubject(tenant.owner), admin, Role.viewer)
    after = await api_key_service.authenticate(session, token)
    assert after.api_key_role == Role.viewer
    for permission in Permission:
        has = await authz.has_permission(session, after, tenant.organization.id, permission)
        assert has == (permission.value in DOCUMENTED_TABLE[Role.viewer]), permission


# --- assign and manage ------------------------------------------------------------------------


def test_can_assign_and_can_manage() -> None:
    for actor in Role:
        assert {r for r in Role if can_assign(actor, r)} == ASSIGNABLE[actor], actor
        assert {r for r in Role if can_manage(actor, r)} == MANAGEABLE[actor], actor


async def test_role_changes_follow_the_rules(session: AsyncSession, tenant: Tenant) -> None:
    """Every actor x target role x new role through the service: allowed exactly when the actor
    holds members:manage, may manage the target and may assign the new role."""
    for actor_role in Role:
        actor = AuthSubject(tenant.users[actor_role])
        may_manage_members = "members:manage" in DOCUMENTED_TABLE[actor_role]
        for target_role in (Role.admin, Role.editor, Role.viewer):
            for new_role in Role:
                target = await add_member(
                    session, tenant.organization, await quick_user(session), target_role
                )
                loaded = await member_service.get(session, actor, target.id)
                allowed = (
                    may_manage_members
                    and target_role in MANAGEABLE[actor_role]
                    and new_role in ASSIGNABLE[actor_role]
                )
                case = f"{actor_role} sets {target_role} to {new_role}"
                if allowed:
                    result = await member_service.update_role(session, actor, loaded, new_role)
                    assert result.role == new_role, case
                    assert await role_of(session, target.id) == new_role, case
                else:
                    with pytest.raises(NotPermitted):
                        await member_service.update_role(session, actor, loaded, new_role)
                    assert await role_of(session, target.id) == target_role, case
    assert await owners_of(session, tenant) == [tenant.owner.id]


async def test_removals_follow_the_rules(session: AsyncSession, tenant: Tenant) -> None:
    for actor_role in Role:
        actor = AuthSubject(tenant.users[actor_role])
        for target_role in (Role.admin, Role.editor, Role.viewer):
            target = await add_member(
                session, tenant.organization, await quick_user(session), target_role
            )
            loaded = await member_service.get(session, actor, target.id)
            allowed = (
                "members:manage" in DOCUMENTED_TABLE[actor_role]
                and target_role in MANAGEABLE[actor_role]
            )
            if allowed:
                await member_service.remove(session, actor, loaded)
                assert await role_of(session, target.id) is None
            else:
                with pytest.raises(NotPermitted):
                    await member_service.remove(session, actor, loaded)
                assert await role_of(session, target.id) == target_role


# --- ownership --------------------------------------------------------------------------------


async def test_the_database_allows_one_owner_per_workspace(
    session: AsyncSession, tenant: Tenant, other_tenant: Tenant
) -> None:
    intruder = await quick_user(session)

    async def add_second_owner() -> None:
        async with session.begin_nested():
            session.add(
                Member(organization_id=tenant.organization.id, user_id=intruder.id, role=Role.owner)
            )
            await session.flush()

    async def promote_admin_directly() -> None:
        async with session.begin_nested():
            await MemberRepository.from_session(session).set_role(
                tenant.members[Role.admin], Role.owner
            )
            await session.flush()

    with pytest.raises(IntegrityError):
        await add_second_owner()
    with pytest.raises(IntegrityError):
        await promote_admin_directly()
    assert await owners_of(session, tenant) == [tenant.owner.id]
    # The index is per workspace: the other tenant has its own single owner.
    assert await owners_of(session, other_tenant) == [other_tenant.owner.id]


async def test_the_owner_cannot_leave(session: AsyncSession, tenant: Tenant) -> None:
    with pytest.raises(Conflict) as raised:
        await member_service.leave(session, AuthSubject(tenant.owner), tenant.organization.id)
    assert raised.value.status_code == 409
    assert "Transfer ownership" in raised.value.detail
    assert await role_of(session, tenant.members[Role.owner].id) == Role.owner


async def test_a_member_who_leaves_loses_their_keys(session: AsyncSession, tenant: Tenant) -> None:
    editor = tenant.users[Role.editor]
    await member_service.leave(session, AuthSubject(editor), tenant.organization.id)
    assert await role_of(session, tenant.members[Role.editor].id) is None
    revoked_at = await session.execute(
        select(APIKey.revoked_at).where(
            APIKey.created_by_user_id == editor.id,
            APIKey.organization_id == tenant.organization.id,
        )
    )
    assert [r is not None for r in revoked_at.scalars()] == [True]
    with pytest.raises(Unauthorized, match="revoked"):
        await api_key_service.authenticate(session, tenant.tokens[Role.editor])
    with pytest.raises(ResourceNotFound):
        await member_service.leave(session, AuthSubject(editor), tenant.organization.id)


async def test_an_admin_cannot_demote_or_remove_the_owner(
    session: AsyncSession, tenant: Tenant
) -> None:
    admin = AuthSubject(tenant.users[Role.admin])
    owner_member = await member_service.get(session, admin, tenant.members[Role.owner].id)
    for new_role in (Role.admin, Role.editor, Role.viewer):
        with pytest.raises(NotPermitted, match="The owner can't be changed or removed"):
            await member_service.update_role(session, admin, owner_member, new_role)
    with pytest.raises(NotPermitted, match="The owner can't be changed or removed"):
        await member_service.remove(session, admin, owner_member)
    assert await owners_of(session, tenant) == [tenant.owner.id]


async def test_nobody_grants_ownership_by_role_change(
    session: AsyncSession, tenant: Tenant
) -> None:
    for actor_role in (Role.owner, Role.admin):
        actor = AuthSubject(tenant.users[actor_role])
        editor = await member_service.get(session, actor, tenant.members[Role.editor].id)
        with pytest.raises(NotPermitted, match="Ownership moves only by transfer"):
            await member_service.update_role(session, actor, editor, Role.owner)
    assert await role_of(session, tenant.members[Role.editor].id) == Role.editor
    assert await owners_of(session, tenant) == [tenant.owner.id]


async def test_only_the_owner_transfers_ownership(session: AsyncSession, tenant: Tenant) -> None:
    organization = tenant.organization
    target_id = tenant.members[Role.editor].id
    for role in (Role.admin, Role.editor, Role.viewer):
        with pytest.raises(NotPermitted):
            await organization_service.transfer_ownership(
                session,
                AuthSubject(tenant.users[role]),
                organization,
                new_owner_member_id=target_id,
            )
    assert await owners_of(session, tenant) == [tenant.owner.id]
    # Not even the owner's own all-scopes key: transfer is never available to API keys.
    key_subject = await api_key_service.authenticate(session, tenant.tokens[Role.owner])
    assert not await authz.has_permission(
        session, key_subject, organization.id, Permission.organization_transfer
    )

    owner = AuthSubject(tenant.owner)
    with pytest.raises(Conflict):
        await organization_service.transfer_ownership(
            session, owner, organization, new_owner_member_id=tenant.members[Role.owner].id
        )
    with pytest.raises(ResourceNotFound):
        await organization_service.transfer_ownership(
            session, owner, organization, new_owner_member_id=uuid.uuid4()
        )

    new_owner = await organization_service.transfer_ownership(
        session, owner, organization, new_owner_member_id=target_id
    )
    assert new_owner.id == target_id
    assert await role_of(session, target_id) == Role.owner
    assert await role_of(session, tenant.members[Role.owner].id) == Role.admin
    assert await owners_of(session, tenant) == [tenant.users[Role.editor].id]
    # The old owner's key now carries an admin's power; the new owner's an owner's.
    old = await api_key_service.authenticate(session, tenant.tokens[Role.owner])
    new = await api_key_service.authenticate(session, tenant.tokens[Role.editor])
    assert (old.api_key_role, new.api_key_role) == (Role.admin, Role.owner)
    # And the old owner can no longer transfer it back.
    with pytest.raises(NotPermitted):
        await organization_service.transfer_ownership(
            session, owner, organization, new_owner_member_id=tenant.members[Role.owner].id
        )


async def test_a_removed_members_keys_are_revoked(
    session: AsyncSession, tenant: Tenant, other_tenant: Tenant
) -> None:
    editor = tenant.users[Role.editor]
    # The same person in another workspace keeps that membership and its key.
    await add_member(session, other_tenant.organization, editor, Role.editor)
    other_key, other_token = await create_api_key(
        session, organization=other_tenant.organization, user=editor
    )
    second_key, _ = await create_api_key(session, organization=tenant.organization, user=editor)
    active_before = await count_rows(session, "api_keys", "revoked_at IS NULL")

    owner = AuthSubject(tenant.owner)
    member = await member_service.get(session, owner, tenant.members[Role.editor].id)
    await member_service.remove(session, owner, member)

    revoked = await session.execute(
        select(APIKey.id, APIKey.organization_id).where(
            APIKey.created_by_user_id == editor.id, APIKey.revoked_at.is_not(None)
        )
    )
    revoked_keys = {tuple(row) for row in revoked.all()}
    assert len(revoked_keys) == 2
    assert (second_key.id, tenant.organization.id) in revoked_keys
    assert all(organization_id == tenant.organization.id for _, organization_id in revoked_keys)
    # Exactly the editor's two keys in this workspace stopped; nobody else's.
    assert await count_rows(session, "api_keys", "revoked_at IS NULL") == active_before - 2
    with pytest.raises(Unauthorized, match="revoked"):
        await api_key_service.authenticate(session, tenant.tokens[Role.editor])
    still = await api_key_service.authenticate(session, other_token)
    assert still.subject.id == other_key.id


# --- denials are audited, whatever happens to the request -------------------------------------


async def test_denied_api_calls_are_audited_while_the_request_rolls_back(
    session: AsyncSession, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    organization = tenant.organization
    owner_member = tenant.members[Role.owner]

    # A viewer's key may not rename the workspace.
    response = await client.patch(
        f"/api/v1/organizations/{organization.id}",
        json={"name": "Hijacked"},
        headers=bearer(tenant.tokens[Role.viewer]),
    )
    assert response.status_code == 403
    assert response.json()["error"] == "NotPermitted"
    assert await count_rows(session, "organizations", "name = 'Hijacked'") == 0
    [denied] = await denials(session, organization.id, "organization.updated")
    viewer_key = await api_key_service.authenticate(session, tenant.tokens[Role.viewer])
    assert (denied.actor_type, denied.actor_id) == ("api_key", viewer_key.subject.id)
    assert denied.user_id == tenant.users[Role.viewer].id
    assert (denied.target_type, denied.target_id) == ("organization", str(organization.id))
    assert denied.details == {"missing_permission": "organization:manage"}
    assert denied.ip == "203.0.113.7"
    assert denied.request_id == response.headers["x-request-id"]

    # An admin may not demote the owner.
    response = await client.patch(
        f"/api/v1/members/{owner_member.id}",
        json={"role": "viewer"},
        headers=bearer(tenant.tokens[Role.admin]),
    )
    assert response.status_code == 403
    assert await role_of(session, owner_member.id) == Role.owner
    [denied] = await denials(session, organization.id, "member.role_changed")
    assert (denied.target_type, denied.target_id) == ("member", str(owner_member.id))
    assert denied.details == {"reason": "admin cannot manage owner"}

    # An editor may not remove anyone.
    viewer_member = tenant.members[Role.viewer]
    response = await client.delete(
        f"/api/v1/members/{viewer_member.id}", headers=bearer(tenant.tokens[Role.editor])
    )
    assert response.status_code == 403
    assert await role_of(session, viewer_member.id) == Role.viewer
    [denied] = await denials(session, organization.id, "member.removed")
    assert denied.details == {"missing_permission": "members:manage"}

    # No success row was written for any of the refused actions.
    for action in ("organization.updated", "member.role_changed", "member.removed"):
        assert (
            await count_rows(
                session,
                "audit_events",
                "action = :a AND outcome = 'success'",
                a=action,
            )
            == 0
        ), action


async def test_missing_scope_is_audited_and_the_rest_rolled_back(
    session: AsyncSession, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    key, token = await create_api_key(
        session,
        organization=tenant.organization,
        user=tenant.owner,
        scopes=ALL_SCOPES - {Scope.jobs_read},
        name="no jobs",
    )
    response = await client.get("/api/v1/jobs", headers=bearer(token))
    assert response.status_code == 403
    assert response.json()["error"] == "InsufficientScope"
    [denied] = await denials(session, tenant.organization.id, "api.request")
    assert denied.actor_id == key.id
    assert denied.details == {
        "reason": "missing scope",
        "scopes": ["jobs:read"],
        "route": "GET /api/v1/jobs",
    }
    # The key was used even though the call was refused: its last use and first-use audit
    # event are kept, like the denial, while the request's own work was rolled back.
    row = await session.execute(select(APIKey.last_used_at).where(APIKey.id == key.id))
    assert row.scalar_one() is not None
    assert (
        await count_rows(
            session,
            "audit_events",
            "action = 'api_key.used' AND outcome = 'success' AND actor_id = :k",
            k=key.id.hex if session.get_bind().dialect.name == "sqlite" else key.id,
        )
        == 1
    )


async def test_revoked_key_is_refused_and_audited(
    session: AsyncSession, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    key, token = await create_api_key(
        session, organization=tenant.organization, user=tenant.owner, revoked=True
    )
    response = await client.get("/api/v1/me", headers=bearer(token))
    assert response.status_code == 401
    assert response.json() == {
        "error": "Unauthorized",
        "detail": "This API key is revoked. Create a new key.",
    }
    [denied] = await denials(session, tenant.organization.id, "api_key.authenticate")
    assert (denied.target_type, denied.target_id) == ("api_key", str(key.id))
    assert denied.details == {"reason": "revoked"}


async def test_removing_a_member_over_the_api_stops_their_keys(
    session: AsyncSession, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    editor_token = tenant.tokens[Role.editor]
    assert (await client.get("/api/v1/me", headers=bearer(editor_token))).status_code == 200
    response = await client.delete(
        f"/api/v1/members/{tenant.members[Role.editor].id}",
        headers=bearer(tenant.tokens[Role.admin]),
    )
    assert response.status_code == 204
    response = await client.get("/api/v1/me", headers=bearer(editor_token))
    assert response.status_code == 401
    assert response.json()["detail"] == "This API key is revoked. Create a new key."


async def test_the_api_cannot_make_an_owner(
    session: AsyncSession, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    response = await client.patch(
        f"/api/v1/members/{tenant.members[Role.editor].id}",
        json={"role": "owner"},
        headers=bearer(tenant.tokens[Role.owner]),
    )
    assert response.status_code == 422
    assert response.json()["detail"].startswith("role: ")
    assert await owners_of(session, tenant) == [tenant.owner.id]
