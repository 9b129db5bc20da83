# Short-Weierstrass curves over prime fields for ECDSA: y^2 = x^3 + a*x + b (SEC 1 2.2.1),
# the domain parameters, SEC 1 point encoding, and the few point operations the comb in
# ec_comb.py does not inline.
#
# Inside, every curve has a = -3, which allows the cheap doubling (Hankerson-Menezes-Vanstone
# "Guide to ECC" 3.2.2, alg. 3.21): P-256 and P-192 have it natively; brainpoolP256r1 is mapped
# to its isomorphic twin brainpoolP256t1 by (x, y) -> (x*z^2, y*z^3) with the z of RFC 5639
# section 3.4, and back on the way out. Points inside are Jacobian (X, Y, Z) = (X/Z^2, Y/Z^3);
# Z == 0 is the point at infinity. At the API, points are affine (x, y) on the curve as named.
#
# Cost model (MicroPython 1.29 unix port, 256-bit ints): a*b 0.3 us, x % p 0.75 us, a-b 0.1 us,
# a call with a tuple result ~2 us. So the formulas below minimise '%' (each reduces a sum of
# products once) and the hot loops in ec_comb.py inline them.
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
    """Domain parameters (p, a, b, G, n; cofactor 1) as in SEC 2 and RFC 5639."""

    def __init__(self, name, oid, p, a, b, gx, gy, n, z, g_teeth):
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
        # Isomorphism to an a = -3 curve: internal (x, y) = (x*z2, y*z3); z2 = z3 = 1 if a = -3.
        z2 = z * z % p
        self.z2 = z2
        self.z3 = z2 * z % p
        self.z2_inv = inv_mod(z2, p)
        self.z3_inv = inv_mod(self.z3, p)
        # Comb state (ec_tables.py): teeth of the fixed G table (2^t - 1 points, built on first
        # use) and 4 teeth for per-key tables.
        self.g_teeth = g_teeth
        self.g_table = None
        self.key_tables = []  # most recently used first: (x, y, table)
        self.keys_seen = []  # x of keys verified once, without a table yet

    def __repr__(self):
        return "<Curve " + self.name + ">"


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
    1,
    6,
)

# RFC 5639 section 3.4; z is the one that maps it to brainpoolP256t1 (a = -3).
BRAINPOOLP256R1 = Curve(
    "brainpoolP256r1",
    "1.3.36.3.3.2.8.1.1.7",
    0xA9FB57DBA1EEA9BC3E660A909D838D726E3BF623D52620282013481D1F6E5377,
    0x7D5A0975FC2C3057EEF67530417AFFE7FB8055C126DC5C6CE94A4B44F330B5D9,
    0x26DC5C6CE94A4B44F330B5D9BBD77CBF958416295CF7E1CE6BCCDC18FF8C07B6,
    0x8BD2AEB9CB7E57CB2C4B482FFC81B7AFB9DE27E1E3BD23C23A4453BD9ACE3262,
    0x547EF835C3DAC4FD97F8461A14611DC9C27745132DED8E545C1D54C72F046997,
    0xA9FB57DBA1EEA9BC3E660A909D838D718C397AA3B561A6F7901E0E82974856A7,
    0x3E2D4BD9597B58639AE7AA669CAB9837CF5CF20A2C852D10F655668DFC150EF0,
    6,
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
    1,
    6,
)

CURVES = (P256, BRAINPOOLP256R1, P192)


def on_curve(c, x, y):
    p = c.p
    return 0 <= x < p and 0 <= y < p and (y * y - (x * x + c.a) * x - c.b) % p == 0


def sqrt_mod(c, v):
    """A square root of v mod p, or None. All three primes are 3 mod 4 (SEC 1 2.3.4 step 2.4.1)."""
    p = c.p
    y = pow(v, (p + 1) >> 2, p)
    return y if y * y % p == v % p else None


def to_internal(c, x, y):
    return x * c.z2 % c.p, y * c.z3 % c.p


def dbl(X, Y, Z, p):
    """2P in Jacobian coordinates for a = -3: 3M + 5S, 7 reductions (HMV alg. 3.21)."""
    d = Z * Z % p
    g = Y * Y % p
    b = X * g % p << 2
    a = 3 * (X - d) * (X + d) % p
    X3 = (a * a - (b << 1)) % p
    return X3, (a * (b - X3) - (g * g << 3)) % p, (Y * Z << 1) % p


def add_affine(X1, Y1, Z1, x2, y2, p):
    """P + (x2, y2) with P Jacobian and the other affine: 8M + 3S (HMV alg. 3.22).

    Handles P = O, P = Q (falls back to doubling) and P = -Q (returns Z = 0)."""
    if Z1 == 0:
        return x2, y2, 1
    zz = Z1 * Z1 % p
    H = (x2 * zz - X1) % p
    R = (y2 * (Z1 * zz % p) - Y1) % p
    if H == 0:
        if R == 0:
            return dbl(X1, Y1, Z1, p)
        return 0, 1, 0
    HH = H * H % p
    HHH = H * HH % p
    V = X1 * HH % p
    X3 = (R * R - HHH - (V << 1)) % p
    return X3, (R * (V - X3) - Y1 * HHH) % p, Z1 * H % p


def batch_to_affine(pts, p, put=None):
    """Jacobian points (none at infinity) to affine, one inversion for all.

    Montgomery's trick (HMV 2.2.5): invert the product of all Z, then peel off each 1/Z.
    Results replace pts[i] with (x, y, 1), or go to put(i, x, y) while pts[i] is dropped, so
    that building a table never holds both forms of every point."""
    k = len(pts)
    acc = [1] * k
    t = 1
    for i in range(k):
        acc[i] = t
        t = t * pts[i][2] % p
    t = inv_mod(t, p)
    for i in range(k - 1, -1, -1):
        X, Y, Z = pts[i]
        zi = t * acc[i] % p
        t = t * Z % p
        z2 = zi * zi % p
        if put is None:
            pts[i] = (X * z2 % p, Y * z2 * zi % p, 1)
        else:
            pts[i] = None
            put(i, X * z2 % p, Y * z2 * zi % p)


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
    # SEC 1 3.2.2.1 for cofactor 1: on the curve and not O is enough, n*Q = O follows.
    x, y = pt
    if not on_curve(c, x, y):
        raise InvalidKey("point not on curve")


def encode_point(c, pt, compressed=False):
    x, y = pt
    size = c.size
    if compressed:
        return bytes((2 | (y & 1),)) + x.to_bytes(size, "big")
    return b"\x04" + x.to_bytes(size, "big") + y.to_bytes(size, "big")
