"""`meterseal wmbus decode|listen`: wireless M-Bus telegrams on the host, through the firmware's
own codecs (proto/wmbus.py, proto/oms.py) and the MUC's receiver (roles/wmbus_receiver.py).

  meterseal wmbus decode 2A442D2C99... --key KAM76348799=28F64A24...
  meterseal wmbus listen --port socket://127.0.0.1:PORT --key MSL12345678=00112233... --count 3

`listen` reads what a radio module hands its host (docs/wmbus-radio.md: L C M A CI ..., no
CRCs) from any pyserial URL: a module on a USB-UART or the simulator's air hub. Exit codes:
0 decoded; 1 a check said no (wrong key, bad MAC, replay); 2 the tool could not (bad input,
no key for an encrypted telegram, unreachable port).
"""
import asyncio
import binascii
import json
import time

from .errors import EXIT_CHECK_FAILED, ToolError

_RADIO_BAUD = 19200


def _parse_keys(items):
    keys = {}
    for item in items or ():
        name, sep, hexkey = item.partition("=")
        name = name.strip().upper()
        try:
            key = binascii.unhexlify(hexkey.strip())
        except (binascii.Error, ValueError):
            key = b""
        if not sep or len(name) != 11 or len(key) != 16:
            raise ToolError("--key %s: expected METERID=HEX, e.g. APA88888888=<32 hex digits>"
                            % item)
        keys[name] = key
    return keys


def _records(recs_or_rows):
    from meterseal.proto import mbus_units

    out = []
    for function, storage, tariff, subunit, vif, value in recs_or_rows:
        q, unit, exp = mbus_units.describe(vif)
        if isinstance(value, int) and not isinstance(value, bool) and exp:
            shown = value * 10 ** exp if exp > 0 else round(value * 10 ** exp, -exp)
        elif isinstance(value, (tuple, list)):
            shown = "%04d-%02d-%02d" % tuple(value[:3]) + (
                " %02d:%02d" % tuple(value[3:5]) if len(value) >= 5 else "")
        elif isinstance(value, bytes):
            shown = value.hex()
        else:
            shown = value
        out.append({"quantity": q, "value": shown, "unit": unit, "storage": storage,
                    "tariff": tariff, "subunit": subunit, "vif": vif,
                    "function": mbus_units.FUNCTIONS[function]})
    return out


def _print_reading(r, as_json):
    recs = _records(r["records"])
    if as_json:
        print(json.dumps(dict(r, records=recs)), flush=True)
        return
    sec = "mode %d" % r["mode"] + (", counter %d" % r["counter"] if r["counter"] is not None
                                    else "") + ", access %d" % r["access"]
    print("%s  type 0x%02X  %s" % (r["meter"], r["device_type"], sec))
    for x in recs:
        where = "" if not (x["storage"] or x["tariff"] or x["subunit"]) else \
            "  (storage %d, tariff %d, subunit %d)" % (x["storage"], x["tariff"], x["subunit"])
        fn = "" if x["function"] == "instantaneous" else " (%s)" % x["function"]
        print(("  %-24s %s %s" % (x["quantity"] + fn, x["value"], x["unit"])).rstrip() + where)
    print(flush=True)


def strip_crcs(raw, crc):
    """(link frame without DLL CRCs, hint): crc is "none", "a", "b" or "auto" (L decides).
    The hint is what to add to a later error when "auto" had to guess."""
    from meterseal.proto import wmbus

    if crc == "none":
        return raw, ""
    if crc == "a":
        return wmbus.strip_crc_a(raw), ""
    if crc == "b":
        return wmbus.strip_crc_b(raw), ""
    if raw and raw[0] == len(raw) - 1:
        try:
            return wmbus.strip_crc_b(raw), ""  # format B's L counts its CRCs, like no CRCs
        except wmbus.FrameError:
            # Either a frame without CRCs or a format B frame whose CRC failed: say both if
            # it does not decode.
            return raw, " (or a format B frame with a bad CRC: try --crc b)"
    return wmbus.strip_crc_a(raw), ""


class _KeyBoard:
    """Just enough of a board for the firmware's Receiver: keys from --key, state in memory."""

    def __init__(self):
        self.config = {}
        self.storage = self
        self._files = {}

    def read(self, name):
        return self._files.get(name)

    def write_atomic(self, name, data):
        self._files[name] = data

    def time(self):
        return int(time.time())


def make_receiver(keys):
    from meterseal.roles.wmbus_receiver import Receiver

    return Receiver(_KeyBoard(), get_key=lambda board, meter: keys.get(meter))


# --- decode -------------------------------------------------------------------------------------

def build_decode(p):
    p.add_argument("telegram", help="the telegram in hex (spaces and _ ignored)")
    p.add_argument("--key", action="append", metavar="METERID=HEX",
                   help="KEY_M-Bus of a meter, e.g. APA88888888=00..00 (repeatable)")
    p.add_argument("--crc", choices=("auto", "none", "a", "b"), default="auto",
                   help="DLL CRCs in the hex: none (as radio modules deliver), format a or b, "
                   "or auto (default)")
    p.add_argument("--json", action="store_true", help="print the reading as JSON")


def do_decode(args):
    from meterseal.proto import oms
    from meterseal.proto.wmbus import FrameError
    from meterseal.roles.wmbus_receiver import R_NO_KEY, Rejected

    text = args.telegram.replace(" ", "").replace("_", "").replace("|", "")
    try:
        raw = binascii.unhexlify(text)
    except (binascii.Error, ValueError):
        raise ToolError("telegram: not hex")
    try:
        frame, hint = strip_crcs(raw, args.crc)
    except FrameError as e:
        raise ToolError("telegram: %s" % e.args[0])
    keys = _parse_keys(args.key)
    try:
        t = oms.parse(frame)
    except FrameError as e:
        raise ToolError("telegram: malformed: %s%s" % (e.args[0], hint))
    if t.mode == oms.MODE_NONE and not t.ell_rest:  # a plain telegram: no key needed
        return _decode_plain(frame, t, args.json)
    rx = make_receiver(keys)
    try:
        r = rx.handle(frame)
    except Rejected as e:
        meter, reason = e.args
        err = ToolError("%s: %s" % (meter or "telegram", reason + (
            " (give --key %s=HEX)" % meter if reason == R_NO_KEY else hint)))
        if reason != R_NO_KEY and not reason.startswith("malformed"):
            err.exit_code = EXIT_CHECK_FAILED
        raise err
    _print_reading(r, args.json)
    return 0


def _decode_plain(frame, t, as_json):
    from meterseal.proto import mbus_records, oms
    from meterseal.proto.wmbus import FrameError

    meter = t.meter()
    try:
        apl = oms.open_apl(t, frame, None)
        recs, _ = mbus_records.parse_records(apl, 0, len(apl))
    except FrameError as e:
        raise ToolError("%s: malformed: %s" % (meter, e.args[0]))
    _print_reading({"meter": meter, "device_type": t.device_type, "mode": 0, "counter": None,
                    "access": t.acc, "status": t.status,
                    "records": [[r.function, r.storage, r.tariff, r.subunit, r.vif, r.value] for r in recs
                                if r.function != mbus_records.FN_MANUFACTURER]}, as_json)
    return 0


# --- listen -------------------------------------------------------------------------------------

def build_listen(p):
    g = p.add_argument_group("connection")
    g.add_argument("-p", "--port", help="pyserial URL of the radio module or the simulator's "
                   "air hub (socket://127.0.0.1:PORT) [env METERSEAL_PORT]")
    g.add_argument("-b", "--baud", type=int, default=_RADIO_BAUD,
                   help="UART rate of the module (default %d, RC1180-MBUS factory setting)"
                   % _RADIO_BAUD)
    p.add_argument("--key", action="append", metavar="METERID=HEX",
                   help="KEY_M-Bus of a meter (repeatable); telegrams of other meters are "
                   "reported as 'no key'")
    p.add_argument("--count", type=int, default=0, help="stop after N accepted telegrams")
    p.add_argument("--seconds", type=float, default=0, help="stop after S seconds")
    p.add_argument("--json", action="store_true", help="one JSON object a line")


async def listen(uart, rx, count=0, seconds=0.0, on_reading=None, on_reject=None):
    """Feed packets from uart to the receiver until count readings or seconds have passed."""
    from meterseal.roles.wmbus_radio import PacketReader
    from meterseal.roles.wmbus_receiver import Rejected

    reader = PacketReader(uart)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds if seconds else None
    got = 0
    while not count or got < count:
        timeout = None if deadline is None else deadline - loop.time()
        if timeout is not None and timeout <= 0:
            break
        try:
            pkt = await asyncio.wait_for(reader.next(), timeout)
        except asyncio.TimeoutError:
            break
        try:
            r = rx.handle(pkt)
        except Rejected as e:
            rx.note_reject(*e.args)
            if on_reject:
                on_reject(e.args[0], e.args[1])
            continue
        got += 1
        if on_reading:
            on_reading(r)
    return got


def do_listen(args):
    from .serial_uart import SerialUart

    port = args.port or args.settings["port"]
    if not port:
        raise ToolError("no port: give --port (a radio module's serial port, or socket://HOST:PORT "
                        "of the simulator's air hub)")
    if not args.count and not args.seconds:
        raise ToolError("give --count N or --seconds S (or both)")
    rx = make_receiver(_parse_keys(args.key))

    def rejected(meter, reason):
        if args.json:
            print(json.dumps({"meter": meter, "rejected": reason}), flush=True)
        else:
            print("%s  rejected: %s" % (meter or "?", reason), flush=True)

    with SerialUart(port, args.baud, "8N1") as uart:
        got = asyncio.run(listen(uart, rx, args.count, args.seconds,
                                 lambda r: _print_reading(r, args.json), rejected))
    if args.count and got < args.count:
        raise ToolError("%d of %d telegrams in %.0f s" % (got, args.count, args.seconds))
    return 0


def build_wmbus(p):
    sub = p.add_subparsers(dest="wmbus_command", metavar="ACTION")
    sub.required = True
    build_decode(sub.add_parser("decode", help="decode and decrypt one telegram given in hex"))
    build_listen(sub.add_parser("listen", help="decode and decrypt telegrams from a radio "
                                "module or the simulated air"))


def do_wmbus(args):
    return do_decode(args) if args.wmbus_command == "decode" else do_listen(args)


COMMANDS = {
    "wmbus": (build_wmbus, do_wmbus, "wireless M-Bus: decode a telegram, listen on a radio module"),
}

