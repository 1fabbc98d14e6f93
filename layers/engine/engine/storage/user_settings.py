"""Each owner's notification settings (UserSettings table) and the KMS box their webhook secrets live in.

The signing secret is stored only as KMS ciphertext bound to its owner (encryption context `{"owner": sub}`),
so a ciphertext copied to another owner's item does not decrypt. The control API only encrypts; only the
notification worker decrypts (template roles).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from engine.clock import iso, parse_iso
from engine.errors import StorageError
from engine.settings import Settings, get_settings
from engine.storage.dynamo import StorageClients, get_clients, map_error

_KMS_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=2, read_timeout=5)
_kms_clients: dict[str, Any] = {}
_kms_lock = threading.Lock()


@dataclass(frozen=True)
class WebhookSettings:
    owner: str
    webhook_url: str
    secret_ciphertext: bytes
    created_at: datetime
    updated_at: datetime


class UserSettingsRepository:
    def __init__(self, clients: StorageClients | None = None) -> None:
        self.clients = clients or get_clients()
        self.db = self.clients.dynamodb
        self.table = self.clients.settings.user_settings_table

    def get(self, owner: str) -> WebhookSettings | None:
        try:
            item = self.db.get_item(
                TableName=self.table, Key={"owner": {"S": owner}}, ConsistentRead=True
            ).get("Item")
        except (ClientError, BotoCoreError) as exc:
            raise map_error(exc, what="read notification settings") from exc
        if item is None or "webhook_url" not in item:
            return None
        return WebhookSettings(
            owner=owner,
            webhook_url=item["webhook_url"]["S"],
            secret_ciphertext=bytes(item["secret_ciphertext"]["B"]),
            created_at=parse_iso(item["created_at"]["S"]),
            updated_at=parse_iso(item["updated_at"]["S"]),
        )

    def put(self, settings: WebhookSettings) -> None:
        item = {
            "owner": {"S": settings.owner},
            "webhook_url": {"S": settings.webhook_url},
            "secret_ciphertext": {"B": settings.secret_ciphertext},
            "created_at": {"S": iso(settings.created_at)},
            "updated_at": {"S": iso(settings.updated_at)},
        }
        try:
            self.db.put_item(TableName=self.table, Item=item)
        except (ClientError, BotoCoreError) as exc:
            raise map_error(exc, what="write notification settings") from exc

    def delete(self, owner: str) -> None:
        try:
            self.db.delete_item(TableName=self.table, Key={"owner": {"S": owner}})
        except (ClientError, BotoCoreError) as exc:
            raise map_error(exc, what="delete notification settings") from exc


def _kms(endpoint_url: str | None) -> Any:
    key = endpoint_url or ""
    with _kms_lock:  # boto3 sessions are not thread-safe to create clients from
        client = _kms_clients.get(key)
        if client is None:
            client = boto3.session.Session().client("kms", endpoint_url=endpoint_url, config=_KMS_CONFIG)
            _kms_clients[key] = client
        return client


def reset_kms_clients() -> None:
    with _kms_lock:
        _kms_clients.clear()


class SecretBox:
    """KMS Encrypt/Decrypt of webhook secrets, bound to their owner by the encryption context."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()

    def encrypt(self, owner: str, secret: str) -> bytes:
        key_id = self.settings.webhook_secrets_key_id
        if not key_id:
            raise StorageError("no WEBHOOK_SECRETS_KEY_ID is configured")
        try:
            response = _kms(self.settings.kms_endpoint_url).encrypt(
                KeyId=key_id, Plaintext=secret.encode(), EncryptionContext={"owner": owner}
            )
        except (ClientError, BotoCoreError) as exc:
            raise StorageError("encrypting the webhook secret failed") from exc  # never the secret itself
        return bytes(response["CiphertextBlob"])

    def decrypt(self, owner: str, ciphertext: bytes) -> str:
        try:
            response = _kms(self.settings.kms_endpoint_url).decrypt(
                CiphertextBlob=ciphertext, EncryptionContext={"owner": owner}
            )
        except (ClientError, BotoCoreError) as exc:
            raise StorageError("decrypting the webhook secret failed") from exc
        return bytes(response["Plaintext"]).decode()


__all__ = ["SecretBox", "UserSettingsRepository", "WebhookSettings", "reset_kms_clients"]
