# Scalar multiplication for ECDSA by the Lim-Lee comb (HMV "Guide to ECC" alg. 3.44).
#
# A comb table for a point P with t teeth and spacing d = ceil(nbits / t) holds the 2^t - 1
# affine points T[i] = sum of 2^(j*d) * P over the bits j set in i. Then k*P is d doublings
# and at most d additions: column c of k (bits c, c+d, c+2d, ...) indexes T.
#   signing   k*G: the fixed G table, 6 teeth (63 points, 4 KB for P-256), built on first
#             use (~5 ms): 42 doublings + 43 additions. 7 teeth would sign 0.1 ms faster
#             for twice the heap; with two curves in use that crowded a 128 KiB heap.
#   verifying u1*G + u2*Q, a key seen before: one loop of 64 steps over a 4-tooth table of Q
#             (15 points, 960 bytes) with the G table joined in its last 43 steps: 63
#             doublings + ~100 additions instead of ~256 doublings. The tables of the last
#             2 keys are kept (key_tables): a meter, the MSP and a CA sign again and again.
#   verifying, a key seen for the first time: building its table would cost 192 doublings,
#             more than it saves once, so u2*Q goes by width-4 NAF (HMV alg. 3.36) over its
#             4 odd multiples in one chain of ~256 doublings, G's columns joined at the end.
#             The key is remembered (keys_seen) and gets its table when it comes back.
# The tables, their cache and the NAF live in ec_tables.py.
#
# Side channels: the loop skips zero columns and the first doublings, and big-int timing
# depends on the values, so the time of a signature leaks a little about k; table reads
# leak through caches. Pure Python cannot do better; the boards are not exposed to
# high-rate remote timing of signing (signing is rate-limited by the protocol).
from meterseal.compat import const
from meterseal.crypto import ec, ec_tables

_ROW_SHIFT = const(3)  # as in ec_tables.py: 8 entries per row


def mul_add(c, u1, u2, x, y):
    """u1*G + u2*Q for Q = (x, y) on the curve (API coordinates): internal Jacobian.

    A key seen before uses its comb table: ~63 doublings, ~100 additions. A new key is
    not worth a table yet (192 doublings to build): u2*Q by width-4 NAF in one chain of
    ~256 doublings with ~51 additions of Q's odd multiples, and u1*G from the G table."""
    tab = ec_tables.key_table(c, x, y)
    if tab is not None:
        return comb(c, u1, u2, tab)
    xi, yi = ec.to_internal(c, x, y)
    return comb(c, u1, u2, ec_tables.odd_multiples(c, xi, yi), ec_tables.naf4(u2, c.nbits))


def comb(c, u1, u2=0, qtab=None, naf=None):
    """u1*G + u2*Q as internal Jacobian (X, Y, Z); Q given by its comb table, or by its odd
    multiples and `naf`, the digits of u2 from ec_tables.naf4; qtab None: u1*G alone."""
    p = c.p
    gv = ec_tables.g_table(c)
    gd, gm, gk, gsh, gmask = c.g_shape
    qd, qm, qk, qsh, qmask = c.q_shape
    if naf is not None:
        qd = len(naf)
    if qtab is None:
        qv = None
        j = gd
    else:
        qv = qtab
        j = qd if qd > gd else gd
    s = c.size
    w = s + s
    fb = int.from_bytes
    X = Y = Z = 0
    # Point formulas inlined from ec.dbl and ec.add_affine (see there): a call and its tuple
    # would cost a fifth of each operation. Rare cases (P + P, P - P) go out of line.
    while j:
        j -= 1
        if Z:
            d = Z * Z % p
            g = Y * Y % p
            b = X * g % p << 2
            a = 3 * (X - d) * (X + d) % p
            Z = (Y * Z << 1) % p
            X = (a * a - (b << 1)) % p
            Y = (a * (b - X) - (g * g << 3)) % p
        # Up to two additions per step: Q's column or NAF digit (pass 0), then G's column.
        iq = 0
        nq = 0
        if qv is not None and j < qd:
            if naf is None:
                iq = ((u2 >> j) & qm) * qk >> qsh & qmask
            else:
                iq = naf[j]
                nq = iq & 1
                iq >>= 1
        ig = 0
        if j < gd:
            ig = ((u1 >> j) & gm) * gk >> gsh & gmask
        t = 0
        while t < 2:
            if t:
                i = ig
                v = gv
                neg = 0
            else:
                i = iq
                v = qv
                neg = nq
            t += 1
            if i:
                i -= 1
                if t == 1 and naf is not None:
                    # odd multiples of Q for the NAF: a flat list of ints
                    x2 = v[i + i]
                    y2 = v[i + i + 1]
                    if neg:
                        y2 = p - y2
                else:
                    row = v[i >> _ROW_SHIFT]
                    o = (i & ((1 << _ROW_SHIFT) - 1)) * w
                    x2 = fb(row[o : o + s], "big")
                    y2 = fb(row[o + s : o + w], "big")
                if Z == 0:
                    X = x2
                    Y = y2
                    Z = 1
                else:
                    zz = Z * Z % p
                    H = (x2 * zz - X) % p
                    R = (y2 * (Z * zz % p) - Y) % p
                    if H:
                        HH = H * H % p
                        HHH = H * HH % p
                        V = X * HH % p
                        X = (R * R - HHH - (V << 1)) % p
                        Y = (R * (V - X) - Y * HHH) % p
                        Z = Z * H % p
                    elif R:
                        Z = 0
                    else:
                        X, Y, Z = ec.dbl(X, Y, Z, p)
    return X, Y, Z
