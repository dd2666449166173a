"""The `flashfusion` command."""

import asyncio
import signal
import sys
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from flashfusion import __version__, demo
from flashfusion.config import ConfigurationError, get_settings
from flashfusion.connector.cli import secrets_app
from flashfusion.content.cli import generate
from flashfusion.publishing.cli import publishing_app
from flashfusion.safeguard.cli import screen
from flashfusion.safeguard.trademark.cli import trademarks_app
from flashfusion.sandbox.cli import sandbox_app
from flashfusion.studio.cli import studio_app

app = typer.Typer(
    help="FlashFusion: the automation hub for print-on-demand and digital-product creators.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
jobs_app = typer.Typer(help="Background jobs (operators).", no_args_is_help=True)
admin_app = typer.Typer(help="Operator commands.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(jobs_app, name="jobs")
app.add_typer(admin_app, name="admin")
app.add_typer(studio_app, name="studio")
app.add_typer(trademarks_app, name="trademarks")
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(secrets_app, name="secrets")
app.add_typer(publishing_app, name="publishing")
app.command("generate")(generate)
app.command("screen")(screen)
app.command("demo")(demo.demo)

console = Console()
err = Console(stderr=True)
T = TypeVar("T")


def fail(message: str, code: int = 1) -> None:
    err.print(f"[bold red]Error:[/] {message}")
    raise typer.Exit(code)


def _run(coroutine_fn: Callable[[], Awaitable[T]]) -> T:
    async def _main() -> T:
        from flashfusion.db import dispose_engines

        try:
            return await coroutine_fn()
        finally:
            await dispose_engines()

    return asyncio.run(_main())


def _check_settings() -> None:
    try:
        get_settings().secret_key()
    except ConfigurationError as e:
        fail(str(e))
    except ValidationError as e:
        fail("Invalid configuration: " + "; ".join(_setting_error(error) for error in e.errors()))
    except ValueError as e:
        fail(f"Invalid configuration: {e}")


def _setting_error(error: Any) -> str:
    """One pydantic error as the operator knows the setting: `FLASHFUSION_X: what is wrong`."""
    message = str(error.get("msg", "")).removeprefix("Value error, ")
    location = ".".join(str(part) for part in error.get("loc", ()))
    return f"FLASHFUSION_{location}: {message}" if location else message


def _ensure_migrated(auto: bool) -> None:
    """SQLite is migrated automatically; PostgreSQL must be migrated explicitly."""
    from flashfusion import migrate

    settings = get_settings()
    try:
        current = migrate.current_revision_sync(settings)
    except Exception as e:  # noqa: BLE001 - show the operator what failed, not a traceback
        fail(
            f"Cannot reach the database ({type(e).__name__}: {e}). Check FLASHFUSION_DATABASE_URL."
        )
        return
    head = migrate.head_revision()
    if current == head:
        from flashfusion.jobs import engine

        engine.migrate(settings)
        return
    if auto and settings.is_sqlite:
        with console.status("Migrating the embedded database…"):
            migrate.upgrade(settings=settings)
        console.print(f"Database migrated to [bold]{head}[/].")
        return
    fail(
        f"The database is at migration {current or 'none'} but this version needs {head}. "
        "Run `flashfusion db upgrade` first (back the database up before upgrading)."
    )


def _register_executor(kind: str) -> None:
    """Record this process's executor id; refuse if another live process is using it."""
    from flashfusion.jobs import janitor

    try:
        _run(lambda: janitor.register(kind))
    except janitor.DuplicateExecutorError as e:
        fail(str(e))


@app.command()
def version() -> None:
    """Print the version."""
    console.print(f"flashfusion {__version__}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    jobs: Annotated[
        bool, typer.Option("--jobs/--no-jobs", help="Run the in-process job executor.")
    ] = True,
    workers: Annotated[int, typer.Option(help="Uvicorn worker processes (use 1 with --jobs).")] = 1,
) -> None:
    """Serve the web UI and the API (and run jobs in-process unless --no-jobs)."""
    import uvicorn

    from flashfusion.logging import configure

    _check_settings()
    settings = get_settings()
    configure(settings)
    _ensure_migrated(auto=True)
    if workers > 1 and jobs:
        fail(
            "Several uvicorn workers would share one job-executor id: add --no-jobs and run "
            "`flashfusion worker` processes with their own FLASHFUSION_WORKER_ID."
        )
    if jobs:
        # Checked here as well as in the app's lifespan: a refusal raised there reaches the
        # operator as a uvicorn startup traceback instead of this message.
        _register_executor("serve")
    from flashfusion.app import create_app

    console.print(
        f"FlashFusion {__version__} on [bold]http://{host}:{port}[/] · data in "
        f"{settings.home if settings.is_sqlite else 'PostgreSQL'} · jobs "
        f"{'in-process (' + settings.WORKER_ID + ')' if jobs else 'off'} · email "
        f"{settings.EMAIL_BACKEND.value}"
    )
    application = create_app(settings, run_jobs=jobs)
    uvicorn.run(
        application,
        host=host,
        port=port,
        workers=1,
        log_config=None,
        proxy_headers=False,
        server_header=False,
    )


@app.command()
def worker() -> None:
    """Run a job executor only (scale-out); give each one its own FLASHFUSION_WORKER_ID."""
    from flashfusion.jobs import engine, janitor
    from flashfusion.logging import configure

    _check_settings()
    settings = get_settings()
    configure(settings)
    _ensure_migrated(auto=True)

    async def _main() -> None:
        try:
            await janitor.register("worker")
        except janitor.DuplicateExecutorError as e:
            fail(str(e))
        await asyncio.to_thread(engine.launch, settings)
        console.print(f"Worker [bold]{settings.WORKER_ID}[/] running; Ctrl-C to stop.")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        task = asyncio.create_task(janitor.run_forever("worker"))
        await stop.wait()
        task.cancel()
        await asyncio.to_thread(engine.shutdown)

    _run(_main)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Apply migrations (ours and the job engine's)."""
    from flashfusion import migrate

    _check_settings()
    with console.status("Migrating…"):
        migrate.upgrade(revision)
    console.print(f"Database at [bold]{migrate.current_revision_sync()}[/].")


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision, e.g. -1.")],
) -> None:
    """Revert migrations down to REVISION."""
    from flashfusion import migrate

    _check_settings()
    with console.status("Reverting…"):
        migrate.downgrade(revision)
    console.print(f"Database at [bold]{migrate.current_revision_sync() or 'base'}[/].")


@db_app.command("current")
def db_current() -> None:
    """Show the database's migration revision and the one this version needs."""
    from flashfusion import migrate

    _check_settings()
    current = migrate.current_revision_sync()
    head = migrate.head_revision()
    console.print(f"current: {current or 'none'}  head: {head}")
    if current != head:
        console.print("Run `flashfusion db upgrade`.")


@jobs_app.command("list")
def jobs_list(
    status: Annotated[str | None, typer.Option(help="Only runs in this status.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many to show.")] = 50,
) -> None:
    """List job runs of every workspace, newest first."""
    from flashfusion.db import unit_of_work
    from flashfusion.jobs.service import job as job_service
    from flashfusion.kit.pagination import PaginationParams

    _check_settings()
    _ensure_migrated(auto=False)

    async def _list() -> tuple[list[Any], int]:
        async with unit_of_work() as session:
            return await job_service.list_all(
                session,
                status=status.upper() if status else None,
                pagination=PaginationParams(1, limit),
            )

    runs, total = _run(_list)
    table = Table(title=f"{len(runs)} of {total} job run(s)")
    for column in (
        "id",
        "workspace",
        "kind",
        "status",
        "queued",
        "duration",
        "executor",
        "summary",
    ):
        table.add_column(column)
    for run in runs:
        table.add_row(
            str(run.id),
            str(run.organization_id or "—")[:8],
            run.kind,
            run.status,
            run.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            f"{run.duration_seconds:.2f}s" if run.duration_seconds is not None else "—",
            run.executor_id or "—",
            run.summary,
        )
    console.print(table)


@jobs_app.command("selftest")
def jobs_selftest(
    steps: Annotated[int, typer.Option(min=1, max=100, help="Checkpointed steps to run.")] = 3,
    seconds: Annotated[float, typer.Option(min=0, max=3600, help="Durable sleep per step.")] = 1.0,
    wait: Annotated[bool, typer.Option(help="Wait for the run to finish.")] = True,
    timeout: Annotated[float, typer.Option(help="Seconds to wait.")] = 120.0,
) -> None:
    """Enqueue a job that checks the executors end to end; prints its id."""
    from flashfusion.db import unit_of_work
    from flashfusion.jobs.enqueue import enqueue
    from flashfusion.jobs.repository import JobRepository

    _check_settings()
    _ensure_migrated(auto=True)

    async def _enqueue() -> uuid.UUID:
        async with unit_of_work() as session:
            job = await enqueue(
                session,
                "diagnostics.selftest",
                str(steps),
                str(seconds),
                organization_id=None,
                summary=f"Self-test: {steps} step(s), {seconds:g}s sleep each",
            )
            return job.id

    job_id = _run(_enqueue)
    console.print(f"Enqueued self-test job [bold]{job_id}[/].")
    if not wait:
        return

    async def _wait() -> str:
        deadline = asyncio.get_running_loop().time() + timeout
        with Progress(
            SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console
        ) as progress:
            task = progress.add_task("waiting for an executor…", total=None)
            while True:
                async with unit_of_work() as session:
                    run = await JobRepository.from_session(session).get_run(job_id, None)
                    steps_done = (
                        len(
                            await JobRepository.from_session(session).list_steps(
                                run.job.workflow_id
                            )
                        )
                        if run
                        else 0
                    )
                status = run.status if run else "UNKNOWN"
                progress.update(task, description=f"{status} · {steps_done} step record(s)")
                if status in ("SUCCESS", "ERROR", "CANCELLED", "MAX_RECOVERY_ATTEMPTS_EXCEEDED"):
                    return status
                if asyncio.get_running_loop().time() > deadline:
                    return "TIMEOUT"
                await asyncio.sleep(0.5)

    status = _run(_wait)
    if status == "SUCCESS":
        console.print("[green]Self-test passed.[/]")
        return
    if status == "TIMEOUT":
        fail(
            "No executor finished the job in time: is `flashfusion serve` or "
            "`flashfusion worker` running against this database?"
        )
    fail(f"Self-test ended with status {status}; see `flashfusion jobs list`.")


def _read_password() -> str:
    if sys.stdin.isatty():
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\n")
    if not password:
        fail(
            "No password given: pipe it on stdin, e.g. "
            '`echo "$PASSWORD" | flashfusion admin create-user EMAIL`.'
        )
    return str(password)


@admin_app.command("create-user")
def create_user(
    email: Annotated[str, typer.Argument(help="Email address (marked verified).")],
    operator: Annotated[bool, typer.Option(help="Make the user an instance operator.")] = False,
) -> None:
    """Create a verified user; the password is read from stdin."""
    from email_validator import EmailNotValidError, validate_email

    from flashfusion.audit.service import audit as audit_service
    from flashfusion.db import unit_of_work
    from flashfusion.exceptions import AppError
    from flashfusion.user.service import user as user_service

    _check_settings()
    _ensure_migrated(auto=True)
    try:
        address = validate_email(email, check_deliverability=False).normalized.lower()
    except EmailNotValidError as e:
        fail(f"{email!r} is not a valid email address: {e}")
        return
    password = _read_password()

    async def _create() -> uuid.UUID:
        async with unit_of_work() as session:
            user = await user_service.create(
                session, email=address, password=password, verified=True
            )
            user.is_operator = operator
            await audit_service.record(
                session, None, action="user.created_by_operator", user_id=user.id
            )
            return user.id

    try:
        user_id = _run(_create)
    except AppError as e:
        fail(e.detail)
        return
    console.print(f"User {address} created: {user_id}")


@admin_app.command("create-org")
def create_org(
    name: Annotated[str, typer.Argument(help="Workspace name.")],
    owner: Annotated[str, typer.Option(help="Email of the owner (must exist).")],
) -> None:
    """Create a workspace owned by OWNER; prints its id."""
    from flashfusion.auth.models import AuthSubject
    from flashfusion.db import unit_of_work
    from flashfusion.exceptions import AppError
    from flashfusion.organization.service import organization as organization_service
    from flashfusion.user.service import user as user_service

    _check_settings()
    _ensure_migrated(auto=True)

    async def _create() -> uuid.UUID | None:
        async with unit_of_work() as session:
            user = await user_service.get_by_email(session, owner)
            if user is None:
                return None
            organization = await organization_service.create(session, AuthSubject(user), name=name)
            return organization.id

    try:
        org_id = _run(_create)
    except AppError as e:
        fail(e.detail)
        return
    if org_id is None:
        fail(f"No user {owner}; create it first with `flashfusion admin create-user {owner}`.")
    console.print(str(org_id))


@admin_app.command("create-api-key")
def create_api_key(
    org: Annotated[str, typer.Option(help="Workspace id.")],
    scopes: Annotated[
        str, typer.Option(help="Comma-separated scopes, e.g. members:read,jobs:read.")
    ],
    name: Annotated[str, typer.Option(help="Key name.")] = "CLI key",
    expires_in_days: Annotated[int | None, typer.Option(min=1, max=3650)] = None,
) -> None:
    """Create an API key on behalf of the workspace owner; prints the key once."""
    from flashfusion.api_key.service import api_key as api_key_service
    from flashfusion.auth.models import AuthSubject
    from flashfusion.auth.scope import parse_scopes
    from flashfusion.db import unit_of_work
    from flashfusion.exceptions import AppError
    from flashfusion.member.repository import MemberRepository
    from flashfusion.user.repository import UserRepository

    _check_settings()
    _ensure_migrated(auto=True)
    try:
        org_id = uuid.UUID(org)
    except ValueError:
        fail(f"--org must be a workspace id (a UUID), got {org!r}.")
        return
    try:
        scope_set = parse_scopes([s.strip() for s in scopes.split(",") if s.strip()])
    except ValueError as e:
        fail(f"--scopes: {e}")
        return
    if not scope_set:
        fail("--scopes: give at least one scope.")

    async def _create() -> str | None:
        async with unit_of_work() as session:
            owner = await MemberRepository.from_session(session).get_owner(org_id)
            if owner is None:
                return None
            user = await UserRepository.from_session(session).get_by_id(owner.user_id)
            assert user is not None
            _, token = await api_key_service.create(
                session,
                AuthSubject(user),
                organization_id=org_id,
                name=name,
                scopes=scope_set,
                expires_in_days=expires_in_days,
            )
            return token

    try:
        token = _run(_create)
    except AppError as e:
        fail(e.detail)
        return
    if token is None:
        fail(
            f"No workspace {org_id}. List yours in the web app or create one with "
            "`admin create-org`."
        )
    console.print(token, highlight=False, soft_wrap=True)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
