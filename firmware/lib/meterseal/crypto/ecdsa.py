# ECDSA (SEC 1 v2 section 4.1, FIPS 186-5 section 6.4) on P-256, brainpoolP256r1 and P-192.
#
# Prehashed only: callers hash with hashlib.sha256 and pass the digest. Signing uses the
# deterministic nonce of RFC 6979 with HMAC-SHA256, so the firmware needs no randomness to sign.
# P-192 is here to verify EDL40 meter signatures; nothing in MeterSeal signs with it.
# Signature encodings are named: sig_raw is r||s (COSE, IEEE P1363), sig_der is the X.509
# ECDSA-Sig-Value; der.py is the one DER reader/writer.
from meterseal.crypto import der, ec, ec_comb
from meterseal.crypto.errors import DecodeError, InvalidKey, InvalidSignature
from meterseal.crypto.kdf import hmac_sha256

P256 = ec.P256
BRAINPOOLP256R1 = ec.BRAINPOOLP256R1
P192 = ec.P192


def curve_by_oid(dotted):
    """The curve of a namedCurve OID in dotted form (RFC 5480 2.1.1.1, RFC 5639 4.1)."""
    for c in ec.CURVES:
        if c.oid == dotted:
            return c
    raise InvalidKey("unsupported curve " + str(dotted))


def generate_private(curve, randbytes):
    """A uniform d in [1, n-1]: draw size bytes, mask to the bit length of n, retry if out of range.

    Rejection sampling as in FIPS 186-5 A.2.2 (no modulo bias). `randbytes(nbytes)` comes from
    the caller (hal); the crypto layer never picks its own entropy source.
    """
    n = curve.n
    extra = 8 * curve.size - curve.nbits
    for _ in range(1000):
        d = int.from_bytes(bytes(randbytes(curve.size)), "big") >> extra
        if 0 < d < n:
            return d
    raise ValueError("random source is broken")


def public_point(curve, d):
    """Q = d*G as affine (x, y)."""
    _check_private(curve, d)
    X, Y, Z = ec_comb.comb(curve, d)
    p = curve.p
    zi = ec.inv_mod(Z, p)
    z2 = zi * zi % p
    return X * z2 % p * curve.z2_inv % p, Y * z2 * zi % p * curve.z3_inv % p


def encode_point(curve, pt, compressed=False):
    """SEC 1 2.3.3: 04||X||Y, or 02/03||X when compressed."""
    return ec.encode_point(curve, pt, compressed)


def decode_point(curve, data):
    """SEC 1 2.3.4 with the checks of 3.2.2.1; InvalidKey for anything but a curve point."""
    return ec.decode_point(curve, data)


def _check_private(curve, d):
    if not 0 < d < curve.n:
        raise InvalidKey("private key out of range")


def _bits2int(curve, b):
    # RFC 6979 2.3.2: the leftmost qlen bits of b (also SEC 1 4.1.3 step 5 for the digest).
    x = int.from_bytes(bytes(b), "big")
    blen = 8 * len(b)
    if blen > curve.nbits:
        x >>= blen - curve.nbits
    return x


def _nonces(curve, d, digest):
    """The k candidates of RFC 6979 3.2 (steps b to h) with HMAC-SHA256, one per next() call."""
    n = curve.n
    rlen = (curve.nbits + 7) // 8
    x = d.to_bytes(rlen, "big")
    h = _bits2int(curve, digest)
    if h >= n:  # bits2octets (2.3.4): reduce once, bits2int is already below 2^qlen
        h -= n
    h = h.to_bytes(rlen, "big")
    v = b"\x01" * 32
    k = hmac_sha256(b"\x00" * 32, v + b"\x00" + x + h)
    v = hmac_sha256(k, v)
    k = hmac_sha256(k, v + b"\x01" + x + h)
    v = hmac_sha256(k, v)
    while True:
        t = b""
        while len(t) < rlen:
            v = hmac_sha256(k, v)
            t += v
        c = _bits2int(curve, t[:rlen])
        if 0 < c < n:
            yield c
        k = hmac_sha256(k, v + b"\x00")
        v = hmac_sha256(k, v)


def sign_raw(curve, d, digest):
    """r||s over `digest` with the RFC 6979 nonce (SEC 1 4.1.3)."""
    _check_private(curve, d)
    n = curve.n
    e = _bits2int(curve, digest)
    for k in _nonces(curve, d, digest):
        X, _, Z = ec_comb.comb(curve, k)
        p = curve.p
        zi = ec.inv_mod(Z, p)  # Z != 0: 0 < k < n
        r = X * zi * zi % p * curve.z2_inv % p % n
        if r == 0:
            continue
        s = ec.inv_mod(k, n) * (e + r * d) % n
        if s == 0:
            continue
        size = curve.size
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def _pub(curve, pub):
    if isinstance(pub, tuple):
        ec.check_point(curve, pub)
        return pub
    return ec.decode_point(curve, pub)


def _verify(curve, q, digest, r, s):
    # SEC 1 4.1.4.
    n = curve.n
    if not (0 < r < n and 0 < s < n):
        raise InvalidSignature("r or s out of range")
    e = _bits2int(curve, digest)
    w = ec.inv_mod(s, n)
    X, _, Z = ec_comb.mul_add(curve, e * w % n, r * w % n, q[0], q[1])
    # Accept if x(R) mod n == r, i.e. x(R) is r or r + n: n < p < 2n on all three curves, so
    # r + n is a candidate when below p (Wycheproof tests it). Compare X with x*Z^2 (times z^2
    # for brainpool's isomorphism) instead of inverting Z.
    if Z:
        p = curve.p
        zz = Z * Z % p * curve.z2 % p
        x = r
        while x < p:
            if (X - x * zz) % p == 0:
                return
            x += n
    raise InvalidSignature("signature does not match")


def verify_raw(curve, pub, digest, sig):
    """Check r||s; returns None, raises InvalidSignature (InvalidKey for a malformed pub)."""
    q = _pub(curve, pub)
    size = curve.size
    if len(sig) != 2 * size:
        raise InvalidSignature("signature length")
    sig = bytes(sig)
    _verify(curve, q, digest, int.from_bytes(sig[:size], "big"), int.from_bytes(sig[size:], "big"))


def _decode_der(sig_der, size):
    # The longest DER ECDSA-Sig-Value for this size: 30 len, then 02 len 00 r, 02 len 00 s.
    # Refusing longer input first keeps a 4 KB hostile integer off the heap.
    if len(sig_der) > 2 * size + 8:
        raise DecodeError("length")
    return der.decode_ecdsa_sig(sig_der)


def verify_der(curve, pub, digest, sig_der):
    """Check a DER ECDSA-Sig-Value; strict DER, anything else raises InvalidSignature."""
    q = _pub(curve, pub)
    try:
        r, s = _decode_der(sig_der, curve.size)
    except DecodeError:
        raise InvalidSignature("malformed DER signature")
    _verify(curve, q, digest, r, s)


def sig_raw_to_der(sig, size):
    """r||s (2*size bytes) to a DER ECDSA-Sig-Value; DecodeError("length") otherwise."""
    if len(sig) != 2 * size:
        raise DecodeError("length")
    sig = bytes(sig)
    return der.encode_ecdsa_sig(int.from_bytes(sig[:size], "big"), int.from_bytes(sig[size:], "big"))


def sig_der_to_raw(sig_der, size):
    """Strict DER ECDSA-Sig-Value to r||s; DecodeError for bad DER or integers over size bytes."""
    r, s = _decode_der(sig_der, size)
    if r >> (8 * size) or s >> (8 * size):
        raise DecodeError("integer")
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")
