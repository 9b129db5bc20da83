# The meter's signed commands (S2, S4, D2, D3, U2): what an authenticated, authorised command
# may do, wired to the meter (roles/meter.py) and the logbook. roles/provisioning.py has already
# checked signature, chain, device, age, counter and the access-control table when a handler
# here runs; writes to the metrological part are logged before they are made, and refused when
# the logbook is full.
#
# Every answer that carries data is a COSE_Sign1 by the meter's em key (CERT_EM):
#   {"signed": COSE_Sign1(payload)}, payload = {"v": 1, "dev": device ID, "cmd": name,
#    "req": the command's counter, "t": board time, "data": ...}
# "req" binds the answer to the request: an old answer replayed to the host does not match.
from meterseal.crypto import cbor, cose
from meterseal.security.access import Denied

ANSWER_VERSION = 1
_PROFILE_MAX = 48  # intervals per answer: one answer stays below the console's 4096 bytes
_LOGBOOK_PAGE = 2  # entries per answer (~240 bytes each): answers are copied a few times
_SEALED_BUDGET = 2600  # bytes of sealed SML per read_registers answer
_TIME_MIN = 1577836800  # 2020-01-01: a set_time before it is a mistake
_TIME_MAX = 4102444800  # 2100-01-01


class MeterCommands:
    def __init__(self, prov, meter):
        self.p = prov
        self.meter = meter
        self.board = prov.board

    def answer(self, cmd, data):
        payload = cbor.dumps({"v": ANSWER_VERSION, "dev": self.p.device_id(), "cmd": cmd.name,
                              "req": cmd.counter, "t": self.board.time(), "data": data})
        return {"signed": cose.sign1(payload, self.p.ks.signer("em"))}

    def _int(self, cmd, args, name, lo, hi, default=None):
        v = args.get(name, default)
        if v is None and default is None and name not in args:
            return None
        if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
            self.p.refuse(cmd.name, cmd.fingerprint, cmd.role, "range",
                          "%s must be an integer %d..%d" % (name, lo, hi), new=v)
        return v

    # --- metering data (Table 1: energy provider, MSP, display, data collection) ----------

    def read_registers(self, args, cmd):
        data = self.meter.registers()
        n = self._int(cmd, args, "sealed", 0, 16, 0)
        if n:
            data["sealed"] = [[k, v] for k, v in self.meter.sealed_readings(
                None if "first" not in args else self._int(cmd, args, "first", 0, 1 << 31), n,
                _SEALED_BUDGET)]
        return self.answer(cmd, data)

    def read_profile(self, args, cmd):
        start = self._int(cmd, args, "start", 0, 1 << 40)
        end = self._int(cmd, args, "end", 0, 1 << 40)
        rows = self.meter.profile(start, end)
        out = []
        for r in rows[:_PROFILE_MAX]:
            out.append([r["n"], r["end"], r["imp"], r["exp"], r["d_imp"], r["d_exp"]])
        return self.answer(cmd, {"fields": ["n", "end", "imp_mwh", "exp_mwh", "d_imp_mwh",
                                            "d_exp_mwh"], "intervals": out,
                                 "more": len(rows) > _PROFILE_MAX})

    # --- logbook (D3: the metrological institute) ------------------------------------------

    def _head(self):
        return self.p.logbook.head()

    def read_logbook(self, args, cmd):
        first = self._int(cmd, args, "first", 0, 1 << 20, 0)
        count = self._int(cmd, args, "count", 1, _LOGBOOK_PAGE, _LOGBOOK_PAGE)
        return self.answer(cmd, {"first": first, "entries": self.p.logbook.entries(first, count),
                                 "head": self._head()})

    def reset_logbook(self, args, cmd):
        head = args.get("head")
        try:
            if not isinstance(head, (bytes, bytearray)) or len(head) != 32:
                raise ValueError("head must be the 32-byte hash of the last entry")
            self.p.logbook.reset(head, cmd.fingerprint, cmd.role)
        except ValueError as e:
            self.p.refuse(cmd.name, cmd.fingerprint, cmd.role, "head", str(e))
        return self.answer(cmd, {"head": self._head()})

    # --- metrological parameters (D2) ------------------------------------------------------

    def set_time(self, args, cmd):
        from meterseal.security.signed_command import MAX_SKEW_S

        t = self._int(cmd, args, "time", _TIME_MIN, _TIME_MAX, -1)
        # The time must be the one the signer signed the command at, and inside the signer's
        # certificate: otherwise one allowed set_time could move the clock where every
        # certificate is expired or not yet valid, and no signed command could ever set it back.
        if abs(t - cmd.issued) > MAX_SKEW_S:
            self.p.refuse(cmd.name, cmd.fingerprint, cmd.role, "range",
                          "time %d is not the command's issue time %d (within %d s)"
                          % (t, cmd.issued, MAX_SKEW_S), new=t)
        if not cmd.valid_from <= t <= cmd.valid_to:
            self.p.refuse(cmd.name, cmd.fingerprint, cmd.role, "range",
                          "time %d is outside the signer's certificate" % t, new=t)
        self.p.log_change(cmd, "set_time", self.board.time(), t)
        old = self.p.clock.set(t)
        return self.answer(cmd, {"old": old, "new": t})

    def set_parameter(self, args, cmd):
        from meterseal.roles.registers import PARAMETERS

        name, value = args.get("name"), args.get("value")
        try:
            if not isinstance(name, str) or name not in PARAMETERS:
                raise ValueError("unknown parameter %r (one of %s)"
                                 % (name, ", ".join(sorted(PARAMETERS))))
            value = PARAMETERS[name][1](value)  # the meter's own range check, before logging
        except ValueError as e:
            self.p.refuse(cmd.name, cmd.fingerprint, cmd.role, "range", str(e),
                          old=name, new=value)
        old = self.meter.parameters().get(name)
        self.p.log_change(cmd, "set_parameter", {name: old}, {name: value})
        old, new = self.meter.set_parameter(name, value)
        return self.answer(cmd, {"name": name, "old": old, "new": new})

    # --- access control (S4) ----------------------------------------------------------------

    def read_access_table(self, args, cmd):
        return self.answer(cmd, self.p.access.describe())

    def set_access_entry(self, args, cmd):
        from meterseal.security import access

        target, new = args.get("command"), args.get("roles")
        old = self.p.access.allowed(target)
        if not access.valid_roles(new):
            self.p.refuse(cmd.name, cmd.fingerprint, cmd.role, "value",
                          "roles must be a list of role names of Table 1", old={target: old},
                          new={target: new})
        if access.CLASSES.get(target) == access.METROLOGICAL:
            self.p.log_change(cmd, "set_access_entry", {target: old}, {target: new})
        else:
            try:
                self.p.logbook.record("set_access_entry", cmd.fingerprint, cmd.role,
                                      {target: old}, {target: new}, "ok")
            except Exception:  # noqa: BLE001  not metrological: a full logbook does not block
                pass
        try:
            self.p.access.set_entry(target, new)
        except Denied as e:
            self.p.refuse(cmd.name, cmd.fingerprint, cmd.role, e.reason, e.detail)
        return self.answer(cmd, {"command": target, "old": old, "new": new})


def add(board, commands, meter):
    """Register the meter's signed commands with the board's "signed" console command
    (roles/provisioning.py) and give the meter the logbook's status word for its seals."""
    prov = commands["signed"]
    mc = MeterCommands(prov, meter)
    for name in ("read_registers", "read_profile", "read_logbook", "reset_logbook", "set_time",
                 "set_parameter", "read_access_table", "set_access_entry"):
        prov.add_signed(name, getattr(mc, name))
    meter.logbook_status = prov.logbook.status_word
    return mc
