# Energy registers and their power-loss rule (roles/registers.py, D1, issue 6 item 2), the
# metrological parameters and the tariff schedule. A "cut" is a new Registers on the same storage
# without the old one's last writes: what a power loss leaves. Runs under CPython and MicroPython.
from mptest import raises

import kshelp
from meterseal.roles import registers as rg


def _regs(board, wh=10):
    r = rg.Registers(board.storage, persist_wh=wh, lease_s=100)
    r.resume()
    return r


def test_a_cut_loses_less_than_the_window_and_counts_nothing_twice():
    b = kshelp.fresh_board("rg")
    r = _regs(b)
    window = r.persist_mwh - 1
    steps = (1, 7, 333, 2999, 9998, 1, 15000, 4, 8000, 777, 1, 1, 9999, 10000, 10001, 3)
    for i in range(len(steps)):
        r.add(steps[i], 1 + i % 2)
        if i % 3 == 2:
            r.add(-steps[i], 1)  # export counts into the same window
        seen = r.imp + r.exp
        assert r.unsaved_mwh() <= window  # after every add, before anything else can look
        cut = _regs(b)  # a power cut now
        got = cut.imp + cut.exp
        assert seen - window <= got <= seen, (i, seen, got)
        assert cut.t1 + cut.t2 == cut.imp
        r = _regs(b)  # continue from what the cut left (no double counting on the way)
    kshelp.unmount()


def test_seconds_index_never_goes_back_over_cuts():
    b = kshelp.fresh_board("rgs")
    r = _regs(b)
    highest = 0
    for i in range(20):
        r.tick_seconds(37)
        highest = max(highest, r.sec)
        r = _regs(b)  # cut: resumes at the lease, never below what was reached
        assert r.sec >= highest
    assert r.sec <= highest + 2 * 100 + 37  # jumps forward by at most a lease per cut
    kshelp.unmount()


def test_tariff_schedule_and_parameters():
    s = [[0, 2], [360, 1], [1320, 2]]
    assert [rg.tariff_at(s, m) for m in (0, 359, 360, 1319, 1320, 1439)] == [2, 2, 1, 1, 2, 2]
    assert rg.check_tariff([[0, 1]]) == [[0, 1]]
    for bad in ([], [[1, 1]], [[0, 3]], [[0, 1], [0, 2]], [[0, 1], [1440, 2]], "x",
                [[0, 1]] * 13, [[0, 1, 2]]):
        with raises(ValueError, match="out of range"):
            rg.check_tariff(bad)
    b = kshelp.fresh_board("rgp")
    p = rg.Params(b.storage, {"s0_impulses_per_kwh": 2000})
    assert p.get("s0_impulses_per_kwh") == 2000 and p.get("tariff_schedule") == rg.DEFAULT_TARIFF
    assert p.set("s0_impulses_per_kwh", 500) == (2000, 500)
    with raises(ValueError, match="out of range"):
        p.set("s0_impulses_per_kwh", 0)
    with raises(ValueError, match="out of range"):
        p.set("utc_offset_min", True)
    with raises(ValueError, match="unknown parameter"):
        p.set("secret_bonus", 1)
    assert rg.Params(b.storage, {}).get("s0_impulses_per_kwh") == 500  # stored, survives
    kshelp.unmount()
