"""Workspaces: overview, settings, members and invitations, API keys, audit log, jobs."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from flashfusion.api_key.service import api_key as api_key_service
from flashfusion.api_key.service import scopes_of_role
from flashfusion.audit.log import audit_log as audit_log_service
from flashfusion.audit.repository import AuditFilters
from flashfusion.auth.scope import SCOPE_DESCRIPTIONS, Scope, parse_scopes
from flashfusion.authz.permission import (
    PERMISSION_DESCRIPTIONS,
    ROLE_PERMISSIONS,
    Permission,
    can_assign,
    can_manage,
    role_has,
)
from flashfusion.db import AsyncSessionDep
from flashfusion.exceptions import BadRequest
from flashfusion.invitation.service import invitation as invitation_service
from flashfusion.jobs.schemas import Job as JobSchema
from flashfusion.jobs.service import job as job_service
from flashfusion.kit.pagination import PaginationParams
from flashfusion.member.service import member as member_service
from flashfusion.models import Role
from flashfusion.organization.schemas import OrganizationUpdate
from flashfusion.organization.service import organization as organization_service
from flashfusion.web.deps import (
    CurrentUser,
    OptionalUser,
    OrgDep,
    load_user_organizations,
    web_subject,
)
from flashfusion.web.security import redirect
from flashfusion.web.templating import render
from flashfusion.web.views_auth import normalize_email

router = APIRouter()

FormStr = Annotated[str, Form()]
PageQuery = Annotated[int, Query(ge=1, le=10_000)]


@router.get("/")
async def home(request: Request, session: AsyncSessionDep, user: OptionalUser) -> Response:
    if user is None:
        return render(request, "landing.html", {})
    await load_user_organizations(request, session, user)
    organizations = request.state.organizations
    if not organizations:
        return RedirectResponse("/orgs/new", status_code=303)
    current = getattr(request.state.user_session, "current_organization_id", None)
    target = next((o for o in organizations if o.id == current), organizations[0])
    return RedirectResponse(f"/orgs/{target.id}", status_code=303)


@router.get("/orgs/new")
async def new_org_form(request: Request, session: AsyncSessionDep, user: CurrentUser) -> Response:
    await load_user_organizations(request, session, user)
    return render(request, "org/new.html", {})


@router.post("/orgs/new")
async def create_org(
    request: Request, session: AsyncSessionDep, user: CurrentUser, name: FormStr
) -> Response:
    if not name.strip() or len(name.strip()) > 100:
        raise BadRequest("name: use 1 to 100 characters for the workspace name.")
    organization = await organization_service.create(session, web_subject(user, request), name=name)
    return redirect(f"/orgs/{organization.id}", f"Workspace “{organization.name}” created.")


@router.post("/orgs/switch")
async def switch_org(
    request: Request, session: AsyncSessionDep, user: CurrentUser, organization_id: FormStr
) -> Response:
    try:
        target = uuid.UUID(organization_id)
    except ValueError as e:
        raise BadRequest("organization_id: choose a workspace from the list.") from e
    organization = await organization_service.get(session, web_subject(user, request), target)
    return RedirectResponse(f"/orgs/{organization.id}", status_code=303)


@router.get("/orgs/{org_id}")
async def overview(request: Request, session: AsyncSessionDep, ctx: OrgDep) -> Response:
    members, member_count = await member_service.list(
        session, ctx.subject, organization_id=ctx.organization.id, pagination=PaginationParams(1, 5)
    )
    keys_count = 0
    if role_has(ctx.role, Permission.api_keys_read):
        _, keys_count = await api_key_service.list(
            session,
            ctx.subject,
            organization_id=ctx.organization.id,
            pagination=PaginationParams(1, 1),
        )
    jobs: list[JobSchema] = []
    if role_has(ctx.role, Permission.jobs_read):
        jobs, _ = await job_service.list(
            session,
            ctx.subject,
            organization_id=ctx.organization.id,
            status=None,
            kind=None,
            pagination=PaginationParams(1, 5),
        )
    return render(
        request,
        "org/overview.html",
        {
            "member_count": member_count,
            "keys_count": keys_count,
            "jobs": jobs,
            "has_2fa": ctx.subject.subject.has_2fa,
        },
    )


@router.get("/orgs/{org_id}/settings")
async def settings_page(request: Request, ctx: OrgDep) -> Response:
    return render(request, "org/settings.html", {})


@router.post("/orgs/{org_id}/settings")
async def update_settings(
    request: Request, session: AsyncSessionDep, ctx: OrgDep, name: FormStr
) -> Response:
    name = name.strip()
    if not name or len(name) > 100:
        raise BadRequest("name: use 1 to 100 characters for the workspace name.")
    await organization_service.update(
        session, ctx.subject, ctx.organization, OrganizationUpdate(name=name)
    )
    return redirect(f"/orgs/{ctx.organization.id}/settings", "Workspace renamed.")


# --- members and invitations --------------------------------------------------------


@router.get("/orgs/{org_id}/members")
async def members_page(request: Request, session: AsyncSessionDep, ctx: OrgDep) -> Response:
    members, _ = await member_service.list(
        session,
        ctx.subject,
        organization_id=ctx.organization.id,
        pagination=PaginationParams(1, 100),
    )
    invitations, _ = await invitation_service.list(
        session,
        ctx.subject,
        organization_id=ctx.organization.id,
        pending_only=True,
        pagination=PaginationParams(1, 100),
    )
    assignable = [r for r in (Role.admin, Role.editor, Role.viewer) if can_assign(ctx.role, r)]
    return render(
        request,
        "org/members.html",
        {
            "members": members,
            "invitations": invitations,
            "assignable_roles": assignable,
            "can_manage_member": lambda m: (
                can_manage(ctx.role, Role(m.role)) and m.user_id != ctx.subject.subject.id
            ),
            "role_table": [
                (
                    permission,
                    PERMISSION_DESCRIPTIONS[permission],
                    [permission in ROLE_PERMISSIONS[r] for r in Role],
                )
                for permission in Permission
            ],
            "roles": list(Role),
        },
    )


@router.post("/orgs/{org_id}/invitations")
async def invite(
    request: Request,
    session: AsyncSessionDep,
    ctx: OrgDep,
    email: FormStr,
    role: FormStr,
) -> Response:
    normalized = normalize_email(email)
    if normalized is None:
        raise BadRequest("email: enter a valid email address, like name@example.com.")
    if role not in ("admin", "editor", "viewer"):
        raise BadRequest("role: choose admin, editor or viewer.")
    await invitation_service.create(
        session, ctx.subject, organization_id=ctx.organization.id, email=normalized, role=Role(role)
    )
    return redirect(f"/orgs/{ctx.organization.id}/members", f"Invitation sent to {normalized}.")


@router.post("/orgs/{org_id}/invitations/{invitation_id}/revoke")
async def revoke_invitation(
    request: Request, session: AsyncSessionDep, ctx: OrgDep, invitation_id: uuid.UUID
) -> Response:
    invitation = await invitation_service.get(session, ctx.subject, invitation_id)
    await invitation_service.revoke(session, ctx.subject, invitation)
    return redirect(f"/orgs/{ctx.organization.id}/members", "Invitation revoked.")


@router.post("/orgs/{org_id}/members/{member_id}/role")
async def change_role(
    request: Request, session: AsyncSessionDep, ctx: OrgDep, member_id: uuid.UUID, role: FormStr
) -> Response:
    if role not in ("admin", "editor", "viewer"):
        raise BadRequest("role: choose admin, editor or viewer.")
    member = await member_service.get(session, ctx.subject, member_id)
    await member_service.update_role(session, ctx.subject, member, Role(role))
    return redirect(f"/orgs/{ctx.organization.id}/members", f"{member.user.email} is now {role}.")


@router.post("/orgs/{org_id}/members/{member_id}/remove")
async def remove_member(
    request: Request, session: AsyncSessionDep, ctx: OrgDep, member_id: uuid.UUID
) -> Response:
    member = await member_service.get(session, ctx.subject, member_id)
    await member_service.remove(session, ctx.subject, member)
    return redirect(f"/orgs/{ctx.organization.id}/members", f"{member.user.email} was removed.")


@router.post("/orgs/{org_id}/transfer-ownership")
async def transfer_ownership(
    request: Request, session: AsyncSessionDep, ctx: OrgDep, member_id: FormStr
) -> Response:
    try:
        target = uuid.UUID(member_id)
    except ValueError as e:
        raise BadRequest("member_id: choose a member.") from e
    new_owner = await organization_service.transfer_ownership(
        session, ctx.subject, ctx.organization, new_owner_member_id=target
    )
    return redirect(
        f"/orgs/{ctx.organization.id}/members",
        f"{new_owner.user.email} now owns this workspace; you are an admin.",
    )


@router.post("/orgs/{org_id}/leave")
async def leave(request: Request, session: AsyncSessionDep, ctx: OrgDep) -> Response:
    await member_service.leave(session, ctx.subject, ctx.organization.id)
    return redirect("/", f"You left “{ctx.organization.name}”.")


@router.get("/invitations/accept")
async def accept_form(
    request: Request, session: AsyncSessionDep, user: OptionalUser, token: str = ""
) -> Response:
    invitation, organization = await invitation_service.get_by_token(session, token)
    if user is not None:
        await load_user_organizations(request, session, user)
    return render(
        request,
        "org/accept_invitation.html",
        {"invitation": invitation, "invited_org": organization, "token": token},
    )


@router.post("/invitations/accept")
async def accept(
    request: Request, session: AsyncSessionDep, user: CurrentUser, token: FormStr
) -> Response:
    member = await invitation_service.accept(session, web_subject(user, request), token)
    return redirect(f"/orgs/{member.organization_id}", "Welcome to the workspace.")


# --- API keys -------------------------------------------------------------------------


@router.get("/orgs/{org_id}/api-keys")
async def api_keys_page(request: Request, session: AsyncSessionDep, ctx: OrgDep) -> Response:
    keys, _ = await api_key_service.list(
        session,
        ctx.subject,
        organization_id=ctx.organization.id,
        pagination=PaginationParams(1, 100),
    )
    grantable = scopes_of_role(ctx.role)
    return render(
        request,
        "org/api_keys.html",
        {
            "keys": keys,
            "scopes": [(s, SCOPE_DESCRIPTIONS[s], s in grantable) for s in Scope],
        },
    )


@router.post("/orgs/{org_id}/api-keys")
async def create_api_key(request: Request, session: AsyncSessionDep, ctx: OrgDep) -> Response:
    form = await request.form()
    name = str(form.get("name", "")).strip()
    if not name or len(name) > 100:
        raise BadRequest("name: give the key a name of 1 to 100 characters.")
    try:
        scopes = parse_scopes([str(s) for s in form.getlist("scopes")])
    except ValueError as e:
        raise BadRequest(f"scopes: {e}") from e
    if not scopes:
        raise BadRequest("scopes: choose at least one scope.")
    expires = str(form.get("expires_in_days", "")).strip()
    expires_in_days = None
    if expires:
        if not expires.isdigit() or not 1 <= int(expires) <= 3650:
            raise BadRequest(
                "expires_in_days: enter a number of days from 1 to 3650, or leave empty."
            )
        expires_in_days = int(expires)
    key, token = await api_key_service.create(
        session,
        ctx.subject,
        organization_id=ctx.organization.id,
        name=name,
        scopes=scopes,
        expires_in_days=expires_in_days,
    )
    return render(request, "org/api_key_created.html", {"key": key, "token": token})


@router.post("/orgs/{org_id}/api-keys/{key_id}/revoke")
async def revoke_api_key(
    request: Request, session: AsyncSessionDep, ctx: OrgDep, key_id: uuid.UUID
) -> Response:
    key = await api_key_service.get(session, ctx.subject, key_id)
    await api_key_service.revoke(session, ctx.subject, key)
    return redirect(f"/orgs/{ctx.organization.id}/api-keys", f"Key “{key.name}” revoked.")


# --- audit log ------------------------------------------------------------------------


def _parse_date(value: str | None, field: str, *, end_of_day: bool = False) -> datetime | None:
    """A date (or date-time) from a filter box, in UTC; a bare "until" date includes that day."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as e:
        raise BadRequest(f"{field}: use a date like 2026-11-25.") from e
    if end_of_day and len(value) == 10:
        parsed += timedelta(days=1)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _filters(
    action: str | None, actor: str | None, outcome: str | None, since: str | None, until: str | None
) -> AuditFilters:
    if outcome and outcome not in ("success", "denied", "failure"):
        raise BadRequest("outcome: choose success, denied or failure.")
    return AuditFilters(
        action=(action or "").strip()[:64] or None,
        actor=(actor or "").strip()[:320] or None,
        outcome=outcome or None,
        since=_parse_date(since, "since"),
        until=_parse_date(until, "until", end_of_day=True),
    )


@router.get("/orgs/{org_id}/audit")
async def audit_page(
    request: Request,
    session: AsyncSessionDep,
    ctx: OrgDep,
    page: PageQuery = 1,
    action: str | None = None,
    actor: str | None = None,
    outcome: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> Response:
    filters = _filters(action, actor, outcome, since, until)
    events, total = await audit_log_service.list(
        session,
        ctx.subject,
        organization_id=ctx.organization.id,
        filters=filters,
        pagination=PaginationParams(page, 50),
    )
    return render(
        request,
        "org/audit.html",
        {
            "events": events,
            "total": total,
            "page": page,
            "max_page": max(1, -(-total // 50)),
            "filters": {
                "action": action or "",
                "actor": actor or "",
                "outcome": outcome or "",
                "since": since or "",
                "until": until or "",
            },
        },
    )


@router.post("/orgs/{org_id}/audit/export")
async def audit_export(request: Request, session: AsyncSessionDep, ctx: OrgDep) -> Response:
    form = await request.form()

    def field(name: str) -> str | None:
        value = form.get(name)
        return str(value) if value else None

    filters = _filters(
        field("action"), field("actor"), field("outcome"), field("since"), field("until")
    )
    export = await audit_log_service.create_export(
        session, ctx.subject, organization_id=ctx.organization.id, filters=filters
    )
    return RedirectResponse(
        f"/orgs/{ctx.organization.id}/audit/exports/{export.id}", status_code=303
    )


@router.get("/orgs/{org_id}/audit/exports/{export_id}")
async def audit_export_page(
    request: Request, session: AsyncSessionDep, ctx: OrgDep, export_id: uuid.UUID
) -> Response:
    export = await audit_log_service.get_export(session, ctx.subject, export_id)
    template = (
        "org/_export_status.html" if request.headers.get("hx-request") else "org/audit_export.html"
    )
    return render(request, template, {"export": export})


@router.get("/orgs/{org_id}/audit/exports/{export_id}/download")
async def audit_export_download(
    request: Request, session: AsyncSessionDep, ctx: OrgDep, export_id: uuid.UUID
) -> Response:
    export, content = await audit_log_service.download(session, ctx.subject, export_id)
    filename = f"audit-log-{export.created_at:%Y%m%d-%H%M%S}.csv"
    return Response(
        content,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# --- jobs -----------------------------------------------------------------------------

JOB_STATUSES = (
    "ENQUEUED",
    "PENDING",
    "SUCCESS",
    "ERROR",
    "CANCELLED",
    "MAX_RECOVERY_ATTEMPTS_EXCEEDED",
)


@router.get("/orgs/{org_id}/jobs")
async def jobs_page(
    request: Request,
    session: AsyncSessionDep,
    ctx: OrgDep,
    page: PageQuery = 1,
    status: str | None = None,
) -> Response:
    if status and status not in JOB_STATUSES:
        raise BadRequest(f"status: choose one of {', '.join(JOB_STATUSES)}.")
    jobs, total = await job_service.list(
        session,
        ctx.subject,
        organization_id=ctx.organization.id,
        status=status or None,
        kind=None,
        pagination=PaginationParams(page, 25),
    )
    context = {
        "jobs": jobs,
        "total": total,
        "page": page,
        "max_page": max(1, -(-total // 25)),
        "status": status or "",
        "statuses": JOB_STATUSES,
    }
    template = "org/_jobs_table.html" if request.headers.get("hx-request") else "org/jobs.html"
    return render(request, template, context)


@router.get("/orgs/{org_id}/jobs/{job_id}")
async def job_page(
    request: Request, session: AsyncSessionDep, ctx: OrgDep, job_id: uuid.UUID
) -> Response:
    job = await job_service.get(session, ctx.subject, job_id)
    return render(request, "org/job.html", {"job": job})


@router.post("/orgs/{org_id}/jobs/{job_id}/{action}")
async def job_action(
    request: Request, session: AsyncSessionDep, ctx: OrgDep, job_id: uuid.UUID, action: str
) -> Response:
    if action == "cancel":
        job = await job_service.cancel(session, ctx.subject, job_id)
        message = "Job cancelled; it stops at its next step."
    elif action == "resume":
        job = await job_service.resume(session, ctx.subject, job_id)
        message = "Job resumed from its last finished step."
    elif action == "retry":
        job = await job_service.retry(session, ctx.subject, job_id)
        message = "A new run was queued."
    else:
        raise BadRequest("action: use cancel, resume or retry.")
    return redirect(f"/orgs/{ctx.organization.id}/jobs/{job.id}", message)
