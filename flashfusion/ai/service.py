"""AI generations: the workspace's provider chain, budget, cache, router and cost ledger.

`ai.generate(...)` is what every feature calls. It resolves the chain for the task (workspace keys
first, then the instance's keys; providers without a key are left out; the offline provider is
always last for text tasks), checks the monthly budget, looks in the cache, routes with fallback,
and writes one `AIGeneration` row with the cost of every attempt. Callers authorise first.
"""

import asyncio
import builtins
import functools
import hashlib
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.ai import budget
from flashfusion.ai.breaker import BreakerRegistry
from flashfusion.ai.cache import AICache, LRUCache, request_key
from flashfusion.ai.defaults import DEFAULT_CHAINS, DEFAULT_MODELS
from flashfusion.ai.pricing import PriceTable
from flashfusion.ai.prompts import PromptTemplate
from flashfusion.ai.providers import KEYLESS, PROVIDER_NAMES, build_provider
from flashfusion.ai.repository import (
    AICacheRepository,
    AICredentialRepository,
    AIGenerationRepository,
    AISettingsRepository,
)
from flashfusion.ai.router import AllProvidersFailed, ChainStep, Router, RouterResult
from flashfusion.ai.types import (
    AIRequest,
    AIResponse,
    Provider,
    StreamEvent,
    TaskType,
    Usage,
)
from flashfusion.config import get_settings
from flashfusion.exceptions import AppError
from flashfusion.kit import encryption
from flashfusion.models import AICredential, AIGeneration, AISettings, utc_now


class BudgetExhausted(AppError):
    """The workspace's monthly AI budget is used up and it does not fall back to offline."""

    status_code = 402


class GenerationFailed(AppError):
    """Every provider in the chain failed; the message lists each and what to do."""

    status_code = 502


class NoProviderAvailable(AppError):
    """No provider in the chain can do this task with the keys the workspace has."""

    status_code = 422


@dataclass
class Generation:
    response: AIResponse
    parsed: BaseModel | None
    record: AIGeneration
    cache_hit: bool
    budget_warning: str | None
    attempts: builtins.list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Settled:
    """A finished call before anything is written: its ledger row (not yet in a session), the
    generation it yields (None when every provider failed, then `error` says why), and the
    answer to store in the cache (None when it must not be cached)."""

    record: AIGeneration
    generation: Generation | None
    error: "GenerationFailed | None"
    cache: AIResponse | None


@dataclass(frozen=True)
class Resolved:
    steps: builtins.list[ChainStep]
    warning: str | None
    offline_only: bool
    cache_ttl_seconds: int


@dataclass
class Prepared:
    organization_id: uuid.UUID
    user_id: uuid.UUID | None
    request: AIRequest
    output: type[BaseModel] | None
    prompt: PromptTemplate | None
    product_id: uuid.UUID | None
    listing_copy_id: uuid.UUID | None
    steps: builtins.list[ChainStep]
    warning: str | None
    cache_ttl_seconds: int
    use_cache: bool
    key: str
    # (response, cache layer, parsed output) when the cache answered.
    cached: tuple[AIResponse, str, BaseModel | None] | None = None
    latency_ms: int = 0


class LimitedProvider:
    """A provider behind a semaphore: at most N calls to it at once (batch generation)."""

    def __init__(self, inner: Provider, gate: asyncio.Semaphore) -> None:
        self.inner = inner
        self.gate = gate
        self.name = inner.name

    def supports(self, task: TaskType) -> bool:
        return self.inner.supports(task)

    def default_model(self, task: TaskType) -> str:
        return self.inner.default_model(task)

    async def complete(self, request: AIRequest) -> AIResponse:
        async with self.gate:
            return await self.inner.complete(request)

    async def stream(self, request: AIRequest) -> AsyncIterator[StreamEvent]:
        async with self.gate:
            async for event in self.inner.stream(request):
                yield event

    async def aclose(self) -> None:
        await self.inner.aclose()


class DatabaseCacheStore:
    """The persistent cache layer on `ai_cache_entries`, in the caller's unit of work."""

    def __init__(self, session: AsyncSession) -> None:
        self.repository = AICacheRepository.from_session(session)

    async def get(self, organization_id: str, key: str) -> AIResponse | None:
        entry = await self.repository.lookup(uuid.UUID(organization_id), key, datetime.now(UTC))
        return None if entry is None else AIResponse.model_validate(entry.response)

    async def get_many(self, organization_id: str, keys: list[str]) -> dict[str, AIResponse]:
        entries = await self.repository.lookup_many(
            uuid.UUID(organization_id), keys, datetime.now(UTC)
        )
        return {e.key: AIResponse.model_validate(e.response) for e in entries}

    @staticmethod
    def _row(
        organization_id: str, key: str, task: str, response: AIResponse, ttl_seconds: int
    ) -> dict[str, Any]:
        now = datetime.now(UTC)
        return {
            "organization_id": uuid.UUID(organization_id),
            "key": key,
            "task": task,
            "response": response.model_dump(mode="json"),
            "created_at": now,
            "expires_at": now + timedelta(seconds=ttl_seconds),
        }

    async def put(
        self, organization_id: str, key: str, task: str, response: AIResponse, ttl_seconds: int
    ) -> None:
        await self.repository.upsert(self._row(organization_id, key, task, response, ttl_seconds))

    async def put_many(self, entries: list[tuple[str, str, str, AIResponse, int]]) -> None:
        await self.repository.upsert_many([self._row(*entry) for entry in entries])


@functools.cache
def schema_of(output: type[BaseModel]) -> dict[str, Any]:
    """The JSON Schema of an output model; building it costs about a millisecond, so once."""
    return output.model_json_schema()


def default_settings(organization_id: uuid.UUID) -> AISettings:
    """The settings a workspace has before it changes any (not added to the session)."""
    return AISettings(
        organization_id=organization_id,
        chains={},
        models={},
        plan_tier="free",
        monthly_cap_microusd=None,
        soft_warning_percent=80,
        hard_stop=True,
        offline_fallback=True,
        cache_ttl_seconds=7 * 86400,
    )


def policy_of(settings: AISettings) -> budget.BudgetPolicy:
    cap = settings.monthly_cap_microusd
    if cap is None:
        cap = budget.PLAN_MONTHLY_CAP_MICROUSD.get(settings.plan_tier, 0)
    return budget.BudgetPolicy(
        cap_microusd=cap,
        soft_warning_percent=settings.soft_warning_percent,
        hard_stop=settings.hard_stop,
        offline_fallback=settings.offline_fallback,
    )


def credential_aad(credential: AICredential) -> bytes:
    return encryption.bound_to("ai_credentials", "encrypted_api_key", credential.id)


def instance_key(provider: str) -> tuple[str | None, str | None]:
    """The instance-wide key and base URL for a provider, from FLASHFUSION_* settings."""
    settings = get_settings()
    if provider == "local":
        return None, settings.LOCAL_AI_BASE_URL or None
    prefix = provider.upper()
    secret = getattr(settings, f"{prefix}_API_KEY", None)
    base_url = getattr(settings, f"{prefix}_BASE_URL", "") or None
    return (secret.get_secret_value() if secret else None), base_url


class AIService:
    def __init__(self) -> None:
        self.breakers = BreakerRegistry()
        self.router = Router(self.breakers)
        self.lru = LRUCache(max_entries=get_settings().AI_CACHE_MAX_ENTRIES)
        self.prices = PriceTable.load()
        # Tests and the sandbox inject transports here: provider name -> client (None: SDK default).
        self.http_client_factory: Callable[[str], httpx.AsyncClient | None] = lambda name: None
        self._pool: dict[tuple[str, str, str], Provider] = {}

    # --- configuration ---------------------------------------------------------------------

    async def settings_for(self, session: AsyncSession, organization_id: uuid.UUID) -> AISettings:
        found = await AISettingsRepository.from_session(session).for_organization(organization_id)
        return found or default_settings(organization_id)

    async def configured(
        self, session: AsyncSession, organization_id: uuid.UUID
    ) -> dict[str, tuple[str, str | None, str | None]]:
        """Provider -> (where its key comes from: workspace|instance|none, key, base URL)."""
        credentials = {
            c.provider: c
            for c in await AICredentialRepository.from_session(session).for_organization(
                organization_id
            )
        }
        found: dict[str, tuple[str, str | None, str | None]] = {}
        for name in PROVIDER_NAMES:
            if name == "offline":
                found[name] = ("built-in", None, None)
                continue
            credential = credentials.get(name)
            if credential is not None:
                key = (
                    encryption.decrypt(credential.encrypted_api_key, aad=credential_aad(credential))
                    if credential.encrypted_api_key
                    else None
                )
                found[name] = ("workspace", key, credential.base_url)
                continue
            key, base_url = instance_key(name)
            if key or (name == "local" and base_url):
                found[name] = ("instance", key, base_url)
            else:
                found[name] = ("none", None, None)
        return found

    def _provider(
        self, name: str, key: str | None, base_url: str | None, models: Mapping[TaskType, str]
    ) -> Provider:
        fingerprint = hashlib.sha256(f"{key}|{sorted(models.items())}".encode()).hexdigest()
        pool_key = (name, fingerprint, base_url or "")
        provider = self._pool.get(pool_key)
        if provider is None:
            provider = build_provider(
                name,
                api_key=key,
                base_url=base_url,
                http_client=self.http_client_factory(name),
                default_models=models,
            )
            self._pool[pool_key] = provider
        return provider

    def models_for(self, settings: AISettings, provider: str) -> dict[TaskType, str]:
        models = dict(DEFAULT_MODELS.get(provider, {}))
        if provider == "local" and get_settings().LOCAL_AI_MODEL:
            models = {task: get_settings().LOCAL_AI_MODEL for task in TaskType}
        for task, model in (settings.models or {}).get(provider, {}).items():
            models[TaskType(task)] = model
        return models

    async def chain(
        self,
        session: AsyncSession,
        organization_id: uuid.UUID,
        task: TaskType,
        *,
        settings: AISettings | None = None,
        offline_only: bool = False,
        limits: Mapping[str, asyncio.Semaphore] | None = None,
    ) -> builtins.list[ChainStep]:
        settings = settings or await self.settings_for(session, organization_id)
        names: builtins.list[str] = list(
            (settings.chains or {}).get(task.value) or DEFAULT_CHAINS.get(task, ["offline"])
        )
        configured = await self.configured(session, organization_id)
        steps: builtins.list[ChainStep] = []
        for name in names:
            if offline_only and name != "offline":
                continue
            origin, key, base_url = configured.get(name, ("none", None, None))
            if origin == "none" or (name not in KEYLESS and not key):
                continue
            provider = self._provider(name, key, base_url, self.models_for(settings, name))
            if limits is not None and name in limits:
                provider = LimitedProvider(provider, limits[name])
            scope = str(organization_id) if origin == "workspace" else "instance"
            steps.append(ChainStep(provider=provider, model=None, breaker_key=f"{scope}:{name}"))
        return steps

    # --- generation ------------------------------------------------------------------------

    async def generate(
        self,
        session: AsyncSession,
        *,
        organization_id: uuid.UUID,
        user_id: uuid.UUID | None,
        request: AIRequest,
        output: type[BaseModel] | None = None,
        prompt: PromptTemplate | None = None,
        product_id: uuid.UUID | None = None,
        listing_copy_id: uuid.UUID | None = None,
        use_cache: bool = True,
        limits: Mapping[str, asyncio.Semaphore] | None = None,
    ) -> Generation:
        """Prepare, call and record in one unit of work (API requests)."""
        prepared = await self.prepare(
            session,
            organization_id=organization_id,
            user_id=user_id,
            request=request,
            output=output,
            prompt=prompt,
            product_id=product_id,
            listing_copy_id=listing_copy_id,
            use_cache=use_cache,
            limits=limits,
        )
        if prepared.cached is not None:
            return await self.finish(session, prepared, None, None)
        result, failure = await self.call(prepared)
        return await self.finish(session, prepared, result, failure)

    async def prepare(
        self,
        session: AsyncSession,
        *,
        organization_id: uuid.UUID,
        user_id: uuid.UUID | None,
        request: AIRequest,
        output: type[BaseModel] | None = None,
        prompt: PromptTemplate | None = None,
        product_id: uuid.UUID | None = None,
        listing_copy_id: uuid.UUID | None = None,
        use_cache: bool = True,
        limits: Mapping[str, asyncio.Semaphore] | None = None,
    ) -> "Prepared":
        """Budget check, chain and cache lookup: the database part before the provider call.

        Batch jobs call `prepare`, `call` and `finish` in separate units of work, so no
        database connection (SQLite has one writer) is held while a provider thinks."""
        resolved = await self.resolve(session, organization_id, request.task, limits=limits)
        prepared = self.prepared(
            resolved,
            organization_id=organization_id,
            user_id=user_id,
            request=request,
            output=output,
            prompt=prompt,
            product_id=product_id,
            listing_copy_id=listing_copy_id,
            use_cache=use_cache,
        )
        await self.lookup(session, prepared)
        return prepared

    async def resolve(
        self,
        session: AsyncSession,
        organization_id: uuid.UUID,
        task: TaskType,
        *,
        limits: Mapping[str, asyncio.Semaphore] | None = None,
    ) -> "Resolved":
        """Settings, budget decision and provider chain for a task (one read, many requests)."""
        settings = await self.settings_for(session, organization_id)
        ledger = AIGenerationRepository.from_session(session)
        decision = budget.decide(
            policy_of(settings), await ledger.spent_since(organization_id, budget.month_start())
        )
        if not decision.allowed and not decision.offline_only:
            raise BudgetExhausted(decision.warning or "The monthly AI budget is used up.")
        steps = await self.chain(
            session,
            organization_id,
            task,
            settings=settings,
            offline_only=decision.offline_only,
            limits=limits,
        )
        if not steps:
            raise NoProviderAvailable(
                f"No AI provider can do '{task.value}' for this workspace: add an API key "
                "for one in AI settings, or put a provider that has a key in this task's chain."
            )
        return Resolved(
            steps=steps,
            warning=decision.warning,
            offline_only=decision.offline_only,
            cache_ttl_seconds=settings.cache_ttl_seconds,
        )

    def prepared(
        self,
        resolved: "Resolved",
        *,
        organization_id: uuid.UUID,
        user_id: uuid.UUID | None,
        request: AIRequest,
        output: type[BaseModel] | None,
        prompt: PromptTemplate | None,
        product_id: uuid.UUID | None,
        listing_copy_id: uuid.UUID | None,
        use_cache: bool,
    ) -> "Prepared":
        if output is not None:
            request = request.model_copy(
                update={"json_schema": schema_of(output), "schema_name": output.__name__}
            )
        return Prepared(
            organization_id=organization_id,
            user_id=user_id,
            request=request,
            output=output,
            prompt=prompt,
            product_id=product_id,
            listing_copy_id=listing_copy_id,
            steps=resolved.steps,
            warning=resolved.warning,
            cache_ttl_seconds=resolved.cache_ttl_seconds,
            use_cache=use_cache and not resolved.offline_only,
            key=request_key(request, organization_id=str(organization_id), provider=None),
        )

    async def lookup(self, session: AsyncSession | None, prepared: "Prepared") -> None:
        """Fill `prepared.cached` from the cache (memory only when there is no session)."""
        if not prepared.use_cache:
            return
        cache = AICache(self.lru, DatabaseCacheStore(session) if session is not None else None)
        hit = await cache.get(str(prepared.organization_id), prepared.key)
        if hit is not None:
            self._use_hit(prepared, hit)

    async def lookup_many(
        self, session: AsyncSession | None, prepared: "builtins.list[Prepared]"
    ) -> None:
        """`lookup` for many requests: the memory misses of each workspace are read from the
        database in one query instead of one each (batch generation)."""
        store = DatabaseCacheStore(session) if session is not None else None
        cache = AICache(self.lru, store)
        by_organization: dict[uuid.UUID, builtins.list[Prepared]] = {}
        for one in prepared:
            if one.use_cache:
                by_organization.setdefault(one.organization_id, []).append(one)
        for organization_id, group in by_organization.items():
            hits = await cache.get_many(str(organization_id), [one.key for one in group])
            used: set[str] = set()
            for one in group:
                hit = hits.get(one.key)
                if hit is not None:
                    # A key asked for twice is one lookup; each request still gets its own copy.
                    response = hit[0].model_copy(deep=True) if one.key in used else hit[0]
                    used.add(one.key)
                    self._use_hit(one, (response, hit[1]))

    @staticmethod
    def _use_hit(prepared: "Prepared", hit: tuple[AIResponse, str]) -> None:
        try:
            parsed = prepared.output.model_validate_json(hit[0].text) if prepared.output else None
        except ValueError:
            return  # cached under an older schema: generate afresh
        prepared.cached = (hit[0], hit[1], parsed)

    async def call(
        self, prepared: "Prepared"
    ) -> tuple[RouterResult | None, AllProvidersFailed | None]:
        """The provider call with fallback; touches no database."""
        started = time.perf_counter()
        try:
            result = await self.router.run(prepared.request, prepared.steps, output=prepared.output)
        except AllProvidersFailed as e:
            prepared.latency_ms = round((time.perf_counter() - started) * 1000)
            return None, e
        prepared.latency_ms = round((time.perf_counter() - started) * 1000)
        return result, None

    def settle(
        self,
        prepared: "Prepared",
        result: RouterResult | None,
        failure: AllProvidersFailed | None,
    ) -> Settled:
        """The ledger row and outcome of a finished call, without touching the database. The row
        carries every column (id and creation time included), so it can be added to a session
        or inserted with others in one statement."""
        record = AIGeneration(
            id=uuid.uuid4(),
            created_at=utc_now(),
            organization_id=prepared.organization_id,
            user_id=prepared.user_id,
            task=prepared.request.task.value,
            price_version=self.prices.version,
            prompt_name=prepared.prompt.name if prepared.prompt else None,
            prompt_version=prepared.prompt.version if prepared.prompt else None,
            prompt_sha256=prepared.prompt.sha256 if prepared.prompt else None,
            product_id=prepared.product_id,
            listing_copy_id=prepared.listing_copy_id,
            latency_ms=prepared.latency_ms,
            input_tokens=0,
            output_tokens=0,
            images=0,
            cache_hit=False,
            repaired=False,
            fallback_path=[],
            error=None,
            modified_at=None,
            deleted_at=None,
        )
        if prepared.cached is not None:
            response, layer, parsed = prepared.cached
            self._fill(record, response, [], cost=0, status="succeeded")
            record.cache_hit = True
            record.fallback_path = [{"provider": response.provider, "outcome": f"cache_{layer}"}]
            return Settled(
                record, Generation(response, parsed, record, True, prepared.warning), None, None
            )
        if failure is not None or result is None:
            assert failure is not None
            last = failure.attempts[-1] if failure.attempts else None
            record.provider = last.provider if last else "none"
            record.model = (last.model or "") if last else ""
            record.status = "failed"
            record.fallback_path = [self._attempt(a) for a in failure.attempts]
            record.cost_microusd = self._cost(failure.attempts)
            record.error = str(failure)[:2000]
            error = GenerationFailed(str(failure))
            error.__cause__ = failure
            return Settled(record, None, error, None)
        attempts = [self._attempt(a) for a in result.attempts]
        self._fill(
            record, result.response, attempts, cost=self._cost(result.attempts), status="succeeded"
        )
        record.repaired = result.repaired
        generation = Generation(
            result.response, result.parsed, record, False, prepared.warning, attempts
        )
        cache = result.response if prepared.use_cache and not result.response.refused else None
        return Settled(record, generation, None, cache)

    async def finish(
        self,
        session: AsyncSession,
        prepared: "Prepared",
        result: RouterResult | None,
        failure: AllProvidersFailed | None,
    ) -> Generation:
        """Write the ledger row (and the cache entry); raises GenerationFailed on failure."""
        settled = self.settle(prepared, result, failure)
        session.add(settled.record)
        await session.flush()
        if settled.error is not None:
            raise settled.error from failure
        assert settled.generation is not None
        if settled.cache is not None:
            await AICache(self.lru, DatabaseCacheStore(session)).put(
                str(prepared.organization_id),
                prepared.key,
                prepared.request.task.value,
                settled.cache,
                prepared.cache_ttl_seconds,
            )
        return settled.generation

    async def record_many(
        self, session: AsyncSession, settled: "builtins.list[tuple[Prepared, Settled]]"
    ) -> None:
        """Write what `settle` made for many calls: their ledger rows in one INSERT and their
        cache entries in one upsert (what `finish` does for one, without raising)."""
        await AIGenerationRepository.from_session(session).insert_many(
            [one.record for _, one in settled]
        )
        entries = [
            (
                str(prepared.organization_id),
                prepared.key,
                prepared.request.task.value,
                one.cache,
                prepared.cache_ttl_seconds,
            )
            for prepared, one in settled
            if one.cache is not None
        ]
        if entries:
            await AICache(self.lru, DatabaseCacheStore(session)).put_many(entries)

    def _fill(
        self,
        record: AIGeneration,
        response: AIResponse,
        attempts: builtins.list[dict[str, Any]],
        *,
        cost: int | None,
        status: str,
    ) -> None:
        record.provider = response.provider
        record.model = response.model
        record.status = status
        record.input_tokens = response.usage.input_tokens
        record.output_tokens = response.usage.output_tokens
        record.images = response.usage.images
        record.cost_microusd = cost
        record.fallback_path = attempts

    def _cost(self, attempts: Any) -> int | None:
        total = 0
        for attempt in attempts:
            if attempt.usage is None:
                continue
            cost = self.prices.cost_microusd(
                attempt.provider, attempt.model or "", attempt.usage, calls=max(attempt.calls, 1)
            )
            if cost is None:
                return None
            total += cost
        return total

    @staticmethod
    def _attempt(attempt: Any) -> dict[str, Any]:
        usage: Usage | None = attempt.usage
        return {
            "provider": attempt.provider,
            "model": attempt.model,
            "outcome": attempt.outcome,
            "error": attempt.error,
            "latency_ms": attempt.latency_ms,
            "retries": attempt.retries,
            "input_tokens": usage.input_tokens if usage else 0,
            "output_tokens": usage.output_tokens if usage else 0,
        }


ai = AIService()
