"""`make bench`: speed and heap of the firmware crypto, measured where it runs.

Every figure that matters comes from the MicroPython unix port started as the ESP32 board
(`-X heapsize=131072`); CPython and OpenSSL (pyca/cryptography) run the same operation in the
same process for comparison. A benchmark is one function decorated with @benchmark that
returns Row objects; mp_measure() runs its MicroPython half, cpy_time() its CPython half.

Device figures are ESTIMATES, not measurements (no board in the loop):
  ESP32 @ 240 MHz: the unix-port time times F, where F = (bm_pidigits time on an ESP32, from
      the score 591.97 at N=100 M=100 published in micropython/micropython PR #7850) / (the
      same spigot, 65 digits, timed here on the unix port in this run). pidigits is big-int
      bound like ECDSA, but its integers are larger than 256 bits, so F is rather an upper
      bound: expect the board at 0.5x..1x the printed figure.
  RP2040 @ 133 MHz: the ESP32 estimate times the CoreMark ratio per core (ESP32 344 it/s at
      240 MHz: apache/nuttx PR #8221, 688 with two threads; RP2040 228 it/s at 125 MHz:
      PaulStoffregen/CoreMark PR #15, scaled to 133 MHz).
Multiplication counts come from CPython running an instrumented copy of the modules (every
`a * b` inside a `% m` with two field-sized operands calls a counter); the production code is
untouched.
"""
import ast
import json
import os
import statistics
import subprocess
import sys
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIB = ROOT / "firmware" / "lib"
if str(LIB) not in sys.path:
    sys.path.insert(0, str(LIB))
MICROPYTHON = os.environ.get("MICROPYTHON") or str(ROOT / ".venv" / "bin" / "micropython")
HEAP = 131072  # boards/esp32/board.json heap_bytes

_ESP32_PIDIGITS_US = 65e6 / 591.97
_COREMARK_ESP32_PER_MHZ = 688.07 / 2 / 240
_COREMARK_RP2040_PER_MHZ = 227.96 / 125

BENCHES = []


def benchmark(fn):
    BENCHES.append(fn)
    return fn


class Row:
    def __init__(self, name, mp, cpy_ms, ref_ms=None, counts=None, target_ms=None,
                 tables_target=24 * 1024, peak_target=8 * 1024):
        self.name = name
        self.mp = mp  # dict from mp_measure
        self.cpy_ms = cpy_ms
        self.ref_ms = ref_ms
        self.counts = counts or {}
        self.target_ms = target_ms
        self.tables_target = tables_target
        self.peak_target = peak_target


# ---- MicroPython side ----

_MP_TEMPLATE = r"""
import gc, json, time
%(imports)s
%(data)s
gc.collect()
_h0 = gc.mem_alloc()
%(tables)s
gc.collect()
_tables = gc.mem_alloc() - _h0
_i = [0]
def _op():
    i = _i[0]
    _i[0] = i + 1
%(op)s
_op()
_ts = []
for _ in range(%(runs)d):
    _t = time.ticks_us()
    _op()
    _ts.append(time.ticks_diff(time.ticks_us(), _t))
# Bytes allocated by one operation (the garbage it makes; mem_total counts every allocation,
# MICROPY_MEM_STATS is on in the unix port).
import micropython
_a = micropython.mem_total()
_op()
_alloc = micropython.mem_total() - _a
# Peak extra heap of one operation: the least contiguous free heap with which three runs in
# a row complete. A reserve of that size is allocated, every other free byte is filled with
# ballast, and the reserve is dropped just before the operation (the collector reclaims it
# on the first allocation that needs it).
def _fits(room):
    for _ in range(3):
        gc.collect()
        try:
            reserve = bytearray(room)
        except MemoryError:
            return True  # the heap has no such block any more: search lower
        ballast = None  # a chain of (previous, piece): no list that needs to grow in one block
        for piece in (4096, 1024, 256, 64, 16):
            try:
                while True:
                    ballast = (ballast, bytearray(piece))
            except MemoryError:
                pass
        reserve = None
        try:
            _op()
        except MemoryError:
            return False
        finally:
            ballast = None
    return True
# The largest block the heap can give: the most the search may reserve.
_lo, _hi = 0, 65536
while _hi - _lo > 256:
    _mid = (_lo + _hi) // 2
    gc.collect()
    try:
        _b = bytearray(_mid)
        _lo = _mid
    except MemoryError:
        _hi = _mid
    _b = None
_cap = _lo
_lo, _hi = 0, _cap
if not _fits(_cap):
    _hi = 10 ** 6  # needs more than the largest free block: reported as such
while _hi - _lo > 256 and _hi <= _cap:
    _mid = (_lo + _hi) // 2
    if _fits(_mid):
        _hi = _mid
    else:
        _lo = _mid
_ts.sort()
print("RESULT " + json.dumps({"min_us": _ts[0], "med_us": _ts[len(_ts) // 2], "tables": _tables,
                              "alloc": _alloc, "peak": _hi}))
"""


def _indent(code, n):
    return "\n".join(" " * n + line for line in code.strip("\n").split("\n"))


def mp_measure(imports, data, tables, op, runs=40):
    """Run `op` (may use `i`, the run number) under MicroPython; dict of time and heap.

    `data` makes the inputs; the heap still held after `tables` is what the tables cost."""
    script = _MP_TEMPLATE % {"imports": imports.strip(), "data": data.strip(),
                             "tables": tables.strip(), "op": _indent(op, 4), "runs": runs}
    env = dict(os.environ, MICROPYPATH=str(LIB))
    best = None
    for _ in range(2):  # two processes, the better one: other jobs share the CPU
        res = subprocess.run([MICROPYTHON, "-X", "heapsize=%d" % HEAP, "-c", script],
                             capture_output=True, text=True, env=env, timeout=300)
        out = None
        for line in res.stdout.splitlines():
            if line.startswith("RESULT "):
                out = json.loads(line[7:])
                out["ms"] = out["min_us"] / 1000
        if out is None:
            raise RuntimeError("micropython failed:\n" + res.stdout[-2000:] + res.stderr[-2000:])
        if best is None or out["min_us"] < best["min_us"]:
            best = out
    return best


def cpy_time(fn, runs=30):
    """Best-of-runs milliseconds for fn(i) under this CPython."""
    fn(0)
    best = None
    for i in range(runs):
        t = time.perf_counter()
        fn(i)
        d = time.perf_counter() - t
        best = d if best is None or d < best else best
    return best * 1000


# ---- calibration ----

_PIDIGITS = r"""
import time
def digits(count):
    # Gibbons' unbounded spigot: the state is the 2x2 matrix (q r / s t).
    q, r, s, t = 1, 0, 0, 1
    k = 1
    out = 0
    while out < count:
        y = (q * 3 + r) // (s * 3 + t)
        if y == (q * 4 + r) // (s * 4 + t):
            out += 1
            q, r = 10 * q, 10 * (r - y * t)
        else:
            k2 = 2 * k + 1
            q, r, s, t = q * k, q * (4 * k + 2) + r * k2, s * k, s * (4 * k + 2) + t * k2
            k += 1
best = 10 ** 9
for _ in range(15):
    t0 = time.ticks_us()
    digits(65)
    best = min(best, time.ticks_diff(time.ticks_us(), t0))
print(best)
"""


def esp32_factor():
    res = subprocess.run([MICROPYTHON, "-X", "heapsize=%d" % HEAP, "-c", _PIDIGITS],
                         capture_output=True, text=True, timeout=120)
    return _ESP32_PIDIGITS_US / float(res.stdout.strip())


# ---- operation counts (CPython, instrumented copies) ----

class _WrapMults(ast.NodeTransformer):
    def visit_BinOp(self, node):
        self.generic_visit(node)
        if isinstance(node.op, ast.Mult) and not (
                isinstance(node.left, ast.Constant) or isinstance(node.right, ast.Constant)):
            return ast.copy_location(
                ast.Call(ast.Name("_count_mul", ast.Load()), [node.left, node.right], []), node)
        return node


class _MarkReductions(ast.NodeTransformer):
    # Products whose result is reduced mod something are the modular multiplications.
    def visit_BinOp(self, node):
        if isinstance(node.op, ast.Mod):
            node.left = _WrapMults().visit(node.left)
        self.generic_visit(node)
        return node


class OpCounter:
    """Instrumented copies of ec, ec_tables, ec_comb and ecdsa sharing one counter."""

    def __init__(self):
        self.mul = 0
        self.inv = 0
        self.pow = 0
        mods = {}
        for name in ("ec", "ec_tables", "ec_comb", "ecdsa"):
            path = LIB / "meterseal" / "crypto" / (name + ".py")
            tree = _MarkReductions().visit(ast.parse(path.read_text()))
            ast.fix_missing_locations(tree)
            mod = types.ModuleType("counted_" + name)
            mod._count_mul = self._mul
            mod.pow = self._pow
            exec(compile(tree, str(path), "exec"), mod.__dict__)
            mods[name] = mod
            if name == "ec":
                orig = mod.inv_mod

                def inv(a, m, orig=orig):
                    self.inv += 1
                    return orig(a, m)

                mod.inv_mod = inv
            for other in ("ec", "ec_tables", "ec_comb"):
                if other in mods and other != name:
                    setattr(mod, other, mods[other])
        self.ec, self.comb, self.ecdsa = mods["ec"], mods["ec_comb"], mods["ecdsa"]
        for cname in ("P256", "BRAINPOOLP256R1", "P192"):
            setattr(self.ecdsa, cname, getattr(self.ec, cname))

    def _mul(self, a, b):
        if abs(a) >> 128 and abs(b) >> 128:
            self.mul += 1
        return a * b

    def _pow(self, *args):
        self.pow += 1
        return pow(*args)

    def count(self, fn):
        for _ in range(3):
            fn()  # tables: G on first use, a key's comb table when it comes back
        self.mul = self.inv = self.pow = 0
        fn()
        return {"mul": self.mul, "inv": self.inv}


# ---- benchmarks ----

_KEYS = (0x1F2E3D4C5B6A79880123456789ABCDEF0F1E2D3C4B5A69788796A5B4C3D2E1F0, 0x51D0, 0xC0FFEE,
         0xDEADBEEF1234567, 0x7777777777777777777777777777777777777777777777777777777777777)


def _ecdsa_rows(cname, cry_curve, factor):
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec as cec
    from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature

    from meterseal.crypto import ecdsa

    import hashlib

    curve = getattr(ecdsa, cname)
    algo = cec.ECDSA(Prehashed(hashes.SHA256()))
    digests = [hashlib.sha256(b"reading %d" % i).digest() for i in range(8)]
    d0 = _KEYS[0] % curve.n
    pubs = [ecdsa.encode_point(curve, ecdsa.public_point(curve, k % curve.n)) for k in _KEYS]
    sigs = [[ecdsa.sign_raw(curve, k % curve.n, dg) for dg in digests] for k in _KEYS]
    privs = [cec.derive_private_key(k % curve.n, cry_curve) for k in _KEYS]
    ders = [[encode_dss_signature(int.from_bytes(s[:32], "big"), int.from_bytes(s[32:], "big"))
             for s in row] for row in sigs]

    imports = "import binascii\nfrom meterseal.crypto import ecdsa, ec_tables"
    common = "c = ecdsa.%s\nD = [binascii.unhexlify(x) for x in %r]\n" % (
        cname, [dg.hex() for dg in digests])
    keyed = common + "P = [binascii.unhexlify(x) for x in %r]\nS = [[binascii.unhexlify(x) for x in r] for r in %r]\n" % (
        [p.hex() for p in pubs], [[s.hex() for s in r] for r in sigs])
    rows = []
    counter = OpCounter()
    ccurve = getattr(counter.ecdsa, cname)

    # sign
    mp = mp_measure(imports, common + "d = %d" % d0, "ec_tables.g_table(c)",
                    "ecdsa.sign_raw(c, d, D[i & 7])")
    cpy = cpy_time(lambda i: ecdsa.sign_raw(curve, d0, digests[i & 7]))
    ref = cpy_time(lambda i: privs[0].sign(digests[i & 7], algo), 200)
    cnt = counter.count(lambda: counter.ecdsa.sign_raw(ccurve, d0, digests[3]))
    rows.append(Row(curve.name + " sign", mp, cpy, ref, cnt, 1.5))

    # verify, key in the cache (the meter's, the MSP's, a CA's)
    mp = mp_measure(imports, keyed,
                    "ec_tables.g_table(c)\nfor _ in range(2): ecdsa.verify_raw(c, P[0], D[0], S[0][0])",
                    "ecdsa.verify_raw(c, P[0], D[i & 7], S[0][i & 7])")
    cpy = cpy_time(lambda i: ecdsa.verify_raw(curve, pubs[0], digests[i & 7], sigs[0][i & 7]))
    pk = privs[0].public_key()
    ref = cpy_time(lambda i: pk.verify(ders[0][i & 7], digests[i & 7], algo), 200)
    cnt = counter.count(lambda: counter.ecdsa.verify_raw(ccurve, pubs[0], digests[3], sigs[0][3]))
    rows.append(Row(curve.name + " verify", mp, cpy, ref, cnt, 3.0))

    # verify, five keys in turn: none is in the 4-entry cache or the list of 4 keys seen,
    # so every verification is a first sight (width-4 NAF, no table)
    mp = mp_measure(imports, keyed,
                    "ec_tables.g_table(c)\nfor k in range(5): ecdsa.verify_raw(c, P[k], D[0], S[k][0])",
                    "k = i % 5\necdsa.verify_raw(c, P[k], D[i & 7], S[k][i & 7])")
    cpy = cpy_time(lambda i: ecdsa.verify_raw(curve, pubs[i % 5], digests[i & 7], sigs[i % 5][i & 7]))
    ref = cpy_time(lambda i: cec.EllipticCurvePublicKey.from_encoded_point(cry_curve, pubs[i % 5]).verify(
        ders[i % 5][i & 7], digests[i & 7], algo), 200)
    state = [0]
    counter = OpCounter()  # fresh caches: no key of the rows above is known here
    ccurve = getattr(counter.ecdsa, cname)

    def new_key():
        state[0] += 1
        k = state[0] % 5
        counter.ecdsa.verify_raw(ccurve, pubs[k], digests[3], sigs[k][3])

    for _ in range(5):
        new_key()
    cnt = counter.count(new_key)
    rows.append(Row(curve.name + " verify, new key", mp, cpy, ref, cnt, 3.0))
    return rows


@benchmark
def ecdsa_p256(factor):
    from cryptography.hazmat.primitives.asymmetric import ec as cec

    return _ecdsa_rows("P256", cec.SECP256R1(), factor)


@benchmark
def ecdsa_brainpool(factor):
    from cryptography.hazmat.primitives.asymmetric import ec as cec

    return _ecdsa_rows("BRAINPOOLP256R1", cec.BrainpoolP256R1(), factor)


# ---- report ----

def _verdict(row):
    bad = []
    if row.target_ms is not None and row.mp["ms"] > row.target_ms:
        bad.append("time %.2f > %.1f ms" % (row.mp["ms"], row.target_ms))
    if row.mp["tables"] > row.tables_target:
        bad.append("tables > %d KB" % (row.tables_target // 1024))
    if row.mp["peak"] > row.peak_target:
        bad.append("peak > %d KB" % (row.peak_target // 1024))
    return "MISSED: " + "; ".join(bad) if bad else "met"


def main():
    t0 = time.time()
    factor = esp32_factor()
    rp_factor = _COREMARK_ESP32_PER_MHZ * 240 / (_COREMARK_RP2040_PER_MHZ * 133)
    rows = []
    for fn in BENCHES:
        rows.extend(fn(factor))
    head = ("operation", "MP ms", "MP med", "CPy ms", "OpenSSL", "MP/SSL", "modmul", "inv",
            "ESP32~ms", "RP2040~ms", "tables", "peak", "alloc", "targets")
    fmt = "%-30s %6s %6s %6s %8s %7s %6s %4s %8s %9s %7s %6s %6s  %s"
    print("MicroPython unix port, -X heapsize=%d; CPython %s; OpenSSL via cryptography"
          % (HEAP, sys.version.split()[0]))
    print(fmt % head)
    for r in rows:
        mp = r.mp
        print(fmt % (
            r.name, "%.2f" % mp["ms"], "%.2f" % (mp["med_us"] / 1000), "%.2f" % r.cpy_ms,
            "%.3f" % r.ref_ms if r.ref_ms else "-",
            "%.0fx" % (mp["ms"] / r.ref_ms) if r.ref_ms else "-",
            r.counts.get("mul", "-"), r.counts.get("inv", "-"),
            "%.0f" % (mp["ms"] * factor), "%.0f" % (mp["ms"] * factor * rp_factor),
            "%.1fK" % (mp["tables"] / 1024), "%.1fK" % (mp["peak"] / 1024),
            "%.1fK" % (mp["alloc"] / 1024), _verdict(r)))
    print()
    print("MP ms: best of 2 x 40 under MicroPython (MP med: median), GC included: an operation")
    print("  makes 0.3-1 MB of garbage, so a 128 KiB heap collects several times per operation;")
    print("  CPy ms: best of 30 under CPython.")
    print("verify: a key seen before (its comb table cached); new key: five keys in turn, each")
    print("  verification a first sight.")
    print("tables: heap held by the precomputed tables the operation uses (G comb, plus the key")
    print("  cache where the row verifies); peak: least contiguous free heap with which the")
    print("  operation completes (all else filled); alloc: bytes allocated by one operation.")
    print("modmul: 256-bit modular multiplications incl. squarings (mod p and mod n); inv: modular")
    print("  inversions. Counted on an instrumented CPython copy of the same code.")
    print("ESP32~/RP2040~: estimates, MP ms x %.0f (ESP32, pidigits calibration) and x %.2f more"
          % (factor, rp_factor))
    print("  (RP2040, CoreMark per MHz); see tools/bench.py for the sources. Not measured on boards.")
    print("targets (MicroPython): sign <= 1.5 ms, verify <= 3 ms, tables <= 24 KB, peak <= 8 KB.")
    print("bench took %.0f s" % (time.time() - t0))


if __name__ == "__main__":
    main()
