"""Gemini API twin: `generateContent` and `streamGenerateContent` as `google-genai` speaks them.

Checked against the installed SDK (google-genai 3.6.1) and Google's docs:

- Paths: `POST /{v1|v1beta}/models/{model}:generateContent` and
  `:streamGenerateContent?alt=sse` (google/genai/models.py); this SDK defaults to `v1`
  (google/genai/_api_client.py, `GOOGLE_AI_API_DEFAULT_VERSION`), the REST docs use `v1beta`.
- Auth: the SDK sends `x-goog-api-key: <key>` (_api_client.py); the REST `?key=` parameter is
  accepted too.
- Body (camelCase, models.py `_GenerateContentParameters_to_mldev`):
  `contents[{role, parts[{text}]}]`, `systemInstruction{parts}`, `generationConfig{temperature,
  maxOutputTokens, responseMimeType, responseSchema (OpenAPI subset, upper-case types),
  responseJsonSchema (JSON Schema)}`.
- Answer: `candidates[{content{role: "model", parts[{text}]}, finishReason: STOP | MAX_TOKENS |
  SAFETY, index}]`, `promptFeedback{blockReason}` when the prompt is blocked, and
  `usageMetadata{promptTokenCount, candidatesTokenCount, totalTokenCount}` (types.py). Streaming
  sends one such object per `data:` event; the last carries finishReason and the final usage.
- Errors: `{"error": {"code", "message", "status", "details"?}}`, HTTP status and gRPC status per
  https://ai.google.dev/gemini-api/docs/troubleshooting (400 INVALID_ARGUMENT, 403
  PERMISSION_DENIED, 404 NOT_FOUND, 429 RESOURCE_EXHAUSTED, 500 INTERNAL, 503 UNAVAILABLE). What the
  real service answers, with its wording:
      missing key   403 PERMISSION_DENIED "Method doesn't allow unregistered callers …"
                    (github.com/PublicAffairs/openai-gemini/issues/92)
      invalid key   400 INVALID_ARGUMENT "API key not valid. Please pass a valid API key." with
                    ErrorInfo reason API_KEY_INVALID, LocalizedMessage and a DebugInfo that echoes
                    the key (github.com/continuedev/continue/issues/8516,
                    github.com/google/timesketch/pull/3703)
      unknown model 404 NOT_FOUND "models/X is not found for API version v1beta, or is not
                    supported for generateContent. …" (github.com/google/adk-python/issues/200)
      too long      400 INVALID_ARGUMENT "The input token count (N) exceeds the maximum number of
                    tokens allowed (M)." (github.com/google-gemini/gemini-cli/issues/4231)
      quota         429 RESOURCE_EXHAUSTED, no Retry-After header: the wait is a
                    google.rpc.RetryInfo `retryDelay` such as "26s" in `details`
                    (github.com/RooCodeInc/Roo-Code/issues/3883, github.com/dcdpr/jp/pull/1061)
      500 INTERNAL  "An internal error has occurred. …"
                    (github.com/PublicAffairs/openai-gemini/issues/15)
      503 UNAVAILABLE "The model is overloaded. Please try again later."
                    (github.com/anig1scur/tocify/issues/22)

Faults are the shared `AIFaults`; `server_error_status` picks 500 INTERNAL, 503 UNAVAILABLE or 504
DEADLINE_EXCEEDED. `app.state.twin.refusal_mode` says how the `refuse` fault blocks: "candidate"
(finishReason SAFETY, the default) or "prompt" (promptFeedback.blockReason SAFETY, no candidates).
`app.state.sandbox.requests` counts `models.generateContent` / `models.streamGenerateContent`.
"""

import itertools
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from flashfusion.sandbox.ai_common import (
    WORD,
    AISandboxState,
    answer_text,
    count_tokens,
    dumps,
    synthesize,
)

# Model code → input token limit.
MODELS: dict[str, int] = {
    # ai.google.dev/gemini-api/docs/models/gemini-3.8-flash, as captured in
    # docs.apiyi.com/en/live/2026-09/gemini-3-8-flash-official-specs ("Input token limit 1,048,576")
    "gemini-3.8-flash": 1_048_576,
    # ai.google.dev/gemini-api/docs/models/gemini-3.5-flash (deprecated, routed to 3.6 Flash)
    "gemini-3.5-flash": 1_048_576,
    # docs.cloud.google.com/gemini-enterprise-agent-platform/models/guides/gemini-3-5-flash
    # (comparison table: context window 1,048,576 for both)
    "gemini-3.1-pro-preview": 1_048_576,
    "gemini-3.1-flash-lite": 1_048_576,
    # FlashFusion's default for text tasks (flashfusion/ai/defaults.py, priced from
    # ai.google.dev/pricing); its context window is unverified: the twin uses the 3.x family's.
    "gemini-3.5-flash-lite": 1_048_576,
}

VERSIONS = ("v1", "v1beta")
STATUS_CODES = {
    400: "INVALID_ARGUMENT",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_SERVER_MESSAGES = {
    500: "An internal error has occurred. Please retry or report in "
    "https://developers.generativeai.google/guide/troubleshooting",
    503: "The model is overloaded. Please try again later.",
    504: "Deadline expired before operation could complete.",
}
_SAFETY_RATINGS = [
    {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": True}
]
_PIECE = re.compile(r"\S+\s*|\s+")
_WORDS_PER_CHUNK = 3


class GoogleError(Exception):
    """An error answer in Google's JSON error format."""

    def __init__(self, code: int, message: str, details: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.code = code
        self.status = STATUS_CODES[code]
        self.message = message
        self.details = details


@dataclass
class _Call:
    model: str
    method: str
    system: str
    contents: list[tuple[str, str]]  # (role, text)
    max_output_tokens: int | None
    mime_type: str | None
    schema: dict[str, Any] | None


@dataclass
class _Answer:
    text: str
    finish_reason: str | None  # None: the prompt itself was blocked
    prompt_tokens: int


class GeminiTwin:
    def __init__(self, state: AISandboxState, models: dict[str, int]) -> None:
        self.state = state
        self.models = models
        self.refusal_mode = "candidate"
        self._ids = itertools.count(1)

    async def models_call(self, request: Request) -> Response:
        response_id = f"twin{next(self._ids):016d}"
        version = request.path_params["version"]
        model, _, method = request.path_params["target"].rpartition(":")
        try:
            if version not in VERSIONS or method not in (
                "generateContent",
                "streamGenerateContent",
            ):
                raise GoogleError(404, f"Method not found: {request.url.path}")
            body = await _json_body(request)
            self.state.record(f"models.{method}", body)
            await self.state.delay()
            self._authenticate(request)
            self._inject_faults()
            call = _parse(model, method, body)
            answer = self._answer(call, version)
        except GoogleError as error:
            self.state.errors[error.status] += 1
            return _error_response(error)
        if method == "streamGenerateContent":
            if request.query_params.get("alt") == "sse":
                return StreamingResponse(
                    _sse(model, response_id, answer), media_type="text/event-stream"
                )
            # Without alt=sse the REST API answers one JSON array of the same chunks.
            return JSONResponse(list(_chunks(model, response_id, answer)))
        return JSONResponse(_response(model, response_id, answer, answer.text, final=True))

    def _authenticate(self, request: Request) -> None:
        key = request.headers.get("x-goog-api-key") or request.query_params.get("key")
        if not key:
            raise GoogleError(
                403,
                "Method doesn't allow unregistered callers (callers without established "
                "identity). Please use API Key or other form of API consumer identity to call "
                "this API.",
            )
        if key not in self.state.api_keys:
            message = "API key not valid. Please pass a valid API key."
            raise GoogleError(
                400,
                message,
                [
                    {
                        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                        "reason": "API_KEY_INVALID",
                        "domain": "googleapis.com",
                        "metadata": {"service": "generativelanguage.googleapis.com"},
                    },
                    {
                        "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
                        "locale": "en-US",
                        "message": message,
                    },
                    {
                        "@type": "type.googleapis.com/google.rpc.DebugInfo",
                        "detail": f"Invalid API key: {key}",
                    },
                ],
            )

    def _inject_faults(self) -> None:
        faults = self.state.faults
        if faults.take("rate_limit"):
            raise GoogleError(
                429,
                "You exceeded your current quota, please check your plan and billing details. "
                "For more information on this error, head to: "
                "https://ai.google.dev/gemini-api/docs/rate-limits.",
                [
                    {
                        "@type": "type.googleapis.com/google.rpc.Help",
                        "links": [
                            {
                                "description": "Learn more about Gemini API quotas",
                                "url": "https://ai.google.dev/gemini-api/docs/rate-limits",
                            }
                        ],
                    },
                    {
                        "@type": "type.googleapis.com/google.rpc.RetryInfo",
                        "retryDelay": f"{faults.retry_after:g}s",
                    },
                ],
            )
        if faults.take("server_error"):
            status = faults.server_error_status
            code = status if status in _SERVER_MESSAGES else 500
            raise GoogleError(code, _SERVER_MESSAGES[code])

    def _answer(self, call: _Call, version: str) -> _Answer:
        limit = self.models.get(call.model)
        if limit is None:
            raise GoogleError(
                404,
                f"models/{call.model} is not found for API version {version}, or is not "
                f"supported for {call.method}. Call ListModels to see the list of available "
                "models and their supported methods.",
            )
        prompt_tokens = count_tokens(call.system) + sum(count_tokens(t) for _, t in call.contents)
        if prompt_tokens > limit:
            raise GoogleError(
                400,
                f"The input token count ({prompt_tokens}) exceeds the maximum number of tokens "
                f"allowed ({limit}).",
            )
        prompt = next((text for role, text in reversed(call.contents) if role == "user"), "")
        faults = self.state.faults
        if faults.take("refuse"):
            if self.refusal_mode == "prompt":
                return _Answer("", None, prompt_tokens)
            return _Answer("", "SAFETY", prompt_tokens)
        if call.schema is not None:
            text = dumps(synthesize(call.schema, prompt))
            if faults.take("invalid_json"):
                text = text[: len(text) // 2]
        elif call.mime_type == "application/json":
            text = dumps(answer_text(prompt))
        else:
            text = answer_text(prompt)
        if call.max_output_tokens is not None:
            kept = _truncate(text, call.max_output_tokens)
            if kept != text:
                return _Answer(kept, "MAX_TOKENS", prompt_tokens)
        return _Answer(text, "STOP", prompt_tokens)


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise GoogleError(400, f"Invalid JSON payload received. {exc}") from exc
    if not isinstance(body, dict):
        raise GoogleError(400, "Invalid JSON payload received. Expected an object.")
    return body


def _parts_text(content: Any, where: str) -> str:
    parts = content.get("parts") if isinstance(content, dict) else None
    if not isinstance(parts, list):
        raise GoogleError(400, f"* GenerateContentRequest.{where}.parts: parts is not specified")
    return "".join(str(part.get("text", "")) for part in parts if isinstance(part, dict))


def _parse(model: str, method: str, body: dict[str, Any]) -> _Call:
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        raise GoogleError(400, "* GenerateContentRequest.contents: contents is not specified")
    turns = []
    for i, content in enumerate(contents):
        role = content.get("role", "user") if isinstance(content, dict) else None
        if role not in ("user", "model"):
            raise GoogleError(
                400, f"* GenerateContentRequest.contents[{i}].role: must be 'user' or 'model'"
            )
        turns.append((role, _parts_text(content, f"contents[{i}]")))
    system = body.get("systemInstruction")
    config = body.get("generationConfig") or {}
    if not isinstance(config, dict):
        raise GoogleError(400, "Invalid JSON payload received. generationConfig must be an object.")
    max_output = config.get("maxOutputTokens")
    if max_output is not None and (not isinstance(max_output, int) or max_output < 1):
        raise GoogleError(
            400, "* GenerateContentRequest.generation_config.max_output_tokens: must be positive"
        )
    schema = config.get("responseJsonSchema")
    if schema is None and config.get("responseSchema") is not None:
        schema = _lower_types(config["responseSchema"])
    if schema is not None and not isinstance(schema, dict):
        raise GoogleError(
            400, "* GenerateContentRequest.generation_config: schema is not an object"
        )
    return _Call(
        model=model,
        method=method,
        system="" if system is None else _parts_text(system, "system_instruction"),
        contents=turns,
        max_output_tokens=max_output,
        mime_type=config.get("responseMimeType"),
        schema=schema,
    )


def _lower_types(schema: Any) -> Any:
    """An OpenAPI `responseSchema` ("type": "OBJECT") in JSON Schema spelling ("object")."""
    if isinstance(schema, dict):
        return {
            key: value.lower() if key == "type" and isinstance(value, str) else _lower_types(value)
            for key, value in schema.items()
        }
    if isinstance(schema, list):
        return [_lower_types(item) for item in schema]
    return schema


def _truncate(text: str, tokens: int) -> str:
    """`text` cut after its first `tokens` tokens (as `count_tokens` counts them)."""
    matches = list(itertools.islice(WORD.finditer(text), tokens + 1))
    if len(matches) <= tokens:
        return text
    return text[: matches[tokens - 1].end()] if tokens else ""


def _response(
    model: str, response_id: str, answer: _Answer, text: str, *, final: bool, so_far: str = ""
) -> dict[str, Any]:
    """One GenerateContentResponse carrying `text`; `so_far` is the text already streamed."""
    output_tokens = count_tokens(so_far + text)
    usage = {
        "promptTokenCount": answer.prompt_tokens,
        "candidatesTokenCount": output_tokens,
        "totalTokenCount": answer.prompt_tokens + output_tokens,
    }
    body: dict[str, Any] = {"modelVersion": model, "responseId": response_id}
    if answer.finish_reason is None:
        body["promptFeedback"] = {"blockReason": "SAFETY", "safetyRatings": _SAFETY_RATINGS}
        body["usageMetadata"] = {
            "promptTokenCount": answer.prompt_tokens,
            "totalTokenCount": answer.prompt_tokens,
        }
        return body
    candidate: dict[str, Any] = {"index": 0}
    if text or answer.finish_reason != "SAFETY":
        candidate["content"] = {"role": "model", "parts": [{"text": text}]}
    if final:
        candidate["finishReason"] = answer.finish_reason
    if answer.finish_reason == "SAFETY":
        candidate["safetyRatings"] = _SAFETY_RATINGS
    body["candidates"] = [candidate]
    body["usageMetadata"] = usage
    return body


def _chunks(model: str, response_id: str, answer: _Answer) -> list[dict[str, Any]]:
    pieces = _PIECE.findall(answer.text)
    groups = [
        "".join(pieces[i : i + _WORDS_PER_CHUNK]) for i in range(0, len(pieces), _WORDS_PER_CHUNK)
    ]
    groups = groups or [""]
    chunks, so_far = [], ""
    for i, group in enumerate(groups):
        last = i == len(groups) - 1
        chunks.append(_response(model, response_id, answer, group, final=last, so_far=so_far))
        so_far += group
    return chunks


async def _sse(model: str, response_id: str, answer: _Answer) -> AsyncIterator[bytes]:
    for chunk in _chunks(model, response_id, answer):
        yield f"data: {json.dumps(chunk, ensure_ascii=False)}\r\n\r\n".encode()


def _error_response(error: GoogleError) -> Response:
    payload: dict[str, Any] = {
        "code": error.code,
        "message": error.message,
        "status": error.status,
    }
    if error.details:
        payload["details"] = error.details
    return JSONResponse({"error": payload}, status_code=error.code)


def create_app(*, api_keys: set[str], models: dict[str, int] | None = None) -> Starlette:
    """The Gemini twin as an ASGI app; its state is `app.state.sandbox` (`AISandboxState`).

    `models` maps the model codes it serves to their input token limit (default `MODELS`).
    Set `app.state.twin.refusal_mode = "prompt"` to block prompts instead of answers.
    """
    state = AISandboxState(api_keys=set(api_keys))
    twin = GeminiTwin(state, dict(MODELS if models is None else models))
    app = Starlette(
        routes=[Route("/{version}/models/{target:path}", twin.models_call, methods=["POST"])]
    )
    app.state.sandbox = state
    app.state.twin = twin
    app.state.models = twin.models
    return app
