"""Encrypted PKCS#8 private keys with a KDF strong enough for CA keys at rest (K1).

cryptography's BestAvailableEncryption writes PBES2 with only 2048 PBKDF2 rounds. This module
writes the same standard container, EncryptedPrivateKeyInfo (RFC 5958 section 3) with PBES2
(RFC 8018 section 6.2): PBKDF2 with HMAC-SHA-256 and a 16-byte random salt, AES-256-CBC with a
random IV, at KDF_ROUNDS iterations (OWASP's 2023 figure for PBKDF2-HMAC-SHA256). OpenSSL and
cryptography read the files as any "ENCRYPTED PRIVATE KEY" PEM; loading uses them, not us.
METERSEAL_KDF_ROUNDS lowers the count for test suites that make hundreds of keys.
"""
import base64
import hashlib
import os

from cryptography.hazmat.primitives import padding, serialization
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from meterseal.crypto import der

KDF_ROUNDS = 600000
_PBES2 = "1.2.840.113549.1.5.13"
_PBKDF2 = "1.2.840.113549.1.5.12"
_HMAC_SHA256 = "1.2.840.113549.2.9"
_AES256_CBC = "2.16.840.1.101.3.4.1.42"


def kdf_rounds():
    return int(os.environ.get("METERSEAL_KDF_ROUNDS", KDF_ROUNDS))


def encrypt_pem(key, passphrase, rounds=None):
    """PEM "ENCRYPTED PRIVATE KEY" of `key` (a cryptography private key) under passphrase."""
    rounds = rounds or kdf_rounds()
    plain = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption())
    salt, iv = os.urandom(16), os.urandom(16)
    k = hashlib.pbkdf2_hmac("sha256", passphrase, salt, rounds, 32)
    padder = padding.PKCS7(128).padder()
    enc = Cipher(algorithms.AES(k), modes.CBC(iv)).encryptor()
    body = enc.update(padder.update(plain) + padder.finalize()) + enc.finalize()
    kdf = der.encode_sequence(
        der.encode_oid(_PBKDF2),
        der.encode_sequence(der.encode_octet_string(salt), der.encode_integer(rounds),
                            der.encode_integer(32),
                            der.encode_sequence(der.encode_oid(_HMAC_SHA256),
                                                der.encode_tlv(der.NULL, b""))))
    scheme = der.encode_sequence(der.encode_oid(_AES256_CBC), der.encode_octet_string(iv))
    info = der.encode_sequence(
        der.encode_sequence(der.encode_oid(_PBES2), der.encode_sequence(kdf, scheme)),
        der.encode_octet_string(body))
    b64 = base64.encodebytes(info).replace(b"\n", b"")
    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
    return b"-----BEGIN ENCRYPTED PRIVATE KEY-----\n" + b"\n".join(lines) + \
        b"\n-----END ENCRYPTED PRIVATE KEY-----\n"
