"""AI settings over the API: provider chains, model overrides, budget and cache (admins change
them, editors read them); the workspace's provider keys (stored encrypted, never returned, never
in the audit log); the cost ledger and what it adds up to."""

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.ai import budget
from flashfusion.ai.defaults import DEFAULT_CHAINS
from flashfusion.ai.service import ai as ai_service
from flashfusion.ai.service import credential_aad
from flashfusion.auth.scope import Scope
from flashfusion.kit import encryption
from flashfusion.models import AICredential, AISettings, AuditEvent, Role
from tests.conftest import count_rows
from tests.content.test_endpoints import (
    API,
    assert_refused,
    assert_role_refused,
    audit_events,
    create_generation,
    create_listing_copy,
    headers,
    iso,
)
from tests.fixtures.objects import Tenant
from tests.fixtures.studio import create_design, create_product

READ, WRITE = Scope.ai_read, Scope.ai_write
DEFAULT_EFFECTIVE = {task.value: chain for task, chain in DEFAULT_CHAINS.items()}
NO_KEYS = [
    {"provider": "openai", "label": "OpenAI", "source": "none", "key_hint": None, "base_url": None},
    {
        "provider": "anthropic",
        "label": "Anthropic",
        "source": "none",
        "key_hint": None,
        "base_url": None,
    },
    {
        "provider": "gemini",
        "label": "Google Gemini",
        "source": "none",
        "key_hint": None,
        "base_url": None,
    },
    {"provider": "xai", "label": "xAI Grok", "source": "none", "key_hint": None, "base_url": None},
    {
        "provider": "perplexity",
        "label": "Perplexity",
        "source": "none",
        "key_hint": None,
        "base_url": None,
    },
    {
        "provider": "local",
        "label": "Local model (OpenAI-compatible server)",
        "source": "none",
        "key_hint": None,
        "base_url": None,
    },
    {
        "provider": "offline",
        "label": "Offline (built in)",
        "source": "built-in",
        "key_hint": None,
        "base_url": None,
    },
]


def fake_key(prefix: str = "sk-test-") -> str:
    # Obviously fake and different every run: found anywhere it must not be means a leak.
    return f"{prefix}{uuid.uuid4().hex}{uuid.uuid4().hex[:6]}"


def defaults_body(tenant: Tenant) -> dict[str, Any]:
    return {
        "organization_id": str(tenant.organization.id),
        "chains": {},
        "effective_chains": DEFAULT_EFFECTIVE,
        "models": {},
        "plan_tier": "free",
        "monthly_cap_microusd": None,
        "cap_microusd": 2_000_000,
        "soft_warning_percent": 80,
        "hard_stop": True,
        "offline_fallback": True,
        "cache_ttl_seconds": 7 * 86400,
        "modified_at": None,
    }


async def stored_settings(session: AsyncSession, tenant: Tenant) -> AISettings | None:
    result = await session.execute(
        select(AISettings)
        .where(AISettings.organization_id == tenant.organization.id)
        .execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


async def credential_of(
    session: AsyncSession, tenant: Tenant, provider: str
) -> AICredential | None:
    result = await session.execute(
        select(AICredential)
        .where(
            AICredential.organization_id == tenant.organization.id,
            AICredential.provider == provider,
        )
        .execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


# --- settings -----------------------------------------------------------------------------


async def test_settings_start_as_the_defaults_and_admins_change_them(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, other_tenant: Tenant
) -> None:
    url = f"{API}/ai/settings"
    own = {"organization_id": str(tenant.organization.id)}
    await assert_refused(
        client, session, tenant, other_tenant, "GET", url, scope=READ, foreign={"params": own}
    )
    await assert_role_refused(client, session, tenant, Role.viewer, "GET", url)
    response = await client.get(url, headers=headers(tenant, Role.editor))
    assert response.status_code == 200, response.text
    assert response.json() == defaults_body(tenant)
    # Reading stores nothing: the defaults are not a row.
    assert await stored_settings(session, tenant) is None

    change = {
        "chains": {"listing_copy": ["anthropic", "offline"], "research": ["perplexity"]},
        "models": {"anthropic": {"listing_copy": " claude-sonnet-5-5 "}},
        "monthly_cap_microusd": 5_000_000,
        "soft_warning_percent": 50,
        "cache_ttl_seconds": 3600,
    }
    await assert_refused(
        client,
        session,
        tenant,
        other_tenant,
        "PATCH",
        url,
        scope=WRITE,
        json=change,
        foreign={"params": own},
    )
    await assert_role_refused(client, session, tenant, Role.editor, "PATCH", url, json=change)
    assert await count_rows(session, "ai_settings") == 0

    response = await client.patch(url, json=change, headers=headers(tenant, Role.admin))
    assert response.status_code == 200, response.text
    row = await stored_settings(session, tenant)
    assert row is not None
    assert response.json() == {
        **defaults_body(tenant),
        "chains": {"listing_copy": ["anthropic", "offline"], "research": ["perplexity"]},
        "effective_chains": {
            **DEFAULT_EFFECTIVE,
            "listing_copy": ["anthropic", "offline"],
            "research": ["perplexity"],
        },
        "models": {"anthropic": {"listing_copy": "claude-sonnet-5-5"}},
        "monthly_cap_microusd": 5_000_000,
        "cap_microusd": 5_000_000,
        "soft_warning_percent": 50,
        "cache_ttl_seconds": 3600,
        "modified_at": iso(row.modified_at),
    }
    assert (row.plan_tier, row.hard_stop, row.offline_fallback) == ("free", True, True)
    assert row.models == {"anthropic": {"listing_copy": "claude-sonnet-5-5"}}
    [event] = await audit_events(session, tenant.organization.id, "ai.settings_updated")
    assert event.details == {
        "chains": {"listing_copy": ["anthropic", "offline"], "research": ["perplexity"]},
        "models": {"anthropic": {"listing_copy": "claude-sonnet-5-5"}},
        "monthly_cap_microusd": 5_000_000,
        "soft_warning_percent": 50,
        "cache_ttl_seconds": 3600,
    }
    # The service the generators use reads the same row.
    assert (await ai_service.settings_for(session, tenant.organization.id)).id == row.id

    # Fields left out stay; null gives the plan tier's cap back; another tier, another cap.
    response = await client.patch(
        url,
        json={"monthly_cap_microusd": None, "plan_tier": "creator", "hard_stop": False},
        headers=headers(tenant, Role.owner),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["monthly_cap_microusd"], body["cap_microusd"], body["plan_tier"]) == (
        None,
        budget.PLAN_MONTHLY_CAP_MICROUSD["creator"],
        "creator",
    )
    assert body["cap_microusd"] == 20_000_000
    assert (body["hard_stop"], body["soft_warning_percent"]) == (False, 50)
    assert body["chains"]["listing_copy"] == ["anthropic", "offline"]
    assert await count_rows(session, "ai_settings") == 1

    # {} returns every task to the default chain.
    response = await client.patch(url, json={"chains": {}}, headers=headers(tenant, Role.owner))
    assert (response.json()["chains"], response.json()["effective_chains"]) == (
        {},
        DEFAULT_EFFECTIVE,
    )


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        (
            {"chains": {"listing_copy": ["openai", "mistral"]}},
            "chains.listing_copy: 'mistral' is not a provider; use one of openai, anthropic, "
            "gemini, xai, perplexity, local, offline.",
        ),
        (
            {"chains": {"poetry": ["openai"]}},
            "chains: 'poetry' is not a task type; use one of image, listing_copy, moderation, "
            "research, script, translation.",
        ),
        (
            {"chains": {"script": ["openai", "offline", "openai"]}},
            "chains.script: openai appears more than once.",
        ),
        (
            {"chains": {"translation": []}},
            "chains.translation: give 1 to 7 providers (got 0); leave the task out",
        ),
        (
            {"chains": {"translation": ["openai"] * 8}},
            "chains.translation: give 1 to 7 providers (got 8)",
        ),
        (
            {"models": {"cohere": {"listing_copy": "command"}}},
            "models: 'cohere' is not a provider",
        ),
        (
            {"models": {"openai": {"listing_copy": "  "}}},
            "models.openai.listing_copy: is empty; name a model or leave the task out.",
        ),
        ({"models": {"openai": {"haiku": "gpt"}}}, "models.openai: 'haiku' is not a task type"),
        (
            {"plan_tier": "platinum"},
            "plan_tier: 'platinum' is not a plan tier; use one of free, creator, pro, business.",
        ),
        (
            {"monthly_cap_microusd": -1},
            "monthly_cap_microusd: must be 0 or more (micro-USD); send null to use the plan "
            "tier's cap.",
        ),
        ({"soft_warning_percent": 0}, "soft_warning_percent: choose a percentage from 1 to 100."),
        ({"soft_warning_percent": 101}, "soft_warning_percent: choose a percentage from 1 to 100."),
        (
            {"cache_ttl_seconds": 30 * 86400 + 1},
            "cache_ttl_seconds: choose 0 (no cache) to 2592000 seconds (30 days).",
        ),
        ({"cache_ttl_seconds": -5}, "cache_ttl_seconds: choose 0 (no cache) to 2592000"),
        ({"hard_stop": None}, "hard_stop: send true or false."),
        ({"hard_stop": "yes"}, "hard_stop: Input should be a valid boolean"),
    ],
    ids=[
        "unknown provider",
        "unknown task",
        "duplicate provider",
        "empty chain",
        "long chain",
        "unknown model provider",
        "empty model",
        "unknown model task",
        "unknown tier",
        "negative cap",
        "zero warning",
        "warning over 100",
        "ttl over 30 days",
        "negative ttl",
        "null flag",
        "string flag",
    ],
)
async def test_bad_settings_save_nothing(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, change: Any, detail: str
) -> None:
    response = await client.patch(
        f"{API}/ai/settings", json=change, headers=headers(tenant, Role.owner)
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"].startswith(detail), response.json()["detail"]
    assert await count_rows(session, "ai_settings") == 0
    assert await audit_events(session, tenant.organization.id, "ai.settings_updated") == []


# --- provider keys ------------------------------------------------------------------------


async def test_a_key_is_stored_encrypted_and_never_shown(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, other_tenant: Tenant
) -> None:
    own = {"organization_id": str(tenant.organization.id)}
    url = f"{API}/ai/credentials"
    await assert_refused(
        client, session, tenant, other_tenant, "GET", url, scope=READ, foreign={"params": own}
    )
    await assert_role_refused(client, session, tenant, Role.viewer, "GET", url)
    response = await client.get(url, headers=headers(tenant, Role.editor))
    assert response.status_code == 200, response.text
    assert response.json() == NO_KEYS

    key = fake_key()
    put = f"{API}/ai/credentials/openai"
    body = {"api_key": key, "base_url": "https://llm-proxy.example.com/v1/"}
    await assert_refused(
        client,
        session,
        tenant,
        other_tenant,
        "PUT",
        put,
        scope=WRITE,
        json=body,
        foreign={"params": own},
    )
    await assert_role_refused(client, session, tenant, Role.editor, "PUT", put, json=body)
    assert await count_rows(session, "ai_credentials") == 0

    response = await client.put(put, json=body, headers=headers(tenant, Role.admin))
    assert response.status_code == 200, response.text
    status = {
        "provider": "openai",
        "label": "OpenAI",
        "source": "workspace",
        "key_hint": key[-4:],
        "base_url": "https://llm-proxy.example.com/v1",
    }
    assert response.json() == status
    assert key not in response.text

    row = await credential_of(session, tenant, "openai")
    assert row is not None
    assert row.encrypted_api_key is not None
    assert key.encode() not in row.encrypted_api_key
    assert (row.key_hint, row.created_by_user_id) == (key[-4:], tenant.users[Role.admin].id)
    # Bound to its row: it decrypts only with this row's id.
    assert encryption.decrypt(row.encrypted_api_key, aad=credential_aad(row)) == key
    moved = AICredential(id=uuid.uuid4())
    with pytest.raises(encryption.DecryptionError):
        encryption.decrypt(row.encrypted_api_key, aad=credential_aad(moved))
    # Nowhere in the table in the clear, in any column.
    raw = (await session.execute(text("SELECT * FROM ai_credentials"))).all()
    assert key not in repr(raw)
    # The generators get the key back from the service.
    configured = await ai_service.configured(session, tenant.organization.id)
    assert configured["openai"] == ("workspace", key, "https://llm-proxy.example.com/v1")

    listed = await client.get(url, headers=headers(tenant, Role.editor))
    assert listed.json() == [status, *NO_KEYS[1:]]
    assert key not in listed.text

    # A new key replaces the old one in the same row.
    second = fake_key()
    response = await client.put(put, json={"api_key": second}, headers=headers(tenant, Role.owner))
    assert response.json() == {**status, "key_hint": second[-4:], "base_url": None}
    replaced = await credential_of(session, tenant, "openai")
    assert replaced is not None
    assert replaced.id == row.id
    assert replaced.encrypted_api_key is not None
    assert encryption.decrypt(replaced.encrypted_api_key, aad=credential_aad(replaced)) == second

    # A local server needs only its address.
    response = await client.put(
        f"{API}/ai/credentials/local",
        json={"base_url": "http://127.0.0.1:11434/v1"},
        headers=headers(tenant, Role.owner),
    )
    assert response.json() == {
        "provider": "local",
        "label": "Local model (OpenAI-compatible server)",
        "source": "workspace",
        "key_hint": None,
        "base_url": "http://127.0.0.1:11434/v1",
    }

    events = await audit_events(session, tenant.organization.id, "ai.credential_set")
    assert [e.details for e in events] == [
        {"provider": "openai", "key_hint": key[-4:]},
        {"provider": "openai", "key_hint": second[-4:]},
        {"provider": "local", "key_hint": None},
    ]
    everything = (await session.execute(select(AuditEvent))).scalars().all()
    logged = json.dumps([(e.details, e.target_id, e.actor_label) for e in everything])
    assert key not in logged
    assert second not in logged


@pytest.mark.parametrize(
    ("provider", "body", "detail"),
    [
        (
            "openai",
            {"api_key": fake_key(), "base_url": "ftp://files.example.com"},
            "base_url: must be an http:// or https:// URL with a host",
        ),
        ("openai", {"api_key": fake_key(), "base_url": "https://"}, "base_url: must be an http"),
        (
            "openai",
            {"api_key": fake_key(), "base_url": "https://user:pw@example.com"},
            "base_url: must not contain a user name or password",
        ),
        (
            "mistral",
            {"api_key": fake_key()},
            "provider: 'mistral' is not a provider; use one of openai, anthropic, gemini, xai, "
            "perplexity, local, offline.",
        ),
        ("offline", {"api_key": fake_key()}, "provider: the offline provider is built in"),
        ("anthropic", {"api_key": "  "}, "api_key: is empty; paste the Anthropic key."),
        ("anthropic", {}, "api_key: is empty; paste the Anthropic key."),
        ("gemini", {"api_key": "abc def ghi jkl"}, "api_key: contains spaces or line breaks"),
        ("xai", {"api_key": "short"}, "api_key: is 5 characters; provider keys are 8 to 500."),
        ("openai", {"api_key": 12345678}, "api_key: Input should be a valid string"),
    ],
    ids=[
        "ftp url",
        "no host",
        "credentials in url",
        "unknown provider",
        "offline",
        "blank key",
        "no key",
        "key with spaces",
        "short key",
        "number",
    ],
)
async def test_a_bad_key_saves_nothing(
    client: httpx.AsyncClient,
    session: AsyncSession,
    tenant: Tenant,
    provider: str,
    body: dict[str, Any],
    detail: str,
) -> None:
    response = await client.put(
        f"{API}/ai/credentials/{provider}", json=body, headers=headers(tenant, Role.owner)
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"].startswith(detail), response.json()["detail"]
    assert await count_rows(session, "ai_credentials") == 0
    assert await audit_events(session, tenant.organization.id, "ai.credential_set") == []


async def test_deleting_a_key_removes_it(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, other_tenant: Tenant
) -> None:
    key = fake_key("sk-ant-test-")
    response = await client.put(
        f"{API}/ai/credentials/anthropic",
        json={"api_key": key},
        headers=headers(tenant, Role.owner),
    )
    assert response.status_code == 200, response.text
    url = f"{API}/ai/credentials/anthropic"
    own = {"organization_id": str(tenant.organization.id)}
    await assert_refused(
        client, session, tenant, other_tenant, "DELETE", url, scope=WRITE, foreign={"params": own}
    )
    await assert_role_refused(client, session, tenant, Role.editor, "DELETE", url)
    assert await credential_of(session, tenant, "anthropic") is not None

    response = await client.delete(url, headers=headers(tenant, Role.admin))
    assert response.status_code == 200, response.text
    assert response.json() == NO_KEYS[1]
    # Deleted for real: no ciphertext is left behind.
    assert await count_rows(session, "ai_credentials") == 0
    [event] = await audit_events(session, tenant.organization.id, "ai.credential_deleted")
    assert event.details == {"provider": "anthropic"}

    # Deleting what is not there changes nothing and logs nothing.
    again = await client.delete(url, headers=headers(tenant, Role.admin))
    assert again.json() == NO_KEYS[1]
    assert len(await audit_events(session, tenant.organization.id, "ai.credential_deleted")) == 1
    unknown = await client.delete(
        f"{API}/ai/credentials/mistral", headers=headers(tenant, Role.admin)
    )
    assert unknown.status_code == 422
    assert unknown.json()["detail"].startswith("provider: 'mistral' is not a provider")


# --- the ledger ---------------------------------------------------------------------------


def generation_body(row: Any) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "created_at": iso(row.created_at),
        "modified_at": iso(row.modified_at),
        "organization_id": str(row.organization_id),
        "user_id": str(row.user_id) if row.user_id else None,
        "task": row.task,
        "provider": row.provider,
        "model": row.model,
        "status": row.status,
        "input_tokens": row.input_tokens,
        "output_tokens": row.output_tokens,
        "images": row.images,
        "cost_microusd": row.cost_microusd,
        "price_version": row.price_version,
        "latency_ms": row.latency_ms,
        "cache_hit": row.cache_hit,
        "fallback_path": row.fallback_path,
        "repaired": row.repaired,
        "prompt_name": row.prompt_name,
        "prompt_version": row.prompt_version,
        "prompt_sha256": row.prompt_sha256,
        "product_id": str(row.product_id) if row.product_id else None,
        "listing_copy_id": str(row.listing_copy_id) if row.listing_copy_id else None,
        "error": row.error,
    }


async def test_the_ledger_lists_and_filters_generations(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, other_tenant: Tenant
) -> None:
    org = tenant.organization
    old = await create_generation(
        session, org, provider="openai", model="gpt-5.4-nano", cost_microusd=900
    )
    old.created_at = datetime.now(UTC) - timedelta(minutes=5)
    new = await create_generation(
        session,
        org,
        task="translation",
        provider="anthropic",
        model="claude-haiku-4-5",
        input_tokens=1200,
        output_tokens=400,
        cost_microusd=3200,
        user_id=tenant.users[Role.editor].id,
        error=None,
    )
    theirs = await create_generation(session, other_tenant.organization, provider="openai")
    await session.flush()

    url = f"{API}/ai/generations"
    own = {"organization_id": str(org.id)}
    await assert_refused(
        client, session, tenant, other_tenant, "GET", url, scope=READ, foreign={"params": own}
    )
    await assert_role_refused(client, session, tenant, Role.viewer, "GET", url)
    response = await client.get(url, headers=headers(tenant, Role.editor))
    assert response.status_code == 200, response.text
    assert response.json() == {
        "items": [generation_body(new), generation_body(old)],
        "pagination": {"total_count": 2, "max_page": 1},
    }
    only = await client.get(
        url, params={"provider": "openai"}, headers=headers(tenant, Role.editor)
    )
    assert [i["id"] for i in only.json()["items"]] == [str(old.id)]
    only = await client.get(
        url, params={"task": "translation"}, headers=headers(tenant, Role.editor)
    )
    assert [i["id"] for i in only.json()["items"]] == [str(new.id)]
    paged = await client.get(
        url, params={"limit": 1, "page": 2}, headers=headers(tenant, Role.editor)
    )
    assert paged.json() == {
        "items": [generation_body(old)],
        "pagination": {"total_count": 2, "max_page": 2},
    }

    one = f"{API}/ai/generations/{new.id}"
    await assert_refused(client, session, tenant, other_tenant, "GET", one, scope=READ)
    await assert_role_refused(client, session, tenant, Role.viewer, "GET", one)
    response = await client.get(one, headers=headers(tenant, Role.editor))
    assert response.json() == generation_body(new)
    foreign = await client.get(
        f"{API}/ai/generations/{theirs.id}", headers=headers(tenant, Role.owner)
    )
    assert foreign.status_code == 404


async def test_costs_add_up_the_ledger_and_show_the_budget(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, other_tenant: Tenant
) -> None:
    org = tenant.organization
    design, version = await create_design(session, org)
    product = await create_product(session, design, version)
    copy = await create_listing_copy(session, org, product_id=product.id)
    rows = [
        dict(provider="openai", model="gpt-5.4-nano", cost_microusd=1200, input_tokens=800,
             output_tokens=300, product_id=product.id, listing_copy_id=copy.id),
        dict(provider="openai", model="gpt-5.4-nano", cost_microusd=0, cache_hit=True),
        dict(provider="anthropic", model="claude-haiku-4-5", task="translation",
             cost_microusd=600, input_tokens=500, output_tokens=100),
        dict(provider="local", model="llama", cost_microusd=None),
    ]  # fmt: skip
    for values in rows:
        await create_generation(session, org, **values)
    # Last month's spend is outside this month's budget, and outside the default period.
    last_month = await create_generation(session, org, provider="openai", cost_microusd=50_000)
    last_month.created_at = budget.month_start() - timedelta(days=2)
    await create_generation(session, other_tenant.organization, cost_microusd=999_999)
    await session.flush()

    url = f"{API}/ai/costs"
    own = {"organization_id": str(org.id)}
    await assert_refused(
        client, session, tenant, other_tenant, "GET", url, scope=READ, foreign={"params": own}
    )
    await assert_role_refused(client, session, tenant, Role.viewer, "GET", url)
    response = await client.get(url, headers=headers(tenant, Role.editor))
    assert response.status_code == 200, response.text
    body = response.json()
    group = {"cache_hits": 0, "unpriced": 0, "input_tokens": 0, "output_tokens": 0}
    assert body == {
        "organization_id": str(org.id),
        "since": iso(budget.month_start()),
        "generations": 4,
        "cost_microusd": 1800,
        "unpriced": 1,
        "cache_hits": 1,
        "cache_hit_rate": 0.25,
        "by_provider": [
            {**group, "key": "openai", "generations": 2, "cost_microusd": 1200,
             "input_tokens": 800, "output_tokens": 300, "cache_hits": 1},
            {**group, "key": "anthropic", "generations": 1, "cost_microusd": 600,
             "input_tokens": 500, "output_tokens": 100},
            {**group, "key": "local", "generations": 1, "cost_microusd": 0, "unpriced": 1},
        ],
        "by_task": [
            {**group, "key": "listing_copy", "generations": 3, "cost_microusd": 1200,
             "input_tokens": 800, "output_tokens": 300, "cache_hits": 1, "unpriced": 1},
            {**group, "key": "translation", "generations": 1, "cost_microusd": 600,
             "input_tokens": 500, "output_tokens": 100},
        ],
        "by_product": [
            {**group, "key": str(product.id), "generations": 1, "cost_microusd": 1200,
             "input_tokens": 800, "output_tokens": 300},
            {**group, "key": None, "generations": 3, "cost_microusd": 600,
             "input_tokens": 500, "output_tokens": 100, "cache_hits": 1, "unpriced": 1},
        ],
        "by_listing_copy": [
            {**group, "key": str(copy.id), "generations": 1, "cost_microusd": 1200,
             "input_tokens": 800, "output_tokens": 300},
            {**group, "key": None, "generations": 3, "cost_microusd": 600,
             "input_tokens": 500, "output_tokens": 100, "cache_hits": 1, "unpriced": 1},
        ],
        "month_to_date_microusd": 1800,
        "budget": {
            "plan_tier": "free",
            "cap_microusd": 2_000_000,
            "spent_microusd": 1800,
            "remaining_microusd": 1_998_200,
            "soft_warning_percent": 80,
            "hard_stop": True,
            "offline_fallback": True,
            "allowed": True,
            "offline_only": False,
            "warning": None,
        },
    }  # fmt: skip

    # From before last month's row: it counts in the period, not in the month's budget.
    since = (budget.month_start() - timedelta(days=3)).isoformat()
    wider = await client.get(url, params={"since": since}, headers=headers(tenant, Role.editor))
    assert (wider.json()["generations"], wider.json()["cost_microusd"]) == (5, 51_800)
    assert wider.json()["month_to_date_microusd"] == 1800

    # A small cap: the soft warning at 80 %, then the hard stop with the offline fallback.
    await client.patch(
        f"{API}/ai/settings",
        json={"monthly_cap_microusd": 2000},
        headers=headers(tenant, Role.owner),
    )
    warned = (await client.get(url, headers=headers(tenant, Role.editor))).json()["budget"]
    assert warned == {
        "plan_tier": "free",
        "cap_microusd": 2000,
        "spent_microusd": 1800,
        "remaining_microusd": 200,
        "soft_warning_percent": 80,
        "hard_stop": True,
        "offline_fallback": True,
        "allowed": True,
        "offline_only": False,
        "warning": "90% of this month's AI budget of $0.0020 is used ($0.0018 spent).",
    }
    await client.patch(
        f"{API}/ai/settings",
        json={"monthly_cap_microusd": 1000},
        headers=headers(tenant, Role.owner),
    )
    stopped = (await client.get(url, headers=headers(tenant, Role.editor))).json()["budget"]
    assert (stopped["allowed"], stopped["offline_only"], stopped["remaining_microusd"]) == (
        False,
        True,
        0,
    )
    assert stopped["warning"].startswith(
        "This month's AI budget of $0.0010 is used up ($0.0018 spent)."
    )
