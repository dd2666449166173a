"""Sandbox twins: one small ASGI app per external service, speaking its real wire format.

Tests and benchmarks use them as the real peer (in-process through `httpx.ASGITransport`, or on a
local port); users get them as "sandbox mode". Each has fault-injection knobs and request counters.
See DESIGN.md section 6.
"""
