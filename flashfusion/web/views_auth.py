"""Sign-up, email verification, sign-in with 2FA, sign-out, password reset."""

from typing import Annotated
from urllib.parse import quote

from email_validator import EmailNotValidError, validate_email
from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from flashfusion.auth.service import LoginResult, LoginStatus
from flashfusion.auth.service import auth as auth_service
from flashfusion.config import get_settings
from flashfusion.db import AsyncSessionDep
from flashfusion.exceptions import AppError
from flashfusion.metrics import LOGIN_ATTEMPTS
from flashfusion.models import UserTokenPurpose
from flashfusion.user.service import user as user_service
from flashfusion.web.deps import OptionalUser
from flashfusion.web.security import (
    DEVICE_COOKIE,
    MFA_COOKIE,
    SESSION_COOKIE,
    clear_cookie,
    flash,
    read_cookie,
    set_cookie,
)
from flashfusion.web.templating import render

router = APIRouter()

FormStr = Annotated[str, Form()]
OptionalFormStr = Annotated[str, Form()]


def safe_next(value: str | None) -> str:
    """Only same-site relative paths; anything else goes to the home page."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


def normalize_email(value: str) -> str | None:
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return None


def start_session(response: Response, token: str) -> None:
    set_cookie(
        response, SESSION_COOKIE, token, max_age=get_settings().SESSION_ABSOLUTE_TIMEOUT_SECONDS
    )


@router.get("/signup")
async def signup_form(request: Request, user: OptionalUser) -> Response:
    if user is not None:
        return RedirectResponse("/", status_code=303)
    return render(request, "auth/signup.html", {"email": "", "errors": {}})


@router.post("/signup")
async def signup(
    request: Request, session: AsyncSessionDep, email: FormStr, password: FormStr
) -> Response:
    normalized = normalize_email(email)
    errors: dict[str, str] = {}
    if normalized is None:
        errors["email"] = "Enter a valid email address, like name@example.com."
    if not errors:
        assert normalized is not None
        try:
            await user_service.signup(session, email=normalized, password=password)
        except AppError as e:
            errors["password"] = e.detail
    if errors:
        return render(
            request, "auth/signup.html", {"email": email, "errors": errors}, status_code=422
        )
    return render(request, "auth/check_email.html", {"email": normalized})


@router.get("/verify-email")
async def verify_email_form(request: Request, token: str = "") -> Response:
    # GET never changes state: the link opens a page whose button confirms.
    return render(request, "auth/verify_email.html", {"token": token})


@router.post("/verify-email")
async def verify_email(request: Request, session: AsyncSessionDep, token: FormStr) -> Response:
    await user_service.verify_email(session, token)
    response = RedirectResponse("/login", status_code=303)
    flash(response, "success", "Email confirmed. Sign in to continue.")
    return response


@router.post("/verify-email/resend")
async def resend_verification(
    request: Request, session: AsyncSessionDep, email: FormStr
) -> Response:
    normalized = normalize_email(email)
    if normalized is not None:
        await user_service.resend_verification(session, normalized)
    return render(request, "auth/check_email.html", {"email": normalized or email})


@router.get("/login")
async def login_form(request: Request, user: OptionalUser, next: str = "/") -> Response:
    if user is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return render(request, "auth/login.html", {"email": "", "next": safe_next(next)})


def _login_failure(request: Request, result: LoginResult, email: str, next: str) -> Response:
    status = {
        LoginStatus.throttled: 429,
        LoginStatus.unverified: 403,
    }.get(result.status, 400)
    response = render(
        request,
        "auth/login.html",
        {
            "email": email,
            "next": next,
            "error": result.message,
            "unverified": result.status == LoginStatus.unverified,
        },
        status_code=status,
    )
    if result.retry_after:
        response.headers["Retry-After"] = str(result.retry_after)
    return response


def _login_success(result: LoginResult, next: str) -> Response:
    assert result.token is not None
    response = RedirectResponse(safe_next(next), status_code=303)
    start_session(response, result.token)
    clear_cookie(response, MFA_COOKIE)
    if result.device_cookie:
        from flashfusion.auth.throttle import DEVICE_COOKIE_MAX_AGE

        set_cookie(response, DEVICE_COOKIE, result.device_cookie, max_age=DEVICE_COOKIE_MAX_AGE)
    return response


@router.post("/login")
async def login(
    request: Request,
    session: AsyncSessionDep,
    email: FormStr,
    password: FormStr,
    next: Annotated[str, Form()] = "/",
) -> Response:
    next = safe_next(next)
    result = await auth_service.login(
        session, email=email, password=password, device_cookie=read_cookie(request, DEVICE_COOKIE)
    )
    LOGIN_ATTEMPTS.labels(result.status.value).inc()
    if result.status == LoginStatus.ok:
        return _login_success(result, next)
    if result.status == LoginStatus.mfa_required:
        assert result.token is not None
        response = RedirectResponse(f"/login/2fa?next={quote(next, safe='/')}", status_code=303)
        set_cookie(
            response, MFA_COOKIE, result.token, max_age=get_settings().MFA_CHALLENGE_TIMEOUT_SECONDS
        )
        return response
    return _login_failure(request, result, email, next)


@router.get("/login/2fa")
async def mfa_form(request: Request, next: str = "/") -> Response:
    if not read_cookie(request, MFA_COOKIE):
        return RedirectResponse("/login", status_code=303)
    return render(request, "auth/login_2fa.html", {"next": safe_next(next)})


@router.post("/login/2fa")
async def mfa(
    request: Request,
    session: AsyncSessionDep,
    code: FormStr,
    next: Annotated[str, Form()] = "/",
) -> Response:
    next = safe_next(next)
    pending = read_cookie(request, MFA_COOKIE)
    if not pending:
        response = RedirectResponse("/login", status_code=303)
        flash(response, "error", "Your sign-in expired. Enter your email and password again.")
        return response
    result = await auth_service.complete_mfa(
        session,
        pending_token=pending,
        code=code,
        device_cookie=read_cookie(request, DEVICE_COOKIE),
    )
    LOGIN_ATTEMPTS.labels(f"2fa_{result.status.value}").inc()
    if result.status == LoginStatus.ok:
        return _login_success(result, next)
    status = 429 if result.status == LoginStatus.throttled else 400
    page = render(
        request, "auth/login_2fa.html", {"next": next, "error": result.message}, status_code=status
    )
    if result.retry_after:
        page.headers["Retry-After"] = str(result.retry_after)
    return page


@router.post("/logout")
async def logout(request: Request, session: AsyncSessionDep, user: OptionalUser) -> Response:
    user_session = getattr(request.state, "user_session", None)
    if user is not None and user_session is not None:
        await auth_service.logout(session, user_session, user)
    response = RedirectResponse("/login", status_code=303)
    clear_cookie(response, SESSION_COOKIE)
    clear_cookie(response, MFA_COOKIE)
    flash(response, "info", "You are signed out.")
    return response


@router.get("/forgot-password")
async def forgot_form(request: Request) -> Response:
    return render(request, "auth/forgot_password.html", {})


@router.post("/forgot-password")
async def forgot(request: Request, session: AsyncSessionDep, email: FormStr) -> Response:
    normalized = normalize_email(email)
    if normalized is None:
        return render(
            request,
            "auth/forgot_password.html",
            {"error": "Enter a valid email address.", "email": email},
            status_code=422,
        )
    await user_service.request_password_reset(session, normalized)
    return render(request, "auth/forgot_password_sent.html", {"email": normalized})


@router.get("/reset-password")
async def reset_form(request: Request, session: AsyncSessionDep, token: str = "") -> Response:
    user = await user_service.check_token(session, token, UserTokenPurpose.reset_password)
    return render(request, "auth/reset_password.html", {"token": token, "needs_code": user.has_2fa})


@router.post("/reset-password")
async def reset(
    request: Request,
    session: AsyncSessionDep,
    token: FormStr,
    password: FormStr,
    code: Annotated[str, Form()] = "",
) -> Response:
    try:
        await user_service.reset_password(
            session, secret=token, new_password=password, second_factor=code or None
        )
    except AppError as e:
        if e.status_code in (410, 429):
            raise
        user = await user_service.check_token(session, token, UserTokenPurpose.reset_password)
        return render(
            request,
            "auth/reset_password.html",
            {"token": token, "needs_code": user.has_2fa, "error": e.detail},
            status_code=e.status_code,
        )
    response = RedirectResponse("/login", status_code=303)
    clear_cookie(response, SESSION_COOKIE)
    flash(response, "success", "Password changed. Every session was signed out; sign in again.")
    return response
