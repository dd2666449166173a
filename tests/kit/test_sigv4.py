"""SigV4 against AWS's published vectors, stage by stage.

Sources of the expected values:
- The Signature Version 4 test suite ("aws-sig-v4-test-suite",
  https://docs.aws.amazon.com/general/latest/gr/signature-v4-test-suite.html): credentials
  AKIDEXAMPLE / wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, 20150830T123600Z, us-east-1, service
  "service", host example.amazonaws.com; cases get-vanilla, get-vanilla-query-order-key-case and
  post-vanilla (the .creq/.sts/.authz files).
- The S3 examples in "Signature Calculations for the Authorization Header: Transferring Payload
  in a Single Chunk" (https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html):
  AKIAIOSFODNN7EXAMPLE / wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY, 20130524T000000Z, examplebucket —
  GET Object (Range), PUT Object (test$file.text), GET Bucket Lifecycle, GET Bucket (List Objects).
The AWS pages themselves were not in the searchable corpus; the figures were found through the
`search` tool reproduced identically in several independent public implementations' tests (e.g.
cloudyr/aws.signature tests/testthat/test-v4.R for f0e8bdb8…, awslabs smithy-rs aws-sigv4 for
b97d918c…, and others for 5fa00fa3…/bb579772…, 98ad7217…, fea454ca…, 34b48302…).
"""

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from flashfusion.kit import sigv4

SUITE: dict[str, Any] = {
    "access_key_id": "AKIDEXAMPLE",
    "secret_access_key": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    "region": "us-east-1",
    "service": "service",
    "when": datetime(2015, 8, 30, 12, 36, 0, tzinfo=UTC),
}
S3: dict[str, Any] = {
    "access_key_id": "AKIAIOSFODNN7EXAMPLE",
    "secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "region": "us-east-1",
    "service": "s3",
    "when": datetime(2013, 5, 24, 0, 0, 0, tzinfo=UTC),
}
S3_HOST = "examplebucket.s3.amazonaws.com"


def test_get_vanilla_every_stage() -> None:
    signed = sigv4.sign(
        method="GET",
        host="example.amazonaws.com",
        path="/",
        payload_hash=sigv4.EMPTY_SHA256,
        **SUITE,
    )
    assert signed.canonical_request == (
        "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    assert signed.string_to_sign == (
        "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
        "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"
    )
    assert signed.authorization == (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        "SignedHeaders=host;x-amz-date, "
        "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
    )
    assert signed.headers == {
        "x-amz-date": "20150830T123600Z",
        "authorization": signed.authorization,
    }


def test_get_vanilla_query_order_key_case_sorts_parameters() -> None:
    signed = sigv4.sign(
        method="GET",
        host="example.amazonaws.com",
        path="/",
        query=[("Param2", "value2"), ("Param1", "value1")],
        payload_hash=sigv4.EMPTY_SHA256,
        **SUITE,
    )
    assert signed.canonical_request.split("\n")[2] == "Param1=value1&Param2=value2"
    assert signed.signature == "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"


def test_post_vanilla() -> None:
    signed = sigv4.sign(
        method="POST",
        host="example.amazonaws.com",
        path="/",
        payload_hash=sigv4.EMPTY_SHA256,
        **SUITE,
    )
    assert signed.signature == "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"


def test_s3_get_object_example() -> None:
    signed = sigv4.sign(
        method="GET",
        host=S3_HOST,
        path="/test.txt",
        headers={"Range": "bytes=0-9", "x-amz-content-sha256": sigv4.EMPTY_SHA256},
        payload_hash=sigv4.EMPTY_SHA256,
        **S3,
    )
    assert signed.canonical_request == (
        "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
        "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
        "x-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n"
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    assert signed.string_to_sign == (
        "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
        "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972"
    )
    assert signed.signature == "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"


def test_s3_put_object_example_encodes_the_dollar_in_the_key() -> None:
    payload_hash = sigv4.sha256_hex(b"Welcome to Amazon S3.")
    assert payload_hash == "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"
    signed = sigv4.sign(
        method="PUT",
        host=S3_HOST,
        path="/test$file.text",
        headers={
            "Date": "Fri, 24 May 2013 00:00:00 GMT",
            "x-amz-storage-class": "REDUCED_REDUNDANCY",
            "x-amz-content-sha256": payload_hash,
        },
        payload_hash=payload_hash,
        **S3,
    )
    assert signed.canonical_request.split("\n")[1] == "/test%24file.text"
    assert "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class," in (
        signed.authorization
    )
    assert signed.signature == "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ([("lifecycle", "")], "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"),
        (
            [("max-keys", "2"), ("prefix", "J")],
            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
        ),
    ],
)
def test_s3_bucket_examples(query: list[tuple[str, str]], expected: str) -> None:
    signed = sigv4.sign(
        method="GET",
        host=S3_HOST,
        path="/",
        query=query,
        headers={"x-amz-content-sha256": sigv4.EMPTY_SHA256},
        payload_hash=sigv4.EMPTY_SHA256,
        **S3,
    )
    assert signed.signature == expected


def test_signing_key_is_the_documented_hmac_chain() -> None:
    # The derivation the test suite's "signing key" step describes, written out by hand.
    import hashlib
    import hmac

    def h(key: bytes, msg: str) -> bytes:
        return hmac.new(key, msg.encode(), hashlib.sha256).digest()

    expected = h(h(h(h(b"AWS4secret", "20150830"), "us-east-1"), "s3"), "aws4_request")
    assert sigv4.signing_key("secret", "20150830", "us-east-1", "s3") == expected


def test_uri_encode_follows_aws_rules_not_urllib() -> None:
    assert sigv4.uri_encode("a b+c~d/e*") == "a%20b%2Bc~d%2Fe%2A"
    assert sigv4.uri_encode("a/b", encode_slash=False) == "a/b"
    assert sigv4.uri_encode("é") == "%C3%A9"
    assert sigv4.canonical_uri("bucket/key") == "/bucket/key"
    # S3 never normalises: '//' and '.' segments stay as sent.
    assert sigv4.canonical_uri("/b//./k") == "/b//./k"


def test_canonical_query_sorts_by_encoded_name_then_value() -> None:
    assert sigv4.canonical_query([("b", "2"), ("a", "z"), ("a", "y"), ("A", "x")]) == (
        "A=x&a=y&a=z&b=2"
    )
    assert sigv4.canonical_query([("prefix", "a b")]) == "prefix=a%20b"


def test_canonical_headers_trim_collapse_and_join_repeats() -> None:
    block, names = sigv4.canonical_headers(
        [("My-Header", "  a   b  "), ("my-header", "c"), ("Host", "h"), ("Other", "x")],
        ["host", "my-header"],
    )
    assert block == "host:h\nmy-header:a b,c\n"
    assert names == "host;my-header"


def test_canonical_headers_missing_signed_header_raises_key_error() -> None:
    with pytest.raises(KeyError, match="signed header 'range' is not in the request"):
        sigv4.canonical_headers([("host", "h")], ["host", "range"])


def test_amz_date_converts_to_utc_and_parses_back() -> None:
    when = datetime(2024, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2)))
    assert sigv4.amz_date(when) == "20240102T030405Z"
    assert sigv4.amz_date(datetime(2024, 1, 2, 3, 4, 5)) == "20240102T030405Z"
    assert sigv4.parse_amz_date("20240102T030405Z") == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_parse_amz_date_rejects_other_formats() -> None:
    with pytest.raises(ValueError, match="is not an x-amz-date"):
        sigv4.parse_amz_date("2024-01-02T03:04:05Z")


def test_parse_authorization_with_and_without_spaces() -> None:
    spaced = sigv4.parse_authorization(
        "AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=abc"
    )
    compact = sigv4.parse_authorization(
        "AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request,"
        "SignedHeaders=host;x-amz-date,Signature=abc"
    )
    assert spaced == compact
    assert spaced.access_key_id == "AK"
    assert spaced.scope == "20130524/us-east-1/s3/aws4_request"
    assert spaced.signed_headers == ["host", "x-amz-date"]
    assert spaced.signature == "abc"


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("Bearer x", "must start with 'AWS4-HMAC-SHA256'"),
        ("AWS4-HMAC-SHA256 Credential", "has no '='"),
        ("AWS4-HMAC-SHA256 Credential=a/b/c/d/e, Signature=x", "has no SignedHeaders"),
        ("AWS4-HMAC-SHA256 Credential=a/b, SignedHeaders=host, Signature=x", "the Credential must"),
    ],
)
def test_parse_authorization_errors(header: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sigv4.parse_authorization(header)
