"""`ai.generate` end to end: the real OpenAI and Anthropic SDKs against the sandbox twins, with
workspace keys stored encrypted. The ledger row's exact tokens (the twins' counts) and cost (from
prices.json), retries and fallback, timeouts, the circuit breaker, JSON repair, the offline
provider, the monthly budget, and the two cache layers with their isolation per workspace.

The router is the real one with its default limits; only its sleep (recorded, not waited) and
its clock (so latencies are exactly 0 ms) are replaced, and the breakers use the same clock.
"""

import hashlib
import json
import re
import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.applications import Starlette

from flashfusion.ai import pricing
from flashfusion.ai.breaker import BreakerRegistry
from flashfusion.ai.prompts import PROMPTS
from flashfusion.ai.providers.openai_compat import strict_json_schema
from flashfusion.ai.router import Router
from flashfusion.ai.service import BudgetExhausted, ai, credential_aad
from flashfusion.ai.types import AIRequest, TaskType, Usage
from flashfusion.catalog.registry import get_catalog
from flashfusion.content import rules as platform_rules
from flashfusion.content.draft import BrandVoiceProfile, ListingBrief, ListingDraft, Platform
from flashfusion.content.writer import Written, brief_for, stream_listing, writer
from flashfusion.kit import encryption
from flashfusion.models import (
    AICacheEntry,
    AICredential,
    AIGeneration,
    AISettings,
    ListingCopy,
    ListingCopyVersion,
    Organization,
)
from flashfusion.sandbox import anthropic_api, openai_api
from flashfusion.sandbox.ai_common import AISandboxState, count_tokens, dumps, synthesize
from tests.conftest import count_rows
from tests.fixtures.objects import Tenant

# The base URLs each SDK is given: the OpenAI SDK appends `/chat/completions` to a base that
# ends in /v1 (the twin serves /v1/chat/completions); the Anthropic SDK appends `/v1/messages`
# to a bare host (the twin serves /v1/messages), as in tests/ai/providers.
BASE_URLS = {"openai": "http://openai.sandbox/v1", "anthropic": "http://anthropic.sandbox"}
OPENAI_MODEL = "gpt-5.4-nano"  # flashfusion/ai/defaults.py: OpenAI's listing_copy default
ANTHROPIC_MODEL = "claude-haiku-4-5"  # the same file: Anthropic's default
CHAT = "chat.completions"  # the twins' request counter names
MESSAGES = "messages.create"


# --- the harness (also used by tests/content) -------------------------------------------------


class Clock:
    """A monotonic clock the test moves by hand (breaker reset windows, attempt latencies)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Twins:
    """The provider twins behind `ai`, their keys, and what the router slept."""

    apps: dict[str, Starlette]
    keys: dict[str, str]
    clock: Clock
    sleeps: list[float] = field(default_factory=list)
    clients: list[httpx.AsyncClient] = field(default_factory=list)

    def state(self, provider: str) -> AISandboxState:
        state: AISandboxState = self.apps[provider].state.sandbox
        return state

    def requests(self, provider: str) -> int:
        return self.state(provider).requests[CHAT if provider == "openai" else MESSAGES]

    def reset_breakers(self) -> None:
        """A fresh registry on the service and its router (what a restart would give)."""
        breakers = BreakerRegistry(clock=self.clock)
        ai.breakers = breakers
        ai.router.breakers = breakers


def fake_key(provider: str) -> str:
    prefix = "sk-ant-test-" if provider == "anthropic" else "sk-test-"
    return prefix + secrets.token_hex(16)


@pytest.fixture
async def twins() -> AsyncIterator[Twins]:
    """OpenAI and Anthropic twins injected into the `ai` singleton through
    `ai.http_client_factory`; everything the singleton caches is reset afterwards."""
    keys = {name: fake_key(name) for name in BASE_URLS}
    apps = {
        "openai": openai_api.create_app(api_keys={keys["openai"]}),
        "anthropic": anthropic_api.create_app(api_keys={keys["anthropic"]}),
    }
    clock = Clock()
    harness = Twins(apps=apps, keys=keys, clock=clock)

    async def sleep(seconds: float) -> None:
        harness.sleeps.append(seconds)

    def factory(name: str) -> httpx.AsyncClient | None:
        app = apps.get(name)
        if app is None:
            return None
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URLS[name])
        harness.clients.append(client)
        return client

    original_router = ai.router
    breakers = BreakerRegistry(clock=clock)
    ai.breakers = breakers
    ai.router = Router(breakers, sleep=sleep, clock=clock, jitter=lambda: 0.0)
    ai.http_client_factory = factory
    ai.lru.clear()
    ai._pool.clear()
    try:
        yield harness
    finally:
        for provider in ai._pool.values():
            await provider.aclose()
        ai._pool.clear()
        ai.lru.clear()
        ai.http_client_factory = lambda name: None
        fresh = BreakerRegistry()
        ai.router = original_router
        ai.breakers = fresh
        original_router.breakers = fresh
        for client in harness.clients:
            await client.aclose()


async def add_credential(
    session: AsyncSession, organization: Organization, provider: str, key: str
) -> AICredential:
    """A workspace key for `provider`, encrypted and bound to its row, pointing at the twin."""
    row = AICredential(
        id=uuid.uuid4(),
        organization_id=organization.id,
        provider=provider,
        key_hint=key[-4:],
        base_url=BASE_URLS[provider],
    )
    row.encrypted_api_key = encryption.encrypt(key, aad=credential_aad(row))
    session.add(row)
    await session.flush()
    return row


async def set_ai_settings(
    session: AsyncSession, organization: Organization, *, chain: list[str], **values: Any
) -> AISettings:
    row = AISettings(
        organization_id=organization.id,
        chains={"listing_copy": chain},
        models={},
        plan_tier=values.pop("plan_tier", "free"),
        monthly_cap_microusd=values.pop("monthly_cap_microusd", None),
        soft_warning_percent=values.pop("soft_warning_percent", 80),
        hard_stop=values.pop("hard_stop", True),
        offline_fallback=values.pop("offline_fallback", True),
        cache_ttl_seconds=values.pop("cache_ttl_seconds", 7 * 86400),
    )
    assert not values, values
    session.add(row)
    await session.flush()
    return row


async def use_twins(
    session: AsyncSession,
    organization: Organization,
    twins: Twins,
    chain: list[str],
    **settings: Any,
) -> None:
    """Workspace keys for every real provider in `chain`, and `chain` for listing copy."""
    for name in chain:
        if name in BASE_URLS:
            await add_credential(session, organization, name, twins.keys[name])
    await set_ai_settings(session, organization, chain=chain, **settings)


# --- what the twins answer, recomputed from what they were sent ---------------------------------


def _prices() -> dict[str, Any]:
    raw: dict[str, Any] = json.loads(pricing.DEFAULT_PATH.read_text(encoding="utf-8"))
    return raw


def expected_cost(*calls: tuple[str, str, Usage]) -> int:
    """Micro-USD for each (provider, model, usage) at prices.json's per-million rates (no request
    fee for these models), summed exactly and rounded half-up once per attempt, as the table
    states; 1 USD per million tokens is 1 micro-USD per token."""
    total = 0
    for provider, model, usage in calls:
        entry = _prices()["providers"][provider]["models"][model]
        assert entry["request"] is None
        exact = usage.input_tokens * Decimal(entry["input_per_million"]) + usage.output_tokens * (
            Decimal(entry["output_per_million"])
        )
        total += int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return total


def add(*usages: Usage) -> Usage:
    return Usage(
        input_tokens=sum(u.input_tokens for u in usages),
        output_tokens=sum(u.output_tokens for u in usages),
    )


def openai_usage(body: dict[str, Any], *, truncated: bool = False) -> Usage:
    """The twin's usage for one structured chat completion: one token per word or mark of every
    message, and of the schema-shaped answer it makes from the prompt (cut in half when the
    invalid_json fault applied)."""
    texts = [message["content"] for message in body["messages"]]
    schema = body["response_format"]["json_schema"]["schema"]
    answer = dumps(synthesize(schema, "\n".join(texts)))
    if truncated:
        answer = answer[: max(1, len(answer) // 2)]
    return Usage(
        input_tokens=sum(count_tokens(text) for text in texts),
        output_tokens=count_tokens(answer),
    )


def anthropic_usage(body: dict[str, Any]) -> Usage:
    """The Anthropic twin's usage: the system text and every turn in, the answer synthesised
    from the last user turn out."""
    turns = [message["content"] for message in body["messages"]]
    schema = body["output_config"]["format"]["schema"]
    prompt = next(m["content"] for m in reversed(body["messages"]) if m["role"] == "user")
    return Usage(
        input_tokens=count_tokens(body.get("system", "")) + sum(count_tokens(t) for t in turns),
        output_tokens=count_tokens(dumps(synthesize(schema, prompt))),
    )


def chat_bodies(twins: Twins, provider: str) -> list[dict[str, Any]]:
    return list(twins.state(provider).bodies)


# --- requests -------------------------------------------------------------------------------


def listing_brief(idea: str = "Coffee first", product_type: str = "mug") -> ListingBrief:
    return brief_for(
        get_catalog(),
        idea=idea,
        product_type_key=product_type,
        platform=Platform.etsy,
        language="en",
        brand_voice=BrandVoiceProfile(),
        keywords=["coffee mug"],
        audience=None,
        occasion=None,
    )


async def write_listing(
    session: AsyncSession, tenant: Tenant, brief: ListingBrief | None = None
) -> Written:
    return await writer.write(
        session,
        organization_id=tenant.organization.id,
        user_id=tenant.owner.id,
        brief=brief or listing_brief(),
        product_id=None,
        brand_voice_id=None,
    )


async def ledger(session: AsyncSession, written: Written) -> AIGeneration:
    assert written.version.generation_id is not None
    row = await session.get(AIGeneration, written.version.generation_id)
    assert row is not None
    return row


def short_request(brief: ListingBrief, timeout_seconds: float) -> AIRequest:
    """The listing request the writer sends, with a short timeout."""
    request, _ = writer.request_for(brief, platform_rules.get_rules(brief.platform))
    return request.model_copy(update={"timeout_seconds": timeout_seconds})


def attempt(
    provider: str, model: str, outcome: str, usage: Usage | None = None, **extra: Any
) -> dict[str, Any]:
    """One fallback_path entry as the ledger stores it (latency 0: the router's clock stands)."""
    return {
        "provider": provider,
        "model": model,
        "outcome": outcome,
        "error": extra.pop("error", None),
        "latency_ms": 0,
        "retries": extra.pop("retries", 0),
        "input_tokens": usage.input_tokens if usage else 0,
        "output_tokens": usage.output_tokens if usage else 0,
    }


PROMPT_FILE = PROMPTS / "listing_copy.md"


# --- generation through OpenAI ----------------------------------------------------------------


async def test_a_listing_written_by_openai_is_priced_exactly(
    session: AsyncSession, tenant: Tenant, twins: Twins
) -> None:
    await use_twins(session, tenant.organization, twins, ["openai", "anthropic", "offline"])
    brief = listing_brief()

    written = await write_listing(session, tenant, brief)

    [body] = chat_bodies(twins, "openai")
    request, template = writer.request_for(brief, platform_rules.get_rules(brief.platform))
    # The SDK sent the writer's prompt, the default model and ListingDraft's strict schema.
    assert body["model"] == OPENAI_MODEL
    assert [(m["role"], m["content"]) for m in body["messages"]] == [
        (m.role, m.content) for m in request.messages
    ]
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {
            "name": "ListingDraft",
            "schema": strict_json_schema(ListingDraft.model_json_schema()),
            "strict": True,
        },
    }
    usage = openai_usage(body)
    assert usage.input_tokens == sum(count_tokens(m.content) for m in request.messages)
    row = await ledger(session, written)
    assert (row.provider, row.model, row.status, row.task) == (
        "openai",
        OPENAI_MODEL,
        "succeeded",
        "listing_copy",
    )
    assert (row.input_tokens, row.output_tokens, row.images) == (
        usage.input_tokens,
        usage.output_tokens,
        0,
    )
    cost = expected_cost(("openai", OPENAI_MODEL, usage))
    assert cost > 0
    assert row.cost_microusd == written.cost_microusd == cost
    assert row.price_version == _prices()["version"] == "2026.12.1"
    assert (row.prompt_name, row.prompt_version) == ("listing_copy", "1")
    assert row.prompt_sha256 == hashlib.sha256(PROMPT_FILE.read_bytes()).hexdigest()
    assert (template.name, template.version, template.sha256) == (
        "listing_copy",
        "1",
        row.prompt_sha256,
    )
    assert (row.cache_hit, row.repaired, row.error) == (False, False, None)
    assert row.fallback_path == [attempt("openai", OPENAI_MODEL, "ok", usage)]
    assert (row.organization_id, row.user_id, row.listing_copy_id) == (
        tenant.organization.id,
        tenant.owner.id,
        written.copy.id,
    )
    assert written.version.provider == "openai"
    assert twins.requests("anthropic") == 0
    assert twins.sleeps == []


async def test_the_chain_uses_the_workspace_keys_and_skips_providers_without_one(
    session: AsyncSession, tenant: Tenant, other_tenant: Tenant, twins: Twins
) -> None:
    await add_credential(session, tenant.organization, "openai", twins.keys["openai"])
    org = tenant.organization.id

    configured = await ai.configured(session, org)

    assert configured == {
        "openai": ("workspace", twins.keys["openai"], BASE_URLS["openai"]),
        "anthropic": ("none", None, None),
        "gemini": ("none", None, None),
        "xai": ("none", None, None),
        "perplexity": ("none", None, None),
        "local": ("none", None, None),
        "offline": ("built-in", None, None),
    }
    # The default chain (openai, anthropic, gemini, offline) without the keyless ones.
    steps = await ai.chain(session, org, TaskType.listing_copy)
    assert [(s.provider.name, s.breaker_key) for s in steps] == [
        ("openai", f"{org}:openai"),
        ("offline", "instance:offline"),
    ]
    # Another workspace has no key: only the offline provider.
    theirs = await ai.chain(session, other_tenant.organization.id, TaskType.listing_copy)
    assert [s.provider.name for s in theirs] == ["offline"]


async def test_a_listing_streamed_from_openai_is_saved_and_priced(
    session: AsyncSession, tenant: Tenant, twins: Twins
) -> None:
    await use_twins(session, tenant.organization, twins, ["openai", "offline"])
    brief = listing_brief()

    events = [
        event
        async for event in stream_listing(
            organization_id=tenant.organization.id,
            user_id=tenant.owner.id,
            brief=brief,
            product_id=None,
            brand_voice_id=None,
        )
    ]

    [body] = chat_bodies(twins, "openai")
    assert (body["stream"], body["stream_options"]) == (True, {"include_usage": True})
    usage = openai_usage(body)
    answer = dumps(
        synthesize(
            body["response_format"]["json_schema"]["schema"],
            "\n".join(m["content"] for m in body["messages"]),
        )
    )
    names = [name for name, _ in events]
    assert names[-1] == "done"
    assert set(names[:-1]) == {"delta"}
    assert "".join(text for _, text in events[:-1]) == answer
    copy = await session.get(ListingCopy, uuid.UUID(events[-1][1]))
    assert copy is not None
    version = (
        await session.execute(
            select(ListingCopyVersion).where(ListingCopyVersion.listing_copy_id == copy.id)
        )
    ).scalar_one()
    row = await session.get(AIGeneration, version.generation_id)
    assert row is not None
    assert (row.provider, row.model, row.input_tokens, row.output_tokens) == (
        "openai",
        OPENAI_MODEL,
        usage.input_tokens,
        usage.output_tokens,
    )
    assert row.cost_microusd == expected_cost(("openai", OPENAI_MODEL, usage))
    assert row.fallback_path == [attempt("openai", OPENAI_MODEL, "ok", usage)]
    assert version.provider == "openai"


async def test_a_rate_limit_then_server_errors_fall_back_to_anthropic(
    session: AsyncSession, tenant: Tenant, twins: Twins
) -> None:
    await use_twins(session, tenant.organization, twins, ["openai", "anthropic", "offline"])
    faults = twins.state("openai").faults
    faults.rate_limit, faults.retry_after, faults.server_error = 1, 0.0, 2

    written = await write_listing(session, tenant)

    # 429 (Retry-After 0 s: retried at once), 500 (backoff 0.5 s × 2^1 / 2, no jitter), 500:
    # two retries is the router's limit, so Anthropic answers.
    assert twins.requests("openai") == 3
    assert twins.sleeps == [0.0, 0.5]
    [body] = chat_bodies(twins, "anthropic")
    assert body["model"] == ANTHROPIC_MODEL
    usage = anthropic_usage(body)
    row = await ledger(session, written)
    assert (row.provider, row.model, row.status) == ("anthropic", ANTHROPIC_MODEL, "succeeded")
    assert (row.input_tokens, row.output_tokens) == (usage.input_tokens, usage.output_tokens)
    assert row.fallback_path == [
        attempt(
            "openai",
            OPENAI_MODEL,
            "unavailable",
            retries=2,
            error="OpenAI had a server error (HTTP 500): try again shortly or let another "
            f"provider answer. [request {_request_id(row.fallback_path[0]['error'])}]",
        ),
        attempt("anthropic", ANTHROPIC_MODEL, "ok", usage),
    ]
    # The failed OpenAI calls returned nothing to bill; Anthropic's answer is the whole cost.
    assert row.cost_microusd == expected_cost(("anthropic", ANTHROPIC_MODEL, usage))
    assert written.version.provider == "anthropic"


def _request_id(error: str) -> str:
    match = re.search(r"\[request (req_[0-9a-f]{32})\]$", error)
    assert match, error
    return match.group(1)


async def test_answers_that_were_paid_for_are_costed_even_when_the_next_provider_answers(
    session: AsyncSession, tenant: Tenant, twins: Twins
) -> None:
    await use_twins(session, tenant.organization, twins, ["openai", "anthropic", "offline"])
    faults = twins.state("openai").faults
    faults.rate_limit, faults.retry_after, faults.server_error, faults.invalid_json = 1, 0.0, 1, 2

    written = await write_listing(session, tenant)

    # 429, 500, then a broken answer and a broken repair: OpenAI billed the last two calls.
    assert twins.requests("openai") == 4
    bodies = chat_bodies(twins, "openai")
    answered = add(openai_usage(bodies[2], truncated=True), openai_usage(bodies[3], truncated=True))
    [anthropic_body] = chat_bodies(twins, "anthropic")
    answer = anthropic_usage(anthropic_body)
    row = await ledger(session, written)
    assert row.provider == "anthropic"
    [first, second] = row.fallback_path
    assert first == attempt(
        "openai", OPENAI_MODEL, "invalid_output", answered, retries=2, error=first["error"]
    )
    assert first["error"].startswith("(whole document): Invalid JSON:")
    assert second == attempt("anthropic", ANTHROPIC_MODEL, "ok", answer)
    assert row.cost_microusd == expected_cost(
        ("openai", OPENAI_MODEL, answered), ("anthropic", ANTHROPIC_MODEL, answer)
    )
    assert row.cost_microusd > expected_cost(("anthropic", ANTHROPIC_MODEL, answer))


async def test_a_provider_that_hangs_times_out_and_the_next_one_answers(
    session: AsyncSession, tenant: Tenant, twins: Twins
) -> None:
    await use_twins(session, tenant.organization, twins, ["openai", "anthropic", "offline"])
    twins.state("openai").faults.hang = 3  # every try of the first provider never answers
    brief = listing_brief()

    generation = await ai.generate(
        session,
        organization_id=tenant.organization.id,
        user_id=tenant.owner.id,
        request=short_request(brief, 0.2),
        output=ListingDraft,
    )

    assert twins.requests("openai") == 3
    # Timeouts are retried with backoff like 5xx: 0.5 s × 2^n / 2 without jitter.
    assert twins.sleeps == [0.25, 0.5]
    [body] = chat_bodies(twins, "anthropic")
    usage = anthropic_usage(body)
    row = generation.record
    assert (row.provider, row.model, row.status) == ("anthropic", ANTHROPIC_MODEL, "succeeded")
    [first, second] = row.fallback_path
    assert first == attempt("openai", OPENAI_MODEL, "timeout", retries=2, error=first["error"])
    # Whichever deadline fires first (the router's or the provider's own), it says 0.2 s.
    assert first["error"] in (
        "no answer within 0.2 s",
        "OpenAI gave no complete answer within 0.2 s: try again, allow more time, or pick a "
        "faster model.",
    )
    assert second == attempt("anthropic", ANTHROPIC_MODEL, "ok", usage)
    assert row.cost_microusd == expected_cost(("anthropic", ANTHROPIC_MODEL, usage))
    assert isinstance(generation.parsed, ListingDraft)


async def test_the_circuit_opens_after_five_failures_and_skips_the_provider(
    session: AsyncSession, tenant: Tenant, twins: Twins
) -> None:
    await use_twins(session, tenant.organization, twins, ["openai", "anthropic", "offline"])
    twins.state("openai").faults.server_error = 1000
    org = tenant.organization.id

    first = await write_listing(session, tenant, listing_brief("Coffee first"))
    assert twins.requests("openai") == 3  # one try and two retries
    second = await write_listing(session, tenant, listing_brief("Tea time"))
    # The fifth failure in a row opens the circuit: the router stops retrying at once.
    assert twins.requests("openai") == 5
    assert ai.breakers.snapshot() == {f"{org}:anthropic": "closed", f"{org}:openai": "open"}
    third = await write_listing(session, tenant, listing_brief("Plant mom"))

    # The sixth request never reached OpenAI.
    assert twins.requests("openai") == 5
    assert twins.requests("anthropic") == 3
    rows = [await ledger(session, w) for w in (first, second, third)]
    assert [r.provider for r in rows] == ["anthropic"] * 3
    assert [(a["outcome"], a["retries"]) for a in rows[1].fallback_path] == [
        ("unavailable", 1),
        ("ok", 0),
    ]
    assert rows[1].fallback_path[0]["error"].endswith(" (its circuit is now open)")
    assert rows[2].fallback_path[0] == attempt(
        "openai",
        OPENAI_MODEL,
        "circuit_open",
        error="5 failures in a row; it is tried again in 30 s",
    )
    # After the reset window one trial call goes through; its success closes the circuit.
    twins.state("openai").faults.server_error = 0
    twins.clock.advance(30)
    assert ai.breakers.snapshot()[f"{org}:openai"] == "half_open"
    fourth = await write_listing(session, tenant, listing_brief("Dog dad"))
    assert (await ledger(session, fourth)).provider == "openai"
    assert twins.requests("openai") == 6
    assert ai.breakers.snapshot()[f"{org}:openai"] == "closed"


async def test_invalid_json_is_repaired_on_the_same_provider(
    session: AsyncSession, tenant: Tenant, twins: Twins
) -> None:
    await use_twins(session, tenant.organization, twins, ["openai", "anthropic", "offline"])
    twins.state("openai").faults.invalid_json = 1

    written = await write_listing(session, tenant)

    first, repair = chat_bodies(twins, "openai")
    first_answer = dumps(
        synthesize(
            first["response_format"]["json_schema"]["schema"],
            "\n".join(m["content"] for m in first["messages"]),
        )
    )
    broken = first_answer[: len(first_answer) // 2]
    # The repair round replays the conversation with the broken answer and what is wrong.
    assert repair["messages"][: len(first["messages"])] == first["messages"]
    assert repair["messages"][len(first["messages"])] == {"role": "assistant", "content": broken}
    assert repair["messages"][-1]["role"] == "user"
    assert repair["messages"][-1]["content"].startswith(
        "Your previous answer is not valid JSON for the ListingDraft schema: "
        "(whole document): Invalid JSON:"
    )
    assert repair["messages"][-1]["content"].endswith(
        "Reply with only the corrected JSON document that matches the schema: no explanation "
        "and no code fences."
    )
    usage = add(openai_usage(first, truncated=True), openai_usage(repair))
    row = await ledger(session, written)
    assert (row.provider, row.repaired, row.status) == ("openai", True, "succeeded")
    # The row records the answer that was used; the cost covers both calls.
    assert (row.input_tokens, row.output_tokens) == (
        openai_usage(repair).input_tokens,
        openai_usage(repair).output_tokens,
    )
    assert row.fallback_path == [attempt("openai", OPENAI_MODEL, "ok", usage)]
    assert row.cost_microusd == expected_cost(("openai", OPENAI_MODEL, usage))
    assert twins.requests("anthropic") == 0


async def test_when_every_real_provider_fails_the_offline_provider_answers(
    session: AsyncSession, tenant: Tenant, twins: Twins
) -> None:
    await use_twins(session, tenant.organization, twins, ["openai", "anthropic", "offline"])
    twins.state("openai").faults.server_error = 3
    twins.state("anthropic").faults.server_error = 3

    written = await write_listing(session, tenant)

    assert (twins.requests("openai"), twins.requests("anthropic")) == (3, 3)
    row = await ledger(session, written)
    assert (row.provider, row.model, row.status) == ("offline", "offline-composer-1", "succeeded")
    assert (row.input_tokens, row.output_tokens, row.cost_microusd) == (0, 0, 0)
    assert [(a["provider"], a["outcome"], a["retries"]) for a in row.fallback_path] == [
        ("openai", "unavailable", 2),
        ("anthropic", "unavailable", 2),
        ("offline", "ok", 0),
    ]
    assert row.fallback_path[1]["error"] == (
        "Anthropic is unavailable (500 api_error): Internal server error; retry shortly or use "
        "another provider"
    )
    assert written.version.provider == "offline"
    # An offline draft is not cached: once a provider is back, it should write the copy.
    assert await cache_rows(session, tenant.organization) == 0


async def cache_rows(session: AsyncSession, organization: Organization) -> int:
    result = await session.execute(
        select(func.count())
        .select_from(AICacheEntry)
        .where(AICacheEntry.organization_id == organization.id)
    )
    return int(result.scalar_one())


# --- the monthly budget -------------------------------------------------------------------------


async def spend(session: AsyncSession, organization: Organization, microusd: int) -> None:
    """A ledger row of this month that cost `microusd`."""
    session.add(
        AIGeneration(
            organization_id=organization.id,
            task="listing_copy",
            provider="openai",
            model=OPENAI_MODEL,
            status="succeeded",
            input_tokens=1,
            output_tokens=1,
            cost_microusd=microusd,
            price_version="2026.12.1",
            fallback_path=[],
        )
    )
    await session.flush()


async def test_a_used_up_budget_with_a_hard_stop_refuses_without_calling_anyone(
    session: AsyncSession, tenant: Tenant, twins: Twins
) -> None:
    await use_twins(
        session,
        tenant.organization,
        twins,
        ["openai", "anthropic"],
        monthly_cap_microusd=5000,
        hard_stop=True,
        offline_fallback=False,
    )
    await spend(session, tenant.organization, 5000)
    before = await count_rows(session, "ai_generations")
    brief = listing_brief()

    with pytest.raises(BudgetExhausted) as refused:
        await ai.generate(
            session,
            organization_id=tenant.organization.id,
            user_id=tenant.owner.id,
            request=short_request(brief, 60),
            output=ListingDraft,
        )

    assert refused.value.status_code == 402
    assert refused.value.detail == (
        "This month's AI budget of $0.0050 is used up ($0.0050 spent). Raise the budget in AI "
        "settings to generate more this month."
    )
    assert (twins.requests("openai"), twins.requests("anthropic")) == (0, 0)
    assert await count_rows(session, "ai_generations") == before


async def test_a_used_up_budget_falls_back_to_offline_with_a_warning(
    session: AsyncSession, tenant: Tenant, twins: Twins
) -> None:
    await use_twins(
        session,
        tenant.organization,
        twins,
        ["openai", "anthropic", "offline"],
        monthly_cap_microusd=5000,
        hard_stop=True,
        offline_fallback=True,
    )
    await spend(session, tenant.organization, 6000)
    # Last month's spending does not count toward this month's cap.
    session.add(
        AIGeneration(
            organization_id=tenant.organization.id,
            task="listing_copy",
            provider="openai",
            model=OPENAI_MODEL,
            status="succeeded",
            cost_microusd=10**9,
            price_version="2026.12.1",
            fallback_path=[],
            created_at=datetime.now(UTC).replace(day=1) - timedelta(days=1),
        )
    )
    await session.flush()

    written = await write_listing(session, tenant)

    assert (twins.requests("openai"), twins.requests("anthropic")) == (0, 0)
    assert written.budget_warning == (
        "This month's AI budget of $0.0050 is used up ($0.0060 spent). Copy is written by the "
        "offline provider until next month; raise the budget in AI settings to use your AI "
        "providers again."
    )
    row = await ledger(session, written)
    assert (row.provider, row.cost_microusd, row.cache_hit) == ("offline", 0, False)
    assert row.fallback_path == [attempt("offline", "offline-composer-1", "ok", Usage())]
    assert written.copy.status.value == "ready"


async def test_the_soft_warning_comes_with_an_answer_from_the_paid_provider(
    session: AsyncSession, tenant: Tenant, twins: Twins
) -> None:
    await use_twins(
        session,
        tenant.organization,
        twins,
        ["openai", "offline"],
        monthly_cap_microusd=1_000_000,
        soft_warning_percent=80,
    )
    await spend(session, tenant.organization, 850_000)

    written = await write_listing(session, tenant)

    assert twins.requests("openai") == 1
    assert (await ledger(session, written)).provider == "openai"
    assert written.budget_warning == (
        "85% of this month's AI budget of $1.00 is used ($0.8500 spent)."
    )


# --- the cache ------------------------------------------------------------------------------


def cache_lookups(metrics: str) -> dict[tuple[str, str], float]:
    """flashfusion_ai_cache_lookups_total samples from a /metrics page, by (layer, result)."""
    found = {}
    for layer, result, value in re.findall(
        r'^flashfusion_ai_cache_lookups_total\{layer="(\w+)",result="(\w+)"\} (\S+)$',
        metrics,
        re.MULTILINE,
    ):
        found[(layer, result)] = float(value)
    return found


async def test_the_cache_answers_repeats_per_workspace_from_memory_then_the_database(
    client: httpx.AsyncClient,
    session: AsyncSession,
    tenant: Tenant,
    other_tenant: Tenant,
    twins: Twins,
) -> None:
    await use_twins(session, tenant.organization, twins, ["openai", "offline"])
    before = cache_lookups((await client.get("/metrics")).text)
    brief = listing_brief()

    first = await write_listing(session, tenant, brief)
    assert twins.requests("openai") == 1
    original = await ledger(session, first)
    assert await cache_rows(session, tenant.organization) == 1

    # The same request again: answered from memory, free, without a provider request.
    second = await write_listing(session, tenant, brief)
    assert twins.requests("openai") == 1
    hit = await ledger(session, second)
    assert (second.cache_hit, hit.cache_hit, hit.cost_microusd, second.cost_microusd) == (
        True,
        True,
        0,
        0,
    )
    assert (hit.provider, hit.model) == ("openai", OPENAI_MODEL)
    assert hit.fallback_path == [{"provider": "openai", "outcome": "cache_memory"}]
    assert second.version.fields == first.version.fields
    assert (second.copy.id, second.version.version) == (first.copy.id, 2)

    # Another workspace asking exactly the same never sees the first one's answer.
    twins.state("openai").api_keys.add(other_key := fake_key("openai"))
    await add_credential(session, other_tenant.organization, "openai", other_key)
    await set_ai_settings(session, other_tenant.organization, chain=["openai", "offline"])
    elsewhere = await write_listing(session, other_tenant, brief)
    assert twins.requests("openai") == 2
    assert (elsewhere.cache_hit, (await ledger(session, elsewhere)).cost_microusd) == (
        False,
        original.cost_microusd,
    )

    # With the memory layer gone (a restart), the database layer answers.
    ai.lru.clear()
    third = await write_listing(session, tenant, brief)
    assert twins.requests("openai") == 2
    persistent = await ledger(session, third)
    assert (third.cache_hit, persistent.cost_microusd) == (True, 0)
    assert persistent.fallback_path == [{"provider": "openai", "outcome": "cache_persistent"}]
    assert third.version.fields == first.version.fields
    entry = (
        await session.execute(
            select(AICacheEntry).where(AICacheEntry.organization_id == tenant.organization.id)
        )
    ).scalar_one()
    assert (entry.task, entry.response["provider"], entry.response["usage"]) == (
        "listing_copy",
        "openai",
        {
            "input_tokens": original.input_tokens,
            "output_tokens": original.output_tokens,
            "images": 0,
        },
    )

    after = cache_lookups((await client.get("/metrics")).text)
    delta = {key: after.get(key, 0.0) - before.get(key, 0.0) for key in after}
    # Four lookups: miss+miss, memory hit, miss+miss (the other workspace), miss+persistent hit.
    assert delta == {
        ("memory", "hit"): 1.0,
        ("memory", "miss"): 3.0,
        ("persistent", "hit"): 1.0,
        ("persistent", "miss"): 2.0,
    }


async def test_an_expired_cache_entry_is_not_used(
    session: AsyncSession, tenant: Tenant, twins: Twins
) -> None:
    await use_twins(session, tenant.organization, twins, ["openai", "offline"])
    brief = listing_brief()
    await write_listing(session, tenant, brief)
    entry = (
        await session.execute(
            select(AICacheEntry).where(AICacheEntry.organization_id == tenant.organization.id)
        )
    ).scalar_one()
    entry.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    await session.flush()
    ai.lru.clear()

    again = await write_listing(session, tenant, brief)

    assert again.cache_hit is False
    assert twins.requests("openai") == 2


async def test_many_requests_are_looked_up_in_one_read_per_workspace(
    session: AsyncSession, tenant: Tenant, other_tenant: Tenant, twins: Twins
) -> None:
    """`lookup_many` (batch generation) finds what `lookup` finds: the database layer after a
    restart, a key asked for twice answered twice with copies of its own, and nothing of another
    workspace's answers."""
    await use_twins(session, tenant.organization, twins, ["openai", "offline"])
    await use_twins(session, other_tenant.organization, twins, ["offline"])
    first = await write_listing(session, tenant)
    ai.lru.clear()
    request, template = writer.request_for(listing_brief(), platform_rules.get_rules(Platform.etsy))
    other_request, _ = writer.request_for(
        listing_brief("Tea first"), platform_rules.get_rules(Platform.etsy)
    )

    async def prepared_for(workspace: Tenant, the_request: AIRequest) -> Any:
        resolved = await ai.resolve(session, workspace.organization.id, TaskType.listing_copy)
        return ai.prepared(
            resolved,
            organization_id=workspace.organization.id,
            user_id=workspace.owner.id,
            request=the_request,
            output=ListingDraft,
            prompt=template,
            product_id=None,
            listing_copy_id=None,
            use_cache=True,
        )

    same, twice, unknown = [
        await prepared_for(tenant, r) for r in (request, request, other_request)
    ]
    elsewhere = await prepared_for(other_tenant, request)

    await ai.lookup_many(session, [same, twice, unknown, elsewhere])

    assert same.cached is not None
    assert twice.cached is not None
    assert (same.cached[1], twice.cached[1]) == ("persistent", "persistent")
    assert same.cached[0] == twice.cached[0]
    assert same.cached[0] is not twice.cached[0]
    parsed = same.cached[2]
    assert isinstance(parsed, ListingDraft)
    assert first.version.fields == writer_fields(parsed, listing_brief())
    assert (unknown.cached, elsewhere.cached) == (None, None)
    # Now in memory: without a session, the memory layer alone answers.
    again = await prepared_for(tenant, request)
    await ai.lookup_many(None, [again])
    assert again.cached is not None
    assert again.cached[1] == "memory"
    assert twins.requests("openai") == 1


def writer_fields(draft: ListingDraft, brief: ListingBrief) -> dict[str, Any]:
    from flashfusion.content.writer import check

    return check(draft, brief, platform_rules.get_rules(brief.platform)).draft.model_dump()


async def test_settle_then_record_many_writes_the_row_finish_writes(
    session: AsyncSession, tenant: Tenant, twins: Twins
) -> None:
    await use_twins(session, tenant.organization, twins, ["openai"])
    request, template = writer.request_for(listing_brief(), platform_rules.get_rules(Platform.etsy))
    rows = []
    for bulk in (False, True):
        ai.lru.clear()
        prepared = await ai.prepare(
            session,
            organization_id=tenant.organization.id,
            user_id=tenant.owner.id,
            request=request,
            output=ListingDraft,
            prompt=template,
            use_cache=False,
        )
        result, failure = await ai.call(prepared)
        if bulk:
            settled = ai.settle(prepared, result, failure)
            await ai.record_many(session, [(prepared, settled)])
            record_id = settled.record.id
        else:
            record_id = (await ai.finish(session, prepared, result, failure)).record.id
        row = await session.get(AIGeneration, record_id, populate_existing=True)
        assert row is not None
        rows.append(
            {
                c.key: getattr(row, c.key)
                for c in AIGeneration.__table__.columns
                # The call's own wall time (the router's clock is the test's, this one is not).
                if c.key not in ("id", "created_at", "latency_ms")
            }
        )
    assert rows[0] == rows[1]
    assert rows[0]["status"] == "succeeded"
    assert rows[0]["cost_microusd"] > 0
