"""`flashfusion generate --from ideas.csv`: a durable batch run by an executor the command starts
in its own process, with a progress bar and a results CSV. Run as a subprocess on an isolated
home and database (it launches DBOS, which the test process must not), like tests/test_cli.py;
the errors that come before any database work also through typer's CliRunner. Every failure is
one `Error: …` that says what to do, exit code 1, never a traceback."""

import csv
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from flashfusion.catalog.registry import get_catalog
from flashfusion.cli import app
from flashfusion.content import cli as generate_cli
from flashfusion.content.draft import BrandVoiceProfile, Platform
from flashfusion.content.writer import brief_for
from flashfusion.models import AIGeneration, ListingCopy
from tests.ai.test_service import Twins, twins, use_twins
from tests.content.test_batch import IDEAS, create_batch, run_job
from tests.content.test_endpoints import offline_copy
from tests.fixtures.objects import DEFAULT_PASSWORD, Tenant
from tests.fixtures.processes import Deployment, deployment, query
from tests.test_cli import UUID_RE, WIDE, failed, succeeded

IDEAS_CSV = (
    "idea,product_type,keywords\n"
    "Coffee first,mug,coffee mug;gift\n"
    "Plant mom,tshirt\n"
    "Dog dad,hoodie\n"
)
__all__ = ["twins"]  # the fixture, imported so that a test here can use it
HEADER = [
    "position",
    "idea",
    "product_type",
    "platform",
    "language",
    "status",
    "provider",
    "title",
    "tags",
    "cost_usd",
    "error",
]


class Installation:
    def __init__(self, deployment: Deployment, email: str, slug: str) -> None:
        self.deployment = deployment
        self.email = email
        self.slug = slug

    def batches(self) -> int:
        [(count,)] = query(self.deployment.database_url, "SELECT count(*) FROM content_batches")
        return int(count)


@pytest.fixture(scope="module")
def installation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installation]:
    """A migrated installation with a workspace owned by one user."""
    with deployment(tmp_path_factory.mktemp("generate") / "home", **WIDE) as installed:
        succeeded(installed.cli("db", "upgrade"))
        email = f"owner-{uuid.uuid4().hex[:8]}@example.com"
        succeeded(installed.cli("admin", "create-user", email, input=DEFAULT_PASSWORD + "\n"))
        org_id = succeeded(installed.cli("admin", "create-org", "Acme Prints", "--owner", email))
        [(slug,)] = query(
            installed.database_url,
            "SELECT slug FROM organizations WHERE id = :id",
            id=uuid.UUID(org_id.strip()).hex,
        )
        yield Installation(installed, email, slug)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def expected_row(position: int, idea: str, product_type: str, keywords: list[str]) -> list[str]:
    """The results row for one idea written offline on Etsy in English."""
    draft = offline_copy(
        brief_for(
            get_catalog(),
            idea=idea,
            product_type_key=product_type,
            platform=Platform.etsy,
            language="en",
            brand_voice=BrandVoiceProfile(),
            keywords=keywords,
            audience=None,
            occasion=None,
        )
    )
    return [
        str(position),
        idea,
        product_type,
        "etsy",
        "en",
        "ready",
        "offline",
        draft["title"],
        "; ".join(draft["tags"]),
        "0.000000",
        "",
    ]


def test_generate_writes_every_idea_and_the_results_csv(
    installation: Installation, tmp_path: Path
) -> None:
    source = write(tmp_path / "ideas.csv", IDEAS_CSV)
    out = tmp_path / "results.csv"
    before = installation.batches()

    result = installation.deployment.cli(
        "generate",
        "--from",
        str(source),
        "--org",
        installation.slug,
        "--as",
        installation.email,
        "--out",
        str(out),
    )

    output = succeeded(result)
    match = re.search(
        rf"^Batch ({UUID_RE}): 3 ideas × 1 platform\(s\) × 1 language\(s\)\.$", output, re.MULTILINE
    )
    assert match, output
    assert re.search(r"^generating listing copy .* 3/3 ", output, re.MULTILINE), output
    assert re.search(r"│ succeeded │ 3 +│", output), output
    assert re.search(r"│ failed +│ 0 +│", output), output
    assert output.rstrip().endswith(f"Results written to {out}.")
    with out.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows == [
        HEADER,
        expected_row(1, "Coffee first", "mug-11oz", ["coffee mug", "gift"]),
        expected_row(2, "Plant mom", "tshirt", []),
        expected_row(3, "Dog dad", "hoodie", []),
    ]
    batch_id = uuid.UUID(match.group(1)).hex
    assert installation.batches() == before + 1
    [(status, total, done, failed_items)] = query(
        installation.deployment.database_url,
        "SELECT status, total, done, failed FROM content_batches WHERE id = :id",
        id=batch_id,
    )
    assert (status, total, done, failed_items) == ("succeeded", 3, 3, 0)
    # The durable job behind the batch ran to the end.
    table = "dbos.workflow_status" if _on_postgres(installation) else "workflow_status"
    assert query(
        installation.deployment.database_url,
        f"SELECT w.status, w.name FROM {table} w JOIN jobs j ON j.workflow_id = w.workflow_uuid "
        "JOIN content_batches b ON b.job_id = j.id WHERE b.id = :id",
        id=batch_id,
    ) == [("SUCCESS", "content.generate_batch")]


def _on_postgres(installation: Installation) -> bool:
    return installation.deployment.database_url.startswith("postgresql")


@pytest.mark.parametrize(
    ("csv_text", "options", "message"),
    [
        (
            "Coffee first,mug\nMoon child,spaceship\n",
            {},
            "Error: row 2: product_type: unknown product type 'spaceship'; list them with "
            "`GET /api/v1/catalog` or `flashfusion studio catalog`",
        ),
        (
            "Coffee first,mug\nMoon child\n",
            {},
            "Error: row 2: needs two columns, idea and product_type (e.g. 'Coffee first,mug').",
        ),
        (
            IDEAS_CSV,
            {"--org": "no-such-workspace"},
            "Error: No workspace with slug 'no-such-workspace'; check the slug in the web UI's "
            "URL.",
        ),
        (
            IDEAS_CSV,
            {"--as": "nobody@example.com"},
            "Error: No user nobody@example.com; create one with `flashfusion admin create-user`.",
        ),
        (
            IDEAS_CSV,
            {"--platform": "ebay"},
            "Error: platforms: 'ebay' is not a platform; use one of etsy, amazon, shopify, "
            "tiktok_shop, pinterest, instagram, facebook",
        ),
    ],
    ids=["unknown product type", "short row", "unknown org", "unknown user", "unknown platform"],
)
def test_generate_refuses_bad_input_and_queues_nothing(
    installation: Installation,
    tmp_path: Path,
    csv_text: str,
    options: dict[str, str],
    message: str,
) -> None:
    source = write(tmp_path / "ideas.csv", csv_text)
    before = installation.batches()
    given = {"--org": installation.slug, "--as": installation.email, **options}

    result = installation.deployment.cli(
        "generate", "--from", str(source), *(part for item in given.items() for part in item)
    )

    assert failed(result) == message
    assert installation.batches() == before


def test_an_unknown_product_type_names_the_csv_row(
    installation: Installation, tmp_path: Path
) -> None:
    source = write(
        tmp_path / "ideas.csv", "idea,product_type\n\nCoffee first,mug\n\nMoon child,spaceship\n"
    )
    result = installation.deployment.cli(
        "generate", "--from", str(source), "--org", installation.slug, "--as", installation.email
    )
    assert failed(result).startswith("Error: row 5: product_type: unknown product type 'spaceship'")


runner = CliRunner()


def run_in_process(*args: str) -> str:
    """The command in this process, for errors raised before any database work."""
    result = runner.invoke(app, ["generate", *args], env=WIDE)
    assert result.exit_code == 1, (result.exit_code, result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stderr.startswith("Error: "), result.stderr
    return " ".join(result.stderr.split())


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    assert run_in_process("--from", str(missing), "--org", "acme", "--as", "a@example.com") == (
        f"Error: {missing}: no such file; give a CSV with one 'idea,product_type' per line."
    )


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    latin1 = tmp_path / "ideas.csv"
    latin1.write_bytes("Café first,mug\n".encode("latin-1"))
    assert run_in_process("--from", str(latin1), "--org", "acme", "--as", "a@example.com") == (
        f"Error: {latin1}: is not UTF-8 text; save the CSV as UTF-8 and try again."
    )


async def test_the_results_cost_is_each_listings_own(
    session: AsyncSession, tenant: Tenant, twins: Twins
) -> None:
    await use_twins(session, tenant.organization, twins, ["openai"])
    batch = await create_batch(session, tenant, IDEAS[:1], languages=["en", "de"])
    await run_job(batch.id)

    status, rows = await generate_cli._follow(batch.id, batch.total, timeout=5)

    assert status == 0
    costs = {}
    for row in rows:
        generation = (
            await session.execute(
                select(AIGeneration)
                .join(ListingCopy, ListingCopy.id == AIGeneration.listing_copy_id)
                .where(
                    ListingCopy.language == row[4],
                    ListingCopy.organization_id == batch.organization_id,
                )
            )
        ).scalar_one()
        assert generation.cost_microusd
        costs[row[4]] = (row[9], f"{generation.cost_microusd / 1e6:.6f}")
    assert [listed for listed, _ in costs.values()] == [own for _, own in costs.values()]
