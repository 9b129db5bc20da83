# AES block cipher modes (NIST SP 800-38A) on top of compat.aes_ecb.
#
# cbc_encrypt/cbc_decrypt: CBC without padding (SP 800-38A 6.2); callers frame their own data.
# ctr_crypt: CTR with the whole 128-bit counter block incremented big-endian (SP 800-38A 6.5,
#   B.1 "standard incrementing function" with m = 128).
# ecb_encrypt_block: one raw block, for key derivations and tests.
# ecb(key), cbc_encryptor(key, iv) and ctr_crypt_with(...): building blocks for cmac, ccm and
#   keywrap so that one key schedule serves a whole operation.
#
# AES-128 is what the project uses; 32-byte keys work as well. 24-byte keys are refused on both
# interpreters because MicroPython's cryptolib (unix port and boards alike) has no AES-192.
from meterseal.compat import aes_cbc, aes_ecb, const

_BLOCK = const(16)
# CTR keystream is made this many bytes at a time: one ECB call per chunk keeps the Python
# overhead per block low while the temporary buffers stay small on a 128 KiB heap.
_CTR_CHUNK = const(256)
# CBC data is handed to the cipher in pieces of this size so big inputs never need a second
# full-size temporary inside the cipher.
_CBC_CHUNK = const(1024)
_MASK128 = const((1 << 128) - 1)


def check_key(key):
    """Raise ValueError unless key is 16 or 32 bytes (AES-128 / AES-256)."""
    if len(key) != 16 and len(key) != 32:
        raise ValueError("AES key must be 16 or 32 bytes")


def ecb(key):
    """An ECB object (encrypt(blocks)/decrypt(blocks)) for key; reuse it for many blocks."""
    check_key(key)
    return aes_ecb(key)


def ecb_encrypt_block(key, block):
    """AES_K(block) for one 16-byte block (FIPS 197 cipher, no mode)."""
    if len(block) != _BLOCK:
        raise ValueError("block must be 16 bytes")
    return bytes(ecb(key).encrypt(block))


def _cbc(key, iv):
    check_key(key)
    if len(iv) != _BLOCK:
        raise ValueError("IV must be 16 bytes")
    # The object keeps the chaining value between calls, which streaming relies on; one object
    # encrypts or decrypts, never both, hence a fresh one per operation.
    return aes_cbc(key, iv)


def cbc_encryptor(key, iv):
    """A stateful CBC encryptor: encrypt(data) for data a multiple of 16 bytes, chaining across
    calls. CMAC and CCM's CBC-MAC run through it (the last output block is the MAC state)."""
    return _cbc(key, iv)


def _cbc_run(key, iv, data, decrypt):
    if len(data) % _BLOCK:
        raise ValueError("data length must be a multiple of 16")
    c = _cbc(key, iv)
    run = c.decrypt if decrypt else c.encrypt
    n = len(data)
    if n <= _CBC_CHUNK:
        return bytes(run(data))
    out = bytearray(n)
    mv = memoryview(data)
    for i in range(0, n, _CBC_CHUNK):
        out[i:i + _CBC_CHUNK] = run(mv[i:i + _CBC_CHUNK])
    return bytes(out)


def cbc_encrypt(key, iv, data):
    """AES-CBC encryption (SP 800-38A 6.2), no padding: len(data) must be a multiple of 16."""
    return _cbc_run(key, iv, data, False)


def cbc_decrypt(key, iv, data):
    """AES-CBC decryption (SP 800-38A 6.2), no padding: len(data) must be a multiple of 16."""
    return _cbc_run(key, iv, data, True)


def ctr_crypt_with(ecb_obj, counter_block16, data):
    """CTR with an existing ECB object (see ctr_crypt). Returns bytes of len(data)."""
    if len(counter_block16) != _BLOCK:
        raise ValueError("counter block must be 16 bytes")
    ctr = int.from_bytes(counter_block16, "big")
    n = len(data)
    out = bytearray(n)
    mv = memoryview(data)
    blocks = bytearray(_CTR_CHUNK)
    enc = ecb_obj.encrypt
    pos = 0
    while pos < n:
        m = n - pos
        if m > _CTR_CHUNK:
            m = _CTR_CHUNK
        nb = (m + 15) >> 4
        # SP 800-38A B.1: T_{j+1} = T_j + 1 mod 2^128 over the whole block.
        for i in range(nb):
            blocks[i * 16:i * 16 + 16] = ((ctr + i) & _MASK128).to_bytes(_BLOCK, "big")
        ctr += nb
        ks = enc(blocks if nb * 16 == _CTR_CHUNK else memoryview(blocks)[:nb * 16])
        # One big-integer XOR instead of a per-byte loop; a final partial block uses the most
        # significant bytes of its keystream block (SP 800-38A 6.5).
        x = int.from_bytes(mv[pos:pos + m], "big") ^ int.from_bytes(ks[:m], "big")
        out[pos:pos + m] = x.to_bytes(m, "big")
        pos += m
    return bytes(out)


def ctr_crypt(key, counter_block16, data):
    """AES-CTR (SP 800-38A 6.5) starting at counter_block16; encryption and decryption alike.

    The whole 16-byte block is the counter (incremented big-endian modulo 2^128), so any
    nonce/counter split (RFC 3686, CCM's A_i, OMS) is the caller's choice of initial block."""
    return ctr_crypt_with(ecb(key), counter_block16, data)
