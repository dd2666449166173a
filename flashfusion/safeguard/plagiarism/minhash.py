"""MinHash fingerprints of listing text, and LSH band buckets for finding candidates quickly.

- Normalisation: NFKC, case-folded, every run of letters/digits one token (each Han or kana
  character its own token: those scripts have no spaces), tokens joined by one space. The
  SHA-256 of that string detects exact duplicates ("Hello, World!" equals "hello world").
- Shingles: every run of SHINGLE_SIZE = 3 consecutive tokens (a text of one or two tokens is one
  shingle).
- MinHash: NUM_PERM = 128 hash functions h_i(x) = (a_i * x + b_i) mod p over the shingles'
  64-bit BLAKE2b hashes reduced mod p, with p = 2^31 - 1 (a Mersenne prime, so every product
  fits in 64 bits) and a_i, b_i derived from SHA-256 of a fixed label: the family never
  changes with a library version. The share of equal signature positions estimates the
  Jaccard similarity of the two shingle sets (Broder 1997); the standard error is
  sqrt(J(1 - J) / 128) <= 0.044.
- LSH: the signature cut into BANDS = 32 bands of ROWS = 4 values; two texts are candidates when
  any band hashes to the same bucket. The chance of that is 1 - (1 - J^4)^32: 0.99999995 at
  J = 0.8, 0.87 at J = 0.5, 0.23 at J = 0.3 (the S-curve's midpoint is (1/32)^(1/4) = 0.42).

These constants are part of every stored fingerprint: changing any of them makes the stored
rows incomparable, so a change needs a re-fingerprinting migration.
"""

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt

SHINGLE_SIZE = 3
NUM_PERM = 128
BANDS = 32
ROWS = NUM_PERM // BANDS
PRIME = (1 << 31) - 1
_LABEL = "flashfusion-minhash-v1"
_CHUNK = 4096

assert BANDS * ROWS == NUM_PERM


def _coefficient(kind: str, i: int, low: int) -> int:
    digest = hashlib.sha256(f"{_LABEL}:{kind}:{i}".encode()).digest()
    return low + int.from_bytes(digest[:8], "little") % (PRIME - low)


_A = np.array([_coefficient("a", i, 1) for i in range(NUM_PERM)], dtype=np.uint64)
_B = np.array([_coefficient("b", i, 0) for i in range(NUM_PERM)], dtype=np.uint64)

_UNSPACED = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN = re.compile(f"[{_UNSPACED}]|[^\\W_{_UNSPACED}]+")


def tokens(text: str) -> list[str]:
    """The normalised tokens of `text`."""
    return _TOKEN.findall(unicodedata.normalize("NFKC", text).casefold())


def normalise(text: str) -> str:
    """The form duplicates are compared in: tokens joined by single spaces."""
    return " ".join(tokens(text))


def shingles(text: str) -> frozenset[str]:
    """The set of SHINGLE_SIZE-token shingles of `text` (empty for a text without tokens)."""
    words = tokens(text)
    if len(words) < SHINGLE_SIZE:
        return frozenset({" ".join(words)}) if words else frozenset()
    return frozenset(
        " ".join(words[i : i + SHINGLE_SIZE]) for i in range(len(words) - SHINGLE_SIZE + 1)
    )


def _signature(items: frozenset[str]) -> npt.NDArray[np.uint32]:
    if not items:
        return np.full(NUM_PERM, PRIME, dtype=np.uint32)
    hashed = np.fromiter(
        (
            int.from_bytes(hashlib.blake2b(s.encode(), digest_size=8).digest(), "little") % PRIME
            for s in items
        ),
        dtype=np.uint64,
        count=len(items),
    )
    result = np.full(NUM_PERM, PRIME, dtype=np.uint64)
    # In chunks, so a huge text needs CHUNK x NUM_PERM x 8 bytes at a time, not n x that.
    for start in range(0, len(hashed), _CHUNK):
        chunk = hashed[start : start + _CHUNK]
        # (a * x + b) < 2^31 * 2^31 + 2^31 < 2^63: exact in uint64.
        values = (chunk[:, None] * _A[None, :] + _B[None, :]) % np.uint64(PRIME)
        np.minimum(result, values.min(axis=0), out=result)
    return result.astype(np.uint32)


@dataclass(frozen=True)
class Fingerprint:
    """What is stored and compared for one text; the text itself is not kept."""

    text_sha256: str
    signature: bytes  # NUM_PERM little-endian uint32 values
    shingle_count: int

    @property
    def empty(self) -> bool:
        """A text without a letter or digit: nothing to compare."""
        return self.shingle_count == 0

    @cached_property
    def values(self) -> npt.NDArray[np.uint32]:
        return signature_values(self.signature)

    @cached_property
    def buckets(self) -> tuple[int, ...]:
        """One signed 64-bit bucket hash per band."""
        return band_buckets(self.signature)


def signature_values(signature: bytes) -> npt.NDArray[np.uint32]:
    values = np.frombuffer(signature, dtype="<u4")
    if values.shape != (NUM_PERM,):
        raise ValueError(f"signature must hold {NUM_PERM} values, got {values.shape[0]}")
    return values


def band_buckets(signature: bytes) -> tuple[int, ...]:
    width = ROWS * 4
    if len(signature) != NUM_PERM * 4:
        raise ValueError(f"signature must be {NUM_PERM * 4} bytes, got {len(signature)}")
    return tuple(
        int.from_bytes(
            hashlib.blake2b(signature[b * width : (b + 1) * width], digest_size=8).digest(),
            "little",
            signed=True,
        )
        for b in range(BANDS)
    )


def fingerprint(text: str) -> Fingerprint:
    """The fingerprint of `text`: SHA-256 of its normalised form and its MinHash signature."""
    items = shingles(text)
    return Fingerprint(
        text_sha256=hashlib.sha256(normalise(text).encode()).hexdigest(),
        signature=_signature(items).astype("<u4").tobytes(),
        shingle_count=len(items),
    )


def estimate_similarity(a: bytes, b: bytes) -> float:
    """The Jaccard similarity of two texts' shingle sets, estimated from their signatures."""
    return float(np.mean(signature_values(a) == signature_values(b)))


def jaccard(a: str, b: str) -> float:
    """The exact Jaccard similarity of two texts' shingle sets (1.0 for two empty texts)."""
    left, right = shingles(a), shingles(b)
    union = left | right
    return len(left & right) / len(union) if union else 1.0
