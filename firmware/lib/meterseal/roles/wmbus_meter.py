# The wireless M-Bus gas or water meter role (D1, S3, K5): a battery meter that sends its
# volume register as an encrypted SND_NR telegram every board.json "wmbus_interval_s" seconds
# on its radio UART ("aux", docs/wmbus-radio.md).
#
# board.json: "wmbus_mode" 7 (default: AES-CBC with CMAC-derived keys and an authenticated
# message counter) or 5 (AES-CBC with IV, no MAC, no counter on the air); "wmbus_medium" 7 water
# (default) or 3 gas; "sim_flow_lph" the simulated flow in litres per hour.
#
# The message counter never repeats, even across power losses: the state file is written
# (write_atomic) with the counter already advanced BEFORE the telegram goes out, so after a
# cut the meter continues above every counter that could have reached the air. One small
# write per telegram; littlefs spreads it over the flash. The access number is the counter's
# low byte, so it increments too. The KEY_M-Bus is made on first boot from the board's RNG if
# manufacture put none (wmbus_keys.py) and is never sent anywhere by the firmware.
import gc
import json

gc.collect()  # compiling the imports below needs contiguous heap in the simulator (source, not .mpy)

from meterseal.compat import asleep_ms, const, ticks_diff, ticks_ms  # noqa: E402
try:  # the M-Bus record writer (mbus_encode.py once the wired M-Bus split lands there)
    from meterseal.proto import mbus_encode as rec  # noqa: E402
except ImportError:
    from meterseal.proto import mbus_records as rec  # noqa: E402
from meterseal.proto import oms, wmbus  # noqa: E402
from meterseal.roles import identity, wmbus_keys, wmbus_radio  # noqa: E402

_STATE = "wmbus_meter.json"
_VIF_LITRE = const(0x13)  # EN 13757-3 VIF 0001 0nnn, nnn = 3: 10^-3 m3
_VIF_DATETIME = const(0x6D)  # type F date and time
_DF_INT32 = const(0x4)
_STATUS_OK = const(0)


class WmbusMeter:
    def __init__(self, board):
        cfg = board.config
        self.board = board
        self.ident = identity.load(board, cfg.get("wmbus_medium", identity.MEDIUM_WATER))
        self.id_digits = "%08d" % self.ident["id"]
        self.manufacturer = wmbus.manufacturer_code(self.ident["manufacturer"])
        self.name = self.ident["manufacturer"] + self.id_digits
        self.mode = cfg.get("wmbus_mode", oms.MODE_CBC_KDF)
        if self.mode not in (oms.MODE_CBC_IV, oms.MODE_CBC_KDF):
            raise ValueError("board.json: wmbus_mode must be 5 or 7")
        self.interval_ms = int(cfg.get("wmbus_interval_s", 120) * 1000)
        self.flow_lph = cfg.get("sim_flow_lph", 30)
        self.radio = wmbus_radio.kind(board)
        key = wmbus_keys.get_key(board, self.name)
        if key is None:
            key = board.random_bytes(16)
            wmbus_keys.put_key(board, self.name, key)
        self._key = key
        raw = board.storage.read(_STATE)
        st = json.loads(raw) if raw else {}
        self.counter = st.get("next", 1)  # first counter never sent
        self.volume_ml = st.get("ml", 0)
        self.sent = 0

    def records(self):
        """The application data: volume (litres) and the time of the reading (type F)."""
        out = bytearray()
        rec.encode_record(out, _DF_INT32, _VIF_LITRE, self.volume_ml // 1000)
        rec.encode_record(out, _DF_INT32, _VIF_DATETIME, rec.civil(self.board.time())[:5])
        return bytes(out)

    def next_telegram(self):
        """Advance and persist the counter first, then build the telegram that uses it."""
        c = self.counter
        self.counter = c + 1
        self.board.storage.write_atomic(_STATE, json.dumps(
            {"next": self.counter, "ml": self.volume_ml}).encode())
        ident = self.ident
        args = (self._key, wmbus.SND_NR, self.manufacturer, self.id_digits, ident["version"] & 0xFF,
                ident["medium"], c & 0xFF, _STATUS_OK)
        if self.mode == oms.MODE_CBC_KDF:
            return oms.seal_mode7(*(args + (c, self.records())))
        return oms.seal_mode5(*(args + (self.records(),)))

    def status(self):
        return {"meter": self.name, "mode": self.mode, "next_counter": self.counter,
                "volume_l": self.volume_ml // 1000, "sent": self.sent,
                "interval_s": self.interval_ms // 1000, "radio": self.radio}

    async def run(self, uart):
        last = ticks_ms()
        while True:
            await asleep_ms(self.interval_ms)
            now = ticks_ms()
            # l/h * ms -> ml: flow * dt / 3600
            self.volume_ml += int(self.flow_lph * ticks_diff(now, last)) // 3600
            last = now
            frame = self.next_telegram()
            await uart.write(wmbus_radio.tx_bytes(self.radio, frame))
            self.sent += 1


def start(board, commands):
    m = WmbusMeter(board)
    commands["wmbus_meter"] = lambda args: m.status()
    put = wmbus_keys.key_command(board, only=m.name)

    def set_key(args):
        out = put(args)
        m._key = wmbus_keys.get_key(board, m.name)
        return out

    commands["wmbus_key"] = set_key
    return [m.run(wmbus_radio.open_uart(board))]
