"""Encryption at rest for stored credentials, with a key derived from ``SECRET_KEY``."""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app


class SecretUnreadable(RuntimeError):
    """The stored secret cannot be decrypted (the secret key changed); re-enter it."""


def _fernet(secret_key: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"airflow-console/secrets/v1").derive(
        secret_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt(plaintext: str) -> str:
    """Encrypt ``plaintext`` with the app's derived key."""
    return _fernet(current_app.config["SECRET_KEY"]).encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    """Decrypt a value made by ``encrypt``; raise ``SecretUnreadable`` if the key changed."""
    try:
        return _fernet(current_app.config["SECRET_KEY"]).decrypt(ciphertext.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable("the stored credential cannot be decrypted; enter it again") from None
