"""AI moderation through the providers layer: the real OpenAI SDK against the sandbox twin's
moderation endpoint (and, for a realistic multi-category answer, an httpx.MockTransport serving
OpenAI's moderation response shape), with the workspace's key stored encrypted."""

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.ai.service import ai
from flashfusion.ai.types import ProviderUnavailable
from flashfusion.safeguard.moderation.ai import CATEGORY_VERDICTS, ai_moderation
from flashfusion.safeguard.types import Category, Finding, ScreenSubject, TextField, Verdict
from tests.ai.test_service import Twins, add_credential, set_ai_settings, twins
from tests.fixtures.objects import Tenant

__all__ = ["twins"]  # the fixture, imported so that the tests here can use it

MODERATIONS = "moderations"  # the twin's request counter


def listing(*texts: str) -> ScreenSubject:
    names = ["title", "description", "tags"]
    return ScreenSubject(fields=tuple(TextField(names[i], t) for i, t in enumerate(texts)))


async def with_openai_key(session: AsyncSession, tenant: Tenant, twins: Twins) -> None:
    await add_credential(session, tenant.organization, "openai", twins.keys["openai"])


def codes(findings: list[Finding]) -> list[tuple[str, Verdict]]:
    return [(f.code, f.verdict) for f in findings]


async def test_flagged_categories_become_findings(
    session: AsyncSession, tenant: Tenant, twins: Twins
) -> None:
    await with_openai_key(session, tenant, twins)

    findings = await ai_moderation(
        session, tenant.organization.id, listing("Gore shirt", "", "they murder the mascot")
    )

    assert codes(findings) == [
        ("policy.ai_violence_graphic", Verdict.block),
        ("policy.ai_violence", Verdict.warn),
    ]
    graphic = findings[0]
    assert graphic.category is Category.policy
    assert graphic.span is None
    assert graphic.score == 0.9
    assert graphic.evidence == {
        "provider": "openai",
        "model": "omni-moderation-latest",
        "category": "violence/graphic",
        "mapping": "FlashFusion",
    }
    assert graphic.message == (
        "The AI moderation model flagged this listing for violence: graphic (score 0.90). "
        "Remove or rewrite the content before publishing."
    )
    state = twins.state("openai")
    assert state.requests[MODERATIONS] == 1
    # One call for the whole listing: the non-empty fields joined, with the default model.
    assert state.bodies[-1] == {
        "model": "omni-moderation-latest",
        "input": "Gore shirt\n\nthey murder the mascot",
    }


async def test_a_clean_listing_has_no_ai_findings(
    session: AsyncSession, tenant: Tenant, twins: Twins
) -> None:
    await with_openai_key(session, tenant, twins)
    assert await ai_moderation(session, tenant.organization.id, listing("A cosy cat mug")) == []
    assert twins.state("openai").requests[MODERATIONS] == 1


async def test_an_offline_only_workspace_makes_no_call(
    session: AsyncSession, tenant: Tenant, twins: Twins
) -> None:
    # No key anywhere: the moderation chain is just the offline provider, which cannot moderate.
    assert await ai_moderation(session, tenant.organization.id, listing("Gore shirt")) == []
    assert twins.state("openai").requests[MODERATIONS] == 0


async def test_empty_text_makes_no_call(
    session: AsyncSession, tenant: Tenant, twins: Twins
) -> None:
    await with_openai_key(session, tenant, twins)
    assert await ai_moderation(session, tenant.organization.id, listing("", "  ")) == []
    assert twins.state("openai").requests[MODERATIONS] == 0


async def test_a_provider_error_is_one_informational_finding(
    session: AsyncSession, tenant: Tenant, twins: Twins
) -> None:
    await with_openai_key(session, tenant, twins)
    twins.state("openai").faults.server_error = 1

    findings = await ai_moderation(session, tenant.organization.id, listing("Gore shirt"))

    assert codes(findings) == [("policy.ai_unavailable", Verdict.passed)]
    assert findings[0].message.startswith(
        "AI moderation unavailable: OpenAI had a server error (HTTP 500): try again shortly"
    )
    assert findings[0].message.endswith("The rule-based checks still ran.")
    assert findings[0].evidence == {"provider": "openai", "error": "ProviderUnavailable"}
    assert twins.state("openai").requests[MODERATIONS] == 1  # no retry inside a screen


async def test_a_rejected_key_is_reported_not_raised(
    session: AsyncSession, tenant: Tenant, twins: Twins
) -> None:
    await add_credential(session, tenant.organization, "openai", "sk-test-" + "0" * 32)

    findings = await ai_moderation(session, tenant.organization.id, listing("Gore shirt"))

    assert codes(findings) == [("policy.ai_unavailable", Verdict.passed)]
    assert findings[0].message == (
        "AI moderation unavailable: OpenAI rejected the API key (HTTP 401): set a valid OpenAI "
        "key in AI settings. The rule-based checks still ran."
    )
    assert findings[0].evidence["error"] == "ProviderAuthError"


async def test_an_open_circuit_sends_nothing(
    session: AsyncSession, tenant: Tenant, twins: Twins
) -> None:
    await with_openai_key(session, tenant, twins)
    breaker = ai.breakers.get(f"{tenant.organization.id}:openai")
    for _ in range(ai.breakers.failure_threshold):
        breaker.record_failure(ProviderUnavailable("openai", "down"))

    findings = await ai_moderation(session, tenant.organization.id, listing("Gore shirt"))

    assert codes(findings) == [("policy.ai_unavailable", Verdict.passed)]
    assert findings[0].evidence == {"provider": "openai", "error": "CircuitOpen"}
    assert twins.state("openai").requests[MODERATIONS] == 0


@pytest.mark.parametrize(
    ("offline_fallback", "expected"),
    [(True, []), (False, [("policy.ai_unavailable", Verdict.passed)])],
)
async def test_a_used_up_budget_makes_no_call(
    session: AsyncSession,
    tenant: Tenant,
    twins: Twins,
    offline_fallback: bool,
    expected: list[tuple[str, Verdict]],
) -> None:
    await with_openai_key(session, tenant, twins)
    await set_ai_settings(
        session,
        tenant.organization,
        chain=["openai"],
        monthly_cap_microusd=0,
        offline_fallback=offline_fallback,
    )

    findings = await ai_moderation(session, tenant.organization.id, listing("Gore shirt"))

    assert codes(findings) == expected
    if findings:
        assert findings[0].message.startswith(
            "AI moderation unavailable: This month's AI budget of $0.00 is used up"
        )
    assert twins.state("openai").requests[MODERATIONS] == 0


# --- a realistic answer through httpx.MockTransport -----------------------------------------

CATEGORIES = [
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/instructions",
    "self-harm/intent",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
]


def moderation_answer(flagged: dict[str, float]) -> dict[str, Any]:
    """OpenAI's moderation response shape (id, model, results[0] with categories,
    category_scores and category_applied_input_types for the 13 omni-moderation categories)."""
    scores = {c: flagged.get(c, 0.000012) for c in CATEGORIES}
    return {
        "id": "modr-" + uuid.uuid4().hex[:24],
        "model": "omni-moderation-2024-09-26",
        "results": [
            {
                "flagged": bool(flagged),
                "categories": {c: c in flagged for c in CATEGORIES},
                "category_scores": scores,
                "category_applied_input_types": {c: ["text"] for c in CATEGORIES},
            }
        ],
    }


@pytest.fixture
async def mock_openai() -> AsyncIterator[list[httpx.Request]]:
    """`ai` talks to a MockTransport for "openai"; the requests it sent are collected."""
    sent: list[httpx.Request] = []
    answer = moderation_answer({"sexual": 0.97, "sexual/minors": 0.71, "harassment": 0.55})

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json=answer)

    clients: list[httpx.AsyncClient] = []

    def factory(name: str) -> httpx.AsyncClient | None:
        if name != "openai":
            return None
        client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
        clients.append(client)
        return client

    ai._pool.clear()
    ai.http_client_factory = factory
    try:
        yield sent
    finally:
        for provider in ai._pool.values():
            await provider.aclose()
        ai._pool.clear()
        ai.http_client_factory = lambda name: None
        for client in clients:
            await client.aclose()


async def test_a_real_shaped_answer_maps_every_flagged_category(
    session: AsyncSession, tenant: Tenant, mock_openai: list[httpx.Request]
) -> None:
    await add_credential(session, tenant.organization, "openai", "sk-test-" + "1" * 32)

    findings = await ai_moderation(session, tenant.organization.id, listing("text"))

    assert [(f.code, f.verdict, f.score) for f in findings] == [
        ("policy.ai_sexual_minors", Verdict.block, 0.71),
        ("policy.ai_harassment", Verdict.warn, 0.55),
        ("policy.ai_sexual", Verdict.warn, 0.97),
    ]
    assert {f.evidence["model"] for f in findings} == {"omni-moderation-2024-09-26"}
    (request,) = mock_openai
    assert request.url == "http://openai.sandbox/v1/moderations"
    assert json.loads(request.content) == {"input": "text", "model": "omni-moderation-latest"}


def test_the_block_mapping_covers_only_known_categories() -> None:
    assert set(CATEGORY_VERDICTS) <= set(CATEGORIES)
    assert set(CATEGORY_VERDICTS.values()) == {Verdict.block}
