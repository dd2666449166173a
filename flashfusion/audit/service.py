"""Recording audit events, reading an organization's log, and CSV exports."""

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.auth.models import AuthSubject, Subject
from flashfusion.db import persist_always
from flashfusion.kit.request_context import get_request_context
from flashfusion.models import (
    ActorType,
    APIKey,
    AuditEvent,
    Outcome,
    User,
)


def _actor(auth_subject: AuthSubject[Subject] | None) -> tuple[ActorType, uuid.UUID | None, str]:
    if auth_subject is None:
        return ActorType.system, None, "system"
    subject = auth_subject.subject
    if isinstance(subject, User):
        return ActorType.user, subject.id, subject.email
    if isinstance(subject, APIKey):
        return ActorType.api_key, subject.id, auth_subject.label
    return ActorType.anonymous, None, "anonymous"


class AuditService:
    def build(
        self,
        auth_subject: AuthSubject[Subject] | None,
        *,
        action: str,
        outcome: Outcome = Outcome.success,
        organization_id: uuid.UUID | None = None,
        user_id: uuid.UUID | None = None,
        target_type: str | None = None,
        target_id: uuid.UUID | str | None = None,
        details: dict[str, Any] | None = None,
        actor_label: str | None = None,
    ) -> AuditEvent:
        actor_type, actor_id, label = _actor(auth_subject)
        if user_id is None and auth_subject is not None:
            subject = auth_subject.subject
            if isinstance(subject, User):
                user_id = subject.id
            elif isinstance(subject, APIKey):
                user_id = subject.created_by_user_id
        context = get_request_context()
        return AuditEvent(
            id=uuid.uuid4(),
            organization_id=organization_id,
            user_id=user_id,
            actor_type=actor_type,
            actor_id=actor_id,
            actor_label=actor_label or label,
            action=action,
            target_type=target_type,
            target_id=str(target_id) if target_id is not None else None,
            outcome=outcome,
            ip=context.ip,
            user_agent=(context.user_agent or "")[:512] or None,
            request_id=context.request_id,
            details=details or {},
        )

    async def record(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject] | None,
        *,
        action: str,
        outcome: Outcome = Outcome.success,
        organization_id: uuid.UUID | None = None,
        user_id: uuid.UUID | None = None,
        target_type: str | None = None,
        target_id: uuid.UUID | str | None = None,
        details: dict[str, Any] | None = None,
        actor_label: str | None = None,
    ) -> AuditEvent:
        """Add an event to the current unit of work (it commits or rolls back with it)."""
        event = self.build(
            auth_subject,
            action=action,
            outcome=outcome,
            organization_id=organization_id,
            user_id=user_id,
            target_type=target_type,
            target_id=target_id,
            details=details,
            actor_label=actor_label,
        )
        session.add(event)
        return event

    def record_durably(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject] | None,
        *,
        action: str,
        outcome: Outcome = Outcome.success,
        organization_id: uuid.UUID | None = None,
        user_id: uuid.UUID | None = None,
        target_type: str | None = None,
        target_id: uuid.UUID | str | None = None,
        details: dict[str, Any] | None = None,
        actor_label: str | None = None,
    ) -> None:
        """Record an event that is kept even if the request's transaction fails."""
        event = self.build(
            auth_subject,
            action=action,
            outcome=outcome,
            organization_id=organization_id,
            user_id=user_id,
            target_type=target_type,
            target_id=target_id,
            details=details,
            actor_label=actor_label,
        )

        async def _persist(persist_session: AsyncSession) -> None:
            persist_session.add(event)

        persist_always(session, _persist)

    def record_denied(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject] | None,
        *,
        action: str,
        organization_id: uuid.UUID | None = None,
        user_id: uuid.UUID | None = None,
        target_type: str | None = None,
        target_id: uuid.UUID | str | None = None,
        details: dict[str, Any] | None = None,
        actor_label: str | None = None,
        outcome: Outcome = Outcome.denied,
    ) -> None:
        """Record a refused attempt; it is kept even though the request's transaction fails."""
        self.record_durably(
            session,
            auth_subject,
            action=action,
            outcome=outcome,
            organization_id=organization_id,
            user_id=user_id,
            target_type=target_type,
            target_id=target_id,
            details=details,
            actor_label=actor_label,
        )


audit = AuditService()
