# HMAC-SHA256 (RFC 2104, FIPS 198-1), HKDF-SHA256 (RFC 5869) and the constant-time comparison
# every MAC check in the crypto layer uses. SHA-256 is the only hash the boards' hashlib has.
import hashlib

from meterseal.compat import const

_HASH_LEN = const(32)
_BLOCK_LEN = const(64)  # SHA-256 block size B in RFC 2104 section 2
# ipad/opad of RFC 2104 section 2 as 512-bit integers: the key is XORed in one operation.
_IPAD = int.from_bytes(b"\x36" * 64, "big")
_OPAD = int.from_bytes(b"\x5c" * 64, "big")


def equal(a, b):
    """True if a == b, in time that depends only on the lengths (never on where they differ).

    Lengths are not secret (tag lengths are fixed by the protocol), so unequal lengths return
    False at once. Use for every MAC or tag comparison instead of ==."""
    if len(a) != len(b):
        return False
    r = 0
    for x, y in zip(a, b):
        r |= x ^ y
    return r == 0


def hmac_sha256(key, data):
    """HMAC-SHA256(key, data) -> 32 bytes (RFC 2104; keys longer than 64 bytes are hashed)."""
    if len(key) > _BLOCK_LEN:
        key = hashlib.sha256(key).digest()
    # K zero-padded to B bytes (RFC 2104 step 1) read as one integer: left-aligned.
    k = int.from_bytes(key, "big") << (8 * (_BLOCK_LEN - len(key)))
    inner = hashlib.sha256((k ^ _IPAD).to_bytes(_BLOCK_LEN, "big"))
    inner.update(data)
    outer = hashlib.sha256((k ^ _OPAD).to_bytes(_BLOCK_LEN, "big"))
    outer.update(inner.digest())
    return outer.digest()


def hkdf_sha256(ikm, salt, info, length):
    """HKDF-SHA256 (RFC 5869): Extract with salt, then Expand with info to length bytes.

    salt None or empty means HashLen zero bytes (section 2.2); length at most 255 * 32
    (section 2.3), else ValueError."""
    if length < 0 or length > 255 * _HASH_LEN:
        raise ValueError("HKDF length out of range")
    if not salt:
        salt = bytes(_HASH_LEN)
    prk = hmac_sha256(salt, ikm)
    # Section 2.3: T(i) = HMAC(PRK, T(i-1) | info | i), i one octet from 1.
    out = bytearray()
    t = b""
    i = 1
    while len(out) < length:
        t = hmac_sha256(prk, t + info + bytes((i,)))
        out.extend(t)
        i += 1
    return bytes(out[:length])
