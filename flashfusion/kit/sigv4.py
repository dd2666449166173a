"""AWS Signature Version 4 (header form), as S3 and every S3-compatible store (MinIO, R2) expect it.

Pure functions, no I/O: the S3 client signs with them and the S3 sandbox re-derives the signature
from the request it received, so each stage (canonical request, string to sign, signing key,
signature) is exposed on its own and checked against AWS's published vectors in the tests.

References: "Signature Calculations for the Authorization Header: Transferring Payload in a Single
Chunk" (https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html) and the
Signature Version 4 test suite (https://docs.aws.amazon.com/general/latest/gr/signature-v4-test-suite.html).

Canonical URIs are built S3-style: each path segment is percent-encoded exactly once and the path
is not normalised (S3 keys may legitimately contain `//` or `.`). Other AWS services double-encode;
nothing here talks to them.
"""

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"

_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_SPACES = re.compile(r" +")
_AMZ_DATE = re.compile(r"^\d{8}T\d{6}Z$")


def sha256_hex(data: bytes) -> str:
    """Lower-case hex SHA-256, the form `x-amz-content-sha256` and the canonical request use."""
    return hashlib.sha256(data).hexdigest()


def uri_encode(value: str, *, encode_slash: bool = True) -> str:
    """Percent-encode every byte except A-Z a-z 0-9 `-._~` (and `/` when `encode_slash` is off).

    AWS's own rule, which differs from `urllib.parse.quote` (that leaves `~` alone only since 3.7
    and treats `/` as safe by default) and from form encoding (`+` for space is wrong here).
    """
    out: list[str] = []
    for byte in value.encode("utf-8"):
        if byte in _UNRESERVED or (byte == 0x2F and not encode_slash):
            out.append(chr(byte))
        else:
            out.append(f"%{byte:02X}")
    return "".join(out)


def canonical_uri(path: str) -> str:
    """The canonical URI of an unencoded absolute path (S3 rules: encode once, never normalise)."""
    if not path.startswith("/"):
        path = "/" + path
    return uri_encode(path, encode_slash=False)


def canonical_query(params: Iterable[tuple[str, str]]) -> str:
    """Encode names and values, sort by encoded name then value (byte order), join with `&`."""
    encoded = sorted((uri_encode(name), uri_encode(value)) for name, value in params)
    return "&".join(f"{name}={value}" for name, value in encoded)


def _header_value(value: str) -> str:
    # Trim, and collapse runs of spaces to one: what AWS calls Trimall.
    return _SPACES.sub(" ", value.strip())


def canonical_headers(
    headers: Iterable[tuple[str, str]], signed_headers: Sequence[str]
) -> tuple[str, str]:
    """The canonical header block and the `SignedHeaders` list for the named headers.

    `headers` may repeat a name (repeated values are joined with `,` in arrival order).
    Raises KeyError naming a signed header that is absent.
    """
    wanted = sorted({name.lower() for name in signed_headers})
    values: dict[str, list[str]] = {}
    for name, value in headers:
        lower = name.lower()
        if lower in wanted:
            values.setdefault(lower, []).append(_header_value(value))
    missing = [name for name in wanted if name not in values]
    if missing:
        raise KeyError(f"signed header {missing[0]!r} is not in the request")
    block = "".join(f"{name}:{','.join(values[name])}\n" for name in wanted)
    return block, ";".join(wanted)


def canonical_request(
    *,
    method: str,
    path: str,
    query: Iterable[tuple[str, str]],
    headers: Iterable[tuple[str, str]],
    signed_headers: Sequence[str],
    payload_hash: str,
) -> str:
    """The six-line canonical request: method, URI, query, headers, signed header names, hash."""
    block, names = canonical_headers(headers, signed_headers)
    return "\n".join(
        [method.upper(), canonical_uri(path), canonical_query(query), block, names, payload_hash]
    )


def amz_date(when: datetime) -> str:
    """`YYYYMMDDTHHMMSSZ` in UTC (naive datetimes are taken as UTC)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def parse_amz_date(value: str) -> datetime:
    """The inverse of `amz_date`; ValueError on anything else."""
    if not _AMZ_DATE.match(value):
        raise ValueError(f"{value!r} is not an x-amz-date (YYYYMMDDTHHMMSSZ)")
    return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def credential_scope(date: str, region: str, service: str) -> str:
    """`YYYYMMDD/region/service/aws4_request`."""
    return f"{date}/{region}/{service}/aws4_request"


def string_to_sign(request_datetime: str, scope: str, canonical: str) -> str:
    """Algorithm, timestamp, scope and the hex SHA-256 of the canonical request."""
    return "\n".join([ALGORITHM, request_datetime, scope, sha256_hex(canonical.encode("utf-8"))])


def signing_key(secret_access_key: str, date: str, region: str, service: str) -> bytes:
    """HMAC chain `AWS4`+secret → date → region → service → `aws4_request`."""
    key = hmac.new(("AWS4" + secret_access_key).encode("utf-8"), date.encode(), hashlib.sha256)
    for part in (region, service, "aws4_request"):
        key = hmac.new(key.digest(), part.encode("utf-8"), hashlib.sha256)
    return key.digest()


def signature(key: bytes, to_sign: str) -> str:
    """Hex HMAC-SHA256 of the string to sign under the derived signing key."""
    return hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class SignedRequest:
    """Every stage of one signature, so a mismatch can be traced to the stage that differs."""

    canonical_request: str
    string_to_sign: str
    signature: str
    authorization: str
    headers: dict[str, str]  # the headers to add to the request: x-amz-date and authorization


def sign(
    *,
    method: str,
    host: str,
    path: str,
    query: Iterable[tuple[str, str]] = (),
    headers: Mapping[str, str] | None = None,
    payload_hash: str,
    access_key_id: str,
    secret_access_key: str,
    region: str,
    service: str,
    when: datetime,
) -> SignedRequest:
    """Sign a request: `host`, `x-amz-date` and every header in `headers` are signed.

    `path` is the unencoded absolute path (`/bucket/key`). S3 also requires the caller to send
    `x-amz-content-sha256` (= `payload_hash`); put it in `headers` so it is signed too.
    """
    stamp = amz_date(when)
    all_headers = {name.lower(): value for name, value in (headers or {}).items()}
    all_headers["host"] = host
    all_headers["x-amz-date"] = stamp
    signed_names = sorted(all_headers)
    canonical = canonical_request(
        method=method,
        path=path,
        query=query,
        headers=all_headers.items(),
        signed_headers=signed_names,
        payload_hash=payload_hash,
    )
    scope = credential_scope(stamp[:8], region, service)
    to_sign = string_to_sign(stamp, scope, canonical)
    sig = signature(signing_key(secret_access_key, stamp[:8], region, service), to_sign)
    authorization = (
        f"{ALGORITHM} Credential={access_key_id}/{scope}, "
        f"SignedHeaders={';'.join(signed_names)}, Signature={sig}"
    )
    return SignedRequest(
        canonical_request=canonical,
        string_to_sign=to_sign,
        signature=sig,
        authorization=authorization,
        headers={"x-amz-date": stamp, "authorization": authorization},
    )


@dataclass(frozen=True)
class ParsedAuthorization:
    """The parts of an `Authorization: AWS4-HMAC-SHA256 …` header."""

    access_key_id: str
    date: str
    region: str
    service: str
    terminator: str
    signed_headers: list[str]
    signature: str

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/{self.terminator}"


def parse_authorization(value: str) -> ParsedAuthorization:
    """Parse the header (with or without spaces after the commas); ValueError says what is wrong."""
    prefix = ALGORITHM + " "
    if not value.startswith(prefix):
        raise ValueError(f"the Authorization header must start with {ALGORITHM!r}")
    fields: dict[str, str] = {}
    for part in value[len(prefix) :].split(","):
        name, sep, content = part.strip().partition("=")
        if not sep:
            raise ValueError(f"the Authorization component {part.strip()!r} has no '='")
        fields[name] = content
    for required in ("Credential", "SignedHeaders", "Signature"):
        if required not in fields:
            raise ValueError(f"the Authorization header has no {required}")
    credential = fields["Credential"].split("/")
    if len(credential) != 5:
        raise ValueError(
            "the Credential must be access-key-id/YYYYMMDD/region/service/aws4_request"
        )
    return ParsedAuthorization(
        access_key_id=credential[0],
        date=credential[1],
        region=credential[2],
        service=credential[3],
        terminator=credential[4],
        signed_headers=fields["SignedHeaders"].split(";"),
        signature=fields["Signature"],
    )
