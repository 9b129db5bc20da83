# AES-CMAC (RFC 4493, NIST SP 800-38B) over messages of any length, e.g. the OMS security
# mode 7 key derivation (EN 13757-7 9.5: Kenc/Kmac = CMAC(K, derivation constant || counter ||
# meter ID || padding)) and the mode 7 AFL MAC.
#
# The CBC part runs through the cipher's own CBC mode (cryptolib mode 2 on the boards) so the
# per-block work is in C; only the last block is handled in Python.
from meterseal.compat import const
from meterseal.crypto import aes
from meterseal.crypto.errors import InvalidTag
from meterseal.crypto.kdf import equal

_RB = const(0x87)  # R_128 of SP 800-38B 5.3 / const_Rb of RFC 4493 2.3
_MASK128 = const((1 << 128) - 1)
_CHUNK = const(1024)  # message bytes per CBC call: bounds the temporary output on big inputs
# SP 800-38B Appendix A: tags shorter than 64 bits need a guess-limit analysis we do not do.
_MIN_TAG = const(8)


def _dbl(x):
    # Multiplication by u in GF(2^128) (RFC 4493 2.3 step 2/3; SP 800-38B 6.1).
    x <<= 1
    if x >> 128:
        x = (x & _MASK128) ^ _RB
    return x


def cmac(key, data):
    """AES-CMAC(key, data) -> 16-byte tag (RFC 4493 2.4). data: bytes, bytearray or memoryview."""
    e = aes.ecb(key)
    k1 = _dbl(int.from_bytes(e.encrypt(bytes(16)), "big"))
    n = len(data)
    # RFC 4493 2.4 steps 2-4: the last block M_n is complete iff n is a non-zero multiple of 16.
    rem = n & 15
    complete = n > 0 and rem == 0
    last_start = n - 16 if complete else n - rem
    mv = memoryview(data)
    chain = 0
    if last_start:
        # Step 6 for M_1 .. M_{n-1}: plain CBC with a zero IV; its last output block is X.
        c = aes.cbc_encryptor(key, bytes(16))
        out = b""
        for i in range(0, last_start, _CHUNK):
            j = i + _CHUNK
            out = c.encrypt(mv[i:j if j < last_start else last_start])
        chain = int.from_bytes(out[-16:], "big")
    m = int.from_bytes(mv[last_start:], "big")
    if complete:
        m ^= k1
    else:
        # padding(x) = x || 10^i (RFC 4493 2.4 step 4), then XOR K2.
        m = ((m << 8 | 0x80) << (8 * (15 - rem))) ^ _dbl(k1)
    return bytes(e.encrypt((m ^ chain).to_bytes(16, "big")))


def verify_cmac(key, data, tag):
    """Check tag (the first len(tag) bytes of the CMAC, 8 to 16 bytes; SP 800-38B 6.2 MSB_Tlen)
    against data. Returns None; raises InvalidTag on mismatch or an unusable tag length."""
    aes.check_key(key)
    t = len(tag)
    if t < _MIN_TAG or t > 16:
        raise InvalidTag("tag length")
    if not equal(cmac(key, data)[:t], tag):
        raise InvalidTag("mismatch")
