"""The ASGI application: web UI, public API, health, metrics, and the in-process job executor."""

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlencode

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from starlette.exceptions import HTTPException as StarletteHTTPException

from flashfusion import __version__
from flashfusion.api import router as api_router
from flashfusion.config import Settings, get_settings
from flashfusion.db import dispose_engines, unit_of_work
from flashfusion.exceptions import AppError
from flashfusion.external_event.endpoints import router as webhook_router
from flashfusion.jobs import engine as job_engine
from flashfusion.jobs import janitor
from flashfusion.kit.routing import operation_id, warm_routes
from flashfusion.middleware import RequestContextMiddleware, SecurityHeadersMiddleware
from flashfusion.public_file.endpoints import router as public_file_router
from flashfusion.sandbox import runtime as sandbox_runtime
from flashfusion.web import router as web_router
from flashfusion.web.errors import LoginRequired, is_web_request, render_web_error
from flashfusion.web.security import CSRFError, flash

log = structlog.get_logger(__name__)
STATIC = Path(__file__).parent / "web" / "static"

API_DESCRIPTION = """
The FlashFusion API. Authenticate with an organization API key:
`Authorization: Bearer ffk_…` (create one in the web app under **API keys**).

A key can do what its **scopes** allow, within the **role** of the member who created it.
Errors have one shape: `{"error": "<Type>", "detail": "<what went wrong and what to do>"}`.
"""


def _format_location(loc: tuple[object, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body",)]
    return ".".join(parts) or "body"


def install_exception_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def app_error(request: Request, exc: AppError) -> Response:
        if is_web_request(request):
            # A refused forgery is answered 403 in place, not redirected back like a form error.
            return render_web_error(
                request,
                exc.status_code,
                exc.detail,
                exc.headers,
                redirect_back=not isinstance(exc, CSRFError),
            )
        return JSONResponse(exc.body(), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        target = "/login"
        if request.method == "GET":
            target += "?" + urlencode(
                {"next": request.url.path + (f"?{request.url.query}" if request.url.query else "")}
            )
        if request.headers.get("hx-request"):
            return Response(status_code=401, headers={"HX-Redirect": target})
        response = RedirectResponse(target, status_code=303)
        flash(response, "info", "Sign in to continue (your session may have timed out).")
        return response

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        detail = "; ".join(f"{_format_location(tuple(e['loc']))}: {e['msg']}" for e in errors)
        if is_web_request(request):
            return render_web_error(request, 422, f"Check the form: {detail}")
        return JSONResponse(
            {"error": "RequestValidationError", "detail": detail, "errors": errors},
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else "Request failed."
        if exc.status_code == 404:
            detail = "Not found."
        if exc.status_code == 405:
            detail = "Method not allowed on this URL."
        if is_web_request(request):
            return render_web_error(request, exc.status_code, detail, exc.headers)
        return JSONResponse(
            {
                "error": type(exc).__name__ if exc.status_code >= 500 else "HTTPError",
                "detail": detail,
            },
            status_code=exc.status_code,
            headers=exc.headers,
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled_error")
        detail = (
            "Something went wrong on our side. Try again; if it keeps happening, send us the "
            "request id."
        )
        if is_web_request(request):
            return render_web_error(request, 500, detail)
        return JSONResponse({"error": "InternalServerError", "detail": detail}, status_code=500)


def create_app(settings: Settings | None = None, *, run_jobs: bool | None = None) -> FastAPI:
    settings = settings or get_settings()
    settings.secret_key()  # fail fast, with instructions, when the secret is missing
    run_executor = settings.JOBS_ENABLED if run_jobs is None else run_jobs

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        background: asyncio.Task[None] | None = None
        if run_executor:
            await janitor.register("serve")
            await asyncio.to_thread(job_engine.launch, settings)
            background = asyncio.create_task(janitor.run_forever("serve"))
        app.state.jobs_running = run_executor
        # Sandbox-mode connections use twins inside this process; their webhooks come back to
        # this app the same way, with no network in between.
        sandbox_runtime.set_webhook_target(app)
        warm_routes(app)
        # Routes, schemas, mappers and modules live as long as the process: freezing them keeps
        # them out of every full garbage collection, which otherwise scans them all and stalls
        # the loop for tens of milliseconds (docs/benchmarks.md).
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            if background is not None:
                background.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await background
            if run_executor:
                await asyncio.to_thread(job_engine.shutdown)
            await dispose_engines()

    app = FastAPI(
        title="FlashFusion API",
        version=__version__,
        description=API_DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        generate_unique_id_function=operation_id,
    )
    app.add_middleware(SecurityHeadersMiddleware, settings=settings)
    app.add_middleware(RequestContextMiddleware, settings=settings)
    install_exception_handlers(app)

    app.include_router(api_router)
    # Inbound platform webhooks: signed, not session-authenticated, so outside the web router
    # (which checks CSRF) and outside /api/v1.
    app.include_router(webhook_router)
    # Signed render-file URLs platforms download print files from (Printful): no session.
    app.include_router(public_file_router)
    app.include_router(web_router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    # Sandbox mode: the in-process Etsy twin's OAuth consent page, which the browser must reach
    # (the twin's API itself is reached in-process, not through this mount).
    app.mount("/sandbox/etsy", sandbox_runtime.lazy_app("etsy"), name="sandbox-etsy")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        # Swagger UI is vendored and initialised from a static script: no CDN, no inline JS.
        return HTMLResponse(
            """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>FlashFusion API</title>
<link rel="stylesheet" href="/static/vendor/swagger-ui/swagger-ui.css">
<link rel="icon" href="/static/favicon.svg"></head>
<body><div id="swagger-ui"></div>
<script src="/static/vendor/swagger-ui/swagger-ui-bundle.js"></script>
<script src="/static/js/swagger-init.js"></script></body></html>"""
        )

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok", "version": __version__}

    @app.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> JSONResponse:
        """The database answers and the job engine is usable."""
        checks: dict[str, str] = {}
        ok = True
        try:
            async with unit_of_work() as session:
                await session.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as e:  # noqa: BLE001 - report, don't crash
            checks["database"] = f"error: {type(e).__name__}"
            ok = False
        if getattr(request.app.state, "jobs_running", False):
            checks["jobs"] = "ok" if job_engine.is_launched() else "error: executor not running"
            ok = ok and job_engine.is_launched()
        else:
            checks["jobs"] = "disabled in this process (run `flashfusion worker`)"
        return JSONResponse(
            {"status": "ok" if ok else "unavailable", "checks": checks},
            status_code=200 if ok else 503,
        )

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> PlainTextResponse:
        return PlainTextResponse(generate_latest().decode(), media_type=CONTENT_TYPE_LATEST)

    return app
