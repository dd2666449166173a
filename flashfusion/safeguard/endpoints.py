import builtins
import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from flashfusion.auth.models import AuthSubject, Subject
from flashfusion.db import AsyncSessionDep
from flashfusion.exceptions import (
    NotPermitted,
    ResourceNotFound,
    UnprocessableEntity,
    error_responses,
)
from flashfusion.kit.pagination import ListResource
from flashfusion.kit.routing import ObjectID, PaginationParamsDep
from flashfusion.models import APIKey, ScreenTrigger
from flashfusion.models import SafeguardOverride as SafeguardOverrideModel
from flashfusion.models import SafeguardReport as SafeguardReportModel
from flashfusion.models import SafeguardSettings as SafeguardSettingsModel
from flashfusion.safeguard import checks
from flashfusion.safeguard.auth import SafeguardsRead, SafeguardsWrite
from flashfusion.safeguard.pipeline import ScreenResult as ScreenResultData
from flashfusion.safeguard.schemas import (
    Finding,
    SafeguardReport,
    SafeguardReportLatest,
    SafeguardSettings,
    SafeguardSettingsUpdate,
    ScreenRequest,
    ScreenResult,
)
from flashfusion.safeguard.service import safeguard as safeguard_service
from flashfusion.safeguard.types import Verdict

router = APIRouter(tags=["safeguards"])


def _org(auth_subject: AuthSubject[Subject], organization_id: uuid.UUID | None) -> uuid.UUID:
    subject = auth_subject.subject
    assert isinstance(subject, APIKey)
    return organization_id or subject.organization_id


def _report(
    report: SafeguardReportModel, override: SafeguardOverrideModel | None
) -> SafeguardReport:
    return SafeguardReport.model_validate(
        {
            **{c: getattr(report, c) for c in SafeguardReport.model_fields if c != "override"},
            "override": override,
        }
    )


def _result(result: ScreenResultData) -> ScreenResult:
    return ScreenResult(
        verdict=result.verdict.value,
        findings=[Finding.model_validate(f.as_dict()) for f in result.findings],
        counts=result.counts,
        quality_score=result.quality_score,
        checks=result.checks,
    )


def _settings(row: SafeguardSettingsModel) -> SafeguardSettings:
    return SafeguardSettings(
        organization_id=row.organization_id,
        trademark_thresholds=dict(row.trademark_thresholds),
        effective_trademark_thresholds={
            **checks.threshold_fields(),
            **row.trademark_thresholds,
        },
        quality_warn_below=row.quality_warn_below,
        plagiarism_threshold=row.plagiarism_threshold,
        pause_on_new_mark=row.pause_on_new_mark,
        block_on_warn=row.block_on_warn,
        modified_at=row.modified_at or row.created_at,
    )


@router.post(
    "/safeguards/screen",
    response_model=ScreenResult,
    responses=error_responses(ResourceNotFound, NotPermitted, UnprocessableEntity),
)
async def screen(
    body: ScreenRequest, auth_subject: SafeguardsRead, session: AsyncSessionDep
) -> ScreenResult:
    """Screen a text on a product type with every check (nothing is stored)."""
    result = await safeguard_service.screen_text(
        session,
        auth_subject,
        organization_id=_org(auth_subject, body.organization_id),
        text=body.text,
        product_type=body.product_type,
        platforms=builtins.list(body.platforms),
    )
    return _result(result)


@router.post(
    "/products/{id}/safeguard-reports",
    response_model=SafeguardReport,
    status_code=201,
    responses=error_responses(ResourceNotFound, NotPermitted, UnprocessableEntity),
)
async def screen_product(
    id: ObjectID, auth_subject: SafeguardsWrite, session: AsyncSessionDep
) -> SafeguardReport:
    """Screen the product as it is now and keep the report."""
    report = await safeguard_service.screen_product(
        session, auth_subject, id, trigger=ScreenTrigger.api.value
    )
    return _report(report, None)


@router.get(
    "/products/{id}/safeguard-reports/latest",
    response_model=SafeguardReportLatest,
    responses=error_responses(ResourceNotFound, NotPermitted),
)
async def get_latest(
    id: ObjectID, auth_subject: SafeguardsRead, session: AsyncSessionDep
) -> SafeguardReportLatest:
    """The product's newest report: whether it is current, its override, hold, publishability."""
    status = await safeguard_service.status(session, auth_subject, id)
    if status is None:
        raise ResourceNotFound("Safeguard report")
    return SafeguardReportLatest.model_validate(
        {
            **_report(status.report, status.override).model_dump(),
            "current": status.current,
            "hold": status.hold,
            "publishable": status.publishable,
        }
    )


@router.get(
    "/safeguard-reports",
    response_model=ListResource[SafeguardReport],
    responses=error_responses(ResourceNotFound, NotPermitted),
)
async def list(
    auth_subject: SafeguardsRead,
    pagination: PaginationParamsDep,
    session: AsyncSessionDep,
    organization_id: Annotated[uuid.UUID | None, Query(description="Only this workspace.")] = None,
    product_id: Annotated[uuid.UUID | None, Query(description="Only this product's.")] = None,
    verdict: Annotated[Verdict | None, Query(description="Only this verdict.")] = None,
    trigger: Annotated[
        ScreenTrigger | None, Query(description="Only screens for this reason.")
    ] = None,
) -> ListResource[SafeguardReport]:
    """Safeguard reports, newest first (the safeguard audit log)."""
    reports, count = await safeguard_service.list_reports(
        session,
        auth_subject,
        organization_id=organization_id,
        product_id=product_id,
        verdict=verdict,
        trigger=trigger.value if trigger else None,
        pagination=pagination,
    )
    overrides = await safeguard_service.overrides_for(session, reports)
    return ListResource.build([_report(r, overrides.get(r.id)) for r in reports], count, pagination)


@router.get(
    "/safeguard-reports/{id}",
    response_model=SafeguardReport,
    responses=error_responses(ResourceNotFound, NotPermitted),
)
async def get(id: ObjectID, auth_subject: SafeguardsRead, session: AsyncSessionDep) -> object:
    """Get one safeguard report with its override."""
    report = await safeguard_service.get_report(session, auth_subject, id)
    overrides = await safeguard_service.overrides_for(session, [report])
    return _report(report, overrides.get(report.id))


@router.get(
    "/organizations/{id}/safeguard-settings",
    response_model=SafeguardSettings,
    responses=error_responses(ResourceNotFound, NotPermitted),
)
async def get_settings(
    id: ObjectID, auth_subject: SafeguardsRead, session: AsyncSessionDep
) -> SafeguardSettings:
    """The workspace's screening thresholds and what a newly imported mark does."""
    row = await safeguard_service.get_settings(session, auth_subject, id)
    return _settings(row)


@router.patch(
    "/organizations/{id}/safeguard-settings",
    response_model=SafeguardSettings,
    responses=error_responses(ResourceNotFound, NotPermitted, UnprocessableEntity),
)
async def update_settings(
    id: ObjectID,
    body: SafeguardSettingsUpdate,
    auth_subject: SafeguardsWrite,
    session: AsyncSessionDep,
) -> SafeguardSettings:
    """Change the workspace's thresholds (admins and owners); fields left out stay."""
    row = await safeguard_service.update_settings(
        session, auth_subject, id, body.model_dump(exclude_unset=True)
    )
    return _settings(row)
