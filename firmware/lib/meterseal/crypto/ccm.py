# AES-CCM (NIST SP 800-38C, RFC 3610): nonce 7..13 bytes, tag 4..16 bytes (even), optional
# associated data. encrypt returns ciphertext || tag; decrypt checks the tag in constant time and
# raises InvalidTag without returning any plaintext (SP 800-38C 6.2 step 10).
#
# The CBC-MAC runs through the cipher's CBC mode with a zero IV (its last output block is Y_r of
# SP 800-38C 6.1), the encryption through aes.ctr_crypt_with with Ctr_1 as the first block: the
# CTR counter field is q bytes wide and can never carry into the nonce because the payload
# length is bounded by 2^(8q) bytes.
from meterseal.compat import const
from meterseal.crypto import aes
from meterseal.crypto.errors import InvalidTag
from meterseal.crypto.kdf import equal

_CHUNK = const(1024)  # payload bytes per CBC-MAC call


def _check(key, nonce, tag_len):
    aes.check_key(key)
    # SP 800-38C A.1: Tlen in {32, 48, ..., 128} bits; n in 7..13 bytes (q = 15 - n in 2..8).
    if len(nonce) < 7 or len(nonce) > 13:
        raise ValueError("CCM nonce must be 7..13 bytes")
    if tag_len < 4 or tag_len > 16 or tag_len & 1:
        raise ValueError("CCM tag length must be 4, 6, ..., 16")


def _feed(cbc, head, data):
    # CBC-MAC over head || data || zero padding to a block boundary (SP 800-38C A.2.2, A.2.3);
    # returns the last output block. Big data goes in chunks, never as one padded copy.
    n = len(data)
    mv = memoryview(data)
    y = b""
    k = 0
    if head:
        k = (-len(head)) & 15
        if k > n:
            k = n
        first = bytes(head) + bytes(mv[:k])
        y = cbc.encrypt(first + bytes((-len(first)) & 15))
    pos = k
    full_end = pos + ((n - pos) & ~15)
    while pos < full_end:
        j = pos + _CHUNK
        if j > full_end:
            j = full_end
        y = cbc.encrypt(mv[pos:j])
        pos = j
    if pos < n:
        y = cbc.encrypt(bytes(mv[pos:]) + bytes(16 - (n - pos)))
    return y


def _tag(key, nonce, aad, payload, tag_len):
    # Full 16-byte T before truncation (SP 800-38C 6.1 steps 1-4).
    q = 15 - len(nonce)
    plen = len(payload)
    if plen >> (8 * q):
        raise ValueError("payload too long for this nonce length")
    # A.2.1 B_0 flags: Adata bit 6, [(t-2)/2]_3 in bits 3-5, [q-1]_3 in bits 0-2.
    flags = (0x40 if aad else 0) | ((tag_len - 2) >> 1) << 3 | (q - 1)
    cbc = aes.cbc_encryptor(key, bytes(16))
    y = cbc.encrypt(bytes((flags,)) + bytes(nonce) + plen.to_bytes(q, "big"))
    if aad:
        a = len(aad)
        # A.2.2: the length of the associated data, encoded in 2, 6 or 10 bytes.
        if a < 0xFF00:
            head = a.to_bytes(2, "big")
        elif a >> 32 == 0:
            head = b"\xff\xfe" + a.to_bytes(4, "big")
        else:
            head = b"\xff\xff" + a.to_bytes(8, "big")
        y = _feed(cbc, head, aad)
    if plen:
        y = _feed(cbc, b"", payload)
    return y[-16:]


def _ctr0(nonce):
    # A.3: Ctr_0 = [q-1]_8 || N || [0]_8q; Ctr_i is the same block plus i.
    q = 15 - len(nonce)
    return bytes((q - 1,)) + bytes(nonce) + bytes(q)


def _ctr1(ctr0):
    return (int.from_bytes(ctr0, "big") + 1).to_bytes(16, "big")


def encrypt(key, nonce, data, aad=b"", tag_len=16):
    """CCM generation-encryption (SP 800-38C 6.1) -> ciphertext || tag (len(data) + tag_len)."""
    _check(key, nonce, tag_len)
    t = _tag(key, nonce, aad, data, tag_len)
    e = aes.ecb(key)
    ctr0 = _ctr0(nonce)
    s0 = e.encrypt(ctr0)
    out = bytearray(aes.ctr_crypt_with(e, _ctr1(ctr0), data))
    x = int.from_bytes(t[:tag_len], "big") ^ int.from_bytes(s0[:tag_len], "big")
    out.extend(x.to_bytes(tag_len, "big"))
    return bytes(out)


def decrypt(key, nonce, ct_and_tag, aad=b"", tag_len=16):
    """CCM decryption-verification (SP 800-38C 6.2) -> plaintext. Raises InvalidTag on a wrong
    tag or an impossible length (shorter than the tag, or a payload too long for the nonce's
    length field), ValueError on a bad key, nonce length or tag length."""
    _check(key, nonce, tag_len)
    n = len(ct_and_tag) - tag_len
    if n < 0 or n >> (8 * (15 - len(nonce))):
        raise InvalidTag("length")
    mv = memoryview(ct_and_tag)
    e = aes.ecb(key)
    ctr0 = _ctr0(nonce)
    s0 = e.encrypt(ctr0)
    p = aes.ctr_crypt_with(e, _ctr1(ctr0), mv[:n])
    t = _tag(key, nonce, aad, p, tag_len)
    x = int.from_bytes(t[:tag_len], "big") ^ int.from_bytes(s0[:tag_len], "big")
    if not equal(x.to_bytes(tag_len, "big"), mv[n:]):
        raise InvalidTag("mismatch")
    return p
