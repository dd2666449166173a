"""A workspace's AI settings: provider chains, model overrides, budget, cache; provider keys;
the cost ledger and what it adds up to."""

import builtins
import ipaddress
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.ai import budget
from flashfusion.ai.defaults import DEFAULT_CHAINS
from flashfusion.ai.providers import KEYLESS, PROVIDER_LABELS, PROVIDER_NAMES
from flashfusion.ai.repository import (
    AICredentialRepository,
    AIGenerationRepository,
    AISettingsRepository,
)
from flashfusion.ai.schemas import MAX_CACHE_TTL_SECONDS, MAX_CHAIN_LENGTH, AISettingsUpdate
from flashfusion.ai.service import ai as ai_service
from flashfusion.ai.service import credential_aad, default_settings, policy_of
from flashfusion.ai.types import TaskType
from flashfusion.audit.service import audit as audit_service
from flashfusion.auth.models import AuthSubject, Subject
from flashfusion.authz.permission import Permission
from flashfusion.authz.service import authz
from flashfusion.config import Environment, get_settings
from flashfusion.exceptions import ResourceNotFound, UnprocessableEntity
from flashfusion.kit import encryption
from flashfusion.kit.pagination import PaginationParams
from flashfusion.models import AIGeneration, AISettings
from flashfusion.studio.media import _creator_id

MAX_API_KEY_LENGTH = 500
# Shorter than this and the four-character hint would be most of the key.
MIN_API_KEY_LENGTH = 8
MAX_BASE_URL_LENGTH = 300  # the column's size
MAX_MODEL_NAME_LENGTH = 100  # the ledger's model column
# A sanity bound (one billion USD), far inside the BIGINT column: a bigger cap is a typo.
MAX_CAP_MICROUSD = 10**15
COST_GROUPS = (
    ("by_provider", "provider"),
    ("by_task", "task"),
    ("by_product", "product_id"),
    ("by_listing_copy", "listing_copy_id"),
)


class InvalidAISettings(UnprocessableEntity):
    """A chain, model, budget or cache value is not usable; the message names the field."""


class InvalidCredential(UnprocessableEntity):
    """The provider, key or base URL is not usable; the message names the field."""


def _provider_list() -> str:
    return ", ".join(PROVIDER_NAMES)


def _check_chains(chains: dict[str, list[str]]) -> dict[str, list[str]]:
    tasks = {t.value for t in TaskType}
    checked: dict[str, list[str]] = {}
    for task, names in chains.items():
        if task not in tasks:
            raise InvalidAISettings(
                f"chains: {task!r} is not a task type; use one of {', '.join(sorted(tasks))}."
            )
        field = f"chains.{task}"
        if not 1 <= len(names) <= MAX_CHAIN_LENGTH:
            raise InvalidAISettings(
                f"{field}: give 1 to {MAX_CHAIN_LENGTH} providers (got {len(names)}); "
                "leave the task out to use the default chain."
            )
        unknown = [n for n in names if n not in PROVIDER_NAMES]
        if unknown:
            raise InvalidAISettings(
                f"{field}: {unknown[0]!r} is not a provider; use one of {_provider_list()}."
            )
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise InvalidAISettings(f"{field}: {', '.join(repeated)} appears more than once.")
        checked[task] = list(names)
    return checked


def _check_models(models: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    tasks = {t.value for t in TaskType}
    checked: dict[str, dict[str, str]] = {}
    for provider, by_task in models.items():
        if provider not in PROVIDER_NAMES:
            raise InvalidAISettings(
                f"models: {provider!r} is not a provider; use one of {_provider_list()}."
            )
        checked[provider] = {}
        for task, model in by_task.items():
            field = f"models.{provider}.{task}"
            if task not in tasks:
                raise InvalidAISettings(
                    f"models.{provider}: {task!r} is not a task type; use one of "
                    f"{', '.join(sorted(tasks))}."
                )
            name = model.strip()
            if not name:
                raise InvalidAISettings(f"{field}: is empty; name a model or leave the task out.")
            if len(name) > MAX_MODEL_NAME_LENGTH:
                raise InvalidAISettings(
                    f"{field}: is {len(name)} characters; model names are at most "
                    f"{MAX_MODEL_NAME_LENGTH}."
                )
            checked[provider][task] = name
    return {p: m for p, m in checked.items() if m}


def _check_numbers(changes: dict[str, Any]) -> None:
    if "plan_tier" in changes and changes["plan_tier"] not in budget.PLAN_MONTHLY_CAP_MICROUSD:
        raise InvalidAISettings(
            f"plan_tier: {changes['plan_tier']!r} is not a plan tier; use one of "
            + ", ".join(budget.PLAN_MONTHLY_CAP_MICROUSD)
            + "."
        )
    cap = changes.get("monthly_cap_microusd")
    if cap is not None and cap < 0:
        raise InvalidAISettings(
            "monthly_cap_microusd: must be 0 or more (micro-USD); send null to use the plan "
            "tier's cap."
        )
    if cap is not None and cap > MAX_CAP_MICROUSD:
        raise InvalidAISettings(
            f"monthly_cap_microusd: at most {MAX_CAP_MICROUSD} micro-USD; check the number "
            "(1 USD = 1,000,000)."
        )
    percent = changes.get("soft_warning_percent")
    if "soft_warning_percent" in changes and (percent is None or not 1 <= percent <= 100):
        raise InvalidAISettings("soft_warning_percent: choose a percentage from 1 to 100.")
    ttl = changes.get("cache_ttl_seconds")
    if "cache_ttl_seconds" in changes and (ttl is None or not 0 <= ttl <= MAX_CACHE_TTL_SECONDS):
        raise InvalidAISettings(
            f"cache_ttl_seconds: choose 0 (no cache) to {MAX_CACHE_TTL_SECONDS} seconds (30 days)."
        )
    for flag in ("hard_stop", "offline_fallback"):
        if flag in changes and changes[flag] is None:
            raise InvalidAISettings(f"{flag}: send true or false.")


def _check_base_url(base_url: str | None) -> str | None:
    """An http(s) URL with a host and no credentials; in production not an internal address."""
    if base_url is None or not base_url.strip():
        return None
    url = base_url.strip()
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:  # e.g. an unclosed IPv6 bracket
        host = None
    if host is None or parts.scheme not in ("http", "https"):
        raise InvalidCredential(
            "base_url: must be an http:// or https:// URL with a host, e.g. "
            "https://proxy.example.com/v1."
        )
    if parts.username or parts.password:
        raise InvalidCredential(
            "base_url: must not contain a user name or password; put the key in api_key."
        )
    if len(url) > MAX_BASE_URL_LENGTH:
        raise InvalidCredential(f"base_url: keep it to {MAX_BASE_URL_LENGTH} characters.")
    if get_settings().ENV == Environment.production and _is_internal(host):
        # A workspace must not make the server call its own network (SSRF); operators point
        # the instance at an internal server with FLASHFUSION_LOCAL_AI_BASE_URL instead.
        raise InvalidCredential(
            "base_url: points at a private or loopback address, which workspaces may not use "
            "here; ask the operator to set FLASHFUSION_LOCAL_AI_BASE_URL for a local model."
        )
    return url.rstrip("/")


def _is_internal(host: str) -> bool:
    """A loopback, private, link-local or otherwise non-public address, or a local name. Names
    are not resolved here (resolution can change); only literal addresses and local names."""
    name = host.rstrip(".").lower()
    if name == "localhost" or name.endswith((".localhost", ".local", ".internal")):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    return not address.is_global


def _check_api_key(provider: str, api_key: str | None) -> str | None:
    key = (api_key or "").strip()
    if not key:
        if provider in KEYLESS:
            return None
        raise InvalidCredential(f"api_key: is empty; paste the {PROVIDER_LABELS[provider]} key.")
    if any(c.isspace() or not c.isprintable() for c in key):
        raise InvalidCredential(
            "api_key: contains spaces or line breaks; paste the key alone, without quotes."
        )
    if not MIN_API_KEY_LENGTH <= len(key) <= MAX_API_KEY_LENGTH:
        raise InvalidCredential(
            f"api_key: is {len(key)} characters; provider keys are {MIN_API_KEY_LENGTH} to "
            f"{MAX_API_KEY_LENGTH}. Check you copied all of it."
        )
    return key


def _check_provider(provider: str) -> str:
    if provider not in PROVIDER_NAMES:
        raise InvalidCredential(
            f"provider: {provider!r} is not a provider; use one of {_provider_list()}."
        )
    if provider == "offline":
        raise InvalidCredential("provider: the offline provider is built in and takes no key.")
    return provider


def effective_chains(settings: AISettings) -> dict[str, builtins.list[str]]:
    """The chain each task uses: the workspace's own, else the default."""
    own = settings.chains or {}
    return {
        task.value: list(own.get(task.value) or DEFAULT_CHAINS.get(task, ["offline"]))
        for task in TaskType
    }


class AISettingsService:
    # --- settings --------------------------------------------------------------------------

    async def get(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        organization_id: uuid.UUID,
    ) -> AISettings:
        """The stored settings, or the defaults (not saved) for a workspace that has none."""
        await authz.accessible_organization(
            session,
            auth_subject,
            organization_id,
            Permission.ai_usage_read,
            action="ai.settings_read",
        )
        return await ai_service.settings_for(session, organization_id)

    async def update(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        organization_id: uuid.UUID,
        body: AISettingsUpdate,
    ) -> AISettings:
        await authz.accessible_organization(
            session,
            auth_subject,
            organization_id,
            Permission.ai_manage,
            action="ai.settings_updated",
        )
        changes: dict[str, Any] = {k: getattr(body, k) for k in body.model_fields_set}
        if "chains" in changes:
            if changes["chains"] is None:
                raise InvalidAISettings("chains: send an object; {} uses the default chains.")
            changes["chains"] = _check_chains(changes["chains"])
        if "models" in changes:
            if changes["models"] is None:
                raise InvalidAISettings("models: send an object; {} uses the default models.")
            changes["models"] = _check_models(changes["models"])
        if "plan_tier" in changes and changes["plan_tier"] is None:
            raise InvalidAISettings("plan_tier: send a plan tier.")
        _check_numbers(changes)
        repository = AISettingsRepository.from_session(session)
        settings = await repository.ensure(default_settings(organization_id))
        await repository.update(settings, values=changes)
        await audit_service.record(
            session,
            auth_subject,
            action="ai.settings_updated",
            organization_id=organization_id,
            target_type="ai_settings",
            target_id=settings.id,
            details=changes,
        )
        return settings

    # --- provider keys ---------------------------------------------------------------------

    async def credentials(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        organization_id: uuid.UUID,
    ) -> builtins.list[dict[str, Any]]:
        """Every provider with where its key comes from; never a key."""
        await authz.accessible_organization(
            session,
            auth_subject,
            organization_id,
            Permission.ai_usage_read,
            action="ai.credentials_read",
        )
        return await self._statuses(session, organization_id)

    async def _statuses(
        self, session: AsyncSession, organization_id: uuid.UUID
    ) -> builtins.list[dict[str, Any]]:
        configured = await ai_service.configured(session, organization_id)
        hints = {
            c.provider: c.key_hint
            for c in await AICredentialRepository.from_session(session).for_organization(
                organization_id
            )
        }
        return [
            {
                "provider": name,
                "label": PROVIDER_LABELS[name],
                "source": configured[name][0],
                "key_hint": hints.get(name) if configured[name][0] == "workspace" else None,
                "base_url": configured[name][2],
            }
            for name in PROVIDER_NAMES
        ]

    async def _status(
        self, session: AsyncSession, organization_id: uuid.UUID, provider: str
    ) -> dict[str, Any]:
        return next(
            s for s in await self._statuses(session, organization_id) if s["provider"] == provider
        )

    async def set_credential(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        organization_id: uuid.UUID,
        provider: str,
        api_key: str | None,
        base_url: str | None,
    ) -> dict[str, Any]:
        """Store (or replace) the workspace's key for `provider`, encrypted and bound to its row."""
        await authz.accessible_organization(
            session, auth_subject, organization_id, Permission.ai_manage, action="ai.credential_set"
        )
        provider = _check_provider(provider)
        key = _check_api_key(provider, api_key)
        url = _check_base_url(base_url)
        repository = AICredentialRepository.from_session(session)
        credential = await repository.ensure(organization_id, provider, _creator_id(auth_subject))
        # The ciphertext is bound to the row's id: it must exist before encrypting.
        await repository.update(
            credential,
            values={
                "encrypted_api_key": (
                    encryption.encrypt(key, aad=credential_aad(credential)) if key else None
                ),
                "key_hint": key[-4:] if key else None,
                "base_url": url,
            },
        )
        await audit_service.record(
            session,
            auth_subject,
            action="ai.credential_set",
            organization_id=organization_id,
            target_type="ai_credential",
            target_id=credential.id,
            details={"provider": provider, "key_hint": credential.key_hint},
        )
        return await self._status(session, organization_id, provider)

    async def delete_credential(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        organization_id: uuid.UUID,
        provider: str,
    ) -> dict[str, Any]:
        """Remove the workspace's key (the instance's key, if any, applies again)."""
        await authz.accessible_organization(
            session,
            auth_subject,
            organization_id,
            Permission.ai_manage,
            action="ai.credential_deleted",
        )
        provider = _check_provider(provider)
        if await AICredentialRepository.from_session(session).remove(organization_id, provider):
            await audit_service.record(
                session,
                auth_subject,
                action="ai.credential_deleted",
                organization_id=organization_id,
                target_type="ai_credential",
                details={"provider": provider},
            )
        return await self._status(session, organization_id, provider)

    # --- the ledger ------------------------------------------------------------------------

    async def costs(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        organization_id: uuid.UUID,
        since: datetime | None,
    ) -> dict[str, Any]:
        """What the workspace's generations cost since `since` (default: start of the month),
        grouped, and where the monthly budget stands."""
        await authz.accessible_organization(
            session, auth_subject, organization_id, Permission.ai_usage_read, action="ai.costs_read"
        )
        start = budget.month_start()
        try:
            since = (
                start
                if since is None
                else since.replace(tzinfo=UTC)
                if since.tzinfo is None
                else since.astimezone(UTC)
            )
        except OverflowError:
            raise InvalidAISettings(
                "since: is out of range; give a date after the year 1."
            ) from None
        ledger = AIGenerationRepository.from_session(session)
        groups = {
            name: await ledger.totals_by(organization_id, column, since)
            for name, column in COST_GROUPS
        }
        for rows in groups.values():
            for row in rows:
                row["key"] = None if row["key"] is None else str(row["key"])
        by_task = groups["by_task"]
        generations = sum(r["generations"] for r in by_task)
        cache_hits = sum(r["cache_hits"] for r in by_task)
        settings = await ai_service.settings_for(session, organization_id)
        spent = await ledger.spent_since(organization_id, start)
        policy = policy_of(settings)
        decision = budget.decide(policy, spent)
        return {
            "organization_id": organization_id,
            "since": since,
            "generations": generations,
            "cost_microusd": sum(r["cost_microusd"] for r in by_task),
            "unpriced": sum(r["unpriced"] for r in by_task),
            "cache_hits": cache_hits,
            "cache_hit_rate": round(cache_hits / generations, 4) if generations else None,
            **groups,
            "month_to_date_microusd": spent,
            "budget": {
                "plan_tier": settings.plan_tier,
                "cap_microusd": policy.cap_microusd,
                "spent_microusd": spent,
                "remaining_microusd": max(0, policy.cap_microusd - spent),
                "soft_warning_percent": policy.soft_warning_percent,
                "hard_stop": policy.hard_stop,
                "offline_fallback": policy.offline_fallback,
                "allowed": decision.allowed,
                "offline_only": decision.offline_only,
                "warning": decision.warning,
            },
        }

    async def usage(
        self, session: AsyncSession, organization_id: uuid.UUID, since: datetime
    ) -> dict[str, Any]:
        """The ledger since `since`: what was spent, and totals by provider, task and product.
        The caller has checked that the subject may read the workspace's usage."""
        ledger = AIGenerationRepository.from_session(session)
        return {
            "spent": await ledger.spent_since(organization_id, since),
            "by_provider": await ledger.totals_by(organization_id, "provider", since),
            "by_task": await ledger.totals_by(organization_id, "task", since),
            "by_product": await ledger.totals_by(organization_id, "product_id", since),
        }

    async def listing_costs(
        self, session: AsyncSession, copy_ids: builtins.list[uuid.UUID]
    ) -> dict[uuid.UUID, int]:
        """What each listing copy's generations cost in all (micro-USD), for copies the caller
        has already read."""
        return await AIGenerationRepository.from_session(session).cost_for_copies(copy_ids)

    async def generations(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        *,
        organization_id: uuid.UUID | None,
        task: str | None,
        provider: str | None,
        product_id: uuid.UUID | None,
        pagination: PaginationParams,
    ) -> tuple[builtins.list[AIGeneration], int]:
        readable = await authz.get_readable_org_ids(
            session,
            auth_subject,
            Permission.ai_usage_read,
            organization_id=organization_id,
            action="ai.generations_read",
        )
        repository = AIGenerationRepository.from_session(session)
        statement = repository.search_statement(
            readable, task=task, provider=provider, product_id=product_id
        )
        return await repository.paginate(statement, pagination)

    async def generation(
        self, session: AsyncSession, auth_subject: AuthSubject[Subject], id: uuid.UUID
    ) -> AIGeneration:
        ids = await authz.get_accessible_org_ids(session, auth_subject)
        found = await AIGenerationRepository.from_session(session).get_for_organizations(id, ids)
        if found is None:
            raise ResourceNotFound("AI generation")
        await authz.require(
            session,
            auth_subject,
            found.organization_id,
            Permission.ai_usage_read,
            action="ai.generation_read",
            target_type="ai_generation",
            target_id=found.id,
        )
        return found


ai_settings = AISettingsService()
