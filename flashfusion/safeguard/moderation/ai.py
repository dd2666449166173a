"""The providers layer's AI moderation, as safeguard findings.

`ai_moderation(session, organization_id, subject)` resolves the workspace's chain for
`TaskType.moderation` through the AI service (workspace keys, then instance keys; the monthly
budget applies), and asks the first provider in it that moderates (OpenAI's moderation endpoint;
the offline provider does not moderate). The listing's fields are sent as one text, so a verdict
is about the whole listing and its findings carry no span.

- No provider that moderates in the chain (only offline, or no key): `[]`, nothing is sent.
- A flagged category: one finding per category, WARN or BLOCK per `CATEGORY_VERDICTS`.
- A provider error, an open circuit breaker or an exhausted budget: one informational finding
  "AI moderation unavailable: …" with verdict PASS. It never raises for provider trouble, so the
  rules engine's verdict stands on its own.
"""

import uuid
from typing import Protocol, runtime_checkable

from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.ai.service import BudgetExhausted, NoProviderAvailable, ai
from flashfusion.ai.types import ModerationResult, ProviderError, TaskType
from flashfusion.safeguard.types import Category, Finding, ScreenSubject, Verdict

# FlashFusion's mapping (not the provider's): the categories where a flag alone should stop
# publishing; every other flagged category is a warning for a person to review. Names are
# OpenAI's moderation categories (omni-moderation: harassment, harassment/threatening, hate,
# hate/threatening, illicit, illicit/violent, self-harm, self-harm/instructions,
# self-harm/intent, sexual, sexual/minors, violence, violence/graphic).
CATEGORY_VERDICTS: dict[str, Verdict] = {
    "sexual/minors": Verdict.block,
    "hate/threatening": Verdict.block,
    "harassment/threatening": Verdict.block,
    "violence/graphic": Verdict.block,
    "illicit/violent": Verdict.block,
    "self-harm/instructions": Verdict.block,
}
DEFAULT_VERDICT = Verdict.warn
TIMEOUT_SECONDS = 20.0  # FlashFusion's: a screen should not wait longer on the model


@runtime_checkable
class Moderator(Protocol):
    name: str

    async def moderate(self, text: str, *, timeout_seconds: float = ...) -> ModerationResult: ...


def _code(category: str) -> str:
    return "policy.ai_" + category.replace("/", "_").replace("-", "_")


def _label(category: str) -> str:
    return category.replace("/", ": ").replace("-", " ")


def _unavailable(reason: str, evidence: dict[str, str]) -> list[Finding]:
    reason = reason.strip()
    if not reason.endswith((".", "!", "?")):
        reason += "."
    return [
        Finding(
            category=Category.policy,
            code="policy.ai_unavailable",
            verdict=Verdict.passed,
            message=f"AI moderation unavailable: {reason} The rule-based checks still ran.",
            evidence=evidence,
        )
    ]


def findings_from(result: ModerationResult) -> list[Finding]:
    """One finding per flagged category, most severe first."""
    findings: list[Finding] = []
    for category, flagged in sorted(result.categories.items()):
        if not flagged:
            continue
        verdict = CATEGORY_VERDICTS.get(category, DEFAULT_VERDICT)
        score = result.scores.get(category)
        shown = f" (score {score:.2f})" if score is not None else ""
        findings.append(
            Finding(
                category=Category.policy,
                code=_code(category),
                verdict=verdict,
                message=(
                    f"The AI moderation model flagged this listing for {_label(category)}{shown}. "
                    + (
                        "Remove or rewrite the content before publishing."
                        if verdict is Verdict.block
                        else "Review the wording before publishing."
                    )
                ),
                evidence={
                    "provider": result.provider,
                    "model": result.model,
                    "category": category,
                    "mapping": "FlashFusion",
                },
                score=score,
            )
        )
    findings.sort(key=lambda f: -f.verdict.rank)
    return findings


async def ai_moderation(
    session: AsyncSession, organization_id: uuid.UUID, subject: ScreenSubject
) -> list[Finding]:
    """AI moderation findings for `subject` from the workspace's moderation chain."""
    text = "\n\n".join(field.text for field in subject.fields if field.text.strip())
    if not text:
        return []
    try:
        resolved = await ai.resolve(session, organization_id, TaskType.moderation)
    except NoProviderAvailable:
        return []
    except BudgetExhausted as e:
        return _unavailable(str(e), {"error": "BudgetExhausted"})
    steps = [
        step
        for step in resolved.steps
        if step.provider.name != "offline"
        and step.provider.supports(TaskType.moderation)
        and isinstance(step.provider, Moderator)
    ]
    if not steps:
        return []
    failures: list[tuple[str, ProviderError | None]] = []
    for step in steps:
        provider = step.provider
        assert isinstance(provider, Moderator)
        breaker = ai.breakers.get(step.breaker_key)
        if not breaker.allow():
            failures.append((provider.name, None))
            continue
        try:
            result = await provider.moderate(text, timeout_seconds=TIMEOUT_SECONDS)
        except ProviderError as e:
            breaker.record_failure(e)
            failures.append((provider.name, e))
            continue
        breaker.record_success()
        return findings_from(result)
    name, error = failures[0]
    if error is None:
        return _unavailable(
            f"{name} failed repeatedly and is paused for a moment; try again shortly.",
            {"provider": name, "error": "CircuitOpen"},
        )
    return _unavailable(error.message, {"provider": name, "error": type(error).__name__})
