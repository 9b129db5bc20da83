# AES Key Wrap (RFC 3394; NIST SP 800-38F 6.2 KW with the default ICV1 0xA6A6A6A6A6A6A6A6).
#
# Wraps key data of n >= 2 64-bit blocks into n + 1 blocks. Used for keys moved between the
# keystore and provisioning tools, never for bulk data. An unwrap that does not end with the
# default IV raises InvalidTag and reveals nothing of the unwrapped bytes (RFC 3394 2.2.3).
from meterseal.compat import const
from meterseal.crypto import aes
from meterseal.crypto.errors import InvalidTag
from meterseal.crypto.kdf import equal

_IV = b"\xa6\xa6\xa6\xa6\xa6\xa6\xa6\xa6"  # RFC 3394 2.2.3.1 default initial value
_IV_INT = const(0xA6A6A6A6A6A6A6A6)
_MASK64 = const(0xFFFFFFFFFFFFFFFF)


def wrap(kek, key_data):
    """RFC 3394 2.2.1 (index form): returns len(key_data) + 8 bytes.

    key_data must be a multiple of 8 bytes and at least 16 (ValueError otherwise: RFC 3394
    defines no wrapping of a single 64-bit block; that is RFC 5649's padded variant)."""
    e = aes.ecb(kek).encrypt
    n8 = len(key_data)
    if n8 % 8 or n8 < 16:
        raise ValueError("key data must be a multiple of 8 bytes, at least 16")
    n = n8 // 8
    r = [int.from_bytes(key_data[i:i + 8], "big") for i in range(0, n8, 8)]
    a = _IV_INT
    t = 1
    for _ in range(6):
        for i in range(n):
            # B = AES(K, A | R[i]); A = MSB(64, B) ^ t; R[i] = LSB(64, B)
            b = int.from_bytes(e(((a << 64) | r[i]).to_bytes(16, "big")), "big")
            a = (b >> 64) ^ t
            r[i] = b & _MASK64
            t += 1
    out = bytearray(a.to_bytes(8, "big"))
    for x in r:
        out.extend(x.to_bytes(8, "big"))
    return bytes(out)


def unwrap(kek, wrapped):
    """RFC 3394 2.2.2 (index form) plus the 2.2.3 integrity check; returns the key data.

    Raises InvalidTag if the wrapped data has an impossible length (not a multiple of 8, or
    shorter than 24 bytes) or fails the integrity check."""
    d = aes.ecb(kek).decrypt  # a bad KEK is the caller's error (ValueError) before anything else
    n8 = len(wrapped)
    if n8 % 8 or n8 < 24:
        raise InvalidTag("length")
    n = n8 // 8 - 1
    a = int.from_bytes(wrapped[0:8], "big")
    r = [int.from_bytes(wrapped[i:i + 8], "big") for i in range(8, n8, 8)]
    t = 6 * n
    for _ in range(6):
        for i in range(n - 1, -1, -1):
            # B = AES-1(K, (A ^ t) | R[i]); A = MSB(64, B); R[i] = LSB(64, B)
            b = int.from_bytes(d((((a ^ t) << 64) | r[i]).to_bytes(16, "big")), "big")
            a = b >> 64
            r[i] = b & _MASK64
            t -= 1
    if not equal(a.to_bytes(8, "big"), _IV):
        raise InvalidTag("integrity check")
    out = bytearray()
    for x in r:
        out.extend(x.to_bytes(8, "big"))
    return bytes(out)
