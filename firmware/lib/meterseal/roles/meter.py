# The electricity meter role (D1, S1, U1): measures energy into registers that survive power
# loss, takes a snapshot every profile interval and seals it as EDL40 readings with the meter's
# own key (CERT_EM) while measuring, keeps the last N sealed readings in a ring on storage, and
# offers the registers to the link-protocol services (IEC 62056-21, M-Bus). docs/meter.md.
#
# API for the signed commands (roles/meter_commands.py): Meter.registers(),
# Meter.sealed_readings(first, count), Meter.profile(start, end), Meter.parameters(),
# Meter.set_parameter(name, value) -> (old, new), Meter.now_s(), Meter.status().
# The meter is board.meter once start() has run.
import gc

from meterseal.compat import asleep_ms, const, ticks_diff, ticks_ms
from meterseal.roles import identity
from meterseal.roles.meter_clock import MeterClock
from meterseal.roles.registers import Params, Registers, tariff_at
from meterseal.security.reading_store import ReadingStore

# OBIS codes as 6-byte strings (IEC 62056-61), DLMS units (IEC 62056-62).
OBIS_IMPORT = b"\x01\x00\x01\x08\x00\xff"  # 1-0:1.8.0*255 active energy import
OBIS_T1 = b"\x01\x00\x01\x08\x01\xff"  # 1-0:1.8.1*255 import, tariff 1
OBIS_T2 = b"\x01\x00\x01\x08\x02\xff"  # 1-0:1.8.2*255 import, tariff 2
OBIS_EXPORT = b"\x01\x00\x02\x08\x00\xff"  # 1-0:2.8.0*255 active energy export
OBIS_POWER = b"\x01\x00\x10\x07\x00\xff"  # 1-0:16.7.0*255 instantaneous active power
UNIT_WH = const(30)
UNIT_W = const(27)

# The registers each snapshot seals, one GetList.Res each; the block's contract-id field names
# the register (docs/meter.md "What a reading seals").
SEALED = (("imp", b"1-0:1.8.0*255"), ("t1", b"1-0:1.8.1*255"), ("t2", b"1-0:1.8.2*255"),
          ("exp", b"1-0:2.8.0*255"))

_TICK_MS = const(1000)
_MIN_TICK_MS = const(50)
# Bytes of SML per console answer. The answer exists three times at once (the files, their CBOR,
# the frame) and a provisioned board's heap has free runs of 1.5-3 KB, not more: about one
# reading (four sealed registers, ~1 KB) per answer keeps every copy in one run.
_ANSWER_BUDGET = const(1100)


class Meter:
    def __init__(self, board):
        self.halted = False  # set by stop() when the board is erased
        self.board = board
        cfg = board.config
        st = board.storage
        self.ident = identity.load(board, identity.MEDIUM_ELECTRICITY)
        self.params = Params(st, cfg)
        sim = cfg.get("hal") == "sim"
        self.scale = int(cfg.get("sim_time_scale", 1)) if sim else 1
        if not 1 <= self.scale <= 100000:
            raise ValueError("board.json: sim_time_scale 1..100000")
        self.interval_s = int(cfg.get("snapshot_s", 900))
        if not 60 <= self.interval_s <= 86400 or 86400 % self.interval_s:
            raise ValueError("board.json: snapshot_s must divide a day, 60..86400")
        self.tick_ms = max(_MIN_TICK_MS, min(_TICK_MS, _TICK_MS * 60 // self.scale))
        self.ring = ReadingStore(st, cfg.get("readings_keep", 96))
        self.regs = Registers(st, cfg.get("persist_wh", 10), cfg.get("secidx_lease_s", 3600))
        self.regs.resume(self.ring.meta)
        self.clock = MeterClock(board, self.scale, self.regs.clk)
        self.source = _source(board, self.params)
        self.power_w = 0
        self.sealing = "off: not checked yet"
        self.last_seal_ms = None  # how long the last snapshot's sealing took (ticks)
        self.seal_heap_free = None
        # Hook: the metrological logbook's 16-bit status/counter for the 2 logbook bytes of each
        # listSignature (docs/sealed-readings.md). Set by the logbook (a () -> int); until then 0.
        self.logbook_status = None
        self._ks = None
        self._ks_state = None
        self._sec_ms = 0  # meter-time ms not yet added to the seconds index
        self._last = ticks_ms()
        self._next_snap = (self.clock.now_ms() // 1000 // self.interval_s + 1) * self.interval_s

    # --- reading the meter ---------------------------------------------------------------------

    def now_s(self):
        return self.clock.now_ms() // 1000

    def readout(self):
        """What the link services (IEC 62056-21 data readout, M-Bus) send: [(obis6, value,
        scaler, unit)], value * 10**scaler in unit. The tariff registers are in registers()."""
        r = self.regs
        return [
            (OBIS_IMPORT, r.imp // 100, -1, UNIT_WH),
            (OBIS_EXPORT, r.exp // 100, -1, UNIT_WH),
            (OBIS_POWER, self.power_w, 0, UNIT_W),
        ]

    def registers(self):
        """{"time", "registers": [[obis6, value, scaler, unit]] of 1.8.0, 1.8.1, 1.8.2, 2.8.0,
        16.7.0, "seconds_index", "tariff"}: live, unsealed values."""
        r = self.regs
        regs = [[OBIS_IMPORT, r.imp // 100, -1, UNIT_WH], [OBIS_T1, r.t1 // 100, -1, UNIT_WH],
                [OBIS_T2, r.t2 // 100, -1, UNIT_WH], [OBIS_EXPORT, r.exp // 100, -1, UNIT_WH],
                [OBIS_POWER, self.power_w, 0, UNIT_W]]
        return {"time": self.now_s(), "registers": regs, "seconds_index": r.sec,
                "tariff": self._tariff(self.now_s())}

    def newest(self):
        return self.regs.snap

    def sealed_readings(self, first=None, count=4, budget=_ANSWER_BUDGET):
        """[(n, sml_file_bytes)] from reading `first` (default: the oldest kept) on, at most
        `count` and at most `budget` bytes of SML (at least one reading if there is one).
        Readings the ring no longer holds are skipped; the bytes are as sealed."""
        newest = self.regs.snap
        n = self.ring.first(newest) if first is None else max(first, self.ring.first(newest))
        out = []
        size = 0
        while n <= newest and len(out) < count:
            data = self.ring.get(n)
            if data is not None:
                if out and size + len(data) > budget:
                    break
                out.append((n, data))
                size += len(data)
            n += 1
        return out

    def profile(self, start=None, end=None):
        """The load profile from the ring: one entry per sealed snapshot with end time in
        [start, end]: {"n", "end", "imp", "exp", "d_imp", "d_exp"} (mWh; the deltas are None
        when the previous interval's snapshot is missing, e.g. after a power cut)."""
        out = []
        prev = None
        for n in self.ring.numbers(self.regs.snap):
            m = self.ring.meta(n)
            if m is None:
                prev = None
                continue
            t = m["clk"]
            if (start is None or t >= start) and (end is None or t <= end):
                contiguous = prev is not None and t - prev["clk"] == self.interval_s
                out.append({"n": n, "end": t, "imp": m["imp"], "exp": m["exp"],
                            "d_imp": m["imp"] - prev["imp"] if contiguous else None,
                            "d_exp": m["exp"] - prev["exp"] if contiguous else None})
            prev = m
        return out

    def parameters(self):
        return dict(self.params.values)

    def set_parameter(self, name, value):
        """Change a metrological parameter; (old, new). ValueError("out of range ...")."""
        old, new = self.params.set(name, value)
        if name == "s0_impulses_per_kwh" and hasattr(self.source, "set_constant"):
            self.source.set_constant(new)
        return old, new

    def status(self):
        r = self.regs
        return {"time": self.now_s(), "scale": self.scale, "interval_s": self.interval_s,
                "sealing": self.sealing, "readings": {"first": self.ring.first(r.snap) if r.snap
                                                      else None, "last": r.snap,
                                                      "keep": self.ring.keep},
                "registers": {"imp": r.imp, "exp": r.exp, "t1": r.t1, "t2": r.t2},
                "unsaved_mwh": r.unsaved_mwh(), "window_mwh": r.persist_mwh - 1,
                "resumed": r.resumed, "seconds_index": r.sec, "pagination": r.pag,
                "power_w": self.power_w, "seal_ms": self.last_seal_ms,
                "seal_heap_free": self.seal_heap_free, "next_snapshot": self._next_snap}

    # --- measuring -----------------------------------------------------------------------------

    def _local_s(self, t):
        return t + self.params.get("utc_offset_min") * 60

    def _tariff(self, t):
        return tariff_at(self.params.get("tariff_schedule"), self._local_s(t) % 86400 // 60)

    def _count(self, t_ms, dt_ms):
        """Energy of dt_ms real milliseconds starting at meter time t_ms."""
        if dt_ms <= 0:
            return
        t = t_ms // 1000
        p, mwh = self.source.take(self._local_s(t), dt_ms, self.scale)
        self.power_w = p
        self.regs.add(mwh, self._tariff(t))
        self._sec_ms += dt_ms * self.scale
        if self._sec_ms >= 1000:
            s = self._sec_ms // 1000
            self._sec_ms -= s * 1000
            self.regs.tick_seconds(s)

    def step(self):
        """One measuring tick: count the energy since the last one, cutting it at snapshot
        boundaries so that each snapshot holds exactly the energy up to its period end. Runs
        without yielding: nothing outside sees registers the power-loss rule has not checked."""
        now = ticks_ms()
        dt = ticks_diff(now, self._last)
        self._last = now
        if self.clock.advance(dt):  # the board clock was set: periods restart from the new time
            self._next_snap = (self.clock.now_ms() // 1000 // self.interval_s + 1) \
                * self.interval_s
        t1 = self.clock.now_ms()
        t0 = t1 - dt * self.scale
        while self._next_snap * 1000 <= t1:
            edge = self._next_snap * 1000
            part = (edge - t0) // self.scale if edge > t0 else 0
            part = min(part, dt)
            self._count(t0, part)
            dt -= part
            t0 = edge
            self.snapshot(self._next_snap)
            self._next_snap += self.interval_s
        self._count(t0, dt)

    def stop(self):
        """Erase (U3): stop measuring and persisting until the board restarts."""
        self.halted = True

    async def measure(self):
        idle = 0
        while not self.halted:
            await asleep_ms(self.tick_ms)
            if self.halted:
                return
            self.step()
            idle += self.tick_ms
            if idle >= _TICK_MS:
                # Collect about once a second: garbage of many ticks left lying would spread the
                # next long-lived allocations over the heap (answers need 1 KB in one piece).
                idle = 0
                gc.collect()

    # --- snapshots and seals ------------------------------------------------------------------

    def _signer(self):
        """The em signer, or None with self.sealing saying why (an unprovisioned meter measures
        but does not seal). The keystore is reopened when the life-cycle state changes."""
        from meterseal.security import keystore, lifecycle

        life = lifecycle.Lifecycle(self.board.storage)
        if not life.sealed:
            self.sealing = "off: the meter is %s, not calibrated (no CERT_EM)" % life.state
            self._ks = None
            return None
        if self._ks is None or self._ks_state != life.state:
            self._ks = keystore.open(self.board)
            self._ks_state = life.state
            # Manufacture wrote the identity after boot: the server ID must be the certified one.
            # In place: the link services hold the same dict.
            new = identity.load(self.board, identity.MEDIUM_ELECTRICITY)
            self.ident.clear()
            self.ident.update(new)
        if not self._ks.has("em"):
            self.sealing = "off: no em key in the keystore (%s)" % self._ks.status()
            return None
        self.sealing = "on"
        return self._ks.signer("em")

    def _logbook_bytes(self):
        w = self.logbook_status() if self.logbook_status is not None else 0
        return bytes(((w >> 8) & 0xFF, w & 0xFF))

    def snapshot(self, t):
        """The register snapshot at meter time t (a period end): seal, store, persist."""
        r = self.regs
        r.clk = t
        try:
            signer = self._signer()
        except Exception as e:  # a damaged keystore: keep measuring, say why
            self.sealing = "off: keystore: %s" % (e,)
            signer = None
        if signer is None:
            r.persist()
            return None
        t0 = ticks_ms()
        n = r.snap + 1
        try:
            data = self._seal_file(n, t, signer)
        except Exception as e:
            self.sealing = "off: sealing failed: %s" % (e,)
            r.persist()
            return None
        self.last_seal_ms = ticks_diff(ticks_ms(), t0)
        r.snap = n
        r.pag += len(SEALED)
        # The slot first, then the record: a cut between them resumes from the slot's copy.
        self.ring.put(n, r.state(), data)
        r.persist()
        return n

    def _seal_file(self, n, t, signer):
        from meterseal.proto import sml
        from meterseal.security import sealed

        r = self.regs
        off = self.params.get("utc_offset_min")
        sid = identity.server_id(self.ident)
        logbook = self._logbook_bytes()
        msgs = []
        tx = n * 8 & 0xFFFF

        def txid(i):
            return bytes(((i >> 8) & 0xFF, i & 0xFF))

        msgs.append(sml.Message(sml.OpenRes(req_file_id=_u32(n), server_id=sid,
                                            sml_version=1), txid(tx)))
        for i in range(len(SEALED)):
            field, tag = SEALED[i]
            when = sml.Time(sml.Time.LOCAL, t, off, 0)
            res = sealed.make_reading(sid, getattr(r, field) // 100, when, r.sec, r.pag + 1 + i,
                                      tag, when, scaler=-1, status=0)
            sealed.seal(res, signer, logbook)
            msgs.append(sml.Message(res, txid(tx + 1 + i)))
        msgs.append(sml.Message(sml.CloseRes(), txid(tx + 1 + len(SEALED)), abort=0))
        gc.collect()
        self.seal_heap_free = _mem_free()
        return bytes(sml.encode_frame(msgs))


def _u32(n):
    return bytes(((n >> 24) & 0xFF, (n >> 16) & 0xFF, (n >> 8) & 0xFF, n & 0xFF))


def _mem_free():
    try:
        return gc.mem_free()
    except AttributeError:  # CPython
        return None


def _source(board, params):
    from meterseal.roles import load_model

    cfg = board.config
    if cfg.get("hal") == "sim":
        lm = dict(cfg.get("sim_load") or {})
        if "base_w" not in lm and "sim_load_w" in cfg:
            lm["base_w"] = cfg["sim_load_w"]
        return load_model.LoadModel(lm)
    if "s0" in cfg.get("pins", {}):
        return load_model.S0Input(board.pin("s0"), params.get("s0_impulses_per_kwh"))
    raise ValueError("board.json: a meter needs an S0 pin (pins.s0) or a metering IC driver")


def _readings_command(m):
    def readings(args):
        first = args.get("first")
        count = args.get("count", 4)
        if (first is not None and not isinstance(first, int)) or not isinstance(count, int) \
                or count < 1:
            from meterseal.proto import console as cp
            from meterseal.roles.console import CommandError

            raise CommandError(cp.E_BAD_REQUEST, "readings takes {first: int, count: int >= 1}")
        gc.collect()  # the big copies below then find the free runs a collection gives back
        got = m.sealed_readings(first, count)
        return {"readings": [[n, d] for n, d in got], "first": m.ring.first(m.newest()),
                "last": m.newest(), "sealing": m.sealing, "device_id": identity.device_id(m.ident)}
    return readings


IEC_PASSWORD_KEY = "iec.p1"  # keystore secret: length byte, password, zero padding (key wrap)


def iec_password(board):
    """The IEC 62056-21 P1 password installed (wrapped) by `provision install --iec-password`."""
    from meterseal.security import keystore

    try:
        b = keystore.open(board).get_secret(IEC_PASSWORD_KEY)
    except (KeyError, keystore.KeystoreError):
        return None
    return bytes(b[1:1 + b[0]]) if b and 0 < b[0] < len(b) else None


def start(board, commands):
    m = Meter(board)
    board.meter = m
    commands["readout"] = lambda args: {"registers": [list(r) for r in m.readout()],
                                        "identity": m.ident}
    commands["meter"] = lambda args: m.status()
    commands["readings"] = _readings_command(m)
    from meterseal.roles import meter_commands  # signed commands and the logbook (S4, D3)

    meter_commands.add(board, commands, m)
    commands["signed"].on_erase.append(m.stop)
    m._signer()  # say at once whether this meter seals
    tasks = [m.measure()]
    if "aux" in board.uart_names():  # the optical port: IEC 62056-21 mode C
        from meterseal.roles import iec_server

        cfg = iec_server.settings(board)
        tasks.append(iec_server.IecServer(
            board.uart("aux"), m.readout, m.ident, m.now_s,
            password=lambda: iec_password(board) or (cfg.get("password") or "").encode() or None,
            address=cfg.get("address"), max_baud=cfg.get("max_baud", 9600)).run())
    if "mbus" in board.uart_names():  # wired M-Bus slave (EN 13757-2/-3)
        from meterseal.roles import mbus_slave

        tasks.append(mbus_slave.service(board, m))
    return tasks
