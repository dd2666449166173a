import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query

from flashfusion.ai.auth import AIRead, AIWrite
from flashfusion.ai.schemas import (
    AICosts,
    AICredentialSet,
    AICredentialStatus,
    AISettingsUpdate,
)
from flashfusion.ai.schemas import AIGeneration as AIGenerationSchema
from flashfusion.ai.schemas import AISettings as AISettingsSchema
from flashfusion.ai.service import policy_of
from flashfusion.ai.settings_service import ai_settings as ai_settings_service
from flashfusion.ai.settings_service import effective_chains
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
from flashfusion.models import AISettings, APIKey

router = APIRouter(prefix="/ai", tags=["ai"])

WorkspaceQuery = Annotated[
    uuid.UUID | None, Query(description="Workspace; defaults to the API key's.")
]
ProviderPath = Annotated[
    str,
    Path(
        max_length=32,
        description="Provider: openai, anthropic, gemini, xai, perplexity or local.",
    ),
]


def _org(auth_subject: AuthSubject[Subject], organization_id: uuid.UUID | None) -> uuid.UUID:
    subject = auth_subject.subject
    assert isinstance(subject, APIKey)
    return organization_id or subject.organization_id


def _settings(settings: AISettings) -> AISettingsSchema:
    return AISettingsSchema(
        organization_id=settings.organization_id,
        chains=settings.chains or {},
        effective_chains=effective_chains(settings),
        models=settings.models or {},
        plan_tier=settings.plan_tier,
        monthly_cap_microusd=settings.monthly_cap_microusd,
        cap_microusd=policy_of(settings).cap_microusd,
        soft_warning_percent=settings.soft_warning_percent,
        hard_stop=settings.hard_stop,
        offline_fallback=settings.offline_fallback,
        cache_ttl_seconds=settings.cache_ttl_seconds,
        modified_at=settings.modified_at or settings.created_at,
    )


@router.get(
    "/settings",
    response_model=AISettingsSchema,
    responses=error_responses(ResourceNotFound, NotPermitted),
)
async def get_settings(
    auth_subject: AIRead, session: AsyncSessionDep, organization_id: WorkspaceQuery = None
) -> AISettingsSchema:
    """The workspace's AI settings: provider chains, models, budget and cache."""
    settings = await ai_settings_service.get(
        session, auth_subject, _org(auth_subject, organization_id)
    )
    return _settings(settings)


@router.patch(
    "/settings",
    response_model=AISettingsSchema,
    responses=error_responses(ResourceNotFound, NotPermitted, UnprocessableEntity),
)
async def update_settings(
    body: AISettingsUpdate,
    auth_subject: AIWrite,
    session: AsyncSessionDep,
    organization_id: WorkspaceQuery = None,
) -> AISettingsSchema:
    """Change the workspace's AI settings (admins and owners); fields left out stay."""
    settings = await ai_settings_service.update(
        session, auth_subject, _org(auth_subject, organization_id), body
    )
    return _settings(settings)


@router.get(
    "/credentials",
    response_model=list[AICredentialStatus],
    responses=error_responses(ResourceNotFound, NotPermitted),
)
async def list_credentials(
    auth_subject: AIRead, session: AsyncSessionDep, organization_id: WorkspaceQuery = None
) -> object:
    """Every AI provider and where its key comes from (never the key)."""
    return await ai_settings_service.credentials(
        session, auth_subject, _org(auth_subject, organization_id)
    )


@router.put(
    "/credentials/{provider}",
    response_model=AICredentialStatus,
    responses=error_responses(ResourceNotFound, NotPermitted, UnprocessableEntity),
)
async def set_credential(
    provider: ProviderPath,
    body: AICredentialSet,
    auth_subject: AIWrite,
    session: AsyncSessionDep,
    organization_id: WorkspaceQuery = None,
) -> object:
    """Store the workspace's own key (and base URL) for a provider, encrypted (admins, owners)."""
    return await ai_settings_service.set_credential(
        session,
        auth_subject,
        _org(auth_subject, organization_id),
        provider,
        body.api_key,
        body.base_url,
    )


@router.delete(
    "/credentials/{provider}",
    response_model=AICredentialStatus,
    responses=error_responses(ResourceNotFound, NotPermitted, UnprocessableEntity),
)
async def delete_credential(
    provider: ProviderPath,
    auth_subject: AIWrite,
    session: AsyncSessionDep,
    organization_id: WorkspaceQuery = None,
) -> object:
    """Delete the workspace's key for a provider; the answer says which key applies now."""
    return await ai_settings_service.delete_credential(
        session, auth_subject, _org(auth_subject, organization_id), provider
    )


@router.get(
    "/generations",
    response_model=ListResource[AIGenerationSchema],
    responses=error_responses(ResourceNotFound, NotPermitted),
)
async def list_generations(
    auth_subject: AIRead,
    pagination: PaginationParamsDep,
    session: AsyncSessionDep,
    organization_id: Annotated[uuid.UUID | None, Query(description="Only this workspace.")] = None,
    task: Annotated[str | None, Query(max_length=32, description="Only this task type.")] = None,
    provider: Annotated[str | None, Query(max_length=32, description="Only this provider.")] = None,
    product_id: Annotated[uuid.UUID | None, Query(description="Only this product's.")] = None,
) -> ListResource[AIGenerationSchema]:
    """The AI cost ledger: every generation, newest first."""
    results, count = await ai_settings_service.generations(
        session,
        auth_subject,
        organization_id=organization_id,
        task=task,
        provider=provider,
        product_id=product_id,
        pagination=pagination,
    )
    return ListResource.build(
        [AIGenerationSchema.model_validate(r) for r in results], count, pagination
    )


@router.get(
    "/generations/{id}",
    response_model=AIGenerationSchema,
    responses=error_responses(ResourceNotFound, NotPermitted),
)
async def get_generation(id: ObjectID, auth_subject: AIRead, session: AsyncSessionDep) -> object:
    """One generation of the ledger with every attempt and its cost."""
    return await ai_settings_service.generation(session, auth_subject, id)


@router.get(
    "/costs",
    response_model=AICosts,
    responses=error_responses(ResourceNotFound, NotPermitted),
)
async def costs(
    auth_subject: AIRead,
    session: AsyncSessionDep,
    organization_id: WorkspaceQuery = None,
    since: Annotated[
        datetime | None, Query(description="From this time (default: start of the month, UTC).")
    ] = None,
) -> object:
    """AI spend by provider, task, product and listing; the month's budget; cache hit rate."""
    return await ai_settings_service.costs(
        session, auth_subject, _org(auth_subject, organization_id), since
    )
