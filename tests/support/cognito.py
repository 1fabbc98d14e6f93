"""The stack's Cognito user pool and app client on moto, created from template.yaml's properties, with
Cognito's server half of SRP in front of it.

moto answers USER_SRP_AUTH with a random SRP_B and accepts any PASSWORD_CLAIM_SIGNATURE, so on its own it
would sign a wrong password in. `SrpCognito` does what Cognito does: it keeps only a verifier of each password
(v = g^x), answers with B = k*v + g^b, and checks the client's claim with the server's equation
S = (A * v^u)^b, which a client reaches from (B - k*g^x)^(a + u*x) only with the right password. It is written
here from Cognito's protocol (amazon-cognito-identity-js's AuthenticationHelper), not from the client library
under test. Tokens, users, MFA and temporary passwords stay moto's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from local.infra import load_template

# RFC 3526's 3072-bit MODP group, generator 2: the group Cognito's SRP uses
N = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD"
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F"
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510"
    "15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7"
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200C"
    "BBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF",
    16,
)
G = 2


def _pad(n: int) -> bytes:
    """Cognito's big-endian encoding: whole bytes, with a leading zero byte when the top bit is set."""
    raw = n.to_bytes(max(1, (n.bit_length() + 7) // 8), "big")
    return b"\x00" + raw if raw[0] & 0x80 else raw


def _h(*parts: bytes) -> int:
    return int.from_bytes(hashlib.sha256(b"".join(parts)).digest(), "big")


K = _h(_pad(N), _pad(G))


def _x(pool_name: str, user_id: str, password: str, salt: int) -> int:
    inner = hashlib.sha256(f"{pool_name}{user_id}:{password}".encode()).digest()
    return _h(_pad(salt), inner)


def server_public(v: int, b: int, *, k: int = K, g: int = G, n: int = N) -> int:
    """B = k*v + g^b mod N (SRP-6a)."""
    return (k * v + pow(g, b, n)) % n


def server_premaster(big_a: int, v: int, u: int, b: int, *, n: int = N) -> int:
    """The server's S = (A * v^u)^b mod N: equal to the client's (B - k*g^x)^(a + u*x) only when x, and so the
    password, is the one v was made from."""
    return pow(big_a * pow(v, u, n), b, n)


def _hkdf(s: int, u: int) -> bytes:
    prk = hmac.new(_pad(u), _pad(s), hashlib.sha256).digest()
    return hmac.new(prk, b"Caldera Derived Key\x01", hashlib.sha256).digest()[:16]


def _refuse(operation: str, code: str, message: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


@dataclass
class _Pending:
    user_id: str
    big_a: int
    b: int
    big_b: int
    moto_session: str


@dataclass
class SrpCognito:
    """A cognito-idp client: moto's, with Cognito's SRP verification and app-client auth flows enforced."""

    client: Any
    pool_id: str
    verifiers: dict[str, tuple[int, int]] = field(default_factory=dict)  # user id -> (salt, v)
    pending: dict[str, _Pending] = field(default_factory=dict)  # secret block -> the exchange
    proofs_checked: int = 0
    flows_seen: list[str] = field(default_factory=list)

    @property
    def pool_name(self) -> str:
        return self.pool_id.split("_", 1)[1]

    def register(self, username: str, password: str) -> str:
        """Keeps the verifier of `username`'s password (as Cognito does when a password is set)."""
        user_id = str(self.client.admin_get_user(UserPoolId=self.pool_id, Username=username)["Username"])
        salt = int.from_bytes(secrets.token_bytes(16), "big")
        self.verifiers[user_id] = (salt, pow(G, _x(self.pool_name, user_id, password, salt), N))
        return user_id

    def set_password(self, username: str, password: str, *, permanent: bool = True) -> None:
        self.client.admin_set_user_password(
            UserPoolId=self.pool_id, Username=username, Password=password, Permanent=permanent
        )
        self.register(username, password)

    def initiate_auth(self, *, AuthFlow: str, AuthParameters: dict[str, str], ClientId: str) -> Any:
        self.flows_seen.append(AuthFlow)
        allowed = self.client.describe_user_pool_client(UserPoolId=self.pool_id, ClientId=ClientId)[
            "UserPoolClient"
        ].get("ExplicitAuthFlows", [])
        if f"ALLOW_{AuthFlow}" not in allowed:  # moto does not enforce the client's flows
            raise _refuse(
                "InitiateAuth", "InvalidParameterException", f"{AuthFlow} flow not enabled for this client"
            )
        answer = self.client.initiate_auth(
            AuthFlow=AuthFlow, AuthParameters=AuthParameters, ClientId=ClientId
        )
        if AuthFlow != "USER_SRP_AUTH":
            return answer
        parameters = answer["ChallengeParameters"]
        user_id = parameters["USER_ID_FOR_SRP"]
        big_a = int(AuthParameters["SRP_A"], 16)
        if big_a % N == 0:
            raise _refuse("InitiateAuth", "InvalidParameterException", "SRP_A is not valid")
        salt, v = self.verifiers[user_id]
        b = int.from_bytes(secrets.token_bytes(128), "big") % N
        big_b = server_public(v, b)
        block = base64.standard_b64encode(secrets.token_bytes(64)).decode()
        self.pending[block] = _Pending(user_id, big_a, b, big_b, moto_session=parameters["SECRET_BLOCK"])
        return {
            **answer,
            "ChallengeParameters": {
                **parameters,
                "SALT": f"{salt:x}",
                "SRP_B": f"{big_b:x}",
                "SECRET_BLOCK": block,
            },
        }

    def respond_to_auth_challenge(
        self,
        *,
        ClientId: str,
        ChallengeName: str,
        ChallengeResponses: dict[str, str],
        Session: str | None = None,
    ) -> Any:
        responses = dict(ChallengeResponses)
        if ChallengeName == "PASSWORD_VERIFIER":
            exchange = self.pending.pop(responses["PASSWORD_CLAIM_SECRET_BLOCK"], None)
            if exchange is None:
                raise _refuse("RespondToAuthChallenge", "NotAuthorizedException", "Invalid session")
            self._check_claim(exchange, responses)
            self.proofs_checked += 1
            responses["PASSWORD_CLAIM_SECRET_BLOCK"] = exchange.moto_session
        session = {"Session": Session} if Session else {}
        answer = self.client.respond_to_auth_challenge(
            ClientId=ClientId, ChallengeName=ChallengeName, ChallengeResponses=responses, **session
        )
        if ChallengeName == "NEW_PASSWORD_REQUIRED":  # Cognito keeps the new password's verifier
            self.register(responses["USERNAME"], responses["NEW_PASSWORD"])
        return answer

    def _check_claim(self, exchange: _Pending, responses: dict[str, str]) -> None:
        stamp = datetime.strptime(responses["TIMESTAMP"], "%a %b %d %H:%M:%S UTC %Y").replace(tzinfo=UTC)
        if abs(datetime.now(UTC) - stamp) > timedelta(minutes=5):
            raise _refuse("RespondToAuthChallenge", "NotAuthorizedException", "Timestamp out of range")
        _, v = self.verifiers[exchange.user_id]
        u = _h(_pad(exchange.big_a), _pad(exchange.big_b))
        s = server_premaster(exchange.big_a, v, u, exchange.b)
        message = (
            self.pool_name.encode()
            + exchange.user_id.encode()
            + base64.standard_b64decode(responses["PASSWORD_CLAIM_SECRET_BLOCK"])
            + responses["TIMESTAMP"].encode()
        )
        expected = base64.standard_b64encode(hmac.new(_hkdf(s, u), message, hashlib.sha256).digest()).decode()
        if not hmac.compare_digest(expected, responses.get("PASSWORD_CLAIM_SIGNATURE", "")):
            raise _refuse(
                "RespondToAuthChallenge", "NotAuthorizedException", "Incorrect username or password."
            )

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


def create_pool_from_template(client: Any, stack: str = "test") -> tuple[str, str]:
    """The UserPool and UserPoolClient that template.yaml declares (their API-settable properties), on moto:
    (pool id, app client id)."""
    resources = load_template()["Resources"]
    pool = resources["UserPool"]["Properties"]
    app = resources["UserPoolClient"]["Properties"]
    pool_id = client.create_user_pool(
        PoolName=f"{stack}-users",
        UsernameAttributes=pool["UsernameAttributes"],
        AutoVerifiedAttributes=pool["AutoVerifiedAttributes"],
        AdminCreateUserConfig=pool["AdminCreateUserConfig"],
        Policies=pool["Policies"],
        MfaConfiguration=pool["MfaConfiguration"],
    )["UserPool"]["Id"]
    if "SOFTWARE_TOKEN_MFA" in pool.get("EnabledMfas", []):
        client.set_user_pool_mfa_config(
            UserPoolId=pool_id,
            SoftwareTokenMfaConfiguration={"Enabled": True},
            MfaConfiguration=pool["MfaConfiguration"],
        )
    client_id = client.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName=f"{stack}-api",
        GenerateSecret=app["GenerateSecret"],
        PreventUserExistenceErrors=app["PreventUserExistenceErrors"],
        ExplicitAuthFlows=app["ExplicitAuthFlows"],
        AccessTokenValidity=app["AccessTokenValidity"],
        IdTokenValidity=app["IdTokenValidity"],
        RefreshTokenValidity=app["RefreshTokenValidity"],
        TokenValidityUnits=app["TokenValidityUnits"],
    )["UserPoolClient"]["ClientId"]
    return str(pool_id), str(client_id)
