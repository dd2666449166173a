"""Server-rendered web UI (Jinja2 + HTMX + Alpine CSP build)."""

from fastapi import APIRouter, Depends

from flashfusion.web import (
    views_account,
    views_auth,
    views_connections,
    views_content,
    views_orders,
    views_org,
    views_publishing,
    views_safeguard,
    views_studio,
)
from flashfusion.web.security import verify_csrf

# Every state-changing browser request carries a CSRF token; GET never changes state.
router = APIRouter(dependencies=[Depends(verify_csrf)], include_in_schema=False)
router.include_router(views_auth.router)
router.include_router(views_account.router)
router.include_router(views_org.router)
router.include_router(views_studio.router)
router.include_router(views_content.router)
router.include_router(views_safeguard.router)
router.include_router(views_connections.router)
router.include_router(views_publishing.router)
router.include_router(views_orders.router)
