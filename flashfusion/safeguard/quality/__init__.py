"""Listing quality: a 0–100 score with reasons (readability, platform limits, keyword coverage,
repetition, spelling and grammar heuristics, brand-voice consistency). See `scorer.py` for the
weighting."""

from flashfusion.safeguard.quality.scorer import (
    DEFAULT_WARN_THRESHOLD,
    WEIGHTS,
    QualityResult,
    Reason,
    score,
)

__all__ = ["DEFAULT_WARN_THRESHOLD", "WEIGHTS", "QualityResult", "Reason", "score"]
