"""Instagram post rules (a caption with hashtags and image alt text; posts have no title).

Instagram publishes hashtags inside the caption, so the caption limit covers the description and
the hashtag block together (see `rules.caption`).
"""

from flashfusion.content.rules.base import Limit, PlatformRules

# Read by rules/__init__: hashtags are appended to the description to form one caption.
HASHTAGS_IN_CAPTION = True

RULES = PlatformRules(
    platform="instagram",
    label="Instagram",
    description_max=Limit(
        2200,
        "https://www.ayrshare.com/apis/post/social-networks/instagram ('Maximum 2,200 post "
        "characters'); https://bulkpublish.com/blog/instagram-character-limit/ ('Hashtags count "
        "toward the 2,200-character limit') — third-party",
    ),
    hashtags_max=Limit(
        5,
        "Instagram @Creators announcement quoted by https://vgosocial.com/news/15009.html "
        "('Instagram will gradually update the number of hashtags that you can include in a "
        "caption for a reel or post to five'); http://routenote.com/blog/Instagram-hashtags "
        "('moving away from its limit of 30 hashtags per post, to a reduced limit of five')",
    ),
    fields=frozenset({"description", "hashtags", "alt_text"}),
    notes=(
        "hashtags: the old limit of 30 is superseded by 5",
        "alt_text: accepted on image posts since 2025-03-24 (developers.facebook.com Content "
        "Publishing guide); its length limit is unverified",
    ),
)
