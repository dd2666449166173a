"""Prometheus metrics, served at /metrics."""

from prometheus_client import Counter, Histogram

HTTP_REQUESTS = Counter(
    "flashfusion_http_requests_total",
    "HTTP requests handled, by method, route template and status code.",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "flashfusion_http_request_duration_seconds",
    "Time to handle an HTTP request, by method and route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
LOGIN_ATTEMPTS = Counter(
    "flashfusion_login_attempts_total",
    "Sign-in attempts by outcome (ok, invalid, throttled, mfa_required, unverified).",
    ["outcome"],
)
