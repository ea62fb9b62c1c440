"""Transport security shared by every a3t process: a shared bearer token and TLS, both optional.

One set of environment variables, read by servers and clients alike, so that a Kubernetes Secret
mounted into every pod (deploy/helm/a3t: `auth.tokenSecret`, `tls.secret`) switches it on
everywhere at once:

- `A3T_AUTH_TOKEN_FILE`: a file holding the token. Servers then refuse every RPC except
  grpc.health.v1 (Kubernetes' native gRPC probes cannot send metadata) that lacks the metadata
  `authorization: Bearer <token>` with UNAUTHENTICATED; `a3t.rpc.client.channel()` sends it.
- `A3T_TLS_CERT_FILE` + `A3T_TLS_KEY_FILE`: PEM certificate chain and key; servers then listen
  with TLS only.
- `A3T_TLS_CA_FILE`: PEM CA bundle; `channel()` then opens TLS channels that verify the server
  against it (the target's host name must be in the server certificate).

Unset, everything is plaintext without a token, as on a developer machine where services bind
127.0.0.1. The files are read when a server starts and when a channel is made, so a rotated
Secret takes effect as pods restart.
"""

from __future__ import annotations

import dataclasses
import hmac
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grpc import aio

from a3t.errors import Unauthenticated
from a3t.settings import load_shared_settings

# Printable ASCII without spaces: what an HTTP/2 header value and a bearer token may hold.
_TOKEN = re.compile(r"[\x21-\x7e]+")
AUTHORIZATION = "authorization"


def _variable(field: str) -> str:
    return f"A3T_{field.upper()}"


@dataclass(frozen=True)
class SecuritySettings:
    """Where the token and TLS files are (environment `A3T_<FIELD>` only; unset = off)."""

    auth_token_file: Path | None = None
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    tls_ca_file: Path | None = None

    def problems(self) -> list[str]:
        found = []
        for f in dataclasses.fields(self):
            path = getattr(self, f.name)
            if path is None:
                continue
            try:
                text = path.read_text()
            except (OSError, UnicodeDecodeError) as exc:
                found.append(f"${_variable(f.name)}: cannot read {path}: {exc}")
                continue
            if f.name == "auth_token_file":
                if not _TOKEN.fullmatch(text.strip()):
                    found.append(
                        f"${_variable(f.name)}: {path} must hold one token of printable ASCII "
                        "characters without spaces (a trailing newline is ignored); "
                        + ("it is empty" if not text.strip() else "it holds other characters")
                    )
            elif "-----BEGIN" not in text:
                found.append(f"${_variable(f.name)}: {path} is not a PEM file (no -----BEGIN)")
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            found.append(
                "$A3T_TLS_CERT_FILE and $A3T_TLS_KEY_FILE go together: set both (servers listen "
                "with TLS) or neither"
            )
        return found


@dataclass(frozen=True)
class Security:
    """What the configured files hold; None where off."""

    token: str | None = None
    cert_chain: bytes | None = None
    private_key: bytes | None = None
    root_certificates: bytes | None = None


def load_security(environ: Mapping[str, str] | None = None) -> Security:
    """Reads the files the environment names; raises ConfigError naming every bad variable."""
    settings = load_shared_settings(SecuritySettings, environ=environ)

    def read(path: Path | None) -> bytes | None:
        return None if path is None else path.read_bytes()

    token = settings.auth_token_file
    return Security(
        token=None if token is None else token.read_text().strip(),
        cert_chain=read(settings.tls_cert_file),
        private_key=read(settings.tls_key_file),
        root_certificates=read(settings.tls_ca_file),
    )


class TokenCheck:
    """The server side: compares the call's `authorization` metadata with the token in constant
    time (hmac.compare_digest), so the answer's timing says nothing about how much matched."""

    def __init__(self, token: str):
        self._expected = f"Bearer {token}".encode()

    def check(self, metadata: Any) -> None:
        """Raises Unauthenticated unless `metadata` (pairs) carries the token."""
        sent = [value for key, value in (metadata or ()) if key == AUTHORIZATION]
        if not sent:
            raise Unauthenticated(
                "this server requires the metadata 'authorization: Bearer <token>' with the "
                "shared token; set A3T_AUTH_TOKEN_FILE on the client to the same token file"
            )
        value = sent[0].encode() if isinstance(sent[0], str) else sent[0]
        if not hmac.compare_digest(value, self._expected):
            raise Unauthenticated(
                "the 'authorization' metadata does not carry this server's token; check that "
                "client and server read the same A3T_AUTH_TOKEN_FILE"
            )


class _WithToken:
    """Adds `authorization: Bearer <token>` to each call's metadata. aio sorts a channel's
    interceptors by their first matching kind, so each RPC kind needs its own class below."""

    def __init__(self, token: str):
        self._pair = (AUTHORIZATION, f"Bearer {token}")

    def _details(self, details: aio.ClientCallDetails) -> aio.ClientCallDetails:
        metadata = aio.Metadata(*(details.metadata or ()), self._pair)
        return aio.ClientCallDetails(
            details.method, details.timeout, metadata, details.credentials, details.wait_for_ready
        )


# Each continuation takes the call details and the request (or the request iterator) and returns
# the call; the four differ only in the kinds grpc's stubs give them.
class _UnaryUnary(_WithToken, aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(
        self,
        continuation: Callable[..., Any],
        client_call_details: aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        return await continuation(self._details(client_call_details), request)


class _UnaryStream(_WithToken, aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(
        self,
        continuation: Callable[..., Any],
        client_call_details: aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        return await continuation(self._details(client_call_details), request)


class _StreamUnary(_WithToken, aio.StreamUnaryClientInterceptor):
    async def intercept_stream_unary(
        self,
        continuation: Callable[..., Any],
        client_call_details: aio.ClientCallDetails,
        request_iterator: Any,
    ) -> Any:
        return await continuation(self._details(client_call_details), request_iterator)


class _StreamStream(_WithToken, aio.StreamStreamClientInterceptor):
    async def intercept_stream_stream(
        self,
        continuation: Callable[..., Any],
        client_call_details: aio.ClientCallDetails,
        request_iterator: Any,
    ) -> Any:
        return await continuation(self._details(client_call_details), request_iterator)


def token_interceptors(token: str) -> list[aio.ClientInterceptor]:
    """Client interceptors that send `token` on every kind of RPC."""
    return [kind(token) for kind in (_UnaryUnary, _UnaryStream, _StreamUnary, _StreamStream)]
