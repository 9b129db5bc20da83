# AES key wrap (meterseal.crypto.keywrap) against RFC 3394 section 4, Wycheproof
# aes_wrap_test.json and the NIST SP 800-38F KW CAVP files. Runs under CPython and MicroPython.
from mptest import raises, unhex, vector_lines

from meterseal.crypto import keywrap
from meterseal.crypto.errors import InvalidTag

_KEK128 = unhex("000102030405060708090a0b0c0d0e0f")
_KEK192 = unhex("000102030405060708090a0b0c0d0e0f1011121314151617")
_KEK256 = unhex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
_KD128 = unhex("00112233445566778899aabbccddeeff")
_KD192 = unhex("00112233445566778899aabbccddeeff0001020304050607")
_KD256 = unhex("00112233445566778899aabbccddeeff000102030405060708090a0b0c0d0e0f")


def _f(s):
    return b"" if s == "-" else unhex(s)


def test_rfc3394_section4():
    cases = (
        (_KEK128, _KD128, "1fa68b0a8112b447aef34bd8fb5a7b829d3e862371d2cfe5"),  # 4.1
        (_KEK256, _KD128, "64e8c3f9ce0f5ba263e9777905818a2a93c8191e7d6e8ae7"),  # 4.3
        (_KEK256, _KD192, "a8f9bc1612c68b3ff6e6f4fbe30e71e4769c8b80a32cb895"
                          "8cd5d17d6b254da1"),  # 4.5
        (_KEK256, _KD256, "28c9f404c4b810f4cbccb35cfb87f8263f5786e2d80ed326"
                          "cbc7f0e71a99f43bfb988b9b7a02dd21"),  # 4.6
    )
    for kek, kd, ct in cases:
        ct = unhex(ct)
        assert keywrap.wrap(kek, kd) == ct
        assert keywrap.unwrap(kek, ct) == kd


def test_rfc3394_192_bit_kek_refused():
    # 4.2 and 4.4 use a 192-bit KEK, which the boards' AES does not offer.
    with raises(ValueError):
        keywrap.wrap(_KEK192, _KD128)
    with raises(ValueError):
        keywrap.unwrap(_KEK192, unhex("96778b25ae6ca435f92b5b97c050aed2468ab8a17ad84e5d"))


def test_vector_file():
    ok = rejected = refused = 0
    for line in vector_lines("sym_kw.txt"):
        src, result, kek, kd, ct = line.split()
        kek, kd, ct = _f(kek), _f(kd), _f(ct)
        if len(kek) == 24:
            with raises(ValueError):
                keywrap.unwrap(kek, ct)
            refused += 1
            continue
        if result == "valid":
            assert keywrap.wrap(kek, kd) == ct, src
            assert keywrap.unwrap(kek, ct) == kd, src
            ok += 1
        else:
            with raises(InvalidTag):
                keywrap.unwrap(kek, ct)
            # Key data of a length RFC 3394 cannot wrap (empty, 8 bytes, not a multiple of 8).
            if kd and (len(kd) % 8 or len(kd) < 16):
                with raises(ValueError):
                    keywrap.wrap(kek, kd)
            rejected += 1
    assert ok > 1800 and rejected > 250 and refused > 40, (ok, rejected, refused)


def test_every_modified_byte_is_rejected():
    ct = keywrap.wrap(_KEK128, _KD256)
    for i in range(len(ct)):
        bad = bytearray(ct)
        bad[i] ^= 0x80
        with raises(InvalidTag, match="integrity"):
            keywrap.unwrap(_KEK128, bytes(bad))
    with raises(InvalidTag):
        keywrap.unwrap(_KEK256, ct)  # wrong KEK
    with raises(InvalidTag, match="length"):
        keywrap.unwrap(_KEK128, ct[:-1])
    with raises(InvalidTag, match="length"):
        keywrap.unwrap(_KEK128, ct[:16])
    with raises(InvalidTag, match="length"):
        keywrap.unwrap(_KEK128, b"")


def test_wrap_rejects_bad_key_data():
    for n in (0, 8, 15, 17, 23):
        with raises(ValueError):
            keywrap.wrap(_KEK128, bytes(n))
    with raises(ValueError):
        keywrap.wrap(bytes(15), _KD128)


def test_long_key_data_round_trip():
    # 64 blocks: 384 AES steps each way, counter t well above 256 (Wycheproof CounterOverflow).
    kd = bytes(range(256)) * 2
    ct = keywrap.wrap(_KEK128, kd)
    assert len(ct) == len(kd) + 8
    assert keywrap.unwrap(_KEK128, ct) == kd
    assert keywrap.unwrap(_KEK128, bytearray(ct)) == kd
