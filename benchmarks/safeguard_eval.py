"""Trademark matcher evaluation: precision and recall per category on the labelled set.

    .venv/bin/python benchmarks/safeguard_eval.py [--cases PATH] [--json] [--show-misses]

Each case of tests/safeguard/trademark/eval_cases.json is one listing text (in the field it names:
title, tags, description or a design text layer) for one catalog product type, labelled "flag"
(the trademark verdict should be WARN or BLOCK) or "clear" (PASS). The case is screened the way the
pipeline does it: candidate keys from the subject, candidates from the bundled starter set, then
`matcher.match`. A case counts as flagged when any finding's verdict is WARN or BLOCK.

Printed: per category the cases, true/false positives and negatives, precision and recall; the
recall on live marks in the relevant class (exact and variant categories, target >= 0.95); the
false-positive rate on benign phrases (target <= 5 %); the time per case; and each figure's ratio
to its target. Exit status 1 when a target is missed.
"""

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flashfusion.safeguard.trademark.classes import nice_classes_for  # noqa: E402
from flashfusion.safeguard.trademark.matcher import match, warm_up  # noqa: E402
from flashfusion.safeguard.trademark.normalize import candidate_keys  # noqa: E402
from flashfusion.safeguard.trademark.starter import get_starter_index  # noqa: E402
from flashfusion.safeguard.types import ScreenSubject, TextField, Verdict  # noqa: E402

CASES = ROOT / "tests" / "safeguard" / "trademark" / "eval_cases.json"
CATEGORIES = (
    "exact",
    "case_spacing",
    "leetspeak",
    "plural",
    "phonetic",
    "wrong_class",
    "dead",
    "benign",
)
# The targets: recall on live marks in the relevant class (exact and variants), and the
# false-positive rate on benign phrases.
RECALL_CATEGORIES = ("exact", "case_spacing", "leetspeak", "plural")
RECALL_TARGET = 0.95
BENIGN_FP_TARGET = 0.05


@dataclass
class Outcome:
    case: dict[str, Any]
    flagged: bool
    seconds: float
    findings: list[dict[str, Any]]

    @property
    def correct(self) -> bool:
        return self.flagged == (self.case["expected"] == "flag")


@dataclass
class CategoryScore:
    cases: int = 0
    tp: int = 0
    fp: int = 0
    tn: int = 0
    fn: int = 0

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None


@dataclass
class Report:
    outcomes: list[Outcome]
    by_category: dict[str, CategoryScore] = field(default_factory=dict)

    @property
    def relevant_recall(self) -> float:
        pos = [o for o in self.outcomes if o.case["category"] in RECALL_CATEGORIES]
        return sum(o.flagged for o in pos) / len(pos) if pos else 0.0

    @property
    def benign_fp_rate(self) -> float:
        benign = [o for o in self.outcomes if o.case["category"] == "benign"]
        return sum(o.flagged for o in benign) / len(benign) if benign else 0.0

    @property
    def misses(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.correct]

    def timings_ms(self) -> list[float]:
        return [o.seconds * 1000 for o in self.outcomes]


def load_cases(path: Path = CASES) -> list[dict[str, Any]]:
    document = json.loads(path.read_text(encoding="utf-8"))
    cases = document["cases"]
    for i, case in enumerate(cases):
        for key in ("id", "text", "product_type", "expected", "category"):
            if key not in case:
                raise ValueError(f"{path}: cases[{i}] has no {key!r}")
        if case["expected"] not in ("flag", "clear"):
            raise ValueError(f"{path}: cases[{i}].expected must be 'flag' or 'clear'")
        if case["category"] not in CATEGORIES:
            raise ValueError(f"{path}: cases[{i}].category {case['category']!r} is unknown")
    return cases


def subject_for(case: dict[str, Any]) -> ScreenSubject:
    product = case["product_type"]
    return ScreenSubject(
        fields=(TextField(case.get("field", "title"), case["text"]),),
        product_type=product,
        nice_classes=nice_classes_for(product, strict=True),
    )


def screen(case: dict[str, Any]) -> Outcome:
    subject = subject_for(case)
    index = get_starter_index()
    started = time.perf_counter()
    findings = match(subject, index.candidates(candidate_keys(subject)))
    seconds = time.perf_counter() - started
    flagged = any(f.verdict is not Verdict.passed for f in findings)
    return Outcome(case, flagged, seconds, [f.as_dict() for f in findings])


def evaluate(cases: Sequence[dict[str, Any]]) -> Report:
    # Warm the process-wide caches (starter index, word lists) so timings are per case.
    warm_up()
    screen({"text": "warm up", "product_type": "tshirt", "expected": "clear"})
    report = Report([screen(c) for c in cases])
    for category in CATEGORIES:
        report.by_category[category] = CategoryScore()
    for o in report.outcomes:
        score = report.by_category[o.case["category"]]
        score.cases += 1
        positive = o.case["expected"] == "flag"
        if o.flagged and positive:
            score.tp += 1
        elif o.flagged:
            score.fp += 1
        elif positive:
            score.fn += 1
        else:
            score.tn += 1
    return report


def _fmt(value: float | None) -> str:
    return "   -  " if value is None else f"{value:6.3f}"


def print_report(report: Report, *, show_misses: bool) -> None:
    print(f"trademark evaluation: {len(report.outcomes)} cases, "
          f"{len(get_starter_index())} starter marks")  # fmt: skip
    print(f"{'category':<13} {'cases':>5} {'TP':>4} {'FP':>4} {'TN':>4} {'FN':>4} "
          f"{'precision':>9} {'recall':>7}")  # fmt: skip
    for category, s in report.by_category.items():
        print(f"{category:<13} {s.cases:>5} {s.tp:>4} {s.fp:>4} {s.tn:>4} {s.fn:>4} "
              f"{_fmt(s.precision):>9} {_fmt(s.recall):>7}")  # fmt: skip
    ms = report.timings_ms()
    p95 = statistics.quantiles(ms, n=20)[-1] if len(ms) >= 20 else max(ms)
    recall, fp = report.relevant_recall, report.benign_fp_rate
    print(f"recall on live marks in the relevant class: {recall:.3f} "
          f"(target >= {RECALL_TARGET}; ratio {recall / RECALL_TARGET:.2f})")  # fmt: skip
    fp_ratio = "0.00" if fp == 0 else f"{fp / BENIGN_FP_TARGET:.2f}"
    print(f"false-positive rate on benign phrases: {fp:.3f} "
          f"(target <= {BENIGN_FP_TARGET}; ratio {fp_ratio}, below 1 is better)")  # fmt: skip
    print(f"time per case: mean {statistics.fmean(ms):.2f} ms, median {statistics.median(ms):.2f}"
          f" ms, p95 {p95:.2f} ms, max {max(ms):.2f} ms")  # fmt: skip
    if show_misses:
        for o in report.misses:
            got = ", ".join(f"{f['verdict']} {f['code']} {f['evidence']['mark']}"
                            for f in o.findings) or "no finding"  # fmt: skip
            print(f"  MISS {o.case['id']} [{o.case['product_type']}] {o.case['text']!r}: "
                  f"expected {o.case['expected']}, got {got}")  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=Path, default=CASES, help="the labelled cases (JSON)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--show-misses", action="store_true", help="list every wrong case")
    args = parser.parse_args(argv)
    report = evaluate(load_cases(args.cases))
    if args.json:
        print(json.dumps({
            "cases": len(report.outcomes),
            "relevant_recall": report.relevant_recall,
            "benign_fp_rate": report.benign_fp_rate,
            "categories": {c: {"cases": s.cases, "precision": s.precision, "recall": s.recall,
                               "tp": s.tp, "fp": s.fp, "tn": s.tn, "fn": s.fn}
                           for c, s in report.by_category.items()},
            "mean_ms": statistics.fmean(report.timings_ms()),
            "misses": [o.case["id"] for o in report.misses],
        }, indent=2))  # fmt: skip
    else:
        print_report(report, show_misses=args.show_misses)
    ok = report.relevant_recall >= RECALL_TARGET and report.benign_fp_rate <= BENIGN_FP_TARGET
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
