"""Batches: listing copy for many ideas or products at once, as one durable job.

Items are checked up front (a bad row is a clear error naming its row, and nothing is queued);
the job keeps what succeeded when some items fail, and failed items can be retried alone.
"""

import builtins
import csv
import io
import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.audit.service import audit as audit_service
from flashfusion.auth.models import AuthSubject, Subject
from flashfusion.authz.permission import Permission
from flashfusion.authz.service import authz
from flashfusion.catalog.service import catalog as catalog_service
from flashfusion.content.repository import ContentBatchItemRepository, ContentBatchRepository
from flashfusion.content.service import content as content_service
from flashfusion.content.writer import InvalidContentRequest, check_idea
from flashfusion.exceptions import Conflict, ResourceNotFound
from flashfusion.jobs.enqueue import enqueue
from flashfusion.kit.pagination import PaginationParams
from flashfusion.models import BatchItemStatus, BatchStatus, ContentBatch, ContentBatchItem
from flashfusion.product.repository import ProductRepository
from flashfusion.studio.media import _creator_id

BATCH_JOB = "content.generate_batch"
MAX_BATCH_ITEMS = 1000


@dataclass(frozen=True)
class BatchItemInput:
    idea: str | None = None
    product_type: str | None = None
    product_id: uuid.UUID | None = None
    keywords: tuple[str, ...] = ()
    row: int | None = None  # the line of the CSV it came from, for error messages


def parse_csv(text: str) -> builtins.list[BatchItemInput]:
    """Rows of `idea,product_type[,keywords]` (a header row with those names is optional);
    keywords are separated by `;` or `|`. Errors name the row."""
    rows = list(csv.reader(io.StringIO(text)))
    if rows and [c.strip().lower() for c in rows[0][:2]] == ["idea", "product_type"]:
        rows = rows[1:]
        start = 2
    else:
        start = 1
    items = []
    for number, row in enumerate(rows, start=start):
        if not row or not any(cell.strip() for cell in row):
            continue
        if len(row) < 2 or not row[1].strip():
            raise InvalidContentRequest(
                f"row {number}: needs two columns, idea and product_type (e.g. 'Coffee first,mug')."
            )
        keywords = tuple(
            k.strip() for k in (row[2] if len(row) > 2 else "").replace("|", ";").split(";")
        )
        items.append(
            BatchItemInput(
                idea=row[0],
                product_type=row[1].strip(),
                keywords=tuple(k for k in keywords if k),
                row=number,
            )
        )
    if not items:
        raise InvalidContentRequest(
            "file: no rows; write one idea per line as 'idea,product_type' "
            "(e.g. 'Coffee first,mug')."
        )
    return items


class ContentBatchService:
    async def create(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        *,
        organization_id: uuid.UUID,
        items: builtins.list[BatchItemInput],
        platforms: builtins.list[str],
        languages: builtins.list[str],
        brand_voice_id: uuid.UUID | None,
    ) -> ContentBatch:
        await authz.require(
            session,
            auth_subject,
            organization_id,
            Permission.content_manage,
            action="content.batch_created",
        )
        if not items:
            raise InvalidContentRequest("items: give at least one idea or product.")
        if len(items) > MAX_BATCH_ITEMS:
            raise InvalidContentRequest(
                f"items: {len(items)} items; a batch takes at most {MAX_BATCH_ITEMS}, so split it."
            )
        targets = content_service.targets(platforms, languages)
        voice = await content_service.brand_voice(session, organization_id, brand_voice_id)
        catalog = await catalog_service.effective(session, organization_id)
        products = ProductRepository.from_session(session)
        rows: builtins.list[ContentBatchItem] = []
        for position, item in enumerate(items):
            # Rows of a CSV are named as the file numbers them, items of a request by index.
            field = f"row {item.row}: " if item.row else f"items[{position}]."
            if item.product_id is not None:
                product = await products.get_for_organizations(item.product_id, {organization_id})
                if product is None:
                    raise InvalidContentRequest(
                        f"{field}product_id: no such product in this workspace."
                    )
                idea = (
                    check_idea(item.idea)
                    if item.idea
                    else await content_service.product_idea(session, product)
                )
                product_type = product.product_type
            else:
                try:
                    idea = check_idea(item.idea or "")
                except InvalidContentRequest as e:
                    raise InvalidContentRequest(f"{field}{e.detail}") from None
                if not item.product_type:
                    raise InvalidContentRequest(
                        f"{field}product_type: say which product the idea goes on (e.g. 'mug')."
                    )
                product_type = catalog_service.product_type(
                    catalog, item.product_type, field=f"{field}product_type"
                ).key
            rows.append(
                ContentBatchItem(
                    organization_id=organization_id,
                    position=position,
                    idea=idea,
                    product_type=product_type,
                    product_id=item.product_id,
                    keywords=list(item.keywords)[:20],
                    status=BatchItemStatus.pending,
                )
            )
        batch = ContentBatch(
            id=uuid.uuid4(),
            organization_id=organization_id,
            status=BatchStatus.queued,
            platforms=sorted(
                {p.value for p, _ in targets}, key=[p.value for p, _ in targets].index
            ),
            languages=list(dict.fromkeys(code for _, code in targets)),
            brand_voice_id=voice.id if voice else None,
            total=len(rows),
            created_by_user_id=_creator_id(auth_subject),
        )
        session.add(batch)
        await session.flush()
        for row in rows:
            row.batch_id = batch.id
            session.add(row)
        await session.flush()
        job = await enqueue(
            session,
            BATCH_JOB,
            str(batch.id),
            organization_id=organization_id,
            summary=f"Listing copy for {len(rows)} items × {len(targets)} platform/language",
            created_by=auth_subject,
        )
        batch.job_id = job.id
        await audit_service.record(
            session,
            auth_subject,
            action="content.batch_created",
            organization_id=organization_id,
            target_type="content_batch",
            target_id=batch.id,
            details={
                "items": len(rows),
                "platforms": batch.platforms,
                "languages": batch.languages,
            },
        )
        return batch

    async def get(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        id: uuid.UUID,
        *,
        permission: Permission = Permission.content_read,
        action: str = "content.batch_read",
    ) -> ContentBatch:
        ids = await authz.get_accessible_org_ids(session, auth_subject)
        batch = await ContentBatchRepository.from_session(session).get_for_organizations(id, ids)
        if batch is None:
            raise ResourceNotFound("Batch")
        await authz.require(
            session,
            auth_subject,
            batch.organization_id,
            permission,
            action=action,
            target_type="content_batch",
            target_id=batch.id,
        )
        return batch

    async def list(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        *,
        organization_id: uuid.UUID | None,
        pagination: PaginationParams,
    ) -> tuple[builtins.list[ContentBatch], int]:
        readable = await authz.get_readable_org_ids(
            session,
            auth_subject,
            Permission.content_read,
            organization_id=organization_id,
            action="content.batch_list",
        )
        repository = ContentBatchRepository.from_session(session)
        return await repository.paginate(repository.ordered(readable), pagination)

    async def items(
        self, session: AsyncSession, batch: ContentBatch
    ) -> builtins.list[ContentBatchItem]:
        return await ContentBatchItemRepository.from_session(session).for_batch(batch.id)

    async def retry_failed(
        self, session: AsyncSession, auth_subject: AuthSubject[Subject], batch: ContentBatch
    ) -> ContentBatch:
        """Queue the failed items again (the succeeded ones are kept as they are)."""
        await authz.require(
            session,
            auth_subject,
            batch.organization_id,
            Permission.content_manage,
            action="content.batch_retried",
            target_type="content_batch",
            target_id=batch.id,
        )
        if batch.status in (BatchStatus.queued, BatchStatus.running):
            raise Conflict("The batch is still running; retry its failed items when it ends.")
        count = await ContentBatchItemRepository.from_session(session).reset_failed(batch.id)
        if count == 0:
            raise Conflict("The batch has no failed items to retry.")
        batch.failed = 0
        batch.done = batch.total - count
        batch.status = BatchStatus.queued
        batch.completed_at = None
        job = await enqueue(
            session,
            BATCH_JOB,
            str(batch.id),
            organization_id=batch.organization_id,
            summary=f"Retry {count} failed items of a listing-copy batch",
            created_by=auth_subject,
        )
        batch.job_id = job.id
        await audit_service.record(
            session,
            auth_subject,
            action="content.batch_retried",
            organization_id=batch.organization_id,
            target_type="content_batch",
            target_id=batch.id,
            details={"items": count},
        )
        return batch


content_batch = ContentBatchService()
