"""`meterseal mbus scan|read`: the firmware's own M-Bus master (roles/mbus_master.py) on a host
port, through SerialUart. Default 2400 Bd 8E1, as EN 13757-2 meters ship.

Exit codes: 0 done; 1 a scan found no slave; 2 no answer, a bad answer, or the port failed.
"""
import asyncio
import json

from .errors import NoAnswer, ToolError
from .options import port_options

DEFAULT_BAUD = 2400


def _uart(args):
    from .serial_uart import SerialUart

    port = args.port or args.settings["port"]
    if not port:
        raise ToolError("no port: give --port (an M-Bus master adapter such as /dev/ttyUSB0, or "
                        "socket://127.0.0.1:PORT for a simulated bus)")
    return SerialUart(port, args.baud or DEFAULT_BAUD, "8E1")


def _master(uart, args):
    from meterseal.roles.mbus_master import MBusMaster

    # socket:// returns from write() at once: wait the line time so the timing is the wire's
    pace = uart.url.startswith("socket://")
    slack = 100
    if args.timeout is not None:  # the whole wait for an answer, in seconds
        slack = max(0, int(args.timeout * 1000) - (330 * 1000 // uart.baud + 50))
    return MBusMaster(uart, retries=args.retries, slack_ms=slack, pace=pace)


# --- library functions (importable, no printing) -------------------------------------------

def scan(uart, secondary=False, first=0, last=250, retries=2, slack_ms=100, on_found=None,
         pace=False):
    """Primary scan -> ([addresses], [collided]); secondary search -> ([8-byte addresses],
    [unresolved selections])."""
    from meterseal.roles.mbus_master import MBusMaster

    m = MBusMaster(uart, retries=retries, slack_ms=slack_ms, pace=pace)
    if secondary:
        return asyncio.run(m.search_secondary(on_found=on_found))
    return asyncio.run(m.scan_primary(first, last, on_found=on_found))


def readout_rows(readout):
    """Records as dicts: what `mbus read --json` prints."""
    from meterseal.proto import mbus_units as mu

    rows = []
    for r in readout.records:
        kind = mu.KIND_NUMBER
        if r.function == 4:
            q, unit, exp = "manufacturer data", "", 0
        else:
            q, unit, exp, kind = mu.describe_record(r.vif, r.vife, r.text)
        value = r.value
        if kind == mu.KIND_DATE:
            value = _as_date(r)
        row = {"quantity": q, "value": _json_value(value), "exponent": exp, "unit": unit,
               "scaled": _scaled(value, exp), "function": mu.FUNCTIONS[r.function],
               "storage": r.storage, "tariff": r.tariff, "subunit": r.subunit,
               "vif": r.vif, "vife": r.vife.hex()}
        if kind == mu.KIND_UNKNOWN:
            row["flag"] = "VIFE not understood: value not scaled"
        rows.append(row)
    return rows


def _as_date(r):
    """A record whose VIFE says "date (/time) of": its integer as a type G (2 bytes) or F
    (4 bytes) time point (EN 13757-3 Annex A); None for other lengths or an invalid one."""
    from meterseal.proto import mbus_records as mr

    n = {2: 2, 4: 4}.get(r.df)  # data field 2 = 16-bit, 4 = 32-bit integer
    if n is None or not isinstance(r.value, int):
        return None
    raw = (r.value & ((1 << (8 * n)) - 1)).to_bytes(n, "little")
    return mr.date_decode(raw, 0, n)


def _json_value(v):
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).hex()
    if isinstance(v, tuple):
        return "%04d-%02d-%02d" % v[:3] + ("T%02d:%02d" % v[3:5] if len(v) >= 5 else "") + (
            ":%02d" % v[5] if len(v) == 6 else "")
    return v


def _scaled(v, exp):
    if exp is None or not isinstance(v, (int, float)) or isinstance(v, bool):
        return None
    if exp >= 0 and isinstance(v, int):
        return v * 10 ** exp
    return round(v * 10.0 ** exp, max(0, -exp))


def header_dict(readout):
    from meterseal.proto import mbus

    ident, man, ver, med, acc, status, cfg = readout.header
    addr = readout.frames[0][7:15]
    return {"id": ident, "manufacturer": man, "version": ver, "medium": med, "access": acc,
            "status": status, "configuration": cfg, "address": readout.frames[0][5],
            "secondary": mbus.secondary_to_text(addr), "telegrams": len(readout.frames)}


# --- commands --------------------------------------------------------------------------------

def build_mbus(p):
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    s = sub.add_parser("scan", help="find the slaves on the bus",
                       description="Primary scan (SND_NKE to each address) or secondary search "
                       "(wildcard selection, EN 13757-3).")
    port_options(s)
    s.add_argument("--secondary", action="store_true", help="secondary-address search")
    s.add_argument("--first", type=int, default=0, help="first primary address (default 0)")
    s.add_argument("--last", type=int, default=250, help="last primary address (default 250)")
    s.add_argument("--retries", type=int, default=2)
    s.add_argument("--json", action="store_true")
    r = sub.add_parser("read", help="read one slave's data records",
                       description="REQ_UD2 until the whole readout is in (multi-telegram).")
    port_options(r)
    g = r.add_mutually_exclusive_group(required=True)
    g.add_argument("--address", type=int, help="primary address 0..250 (254: the only slave)")
    g.add_argument("--secondary", metavar="ID", help="secondary address: 8 ID digits (0-9, "
                   "A-E as some meters use, F = wildcard) or 16 hex characters "
                   "ID+manufacturer+version+medium")
    r.add_argument("--retries", type=int, default=2)
    r.add_argument("--json", action="store_true", help="print header and records as JSON")
    for q in (s, r):
        q.epilog = "--baud defaults to 2400 here (8E1). --timeout is the wait for each answer " \
                   "(default: the EN 13757-2 window of 330 bit times + 50 ms, plus 0.1 s for " \
                   "USB adapters)."


def do_mbus(args):
    from meterseal.proto import mbus
    from meterseal.roles.mbus_master import NoReply

    sel = None
    if args.action == "read":  # the arguments are checked before the port is opened
        if args.secondary:
            try:
                sel = mbus.secondary_from_text(args.secondary)
            except mbus.FrameError:
                raise ToolError("--secondary %s: give 8 ID digits (F for any) or 16 hex "
                                "characters" % args.secondary)
        elif not (0 <= args.address <= 250 or args.address in (253, 254)):
            # 251 and 252 are reserved (EN 13757-2 5.6), 255 is never answered
            raise ToolError("--address %d: primary addresses are 0..250, 253 or 254"
                            % args.address)
    with _uart(args) as uart:
        master = _master(uart, args)
        try:
            if args.action == "scan":
                return _do_scan(master, args)
            if sel is not None:
                readout = asyncio.run(master.read_secondary(sel))
            else:
                readout = asyncio.run(master.read(args.address))
        except NoReply as e:
            raise NoAnswer("%s on %s at %d Bd" % (e.args[0], uart.url, uart.baud))
        except mbus.FrameError as e:
            raise ToolError("bad answer: %s" % e.args[0])
    _print_readout(readout, args.json)
    return 0


def _do_scan(master, args):
    from meterseal.proto import mbus

    if args.secondary:
        found, unresolved = asyncio.run(master.search_secondary())
        items = [mbus.secondary_to_text(a) for a in found]
        bad = [mbus.secondary_to_text(s) for s in unresolved]
    else:
        found, bad = asyncio.run(master.scan_primary(args.first, args.last))
        items = found
    if args.json:
        print(json.dumps({"found": items, "collisions": bad}, indent=1))
    else:
        for i in items:
            print(i if args.secondary else "primary address %d" % i)
        for b in bad:
            print("collision at %s (two slaves, same address)" % b)
        print("%d slave(s) found" % len(items))
    return 0 if items else 1


def _print_readout(readout, as_json):
    h = header_dict(readout)
    rows = readout_rows(readout)
    if as_json:
        print(json.dumps({"header": h, "records": rows}, indent=1))
        return
    print("M-Bus slave %s  %s  version %d  medium 0x%02X  (primary address %d, access %d, "
          "status 0x%02X, %d telegram(s))" % (
              "%08d" % h["id"] if h["id"] is not None else "????????", h["manufacturer"],
              h["version"], h["medium"], h["address"], h["access"], h["status"], h["telegrams"]))
    print("secondary address %s" % h["secondary"])
    fmt = "%3s  %-22s %20s %-6s %-13s %4s %4s %4s"
    print(fmt % ("#", "quantity", "value", "unit", "function", "stor", "tar", "sub"))
    for i, r in enumerate(rows):
        v = r["scaled"] if r["scaled"] is not None else r["value"]
        print(fmt % (i, r["quantity"], v, r["unit"], r["function"], r["storage"], r["tariff"],
                     r["subunit"]))


COMMANDS = {
    "mbus": (build_mbus, do_mbus, "wired M-Bus master: scan the bus, read a meter"),
}
