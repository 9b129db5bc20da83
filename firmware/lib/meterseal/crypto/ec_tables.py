# Comb tables for ec_comb.py (Lim-Lee, HMV "Guide to ECC" alg. 3.44): building them, the G
# table per curve, the small cache of key tables, and the odd multiples and width-4 NAF that
# a first-seen key uses instead (see ec_comb.py for the whole design and its figures).
#
# A table for a point P with t teeth and spacing d = ceil(nbits / t) holds the 2^t - 1
# affine points T[i] = sum of 2^(j*d) * P over the bits j set in i, as a list of bytearray
# rows of 8 entries x||y (size bytes each), read with int.from_bytes as needed: ints would
# hold about twice the heap, and 512-byte rows fit a fragmented heap where one 4 KB block
# might not.
from meterseal.compat import const
from meterseal.crypto import ec

_Q_TEETH = const(4)
_KEY_CACHE = const(2)  # per-key tables kept (and keys remembered), most recent first
# Points converted to affine per inversion while building a table: the G table (once, at
# first use) takes 16 at a time; a key table 4, which saves ~4 KB of transient heap for two
# more inversions (+0.15 ms).
_G_CHUNK = const(16)
_Q_CHUNK = const(4)
_ROW_SHIFT = const(3)  # 8 entries per bytearray row


def _shape(c, teeth):
    # Column gather by one multiplication: the bits of (k >> c) & M sit at 0, d, ..., (t-1)d;
    # times K = sum 2^(s(d-1)) every one lands on its own position, bit j at (t-1)(d-1) + j,
    # with no two partial products on the same bit, hence no carries.
    d = (c.nbits + teeth - 1) // teeth
    m = 0
    k = 0
    for j in range(teeth):
        m |= 1 << (j * d)
        k |= 1 << (j * (d - 1))
    return d, m, k, (teeth - 1) * (d - 1), (1 << teeth) - 1


def build_table(c, x, y, teeth, tab=None, chunk=_Q_CHUNK):
    """The comb table of the internal affine point (x, y): 2^teeth - 1 entries in rows.

    `tab` is an old table of the same shape to overwrite, so that a full key cache recycles
    its rows instead of scattering new ones over the heap."""
    p = c.p
    s = c.size
    w = s + s
    d = _shape(c, teeth)[0]
    count = (1 << teeth) - 1
    rows = (count + (1 << _ROW_SHIFT) - 1) >> _ROW_SHIFT
    if tab is None:
        tab = [bytearray(w << _ROW_SHIFT) for _ in range(rows)]
    bases = [(x, y, 1)]
    X, Y, Z = x, y, 1
    for _ in range(teeth - 1):
        for _ in range(d):
            X, Y, Z = ec.dbl(X, Y, Z, p)
        bases.append((X, Y, Z))
    ec.batch_to_affine(bases, p)
    for j in range(teeth):
        _put(tab, (1 << j) - 1, w, s, bases[j][0], bases[j][1])
    # Entry 2^j + i (0 < i < 2^j) is T[i] + B_j with B_j affine and T[i] either in the table
    # (affine) or still Jacobian in `pend` (indices in `pidx`), which goes to affine `chunk`
    # points per inversion. The multiples are distinct and below n, so no addition meets
    # P + P or P - P.
    pend = []
    pidx = []
    for j in range(1, teeth):
        bx, by = bases[j][0], bases[j][1]
        for i in range(1, 1 << j):
            if i in pidx:
                X1, Y1, Z1 = pend[pidx.index(i)]
            else:
                X1, Y1 = _get(tab, i - 1, w, s)
                Z1 = 1
            pend.append(ec.add_affine(X1, Y1, Z1, bx, by, p))
            pidx.append((1 << j) + i)
            if len(pend) == chunk:
                _flush(tab, pend, pidx, w, s, p)
    if pend:
        _flush(tab, pend, pidx, w, s, p)
    return tab


def _flush(tab, pend, pidx, w, s, p):
    def put(k, x, y):
        _put(tab, pidx[k] - 1, w, s, x, y)

    ec.batch_to_affine(pend, p, put)
    pend[:] = []
    pidx[:] = []


def _put(tab, i, w, s, x, y):
    row = tab[i >> _ROW_SHIFT]
    o = (i & ((1 << _ROW_SHIFT) - 1)) * w
    row[o : o + s] = x.to_bytes(s, "big")
    row[o + s : o + w] = y.to_bytes(s, "big")


def _get(tab, i, w, s):
    row = tab[i >> _ROW_SHIFT]
    o = (i & ((1 << _ROW_SHIFT) - 1)) * w
    return int.from_bytes(row[o : o + s], "big"), int.from_bytes(row[o + s : o + w], "big")


def g_table(c):
    if c.g_table is None:
        x, y = ec.to_internal(c, c.gx, c.gy)
        c.g_table = build_table(c, x, y, c.g_teeth, None, _G_CHUNK)
        c.g_shape = _shape(c, c.g_teeth)
        c.q_shape = _shape(c, _Q_TEETH)
    return c.g_table


def key_table(c, x, y):
    # Q's comb table from the cache, or built now if Q was seen recently (a key that comes
    # back will likely come again); None for a key seen for the first time.
    cache = c.key_tables
    for i in range(len(cache)):
        e = cache[i]
        if e[0] == x and e[1] == y:
            if i:
                cache.pop(i)
                cache.insert(0, e)
            return e[2]
    seen = c.keys_seen
    if x not in seen:
        seen.insert(0, x)
        if len(seen) > _KEY_CACHE:
            seen.pop()
        return None
    seen.remove(x)
    old = cache.pop()[2] if len(cache) >= _KEY_CACHE else None
    xi, yi = ec.to_internal(c, x, y)
    tab = build_table(c, xi, yi, _Q_TEETH, old)
    cache.insert(0, (x, y, tab))
    return tab


def odd_multiples(c, x, y):
    # [x1, y1, x3, y3, ..., x7, y7]: Q, 3Q, 5Q, 7Q (internal affine) for the width-4 NAF,
    # as ints (a fresh bytearray per verification would fragment the heap). 2Q is made affine
    # (one inversion), then (k+2)Q = kQ + 2Q, then all to affine (a second inversion);
    # kQ = +-2Q cannot occur.
    p = c.p
    two = [ec.dbl(x, y, 1, p)]
    ec.batch_to_affine(two, p)
    x2, y2 = two[0][0], two[0][1]
    pend = [(x, y, 1)]
    for k in range(3):
        X, Y, Z = pend[k]
        pend.append(ec.add_affine(X, Y, Z, x2, y2, p))
    out = [0] * 8

    def put(k, xa, ya):
        out[k + k] = xa
        out[k + k + 1] = ya

    ec.batch_to_affine(pend, p, put)
    return out


def naf4(k, nbits):
    """Width-4 NAF of k (HMV alg. 3.35), least significant digit first, one byte a digit:
    0 for none, else 2*e + sign where digit = +-(2e - 1) picks entry e of odd_multiples.
    Width 4 rather than 5: 8 more additions (~0.1 ms) but half the precomputed points,
    which keeps a first-seen verification near 8 KB of extra heap."""
    out = bytearray(nbits + 1)
    j = 0
    while k:
        if k & 1:
            m = k & 15
            if m > 8:
                m -= 16
                out[j] = (((1 - m) >> 1) << 1) | 1
            else:
                out[j] = ((m + 1) >> 1) << 1
            k -= m
        k >>= 1
        j += 1
    return out
