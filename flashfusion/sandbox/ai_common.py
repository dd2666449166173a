"""What every AI provider twin shares: fault knobs, token counting and schema-shaped answers.

The twins are protocol twins, not models: they answer in the vendor's wire format with
deterministic text built from the prompt, and, when a JSON schema is asked for, with a JSON
document that satisfies it. Faults are changed while the app runs:

    app.state.sandbox.faults.rate_limit = 2      # next two requests: 429 with retry-after
    app.state.sandbox.faults.server_error = 1    # next request: 500
    app.state.sandbox.faults.latency = 0.3       # every request waits 300 ms first
    app.state.sandbox.faults.hang = 1            # next request never answers (client timeout)
    app.state.sandbox.faults.refuse = 1          # next answer is a refusal / safety block
    app.state.sandbox.faults.invalid_json = 1    # next structured answer is not valid JSON
"""

import asyncio
import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

WORD = re.compile(r"\w+|[^\w\s]", re.UNICODE)


@dataclass
class AIFaults:
    rate_limit: int = 0
    retry_after: float = 1.0
    server_error: int = 0
    server_error_status: int = 500
    hang: int = 0
    refuse: int = 0
    invalid_json: int = 0
    latency: float = 0.0
    # Fixed number of concurrent requests answered at once (0: unlimited); more queue up.
    concurrency: int = 0

    def take(self, name: str) -> bool:
        """Consume one pending fault of this kind; True when it applies to this request."""
        left = getattr(self, name)
        if left > 0:
            setattr(self, name, left - 1)
            return True
        return False


@dataclass
class AISandboxState:
    api_keys: set[str]
    faults: AIFaults = field(default_factory=AIFaults)
    requests: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    # The last request bodies, newest last, for tests that check what the SDK sent.
    bodies: list[dict[str, Any]] = field(default_factory=list)
    _gate: asyncio.Semaphore | None = None

    def record(self, operation: str, body: dict[str, Any]) -> None:
        self.requests[operation] += 1
        self.bodies.append(body)
        del self.bodies[:-50]

    async def delay(self) -> None:
        """Apply the latency fault and the hang fault (a hang sleeps far past any timeout)."""
        if self.faults.take("hang"):
            await asyncio.sleep(3600)
        if self.faults.latency:
            if self.faults.concurrency:
                if self._gate is None:
                    self._gate = asyncio.Semaphore(self.faults.concurrency)
                async with self._gate:
                    await asyncio.sleep(self.faults.latency)
            else:
                await asyncio.sleep(self.faults.latency)


def count_tokens(text: str) -> int:
    """The twins' own token count: one per word or punctuation mark (a stable approximation)."""
    return len(WORD.findall(text))


def answer_text(prompt: str) -> str:
    """A deterministic plain-text answer that quotes the prompt's words."""
    words = [w for w in WORD.findall(prompt) if w.isalnum()][:40]
    return "Sandbox answer: " + " ".join(words)


def _seed(prompt: str) -> int:
    return int.from_bytes(hashlib.sha256(prompt.encode()).digest()[:4], "big")


def _words(prompt: str) -> list[str]:
    return [w for w in WORD.findall(prompt) if w.isalpha() and len(w) > 2] or ["sandbox"]


def synthesize(schema: dict[str, Any], prompt: str) -> Any:
    """A JSON value valid for `schema` (the subset Pydantic emits), made from the prompt's words."""
    return _value(schema, schema.get("$defs", {}), _words(prompt), _seed(prompt), "value")


def _value(
    schema: dict[str, Any], defs: dict[str, Any], words: list[str], seed: int, name: str
) -> Any:
    if "$ref" in schema:
        return _value(defs[schema["$ref"].rsplit("/", 1)[-1]], defs, words, seed, name)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"] or schema[key]
            return _value(options[0], defs, words, seed, name)
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type", "object")
    if kind == "object":
        props: dict[str, Any] = schema.get("properties", {})
        return {k: _value(v, defs, words, seed + i, k) for i, (k, v) in enumerate(props.items())}
    if kind == "array":
        count = max(schema.get("minItems", 0), min(schema.get("maxItems", 5), 5))
        item = schema.get("items", {"type": "string"})
        return [_value(item, defs, words, seed + i + 1, name) for i in range(count)]
    if kind == "string":
        start = seed % len(words)
        picked = [words[(start + i) % len(words)] for i in range(1 + seed % 6)]
        text = " ".join(picked).capitalize()
        limit = schema.get("maxLength")
        return text[:limit] if limit else text
    if kind == "integer":
        return int(schema.get("minimum", 0))
    if kind == "number":
        return float(schema.get("minimum", 0))
    if kind == "boolean":
        return False
    return None


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
