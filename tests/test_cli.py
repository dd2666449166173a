"""The `flashfusion` command, run as a subprocess on an isolated home and database.

Every failure must be a one-paragraph `Error: …` that says what to do next, with exit code 1
and never a traceback.
"""

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from subprocess import CompletedProcess

import httpx
import pytest
from argon2 import PasswordHasher

from flashfusion import __version__
from flashfusion.migrate import head_revision
from tests.fixtures.objects import DEFAULT_PASSWORD, bearer
from tests.fixtures.processes import Deployment, deployment, free_port, query

# Wide enough that Rich neither wraps messages nor truncates table cells.
WIDE = {"COLUMNS": "250"}
UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
HEAD = head_revision()


def succeeded(result: CompletedProcess[str]) -> str:
    assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    return result.stdout


def failed(result: CompletedProcess[str]) -> str:
    """The error message of a clean failure, whitespace-normalised."""
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stderr.startswith("Error: "), result.stderr
    return " ".join(result.stderr.split())


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Deployment]:
    """An installation whose database has never been migrated."""
    with deployment(tmp_path / "home", **WIDE) as installation:
        yield installation


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """A migrated installation shared by the admin-command tests (each uses its own names)."""
    with deployment(tmp_path_factory.mktemp("cli") / "home", **WIDE) as installation:
        succeeded(installation.cli("db", "upgrade"))
        yield installation


def create_user(installation: Deployment, email: str | None = None) -> str:
    email = email or f"user-{uuid.uuid4().hex[:8]}@example.com"
    succeeded(installation.cli("admin", "create-user", email, input=DEFAULT_PASSWORD + "\n"))
    return email


def create_org(installation: Deployment, owner: str, name: str = "Acme Prints") -> str:
    output = succeeded(installation.cli("admin", "create-org", name, "--owner", owner))
    assert re.fullmatch(UUID_RE + r"\n", output), output
    return output.strip()


def test_version(fresh: Deployment) -> None:
    assert succeeded(fresh.cli("version")) == f"flashfusion {__version__}\n"


def test_db_upgrade_current_downgrade(fresh: Deployment) -> None:
    assert HEAD is not None
    assert succeeded(fresh.cli("db", "current")) == (
        f"current: none  head: {HEAD}\nRun `flashfusion db upgrade`.\n"
    )

    assert succeeded(fresh.cli("db", "upgrade")).endswith(f"Database at {HEAD}.\n")
    assert succeeded(fresh.cli("db", "current")) == f"current: {HEAD}  head: {HEAD}\n"

    assert succeeded(fresh.cli("db", "downgrade", "base")).endswith("Database at base.\n")
    assert succeeded(fresh.cli("db", "current")) == (
        f"current: none  head: {HEAD}\nRun `flashfusion db upgrade`.\n"
    )
    assert query(fresh.database_url, "SELECT count(*) FROM alembic_version") == [(0,)]

    assert succeeded(fresh.cli("db", "upgrade")).endswith(f"Database at {HEAD}.\n")
    assert succeeded(fresh.cli("db", "current")) == f"current: {HEAD}  head: {HEAD}\n"


def test_commands_that_need_a_migrated_database_say_so(fresh: Deployment) -> None:
    message = failed(fresh.cli("jobs", "list"))
    assert message == (
        f"Error: The database is at migration none but this version needs {HEAD}. "
        "Run `flashfusion db upgrade` first (back the database up before upgrading)."
    )


def test_create_user_reads_the_password_from_stdin(shared: Deployment) -> None:
    email = f"Alice-{uuid.uuid4().hex[:8]}@Example.com"

    output = succeeded(shared.cli("admin", "create-user", email, input=DEFAULT_PASSWORD + "\n"))

    normalized = email.lower()
    match = re.fullmatch(rf"User {re.escape(normalized)} created: ({UUID_RE})\n", output)
    assert match, output
    [(user_id, stored_email, verified_at, is_operator, password_hash)] = query(
        shared.database_url,
        "SELECT id, email, email_verified_at, is_operator, password_hash FROM users "
        "WHERE email = :email",
        email=normalized,
    )
    assert str(uuid.UUID(str(user_id))) == match.group(1)
    assert stored_email == normalized
    assert verified_at is not None
    assert not is_operator
    assert PasswordHasher().verify(password_hash, DEFAULT_PASSWORD)
    events = query(
        shared.database_url,
        "SELECT actor_type, outcome FROM audit_events "
        "WHERE action = 'user.created_by_operator' AND user_id = :id",
        id=user_id,
    )
    assert [tuple(e) for e in events] == [("system", "success")]

    # The same address again, in any case: a clear refusal, and still one account.
    message = failed(
        shared.cli("admin", "create-user", email.upper(), input=DEFAULT_PASSWORD + "\n")
    )
    assert message == "Error: An account with this email already exists."
    count = query(
        shared.database_url, "SELECT count(*) FROM users WHERE email = :email", email=normalized
    )
    assert count == [(1,)]


def test_create_user_rejects_a_weak_password(shared: Deployment) -> None:
    email = f"weak-{uuid.uuid4().hex[:8]}@example.com"

    message = failed(shared.cli("admin", "create-user", email, input="short\n"))

    assert message == "Error: Use at least 8 characters."
    assert query(shared.database_url, "SELECT id FROM users WHERE email = :e", e=email) == []


def test_create_user_rejects_an_invalid_email(shared: Deployment) -> None:
    message = failed(
        shared.cli("admin", "create-user", "not-an-email", input=DEFAULT_PASSWORD + "\n")
    )

    assert message.startswith("Error: 'not-an-email' is not a valid email address: ")
    assert "@-sign" in message


def test_create_user_without_a_password_says_how_to_give_one(shared: Deployment) -> None:
    message = failed(shared.cli("admin", "create-user", "nopass@example.com", input=""))

    assert message == (
        "Error: No password given: pipe it on stdin, e.g. "
        '`echo "$PASSWORD" | flashfusion admin create-user EMAIL`.'
    )


def test_create_org_prints_its_id(shared: Deployment) -> None:
    owner = create_user(shared)
    name = f"Acme Prints {uuid.uuid4().hex[:6]}"

    org_id = create_org(shared, owner, name)

    rows = query(
        shared.database_url,
        "SELECT o.id, u.email, m.role FROM organizations o "
        "JOIN members m ON m.organization_id = o.id JOIN users u ON u.id = m.user_id "
        "WHERE o.name = :name",
        name=name,
    )
    assert [(str(uuid.UUID(str(r[0]))), r[1], r[2]) for r in rows] == [(org_id, owner, "owner")]


def test_create_org_with_an_unknown_owner(shared: Deployment) -> None:
    message = failed(shared.cli("admin", "create-org", "Nobody's", "--owner", "ghost@example.com"))

    assert message == (
        "Error: No user ghost@example.com; create it first with "
        "`flashfusion admin create-user ghost@example.com`."
    )
    assert query(shared.database_url, "SELECT id FROM organizations WHERE name = 'Nobody''s'") == []


@pytest.mark.slow
def test_create_api_key_prints_a_key_that_works(shared: Deployment) -> None:
    owner = create_user(shared)
    org_id = create_org(shared, owner)

    output = succeeded(
        shared.cli("admin", "create-api-key", "--org", org_id, "--scopes", "members:read,jobs:read")
    )

    key = output.strip()
    assert re.fullmatch(r"ffk_[A-Za-z0-9]{43}", key), output
    _, base_url = shared.start_server(jobs=False)
    me = httpx.get(f"{base_url}/api/v1/me", headers=bearer(key), timeout=30)
    assert me.status_code == 200, me.text
    body = me.json()
    assert body["organization_id"] == org_id
    assert body["role"] == "owner"
    assert body["scopes"] == ["jobs:read", "members:read"]
    assert body["effective_permissions"] == ["jobs:read", "members:read"]
    # A key that differs in one character is refused.
    tampered = key[:-1] + ("a" if key[-1] != "a" else "b")
    assert httpx.get(f"{base_url}/api/v1/me", headers=bearer(tampered)).status_code == 401


def test_create_api_key_rejects_an_unknown_scope(shared: Deployment) -> None:
    message = failed(
        shared.cli(
            "admin", "create-api-key", "--org", str(uuid.uuid4()), "--scopes", "jobs:read,bogus"
        )
    )

    assert message == (
        "Error: --scopes: unknown scope(s): bogus; valid scopes: organizations:read, "
        "organizations:write, members:read, members:write, api_keys:read, api_keys:write, "
        "audit:read, jobs:read, jobs:write, designs:read, designs:write, products:read, "
        "products:write, content:read, content:write, ai:read, ai:write, safeguards:read, "
        "safeguards:write, connections:read, connections:write, publishing:read, "
        "publishing:write, orders:read"
    )


def test_create_api_key_rejects_a_bad_org_id(shared: Deployment) -> None:
    message = failed(
        shared.cli("admin", "create-api-key", "--org", "acme", "--scopes", "jobs:read")
    )
    assert message == "Error: --org must be a workspace id (a UUID), got 'acme'."

    missing = str(uuid.uuid4())
    message = failed(
        shared.cli("admin", "create-api-key", "--org", missing, "--scopes", "jobs:read")
    )
    assert message == (
        f"Error: No workspace {missing}. List yours in the web app or create one with "
        "`admin create-org`."
    )


def test_jobs_list_shows_runs(shared: Deployment) -> None:
    ids = []
    for steps in (1, 2):
        output = succeeded(
            shared.cli("jobs", "selftest", "--steps", str(steps), "--seconds", "0", "--no-wait")
        )
        match = re.fullmatch(rf"Enqueued self-test job ({UUID_RE})\.\n", output)
        assert match, output
        ids.append(match.group(1))

    table = succeeded(shared.cli("jobs", "list"))

    lines = {job_id: line for line in table.splitlines() for job_id in ids if job_id in line}
    assert set(lines) == set(ids)
    assert "Self-test: 1 step(s), 0s sleep each" in lines[ids[0]]
    assert "Self-test: 2 step(s), 0s sleep each" in lines[ids[1]]
    for line in lines.values():
        assert "diagnostics.selftest" in line
        assert "ENQUEUED" in line
    assert "2 of 2 job run(s)" in table
    # Newest first.
    assert table.index(ids[1]) < table.index(ids[0])

    finished = succeeded(shared.cli("jobs", "list", "--status", "success"))
    assert not any(job_id in finished for job_id in ids)
    assert "0 of 0 job run(s)" in finished


@pytest.mark.slow
def test_jobs_selftest_waits_for_an_executor(fresh: Deployment) -> None:
    succeeded(fresh.cli("db", "upgrade"))

    message = failed(fresh.cli("jobs", "selftest", "--steps", "1", "--timeout", "1"))
    assert message == (
        "Error: No executor finished the job in time: is `flashfusion serve` or "
        "`flashfusion worker` running against this database?"
    )

    fresh.start_worker("w1")
    output = succeeded(fresh.cli("jobs", "selftest", "--steps", "2", "--seconds", "0.1"))
    assert re.match(rf"Enqueued self-test job {UUID_RE}\.\n", output), output
    assert output.endswith("Self-test passed.\n")
    # Both runs, the first one too, finished on the worker that came later.
    table = succeeded(fresh.cli("jobs", "list", "--status", "success"))
    assert "2 of 2 job run(s)" in table


@pytest.mark.slow
def test_serve_auto_migrates_sqlite(fresh: Deployment, database_kind: str) -> None:
    if database_kind != "sqlite":
        pytest.skip("SQLite only: PostgreSQL must be migrated explicitly (tested below)")

    process, base_url = fresh.start_server(jobs=False)

    assert httpx.get(f"{base_url}/readyz", timeout=10).status_code == 200
    assert f"Database migrated to {HEAD}." in " ".join(process.log().split())
    assert succeeded(fresh.cli("db", "current")) == f"current: {HEAD}  head: {HEAD}\n"


def test_serve_refuses_an_unmigrated_postgresql(fresh: Deployment, database_kind: str) -> None:
    if database_kind != "postgresql":
        pytest.skip("PostgreSQL only: on SQLite, serve migrates the embedded database itself")

    for command in (["serve", "--port", str(free_port())], ["worker"]):
        message = failed(fresh.cli(*command, timeout=60))
        assert message == (
            f"Error: The database is at migration none but this version needs {HEAD}. "
            "Run `flashfusion db upgrade` first (back the database up before upgrading)."
        ), command
    assert succeeded(fresh.cli("db", "current")).startswith("current: none")


@pytest.mark.parametrize(
    "command", [["serve", "--port", "0"], ["worker"], ["db", "upgrade"], ["jobs", "list"]]
)
def test_production_requires_a_secret_key(fresh: Deployment, command: list[str]) -> None:
    env = {k: v for k, v in fresh.env.items() if k != "FLASHFUSION_SECRET_KEY"}
    env["FLASHFUSION_ENV"] = "production"
    production = Deployment(fresh.home, fresh.database_url, env)

    message = failed(production.cli(*command))

    assert message.startswith("Error: FLASHFUSION_SECRET_KEY is not set.")
    assert "set FLASHFUSION_SECRET_KEY to it" in message
    assert "python -c 'import secrets; print(secrets.token_urlsafe(48))'" in message
    # Refused before touching the database or writing a key into the home.
    assert not (fresh.home / "secret_key").exists()
    assert succeeded(fresh.cli("db", "current")).startswith("current: none")


def test_a_short_secret_key_is_refused(fresh: Deployment) -> None:
    message = failed(fresh.cli("db", "upgrade", FLASHFUSION_SECRET_KEY="too-short"))

    assert "FLASHFUSION_SECRET_KEY must be at least 32 characters" in message
    assert "secrets.token_urlsafe(48)" in message
