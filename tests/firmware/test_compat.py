# compat: the one module that differs between interpreters (P2).
from meterseal import compat
from mptest import unhex


def test_aes_ecb_fips197_c1():
    # FIPS 197 Appendix C.1 (AES-128)
    key = unhex("000102030405060708090a0b0c0d0e0f")
    e = compat.aes_ecb(key)
    ct = e.encrypt(unhex("00112233445566778899aabbccddeeff"))
    assert ct == unhex("69c4e0d86a7b0430d8cdb78070b4c55a")
    assert e.decrypt(ct) == unhex("00112233445566778899aabbccddeeff")
    # the same object keeps encrypting after decrypting (cryptolib objects are one-way)
    assert e.encrypt(unhex("00112233445566778899aabbccddeeff")) == ct


def test_ticks_diff_wraps():
    assert compat.ticks_diff(5, 3) == 2
    a = compat.ticks_ms()
    assert compat.ticks_diff(compat.ticks_ms(), a) >= 0


def test_const_is_identity():
    assert compat.const(0x5B) == 0x5B
