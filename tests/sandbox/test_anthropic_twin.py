"""The Anthropic twin on the wire: the Messages API's bodies, events, statuses and error bodies,
sent by plain httpx (independently of the SDK) and once through the real `anthropic` SDK."""

import asyncio
import json
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any, Literal

import anthropic
import httpx
import httpx2
import pytest
from pydantic import BaseModel, Field

from flashfusion.sandbox.ai_common import (
    AISandboxState,
    answer_text,
    count_tokens,
    dumps,
    synthesize,
)
from flashfusion.sandbox.anthropic_api import MODELS, create_app

URL = "http://anthropic.sandbox/v1/messages"
SYSTEM = "You write product listings."
USER = "Write a title for a ceramic cat mug."
MODEL = "claude-sonnet-5-5"
INPUT_TOKENS = count_tokens(SYSTEM) + count_tokens(USER)


class Listing(BaseModel):
    title: str = Field(max_length=60)
    tags: list[str] = Field(min_length=2, max_length=5)
    tone: Literal["playful", "formal"]
    price_cents: int = Field(ge=100)


@pytest.fixture(scope="session")
def migrated_database() -> None:
    """Overrides the suite's migration fixture: these tests reach only the twin, no database."""


@pytest.fixture
def key() -> str:
    return "sk-test-" + secrets.token_hex(16)


@pytest.fixture
def app(key: str) -> Any:
    return create_app(api_keys={key})


@pytest.fixture
async def http(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as client:
        yield client


def state(app: Any) -> AISandboxState:
    sandbox: AISandboxState = app.state.sandbox
    return sandbox


def headers(key: str, **extra: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}", "anthropic-version": "2026-10-21", **extra}


def body(**fields: Any) -> dict[str, Any]:
    return {
        "model": MODEL,
        "max_tokens": 1000,
        "system": SYSTEM,
        "messages": [{"role": "user", "content": USER}],
        **fields,
    }


def events(text: str) -> list[tuple[str, dict[str, Any]]]:
    """(event name, data) pairs of a server-sent event stream."""
    parsed = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.split("\n"))
        parsed.append((lines["event"], json.loads(lines["data"])))
    return parsed


async def test_message_has_the_messages_api_shape_and_exact_usage(
    http: httpx.AsyncClient, app: Any, key: str
) -> None:
    response = await http.post(URL, json=body(), headers=headers(key))

    assert response.status_code == 200
    message = response.json()
    assert message["id"].startswith("msg_")
    assert response.headers["request-id"].startswith("req_")
    text = answer_text(USER)
    assert message == {
        "id": message["id"],
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "stop_details": None,
        "usage": {"input_tokens": INPUT_TOKENS, "output_tokens": count_tokens(text)},
    }
    assert state(app).requests["messages.create"] == 1
    assert state(app).bodies[-1] == body()


async def test_x_api_key_header_is_accepted_like_bearer(http: httpx.AsyncClient, key: str) -> None:
    response = await http.post(
        URL, json=body(), headers={"x-api-key": key, "anthropic-version": "2023-06-01"}
    )

    assert response.status_code == 200
    assert response.json()["stop_reason"] == "end_turn"


@pytest.mark.parametrize(
    ("sent", "message"),
    [
        ({"anthropic-version": "2026-10-21"}, "x-api-key header is required"),
        (
            {"authorization": "Bearer sk-test-wrong", "anthropic-version": "2026-10-21"},
            "invalid x-api-key",
        ),
        ({"x-api-key": "sk-test-wrong", "anthropic-version": "2026-10-21"}, "invalid x-api-key"),
    ],
)
async def test_missing_or_unknown_key_is_401_authentication_error(
    http: httpx.AsyncClient, app: Any, sent: dict[str, str], message: str
) -> None:
    response = await http.post(URL, json=body(), headers=sent)

    assert response.status_code == 401
    assert response.json() == {
        "type": "error",
        "error": {"type": "authentication_error", "message": message},
        "request_id": response.headers["request-id"],
    }
    assert state(app).errors["authentication_error"] == 1


async def test_missing_anthropic_version_is_400(http: httpx.AsyncClient, key: str) -> None:
    response = await http.post(URL, json=body(), headers={"authorization": f"Bearer {key}"})

    assert response.status_code == 400
    assert response.json()["error"] == {
        "type": "invalid_request_error",
        "message": "anthropic-version: header is required",
    }


async def test_unknown_model_is_404_not_found_error(http: httpx.AsyncClient, key: str) -> None:
    response = await http.post(URL, json=body(model="claude-nope-1"), headers=headers(key))

    assert response.status_code == 404
    assert response.json()["error"] == {
        "type": "not_found_error",
        "message": "model: claude-nope-1",
    }


async def test_prompt_over_the_context_window_is_400_prompt_too_long(
    http: httpx.AsyncClient, key: str
) -> None:
    model = "claude-haiku-4-5"
    assert MODELS[model] == 200_000
    prompt = "word " * 200_001

    response = await http.post(
        URL,
        json=body(model=model, system="", messages=[{"role": "user", "content": prompt}]),
        headers=headers(key),
    )

    assert response.status_code == 400
    assert response.json()["error"] == {
        "type": "invalid_request_error",
        "message": "prompt is too long: 200001 tokens > 200000 maximum",
    }


async def test_prompt_exactly_at_the_context_window_is_answered(key: str) -> None:
    small = create_app(api_keys={key}, models={MODEL: 30})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=small)) as client:
        fits = await client.post(
            URL,
            json=body(system="", messages=[{"role": "user", "content": "word " * 30}]),
            headers=headers(key),
        )
        over = await client.post(
            URL,
            json=body(system="", messages=[{"role": "user", "content": "word " * 31}]),
            headers=headers(key),
        )
    assert fits.status_code == 200
    assert fits.json()["usage"]["input_tokens"] == 30
    assert over.status_code == 400


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"max_tokens": None}, "max_tokens: Field required"),
        ({"model": None}, "model: Field required"),
        ({"messages": []}, "messages: at least one message is required"),
        (
            {"messages": [{"role": "robot", "content": "hi"}]},
            "messages.0.role: Input should be 'user' or 'assistant'",
        ),
        ({"temperature": 1.5}, "temperature: Input should be a number from 0 to 1"),
        (
            {"output_config": {"format": {"type": "xml"}}},
            "output_config.format.type: Input should be 'json_schema'",
        ),
    ],
)
async def test_invalid_bodies_are_400_invalid_request_error(
    http: httpx.AsyncClient, key: str, change: dict[str, Any], message: str
) -> None:
    sent = {k: v for k, v in {**body(), **change}.items() if v is not None}

    response = await http.post(URL, json=sent, headers=headers(key))

    assert response.status_code == 400
    assert response.json()["error"] == {"type": "invalid_request_error", "message": message}


async def test_body_that_is_not_json_is_400(http: httpx.AsyncClient, key: str) -> None:
    response = await http.post(URL, content=b"{not json", headers=headers(key))

    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


async def test_content_as_text_blocks_counts_like_a_string(
    http: httpx.AsyncClient, key: str
) -> None:
    blocks = body(
        system=[{"type": "text", "text": SYSTEM}],
        messages=[{"role": "user", "content": [{"type": "text", "text": USER}]}],
    )

    response = await http.post(URL, json=blocks, headers=headers(key))

    assert response.json()["usage"]["input_tokens"] == INPUT_TOKENS
    assert response.json()["content"][0]["text"] == answer_text(USER)


async def test_rate_limit_fault_is_429_with_retry_after(
    http: httpx.AsyncClient, app: Any, key: str
) -> None:
    state(app).faults.rate_limit = 2
    state(app).faults.retry_after = 2.5

    first = await http.post(URL, json=body(), headers=headers(key))
    second = await http.post(URL, json=body(), headers=headers(key))
    third = await http.post(URL, json=body(), headers=headers(key))

    assert [first.status_code, second.status_code, third.status_code] == [429, 429, 200]
    assert first.headers["retry-after"] == "2.5"
    assert first.json()["error"]["type"] == "rate_limit_error"
    assert state(app).errors["rate_limit_error"] == 2


@pytest.mark.parametrize(
    ("status", "error_type", "message"),
    [(500, "api_error", "Internal server error"), (529, "overloaded_error", "Overloaded")],
)
async def test_server_error_fault_uses_the_documented_type(
    http: httpx.AsyncClient, app: Any, key: str, status: int, error_type: str, message: str
) -> None:
    state(app).faults.server_error = 1
    state(app).faults.server_error_status = status

    failed = await http.post(URL, json=body(), headers=headers(key))
    recovered = await http.post(URL, json=body(), headers=headers(key))

    assert failed.status_code == status
    assert failed.json()["error"] == {"type": error_type, "message": message}
    assert recovered.status_code == 200


async def test_structured_output_is_json_valid_for_the_schema(
    http: httpx.AsyncClient, key: str
) -> None:
    schema = Listing.model_json_schema()
    output_config = {"format": {"type": "json_schema", "schema": schema}}

    response = await http.post(URL, json=body(output_config=output_config), headers=headers(key))

    text = response.json()["content"][0]["text"]
    listing = Listing.model_validate_json(text)
    assert text == dumps(synthesize(schema, USER))
    assert (listing.tone, listing.price_cents, len(listing.tags)) == ("playful", 100, 5)
    assert response.json()["usage"]["output_tokens"] == count_tokens(text)


async def test_invalid_json_fault_breaks_the_next_structured_answer_only(
    http: httpx.AsyncClient, app: Any, key: str
) -> None:
    output_config = {"format": {"type": "json_schema", "schema": Listing.model_json_schema()}}
    state(app).faults.invalid_json = 1

    plain = await http.post(URL, json=body(), headers=headers(key))
    broken = await http.post(URL, json=body(output_config=output_config), headers=headers(key))
    healed = await http.post(URL, json=body(output_config=output_config), headers=headers(key))

    assert plain.json()["content"][0]["text"] == answer_text(USER)
    with pytest.raises(json.JSONDecodeError):
        json.loads(broken.json()["content"][0]["text"])
    Listing.model_validate_json(healed.json()["content"][0]["text"])


async def test_max_tokens_cuts_the_answer_and_says_max_tokens(
    http: httpx.AsyncClient, key: str
) -> None:
    response = await http.post(URL, json=body(max_tokens=3), headers=headers(key))

    message = response.json()
    assert message["content"] == [{"type": "text", "text": "Sandbox answer:"}]
    assert message["stop_reason"] == "max_tokens"
    assert message["usage"]["output_tokens"] == 3


async def test_refuse_fault_stops_halfway_with_stop_reason_refusal(
    http: httpx.AsyncClient, app: Any, key: str
) -> None:
    state(app).faults.refuse = 1

    response = await http.post(URL, json=body(), headers=headers(key))

    message = response.json()
    full = answer_text(USER)
    half = count_tokens(full) // 2
    assert message["stop_reason"] == "refusal"
    assert message["stop_details"] == {"type": "refusal", "category": None, "explanation": None}
    assert count_tokens(message["content"][0]["text"]) == half
    assert full.startswith(message["content"][0]["text"])
    assert message["usage"]["output_tokens"] == half


async def test_stream_sends_the_documented_event_sequence(
    http: httpx.AsyncClient, key: str
) -> None:
    response = await http.post(URL, json=body(stream=True), headers=headers(key))

    assert response.headers["content-type"].startswith("text/event-stream")
    sequence = events(response.text)
    names = [name for name, _ in sequence]
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert set(names[3:-3]) == {"content_block_delta"}
    assert len(names[3:-3]) >= 2
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    start = sequence[0][1]["message"]
    assert start["usage"]["input_tokens"] == INPUT_TOKENS
    assert start["content"] == []
    assert start["stop_reason"] is None
    deltas = [data["delta"]["text"] for name, data in sequence if name == "content_block_delta"]
    assert "".join(deltas) == answer_text(USER)
    final = sequence[-2][1]
    assert final["delta"]["stop_reason"] == "end_turn"
    assert final["usage"] == {"output_tokens": count_tokens(answer_text(USER))}


async def test_stream_refusal_arrives_in_message_delta(
    http: httpx.AsyncClient, app: Any, key: str
) -> None:
    state(app).faults.refuse = 1

    response = await http.post(URL, json=body(stream=True), headers=headers(key))

    sequence = events(response.text)
    deltas = [data["delta"]["text"] for name, data in sequence if name == "content_block_delta"]
    assert count_tokens("".join(deltas)) == count_tokens(answer_text(USER)) // 2
    delta = dict(sequence)["message_delta"]["delta"]
    assert delta["stop_reason"] == "refusal"
    assert delta["stop_details"]["type"] == "refusal"


async def test_hang_fault_never_answers_and_is_used_up(
    http: httpx.AsyncClient, app: Any, key: str
) -> None:
    state(app).faults.hang = 1

    with pytest.raises(TimeoutError):
        await asyncio.wait_for(http.post(URL, json=body(), headers=headers(key)), 0.2)
    answered = await http.post(URL, json=body(), headers=headers(key))

    assert answered.status_code == 200
    assert state(app).faults.hang == 0


async def test_latency_fault_delays_every_answer(
    http: httpx.AsyncClient, app: Any, key: str
) -> None:
    state(app).faults.latency = 0.15

    started = time.monotonic()
    response = await http.post(URL, json=body(), headers=headers(key))

    assert response.status_code == 200
    assert time.monotonic() - started >= 0.15


async def test_concurrency_fault_queues_requests_beyond_the_limit(
    http: httpx.AsyncClient, app: Any, key: str
) -> None:
    state(app).faults.latency = 0.1
    state(app).faults.concurrency = 1

    started = time.monotonic()
    answers = await asyncio.gather(
        *(http.post(URL, json=body(), headers=headers(key)) for _ in range(3))
    )

    assert [a.status_code for a in answers] == [200, 200, 200]
    assert time.monotonic() - started >= 0.3


async def test_the_real_sdk_reads_messages_and_streams(app: Any, key: str) -> None:
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport) as http_client:
        client = anthropic.AsyncAnthropic(
            api_key=key, base_url="http://anthropic.sandbox", http_client=http_client, max_retries=0
        )
        message = await client.messages.create(
            model=MODEL, max_tokens=100, system=SYSTEM, messages=[{"role": "user", "content": USER}]
        )
        async with client.messages.stream(
            model=MODEL, max_tokens=100, system=SYSTEM, messages=[{"role": "user", "content": USER}]
        ) as stream:
            streamed = [text async for text in stream.text_stream]
            final = await stream.get_final_message()

    assert message.content[0].type == "text"
    assert message.content[0].text == answer_text(USER)
    assert (message.usage.input_tokens, message.usage.output_tokens) == (
        INPUT_TOKENS,
        count_tokens(answer_text(USER)),
    )
    assert "".join(streamed) == answer_text(USER)
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == message.usage.output_tokens
    assert final.usage.input_tokens == INPUT_TOKENS
