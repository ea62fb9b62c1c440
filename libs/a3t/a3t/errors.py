"""The project's exceptions. Core code raises these; `a3t.rpc.server` maps each to one gRPC status.

A message names the field that was wrong and how to fix it, e.g.
`InvalidArgument("action must not be empty; send an action such as 'look'")`.
"""

from __future__ import annotations


def quote(text: str, limit: int = 80) -> str:
    """Client text for an error message: its repr, cut to `limit` characters with the length
    said, so that a huge field cannot make a status message too large to send."""
    return repr(text) if len(text) <= limit else f"{text[:limit]!r}... ({len(text)} characters)"


class A3tError(Exception):
    """Base of every a3t error. Maps to INTERNAL unless a subclass says otherwise."""

    code_name = "INTERNAL"


class InvalidArgument(A3tError):
    """The request itself is wrong, whatever the server's state (bad or missing field)."""

    code_name = "INVALID_ARGUMENT"


class ContextOverflow(InvalidArgument):
    """The prompt does not fit the model's context. Callers that build the prompt from an
    episode's history drop its oldest steps and ask again (a3t.inference.fit)."""


class NotFound(A3tError):
    """A named thing (session, task, run, adapter) does not exist or has expired."""

    code_name = "NOT_FOUND"


class AlreadyExists(A3tError):
    code_name = "ALREADY_EXISTS"


class FailedPrecondition(A3tError):
    """The request is well formed but the system is not in a state to carry it out."""

    code_name = "FAILED_PRECONDITION"


class OutOfRange(A3tError):
    code_name = "OUT_OF_RANGE"


class ResourceExhausted(A3tError):
    """A limit was hit (max sessions, memory cap); retrying later may work. With
    `retry_after_seconds` the status carries a google.rpc.RetryInfo saying when (the server is
    busy for a moment, not full), and a3t's clients retry after that delay."""

    code_name = "RESOURCE_EXHAUSTED"

    def __init__(self, message: str, retry_after_seconds: float | None = None):
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class Aborted(A3tError):
    """The work it belonged to is gone (e.g. a session lost with its worker): retrying the same
    call cannot help; start over one level up (open a new session)."""

    code_name = "ABORTED"


class Unavailable(A3tError):
    """A dependency is not reachable or not ready; safe to retry with backoff."""

    code_name = "UNAVAILABLE"


class Unimplemented(A3tError):
    code_name = "UNIMPLEMENTED"


class Unauthenticated(A3tError):
    """The call lacks the shared token the services are configured with (a3t.rpc.security)."""

    code_name = "UNAUTHENTICATED"


class ConfigError(A3tError):
    """Configuration problems, all of them in one message (raised at start-up)."""

    code_name = "INVALID_ARGUMENT"

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("invalid configuration:\n  - " + "\n  - ".join(self.problems))
