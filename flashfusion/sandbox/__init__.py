"""Sandbox twins: one small ASGI app per external service, speaking its real wire format.

Tests and benchmarks use them as the real peer (in-process through `httpx.ASGITransport`, or on a
local port); users get them as "sandbox mode" (`flashfusion sandbox serve`, sandbox/cli.py). Each
has fault-injection knobs and request counters. See DESIGN.md section 6.

`SERVICES` lists the twins that command serves, in order; a new twin is one `Service(...)` line.
"""

import base64
import hashlib
import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from starlette.types import ASGIApp

# The bucket and region the S3 twin serves in sandbox mode.
SANDBOX_BUCKET = "flashfusion-sandbox"
SANDBOX_REGION = "us-east-1"


@dataclass(frozen=True)
class Service:
    """A twin and the FlashFusion settings (without their FLASHFUSION_ prefix) that point at it.

    `factory` is "module:function", imported only when the twin is served. An "api_key" twin is
    built with `api_keys={key}` (and `options`), and FlashFusion is given its base URL (the
    server's root plus `path`) in `url_setting` and the key in `key_setting` (None: the twin
    takes no key, like a local model server). An "s3" twin gets one bucket and an access key
    pair, and FlashFusion the S3 media settings. A "platform" twin (Printify, Printful) accepts
    the key as a bearer token the creator pastes when connecting (`connect_hint` names it), and
    posts its webhooks over HTTP; "etsy_app" is Etsy's app model: the access key id is the
    keystring, the key its shared secret, and FlashFusion gets the OAuth and webhook settings."""

    name: str
    label: str
    factory: str
    url_setting: str
    key_setting: str | None = None
    path: str = ""
    options: Mapping[str, Any] = field(default_factory=dict)
    kind: Literal["api_key", "s3", "platform", "etsy_app"] = "api_key"
    connect_hint: str = ""

    def build(self, secret: str, access_key_id: str) -> ASGIApp:
        """The twin's app, accepting `secret` (its API key, or S3's secret access key)."""
        module, _, function = self.factory.partition(":")
        create = getattr(importlib.import_module(module), function)
        if self.kind == "s3":
            app: ASGIApp = create(
                buckets={SANDBOX_BUCKET},
                credentials={access_key_id: secret},
                region=SANDBOX_REGION,
                **self.options,
            )
        elif self.kind == "platform":
            from flashfusion.sandbox.delivery import http_deliver

            app = create(tokens={secret}, deliver=http_deliver, **self.options)
        elif self.kind == "etsy_app":
            from flashfusion.sandbox.delivery import http_deliver

            app = create(
                apps={access_key_id: secret},
                webhook_secret=etsy_webhook_secret(secret),
                deliver=http_deliver,
                **self.options,
            )
        else:
            app = create(api_keys={secret}, **self.options)
        return app

    def settings(self, root_url: str, secret: str, access_key_id: str) -> dict[str, str]:
        """The settings that point FlashFusion at the twin served at `root_url`."""
        found = {self.url_setting: root_url + self.path}
        if self.kind == "s3":
            found |= {
                "MEDIA_BACKEND": "s3",
                "S3_BUCKET": SANDBOX_BUCKET,
                "S3_REGION": SANDBOX_REGION,
                "S3_ACCESS_KEY_ID": access_key_id,
                "S3_SECRET_ACCESS_KEY": secret,
            }
        elif self.kind == "etsy_app":
            found |= {
                "ETSY_KEYSTRING": access_key_id,
                "ETSY_SHARED_SECRET": secret,
                "ETSY_OAUTH_URL": root_url + "/oauth/connect",
                "ETSY_TOKEN_URL": root_url + "/v3/public/oauth/token",
                "ETSY_WEBHOOK_SECRET": etsy_webhook_secret(secret),
            }
        elif self.key_setting is not None:
            found[self.key_setting] = secret
        return found


def etsy_webhook_secret(secret: str) -> str:
    """The Etsy twin's webhook signing secret for a run, derived from its shared secret (so
    `build` and `settings` agree without keeping state), in Standard Webhooks' `whsec_` form."""
    digest = hashlib.sha256(b"etsy-webhooks:" + secret.encode()).digest()
    return "whsec_" + base64.b64encode(digest).decode()


_OPENAI = "flashfusion.sandbox.openai_api:create_app"

SERVICES: dict[str, Service] = {
    service.name: service
    for service in (
        Service("openai", "OpenAI", _OPENAI, "OPENAI_BASE_URL", "OPENAI_API_KEY", "/v1",
                {"flavour": "openai"}),
        Service("anthropic", "Anthropic", "flashfusion.sandbox.anthropic_api:create_app",
                "ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY"),
        Service("gemini", "Google Gemini", "flashfusion.sandbox.gemini_api:create_app",
                "GEMINI_BASE_URL", "GEMINI_API_KEY"),
        Service("xai", "xAI Grok", _OPENAI, "XAI_BASE_URL", "XAI_API_KEY", "/v1",
                {"flavour": "xai"}),
        # Perplexity's API has no /v1 prefix (see openai_api._PATH_PREFIX).
        Service("perplexity", "Perplexity", _OPENAI, "PERPLEXITY_BASE_URL",
                "PERPLEXITY_API_KEY", "", {"flavour": "perplexity"}),
        Service("local", "Local model server (Ollama-style)", _OPENAI, "LOCAL_AI_BASE_URL",
                None, "/v1", {"flavour": "local"}),
        Service("s3", "S3 media storage", "flashfusion.sandbox.s3:create_s3_app",
                "S3_ENDPOINT_URL", kind="s3"),
        Service("uspto_tsdr", "USPTO TSDR", "flashfusion.sandbox.uspto_tsdr:create_app",
                "USPTO_TSDR_BASE_URL", "USPTO_TSDR_API_KEY", "/ts/cd"),
        Service("printify", "Printify", "flashfusion.sandbox.printify:create_app",
                "PRINTIFY_BASE_URL", kind="platform",
                connect_hint="Printify personal access token"),
        Service("printful", "Printful", "flashfusion.sandbox.printful:create_app",
                "PRINTFUL_BASE_URL", kind="platform", connect_hint="Printful private token"),
        Service("etsy", "Etsy Open API v3", "flashfusion.sandbox.etsy:create_app",
                "ETSY_BASE_URL", kind="etsy_app"),
    )
}  # fmt: skip
