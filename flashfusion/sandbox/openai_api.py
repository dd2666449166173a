"""OpenAI-compatible sandbox twin: chat completions (plain, structured, streamed), moderations,
image generation and the model list, as the official `openai` Python SDK speaks them.

Flavours: "openai" (api.openai.com/v1), "xai" (api.x.ai/v1), "perplexity" (api.perplexity.ai,
no /v1 prefix; adds top-level `citations` and `search_results`) and "local" (an Ollama /
llama.cpp / vLLM server at …/v1 that needs no key). Only "openai" serves moderations and images;
Perplexity has no model list.

Wire format (read from openai 3.57 `types/chat/chat_completion*.py`, `types/completion_usage.py`,
`types/moderation*.py`, `types/images_response.py`, `_streaming.py`): a completion carries
`choices[].message.{content,refusal}`, `finish_reason` and `usage.{prompt,completion,total}_tokens`.
A stream is `data: {chunk}` SSE lines ending with `data: [DONE]`; with
`stream_options.include_usage` every chunk has `"usage": null` and a last chunk with `choices: []`
carries the usage.

Errors are OpenAI's `{"error": {"message", "type", "param", "code"}}` (the SDK reads
`body["error"]`, `_client.py::_make_status_error`); the bodies below are copied from real answers:

    401 invalid_request_error/invalid_api_key  "Incorrect API key provided: sk-PMafP***…E873. You
        can find your API key at https://platform.openai.com/account/api-keys."
        (github.com/popjane/free_chatgpt_api/issues/3, chatanywhere/GPT_API_free/issues/62; the
        key is masked to its first 8 and last 4 characters)
    401 no key  "You didn't provide an API key. You need to provide your API key in an
        Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)…"
        (yihong0618/bilingual_book_maker/issues/137; its `code` is unverified, sent as null)
    404 invalid_request_error/model_not_found  "The model `gpt-4` does not exist or you do not have
        access to it." (timkmecl/chatgpt-vscode/issues/45, Chainlit/cookbook/issues/82)
    400 invalid_request_error/context_length_exceeded, param "messages"  "This model's maximum
        context length is 4097 tokens. However, your messages resulted in 4294 tokens. Please
        reduce the length of the messages." (chathub-dev/chathub/issues/126) and "… However, you
        requested 4268 tokens (4012 in the messages, 256 in the completion). Please reduce the
        length of the messages or completion." (conghaonet/hao_chatgpt/issues/4)
    400 invalid_request_error/unsupported_value, param "temperature"  "Unsupported value:
        'temperature' does not support 0.5 with this model. Only the default (1) value is
        supported." for GPT-5 models (diffbot/code-gpt-docs/issues/445; GPT-5.4:
        johny-b/llmcomp/issues/69; GPT-5.5: BerriAI/litellm/pull/34210)
    400 invalid_request_error, param "response_format", code null  "Invalid schema for
        response_format 'default': In context=(), 'additionalProperties' is required to be
        supplied and to be false." for strict schemas (dottxt-ai/outlines/issues/844); the twin's
        wording for a missing `required` key is its own
    400 image_generation_user_error/moderation_blocked  "Your request was rejected by the safety
        system. …" (ucx0204/CarrotMangaTranslator/issues/122)
    429 tokens|requests/rate_limit_exceeded  "Rate limit reached for gpt-4.1 in organization … on
        tokens per min (TPM): Limit 30000, … Please try again in 174ms. Visit
        https://platform.openai.com/account/rate-limits to learn more."
        (continuedev/continue/issues/11472, jorge-menjivar/unsaged/issues/53); the twin also sends
        `retry-after` (whole seconds) and `retry-after-ms`, the two headers the SDK reads
        (`_base_client.py::_parse_retry_after_header`)
    500 server_error, code null  "The server had an error processing your request. Sorry about
        that! You can retry your request, or contact us through our help center at
        help.openai.com if you keep seeing this error." (ai-genie/chatgpt-vscode/issues/100)

xAI, Perplexity and local servers are answered in the same OpenAI shape: their own error bodies
are unverified. Moderation verdicts come from a small word list (a twin, not a classifier).

Faults and counters live on `app.state.sandbox` (an `ai_common.AISandboxState`): see ai_common.
Token counts are `ai_common.count_tokens`: prompt tokens are the sum over the messages' text.
"""

import asyncio
import base64
import hashlib
import io
import json
import math
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from PIL import Image, ImageDraw
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

# flavour → model → context window in tokens; the names are the ones FlashFusion's defaults use.
MODELS: dict[str, dict[str, int]] = {
    "openai": {
        # 400,000: vercel.com/ai-gateway/models/openai/gpt-5.4-mini.md, docs.oxen.ai (GPT 5.4 Mini)
        "gpt-5.4-mini": 400_000,
        # 1,000,000 in the API: framia.pro "GPT-5.5 Context Window" (released 2026-04-23);
        # devbriefs.com lists a 272,000-token input limit instead, so treat this as unverified.
        "gpt-5.5": 1_000_000,
        # FlashFusion's default for listing copy (flashfusion/ai/defaults.py); context window
        # unverified (no source read states it): the twin uses the 5.4 family's 400,000.
        "gpt-5.4-nano": 400_000,
    },
    "xai": {
        # 1M context: docs.x.ai/developers/models via mandark-droid/genai_otel_instrument v1.2.2,
        # vercel.com/ai-gateway/models/grok-4.3
        "grok-4.3": 1_000_000,
        # 2M context: opencode.ai/data/xai/grok-4-1-fast, openrouter.ai/x-ai/grok-4.1-fast;
        # the -non-reasoning id: skills.sh/adaptationio/skrillz/xai-models
        "grok-4-1-fast-non-reasoning": 2_000_000,
        # The defaults' xAI models (flashfusion/ai/defaults.py, priced from docs.x.ai);
        # context windows unverified here: the twin uses grok-4.3's.
        "grok-4.20": 1_000_000,
        "grok-4.20-non-reasoning": 1_000_000,
    },
    "perplexity": {
        # promptfoo.dev/docs/providers/perplexity: sonar 128k, sonar-pro 200k
        "sonar": 128_000,
        "sonar-pro": 200_000,
    },
    "local": {
        # The model in Ollama's OpenAI-compatibility example (ollama/ollama,
        # docs/api/openai-compatibility.mdx); 131,072 tokens:
        # vercel.com/ai-gateway/models/gpt-oss-20b
        # (Ollama's effective window is its num_ctx setting, which may be smaller).
        "gpt-oss:20b": 131_072,
    },
}

# The `ModerationModel` literal of openai 3.57 (types/moderation_model.py).
OPENAI_MODERATION_MODELS = (
    "omni-moderation-latest",
    "omni-moderation-2024-09-26",
    "text-moderation-latest",
    "text-moderation-stable",
)
# GPT image models the SDK names as supported (types/image_generate_params.py `model`).
OPENAI_IMAGE_MODELS = ("gpt-image-1-mini", "gpt-image-1.5", "gpt-image-2")
# Sizes every GPT image model takes (image_generate_params.py `size`); gpt-image-2 also takes any
# WIDTHxHEIGHT with both sides divisible by 16, an aspect ratio within 1:3–3:1, up to 3840x2160.
_STANDARD_SIZES = {"1024x1024": (1024, 1024), "1536x1024": (1536, 1024), "1024x1536": (1024, 1536)}
_FREE_SIZE_MODELS = ("gpt-image-2",)
_MAX_PIXELS = 3840 * 2160

# GPT-5 models take only the default temperature (sources in the module docstring).
_FIXED_TEMPERATURE_PREFIXES = ("gpt-5",)
# json_schema names: "a-z, A-Z, 0-9, or contain underscores and dashes, with a maximum length of
# 64" (types/shared_params/response_format_json_schema.py).
_SCHEMA_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_SIZE = re.compile(r"^(\d+)x(\d+)$")

FLAVOURS = ("openai", "xai", "perplexity", "local")
# Perplexity's base URL is https://api.perplexity.ai and the SDK appends /chat/completions
# (docs.perplexity.ai/docs/sonar/openai-compatibility); the others live under /v1.
_PATH_PREFIX = {"openai": "/v1", "xai": "/v1", "perplexity": "", "local": "/v1"}
# Ollama reports owned_by "library" (openai-compatibility.mdx); the others are unverified.
_OWNED_BY = {"openai": "openai", "xai": "xai", "local": "library"}

_REFUSAL = "I'm sorry, I can't help with that request."

# The twin's moderation word list: a category is scored 0.9 when one of its words appears.
_MODERATION_WORDS: dict[str, tuple[str, ...]] = {
    "harassment": ("idiot", "loser"),
    "harassment/threatening": ("threaten",),
    "hate": ("subhuman",),
    "hate/threatening": ("exterminate",),
    "illicit": ("shoplift", "counterfeit"),
    "illicit/violent": ("bomb",),
    "self-harm": ("suicide",),
    "self-harm/instructions": ("overdose",),
    "self-harm/intent": ("selfharm",),
    "sexual": ("nsfw", "explicit"),
    "sexual/minors": ("underage",),
    "violence": ("kill", "murder", "stab"),
    "violence/graphic": ("gore", "dismember"),
}


class APIError(Exception):
    """An OpenAI error answer."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = headers or {}

    def response(self, request_id: str) -> JSONResponse:
        body = {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }
        return JSONResponse(
            body, status_code=self.status, headers={**self.headers, "x-request-id": request_id}
        )


class OpenAITwin:
    """Request handling for one flavour; the state is shared with tests through `state`."""

    def __init__(self, state: AISandboxState, flavour: str, models: dict[str, int]) -> None:
        self.state = state
        self.flavour = flavour
        self.models = models

    async def guarded(
        self,
        operation: str,
        request: Request,
        handler: Callable[[dict[str, Any], str], Awaitable[Response]],
    ) -> Response:
        """Parse, record, apply faults and auth, then run `handler`; errors become OpenAI bodies."""
        request_id = f"req_{uuid.uuid4().hex}"
        try:
            body = await _json_body(request)
            self.state.record(operation, body)
            await self.state.delay()
            self._authenticate(request)
            self._inject_faults(body)
            response = await handler(body, request_id)
        except APIError as error:
            self.state.errors[error.code or error.type] += 1
            return error.response(request_id)
        response.headers["x-request-id"] = request_id
        return response

    def _authenticate(self, request: Request) -> None:
        if self.flavour == "local":
            return  # Ollama ignores the key ("required but ignored", openai-compatibility.mdx)
        header = request.headers.get("authorization", "")
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise APIError(
                401,
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            )
        key = key.strip()
        if key not in self.state.api_keys:
            raise APIError(
                401,
                f"Incorrect API key provided: {_mask(key)}. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
                code="invalid_api_key",
            )

    def _inject_faults(self, body: dict[str, Any]) -> None:
        faults = self.state.faults
        if faults.take("rate_limit"):
            wait = faults.retry_after
            model = body.get("model") or "default"
            raise APIError(
                429,
                f"Rate limit reached for {model} in organization org-sandbox on requests per min "
                f"(RPM): Limit 3, Used 3, Requested 1. Please try again in {wait:g}s. Visit "
                "https://platform.openai.com/account/rate-limits to learn more.",
                type="requests",
                code="rate_limit_exceeded",
                headers={
                    "retry-after": str(max(1, math.ceil(wait))),
                    "retry-after-ms": str(int(wait * 1000)),
                },
            )
        if faults.take("server_error"):
            raise APIError(
                faults.server_error_status,
                "The server had an error processing your request. Sorry about that! You can "
                "retry your request, or contact us through our help center at help.openai.com "
                "if you keep seeing this error.",
                type="server_error",
            )

    def _model(self, body: dict[str, Any], known: tuple[str, ...] | dict[str, int]) -> str:
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise APIError(400, "you must provide a model parameter", param="model")
        if model not in known:
            raise APIError(
                404,
                f"The model `{model}` does not exist or you do not have access to it.",
                code="model_not_found",
            )
        return model

    # --- chat completions ---------------------------------------------------------------

    async def chat(self, body: dict[str, Any], request_id: str) -> Response:
        model = self._model(body, self.models)
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise APIError(
                400, "'messages' must be a non-empty array of message objects.", param="messages"
            )
        texts = [_message_text(message) for message in messages]
        self._check_temperature(model, body.get("temperature"))
        prompt = "\n".join(texts)
        prompt_tokens = sum(count_tokens(text) for text in texts)
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        if limit is not None and (not isinstance(limit, int) or limit < 1):
            raise APIError(400, "max_tokens must be a positive integer.", param="max_tokens")
        self._check_context(model, prompt_tokens, limit)
        schema, json_object = self._response_format(body.get("response_format"))

        refusal: str | None = None
        content: str | None = None
        finish_reason = "stop"
        if self.state.faults.take("refuse"):
            refusal = _REFUSAL
        else:
            if schema is not None:
                content = dumps(synthesize(schema, prompt))
            elif json_object:
                content = dumps({"answer": answer_text(prompt)})
            else:
                content = answer_text(prompt)
            if (schema is not None or json_object) and self.state.faults.take("invalid_json"):
                content = content[: max(1, len(content) // 2)]
            if limit is not None and count_tokens(content) > limit:
                content = _truncate(content, limit)
                finish_reason = "length"
        completion_tokens = count_tokens(content or refusal or "")
        usage = self._usage(prompt_tokens, completion_tokens)
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())
        extra = self._perplexity_extras(prompt)

        if body.get("stream"):
            options = body.get("stream_options") or {}
            include_usage = bool(options.get("include_usage"))
            chunks = self._chunks(
                completion_id, created, model, content, refusal, finish_reason, extra
            )
            return StreamingResponse(
                _sse(chunks, usage if include_usage else None, include_usage),
                media_type="text/event-stream",
            )
        message: dict[str, Any] = {
            "role": "assistant",
            "content": content,
            "refusal": refusal,
            "annotations": [],
        }
        completion = {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [
                {"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}
            ],
            "usage": usage,
            "system_fingerprint": None,
            **extra,
        }
        return JSONResponse(completion)

    def _check_temperature(self, model: str, temperature: Any) -> None:
        if temperature is None:
            return
        if not isinstance(temperature, int | float) or not 0 <= temperature <= 2:
            raise APIError(
                400,
                f"Invalid value for 'temperature': {temperature!r}; it must be between 0 and 2.",
                param="temperature",
                code="invalid_value",
            )
        fixed = self.flavour == "openai" and model.startswith(_FIXED_TEMPERATURE_PREFIXES)
        if fixed and temperature != 1:
            raise APIError(
                400,
                f"Unsupported value: 'temperature' does not support {temperature:g} with this "
                "model. Only the default (1) value is supported.",
                param="temperature",
                code="unsupported_value",
            )

    def _check_context(self, model: str, prompt_tokens: int, limit: int | None) -> None:
        window = self.models[model]
        if prompt_tokens > window:
            raise APIError(
                400,
                f"This model's maximum context length is {window} tokens. However, your messages "
                f"resulted in {prompt_tokens} tokens. Please reduce the length of the messages.",
                param="messages",
                code="context_length_exceeded",
            )
        if limit is not None and prompt_tokens + limit > window:
            raise APIError(
                400,
                f"This model's maximum context length is {window} tokens. However, you requested "
                f"{prompt_tokens + limit} tokens ({prompt_tokens} in the messages, {limit} in the "
                "completion). Please reduce the length of the messages or completion.",
                param="messages",
                code="context_length_exceeded",
            )

    def _response_format(self, value: Any) -> tuple[dict[str, Any] | None, bool]:
        """(schema, json_object) for the request's `response_format`."""
        if value is None:
            return None, False
        if not isinstance(value, dict):
            raise APIError(400, "'response_format' must be an object.", param="response_format")
        kind = value.get("type")
        if kind == "text":
            return None, False
        if kind == "json_object":
            return None, True
        if kind != "json_schema":
            raise APIError(
                400,
                f"Invalid value: '{kind}'. Supported values are: 'json_object', 'json_schema', "
                "and 'text'.",
                param="response_format.type",
                code="invalid_value",
            )
        spec = value.get("json_schema")
        if not isinstance(spec, dict):
            raise APIError(
                400,
                "Missing required parameter: 'response_format.json_schema'.",
                param="response_format.json_schema",
                code="missing_required_parameter",
            )
        name = spec.get("name")
        if not isinstance(name, str) or not _SCHEMA_NAME.match(name):
            raise APIError(
                400,
                f"Invalid 'response_format.json_schema.name': {name!r}. Use a-z, A-Z, 0-9, "
                "underscores and dashes, at most 64 characters.",
                param="response_format.json_schema.name",
                code="invalid_value",
            )
        schema = spec.get("schema")
        if not isinstance(schema, dict):
            raise APIError(
                400,
                f"Invalid schema for response_format '{name}': the schema must be an object.",
                param="response_format",
            )
        if spec.get("strict") is True:
            _check_strict(schema, name, (), schema.get("$defs", {}))
        return schema, False

    def _usage(self, prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
        usage: dict[str, Any] = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        if self.flavour == "openai":
            usage["prompt_tokens_details"] = {"cached_tokens": 0, "audio_tokens": 0}
            usage["completion_tokens_details"] = {"reasoning_tokens": 0, "audio_tokens": 0}
        return usage

    def _perplexity_extras(self, prompt: str) -> dict[str, Any]:
        """Perplexity's top-level `citations` (URLs) and `search_results` (title, url, date,
        last_updated, snippet, source: schemas.apis.io/schemas/perplexity/
        perplexity-apipublicsearchresult), made from the prompt's words on example.com."""
        if self.flavour != "perplexity":
            return {}
        words: list[str] = []
        for word in WORD.findall(prompt):
            if word.isalpha() and len(word) > 3 and word.lower() not in words:
                words.append(word.lower())
        words = words[:3] or ["sandbox"]
        results = [
            {
                "title": f"{word.capitalize()} – sandbox source",
                "url": f"https://example.com/sandbox/{word}",
                "date": None,
                "last_updated": None,
                "snippet": f"A sandbox page about {word}.",
                "source": "web",
            }
            for word in words
        ]
        return {"citations": [r["url"] for r in results], "search_results": results}

    def _chunks(
        self,
        completion_id: str,
        created: int,
        model: str,
        content: str | None,
        refusal: str | None,
        finish_reason: str,
        extra: dict[str, Any],
    ) -> list[dict[str, Any]]:
        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            return {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [choice],
                **extra,
            }

        field = "refusal" if refusal is not None else "content"
        chunks = [chunk({"role": "assistant", "content": "", "refusal": None})]
        chunks += [chunk({field: piece}) for piece in _pieces(refusal or content or "")]
        chunks.append(chunk({}, finish_reason))
        return chunks

    # --- moderations ---------------------------------------------------------------------

    async def moderations(self, body: dict[str, Any], request_id: str) -> Response:
        if "model" not in body:
            body = {**body, "model": OPENAI_MODERATION_MODELS[0]}
        model = self._model(body, OPENAI_MODERATION_MODELS)
        raw = body.get("input")
        if isinstance(raw, str):
            inputs = [raw]
        elif isinstance(raw, list) and raw and all(isinstance(item, str) for item in raw):
            inputs = list(raw)
        elif isinstance(raw, list) and raw and all(isinstance(item, dict) for item in raw):
            # Multi-modal input is one item: its text parts are judged together.
            inputs = [
                " ".join(str(item.get("text", "")) for item in raw if item.get("type") == "text")
            ]
        else:
            raise APIError(
                400,
                "'input' must be a string, an array of strings or an array of content parts.",
                param="input",
            )
        results = [_moderate(text) for text in inputs]
        return JSONResponse(
            {"id": f"modr-{uuid.uuid4().hex[:24]}", "model": model, "results": results}
        )

    # --- images --------------------------------------------------------------------------

    async def images(self, body: dict[str, Any], request_id: str) -> Response:
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise APIError(
                400,
                "Missing required parameter: 'prompt'.",
                param="prompt",
                code="missing_required_parameter",
            )
        model = self._model(body, OPENAI_IMAGE_MODELS)
        if body.get("response_format") == "url":
            raise APIError(
                400,
                f"Unsupported value: 'response_format' 'url' is not supported for {model}; GPT "
                "image models always return b64_json.",
                param="response_format",
                code="unsupported_value",
            )
        size_text = body.get("size") or "auto"
        width, height = _image_size(model, size_text)
        count = body.get("n") or 1
        if not isinstance(count, int) or not 1 <= count <= 10:
            raise APIError(400, "'n' must be an integer from 1 to 10.", param="n")
        output_format = body.get("output_format") or "png"
        if output_format not in ("png", "jpeg", "webp"):
            raise APIError(
                400,
                f"Unsupported value: 'output_format' {output_format!r}; use png, jpeg or webp.",
                param="output_format",
                code="unsupported_value",
            )
        if self.state.faults.take("refuse"):
            raise APIError(
                400,
                "Your request was rejected by the safety system. If you believe this is an error, "
                f"contact us at help.openai.com and include the request ID {request_id}.",
                type="image_generation_user_error",
                code="moderation_blocked",
            )
        data = [
            {
                "b64_json": base64.b64encode(
                    _render(f"{prompt}#{index}", width, height, output_format)
                ).decode()
            }
            for index in range(count)
        ]
        return JSONResponse(
            {
                "created": int(time.time()),
                "data": data,
                "background": "opaque",
                "output_format": output_format,
                "size": f"{width}x{height}",
            }
        )

    # --- models --------------------------------------------------------------------------

    async def list_models(self, body: dict[str, Any], request_id: str) -> Response:
        names = list(self.models)
        if self.flavour == "openai":
            names += [*OPENAI_MODERATION_MODELS, *OPENAI_IMAGE_MODELS]
        owner = _OWNED_BY.get(self.flavour, self.flavour)
        data = [{"id": name, "object": "model", "created": 0, "owned_by": owner} for name in names]
        return JSONResponse({"object": "list", "data": data})


async def _json_body(request: Request) -> dict[str, Any]:
    if request.method != "POST":
        return {}
    raw = await request.body()
    try:
        body = json.loads(raw or b"{}")
    except ValueError as exc:
        raise APIError(
            400,
            "We could not parse the JSON body of your request. Send valid JSON with "
            "Content-Type: application/json.",
        ) from exc
    if not isinstance(body, dict):
        raise APIError(400, "The request body must be a JSON object.")
    return body


def _mask(key: str) -> str:
    if len(key) <= 12:
        return "*" * len(key)
    return key[:8] + "*" * (len(key) - 12) + key[-4:]


def _message_text(message: Any) -> str:
    if not isinstance(message, dict) or "role" not in message:
        raise APIError(400, "Each message must be an object with a 'role'.", param="messages")
    content = message.get("content")
    if content is None or isinstance(content, str):
        return content or ""
    if isinstance(content, list):
        return " ".join(
            str(part.get("text", ""))
            for part in content
            if isinstance(part, dict) and part.get("type") == "text"
        )
    raise APIError(400, "Message content must be a string or an array of parts.", param="messages")


def _check_strict(schema: Any, name: str, context: tuple[str, ...], defs: dict[str, Any]) -> None:
    """Strict schemas need `additionalProperties: false` and every property required on every
    object (OpenAI's structured-outputs rule; error wording from dottxt-ai/outlines#844)."""
    if not isinstance(schema, dict):
        return
    where = f"In context={context!r}"
    is_object = schema.get("type") == "object" or "properties" in schema
    if is_object:
        if schema.get("additionalProperties") is not False:
            raise APIError(
                400,
                f"Invalid schema for response_format '{name}': {where}, 'additionalProperties' "
                "is required to be supplied and to be false.",
                param="response_format",
            )
        properties = schema.get("properties") or {}
        missing = [key for key in properties if key not in (schema.get("required") or [])]
        if missing:
            raise APIError(
                400,
                f"Invalid schema for response_format '{name}': {where}, 'required' is required "
                f"to be supplied and to be an array including every key in properties. Missing "
                f"'{missing[0]}'.",
                param="response_format",
            )
        for key, child in properties.items():
            _check_strict(child, name, (*context, "properties", key), defs)
    if isinstance(schema.get("items"), dict):
        _check_strict(schema["items"], name, (*context, "items"), defs)
    for key in ("anyOf", "oneOf", "allOf"):
        for index, child in enumerate(schema.get(key) or []):
            _check_strict(child, name, (*context, key, str(index)), defs)
    if context == ():
        for def_name, child in defs.items():
            _check_strict(child, name, ("$defs", def_name), defs)


def _truncate(text: str, limit: int) -> str:
    """`text` cut after its `limit`-th token (as `count_tokens` counts them)."""
    for index, match in enumerate(WORD.finditer(text), start=1):
        if index == limit:
            return text[: match.end()]
    return text


def _pieces(text: str) -> list[str]:
    """Stream deltas: one word with the whitespace before it each; they join back to `text`."""
    return [piece for piece in re.split(r"(?<=\S)(?=\s)", text) if piece]


async def _sse(
    chunks: list[dict[str, Any]], usage: dict[str, Any] | None, include_usage: bool
) -> AsyncIterator[bytes]:
    for chunk in chunks:
        if include_usage:
            chunk = {**chunk, "usage": None}
        yield f"data: {json.dumps(chunk)}\n\n".encode()
        await asyncio.sleep(0)
    if include_usage and usage is not None:
        final = {key: chunks[-1][key] for key in ("id", "object", "created", "model")}
        extra = {k: v for k, v in chunks[-1].items() if k in ("citations", "search_results")}
        yield f"data: {json.dumps({**final, 'choices': [], 'usage': usage, **extra})}\n\n".encode()
    yield b"data: [DONE]\n\n"


def _moderate(text: str) -> dict[str, Any]:
    lowered = {word.lower() for word in WORD.findall(text)}
    scores: dict[str, float] = {}
    for category, words in _MODERATION_WORDS.items():
        scores[category] = 0.9 if lowered.intersection(words) else 0.0001
    categories = {category: score >= 0.5 for category, score in scores.items()}
    # Text input: every category was judged on text.
    applied = {category: ["text"] for category in _MODERATION_WORDS}
    return {
        "flagged": any(categories.values()),
        "categories": categories,
        "category_scores": scores,
        "category_applied_input_types": applied,
    }


def _image_size(model: str, size: Any) -> tuple[int, int]:
    if size == "auto":
        return 1024, 1024
    if isinstance(size, str) and size in _STANDARD_SIZES:
        return _STANDARD_SIZES[size]
    match = _SIZE.match(size) if isinstance(size, str) else None
    if match and model in _FREE_SIZE_MODELS:
        width, height = int(match[1]), int(match[2])
        ratio = max(width, height) / max(1, min(width, height))
        if width % 16 == 0 and height % 16 == 0 and ratio <= 3 and width * height <= _MAX_PIXELS:
            return width, height
    raise APIError(
        400,
        f"Invalid value: '{size}'. Supported sizes for {model} are 1024x1024, 1024x1536, "
        "1536x1024 and auto.",
        param="size",
        code="invalid_value",
    )


def _render(seed_text: str, width: int, height: int, output_format: str) -> bytes:
    """A real image: a background and three bands in colours derived from the prompt."""
    digest = hashlib.sha256(seed_text.encode()).digest()
    image = Image.new("RGB", (width, height), tuple(digest[0:3]))
    draw = ImageDraw.Draw(image)
    for band in range(3):
        top = height * (band * 2 + 1) // 7
        colour = tuple(digest[3 + band * 3 : 6 + band * 3])
        draw.rectangle((width // 8, top, width - width // 8, top + height // 7), fill=colour)
    buffer = io.BytesIO()
    image.save(buffer, format={"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}[output_format])
    return buffer.getvalue()


def create_app(
    *, api_keys: set[str], flavour: str = "openai", models: dict[str, int] | None = None
) -> Starlette:
    """The twin as an ASGI app; its state is `app.state.sandbox` (an `AISandboxState`).

    `models` (model → context tokens) replaces the flavour's entry in `MODELS`.
    """
    if flavour not in FLAVOURS:
        raise ValueError(f"unknown flavour {flavour!r}; use one of {', '.join(FLAVOURS)}")
    state = AISandboxState(api_keys=set(api_keys))
    twin = OpenAITwin(state, flavour, dict(models if models is not None else MODELS[flavour]))
    prefix = _PATH_PREFIX[flavour]

    def route(
        path: str,
        operation: str,
        handler: Callable[[dict[str, Any], str], Awaitable[Response]],
        method: str,
    ) -> Route:
        async def endpoint(request: Request) -> Response:
            return await twin.guarded(operation, request, handler)

        return Route(prefix + path, endpoint, methods=[method])

    routes = [route("/chat/completions", "chat.completions", twin.chat, "POST")]
    if (
        flavour != "perplexity"
    ):  # Perplexity has no model list (docs.getbifrost.ai: "List Models" ❌)
        routes.append(route("/models", "models.list", twin.list_models, "GET"))
    if flavour == "openai":
        routes.append(route("/moderations", "moderations", twin.moderations, "POST"))
        routes.append(route("/images/generations", "images.generations", twin.images, "POST"))

    async def unknown(request: Request) -> Response:
        # Wording unverified: OpenAI's shape with a message naming the method and path.
        error = APIError(404, f"Invalid URL ({request.method} {request.url.path})")
        return error.response(f"req_{uuid.uuid4().hex}")

    routes.append(Route("/{path:path}", unknown, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]))
    app = Starlette(routes=routes)
    app.state.sandbox = state
    return app
