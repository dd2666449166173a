"""`flashfusion demo` end to end on a fresh FLASHFUSION_HOME (a subprocess: it launches its own
job executor), and a `--quick` run of benchmarks/publish_throughput.py that must print its
figures (not meet its targets: timing is noisy in CI)."""

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCHMARK = ROOT / "benchmarks" / "publish_throughput.py"
# Runs the command function itself, whether or not flashfusion/cli.py registers it yet.
DEMO = [sys.executable, "-c", "import typer; from flashfusion.demo import demo; typer.run(demo)"]

# The first product is made, written, screened and published before the others are made: the
# connections and the webhook receiver are set up while the executor launches and it renders.
STEPS = [
    "Database ready",
    "Job executor starting",
    "Workspace created",
    "Design and first product created",
    "Webhook receiver ready",
    "Listing copy written for the first product (offline AI)",
    "Safeguard screening of the first product",
    "Connected sandbox Printify",
    "Connected sandbox Etsy (OAuth PKCE, auto-approved)",
    "Linked Printify → Etsy",
    "Job executor running",
    "First product rendered and queued for publishing",
    "Other products created",
    "First product published",
    "Listing copy written for the other products (offline AI)",
    "Safeguard screening of the other products",
    "Other products rendered and queued for publishing",
    "Published on every channel",
    "Sandbox order received and imported",
]


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLASHFUSION_")}
    env.update({"FLASHFUSION_HOME": str(home), "PYTHONUNBUFFERED": "1"})
    return env


def _redacted(text: str, password: str | None) -> str:
    return text.replace(password, "<password>") if password else text


@pytest.mark.slow
def test_demo_publishes_and_imports_an_order(tmp_path: Path) -> None:
    done = subprocess.run(
        [*DEMO, "--json", "--timeout", "90"],
        env=_env(tmp_path / "home"),
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    report = json.loads(done.stdout) if done.stdout.strip().startswith("{") else {}
    password = (report.get("login") or {}).get("password")
    assert done.returncode == 0, _redacted(done.stdout[-3000:] + done.stderr[-3000:], password)
    assert report["ok"] is True
    assert [s["name"] for s in report["steps"]] == STEPS
    assert all(s["seconds"] >= 0 for s in report["steps"])
    ends = [s["ended_seconds"] for s in report["steps"]]
    assert ends == sorted(ends)
    assert 0 < ends[-1] <= report["total_seconds"]
    steps = {s["name"]: s for s in report["steps"]}
    # One product's render per step: 1 print file (M and L share it) and 2 Etsy mockups each,
    # each product queued on both channels.
    for name in (
        "First product rendered and queued for publishing",
        "Other products rendered and queued for publishing",
    ):
        assert steps[name]["data"]["files"] == [3]
        assert steps[name]["data"]["queued"] == 2
    assert steps["First product published"]["detail"].startswith("tshirt live on ")
    # The first product was live before the others were written and screened.
    assert (
        report["first_published_seconds"]
        <= steps["First product published"]["ended_seconds"]
        <= steps["Listing copy written for the other products (offline AI)"]["ended_seconds"]
    )
    assert report["failed_step"] is None
    assert report["login"]["email"].endswith("@demo.flashfusion.invalid")
    assert len(password) >= 16
    # Two products (t-shirt, hoodie), screened PASS, each published on both channels.
    assert [p["product_type"] for p in report["products"]] == ["tshirt", "hoodie"]
    assert {p["verdict"] for p in report["products"]} == {"pass"}
    assert sorted((e["platform"], e["state"]) for e in report["listings"]) == [
        ("etsy", "published"),
        ("etsy", "published"),
        ("printify", "published"),
        ("printify", "published"),
    ]
    by_product = {}
    for entry in report["listings"]:
        by_product.setdefault(entry["product_id"], set()).add(entry["platform"])
    assert by_product == {p["id"]: {"etsy", "printify"} for p in report["products"]}
    # One Etsy order: 2 of the t-shirt's first SKU, matched back to the product.
    assert len(report["orders"]) == 1
    order = report["orders"][0]
    tshirt = report["products"][0]["id"]
    assert order["platform"] == "etsy"
    assert order["status"] == "paid"
    assert len(order["line_items"]) == 1
    line = order["line_items"][0]
    assert re.fullmatch(r"FF-TSHIRT-WHITE-L-[0-9A-F]{8}", line["sku"]), line
    assert line["sku"].endswith(tshirt.replace("-", "")[:8].upper())
    assert line["quantity"] == 2
    assert line["product_id"] == tshirt
    assert report["first_published_seconds"] is not None
    assert 0 < report["first_published_seconds"] < report["total_seconds"]
    _assert_first_product_goes_first(tmp_path / "home" / "flashfusion.db", tshirt)
    # The steps point at the web UI under BASE_URL.
    org = report["organization_id"]
    looks = {s["name"]: s["look"] for s in report["steps"]}
    assert looks["Published on every channel"] == f"http://127.0.0.1:8000/orgs/{org}/publishing"
    assert looks["Connected sandbox Printify"] == f"http://127.0.0.1:8000/orgs/{org}/connections"
    assert looks["Sandbox order received and imported"] == (
        f"http://127.0.0.1:8000/orgs/{org}/orders/{order['id']}"
    )


def _assert_first_product_goes_first(database: Path, first_id: str) -> None:
    """The database's own record of the order: the t-shirt's render is the only one queued
    until it has finished and the t-shirt is queued on both channels; only then is the hoodie
    made (its render queued), and it renders after the t-shirt's."""
    db = sqlite3.connect(database)
    try:
        products = db.execute(
            "select id, product_type, created_at, render_id from products order by created_at"
        ).fetchall()
        assert [p[1] for p in products] == ["tshirt", "hoodie"]
        assert products[0][0] == first_id.replace("-", "")
        renders = {
            r[0]: r[1:]
            for r in db.execute("select id, selection, created_at, completed_at from renders")
        }
        assert len(renders) == 2
        tshirt_render, hoodie_render = renders[products[0][3]], renders[products[1][3]]
        assert json.loads(tshirt_render[0]) == {"tshirt": ["white-m", "white-l"]}
        assert json.loads(hoodie_render[0]) == {"hoodie": ["black-m", "black-l"]}
        queued = db.execute(
            "select l.platform, min(i.created_at) from publish_intents i "
            "join channel_listings l on l.id = i.listing_id where l.product_id = ? "
            "group by l.platform order by l.platform",
            (products[0][0],),
        ).fetchall()
        assert [q[0] for q in queued] == ["etsy", "printify"]
        first_queued = min(q[1] for q in queued)
        # t-shirt rendered -> t-shirt queued for publishing -> hoodie (and its render) made.
        assert tshirt_render[2] <= first_queued <= products[1][2] <= hoodie_render[1]
        assert tshirt_render[2] <= hoodie_render[2]
    finally:
        db.close()


def test_demo_refuses_an_empty_idea(tmp_path: Path) -> None:
    done = subprocess.run(
        [*DEMO, "--idea", "   "],
        env=_env(tmp_path / "home"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "--idea must be 1-200 characters" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "home" / "flashfusion.db").exists()


@pytest.mark.slow
def test_publish_throughput_quick_prints_its_figures() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLASHFUSION_")}
    done = subprocess.run(
        [sys.executable, str(BENCHMARK), "--quick", "--no-demo", "--time-scale", "60"],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    out = done.stdout
    assert done.returncode == 0, out[-3000:] + done.stderr[-3000:]
    assert (
        "publish_throughput: 12 products x 2 channels (Printify linked to Etsy), time scale 60 "
        "(twins and FlashFusion), SQLite"
    ) in out
    assert re.search(r"publish request [\d.]+ s \(24 queued, ETA [\d.]+ s\)", out), out
    assert re.search(
        r"settled in [\d.]+ s: 12 etsy published, 12 printify published; first published "
        r"after [\d.]+ s",
        out,
    ), out
    # When the twin admitted the 1st and the last of the 12 publish calls (12 fit one window).
    times = re.search(r"Printify publish calls admitted at #1 ([\d.]+) s, #12 ([\d.]+) s\n", out)
    assert times is not None, out
    assert 0 < float(times[1]) <= float(times[2])
    # Every Printify publish is one publish.json call, counted by the twin.
    assert re.search(
        r"printify calls default \d+, catalog \d+, publish 12; minimum time per limit: "
        r"requests [\d.]+ s, publish [\d.]+ s, catalog [\d.]+ s; binds: \w+",
        out,
    ), out
    assert re.search(
        r"etsy +calls default \d+; minimum time per limit: per_second [\d.]+ s, per_day "
        r"[\d.]+ s; binds: \w+",
        out,
    ), out
    assert re.search(r"429 responses \d+  duplicates 0  max seen per window", out), out
    assert re.search(
        r"achieved [\d.]+ products/s, allowed [\d.]+ products/s \(allowed time [\d.]+ s\): "
        r"ratio [\d.]+ \(target >= 0\.9: (MET|MISSED)\); 429 responses \d+ \(target 0: "
        r"(MET|MISSED)\)",
        out,
    ), out


@pytest.mark.slow
def test_more_handshakes_than_queue_slots_do_not_deadlock() -> None:
    """12 products published to a Printify shop linked to Etsy, with 8 handshake slots: the 8
    running handshakes wait for Etsy intents made by their own handshake (queued after the 4
    other Printify runs). On one shared queue of 8 slots no Etsy intent could ever start; on
    their own queue (`publish`) they do, and everything settles."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLASHFUSION_")}
    done = subprocess.run(
        [
            sys.executable,
            str(BENCHMARK),
            "--products",
            "12",
            "--printify-only",
            "--handshake-slots",
            "8",
            "--no-demo",
            "--timeout",
            "120",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    out = done.stdout
    assert done.returncode == 0, out[-3000:] + done.stderr[-3000:]
    assert "published to Printify only, 8 handshake slots" in out
    assert re.search(r"\(12 queued, ETA [\d.]+ s\)", out), out
    assert re.search(
        r"settled in [\d.]+ s: 12 etsy published, 12 printify published; first published", out
    ), out
    assert re.search(r"429 responses 0  duplicates 0  max seen", out), out
