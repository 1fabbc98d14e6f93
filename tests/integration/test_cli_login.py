"""`autopilot login` against the template's user pool and app client on moto, with Cognito's SRP verification
in front (tests/support/cognito.py): SRP sign-in gives a token the API's JWT authorizer accepts, a wrong
password is refused with a clear error, TOTP MFA and a temporary password are answered, no password shown."""

from __future__ import annotations

import base64
import gzip
import io
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import jwt
import moto
import pytest
from cryptography.hazmat.primitives.hashes import SHA1
from cryptography.hazmat.primitives.twofactor.totp import TOTP
from moto import mock_aws

from local import cli, cli_login
from local.moto_process import free_port
from tests.support.cognito import SrpCognito, create_pool_from_template

USER = "alice@example.com"
PASSWORD = "A-long-passw0rd!"


@dataclass
class Pool:
    cognito: SrpCognito
    pool_id: str
    client_id: str

    def login(
        self, *args: str, environ: dict[str, str] | None = None, user: str = USER
    ) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        argv = ["login", user, "--user-pool-id", self.pool_id, "--client-id", self.client_id, *args]
        env = {"AUTOPILOT_PASSWORD": PASSWORD} if environ is None else environ
        code = cli.main(argv, out=out, err=err, environ=env)
        return code, out.getvalue(), err.getvalue()

    def add_user(self, user: str = USER, password: str = PASSWORD) -> None:
        self.cognito.admin_create_user(UserPoolId=self.pool_id, Username=user, MessageAction="SUPPRESS")
        self.cognito.set_password(user, password)


@pytest.fixture
def pool(monkeypatch: pytest.MonkeyPatch) -> Iterator[Pool]:
    with mock_aws():
        client = boto3.client("cognito-idp", region_name="us-east-1")
        pool_id, client_id = create_pool_from_template(client)
        cognito = SrpCognito(client, pool_id)
        regions: list[str] = []
        monkeypatch.setattr(cli_login, "cognito_client", lambda region: regions.append(region) or cognito)
        yield Pool(cognito, pool_id, client_id)
        assert set(regions) <= {"us-east-1"}  # the region comes from the pool id


def _accepted_by_the_api_authorizer(token: str, pool: Pool) -> dict[str, Any]:
    """The checks API Gateway's JWT authorizer makes with the template's JwtConfiguration: RS256 signature
    against the pool's JWKS, the pool's issuer, the app client as audience (`client_id` in access tokens)
    and expiry. (The local stack verifies its own HS256 development tokens, not Cognito's.)"""
    jwks = json.loads(
        gzip.decompress(
            (Path(moto.__file__).parent / "cognitoidp/resources/jwks-public.json.gz").read_bytes()
        )
    )
    header = jwt.get_unverified_header(token)
    (key,) = [k for k in jwks["keys"] if k["kid"] == header["kid"]]
    claims: dict[str, Any] = jwt.decode(
        token,
        jwt.PyJWK(key).key,
        algorithms=["RS256"],
        issuer=f"https://cognito-idp.us-east-1.amazonaws.com/{pool.pool_id}",
        options={"verify_aud": False, "require": ["exp", "iss", "sub"]},
    )
    assert claims["client_id"] == pool.client_id and claims["token_use"] == "access"
    return claims


def _totp(secret: str, at: float | None = None) -> str:
    """The code an authenticator app shows for Cognito's base32 secret (RFC 6238, 6 digits, 30 s)."""
    padded = secret + "=" * (-len(secret) % 8)
    key = base64.b32decode(padded, casefold=True)
    return TOTP(key, 6, SHA1(), 30, enforce_key_length=False).generate(at or time.time()).decode()


def test_login_signs_in_with_srp_and_prints_a_token_the_api_authorizer_accepts(pool: Pool) -> None:
    # Given a user with a permanent password in the template's pool
    pool.add_user()
    # When the user signs in
    code, out, err = pool.login()
    # Then SRP was the flow, Cognito's server checked the password proof, and the only output is the token
    assert (code, err) == (0, "")
    assert pool.cognito.flows_seen == ["USER_SRP_AUTH"] and pool.cognito.proofs_checked == 1
    token = out.strip()
    assert out == token + "\n" and PASSWORD not in out
    claims = _accepted_by_the_api_authorizer(token, pool)
    user = pool.cognito.admin_get_user(UserPoolId=pool.pool_id, Username=USER)
    assert claims["sub"] == next(a["Value"] for a in user["UserAttributes"] if a["Name"] == "sub")


def test_login_json_gives_the_access_token_its_lifetime_and_the_id_token(pool: Pool) -> None:
    # Given a user
    pool.add_user()
    # When the user signs in with --json
    code, out, _ = pool.login("--json")
    # Then the payload names the token's use and lifetime (the template's 60 minutes)
    payload = json.loads(out)
    assert code == 0 and payload["token_type"] == "access" and payload["expires_in"] == 3600
    _accepted_by_the_api_authorizer(payload["token"], pool)
    assert jwt.decode(payload["id_token"], options={"verify_signature": False})["aud"] == pool.client_id


def test_a_wrong_password_is_refused_with_a_clear_error_that_shows_no_password(pool: Pool) -> None:
    # Given a user
    pool.add_user()
    wrong = "Not-the-passw0rd!"
    # When someone signs in with another password
    code, out, err = pool.login(environ={"AUTOPILOT_PASSWORD": wrong})
    # Then the server's check of the SRP proof refuses it: exit 1, one clear line, no token, no password
    assert code == cli_login.EXIT_REFUSED and out == ""
    assert err == "error: sign-in refused: incorrect username or password (or the user is disabled)\n"
    assert wrong not in err and PASSWORD not in err
    assert pool.cognito.proofs_checked == 0


def test_an_unknown_user_gets_the_same_answer_as_a_wrong_password(pool: Pool) -> None:
    # Given an empty pool (the template's client prevents user-existence errors)
    # When someone signs in
    code, out, err = pool.login(user="nobody@example.com")
    # Then the answer does not say whether the user exists
    assert (code, out) == (cli_login.EXIT_REFUSED, "")
    assert "incorrect username or password" in err


def test_the_password_is_asked_for_without_echo_when_not_in_the_environment(
    pool: Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a user, and no AUTOPILOT_PASSWORD
    pool.add_user()
    prompts: list[str] = []
    monkeypatch.setattr(cli_login.getpass, "getpass", lambda prompt: prompts.append(prompt) or PASSWORD)
    # When the user signs in
    code, out, _ = pool.login(environ={})
    # Then getpass asked (on the terminal, not stdout), and the token alone is printed
    assert code == 0 and prompts == [f"Password for {USER}: "]
    _accepted_by_the_api_authorizer(out.strip(), pool)


def test_the_password_is_never_an_option_on_the_command_line() -> None:
    # Given the parser
    parser = cli.build_parser()
    # When asked for --password
    with pytest.raises(SystemExit):
        parser.parse_args(["login", USER, "--password", PASSWORD])
    # Then it is no option: the password comes from AUTOPILOT_PASSWORD or a prompt


def _enable_totp(pool: Pool, monkeypatch: pytest.MonkeyPatch) -> str:
    """Sets up an authenticator app for the user as a person would (associate, verify a code, prefer it);
    the secret."""
    monkeypatch.setenv("MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP", "true")  # moto checks the codes
    pool.add_user()
    code, out, _ = pool.login()
    assert code == 0
    access = out.strip()
    secret = str(pool.cognito.associate_software_token(AccessToken=access)["SecretCode"])
    pool.cognito.verify_software_token(AccessToken=access, UserCode=_totp(secret))
    pool.cognito.set_user_mfa_preference(
        AccessToken=access, SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True}
    )
    return secret


def test_a_user_with_totp_mfa_signs_in_with_the_authenticator_code(
    pool: Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a user who turned on TOTP MFA (the pool's MfaConfiguration is OPTIONAL)
    secret = _enable_totp(pool, monkeypatch)
    # When the user signs in with the app's current code
    code, out, err = pool.login("--totp-code", _totp(secret))
    # Then the password proof and the code give a token
    assert (code, err) == (0, "")
    _accepted_by_the_api_authorizer(out.strip(), pool)


def test_the_authenticator_code_is_asked_for_when_not_given(
    pool: Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a user with TOTP MFA, and no --totp-code
    secret = _enable_totp(pool, monkeypatch)
    prompts: list[str] = []
    monkeypatch.setattr(cli_login.getpass, "getpass", lambda prompt: prompts.append(prompt) or _totp(secret))
    # When the user signs in
    code, out, _ = pool.login()
    # Then the code was asked for (the password came from the environment)
    assert code == 0 and prompts == ["Authenticator app code: "]
    _accepted_by_the_api_authorizer(out.strip(), pool)


def test_a_wrong_authenticator_code_is_refused(pool: Pool, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a user with TOTP MFA
    secret = _enable_totp(pool, monkeypatch)
    wrong = f"{(int(_totp(secret)) + 1) % 1_000_000:06d}"
    # When the user signs in with a code that is not the current one
    code, out, err = pool.login("--totp-code", wrong)
    # Then it is refused in words
    assert (code, out) == (cli_login.EXIT_REFUSED, "")
    assert err == "error: sign-in refused: the authenticator code is wrong or has expired\n"


def test_a_temporary_password_asks_for_a_new_one_in_words(pool: Pool) -> None:
    # Given a user an operator created with a temporary password
    pool.cognito.admin_create_user(
        UserPoolId=pool.pool_id, Username=USER, TemporaryPassword=PASSWORD, MessageAction="SUPPRESS"
    )
    pool.cognito.register(USER, PASSWORD)
    # When the user signs in without --new-password
    code, out, err = pool.login()
    # Then the error says what to do
    assert (code, out) == (cli_login.EXIT_REFUSED, "")
    assert "has a temporary password and must choose a new one: run again with --new-password" in err


def test_new_password_replaces_the_temporary_one_under_the_pools_policy(pool: Pool) -> None:
    # Given a user with a temporary password
    pool.cognito.admin_create_user(
        UserPoolId=pool.pool_id, Username=USER, TemporaryPassword=PASSWORD, MessageAction="SUPPRESS"
    )
    pool.cognito.register(USER, PASSWORD)
    # When the new password is too weak for the template's policy, then a strong one
    weak = pool.login(
        "--new-password", environ={"AUTOPILOT_PASSWORD": PASSWORD, "AUTOPILOT_NEW_PASSWORD": "short1!"}
    )
    chosen = "Another-l0ng-passphrase"
    strong = pool.login(
        "--new-password", environ={"AUTOPILOT_PASSWORD": PASSWORD, "AUTOPILOT_NEW_PASSWORD": chosen}
    )
    # Then the pool refuses the weak one (not echoed); the strong one signs in and is the password now
    assert (
        weak[0] == cli_login.EXIT_REFUSED
        and "InvalidPasswordException" in weak[2]
        and "short1!" not in weak[2]
    )
    assert strong[0] == 0
    _accepted_by_the_api_authorizer(strong[1].strip(), pool)
    code, out, _ = pool.login(environ={"AUTOPILOT_PASSWORD": chosen})
    assert code == 0 and out.strip()
    assert pool.login()[0] == cli_login.EXIT_REFUSED  # the temporary one no longer works


def test_the_pool_refuses_the_plain_password_flow_the_old_recipe_used(pool: Pool) -> None:
    # Given a user and the template's app client
    pool.add_user()
    # When someone tries USER_PASSWORD_AUTH (the README's old recipe)
    with pytest.raises(Exception, match="USER_PASSWORD_AUTH flow not enabled for this client"):
        pool.cognito.initiate_auth(
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": USER, "PASSWORD": PASSWORD},
            ClientId=pool.client_id,
        )
    # Then only SRP signs in


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["login", USER, "--client-id", "c"],
            "no user pool: pass --user-pool-id or set AUTOPILOT_USER_POOL_ID",
        ),
        (["login", USER, "--user-pool-id", "us-east-1_abc"], "no app client: pass --client-id"),
        (["login", USER, "--user-pool-id", "pool", "--client-id", "c"], "is not a user pool id"),
    ],
)
def test_login_without_the_stacks_pool_says_which_output_to_use(argv: list[str], message: str) -> None:
    # Given no pool or client in the environment
    err = io.StringIO()
    # When the user signs in
    code = cli.main(argv, out=io.StringIO(), err=err, environ={"AUTOPILOT_PASSWORD": PASSWORD})
    # Then it says what is missing
    assert code == cli_login.EXIT_REFUSED and message in err.getvalue()


def test_login_when_cognito_cannot_be_reached_exits_3(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an endpoint nothing listens on
    from botocore.config import Config

    endpoint = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setattr(
        cli_login,
        "cognito_client",
        lambda region: boto3.client(
            "cognito-idp",
            region_name=region,
            endpoint_url=endpoint,
            config=Config(retries={"max_attempts": 1}, connect_timeout=1),
        ),
    )
    err = io.StringIO()
    # When the user signs in
    argv = ["login", USER, "--user-pool-id", "us-east-1_abc", "--client-id", "c"]
    code = cli.main(argv, out=io.StringIO(), err=err, environ={"AUTOPILOT_PASSWORD": PASSWORD})
    # Then it exits 3, as an unreachable API does, and shows no password
    assert code == cli_login.EXIT_UNREACHABLE and err.getvalue().startswith("error: cannot reach Cognito")
    assert PASSWORD not in err.getvalue()


def test_a_new_password_typed_twice_differently_changes_nothing(
    pool: Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a user with a temporary password, and prompts answered with two different new passwords
    pool.cognito.admin_create_user(
        UserPoolId=pool.pool_id, Username=USER, TemporaryPassword=PASSWORD, MessageAction="SUPPRESS"
    )
    pool.cognito.register(USER, PASSWORD)
    answers = iter([PASSWORD, "Another-l0ng-passphrase", "Another-l0ng-passphrasE"])
    prompts: list[str] = []
    monkeypatch.setattr(cli_login.getpass, "getpass", lambda prompt: prompts.append(prompt) or next(answers))
    # When the user signs in with --new-password
    code, out, err = pool.login("--new-password", environ={})
    # Then the prompts asked twice, the error says so, and the temporary password still stands
    assert prompts == [f"Password for {USER}: ", "New password: ", "New password again: "]
    assert (code, out) == (cli_login.EXIT_REFUSED, "")
    assert err == "error: the two new passwords differ; nothing was changed\n"
    status = pool.cognito.admin_get_user(UserPoolId=pool.pool_id, Username=USER)["UserStatus"]
    assert status == "FORCE_CHANGE_PASSWORD"
