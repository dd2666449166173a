"""Reading an organization's audit log and exporting it as CSV (a background job)."""

import builtins
import csv
import io
import json
import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import undefer

from flashfusion.audit.repository import AuditEventRepository, AuditExportRepository, AuditFilters
from flashfusion.audit.service import audit as audit_service
from flashfusion.auth.models import AuthSubject, Subject
from flashfusion.authz.permission import Permission
from flashfusion.authz.service import authz
from flashfusion.exceptions import Conflict, ResourceNotFound
from flashfusion.jobs.enqueue import enqueue
from flashfusion.kit.pagination import PaginationParams
from flashfusion.models import AuditEvent, AuditExport, ExportStatus, User

CSV_COLUMNS = [
    "created_at",
    "action",
    "outcome",
    "actor_type",
    "actor_label",
    "actor_id",
    "target_type",
    "target_id",
    "ip",
    "user_agent",
    "request_id",
    "details",
]


def parse_filters(filters: dict[str, str]) -> AuditFilters:
    return AuditFilters(
        action=filters.get("action"),
        actor=filters.get("actor"),
        outcome=filters.get("outcome"),
        since=datetime.fromisoformat(filters["since"]) if filters.get("since") else None,
        until=datetime.fromisoformat(filters["until"]) if filters.get("until") else None,
    )


def csv_safe(value: object) -> str:
    """Neutralise spreadsheet formulas (CSV injection): prefix risky leading characters."""
    text = "" if value is None else str(value)
    if text and text[0] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def event_row(event: AuditEvent) -> list[str]:
    return [
        csv_safe(event.created_at.isoformat()),
        csv_safe(event.action),
        csv_safe(event.outcome),
        csv_safe(event.actor_type),
        csv_safe(event.actor_label),
        csv_safe(event.actor_id),
        csv_safe(event.target_type),
        csv_safe(event.target_id),
        csv_safe(event.ip),
        csv_safe(event.user_agent),
        csv_safe(event.request_id),
        csv_safe(json.dumps(event.details, sort_keys=True, default=str)),
    ]


class AuditLogService:
    async def list(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        *,
        organization_id: uuid.UUID | None,
        filters: AuditFilters,
        pagination: PaginationParams,
    ) -> tuple[builtins.list[AuditEvent], int]:
        ids = await authz.get_readable_org_ids(
            session,
            auth_subject,
            Permission.audit_read,
            organization_id=organization_id,
            action="audit.read",
        )
        repository = AuditEventRepository.from_session(session)
        return await repository.paginate(
            repository.statement_for_organizations(ids, filters), pagination
        )

    async def list_for_user(
        self, session: AsyncSession, user: User, pagination: PaginationParams
    ) -> tuple[builtins.list[AuditEvent], int]:
        """The account's own security events (sign-ins, 2FA, password), for its owner."""
        repository = AuditEventRepository.from_session(session)
        return await repository.paginate(repository.statement_for_user(user.id), pagination)

    async def create_export(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        *,
        organization_id: uuid.UUID,
        filters: AuditFilters,
    ) -> AuditExport:
        await authz.get_readable_org_ids(
            session,
            auth_subject,
            Permission.audit_read,
            organization_id=organization_id,
            action="audit.exported",
        )
        repository = AuditExportRepository.from_session(session)
        export = AuditExport(
            id=uuid.uuid4(),
            organization_id=organization_id,
            filters=filters.as_dict(),
            status=ExportStatus.pending,
            rows_written=0,
        )
        subject = auth_subject.subject
        if isinstance(subject, User):
            export.requested_by_user_id = subject.id
        else:
            export.requested_by_api_key_id = getattr(subject, "id", None)
        await repository.create(export)
        await enqueue(
            session,
            "audit.export",
            str(export.id),
            organization_id=organization_id,
            summary="Audit log CSV export",
            created_by=auth_subject,
        )
        await audit_service.record(
            session,
            auth_subject,
            action="audit.exported",
            organization_id=organization_id,
            target_type="audit_export",
            target_id=export.id,
            details={"filters": export.filters},
        )
        return export

    async def get_export(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        id: uuid.UUID,
        *,
        with_content: bool = False,
    ) -> AuditExport:
        ids = set(await authz.get_accessible_org_ids(session, auth_subject))
        repository = AuditExportRepository.from_session(session)
        statement = repository.statement_for_organizations(ids).where(AuditExport.id == id)
        if with_content:
            statement = statement.options(undefer(AuditExport.content))
        export = await repository.get_one_or_none(statement)
        if export is None:
            raise ResourceNotFound("Export")
        await authz.require(
            session,
            auth_subject,
            export.organization_id,
            Permission.audit_read,
            action="audit.export_read",
            target_type="audit_export",
            target_id=export.id,
        )
        return export

    async def download(
        self, session: AsyncSession, auth_subject: AuthSubject[Subject], id: uuid.UUID
    ) -> tuple[AuditExport, bytes]:
        export = await self.get_export(session, auth_subject, id, with_content=True)
        if export.status != ExportStatus.done or export.content is None:
            raise Conflict(f"The export is {export.status}; download it once it is done.")
        return export, export.content

    @staticmethod
    def header() -> str:
        buffer = io.StringIO()
        csv.writer(buffer).writerow(CSV_COLUMNS)
        return buffer.getvalue()


audit_log = AuditLogService()
