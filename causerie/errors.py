"""Domain errors. The API layer maps each type to OpenAI's error envelope in one place."""

from __future__ import annotations


class CauserieError(Exception):
    """Base class of errors that carry a message meant for the user."""

    status_code = 500
    error_type = "server_error"
    code: str | None = None
    retry_after: int | None = None
    """Seconds after which the same request may succeed (sent as ``Retry-After``); None: not said."""

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code


class InvalidRequest(CauserieError):
    status_code = 400
    error_type = "invalid_request_error"


class ContextLengthExceeded(InvalidRequest):
    code = "context_length_exceeded"


class RequestTooLarge(InvalidRequest):
    """The request body is over the server's size limit (``max_request_bytes``, ``max_upload_bytes``)."""

    status_code = 413
    code = "request_too_large"


class ModelNotFound(CauserieError):
    status_code = 404
    error_type = "invalid_request_error"
    code = "model_not_found"


class ModelUnavailable(CauserieError):
    """The model exists but its file cannot be loaded (missing, corrupt)."""

    status_code = 503
    error_type = "server_error"
    code = "model_unavailable"


class UpstreamUnavailable(CauserieError):
    """No replica of a remote model can take the request now (all down, or all refused it)."""

    status_code = 503
    error_type = "server_error"
    code = "upstream_unavailable"

    def __init__(self, message: str, *, retry_after: int, param: str | None = None) -> None:
        super().__init__(message, param=param)
        self.retry_after = retry_after


class UpstreamFailed(CauserieError):
    """A remote engine failed after its reply had started (the connection was cut, the stream broke)."""

    status_code = 502
    error_type = "server_error"
    code = "upstream_error"


class Overloaded(CauserieError):
    """More requests wait for this model than its queue holds (``max_queued``): come back later."""

    status_code = 503
    error_type = "server_error"
    code = "model_overloaded"

    def __init__(self, message: str, *, retry_after: int, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message, param=param, code=code)
        self.retry_after = retry_after


class RateLimited(CauserieError):
    """Too many requests of one kind (sign-in attempts) in a window: come back after ``retry_after`` seconds."""

    status_code = 429
    error_type = "requests"
    code = "rate_limit_exceeded"

    def __init__(self, message: str, *, retry_after: int, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message, param=param, code=code)
        self.retry_after = retry_after


class AuthenticationFailed(CauserieError):
    status_code = 401
    error_type = "invalid_request_error"
    code = "invalid_api_key"


class ConversationNotFound(CauserieError):
    status_code = 404
    error_type = "invalid_request_error"
    code = "conversation_not_found"


class MessageNotFound(CauserieError):
    status_code = 404
    error_type = "invalid_request_error"
    code = "message_not_found"


class GenerationInProgress(CauserieError):
    """A conversation writes one reply at a time."""

    status_code = 409
    error_type = "invalid_request_error"
    code = "generation_in_progress"


class StorageUnavailable(CauserieError):
    """The conversation database cannot be opened or reached."""

    status_code = 503
    error_type = "server_error"
    code = "storage_unavailable"


class ExtraNotInstalled(CauserieError):
    """A feature needs an optional part of Causerie (a pyproject extra) that is not installed."""

    code = "extra_not_installed"


class NotFound(CauserieError):
    """An object that does not exist, or that belongs to another owner (the same answer for both)."""

    status_code = 404
    error_type = "invalid_request_error"
    code = "not_found"


class Conflict(CauserieError):
    status_code = 409
    error_type = "invalid_request_error"
    code = "conflict"


class PermissionDenied(CauserieError):
    """The principal is known but its role does not allow the operation (the admin API for a member)."""

    status_code = 403
    error_type = "invalid_request_error"
    code = "insufficient_permissions"


class ResponseNotFound(CauserieError):
    """No stored response with that id is the principal's (the Responses API)."""

    status_code = 404
    error_type = "invalid_request_error"
    code = "response_not_found"
