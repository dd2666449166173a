"""The shapes listing copy travels in: the brief a generation starts from, and the draft it returns.

`ListingDraft` is also the structured-output schema the AI providers are asked to fill, so its field
descriptions are the instructions the model sees.
"""

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Platform(StrEnum):
    etsy = "etsy"
    amazon = "amazon"
    shopify = "shopify"
    tiktok_shop = "tiktok_shop"
    pinterest = "pinterest"
    instagram = "instagram"
    facebook = "facebook"


# ISO 639-1; ja/ko/zh are written without spaces between words (or with different rules), which
# the limit checks and the auto-fixer must respect.
LANGUAGES: dict[str, str] = {
    "en": "English",
    "es": "Spanish",
    "fr": "French",
    "de": "German",
    "it": "Italian",
    "pt": "Portuguese",
    "nl": "Dutch",
    "ja": "Japanese",
    "ko": "Korean",
    "zh": "Chinese (Simplified)",
}
UNSPACED_LANGUAGES = frozenset({"ja", "zh"})


class BrandVoiceProfile(BaseModel):
    """A workspace's voice, as the generator and the consistency score read it."""

    model_config = ConfigDict(frozen=True)

    name: str = "Default"
    tone: list[str] = Field(default_factory=list, description="e.g. ['playful', 'warm'].")
    audience: str = ""
    vocabulary: list[str] = Field(default_factory=list, description="Words the brand likes.")
    banned_words: list[str] = Field(default_factory=list, description="Never in any copy.")
    example_copy: str = ""


class ListingBrief(BaseModel):
    """Everything a listing is written from. Built from a Studio product or from a bare idea."""

    idea: str = Field(min_length=1, description="The phrase or idea, as the creator typed it.")
    product_type: str = Field(description="Catalog key, e.g. `tshirt`.")
    product_type_name: str = Field(description="Catalog name, e.g. `Unisex t-shirt`.")
    category: str = Field(description="Catalog category, e.g. `apparel`.")
    platform: Platform
    language: str = "en"
    # Attributes of the product worth mentioning (colours, sizes, material, print method …).
    attributes: dict[str, Any] = Field(default_factory=dict)
    keywords: list[str] = Field(default_factory=list, description="Target keywords, best first.")
    audience: str | None = None
    occasion: str | None = None
    brand_voice: BrandVoiceProfile = Field(default_factory=BrandVoiceProfile)
    # Deterministic variation: the same seed gives the same offline copy; A/B variants differ.
    seed: int = 0


class ListingDraft(BaseModel):
    """Listing copy for one platform in one language."""

    title: str = Field(description="The listing title, most important keywords first.")
    description: str = Field(description="The listing description, plain text, paragraphs.")
    tags: list[str] = Field(
        default_factory=list, description="Search tags (Etsy, Shopify, TikTok); empty elsewhere."
    )
    bullets: list[str] = Field(
        default_factory=list, description="Key feature bullet points (Amazon); empty elsewhere."
    )
    seo_title: str | None = Field(default=None, description="Search-engine title (Shopify).")
    meta_description: str | None = Field(
        default=None, description="Search-engine meta description (Shopify)."
    )
    hashtags: list[str] = Field(
        default_factory=list, description="Hashtags without '#' (social captions)."
    )
    alt_text: str | None = Field(default=None, description="Image alt text for the main mockup.")


class Violation(BaseModel):
    """One broken platform rule. `field` is the draft field (`title`, `tags[3]`)."""

    field: str
    code: (
        str  # too_long, too_short, too_many, forbidden_characters, required, duplicate, banned_word
    )
    message: str
    limit: int | None = None
    source: str | None = None


class Fix(BaseModel):
    """One change the auto-fixer made, for the generation record and the UI."""

    field: str
    code: str
    before: str
    after: str
