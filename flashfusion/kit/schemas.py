"""Pydantic base classes: strict input (no silent coercion), ORM-backed output."""

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints


class Schema(BaseModel):
    # Strict: `false` is not 0, "1" is not 1. FastAPI validates the decoded JSON in Python mode,
    # where strict accepts only UUID, datetime and enum *instances*: input fields of those types
    # are marked `strict=False` (`Strict(False)` on list items) to take their JSON string form.
    model_config = ConfigDict(strict=True, extra="forbid", from_attributes=True)


class ReadSchema(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class IDSchema(ReadSchema):
    id: uuid.UUID = Field(description="The object's id.")


class TimestampedSchema(IDSchema):
    created_at: datetime = Field(description="Creation time (UTC).")
    modified_at: datetime | None = Field(description="Last modification time (UTC).")


EmailStrLower = Annotated[
    str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=3, max_length=320)
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
