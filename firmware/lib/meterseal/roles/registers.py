# The meter's energy registers and their metrological parameters (D1, D3 for the parameters).
#
# Registers are integers in mWh (no float drift): 1-0:1.8.0 import, 1.8.1 / 1.8.2 import per
# tariff, 2.8.0 export. Power-loss rule (issue 6 item 2, docs/meter.md "Power loss"):
#   * one record (registers, counters, sequence number) replaced with storage.write_atomic, so
#     a cut leaves the old or the new record, never a mix;
#   * the record is written whenever the energy counted since the last write reaches persist_wh
#     (board.json, default 10 Wh), at every snapshot, and whenever the seconds-index lease runs
#     out. The check runs right after each addition, before the measuring task yields, so at
#     every moment anything outside the task can observe, at most persist_wh - 1 mWh is unsaved:
#     that is the window a power cut can lose, and nothing is ever counted twice (a restart
#     resumes from the record; energy is only ever added after it);
#   * the seconds index resumes at its lease (a value it has not reached yet), so it never goes
#     back, and pagination / snapshot numbers are persisted with the snapshot that uses them.
import json

from meterseal.compat import const

RECORD = "meter/registers.json"
PARAMS = "meter/params.json"
_VERSION = const(1)

# Metrological parameters: name -> (board.json default, validator). Changed only through
# set_parameter (the signed, logged command of the access-control table).
DEFAULT_TARIFF = [[0, 2], [360, 1], [1320, 2]]  # T1 06:00-22:00 local, T2 at night


def check_tariff(v):
    """[[minute_of_day, tariff], ...]: first at minute 0, strictly ascending, tariffs 1 or 2."""
    ok = isinstance(v, (list, tuple)) and 1 <= len(v) <= 12
    last = -1
    for e in v if ok else ():
        if not (isinstance(e, (list, tuple)) and len(e) == 2 and isinstance(e[0], int)
                and isinstance(e[1], int) and last < e[0] <= 1439 and e[1] in (1, 2)):
            ok = False
            break
        last = e[0]
    if not ok or v[0][0] != 0:
        raise ValueError("out of range: tariff_schedule is 1..12 [minute 0..1439 ascending from 0, "
                         "tariff 1|2]")
    return [[e[0], e[1]] for e in v]


def _int_range(name, lo, hi):
    def check(v):
        if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
            raise ValueError("out of range: %s must be an integer %d..%d" % (name, lo, hi))
        return v
    return check


PARAMETERS = {
    "tariff_schedule": (DEFAULT_TARIFF, check_tariff),
    "s0_impulses_per_kwh": (1000, _int_range("s0_impulses_per_kwh", 1, 100000)),
    "utc_offset_min": (60, _int_range("utc_offset_min", -720, 840)),
}


class Params:
    """The metrological parameters: board.json defaults, changes stored in meter/params.json."""

    def __init__(self, storage, config):
        self._storage = storage
        raw = storage.read(PARAMS)
        self._set = json.loads(raw) if raw else {}
        self.values = {}
        for name in PARAMETERS:
            default, check = PARAMETERS[name]
            v = self._set.get(name, config.get(name, default))
            try:
                self.values[name] = check(v)
            except ValueError:
                self.values[name] = check(default)  # a bad board.json value: the safe default

    def get(self, name):
        return self.values[name]

    def set(self, name, value):
        """Validate and store; returns (old, new). ValueError("out of range ...") / unknown name."""
        if name not in PARAMETERS:
            raise ValueError("out of range: unknown parameter %r (one of %s)"
                             % (name, ", ".join(sorted(PARAMETERS))))
        new = PARAMETERS[name][1](value)
        old = self.values[name]
        self._set[name] = new
        self._storage.write_atomic(PARAMS, json.dumps(self._set).encode())
        self.values[name] = new
        return old, new


def tariff_at(schedule, minute):
    t = schedule[0][1]
    for m, tariff in schedule:
        if m > minute:
            break
        t = tariff
    return t


class Registers:
    """Energy registers and the counters that go with a sealed reading, with the power-loss rule
    above. `state()` is the record; a ring slot carries the same dict (reading_store)."""

    FIELDS = ("imp", "exp", "t1", "t2", "sec", "pag", "snap", "clk")

    def __init__(self, storage, persist_wh=10, lease_s=3600):
        self._storage = storage
        self.persist_mwh = persist_wh * 1000
        self.lease_s = lease_s
        self.seq = 0
        for f in self.FIELDS:
            setattr(self, f, 0)
        self.lease = 0
        self._saved = 0  # imp + exp at the last write
        self.resumed = None  # what the last boot resumed from (status, tests)

    def state(self):
        d = {"v": _VERSION, "seq": self.seq, "lease": self.lease}
        for f in self.FIELDS:
            d[f] = getattr(self, f)
        return d

    def resume(self, ring_meta=None):
        """Load the record. ring_meta(n) -> the register state stored with reading n (or None):
        a slot written after the record (a cut between the two writes) is newer, so resume from
        it when it holds the next snapshot number."""
        raw = self._storage.read(RECORD)
        rec = json.loads(raw) if raw else None
        if ring_meta is not None:
            newer = ring_meta((rec or {}).get("snap", 0) + 1)
            if newer is not None:
                rec = newer
        if rec is not None:
            for f in self.FIELDS:
                setattr(self, f, int(rec.get(f, 0)))
            self.seq = int(rec.get("seq", 0))
            # The seconds index may have run up to the lease before the cut: start there.
            self.sec = max(self.sec, int(rec.get("lease", 0)))
        self._saved = self.imp + self.exp
        self.resumed = {"imp": self.imp, "exp": self.exp, "t1": self.t1, "t2": self.t2,
                        "seq": self.seq, "sec": self.sec, "snap": self.snap, "pag": self.pag}
        self.lease = self.sec
        self.persist()  # claim a fresh lease before counting anything

    def add(self, mwh, tariff):
        """Count signed energy (mWh > 0 import in `tariff`, < 0 export); persist when the unsaved
        energy reaches the window. Returns True when it wrote the record."""
        if mwh > 0:
            self.imp += mwh
            if tariff == 1:
                self.t1 += mwh
            else:
                self.t2 += mwh
        elif mwh < 0:
            self.exp -= mwh
        if self.imp + self.exp - self._saved >= self.persist_mwh:
            self.persist()
            return True
        return False

    def tick_seconds(self, s):
        """Advance the seconds index; renew the lease (a write) when it runs out."""
        self.sec += s
        if self.sec >= self.lease:
            self.persist()

    def unsaved_mwh(self):
        return self.imp + self.exp - self._saved

    def persist(self):
        self.seq += 1
        if self.sec >= self.lease:
            self.lease = self.sec + self.lease_s
        self._storage.write_atomic(RECORD, json.dumps(self.state()).encode())
        self._saved = self.imp + self.exp
