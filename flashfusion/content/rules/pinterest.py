"""Pinterest Pin rules (API v5 POST /pins)."""

from flashfusion.content.rules.base import Limit, PlatformRules

_PIN = "specs/pinterest/openapi.json components.schemas.PinCreate.properties"

RULES = PlatformRules(
    platform="pinterest",
    label="Pinterest",
    title_max=Limit(100, _PIN + ".title.maxLength"),
    description_max=Limit(800, _PIN + ".description.maxLength"),
    alt_text_max=Limit(500, _PIN + ".alt_text.maxLength"),
    fields=frozenset({"title", "description", "alt_text"}),
)
