# The ring of sealed readings (security/reading_store.py) and the meter's snapshots into it
# (roles/meter.py, S1, U1, issue 6 items 3-4): byte for byte, wrap-around, a slot the cut left
# behind, and a sealed snapshot that verifies, with the sealing time and heap it took.
import gc

import kshelp
from mptest import IS_MICROPYTHON
from meterseal.compat import ticks_diff, ticks_ms
from meterseal.security.reading_store import ReadingStore


def test_ring_keeps_the_last_n_byte_for_byte():
    b = kshelp.fresh_board("rs")
    ring = ReadingStore(b.storage, keep=5)
    blobs = {}
    for n in range(1, 13):
        blobs[n] = bytes([n]) * (100 + n) + b"\x1b\x1b\x1b\x1b\x00\xff"
        ring.put(n, {"snap": n, "imp": n * 1000, "clk": 900 * n}, blobs[n])
    assert [n for n in ring.numbers(12)] == [8, 9, 10, 11, 12]
    for n in range(1, 13):
        got = ring.get(n)
        assert (got == blobs[n]) if n >= 8 else (got is None), n
    assert ring.meta(10)["imp"] == 10000 and ring.meta(3) is None
    # a slot still holding an older reading (its replacement was cut off) is not reading n
    assert ring.get(13) is None and ring.meta(17) is None
    # after a reboot: the same answers from storage alone
    b2 = kshelp.reopen(b)
    ring2 = ReadingStore(b2.storage, keep=5)
    assert ring2.get(9) == blobs[9]
    assert ring2.size() > 5 * 100
    kshelp.unmount()


def _sealed_meter():
    from meterseal.roles import meter
    from meterseal.security import keystore, lifecycle

    b = kshelp.fresh_board("rsm", blocks=64)
    b.config["hal"] = "sim"
    b.config["readings_keep"] = 4
    ks = keystore.open(b)
    pub = ks.generate("em")
    life = lifecycle.Lifecycle(b.storage)
    life.advance(lifecycle.MANUFACTURED)
    life.advance(lifecycle.CALIBRATED)
    return b, meter.Meter(b), pub


def test_snapshot_seals_four_registers_that_verify():
    from meterseal.security import sealed

    b, m, pub = _sealed_meter()
    m.regs.imp, m.regs.t1, m.regs.t2, m.regs.exp = 12345678, 12000000, 345678, 999
    gc.collect()
    t0 = ticks_ms()
    n = m.snapshot(1700000100 // 900 * 900)
    ms = ticks_diff(ticks_ms(), t0)
    assert n == 1 and m.sealing == "on"
    got = m.sealed_readings()
    assert [x[0] for x in got] == [1]
    ress = sealed.verify_sealed(got[0][1], pub[1:])
    assert [r.entry(sealed.OBIS_READING).value for r in ress] == [123456, 120000, 3456, 9]
    assert ress[0].list_signature[-2:] == b"\x00\x00"  # logbook hook unset: 0x0000
    m.logbook_status = lambda: 0x1234
    m.snapshot(1700000100 // 900 * 900 + 900)
    assert sealed.verify_sealed(m.ring.get(2), pub[1:])[3].list_signature[-2:] == b"\x12\x34"
    for i in range(4):
        m.snapshot(1700000100 // 900 * 900 + 1800 + 900 * i)
    assert [x[0] for x in m.sealed_readings(count=9, budget=10 ** 6)] == [3, 4, 5, 6]
    prof = m.profile()
    assert [p["n"] for p in prof] == [3, 4, 5, 6] and prof[1]["d_imp"] == 0
    if IS_MICROPYTHON:
        print("sealing 4 registers: %d ms, heap free after %d" % (ms, m.seal_heap_free))
    kshelp.unmount()


def test_unprovisioned_meter_does_not_seal_but_persists():
    from meterseal.roles import meter

    b = kshelp.fresh_board("rsu")
    b.config["hal"] = "sim"
    m = meter.Meter(b)
    m.regs.add(5000, 1)
    assert m.snapshot(900) is None and m.sealing.startswith("off: the meter is factory")
    assert m.sealed_readings() == [] and m.regs.unsaved_mwh() == 0
    kshelp.unmount()
