"""No plaintext secret in a dump of the database, the logs or the job inputs (issue 6).

One run as an operator would see it: the Printify, Printful and Etsy sandbox twins served on
local ports (threads of this process, so the test sees every token they issue), a real
`flashfusion serve` (web and job executor) on the test database, and a workspace that connects
Printify and Printful with distinctive API tokens and Etsy through the OAuth flow (PKCE, the
twin's consent page, the callback), has its Etsy access token expire so the publish job refreshes
it (Etsy rotates refresh tokens: the old one is a secret too), and publishes one product to all
three through the API (all three succeed: Printful is sent the server's signed, expiring file
URLs, `GET /files/<render file id>?token=...`, and its twin downloads the print file from the
server over the network, as Printful does); the Printify publish handshake's webhook comes back
to the web process.

Then every table of every schema of the database (PostgreSQL: public, dbos,
flashfusion_ratelimit; SQLite: every database file in the home, the DBOS tables and the
rate-limit file included) is dumped as text, every column of every row; the dump, the raw bytes
of every file in the home, the server's log output (DEBUG, JSON) and this process's own log
lines (likewise) are searched for each secret (every token and refresh token issued, the Etsy shared secret and x-api-key, the
webhook signing secrets, the PKCE verifier, the OAuth code and state, the API key, the
encryption key, the master secret and the key-encryption key, and the token of every signed
file URL sent to Printful: a bearer capability, so logs name the file, never the token), plain, base64 (at any alignment,
standard and URL-safe; base64 runs found in the dump are also decoded, DBOS pickles its inputs
and outputs into base64), URL-encoded and hex. The run is checked not to be vacuous (the
connections' rows and ciphertexts, the workflows and their step outputs, the refresh, the webhook
are all there), and the scanner is shown to find a token planted in a row, a log line and a
DBOS-style job input.

The rows the run commits are removed afterwards (every row and table that was not there before).
"""

import asyncio
import base64
import binascii
import contextlib
import io
import json
import logging
import os
import pickle
import re
import secrets
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, quote_plus, urlsplit

import httpx
import pytest
import sqlalchemy as sa
import structlog
from pydantic import SecretStr
from sqlalchemy.pool import NullPool

from flashfusion import logging as ff_logging
from flashfusion.config import get_settings, sync_database_url
from flashfusion.connector import token as token_health
from flashfusion.connector.oauth import state_aad
from flashfusion.db import unit_of_work
from flashfusion.jobs.engine import DBOS_SCHEMA
from flashfusion.kit import encryption
from flashfusion.kit.encrypted_columns import ENCRYPTED_COLUMNS
from flashfusion.models import (
    ChannelListing,
    OAuthState,
    PlatformConnection,
    PublishIntent,
    Role,
)
from flashfusion.sandbox import etsy as etsy_twin
from flashfusion.sandbox import printful as printful_twin
from flashfusion.sandbox import printify as printify_twin
from flashfusion.sandbox.delivery import http_deliver
from tests.fixtures.logs import logger_levels_restored
from tests.fixtures.objects import bearer, create_tenant
from tests.fixtures.processes import Process, query, start_server
from tests.publishing.fakes import publishable

pytestmark = pytest.mark.slow

SETTLE_TIMEOUT = 180.0
# DBOS's own tables and FlashFusion's jobs table: where a job's inputs, outputs, step outputs,
# messages and events are kept.
JOB_TABLES = {
    "jobs",
    "workflow_status",
    "workflow_input",
    "workflow_output",
    "operation_outputs",
    "notifications",
    "workflow_events",
    "workflow_events_history",
    "streams",
    "workflow_schedules",
}
SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/_-]{16,}={0,2}")


# --- the scanner -----------------------------------------------------------------------------


def _text(value: str | bytes) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def _raw(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


def base64_cores(value: bytes) -> set[str]:
    """What `value` looks like inside any base64 text, whatever its offset there: for each of
    the 3 alignments, the characters that depend on `value`'s bytes only (standard and URL-safe
    alphabets)."""
    found = set()
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + value).decode().rstrip("=")
        # Drop the characters that mixed in the padding bytes, and the last partial group.
        start = (shift * 8 + 5) // 6
        end = ((shift + len(value)) * 8) // 6
        core = encoded[start:end]
        if len(core) >= 12:
            found.add(core)
            found.add(core.replace("+", "-").replace("/", "_"))
    return found


def forms(value: str | bytes) -> dict[str, str]:
    """The ways a secret could be written down: plain, URL-encoded, base64, hex."""
    raw = _raw(value)
    found = {"plain": _text(value), "hex": raw.hex()}
    if isinstance(value, str):
        for name, encoded in (("urlencoded", quote(value, safe="")), ("form", quote_plus(value))):
            if encoded not in found.values():
                found[name] = encoded
    for n, core in enumerate(sorted(base64_cores(raw))):
        found[f"base64[{n}]"] = core
    return found


def decoded_base64(text: str, depth: int = 2) -> str:
    """The bytes of every base64 run in `text` (latin-1), and of the runs inside those: DBOS
    stores inputs and outputs as base64 of a pickle, in which strings are plain UTF-8."""
    parts = []
    for match in _BASE64_RUN.finditer(text):
        # At each offset: the run may start with characters that are not part of it.
        for run in (match.group(0)[offset:] for offset in range(4)):
            for decode in (base64.b64decode, base64.urlsafe_b64decode):
                with contextlib.suppress(binascii.Error, ValueError):
                    raw = decode(run.rstrip("=") + "=" * (-len(run.rstrip("=")) % 4))
                    parts.append(raw.decode("latin-1"))
    decoded = "\n".join(parts)
    if depth > 1 and decoded:
        decoded += "\n" + decoded_base64(decoded, depth - 1)
    return decoded


def leaks(parts: dict[str, str], secret_values: Mapping[str, str | bytes]) -> dict[str, list[str]]:
    """Where (table, file, log) each secret found is, and in which form."""
    found = {name: find_secrets(text, secret_values) for name, text in parts.items()}
    return {name: hits for name, hits in found.items() if hits}


def find_secrets(text: str, secret_values: Mapping[str, str | bytes]) -> list[str]:
    """'name (form)' for every secret found in `text` or in what its base64 runs decode to."""
    haystack = text + "\n" + decoded_base64(text)
    lowered = haystack.lower()
    hits = []
    for name, value in secret_values.items():
        for form, needle in forms(value).items():
            if needle in (lowered if form == "hex" else haystack):
                hits.append(f"{name} ({form})")
    return hits


# --- dumps -----------------------------------------------------------------------------------


def render(value: Any) -> str:
    """One column value as text; bytes as latin-1 and hex."""
    if value is None:
        return ""
    if isinstance(value, memoryview):
        value = bytes(value)
    if isinstance(value, bytes):
        return value.decode("latin-1") + " " + value.hex()
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


@dataclass
class Dump:
    """Every table's rows as text, by qualified table name, and the tables not readable."""

    tables: dict[str, str] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    unreadable: list[str] = field(default_factory=list)

    def text(self) -> str:
        return "\n".join(f"== {name}\n{body}" for name, body in self.tables.items())


def _add_rows(dump: Dump, name: str, columns: Iterable[str], rows: Iterable[Any]) -> None:
    columns = list(columns)
    lines, count = [], 0
    for row in rows:
        count += 1
        lines.append(" | ".join(f"{c}={render(v)}" for c, v in zip(columns, row, strict=True)))
    dump.tables[name] = "\n".join(lines)
    dump.rows[name] = count


def sqlite_files(home: Path) -> list[Path]:
    return sorted(p for p in home.rglob("*") if p.is_file() and p.suffix in SQLITE_SUFFIXES)


def _sqlite_tables(connection: sqlite3.Connection) -> list[str]:
    rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
    return [name.decode() if isinstance(name, bytes) else name for (name,) in rows]


def postgres_engine() -> sa.Engine:
    return sa.create_engine(sync_database_url(get_settings().database_url), poolclass=NullPool)


def _postgres_tables(connection: sa.Connection) -> list[tuple[str, str]]:
    rows = connection.execute(
        sa.text(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_type = 'BASE TABLE' AND table_schema NOT IN "
            "('pg_catalog', 'information_schema') ORDER BY 1, 2"
        )
    )
    return [(schema, name) for schema, name in rows]


def dump_database(home: Path) -> Dump:
    """Every column of every row of every table: on PostgreSQL of every schema, on SQLite of
    every database file in the home (the app's, with the DBOS tables, and the rate limits')."""
    dump = Dump()
    if get_settings().is_sqlite:
        for path in sqlite_files(home):
            db = sqlite3.connect(path)
            db.text_factory = bytes  # no decoding error hides a row
            try:
                for table in _sqlite_tables(db):
                    name = f"{path.name}.{table}"
                    try:
                        cursor = db.execute(f'SELECT * FROM "{table}"')
                        columns = [d[0] for d in cursor.description]
                        _add_rows(dump, name, columns, cursor.fetchall())
                    except sqlite3.Error as e:
                        dump.unreadable.append(f"{name}: {e}")
            finally:
                db.close()
        return dump
    engine = postgres_engine()
    try:
        with engine.connect() as connection:
            for schema, table in _postgres_tables(connection):
                name = f"{schema}.{table}"
                try:
                    result = connection.execute(sa.text(f'SELECT * FROM "{schema}"."{table}"'))
                    _add_rows(dump, name, result.keys(), result.all())
                except sa.exc.DBAPIError as e:
                    dump.unreadable.append(f"{name}: {e.orig}")
                    connection.rollback()
    finally:
        engine.dispose()
    return dump


def raw_files(home: Path) -> dict[str, str]:
    """The bytes of every file in the home (database files with their WAL too), latin-1.

    Read by another process: closing a descriptor of a SQLite file in this one would drop
    every POSIX lock this process's open connections hold on it (fcntl locks are per process),
    and the next connection to close would take itself for the last one and delete the WAL
    from under them."""
    paths = [str(path) for path in sorted(home.rglob("*")) if path.is_file()]
    reader = (
        "import json, sys; print(json.dumps({p: open(p, 'rb').read().decode('latin-1') "
        "for p in json.load(sys.stdin)}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", reader],
        input=json.dumps(paths),
        capture_output=True,
        text=True,
        check=True,
    )
    found: dict[str, str] = json.loads(done.stdout)
    return found


# --- undoing the run's commits ---------------------------------------------------------------


@dataclass
class Snapshot:
    """The rows of every table before the run, by key (SQLite: rowid, or the primary key of
    a WITHOUT ROWID table; PostgreSQL: the primary key, or the whole row for a table without
    one), to delete exactly what the run added."""

    rows: dict[str, set[Any]] = field(default_factory=dict)
    files: set[Path] = field(default_factory=set)
    schemas: set[str] = field(default_factory=set)


def _pg_keys(connection: sa.Connection, schema: str, table: str) -> tuple[list[str], set[Any]]:
    pk = sa.inspect(connection).get_pk_constraint(table, schema=schema)["constrained_columns"]
    columns = ", ".join(f'"{c}"' for c in pk) if pk else "*"
    rows = connection.execute(sa.text(f'SELECT {columns} FROM "{schema}"."{table}"'))
    return pk, {tuple(map(str, row)) for row in rows}


def _sqlite_keys(connection: sqlite3.Connection, table: str) -> tuple[list[str], set[Any]]:
    """The key of each row: its rowid, or for a WITHOUT ROWID table its primary key."""
    try:
        rows = connection.execute(f'SELECT rowid FROM "{table}"').fetchall()
        return ["rowid"], set(rows)
    except sqlite3.OperationalError:
        info = connection.execute(f'PRAGMA table_info("{table}")').fetchall()
        key = [c[1] for c in sorted(info, key=lambda c: c[5]) if c[5] > 0]
        columns = ", ".join(f'"{c}"' for c in key)
        return key, set(connection.execute(f'SELECT {columns} FROM "{table}"').fetchall())


def snapshot(home: Path) -> Snapshot:
    taken = Snapshot(files={p.resolve() for p in home.rglob("*") if p.is_file()})
    if get_settings().is_sqlite:
        for path in sqlite_files(home):
            db = sqlite3.connect(path)
            try:
                for table in _sqlite_tables(db):
                    taken.rows[f"{path.resolve()}|{table}"] = _sqlite_keys(db, table)[1]
            finally:
                db.close()
        return taken
    engine = postgres_engine()
    try:
        with engine.connect() as connection:
            taken.schemas = set(sa.inspect(connection).get_schema_names())
            for schema, table in _postgres_tables(connection):
                taken.rows[f"{schema}|{table}"] = _pg_keys(connection, schema, table)[1]
    finally:
        engine.dispose()
    return taken


def restore(home: Path, before: Snapshot) -> None:
    """Delete every row, table, schema and file the run added (foreign keys off: each new row
    is deleted by itself, in any order)."""
    if get_settings().is_sqlite:
        for path in sqlite_files(home):
            if path.resolve() not in before.files:
                continue
            db = sqlite3.connect(path, isolation_level=None)
            try:
                db.execute("PRAGMA foreign_keys = OFF")
                db.execute("BEGIN IMMEDIATE")
                # audit_events is append-only (its triggers): off for this transaction only.
                triggers = db.execute(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'"
                ).fetchall()
                for name, _ in triggers:
                    db.execute(f'DROP TRIGGER "{name}"')
                for table in _sqlite_tables(db):
                    kept = before.rows.get(f"{path.resolve()}|{table}")
                    if kept is None:
                        db.execute(f'DROP TABLE IF EXISTS "{table}"')
                        continue
                    key, now = _sqlite_keys(db, table)
                    where = " AND ".join(f'"{c}" IS ?' for c in key)
                    for row in now - kept:
                        db.execute(f'DELETE FROM "{table}" WHERE {where}', row)
                for _, sql in triggers:
                    db.execute(sql)
                db.execute("COMMIT")
            finally:
                db.close()
    else:
        engine = postgres_engine()
        try:
            with engine.begin() as connection:
                connection.execute(sa.text("SET LOCAL session_replication_role = replica"))
                for schema, table in _postgres_tables(connection):
                    kept = before.rows.get(f"{schema}|{table}")
                    if kept is None:
                        connection.execute(sa.text(f'DROP TABLE "{schema}"."{table}"'))
                        continue
                    pk, now = _pg_keys(connection, schema, table)
                    if not pk:
                        # No key (the rate-limit buckets): the rows that were not there, by ctid.
                        rows = connection.execute(
                            sa.text(f'SELECT ctid::text, * FROM "{schema}"."{table}"')
                        )
                        for ctid, *values in rows.all():
                            if tuple(map(str, values)) not in kept:
                                connection.execute(
                                    sa.text(
                                        f'DELETE FROM "{schema}"."{table}" WHERE ctid = CAST(:c AS tid)'
                                    ),
                                    {"c": ctid},
                                )
                        continue
                    where = " AND ".join(f'"{c}"::text = :k{i}' for i, c in enumerate(pk))
                    for key in now - kept:
                        connection.execute(
                            sa.text(f'DELETE FROM "{schema}"."{table}" WHERE {where}'),
                            {f"k{i}": v for i, v in enumerate(key)},
                        )
                schemas = set(sa.inspect(connection).get_schema_names())
                for schema in schemas - before.schemas:
                    connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        finally:
            engine.dispose()
    # A SQLite database's WAL, shared-memory and journal files come and go with its connections
    # (this process's included): deleting one under an open connection corrupts the database.
    kept = before.files | {
        path.with_name(path.name + suffix).resolve()
        for path in sqlite_files(home)
        for suffix in ("-wal", "-shm", "-journal")
    }
    for path in sorted(home.rglob("*"), reverse=True):
        if path.is_file() and path.resolve() not in kept:
            path.unlink(missing_ok=True)


# --- the twins, served from threads of this process ------------------------------------------


@dataclass
class Served:
    app: Any
    server: Any
    thread: threading.Thread
    url: str

    @property
    def state(self) -> Any:
        return self.app.state.sandbox


def serve(app: Any) -> Served:
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_level="critical", lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "a twin did not start"
        time.sleep(0.02)
    return Served(app, server, thread, f"http://127.0.0.1:{sock.getsockname()[1]}")


def stop(served: Served) -> None:
    served.server.should_exit = True
    served.thread.join(timeout=10)


async def network_fetch(url: str) -> httpx.Response:
    """The served Printful twin downloads a file as Printful does: over the network, from the
    server. Through the transport, since a client would log the URL in this process's log,
    which stands for Printful's, not FlashFusion's."""
    async with httpx.AsyncHTTPTransport() as transport:
        request = httpx.Request("GET", url, extensions={"timeout": httpx.Timeout(30).as_dict()})
        response = await transport.handle_async_request(request)
        await response.aread()
        return response


def file_url_tokens(printful: Any) -> dict[str, str]:
    """The token (and its signature alone) of every file URL FlashFusion sent the Printful twin:
    the library's files and the sync products' thumbnails."""
    urls = [row["url"] for store in printful.stores.values() for row in store.files.values()]
    urls += [
        product["sync_product"]["thumbnail"]
        for store in printful.stores.values()
        for product in store.products.values()
        if product["sync_product"].get("thumbnail")
    ]
    found: dict[str, str] = {}
    for n, url in enumerate(urls):
        token = parse_qs(urlsplit(url).query)["token"][0]
        found[f"file_url_token[{n}]"] = token
        found[f"file_url_signature[{n}]"] = token.split(".", 1)[1]
    return found


def record_issued(state: Any) -> list[dict[str, Any]]:
    """Every grant the Etsy twin issues from now on (refresh tokens die on use, so the twin
    forgets the rotated ones)."""
    issued: list[dict[str, Any]] = []
    original = state.issue_tokens

    def issue_tokens(*args: Any, **kwargs: Any) -> dict[str, Any]:
        grant: dict[str, Any] = original(*args, **kwargs)
        issued.append(grant)
        return grant

    state.issue_tokens = issue_tokens
    return issued


# --- the run ---------------------------------------------------------------------------------


class LogCapture(logging.Handler):
    """This process's log lines as written (the app's formatter: redaction and JSON)."""

    def __init__(self, formatter: logging.Formatter | None) -> None:
        super().__init__(logging.DEBUG)
        self.stream = io.StringIO()
        if formatter is not None:
            self.setFormatter(formatter)

    def emit(self, record: logging.LogRecord) -> None:
        self.stream.write(self.format(record) + "\n")


@dataclass
class Run:
    secrets: dict[str, str | bytes]
    dump: Dump
    files: dict[str, str]
    server_log: str
    own_log: str
    connections: dict[str, uuid.UUID]
    ciphertexts: dict[str, bytes]
    decrypted: dict[str, dict[str, str]]
    intents: dict[str, str]
    file_downloads: list[dict[str, Any]]
    refresh_calls: int
    webhooks_received: int
    workflows: list[tuple[str, str, bool]]
    step_outputs: int
    sqlite: bool

    @property
    def logs(self) -> dict[str, str]:
        return {"flashfusion serve": self.server_log, "this process": self.own_log}


def _query(sql: str, **params: Any) -> list[Any]:
    return query(get_settings().database_url, sql, **params)


async def _intent_states(organization_id: uuid.UUID) -> dict[str, str]:
    async with unit_of_work() as session:
        rows = await session.execute(
            sa.select(
                ChannelListing.platform,
                PublishIntent.state,
                PublishIntent.error_code,
                PublishIntent.error_message,
            )
            .join(ChannelListing, ChannelListing.id == PublishIntent.listing_id)
            .where(ChannelListing.organization_id == organization_id)
        )
        return {
            str(platform): str(state.value) + (f" {code}: {message}" if code else "")
            for platform, state, code, message in rows.all()
        }


async def _settle(organization_id: uuid.UUID, server: Process) -> dict[str, str]:
    """platform -> state of each publish intent of the workspace, once none is open."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while True:
        states = await _intent_states(organization_id)
        if states and not {s.split()[0] for s in states.values()} & {"queued", "running"}:
            return states
        if not server.alive() or time.monotonic() > deadline:
            raise AssertionError(f"intents did not settle: {states}\n{server.log()[-4000:]}")
        await asyncio.sleep(0.5)


@contextlib.contextmanager
def own_logs() -> Iterator[LogCapture]:
    """This process logging at DEBUG, in JSON, as the app configures it; captured."""
    settings = get_settings()
    monkeypatch = pytest.MonkeyPatch()
    saved_structlog = structlog.get_config()
    root = logging.getLogger()
    saved_handlers = root.handlers[:]
    monkeypatch.setattr(settings, "LOG_LEVEL", "DEBUG")
    monkeypatch.setattr(settings, "LOG_JSON", True)
    with logger_levels_restored():
        ff_logging.configure(settings)
        capture = LogCapture(root.handlers[0].formatter if root.handlers else None)
        root.handlers[:] = [capture]  # written here instead of to stderr
        try:
            yield capture
        finally:
            root.handlers[:] = saved_handlers
            structlog.configure(**saved_structlog)
            monkeypatch.undo()


async def _connect_etsy(
    api: httpx.AsyncClient, headers: dict[str, str], organization_id: uuid.UUID
) -> tuple[dict[str, Any], dict[str, str]]:
    """The OAuth flow as the creator's browser goes through it: FlashFusion's start, the twin's
    consent page (Allow), FlashFusion's callback. Returns the connection and the flow's
    secrets (state, code, PKCE verifier)."""
    started = await api.post(
        "/api/v1/connections/oauth/start",
        json={"organization_id": str(organization_id), "platform": "etsy"},
        headers=headers,
    )
    assert started.status_code == 200, started.text
    authorize_url = started.json()["authorize_url"]
    state = parse_qs(urlsplit(authorize_url).query)["state"][0]
    async with unit_of_work() as session:
        row = (
            await session.execute(
                sa.select(OAuthState).where(OAuthState.organization_id == organization_id)
            )
        ).scalar_one()
        assert row.encrypted_code_verifier
        verifier = encryption.decrypt(row.encrypted_code_verifier, aad=state_aad(row.id))
    async with httpx.AsyncClient() as browser:
        allow = httpx.URL(authorize_url).copy_add_param("auto_approve", "1")
        consent = await browser.get(allow, follow_redirects=False)
    assert consent.status_code == 302, consent.text
    callback = httpx.URL(consent.headers["location"])
    code = callback.params["code"]
    finished = await api.get(callback.path, params=dict(callback.params), headers=headers)
    assert finished.status_code == 200, finished.text
    return finished.json(), {"oauth_state": state, "oauth_code": code, "pkce_verifier": verifier}


@pytest.fixture(scope="module")
async def run(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Run]:
    settings = get_settings()
    home = settings.home
    logs_dir = tmp_path_factory.mktemp("secrets-logs")
    printify_token = "pfy-" + secrets.token_urlsafe(40)
    printful_token = "pfl-" + secrets.token_urlsafe(40)
    keystring = "etsykey" + secrets.token_hex(10)
    shared_secret = "etsysecret" + secrets.token_hex(12)
    webhook_key = secrets.token_bytes(24)
    webhook_secret = "whsec_" + base64.b64encode(webhook_key).decode()
    encryption_key = secrets.token_urlsafe(48)
    assert settings.SECRET_KEY is not None
    values: dict[str, str | bytes] = {
        "printify_token": printify_token,
        "printful_token": printful_token,
        "etsy_shared_secret": shared_secret,
        "etsy_x_api_key": f"{keystring}:{shared_secret}",
        "etsy_webhook_secret": webhook_secret,
        "etsy_webhook_key": webhook_key,
        "encryption_key": encryption_key,
        "master_secret": settings.SECRET_KEY.get_secret_value(),
        "kek": encryption.kek_for(encryption_key),
    }

    twins = {
        "printify": serve(printify_twin.create_app(tokens={printify_token}, deliver=http_deliver)),
        "printful": serve(
            printful_twin.create_app(
                tokens={printful_token}, deliver=http_deliver, fetch=network_fetch
            )
        ),
        "etsy": serve(
            etsy_twin.create_app(
                apps={keystring: shared_secret},
                webhook_secret=webhook_secret,
            )
        ),
    }
    etsy_state = twins["etsy"].state
    issued = record_issued(etsy_state)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLASHFUSION_TEST_")}
    env.update(
        {
            "FLASHFUSION_PRINTIFY_BASE_URL": twins["printify"].url,
            "FLASHFUSION_PRINTFUL_BASE_URL": twins["printful"].url,
            "FLASHFUSION_ETSY_BASE_URL": twins["etsy"].url,
            "FLASHFUSION_ETSY_OAUTH_URL": twins["etsy"].url + "/oauth/connect",
            "FLASHFUSION_ETSY_TOKEN_URL": twins["etsy"].url + "/v3/public/oauth/token",
            "FLASHFUSION_ETSY_KEYSTRING": keystring,
            "FLASHFUSION_ETSY_SHARED_SECRET": shared_secret,
            "FLASHFUSION_ETSY_WEBHOOK_SECRET": webhook_secret,
            "FLASHFUSION_ENCRYPTION_KEY": encryption_key,
            "FLASHFUSION_LOG_LEVEL": "DEBUG",
            "FLASHFUSION_LOG_JSON": "true",
            "FLASHFUSION_WORKER_ID": f"secrets-{uuid.uuid4().hex[:6]}",
            "PYTHONUNBUFFERED": "1",
        }
    )
    before = snapshot(home)
    monkeypatch = pytest.MonkeyPatch()
    server: Process | None = None
    try:
        # This process decrypts with the same key as the server (to check the ciphertexts).
        monkeypatch.setattr(settings, "ENCRYPTION_KEY", SecretStr(encryption_key))
        with own_logs() as own:
            async with unit_of_work() as session:
                tenant = await create_tenant(session, "Secrets")
                product = await publishable(session, tenant.organization, title="Secret tee")
                org = tenant.organization.id
            api_key = tenant.tokens[Role.owner]
            values["api_key"] = api_key
            headers = bearer(api_key)
            server, base_url = start_server(logs_dir, env, jobs=True)
            monkeypatch.setattr(settings, "BASE_URL", base_url)
            async with httpx.AsyncClient(base_url=base_url, timeout=60) as api:
                connections: dict[str, uuid.UUID] = {}
                tokens = {"printify": printify_token, "printful": printful_token}
                for platform in ("printify", "printful"):
                    response = await api.post(
                        "/api/v1/connections",
                        json={
                            "organization_id": str(org),
                            "platform": platform,
                            "credentials": {"access_token": tokens[platform]},
                        },
                        headers=headers,
                    )
                    assert response.status_code == 201, response.text
                    connections[platform] = uuid.UUID(response.json()["id"])
                etsy, flow = await _connect_etsy(api, headers, org)
                values.update(flow)
                connections["etsy"] = uuid.UUID(etsy["id"])
                # Etsy needs "who made it" before any listing (connector/settings.py).
                patched = await api.patch(
                    f"/api/v1/connections/{etsy['id']}/settings",
                    json={"listing_defaults": {"who_made": "i_did"}},
                    headers=headers,
                )
                assert patched.status_code == 200, patched.text
                assert patched.json()["missing"] == [], patched.text

                # The access token expires (the twin's and FlashFusion's knowledge of it): the
                # publish job refreshes it, and the twin rotates the refresh token.
                etsy_state.expire_access_tokens()
                async with unit_of_work() as session:
                    row = await session.get(PlatformConnection, connections["etsy"])
                    assert row is not None
                    row.token_expires_at = datetime.now(UTC) - timedelta(seconds=1)

                published = await api.post(
                    "/api/v1/publishing/publish",
                    json={
                        "product_ids": [str(product.id)],
                        "connection_ids": [str(c) for c in connections.values()],
                    },
                    headers=headers,
                )
                assert published.status_code == 202, published.text
                intents = await _settle(org, server)
            # Let the last webhook's job and the server's own writes finish, then stop it.
            await asyncio.sleep(1.0)
            server.stop()

            for n, grant in enumerate(issued):
                values[f"etsy_access_token[{n}]"] = grant["access_token"]
                values[f"etsy_refresh_token[{n}]"] = grant["refresh_token"]
            printful_state = twins["printful"].state
            values.update(file_url_tokens(printful_state))
            ciphertexts: dict[str, bytes] = {}
            decrypted: dict[str, dict[str, str]] = {}
            async with unit_of_work() as session:
                for platform, connection_id in connections.items():
                    row = await session.get(PlatformConnection, connection_id)
                    assert row is not None
                    ciphertexts[platform] = bytes(row.encrypted_credentials or b"")
                    decrypted[platform] = token_health.read_credentials(row)
                # Every secret stored encrypted (whatever column, whichever row) is a secret.
                for spec in ENCRYPTED_COLUMNS:
                    column = getattr(spec.model, spec.column)
                    found = await session.execute(
                        sa.select(spec.model.id, column).where(column.is_not(None))
                    )
                    for row_id, blob in found.all():
                        plain = encryption.decrypt(bytes(blob), aad=spec.aad(row_id))
                        with contextlib.suppress(ValueError):
                            parsed = json.loads(plain)
                            if isinstance(parsed, dict):
                                for key, value in parsed.items():
                                    if isinstance(value, str) and len(value) >= 12:
                                        values[f"{spec.label}[{row_id}].{key}"] = value
                                continue
                        values[f"{spec.label}[{row_id}]"] = plain
        dump = dump_database(home)
        dbos = "" if settings.is_sqlite else f"{DBOS_SCHEMA}."
        # A workflow's inputs are in workflow_status, or (DBOS 3) in workflow_input.
        workflows = [
            (str(name), str(status), bool(inputs or kept))
            for name, status, inputs, kept in _query(
                f"SELECT s.name, s.status, s.inputs, i.inputs FROM {dbos}workflow_status s "
                f"LEFT JOIN {dbos}workflow_input i ON i.workflow_uuid = s.workflow_uuid"
            )
        ]
        step_outputs = _query(
            f"SELECT count(*) FROM {dbos}operation_outputs WHERE output IS NOT NULL"
        )[0][0]
        webhooks = _query("SELECT count(*) FROM external_events WHERE platform = 'printify'")[0][0]
        yield Run(
            secrets=values,
            dump=dump,
            files=raw_files(home),
            server_log=server.log(),
            own_log=own.stream.getvalue(),
            connections=connections,
            ciphertexts=ciphertexts,
            decrypted=decrypted,
            intents=intents,
            file_downloads=list(printful_state.downloads),
            refresh_calls=etsy_state.refresh_calls,
            webhooks_received=int(webhooks),
            workflows=workflows,
            step_outputs=int(step_outputs),
            sqlite=settings.is_sqlite,
        )
    finally:
        if server is not None:
            server.stop()
        for served in twins.values():
            stop(served)
        monkeypatch.undo()
        restore(home, before)


# --- the checks ------------------------------------------------------------------------------


def test_the_run_stored_logged_and_ran_what_the_search_looks_for(run: Run) -> None:
    """Not vacuous: the secrets were really used and stored (encrypted), the jobs ran with
    their inputs and step outputs, the dump and the logs hold the run's rows and lines."""
    text = run.dump.text()
    assert run.dump.unreadable == []
    assert run.intents == {"etsy": "succeeded", "printify": "succeeded", "printful": "succeeded"}
    # Printful downloads print files by URL: the twin fetched the server's signed URL of the
    # print file (a PNG), and the URLs' tokens (print file, thumbnail) are searched for below.
    assert [(d["status_code"], d["outcome"]) for d in run.file_downloads] == [(200, "ok")]
    assert len([k for k in run.secrets if k.startswith("file_url_token[")]) == 2
    assert "/files/" in run.server_log  # the server's access log line of the download
    for platform, connection_id in run.connections.items():
        assert str(connection_id) in text or connection_id.hex in text, platform
        assert len(run.ciphertexts[platform]) > 100, platform
        assert run.ciphertexts[platform].hex() in text, platform
        assert f'"platform": "{platform}"' in run.server_log, platform
    assert run.decrypted["printify"] == {"access_token": run.secrets["printify_token"]}
    assert run.decrypted["printful"] == {"access_token": run.secrets["printful_token"]}
    # Etsy: the token the refresh issued, and its rotated refresh token, are the stored ones.
    assert run.refresh_calls >= 1
    last = max(
        int(k.split("[")[1].rstrip("]")) for k in run.secrets if k.startswith("etsy_access_token")
    )
    assert last >= 1
    assert run.decrypted["etsy"]["access_token"] == run.secrets[f"etsy_access_token[{last}]"]
    assert run.decrypted["etsy"]["refresh_token"] == run.secrets[f"etsy_refresh_token[{last}]"]
    # The jobs: DBOS workflows with inputs, and step outputs; the jobs table's rows.
    ran = {name for name, status, inputs in run.workflows if status == "SUCCESS" and inputs}
    assert {"publishing.run_intent", "publishing.run_handshake"} <= ran, run.workflows
    assert "webhooks.process_event" in ran, run.workflows
    assert run.step_outputs > 0
    assert run.dump.rows[next(t for t in run.dump.tables if t.endswith(".jobs"))] > 0
    assert run.webhooks_received >= 1
    # The DBOS tables and the shared rate-limit buckets were dumped too, with rows.
    dbos_tables = "flashfusion.db.workflow_status" if run.sqlite else "dbos.workflow_status"
    assert run.dump.rows[dbos_tables] >= 4
    limits = "ratelimit.sqlite." if run.sqlite else "flashfusion_ratelimit."
    assert sum(n for t, n in run.dump.rows.items() if t.startswith(limits)) > 0, run.dump.rows
    assert "/api/v1/connections/oauth/callback" in run.server_log
    assert run.files
    if run.sqlite:
        assert {Path(name).name for name in run.files} >= {"flashfusion.db", "ratelimit.sqlite"}
    # The webhook signing secrets the platforms returned were read from their ciphertexts.
    stored = [k for k in run.secrets if k.startswith("platform_connections.encrypted_webhook")]
    assert len(stored) == 2, stored


def test_no_secret_in_a_dump_of_every_table(run: Run) -> None:
    assert leaks(run.dump.tables, run.secrets) == {}


def test_no_secret_in_the_files_of_the_home(run: Run) -> None:
    """The raw bytes of every file (SQLite database files and their WAL, the rate-limit file,
    mail, media): nothing was written in plaintext even for a moment before being replaced."""
    assert leaks(run.files, run.secrets) == {}


def test_no_secret_in_the_logs(run: Run) -> None:
    assert leaks(run.logs, run.secrets) == {}


def test_no_secret_in_job_inputs_outputs_or_step_outputs(run: Run) -> None:
    jobs = {t: body for t, body in run.dump.tables.items() if t.rsplit(".", 1)[-1] in JOB_TABLES}
    filled = {t.rsplit(".", 1)[-1] for t, body in jobs.items() if body}
    assert {"jobs", "workflow_status", "workflow_input", "operation_outputs"} <= filled, filled
    assert leaks(jobs, run.secrets) == {}


# --- the scanner can fail ----------------------------------------------------------------------


async def test_the_scanner_finds_a_token_planted_in_a_row_a_log_line_and_a_job_input(
    tmp_path: Path,
) -> None:
    token = "planted-" + secrets.token_urlsafe(30)
    planted = {"planted_token": token}
    home = get_settings().home
    before = snapshot(home)
    try:
        async with unit_of_work() as session:
            tenant = await create_tenant(session, "Planted")
            tenant.organization.name = f"shop {token}"[:100]
        assert "planted_token (plain)" in find_secrets(dump_database(home).text(), planted)
    finally:
        restore(home, before)
    # A DBOS-style input (base64 of a pickle), in a longer text at any offset.
    for prefix in ("", "x", "xy"):
        job_input = prefix + base64.b64encode(pickle.dumps(((token,), {}))).decode()
        hits = find_secrets(f"inputs={job_input}", planted)
        assert any(hit.startswith("planted_token (base64") for hit in hits), (prefix, hits)
        assert "planted_token (plain)" in hits  # the base64 run decoded
    # A log line with the token URL-encoded in a query string, and hex.
    secret_with_reserved = token + "/+="
    assert find_secrets(
        f"GET /cb?code={quote(secret_with_reserved, safe='')}", {"t": secret_with_reserved}
    ) == ["t (urlencoded)"]
    assert find_secrets(token.encode().hex().upper(), planted) == ["planted_token (hex)"]
    with own_logs() as own:
        structlog.get_logger("tests.planted").warning("planted", note=f"?x={token}")
    assert find_secrets(own.stream.getvalue(), planted) == ["planted_token (plain)"]
    assert find_secrets("nothing here", planted) == []
