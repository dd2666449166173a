import uuid
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.api_key.repository import APIKeyRepository
from flashfusion.audit.service import audit as audit_service
from flashfusion.auth.models import AuthSubject, Subject
from flashfusion.auth.scope import Scope
from flashfusion.authz.permission import PERMISSION_SCOPE, ROLE_PERMISSIONS, Permission
from flashfusion.authz.service import authz
from flashfusion.db import persist_always
from flashfusion.exceptions import Conflict, NotPermitted, ResourceNotFound, Unauthorized
from flashfusion.kit.crypto import generate_api_key, is_well_formed_api_key, keyed_hash
from flashfusion.kit.pagination import PaginationParams
from flashfusion.kit.request_context import get_request_context
from flashfusion.models import APIKey, Role, User, utc_now

# last_used_at is written at most this often per key: a busy key must not write on every call.
LAST_USED_RESOLUTION = timedelta(seconds=60)
USE_AUDIT_INTERVAL = timedelta(hours=1)
MAX_ACTIVE_KEYS_PER_ORGANIZATION = 200


def scopes_of_role(role: Role) -> set[Scope]:
    """Scopes whose permissions the role holds: the most a key created by this role can use."""
    return {
        scope
        for permission, scope in PERMISSION_SCOPE.items()
        if scope is not None and permission in ROLE_PERMISSIONS[role]
    }


def hash_key(token: str) -> str:
    return keyed_hash(token, purpose="api-key")


class APIKeyService:
    async def list(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        *,
        organization_id: uuid.UUID | None,
        pagination: PaginationParams,
    ) -> tuple[list[APIKey], int]:
        readable = await authz.get_readable_org_ids(
            session,
            auth_subject,
            Permission.api_keys_read,
            organization_id=organization_id,
            action="api_key.list",
        )
        repository = APIKeyRepository.from_session(session)
        return await repository.paginate(
            repository.statement_for_organizations(readable), pagination
        )

    async def get(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        id: uuid.UUID,
        *,
        permission: Permission = Permission.api_keys_read,
        action: str = "api_key.read",
    ) -> APIKey:
        """The key (404 if missing or foreign), if the subject holds `permission` (403)."""
        ids = set(await authz.get_accessible_org_ids(session, auth_subject))
        key = await APIKeyRepository.from_session(session).get_for_organizations(id, ids)
        if key is None:
            raise ResourceNotFound("API key")
        await authz.require(
            session,
            auth_subject,
            key.organization_id,
            permission,
            action=action,
            target_type="api_key",
            target_id=key.id,
        )
        return key

    async def create(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        *,
        organization_id: uuid.UUID,
        name: str,
        scopes: set[Scope],
        expires_in_days: int | None,
    ) -> tuple[APIKey, str]:
        ids = await authz.get_accessible_org_ids(session, auth_subject)
        if organization_id not in ids:
            raise ResourceNotFound("Organization")
        role = await authz.require(
            session,
            auth_subject,
            organization_id,
            Permission.api_keys_manage,
            action="api_key.created",
            target_type="organization",
            target_id=organization_id,
        )
        subject = auth_subject.subject
        if isinstance(subject, APIKey):
            creator_id = subject.created_by_user_id
            grantable = scopes_of_role(role) & set(auth_subject.scopes)
        elif isinstance(subject, User):
            creator_id = subject.id
            grantable = scopes_of_role(role)
        else:  # pragma: no cover - endpoints never let anonymous callers here
            raise Unauthorized()
        excess = sorted(s.value for s in scopes - grantable)
        if excess:
            audit_service.record_denied(
                session,
                auth_subject,
                action="api_key.created",
                organization_id=organization_id,
                details={"reason": "scopes beyond the creator's reach", "scopes": excess},
            )
            raise NotPermitted(
                f"You can't grant {', '.join(excess)}: a key can only hold scopes your role "
                "(and, for a key, the calling key) has."
            )
        repository = APIKeyRepository.from_session(session)
        _, active = await repository.paginate(
            repository.statement_for_organizations({organization_id}).where(
                APIKey.revoked_at.is_(None)
            ),
            PaginationParams(1, 1),
        )
        if active >= MAX_ACTIVE_KEYS_PER_ORGANIZATION:
            raise Conflict(
                f"This workspace has {MAX_ACTIVE_KEYS_PER_ORGANIZATION} active keys; revoke unused "
                "ones first."
            )
        token = generate_api_key()
        key = APIKey(
            organization_id=organization_id,
            created_by_user_id=creator_id,
            name=name.strip(),
            token_hash=hash_key(token),
            display_prefix=token[:8],
            scopes=sorted(s.value for s in scopes),
            expires_at=utc_now() + timedelta(days=expires_in_days) if expires_in_days else None,
        )
        await repository.create(key)
        await audit_service.record(
            session,
            auth_subject,
            action="api_key.created",
            organization_id=organization_id,
            target_type="api_key",
            target_id=key.id,
            details={"name": key.name, "scopes": key.scopes},
        )
        return key, token

    async def revoke(
        self, session: AsyncSession, auth_subject: AuthSubject[Subject], key: APIKey
    ) -> APIKey:
        await authz.require(
            session,
            auth_subject,
            key.organization_id,
            Permission.api_keys_manage,
            action="api_key.revoked",
            target_type="api_key",
            target_id=key.id,
        )
        if key.revoked_at is None:
            key.revoked_at = utc_now()
            await session.flush()
            await audit_service.record(
                session,
                auth_subject,
                action="api_key.revoked",
                organization_id=key.organization_id,
                target_type="api_key",
                target_id=key.id,
                details={"name": key.name},
            )
        return key

    async def authenticate(self, session: AsyncSession, token: str) -> AuthSubject[APIKey]:
        """Resolve a bearer token; raise Unauthorized with a message saying what to do."""
        if not is_well_formed_api_key(token):
            raise Unauthorized(
                "This is not a FlashFusion API key (they start with ffk_). Check for a copy "
                "mistake, or create a key under Settings > API keys."
            )
        repository = APIKeyRepository.from_session(session)
        found = await repository.get_by_token_hash_with_creator_role(hash_key(token))
        if found is None:
            audit_service.record_denied(
                session,
                None,
                action="api_key.authenticate",
                actor_label=f"{token[:8]}…",
                details={"reason": "unknown key"},
            )
            raise Unauthorized("Unknown API key. It may have been deleted; create a new one.")
        key, creator_role = found
        if key.status != "active":
            audit_service.record_denied(
                session,
                AuthSubject(key),
                action="api_key.authenticate",
                organization_id=key.organization_id,
                target_type="api_key",
                target_id=key.id,
                details={"reason": key.status},
            )
            raise Unauthorized(f"This API key is {key.status}. Create a new key.")
        if creator_role is None:
            raise Unauthorized(
                "The member who created this API key has left the workspace; create a new key."
            )
        now = utc_now()
        previous_use = key.last_used_at
        if previous_use is None or now - previous_use >= LAST_USED_RESOLUTION:
            context = get_request_context()

            async def _mark_used(persist_session: AsyncSession) -> None:
                # Kept even when the call itself fails: the key *was* used.
                await APIKeyRepository.from_session(persist_session).mark_used(
                    key.id, now, context.ip
                )

            persist_always(session, _mark_used)
            if previous_use is None or now - previous_use >= USE_AUDIT_INTERVAL:
                # The log shows when a key is first used, and again after an hour of quiet:
                # enough to see who uses which key from where, without a row per call.
                audit_service.record_durably(
                    session,
                    AuthSubject(key),
                    action="api_key.used",
                    organization_id=key.organization_id,
                    target_type="api_key",
                    target_id=key.id,
                    details={"request": context.route or ""},
                )
        return AuthSubject(
            key,
            scopes=frozenset(Scope(s) for s in key.scopes if s in Scope._value2member_map_),
            api_key_role=Role(creator_role),
        )


api_key = APIKeyService()
