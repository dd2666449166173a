"""Contract: every request the Printful connector sends, and every response the twin returns
for those operations, validated against the published specs (`../shared/specs/printful/
printfulapi.json` for v1 paths, `openapi.json` for `/v2/...`).

OpenAPI 3.0 schemas are turned into JSON Schema here: `$ref`s inlined, `nullable` -> a null
type, `readOnly` properties not required in requests and `writeOnly` ones not required in
responses (OpenAPI 3.0 semantics), `discriminator`/`example` dropped.
"""

import json
import re
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

from flashfusion.connector.platforms.printful import PrintfulConnector
from tests.connector.platforms.test_printful import context, payload, twin

SPECS = Path(__file__).resolve().parents[3].parent / "shared" / "specs" / "printful"
V1 = SPECS / "printfulapi.json"
V2 = SPECS / "openapi.json"

pytestmark = pytest.mark.skipif(
    not (V1.exists() and V2.exists()),
    reason=f"{SPECS} is absent: the Printful specs (printfulapi.json, openapi.json) live in "
    "../shared/specs/printful; the contract test needs them",
)

_DROP = {"example", "examples", "discriminator", "xml", "externalDocs", "deprecated",
         "description", "title"}  # fmt: skip
_FORMATS = {"date-time", "date", "email", "uri"}


def _convert(spec: dict[str, Any], node: Any, direction: str, depth: int = 0) -> Any:
    if depth > 60:
        return {}
    if isinstance(node, list):
        return [_convert(spec, item, direction, depth + 1) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target: Any = spec
        for part in node["$ref"][2:].split("/"):
            target = target[part]
        return _convert(spec, target, direction, depth + 1)
    out: dict[str, Any] = {}
    skip = "readOnly" if direction == "request" else "writeOnly"
    for key, value in node.items():
        if key in _DROP or key in ("readOnly", "writeOnly", "nullable"):
            continue
        if key == "format" and value not in _FORMATS:
            continue
        if key == "properties":
            out[key] = {k: _convert(spec, v, direction, depth + 1) for k, v in value.items()}
            hidden = {k for k, v in value.items() if isinstance(v, dict) and _flag(spec, v, skip)}
            if hidden and "required" in node:
                out["required"] = [r for r in node["required"] if r not in hidden]
            continue
        if key == "required" and "required" in out:
            continue
        out[key] = _convert(spec, value, direction, depth + 1)
    if node.get("nullable"):
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        elif "enum" in out:
            out["enum"] = [*out["enum"], None]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    if "type" in out and isinstance(out["type"], str) and "nullable" not in node and "enum" in out:
        pass
    return out


def _flag(spec: dict[str, Any], node: dict[str, Any], flag: str) -> bool:
    while "$ref" in node:
        target: Any = spec
        for part in node["$ref"][2:].split("/"):
            target = target[part]
        node = target
    return bool(node.get(flag)) or any(
        isinstance(p, dict) and _flag(spec, p, flag) for p in node.get("allOf", [])
    )


def _operation(
    specs: dict[str, Any], method: str, path: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    spec = specs["v2"] if path.startswith("/v2/") else specs["v1"]
    for template, ops in spec["paths"].items():
        pattern = "^" + re.sub(r"\{[^/]+\}", "[^/]+", template) + "$"
        if re.match(pattern, path) and method.lower() in ops:
            # a literal path beats a template (/products/variant/{id} vs /products/{id})
            literal = [t for t in spec["paths"] if t == path and method.lower() in spec["paths"][t]]
            chosen = literal[0] if literal else template
            if "{" in chosen and any(
                re.match("^" + re.sub(r"\{[^/]+\}", "[^/]+", t) + "$", path)
                and t.count("/") == path.count("/")
                and t.count("{") < chosen.count("{")
                for t in spec["paths"]
            ):
                continue
            return spec, spec["paths"][chosen][method.lower()]
    raise AssertionError(f"{method} {path} is not in the Printful spec")


def _schema(spec: dict[str, Any], holder: dict[str, Any]) -> Any:
    while "$ref" in holder:
        target: Any = spec
        for part in holder["$ref"][2:].split("/"):
            target = target[part]
        holder = target
    content = holder.get("content", {})
    media = content.get("application/json") or next(iter(content.values()), None)
    return None if media is None else media["schema"]


def _errors(schema: Any, instance: Any) -> list[str]:
    validator = jsonschema_rs.Draft4Validator(schema)
    return [
        f"{'/'.join(map(str, e.instance_path))}: {e.message}"
        for e in validator.iter_errors(instance)
    ]


@pytest.fixture(scope="module")
def specs() -> dict[str, Any]:
    return {"v1": json.loads(V1.read_text()), "v2": json.loads(V2.read_text())}


async def _exercise() -> list[Any]:
    connector = PrintfulConnector()
    app = twin(time_scale=1000.0)
    state = app.state.sandbox
    ctx, recording = context(app)
    await connector.verify(ctx)
    await connector.register_webhooks(ctx, "https://flashfusion.example/webhooks/printful/1")
    assert await connector.find_listing(ctx, payload()) is None
    created = await connector.create_listing(ctx, payload())
    await connector.find_listing(ctx, payload())
    await connector.update_listing(ctx, created.remote_id, payload(price=2999))
    await connector.get_listing(ctx, created.remote_id)
    await connector.generate_mockups(
        ctx, payload(), first_poll_after=0.02, poll_every=0.01, timeout=5
    )
    variant = state.store().products[int(created.remote_id)]["sync_variants"][0]
    order = state.create_order(items=[{"sync_variant_id": variant["id"], "quantity": 1}])
    await connector.list_orders(ctx, updated_since=None)
    await connector.get_order(ctx, str(order["id"]))
    await connector.unpublish_listing(ctx, created.remote_id)
    await connector.get_listing(ctx, created.remote_id)  # 404 answered in the spec's shape
    return [recording.exchanges, state.outbox, state.delivered]


async def test_requests_and_responses_match_the_specs(specs: dict[str, Any]) -> None:
    exchanges, outbox, _ = await _exercise()
    seen: set[str] = set()
    problems: list[str] = []
    for request, response in exchanges:
        spec, op = _operation(specs, request.method, request.url.path)
        label = f"{request.method} {request.url.path} -> {response.status_code}"
        seen.add(f"{request.method} {re.sub(r'/[0-9@][^/]*$', '/{id}', request.url.path)}")
        if request.content:
            body_schema = _schema(spec, op["requestBody"])
            problems += [f"{label} request {e}" for e in
                         _errors(_convert(spec, body_schema, "request"), json.loads(request.content))]  # fmt: skip
        responses = op["responses"]
        code = str(response.status_code)
        holder = responses.get(code) or responses.get(code[0] + "XX")
        assert holder is not None, f"{label}: status not documented ({sorted(responses)})"
        schema = _schema(spec, holder)
        if schema is None:
            assert not response.content, f"{label}: the spec documents no body"
            continue
        problems += [f"{label} response {e}" for e in
                     _errors(_convert(spec, schema, "response"), response.json())]  # fmt: skip
    assert problems == [], "\n".join(problems)
    assert seen >= {
        "GET /stores", "POST /v2/webhooks", "GET /store/products/{id}", "POST /files",
        "POST /store/products", "PUT /store/products/{id}", "POST /v2/mockup-tasks",
        "GET /v2/mockup-tasks", "GET /orders", "GET /orders/{id}", "DELETE /store/products/{id}",
    }  # fmt: skip
    # webhook bodies against the v2 x-webhooks event schemas
    v2 = specs["v2"]
    assert {d.event["type"] for d in outbox} == {"mockup_task_finished", "order_created"}
    for delivery in outbox:
        hook = v2["x-webhooks"][delivery.event["type"]]["post"]
        schema = _convert(v2, _schema(v2, hook["requestBody"]), "response")
        assert _errors(schema, json.loads(delivery.body)) == [], delivery.event["type"]
