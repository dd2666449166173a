import asyncio
import secrets
from collections.abc import AsyncIterator, Sequence

import pytest
from pydantic import BaseModel, Field

from flashfusion.ai.breaker import BreakerRegistry
from flashfusion.ai.router import (
    AllProvidersFailed,
    Attempt,
    ChainStep,
    Router,
    parse_output,
    parsed_as,
    redact,
)
from flashfusion.ai.types import (
    AIRequest,
    AIResponse,
    ContentRefused,
    ContextTooLong,
    Message,
    Provider,
    ProviderAuthError,
    ProviderBadRequest,
    ProviderError,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
    StreamEvent,
    TaskType,
    Usage,
)

HANG = "hang"
Step = AIResponse | BaseException | str
StreamScript = Sequence[StreamEvent | BaseException]


class FakeProvider:
    """A provider that plays back a script: answers, exceptions to raise, or HANG."""

    def __init__(
        self,
        name: str,
        script: Sequence[Step] = (),
        *,
        streams: Sequence[StreamScript] = (),
        tasks: set[TaskType] | None = None,
        default: str = "default-model",
    ) -> None:
        self.name = name
        self.script = list(script)
        self.streams = list(streams)
        self.tasks = tasks
        self.default = default
        self.requests: list[AIRequest] = []

    def supports(self, task: TaskType) -> bool:
        return self.tasks is None or task in self.tasks

    def default_model(self, task: TaskType) -> str:
        return self.default

    async def complete(self, request: AIRequest) -> AIResponse:
        self.requests.append(request)
        step = self.script.pop(0)
        if isinstance(step, BaseException):
            raise step
        if isinstance(step, str):
            await asyncio.sleep(3600)
            raise AssertionError("a hanging call must be cut off by the timeout")
        return step

    def stream(self, request: AIRequest) -> AsyncIterator[StreamEvent]:
        self.requests.append(request)
        return self._play(self.streams.pop(0))

    async def _play(self, script: StreamScript) -> AsyncIterator[StreamEvent]:
        for item in script:
            if isinstance(item, BaseException):
                raise item
            yield item

    async def aclose(self) -> None:
        return None


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Listing(BaseModel):
    title: str = Field(max_length=40)
    tags: list[str]


def ok(provider: str, text: str = "A mug for cat people.", **changes: object) -> AIResponse:
    response = AIResponse(
        text=text,
        provider=provider,
        model=f"{provider}-model",
        usage=Usage(input_tokens=100, output_tokens=20),
    )
    return response.model_copy(update=changes)


def request(task: TaskType = TaskType.listing_copy, timeout: float = 60.0) -> AIRequest:
    return AIRequest(
        task=task,
        messages=[Message(role="user", content="Write a listing for a cat mug.")],
        timeout_seconds=timeout,
    )


def chain(*providers: FakeProvider, org: str = "org-1") -> list[ChainStep]:
    return [ChainStep(p, breaker_key=f"{org}:{p.name}") for p in providers]


def make_router(
    breakers: BreakerRegistry | None = None, **options: object
) -> tuple[Router, Sleeps]:
    sleeps = Sleeps()
    router = Router(
        breakers or BreakerRegistry(),
        sleep=sleeps,
        jitter=lambda: 0.5,
        **options,  # type: ignore[arg-type]
    )
    return router, sleeps


def rate_limited(retry_after: float | None = None) -> ProviderRateLimited:
    return ProviderRateLimited("openai", "429 Too Many Requests", retry_after=retry_after)


# --- complete: fallback and retries ----------------------------------------------------------


async def test_fake_provider_speaks_the_protocol() -> None:
    assert isinstance(FakeProvider("openai"), Provider)


async def test_first_provider_answers() -> None:
    openai = FakeProvider("openai", [ok("openai")])
    router, sleeps = make_router()
    result = await router.run(request(), chain(openai))
    assert result.response.text == "A mug for cat people."
    assert result.parsed is None
    assert result.repaired is False
    assert result.fallback_path == ["openai"]
    [attempt] = result.attempts
    assert (attempt.outcome, attempt.model, attempt.retries, attempt.calls) == (
        "ok",
        "openai-model",
        0,
        1,
    )
    assert attempt.usage == Usage(input_tokens=100, output_tokens=20)
    assert sleeps.waits == []


async def test_429_is_retried_with_backoff_then_falls_back() -> None:
    openai = FakeProvider("openai", [rate_limited(), rate_limited(), rate_limited()])
    anthropic = FakeProvider("anthropic", [ok("anthropic")])
    router, sleeps = make_router()
    result = await router.run(request(), chain(openai, anthropic))
    assert result.response.provider == "anthropic"
    assert result.fallback_path == ["openai", "anthropic"]
    assert len(openai.requests) == 3  # one call and max_retries=2 retries
    # equal jitter with jitter()=0.5: 0.5/2 + 0.5·0.5/2, then 1.0/2 + 0.5·1.0/2
    assert sleeps.waits == [0.375, 0.75]
    first = result.attempts[0]
    assert (first.outcome, first.retries, first.usage, first.calls) == ("rate_limited", 2, None, 0)
    assert first.error == "429 Too Many Requests"


async def test_backoff_is_capped_by_max_backoff() -> None:
    failures: list[Step] = [ProviderUnavailable("openai", "503")] * 5
    openai = FakeProvider("openai", failures)
    router, sleeps = make_router(max_retries=4, base_backoff=1.0, max_backoff=3.0)
    with pytest.raises(AllProvidersFailed):
        await router.run(request(), chain(openai))
    # ceilings 1, 2, 3 (capped), 3 → waits of 0.75 × ceiling
    assert sleeps.waits == [0.75, 1.5, 2.25, 2.25]


async def test_500_falls_back() -> None:
    openai = FakeProvider("openai", [ProviderUnavailable("openai", "500 Internal Server Error")])
    gemini = FakeProvider("gemini", [ok("gemini")])
    router, _ = make_router(max_retries=0)
    result = await router.run(request(), chain(openai, gemini))
    assert result.response.provider == "gemini"
    assert [a.outcome for a in result.attempts] == ["unavailable", "ok"]


async def test_timeout_falls_back() -> None:
    openai = FakeProvider("openai", [HANG])
    anthropic = FakeProvider("anthropic", [ok("anthropic")])
    router, _ = make_router(max_retries=0)
    result = await router.run(request(timeout=0.05), chain(openai, anthropic))
    assert result.response.provider == "anthropic"
    assert result.attempts[0].outcome == "timeout"
    assert result.attempts[0].error == "no answer within 0.05 s"


async def test_timeout_raised_by_the_provider_is_retried() -> None:
    openai = FakeProvider("openai", [ProviderTimeout("openai", "read timeout"), ok("openai")])
    router, sleeps = make_router()
    result = await router.run(request(), chain(openai))
    assert result.attempts[0].outcome == "ok"
    assert result.attempts[0].retries == 1
    assert sleeps.waits == [0.375]


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (ProviderAuthError("openai", "401 invalid api key"), "auth"),
        (ProviderBadRequest("openai", "400 unknown model"), "bad_request"),
        (ContextTooLong("openai", "prompt too long"), "context_too_long"),
        (ContentRefused("openai", "safety system blocked the output"), "refused"),
    ],
)
async def test_non_retryable_errors_fall_back_at_once(error: ProviderError, outcome: str) -> None:
    breakers = BreakerRegistry(failure_threshold=1)
    openai = FakeProvider("openai", [error])
    anthropic = FakeProvider("anthropic", [ok("anthropic")])
    router, sleeps = make_router(breakers)
    result = await router.run(request(), chain(openai, anthropic))
    assert result.response.provider == "anthropic"
    assert [a.outcome for a in result.attempts] == [outcome, "ok"]
    assert len(openai.requests) == 1
    assert sleeps.waits == []
    # Not a sign of an unhealthy provider: the circuit stays closed.
    assert breakers.snapshot()["org-1:openai"] == "closed"


async def test_refused_flag_falls_back_and_keeps_the_usage() -> None:
    openai = FakeProvider("openai", [ok("openai", "I can't help with that.", refused=True)])
    anthropic = FakeProvider("anthropic", [ok("anthropic")])
    router, _ = make_router()
    result = await router.run(request(), chain(openai, anthropic))
    assert result.response.provider == "anthropic"
    refused = result.attempts[0]
    assert (refused.outcome, refused.calls) == ("refused", 1)
    assert refused.usage == Usage(input_tokens=100, output_tokens=20)


async def test_retry_after_is_honoured_exactly() -> None:
    openai = FakeProvider("openai", [rate_limited(1.5), rate_limited(3.0), ok("openai")])
    router, sleeps = make_router()
    result = await router.run(request(), chain(openai))
    assert sleeps.waits == [1.5, 3.0]
    assert result.fallback_path == ["openai"]
    assert result.attempts[0].retries == 2


async def test_retry_after_above_the_maximum_falls_back_immediately() -> None:
    openai = FakeProvider("openai", [rate_limited(30.0)])
    anthropic = FakeProvider("anthropic", [ok("anthropic")])
    router, sleeps = make_router(max_retry_after=10.0)
    result = await router.run(request(), chain(openai, anthropic))
    assert sleeps.waits == []
    assert len(openai.requests) == 1
    assert result.response.provider == "anthropic"
    assert result.attempts[0].error == (
        "429 Too Many Requests (it asked to wait 30 s, longer than the 10 s the router waits, "
        "so the next provider was tried)"
    )


async def test_unsupported_task_is_skipped_without_a_call() -> None:
    perplexity = FakeProvider("perplexity", [], tasks={TaskType.research})
    openai = FakeProvider("openai", [ok("openai")])
    router, _ = make_router()
    result = await router.run(request(TaskType.image), chain(perplexity, openai))
    assert perplexity.requests == []
    assert result.attempts[0].outcome == "unsupported"
    assert result.attempts[0].error == "perplexity does not do image tasks"
    assert result.fallback_path == ["perplexity", "openai"]


async def test_step_model_is_sent_to_the_provider() -> None:
    openai = FakeProvider("openai", [ok("openai"), ok("openai")])
    router, _ = make_router()
    steps = [ChainStep(openai, "gpt-5.4-mini", breaker_key="org-1:openai")]
    await router.run(request(), steps)
    assert openai.requests[0].model == "gpt-5.4-mini"
    await router.run(request().model_copy(update={"model": "ignored"}), chain(openai))
    assert openai.requests[1].model is None  # None: the provider's default


async def test_an_error_that_forbids_fallback_stops_the_chain() -> None:
    class Fatal(ProviderError):
        fallback = False

    openai = FakeProvider("openai", [Fatal("openai", "account suspended")])
    anthropic = FakeProvider("anthropic", [ok("anthropic")])
    router, _ = make_router()
    with pytest.raises(AllProvidersFailed) as failed:
        await router.run(request(), chain(openai, anthropic))
    assert anthropic.requests == []
    assert [a.provider for a in failed.value.attempts] == ["openai"]


async def test_a_provider_bug_falls_back_without_retrying() -> None:
    openai = FakeProvider("openai", [KeyError("choices")])
    anthropic = FakeProvider("anthropic", [ok("anthropic")])
    router, sleeps = make_router()
    result = await router.run(request(), chain(openai, anthropic))
    assert result.attempts[0].outcome == "unavailable"
    assert result.attempts[0].error == "unexpected KeyError"
    assert sleeps.waits == []
    assert len(openai.requests) == 1


async def test_all_failed_explains_each_attempt_and_what_to_do() -> None:
    key = f"sk-test-{secrets.token_hex(12)}"
    openai = FakeProvider("openai", [ProviderAuthError("openai", f"Incorrect API key: {key}")])
    anthropic = FakeProvider("anthropic", [ProviderUnavailable("anthropic", "529 Overloaded")])
    gemini = FakeProvider("gemini", [rate_limited(60.0)])
    router, _ = make_router(max_retries=0)
    with pytest.raises(AllProvidersFailed) as failed:
        await router.run(request(), chain(openai, anthropic, gemini))
    message = str(failed.value)
    assert key not in message
    assert key not in repr(failed.value.attempts)
    assert message.splitlines() == [
        "No AI provider could produce an answer.",
        "- openai (default-model) rejected the API key: Incorrect API key: [redacted].",
        "- anthropic (default-model) was unavailable (server error or no connection): "
        "529 Overloaded.",
        "- gemini (default-model) was rate limited (too many requests or quota used up): "
        "429 Too Many Requests.",
        "What to do: Check the API key for openai in AI settings. If a provider's quota or your "
        "AI budget is used up, raise it (AI settings, or the provider's billing page). Retry in "
        "a few minutes: the failures look temporary.",
    ]
    assert [a.outcome for a in failed.value.attempts] == ["auth", "unavailable", "rate_limited"]


async def test_an_empty_chain_says_how_to_set_up_a_provider() -> None:
    router, _ = make_router()
    with pytest.raises(AllProvidersFailed, match="No AI provider is set up") as failed:
        await router.run(request(), [])
    assert failed.value.attempts == []


def test_redact_hides_key_shapes() -> None:
    text = (
        "keys sk-proj-abcDEF123456 sk-ant-api03-xyz987654 xai-AbCdEf123456 pplx-1234567890ab "
        "AIzaSyA1234567890 and header Bearer abc.def.ghi"
    )
    assert redact(text) == (
        "keys [redacted] [redacted] [redacted] [redacted] [redacted] and header [redacted]"
    )
    assert redact("500 Internal Server Error") == "500 Internal Server Error"


def test_attempt_describe_uses_plain_words() -> None:
    attempt = Attempt("openai", "gpt-5.4-nano", "timeout", "no answer within 60 s", retries=1)
    assert attempt.describe() == (
        "openai (gpt-5.4-nano) did not answer in time after 1 retry: no answer within 60 s"
    )


# --- circuit breaker -------------------------------------------------------------------------


async def test_circuit_opens_skips_half_opens_and_closes() -> None:
    clock = FakeClock()
    breakers = BreakerRegistry(failure_threshold=2, reset_after=30, clock=clock)
    down = ProviderUnavailable("openai", "503")
    openai = FakeProvider("openai", [down, down, ok("openai")])
    anthropic = FakeProvider("anthropic", [ok("anthropic")] * 3)
    router, _ = make_router(breakers, max_retries=0, clock=clock)

    first = await router.run(request(), chain(openai, anthropic))
    assert [a.outcome for a in first.attempts] == ["unavailable", "ok"]
    assert breakers.snapshot()["org-1:openai"] == "closed"
    await router.run(request(), chain(openai, anthropic))
    assert breakers.snapshot()["org-1:openai"] == "open"

    clock.now += 10
    skipped = await router.run(request(), chain(openai, anthropic))
    assert len(openai.requests) == 2  # not called while the circuit is open
    assert skipped.attempts[0].outcome == "circuit_open"
    assert skipped.attempts[0].error == "2 failures in a row; it is tried again in 20 s"
    assert skipped.response.provider == "anthropic"

    clock.now += 20
    assert breakers.snapshot()["org-1:openai"] == "half_open"
    recovered = await router.run(request(), chain(openai, anthropic))
    assert recovered.response.provider == "openai"
    assert breakers.snapshot()["org-1:openai"] == "closed"


async def test_half_open_lets_only_one_trial_through() -> None:
    clock = FakeClock()
    breakers = BreakerRegistry(failure_threshold=1, reset_after=30, clock=clock)
    breakers.get("org-1:openai").record_failure(ProviderUnavailable("openai", "503"))
    clock.now += 30
    assert breakers.get("org-1:openai").allow() is True  # another request holds the trial
    openai = FakeProvider("openai", [ok("openai")])
    anthropic = FakeProvider("anthropic", [ok("anthropic")])
    router, _ = make_router(breakers, clock=clock)
    result = await router.run(request(), chain(openai, anthropic))
    assert openai.requests == []
    assert result.attempts[0].outcome == "circuit_open"
    assert result.attempts[0].error == (
        "a trial call to see whether it is back is already under way"
    )


async def test_circuits_are_per_workspace() -> None:
    breakers = BreakerRegistry(failure_threshold=1)
    openai = FakeProvider("openai", [ProviderUnavailable("openai", "503"), ok("openai")])
    router, _ = make_router(breakers, max_retries=0)
    with pytest.raises(AllProvidersFailed):
        await router.run(request(), chain(openai, org="org-1"))
    result = await router.run(request(), chain(openai, org="org-2"))
    assert result.response.provider == "openai"
    assert breakers.snapshot() == {"org-1:openai": "open", "org-2:openai": "closed"}


async def test_failed_half_open_trial_reopens_the_circuit() -> None:
    clock = FakeClock()
    breakers = BreakerRegistry(failure_threshold=1, reset_after=30, clock=clock)
    down = ProviderUnavailable("openai", "503")
    openai = FakeProvider("openai", [down, down])
    anthropic = FakeProvider("anthropic", [ok("anthropic")] * 2)
    router, sleeps = make_router(breakers, clock=clock)
    await router.run(request(), chain(openai, anthropic))
    clock.now += 30
    result = await router.run(request(), chain(openai, anthropic))
    # The trial failed: no retries on a reopened circuit, straight to the next provider.
    assert len(openai.requests) == 2
    assert result.attempts[0].error == "503 (its circuit is now open)"
    assert breakers.snapshot()["org-1:openai"] == "open"
    assert sleeps.waits == []


async def test_retries_stop_when_the_circuit_opens() -> None:
    breakers = BreakerRegistry(failure_threshold=2)
    failures: list[Step] = [ProviderUnavailable("openai", "503")] * 5
    openai = FakeProvider("openai", failures)
    router, sleeps = make_router(breakers, max_retries=5)
    with pytest.raises(AllProvidersFailed):
        await router.run(request(), chain(openai))
    assert len(openai.requests) == 2
    assert sleeps.waits == [0.375]


# --- structured output -----------------------------------------------------------------------


async def test_valid_structured_output_is_parsed() -> None:
    text = '{"title": "Cat mug", "tags": ["cat", "mug"]}'
    openai = FakeProvider("openai", [ok("openai", text)])
    router, _ = make_router()
    result = await router.run(request(), chain(openai), output=Listing)
    assert result.parsed == Listing(title="Cat mug", tags=["cat", "mug"])
    assert parsed_as(result, Listing).title == "Cat mug"
    assert result.repaired is False
    sent = openai.requests[0]
    assert sent.json_schema == Listing.model_json_schema()
    assert sent.schema_name == "Listing"


async def test_json_in_a_code_fence_is_accepted() -> None:
    text = 'Here you go:\n```json\n{"title": "Cat mug", "tags": []}\n```'
    openai = FakeProvider("openai", [ok("openai", text)])
    router, _ = make_router()
    result = await router.run(request(), chain(openai), output=Listing)
    assert result.parsed == Listing(title="Cat mug", tags=[])
    assert parse_output(Listing, '```\n{"title": "t", "tags": ["a"]}\n```')[0] == Listing(
        title="t", tags=["a"]
    )


async def test_invalid_output_is_repaired_once_on_the_same_provider() -> None:
    bad = '{"title": "Cat mug"}'
    good = '{"title": "Cat mug", "tags": ["cat"]}'
    openai = FakeProvider("openai", [ok("openai", bad), ok("openai", good)])
    router, _ = make_router()
    result = await router.run(request(), chain(openai), output=Listing)
    assert result.repaired is True
    assert result.parsed == Listing(title="Cat mug", tags=["cat"])
    [attempt] = result.attempts
    assert (attempt.outcome, attempt.calls) == ("ok", 2)
    assert attempt.usage == Usage(input_tokens=200, output_tokens=40)
    repair = openai.requests[1].messages
    assert repair[:-2] == openai.requests[0].messages
    assert repair[-2] == Message(role="assistant", content=bad)
    assert repair[-1] == Message(
        role="user",
        content=(
            "Your previous answer is not valid JSON for the Listing schema: tags: Field "
            "required. Reply with only the corrected JSON document that matches the schema: no "
            "explanation and no code fences."
        ),
    )


async def test_output_invalid_twice_falls_back() -> None:
    openai = FakeProvider("openai", [ok("openai", "not json"), ok("openai", '{"title": 5}')])
    good = '{"title": "Cat mug", "tags": ["cat"]}'
    anthropic = FakeProvider("anthropic", [ok("anthropic", good)])
    router, _ = make_router()
    result = await router.run(request(), chain(openai, anthropic), output=Listing)
    assert result.response.provider == "anthropic"
    assert result.repaired is False
    invalid = result.attempts[0]
    assert invalid.outcome == "invalid_output"
    assert invalid.calls == 2
    assert invalid.usage == Usage(input_tokens=200, output_tokens=40)
    assert invalid.error == "title: Input should be a valid string; tags: Field required"
    assert "Invalid JSON" in openai.requests[1].messages[-1].content


async def test_repair_answer_that_refuses_falls_back() -> None:
    openai = FakeProvider(
        "openai", [ok("openai", "{}"), ok("openai", "I won't do that.", refused=True)]
    )
    anthropic = FakeProvider("anthropic", [ok("anthropic", '{"title": "t", "tags": []}')])
    router, _ = make_router()
    result = await router.run(request(), chain(openai, anthropic), output=Listing)
    assert [a.outcome for a in result.attempts] == ["refused", "ok"]


# --- stream ----------------------------------------------------------------------------------


def delta(text: str) -> StreamEvent:
    return StreamEvent(type="delta", text=text)


def done(provider: str, text: str, **changes: object) -> StreamEvent:
    return StreamEvent(type="done", text=text, response=ok(provider, text, **changes))


async def collect(
    stream: AsyncIterator[StreamEvent], into: list[StreamEvent] | None = None
) -> list[StreamEvent]:
    """Read the whole stream; `into` keeps what arrived even when the stream raises."""
    events = into if into is not None else []
    async for event in stream:
        events.append(event)
    return events


async def test_stream_falls_back_before_the_first_delta() -> None:
    openai = FakeProvider("openai", streams=[[ProviderUnavailable("openai", "502 Bad Gateway")]])
    anthropic = FakeProvider(
        "anthropic", streams=[[delta("A mug "), delta("for cats."), done("anthropic", "x")]]
    )
    router, _ = make_router(max_retries=0)
    attempts: list[Attempt] = []
    events = await collect(router.stream(request(), chain(openai, anthropic), attempts=attempts))
    assert [e.text for e in events] == ["A mug ", "for cats.", "x"]
    assert events[-1].response is not None
    assert events[-1].response.provider == "anthropic"
    assert [(a.provider, a.outcome) for a in attempts] == [
        ("openai", "unavailable"),
        ("anthropic", "ok"),
    ]
    assert attempts[1].usage == Usage(input_tokens=100, output_tokens=20)


async def test_stream_retries_before_the_first_delta() -> None:
    openai = FakeProvider(
        "openai",
        streams=[[rate_limited(2.0)], [delta("Hi"), done("openai", "Hi")]],
    )
    router, sleeps = make_router()
    attempts: list[Attempt] = []
    events = await collect(router.stream(request(), chain(openai), attempts=attempts))
    assert [e.type for e in events] == ["delta", "done"]
    assert sleeps.waits == [2.0]
    assert attempts[0].retries == 1
    assert attempts[0].outcome == "ok"


async def test_stream_error_after_a_delta_is_not_hidden_by_a_fallback() -> None:
    openai = FakeProvider(
        "openai", streams=[[delta("A mug "), ProviderUnavailable("openai", "connection reset")]]
    )
    anthropic = FakeProvider("anthropic", streams=[[done("anthropic", "never")]])
    router, _ = make_router()
    received: list[StreamEvent] = []
    with pytest.raises(AllProvidersFailed) as failed:
        await collect(router.stream(request(), chain(openai, anthropic)), into=received)
    assert [e.text for e in received] == ["A mug "]
    assert anthropic.requests == []
    assert failed.value.partial is True
    [attempt] = failed.value.attempts
    assert attempt.outcome == "unavailable"
    assert attempt.error == "connection reset (after part of the answer was sent)"
    assert str(failed.value).startswith("The AI answer broke off partway")


async def test_stream_refusal_before_any_text_falls_back() -> None:
    openai = FakeProvider("openai", streams=[[done("openai", "No.", refused=True)]])
    gemini = FakeProvider("gemini", streams=[[delta("Yes"), done("gemini", "Yes")]])
    router, _ = make_router()
    attempts: list[Attempt] = []
    events = await collect(router.stream(request(), chain(openai, gemini), attempts=attempts))
    assert [e.text for e in events] == ["Yes", "Yes"]
    assert [a.outcome for a in attempts] == ["refused", "ok"]


async def test_stream_that_ends_without_done_or_stalls_falls_back() -> None:
    class Stalling(FakeProvider):
        async def _play(self, script: StreamScript) -> AsyncIterator[StreamEvent]:
            await asyncio.sleep(3600)
            yield delta("never")

    openai = FakeProvider("openai", streams=[[]])
    xai = Stalling("xai", streams=[[]])
    gemini = FakeProvider("gemini", streams=[[done("gemini", "ok")]])
    router, _ = make_router(max_retries=0)
    attempts: list[Attempt] = []
    events = await collect(
        router.stream(request(timeout=0.05), chain(openai, xai, gemini), attempts=attempts)
    )
    assert [e.type for e in events] == ["done"]
    assert [(a.outcome, a.error) for a in attempts] == [
        ("unavailable", "the stream ended before its final event"),
        ("timeout", "no data within 0.05 s"),
        ("ok", None),
    ]


async def test_stream_with_every_provider_failing_raises() -> None:
    openai = FakeProvider("openai", streams=[[ProviderAuthError("openai", "401")]])
    router, _ = make_router()
    with pytest.raises(AllProvidersFailed, match="Check the API key for openai") as failed:
        await collect(router.stream(request(), chain(openai)))
    assert failed.value.partial is False
