"""Power cuts during a day of accelerated operation (D1, S1, issue 6 item 2 and the kill test):
a provisioned MicroPython meter at 2880x (a day in 30 s) is SIGKILLed at random moments, at least
50 times. After every restart the registers it resumed from lie within the documented window
(docs/meter.md "Power loss"): never more than persist_wh - 1 mWh below what was seen before the
cut, never above what can have been counted up to the cut (nothing counted twice); no reading
it had announced is lost. At the end every stored reading verifies, numbers, pagination and
seconds index only go up. METERSEAL_SOAK=N multiplies the number of cuts."""
import os
import random
import time

from host_tools import readings as rd
from host_tools.console import BoardConsole
from meter_help import em_key, make_ca, meter_board, provision_fully
from meterseal.security import sealed

SCALE = 2880
KILLS = 50 * int(os.environ.get("METERSEAL_SOAK", "1"))
TICK_MS = 50  # the meter's measuring tick at this scale (roles/meter.py)
P_MAX_W = 5000
PERSIST_WH = 100  # above the load model's peak (800 W x 200 %) and its PV export (3000 W)


def _status(con):
    st = con.request("meter")
    return st, time.monotonic()


def test_fifty_random_power_cuts_lose_nothing_beyond_the_window(tmp_path):
    rnd = random.Random(50)
    p, directory = make_ca(tmp_path)
    # A window above one tick's energy (up to ~60 Wh here) and below a snapshot period's (up to
    # ~500 Wh): the energy rule, not the ticks or the snapshots, is what keeps the bound.
    b = meter_board(tmp_path / "m", scale=SCALE, persist_wh=PERSIST_WH)
    b.start()
    try:
        cert, _ = provision_fully(b, p, directory)
        window = None
        worst_loss = 0
        max_unsaved = 0
        for i in range(KILLS):
            with BoardConsole(b.url(), timeout=5, retries=0) as con:
                st, _ = _status(con)
                if i:  # what this boot resumed from, against what was seen before the cut
                    res = st["resumed"]
                    seen = last["registers"]
                    lost = seen["imp"] + seen["exp"] - res["imp"] - res["exp"]
                    # energy the meter may have counted after our last look, up to the cut
                    extra = P_MAX_W * SCALE * int((t_cut - t_seen) * 1000 + 2 * TICK_MS) // 3600
                    assert lost <= window, (i, seen, res, window)
                    assert -lost <= extra, ("counted twice?", i, seen, res, extra)
                    for k in ("imp", "exp", "t1", "t2"):
                        assert res[k] - seen[k] <= extra and seen[k] - res[k] <= window, (i, k)
                    assert res["snap"] >= last["readings"]["last"], ("reading lost", i)
                    assert res["sec"] >= last["seconds_index"]  # never goes back
                    worst_loss = max(worst_loss, lost)
                window = st["window_mwh"]
                until = time.monotonic() + rnd.uniform(0.05, 0.35)
                last, t_seen = _status(con)
                while time.monotonic() < until:
                    last, t_seen = _status(con)
                    max_unsaved = max(max_unsaved, last["unsaved_mwh"])
                t_cut = time.monotonic()
                b.kill()  # SIGKILL: the power cut, at a moment the meter does not choose
            b.start()
        with BoardConsole(b.url(), timeout=10) as con:
            got, info = rd.pull(con)
            st = con.request("meter")
    finally:
        b.kill()
    print("%d cuts, %d readings kept, worst loss %d mWh, most unsaved seen %d mWh (window %d)"
          % (KILLS, len(got), worst_loss, max_unsaved, window))
    assert window == PERSIST_WH * 1000 - 1
    # The meter ran with much of the window unsaved, so cuts could lose it: the bound was tested
    # (the answer's transfer lets the meter count on for ~50 ms between our look and the cut).
    assert max_unsaved > window // 2, max_unsaved
    assert len(got) >= 24  # many periods sealed between the cuts
    key = em_key(cert)
    prev = None
    for n, data in got:
        ress = sealed.verify_sealed(data, key)  # every stored reading verifies
        e = ress[0]
        t = e.entry(sealed.OBIS_READING).val_time.value
        sec = e.entry(sealed.OBIS_SECONDS_INDEX).value.value
        pag = e.entry(sealed.OBIS_PAGINATION).value
        vals = [r.entry(sealed.OBIS_READING).value for r in ress]
        if prev is not None:
            assert n == prev[0] + 1, "reading numbers must be contiguous"
            assert t > prev[1] and t % 900 == 0
            assert sec > prev[2] and pag == prev[3] + 4
            assert all(a >= c for a, c in zip(vals, prev[4])), "a register went back"
        prev = (n, t, sec, pag, vals)
    rows = rd.verify_data(b"".join(d for _, d in got), lambda dev: rd.MeterCert([cert]))
    assert all(r["ok"] for r in rows)


def test_cut_between_slot_and_record_resumes_from_the_slot(tmp_path):
    """The ring slot is written before the register record: a board whose record is one
    snapshot behind resumes from the slot's copy (in process, CPython; the firmware tests run
    the same rule under MicroPython)."""
    from meterseal.roles.registers import Registers
    from meterseal.security.reading_store import ReadingStore
    from meterseal.hal.storage import Storage

    st = Storage(str(tmp_path))
    r = Registers(st, persist_wh=10)
    r.resume()
    r.add(123456, 1)
    r.persist()
    ring = ReadingStore(st, keep=4)
    r.add(1000, 2)
    r.snap += 1
    r.pag += 4
    ring.put(r.snap, r.state(), b"sml")
    # cut here: the record still says snap 0
    r2 = Registers(st, persist_wh=10)
    r2.resume(ring.meta)
    assert (r2.imp, r2.t1, r2.t2, r2.snap, r2.pag) == (124456, 123456, 1000, 1, 4)
