# AES-CMAC (meterseal.crypto.cmac) against RFC 4493, NIST SP 800-38B examples and Wycheproof
# aes_cmac_test.json. Runs under CPython and MicroPython.
from mptest import raises, unhex, vector_lines

from meterseal.crypto import aes, cmac
from meterseal.crypto.errors import InvalidTag

_K = unhex("2b7e151628aed2a6abf7158809cf4f3c")
_M = unhex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
           "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710")


def _f(s):
    return b"" if s == "-" else unhex(s)


def test_rfc4493_subkeys():
    # RFC 4493 4, "Subkey Generation".
    L = aes.ecb_encrypt_block(_K, bytes(16))
    assert L == unhex("7df76b0c1ab899b33e42f047b91b546f")
    k1 = cmac._dbl(int.from_bytes(L, "big"))
    assert k1.to_bytes(16, "big") == unhex("fbeed618357133667c85e08f7236a8de")
    assert cmac._dbl(k1).to_bytes(16, "big") == unhex("f7ddac306ae266ccf90bc11ee46d513b")


def test_rfc4493_examples():
    # RFC 4493 4, Examples 1-4 (messages of 0, 16, 40 and 64 bytes).
    assert cmac.cmac(_K, b"") == unhex("bb1d6929e95937287fa37d129b756746")
    assert cmac.cmac(_K, _M[:16]) == unhex("070a16b46b4d4144f79bdd9dd04a287c")
    assert cmac.cmac(_K, _M[:40]) == unhex("dfa66747de9ae63030ca32611497c827")
    assert cmac.cmac(_K, _M) == unhex("51f0bebf7e3b9d92fc49741779363cfe")


def test_vector_file():
    ok = rejected = refused = 0
    for line in vector_lines("sym_cmac.txt"):
        src, result, key, msg, tag = line.split()
        key, msg, tag = _f(key), _f(msg), _f(tag)
        if len(key) not in (16, 32):
            # Wycheproof InvalidKeySize and all AES-192 vectors: refused as a caller error.
            with raises(ValueError):
                cmac.verify_cmac(key, msg, tag)
            refused += 1
            continue
        if result == "valid":
            assert cmac.cmac(key, msg) == tag, src
            cmac.verify_cmac(key, msg, tag)
            ok += 1
        else:
            with raises(InvalidTag):
                cmac.verify_cmac(key, msg, tag)
            rejected += 1
    assert ok > 40 and rejected > 150 and refused > 100, (ok, rejected, refused)


def test_verify_truncated_tags():
    full = cmac.cmac(_K, _M)
    for t in range(8, 17):
        cmac.verify_cmac(_K, _M, full[:t])
    for t in (0, 1, 4, 7):
        with raises(InvalidTag, match="tag length"):
            cmac.verify_cmac(_K, _M, full[:t])
    with raises(InvalidTag):
        cmac.verify_cmac(_K, _M, full + b"\x00")
    for i in range(16):
        bad = bytearray(full)
        bad[i] ^= 0x01
        with raises(InvalidTag, match="mismatch"):
            cmac.verify_cmac(_K, _M, bad)
    with raises(InvalidTag):
        cmac.verify_cmac(_K, _M[:63], full)


def _reference(key, msg):
    # RFC 4493 2.4 one block at a time with ecb_encrypt_block: no CBC mode, no chunking.
    L = int.from_bytes(aes.ecb_encrypt_block(key, bytes(16)), "big")
    k1 = cmac._dbl(L)
    k2 = cmac._dbl(k1)
    n = (len(msg) + 15) // 16
    if n == 0:
        n = 1
    complete = len(msg) > 0 and len(msg) % 16 == 0
    x = 0
    for i in range(n - 1):
        y = x ^ int.from_bytes(msg[16 * i:16 * i + 16], "big")
        x = int.from_bytes(aes.ecb_encrypt_block(key, y.to_bytes(16, "big")), "big")
    last = msg[16 * (n - 1):]
    if complete:
        m = int.from_bytes(last, "big") ^ k1
    else:
        m = int.from_bytes(last + b"\x80" + bytes(15 - len(last)), "big") ^ k2
    return aes.ecb_encrypt_block(key, (m ^ x).to_bytes(16, "big"))


def test_lengths_across_internal_chunks():
    key = unhex("000102030405060708090a0b0c0d0e0f")
    msg = bytes((i * 31 + 7) & 0xFF for i in range(2100))
    for n in (1, 15, 17, 31, 32, 33, 1007, 1008, 1023, 1024, 1025, 1040, 1041, 2048, 2064, 2100):
        assert cmac.cmac(key, msg[:n]) == _reference(key, msg[:n]), n


def test_accepts_bytearray_and_memoryview():
    t = cmac.cmac(_K, _M[:40])
    assert cmac.cmac(bytearray(_K), bytearray(_M[:40])) == t
    assert cmac.cmac(_K, memoryview(_M)[:40]) == t
    cmac.verify_cmac(_K, memoryview(_M)[:40], bytearray(t))


def test_aes256_key():
    # SP 800-38B D.3 (AES-256), Example 12: the 64-byte message.
    k = unhex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4")
    assert cmac.cmac(k, _M) == unhex("e1992190549f6ed5696a2c056c315410")
