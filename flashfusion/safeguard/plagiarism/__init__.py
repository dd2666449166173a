"""Plagiarism and duplication: MinHash fingerprints of listing copy, LSH candidate lookup,
exact-duplicate detection, within a workspace and, without revealing anything but a similarity,
across the platform. `minhash.py` is the maths, `repository.py` the SQL, `service.py` the
`record` / `check` functions the safeguard pipeline calls."""

from flashfusion.safeguard.plagiarism.minhash import Fingerprint, fingerprint
from flashfusion.safeguard.plagiarism.service import DEFAULT_THRESHOLD, check, record

__all__ = ["DEFAULT_THRESHOLD", "Fingerprint", "check", "fingerprint", "record"]
