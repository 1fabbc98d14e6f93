"""`autopilot login`: signs in to a deployed stack's Cognito user pool with SRP (USER_SRP_AUTH) and prints the
access token for AUTOPILOT_TOKEN. SRP sends Cognito a proof of the password, never the password itself, so
the app client allows no USER_PASSWORD_AUTH. The SRP arithmetic is pycognito's (imported only here, when
signing in, so the rest of the CLI stays standard library only).

The password is read from AUTOPILOT_PASSWORD or asked for without echo, never taken from the command line;
prompts go to the terminal, so `export AUTOPILOT_TOKEN=$(autopilot login ...)` captures the token alone.
"""

from __future__ import annotations

import argparse
import getpass
import re
from collections.abc import Callable, Mapping
from typing import Any

COMMAND = "login"
EXIT_REFUSED = 1
EXIT_UNREACHABLE = 3
_POOL_ID = re.compile(r"^(?P<region>[a-z]{2}(?:-[a-z]+)+-\d+)_[0-9A-Za-z]+$")

# Cognito's answers, in words that say what to do; its own messages never hold the password.
_REFUSALS = {
    "NotAuthorizedException": "sign-in refused: incorrect username or password (or the user is disabled)",
    "UserNotFoundException": "sign-in refused: incorrect username or password (or the user is disabled)",
    "CodeMismatchException": "sign-in refused: the authenticator code is wrong or has expired",
    "ExpiredCodeException": "sign-in refused: the authenticator code is wrong or has expired",
    "PasswordResetRequiredException": "sign-in refused: an operator asked for a password reset",
    "UserNotConfirmedException": "sign-in refused: the user is not confirmed yet",
    "TooManyRequestsException": "sign-in refused: too many attempts; wait a little and try again",
    "LimitExceededException": "sign-in refused: too many attempts; wait a little and try again",
}


class LoginFailed(Exception):
    """Sign-in did not give a token; the message says why and what to do (and holds no secret)."""

    def __init__(self, message: str, exit_code: int = EXIT_REFUSED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def add_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    login = commands.add_parser(
        COMMAND,
        parents=[common],
        help="sign in to the stack's Cognito user pool (SRP); prints an access token",
        description="Signs in with SRP and prints the access token. The password comes from "
        "AUTOPILOT_PASSWORD or a prompt, never from the command line.",
    )
    login.add_argument("username", help="the user's email address")
    login.add_argument("--user-pool-id", help="the stack's UserPoolId output (AUTOPILOT_USER_POOL_ID)")
    login.add_argument("--client-id", help="the stack's UserPoolClientId output (AUTOPILOT_CLIENT_ID)")
    login.add_argument(
        "--totp-code", help="the authenticator app's current code, when the user has TOTP MFA (else asked)"
    )
    login.add_argument(
        "--new-password",
        action="store_true",
        help="first sign-in with a temporary password: set a new one (AUTOPILOT_NEW_PASSWORD or a prompt)",
    )


def cognito_client(region: str) -> Any:
    """The cognito-idp client sign-in talks to (its sign-in calls need no AWS credentials)."""
    import boto3

    return boto3.client("cognito-idp", region_name=region)


def run(
    args: argparse.Namespace,
    environ: Mapping[str, str],
    *,
    ask: Callable[[str], str] | None = None,
) -> tuple[str, dict[str, Any]]:
    """`autopilot login`: (rendering kind, payload) with the access token, or LoginFailed. `ask` prompts
    without echo (getpass, on the terminal)."""
    ask = ask or getpass.getpass
    pool_id = args.user_pool_id or environ.get("AUTOPILOT_USER_POOL_ID", "")
    client_id = args.client_id or environ.get("AUTOPILOT_CLIENT_ID", "")
    if not pool_id:
        raise LoginFailed("no user pool: pass --user-pool-id or set AUTOPILOT_USER_POOL_ID (UserPoolId)")
    if not client_id:
        raise LoginFailed("no app client: pass --client-id or set AUTOPILOT_CLIENT_ID (UserPoolClientId)")
    match = _POOL_ID.match(pool_id)
    if not match:
        raise LoginFailed(f"--user-pool-id {pool_id!r} is not a user pool id (like eu-west-1_AbCdEf123)")
    password = environ.get("AUTOPILOT_PASSWORD") or ask(f"Password for {args.username}: ")
    if not password:
        raise LoginFailed("no password given")

    def totp_code() -> str:
        return str(args.totp_code or ask("Authenticator app code: ")).strip()

    def new_password() -> str:
        if not args.new_password:
            raise LoginFailed(
                f"{args.username} has a temporary password and must choose a new one: run again with "
                "--new-password (the new one comes from AUTOPILOT_NEW_PASSWORD or a prompt)"
            )
        chosen = environ.get("AUTOPILOT_NEW_PASSWORD") or ask("New password: ")
        if not environ.get("AUTOPILOT_NEW_PASSWORD") and ask("New password again: ") != chosen:
            raise LoginFailed("the two new passwords differ; nothing was changed")
        return chosen

    result = sign_in(
        cognito_client(match["region"]),
        username=args.username,
        password=password,
        pool_id=pool_id,
        client_id=client_id,
        totp_code=totp_code,
        new_password=new_password,
    )
    return "token", {
        "token": result["AccessToken"],
        "token_type": "access",
        "expires_in": result.get("ExpiresIn"),
        "id_token": result.get("IdToken"),
    }


def sign_in(
    cognito: Any,
    *,
    username: str,
    password: str,
    pool_id: str,
    client_id: str,
    totp_code: Callable[[], str],
    new_password: Callable[[], str],
) -> dict[str, Any]:
    """Cognito's AuthenticationResult for USER_SRP_AUTH, answering the challenges that follow the password
    proof: TOTP MFA and a temporary password's replacement. LoginFailed for anything else."""
    from botocore.exceptions import BotoCoreError, ClientError
    from pycognito.aws_srp import AWSSRP

    srp = AWSSRP(username=username, password=password, pool_id=pool_id, client_id=client_id, client=cognito)
    try:
        auth_parameters = srp.get_auth_params()
        answer = cognito.initiate_auth(
            AuthFlow="USER_SRP_AUTH", AuthParameters=auth_parameters, ClientId=client_id
        )
        # the user's id in the pool: the name every later challenge answer carries
        internal_name = str(answer.get("ChallengeParameters", {}).get("USERNAME", username))
        for _ in range(4):  # PASSWORD_VERIFIER, then at most NEW_PASSWORD_REQUIRED and SOFTWARE_TOKEN_MFA
            challenge = answer.get("ChallengeName")
            if not challenge:
                break
            responses: dict[str, str]
            if challenge == "PASSWORD_VERIFIER":
                responses = srp.process_challenge(answer["ChallengeParameters"], auth_parameters)
            elif challenge == "SOFTWARE_TOKEN_MFA":
                responses = {"USERNAME": internal_name, "SOFTWARE_TOKEN_MFA_CODE": totp_code()}
            elif challenge == "NEW_PASSWORD_REQUIRED":
                responses = {"USERNAME": internal_name, "NEW_PASSWORD": new_password()}
            elif challenge == "MFA_SETUP":
                raise LoginFailed("the pool asks this user to set up an authenticator app first")
            else:
                raise LoginFailed(f"the pool asks for a {challenge} challenge, which this CLI cannot answer")
            session = {"Session": answer["Session"]} if answer.get("Session") else {}
            answer = cognito.respond_to_auth_challenge(
                ClientId=client_id, ChallengeName=challenge, ChallengeResponses=responses, **session
            )
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "error"))
        raise LoginFailed(
            _REFUSALS.get(code) or f"sign-in failed: {code}: {error.get('Message', '')}".rstrip(": ")
        ) from None
    except BotoCoreError as exc:  # no network, no endpoint: Cognito was never asked
        raise LoginFailed(f"cannot reach Cognito: {exc}", EXIT_UNREACHABLE) from None
    result: dict[str, Any] | None = answer.get("AuthenticationResult")
    if not result or not result.get("AccessToken"):
        raise LoginFailed("Cognito answered without a token")
    return result
