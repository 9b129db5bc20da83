# Short-Weierstrass curve arithmetic over prime fields for ECDSA: y^2 = x^3 + a*x + b (SEC 1 2.2.1).
#
# Points are affine (x, y) tuples at the API; inside, Jacobian (X, Y, Z) stands for
# (X/Z^2, Y/Z^3) and Z == 0 is the point at infinity. Field elements are plain ints.
#
# Side channels: pure Python big-int arithmetic is not constant time and the branches below
# depend on the scalar. Good enough for a meter whose key never leaves the device and whose
# signing is not remotely triggerable at high rate; not a defence against a local probe.
from meterseal.crypto.errors import InvalidKey


def bit_length(x):
    # MicroPython's int has no bit_length().
    n = 0
    while x >> (n + 32):
        n += 32
    while x >> n:
        n += 1
    return n


class Curve:
    """Domain parameters (p, a, b, G, n) with cofactor 1, as in SEC 2 and RFC 5639."""

    def __init__(self, name, oid, p, a, b, gx, gy, n):
        self.name = name
        self.oid = oid
        self.p = p
        self.a = a
        self.b = b
        self.gx = gx
        self.gy = gy
        self.n = n
        self.nbits = bit_length(n)
        self.size = (bit_length(p) + 7) // 8

    def __repr__(self):
        return "<Curve " + self.name + ">"


# SEC 2 v2 section 2.4.2 (secp256r1 = NIST P-256, FIPS 186-4 D.1.2.3).
P256 = Curve(
    "secp256r1",
    "1.2.840.10045.3.1.7",
    0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF,
    0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFC,
    0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B,
    0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
    0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5,
    0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
)

# RFC 5639 section 3.4.
BRAINPOOLP256R1 = Curve(
    "brainpoolP256r1",
    "1.3.36.3.3.2.8.1.1.7",
    0xA9FB57DBA1EEA9BC3E660A909D838D726E3BF623D52620282013481D1F6E5377,
    0x7D5A0975FC2C3057EEF67530417AFFE7FB8055C126DC5C6CE94A4B44F330B5D9,
    0x26DC5C6CE94A4B44F330B5D9BBD77CBF958416295CF7E1CE6BCCDC18FF8C07B6,
    0x8BD2AEB9CB7E57CB2C4B482FFC81B7AFB9DE27E1E3BD23C23A4453BD9ACE3262,
    0x547EF835C3DAC4FD97F8461A14611DC9C27745132DED8E545C1D54C72F046997,
    0xA9FB57DBA1EEA9BC3E660A909D838D718C397AA3B561A6F7901E0E82974856A7,
)

# SEC 2 v2 section 2.2.2 (secp192r1 = NIST P-192); verification of EDL40 meter signatures only.
P192 = Curve(
    "secp192r1",
    "1.2.840.10045.3.1.1",
    0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFFFFFFFFFFFF,
    0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFFFFFFFFFFFC,
    0x64210519E59C80E70FA7E9AB72243049FEB8DEECC146B9B1,
    0x188DA80EB03090F67CBF20EB43A18800F4FF0AFD82FF1012,
    0x07192B95FFC8DA78631011ED6B24CDD573F977A11E794811,
    0xFFFFFFFFFFFFFFFFFFFFFFFF99DEF836146BC9B1B4D22831,
)

CURVES = (P256, BRAINPOOLP256R1, P192)


def inv_mod(a, m):
    """a^-1 mod m by the extended Euclidean algorithm (MicroPython's pow(a, -1, m) returns 0)."""
    a %= m
    if a == 0:
        raise ZeroDivisionError("inverse of 0")
    r0, r1 = m, a
    s0, s1 = 0, 1
    while r1:
        q = r0 // r1
        r0, r1 = r1, r0 - q * r1
        s0, s1 = s1, s0 - q * s1
    if r0 != 1:
        raise ZeroDivisionError("not invertible")
    return s0 % m


def on_curve(c, x, y):
    p = c.p
    return 0 <= x < p and 0 <= y < p and (y * y - (x * x + c.a) * x - c.b) % p == 0


def sqrt_mod(c, v):
    """A square root of v mod p, or None. All three primes are 3 mod 4 (SEC 1 2.3.4 step 2.4.1)."""
    p = c.p
    y = pow(v, (p + 1) >> 2, p)
    return y if y * y % p == v % p else None


def _dbl(X, Y, Z, p, a):
    # Jacobian doubling for general a ("dbl-1998-cmo-2" style): 2P = O when Y == 0.
    if Z == 0 or Y == 0:
        return 0, 1, 0
    YY = Y * Y % p
    S = 4 * X * YY % p
    ZZ = Z * Z % p
    M = (3 * X * X + a * ZZ * ZZ) % p
    X3 = (M * M - 2 * S) % p
    return X3, (M * (S - X3) - 8 * YY * YY) % p, 2 * Y * Z % p


def _add_affine(X1, Y1, Z1, x2, y2, p, a):
    # Jacobian + affine ("madd" form); falls back to doubling for P + P.
    if Z1 == 0:
        return x2, y2, 1
    Z1Z1 = Z1 * Z1 % p
    H = (x2 * Z1Z1 - X1) % p
    r = (y2 * Z1 * Z1Z1 - Y1) % p
    if H == 0:
        if r == 0:
            return _dbl(X1, Y1, Z1, p, a)
        return 0, 1, 0
    HH = H * H % p
    HHH = H * HH % p
    V = X1 * HH % p
    X3 = (r * r - HHH - 2 * V) % p
    return X3, (r * (V - X3) - Y1 * HHH) % p, Z1 * H % p


def to_affine(c, X, Y, Z):
    if Z == 0:
        return None
    p = c.p
    zi = inv_mod(Z, p)
    zi2 = zi * zi % p
    return X * zi2 % p, Y * zi2 * zi % p


def mul(c, k, pt):
    """k * pt for an affine point pt; None for the point at infinity."""
    p = c.p
    a = c.a
    x, y = pt
    X, Y, Z = 0, 1, 0
    for i in range(bit_length(k) - 1, -1, -1):
        X, Y, Z = _dbl(X, Y, Z, p, a)
        if (k >> i) & 1:
            X, Y, Z = _add_affine(X, Y, Z, x, y, p, a)
    return to_affine(c, X, Y, Z)


def mul_base(c, k):
    """k * G."""
    return mul(c, k, (c.gx, c.gy))


def mul_add(c, u1, u2, q):
    """u1*G + u2*q (Shamir's trick), affine or None."""
    p = c.p
    a = c.a
    gx, gy = c.gx, c.gy
    qx, qy = q
    s = _add_affine(gx, gy, 1, qx, qy, p, a)
    s = to_affine(c, *s)
    X, Y, Z = 0, 1, 0
    for i in range(c.nbits - 1, -1, -1):
        X, Y, Z = _dbl(X, Y, Z, p, a)
        b1 = (u1 >> i) & 1
        b2 = (u2 >> i) & 1
        if b1 and b2:
            if s is None:
                continue
            X, Y, Z = _add_affine(X, Y, Z, s[0], s[1], p, a)
        elif b1:
            X, Y, Z = _add_affine(X, Y, Z, gx, gy, p, a)
        elif b2:
            X, Y, Z = _add_affine(X, Y, Z, qx, qy, p, a)
    return to_affine(c, X, Y, Z)


def decode_point(c, data):
    """SEC 1 2.3.4: 04||X||Y or 02/03||X -> (x, y); InvalidKey for anything else."""
    size = c.size
    n = len(data)
    if n == 0:
        raise InvalidKey("empty point")
    t = data[0]
    if t == 4:
        if n != 1 + 2 * size:
            raise InvalidKey("point length")
        x = int.from_bytes(bytes(data[1 : 1 + size]), "big")
        y = int.from_bytes(bytes(data[1 + size :]), "big")
    elif t == 2 or t == 3:
        if n != 1 + size:
            raise InvalidKey("point length")
        x = int.from_bytes(bytes(data[1:]), "big")
        if x >= c.p:
            raise InvalidKey("coordinate out of range")
        y = sqrt_mod(c, (x * x + c.a) * x + c.b)
        if y is None:
            raise InvalidKey("point not on curve")
        if (y & 1) != (t & 1):
            y = c.p - y
    elif t == 0:
        raise InvalidKey("point at infinity")
    else:
        raise InvalidKey("point prefix")
    check_point(c, (x, y))
    return x, y


def check_point(c, pt):
    x, y = pt
    if not (0 <= x < c.p and 0 <= y < c.p):
        raise InvalidKey("coordinate out of range")
    if not on_curve(c, x, y):
        raise InvalidKey("point not on curve")
    # All three curves have cofactor 1, so a point on the curve other than O has order n.


def encode_point(c, pt, compressed=False):
    x, y = pt
    size = c.size
    if compressed:
        return bytes((2 | (y & 1),)) + x.to_bytes(size, "big")
    return b"\x04" + x.to_bytes(size, "big") + y.to_bytes(size, "big")
