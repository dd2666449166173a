"""The baseline of benchmarks/api_overhead.py: the member list's data SQL behind a bare FastAPI app.

    FLASHFUSION_HOME=… FLASHFUSION_DATABASE_URL=… python benchmarks/bare_app.py \
        --port 8001 --organization-id UUID

No middleware, no authentication, no tenancy lookup (the organization id is fixed at start-up),
no exception handlers. Each request runs, in one transaction, the two statements that
GET /api/v1/members runs for its data: the count and the page of members joined with users, built
by `MemberRepository.statement_with_users` and wrapped as `Repository.paginate` wraps them, so the
SQL text is identical. The engine comes from `flashfusion.db.create_engine` (same pool size,
pre-ping, SQLite pragmas and BEGIN IMMEDIATE) and uvicorn runs with the arguments and logging
setup of `flashfusion serve`.

Two routes:

- GET /members: rows (SQLAlchemy Core) -> dicts -> JSON. The floor: HTTP + the data SQL + JSON.
- GET /members-orm: the ORM session, `Repository.paginate`, the API's Pydantic schemas and
  `response_model` -- the real endpoint minus authentication and middleware. It only serves to
  split the overhead into "ORM + schemas" and "auth + middleware".

Both return the same JSON body as the real endpoint.
"""

import argparse
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import cast

import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from flashfusion.config import get_settings
from flashfusion.db import READ_ONLY_OPTION, create_engine
from flashfusion.kit.pagination import ListResource
from flashfusion.kit.routing import PaginationParamsDep
from flashfusion.logging import configure
from flashfusion.member.repository import MemberRepository
from flashfusion.member.schemas import Member as MemberSchema


def _iso(value: datetime | None) -> str | None:
    # Pydantic's rendering of an aware UTC datetime, so both servers send the same bytes.
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def create_app(organization_id: uuid.UUID) -> FastAPI:
    engine: AsyncEngine | None = None
    sessionmaker: async_sessionmaker[AsyncSession] | None = None
    organization_ids = {organization_id}

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        nonlocal engine, sessionmaker
        # Read-only like the real app's GET requests (a deferred transaction on SQLite).
        engine = create_engine().execution_options(**{READ_ONLY_OPTION: True})
        sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
        yield
        await engine.dispose()

    app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/members")
    async def list_members(pagination: PaginationParamsDep) -> JSONResponse:
        """The data SQL of the member list, on a plain connection, rendered by hand."""
        assert engine is not None
        # Only builds statements; the repository never touches its (absent) session here.
        statement = MemberRepository(cast(AsyncSession, None)).statement_with_users(
            organization_ids
        )
        count_statement = select(func.count()).select_from(statement.order_by(None).subquery())
        offset = (pagination.page - 1) * pagination.limit
        page_statement = statement.limit(pagination.limit).offset(offset)
        async with engine.begin() as connection:
            # Same order and shortcut as Repository.paginate: page first, count only when the
            # page is full (or empty beyond the first).
            rows = (await connection.execute(page_statement)).all()
            if 0 < len(rows) < pagination.limit or (offset == 0 and not rows):
                total = offset + len(rows)
            else:
                total = (await connection.execute(count_statement)).scalar_one()
        # The labels SQLAlchemy gives this join (users' id and email come first, so the
        # members' id is labelled id_1). api_overhead.py checks the body against the real one.
        items = [
            {
                "id": str(m["id_1"]),
                "created_at": _iso(m["created_at"]),
                "modified_at": _iso(m["modified_at"]),
                "organization_id": str(m["organization_id"]),
                "role": str(m["role"]),
                "user": {"id": str(m["id"]), "email": m["email"]},
            }
            for m in (row._mapping for row in rows)
        ]
        max_page = max(1, -(-total // pagination.limit))
        return JSONResponse(
            {"items": items, "pagination": {"total_count": total, "max_page": max_page}}
        )

    @app.get("/members-orm", response_model=ListResource[MemberSchema])
    async def list_members_orm(pagination: PaginationParamsDep) -> ListResource[MemberSchema]:
        """The same SQL through the ORM and the API's schemas, without auth or middleware."""
        assert sessionmaker is not None
        async with sessionmaker() as session, session.begin():
            repository = MemberRepository.from_session(session)
            results, count = await repository.paginate(
                repository.statement_with_users(organization_ids), pagination
            )
        return ListResource.build(
            [MemberSchema.model_validate(r) for r in results], count, pagination
        )

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description="Baseline server for api_overhead.py.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--organization-id", type=uuid.UUID, required=True)
    args = parser.parse_args()
    configure(get_settings())
    # The same uvicorn.run arguments as `flashfusion serve`.
    uvicorn.run(
        create_app(args.organization_id),
        host=args.host,
        port=args.port,
        workers=1,
        log_config=None,
        proxy_headers=False,
        server_header=False,
    )


if __name__ == "__main__":
    main()
