"""Shared endpoint plumbing: pagination dependency, id path parameters, operation ids, route
warm-up."""

import uuid
from typing import Annotated

from fastapi import Depends, FastAPI, Path
from fastapi.routing import APIRoute

from flashfusion.kit.pagination import PaginationParams, get_pagination_params

PaginationParamsDep = Annotated[PaginationParams, Depends(get_pagination_params)]


ObjectID = Annotated[uuid.UUID, Path(description="The object's id (a UUID).")]


def operation_id(route: APIRoute) -> str:
    """Stable operation ids, `<tag>:<function name>`, for generated clients."""
    tag = str(route.tags[0]) if route.tags else "default"
    return f"{tag}:{route.name}"


# A path no route has: matching it walks every route of every included router.
_NO_SUCH_PATH = "/\x00warm-routes"


def warm_routes(app: FastAPI) -> None:
    """Resolve every route now rather than on the first request that reaches it.

    FastAPI (0.165) builds an included route's effective context -- its request model and
    pydantic validators -- the first time a request is matched past it: about 1-2 s for this
    app's ~500 routes on this machine, on whatever event loop serves that request. In a
    process that is running a batch, that is a stall of its publishing when the first webhook
    comes in (docs/benchmarks.md). Matching a path no route has builds them all once."""
    scope = {
        "type": "http",
        "method": "GET",
        "path": _NO_SUCH_PATH,
        "root_path": "",
        "headers": [],
        "query_string": b"",
    }
    for route in app.router.routes:
        route.matches(dict(scope))
