"""Browser pages for sign-up, email verification, sign-in with 2FA, sign-out, password reset,
account sessions; CSRF, cookies and account enumeration."""

import email
import html
import re
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pyotp
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.config import get_settings
from flashfusion.email.tasks import _send_user_token
from flashfusion.kit.crypto import keyed_hash, sha256_hex
from flashfusion.kit.password import verify_password
from flashfusion.models import (
    AuditEvent,
    Job,
    LoginAttempt,
    User,
    UserSession,
    UserToken,
    UserTokenPurpose,
    utc_now,
)
from flashfusion.user import mfa
from tests.fixtures.objects import DEFAULT_PASSWORD, create_user, totp_now
from tests.fixtures.web import csrf, csrf_in

NEW_PASSWORD = "violet tractor umbrella 42"


# --- helpers ----------------------------------------------------------------------------


async def post(
    client: httpx.AsyncClient, path: str, data: dict[str, str], **kwargs: object
) -> httpx.Response:
    return await client.post(path, data={**data, "csrf_token": await csrf(client)}, **kwargs)  # type: ignore[arg-type]


async def follow(client: httpx.AsyncClient, response: httpx.Response) -> str:
    """The page a redirect leads to, with its flash messages, as plain text."""
    assert response.status_code == 303, response.text[:500]
    page = await client.get(response.headers["location"], follow_redirects=True)
    return html.unescape(page.text)


def text(response: httpx.Response) -> str:
    return html.unescape(response.text)


async def web_login(
    client: httpx.AsyncClient, email_address: str, password: str = DEFAULT_PASSWORD, next: str = "/"
) -> httpx.Response:
    return await post(
        client, "/login", {"email": email_address, "password": password, "next": next}
    )


def set_cookie_headers(response: httpx.Response) -> dict[str, str]:
    """Set-Cookie headers by cookie name."""
    return {h.split("=", 1)[0]: h for h in response.headers.get_list("set-cookie")}


def mail_to(mail_dir: Path, address: str) -> list[email.message.Message]:
    messages = []
    for path in sorted(mail_dir.glob("*.eml"), key=lambda p: p.stat().st_mtime):
        message = email.message_from_bytes(path.read_bytes())
        if message["To"] == address:
            messages.append(message)
    return messages


async def send_token_email(session: AsyncSession, user: User, purpose: UserTokenPurpose) -> str:
    """Run the email job's step for the user's pending link; return the link in the message."""
    token = (
        await session.execute(
            select(UserToken)
            .where(
                UserToken.user_id == user.id,
                UserToken.purpose == purpose,
                UserToken.used_at.is_(None),
            )
            .order_by(UserToken.created_at.desc())
            .limit(1)
        )
    ).scalar_one()
    await _send_user_token(str(token.id))
    [message] = mail_to(get_settings().home / "mail", user.email)[-1:]
    body = message.get_payload(decode=True).decode()
    path = "verify-email" if purpose == UserTokenPurpose.verify_email else "reset-password"
    match = re.search(rf"(http://testserver/{path}\?token=[A-Za-z0-9_-]+)", body)
    assert match, body
    return match.group(1)


@pytest.fixture
async def browser(app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    """A second, independent browser (its own cookies), from another address."""
    transport = httpx.ASGITransport(app=app, client=("198.51.100.77", 40000))
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://testserver",
        headers={"User-Agent": "SecondBrowser/1.0"},
    ) as other:
        yield other


async def user_by_email(session: AsyncSession, address: str) -> User | None:
    result = await session.execute(
        select(User).where(User.email == address).execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


async def count(session: AsyncSession, model: type, *where: object) -> int:
    result = await session.execute(select(func.count()).select_from(model).where(*where))
    return int(result.scalar_one())


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


# --- sign-up and email verification ------------------------------------------------------


async def test_signup_verify_and_sign_in(
    client: httpx.AsyncClient, session: AsyncSession, mail_dir: Path
) -> None:
    address = unique_email("new")
    form = await client.get("/signup")
    assert form.status_code == 200
    assert 'action="/signup"' in form.text
    token = csrf_in(form.text)

    response = await client.post(
        "/signup",
        data={"email": address.upper(), "password": DEFAULT_PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 200
    assert "<h1>Check your email</h1>" in response.text
    assert f"<strong>{address}</strong>" in response.text
    user = await user_by_email(session, address)
    assert user is not None
    assert user.email_verified_at is None

    link = await send_token_email(session, user, UserTokenPurpose.verify_email)
    [message] = mail_to(mail_dir, address)
    assert message["Subject"] == "Confirm your email address"
    assert link.startswith("http://testserver/verify-email?token=")

    # Opening the link (a GET, as mail scanners do) shows a button; it verifies nothing.
    page = await client.get(link.removeprefix("http://testserver"))
    assert page.status_code == 200
    assert 'id="confirm-email"' in page.text
    secret = link.split("token=")[1]
    assert f'name="token" value="{secret}"' in page.text
    user = await user_by_email(session, address)
    assert user is not None
    assert user.email_verified_at is None
    assert (await web_login(client, address)).status_code == 403  # still unverified

    confirmed = await client.post(
        "/verify-email", data={"token": secret, "csrf_token": csrf_in(page.text)}
    )
    assert confirmed.status_code == 303
    assert confirmed.headers["location"] == "/login"
    assert "Email confirmed. Sign in to continue." in await follow(client, confirmed)
    user = await user_by_email(session, address)
    assert user is not None
    assert user.email_verified_at is not None

    signed_in = await web_login(client, address)
    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == "/"
    home = await client.get("/")
    assert (home.status_code, home.headers["location"]) == (303, "/orgs/new")


async def test_verification_link_works_once(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    user = await create_user(session, email=unique_email(), verified=False)
    await post(client, "/verify-email/resend", {"email": user.email})
    link = await send_token_email(session, user, UserTokenPurpose.verify_email)
    secret = link.split("token=")[1]
    first = await post(client, "/verify-email", {"token": secret})
    assert first.headers["location"] == "/login"
    again = await post(client, "/verify-email", {"token": secret})
    assert again.status_code == 303
    assert "This link is invalid, already used or expired. Ask for a new one." in await follow(
        client, again
    )


@pytest.mark.parametrize(
    ("email_value", "password", "field", "message"),
    [
        (
            "not-an-email",
            DEFAULT_PASSWORD,
            "email",
            "Enter a valid email address, like name@example.com.",
        ),
        ("someone@example.com", "short", "password", "Use at least 8 characters."),
        ("someone@example.com", "iloveyou", "password", "one of the 10,000 most common passwords"),
    ],
)
async def test_signup_errors_are_shown_next_to_the_field(
    client: httpx.AsyncClient,
    session: AsyncSession,
    email_value: str,
    password: str,
    field: str,
    message: str,
) -> None:
    response = await post(client, "/signup", {"email": email_value, "password": password})
    assert response.status_code == 422
    assert f'<small id="{field}-error" class="error">' in response.text
    assert message in text(response)
    assert f'value="{email_value}"' in response.text  # the form keeps what was typed
    assert await count(session, User) == 0


def _normalize(body: str, address: str) -> str:
    return body.replace(address, "ADDRESS")


async def test_signup_does_not_reveal_whether_an_address_has_an_account(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    existing = await create_user(session, email=unique_email("taken"))
    fresh = unique_email("fresh")
    token = await csrf(client)
    taken = await client.post(
        "/signup",
        data={"email": existing.email, "password": "another good passphrase", "csrf_token": token},
    )
    new = await client.post(
        "/signup",
        data={"email": fresh, "password": "another good passphrase", "csrf_token": token},
    )
    assert taken.status_code == new.status_code == 200
    assert _normalize(taken.text, existing.email) == _normalize(new.text, fresh)
    assert set_cookie_headers(taken).keys() == set_cookie_headers(new).keys()
    ignored = {"x-request-id", "content-length"}
    assert {k: v for k, v in taken.headers.items() if k not in ignored} == {
        k: v for k, v in new.headers.items() if k not in ignored
    }
    # Behind the identical pages: the owner of the taken address got a warning instead.
    kinds = (await session.execute(select(Job.kind).order_by(Job.created_at))).scalars().all()
    assert kinds == ["email.account_exists", "email.user_token"]


async def test_forgot_password_does_not_reveal_whether_an_address_has_an_account(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    existing = await create_user(session, email=unique_email("known"))
    unknown = unique_email("unknown")
    token = await csrf(client)
    known_page = await client.post(
        "/forgot-password", data={"email": existing.email, "csrf_token": token}
    )
    unknown_page = await client.post(
        "/forgot-password", data={"email": unknown, "csrf_token": token}
    )
    assert known_page.status_code == unknown_page.status_code == 200
    assert "If an account uses" in known_page.text
    assert _normalize(known_page.text, existing.email) == _normalize(unknown_page.text, unknown)
    assert set_cookie_headers(known_page).keys() == set_cookie_headers(unknown_page).keys()
    assert await count(session, UserToken) == 1


# --- CSRF ---------------------------------------------------------------------------------


async def test_forms_carry_a_csrf_token(client: httpx.AsyncClient, session: AsyncSession) -> None:
    first = await client.get("/signup")
    cookie = first.cookies.get("ff_csrf") or client.cookies.get("ff_csrf")
    assert cookie is not None
    assert csrf_in(first.text) == keyed_hash(cookie, purpose="csrf")
    for path in ("/login", "/forgot-password"):
        page = await client.get(path)
        assert csrf_in(page.text) == keyed_hash(cookie, purpose="csrf")
        # Every form on the page has the hidden field.
        assert page.text.count("<form") == page.text.count('name="csrf_token"')


@pytest.mark.parametrize("token", [None, "", "0" * 64, "wrong-token"])
async def test_post_without_a_valid_csrf_token_is_refused(
    client: httpx.AsyncClient, session: AsyncSession, token: str | None
) -> None:
    await csrf(client)  # the browser has a CSRF cookie
    data = {"email": unique_email(), "password": DEFAULT_PASSWORD}
    if token is not None:
        data["csrf_token"] = token
    response = await client.post("/signup", data=data)
    assert response.status_code == 403
    assert "Your form expired or came from somewhere else." in response.text
    assert await count(session, User) == 0
    assert await count(session, Job) == 0


async def test_token_of_another_browser_is_refused(
    client: httpx.AsyncClient, browser: httpx.AsyncClient, session: AsyncSession
) -> None:
    foreign_token = await csrf(browser)
    await csrf(client)
    response = await client.post(
        "/signup",
        data={"email": unique_email(), "password": DEFAULT_PASSWORD, "csrf_token": foreign_token},
    )
    assert response.status_code == 403
    assert await count(session, User) == 0


async def test_post_without_csrf_cookie_is_refused(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    token = await csrf(client)
    client.cookies.clear()
    response = await client.post(
        "/signup", data={"email": unique_email(), "password": DEFAULT_PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 403
    assert await count(session, User) == 0


async def test_post_from_another_origin_is_refused_even_with_a_token(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    data = {"email": unique_email(), "password": DEFAULT_PASSWORD, "csrf_token": await csrf(client)}
    response = await client.post("/signup", data=data, headers={"Origin": "https://evil.example"})
    assert response.status_code == 403
    assert "This form was posted from another site and was refused." in response.text
    assert await count(session, User) == 0
    same_site = await client.post("/signup", data=data, headers={"Origin": "http://testserver"})
    assert same_site.status_code == 200
    assert await count(session, User) == 1


async def test_htmx_requests_send_the_token_in_a_header(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    token = await csrf(client)
    response = await client.post(
        "/signup",
        data={"email": unique_email(), "password": DEFAULT_PASSWORD},
        headers={"X-CSRF-Token": token},
    )
    assert response.status_code == 200
    assert await count(session, User) == 1


async def test_signed_in_state_changes_need_the_token(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    user = await create_user(session, email=unique_email())
    assert (await web_login(client, user.email)).status_code == 303
    changed = await client.post(
        "/account/password",
        data={"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD},
    )
    assert changed.status_code == 403
    out = await client.post("/logout", data={})
    assert out.status_code == 403
    await session.refresh(user)
    assert verify_password(user.password_hash, DEFAULT_PASSWORD)
    assert (await client.get("/account")).status_code == 200  # still signed in


# --- cookies --------------------------------------------------------------------------------


async def test_cookies_are_httponly_lax_and_not_secure_over_http(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    user = await create_user(session, email=unique_email())
    page = await client.get("/login")
    csrf_cookie = set_cookie_headers(page)["ff_csrf"]
    response = await client.post(
        "/login",
        data={"email": user.email, "password": DEFAULT_PASSWORD, "csrf_token": csrf_in(page.text)},
    )
    cookies = set_cookie_headers(response)
    assert {"ff_session", "ff_device", "ff_mfa"} <= cookies.keys()
    for header in (cookies["ff_session"], cookies["ff_device"], csrf_cookie):
        attributes = [a.strip().lower() for a in header.split(";")[1:]]
        assert "httponly" in attributes
        assert "samesite=lax" in attributes
        assert "path=/" in attributes
        assert "secure" not in attributes
    assert "max-age=43200" in cookies["ff_session"].lower()
    assert f"max-age={365 * 24 * 3600}" in cookies["ff_device"].lower()
    # The cookie value is the session token; only its hash is stored.
    value = cookies["ff_session"].split(";")[0].split("=", 1)[1]
    assert len(value) == 43
    assert await count(session, UserSession, UserSession.token_hash == sha256_hex(value)) == 1


async def test_cookies_over_https_are_secure_host_cookies(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "BASE_URL", "https://testserver")
    page = await client.get("/login")
    [header] = page.headers.get_list("set-cookie")
    assert header.startswith("__Host-ff_csrf=")
    attributes = [a.strip().lower() for a in header.split(";")[1:]]
    assert {"httponly", "secure", "samesite=lax", "path=/"} <= set(attributes)
    assert not any(a.startswith("domain") for a in attributes)


# --- sign-in --------------------------------------------------------------------------------


async def test_wrong_password_and_unknown_email_get_the_same_page(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    user = await create_user(session, email=unique_email())
    unknown = unique_email()
    wrong = await web_login(client, user.email, "not the password")
    missing = await web_login(client, unknown, "not the password")
    assert wrong.status_code == missing.status_code == 400
    assert "Email or password is incorrect." in wrong.text
    assert _normalize(wrong.text, user.email) == _normalize(missing.text, unknown)
    assert "ff_session" not in set_cookie_headers(wrong)
    assert await count(session, UserSession) == 0


async def test_unverified_account_is_offered_a_new_link(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    user = await create_user(session, email=unique_email(), verified=False)
    response = await web_login(client, user.email)
    assert response.status_code == 403
    assert "Confirm your email address first" in response.text
    assert 'action="/verify-email/resend"' in response.text
    assert "ff_session" not in set_cookie_headers(response)
    resent = await post(client, "/verify-email/resend", {"email": user.email})
    assert resent.status_code == 200
    assert await count(session, UserToken, UserToken.user_id == user.id) == 1


async def test_too_many_failures_answer_429_with_retry_after(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    user = await create_user(session, email=unique_email())
    for _ in range(5):
        assert (await web_login(client, user.email, "wrong password")).status_code == 400
    response = await web_login(client, user.email)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "1"
    assert "wait 1 seconds before trying again" in response.text
    assert "ff_session" not in set_cookie_headers(response)
    attempts = (await session.execute(select(LoginAttempt.ip))).scalars().all()
    assert attempts == ["203.0.113.7"] * 5


@pytest.mark.parametrize(
    ("next_value", "location"),
    [
        ("/orgs/new", "/orgs/new"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        # Browsers drop raw tabs and newlines ("/\t/x" would become "//x"); the redirect
        # percent-encodes them, so the target stays a path on this site.
        ("/\t/evil.example", "/%09/evil.example"),
        ("/\n/evil.example", "/%0A/evil.example"),
    ],
)
async def test_login_only_redirects_within_the_site(
    client: httpx.AsyncClient, session: AsyncSession, next_value: str, location: str
) -> None:
    user = await create_user(session, email=unique_email())
    response = await web_login(client, user.email, next=next_value)
    assert response.status_code == 303
    assert response.headers["location"] == location


async def test_login_issues_a_new_session_instead_of_a_planted_one(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    """Session fixation: a cookie value set before sign-in is never promoted to a session."""
    user = await create_user(session, email=unique_email())
    planted = "planted-session-value-chosen-by-an-attacker"
    client.cookies.set("ff_session", planted)
    response = await web_login(client, user.email)
    assert response.status_code == 303
    new_value = set_cookie_headers(response)["ff_session"].split(";")[0].split("=", 1)[1]
    assert new_value != planted
    assert await count(session, UserSession, UserSession.token_hash == sha256_hex(new_value)) == 1
    assert await count(session, UserSession, UserSession.token_hash == sha256_hex(planted)) == 0


async def test_login_with_2fa_goes_through_the_code_page(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    secret = pyotp.random_base32()
    user = await create_user(session, email=unique_email(), totp_secret=secret)
    assert (await client.get("/login/2fa")).headers["location"] == "/login"

    first = await web_login(client, user.email, next="/account")
    assert first.status_code == 303
    assert first.headers["location"] == "/login/2fa?next=/account"
    cookies = set_cookie_headers(first)
    assert "ff_mfa" in cookies
    assert "ff_session" not in cookies
    assert "max-age=300" in cookies["ff_mfa"].lower()
    # The pending sign-in is not a session: the account page still asks to sign in.
    pending_only = await client.get("/account")
    assert pending_only.headers["location"] == "/login?next=%2Faccount"
    client.cookies.set("ff_session", client.cookies["ff_mfa"])
    assert (await client.get("/account")).status_code == 303
    client.cookies.delete("ff_session")

    page = await client.get("/login/2fa?next=/account")
    assert page.status_code == 200
    assert 'autocomplete="one-time-code"' in page.text
    token = csrf_in(page.text)

    wrong = await client.post(
        "/login/2fa", data={"code": "000000x", "next": "/account", "csrf_token": token}
    )
    assert wrong.status_code == 400
    assert "That code is wrong or was already used." in wrong.text

    done = await client.post(
        "/login/2fa", data={"code": totp_now(secret), "next": "/account", "csrf_token": token}
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/account"
    cookies = set_cookie_headers(done)
    assert cookies["ff_mfa"].startswith('ff_mfa=""') or "max-age=0" in cookies["ff_mfa"].lower()
    assert "ff_session" in cookies
    account = await client.get("/account")
    assert account.status_code == 200
    assert user.email in account.text


async def test_2fa_code_page_after_the_challenge_expired(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    secret = pyotp.random_base32()
    user = await create_user(session, email=unique_email(), totp_secret=secret)
    await web_login(client, user.email)
    await session.execute(update(UserSession).values(expires_at=utc_now() - timedelta(seconds=1)))
    response = await post(client, "/login/2fa", {"code": totp_now(secret)})
    assert response.status_code == 400
    assert "Your sign-in expired. Enter your email and password again." in response.text
    assert "ff_session" not in set_cookie_headers(response)


async def test_logout_ends_the_session(client: httpx.AsyncClient, session: AsyncSession) -> None:
    user = await create_user(session, email=unique_email())
    await web_login(client, user.email)
    token = client.cookies["ff_session"]
    response = await post(client, "/logout", {})
    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    assert set_cookie_headers(response)["ff_session"].startswith('ff_session="";') or (
        "max-age=0" in set_cookie_headers(response)["ff_session"].lower()
    )
    assert "You are signed out." in await follow(client, response)
    stored = (
        await session.execute(
            select(UserSession)
            .where(UserSession.token_hash == sha256_hex(token))
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    assert stored.revoked_at is not None
    # Replaying the old cookie does not bring the session back.
    client.cookies.set("ff_session", token)
    again = await client.get("/account")
    assert again.headers["location"] == "/login?next=%2Faccount"


async def test_idle_session_sends_the_browser_to_sign_in(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    user = await create_user(session, email=unique_email())
    await web_login(client, user.email)
    await session.execute(
        update(UserSession).values(last_seen_at=utc_now() - timedelta(minutes=31))
    )
    response = await client.get("/account")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Faccount"
    assert "Sign in to continue (your session may have timed out)." in await follow(
        client, response
    )
    htmx = await client.get("/account", headers={"HX-Request": "true"})
    assert (htmx.status_code, htmx.headers["hx-redirect"]) == (401, "/login?next=%2Faccount")


# --- password reset -------------------------------------------------------------------------


async def test_forgot_and_reset_password(
    client: httpx.AsyncClient, browser: httpx.AsyncClient, session: AsyncSession
) -> None:
    user = await create_user(session, email=unique_email())
    await web_login(browser, user.email)
    assert (await browser.get("/account")).status_code == 200

    sent = await post(client, "/forgot-password", {"email": user.email})
    assert sent.status_code == 200
    link = await send_token_email(session, user, UserTokenPurpose.reset_password)
    [message] = mail_to(get_settings().home / "mail", user.email)
    assert message["Subject"] == "Reset your FlashFusion password"

    form = await client.get(link.removeprefix("http://testserver"))
    assert form.status_code == 200
    assert 'name="code"' not in form.text  # no 2FA on this account
    secret = link.split("token=")[1]
    done = await client.post(
        "/reset-password",
        data={"token": secret, "password": NEW_PASSWORD, "csrf_token": csrf_in(form.text)},
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/login"
    assert "Password changed. Every session was signed out; sign in again." in await follow(
        client, done
    )
    await session.refresh(user)
    assert verify_password(user.password_hash, NEW_PASSWORD)
    # The other browser was signed out; the old password no longer works.
    assert (await browser.get("/account")).status_code == 303
    assert (await web_login(client, user.email)).status_code == 400
    assert (await web_login(client, user.email, NEW_PASSWORD)).status_code == 303
    # The link works once.
    used = await client.get(link.removeprefix("http://testserver"))
    assert used.status_code == 410
    assert "Link no longer valid" in used.text


async def test_reset_with_2fa_requires_a_code(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    secret_2fa = pyotp.random_base32()
    user = await create_user(session, email=unique_email(), totp_secret=secret_2fa)
    await post(client, "/forgot-password", {"email": user.email})
    link = await send_token_email(session, user, UserTokenPurpose.reset_password)
    [message] = mail_to(get_settings().home / "mail", user.email)
    assert "You will also need a code" in message.get_payload(decode=True).decode()
    form = await client.get(link.removeprefix("http://testserver"))
    assert 'name="code"' in form.text
    secret = link.split("token=")[1]
    token = csrf_in(form.text)

    missing = await client.post(
        "/reset-password", data={"token": secret, "password": NEW_PASSWORD, "csrf_token": token}
    )
    assert missing.status_code == 400
    assert "Enter a code from your authenticator app or one of your recovery codes." in text(
        missing
    )
    wrong = await client.post(
        "/reset-password",
        data={"token": secret, "password": NEW_PASSWORD, "code": "000000x", "csrf_token": token},
    )
    assert wrong.status_code == 400
    assert "That code is wrong or was already used." in text(wrong)
    await session.refresh(user)
    assert verify_password(user.password_hash, DEFAULT_PASSWORD)

    ok = await client.post(
        "/reset-password",
        data={
            "token": secret,
            "password": NEW_PASSWORD,
            "code": totp_now(secret_2fa),
            "csrf_token": token,
        },
    )
    assert ok.status_code == 303
    await session.refresh(user)
    assert verify_password(user.password_hash, NEW_PASSWORD)


async def test_reset_page_with_a_bad_link(client: httpx.AsyncClient) -> None:
    response = await client.get("/reset-password?token=nonsense")
    assert response.status_code == 410
    assert "This link is invalid, already used or expired. Ask for a new one." in response.text


# --- account page: sessions -----------------------------------------------------------------


async def test_account_page_lists_sessions_and_revokes_one_with_the_password(
    client: httpx.AsyncClient, browser: httpx.AsyncClient, session: AsyncSession
) -> None:
    user = await create_user(session, email=unique_email())
    await web_login(client, user.email)
    await web_login(browser, user.email)
    other_token = browser.cookies["ff_session"]
    other = (
        await session.execute(
            select(UserSession).where(UserSession.token_hash == sha256_hex(other_token))
        )
    ).scalar_one()

    page = await client.get("/account")
    assert page.status_code == 200
    assert "SecondBrowser/1.0" in page.text
    assert "198.51.100.77" in page.text
    assert page.text.count('<span class="badge">This browser</span>') == 1
    assert f'action="/account/sessions/{other.id}/revoke"' in page.text

    refused = await client.post(
        f"/account/sessions/{other.id}/revoke",
        data={"password": "not my password", "csrf_token": csrf_in(page.text)},
        headers={"Referer": "http://testserver/account"},
    )
    assert refused.status_code == 303
    assert refused.headers["location"] == "/account"
    assert "Your password is wrong." in await follow(client, refused)
    assert (await browser.get("/account")).status_code == 200

    revoked = await client.post(
        f"/account/sessions/{other.id}/revoke",
        data={"password": DEFAULT_PASSWORD, "csrf_token": csrf_in(page.text)},
    )
    assert revoked.status_code == 303
    assert "That session was signed out." in await follow(client, revoked)
    assert (await browser.get("/account")).status_code == 303
    assert (await client.get("/account")).status_code == 200


async def test_cannot_revoke_another_users_session(
    client: httpx.AsyncClient, browser: httpx.AsyncClient, session: AsyncSession
) -> None:
    alice = await create_user(session, email=unique_email("alice"))
    bob = await create_user(session, email=unique_email("bob"))
    await web_login(client, alice.email)
    await web_login(browser, bob.email)
    bob_session = (
        await session.execute(select(UserSession).where(UserSession.user_id == bob.id))
    ).scalar_one()
    response = await post(
        client, f"/account/sessions/{bob_session.id}/revoke", {"password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 303
    assert "Session not found." in await follow(client, response)
    assert (await browser.get("/account")).status_code == 200


async def test_password_change_signs_out_other_browsers_but_keeps_this_one(
    client: httpx.AsyncClient, browser: httpx.AsyncClient, session: AsyncSession
) -> None:
    user = await create_user(session, email=unique_email())
    await web_login(client, user.email)
    await web_login(browser, user.email)
    before = client.cookies["ff_session"]
    response = await post(
        client,
        "/account/password",
        {"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD},
    )
    assert response.status_code == 303
    assert "Password changed. Your other sessions were signed out." in await follow(
        client, response
    )
    assert client.cookies["ff_session"] != before  # a renewed session for this browser
    assert (await client.get("/account")).status_code == 200
    assert (await browser.get("/account")).status_code == 303
    live = await count(
        session, UserSession, UserSession.user_id == user.id, UserSession.revoked_at.is_(None)
    )
    assert live == 1


async def test_turning_on_2fa_from_the_account_page(
    client: httpx.AsyncClient, browser: httpx.AsyncClient, session: AsyncSession
) -> None:
    user = await create_user(session, email=unique_email())
    await web_login(client, user.email)
    await web_login(browser, user.email)
    started = await post(client, "/account/2fa/setup", {})
    assert started.headers["location"] == "/account/2fa/setup"
    setup = await client.get("/account/2fa/setup")
    assert setup.status_code == 200
    assert 'src="data:image/svg+xml;base64,' in setup.text
    await session.refresh(user)
    secret = mfa.decrypt_secret(
        user, user.totp_pending_secret_encrypted or b"", "totp_pending_secret_encrypted"
    )
    assert secret in setup.text  # for manual entry

    enabled = await post(client, "/account/2fa/enable", {"code": totp_now(secret)})
    assert enabled.status_code == 200
    codes = re.findall(r"\b[a-z2-9]{5}-[a-z2-9]{5}\b", enabled.text)
    assert len(set(codes)) == 10
    assert "ff_session" in set_cookie_headers(enabled)
    assert (await client.get("/account")).status_code == 200
    assert (await browser.get("/account")).status_code == 303
    events = (
        (
            await session.execute(
                select(AuditEvent.action).where(
                    AuditEvent.user_id == user.id, AuditEvent.action == "user.2fa_enabled"
                )
            )
        )
        .scalars()
        .all()
    )
    assert events == ["user.2fa_enabled"]
    page = await client.get("/account")
    assert "10 unused recovery code(s) left." in page.text


async def test_security_activity_shows_only_the_users_own_account_events(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    alice = await create_user(session, email=unique_email("alice"))
    bob = await create_user(session, email=unique_email("bob"))
    await web_login(client, bob.email, "bob's wrong guess")
    await web_login(client, alice.email)
    page = await client.get("/account")
    activity = page.text.split("Recent security activity", 1)[1]
    assert activity.count("<code>user.login</code>") == 1
    assert "badge-failure" not in activity
