"""Tenant isolation matrix, built from the route table.

Every `/api/v1` operation is called by {anonymous, each role of tenant A, an API key holding only
the route's scope, a key lacking it, a revoked key} with {no id, an own id, a foreign (tenant B)
id, a missing id, a malformed id}. The test passes only if:

- each call gets the status the role -> permission table and the key's scopes predict;
- a foreign id gets exactly the response a missing id gets (no existence oracle);
- no tenant-B marker string appears in any response to tenant A;
- tenant B's rows are unchanged after every call, and tenant A's rows after every refused call.

`ROUTES` is the registry: a route that is not in it (or an entry for a route that is gone) fails
`test_registry_matches_the_route_table`.
"""

import io
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

import fastapi.routing
import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from PIL import Image
from sqlalchemy import Uuid, bindparam, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.ai.service import credential_aad
from flashfusion.audit.service import audit as audit_service
from flashfusion.auth.dependencies import Authenticator
from flashfusion.auth.models import AuthSubject
from flashfusion.auth.scope import ALL_SCOPES, Scope
from flashfusion.authz.permission import PERMISSION_SCOPE, ROLE_PERMISSIONS, Permission
from flashfusion.catalog.registry import get_catalog
from flashfusion.connector import token as token_health
from flashfusion.connector.service import connection as connection_service
from flashfusion.content.repository import SCRIPT_PREFIX
from flashfusion.jobs.enqueue import enqueue
from flashfusion.jobs.repository import JobRepository
from flashfusion.kit import encryption
from flashfusion.kit.crypto import random_token, sha256_hex
from flashfusion.models import (
    AICredential,
    AIGeneration,
    AuditExport,
    BrandVoice,
    ChannelListing,
    ConnectionStatus,
    ContentExperiment,
    ExportStatus,
    IntentAction,
    IntentState,
    Invitation,
    ListingCopy,
    ListingCopyStatus,
    ListingCopyVersion,
    ListingState,
    Order,
    OrderLineItem,
    OrderStatus,
    Organization,
    PlatformConnection,
    PublishIntent,
    Role,
    SafeguardReport,
    ScreenTrigger,
    utc_now,
)
from flashfusion.safeguard.types import Verdict
from tests.fixtures.objects import (
    Tenant,
    add_member,
    bearer,
    create_api_key,
    create_organization,
    create_user,
)
from tests.fixtures.studio import (
    create_design,
    create_media,
    create_pricing_rule,
    create_product,
    create_render,
    png_bytes,
    text_document,
)

API = "/api/v1"

# --- the registry ---------------------------------------------------------------------------

Kind = Literal[
    "organization",
    "member",
    "invitation",
    "api_key",
    "audit_export",
    "job",
    "design",
    "render",
    "media",
    "product",
    "pricing_rule",
    "ai_credential",
    "ai_generation",
    "listing_copy",
    "script",
    "brand_voice",
    "experiment",
    "screened_product",
    "safeguard_report",
    "publishable_product",
    "connection",
    "spare_connection",
    "etsy_connection",
    "channel_listing",
    "order",
]
IdKind = Literal["none", "own", "foreign", "missing", "malformed"]


@dataclass(frozen=True)
class Target:
    """The id a route acts on: what kind of object, and where the id travels."""

    kind: Kind
    where: Literal["path", "query", "body"]
    # The state an object must be in for the valid call to succeed (jobs: cancel vs resume).
    state: Literal["enqueued", "cancelled", "draft", "running", "published", "failed"] | None = None
    # The query or body field that carries the id; optional ones fall back to the caller's own
    # workspace when left out.
    field: str = "organization_id"
    optional: bool = True
    # The body field is a list of ids (`product_ids`): the id travels as its only element.
    many: bool = False


@dataclass(frozen=True)
class Call:
    """What a check needs to know about the call it judges."""

    own_id: uuid.UUID | None
    organization: Organization
    role: Role
    key_scopes: frozenset[Scope]
    body: dict[str, Any] | None


Check = Callable[[httpx.Response, Call], None]


@dataclass(frozen=True)
class RouteSpec:
    # The scope the route's authenticator demands (None: any valid key).
    scope: Scope | None
    # Role permissions the valid call needs; the first is the one the scope stands for.
    permissions: tuple[Permission, ...]
    ok_status: int
    target: Target | None = None
    body: Callable[[str], dict[str, Any]] | None = None
    # The valid call consumes or changes its object: give every call a new one.
    fresh: bool = False
    check: Check | None = None
    # Path parameters besides `{id}` (a version number, a variant key, a catalog key).
    path_params: dict[str, str] = field(default_factory=dict)
    # A multipart upload instead of a JSON body.
    files: Callable[[str], dict[str, Any]] | None = None
    # Body fields naming other objects of the caller's own workspace (a list for `..._ids`).
    refs: dict[str, Kind] = field(default_factory=dict)
    # No authenticator: the route authenticates by what it is given (the OAuth callback's
    # `state`), so every caller, signed in or not, gets `ok_status` and `error`.
    public: bool = False
    error: str | None = None


def _json(response: httpx.Response) -> Any:
    return response.json()


def check_me(response: httpx.Response, call: Call) -> None:
    body = _json(response)
    assert body["organization_id"] == str(call.organization.id)
    assert body["role"] == call.role.value
    assert body["scopes"] == sorted(s.value for s in call.key_scopes)
    assert body["effective_permissions"] == sorted(
        p.value for p in ROLE_PERMISSIONS[call.role] if PERMISSION_SCOPE[p] in call.key_scopes
    )


def check_same_id(response: httpx.Response, call: Call) -> None:
    assert _json(response)["id"] == str(call.own_id)


def check_organization_list(response: httpx.Response, call: Call) -> None:
    assert [o["id"] for o in _json(response)["items"]] == [str(call.organization.id)]


def check_non_empty_page(response: httpx.Response, call: Call) -> None:
    body = _json(response)
    assert body["items"], "the caller may read these rows, so its own must be listed"
    assert len(body["items"]) == min(body["pagination"]["total_count"], 20)  # default page size


def check_organization_renamed(response: httpx.Response, call: Call) -> None:
    assert call.body is not None
    body = _json(response)
    assert (body["id"], body["name"]) == (str(call.own_id), call.body["name"])


def check_member_role(response: httpx.Response, call: Call) -> None:
    body = _json(response)
    assert (body["id"], body["role"]) == (str(call.own_id), "editor")


def check_no_content(response: httpx.Response, call: Call) -> None:
    assert response.content == b""


def check_revoked(response: httpx.Response, call: Call) -> None:
    body = _json(response)
    assert (body["id"], body["status"]) == (str(call.own_id), "revoked")


def check_invitation_created(response: httpx.Response, call: Call) -> None:
    assert call.body is not None
    body = _json(response)
    assert (body["email"], body["role"], body["status"]) == (
        call.body["email"],
        "viewer",
        "pending",
    )


def check_key_created(response: httpx.Response, call: Call) -> None:
    body = _json(response)
    assert body["token"].startswith("ffk_")
    assert body["scopes"] == ["api_keys:write"]
    assert body["status"] == "active"


def check_export_created(response: httpx.Response, call: Call) -> None:
    assert _json(response)["status"] == "pending"


def check_csv(response: httpx.Response, call: Call) -> None:
    assert response.headers["content-type"].startswith("text/csv")
    assert response.text == f"created_at,action\n{OWN_LABEL} {call.own_id}\n"


def check_job_status(status: str) -> Check:
    def check(response: httpx.Response, call: Call) -> None:
        body = _json(response)
        assert (body["id"], body["status"]) == (str(call.own_id), status)

    return check


def check_job_retried(response: httpx.Response, call: Call) -> None:
    body = _json(response)
    assert body["retry_of_job_id"] == str(call.own_id)
    assert body["id"] != str(call.own_id)
    assert body["status"] == "ENQUEUED"


# --- Merch Studio checks --------------------------------------------------------------------


def check_png(width: int, height: int) -> Check:
    def check(response: httpx.Response, call: Call) -> None:
        assert response.headers["content-type"] == "image/png"
        assert Image.open(io.BytesIO(response.content)).size == (width, height)

    return check


def check_names_of(keys: set[str]) -> Check:
    def check(response: httpx.Response, call: Call) -> None:
        assert keys <= {item["key"] for item in _json(response)}

    return check


def check_design_created(response: httpx.Response, call: Call) -> None:
    assert call.body is not None
    body = _json(response)
    assert (body["name"], body["preset"], body["latest_version"]) == (
        call.body["phrase"],
        "minimalist-line",
        1,
    )


def check_design_renamed(response: httpx.Response, call: Call) -> None:
    assert call.body is not None
    assert (_json(response)["id"], _json(response)["name"]) == (str(call.own_id), call.body["name"])


def check_version(number: int | None, *, reverted_from: int | None = None) -> Check:
    def check(response: httpx.Response, call: Call) -> None:
        body = _json(response)
        assert body["design_id"] == str(call.own_id)
        if number is not None:
            assert body["number"] == number
        else:
            assert body["number"] >= 2
        assert body["reverted_from"] == reverted_from

    return check


def check_fixed(response: httpx.Response, call: Call) -> None:
    body = _json(response)
    assert body["design_id"] == str(call.own_id)
    assert body["note"] == "Fixed semi_transparent_pixels for Unisex t-shirt"
    assert body["document"]["layers"][0]["fill"]["colours"] == ["#ff6b35"]


def check_issues(response: httpx.Response, call: Call) -> None:
    assert [i["code"] for i in _json(response)] == ["semi_transparent_pixels"]


def check_render_queued(response: httpx.Response, call: Call) -> None:
    body = _json(response)
    assert (body["design_id"], body["status"], body["selection"]) == (
        str(call.own_id),
        "queued",
        {"sticker-kiss-cut": []},
    )


def check_uploaded(response: httpx.Response, call: Call) -> None:
    body = _json(response)
    assert (body["kind"], body["width"], body["height"], body["filename"]) == (
        "upload",
        16,
        12,
        "logo.png",
    )


def check_catalog(response: httpx.Response, call: Call) -> None:
    assert _json(response)["version"] == get_catalog().version


def check_mug(response: httpx.Response, call: Call) -> None:
    assert _json(response)["key"] == "mug-11oz"


def check_override(response: httpx.Response, call: Call) -> None:
    assert isinstance(_json(response), dict)


def check_same_body(response: httpx.Response, call: Call) -> None:
    assert _json(response) == call.body


def check_product_created(response: httpx.Response, call: Call) -> None:
    body = _json(response)
    assert (body["design_id"], body["product_type"], body["status"]) == (
        str(call.own_id),
        "sticker-kiss-cut",
        "draft",
    )
    assert len(body["variants"]) == len(get_catalog().product_types["sticker-kiss-cut"].variants)


def check_titled(response: httpx.Response, call: Call) -> None:
    assert call.body is not None
    body = _json(response)
    assert (body["id"], body["title"]) == (str(call.own_id), call.body["title"])


def check_variant_priced(response: httpx.Response, call: Call) -> None:
    body = _json(response)
    assert (body["variant_key"], body["price"], body["price_source"]) == ("white-m", 2599, "manual")


def check_price_table(response: httpx.Response, call: Call) -> None:
    body = _json(response)
    assert body["product_id"] == str(call.own_id)
    assert [r["variant_key"] for r in body["rows"]] == ["white-m"]
    assert body["rows"][0]["profit"] is not None


def check_rule_created(response: httpx.Response, call: Call) -> None:
    assert call.body is not None
    body = _json(response)
    assert (body["name"], body["target_bps"], body["channel"]) == (call.body["name"], 3000, "etsy")


def check_rule_updated(response: httpx.Response, call: Call) -> None:
    body = _json(response)
    assert (body["id"], body["target_bps"]) == (str(call.own_id), 3100)


# --- AI settings, cost ledger, listing copy, brand voices, experiments checks ----------------


def check_ai_settings(soft_warning_percent: int) -> Check:
    def check(response: httpx.Response, call: Call) -> None:
        body = _json(response)
        assert body["organization_id"] == str(call.organization.id)
        assert (body["plan_tier"], body["soft_warning_percent"]) == ("free", soft_warning_percent)

    return check


def check_credential(provider: str, source: str) -> Check:
    def check(response: httpx.Response, call: Call) -> None:
        body = _json(response)
        found = (
            body if isinstance(body, dict) else next(c for c in body if c["provider"] == provider)
        )
        assert (found["provider"], found["source"]) == (provider, source)
        if call.body and "api_key" in call.body:
            assert found["key_hint"] == call.body["api_key"][-4:]
            assert call.body["api_key"] not in response.text

    return check


def check_costs(response: httpx.Response, call: Call) -> None:
    body = _json(response)
    assert body["organization_id"] == str(call.organization.id)
    assert body["generations"] >= 1
    assert body["budget"]["cap_microusd"] == 2_000_000


def check_generated(response: httpx.Response, call: Call) -> None:
    assert call.body is not None
    [listing] = _json(response)
    assert (listing["idea"], listing["platform"], listing["status"]) == (
        call.body["idea"],
        "etsy",
        "ready",
    )
    assert listing["organization_id"] == str(call.organization.id)
    assert (listing["latest"]["provider"], listing["latest"]["violations"]) == ("offline", [])


def check_copy_edited(response: httpx.Response, call: Call) -> None:
    assert call.body is not None
    body = _json(response)
    assert (body["id"], body["latest"]["fields"]["title"]) == (str(call.own_id), call.body["title"])
    assert body["latest"]["source"] == "edited"


def check_copy_version(number: int) -> Check:
    def check(response: httpx.Response, call: Call) -> None:
        body = _json(response)
        assert (body["listing_copy_id"], body["version"]) == (str(call.own_id), number)

    return check


def check_copy_reverted(response: httpx.Response, call: Call) -> None:
    body = _json(response)
    assert body["id"] == str(call.own_id)
    assert (body["latest"]["source"], body["latest"]["note"]) == (
        "reverted",
        "reverted to version 1",
    )


def check_copy_diff(response: httpx.Response, call: Call) -> None:
    body = _json(response)
    assert (body["listing_copy_id"], body["a"], body["b"]) == (str(call.own_id), 1, 2)
    assert [c["field"] for c in body["changes"]] == ["title"]


def check_translated(response: httpx.Response, call: Call) -> None:
    [listing] = _json(response)
    assert (listing["language"], listing["platform"], listing["latest"]["provider"]) == (
        "de",
        "etsy",
        "offline",
    )


def check_seo(response: httpx.Response, call: Call) -> None:
    body = _json(response)
    assert (body["listing_copy_id"], body["version"]) == (str(call.own_id), 2)
    assert 0 <= body["score"] <= 100


def check_script(response: httpx.Response, call: Call) -> None:
    body = _json(response)
    assert (body["seconds"], body["platform"], body["provider"]) == (30, "tiktok", "offline")
    assert sum(s["seconds"] for s in body["scenes"]) == 30


def check_script_page(response: httpx.Response, call: Call) -> None:
    """The library lists scripts only (never listing copy), by their video platform."""
    check_non_empty_page(response, call)
    assert {item["platform"] for item in _json(response)["items"]} == {"tiktok"}


def check_script_detail(response: httpx.Response, call: Call) -> None:
    body = _json(response)
    assert (body["id"], body["platform"], body["latest_version"]) == (str(call.own_id), "tiktok", 2)
    assert (body["latest"]["version"], body["latest"]["seconds"]) == (2, 30)


def check_script_edited(response: httpx.Response, call: Call) -> None:
    assert call.body is not None
    body = _json(response)
    assert (body["id"], body["latest"]["fields"]["hook"]) == (str(call.own_id), call.body["hook"])
    assert (body["latest"]["source"], body["latest"]["violations"]) == ("edited", [])


def check_script_versions(response: httpx.Response, call: Call) -> None:
    check_non_empty_page(response, call)
    assert {v["script_id"] for v in _json(response)["items"]} == {str(call.own_id)}


def check_script_version(number: int) -> Check:
    def check(response: httpx.Response, call: Call) -> None:
        body = _json(response)
        assert (body["script_id"], body["version"]) == (str(call.own_id), number)

    return check


def check_script_diff(response: httpx.Response, call: Call) -> None:
    body = _json(response)
    assert (body["script_id"], body["a"], body["b"]) == (str(call.own_id), 1, 2)
    assert [c["field"] for c in body["changes"]] == ["hook"]


def check_named(response: httpx.Response, call: Call) -> None:
    assert call.body is not None
    assert _json(response)["name"] == call.body["name"]


def check_experiment_created(response: httpx.Response, call: Call) -> None:
    body = _json(response)
    assert (body["listing_copy_id"], body["status"]) == (str(call.own_id), "draft")
    assert [(v["key"], v["version"], v["traffic_percent"]) for v in body["variants"]] == [
        ("A", 1, 50),
        ("B", 2, 50),
    ]


def check_experiment_status(status: str, winner: str | None = None) -> Check:
    def check(response: httpx.Response, call: Call) -> None:
        body = _json(response)
        assert (body["id"], body["status"], body["winner"]) == (str(call.own_id), status, winner)

    return check


def check_outcome(response: httpx.Response, call: Call) -> None:
    body = _json(response)
    assert body["id"] == str(call.own_id)
    assert (body["variants"][0]["impressions"], body["variants"][0]["clicks"]) == (10, 1)


# --- safeguard checks ------------------------------------------------------------------------


def check_screened(response: httpx.Response, call: Call) -> None:
    body = _json(response)
    assert (body["verdict"], body["findings"]) == ("pass", [])
    assert body["checks"]["workspace_checks"] is True


def check_product_screened(response: httpx.Response, call: Call) -> None:
    body = _json(response)
    assert (body["product_id"], body["trigger"], body["verdict"]) == (
        str(call.own_id),
        "api",
        "pass",
    )


def check_latest_report(response: httpx.Response, call: Call) -> None:
    body = _json(response)
    assert (body["product_id"], body["trigger"], body["publishable"]) == (
        str(call.own_id),
        "manual",
        True,
    )


def check_safeguard_settings(block_on_warn: bool) -> Check:
    def check(response: httpx.Response, call: Call) -> None:
        body = _json(response)
        assert (body["organization_id"], body["block_on_warn"]) == (
            str(call.organization.id),
            block_on_warn,
        )

    return check


# --- connections, publishing, orders checks ---------------------------------------------------


def check_connected(response: httpx.Response, call: Call) -> None:
    assert call.body is not None
    body = _json(response)
    assert (body["platform"], body["sandbox"], body["status"], body["name"]) == (
        "printful",
        True,
        "active",
        call.body["name"],
    )
    assert body["organization_id"] == str(call.organization.id)


def check_authorize_url(response: httpx.Response, call: Call) -> None:
    url = httpx.URL(_json(response)["authorize_url"])
    assert (url.host, url.path) == ("testserver", "/sandbox/etsy/oauth/connect")
    assert url.params["redirect_uri"] == "http://testserver/api/v1/connections/oauth/callback"
    assert url.params["code_challenge_method"] == "S256"


def check_connection(response: httpx.Response, call: Call) -> None:
    body = _json(response)
    assert (body["id"], body["platform"], body["status"], body["sandbox"]) == (
        str(call.own_id),
        "printify",
        "active",
        True,
    )


def check_health(response: httpx.Response, call: Call) -> None:
    body = _json(response)
    assert (body["connection_id"], body["status"], body["problem_code"]) == (
        str(call.own_id),
        "active",
        None,
    )
    # The Printify connector's declared limits (600 requests/min, 200 publishes/30 min,
    # catalog 100/min).
    assert [(q["name"], q["limit"], q["period_seconds"]) for q in body["quotas"]] == [
        ("requests", 600, 60.0),
        ("publish", 200, 1800.0),
        ("catalog", 100, 60.0),
    ]


def check_reconnected(response: httpx.Response, call: Call) -> None:
    body = _json(response)
    assert body["authorize_url"] is None
    assert (body["connection"]["id"], body["connection"]["status"]) == (str(call.own_id), "active")


def check_linked(response: httpx.Response, call: Call) -> None:
    assert call.body is not None
    body = _json(response)
    assert (body["id"], body["linked_connection_id"]) == (
        str(call.own_id),
        call.body["linked_connection_id"],
    )


def check_settings(defaults: dict[str, Any], missing: list[str]) -> Check:
    def check(response: httpx.Response, call: Call) -> None:
        body = _json(response)
        assert (body["connection_id"], body["platform"], body["listing_defaults"]) == (
            str(call.own_id),
            "etsy",
            defaults,
        )
        assert [m["name"] for m in body["missing"]] == missing

    return check


def check_disconnected(response: httpx.Response, call: Call) -> None:
    body = _json(response)
    assert (body["id"], body["status"], body["credential_hint"]) == (
        str(call.own_id),
        "disconnected",
        None,
    )


def check_published(response: httpx.Response, call: Call) -> None:
    assert call.body is not None
    body = _json(response)
    [item] = body["items"]
    [connection_id] = call.body["connection_ids"]
    assert (item["product_id"], item["connection_id"], item["outcome"]) == (
        str(call.own_id),
        connection_id,
        "queued",
    )
    assert (item["listing"]["state"], item["intent"]["action"], item["intent"]["version"]) == (
        "queued",
        "publish",
        1,
    )
    assert [(e["connection_id"], e["calls"]) for e in body["estimates"]] == [
        (connection_id, PRINTIFY_CALLS)
    ]
    assert body["eta_seconds"] == max(e["seconds"] for e in body["estimates"])


def check_estimate(response: httpx.Response, call: Call) -> None:
    assert call.body is not None
    body = _json(response)
    assert body["items"] == []
    assert [(e["connection_id"], e["calls"]) for e in body["estimates"]] == [
        (call.body["connection_ids"][0], PRINTIFY_CALLS)
    ]


def check_listing_detail(response: httpx.Response, call: Call) -> None:
    body = _json(response)
    assert (body["id"], body["state"], body["platform"]) == (
        str(call.own_id),
        "published",
        "printify",
    )
    assert [(i["action"], i["version"], i["state"]) for i in body["intents"]] == [
        ("publish", 1, "succeeded")
    ]


def check_listing_action(outcome: str, action: str, version: int, state: str) -> Check:
    def check(response: httpx.Response, call: Call) -> None:
        body = _json(response)
        assert (body["outcome"], body["listing"]["id"], body["listing"]["state"]) == (
            outcome,
            str(call.own_id),
            state,
        )
        assert (body["intent"]["action"], body["intent"]["version"], body["intent"]["state"]) == (
            action,
            version,
            "queued",
        )

    return check


def check_order_detail(response: httpx.Response, call: Call) -> None:
    body = _json(response)
    assert (body["id"], body["status"], body["total"], body["currency"]) == (
        str(call.own_id),
        "paid",
        2599,
        "USD",
    )
    assert [(i["remote_id"], i["quantity"], i["unit_price"]) for i in body["line_items"]] == [
        ("L1", 1, 2599)
    ]


def check_sync_requested(response: httpx.Response, call: Call) -> None:
    body = _json(response)
    assert body["connection_id"] == str(call.own_id)
    assert uuid.UUID(body["job_id"])


def small_document(label: str) -> dict[str, Any]:
    return text_document(f"Preview {label[:8]}", width=400, height=200, size=60)


def logo_upload(label: str) -> dict[str, Any]:
    return {"file": ("logo.png", png_bytes((16, 12)), "image/png")}


# Platform calls FlashFusion counts for one Printify publish (publishing/service.py
# `calls_per_publish`, with its three images): what the ETA is computed from.
PRINTIFY_CALLS = {"default": 3, "publish": 1, "upload": 3}

OVERRIDE = {"product_types": {"tshirt": {"variants": {"white-s": {"enabled": False}}}}}


P = Permission
ON_ORGANIZATION_QUERY = Target("organization", "query")
ON_ORGANIZATION_BODY = Target("organization", "body")

ROUTES: dict[tuple[str, str], RouteSpec] = {
    ("GET", f"{API}/me"): RouteSpec(None, (), 200, check=check_me),
    ("GET", f"{API}/organizations"): RouteSpec(
        Scope.organizations_read, (P.organization_read,), 200, check=check_organization_list
    ),
    ("GET", f"{API}/organizations/{{id}}"): RouteSpec(
        Scope.organizations_read,
        (P.organization_read,),
        200,
        Target("organization", "path"),
        check=check_same_id,
    ),
    ("PATCH", f"{API}/organizations/{{id}}"): RouteSpec(
        Scope.organizations_write,
        (P.organization_manage,),
        200,
        Target("organization", "path"),
        body=lambda n: {"name": f"Renamed {n}"},
        check=check_organization_renamed,
    ),
    ("GET", f"{API}/members"): RouteSpec(
        Scope.members_read,
        (P.members_read,),
        200,
        ON_ORGANIZATION_QUERY,
        check=check_non_empty_page,
    ),
    ("GET", f"{API}/members/{{id}}"): RouteSpec(
        Scope.members_read, (P.members_read,), 200, Target("member", "path"), check=check_same_id
    ),
    # Changing or removing a member first reads it: the key needs members:read as well.
    ("PATCH", f"{API}/members/{{id}}"): RouteSpec(
        Scope.members_write,
        (P.members_manage,),
        200,
        Target("member", "path"),
        body=lambda n: {"role": "editor"},
        fresh=True,
        check=check_member_role,
    ),
    ("DELETE", f"{API}/members/{{id}}"): RouteSpec(
        Scope.members_write,
        (P.members_manage,),
        204,
        Target("member", "path"),
        fresh=True,
        check=check_no_content,
    ),
    ("GET", f"{API}/invitations"): RouteSpec(
        Scope.members_read,
        (P.members_read,),
        200,
        ON_ORGANIZATION_QUERY,
        check=check_non_empty_page,
    ),
    ("POST", f"{API}/invitations"): RouteSpec(
        Scope.members_write,
        (P.members_manage,),
        201,
        ON_ORGANIZATION_BODY,
        body=lambda n: {"email": f"invitee-{n}@example.com", "role": "viewer"},
        check=check_invitation_created,
    ),
    ("DELETE", f"{API}/invitations/{{id}}"): RouteSpec(
        Scope.members_write,
        (P.members_manage,),
        200,
        Target("invitation", "path"),
        fresh=True,
        check=check_revoked,
    ),
    ("GET", f"{API}/api_keys"): RouteSpec(
        Scope.api_keys_read,
        (P.api_keys_read,),
        200,
        ON_ORGANIZATION_QUERY,
        check=check_non_empty_page,
    ),
    ("POST", f"{API}/api_keys"): RouteSpec(
        Scope.api_keys_write,
        (P.api_keys_manage,),
        201,
        ON_ORGANIZATION_BODY,
        body=lambda n: {"name": f"key {n}", "scopes": ["api_keys:write"]},
        check=check_key_created,
    ),
    ("GET", f"{API}/api_keys/{{id}}"): RouteSpec(
        Scope.api_keys_read,
        (P.api_keys_read,),
        200,
        Target("api_key", "path"),
        check=check_same_id,
    ),
    # Revoking a key first reads it: the key needs api_keys:read as well.
    ("DELETE", f"{API}/api_keys/{{id}}"): RouteSpec(
        Scope.api_keys_write,
        (P.api_keys_manage,),
        200,
        Target("api_key", "path"),
        fresh=True,
        check=check_revoked,
    ),
    ("GET", f"{API}/audit_events"): RouteSpec(
        Scope.audit_read,
        (P.audit_read,),
        200,
        ON_ORGANIZATION_QUERY,
        check=check_non_empty_page,
    ),
    ("POST", f"{API}/audit_events/exports"): RouteSpec(
        Scope.audit_read,
        (P.audit_read,),
        202,
        ON_ORGANIZATION_BODY,
        body=lambda n: {"action": "member."},
        check=check_export_created,
    ),
    ("GET", f"{API}/audit_events/exports/{{id}}"): RouteSpec(
        Scope.audit_read,
        (P.audit_read,),
        200,
        Target("audit_export", "path"),
        check=check_same_id,
    ),
    ("GET", f"{API}/audit_events/exports/{{id}}/download"): RouteSpec(
        Scope.audit_read, (P.audit_read,), 200, Target("audit_export", "path"), check=check_csv
    ),
    ("GET", f"{API}/jobs"): RouteSpec(
        Scope.jobs_read,
        (P.jobs_read,),
        200,
        ON_ORGANIZATION_QUERY,
        check=check_non_empty_page,
    ),
    ("GET", f"{API}/jobs/{{id}}"): RouteSpec(
        Scope.jobs_read,
        (P.jobs_read,),
        200,
        Target("job", "path", "enqueued"),
        check=check_job_status("ENQUEUED"),
    ),
    # Cancel, resume and retry answer with the job re-read: the key needs jobs:read as well.
    ("POST", f"{API}/jobs/{{id}}/cancel"): RouteSpec(
        Scope.jobs_write,
        (P.jobs_manage,),
        200,
        Target("job", "path", "enqueued"),
        fresh=True,
        check=check_job_status("CANCELLED"),
    ),
    ("POST", f"{API}/jobs/{{id}}/resume"): RouteSpec(
        Scope.jobs_write,
        (P.jobs_manage,),
        200,
        Target("job", "path", "cancelled"),
        fresh=True,
        check=check_job_status("ENQUEUED"),
    ),
    ("POST", f"{API}/jobs/{{id}}/retry"): RouteSpec(
        Scope.jobs_write,
        (P.jobs_manage,),
        201,
        Target("job", "path", "cancelled"),
        fresh=True,
        check=check_job_retried,
    ),
    # --- Merch Studio: presets, fonts, designs, versions, previews, renders, media ---------
    ("GET", f"{API}/presets"): RouteSpec(
        Scope.designs_read, (), 200, check=check_names_of({"retro-sunset", "kawaii"})
    ),
    ("GET", f"{API}/fonts"): RouteSpec(
        Scope.designs_read, (), 200, check=check_names_of({"bebas-neue"})
    ),
    ("GET", f"{API}/designs"): RouteSpec(
        Scope.designs_read,
        (P.designs_read,),
        200,
        ON_ORGANIZATION_QUERY,
        check=check_non_empty_page,
    ),
    ("POST", f"{API}/designs"): RouteSpec(
        Scope.designs_write,
        (P.designs_manage,),
        201,
        ON_ORGANIZATION_BODY,
        body=lambda n: {"phrase": f"Phrase {n}", "preset": "minimalist-line"},
        check=check_design_created,
    ),
    ("POST", f"{API}/designs/preview"): RouteSpec(
        Scope.designs_read,
        (P.designs_read,),
        200,
        body=lambda n: {"document": small_document(n), "size": 100},
        check=check_png(100, 50),
    ),
    ("GET", f"{API}/designs/{{id}}"): RouteSpec(
        Scope.designs_read, (P.designs_read,), 200, Target("design", "path"), check=check_same_id
    ),
    ("PATCH", f"{API}/designs/{{id}}"): RouteSpec(
        Scope.designs_write,
        (P.designs_manage,),
        200,
        Target("design", "path"),
        body=lambda n: {"name": f"Renamed {n}"},
        check=check_design_renamed,
    ),
    ("DELETE", f"{API}/designs/{{id}}"): RouteSpec(
        Scope.designs_write,
        (P.designs_manage,),
        200,
        Target("design", "path"),
        fresh=True,
        check=check_same_id,
    ),
    ("GET", f"{API}/designs/{{id}}/versions"): RouteSpec(
        Scope.designs_read,
        (P.designs_read,),
        200,
        Target("design", "path"),
        check=check_non_empty_page,
    ),
    ("POST", f"{API}/designs/{{id}}/versions"): RouteSpec(
        Scope.designs_write,
        (P.designs_manage,),
        201,
        Target("design", "path"),
        body=lambda n: {"document": text_document(f"Saved {n[:8]}"), "note": "saved"},
        check=check_version(None),
    ),
    ("GET", f"{API}/designs/{{id}}/versions/{{number}}"): RouteSpec(
        Scope.designs_read,
        (P.designs_read,),
        200,
        Target("design", "path"),
        path_params={"number": "1"},
        check=check_version(1),
    ),
    ("GET", f"{API}/designs/{{id}}/versions/{{number}}/preview"): RouteSpec(
        Scope.designs_read,
        (P.designs_read,),
        200,
        Target("design", "path"),
        path_params={"number": "1"},
        check=check_png(600, 600),
    ),
    ("POST", f"{API}/designs/{{id}}/versions/{{number}}/revert"): RouteSpec(
        Scope.designs_write,
        (P.designs_manage,),
        201,
        Target("design", "path"),
        path_params={"number": "1"},
        check=check_version(None, reverted_from=1),
    ),
    ("POST", f"{API}/designs/{{id}}/validate"): RouteSpec(
        Scope.designs_read,
        (P.designs_read,),
        200,
        Target("design", "path"),
        body=lambda n: {"version": 1, "product_types": {"tshirt": ["white-m"]}},
        check=check_issues,
    ),
    ("POST", f"{API}/designs/{{id}}/fixes"): RouteSpec(
        Scope.designs_write,
        (P.designs_manage,),
        201,
        Target("design", "path"),
        body=lambda n: {"version": 1, "product_type": "tshirt", "code": "semi_transparent_pixels"},
        check=check_fixed,
    ),
    ("POST", f"{API}/designs/{{id}}/renders"): RouteSpec(
        Scope.designs_write,
        (P.designs_manage,),
        202,
        Target("design", "path"),
        body=lambda n: {"product_types": {"sticker": []}, "mockups": False},
        check=check_render_queued,
    ),
    ("GET", f"{API}/designs/{{id}}/renders"): RouteSpec(
        Scope.designs_read,
        (P.designs_read,),
        200,
        Target("design", "path"),
        check=check_non_empty_page,
    ),
    ("GET", f"{API}/renders/{{id}}"): RouteSpec(
        Scope.designs_read, (P.designs_read,), 200, Target("render", "path"), check=check_same_id
    ),
    ("POST", f"{API}/media"): RouteSpec(
        Scope.designs_write,
        (P.designs_manage,),
        201,
        ON_ORGANIZATION_QUERY,
        files=logo_upload,
        check=check_uploaded,
    ),
    ("GET", f"{API}/media/{{id}}"): RouteSpec(
        Scope.designs_read, (P.designs_read,), 200, Target("media", "path"), check=check_same_id
    ),
    ("GET", f"{API}/media/{{id}}/content"): RouteSpec(
        Scope.designs_read,
        (P.designs_read,),
        200,
        Target("media", "path"),
        check=check_png(64, 48),
    ),
    # --- catalog, products, prices, pricing rules -----------------------------------------
    ("GET", f"{API}/catalog"): RouteSpec(
        Scope.products_read, (P.products_read,), 200, ON_ORGANIZATION_QUERY, check=check_catalog
    ),
    ("GET", f"{API}/catalog/product_types/{{key}}"): RouteSpec(
        Scope.products_read,
        (P.products_read,),
        200,
        ON_ORGANIZATION_QUERY,
        path_params={"key": "mug"},
        check=check_mug,
    ),
    ("GET", f"{API}/catalog/override"): RouteSpec(
        Scope.products_read, (P.products_read,), 200, ON_ORGANIZATION_QUERY, check=check_override
    ),
    ("PUT", f"{API}/catalog/override"): RouteSpec(
        Scope.products_write,
        (P.catalog_manage,),
        200,
        ON_ORGANIZATION_QUERY,
        body=lambda n: OVERRIDE,
        check=check_same_body,
    ),
    ("GET", f"{API}/products"): RouteSpec(
        Scope.products_read,
        (P.products_read,),
        200,
        ON_ORGANIZATION_QUERY,
        check=check_non_empty_page,
    ),
    # Making a product first reads its design: the key needs designs:read as well.
    ("POST", f"{API}/products"): RouteSpec(
        Scope.products_write,
        (P.products_manage, P.designs_read),
        201,
        Target("design", "body", field="design_id", optional=False),
        body=lambda n: {"product_type": "sticker", "render": False},
        check=check_product_created,
    ),
    ("GET", f"{API}/products/{{id}}"): RouteSpec(
        Scope.products_read, (P.products_read,), 200, Target("product", "path"), check=check_same_id
    ),
    ("PATCH", f"{API}/products/{{id}}"): RouteSpec(
        Scope.products_write,
        (P.products_manage,),
        200,
        Target("product", "path"),
        body=lambda n: {"title": f"Title {n}"},
        check=check_titled,
    ),
    ("DELETE", f"{API}/products/{{id}}"): RouteSpec(
        Scope.products_write,
        (P.products_manage,),
        200,
        Target("product", "path"),
        fresh=True,
        check=check_same_id,
    ),
    ("PATCH", f"{API}/products/{{id}}/variants/{{variant_key}}"): RouteSpec(
        Scope.products_write,
        (P.products_manage,),
        200,
        Target("product", "path"),
        path_params={"variant_key": "white-m"},
        body=lambda n: {"price": 2599},
        check=check_variant_priced,
    ),
    ("GET", f"{API}/products/{{id}}/prices"): RouteSpec(
        Scope.products_read,
        (P.products_read,),
        200,
        Target("product", "path"),
        check=check_price_table,
    ),
    ("GET", f"{API}/pricing_rules"): RouteSpec(
        Scope.products_read,
        (P.products_read,),
        200,
        ON_ORGANIZATION_QUERY,
        check=check_non_empty_page,
    ),
    ("POST", f"{API}/pricing_rules"): RouteSpec(
        Scope.products_write,
        (P.pricing_manage,),
        201,
        ON_ORGANIZATION_BODY,
        body=lambda n: {"name": f"Rule {n}", "target_bps": 3000},
        check=check_rule_created,
    ),
    ("GET", f"{API}/pricing_rules/{{id}}"): RouteSpec(
        Scope.products_read,
        (P.products_read,),
        200,
        Target("pricing_rule", "path"),
        check=check_same_id,
    ),
    ("PATCH", f"{API}/pricing_rules/{{id}}"): RouteSpec(
        Scope.products_write,
        (P.pricing_manage,),
        200,
        Target("pricing_rule", "path"),
        body=lambda n: {"target_bps": 3100},
        check=check_rule_updated,
    ),
    ("DELETE", f"{API}/pricing_rules/{{id}}"): RouteSpec(
        Scope.products_write,
        (P.pricing_manage,),
        200,
        Target("pricing_rule", "path"),
        fresh=True,
        check=check_same_id,
    ),
    # --- AI settings, provider keys, cost ledger -------------------------------------------
    ("GET", f"{API}/ai/settings"): RouteSpec(
        Scope.ai_read, (P.ai_usage_read,), 200, ON_ORGANIZATION_QUERY, check=check_ai_settings(80)
    ),
    ("PATCH", f"{API}/ai/settings"): RouteSpec(
        Scope.ai_write,
        (P.ai_manage,),
        200,
        ON_ORGANIZATION_QUERY,
        body=lambda n: {"soft_warning_percent": 70},
        check=check_ai_settings(70),
    ),
    ("GET", f"{API}/ai/credentials"): RouteSpec(
        Scope.ai_read,
        (P.ai_usage_read,),
        200,
        Target("ai_credential", "query"),
        check=check_credential("perplexity", "workspace"),
    ),
    ("PUT", f"{API}/ai/credentials/{{provider}}"): RouteSpec(
        Scope.ai_write,
        (P.ai_manage,),
        200,
        ON_ORGANIZATION_QUERY,
        path_params={"provider": "xai"},
        body=lambda n: {"api_key": f"xai-test-{n}-fake"},
        check=check_credential("xai", "workspace"),
    ),
    ("DELETE", f"{API}/ai/credentials/{{provider}}"): RouteSpec(
        Scope.ai_write,
        (P.ai_manage,),
        200,
        Target("ai_credential", "query"),
        fresh=True,
        path_params={"provider": "perplexity"},
        check=check_credential("perplexity", "none"),
    ),
    ("GET", f"{API}/ai/generations"): RouteSpec(
        Scope.ai_read,
        (P.ai_usage_read,),
        200,
        ON_ORGANIZATION_QUERY,
        check=check_non_empty_page,
    ),
    ("GET", f"{API}/ai/generations/{{id}}"): RouteSpec(
        Scope.ai_read,
        (P.ai_usage_read,),
        200,
        Target("ai_generation", "path"),
        check=check_same_id,
    ),
    ("GET", f"{API}/ai/costs"): RouteSpec(
        Scope.ai_read, (P.ai_usage_read,), 200, ON_ORGANIZATION_QUERY, check=check_costs
    ),
    # --- listing copy, scripts, brand voices, experiments ----------------------------------
    ("POST", f"{API}/content/listings/generate"): RouteSpec(
        Scope.content_write,
        (P.content_manage,),
        201,
        ON_ORGANIZATION_BODY,
        body=lambda n: {"idea": f"Idea {n}", "product_type": "tshirt", "platforms": ["etsy"]},
        check=check_generated,
    ),
    ("GET", f"{API}/content/listings"): RouteSpec(
        Scope.content_read,
        (P.content_read,),
        200,
        ON_ORGANIZATION_QUERY,
        check=check_non_empty_page,
    ),
    ("GET", f"{API}/content/listings/{{id}}"): RouteSpec(
        Scope.content_read,
        (P.content_read,),
        200,
        Target("listing_copy", "path"),
        check=check_same_id,
    ),
    ("PATCH", f"{API}/content/listings/{{id}}"): RouteSpec(
        Scope.content_write,
        (P.content_manage,),
        200,
        Target("listing_copy", "path"),
        body=lambda n: {"title": f"Edited Tee {n}"},
        check=check_copy_edited,
    ),
    ("GET", f"{API}/content/listings/{{id}}/versions"): RouteSpec(
        Scope.content_read,
        (P.content_read,),
        200,
        Target("listing_copy", "path"),
        check=check_non_empty_page,
    ),
    ("GET", f"{API}/content/listings/{{id}}/versions/{{number}}"): RouteSpec(
        Scope.content_read,
        (P.content_read,),
        200,
        Target("listing_copy", "path"),
        path_params={"number": "1"},
        check=check_copy_version(1),
    ),
    ("POST", f"{API}/content/listings/{{id}}/revert"): RouteSpec(
        Scope.content_write,
        (P.content_manage,),
        201,
        Target("listing_copy", "path"),
        body=lambda n: {"version": 1},
        check=check_copy_reverted,
    ),
    ("GET", f"{API}/content/listings/{{id}}/diff"): RouteSpec(
        Scope.content_read,
        (P.content_read,),
        200,
        Target("listing_copy", "path"),
        check=check_copy_diff,
    ),
    ("POST", f"{API}/content/listings/{{id}}/translate"): RouteSpec(
        Scope.content_write,
        (P.content_manage,),
        201,
        Target("listing_copy", "path"),
        body=lambda n: {"languages": ["de"]},
        check=check_translated,
    ),
    ("POST", f"{API}/content/listings/{{id}}/seo"): RouteSpec(
        Scope.content_read,
        (P.content_read,),
        200,
        Target("listing_copy", "path"),
        check=check_seo,
    ),
    ("POST", f"{API}/content/scripts"): RouteSpec(
        Scope.content_write,
        (P.content_manage,),
        200,
        ON_ORGANIZATION_BODY,
        body=lambda n: {
            "idea": f"Idea {n}",
            "product_type": "tshirt",
            "platform": "tiktok",
            "seconds": 30,
        },
        check=check_script,
    ),
    ("GET", f"{API}/content/scripts"): RouteSpec(
        Scope.content_read,
        (P.content_read,),
        200,
        ON_ORGANIZATION_QUERY,
        check=check_script_page,
    ),
    ("GET", f"{API}/content/scripts/{{id}}"): RouteSpec(
        Scope.content_read,
        (P.content_read,),
        200,
        Target("script", "path"),
        check=check_script_detail,
    ),
    ("PATCH", f"{API}/content/scripts/{{id}}"): RouteSpec(
        Scope.content_write,
        (P.content_manage,),
        200,
        Target("script", "path"),
        body=lambda n: {"hook": f"Edited hook {n}"},
        check=check_script_edited,
    ),
    ("GET", f"{API}/content/scripts/{{id}}/versions"): RouteSpec(
        Scope.content_read,
        (P.content_read,),
        200,
        Target("script", "path"),
        check=check_script_versions,
    ),
    ("GET", f"{API}/content/scripts/{{id}}/versions/{{number}}"): RouteSpec(
        Scope.content_read,
        (P.content_read,),
        200,
        Target("script", "path"),
        path_params={"number": "1"},
        check=check_script_version(1),
    ),
    ("POST", f"{API}/content/scripts/{{id}}/revert"): RouteSpec(
        Scope.content_write,
        (P.content_manage,),
        201,
        Target("script", "path"),
        body=lambda n: {"version": 1},
        check=check_copy_reverted,
    ),
    ("GET", f"{API}/content/scripts/{{id}}/diff"): RouteSpec(
        Scope.content_read,
        (P.content_read,),
        200,
        Target("script", "path"),
        check=check_script_diff,
    ),
    ("GET", f"{API}/brand-voices"): RouteSpec(
        Scope.content_read,
        (P.content_read,),
        200,
        ON_ORGANIZATION_QUERY,
        check=check_non_empty_page,
    ),
    ("POST", f"{API}/brand-voices"): RouteSpec(
        Scope.content_write,
        (P.content_manage,),
        201,
        ON_ORGANIZATION_BODY,
        body=lambda n: {"name": f"Voice {n}", "tone": ["warm"]},
        check=check_named,
    ),
    ("GET", f"{API}/brand-voices/{{id}}"): RouteSpec(
        Scope.content_read,
        (P.content_read,),
        200,
        Target("brand_voice", "path"),
        check=check_same_id,
    ),
    ("PATCH", f"{API}/brand-voices/{{id}}"): RouteSpec(
        Scope.content_write,
        (P.content_manage,),
        200,
        Target("brand_voice", "path"),
        body=lambda n: {"name": f"Renamed {n}"},
        check=check_named,
    ),
    ("DELETE", f"{API}/brand-voices/{{id}}"): RouteSpec(
        Scope.content_write,
        (P.content_manage,),
        200,
        Target("brand_voice", "path"),
        fresh=True,
        check=check_same_id,
    ),
    ("POST", f"{API}/content/experiments"): RouteSpec(
        Scope.content_write,
        (P.content_manage,),
        201,
        Target("listing_copy", "body", field="listing_copy_id", optional=False),
        body=lambda n: {"field": "title", "versions": [1, 2]},
        check=check_experiment_created,
    ),
    ("GET", f"{API}/content/experiments"): RouteSpec(
        Scope.content_read,
        (P.content_read,),
        200,
        ON_ORGANIZATION_QUERY,
        check=check_non_empty_page,
    ),
    ("GET", f"{API}/content/experiments/{{id}}"): RouteSpec(
        Scope.content_read,
        (P.content_read,),
        200,
        Target("experiment", "path", "draft"),
        check=check_same_id,
    ),
    ("POST", f"{API}/content/experiments/{{id}}/start"): RouteSpec(
        Scope.content_write,
        (P.content_manage,),
        200,
        Target("experiment", "path", "draft"),
        fresh=True,
        check=check_experiment_status("running"),
    ),
    ("POST", f"{API}/content/experiments/{{id}}/stop"): RouteSpec(
        Scope.content_write,
        (P.content_manage,),
        200,
        Target("experiment", "path", "running"),
        fresh=True,
        body=lambda n: {"winner": "B"},
        check=check_experiment_status("stopped", "B"),
    ),
    ("POST", f"{API}/content/experiments/{{id}}/outcome"): RouteSpec(
        Scope.content_write,
        (P.content_manage,),
        200,
        Target("experiment", "path", "running"),
        body=lambda n: {"variant": "A", "impressions": 10, "clicks": 1, "orders": 0},
        check=check_outcome,
    ),
    # --- safeguards --------------------------------------------------------------------------
    ("POST", f"{API}/safeguards/screen"): RouteSpec(
        Scope.safeguards_read,
        (P.safeguards_read,),
        200,
        ON_ORGANIZATION_BODY,
        body=lambda n: {"text": f"Sunny morning {n}", "product_type": "tshirt"},
        check=check_screened,
    ),
    ("POST", f"{API}/products/{{id}}/safeguard-reports"): RouteSpec(
        Scope.safeguards_write,
        (P.safeguards_manage,),
        201,
        Target("product", "path"),
        check=check_product_screened,
    ),
    ("GET", f"{API}/products/{{id}}/safeguard-reports/latest"): RouteSpec(
        Scope.safeguards_read,
        (P.safeguards_read,),
        200,
        Target("screened_product", "path"),
        check=check_latest_report,
    ),
    ("GET", f"{API}/safeguard-reports"): RouteSpec(
        Scope.safeguards_read,
        (P.safeguards_read,),
        200,
        ON_ORGANIZATION_QUERY,
        check=check_non_empty_page,
    ),
    ("GET", f"{API}/safeguard-reports/{{id}}"): RouteSpec(
        Scope.safeguards_read,
        (P.safeguards_read,),
        200,
        Target("safeguard_report", "path"),
        check=check_same_id,
    ),
    ("GET", f"{API}/organizations/{{id}}/safeguard-settings"): RouteSpec(
        Scope.safeguards_read,
        (P.safeguards_read,),
        200,
        Target("organization", "path"),
        check=check_safeguard_settings(False),
    ),
    ("PATCH", f"{API}/organizations/{{id}}/safeguard-settings"): RouteSpec(
        Scope.safeguards_write,
        (P.safeguards_configure,),
        200,
        Target("organization", "path"),
        body=lambda n: {"block_on_warn": True},
        fresh=True,
        check=check_safeguard_settings(True),
    ),
    # --- platform connections ----------------------------------------------------------------
    ("GET", f"{API}/connections"): RouteSpec(
        Scope.connections_read,
        (P.connections_read,),
        200,
        ON_ORGANIZATION_QUERY,
        check=check_non_empty_page,
    ),
    # The sandbox twin (in-process) stands in for Printful: no credentials needed.
    ("POST", f"{API}/connections"): RouteSpec(
        Scope.connections_write,
        (P.connections_manage,),
        201,
        Target("organization", "body", optional=False),
        body=lambda n: {"platform": "printful", "sandbox": True, "name": f"Printful {n}"},
        check=check_connected,
    ),
    ("POST", f"{API}/connections/oauth/start"): RouteSpec(
        Scope.connections_write,
        (P.connections_manage,),
        200,
        Target("organization", "body", optional=False),
        body=lambda n: {"platform": "etsy", "sandbox": True},
        check=check_authorize_url,
    ),
    # The platform's redirect: no credential, the `state` alone says whose flow it is (see
    # test_oauth_callback_is_bound_to_its_state). Without one, everybody gets the same 400.
    ("GET", f"{API}/connections/oauth/callback"): RouteSpec(
        None, (), 400, public=True, error="InvalidOAuthState"
    ),
    ("GET", f"{API}/connections/{{id}}"): RouteSpec(
        Scope.connections_read,
        (P.connections_read,),
        200,
        Target("connection", "path"),
        check=check_connection,
    ),
    ("GET", f"{API}/connections/{{id}}/health"): RouteSpec(
        Scope.connections_read,
        (P.connections_read,),
        200,
        Target("connection", "path"),
        check=check_health,
    ),
    ("POST", f"{API}/connections/{{id}}/reconnect"): RouteSpec(
        Scope.connections_write,
        (P.connections_manage,),
        200,
        Target("connection", "path"),
        check=check_reconnected,
    ),
    ("PUT", f"{API}/connections/{{id}}/link"): RouteSpec(
        Scope.connections_write,
        (P.connections_manage,),
        200,
        Target("connection", "path"),
        refs={"linked_connection_id": "etsy_connection"},
        check=check_linked,
    ),
    ("GET", f"{API}/connections/{{id}}/settings"): RouteSpec(
        Scope.connections_read,
        (P.connections_read,),
        200,
        Target("etsy_connection", "path"),
        check=check_settings({}, ["who_made"]),
    ),
    ("PATCH", f"{API}/connections/{{id}}/settings"): RouteSpec(
        Scope.connections_write,
        (P.connections_manage,),
        200,
        Target("etsy_connection", "path"),
        body=lambda n: {"listing_defaults": {"who_made": "i_did"}},
        check=check_settings({"who_made": "i_did"}, []),
    ),
    ("DELETE", f"{API}/connections/{{id}}"): RouteSpec(
        Scope.connections_write,
        (P.connections_manage,),
        200,
        Target("spare_connection", "path"),
        fresh=True,
        check=check_disconnected,
    ),
    # --- publishing --------------------------------------------------------------------------
    ("POST", f"{API}/publishing/publish"): RouteSpec(
        Scope.publishing_write,
        (P.publishing_manage,),
        202,
        Target("publishable_product", "body", field="product_ids", optional=False, many=True),
        fresh=True,
        refs={"connection_ids": "connection"},
        check=check_published,
    ),
    ("POST", f"{API}/publishing/estimate"): RouteSpec(
        Scope.publishing_write,
        (P.publishing_manage,),
        200,
        Target("product", "body", field="product_ids", optional=False, many=True),
        refs={"connection_ids": "connection"},
        check=check_estimate,
    ),
    ("GET", f"{API}/publishing/listings"): RouteSpec(
        Scope.publishing_read,
        (P.publishing_read,),
        200,
        ON_ORGANIZATION_QUERY,
        check=check_non_empty_page,
    ),
    ("GET", f"{API}/publishing/listings/{{id}}"): RouteSpec(
        Scope.publishing_read,
        (P.publishing_read,),
        200,
        Target("channel_listing", "path", "published"),
        check=check_listing_detail,
    ),
    ("POST", f"{API}/publishing/listings/{{id}}/retry"): RouteSpec(
        Scope.publishing_write,
        (P.publishing_manage,),
        202,
        Target("channel_listing", "path", "failed"),
        fresh=True,
        check=check_listing_action("queued", "publish", 1, "queued"),
    ),
    ("POST", f"{API}/publishing/listings/{{id}}/update"): RouteSpec(
        Scope.publishing_write,
        (P.publishing_manage,),
        202,
        Target("channel_listing", "path", "published"),
        fresh=True,
        check=check_listing_action("queued", "update", 2, "published"),
    ),
    ("POST", f"{API}/publishing/listings/{{id}}/unpublish"): RouteSpec(
        Scope.publishing_write,
        (P.publishing_manage,),
        202,
        Target("channel_listing", "path", "published"),
        fresh=True,
        check=check_listing_action("queued", "unpublish", 1, "published"),
    ),
    # --- orders ------------------------------------------------------------------------------
    ("GET", f"{API}/orders"): RouteSpec(
        Scope.orders_read,
        (P.orders_read,),
        200,
        ON_ORGANIZATION_QUERY,
        check=check_non_empty_page,
    ),
    ("GET", f"{API}/orders/{{id}}"): RouteSpec(
        Scope.orders_read,
        (P.orders_read,),
        200,
        Target("order", "path"),
        check=check_order_detail,
    ),
    # An import spends the account's platform quota: the publishing scope and permission.
    ("POST", f"{API}/orders/sync"): RouteSpec(
        Scope.publishing_write,
        (P.publishing_manage,),
        202,
        Target("connection", "body", field="connection_id", optional=False),
        check=check_sync_requested,
    ),
}

ID_KINDS: dict[str | None, tuple[IdKind, ...]] = {
    None: ("none",),
    "path": ("own", "foreign", "missing", "malformed"),
    "query": ("none", "own", "foreign", "missing", "malformed"),
    "body": ("none", "own", "foreign", "missing", "malformed"),
}


def id_kinds(target: Target | None) -> tuple[IdKind, ...]:
    """The ids a route is called with; a required query or body id is never left out."""
    kinds = ID_KINDS[target.where if target else None]
    if target is not None and not target.optional:
        kinds = tuple(k for k in kinds if k != "none")
    return kinds


MALFORMED_ID = "not-a-uuid"
OWN_LABEL = "own"

# --- principals and what they should get ----------------------------------------------------


@dataclass(frozen=True)
class Principal:
    name: str
    # The creator's role and the key's scopes; None for a caller that cannot authenticate.
    role: Role | None
    scopes: frozenset[Scope]
    revoked: bool = False


def principals(spec: RouteSpec) -> list[Principal]:
    only = frozenset({spec.scope}) if spec.scope else frozenset()
    return [
        Principal("anonymous", None, frozenset()),
        *(Principal(f"{role.value} key", role, ALL_SCOPES) for role in Role),
        Principal("owner key with only the route's scope", Role.owner, only),
        Principal("owner key without the route's scope", Role.owner, ALL_SCOPES - only),
        Principal("revoked owner key", Role.owner, ALL_SCOPES, revoked=True),
    ]


@dataclass(frozen=True)
class Expected:
    status: int
    error: str | None = None


def allowed(spec: RouteSpec, role: Role, scopes: frozenset[Scope]) -> bool:
    """What the table says: every permission in the role, and its scope in the key."""
    return all(
        p in ROLE_PERMISSIONS[role] and PERMISSION_SCOPE[p] in scopes for p in spec.permissions
    )


def expected(spec: RouteSpec, principal: Principal, id_kind: IdKind) -> Expected:
    if spec.public:
        return Expected(spec.ok_status, spec.error)
    if principal.role is None or principal.revoked:
        return Expected(401, "Unauthorized")
    if spec.scope is not None and spec.scope not in principal.scopes:
        return Expected(403, "InsufficientScope")
    if id_kind == "malformed":
        return Expected(422, "RequestValidationError")
    if id_kind in ("foreign", "missing"):
        # Found (or not) before any permission check: a foreign id tells nothing.
        return Expected(404, "ResourceNotFound")
    if allowed(spec, principal.role, principal.scopes):
        return Expected(spec.ok_status)
    return Expected(403, "NotPermitted")


# --- the two tenants ------------------------------------------------------------------------

TENANT_TABLES = (
    ("organizations", "id"),
    ("members", "organization_id"),
    ("invitations", "organization_id"),
    ("api_keys", "organization_id"),
    ("jobs", "organization_id"),
    ("audit_exports", "organization_id"),
    ("designs", "organization_id"),
    ("design_versions", "organization_id"),
    ("media_assets", "organization_id"),
    ("renders", "organization_id"),
    ("render_files", "organization_id"),
    ("products", "organization_id"),
    ("product_variants", "organization_id"),
    ("pricing_rules", "organization_id"),
    ("catalog_overrides", "organization_id"),
    ("ai_settings", "organization_id"),
    ("ai_credentials", "organization_id"),
    ("ai_generations", "organization_id"),
    ("ai_cache_entries", "organization_id"),
    ("brand_voices", "organization_id"),
    ("listing_copies", "organization_id"),
    ("listing_copy_versions", "organization_id"),
    ("content_experiments", "organization_id"),
    ("content_batches", "organization_id"),
    ("content_batch_items", "organization_id"),
    ("safeguard_reports", "organization_id"),
    ("safeguard_overrides", "organization_id"),
    ("safeguard_settings", "organization_id"),
    ("safeguard_holds", "organization_id"),
    ("platform_connections", "organization_id"),
    ("oauth_states", "organization_id"),
    ("connector_breakers", "organization_id"),
    ("channel_listings", "organization_id"),
    ("publish_intents", "organization_id"),
    ("external_events", "organization_id"),
    ("orders", "organization_id"),
    ("order_line_items", "organization_id"),
)
# Tables keyed by something else than `id` (a breaker per connection).
ORDER_COLUMNS = {"connector_breakers": "connection_id"}
# Written by every authenticated call (at most once a minute), then rolled back on refusal.
USAGE_COLUMNS = {"last_used_at", "last_used_ip"}


def _by_org(sql: str) -> Any:
    return text(sql).bindparams(bindparam("org", type_=Uuid()))


async def tenant_rows(
    session: AsyncSession, organization_id: uuid.UUID, *, of_caller: bool
) -> dict[str, Any]:
    """Every row a tenant owns and its jobs' DBOS status; for the other tenant, also the count
    of its audit events. The caller's own audit log grows with its refusals, and its keys'
    usage stamps move as they authenticate: those are left out for the caller."""
    ignored = USAGE_COLUMNS if of_caller else set()
    rows: dict[str, Any] = {}
    for table, column in TENANT_TABLES:
        result = await session.execute(
            _by_org(
                f"SELECT * FROM {table} WHERE {column} = :org "
                f"ORDER BY {ORDER_COLUMNS.get(table, 'id')}"
            ),
            {"org": organization_id},
        )
        keys = list(result.keys())
        rows[table] = [
            tuple(v for k, v in zip(keys, row, strict=True) if k not in ignored)
            for row in result.all()
        ]
    status_table = (
        "workflow_status" if session.get_bind().dialect.name == "sqlite" else "dbos.workflow_status"
    )
    result = await session.execute(
        _by_org(
            f"SELECT workflow_uuid, status, queue_name FROM {status_table} WHERE workflow_uuid IN "
            "(SELECT workflow_id FROM jobs WHERE organization_id = :org) ORDER BY workflow_uuid"
        ),
        {"org": organization_id},
    )
    rows["workflow_status"] = [tuple(row) for row in result.all()]
    if not of_caller:
        result = await session.execute(
            _by_org("SELECT count(*) FROM audit_events WHERE organization_id = :org"),
            {"org": organization_id},
        )
        rows["audit_events"] = result.scalar_one()
    return rows


async def create_invitation(
    session: AsyncSession, organization: Organization, email: str
) -> Invitation:
    invitation = Invitation(
        id=uuid.uuid4(),
        organization_id=organization.id,
        email=email,
        role=Role.viewer,
        token_hash=sha256_hex(random_token()),
        expires_at=utc_now() + timedelta(days=7),
    )
    session.add(invitation)
    await session.flush()
    return invitation


async def create_object(
    session: AsyncSession,
    organization: Organization,
    owner: Tenant | None,
    kind: Kind,
    state: str | None,
    label: str,
) -> uuid.UUID:
    """A new object of `kind` in `organization`, ready for the route's valid call."""
    if kind == "organization":
        return organization.id
    if kind == "member":
        user = await create_user(
            session, email=f"{label}-member-{uuid.uuid4().hex[:8]}@example.com"
        )
        return (await add_member(session, organization, user, Role.viewer)).id
    if kind == "invitation":
        email = f"{label}-invitee-{uuid.uuid4().hex[:8]}@example.com"
        return (await create_invitation(session, organization, email)).id
    if kind == "api_key":
        assert owner is not None
        key, _ = await create_api_key(
            session, organization=organization, user=owner.owner, name=f"{label} extra key"
        )
        return key.id
    if kind == "audit_export":
        export_id = uuid.uuid4()
        content = f"created_at,action\n{label} {export_id}\n".encode()
        session.add(
            AuditExport(
                id=export_id,
                organization_id=organization.id,
                filters={"actor": label},
                status=ExportStatus.done,
                rows_total=1,
                rows_written=1,
                content=content,
                byte_size=len(content),
                completed_at=utc_now(),
            )
        )
        await session.flush()
        return export_id
    if kind == "job":
        job = await enqueue(
            session,
            "diagnostics.selftest",
            "1",
            "0",
            organization_id=organization.id,
            summary=f"{label} job",
        )
        if state == "cancelled":
            assert await JobRepository.from_session(session).cancel(job.workflow_id)
        return job.id
    if kind == "design":
        # Semi-transparent ink on a t-shirt: a validation warning with an automatic fix.
        design, version = await create_design(
            session,
            organization,
            name=f"{label} design",
            document=text_document(f"{label[:12]} wild", colour="#ff6b3580"),
        )
        await create_render(session, design, version)
        return design.id
    if kind == "render":
        design, version = await create_design(session, organization, name=f"{label} rendered")
        return (await create_render(session, design, version)).id
    if kind == "media":
        return (await create_media(session, organization, filename=f"{label}.png")).id
    if kind == "product":
        design, version = await create_design(session, organization, name=f"{label} product")
        product = await create_product(
            session, design, version, title=f"{label} tee", variants={"white-m": (1200, 475, 2999)}
        )
        return product.id
    if kind == "pricing_rule":
        return (await create_pricing_rule(session, organization, name=f"{label} rule")).id
    if kind == "ai_credential":
        # The routes name the workspace (the provider is in the path): the id is the
        # organization's, of one that holds a stored key. A key no default text chain uses, so
        # that no generation in the matrix would try to reach the provider.
        return await create_ai_credential(session, organization, label)
    if kind == "ai_generation":
        return (await create_ai_generation(session, organization)).id
    if kind == "listing_copy":
        return (await create_listing_copy(session, organization, label)).id
    if kind == "script":
        return (await create_script(session, organization, label)).id
    if kind == "brand_voice":
        voice = BrandVoice(organization_id=organization.id, name=f"{label} voice", tone=["warm"])
        session.add(voice)
        await session.flush()
        return voice.id
    if kind == "experiment":
        copy = await create_listing_copy(session, organization, label)
        experiment = ContentExperiment(
            organization_id=organization.id,
            listing_copy_id=copy.id,
            field="title",
            variants=[
                {
                    "key": key,
                    "version": number,
                    "text": f"{label} tee {number}",
                    "traffic_percent": 50,
                    "impressions": None,
                    "clicks": None,
                    "orders": None,
                }
                for key, number in (("A", 1), ("B", 2))
            ],
            status=state or "draft",
            started_at=utc_now() if state == "running" else None,
        )
        session.add(experiment)
        await session.flush()
        return experiment.id
    if kind in ("screened_product", "safeguard_report"):
        design, version = await create_design(session, organization, name=f"{label} screened")
        product = await create_product(session, design, version, title=f"{label} tee")
        report = SafeguardReport(
            organization_id=organization.id,
            product_id=product.id,
            subject_hash="0" * 64,
            subject={
                "fields": [{"name": "title", "text": product.title}],
                "product_type": "tshirt",
                "nice_classes": [25],
                "platforms": ["etsy"],
                "language": "en",
            },
            verdict=Verdict.passed,
            findings=[],
            counts={},
            checks={},
            trigger=ScreenTrigger.manual,
        )
        session.add(report)
        await session.flush()
        return product.id if kind == "screened_product" else report.id
    if kind == "publishable_product":
        design, version = await create_design(session, organization, name=f"{label} rendered")
        render = await create_render(session, design, version)
        return (
            await create_product(session, design, version, title=f"{label} tee", render=render)
        ).id
    if kind == "connection":
        return (await workspace_connection(session, organization, owner, label)).id
    if kind == "spare_connection":
        return (await create_connection_row(session, organization, "printful", label)).id
    if kind == "etsy_connection":
        return (await create_connection_row(session, organization, "etsy", label)).id
    if kind == "channel_listing":
        assert state in ("published", "failed")
        return (await create_channel_listing(session, organization, owner, state, label)).id
    if kind == "order":
        return (await create_order(session, organization, owner, label)).id
    raise AssertionError(f"unknown kind {kind}")


async def workspace_connection(
    session: AsyncSession, organization: Organization, owner: Tenant | None, label: str
) -> PlatformConnection:
    """The workspace's sandbox Printify connection, connected through the service to this
    process's in-process twin (which checks it, as it would a live token). Made once per
    workspace: connecting the same shop again would update the same row."""
    found = await session.scalar(
        select(PlatformConnection).where(
            PlatformConnection.organization_id == organization.id,
            PlatformConnection.platform == "printify",
            PlatformConnection.sandbox.is_(True),
        )
    )
    if found is not None:
        return found
    assert owner is not None
    return await connection_service.connect_token(
        session,
        AuthSubject(owner.owner),
        organization_id=organization.id,
        platform="printify",
        credentials=None,
        name=f"{label} Printify shop",
        sandbox=True,
    )


async def create_connection_row(
    session: AsyncSession, organization: Organization, platform: str, label: str
) -> PlatformConnection:
    """A sandbox connection row as a connect leaves it, for routes that never call the
    platform (disconnect; the Etsy channel a Printify shop links to)."""
    connection = PlatformConnection(
        id=uuid.uuid4(),
        organization_id=organization.id,
        platform=platform,
        name=f"{label} {platform} shop",
        status=ConnectionStatus.active,
        sandbox=True,
        account_id=f"acct-{uuid.uuid4().hex[:12]}",
        account_name=f"{label} {platform} account",
        account={},
        token_version=1,
    )
    connection.encrypted_credentials = token_health.seal_credentials(connection.id, {})
    session.add(connection)
    await session.flush()
    return connection


async def create_channel_listing(
    session: AsyncSession,
    organization: Organization,
    owner: Tenant | None,
    state: str,
    label: str,
) -> ChannelListing:
    """A rendered, priced product on the workspace's Printify connection, with one publish
    intent: `published` (live at version 1) or `failed` (the platform refused it)."""
    connection = await workspace_connection(session, organization, owner, label)
    design, version = await create_design(session, organization, name=f"{label} listed")
    render = await create_render(session, design, version)
    product = await create_product(session, design, version, title=f"{label} tee", render=render)
    published = state == "published"
    failure = (
        {}
        if published
        else {
            "error_code": "printify.validation",
            "error_message": f"{label}: title is too long",
            "error_action": "Shorten the title, then retry.",
            "error_kind": "terminal",
        }
    )
    listing_id = uuid.uuid4()
    listing = ChannelListing(
        id=listing_id,
        organization_id=organization.id,
        product_id=product.id,
        connection_id=connection.id,
        platform="printify",
        external_id=f"ff-{listing_id.hex}",
        state=ListingState.published if published else ListingState.failed,
        remote_id=f"rl-{listing_id.hex[:12]}" if published else None,
        published_version=1 if published else None,
        desired_version=1,
        payload_hash="0" * 64,
        **failure,
    )
    session.add(listing)
    await session.flush()
    session.add(
        PublishIntent(
            organization_id=organization.id,
            listing_id=listing.id,
            action=IntentAction.publish,
            version=1,
            payload_hash="0" * 64,
            state=IntentState.succeeded if published else IntentState.failed,
            remote_id=listing.remote_id,
            attempts=1,
            started_at=utc_now(),
            finished_at=utc_now(),
            **failure,
        )
    )
    await session.flush()
    return listing


async def create_order(
    session: AsyncSession, organization: Organization, owner: Tenant | None, label: str
) -> Order:
    """A paid order of one line, imported from the workspace's Printify connection."""
    connection = await workspace_connection(session, organization, owner, label)
    order = Order(
        organization_id=organization.id,
        connection_id=connection.id,
        platform="printify",
        remote_id=f"o-{uuid.uuid4().hex[:12]}",
        status=OrderStatus.paid,
        platform_status="paid",
        placed_at=utc_now(),
        remote_updated_at=utc_now(),
        currency="USD",
        total=2599,
        subtotal=2599,
        shipping=0,
        customer_name=f"{label} buyer",
        customer_email=f"{label}-buyer@example.com",
        ship_country="GB",
        last_synced_at=utc_now(),
    )
    session.add(order)
    await session.flush()
    session.add(
        OrderLineItem(
            organization_id=organization.id,
            order_id=order.id,
            remote_id="L1",
            sku=None,
            title=f"{label} tee",
            quantity=1,
            unit_price=2599,
        )
    )
    await session.flush()
    return order


async def create_ai_credential(
    session: AsyncSession, organization: Organization, label: str
) -> uuid.UUID:
    existing = await session.execute(
        text(
            "SELECT count(*) FROM ai_credentials WHERE organization_id = :org "
            "AND provider = 'perplexity'"
        ).bindparams(bindparam("org", type_=Uuid())),
        {"org": organization.id},
    )
    if not existing.scalar_one():
        credential = AICredential(
            id=uuid.uuid4(), organization_id=organization.id, provider="perplexity"
        )
        key = f"pplx-test-{uuid.uuid4().hex}"
        credential.encrypted_api_key = encryption.encrypt(key, aad=credential_aad(credential))
        credential.key_hint = key[-4:]
        session.add(credential)
        await session.flush()
    return organization.id


async def create_ai_generation(session: AsyncSession, organization: Organization) -> AIGeneration:
    generation = AIGeneration(
        organization_id=organization.id,
        task="listing_copy",
        provider="offline",
        model="offline",
        status="succeeded",
        cost_microusd=0,
        price_version="test",
        fallback_path=[{"provider": "offline", "outcome": "succeeded"}],
    )
    session.add(generation)
    await session.flush()
    return generation


async def create_listing_copy(
    session: AsyncSession, organization: Organization, label: str
) -> ListingCopy:
    """Etsy copy of an idea with two versions whose titles differ (the label names both)."""
    copy = ListingCopy(
        organization_id=organization.id,
        subject=f"idea:{uuid.uuid4().hex}",
        idea=f"{label} coffee",
        product_type="tshirt",
        platform="etsy",
        language="en",
        status=ListingCopyStatus.ready,
        latest_version=2,
    )
    session.add(copy)
    await session.flush()
    for number in (1, 2):
        session.add(
            ListingCopyVersion(
                organization_id=organization.id,
                listing_copy_id=copy.id,
                version=number,
                fields={
                    "title": f"{label} tee {number}",
                    "description": f"A {label} coffee tee.",
                    "tags": ["coffee"],
                    "bullets": [],
                    "seo_title": None,
                    "meta_description": None,
                    "hashtags": [],
                    "alt_text": None,
                },
                source="generated",
            )
        )
    await session.flush()
    return copy


async def create_script(
    session: AsyncSession, organization: Organization, label: str
) -> ListingCopy:
    """A 30-second TikTok script of an idea with two versions whose hooks differ (the label
    names both): a library row whose platform is `script:tiktok`."""
    copy = ListingCopy(
        organization_id=organization.id,
        subject=f"idea:{uuid.uuid4().hex}",
        idea=f"{label} coffee",
        product_type="tshirt",
        platform=f"{SCRIPT_PREFIX}tiktok",
        language="en",
        status=ListingCopyStatus.ready,
        latest_version=2,
    )
    session.add(copy)
    await session.flush()
    for number in (1, 2):
        session.add(
            ListingCopyVersion(
                organization_id=organization.id,
                listing_copy_id=copy.id,
                version=number,
                fields={
                    "hook": f"{label} hook {number}",
                    "scenes": [
                        {
                            "seconds": 10,
                            "shot": f"Close-up of the {label} tee",
                            "voice_over": "Coffee first.",
                            "on_screen_text": "Coffee first",
                        },
                        {
                            "seconds": 20,
                            "shot": "Someone wearing it",
                            "voice_over": "Then everything else.",
                            "on_screen_text": "Then everything else",
                        },
                    ],
                    "call_to_action": "Tap the link to get yours.",
                    "hashtags": ["coffee"],
                },
                source="generated",
                provider="offline",
            )
        )
    await session.flush()
    return copy


@dataclass
class World:
    a: Tenant
    b: Tenant
    marker: str
    # Tenant B's object of each (kind, state), in a state where the call would succeed.
    foreign: dict[tuple[Kind, str | None], uuid.UUID] = field(default_factory=dict)
    # Tenant A's shared objects, for routes that leave them as they are.
    own: dict[tuple[Kind, str | None], uuid.UUID] = field(default_factory=dict)


async def create_marked_tenant(session: AsyncSession, marker: str) -> Tenant:
    """Tenant B: every name, address and label carries `marker`, so any leak is visible."""
    users = {
        role: await create_user(session, email=f"{marker}-{role.value}@example.com")
        for role in Role
    }
    organization = await create_organization(session, name=f"{marker} Workspace")
    members = {}
    tokens = {}
    for role, user in users.items():
        members[role] = await add_member(session, organization, user, role)
        _, tokens[role] = await create_api_key(
            session, organization=organization, user=user, name=f"{marker} {role.value} key"
        )
    return Tenant(organization, users[Role.owner], users, members, tokens)


STATES: tuple[tuple[Kind, str | None], ...] = (
    ("organization", None),
    ("member", None),
    ("invitation", None),
    ("api_key", None),
    ("audit_export", None),
    ("job", "enqueued"),
    ("job", "cancelled"),
    ("design", None),
    ("render", None),
    ("media", None),
    ("product", None),
    ("pricing_rule", None),
    ("ai_credential", None),
    ("ai_generation", None),
    ("listing_copy", None),
    ("script", None),
    ("brand_voice", None),
    ("experiment", "draft"),
    ("experiment", "running"),
    ("screened_product", None),
    ("safeguard_report", None),
    ("publishable_product", None),
    ("connection", None),
    ("spare_connection", None),
    ("etsy_connection", None),
    ("channel_listing", "published"),
    ("channel_listing", "failed"),
    ("order", None),
)


async def build_world(session: AsyncSession, a: Tenant) -> World:
    marker = f"zqmarker{uuid.uuid4().hex[:10]}"
    b = await create_marked_tenant(session, marker)
    world = World(a=a, b=b, marker=marker)
    for kind, state in STATES:
        world.foreign[(kind, state)] = await create_object(
            session, b.organization, b, kind, state, marker
        )
        world.own[(kind, state)] = await create_object(
            session, a.organization, a, kind, state, OWN_LABEL
        )
    # Each tenant has audit history; B's mentions the marker (its actor is B's owner).
    for tenant in (a, b):
        await audit_service.record(
            session,
            AuthSubject(tenant.owner),
            action="organization.updated",
            organization_id=tenant.organization.id,
            target_type="organization",
            target_id=tenant.organization.id,
            details={"name": tenant.organization.name},
        )
    await session.flush()
    return world


# --- the matrix -----------------------------------------------------------------------------


def _describe(response: httpx.Response) -> str:
    return f"{response.status_code} {response.text[:300]}"


def _same_response(response: httpx.Response) -> tuple[int, str | None, bytes]:
    return response.status_code, response.headers.get("content-type"), response.content


@pytest.mark.parametrize("operation", sorted(ROUTES), ids=lambda op: f"{op[0]} {op[1]}")
async def test_route_isolation(
    operation: tuple[str, str], session: AsyncSession, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    method, path = operation
    spec = ROUTES[operation]
    world = await build_world(session, tenant)
    b_before = await tenant_rows(session, world.b.organization.id, of_caller=False)

    tokens: dict[str, str | None] = {}
    for principal in principals(spec):
        if principal.role is None:
            tokens[principal.name] = None
        elif principal.scopes == ALL_SCOPES and not principal.revoked:
            tokens[principal.name] = tenant.tokens[principal.role]
        else:
            _, tokens[principal.name] = await create_api_key(
                session,
                organization=tenant.organization,
                user=tenant.users[principal.role],
                scopes=principal.scopes,
                name=principal.name,
                revoked=principal.revoked,
            )

    counter = 0
    for principal in principals(spec):
        responses: dict[IdKind, httpx.Response] = {}
        for id_kind in id_kinds(spec.target):
            counter += 1
            where = f"{method} {path} as {principal.name} with {id_kind} id"
            target = spec.target
            own_id: uuid.UUID | None = None
            object_id: str | None = None
            if target is not None and id_kind != "none":
                if id_kind == "own":
                    if spec.fresh:
                        own_id = await create_object(
                            session,
                            tenant.organization,
                            tenant,
                            target.kind,
                            target.state,
                            OWN_LABEL,
                        )
                    else:
                        own_id = world.own[(target.kind, target.state)]
                    object_id = str(own_id)
                elif id_kind == "foreign":
                    object_id = str(world.foreign[(target.kind, target.state)])
                elif id_kind == "missing":
                    object_id = str(uuid.uuid4())
                else:
                    object_id = MALFORMED_ID
            elif target is not None and target.where != "path":
                # No id: the route falls back to the caller's own workspace.
                own_id = tenant.organization.id

            url = path
            for name, value in spec.path_params.items():
                url = url.replace(f"{{{name}}}", value)
            params: dict[str, str] = {}
            label = f"{counter}-{uuid.uuid4().hex[:6]}"
            body = spec.body(label) if spec.body else None
            for name, kind in spec.refs.items():
                ref = str(world.own[(kind, None)])
                body = {**(body or {}), name: [ref] if name.endswith("_ids") else ref}
            if target is not None and object_id is not None:
                if target.where == "path":
                    url = url.replace("{id}", object_id)
                elif target.where == "query":
                    params[target.field] = object_id
                else:
                    body = {**(body or {}), target.field: [object_id] if target.many else object_id}
            files = spec.files(label) if spec.files else None
            if method in ("POST", "PATCH", "PUT") and body is None and files is None:
                body = {}

            token = tokens[principal.name]
            want = expected(spec, principal, id_kind)
            if want.status >= 400:
                a_before = await tenant_rows(session, tenant.organization.id, of_caller=True)
            response = await client.request(
                method,
                url,
                params=params,
                **({"files": files} if files is not None else {"json": body}),
                headers=bearer(token) if token else {},
            )
            responses[id_kind] = response

            assert response.status_code == want.status, (
                f"{where}: expected {want.status}, got {_describe(response)}"
            )
            if want.error is not None:
                error = response.json()
                assert error["error"] == want.error, f"{where}: {_describe(response)}"
                assert isinstance(error["detail"], str), where
                assert error["detail"], where
                if want.error == "RequestValidationError":
                    assert target is not None
                    field_name = {
                        "path": "path.id",
                        "query": f"query.{target.field}",
                        "body": f"{target.field}.0" if target.many else target.field,
                    }[target.where]
                    assert error["detail"].startswith(f"{field_name}: "), f"{where}: {error}"
                else:
                    assert set(error) == {"error", "detail"}, f"{where}: {error}"
            if want.status == 401:
                assert response.headers["www-authenticate"].startswith("Bearer"), where

            exposed = (response.text + repr(dict(response.headers))).lower()
            assert world.marker not in exposed, f"{where}: tenant B's data leaked: {response.text}"

            b_after = await tenant_rows(session, world.b.organization.id, of_caller=False)
            assert b_after == b_before, f"{where}: tenant B's rows changed"
            if want.status >= 400:
                a_after = await tenant_rows(session, tenant.organization.id, of_caller=True)
                assert a_after == a_before, f"{where}: a refused call changed tenant A's rows"

            if want.status < 300:
                assert principal.role is not None
                if response.headers.get("content-type", "").startswith("application/json"):
                    _assert_only_own_rows(response.json(), tenant.organization.id, where)
                if spec.check is not None:
                    call = Call(
                        own_id=own_id,
                        organization=tenant.organization,
                        role=principal.role,
                        key_scopes=principal.scopes,
                        body=body,
                    )
                    try:
                        spec.check(response, call)
                    except AssertionError as e:
                        raise AssertionError(f"{where}: {e}; got {_describe(response)}") from e

        if "foreign" in responses:
            assert _same_response(responses["foreign"]) == _same_response(responses["missing"]), (
                f"{method} {path} as {principal.name}: a foreign id answers "
                f"{_describe(responses['foreign'])}, a missing one {_describe(responses['missing'])}"
            )

    assert await tenant_rows(session, world.b.organization.id, of_caller=False) == b_before


def _assert_only_own_rows(body: Any, organization_id: uuid.UUID, where: str) -> None:
    """Whatever a 2xx response lists or returns belongs to the caller's workspace."""
    items = body.get("items", [body]) if isinstance(body, dict) else []
    for item in items:
        if isinstance(item, dict) and "organization_id" in item:
            assert item["organization_id"] == str(organization_id), f"{where}: {item}"


# --- the registry follows the route table ---------------------------------------------------


def api_routes(app: FastAPI) -> dict[tuple[str, str], APIRoute]:
    """Every /api/v1 (method, path) the app serves, with its route.

    FastAPI 0.165 keeps included routers as lazy entries in `app.routes`;
    `iter_route_contexts` (what FastAPI's own OpenAPI generator walks) flattens them with their
    prefixes applied.
    """
    iterate = getattr(fastapi.routing, "iter_route_contexts", None)
    contexts: Any = iterate(app.routes) if iterate is not None else app.routes
    routes: dict[tuple[str, str], APIRoute] = {}
    for context in contexts:
        original = getattr(context, "original_route", context)
        path = context.path
        if isinstance(original, APIRoute) and path and path.startswith(API):
            for method in context.methods or ():
                routes[(method, path)] = original
    return routes


def api_operations(app: FastAPI) -> set[tuple[str, str]]:
    """The route table and the OpenAPI document, so neither can hide a route from the matrix."""
    operations = set(api_routes(app))
    for path, item in app.openapi()["paths"].items():
        operations |= {(method.upper(), path) for method in item if path.startswith(API)}
    return operations


def required_scopes(route: APIRoute) -> list[frozenset[Scope]]:
    """The scope sets demanded by every Authenticator in the route's dependency tree."""
    found: list[frozenset[Scope]] = []
    stack = list(route.dependant.dependencies)
    while stack:
        dependant = stack.pop()
        if isinstance(dependant.call, Authenticator):
            found.append(dependant.call.required_scopes)
        stack.extend(dependant.dependencies)
    return found


async def test_registry_matches_the_route_table(app: FastAPI) -> None:
    operations = api_operations(app)
    assert len(operations) >= 20, "the route table looks empty: is /api/v1 still mounted?"
    uncovered = sorted(operations - set(ROUTES))
    stale = sorted(set(ROUTES) - operations)
    assert not uncovered, f"routes missing from the isolation registry: {uncovered}"
    assert not stale, f"registry entries for routes that no longer exist: {stale}"


async def test_registry_scopes_match_the_routes(app: FastAPI) -> None:
    """The registry's scope is the one the route's authenticator demands, and it is the scope
    of the route's permission: a route cannot drift from the table without this failing."""
    routes = api_routes(app)
    assert set(routes) == set(ROUTES)
    for operation, spec in ROUTES.items():
        scopes = required_scopes(routes[operation])
        if spec.public:
            assert scopes == [], f"{operation}: a public route has an authenticator: {scopes}"
            assert (spec.scope, spec.permissions) == (None, ()), operation
            continue
        assert len(scopes) == 1, f"{operation}: expected one authenticator, found {scopes}"
        want = frozenset({spec.scope}) if spec.scope else frozenset()
        assert scopes[0] == want, f"{operation}: route demands {set(scopes[0])}, registry {want}"
        if spec.permissions:
            assert PERMISSION_SCOPE[spec.permissions[0]] == spec.scope, operation


def test_expectations_follow_the_table() -> None:
    """Spot-check the expectation function against rows of the table it reads."""
    cancel = ROUTES[("POST", f"{API}/jobs/{{id}}/cancel")]
    by_role = {
        role: expected(cancel, Principal(role.value, role, ALL_SCOPES), "own").status
        for role in Role
    }
    assert by_role == {Role.owner: 200, Role.admin: 200, Role.editor: 403, Role.viewer: 403}
    member_delete = ROUTES[("DELETE", f"{API}/members/{{id}}")]
    # A key with the write scope alone may write: it needs no separate read scope.
    write_only = Principal("k", Role.owner, frozenset({Scope.members_write}))
    assert expected(member_delete, write_only, "own") == Expected(204, None)
    assert expected(member_delete, write_only, "foreign") == Expected(404, "ResourceNotFound")
    no_scope = Principal("k", Role.owner, ALL_SCOPES - {Scope.members_write})
    assert expected(member_delete, no_scope, "malformed") == Expected(403, "InsufficientScope")


async def test_tenant_rows_sees_changes(session: AsyncSession, tenant: Tenant) -> None:
    """The snapshot the matrix relies on notices a change in any tenant table."""
    before = await tenant_rows(session, tenant.organization.id, of_caller=False)
    await create_invitation(session, tenant.organization, "someone@example.com")
    after_invite = await tenant_rows(session, tenant.organization.id, of_caller=False)
    assert len(after_invite["invitations"]) == len(before["invitations"]) + 1
    await session.execute(
        _by_org("UPDATE organizations SET name = 'x' WHERE id = :org"),
        {"org": tenant.organization.id},
    )
    renamed = await tenant_rows(session, tenant.organization.id, of_caller=False)
    assert renamed["organizations"] != after_invite["organizations"]


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        (f"{API}/content/scripts/{{id}}", "listing_copy"),
        (f"{API}/content/scripts/{{id}}/versions", "listing_copy"),
        (f"{API}/content/scripts/{{id}}/versions/1", "listing_copy"),
        (f"{API}/content/scripts/{{id}}/diff", "listing_copy"),
        (f"{API}/content/listings/{{id}}", "script"),
        (f"{API}/content/listings/{{id}}/versions", "script"),
        (f"{API}/content/listings/{{id}}/versions/1", "script"),
        (f"{API}/content/listings/{{id}}/diff", "script"),
    ],
)
async def test_scripts_and_listing_copy_do_not_cross(
    path: str, kind: Kind, session: AsyncSession, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    """Scripts and listing copy share a table: an own id of one kind, on the other kind's
    routes, answers exactly what a missing id answers."""
    own = await create_object(session, tenant.organization, tenant, kind, None, OWN_LABEL)
    headers = bearer(tenant.tokens[Role.owner])
    crossed = await client.get(path.replace("{id}", str(own)), headers=headers)
    missing = await client.get(path.replace("{id}", str(uuid.uuid4())), headers=headers)
    assert crossed.status_code == 404, _describe(crossed)
    assert crossed.json()["error"] == "ResourceNotFound"
    assert _same_response(crossed) == _same_response(missing)


# --- connections, publishing: what the matrix cannot express ---------------------------------


async def sandbox_etsy_callback(
    client: httpx.AsyncClient, tenant: Tenant, role: Role = Role.admin
) -> httpx.URL:
    """Start a sandbox Etsy connection as `tenant` and consent on the twin's page: the
    callback URL the creator's browser is sent back to."""
    started = await client.post(
        f"{API}/connections/oauth/start",
        json={"organization_id": str(tenant.organization.id), "platform": "etsy", "sandbox": True},
        headers=bearer(tenant.tokens[role]),
    )
    assert started.status_code == 200, _describe(started)
    consent = httpx.URL(started.json()["authorize_url"])
    approved = await client.get(consent.path, params={**dict(consent.params), "auto_approve": "1"})
    assert approved.status_code == 302, _describe(approved)
    return httpx.URL(approved.headers["location"])


async def test_oauth_callback_is_bound_to_its_state(
    session: AsyncSession, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    """The callback takes no credential: the state names the workspace. Whoever follows
    tenant A's link (another tenant's key included) connects tenant A's workspace, once; an
    unknown state connects nobody."""
    b = await create_marked_tenant(session, f"zqmarker{uuid.uuid4().hex[:10]}")
    callback = await sandbox_etsy_callback(client, tenant)
    b_before = await tenant_rows(session, b.organization.id, of_caller=False)

    unknown = await client.get(
        callback.path, params={**dict(callback.params), "state": random_token(32)}
    )
    assert unknown.status_code == 400, _describe(unknown)
    assert unknown.json() == {
        "error": "InvalidOAuthState",
        "detail": "state: unknown (it was not issued by FlashFusion); start the connection again.",
    }

    done = await client.get(
        callback.path, params=dict(callback.params), headers=bearer(b.tokens[Role.owner])
    )
    assert done.status_code == 200, _describe(done)
    body = done.json()
    assert (body["organization_id"], body["platform"], body["sandbox"], body["status"]) == (
        str(tenant.organization.id),
        "etsy",
        True,
        "active",
    )
    again = await client.get(callback.path, params=dict(callback.params))
    assert again.status_code == 400, _describe(again)
    assert again.json()["detail"] == (
        "state: already used; each authorization link works once. Start again."
    )
    assert await tenant_rows(session, b.organization.id, of_caller=False) == b_before
    owned = await session.execute(
        select(PlatformConnection.organization_id).where(PlatformConnection.platform == "etsy")
    )
    assert set(owned.scalars()) == {tenant.organization.id}


async def test_link_to_another_tenants_connection_is_refused_like_a_missing_one(
    session: AsyncSession, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    """A Printify shop cannot be linked to tenant B's Etsy connection: the answer is the one a
    missing id gets, and nothing changes."""
    world = await build_world(session, tenant)
    own = world.own[("connection", None)]
    headers = bearer(tenant.tokens[Role.owner])
    url = f"{API}/connections/{own}/link"
    a_before = await tenant_rows(session, tenant.organization.id, of_caller=True)
    foreign = await client.put(
        url,
        json={"linked_connection_id": str(world.foreign[("etsy_connection", None)])},
        headers=headers,
    )
    missing = await client.put(
        url, json={"linked_connection_id": str(uuid.uuid4())}, headers=headers
    )
    assert foreign.status_code == 422, _describe(foreign)
    assert foreign.json() == {
        "error": "InvalidLink",
        "detail": "linked_connection_id: no such connection in this workspace.",
    }
    assert _same_response(foreign) == _same_response(missing)
    assert await tenant_rows(session, tenant.organization.id, of_caller=True) == a_before


@pytest.mark.parametrize("field_name", ["connection_ids", "product_ids"])
async def test_publish_with_another_tenants_object_is_a_404(
    field_name: str, session: AsyncSession, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    """Publishing tenant A's product to tenant B's connection (or B's product to A's
    connection) answers what a missing id answers, and queues nothing."""
    world = await build_world(session, tenant)
    ids = {
        "product_ids": world.own[("publishable_product", None)],
        "connection_ids": world.own[("connection", None)],
    }
    foreign_kind: Kind = "connection" if field_name == "connection_ids" else "publishable_product"
    headers = bearer(tenant.tokens[Role.owner])
    b_before = await tenant_rows(session, world.b.organization.id, of_caller=False)
    a_before = await tenant_rows(session, tenant.organization.id, of_caller=True)
    answers = []
    for value in (world.foreign[(foreign_kind, None)], uuid.uuid4()):
        body = {name: [str(v)] for name, v in {**ids, field_name: value}.items()}
        answers.append(await client.post(f"{API}/publishing/publish", json=body, headers=headers))
    foreign, missing = answers
    assert foreign.status_code == 404, _describe(foreign)
    assert foreign.json() == {
        "error": "ResourceNotFound",
        "detail": ("Connection" if field_name == "connection_ids" else "Product") + " not found.",
    }
    assert _same_response(foreign) == _same_response(missing)
    assert await tenant_rows(session, world.b.organization.id, of_caller=False) == b_before
    assert await tenant_rows(session, tenant.organization.id, of_caller=True) == a_before


@pytest.mark.parametrize(
    ("action", "state"), [("retry", "failed"), ("update", "published"), ("unpublish", "published")]
)
async def test_publishing_write_key_may_act_on_a_listing(
    action: str, state: str, session: AsyncSession, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    listing = await create_object(
        session, tenant.organization, tenant, "channel_listing", state, OWN_LABEL
    )
    _, token = await create_api_key(
        session,
        organization=tenant.organization,
        user=tenant.owner,
        scopes=frozenset({Scope.publishing_write}),
    )
    response = await client.post(
        f"{API}/publishing/listings/{listing}/{action}", headers=bearer(token)
    )
    assert response.status_code == 202, _describe(response)
    assert response.json()["outcome"] == "queued"
