# AES modes (meterseal.crypto.aes) against FIPS 197, NIST SP 800-38A Appendix F, the NIST CAVP
# CBC KAT/MMT files and the RFC 3686 CTR vectors. Runs under CPython and MicroPython.
from mptest import raises, unhex, vector_lines

from meterseal.crypto import aes

# SP 800-38A F.2.1 / F.2.2 (CBC-AES128) and F.5.1 / F.5.2 (CTR-AES128) share key and plaintext.
_K = unhex("2b7e151628aed2a6abf7158809cf4f3c")
_P = unhex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
           "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710")
_CBC_IV = unhex("000102030405060708090a0b0c0d0e0f")
_CBC_C = unhex("7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2"
               "73bed6b8e3c1743b7116e69e222295163ff1caa1681fac09120eca307586e1a7")
_CTR_IV = unhex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff")
_CTR_C = unhex("874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff"
               "5ae4df3edbd5d35e5b4f09020db03eab1e031dda2fbe03d1792170a0f3009cee")


def _f(s):
    return b"" if s == "-" else unhex(s)


def _xor(a, b):
    return bytes(x ^ y for x, y in zip(a, b))


def test_fips197_appendix_c_block():
    # FIPS 197 C.1 (AES-128) and C.3 (AES-256).
    pt = unhex("00112233445566778899aabbccddeeff")
    k128 = unhex("000102030405060708090a0b0c0d0e0f")
    assert aes.ecb_encrypt_block(k128, pt) == unhex("69c4e0d86a7b0430d8cdb78070b4c55a")
    k256 = unhex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
    assert aes.ecb_encrypt_block(k256, pt) == unhex("8ea2b7ca516745bfeafc49904b496089")
    with raises(ValueError):
        aes.ecb_encrypt_block(k128, pt[:15])


def test_sp800_38a_f21_cbc_encrypt():
    assert aes.cbc_encrypt(_K, _CBC_IV, _P) == _CBC_C


def test_sp800_38a_f22_cbc_decrypt():
    assert aes.cbc_decrypt(_K, _CBC_IV, _CBC_C) == _P


def test_sp800_38a_f51_ctr_encrypt():
    assert aes.ctr_crypt(_K, _CTR_IV, _P) == _CTR_C


def test_sp800_38a_f52_ctr_decrypt():
    assert aes.ctr_crypt(_K, _CTR_IV, _CTR_C) == _P


def test_cavp_cbc_vectors():
    n = refused = 0
    for line in vector_lines("sym_cbc.txt"):
        src, key, iv, pt, ct = line.split()
        key, iv, pt, ct = unhex(key), unhex(iv), unhex(pt), unhex(ct)
        if len(key) == 24:
            # No AES-192 in cryptolib: refused on both interpreters alike.
            with raises(ValueError):
                aes.cbc_encrypt(key, iv, pt)
            refused += 1
            continue
        assert aes.cbc_encrypt(key, iv, pt) == ct, src
        assert aes.cbc_decrypt(key, iv, ct) == pt, src
        n += 1
    assert n > 1300 and refused > 600, (n, refused)


def test_rfc3686_ctr_vectors():
    n = 0
    for line in vector_lines("sym_ctr.txt"):
        src, key, ctr, pt, ct = line.split()
        key, ctr, pt, ct = unhex(key), unhex(ctr), unhex(pt), unhex(ct)
        if len(key) == 24:
            with raises(ValueError):
                aes.ctr_crypt(key, ctr, pt)
            continue
        assert aes.ctr_crypt(key, ctr, pt) == ct, src
        assert aes.ctr_crypt(key, ctr, ct) == pt, src
        n += 1
    assert n == 6


def test_ctr_counter_wraps_modulo_2_128():
    # SP 800-38A B.1: the whole block is the counter, so ff..ff is followed by 00..00.
    k = bytes(range(16))
    ks = aes.ctr_crypt(k, b"\xff" * 16, bytes(40))
    assert ks[:16] == aes.ecb_encrypt_block(k, b"\xff" * 16)
    assert ks[16:32] == aes.ecb_encrypt_block(k, bytes(16))
    assert ks[32:] == aes.ecb_encrypt_block(k, bytes(15) + b"\x01")[:8]
    # A carry runs through all bytes, not only a low 32-bit word.
    c = unhex("00112233445566778899aaffffffffff")
    assert aes.ctr_crypt(k, c, bytes(32))[16:] == aes.ecb_encrypt_block(
        k, unhex("00112233445566778899ab0000000000"))


def test_ctr_matches_block_by_block_reference_across_chunks():
    # Lengths around the internal 256-byte keystream chunk, compared with a one-block-at-a-time
    # construction straight from SP 800-38A 6.5.
    k = unhex("000102030405060708090a0b0c0d0e0f")
    ctr0 = unhex("fffffffffffffffffffffffffffffff0")
    data = bytes((i * 7 + 3) & 0xFF for i in range(600))
    ref = bytearray()
    c = int.from_bytes(ctr0, "big")
    while len(ref) < len(data):
        ref.extend(aes.ecb_encrypt_block(k, (c & ((1 << 128) - 1)).to_bytes(16, "big")))
        c += 1
    ref = _xor(data, ref)
    for n in (0, 1, 15, 16, 17, 255, 256, 257, 511, 512, 513, 600):
        assert aes.ctr_crypt(k, ctr0, data[:n]) == ref[:n], n
    assert aes.ctr_crypt(k, ctr0, bytearray(data)) == ref
    assert aes.ctr_crypt(k, ctr0, memoryview(data)[:300]) == ref[:300]


def test_cbc_large_input_matches_block_by_block_reference():
    # 3000 bytes cross the 1024-byte streaming pieces; reference from SP 800-38A 6.2 directly.
    k = unhex("2b7e151628aed2a6abf7158809cf4f3c")
    iv = bytes(range(16))
    data = bytes((i * 13) & 0xFF for i in range(3008))
    ref = bytearray()
    prev = iv
    for i in range(0, len(data), 16):
        prev = aes.ecb_encrypt_block(k, _xor(data[i:i + 16], prev))
        ref.extend(prev)
    ref = bytes(ref)
    assert aes.cbc_encrypt(k, iv, data) == ref
    assert aes.cbc_decrypt(k, iv, ref) == data
    assert aes.cbc_decrypt(k, iv, bytearray(ref)) == data


def test_bad_lengths_raise_value_error():
    k = bytes(16)
    for bad in (b"", bytes(15), bytes(24), bytes(33)):
        with raises(ValueError):
            aes.cbc_encrypt(bad, bytes(16), bytes(16))
        with raises(ValueError):
            aes.ctr_crypt(bad, bytes(16), b"x")
    with raises(ValueError):
        aes.cbc_encrypt(k, bytes(16), bytes(17))
    with raises(ValueError):
        aes.cbc_decrypt(k, bytes(16), bytes(8))
    with raises(ValueError):
        aes.cbc_encrypt(k, bytes(8), bytes(16))
    with raises(ValueError):
        aes.ctr_crypt(k, bytes(12), b"abc")
    assert aes.cbc_encrypt(k, bytes(16), b"") == b""
    assert aes.ctr_crypt(k, bytes(16), b"") == b""
