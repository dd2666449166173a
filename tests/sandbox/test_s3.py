"""The S3 twin: wire format, SigV4 verification and its error documents, ListObjectsV2, faults."""

import base64
import hashlib
import xml.etree.ElementTree as ElementTree
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from flashfusion.kit import sigv4
from flashfusion.sandbox import s3 as s3_module
from flashfusion.sandbox.s3 import S3Faults, S3Sandbox, create_s3_app

ACCESS_KEY = "AKTWIN"
SECRET = "twin-secret"
HOST = "s3.sandbox"
NOW = datetime(2025, 10, 11, 13, 53, 2, tzinfo=UTC)
NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


@pytest.fixture
def app() -> Any:
    return create_s3_app(buckets={"media"}, credentials={ACCESS_KEY: SECRET}, clock=lambda: NOW)


@pytest.fixture
async def http(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as client:
        yield client


def state(app: Any) -> S3Sandbox:
    sandbox: S3Sandbox = app.state.sandbox
    return sandbox


async def send(
    http: httpx.AsyncClient,
    method: str,
    path: str,
    *,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    query: list[tuple[str, str]] | None = None,
    access_key: str = ACCESS_KEY,
    secret: str = SECRET,
    region: str = "us-east-1",
    when: datetime = NOW,
    payload_hash: str | None = None,
    unsigned_headers: dict[str, str] | None = None,
    sign: bool = True,
) -> httpx.Response:
    """A request signed by sigv4.sign, independently of S3MediaStorage."""
    payload_hash = payload_hash if payload_hash is not None else sigv4.sha256_hex(body)
    signed_headers = {"x-amz-content-sha256": payload_hash, **(headers or {})}
    url = f"http://{HOST}{sigv4.canonical_uri(path)}"
    if query:
        url += "?" + sigv4.canonical_query(query)
    all_headers = dict(signed_headers)
    if sign:
        signature = sigv4.sign(
            method=method,
            host=HOST,
            path=path,
            query=query or [],
            headers=signed_headers,
            payload_hash=payload_hash,
            access_key_id=access_key,
            secret_access_key=secret,
            region=region,
            service="s3",
            when=when,
        )
        all_headers.update(signature.headers)
    all_headers.update(unsigned_headers or {})
    return await http.request(method, url, content=body or None, headers=all_headers)


def error_of(response: httpx.Response) -> dict[str, str]:
    assert response.headers["content-type"] == "application/xml"
    root = ElementTree.fromstring(response.content)
    assert root.tag == "Error"
    return {child.tag: child.text or "" for child in root}


async def test_put_get_head_delete_wire_format(http: httpx.AsyncClient, app: Any) -> None:
    body = b"\x89PNG object bytes"
    put = await send(
        http, "PUT", "/media/org1/a.png", body=body, headers={"content-type": "image/png"}
    )
    etag = f'"{hashlib.md5(body).hexdigest()}"'
    assert put.status_code == 200
    assert put.headers["etag"] == etag
    assert put.headers["x-amz-request-id"] == "0000000000000001"
    assert put.content == b""

    got = await send(http, "GET", "/media/org1/a.png")
    assert got.status_code == 200
    assert got.content == body
    assert got.headers["content-type"] == "image/png"
    assert got.headers["content-length"] == str(len(body))
    assert got.headers["etag"] == etag
    assert got.headers["last-modified"] == "Sat, 11 Oct 2025 13:53:02 GMT"
    assert got.headers["accept-ranges"] == "bytes"

    head = await send(http, "HEAD", "/media/org1/a.png")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == str(len(body))
    assert head.headers["etag"] == etag

    deleted = await send(http, "DELETE", "/media/org1/a.png")
    assert deleted.status_code == 204
    again = await send(http, "DELETE", "/media/org1/a.png")
    assert again.status_code == 204  # S3 answers 204 for a missing key too
    assert state(app).buckets["media"] == {}
    assert dict(state(app).requests) == {
        "PutObject": 1,
        "GetObject": 1,
        "HeadObject": 1,
        "DeleteObject": 2,
    }


async def test_put_without_content_type_gets_s3s_default(http: httpx.AsyncClient) -> None:
    await send(http, "PUT", "/media/a.bin", body=b"x")
    got = await send(http, "GET", "/media/a.bin")
    assert got.headers["content-type"] == "binary/octet-stream"


async def test_keys_are_any_utf8_and_percent_encoded_on_the_wire(
    http: httpx.AsyncClient, app: Any
) -> None:
    key = "dir/with space/$price/café.png"
    assert (await send(http, "PUT", f"/media/{key}", body=b"k")).status_code == 200
    assert list(state(app).buckets["media"]) == [key]
    assert (await send(http, "GET", f"/media/{key}")).content == b"k"


async def test_missing_key_is_no_such_key(http: httpx.AsyncClient, app: Any) -> None:
    response = await send(http, "GET", "/media/nope.png")
    assert response.status_code == 404
    assert error_of(response) == {
        "Code": "NoSuchKey",
        "Message": "The specified key does not exist.",
        "Key": "nope.png",
        "Resource": "/media/nope.png",
        "RequestId": response.headers["x-amz-request-id"],
    }
    head = await send(http, "HEAD", "/media/nope.png")
    assert head.status_code == 404
    assert head.content == b""  # HEAD answers never have a body
    assert state(app).errors["NoSuchKey"] == 2


async def test_missing_bucket_is_no_such_bucket(http: httpx.AsyncClient) -> None:
    response = await send(http, "PUT", "/other/a.png", body=b"x")
    assert response.status_code == 404
    error = error_of(response)
    assert (error["Code"], error["BucketName"]) == ("NoSuchBucket", "other")


async def test_wrong_secret_is_signature_does_not_match(http: httpx.AsyncClient) -> None:
    response = await send(http, "GET", "/media/a.png", secret="wrong")
    assert response.status_code == 403
    error = error_of(response)
    assert error["Code"] == "SignatureDoesNotMatch"
    assert error["AWSAccessKeyId"] == ACCESS_KEY
    # The twin derived the same canonical request as the client: only the key differs.
    expected = sigv4.sign(
        method="GET",
        host=HOST,
        path="/media/a.png",
        headers={"x-amz-content-sha256": sigv4.EMPTY_SHA256},
        payload_hash=sigv4.EMPTY_SHA256,
        access_key_id=ACCESS_KEY,
        secret_access_key="wrong",
        region="us-east-1",
        service="s3",
        when=NOW,
    )
    assert error["CanonicalRequest"] == expected.canonical_request
    assert error["StringToSign"] == expected.string_to_sign
    assert SECRET not in response.text


async def test_tampered_path_fails_the_signature(http: httpx.AsyncClient) -> None:
    signed = sigv4.sign(
        method="GET",
        host=HOST,
        path="/media/a.png",
        headers={"x-amz-content-sha256": sigv4.EMPTY_SHA256},
        payload_hash=sigv4.EMPTY_SHA256,
        access_key_id=ACCESS_KEY,
        secret_access_key=SECRET,
        region="us-east-1",
        service="s3",
        when=NOW,
    )
    response = await http.get(
        f"http://{HOST}/media/b.png",
        headers={"x-amz-content-sha256": sigv4.EMPTY_SHA256, **signed.headers},
    )
    assert error_of(response)["Code"] == "SignatureDoesNotMatch"


async def test_unknown_access_key(http: httpx.AsyncClient) -> None:
    response = await send(http, "GET", "/media/a.png", access_key="AKNOBODY")
    assert response.status_code == 403
    error = error_of(response)
    assert (error["Code"], error["AWSAccessKeyId"]) == ("InvalidAccessKeyId", "AKNOBODY")


async def test_anonymous_request_is_access_denied(http: httpx.AsyncClient) -> None:
    response = await send(http, "GET", "/media/a.png", sign=False)
    assert response.status_code == 403
    assert error_of(response)["Code"] == "AccessDenied"


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer abc",
        "AWS4-HMAC-SHA256 Credential=AKTWIN/20251011/us-east-1/s3/aws4_request",
        "AWS4-HMAC-SHA256 Credential=AKTWIN/20251011/us-east-1/sqs/aws4_request, "
        "SignedHeaders=host, Signature=00",
    ],
)
async def test_malformed_authorization(http: httpx.AsyncClient, authorization: str) -> None:
    response = await send(
        http,
        "GET",
        "/media/a.png",
        sign=False,
        unsigned_headers={"authorization": authorization, "x-amz-date": "20251011T135302Z"},
    )
    assert response.status_code == 400
    assert error_of(response)["Code"] == "AuthorizationHeaderMalformed"


async def test_wrong_region(http: httpx.AsyncClient) -> None:
    response = await send(http, "GET", "/media/a.png", region="eu-west-1")
    assert response.status_code == 400
    error = error_of(response)
    assert error["Code"] == "AuthorizationHeaderMalformed"
    assert error["Region"] == "us-east-1"


@pytest.mark.parametrize(
    ("offset", "status"),
    [(timedelta(minutes=14), 404), (timedelta(minutes=-14), 404), (timedelta(minutes=16), 403)],
)
async def test_clock_skew_beyond_fifteen_minutes(
    http: httpx.AsyncClient, offset: timedelta, status: int
) -> None:
    response = await send(http, "GET", "/media/a.png", when=NOW + offset)
    assert response.status_code == status
    if status == 403:
        error = error_of(response)
        assert error["Code"] == "RequestTimeTooSkewed"
        assert error["MaxAllowedSkewMilliseconds"] == "900000"
        assert error["ServerTime"] == "2025-10-11T13:53:02Z"


async def test_credential_date_must_match_x_amz_date(http: httpx.AsyncClient) -> None:
    signed = sigv4.sign(
        method="GET",
        host=HOST,
        path="/media/a.png",
        headers={"x-amz-content-sha256": sigv4.EMPTY_SHA256},
        payload_hash=sigv4.EMPTY_SHA256,
        access_key_id=ACCESS_KEY,
        secret_access_key=SECRET,
        region="us-east-1",
        service="s3",
        when=NOW,
    )
    response = await http.get(
        f"http://{HOST}/media/a.png",
        headers={
            "x-amz-content-sha256": sigv4.EMPTY_SHA256,
            "authorization": signed.authorization.replace("/20251011/", "/20251010/"),
            "x-amz-date": signed.headers["x-amz-date"],
        },
    )
    assert response.status_code == 400
    assert "Date is not the same as X-Amz-Date" in error_of(response)["Message"]


async def test_missing_x_amz_date_is_access_denied(http: httpx.AsyncClient) -> None:
    signed = await send(http, "GET", "/media/a.png", sign=False)
    assert signed.status_code == 403  # no Authorization at all
    response = await send(
        http,
        "GET",
        "/media/a.png",
        sign=False,
        unsigned_headers={
            "authorization": "AWS4-HMAC-SHA256 Credential=AKTWIN/20251011/us-east-1/s3/"
            "aws4_request, SignedHeaders=host, Signature=00"
        },
    )
    assert response.status_code == 403
    assert error_of(response)["Message"] == (
        "AWS authentication requires a valid Date or x-amz-date header"
    )


async def test_content_sha_mismatch(http: httpx.AsyncClient, app: Any) -> None:
    claimed = sigv4.sha256_hex(b"what the client hashed")
    response = await send(http, "PUT", "/media/a.png", body=b"what arrived", payload_hash=claimed)
    assert response.status_code == 400
    error = error_of(response)
    assert error["Code"] == "XAmzContentSHA256Mismatch"
    assert error["ClientComputedContentSHA256"] == claimed
    assert error["S3ComputedContentSHA256"] == sigv4.sha256_hex(b"what arrived")
    assert state(app).buckets["media"] == {}


async def test_missing_content_sha_header(http: httpx.AsyncClient) -> None:
    signed = sigv4.sign(
        method="GET",
        host=HOST,
        path="/media/a.png",
        payload_hash=sigv4.EMPTY_SHA256,
        access_key_id=ACCESS_KEY,
        secret_access_key=SECRET,
        region="us-east-1",
        service="s3",
        when=NOW,
    )
    response = await http.get(f"http://{HOST}/media/a.png", headers=signed.headers)
    assert response.status_code == 400
    error = error_of(response)
    assert error["Code"] == "InvalidRequest"
    assert error["Message"] == "Missing required header for this request: x-amz-content-sha256"


async def test_content_sha_must_be_hex_or_unsigned(http: httpx.AsyncClient) -> None:
    bad = await send(http, "GET", "/media/a.png", payload_hash="not-a-hash")
    assert (bad.status_code, error_of(bad)["Code"]) == (400, "InvalidArgument")
    unsigned = await send(
        http, "PUT", "/media/u.png", body=b"unsigned body", payload_hash=sigv4.UNSIGNED_PAYLOAD
    )
    assert unsigned.status_code == 200


async def test_unsigned_amz_header_is_refused(http: httpx.AsyncClient) -> None:
    response = await send(
        http, "GET", "/media/a.png", unsigned_headers={"x-amz-meta-owner": "mallory"}
    )
    assert response.status_code == 403
    error = error_of(response)
    assert error["Code"] == "AccessDenied"
    assert error["HeadersNotSigned"] == "x-amz-meta-owner"


async def test_signed_header_that_is_absent_fails(http: httpx.AsyncClient) -> None:
    signed = sigv4.sign(
        method="GET",
        host=HOST,
        path="/media/a.png",
        headers={"x-amz-content-sha256": sigv4.EMPTY_SHA256, "range": "bytes=0-1"},
        payload_hash=sigv4.EMPTY_SHA256,
        access_key_id=ACCESS_KEY,
        secret_access_key=SECRET,
        region="us-east-1",
        service="s3",
        when=NOW,
    )
    response = await http.get(
        f"http://{HOST}/media/a.png",
        headers={"x-amz-content-sha256": sigv4.EMPTY_SHA256, **signed.headers},
    )
    assert response.status_code == 403
    error = error_of(response)
    assert (error["Code"], error["Message"]) == (
        "SignatureDoesNotMatch",
        "signed header 'range' is not in the request",
    )


async def test_content_md5_is_checked(http: httpx.AsyncClient) -> None:
    body = b"checked"
    good = base64.b64encode(hashlib.md5(body).digest()).decode()
    ok = await send(http, "PUT", "/media/a.png", body=body, headers={"content-md5": good})
    assert ok.status_code == 200
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    bad = await send(http, "PUT", "/media/a.png", body=body, headers={"content-md5": wrong})
    assert (bad.status_code, error_of(bad)["Code"]) == (400, "BadDigest")
    junk = await send(http, "PUT", "/media/a.png", body=body, headers={"content-md5": "!!"})
    assert (junk.status_code, error_of(junk)["Code"]) == (400, "InvalidDigest")


async def test_list_objects_v2_with_prefix_and_pages(http: httpx.AsyncClient) -> None:
    for key in ["org1/b.png", "org1/a.png", "org2/c.png", "org1/c.png"]:
        await send(http, "PUT", f"/media/{key}", body=key.encode())
    first = await send(
        http, "GET", "/media/", query=[("list-type", "2"), ("prefix", "org1/"), ("max-keys", "2")]
    )
    assert first.status_code == 200
    root = ElementTree.fromstring(first.content)
    assert root.tag == f"{NS}ListBucketResult"
    assert [e.text for e in root.iter(f"{NS}Key")] == ["org1/a.png", "org1/b.png"]
    assert root.findtext(f"{NS}KeyCount") == "2"
    assert root.findtext(f"{NS}IsTruncated") == "true"
    assert root.findtext(f"{NS}Name") == "media"
    contents = root.find(f"{NS}Contents")
    assert contents is not None
    assert contents.findtext(f"{NS}Size") == str(len(b"org1/a.png"))
    assert contents.findtext(f"{NS}ETag") == f'"{hashlib.md5(b"org1/a.png").hexdigest()}"'
    assert contents.findtext(f"{NS}LastModified") == "2025-10-11T13:53:02.000Z"
    token = root.findtext(f"{NS}NextContinuationToken")
    assert token
    second = await send(
        http,
        "GET",
        "/media/",
        query=[("list-type", "2"), ("prefix", "org1/"), ("continuation-token", token)],
    )
    root2 = ElementTree.fromstring(second.content)
    assert [e.text for e in root2.iter(f"{NS}Key")] == ["org1/c.png"]
    assert root2.findtext(f"{NS}IsTruncated") == "false"
    assert root2.findtext(f"{NS}NextContinuationToken") is None


@pytest.mark.parametrize(
    "query",
    [[("list-type", "2"), ("max-keys", "5000")], [("list-type", "2"), ("max-keys", "x")]],
)
async def test_list_objects_rejects_bad_max_keys(
    http: httpx.AsyncClient, query: list[tuple[str, str]]
) -> None:
    response = await send(http, "GET", "/media/", query=query)
    assert (response.status_code, error_of(response)["Code"]) == (400, "InvalidArgument")


async def test_list_objects_rejects_a_bad_token(http: httpx.AsyncClient) -> None:
    response = await send(
        http, "GET", "/media/", query=[("list-type", "2"), ("continuation-token", "%%%")]
    )
    assert (response.status_code, error_of(response)["Code"]) == (400, "InvalidArgument")


async def test_head_bucket(http: httpx.AsyncClient) -> None:
    assert (await send(http, "HEAD", "/media")).status_code == 200
    assert (await send(http, "HEAD", "/other")).status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "query", "status", "code"),
    [
        ("GET", "/media", None, 501, "NotImplemented"),  # ListObjects v1
        ("PUT", "/newbucket", None, 501, "NotImplemented"),  # CreateBucket
        ("GET", "/media/a.png", [("acl", "")], 501, "NotImplemented"),
        ("POST", "/media/a.png", None, 405, "MethodNotAllowed"),
        ("GET", "/", None, 501, "NotImplemented"),  # ListBuckets
        ("DELETE", "/", None, 405, "MethodNotAllowed"),
    ],
)
async def test_unmodelled_operations(
    http: httpx.AsyncClient,
    method: str,
    path: str,
    query: list[tuple[str, str]] | None,
    status: int,
    code: str,
) -> None:
    response = await send(http, method, path, query=query)
    assert (response.status_code, error_of(response)["Code"]) == (status, code)


async def test_key_too_long(http: httpx.AsyncClient) -> None:
    response = await send(http, "PUT", "/media/" + "k" * 1025, body=b"x")
    assert (response.status_code, error_of(response)["Code"]) == (400, "KeyTooLongError")


async def test_slow_down_burst_then_normal(http: httpx.AsyncClient, app: Any) -> None:
    state(app).faults.slow_down = 2
    first = await send(http, "GET", "/media/a.png")
    second = await send(http, "GET", "/media/a.png")
    third = await send(http, "GET", "/media/a.png")
    assert [first.status_code, second.status_code, third.status_code] == [503, 503, 404]
    assert error_of(first) == {
        "Code": "SlowDown",
        "Message": "Please reduce your request rate.",
        "Resource": "/media/a.png",
        "RequestId": first.headers["x-amz-request-id"],
    }
    assert dict(state(app).errors) == {"SlowDown": 2, "NoSuchKey": 1}
    assert state(app).requests["GetObject"] == 3


async def test_error_rate_is_seeded_and_replayable() -> None:
    outcomes: list[list[int]] = []
    for _ in range(2):
        app = create_s3_app(
            buckets={"media"},
            credentials={ACCESS_KEY: SECRET},
            clock=lambda: NOW,
            faults=S3Faults(error_rate=0.5, seed=7),
        )
        statuses: list[int] = []
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as client:
            for _ in range(12):
                statuses.append((await send(client, "GET", "/media/a.png")).status_code)
        assert set(statuses) == {500, 404}
        assert state(app).errors["InternalError"] == statuses.count(500)
        outcomes.append(statuses)
    assert outcomes[0] == outcomes[1]


async def test_internal_error_document(http: httpx.AsyncClient, app: Any) -> None:
    state(app).faults.error_rate = 1.0
    response = await send(http, "PUT", "/media/a.png", body=b"x")
    assert response.status_code == 500
    assert error_of(response)["Code"] == "InternalError"
    assert state(app).buckets["media"] == {}


async def test_latency_is_added(
    http: httpx.AsyncClient, app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    slept: list[float] = []

    async def fake_sleep(delay: float) -> None:
        slept.append(delay)

    monkeypatch.setattr(s3_module.asyncio, "sleep", fake_sleep)
    state(app).faults.latency_s = 0.25
    await send(http, "GET", "/media/a.png")
    assert slept == [0.25]
