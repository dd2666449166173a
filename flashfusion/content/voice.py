"""Brand-voice consistency: how closely a draft sounds like the workspace's voice, 0–100.

Deterministic, no model calls. Components and weights (renormalised over those the profile can
be scored on): brand vocabulary used 25, tone markers 25, similarity to the example copy 30,
sentence length like the example copy 20. Each distinct banned word found then costs 30 points.

The tone lexicon is FlashFusion-authored (English only), not a published standard.
"""

import math
from collections import Counter

from pydantic import BaseModel, Field

from flashfusion.content.draft import UNSPACED_LANGUAGES, BrandVoiceProfile, ListingDraft
from flashfusion.content.rules import banned_word_pattern
from flashfusion.content.seo import average_sentence_length, contains, find, normalise

WEIGHTS: dict[str, int] = {"vocabulary": 25, "tone": 25, "similarity": 30, "sentence_length": 20}
BANNED_WORD_PENALTY = 30
# Brand words to use before vocabulary scores full marks.
VOCABULARY_TARGET = 3
# Character n-gram cosine: below FLOOR counts as unrelated, at FLOOR + SPAN and above as a match.
SIMILARITY_FLOOR = 0.1
SIMILARITY_SPAN = 0.4

# FlashFusion-authored markers per tone word. "!" is matched as a character, the rest as words.
TONE_LEXICON: dict[str, tuple[str, ...]] = {
    "playful": (
        "fun",
        "playful",
        "cheeky",
        "silly",
        "whimsical",
        "quirky",
        "adorable",
        "cute",
        "giggle",
        "yay",
        "oops",
        "delight",
        "!",
    ),
    "warm": (
        "cozy",
        "cosy",
        "warm",
        "heart",
        "love",
        "loved",
        "comfort",
        "comforting",
        "gentle",
        "snug",
        "cherish",
        "family",
        "home",
        "hug",
        "welcoming",
        "kind",
    ),
    "bold": (
        "bold",
        "fearless",
        "loud",
        "daring",
        "fierce",
        "unapologetic",
        "powerful",
        "statement",
        "stand out",
        "epic",
        "own it",
        "!",
    ),
    "minimal": (
        "simple",
        "clean",
        "essential",
        "minimal",
        "pure",
        "quiet",
        "understated",
        "subtle",
        "less",
        "calm",
    ),
    "luxury": (
        "luxe",
        "luxurious",
        "luxury",
        "premium",
        "refined",
        "crafted",
        "exquisite",
        "elegant",
        "timeless",
        "indulgent",
        "finest",
        "heirloom",
    ),
    "funny": (
        "funny",
        "hilarious",
        "joke",
        "laugh",
        "lol",
        "pun",
        "ridiculous",
        "witty",
        "sarcastic",
        "snarky",
        "!",
    ),
    "professional": (
        "quality",
        "reliable",
        "durable",
        "designed",
        "engineered",
        "precise",
        "professional",
        "specifications",
        "performance",
        "tested",
        "certified",
    ),
}


class VoiceScore(BaseModel):
    score: int = Field(ge=0, le=100, description="Consistency with the brand voice, 0–100.")
    notes: list[str] = Field(description="What raised or lowered the score, in words.")


def _draft_text(draft: ListingDraft) -> str:
    parts = [draft.title, draft.description, *draft.bullets, *draft.tags, *draft.hashtags]
    parts += [p for p in (draft.seo_title, draft.meta_description, draft.alt_text) if p]
    return "\n".join(p for p in parts if p)


def _ngrams(text: str, n: int) -> Counter[str]:
    flat = normalise(text)
    return Counter(flat[i : i + n] for i in range(max(0, len(flat) - n + 1)))


def ngram_cosine(a: str, b: str, *, n: int = 3) -> float:
    """Cosine similarity of character n-gram counts (0 when either text is too short)."""
    left, right = _ngrams(a, n), _ngrams(b, n)
    dot = sum(count * right[gram] for gram, count in left.items())
    norm = math.sqrt(sum(c * c for c in left.values())) * math.sqrt(
        sum(c * c for c in right.values())
    )
    return dot / norm if norm else 0.0


def _marker_present(text: str, marker: str, language: str) -> bool:
    if marker == "!":
        return "!" in text
    return find(text, marker, language) is not None


def consistency_score(
    draft: ListingDraft, voice: BrandVoiceProfile, *, language: str = "en"
) -> VoiceScore:
    """Score how consistent the draft's copy is with the brand voice, with notes saying why."""
    text = _draft_text(draft)
    notes: list[str] = []
    parts: dict[str, float] = {}

    vocabulary = list(dict.fromkeys(w.strip() for w in voice.vocabulary if w.strip()))
    if vocabulary:
        used = [w for w in vocabulary if contains(text, w, language)]
        target = min(len(vocabulary), VOCABULARY_TARGET)
        parts["vocabulary"] = min(len(used), target) / target
        unused = [w for w in vocabulary if w not in used]
        note = f"Uses {len(used)} of {len(vocabulary)} brand words"
        note += f" ({', '.join(used)})" if used else ""
        if unused and len(used) < target:
            note += "; try " + ", ".join(repr(w) for w in unused[: target - len(used)])
        notes.append(note + ".")

    tones = [t.strip().casefold() for t in voice.tone if t.strip()]
    known = [t for t in dict.fromkeys(tones) if t in TONE_LEXICON]
    if known and language == "en":
        hits = 0
        for tone in known:
            found = [m for m in TONE_LEXICON[tone] if _marker_present(text, m, language)]
            if found:
                hits += 1
                notes.append(f"Tone {tone!r}: found " + ", ".join(repr(m) for m in found[:5]) + ".")
            else:
                examples = ", ".join(repr(m) for m in TONE_LEXICON[tone][:4] if m != "!")
                notes.append(
                    f"Tone {tone!r}: no markers found; words like {examples} signal it "
                    "(FlashFusion lexicon)."
                )
        parts["tone"] = hits / len(known)
    elif known:
        notes.append("Tone markers not scored: the FlashFusion tone lexicon is English-only.")
    unknown = [t for t in dict.fromkeys(tones) if t not in TONE_LEXICON]
    if unknown:
        notes.append("No tone lexicon for " + ", ".join(repr(t) for t in unknown) + ".")

    example = voice.example_copy.strip()
    if example:
        n = 2 if language in UNSPACED_LANGUAGES else 3
        similarity = ngram_cosine(text, example, n=n)
        parts["similarity"] = min(1.0, max(0.0, (similarity - SIMILARITY_FLOOR) / SIMILARITY_SPAN))
        notes.append(
            f"Similarity to the example copy: {similarity:.2f} (character {n}-gram cosine)."
        )
        mine = average_sentence_length(draft.description or text, language)
        theirs = average_sentence_length(example, language)
        if mine and theirs:
            parts["sentence_length"] = max(0.0, 1 - abs(mine - theirs) / max(mine, theirs))
            unit = "characters" if language in UNSPACED_LANGUAGES else "words"
            notes.append(
                f"Sentences average {mine:.0f} {unit} against {theirs:.0f} in the example copy."
            )

    weight = sum(WEIGHTS[name] for name in parts)
    score = (
        100.0 * sum(WEIGHTS[name] * value for name, value in parts.items()) / weight
        if weight
        else 100.0
    )
    if not parts:
        notes.append("The profile has no vocabulary, known tone or example copy to compare with.")

    banned = [
        w
        for w in dict.fromkeys(b.strip() for b in voice.banned_words if b.strip())
        if _banned_in(text, w, language)
    ]
    for word in banned:
        notes.append(f"Banned word {word!r} appears (−{BANNED_WORD_PENALTY}).")
    score -= BANNED_WORD_PENALTY * len(banned)
    return VoiceScore(score=max(0, min(100, round(score))), notes=notes)


def _banned_in(text: str, word: str, language: str) -> bool:
    # Same rule as the validator: whole word, case-insensitive, substring for ja/zh characters.
    regex = banned_word_pattern(word, language)
    return bool(regex and regex.search(text))
