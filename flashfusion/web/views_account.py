"""Account security: password, two-factor authentication, sessions, security activity."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from flashfusion.audit.log import audit_log as audit_log_service
from flashfusion.auth.service import auth as auth_service
from flashfusion.db import AsyncSessionDep
from flashfusion.kit.pagination import PaginationParams
from flashfusion.user import mfa
from flashfusion.user.service import user as user_service
from flashfusion.web.deps import CurrentUser, load_user_organizations
from flashfusion.web.security import flash
from flashfusion.web.templating import render
from flashfusion.web.views_auth import start_session

router = APIRouter(prefix="/account")

FormStr = Annotated[str, Form()]


async def _security_page(
    request: Request, session: AsyncSessionDep, user: CurrentUser, **extra: object
) -> Response:
    await load_user_organizations(request, session, user)
    sessions = await auth_service.list_sessions(session, user)
    events, _ = await audit_log_service.list_for_user(session, user, PaginationParams(1, 15))
    context = {
        "sessions": sessions,
        "current_session": getattr(request.state, "user_session", None),
        "events": events,
        "recovery_codes_left": await user_service.count_recovery_codes(session, user)
        if user.has_2fa
        else 0,
    }
    context.update(extra)
    status = int(str(context.pop("status_code", 200)))
    return render(request, "account/security.html", context, status_code=status)


@router.get("")
async def security(request: Request, session: AsyncSessionDep, user: CurrentUser) -> Response:
    return await _security_page(request, session, user)


async def _renewed(
    request: Request, session: AsyncSessionDep, user: CurrentUser, target: str, message: str
) -> Response:
    """Every session ended: give this browser a fresh one and go on."""
    _, token = await auth_service.renew(session, user, getattr(request.state, "user_session", None))
    response = RedirectResponse(target, status_code=303)
    start_session(response, token)
    flash(response, "success", message)
    return response


@router.post("/password")
async def change_password(
    request: Request,
    session: AsyncSessionDep,
    user: CurrentUser,
    current_password: FormStr,
    new_password: FormStr,
) -> Response:
    await user_service.change_password(
        session, user, current_password=current_password, new_password=new_password
    )
    return await _renewed(
        request,
        session,
        user,
        "/account",
        "Password changed. Your other sessions were signed out.",
    )


@router.get("/2fa/setup")
async def totp_setup(request: Request, session: AsyncSessionDep, user: CurrentUser) -> Response:
    if user.has_2fa:
        return RedirectResponse("/account", status_code=303)
    await load_user_organizations(request, session, user)
    secret = user_service.pending_totp_secret(user)
    if secret is None:
        return render(request, "account/totp_start.html", {})
    uri = mfa.provisioning_uri(user, secret)
    return render(
        request,
        "account/totp_setup.html",
        {"qr": mfa.qr_svg_data_uri(uri), "secret": secret, "uri": uri},
    )


@router.post("/2fa/setup")
async def totp_start(request: Request, session: AsyncSessionDep, user: CurrentUser) -> Response:
    await user_service.start_totp_enrolment(session, user)
    return RedirectResponse("/account/2fa/setup", status_code=303)


@router.post("/2fa/enable")
async def totp_enable(
    request: Request, session: AsyncSessionDep, user: CurrentUser, code: FormStr
) -> Response:
    codes = await user_service.confirm_totp_enrolment(session, user, code)
    _, token = await auth_service.renew(session, user, getattr(request.state, "user_session", None))
    await load_user_organizations(request, session, user)
    response = render(request, "account/recovery_codes.html", {"codes": codes, "fresh": True})
    start_session(response, token)
    return response


@router.post("/2fa/disable")
async def totp_disable(
    request: Request,
    session: AsyncSessionDep,
    user: CurrentUser,
    password: FormStr,
    code: FormStr,
) -> Response:
    await user_service.disable_totp(session, user, password=password, code=code)
    return await _renewed(request, session, user, "/account", "Two-factor authentication is off.")


@router.post("/2fa/recovery-codes")
async def regenerate_codes(
    request: Request,
    session: AsyncSessionDep,
    user: CurrentUser,
    password: FormStr,
    code: FormStr,
) -> Response:
    codes = await user_service.regenerate_recovery_codes(
        session, user, password=password, code=code
    )
    await load_user_organizations(request, session, user)
    return render(request, "account/recovery_codes.html", {"codes": codes, "fresh": False})


@router.post("/sessions/{session_id}/revoke")
async def revoke_session(
    request: Request,
    session: AsyncSessionDep,
    user: CurrentUser,
    session_id: uuid.UUID,
    password: FormStr,
) -> Response:
    await auth_service.revoke_session(session, user, session_id=session_id, password=password)
    response = RedirectResponse("/account", status_code=303)
    flash(response, "success", "That session was signed out.")
    return response


@router.post("/sessions/revoke-others")
async def revoke_others(
    request: Request, session: AsyncSessionDep, user: CurrentUser, password: FormStr
) -> Response:
    current = request.state.user_session
    count = await auth_service.revoke_other_sessions(session, user, current, password=password)
    response = RedirectResponse("/account", status_code=303)
    flash(response, "success", f"Signed out {count} other session(s).")
    return response
