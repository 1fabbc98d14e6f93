"""The SRP-6a arithmetic on both sides of `autopilot login`, against RFC 5054 Appendix B's test vectors: the
client's in pycognito (what the CLI signs in with) and the server's in tests/support/cognito.py (what the
sign-in tests check the client's proof with; moto checks none).

Cognito's SRP is SRP-6a with SHA-256, the 3072-bit group and its own encodings (x hashes the pool name and the
user id; numbers are padded to a sign byte, not to the length of N), so RFC 5054's SHA-1 hashes cannot be
compared as they are: the RFC's k, x and u go in where Cognito's hashes would be, and the group arithmetic
must give the RFC's A, B and premaster secret S."""

from __future__ import annotations

from typing import Any

import pytest
from pycognito import aws_srp

from tests.support.cognito import K, N, server_premaster, server_public

# RFC 5054 Appendix A's 1024-bit group and Appendix B's values (I = "alice", P = "password123")
RFC_N = int(
    "EEAF0AB9ADB38DD69C33F80AFA8FC5E86072618775FF3C0B9EA2314C9C256576D674DF7496EA81D3383B4813D692C6E0E0D5D8E250"
    "B98BE48E495C1D6089DAD15DC7D7B46154D6B6CE8EF4AD69B15D4982559B297BCF1885C529F566660E57EC68EDBC3C05726CC02FD4"
    "CBF4976EAA9AFD5138FE8376435B9FC61D2FC0EB06E3",
    16,
)
RFC_G = 2
RFC_SALT = "BEB25379D1A8581EB5A727673A2441EE"
RFC_K = int("7556AA045AEF2CDD07ABAF0F665C3E818913186F", 16)
RFC_X = int("94B7555AABE9127CC58CCF4993DB6CF84D16C124", 16)
RFC_V = int(
    "7E273DE8696FFC4F4E337D05B4B375BEB0DDE1569E8FA00A9886D8129BADA1F1822223CA1A605B530E379BA4729FDC59F105B4787E"
    "5186F5C671085A1447B52A48CF1970B4FB6F8400BBF4CEBFBB168152E08AB5EA53D15C1AFF87B2B9DA6E04E058AD51CC72BFC9033B"
    "564E26480D78E955A5E29E7AB245DB2BE315E2099AFB",
    16,
)
RFC_A_PRIVATE = int("60975527035CF2AD1989806F0407210BC81EDC04E2762A56AFD529DDDA2D4393", 16)
RFC_B_PRIVATE = int("E487CB59D31AC550471E81F00F6928E01DDA08E974A004F49E61F5D105284D20", 16)
RFC_A = int(
    "61D5E490F6F1B79547B0704C436F523DD0E560F0C64115BB72557EC44352E8903211C04692272D8B2D1A5358A2CF1B6E0BFCF99F92"
    "1530EC8E39356179EAE45E42BA92AEACED825171E1E8B9AF6D9C03E1327F44BE087EF06530E69F66615261EEF54073CA11CF5858F0"
    "EDFDFE15EFEAB349EF5D76988A3672FAC47B0769447B",
    16,
)
RFC_B = int(
    "BD0C61512C692C0CB6D041FA01BB152D4916A1E77AF46AE105393011BAF38964DC46A0670DD125B95A981652236F99D9B681CBF878"
    "37EC996C6DA04453728610D0C6DDB58B318885D7D82C7F8DEB75CE7BD4FBAA37089E6F9C6059F388838E7A00030B331EB768409104"
    "40B1B27AAEAEEB4012B7D7665238A8E3FB004B117B58",
    16,
)
RFC_U = int("CE38B9593487DA98554ED47D70A7AE5F462EF019", 16)
RFC_S = int(
    "B0DC82BABCF30674AE450C0287745E7990A3381F63B387AAF271A10D233861E359B48220F7C4693C9AE12B0A6F67809F0876E2D013"
    "800D6C41BB59B6D5979B5C00A172B4A2A5903A0BDCAF8A709585EB2AFAFA8F3499B200210DCC1F10EB33943CD67FC88A2F39A4BE5B"
    "EC4EC0A3212DC346D7E474B29EDE8A469FFECA686E5A",
    16,
)


def _client_on_the_rfc_group(a: int = RFC_A_PRIVATE) -> Any:
    srp = aws_srp.AWSSRP("alice", "password123", "us-east-1_pool", "client", client=object())
    srp.big_n, srp.val_g, srp.val_k = RFC_N, RFC_G, RFC_K
    srp.small_a_value = a
    srp.large_a_value = srp.calculate_a()
    return srp


def test_pycognito_computes_the_rfc_5054_client_public_value_and_premaster_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given pycognito's client on the RFC's group with the RFC's a, and the RFC's u and x where its hashes go
    srp = _client_on_the_rfc_group()
    monkeypatch.setattr(aws_srp, "calculate_u", lambda big_a, big_b: RFC_U)
    monkeypatch.setattr(aws_srp, "hex_hash", lambda _: f"{RFC_X:x}")
    premasters: list[bytes] = []
    monkeypatch.setattr(aws_srp, "compute_hkdf", lambda ikm, salt: premasters.append(bytes(ikm)) or b"k")
    # When it derives its key from the RFC's B
    srp.get_password_authentication_key("alice", "password123", RFC_B, RFC_SALT)
    # Then A = g^a and S = (B - k*g^x)^(a + u*x) are the RFC's
    assert srp.large_a_value == RFC_A
    assert int.from_bytes(premasters[0], "big") == RFC_S


def test_the_test_servers_srp_arithmetic_gives_the_rfc_5054_values() -> None:
    # Given the RFC's verifier, b, A and u
    # When the sign-in tests' server computes B and its premaster secret
    big_b = server_public(RFC_V, RFC_B_PRIVATE, k=RFC_K, g=RFC_G, n=RFC_N)
    premaster = server_premaster(RFC_A, RFC_V, RFC_U, RFC_B_PRIVATE, n=RFC_N)
    # Then they are the RFC's B and S, and v is g^x
    assert big_b == RFC_B and premaster == RFC_S
    assert pow(RFC_G, RFC_X, RFC_N) == RFC_V


def test_a_wrong_password_gives_the_client_another_premaster_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the RFC's exchange, but a client whose x (its password) differs by one
    srp = _client_on_the_rfc_group()
    monkeypatch.setattr(aws_srp, "calculate_u", lambda big_a, big_b: RFC_U)
    monkeypatch.setattr(aws_srp, "hex_hash", lambda _: f"{RFC_X + 1:x}")
    premasters: list[bytes] = []
    monkeypatch.setattr(aws_srp, "compute_hkdf", lambda ikm, salt: premasters.append(bytes(ikm)) or b"k")
    # When it derives its key
    srp.get_password_authentication_key("alice", "not-password123", RFC_B, RFC_SALT)
    # Then its S is not the server's: the proof it signs cannot verify
    assert int.from_bytes(premasters[0], "big") != server_premaster(
        RFC_A, RFC_V, RFC_U, RFC_B_PRIVATE, n=RFC_N
    )


def test_pycognito_and_the_test_server_use_cognitos_group_and_multiplier() -> None:
    # Given / When pycognito's client with Cognito's parameters
    srp = aws_srp.AWSSRP("alice", "pw", "us-east-1_pool", "client", client=object())
    # Then it is the 3072-bit group, g = 2, and k = H(N | g) the test server uses
    assert (srp.big_n, srp.val_g, srp.val_k) == (N, 2, K)
    assert N.bit_length() == 3072
