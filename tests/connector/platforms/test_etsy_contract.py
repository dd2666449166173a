"""Every request the Etsy connector sends, and every answer the twin gives to it, checked
against Etsy's published OpenAPI file (`../shared/specs/etsy/baseline.json`): path, method,
declared parameters and their types/enums, required fields, body media type, and the response
schema of the status returned ($refs resolved; OpenAPI `nullable` read as JSON Schema null)."""

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import jsonschema_rs
import pytest

from flashfusion.connector import breaker
from tests.connector.platforms.test_etsy import (
    BASE,
    Recording,
    _isolated,
    app,
    app_keys,
    connect,
    connector,
    context,
    payload,
    state,
)

# The fixtures are test_etsy.py's (one twin per test, the breaker and time scale isolated).
__all__ = ["_isolated", "app", "connector", "state"]

SPEC_PATH = Path(__file__).resolve().parents[4] / "shared" / "specs" / "etsy" / "baseline.json"
# Twin-only or non-application endpoints the connector calls (not in the spec's paths).
NOT_IN_SPEC = ("/v3/public/oauth/token", "/v3/sandbox/webhook-endpoints")


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    if not SPEC_PATH.exists():
        pytest.skip(
            f"{SPEC_PATH} is absent: the Etsy contract test needs Etsy's OpenAPI file "
            "(../shared/specs/etsy/baseline.json)"
        )
    loaded: dict[str, Any] = json.loads(SPEC_PATH.read_text())
    return loaded


def to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 schema -> JSON Schema draft 7 (refs to #/definitions, nullable -> null)."""
    if isinstance(node, list):
        return [to_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {
        k: to_json_schema(v) for k, v in node.items() if k != "nullable" and not k.startswith("x-")
    }
    if "$ref" in out:
        out["$ref"] = out["$ref"].replace("#/components/schemas/", "#/definitions/")
    if node.get("nullable"):
        if "type" in out and "enum" not in out:
            out["type"] = [out["type"], "null"]
        else:
            return {"anyOf": [out, {"type": "null"}]}
    return out


def validator(spec: dict[str, Any], schema: dict[str, Any]) -> Any:
    full = to_json_schema(schema) | {"definitions": to_json_schema(spec["components"]["schemas"])}
    return jsonschema_rs.Draft7Validator(full, validate_formats=False)


def operation(
    spec: dict[str, Any], method: str, path: str
) -> tuple[str, dict[str, Any], dict[str, str]]:
    # Literal segments first: /users/me before /users/{user_id}.
    for template, item in sorted(spec["paths"].items(), key=lambda kv: kv[0].count("{")):
        pattern = "^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template) + "$"
        found = re.match(pattern, path)
        if found and method.lower() in item:
            return template, item[method.lower()], found.groupdict()
    raise AssertionError(f"{method} {path} is not an operation of Etsy's spec")


def check_scalar(schema: dict[str, Any], raw: str, where: str) -> None:
    kind = schema.get("type")
    if kind == "integer":
        value = int(raw)
        assert value >= schema.get("minimum", value), where
        assert value <= schema.get("maximum", value), where
    elif kind == "number":
        assert float(raw) >= schema.get("minimum", float(raw)), where
    elif kind == "boolean":
        assert raw in ("true", "false"), where
    if "enum" in schema:
        assert raw in schema["enum"], f"{where}: {raw!r} not in {schema['enum']}"


def check_value(schema: dict[str, Any], raw: str, where: str) -> None:
    if schema.get("type") == "array":
        for part in raw.split(","):  # spec: comma-separated lists in forms
            check_scalar(schema["items"], part, where)
    else:
        check_scalar(schema, raw, where)


def check_request(spec: dict[str, Any], request: httpx.Request) -> str:
    template, op, path_params = operation(spec, request.method, request.url.path)
    params = {p["name"]: p for p in op.get("parameters", [])}
    for name, value in path_params.items():
        check_scalar(params[name]["schema"], value, f"{op['operationId']} path {name}")
    query = parse_qsl(request.url.query.decode())
    for name, value in query:
        assert name in params, f"{op['operationId']}: undeclared query {name}"
        assert params[name]["in"] == "query", f"{op['operationId']}: undeclared query {name}"
        check_value(params[name]["schema"], value, f"{op['operationId']} query {name}")
    for p in params.values():
        if p["in"] == "query" and p.get("required"):
            assert p["name"] in dict(query), f"{op['operationId']}: missing query {p['name']}"
    assert request.headers["x-api-key"].count(":") == 1  # securitySchemes.api_key format
    if op.get("security") and any("oauth2" in s for s in op["security"]):
        assert request.headers["authorization"].startswith("Bearer ")
    media = request.headers.get("content-type", "").split(";")[0]
    body = op.get("requestBody")
    if body is None:
        assert not request.content, f"{op['operationId']} takes no body"
        return op["operationId"]
    assert media in body["content"], f"{op['operationId']}: {media} not in {list(body['content'])}"
    schema = body["content"][media]["schema"]
    if media == "application/x-www-form-urlencoded":
        form = parse_qsl(request.content.decode())
        for name, value in form:
            assert name in schema["properties"], f"{op['operationId']}: undeclared field {name}"
            check_value(schema["properties"][name], value, f"{op['operationId']} {name}")
        for name in schema.get("required", []):
            assert name in dict(form), f"{op['operationId']}: missing required {name}"
    elif media == "application/json":
        errors = [
            e.message for e in validator(spec, schema).iter_errors(json.loads(request.content))
        ]
        assert errors == [], f"{op['operationId']}: {errors}"
    elif media == "multipart/form-data":
        names = set(re.findall(rb'; name="([^"]+)"', request.content))
        for name in names:
            assert name.decode() in schema["properties"], (
                f"{op['operationId']}: undeclared part {name!r}"
            )
    return op["operationId"]


def check_response(spec: dict[str, Any], request: httpx.Request, response: httpx.Response) -> None:
    _, op, _ = operation(spec, request.method, request.url.path)
    declared = op["responses"].get(str(response.status_code))
    assert declared is not None, (
        f"{op['operationId']}: status {response.status_code} not in the spec"
    )
    content = declared.get("content", {}).get("application/json")
    if content is None:
        assert response.content in (b"", b"null")
        return
    errors = [e.message for e in validator(spec, content["schema"]).iter_errors(response.json())]
    assert errors == [], f"{op['operationId']} {response.status_code}: {errors[:5]}"


async def test_connector_requests_and_twin_answers_match_the_spec(
    spec: dict[str, Any], app: Any, connector: Any, state: Any
) -> None:
    recording = Recording(httpx.ASGITransport(app=app))
    async with httpx.AsyncClient(transport=recording, base_url=BASE) as http:
        tokens = await connect(http, connector)
    ctx, recorded = context(app, tokens)
    # The breaker loads a connection's state on its first call, after the rate-limit token
    # was taken (connector/http.py): that call then arrives ~80 ms late, past the limiter's
    # margin, and the twin counts 11 arrivals in one scaled second. Loaded first here.
    await breaker.before_call(ctx.connection_id)
    await connector.verify(ctx)
    remote = await connector.create_listing(ctx, payload())
    changed = payload(price=2999)
    await connector.update_listing(ctx, remote.remote_id, changed)
    shop_id = state.shop_of(state.default_user_id)
    receipt = state.create_receipt(shop_id, int(remote.remote_id), "ff-0001-black-s")
    await connector.list_orders(ctx, updated_since=datetime.now(UTC) - timedelta(days=1))
    await connector.get_order(ctx, str(receipt["receipt_id"]))
    await connector.unpublish_listing(ctx, remote.remote_id)
    await connector.get_listing(ctx, remote.remote_id)
    assert await connector.get_listing(ctx, "1") is None  # a 404 answer, checked too

    seen: set[str] = set()
    for request, response in recording.exchanges + recorded.exchanges:
        if request.url.path in NOT_IN_SPEC or request.url.path == "/oauth/connect":
            continue
        seen.add(check_request(spec, request))
        check_response(spec, request, response)
    assert seen == {
        "getMe", "getShop", "getShopShippingProfiles", "getShopReadinessStateDefinitions",
        "getListingsByShop", "getSellerTaxonomyNodes", "getPropertiesByTaxonomyId",
        "createDraftListing", "updateListingInventory", "getListingImages", "uploadListingImage",
        "updateListing", "getListing", "getListingInventory", "getShopReceipts", "getShopReceipt",
    }  # fmt: skip


async def test_twin_error_answers_match_error_schema(
    spec: dict[str, Any], app: Any, state: Any
) -> None:
    keys = app_keys()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        shop_id = state.shop_of(state.default_user_id)
        url = f"/v3/application/shops/{shop_id}/listings"
        no_key = await http.post(url, data={"title": "x"})
        no_token = await http.post(
            url,
            data={"title": "x"},
            headers={"x-api-key": f"{keys['keystring']}:{keys['shared_secret']}"},
        )
        for response in (no_key, no_token):
            check_response(spec, response.request, response)
        assert (no_key.status_code, no_token.status_code) == (403, 401)
