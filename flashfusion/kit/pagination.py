"""Page-number pagination shared by every list endpoint."""

from typing import Annotated, Generic, NamedTuple, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field


class PaginationParams(NamedTuple):
    page: int
    limit: int


MAX_LIMIT = 100
# Keeps OFFSET = (page - 1) * limit far inside a 64-bit integer: past it the database raises.
MAX_PAGE = 1_000_000


async def get_pagination_params(
    page: Annotated[
        int, Query(ge=1, le=MAX_PAGE, description=f"Page number, from 1 (max {MAX_PAGE}).")
    ] = 1,
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description=f"Items per page (max {MAX_LIMIT}).")
    ] = 20,
) -> PaginationParams:
    return PaginationParams(page, limit)


class Pagination(BaseModel):
    total_count: int = Field(description="Number of items across all pages.")
    max_page: int = Field(description="Number of the last page.")


T = TypeVar("T")


class ListResource(BaseModel, Generic[T]):
    items: list[T] = Field(description="The items on this page.")
    pagination: Pagination

    @classmethod
    def build(
        cls, items: list[T], total_count: int, pagination: PaginationParams
    ) -> "ListResource[T]":
        max_page = max(1, -(-total_count // pagination.limit))
        return cls(items=items, pagination=Pagination(total_count=total_count, max_page=max_page))
