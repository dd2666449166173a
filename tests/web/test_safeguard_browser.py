"""The phrase check in a real browser against a real `flashfusion serve`: a creator opens
Safeguards from the workspace menu, types a phrase, and the findings come back through HTMX with
the risky words highlighted in the phrase (styled by the safeguard stylesheet, which the CSP
allows). No console errors, no CSP violations, no 5xx on the way."""

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from tests.fixtures.objects import DEFAULT_PASSWORD
from tests.fixtures.processes import isolated_database, process_env, run_cli, start_server
from tests.test_browser import (
    CSP_LISTENER,
    TIMEOUT_MS,
    Server,
    Watch,
    _submit,
    _watch,
    browser,
)

__all__ = ["browser"]  # the fixture, imported so that the test here can use it
pytestmark = [pytest.mark.browser, pytest.mark.slow]

PHRASE = "Soft <tee> that cures anxiety"


@pytest.fixture
def safeguard_server(tmp_path: Path) -> Iterator[tuple[Server, str, str]]:
    home = tmp_path / "home"
    home.mkdir()
    with isolated_database(home) as database_url:
        env = process_env(home, database_url)
        assert run_cli(["db", "upgrade"], env).returncode == 0
        email = f"maker-{uuid.uuid4().hex[:8]}@example.com"
        made = run_cli(["admin", "create-user", email], env, input=DEFAULT_PASSWORD + "\n")
        assert made.returncode == 0, made.stdout + made.stderr
        org = run_cli(["admin", "create-org", "Retro Threads", "--owner", email], env)
        assert org.returncode == 0, org.stdout + org.stderr
        organization_id = org.stdout.strip().splitlines()[-1]
        process, base_url = start_server(home, env)
        try:
            yield Server(base_url, process), email, organization_id
        finally:
            process.stop()
            print(f"--- flashfusion serve log (tail) ---\n{process.log()[-6000:]}")  # noqa: T201


def test_check_a_phrase_and_see_the_risky_words_marked(
    browser: Browser, safeguard_server: tuple[Server, str, str]
) -> None:
    server, email, organization_id = safeguard_server
    base = server.base_url
    watch = Watch()
    context = browser.new_context(base_url=base, viewport={"width": 1366, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    context.expose_function("__ffReportCsp", lambda text: watch.csp_violations.append(text))
    context.add_init_script(CSP_LISTENER)
    page = context.new_page()
    _watch(page, watch)

    page.goto("/login")
    page.fill("#email", email)
    page.fill("#password", DEFAULT_PASSWORD)
    _submit(page, "button[type=submit]:has-text('Sign in')")

    _submit(page, "#org-nav a:has-text('Safeguards')")
    assert page.url == f"{base}/orgs/{organization_id}/safeguards"
    assert page.get_attribute("#org-nav a:has-text('Safeguards')", "aria-current") == "page"
    page.fill("#check-phrase", PHRASE)
    page.select_option("#check-product-type", "tshirt")
    page.check("input[name=platforms][value=etsy]")
    url_before = page.url
    page.click("#check-form button[type=submit]")

    mark = page.locator("#check-text mark.finding").filter(has_text="cures anxiety")
    mark.wait_for()
    # HTMX swapped the fragment in place: same page, the phrase shown exactly as typed.
    assert page.url == url_before
    assert page.inner_text("#check-text") == PHRASE
    assert mark.get_attribute("data-code") == "claims.medical"
    verdict = (mark.get_attribute("class") or "").split()[-1]
    assert verdict in ("finding-warn", "finding-block")
    # The safeguard stylesheet colours the mark by its verdict (not the browser's yellow).
    background = mark.evaluate("m => getComputedStyle(m).backgroundColor")
    assert (
        background
        == {"finding-warn": "rgb(254, 240, 138)", "finding-block": "rgb(254, 202, 202)"}[verdict]
    )
    # The finding it belongs to is listed with its message, under Claims.
    finding = page.locator("#category-claims li[data-code='claims.medical']")
    assert "cures anxiety" in finding.inner_text()
    assert page.locator("#check-verdict .verdict").inner_text() in ("WARN", "BLOCK")

    deadline = time.monotonic() + 1
    while time.monotonic() < deadline and not watch.problems:
        time.sleep(0.1)
    assert watch.csp_violations == []
    assert watch.problems == []
