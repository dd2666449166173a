"""S3 sandbox twin: path-style object PUT/GET/HEAD/DELETE and ListObjectsV2, SigV4-verified.

It re-derives every request's signature from what arrived (method, raw path, query, the headers
named in `SignedHeaders`, `x-amz-content-sha256`) with the secret it holds, independently of the
client's code path, and answers with S3's XML error documents and status codes
(https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html):

    403 AccessDenied, InvalidAccessKeyId, SignatureDoesNotMatch, RequestTimeTooSkewed (> 15 min)
    400 AuthorizationHeaderMalformed, InvalidRequest, XAmzContentSHA256Mismatch, BadDigest
    404 NoSuchBucket, NoSuchKey        500 InternalError        503 SlowDown

Buckets are fixed at creation (no CreateBucket). Faults (`S3Faults`) can be changed while the app
runs: `app.state.sandbox.faults.slow_down = 2` answers the next two requests with 503 SlowDown.
`app.state.sandbox.requests` counts received requests by operation, `errors` by error code.
"""

import asyncio
import base64
import binascii
import hashlib
import hmac
import random
import re
import xml.etree.ElementTree as ElementTree
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from urllib.parse import unquote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from flashfusion.kit import sigv4

MAX_SKEW = timedelta(minutes=15)
S3_XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"
# S3's content type for an object stored without one.
DEFAULT_CONTENT_TYPE = "binary/octet-stream"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
# Operations on an existing bucket; anything else is answered without looking the bucket up.
_BUCKET_OPERATIONS = frozenset(
    {"PutObject", "GetObject", "HeadObject", "DeleteObject", "HeadBucket", "ListObjectsV2"}
)


@dataclass
class S3Faults:
    """Fault injection. `slow_down` is a burst counter: that many next requests get 503 SlowDown."""

    error_rate: float = 0.0  # probability of 500 InternalError for each request
    slow_down: int = 0
    latency_s: float = 0.0  # added before every answer
    seed: int = 0  # seeds the error_rate dice so a failing run can be replayed


@dataclass
class StoredObject:
    data: bytes
    content_type: str
    etag: str  # quoted hex MD5, as S3 sends it for a single-part upload
    last_modified: datetime


class S3Error(Exception):
    """An S3 error answer: status, code, message and extra `<Error>` elements."""

    def __init__(self, status: int, code: str, message: str, **extra: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra


@dataclass
class S3Sandbox:
    """The twin's state: buckets and their objects, credentials, faults and counters."""

    buckets: dict[str, dict[str, StoredObject]]
    credentials: dict[str, str]
    region: str
    clock: Callable[[], datetime]
    faults: S3Faults
    requests: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    _rng: random.Random = field(init=False)
    _request_seq: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.faults.seed)

    async def handle(self, request: Request) -> Response:
        self._request_seq += 1
        request_id = f"{self._request_seq:016X}"
        raw_path = request.scope.get("raw_path") or request.scope["path"].encode()
        path = unquote(raw_path.split(b"?", 1)[0].decode("latin-1"))
        query = _parse_query(request.scope.get("query_string", b""))
        bucket, _, key = path.lstrip("/").partition("/")
        operation = _operation(request.method, bucket, key, query)
        self.requests[operation] += 1
        resource = path
        try:
            if self.faults.latency_s:
                await asyncio.sleep(self.faults.latency_s)
            self._inject_faults()
            body = await request.body()
            self._authenticate(request, path, query, body)
            if operation in _BUCKET_OPERATIONS and bucket not in self.buckets:
                raise S3Error(
                    404, "NoSuchBucket", "The specified bucket does not exist", BucketName=bucket
                )
            response = self._dispatch(operation, request, bucket, key, query, body)
        except S3Error as error:
            self.errors[error.code] += 1
            response = _error_response(error, resource, request_id, head=request.method == "HEAD")
        response.headers["x-amz-request-id"] = request_id
        return response

    def _inject_faults(self) -> None:
        if self.faults.slow_down > 0:
            self.faults.slow_down -= 1
            raise S3Error(503, "SlowDown", "Please reduce your request rate.")
        if self.faults.error_rate and self._rng.random() < self.faults.error_rate:
            raise S3Error(
                500, "InternalError", "We encountered an internal error. Please try again."
            )

    def _authenticate(
        self, request: Request, path: str, query: list[tuple[str, str]], body: bytes
    ) -> None:
        header = request.headers.get("authorization")
        if header is None:
            raise S3Error(403, "AccessDenied", "Access Denied")
        try:
            auth = sigv4.parse_authorization(header)
        except ValueError as exc:
            raise S3Error(
                400, "AuthorizationHeaderMalformed", f"The authorization header is malformed; {exc}"
            ) from exc
        secret = self.credentials.get(auth.access_key_id)
        if secret is None:
            raise S3Error(
                403,
                "InvalidAccessKeyId",
                "The AWS Access Key Id you provided does not exist in our records.",
                AWSAccessKeyId=auth.access_key_id,
            )
        if auth.service != "s3" or auth.terminator != "aws4_request":
            raise S3Error(
                400,
                "AuthorizationHeaderMalformed",
                "The authorization header is malformed; the credential scope must end in "
                "/s3/aws4_request",
            )
        if auth.region != self.region:
            raise S3Error(
                400,
                "AuthorizationHeaderMalformed",
                f"The authorization header is malformed; the region '{auth.region}' is wrong; "
                f"expecting '{self.region}'",
                Region=self.region,
            )
        stamp = request.headers.get("x-amz-date", "")
        try:
            sent_at = sigv4.parse_amz_date(stamp)
        except ValueError as exc:
            raise S3Error(
                403, "AccessDenied", "AWS authentication requires a valid Date or x-amz-date header"
            ) from exc
        if auth.date != stamp[:8]:
            raise S3Error(
                400,
                "AuthorizationHeaderMalformed",
                "The authorization header is malformed; Invalid credential date. "
                "Date is not the same as X-Amz-Date.",
            )
        now = self.clock()
        if abs(now - sent_at) > MAX_SKEW:
            raise S3Error(
                403,
                "RequestTimeTooSkewed",
                "The difference between the request time and the current time is too large.",
                RequestTime=stamp,
                ServerTime=now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                MaxAllowedSkewMilliseconds=str(int(MAX_SKEW.total_seconds() * 1000)),
            )
        payload_hash = request.headers.get("x-amz-content-sha256")
        if payload_hash is None:
            raise S3Error(
                400,
                "InvalidRequest",
                "Missing required header for this request: x-amz-content-sha256",
            )
        if payload_hash != sigv4.UNSIGNED_PAYLOAD and not _HEX64.match(payload_hash):
            raise S3Error(
                400,
                "InvalidArgument",
                "x-amz-content-sha256 must be UNSIGNED-PAYLOAD or a valid sha256 value.",
            )
        signed = {name.lower() for name in auth.signed_headers}
        if "host" not in signed:
            raise S3Error(
                403, "AccessDenied", "The host header must be signed (SignedHeaders has no host)"
            )
        unsigned_amz = [
            name for name in request.headers if name.startswith("x-amz-") and name not in signed
        ]
        if unsigned_amz:
            raise S3Error(
                403,
                "AccessDenied",
                "There were headers present in the request which were not signed",
                HeadersNotSigned=", ".join(sorted(unsigned_amz)),
            )
        headers = [(n.decode("latin-1"), v.decode("latin-1")) for n, v in request.headers.raw]
        try:
            canonical = sigv4.canonical_request(
                method=request.method,
                path=path,
                query=query,
                headers=headers,
                signed_headers=auth.signed_headers,
                payload_hash=payload_hash,
            )
        except KeyError as exc:
            raise S3Error(403, "SignatureDoesNotMatch", str(exc.args[0])) from exc
        to_sign = sigv4.string_to_sign(stamp, auth.scope, canonical)
        key = sigv4.signing_key(secret, auth.date, auth.region, auth.service)
        expected = sigv4.signature(key, to_sign)
        if not hmac.compare_digest(expected, auth.signature):
            raise S3Error(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided. "
                "Check your key and signing method.",
                AWSAccessKeyId=auth.access_key_id,
                StringToSign=to_sign,
                CanonicalRequest=canonical,
            )
        if payload_hash != sigv4.UNSIGNED_PAYLOAD:
            computed = sigv4.sha256_hex(body)
            if computed != payload_hash:
                raise S3Error(
                    400,
                    "XAmzContentSHA256Mismatch",
                    "The provided 'x-amz-content-sha256' header does not match what was computed.",
                    ClientComputedContentSHA256=payload_hash,
                    S3ComputedContentSHA256=computed,
                )

    def _dispatch(
        self,
        operation: str,
        request: Request,
        bucket: str,
        key: str,
        query: list[tuple[str, str]],
        body: bytes,
    ) -> Response:
        objects = self.buckets.get(bucket, {})
        if operation == "PutObject":
            return self._put(request, objects, key, body)
        if operation in ("GetObject", "HeadObject"):
            stored = objects.get(key)
            if stored is None:
                raise S3Error(404, "NoSuchKey", "The specified key does not exist.", Key=key)
            return _object_response(stored, head=operation == "HeadObject")
        if operation == "DeleteObject":
            objects.pop(key, None)
            return Response(status_code=204)
        if operation == "HeadBucket":
            return Response(status_code=200)
        if operation == "ListObjectsV2":
            return _list_objects(bucket, objects, dict(query))
        if operation == "MethodNotAllowed":
            raise S3Error(
                405,
                "MethodNotAllowed",
                "The specified method is not allowed against this resource.",
            )
        raise S3Error(
            501,
            "NotImplemented",
            "A header or query you provided implies functionality that is not implemented.",
        )

    def _put(
        self, request: Request, objects: dict[str, StoredObject], key: str, body: bytes
    ) -> Response:
        if len(key.encode("utf-8")) > 1024:
            raise S3Error(400, "KeyTooLongError", "Your key is too long", Key=key[:64])
        md5 = hashlib.md5(body, usedforsecurity=False)
        content_md5 = request.headers.get("content-md5")
        if content_md5 is not None:
            try:
                claimed = base64.b64decode(content_md5, validate=True)
            except binascii.Error as exc:
                raise S3Error(
                    400, "InvalidDigest", "The Content-MD5 you specified was invalid."
                ) from exc
            if claimed != md5.digest():
                raise S3Error(
                    400,
                    "BadDigest",
                    "The Content-MD5 you specified did not match what we received.",
                )
        stored = StoredObject(
            data=body,
            content_type=request.headers.get("content-type") or DEFAULT_CONTENT_TYPE,
            etag=f'"{md5.hexdigest()}"',
            # HTTP dates have one-second resolution; store what a GET will report.
            last_modified=self.clock().astimezone(UTC).replace(microsecond=0),
        )
        objects[key] = stored
        return Response(status_code=200, headers={"ETag": stored.etag})


def _parse_query(raw: bytes) -> list[tuple[str, str]]:
    params: list[tuple[str, str]] = []
    for part in raw.decode("latin-1").split("&"):
        if part:
            name, _, value = part.partition("=")
            params.append((unquote(name), unquote(value)))
    return params


def _operation(method: str, bucket: str, key: str, query: list[tuple[str, str]]) -> str:
    if not bucket:
        return "ListBuckets" if method == "GET" else "MethodNotAllowed"
    if not key:
        if method == "GET" and ("list-type", "2") in query:
            return "ListObjectsV2"
        if method == "HEAD":
            return "HeadBucket"
        return "UnsupportedBucketOperation"
    if query:
        return "UnsupportedObjectOperation"  # ?acl, ?tagging, ?uploads … are not modelled
    return {
        "PUT": "PutObject",
        "GET": "GetObject",
        "HEAD": "HeadObject",
        "DELETE": "DeleteObject",
    }.get(method, "MethodNotAllowed")


def _object_response(stored: StoredObject, *, head: bool) -> Response:
    headers = {
        "Content-Type": stored.content_type,
        "Content-Length": str(len(stored.data)),
        "ETag": stored.etag,
        "Last-Modified": format_datetime(stored.last_modified, usegmt=True),
        "Accept-Ranges": "bytes",
    }
    return Response(content=b"" if head else stored.data, status_code=200, headers=headers)


def _xml(root: ElementTree.Element) -> bytes:
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(root)


def _error_response(error: S3Error, resource: str, request_id: str, *, head: bool) -> Response:
    root = ElementTree.Element("Error")
    for name, value in [
        ("Code", error.code),
        ("Message", error.message),
        *error.extra.items(),
        ("Resource", resource),
        ("RequestId", request_id),
    ]:
        ElementTree.SubElement(root, name).text = value
    # A HEAD answer has no body, so S3 clients only ever see the status for HEAD errors.
    body = b"" if head else _xml(root)
    return Response(content=body, status_code=error.status, media_type="application/xml")


def _list_objects(
    bucket: str, objects: dict[str, StoredObject], params: dict[str, str]
) -> Response:
    prefix = params.get("prefix", "")
    try:
        max_keys = int(params.get("max-keys", "1000"))
    except ValueError:
        max_keys = -1
    if not 0 <= max_keys <= 1000:
        raise S3Error(400, "InvalidArgument", "max-keys must be an integer from 0 to 1000")
    token = params.get("continuation-token")
    start_after = params.get("start-after", "")
    if token is not None:
        try:
            start_after = base64.b64decode(token, altchars=b"-_", validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise S3Error(
                400, "InvalidArgument", "The continuation token provided is incorrect"
            ) from exc
    # S3 lists keys in UTF-8 binary order.
    keys = sorted(
        (k for k in objects if k.startswith(prefix) and k.encode() > start_after.encode()),
        key=lambda k: k.encode(),
    )
    page, truncated = keys[:max_keys], len(keys) > max_keys
    root = ElementTree.Element("ListBucketResult", xmlns=S3_XMLNS)
    ElementTree.SubElement(root, "Name").text = bucket
    ElementTree.SubElement(root, "Prefix").text = prefix
    ElementTree.SubElement(root, "KeyCount").text = str(len(page))
    ElementTree.SubElement(root, "MaxKeys").text = str(max_keys)
    ElementTree.SubElement(root, "IsTruncated").text = "true" if truncated else "false"
    if token is not None:
        ElementTree.SubElement(root, "ContinuationToken").text = token
    if truncated and page:
        next_token = base64.urlsafe_b64encode(page[-1].encode()).decode()
        ElementTree.SubElement(root, "NextContinuationToken").text = next_token
    for name in page:
        stored = objects[name]
        contents = ElementTree.SubElement(root, "Contents")
        ElementTree.SubElement(contents, "Key").text = name
        ElementTree.SubElement(contents, "LastModified").text = stored.last_modified.strftime(
            "%Y-%m-%dT%H:%M:%S.000Z"
        )
        ElementTree.SubElement(contents, "ETag").text = stored.etag
        ElementTree.SubElement(contents, "Size").text = str(len(stored.data))
        ElementTree.SubElement(contents, "StorageClass").text = "STANDARD"
    return Response(content=_xml(root), status_code=200, media_type="application/xml")


def create_s3_app(
    *,
    buckets: set[str],
    credentials: dict[str, str],
    clock: Callable[[], datetime] | None = None,
    faults: S3Faults | None = None,
    region: str = "us-east-1",
) -> Starlette:
    """The S3 twin as an ASGI app; its state is `app.state.sandbox` (an `S3Sandbox`).

    `credentials` maps access key id → secret access key. `clock` is the server's notion of now
    (for `RequestTimeTooSkewed` and `Last-Modified`); `region` the one region it serves.
    """
    sandbox = S3Sandbox(
        buckets={name: {} for name in buckets},
        credentials=dict(credentials),
        region=region,
        clock=clock or (lambda: datetime.now(UTC)),
        faults=faults or S3Faults(),
    )

    async def endpoint(request: Request) -> Response:
        return await sandbox.handle(request)

    app = Starlette(
        routes=[
            Route(
                "/{path:path}",
                endpoint,
                methods=["GET", "HEAD", "PUT", "DELETE", "POST", "PATCH", "OPTIONS"],
            )
        ]
    )
    app.state.sandbox = sandbox
    return app
