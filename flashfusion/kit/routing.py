"""Shared endpoint plumbing: pagination dependency, id path parameters, operation ids."""

import uuid
from typing import Annotated

from fastapi import Depends, Path
from fastapi.routing import APIRoute

from flashfusion.kit.pagination import PaginationParams, get_pagination_params

PaginationParamsDep = Annotated[PaginationParams, Depends(get_pagination_params)]


ObjectID = Annotated[uuid.UUID, Path(description="The object's id (a UUID).")]


def operation_id(route: APIRoute) -> str:
    """Stable operation ids, `<tag>:<function name>`, for generated clients."""
    tag = str(route.tags[0]) if route.tags else "default"
    return f"{tag}:{route.name}"
