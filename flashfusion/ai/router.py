"""The AI router: one request, a chain of providers, the first good answer wins.

For each step of the chain the router skips providers that do not do the task or whose circuit is
open, calls the provider under the request's timeout, retries rate limits, 5xx and timeouts with
exponential backoff and jitter (honouring Retry-After up to `max_retry_after`), and falls back to
the next provider on anything else. With a Pydantic `output` model the answer must validate; a
broken answer gets one repair round on the same provider before the router moves on.

Every step leaves an `Attempt` (outcome, latency, retries, the usage of the calls that returned
something), so the cost ledger can price failed and repaired calls too. Error texts are passed
through a redaction filter: an API key never reaches an attempt, an exception or a log line.
"""

import asyncio
import contextlib
import random
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import KW_ONLY, dataclass, field
from typing import Literal, TypeVar

import structlog
from pydantic import BaseModel, ValidationError

from flashfusion.ai.breaker import BreakerRegistry, BreakerState, CircuitBreaker
from flashfusion.ai.types import (
    AIRequest,
    AIResponse,
    ContentRefused,
    ContextTooLong,
    InvalidOutput,
    Message,
    Provider,
    ProviderAuthError,
    ProviderBadRequest,
    ProviderError,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
    StreamEvent,
    Unsupported,
    Usage,
)

log = structlog.get_logger(__name__)
M = TypeVar("M", bound=BaseModel)

Outcome = Literal[
    "ok",
    "rate_limited",
    "unavailable",
    "timeout",
    "auth",
    "bad_request",
    "context_too_long",
    "refused",
    "invalid_output",
    "circuit_open",
    "unsupported",
]

# Most specific class first: ContextTooLong is a ProviderBadRequest.
_OUTCOMES: list[tuple[type[ProviderError], Outcome]] = [
    (ProviderRateLimited, "rate_limited"),
    (ProviderUnavailable, "unavailable"),
    (ProviderTimeout, "timeout"),
    (ProviderAuthError, "auth"),
    (ContextTooLong, "context_too_long"),
    (ProviderBadRequest, "bad_request"),
    (ContentRefused, "refused"),
    (InvalidOutput, "invalid_output"),
    (Unsupported, "unsupported"),
]

_WORDS: dict[Outcome, str] = {
    "ok": "answered",
    "rate_limited": "was rate limited (too many requests or quota used up)",
    "unavailable": "was unavailable (server error or no connection)",
    "timeout": "did not answer in time",
    "auth": "rejected the API key",
    "bad_request": "rejected the request",
    "context_too_long": "could not fit the prompt in the model's context window",
    "refused": "declined to answer",
    "invalid_output": "answered in the wrong format, even after one repair",
    "circuit_open": "was skipped because it failed several times in a row",
    "unsupported": "does not do this kind of task",
}

# Key shapes of the vendors we call, and bearer headers; an SDK sometimes echoes part of a key.
_SECRET = re.compile(
    r"(?:sk-(?:ant-|proj-)?|xai-|pplx-|AIza|ffk_)[A-Za-z0-9_\-*.]{6,}|Bearer\s+\S+",
    re.IGNORECASE,
)
_FENCE = re.compile(r"```[ \t]*(?:json)?[ \t]*\n?(.*?)```", re.DOTALL | re.IGNORECASE)
_MAX_ERROR_CHARS = 500


def redact(text: str) -> str:
    """`text` with anything shaped like an API key or bearer token replaced."""
    return _SECRET.sub("[redacted]", text)


def outcome_for(error: ProviderError) -> Outcome:
    for cls, outcome in _OUTCOMES:
        if isinstance(error, cls):
            return outcome
    return "unavailable"


@dataclass(frozen=True)
class ChainStep:
    provider: Provider
    model: str | None = None  # None: the provider's default model for the task
    _: KW_ONLY
    breaker_key: str  # e.g. "<organization id>:openai"


@dataclass
class Attempt:
    provider: str
    model: str | None
    outcome: Outcome
    error: str | None = None
    latency_ms: int = 0
    retries: int = 0
    # The summed usage of the calls that returned an answer (first answer and repair), so the
    # ledger can cost failed and repaired calls; None when no call returned anything.
    usage: Usage | None = None
    calls: int = 0

    def describe(self) -> str:
        """One plain sentence, e.g. "openai (gpt-5.4-nano) was rate limited … after 2 retries"."""
        who = f"{self.provider} ({self.model})" if self.model else self.provider
        text = f"{who} {_WORDS[self.outcome]}"
        if self.retries:
            text += f" after {self.retries} {'retry' if self.retries == 1 else 'retries'}"
        if self.error:
            text += f": {self.error}"
        return text


@dataclass
class RouterResult:
    response: AIResponse
    parsed: BaseModel | None
    attempts: list[Attempt]
    repaired: bool = False

    @property
    def fallback_path(self) -> list[str]:
        """The providers the router went through, in order, ending with the one that answered."""
        return [attempt.provider for attempt in self.attempts]


class AllProvidersFailed(Exception):
    """No provider in the chain produced an answer; `attempts` says what each one did."""

    def __init__(self, attempts: Sequence[Attempt], *, partial: bool = False) -> None:
        self.attempts = list(attempts)
        self.partial = partial  # a stream failed after part of the answer was sent
        super().__init__(self._message())

    def _message(self) -> str:
        if not self.attempts:
            return (
                "No AI provider is set up for this task. Add a provider and its API key in "
                "AI settings, or turn on the offline provider."
            )
        head = (
            "The AI answer broke off partway and could not be finished."
            if self.partial
            else "No AI provider could produce an answer."
        )
        lines = [head, *(f"- {attempt.describe()}." for attempt in self.attempts)]
        outcomes = {attempt.outcome for attempt in self.attempts}
        advice: list[str] = []
        if "auth" in outcomes:
            rejected = sorted({a.provider for a in self.attempts if a.outcome == "auth"})
            advice.append(f"Check the API key for {', '.join(rejected)} in AI settings.")
        if "rate_limited" in outcomes:
            advice.append(
                "If a provider's quota or your AI budget is used up, raise it (AI settings, or "
                "the provider's billing page)."
            )
        if outcomes & {"rate_limited", "unavailable", "timeout", "circuit_open"}:
            advice.append("Retry in a few minutes: the failures look temporary.")
        if outcomes & {"bad_request", "context_too_long"}:
            advice.append("Shorten the brief, or pick another model in AI settings.")
        if outcomes & {"refused", "invalid_output"}:
            advice.append("Rephrase the brief and generate again.")
        if not advice:
            advice.append("Check your keys in AI settings, raise the budget, or retry later.")
        return "\n".join([*lines, "What to do: " + " ".join(advice)])


class _CallFailed(Exception):
    def __init__(self, error: ProviderError, note: str | None = None) -> None:
        super().__init__(error.message)
        self.error = error
        self.note = note


class _UnexpectedError(ProviderUnavailable):
    """A provider broke its contract (an exception that is not a ProviderError): not retried and
    not held against the provider's circuit, since it is a bug on our side."""

    retryable = False


@dataclass
class _Tally:
    usage: Usage = field(default_factory=Usage)
    calls: int = 0
    retries: int = 0

    def add(self, usage: Usage) -> None:
        self.calls += 1
        self.usage = Usage(
            input_tokens=self.usage.input_tokens + usage.input_tokens,
            output_tokens=self.usage.output_tokens + usage.output_tokens,
            images=self.usage.images + usage.images,
        )


def _error_text(error: ProviderError, note: str | None = None) -> str:
    text = redact(error.message)[:_MAX_ERROR_CHARS]
    return f"{text} ({note})" if note else text


def _validation_summary(error: ValidationError) -> str:
    parts = []
    for item in error.errors()[:5]:
        where = ".".join(str(part) for part in item["loc"]) or "(whole document)"
        parts.append(f"{where}: {item['msg']}")
    more = len(error.errors()) - 5
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)[:_MAX_ERROR_CHARS]


def parse_output(output: type[BaseModel], text: str) -> tuple[BaseModel | None, str | None]:
    """Validate `text` (bare JSON, or JSON in a ``` / ```json fence) as `output`; returns the
    model, or None and a short description of what is wrong."""
    candidates = [text.strip()]
    candidates += [match.strip() for match in _FENCE.findall(text)]
    first_error: str | None = None
    for candidate in candidates:
        if not candidate:
            continue
        try:
            return output.model_validate_json(candidate), None
        except ValidationError as exc:
            first_error = first_error or _validation_summary(exc)
    return None, first_error or "the answer is empty"


class Router:
    def __init__(
        self,
        breakers: BreakerRegistry,
        *,
        max_retries: int = 2,
        base_backoff: float = 0.5,
        max_backoff: float = 8.0,
        max_retry_after: float = 10.0,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.breakers = breakers
        self.max_retries = max_retries
        self.base_backoff = base_backoff
        self.max_backoff = max_backoff
        self.max_retry_after = max_retry_after
        self._sleep = sleep
        self._clock = clock
        self._jitter = jitter

    # --- complete -------------------------------------------------------------------------

    async def run(
        self,
        request: AIRequest,
        chain: Sequence[ChainStep],
        *,
        output: type[BaseModel] | None = None,
    ) -> RouterResult:
        """The first good answer along `chain`; raises AllProvidersFailed with every attempt."""
        if output is not None and request.json_schema is None:
            request = request.model_copy(
                update={"json_schema": output.model_json_schema(), "schema_name": output.__name__}
            )
        attempts: list[Attempt] = []
        for step in chain:
            attempt, answer, stop = await self._run_step(request, step, output)
            attempts.append(attempt)
            self._log(attempt)
            if answer is not None:
                response, parsed, repaired = answer
                return RouterResult(response, parsed, attempts, repaired)
            if stop:
                break
        raise AllProvidersFailed(attempts)

    async def _run_step(
        self, request: AIRequest, step: ChainStep, output: type[BaseModel] | None
    ) -> tuple[Attempt, tuple[AIResponse, BaseModel | None, bool] | None, bool]:
        provider = step.provider
        gate = self._gate(request, step)
        if isinstance(gate, Attempt):
            return gate, None, False
        breaker, model = gate
        call = request.model_copy(update={"model": step.model})
        tally = _Tally()
        started = self._clock()

        def attempt(
            outcome: Outcome, error: str | None = None, model_used: str | None = None
        ) -> Attempt:
            return Attempt(
                provider=provider.name,
                model=model_used or model,
                outcome=outcome,
                error=error,
                latency_ms=round((self._clock() - started) * 1000),
                retries=tally.retries,
                usage=tally.usage if tally.calls else None,
                calls=tally.calls,
            )

        try:
            response = await self._call(provider, call, breaker, tally)
            if response.refused:
                return attempt("refused", None, response.model), None, False
            if output is None:
                return attempt("ok", None, response.model), (response, None, False), False
            parsed, problem = parse_output(output, response.text)
            if parsed is not None:
                return attempt("ok", None, response.model), (response, parsed, False), False
            repair = call.model_copy(
                update={
                    "messages": [
                        *call.messages,
                        Message(role="assistant", content=response.text),
                        Message(role="user", content=self._repair_prompt(call, problem)),
                    ]
                }
            )
            response = await self._call(provider, repair, breaker, tally)
            if response.refused:
                return attempt("refused", None, response.model), None, False
            parsed, problem = parse_output(output, response.text)
            if parsed is not None:
                return attempt("ok", None, response.model), (response, parsed, True), False
            return attempt("invalid_output", problem, response.model), None, False
        except _CallFailed as failed:
            error = failed.error
            return (
                attempt(outcome_for(error), _error_text(error, failed.note)),
                None,
                not error.fallback,
            )

    @staticmethod
    def _repair_prompt(request: AIRequest, problem: str | None) -> str:
        schema = request.schema_name or "requested"
        return (
            f"Your previous answer is not valid JSON for the {schema} schema: {problem}. "
            "Reply with only the corrected JSON document that matches the schema: no "
            "explanation and no code fences."
        )

    def _gate(self, request: AIRequest, step: ChainStep) -> Attempt | tuple[CircuitBreaker, str]:
        """Skip a provider that does not do the task or whose circuit is open."""
        provider = step.provider
        if not provider.supports(request.task):
            return Attempt(
                provider=provider.name,
                model=step.model,
                outcome="unsupported",
                error=f"{provider.name} does not do {request.task.value} tasks",
            )
        model = step.model or provider.default_model(request.task)
        breaker = self.breakers.get(step.breaker_key)
        if not breaker.allow():
            if breaker.state is BreakerState.half_open:
                why = "a trial call to see whether it is back is already under way"
            else:
                why = (
                    f"{breaker.consecutive_failures} failures in a row; it is tried again in "
                    f"{breaker.retry_in():.0f} s"
                )
            return Attempt(provider.name, model, "circuit_open", error=why)
        return breaker, model

    async def _call(
        self, provider: Provider, request: AIRequest, breaker: CircuitBreaker, tally: _Tally
    ) -> AIResponse:
        """One answer from `provider`, retrying the failures that may pass."""
        tries = 0
        while True:
            try:
                response = await asyncio.wait_for(
                    provider.complete(request), timeout=request.timeout_seconds
                )
            except asyncio.CancelledError:
                breaker.release()
                raise
            except TimeoutError:
                error: ProviderError = ProviderTimeout(
                    provider.name, f"no answer within {request.timeout_seconds:g} s"
                )
            except ProviderError as exc:
                error = exc
            except Exception as exc:
                # Only the class name: an SDK exception's text may carry request details.
                error = _UnexpectedError(provider.name, f"unexpected {type(exc).__name__}")
            else:
                breaker.record_success()
                tally.add(response.usage)
                return response
            delay, note = self._next_delay(error, tries, breaker)
            if delay is None:
                raise _CallFailed(error, note)
            await self._sleep(delay)
            tries += 1
            tally.retries += 1

    def _next_delay(
        self, error: ProviderError, tries: int, breaker: CircuitBreaker
    ) -> tuple[float | None, str | None]:
        """Record the failure; the wait before the next try, or None (and why) to fall back."""
        breaker.record_failure(error)
        if not error.retryable or tries >= self.max_retries:
            return None, None
        if breaker.state is BreakerState.open:
            return None, "its circuit is now open"
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            if retry_after > self.max_retry_after:
                return None, (
                    f"it asked to wait {retry_after:g} s, longer than the "
                    f"{self.max_retry_after:g} s the router waits, so the next provider was tried"
                )
            return max(0.0, float(retry_after)), None
        ceiling = min(self.max_backoff, self.base_backoff * 2**tries)
        # "Equal jitter": at least half the exponential step, so retries from many workers
        # spread out without collapsing to zero.
        return ceiling / 2 + self._jitter() * ceiling / 2, None

    # --- stream ---------------------------------------------------------------------------

    async def stream(
        self,
        request: AIRequest,
        chain: Sequence[ChainStep],
        *,
        attempts: list[Attempt] | None = None,
    ) -> AsyncIterator[StreamEvent]:
        """Stream the answer of the first provider that starts one. Falling back is only possible
        before the first delta; a failure after it raises AllProvidersFailed(partial=True).
        Pass `attempts` to collect the attempts (the stream itself yields only events)."""
        record = attempts if attempts is not None else []
        for step in chain:
            provider = step.provider
            gate = self._gate(request, step)
            if isinstance(gate, Attempt):
                record.append(gate)
                self._log(gate)
                continue
            breaker, model = gate
            call = request.model_copy(update={"model": step.model})
            started = self._clock()
            tries = 0
            refused: AIResponse | None = None
            sent = False
            failure: tuple[ProviderError, str | None] | None = None
            while True:
                error: ProviderError | None = None
                iterator = provider.stream(call).__aiter__()
                try:
                    while True:
                        try:
                            async with asyncio.timeout(call.timeout_seconds):
                                event = await anext(iterator)
                        except StopAsyncIteration:
                            raise ProviderUnavailable(
                                provider.name, "the stream ended before its final event"
                            ) from None
                        if event.type == "delta":
                            sent = True
                            yield event
                            continue
                        if event.response is None:
                            raise ProviderUnavailable(
                                provider.name, "the stream ended without a final response"
                            )
                        breaker.record_success()
                        response = event.response
                        if response.refused and not sent:
                            refused = response
                            break
                        done = Attempt(
                            provider=provider.name,
                            model=response.model or model,
                            outcome="refused" if response.refused else "ok",
                            latency_ms=round((self._clock() - started) * 1000),
                            retries=tries,
                            usage=response.usage,
                            calls=1,
                        )
                        record.append(done)
                        self._log(done)
                        yield event
                        return
                except (asyncio.CancelledError, GeneratorExit):
                    # Cancelled, or the consumer stopped reading: no verdict on the provider.
                    breaker.release()
                    raise
                except TimeoutError:
                    error = ProviderTimeout(
                        provider.name, f"no data within {call.timeout_seconds:g} s"
                    )
                except ProviderError as exc:
                    error = exc
                except Exception as exc:
                    error = _UnexpectedError(provider.name, f"unexpected {type(exc).__name__}")
                finally:
                    aclose = getattr(iterator, "aclose", None)
                    if aclose is not None:
                        with contextlib.suppress(Exception):
                            await aclose()
                if error is None:  # refused before any text: next provider
                    break
                if sent:
                    breaker.record_failure(error)
                    broken = Attempt(
                        provider=provider.name,
                        model=model,
                        outcome=outcome_for(error),
                        error=_error_text(error, "after part of the answer was sent"),
                        latency_ms=round((self._clock() - started) * 1000),
                        retries=tries,
                    )
                    record.append(broken)
                    self._log(broken)
                    raise AllProvidersFailed(record, partial=True)
                delay, note = self._next_delay(error, tries, breaker)
                if delay is None:
                    failure = (error, note)
                    break
                await self._sleep(delay)
                tries += 1
            if refused is not None:
                skipped = Attempt(
                    provider=provider.name,
                    model=refused.model or model,
                    outcome="refused",
                    latency_ms=round((self._clock() - started) * 1000),
                    retries=tries,
                    usage=refused.usage,
                    calls=1,
                )
            else:
                assert failure is not None
                error, note = failure
                skipped = Attempt(
                    provider=provider.name,
                    model=model,
                    outcome=outcome_for(error),
                    error=_error_text(error, note),
                    latency_ms=round((self._clock() - started) * 1000),
                    retries=tries,
                )
            record.append(skipped)
            self._log(skipped)
            if failure is not None and not failure[0].fallback:
                break
        raise AllProvidersFailed(record)

    @staticmethod
    def _log(attempt: Attempt) -> None:
        log.info(
            "ai.attempt",
            provider=attempt.provider,
            model=attempt.model,
            outcome=attempt.outcome,
            latency_ms=attempt.latency_ms,
            retries=attempt.retries,
            detail=attempt.error,
        )


def parsed_as(result: RouterResult, output: type[M]) -> M:
    """`result.parsed`, checked to be an `output` (for callers that want the concrete type)."""
    if not isinstance(result.parsed, output):
        raise TypeError(f"the router's answer is not a {output.__name__}")
    return result.parsed


__all__ = [
    "AllProvidersFailed",
    "Attempt",
    "ChainStep",
    "Outcome",
    "Router",
    "RouterResult",
    "outcome_for",
    "parse_output",
    "parsed_as",
    "redact",
]
