# HMAC-SHA256, HKDF-SHA256 and equal() (meterseal.crypto.kdf) against RFC 4231, RFC 5869 and
# Wycheproof hkdf_sha256_test.json. Runs under CPython and MicroPython.
from mptest import raises, unhex, vector_lines

from meterseal.crypto import kdf


def _f(s):
    return b"" if s == "-" else unhex(s)


def test_rfc4231_typed_cases():
    # Test cases 1, 2 and 5 (truncation to 128 bits) of RFC 4231 section 4.
    assert kdf.hmac_sha256(b"\x0b" * 20, b"Hi There") == unhex(
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
    assert kdf.hmac_sha256(b"Jefe", b"what do ya want for nothing?") == unhex(
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    assert kdf.hmac_sha256(b"\x0c" * 20, b"Test With Truncation")[:16] == unhex(
        "a3b6167473100ee06e0c796c2955552b")


def test_rfc4231_file():
    n = 0
    for line in vector_lines("sym_hmac.txt"):
        src, key, msg, mac = line.split()
        assert kdf.hmac_sha256(_f(key), _f(msg)) == _f(mac), src
        n += 1
    assert n == 6  # cases 1-4, 6, 7 (131-byte keys exercise the hash-the-key path)


def test_hmac_key_of_exactly_one_block():
    # 64-byte keys are used as they are, 65-byte keys hashed first (RFC 2104 section 2).
    k64 = bytes(range(64))
    k65 = bytes(range(65))
    import hashlib

    assert kdf.hmac_sha256(k65, b"m") == kdf.hmac_sha256(hashlib.sha256(k65).digest(), b"m")
    assert kdf.hmac_sha256(k64, b"m") != kdf.hmac_sha256(hashlib.sha256(k64).digest(), b"m")
    assert kdf.hmac_sha256(k64[:10], b"m") == kdf.hmac_sha256(k64[:10] + bytes(54), b"m")


def test_rfc5869_typed_cases():
    ikm = b"\x0b" * 22
    # A.1
    okm = kdf.hkdf_sha256(ikm, unhex("000102030405060708090a0b0c"),
                          unhex("f0f1f2f3f4f5f6f7f8f9"), 42)
    assert okm == unhex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
                        "34007208d5b887185865")
    # A.3: zero-length salt and info
    a3 = unhex("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
               "9d201395faa4b61a96c8")
    assert kdf.hkdf_sha256(ikm, b"", b"", 42) == a3
    assert kdf.hkdf_sha256(ikm, None, b"", 42) == a3
    assert kdf.hkdf_sha256(ikm, bytes(32), b"", 42) == a3


def test_vector_file():
    ok, rejected = _run_hkdf_file("sym_hkdf.txt")
    assert ok >= 80 and rejected == 0, (ok, rejected)


def test_vector_file_long_outputs():
    import sys

    if sys.implementation.name == "micropython":
        import mptest

        mptest.skip("16 KB vector lines exceed a board heap; run under CPython")
    ok, rejected = _run_hkdf_file("sym_hkdf_long.txt")
    assert ok == 3 and rejected == 3, (ok, rejected)  # lengths past 255 * 32 must raise


def _run_hkdf_file(name):
    ok = rejected = 0
    for line in vector_lines(name):
        src, result, ikm, salt, info, length, okm = line.split()
        ikm, salt, info, length, okm = _f(ikm), _f(salt), _f(info), int(length), _f(okm)
        if result == "valid":
            assert kdf.hkdf_sha256(ikm, salt, info, length) == okm, src
            ok += 1
        else:
            with raises(ValueError):
                kdf.hkdf_sha256(ikm, salt, info, length)
            rejected += 1
    return ok, rejected


def test_hkdf_lengths():
    prefix = kdf.hkdf_sha256(b"ikm", b"salt", b"info", 255 * 32)
    assert len(prefix) == 8160
    for n in (0, 1, 31, 32, 33, 64, 100):
        assert kdf.hkdf_sha256(b"ikm", b"salt", b"info", n) == prefix[:n]
    for n in (-1, 8161):
        with raises(ValueError):
            kdf.hkdf_sha256(b"ikm", b"salt", b"info", n)


def test_equal():
    a = bytes(range(16))
    assert kdf.equal(a, bytes(range(16)))
    assert kdf.equal(b"", b"")
    assert kdf.equal(a, bytearray(a))
    assert kdf.equal(memoryview(a), a)
    assert not kdf.equal(a, a[:15])
    assert not kdf.equal(a, a + b"\x00")
    for i in range(16):
        for bit in (0x01, 0x80):
            b = bytearray(a)
            b[i] ^= bit
            assert not kdf.equal(a, b), (i, bit)
            assert kdf.equal(a, b) is False
    assert kdf.equal(a, a) is True
