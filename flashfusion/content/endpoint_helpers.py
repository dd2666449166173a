"""What the listing-copy endpoints (`endpoints.py`) and the script endpoints
(`script_endpoints.py`) share: the target workspace of a generation, the errors it may answer,
and the paging and version range of a copy's history."""

import uuid
from collections.abc import Callable, Sequence
from typing import Annotated, TypeVar

from fastapi import Path
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.ai.service import BudgetExhausted, GenerationFailed
from flashfusion.auth.models import AuthSubject, Subject
from flashfusion.authz.permission import Permission
from flashfusion.content.brand_voice_service import accessible_workspace
from flashfusion.exceptions import NotPermitted, ResourceNotFound, UnprocessableEntity
from flashfusion.kit.pagination import ListResource, PaginationParams
from flashfusion.models import APIKey, ListingCopy, ListingCopyVersion, Product
from flashfusion.product.service import product as product_service

T = TypeVar("T")

# What a generation may answer besides the usual: the budget is spent, no provider can do the
# task with the workspace's keys, or every provider in the chain failed.
GENERATION_ERRORS = (
    ResourceNotFound,
    NotPermitted,
    UnprocessableEntity,
    BudgetExhausted,
    GenerationFailed,
)
VersionNumber = Annotated[int, Path(ge=1, le=1_000_000, description="Version number, from 1.")]


def org_of(auth_subject: AuthSubject[Subject], organization_id: uuid.UUID | None) -> uuid.UUID:
    """The workspace a request names, else the API key's own."""
    subject = auth_subject.subject
    assert isinstance(subject, APIKey)
    return organization_id or subject.organization_id


async def generation_target(
    session: AsyncSession,
    auth_subject: AuthSubject[Subject],
    product_id: uuid.UUID | None,
    organization_id: uuid.UUID | None,
    *,
    action: str,
) -> tuple[Product | None, uuid.UUID]:
    """The product to write for (if any) and its workspace, else the workspace named (or the
    key's own), which the subject must be allowed to write content in."""
    if product_id is not None:
        product = await product_service.get(session, auth_subject, product_id)
        return product, product.organization_id
    workspace = await accessible_workspace(
        session,
        auth_subject,
        org_of(auth_subject, organization_id),
        Permission.content_manage,
        action=action,
    )
    return None, workspace


def version_page(
    versions: Sequence[ListingCopyVersion],
    pagination: PaginationParams,
    body: Callable[[ListingCopyVersion], T],
) -> ListResource[T]:
    """One page of a copy's versions (newest first), each as `body` makes it."""
    start = (pagination.page - 1) * pagination.limit
    return ListResource.build(
        [body(v) for v in versions[start : start + pagination.limit]],
        len(versions),
        pagination,
    )


def diff_range(copy: ListingCopy, a: int | None, b: int | None) -> tuple[int, int]:
    """The versions to compare: b defaults to the newest, a to the one before b."""
    newer = b or copy.latest_version
    return a or max(1, newer - 1), newer
