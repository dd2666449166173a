"""The Merch Studio in a real browser against a real `flashfusion serve` (with its job executor).

A creator types a phrase, sees the presets drawn live, picks one, edits the text in the editor
(the server re-renders the preview through HTMX), drags the layer, undoes, saves a version,
checks for print problems, creates a t-shirt product and watches its print files and mockups
render; the print files have the catalog's exact pixel size. No console errors, no CSP
violations, no 5xx on the way.
"""

import io
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, sync_playwright

from flashfusion.catalog.registry import get_product_type
from flashfusion.studio.pipeline import default_area_keys
from tests.fixtures.objects import DEFAULT_PASSWORD
from tests.fixtures.processes import isolated_database, process_env, run_cli, start_server
from tests.test_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    CSP_LISTENER,
    TIMEOUT_MS,
    Server,
    Watch,
    _flashes,
    _submit,
    _watch,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip("Browser tests need Debian's chromium: apt-get install chromium")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def studio_server(tmp_path: Path) -> Iterator[tuple[Server, str, str]]:
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


def _preview_src(page: Page) -> str:
    return page.get_attribute("#preview-image", "src") or ""


def _wait_for_new_preview(page: Page, old: str) -> str:
    page.wait_for_function(
        "old => { const i = document.getElementById('preview-image'); return i && i.src !== old; }",
        arg=old,
    )
    return _preview_src(page)


def test_phrase_to_product_in_the_editor(
    browser: Browser, studio_server: tuple[Server, str, str]
) -> None:
    server, email, organization_id = studio_server
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

    # --- phrase → live gallery of presets → pick one ---------------------------------
    _submit(page, "#org-nav a:has-text('Studio')")
    assert page.url == f"{base}/orgs/{organization_id}/studio"
    page.fill("#phrase", "Stay Wild")
    page.wait_for_selector(".preset-gallery .preset-button")
    presets = page.eval_on_selector_all(
        ".preset-button", "buttons => buttons.map(b => b.dataset.preset)"
    )
    assert len(presets) >= 8
    assert {"retro-sunset", "neon-glow", "watercolour"} <= set(presets)
    thumbnails = page.eval_on_selector_all(
        ".preset-button img", "imgs => imgs.map(i => i.complete && i.naturalHeight)"
    )
    assert all(w == 220 for w in thumbnails), thumbnails
    _submit(page, ".preset-button[data-preset='retro-sunset']")
    assert re.fullmatch(
        rf"{re.escape(base)}/orgs/{organization_id}/studio/designs/[0-9a-f-]{{36}}", page.url
    )
    design_url = page.url
    assert page.inner_text("main h1") == "Stay Wild"
    first = _preview_src(page)
    assert first.startswith("data:image/png;base64,")

    # --- edit the text: the server re-renders the preview ----------------------------
    text_layer = page.locator(".layer-item", has_text="text:").first
    text_layer.click()
    page.fill("#layer-props textarea[data-path=text]", "Stay Wilder")
    second = _wait_for_new_preview(page, first)
    assert page.locator(".layer-item.selected").inner_text().startswith("text:")
    assert page.is_enabled("#undo")

    # --- drag it: the layer's centre moves and the preview follows ------------------
    before_x = float(page.input_value("#layer-props input[data-path=x]"))
    page.locator("#stage").scroll_into_view_if_needed()
    page.wait_for_function(
        "() => { const b = document.getElementById('selection-box');"
        " return !b.hidden && b.offsetWidth > 50; }"
    )
    box = page.locator("#selection-box").bounding_box()
    assert box is not None
    start = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(start[0] + 40, start[1] + 10, steps=5)
    page.mouse.up()
    third = _wait_for_new_preview(page, second)
    after_x = float(page.input_value("#layer-props input[data-path=x]"))
    assert after_x > before_x + 100  # 40 screen px are hundreds of canvas px

    # --- undo the drag ----------------------------------------------------------------
    page.click("#undo")
    _wait_for_new_preview(page, third)
    assert float(page.input_value("#layer-props input[data-path=x]")) == before_x

    # --- save: a new version -----------------------------------------------------------
    _submit(page, "#save-version")
    assert page.url == design_url
    assert _flashes(page) == ["Saved version 2."]
    assert "Version 2 of 2" in page.inner_text("main")

    # --- check print problems for a t-shirt and a mug --------------------------------
    page.click(".product-picker summary:has-text('Drinkware')")
    page.check("input[name=product_types][value='mug-11oz']")
    page.click("#validate")
    page.wait_for_selector("#issues ul.issues, #issues #no-issues")

    # --- create the t-shirt product and watch it render ------------------------------
    page.uncheck("input[name=product_types][value='mug-11oz']")
    _submit(page, "#create-products")
    assert re.fullmatch(
        rf"{re.escape(base)}/orgs/{organization_id}/products/[0-9a-f-]{{36}}", page.url
    )
    assert _flashes(page) == ["Product created; print files and mockups are rendering."]
    page.wait_for_selector("#print-files tbody tr", timeout=120_000)
    tshirt = get_product_type("tshirt")
    areas = default_area_keys(tshirt)
    assert areas == ["front"]
    sizes = {
        f"{v.print_files[a].width_px}×{v.print_files[a].height_px}"
        for v in tshirt.variants
        for a in areas
    }
    shown = set(page.locator("#print-files tbody tr td:nth-child(2)").all_inner_texts())
    assert shown == sizes
    # A print file downloads at its exact size, as a PNG with its DPI.
    link = page.locator("#print-files a:has-text('Download PNG')").first.get_attribute("href")
    cookies = {c["name"]: c["value"] for c in context.cookies()}
    got = httpx.get(f"{base}{link}", cookies=cookies, timeout=30)
    assert got.status_code == 200
    image = Image.open(io.BytesIO(got.content))
    assert f"{image.width}×{image.height}" in sizes
    assert image.mode == "RGBA"
    assert round(image.info["dpi"][0]) == tshirt.variants[0].print_files["front"].dpi
    page.wait_for_function(
        "() => [...document.querySelectorAll('#mockups img')].every(i => i.complete)"
    )
    mockups = page.eval_on_selector_all(
        "#mockups img", "imgs => imgs.map(i => i.complete && i.naturalWidth > 0)"
    )
    assert mockups
    assert all(mockups)
    prices = page.locator("#price-table tbody tr").count()
    assert prices == len(tshirt.variants)

    deadline = time.monotonic() + 1
    while time.monotonic() < deadline and not watch.problems:
        time.sleep(0.1)
    assert watch.csp_violations == []
    assert watch.problems == []
