"""Sandbox twins: one small ASGI app per external service, speaking its real wire format.

Tests and benchmarks use them as the real peer (in-process through `httpx.ASGITransport`, or on a
local port); users get them as "sandbox mode" (`flashfusion sandbox serve`, sandbox/cli.py). Each
has fault-injection knobs and request counters. See DESIGN.md section 6.

`SERVICES` lists the twins that command serves, in order; a new twin is one `Service(...)` line.
"""

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
    pair, and FlashFusion the S3 media settings."""

    name: str
    label: str
    factory: str
    url_setting: str
    key_setting: str | None = None
    path: str = ""
    options: Mapping[str, Any] = field(default_factory=dict)
    kind: Literal["api_key", "s3"] = "api_key"

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
        elif self.key_setting is not None:
            found[self.key_setting] = secret
        return found


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
    )
}  # fmt: skip
