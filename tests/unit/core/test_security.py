"""a3t.rpc.security's settings and token check, without a server."""

import pytest

from a3t.errors import ConfigError, Unauthenticated
from a3t.rpc.security import Security, TokenCheck, load_security

PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def test_nothing_set_is_everything_off():
    assert load_security({}) == Security()


def test_files_are_read_and_the_token_loses_its_trailing_newline(tmp_path):
    (tmp_path / "token").write_text("abc.DEF-123\n")
    (tmp_path / "ca.crt").write_text(PEM)
    (tmp_path / "tls.crt").write_text(PEM)
    (tmp_path / "tls.key").write_text(PEM.replace("CERTIFICATE", "PRIVATE KEY"))
    security = load_security(
        {
            "A3T_AUTH_TOKEN_FILE": str(tmp_path / "token"),
            "A3T_TLS_CA_FILE": str(tmp_path / "ca.crt"),
            "A3T_TLS_CERT_FILE": str(tmp_path / "tls.crt"),
            "A3T_TLS_KEY_FILE": str(tmp_path / "tls.key"),
        }
    )
    assert security.token == "abc.DEF-123"
    assert security.root_certificates == PEM.encode()
    assert security.cert_chain == PEM.encode()
    assert security.private_key.startswith(b"-----BEGIN PRIVATE KEY")


def test_every_bad_variable_is_named_in_one_error(tmp_path):
    (tmp_path / "empty").write_text("\n")
    (tmp_path / "spaced").write_text("two words")
    (tmp_path / "notpem").write_text("hello")
    with pytest.raises(ConfigError) as info:
        load_security(
            {
                "A3T_AUTH_TOKEN_FILE": str(tmp_path / "empty"),
                "A3T_TLS_CERT_FILE": str(tmp_path / "notpem"),
                "A3T_TLS_CA_FILE": str(tmp_path / "missing"),
            }
        )
    assert info.value.problems == [
        f"$A3T_AUTH_TOKEN_FILE: {tmp_path / 'empty'} must hold one token of printable ASCII "
        "characters without spaces (a trailing newline is ignored); it is empty",
        f"$A3T_TLS_CERT_FILE: {tmp_path / 'notpem'} is not a PEM file (no -----BEGIN)",
        f"$A3T_TLS_CA_FILE: cannot read {tmp_path / 'missing'}: [Errno 2] No such file or "
        f"directory: '{tmp_path / 'missing'}'",
        "$A3T_TLS_CERT_FILE and $A3T_TLS_KEY_FILE go together: set both (servers listen with "
        "TLS) or neither",
    ]
    with pytest.raises(ConfigError, match=r"it holds other characters"):
        load_security({"A3T_AUTH_TOKEN_FILE": str(tmp_path / "spaced")})


def test_token_check_accepts_only_the_bearer_token():
    check = TokenCheck("t0k")
    check.check([("x-other", "1"), ("authorization", "Bearer t0k")])
    for metadata, message in [
        (None, "requires the metadata"),
        ([("authorization", "Bearer t0")], "does not carry"),
        ([("authorization", "Bearer t0k2")], "does not carry"),
        ([("authorization", "t0k")], "does not carry"),
    ]:
        with pytest.raises(Unauthenticated, match=message):
            check.check(metadata)
