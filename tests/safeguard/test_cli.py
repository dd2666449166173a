"""`flashfusion screen --text "…" --product tshirt`: the real checks on a phrase, a table of
findings with the match highlighted, JSON on request, and the verdict as the exit code (0 PASS,
3 WARN, 4 BLOCK; 2 bad input). In this process through typer's CliRunner (no database: starter
set and rule packs), and as a subprocess on installations with and without a migrated database."""

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from flashfusion import cli as main_cli
from flashfusion.cli import app
from flashfusion.safeguard import cli as screen_cli
from tests.fixtures.processes import Deployment, deployment

WIDE = {"COLUMNS": "250"}
runner = CliRunner()


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """No database in this process: the starter set and the rule packs only."""
    monkeypatch.setattr(screen_cli, "_marks_database", lambda: (False, "not in this test"))

    def run(fn: Callable[[], Awaitable[Any]]) -> Any:
        return asyncio.run(fn())

    monkeypatch.setattr(main_cli, "_run", run)


def screen(*args: str) -> Any:
    return runner.invoke(app, ["screen", *args], env=WIDE)


def normalised(text: str) -> str:
    return " ".join(text.split())


def test_a_famous_slogan_on_a_shirt_blocks_with_exit_code_4(offline: None) -> None:
    result = screen("--text", "Just Do It and stay wild", "--product", "tshirt")

    assert result.exit_code == 4, result.stdout
    out = normalised(result.stdout)
    assert "BLOCK │ trademark │ trademark.exact │ Just Do It and stay wild │ JUST DO IT" in out
    assert "reg. 1875307 · live · uspto · Nike, Inc. · exact" in out
    assert "Verdict: BLOCK · 1 finding(s) · quality 100/100" in out
    assert "Marks database not used: not in this test; starter set only." in out


def test_a_character_name_warns_with_exit_code_3(offline: None) -> None:
    result = screen("--text", "Mickey Mouse fan club", "--product", "mug", "--json")

    assert result.exit_code == 3, result.stdout
    body = json.loads(result.stdout)
    assert body["verdict"] == "warn"
    assert [(f["code"], f["span"]) for f in body["findings"]] == [
        ("ip.character", {"field": "phrase", "start": 0, "end": 12, "text": "Mickey Mouse"})
    ]
    assert (body["marks_database"], body["checks"]["workspace_checks"]) == (False, False)
    assert body["counts"]["total"] == {"pass": 0, "warn": 1, "block": 0}


def test_a_harmless_phrase_passes_with_exit_code_0(offline: None) -> None:
    result = screen(
        "--text", "Sunrise over quiet hills", "--product", "poster", "--platform", "etsy"
    )

    assert result.exit_code == 0, result.stdout
    assert normalised(result.stdout).startswith("Verdict: PASS · 0 finding(s) · quality 100/100")


def test_a_platform_rule_applies_to_that_platform(offline: None) -> None:
    result = screen(
        "--text", "This tea cures cancer", "--product", "mug", "--platform", "etsy", "--json"
    )
    body = json.loads(result.stdout)
    assert result.exit_code == 4
    assert [(f["code"], f["verdict"], f["span"]["text"]) for f in body["findings"]] == [
        ("claims.medical", "block", "cures cancer")
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--text", "   ", "--product", "tshirt"],
            "Error: --text: is empty; give the phrase to screen, e.g. --text 'Stay Wild'.",
        ),
        (
            ["--text", "Hi", "--product", "rocket"],
            "Error: --product: unknown product type 'rocket'; ",
        ),
        (
            ["--text", "Hi", "--product", "tshirt", "--platform", "myspace"],
            "Error: --platform: "
            "'myspace' is not a platform; use one of etsy, amazon, shopify, tiktok_shop, pinterest, "
            "instagram, facebook.",
        ),
        (
            ["--text", "x" * 20_001, "--product", "tshirt"],
            "Error: --text: is 20,001 characters; screen at most 20,000 at a time.",
        ),
    ],
    ids=["empty text", "unknown product type", "unknown platform", "huge text"],
)
def test_bad_input_is_one_error_with_exit_code_2(
    offline: None, args: list[str], message: str
) -> None:
    result = screen(*args)

    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    assert normalised(result.stderr).startswith(message), result.stderr
    if "rocket" in message:
        # The valid product type ids are listed.
        assert "valid ids: apron, beach-towel," in normalised(result.stderr)
        assert "tshirt" in result.stderr


# --- as a subprocess, with this installation's database ------------------------------------------


@pytest.fixture(scope="module")
def installations(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Deployment, Deployment]]:
    root: Path = tmp_path_factory.mktemp("screen")
    with (
        deployment(root / "fresh", **WIDE) as fresh,
        deployment(root / "migrated", **WIDE) as migrated,
    ):
        upgraded = migrated.cli("db", "upgrade")
        assert upgraded.returncode == 0, upgraded.stderr
        yield fresh, migrated


def test_the_marks_database_is_used_once_it_is_migrated(
    installations: tuple[Deployment, Deployment], database_kind: str
) -> None:
    fresh, migrated = installations
    args = ("screen", "--text", "Just Do It", "--product", "tshirt", "--json")

    without = fresh.cli(*args)
    assert without.returncode == 4, without.stderr
    assert json.loads(without.stdout)["marks_database"] is False
    table = fresh.cli("screen", "--text", "Just Do It", "--product", "tshirt")
    why = {
        # An SQLite file that is not there is not created just to look into it.
        "sqlite": "no database here yet (run `flashfusion db upgrade`)",
        "postgresql": "the database is not migrated (run `flashfusion db upgrade`)",
    }[database_kind]
    assert f"Marks database not used: {why}; starter set only." in normalised(table.stdout)

    with_db = migrated.cli(*args)
    assert with_db.returncode == 4, with_db.stderr
    body = json.loads(with_db.stdout)
    assert body["marks_database"] is True
    assert body["checks"]["trademark"]["from_database"] == 0
    assert [f["evidence"]["mark"] for f in body["findings"]] == ["JUST DO IT"]
