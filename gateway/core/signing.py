"""Signed values (pure): itsdangerous serializers whose derived keys are computed once.

itsdangerous derives each key from the secret and the salt (one HMAC) on every `dumps` and
every `loads`, for every key it tries. The secrets do not change while the gateway runs, so
the derivation is remembered per (secret, salt); signing and verifying are unchanged.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from itsdangerous import Signer, URLSafeSerializer


class _KeyCachingSigner(Signer):
    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        chosen = self.secret_keys[-1] if secret_key is None else secret_key
        key = chosen.encode() if isinstance(chosen, str) else chosen
        return _derived(key, self.salt, self.key_derivation, self.digest_method)


@functools.lru_cache(maxsize=64)
def _derived(secret_key: bytes, salt: bytes, derivation: str, digest_method: object) -> bytes:
    return Signer(secret_key, salt=salt, key_derivation=derivation,
                  digest_method=digest_method).derive_key()


def url_safe_serializer(secret_keys: Sequence[str], salt: str) -> URLSafeSerializer:
    """Signs with `secret_keys[0]` and verifies with any of them (newest first, as in the
    config: key rotation)."""
    return URLSafeSerializer(list(reversed(secret_keys)), salt=salt, signer=_KeyCachingSigner)
