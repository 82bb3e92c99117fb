"""Encryption at rest for the secrets shopsync itself holds (OAuth tokens of stores).

Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`) with a key from the environment:
a database dump or a leaked row is useless without `SHOPSYNC_SECRET_KEY`. Several keys may
be given comma-separated, newest first, so a key can be rotated without losing the rows
written under the old one (`cryptography.fernet.MultiFernet`).
"""

from __future__ import annotations

import os

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

SECRET_KEY_ENV = "SHOPSYNC_SECRET_KEY"  # noqa: S105 (the variable's name)


class SecretKeyError(RuntimeError):
    """The key is missing or cannot decrypt a stored secret: the message says what to set."""


class Cipher:
    """Encrypts and decrypts short secrets; never shows its key in a repr."""

    def __init__(self, keys: list[str]) -> None:
        try:
            self._fernet = MultiFernet([Fernet(k.strip().encode()) for k in keys if k.strip()])
        except ValueError as exc:
            raise SecretKeyError(
                f"{SECRET_KEY_ENV} is not a Fernet key (32 url-safe base64 bytes); make one "
                "with: python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'"
            ) from exc

    def __repr__(self) -> str:
        return "Cipher(<keys hidden>)"

    @classmethod
    def from_env(cls) -> Cipher:
        value = os.environ.get(SECRET_KEY_ENV, "")
        if not value.strip():
            raise SecretKeyError(
                f"{SECRET_KEY_ENV} is not set: OAuth tokens are stored encrypted with it. "
                "Make one with: python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())' and export it"
            )
        return cls(value.split(","))

    @staticmethod
    def generate_key() -> str:
        return Fernet.generate_key().decode()

    def encrypt(self, plain: str) -> bytes:
        return self._fernet.encrypt(plain.encode())

    def decrypt(self, token: bytes) -> str:
        try:
            return self._fernet.decrypt(bytes(token)).decode()
        except InvalidToken:
            raise SecretKeyError(
                f"a stored token cannot be decrypted with {SECRET_KEY_ENV}: the key changed. "
                "Put the old key after the new one (comma-separated) or re-authorize the store"
            ) from None
