"""The whole account journey in a real browser against a real `flashfusion serve`.

Sign-up mails a link through a real SMTP server (aiosmtpd, run by the test); the browser opens
it, confirms, signs in, turns on 2FA, signs out and back in with a TOTP code, creates a workspace
and an API key, calls the API with that key, and reads the audit trail. Every page is watched for
console errors, uncaught exceptions, CSP violations and 5xx responses.
"""

import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pyotp
import pytest
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Page,
    Request,
    Response,
    sync_playwright,
)

from flashfusion.api_key.service import scopes_of_role
from flashfusion.kit.crypto import is_well_formed_api_key
from flashfusion.models import Role
from tests.fixtures.objects import DEFAULT_PASSWORD
from tests.fixtures.processes import (
    Process,
    isolated_database,
    process_env,
    run_cli,
    start_server,
)
from tests.fixtures.smtp import ReceivedMessage, SMTPServer, running_smtp_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
MOBILE_WIDTH = 390
TIMEOUT_MS = 15_000
UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"

# Runs in every document before its own scripts: report CSP violations to the test.
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (e) => {
  window.__ffReportCsp(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} `
    + `at ${e.sourceFile}:${e.lineNumber}`);
});
"""


@dataclass
class Server:
    base_url: str
    process: Process


@dataclass
class Watch:
    """Everything that went wrong in the browser, as readable lines."""

    problems: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)


@pytest.fixture
def smtp_server() -> Iterator[SMTPServer]:
    with running_smtp_server() as server:
        yield server


@pytest.fixture
def server(tmp_path: Path, smtp_server: SMTPServer) -> Iterator[Server]:
    home = tmp_path / "home"
    home.mkdir()
    with isolated_database(home) as database_url:
        env = process_env(
            home,
            database_url,
            FLASHFUSION_EMAIL_BACKEND="smtp",
            FLASHFUSION_SMTP_HOST=smtp_server.host,
            FLASHFUSION_SMTP_PORT=str(smtp_server.port),
        )
        # As an operator would: PostgreSQL is never migrated implicitly by `serve`.
        upgrade = run_cli(["db", "upgrade"], env)
        assert upgrade.returncode == 0, upgrade.stdout + upgrade.stderr
        process, base_url = start_server(home, env)
        try:
            yield Server(base_url, process)
        finally:
            process.stop()
            # Shown by pytest only when the test failed.
            print(f"--- flashfusion serve log (tail) ---\n{process.log()[-6000:]}")  # noqa: T201


@pytest.fixture
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip(
            "Browser tests need Debian's chromium at /usr/bin/chromium: "
            "install Debian's chromium: apt-get install chromium"
        )
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield instance
        finally:
            instance.close()


def _watch(page: Page, watch: Watch) -> None:
    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            watch.problems.append(f"console error on {page.url}: {message.text}")

    def on_response(response: Response) -> None:
        if response.status >= 500:
            watch.problems.append(f"HTTP {response.status} for {response.url}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: watch.problems.append(f"page error on {page.url}: {error}"))
    page.on("response", on_response)

    def on_request_failed(request: Request) -> None:
        # ERR_ABORTED: the next navigation cancelled a load in flight (e.g. the favicon).
        if request.failure != "net::ERR_ABORTED":
            watch.problems.append(f"request failed: {request.method} {request.url}")

    page.on("requestfailed", on_request_failed)


def _no_horizontal_overflow(page: Page) -> None:
    widths = page.evaluate(
        "() => ({inner: window.innerWidth, doc: document.documentElement.scrollWidth,"
        " body: document.body.scrollWidth})"
    )
    assert widths["inner"] == MOBILE_WIDTH
    assert widths["doc"] <= widths["inner"], f"{page.url} overflows: {widths}"
    assert widths["body"] <= widths["inner"], f"{page.url} overflows: {widths}"


def _submit(page: Page, selector: str, status: int = 200) -> Response:
    """Click something that loads a new page, wait for it (redirects included) and return the
    final response, which must have `status`."""
    with page.expect_navigation() as navigation:
        page.click(selector)
    response = navigation.value
    assert response is not None
    assert response.status == status, f"{response.url}: {response.status}"
    return response


def _flashes(page: Page) -> list[str]:
    return [t.strip() for t in page.locator(".flash span").all_inner_texts()]


def _verification_link(message: ReceivedMessage, base_url: str) -> str:
    got = message.message
    assert got["Subject"] == "Confirm your email address"
    assert got["From"] == "FlashFusion <no-reply@flashfusion.local>"
    assert got["Content-Transfer-Encoding"] == "7bit"
    links = message.links()
    assert len(links) == 1, message.body
    link = links[0]
    assert re.fullmatch(rf"{re.escape(base_url)}/verify-email\?token=[A-Za-z0-9_-]{{20,}}", link)
    # The link travels as one unbroken line (no quoted-printable soft breaks).
    assert f"\r\n{link}\r\n".encode() in message.raw
    return link


def test_signup_to_api_key_in_a_real_browser(
    browser: Browser, server: Server, smtp_server: SMTPServer
) -> None:
    # `browser` comes first so that a missing chromium skips before a server starts.
    started = time.monotonic()
    base = server.base_url
    email = f"creator-{uuid.uuid4().hex[:8]}@example.com"
    watch = Watch()
    context = browser.new_context(
        base_url=base, viewport={"width": 1280, "height": 900}, locale="en-US"
    )
    context.set_default_timeout(TIMEOUT_MS)
    context.expose_function("__ffReportCsp", lambda text: watch.csp_violations.append(text))
    context.add_init_script(CSP_LISTENER)
    page = context.new_page()
    _watch(page, watch)

    # --- sign up -------------------------------------------------------------------------
    response = page.goto("/signup")
    assert response is not None
    assert response.status == 200
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    page.fill("#email", email)
    page.fill("#password", DEFAULT_PASSWORD)
    _submit(page, "button[type=submit]:has-text('Create account')")
    assert page.url == f"{base}/signup"
    assert page.inner_text("h1") == "Check your email"
    assert email in page.inner_text("main")
    # SMTP mode: the page does not point at a mail directory.
    assert "writes email to files" not in page.inner_text("main")

    # --- the verification email, through SMTP ------------------------------------------
    message = smtp_server.wait_for_recipient(email, timeout=30)
    assert message.rcpt_tos == (email,)
    assert message.mail_from == "no-reply@flashfusion.local"
    link = _verification_link(message, base)

    response = page.goto(link)
    assert response is not None
    assert response.status == 200
    assert page.inner_text("h1") == "Confirm your email address"
    _submit(page, "#confirm-email")
    assert page.url == f"{base}/login"
    assert _flashes(page) == ["Email confirmed. Sign in to continue."]
    # The flash is an Alpine component (CSP build): dismissing it works without eval.
    page.click(".flash .close")
    page.locator(".flash").first.wait_for(state="hidden")

    # --- sign in with the password ------------------------------------------------------
    page.fill("#email", email)
    page.fill("#password", DEFAULT_PASSWORD)
    _submit(page, "button[type=submit]:has-text('Sign in')")
    # A new account has no workspace yet: the home page sends it to create one.
    assert page.url == f"{base}/orgs/new"

    # --- turn on two-factor authentication ----------------------------------------------
    page.goto("/account")
    assert page.inner_text("h1") == "Account security"
    _submit(page, "#setup-2fa")
    assert page.url == f"{base}/account/2fa/setup"
    assert page.inner_text("h1") == "Set up two-factor authentication"
    _submit(page, "#start-2fa")
    assert page.url == f"{base}/account/2fa/setup"
    assert page.inner_text("h1") == "Scan this code"
    qr_ok = page.eval_on_selector("img.qr", "img => img.complete && img.naturalWidth > 0")
    assert qr_ok, "the QR code (a data: URI image) did not render"
    page.click('summary:has-text("Can\'t scan?")')
    secret = page.inner_text("#totp-secret").strip()
    assert re.fullmatch(r"[A-Z2-7]{32}", secret), secret
    totp = pyotp.TOTP(secret)
    enrolment_time = time.time()
    enrolment_code = totp.at(enrolment_time)
    page.fill("#code", enrolment_code)
    response = _submit(page, "button[type=submit]:has-text('Turn on')")
    assert page.url == f"{base}/account/2fa/enable"
    assert response.headers["cache-control"] == "no-store"  # shown once, never cached
    assert page.inner_text("h1") == "Two-factor authentication is on"
    recovery_codes = page.inner_text("#recovery-codes").split()
    assert len(recovery_codes) == 10
    assert len(set(recovery_codes)) == 10
    assert all(re.fullmatch(r"[a-z2-9]{5}-[a-z2-9]{5}", c) for c in recovery_codes)
    _submit(page, "a:has-text('I saved them')")
    assert page.url == f"{base}/account"
    assert "10 unused recovery code(s) left" in page.inner_text("main")

    # --- sign out, then in again with password + TOTP ----------------------------------
    _submit(page, "header button:has-text('Sign out')")
    assert page.url == f"{base}/login"
    assert _flashes(page) == ["You are signed out."]
    page.goto("/account")
    assert page.url == f"{base}/login?next=%2Faccount"

    page.goto("/login")
    page.fill("#email", email)
    page.fill("#password", DEFAULT_PASSWORD)
    _submit(page, "button[type=submit]:has-text('Sign in')")
    assert page.url == f"{base}/login/2fa?next=/"
    assert page.inner_text("h1") == "Enter your code"
    # The code used to turn 2FA on is spent: replaying it is refused (one use per step).
    page.fill("#code", enrolment_code)
    _submit(page, "button[type=submit]:has-text('Verify')", status=400)
    assert page.url == f"{base}/login/2fa"
    assert page.inner_text("p.flash-error") == (
        "That code is wrong or was already used. Enter the current code from your "
        "authenticator app, or a recovery code."
    )
    # The next step's code is new and still inside the allowed drift window.
    page.fill("#code", totp.at((int(enrolment_time // 30) + 1) * 30))
    _submit(page, "button[type=submit]:has-text('Verify')")
    assert page.url == f"{base}/orgs/new"

    # --- create a workspace -------------------------------------------------------------
    page.fill("#name", "Sunny Paws Apparel")
    _submit(page, "button[type=submit]:has-text('Create workspace')")
    assert re.fullmatch(rf"{re.escape(base)}/orgs/{UUID_RE}", page.url), page.url
    organization_id = page.url.rsplit("/", 1)[1]
    assert _flashes(page) == ["Workspace “Sunny Paws Apparel” created."]
    assert page.inner_text("main h1") == "Sunny Paws Apparel"

    # --- create an API key in the UI ----------------------------------------------------
    _submit(page, "#org-nav a:has-text('API keys')")
    assert page.url == f"{base}/orgs/{organization_id}/api-keys"
    assert page.inner_text("p.empty") == "No API keys yet."
    page.fill("input[name=name]", "Reporting script")
    checked = page.eval_on_selector_all(
        "input[name=scopes]:checked", "inputs => inputs.map(i => i.value)"
    )
    expected_scopes = sorted(s.value for s in scopes_of_role(Role.owner) if s.endswith(":read"))
    assert sorted(checked) == expected_scopes
    response = _submit(page, "#create-api-key")
    assert page.url == f"{base}/orgs/{organization_id}/api-keys"
    assert response.headers["cache-control"] == "no-store"  # shown once, never cached
    assert page.inner_text("h1") == "Key “Reporting script” created"
    api_key = page.inner_text("#new-api-key").strip()
    assert re.fullmatch(r"ffk_[0-9A-Za-z]{43}", api_key), api_key
    assert is_well_formed_api_key(api_key)

    # Mobile: the page with the longest unbreakable text does not scroll sideways.
    page.set_viewport_size({"width": MOBILE_WIDTH, "height": 844})
    _no_horizontal_overflow(page)
    page.set_viewport_size({"width": 1280, "height": 900})

    # --- call the API with the new key --------------------------------------------------
    me = httpx.get(f"{base}/api/v1/me", headers={"Authorization": f"Bearer {api_key}"}, timeout=10)
    assert me.status_code == 200, me.text
    body = me.json()
    assert body["organization_id"] == organization_id
    assert body["role"] == "owner"
    assert body["scopes"] == expected_scopes
    assert uuid.UUID(body["api_key_id"])
    # A key is not a browser session: without it the API refuses.
    assert httpx.get(f"{base}/api/v1/me", timeout=10).status_code == 401

    _submit(page, "a[role=button]:has-text('Done')")
    assert page.url == f"{base}/orgs/{organization_id}/api-keys"
    row = page.locator("tbody tr", has_text="Reporting script")
    assert row.locator("code").first.inner_text() == f"{api_key[:8]}…"
    assert api_key not in page.content()  # shown once, never again

    # --- the audit trail ----------------------------------------------------------------
    _submit(page, "#org-nav a:has-text('Audit log')")
    assert page.url == f"{base}/orgs/{organization_id}/audit"
    actions = page.locator("table.audit tbody tr td:nth-child(3) > code").all_inner_texts()
    # The key's first use (the /api/v1/me call above) is logged too.
    assert actions == ["api_key.used", "api_key.created", "organization.created"]
    actors = [
        row.locator("td").nth(1).inner_text() for row in page.locator("table.audit tbody tr").all()
    ]
    assert actors[0].startswith(f"API key Reporting script ({api_key[:8]}…)")
    assert actors[1].startswith(email)
    assert actors[2].startswith(email)
    # The workspace log holds workspace events; the account's own security events (sign-up,
    # sign-ins, 2FA) are on its security page.
    page.set_viewport_size({"width": MOBILE_WIDTH, "height": 844})
    _no_horizontal_overflow(page)
    # On a phone the workspace menu folds behind a toggle (Alpine, CSP build).
    assert not page.is_visible("#org-nav")
    page.click("button.menu-toggle")
    assert page.is_visible("#org-nav a:has-text('API keys')")
    page.set_viewport_size({"width": 1280, "height": 900})

    page.goto("/account")
    activity = page.locator("section", has=page.locator("h2", has_text="Recent security activity"))
    rows = activity.locator("tbody tr")
    events = [
        (r.locator("td").nth(1).inner_text(), r.locator("td").nth(2).inner_text())
        for r in rows.all()
    ]
    assert events == [
        ("user.login", "success"),
        ("user.login_2fa", "failure"),
        ("user.logout", "success"),
        ("user.2fa_enabled", "success"),
        ("user.login", "success"),
        ("user.email_verified", "success"),
        ("user.signup", "success"),
    ]
    page.set_viewport_size({"width": MOBILE_WIDTH, "height": 844})
    _no_horizontal_overflow(page)

    # --- nothing went wrong in the browser ----------------------------------------------
    assert watch.csp_violations == []
    # The one expected error: Chromium logs the 400 of the refused (replayed) 2FA code.
    assert watch.problems == [
        f"console error on {base}/login/2fa: Failed to load resource: the server responded "
        "with a status of 400 (Bad Request)"
    ]
    # The watch itself works: an injected inline script is blocked and reported.
    page.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = '1';"
        " document.body.appendChild(s); }"
    )
    deadline = time.monotonic() + 5
    while (len(watch.problems) < 2 or not watch.csp_violations) and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert [v.split(" ")[0] for v in watch.csp_violations] == ["script-src-elem"]
    assert len(watch.problems) == 2
    assert watch.problems[1].startswith(f"console error on {base}/account: ")
    assert "Content Security Policy" in watch.problems[1]
    context.close()

    assert [m.rcpt_tos for m in smtp_server.messages] == [(email,)]
    assert "Traceback" not in server.process.log()
    assert time.monotonic() - started < 90
