from pydantic import Field

from flashfusion.kit.schemas import Name, Schema, TimestampedSchema


class Organization(TimestampedSchema):
    name: str = Field(description="Workspace name.")
    slug: str = Field(description="URL-safe unique short name.")


class OrganizationCreate(Schema):
    name: Name = Field(description="Workspace name, 1-100 characters.")


class OrganizationUpdate(Schema):
    name: Name | None = Field(default=None, description="New workspace name.")
