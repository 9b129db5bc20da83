# meterseal.crypto.ecdsa API behaviour under CPython and MicroPython: curves, key generation,
# SEC 1 point encoding, sign/verify round trips, every rejection path, DER conversion.
import hashlib

from mptest import raises, unhex

from meterseal.crypto import ec, ecdsa
from meterseal.crypto.errors import DecodeError, InvalidKey, InvalidSignature

_ALL = (ecdsa.P256, ecdsa.BRAINPOOLP256R1, ecdsa.P192)


def _digest(i):
    return hashlib.sha256(b"meterseal %d" % i).digest()


class _Counter:
    # A deterministic stand-in for hal's randbytes: SHA-256 in counter mode.
    def __init__(self, seed):
        self.seed = seed
        self.i = 0

    def __call__(self, n):
        out = b""
        while len(out) < n:
            self.i += 1
            out += hashlib.sha256(self.seed + b"%d" % self.i).digest()
        return out[:n]


def test_curve_parameters():
    expect = (
        ("secp256r1", "1.2.840.10045.3.1.7", 32),
        ("brainpoolP256r1", "1.3.36.3.3.2.8.1.1.7", 32),
        ("secp192r1", "1.2.840.10045.3.1.1", 24),
    )
    for c, (name, oid, size) in zip(_ALL, expect):
        assert (c.name, c.oid, c.size) == (name, oid, size)
        assert ecdsa.curve_by_oid(oid) is c
        assert ec.on_curve(c, c.gx, c.gy)
        # n*G = O and (n-1)*G = -G: n is the order of G (cofactor 1).
        assert ecdsa.public_point(c, c.n - 1) == (c.gx, c.p - c.gy)
        with raises(InvalidKey):
            ecdsa.public_point(c, c.n)
    with raises(InvalidKey):
        ecdsa.curve_by_oid("1.3.132.0.10")  # secp256k1: not supported


def test_generate_private_rejection_sampling():
    # All-ones and zero draws are out of [1, n-1] and must be redrawn, not reduced mod n.
    for c in _ALL:
        draws = [b"\xff" * c.size, b"\x00" * c.size, b"\x00" * (c.size - 1) + b"\x07"]
        d = ecdsa.generate_private(c, lambda n: draws.pop(0))
        assert d == 7 and not draws
        rnd = _Counter(c.name.encode())
        seen = set()
        for _ in range(8):
            d = ecdsa.generate_private(c, rnd)
            assert 0 < d < c.n
            seen.add(d)
        assert len(seen) == 8
    with raises(ValueError):
        ecdsa.generate_private(ecdsa.P256, lambda n: b"\xff" * n)


def test_point_encoding_round_trip():
    for c in _ALL:
        rnd = _Counter(b"points")
        for _ in range(4):
            pt = ecdsa.public_point(c, ecdsa.generate_private(c, rnd))
            full = ecdsa.encode_point(c, pt)
            short = ecdsa.encode_point(c, pt, compressed=True)
            assert len(full) == 1 + 2 * c.size and full[0] == 4
            assert len(short) == 1 + c.size and short[0] == 2 + (pt[1] & 1)
            assert ecdsa.decode_point(c, full) == pt
            assert ecdsa.decode_point(c, short) == pt
            assert ecdsa.decode_point(c, bytearray(short)) == pt
            assert ecdsa.decode_point(c, memoryview(full)) == pt


def test_decode_point_rejects_malformed():
    c = ecdsa.P256
    g = ecdsa.encode_point(c, (c.gx, c.gy))
    p = c.p.to_bytes(32, "big")
    bad = [
        b"",
        b"\x00",  # infinity
        g[:-1],
        g + b"\x00",
        b"\x05" + g[1:],  # bad prefix
        b"\x06" + g[1:],  # hybrid form is not accepted
        b"\x02" + g[1:],  # compressed prefix, uncompressed length
        b"\x04" + p + g[33:],  # x = p
        b"\x04" + g[1:33] + p,  # y = p
        g[:-1] + bytes((g[-1] ^ 1,)),  # off the curve
        b"\x02" + p,
        b"\x03" + b"\xff" * 32,  # x >= p
    ]
    # A compressed x for which x^3 + ax + b is not a square mod p.
    x = 0
    while ec.sqrt_mod(c, (x * x + c.a) * x + c.b) is not None:
        x += 1
    bad.append(b"\x02" + x.to_bytes(32, "big"))
    for data in bad:
        with raises(InvalidKey):
            ecdsa.decode_point(c, data)
    # A P-192 point is not a P-256 point.
    with raises(InvalidKey):
        ecdsa.decode_point(c, ecdsa.encode_point(ecdsa.P192, (ecdsa.P192.gx, ecdsa.P192.gy)))


def test_sign_verify_round_trip():
    for c in _ALL:
        rnd = _Counter(b"sign" + c.name.encode())
        for i in range(3):
            d = ecdsa.generate_private(c, rnd)
            pub = ecdsa.public_point(c, d)
            dg = _digest(i)
            sig = ecdsa.sign_raw(c, d, dg)
            assert len(sig) == 2 * c.size
            assert sig == ecdsa.sign_raw(c, d, dg)  # deterministic
            assert ecdsa.verify_raw(c, pub, dg, sig) is None
            assert ecdsa.verify_raw(c, ecdsa.encode_point(c, pub), dg, sig) is None
            sig_der = ecdsa.sig_raw_to_der(sig, c.size)
            assert ecdsa.verify_der(c, ecdsa.encode_point(c, pub, True), dg, sig_der) is None
            assert ecdsa.sig_der_to_raw(sig_der, c.size) == sig
            with raises(InvalidSignature):
                ecdsa.verify_raw(c, pub, _digest(i + 100), sig)
            bad = bytearray(sig)
            bad[5] ^= 0x10
            with raises(InvalidSignature):
                ecdsa.verify_raw(c, pub, dg, bytes(bad))
            other = ecdsa.public_point(c, d + 1 if d + 1 < c.n else 1)
            with raises(InvalidSignature):
                ecdsa.verify_raw(c, other, dg, sig)


def test_edge_keys_and_scalars():
    # Keys 1 and n-1 make Q = G and Q = -G: the joint u1*G + u2*Q hits P+P and P-P. Three
    # verifications per key take the three paths: first sight (NAF), second (builds the comb
    # table), third (cached table); a bad signature must fail on each.
    for c in _ALL:
        for d in (1, 2, 3, c.n - 1, c.n - 2):
            pub = ecdsa.public_point(c, d)
            for i in range(3):
                sig = ecdsa.sign_raw(c, d, _digest(i))
                with raises(InvalidSignature):
                    ecdsa.verify_raw(c, pub, _digest(i + 1), sig)
                ecdsa.verify_raw(c, pub, _digest(i), sig)
        # A digest equal to 0 and one equal to n (reduced to 0 mod n) still sign and verify.
        for dg in (b"\x00" * 32, c.n.to_bytes(c.size, "big") + b"\x00" * (32 - c.size)):
            sig = ecdsa.sign_raw(c, 12345, dg)
            ecdsa.verify_raw(c, ecdsa.public_point(c, 12345), dg, sig)


def test_naf4_digits():
    # The width-4 NAF (HMV alg. 3.35) must add back up to k, with odd digits below 8 in
    # absolute value and at least 3 zeros after every nonzero digit.
    from meterseal.crypto import ec_tables

    for c in _ALL:
        rnd = _Counter(b"naf")
        ks = [1, 15, 16, 17, 31, c.n - 1, (1 << c.nbits) - 1, (1 << (c.nbits - 1)) + 1]
        ks += [int.from_bytes(rnd(c.size), "big") % c.n for _ in range(8)]
        for k in ks:
            digits = ec_tables.naf4(k, c.nbits)
            total = 0
            last = -4
            for j in range(len(digits)):
                code = digits[j]
                if code:
                    e = code >> 1
                    assert 1 <= e <= 4 and j - last >= 4
                    last = j
                    v = 2 * e - 1
                    total += (-v if code & 1 else v) << j
            assert total == k


def test_sign_rejects_bad_private_key():
    for c in _ALL:
        for d in (0, -1, c.n, c.n + 1):
            with raises(InvalidKey):
                ecdsa.sign_raw(c, d, _digest(0))


def test_verify_rejects_out_of_range_and_lengths():
    c = ecdsa.P256
    pub = ecdsa.public_point(c, 7)
    dg = _digest(1)
    sig = ecdsa.sign_raw(c, 7, dg)
    r, s = sig[:32], sig[32:]
    n = c.n.to_bytes(32, "big")
    z = b"\x00" * 32
    for bad in (b"", sig[:-1], sig + b"\x00", z + s, r + z, n + s, r + n, b"\xff" * 64):
        with raises(InvalidSignature):
            ecdsa.verify_raw(c, pub, dg, bad)
    # r + n fits in 32 bytes for P-256 only if r < 2^256 - n; then it must not verify.
    rn = int.from_bytes(r, "big") + c.n
    if rn < 1 << 256:
        with raises(InvalidSignature):
            ecdsa.verify_raw(c, pub, dg, rn.to_bytes(32, "big") + s)
    # High s (n - s) is a valid ECDSA signature too: ECDSA has no low-s rule.
    hs = (c.n - int.from_bytes(s, "big")).to_bytes(32, "big")
    ecdsa.verify_raw(c, pub, dg, r + hs)
    with raises(InvalidKey):
        ecdsa.verify_raw(c, (pub[0], pub[1] + 1), dg, sig)
    with raises(InvalidKey):
        ecdsa.verify_raw(c, b"\x04" + b"\x00" * 64, dg, sig)
    with raises(InvalidKey):
        ecdsa.verify_der(c, b"\x00", dg, ecdsa.sig_raw_to_der(sig, 32))


def test_der_strictness():
    c = ecdsa.P256
    pub = ecdsa.public_point(c, 99)
    dg = _digest(2)
    sig = ecdsa.sign_raw(c, 99, dg)
    good = ecdsa.sig_raw_to_der(sig, 32)
    ecdsa.verify_der(c, pub, dg, good)
    r = int.from_bytes(sig[:32], "big")
    s = int.from_bytes(sig[32:], "big")

    def integer(v, pad=b""):
        body = pad + v.to_bytes(33, "big").lstrip(b"\x00")
        if body[0] & 0x80:
            body = b"\x00" + body
        return b"\x02" + bytes((len(body),)) + body

    def seq(body, lenbytes=None):
        return b"\x30" + (lenbytes or bytes((len(body),))) + body

    body = integer(r) + integer(s)
    assert seq(body) == good
    bad = [
        seq(integer(r, b"\x00") + integer(s)),  # non-minimal integer
        seq(body, b"\x81" + bytes((len(body),))),  # non-minimal length
        seq(body) + b"\x00",  # trailing
        seq(body + b"\x05\x00"),  # extra element
        seq(integer(r)),  # s missing
        b"\x31" + good[1:],  # SET, not SEQUENCE
        good[:-1],
        b"",
        seq(integer(r) + b"\x02\x01\xff"),  # negative s
    ]
    for der in bad:
        with raises(InvalidSignature):
            ecdsa.verify_der(c, pub, dg, der)
        with raises(DecodeError):
            ecdsa.sig_der_to_raw(der, 32)
    # An integer wider than the curve cannot become r||s.
    with raises(DecodeError):
        ecdsa.sig_der_to_raw(seq(integer(1 << 256) + integer(s)), 32)
    with raises(DecodeError):
        ecdsa.sig_raw_to_der(sig[:-1], 32)
    assert ecdsa.sig_der_to_raw(seq(integer(1) + integer(2)), 24) == (
        unhex("00" * 23 + "01" + "00" * 23 + "02"))
