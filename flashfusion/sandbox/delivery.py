"""How twins served on ports (`flashfusion sandbox serve`) deliver their webhooks: a real HTTP
POST of the signed body to the URL the integration registered, as the platforms do."""

from collections.abc import Mapping

import httpx

# FlashFusion's choice for the twins, not a platform figure (Shopify documents 5 s; the others
# publish none in the sources read).
DELIVERY_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


class DeliveryFailed(RuntimeError):
    """The receiver did not answer 2xx: the twin keeps the delivery and tries again later."""


async def http_deliver(url: str, headers: Mapping[str, str], body: bytes) -> httpx.Response:
    async with httpx.AsyncClient(timeout=DELIVERY_TIMEOUT) as client:
        response = await client.post(url, headers=dict(headers), content=body)
    if not response.is_success:
        raise DeliveryFailed(f"{url} answered {response.status_code}")
    return response
