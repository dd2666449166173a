"""Domain errors. Each carries its HTTP status; one handler renders `{"error", "detail"}`."""

from functools import cache
from typing import Any, ClassVar

from pydantic import BaseModel, Field


class AppError(Exception):
    status_code: ClassVar[int] = 500
    headers: dict[str, str] | None = None

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if headers is not None:
            self.headers = headers

    @classmethod
    def schema(cls) -> type[BaseModel]:
        """The response model for this error, used in each route's `responses=`."""
        return _error_model(cls.__name__)

    def body(self) -> dict[str, Any]:
        return {"error": type(self).__name__, "detail": self.detail}


class BadRequest(AppError):
    status_code = 400


class Unauthorized(AppError):
    status_code = 401

    def __init__(self, detail: str = "Authentication required.") -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer realm="flashfusion"'})


class NotPermitted(AppError):
    """The caller is authenticated but its role does not allow the action."""

    status_code = 403


class InsufficientScope(AppError):
    """The API key lacks the scope the operation needs."""

    status_code = 403


class ResourceNotFound(AppError):
    status_code = 404

    def __init__(self, resource: str = "Resource") -> None:
        # Never echo the id: a foreign id and a missing id must produce identical bodies.
        super().__init__(f"{resource} not found.")


class Conflict(AppError):
    status_code = 409


class Gone(AppError):
    status_code = 410


class UnprocessableEntity(AppError):
    """A well-formed payload that breaks a business rule (distinct from schema validation)."""

    status_code = 422


class TooManyRequests(AppError):
    status_code = 429

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(max(1, retry_after))})
        self.retry_after = max(1, retry_after)


@cache
def _error_model(name: str) -> type[BaseModel]:
    class _Error(BaseModel):
        error: str = Field(examples=[name], description="Error type.")
        detail: str = Field(description="What went wrong and what to do about it.")

    _Error.__name__ = _Error.__qualname__ = name
    return _Error


def error_responses(*errors: type[AppError]) -> dict[int | str, dict[str, Any]]:
    """Build a route's `responses=` mapping from the errors it may raise."""
    responses: dict[int | str, dict[str, Any]] = {}
    for error in errors:
        responses[error.status_code] = {"model": error.schema(), "description": error.__doc__}
    return responses


class ValidationIssue(BaseModel):
    loc: list[str | int] = Field(description="Where: `body`, `query` or `path`, then the field.")
    msg: str = Field(description="What is wrong with the value.")
    type: str = Field(description="Machine-readable kind of problem.")


class RequestValidationErrorBody(BaseModel):
    """The body of a 422 (rendered by the handler in `app.py`)."""

    error: str = Field(examples=["RequestValidationError"], description="Error type.")
    detail: str = Field(description="Every problem as `field: message`, joined by `; `.")
    errors: list[ValidationIssue] = Field(description="The problems one by one.")


def api_error_responses() -> dict[int | str, dict[str, Any]]:
    """Errors any API route may answer with: bad credentials or scope, bad input."""
    return {
        400: {"model": BadRequest.schema(), "description": "The body could not be decoded."},
        401: {"model": Unauthorized.schema(), "description": "Missing, unknown or revoked key."},
        **error_responses(InsufficientScope),
        422: {
            "model": RequestValidationErrorBody,
            "description": "The parameters or the body are invalid.",
        },
    }
