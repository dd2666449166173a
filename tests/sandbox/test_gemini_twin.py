"""The Gemini twin on the wire: generateContent / streamGenerateContent bodies, statuses and
Google's error bodies, sent by plain httpx (independently of the SDK) and through `google-genai`."""

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from typing import Any, Literal

import httpx
import pytest
from google import genai
from google.genai import types as genai_types
from pydantic import BaseModel, Field

from flashfusion.sandbox.ai_common import (
    AISandboxState,
    answer_text,
    count_tokens,
    dumps,
    synthesize,
)
from flashfusion.sandbox.gemini_api import MODELS, create_app

BASE = "http://gemini.sandbox"
MODEL = "gemini-3.8-flash"
SYSTEM = "You write product listings."
USER = "Write a title for a ceramic cat mug."
PROMPT_TOKENS = count_tokens(SYSTEM) + count_tokens(USER)


class Listing(BaseModel):
    title: str = Field(max_length=60)
    tags: list[str] = Field(min_length=2, max_length=5)
    tone: Literal["playful", "formal"]


@pytest.fixture(scope="session")
def migrated_database() -> None:
    """Overrides the suite's migration fixture: these tests reach only the twin, no database."""


@pytest.fixture
def key() -> str:
    return "gk-test-" + secrets.token_hex(16)


@pytest.fixture
def app(key: str) -> Any:
    return create_app(api_keys={key})


@pytest.fixture
async def http(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client:
        yield client


def state(app: Any) -> AISandboxState:
    sandbox: AISandboxState = app.state.sandbox
    return sandbox


def body(**config: Any) -> dict[str, Any]:
    sent: dict[str, Any] = {
        "contents": [{"role": "user", "parts": [{"text": USER}]}],
        "systemInstruction": {"parts": [{"text": SYSTEM}]},
    }
    if config:
        sent["generationConfig"] = config
    return sent


async def generate(
    http: httpx.AsyncClient,
    key: str | None,
    sent: dict[str, Any] | None = None,
    *,
    model: str = MODEL,
    version: str = "v1beta",
) -> httpx.Response:
    headers = {"x-goog-api-key": key} if key else {}
    return await http.post(
        f"/{version}/models/{model}:generateContent", json=sent or body(), headers=headers
    )


def sse_chunks(text: str) -> list[dict[str, Any]]:
    return [
        json.loads(block.removeprefix("data: "))
        for block in text.replace("\r\n", "\n").strip().split("\n\n")
    ]


@pytest.mark.parametrize("version", ["v1", "v1beta"])
async def test_generate_content_has_the_api_shape_and_exact_usage(
    http: httpx.AsyncClient, app: Any, key: str, version: str
) -> None:
    response = await generate(http, key, version=version)

    assert response.status_code == 200
    answer = response.json()
    text = answer_text(USER)
    assert answer == {
        "modelVersion": MODEL,
        "responseId": answer["responseId"],
        "candidates": [
            {
                "index": 0,
                "content": {"role": "model", "parts": [{"text": text}]},
                "finishReason": "STOP",
            }
        ],
        "usageMetadata": {
            "promptTokenCount": PROMPT_TOKENS,
            "candidatesTokenCount": count_tokens(text),
            "totalTokenCount": PROMPT_TOKENS + count_tokens(text),
        },
    }
    assert state(app).requests["models.generateContent"] == 1
    assert state(app).bodies[-1] == body()


async def test_key_query_parameter_is_accepted(http: httpx.AsyncClient, key: str) -> None:
    response = await http.post(
        f"/v1beta/models/{MODEL}:generateContent", params={"key": key}, json=body()
    )

    assert response.status_code == 200


async def test_missing_key_is_403_permission_denied(http: httpx.AsyncClient, app: Any) -> None:
    response = await generate(http, None)

    assert response.status_code == 403
    assert response.json() == {
        "error": {
            "code": 403,
            "message": "Method doesn't allow unregistered callers (callers without established "
            "identity). Please use API Key or other form of API consumer identity to call this "
            "API.",
            "status": "PERMISSION_DENIED",
        }
    }
    assert state(app).errors["PERMISSION_DENIED"] == 1


async def test_invalid_key_is_400_api_key_invalid_and_echoes_the_key_like_google(
    http: httpx.AsyncClient,
) -> None:
    wrong = "gk-test-" + secrets.token_hex(16)

    response = await generate(http, wrong)

    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["status"]) == (400, "INVALID_ARGUMENT")
    assert error["message"] == "API key not valid. Please pass a valid API key."
    assert error["details"][0] == {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "API_KEY_INVALID",
        "domain": "googleapis.com",
        "metadata": {"service": "generativelanguage.googleapis.com"},
    }
    assert error["details"][2]["detail"] == f"Invalid API key: {wrong}"


async def test_unknown_model_is_404_not_found(http: httpx.AsyncClient, key: str) -> None:
    response = await generate(http, key, model="gemini-0-nope")

    assert response.status_code == 404
    assert response.json()["error"] == {
        "code": 404,
        "message": "models/gemini-0-nope is not found for API version v1beta, or is not "
        "supported for generateContent. Call ListModels to see the list of available models "
        "and their supported methods.",
        "status": "NOT_FOUND",
    }


async def test_unknown_method_is_404(http: httpx.AsyncClient, key: str) -> None:
    response = await http.post(
        f"/v1beta/models/{MODEL}:embedContent", json=body(), headers={"x-goog-api-key": key}
    )

    assert response.status_code == 404
    assert response.json()["error"]["status"] == "NOT_FOUND"


async def test_prompt_over_the_input_limit_is_400_invalid_argument(
    http: httpx.AsyncClient, key: str
) -> None:
    assert MODELS[MODEL] == 1_048_576
    sent = {"contents": [{"role": "user", "parts": [{"text": "word " * 1_048_577}]}]}

    response = await generate(http, key, sent)

    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": 400,
        "message": "The input token count (1048577) exceeds the maximum number of tokens "
        "allowed (1048576).",
        "status": "INVALID_ARGUMENT",
    }


async def test_prompt_at_the_limit_is_answered(key: str) -> None:
    small = create_app(api_keys={key}, models={MODEL: 12})
    transport = httpx.ASGITransport(app=small)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        fits = await generate(client, key, {"contents": [{"parts": [{"text": "word " * 12}]}]})
        over = await generate(client, key, {"contents": [{"parts": [{"text": "word " * 13}]}]})

    assert fits.status_code == 200
    assert fits.json()["usageMetadata"]["promptTokenCount"] == 12
    assert over.status_code == 400


@pytest.mark.parametrize(
    ("sent", "message"),
    [
        ({"contents": []}, "* GenerateContentRequest.contents: contents is not specified"),
        ({}, "* GenerateContentRequest.contents: contents is not specified"),
        (
            {"contents": [{"role": "robot", "parts": [{"text": "hi"}]}]},
            "* GenerateContentRequest.contents[0].role: must be 'user' or 'model'",
        ),
        (
            {"contents": [{"role": "user"}]},
            "* GenerateContentRequest.contents[0].parts: parts is not specified",
        ),
    ],
)
async def test_invalid_bodies_are_400_invalid_argument(
    http: httpx.AsyncClient, key: str, sent: dict[str, Any], message: str
) -> None:
    response = await http.post(
        f"/v1beta/models/{MODEL}:generateContent", json=sent, headers={"x-goog-api-key": key}
    )

    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": 400,
        "message": message,
        "status": "INVALID_ARGUMENT",
    }


async def test_response_json_schema_gives_json_valid_for_the_schema(
    http: httpx.AsyncClient, key: str
) -> None:
    schema = Listing.model_json_schema()
    sent = body(responseMimeType="application/json", responseJsonSchema=schema)

    response = await generate(http, key, sent)

    text = response.json()["candidates"][0]["content"]["parts"][0]["text"]
    assert text == dumps(synthesize(schema, USER))
    listing = Listing.model_validate_json(text)
    assert listing.tone == "playful"


async def test_openapi_response_schema_with_upper_case_types_is_honoured(
    http: httpx.AsyncClient, key: str
) -> None:
    schema = {
        "type": "OBJECT",
        "properties": {
            "title": {"type": "STRING"},
            "tags": {"type": "ARRAY", "items": {"type": "STRING"}, "minItems": 2},
        },
    }
    sent = body(responseMimeType="application/json", responseSchema=schema)

    response = await generate(http, key, sent)

    value = json.loads(response.json()["candidates"][0]["content"]["parts"][0]["text"])
    assert set(value) == {"title", "tags"}
    assert isinstance(value["title"], str)
    assert all(isinstance(tag, str) for tag in value["tags"])


async def test_json_mime_type_without_schema_answers_a_json_string(
    http: httpx.AsyncClient, key: str
) -> None:
    response = await generate(http, key, body(responseMimeType="application/json"))

    text = response.json()["candidates"][0]["content"]["parts"][0]["text"]
    assert json.loads(text) == answer_text(USER)


async def test_invalid_json_fault_breaks_the_next_structured_answer(
    http: httpx.AsyncClient, app: Any, key: str
) -> None:
    sent = body(responseMimeType="application/json", responseJsonSchema=Listing.model_json_schema())
    state(app).faults.invalid_json = 1

    broken = await generate(http, key, sent)
    healed = await generate(http, key, sent)

    with pytest.raises(json.JSONDecodeError):
        json.loads(broken.json()["candidates"][0]["content"]["parts"][0]["text"])
    Listing.model_validate_json(healed.json()["candidates"][0]["content"]["parts"][0]["text"])


async def test_max_output_tokens_cuts_the_answer_with_max_tokens(
    http: httpx.AsyncClient, key: str
) -> None:
    response = await generate(http, key, body(maxOutputTokens=3))

    candidate = response.json()["candidates"][0]
    assert candidate["content"]["parts"][0]["text"] == "Sandbox answer:"
    assert candidate["finishReason"] == "MAX_TOKENS"
    assert response.json()["usageMetadata"]["candidatesTokenCount"] == 3


async def test_refuse_fault_finishes_the_candidate_for_safety(
    http: httpx.AsyncClient, app: Any, key: str
) -> None:
    state(app).faults.refuse = 1

    response = await generate(http, key)

    candidate = response.json()["candidates"][0]
    assert candidate["finishReason"] == "SAFETY"
    assert "content" not in candidate
    assert candidate["safetyRatings"][0]["blocked"] is True
    assert response.json()["usageMetadata"]["candidatesTokenCount"] == 0


async def test_refuse_fault_in_prompt_mode_blocks_the_prompt(
    http: httpx.AsyncClient, app: Any, key: str
) -> None:
    app.state.twin.refusal_mode = "prompt"
    state(app).faults.refuse = 1

    response = await generate(http, key)

    answer = response.json()
    assert "candidates" not in answer
    assert answer["promptFeedback"]["blockReason"] == "SAFETY"
    assert answer["usageMetadata"] == {
        "promptTokenCount": PROMPT_TOKENS,
        "totalTokenCount": PROMPT_TOKENS,
    }


async def test_rate_limit_fault_is_429_with_retry_info_and_no_header(
    http: httpx.AsyncClient, app: Any, key: str
) -> None:
    state(app).faults.rate_limit = 1
    state(app).faults.retry_after = 37.5

    limited = await generate(http, key)
    answered = await generate(http, key)

    assert limited.status_code == 429
    assert "retry-after" not in limited.headers
    error = limited.json()["error"]
    assert (error["code"], error["status"]) == (429, "RESOURCE_EXHAUSTED")
    assert error["details"][-1] == {
        "@type": "type.googleapis.com/google.rpc.RetryInfo",
        "retryDelay": "37.5s",
    }
    assert answered.status_code == 200


@pytest.mark.parametrize(
    ("status", "grpc", "message"),
    [
        (
            500,
            "INTERNAL",
            "An internal error has occurred. Please retry or report in "
            "https://developers.generativeai.google/guide/troubleshooting",
        ),
        (503, "UNAVAILABLE", "The model is overloaded. Please try again later."),
    ],
)
async def test_server_error_fault_uses_google_status(
    http: httpx.AsyncClient, app: Any, key: str, status: int, grpc: str, message: str
) -> None:
    state(app).faults.server_error = 1
    state(app).faults.server_error_status = status

    failed = await generate(http, key)

    assert failed.status_code == status
    assert failed.json() == {"error": {"code": status, "message": message, "status": grpc}}
    assert state(app).errors[grpc] == 1


async def test_stream_sends_chunks_whose_text_joins_to_the_answer(
    http: httpx.AsyncClient, app: Any, key: str
) -> None:
    response = await http.post(
        f"/v1beta/models/{MODEL}:streamGenerateContent",
        params={"alt": "sse"},
        json=body(),
        headers={"x-goog-api-key": key},
    )

    assert response.headers["content-type"].startswith("text/event-stream")
    chunks = sse_chunks(response.text)
    assert len(chunks) >= 2
    texts = [c["candidates"][0]["content"]["parts"][0]["text"] for c in chunks]
    assert "".join(texts) == answer_text(USER)
    assert [c["candidates"][0].get("finishReason") for c in chunks] == [None] * (
        len(chunks) - 1
    ) + ["STOP"]
    output = count_tokens(answer_text(USER))
    assert chunks[-1]["usageMetadata"] == {
        "promptTokenCount": PROMPT_TOKENS,
        "candidatesTokenCount": output,
        "totalTokenCount": PROMPT_TOKENS + output,
    }
    assert state(app).requests["models.streamGenerateContent"] == 1


async def test_stream_without_alt_sse_is_one_json_array(http: httpx.AsyncClient, key: str) -> None:
    response = await http.post(
        f"/v1beta/models/{MODEL}:streamGenerateContent",
        json=body(),
        headers={"x-goog-api-key": key},
    )

    chunks = response.json()
    assert isinstance(chunks, list)
    assert "".join(c["candidates"][0]["content"]["parts"][0]["text"] for c in chunks) == (
        answer_text(USER)
    )


async def test_hang_fault_never_answers_and_is_used_up(
    http: httpx.AsyncClient, app: Any, key: str
) -> None:
    state(app).faults.hang = 1

    with pytest.raises(TimeoutError):
        await asyncio.wait_for(generate(http, key), 0.2)
    answered = await generate(http, key)

    assert answered.status_code == 200


async def test_the_real_sdk_reads_answers_and_streams(app: Any, key: str) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as http_client:
        client = genai.Client(
            api_key=key,
            http_options=genai_types.HttpOptions(base_url=BASE, httpx_async_client=http_client),
        )
        config = genai_types.GenerateContentConfig(system_instruction=SYSTEM)
        answer = await client.aio.models.generate_content(model=MODEL, contents=USER, config=config)
        streamed = [
            chunk.text
            async for chunk in await client.aio.models.generate_content_stream(
                model=MODEL, contents=USER, config=config
            )
        ]

    assert answer.text == answer_text(USER)
    assert answer.usage_metadata is not None
    assert answer.usage_metadata.prompt_token_count == PROMPT_TOKENS
    assert answer.usage_metadata.candidates_token_count == count_tokens(answer_text(USER))
    assert "".join(t or "" for t in streamed) == answer_text(USER)
    assert state(app).requests["models.generateContent"] == 1
    assert state(app).requests["models.streamGenerateContent"] == 1
