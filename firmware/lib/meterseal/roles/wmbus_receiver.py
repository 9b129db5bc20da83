# The wireless M-Bus receiver service (MUC role, D5/S3/K5): takes telegrams from the radio
# module, looks up the meter's KEY_M-Bus, checks and decrypts (proto/oms.py), refuses what must
# not be believed, and keeps the latest reading of each meter.
#
# Refusal reasons (REASONS; counted, and the last few kept for the console):
#   "malformed: <r>"  the frame does not decode (r from the codec: "short", "length", "ci", ...)
#   "no key"          no KEY_M-Bus for the meter: the MUC only collects meters it was given
#   "unencrypted"     security mode 0 from a meter that has a key (a downgrade)
#   "wrong key"       mode 5 / ELL: the 2F 2F check or the ELL payload CRC failed
#   "bad MAC"         mode 7: the AFL CMAC does not match (wrong key or altered telegram)
#   "replay"          mode 7: the same message counter again; ELL: the same session number;
#                     mode 5: an access number seen among the meter's last _RECENT telegrams
#   "stale counter"   mode 7 / ELL: a counter or session number below the last accepted one
#   "stale time"      the telegram's date/time record is older than the last accepted one
#   "downgrade"       a weaker security mode than the meter has used (mode 7 > 5, ELL > none)
# Only mode 7 is authenticated (its AFL MAC); readings say so in "authenticated". Mode 5 and the
# ELL's AES-CTR hide the data but cannot stop an attacker who alters the ciphertext, and mode 5
# cannot stop replays beyond the access numbers and the meter's clock: a MUC that must be sure
# of its data takes mode 7 meters. A mode 7 counter moves only after its MAC checked out.
# Each meter's state (counter, access numbers, last time, mode) is persisted (write_atomic) so a
# restart of the MUC does not reopen the door to replays.
import json

from meterseal.crypto.errors import InvalidTag
from meterseal.proto import mbus_records, oms
from meterseal.proto.mbus import FN_INSTANT, VIF_DATETIME
from meterseal.proto.wmbus import FrameError
from meterseal.roles import wmbus_keys, wmbus_radio

_STATE = "wmbus_rx.json"
_RECENT = 16  # mode 5 access numbers remembered per meter (they wrap at 256)
_LAST_REJECTS = 8

R_NO_KEY = "no key"
R_UNENCRYPTED = "unencrypted"
R_WRONG_KEY = "wrong key"
R_BAD_MAC = "bad MAC"
R_REPLAY = "replay"
R_STALE = "stale counter"
R_STALE_TIME = "stale time"
R_DOWNGRADE = "downgrade"
R_MALFORMED = "malformed: "


def _level(t):
    # What protects the telegram, for the downgrade check: 3 = MAC, 2 = mode 5 / ELL encryption.
    if t.authenticated:
        return 3
    return 2 if t.mode != oms.MODE_NONE or t.ell_rest else 0


def _time_of(recs):
    """The meter's date/time record (instantaneous, storage 0) as a list, or None."""
    for r in recs:
        if r.vif == VIF_DATETIME and r.storage == 0 and r.function == FN_INSTANT \
                and isinstance(r.value, tuple):
            return list(r.value)
    return None


class Rejected(Exception):
    """args = (meter name or None, reason)."""


class Receiver:
    def __init__(self, board, get_key=wmbus_keys.get_key):
        self.board = board
        self._get_key = get_key
        self.readings = {}  # meter -> latest reading (dict)
        self.rejected = {}  # reason -> count
        self.last_rejects = []  # [meter, reason], newest last
        self.accepted = 0
        raw = board.storage.read(_STATE)
        # meter -> {"ctr": last counter or -1, "acc": [access numbers], "t": [time] or None,
        #           "lvl": strongest protection seen}
        self._seen = json.loads(raw) if raw else {}

    def handle(self, frame):
        """Check one link frame; returns the reading or raises Rejected(meter, reason)."""
        meter = None
        try:
            t = oms.parse(frame)
            meter = t.meter()
            key = self._get_key(self.board, meter)
            if key is None:
                raise Rejected(meter, R_NO_KEY)
            if t.mode == oms.MODE_NONE and not t.ell_rest:
                raise Rejected(meter, R_UNENCRYPTED)
            apl = oms.open_apl(t, frame, key)
            recs, _more = mbus_records.parse_records(apl, 0, len(apl))
        except InvalidTag as e:
            raise Rejected(meter, R_BAD_MAC if e.args[0] != "key" else R_WRONG_KEY)
        except FrameError as e:
            raise Rejected(meter, R_MALFORMED + e.args[0])
        self._fresh(meter, t, _time_of(recs))
        reading = {
            "meter": meter,
            "device_type": t.device_type,
            "mode": t.mode,
            "counter": t.counter,
            "access": t.acc,
            "status": t.status,
            "authenticated": t.authenticated,
            "received": self.board.time(),
            "records": [[r.function, r.storage, r.tariff, r.subunit, r.vif, r.value]
                        for r in recs
                        if r.function != mbus_records.FN_MANUFACTURER],
        }
        self.readings[meter] = reading
        self.accepted += 1
        return reading

    def _fresh(self, meter, t, when):
        seen = self._seen.get(meter)
        if not isinstance(seen, dict):  # none yet, or the state of an earlier firmware
            seen = {"ctr": seen[0] if seen else -1, "acc": seen[1] if seen else [],
                    "t": None, "lvl": 0}
        level = _level(t)
        if level < seen["lvl"]:
            raise Rejected(meter, R_DOWNGRADE)
        # A counter that something authenticates: the mode 7 MCR (MAC), or the ELL session
        # number (it enters the CTR IV: an old telegram with a new number fails its CRC).
        counter = t.counter if t.authenticated else (
            t.ell_sn & 0x1FFFFFFF if t.ell_rest else None)
        if counter is not None:
            if counter == seen["ctr"]:
                raise Rejected(meter, R_REPLAY)
            if counter < seen["ctr"]:
                raise Rejected(meter, R_STALE)
        elif t.acc in seen["acc"]:
            raise Rejected(meter, R_REPLAY)
        if when is not None and seen["t"] is not None and when < seen["t"]:
            raise Rejected(meter, R_STALE_TIME)
        if counter is not None:
            seen["ctr"] = counter
        seen["acc"].append(t.acc)
        if len(seen["acc"]) > _RECENT:
            seen["acc"].pop(0)
        if when is not None:
            seen["t"] = when
        seen["lvl"] = max(level, seen["lvl"])
        self._seen[meter] = seen
        self.board.storage.write_atomic(_STATE, json.dumps(self._seen).encode())

    def note_reject(self, meter, reason):
        self.rejected[reason] = self.rejected.get(reason, 0) + 1
        self.last_rejects.append([meter, reason])
        if len(self.last_rejects) > _LAST_REJECTS:
            self.last_rejects.pop(0)

    def summary(self):
        return {"readings": [self.readings[m] for m in sorted(self.readings)],
                "accepted": self.accepted, "rejected": self.rejected,
                "last_rejects": self.last_rejects}

    async def run(self, uart):
        reader = wmbus_radio.PacketReader(uart)
        while True:
            pkt = await reader.next()
            try:
                self.handle(pkt)
            except Rejected as e:
                self.note_reject(e.args[0], e.args[1])


def start(board, commands):
    """Add the receiver to a role: console commands "wmbus_readings" and "wmbus_key", and the
    task that listens on the radio UART."""
    rx = Receiver(board)
    commands["wmbus_readings"] = lambda args: rx.summary()
    commands["wmbus_key"] = wmbus_keys.key_command(board)
    return [rx.run(wmbus_radio.open_uart(board))]
