"""The public API: every `/api/v1` router, in one place."""

from fastapi import APIRouter

from flashfusion.ai.endpoints import router as ai_router
from flashfusion.api_key.endpoints import router as api_key_router
from flashfusion.audit.endpoints import router as audit_router
from flashfusion.auth.endpoints import router as auth_router
from flashfusion.catalog.endpoints import router as catalog_router
from flashfusion.connector.endpoints import router as connections_router
from flashfusion.content.endpoints import router as content_router
from flashfusion.exceptions import api_error_responses
from flashfusion.invitation.endpoints import router as invitation_router
from flashfusion.jobs.endpoints import router as jobs_router
from flashfusion.member.endpoints import router as member_router
from flashfusion.order.endpoints import router as order_router
from flashfusion.organization.endpoints import router as organization_router
from flashfusion.product.endpoints import router as product_router
from flashfusion.publishing.endpoints import router as publishing_router
from flashfusion.safeguard.endpoints import router as safeguard_router
from flashfusion.studio.endpoints import router as studio_router

# Every route documents the errors of authentication and validation, which happen before it.
router = APIRouter(prefix="/api/v1", responses=api_error_responses())
router.include_router(auth_router)
router.include_router(organization_router)
router.include_router(member_router)
router.include_router(invitation_router)
router.include_router(api_key_router)
router.include_router(audit_router)
router.include_router(jobs_router)
router.include_router(catalog_router)
router.include_router(studio_router)
router.include_router(product_router)
router.include_router(content_router)
router.include_router(ai_router)
router.include_router(safeguard_router)
router.include_router(connections_router)
router.include_router(publishing_router)
router.include_router(order_router)
