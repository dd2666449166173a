"""Anthropic Messages API twin: `POST /v1/messages` as the official `anthropic` SDK speaks it.

Checked against the installed SDK (anthropic 2.15.0) and Anthropic's published docs:

- Auth: the SDK sends `Authorization: Bearer <api key>` (anthropic/_client.py, `_api_key_auth`);
  `x-api-key: <api key>`, the header of the REST examples, is accepted too. `anthropic-version`
  is required; this SDK sends `2026-10-21` (anthropic/_constants.py).
- Body: `model`, `max_tokens`, `messages` (required), `system`, `temperature` (0–1, older
  clients only: this SDK no longer sends it), `stream`, and structured outputs as
  `output_config.format = {"type": "json_schema", "schema": {...}}`
  (anthropic/types/output_config_param.py,
  https://platform.claude.com/docs/en/build-with-claude/structured-outputs). A structured
  answer is one text block holding JSON valid for the schema.
- Answer: `{"id", "type": "message", "role": "assistant", "model", "content": [text blocks],
  "stop_reason", "stop_sequence", "stop_details", "usage": {"input_tokens", "output_tokens"}}`
  with stop_reason `end_turn`, `max_tokens` or `refusal` (then `stop_details.type = "refusal"`)
  (anthropic/types/message.py, refusal_stop_details.py).
- Streaming (`"stream": true`, server-sent events): message_start, content_block_start, ping,
  content_block_delta (text_delta)…, content_block_stop, message_delta (stop_reason and the
  cumulative usage.output_tokens), message_stop — the order the SDK accumulates
  (anthropic/lib/streaming/_messages.py, `accumulate_event`).
- Errors: `{"type": "error", "error": {"type", "message"}, "request_id"}`, status per type
  (https://docs.claude.com/en/api/errors):

      400 invalid_request_error   401 authentication_error   404 not_found_error
      429 rate_limit_error (+ retry-after, seconds)   500 api_error   529 overloaded_error

  Wording seen from the real API: "invalid x-api-key" (401,
  github.com/eyaltoledano/claude-task-master/issues/222), "model: <name>" (404,
  github.com/anthropics/claude-code/issues/5349), "prompt is too long: N tokens > M maximum"
  (400, github.com/anthropics/claude-code/issues/59696), "Overloaded" (529,
  docs.llmgateway.io/troubleshooting/anthropic-529-overloaded). Other messages are the twin's.

Faults are the shared `AIFaults` (flashfusion/sandbox/ai_common.py); `server_error_status = 529`
answers overloaded_error, any other status api_error. A refusal stops halfway through the answer,
as a streaming classifier does. `app.state.sandbox.requests["messages.create"]` counts requests.
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

# Model id → context window in tokens, from each model's page on platform.claude.com
# ("Context window: 1M tokens" is 1,000,000, as Anthropic's partners list it, e.g.
# vercel.com/ai-gateway/models/claude-sonnet-5.5). Ids match anthropic/types/model_param.py.
MODELS: dict[str, int] = {
    # platform.claude.com/docs/en/models/haiku-5-5/overview (comparison table: Opus 5.5,
    # Sonnet 5.5 and Haiku 5.5 all 1M)
    "claude-opus-5-5": 1_000_000,
    "claude-sonnet-5-5": 1_000_000,
    "claude-haiku-5-5": 1_000_000,
    # platform.claude.com/docs/ko/models/opus-5/overview
    "claude-opus-5": 1_000_000,
    # platform.claude.com/docs/zh-CN/models/sonnet-5/overview
    "claude-sonnet-5": 1_000_000,
    # platform.claude.com/docs/en/models/opus-4-6/overview.md
    "claude-opus-4-6": 1_000_000,
    # platform.claude.com/docs/zh-CN/models/sonnet-4-6/overview
    "claude-sonnet-4-6": 1_000_000,
    # platform.claude.com/docs/zh-CN/models/haiku-4-5/overview ("Context window: 200K tokens");
    # the SDK lists both the alias and the dated id.
    "claude-haiku-4-5": 200_000,
    "claude-haiku-4-5-20251001": 200_000,
}

ERROR_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "rate_limit_error": 429,
    "api_error": 500,
    "overloaded_error": 529,
}
# Text is streamed a few words per content_block_delta.
_PIECE = re.compile(r"\S+\s*|\s+")
_WORDS_PER_DELTA = 3


class AnthropicError(Exception):
    """An error answer: Anthropic's error type (which fixes the status) and message."""

    def __init__(self, error_type: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.type = error_type
        self.message = message
        self.status = ERROR_STATUS[error_type]
        self.headers = headers or {}


@dataclass
class _Call:
    model: str
    max_tokens: int
    system: str
    messages: list[tuple[str, str]]  # (role, text)
    schema: dict[str, Any] | None
    stream: bool


@dataclass
class _Answer:
    text: str
    stop_reason: str
    input_tokens: int

    @property
    def output_tokens(self) -> int:
        return count_tokens(self.text)


class AnthropicTwin:
    def __init__(self, state: AISandboxState, models: dict[str, int]) -> None:
        self.state = state
        self.models = models
        self._ids = itertools.count(1)

    async def messages(self, request: Request) -> Response:
        request_id = f"req_twin{next(self._ids):016d}"
        try:
            body = await _json_body(request)
            self.state.record("messages.create", body)
            await self.state.delay()
            self._authenticate(request)
            self._inject_faults()
            call = _parse(body)
            answer = self._answer(call)
        except AnthropicError as error:
            self.state.errors[error.type] += 1
            return _error_response(error, request_id)
        message_id = f"msg_twin{request_id[8:]}"
        headers = {"request-id": request_id}
        if call.stream:
            return StreamingResponse(
                _events(message_id, call.model, answer),
                media_type="text/event-stream",
                headers=headers,
            )
        return JSONResponse(_message(message_id, call.model, answer), headers=headers)

    def _authenticate(self, request: Request) -> None:
        authorization = request.headers.get("authorization", "")
        key = request.headers.get("x-api-key")
        if key is None and authorization.lower().startswith("bearer "):
            key = authorization[7:].strip()
        if not key:
            raise AnthropicError("authentication_error", "x-api-key header is required")
        if key not in self.state.api_keys:
            raise AnthropicError("authentication_error", "invalid x-api-key")
        if not request.headers.get("anthropic-version"):
            raise AnthropicError("invalid_request_error", "anthropic-version: header is required")

    def _inject_faults(self) -> None:
        faults = self.state.faults
        if faults.take("rate_limit"):
            raise AnthropicError(
                "rate_limit_error",
                "This request would exceed your organization's rate limit. Please try again later.",
                headers={"retry-after": f"{faults.retry_after:g}"},
            )
        if faults.take("server_error"):
            if faults.server_error_status == 529:
                raise AnthropicError("overloaded_error", "Overloaded")
            raise AnthropicError("api_error", "Internal server error")

    def _answer(self, call: _Call) -> _Answer:
        limit = self.models.get(call.model)
        if limit is None:
            raise AnthropicError("not_found_error", f"model: {call.model}")
        input_tokens = count_tokens(call.system) + sum(count_tokens(t) for _, t in call.messages)
        if input_tokens > limit:
            raise AnthropicError(
                "invalid_request_error",
                f"prompt is too long: {input_tokens} tokens > {limit} maximum",
            )
        prompt = next((text for role, text in reversed(call.messages) if role == "user"), "")
        faults = self.state.faults
        if call.schema is not None:
            text = dumps(synthesize(call.schema, prompt))
            if faults.take("invalid_json"):
                text = text[: len(text) // 2]
        else:
            text = answer_text(prompt)
        if faults.take("refuse"):
            return _Answer(_truncate(text, count_tokens(text) // 2), "refusal", input_tokens)
        kept = _truncate(text, call.max_tokens)
        return _Answer(kept, "end_turn" if kept == text else "max_tokens", input_tokens)


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise AnthropicError(
            "invalid_request_error", f"The request body is not valid JSON: {exc}"
        ) from exc
    if not isinstance(body, dict):
        raise AnthropicError("invalid_request_error", "The request body must be a JSON object")
    return body


def _text(content: Any, where: str) -> str:
    """The text of a message's content: a string or a list of text blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for i, block in enumerate(content):
            if not isinstance(block, dict) or block.get("type") != "text":
                raise AnthropicError(
                    "invalid_request_error", f"{where}.{i}: only text blocks are supported"
                )
            parts.append(str(block.get("text", "")))
        return "\n".join(parts)
    raise AnthropicError("invalid_request_error", f"{where}: Input should be a string or a list")


def _parse(body: dict[str, Any]) -> _Call:
    for name in ("model", "max_tokens", "messages"):
        if name not in body:
            raise AnthropicError("invalid_request_error", f"{name}: Field required")
    model, max_tokens, messages = body["model"], body["max_tokens"], body["messages"]
    if not isinstance(model, str):
        raise AnthropicError("invalid_request_error", "model: Input should be a valid string")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 0:
        raise AnthropicError(
            "invalid_request_error", "max_tokens: Input should be an integer of at least 0"
        )
    if not isinstance(messages, list) or not messages:
        raise AnthropicError("invalid_request_error", "messages: at least one message is required")
    turns = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            raise AnthropicError(
                "invalid_request_error", f"messages.{i}.role: Input should be 'user' or 'assistant'"
            )
        turns.append((message["role"], _text(message.get("content"), f"messages.{i}.content")))
    temperature = body.get("temperature")
    if temperature is not None and (
        not isinstance(temperature, int | float) or not 0 <= temperature <= 1
    ):
        raise AnthropicError(
            "invalid_request_error", "temperature: Input should be a number from 0 to 1"
        )
    return _Call(
        model=model,
        max_tokens=max_tokens,
        system=_text(body.get("system", ""), "system"),
        messages=turns,
        schema=_schema(body.get("output_config")),
        stream=body.get("stream") is True,
    )


def _schema(output_config: Any) -> dict[str, Any] | None:
    if output_config is None:
        return None
    fmt = output_config.get("format") if isinstance(output_config, dict) else None
    if fmt is None:
        return None
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
        raise AnthropicError(
            "invalid_request_error", "output_config.format.type: Input should be 'json_schema'"
        )
    schema = fmt.get("schema")
    if not isinstance(schema, dict):
        raise AnthropicError(
            "invalid_request_error", "output_config.format.schema: Input should be an object"
        )
    return schema


def _truncate(text: str, tokens: int) -> str:
    """`text` cut after its first `tokens` tokens (as `count_tokens` counts them)."""
    matches = list(itertools.islice(WORD.finditer(text), tokens + 1))
    if len(matches) <= tokens:
        return text
    return text[: matches[tokens - 1].end()] if tokens else ""


def _stop_details(answer: _Answer) -> dict[str, Any] | None:
    if answer.stop_reason != "refusal":
        return None
    return {"type": "refusal", "category": None, "explanation": None}


def _message(message_id: str, model: str, answer: _Answer) -> dict[str, Any]:
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": answer.text}] if answer.text else [],
        "stop_reason": answer.stop_reason,
        "stop_sequence": None,
        "stop_details": _stop_details(answer),
        "usage": {"input_tokens": answer.input_tokens, "output_tokens": answer.output_tokens},
    }


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


async def _events(message_id: str, model: str, answer: _Answer) -> AsyncIterator[bytes]:
    start = _message(message_id, model, answer)
    start.update(content=[], stop_reason=None, stop_details=None)
    start["usage"] = {"input_tokens": answer.input_tokens, "output_tokens": 1}
    yield _sse("message_start", {"type": "message_start", "message": start})
    yield _sse(
        "content_block_start",
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    )
    yield _sse("ping", {"type": "ping"})
    pieces = _PIECE.findall(answer.text)
    for i in range(0, len(pieces), _WORDS_PER_DELTA):
        delta = {"type": "text_delta", "text": "".join(pieces[i : i + _WORDS_PER_DELTA])}
        yield _sse(
            "content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}
        )
    yield _sse("content_block_stop", {"type": "content_block_stop", "index": 0})
    yield _sse(
        "message_delta",
        {
            "type": "message_delta",
            "delta": {
                "stop_reason": answer.stop_reason,
                "stop_sequence": None,
                "stop_details": _stop_details(answer),
            },
            "usage": {"output_tokens": answer.output_tokens},
        },
    )
    yield _sse("message_stop", {"type": "message_stop"})


def _error_response(error: AnthropicError, request_id: str) -> Response:
    body = {
        "type": "error",
        "error": {"type": error.type, "message": error.message},
        "request_id": request_id,
    }
    return JSONResponse(
        body, status_code=error.status, headers={"request-id": request_id, **error.headers}
    )


def create_app(*, api_keys: set[str], models: dict[str, int] | None = None) -> Starlette:
    """The Anthropic twin as an ASGI app; its state is `app.state.sandbox` (`AISandboxState`).

    `models` maps the model ids it serves to their context window in tokens (default `MODELS`).
    """
    state = AISandboxState(api_keys=set(api_keys))
    twin = AnthropicTwin(state, dict(MODELS if models is None else models))
    app = Starlette(routes=[Route("/v1/messages", twin.messages, methods=["POST"])])
    app.state.sandbox = state
    app.state.models = twin.models
    return app
