# AES-CCM (meterseal.crypto.ccm) against RFC 3610 packet vectors, SP 800-38C Appendix C,
# Wycheproof aes_ccm_test.json and the NIST CAVP CCM files. Runs under CPython and MicroPython.
from mptest import IS_MICROPYTHON, raises, skip, unhex, vector_lines

from meterseal.crypto import ccm
from meterseal.crypto.errors import InvalidTag


def _f(s):
    return b"" if s == "-" else unhex(s)


def _seq(a, b):
    return bytes(range(a, b + 1))


def test_rfc3610_packet_vectors_1_to_3():
    # RFC 3610 section 8: M = 8, L = 2 (13-byte nonce), 8-byte header, payload 23..25 bytes.
    key = _seq(0xC0, 0xCF)
    cases = (
        ("00000003020100a0a1a2a3a4a5", 0x1E,
         "588c979a61c663d2f066d0c2c0f989806d5f6b61dac38417e8d12cfdf926e0"),
        ("00000004030201a0a1a2a3a4a5", 0x1F,
         "72c91a36e135f8cf291ca894085c87e3cc15c439c9e43a3ba091d56e10400916"),
        ("00000005040302a0a1a2a3a4a5", 0x20,
         "51b1e5f44a197d1da46b0f8e2d282ae871e838bb64da8596574adaa76fbd9fb0c5"),
    )
    for nonce, last, ct in cases:
        nonce, ct = unhex(nonce), unhex(ct)
        hdr, payload = _seq(0, 7), _seq(8, last)
        assert ccm.encrypt(key, nonce, payload, hdr, 8) == ct
        assert ccm.decrypt(key, nonce, ct, hdr, 8) == payload


def test_sp800_38c_appendix_c():
    key = _seq(0x40, 0x4F)
    # C.1: Tlen 32, Nlen 56, Alen 64, Plen 32 (bits)
    ct = ccm.encrypt(key, _seq(0x10, 0x16), _seq(0x20, 0x23), _seq(0, 7), 4)
    assert ct == unhex("7162015b4dac255d")
    # C.2: Tlen 48, Nlen 64, Alen 128, Plen 128
    ct = ccm.encrypt(key, _seq(0x10, 0x17), _seq(0x20, 0x2F), _seq(0, 0x0F), 6)
    assert ct == unhex("d2a1f0e051ea5f62081a7792073d593d1fc64fbfaccd")
    # C.3: Tlen 64, Nlen 96, Alen 160, Plen 192
    ct = ccm.encrypt(key, _seq(0x10, 0x1B), _seq(0x20, 0x37), _seq(0, 0x13), 8)
    assert ct == unhex("e3b201a9f5b71a7a9b1ceaeccd97e70b6176aad9a4428aa5484392fbc1b09951")
    assert ccm.decrypt(key, _seq(0x10, 0x1B), ct, _seq(0, 0x13), 8) == _seq(0x20, 0x37)


def test_vector_file():
    ok = bad_tag = bad_param = refused = 0
    for line in vector_lines("sym_ccm.txt"):
        src, result, key, nonce, aad, msg, ct, tlen, tag = line.split()
        key, nonce, aad, msg = _f(key), _f(nonce), _f(aad), _f(msg)
        ct_tag = _f(ct) + _f(tag)
        tlen = int(tlen)
        if len(key) == 24:
            with raises(ValueError):
                ccm.decrypt(key, nonce, ct_tag, aad, tlen)
            refused += 1
            continue
        if result == "valid":
            assert ccm.encrypt(key, nonce, msg, aad, tlen) == ct_tag, src
            assert ccm.decrypt(key, nonce, ct_tag, aad, tlen) == msg, src
            ok += 1
        elif result == "tag":
            with raises(InvalidTag):
                ccm.decrypt(key, nonce, ct_tag, aad, tlen)
            bad_tag += 1
        else:
            # Nonce outside 7..13 bytes (incl. CVE-2017-18330 very long nonces) or a tag
            # length outside {4, 6, ..., 16}: refused before any processing.
            with raises(ValueError):
                ccm.decrypt(key, nonce, ct_tag, aad, tlen)
            with raises(ValueError):
                ccm.encrypt(key, nonce, msg, aad, tlen)
            bad_param += 1
    assert ok > 1800 and bad_tag > 350 and bad_param > 40 and refused > 1000, (
        ok, bad_tag, bad_param, refused)


def test_any_modification_raises_invalid_tag():
    key = _seq(0x40, 0x4F)
    nonce = _seq(0x10, 0x1B)
    aad = b"header"
    msg = b"meter reading 0001234.5 kWh"
    ct = ccm.encrypt(key, nonce, msg, aad, 8)
    for i in range(len(ct)):
        bad = bytearray(ct)
        bad[i] ^= 0x01
        with raises(InvalidTag):
            ccm.decrypt(key, nonce, bytes(bad), aad, 8)
    with raises(InvalidTag):
        ccm.decrypt(key, nonce, ct, b"headeR", 8)
    with raises(InvalidTag):
        ccm.decrypt(key, nonce, ct, b"", 8)
    with raises(InvalidTag):
        ccm.decrypt(key, _seq(0x11, 0x1C), ct, aad, 8)
    with raises(InvalidTag):
        ccm.decrypt(key, nonce, ct[:-1], aad, 8)
    with raises(InvalidTag):
        ccm.decrypt(key, nonce, ct, aad, 10)  # other tag length: other B_0 flags
    with raises(InvalidTag, match="length"):
        ccm.decrypt(key, nonce, ct[:7], aad, 8)


def test_parameter_limits():
    key = bytes(16)
    for n in (7, 13):
        for t in (4, 16):
            ct = ccm.encrypt(key, bytes(n), b"x", b"", t)
            assert len(ct) == 1 + t
            assert ccm.decrypt(key, bytes(n), ct, b"", t) == b"x"
    for n in (0, 6, 14, 16):
        with raises(ValueError):
            ccm.encrypt(key, bytes(n), b"x")
    for t in (0, 2, 5, 17, 18):
        with raises(ValueError):
            ccm.encrypt(key, bytes(12), b"x", b"", t)
    with raises(ValueError):
        ccm.encrypt(bytes(24), bytes(12), b"x")


def test_payload_length_bound_of_13_byte_nonce():
    # q = 2 with a 13-byte nonce: the payload must be shorter than 2^16 bytes (SP 800-38C A.1).
    try:
        big = bytearray(65540)
    except MemoryError:
        skip("no room for a 64 KiB buffer on this heap")
    with raises(ValueError):
        ccm.encrypt(bytes(16), bytes(13), memoryview(big)[:65536])
    # A ciphertext that long cannot be authentic: refused before any decryption work.
    with raises(InvalidTag, match="length"):
        ccm.decrypt(bytes(16), bytes(13), big, b"", 4)
    if not IS_MICROPYTHON:  # the 64 KiB result does not fit beside the input on a board heap
        # One byte of nonce less (q = 3) lifts the bound.
        assert len(ccm.encrypt(bytes(16), bytes(12), memoryview(big)[:65536], b"", 4)) == 65540


def test_streaming_sizes_round_trip():
    key = _seq(0x40, 0x4F)
    data = bytes((i * 11) & 0xFF for i in range(2100))
    for n in (0, 1, 16, 1023, 1024, 1025, 2100):
        for a in (0, 13, 14, 15, 1030):
            ct = ccm.encrypt(key, bytes(12), data[:n], data[:a], 16)
            assert ccm.decrypt(key, bytes(12), memoryview(ct), bytearray(data[:a]), 16) == \
                data[:n]
