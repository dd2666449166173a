"""Policy moderation, IP and claims checks: versioned rule packs per platform policy (`packs/`),
the rules engine (`engine.check`) and the providers layer's AI moderation (`ai.ai_moderation`)."""

from flashfusion.safeguard.moderation.engine import check, pack_versions

__all__ = ["check", "pack_versions"]
