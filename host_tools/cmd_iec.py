"""`meterseal iec read`: the firmware's own IEC 62056-21 reader (roles/iec_client.py) on a host
port through SerialUart: an optical probe on a meter (/dev/ttyUSB0) or a simulated meter's aux
UART (socket://). Starts at 300 Bd 7E1 as the standard says, follows the meter's mode (A, B or
C/E), switches to the rate the meter offers (at most --baud-max), reads the data set.

Exit codes: 0 done; 1 the meter refused (programming mode: password, unknown address);
2 no answer, a bad answer (BCC, syntax) or the port failed.
"""
import asyncio
import json

from .errors import EXIT_CHECK_FAILED, NoAnswer, ToolError
from .options import port_options

INITIAL_BAUD = 300  # IEC 62056-21: every session starts at 300 Bd


class Refused(ToolError):
    exit_code = EXIT_CHECK_FAILED


# --- library functions (importable, no printing) -------------------------------------------

def backstop_s(timeout_s, initial_baud, registers=None):
    """Seconds after which a session is abandoned whatever the meter does. The client bounds
    each message itself (iec_client.py); this only catches a flaw in those bounds: twice the
    first-character timeout plus the wire time at the start rate (the slowest) of the most
    the client accepts, for every message it may wait for."""
    from meterseal.roles import iec_client as ic

    if registers:  # P0, P1 (3 tries), per register R1 in MAX_BLOCKS blocks, 3 tries each
        msgs = 4 + len(registers) * 3 * ic.MAX_BLOCKS
        chars = msgs * 2 * ic._MAX_LINE + len(registers) * ic.MAX_READOUT
    else:  # identification, data message
        msgs = 2
        chars = 3 * ic._MAX_JUNK + ic.MAX_READOUT
    return 2 * (msgs * (timeout_s + 2) + chars * 10.0 / initial_baud)


def read(uart, address="", baud_max=19200, switch=True, timeout_s=3.0, registers=None,
         password=None, initial_baud=INITIAL_BAUD):
    """Read a meter on `uart` (a SerialUart at `initial_baud` 7E1): the identification dict
    with "records" [(address, value, unit)] (data readout) or "values" (programming-mode R1
    reads of `registers`)."""
    from meterseal.proto import iec62056_21 as iec
    from meterseal.roles import iec_client as ic

    client = ic.IecClient(uart, address=address, max_baud=baud_max, switch=switch,
                          initial_baud=initial_baud, timeout_ms=int(timeout_s * 1000),
                          max_records=ic.MAX_READOUT)  # a host has the heap for all
    if registers:
        coro = client.program_read(registers, password=password)
    else:
        coro = client.readout()
    limit = backstop_s(timeout_s, initial_baud, registers)
    try:
        return asyncio.run(asyncio.wait_for(coro, limit))
    except asyncio.TimeoutError:
        raise NoAnswer("no complete answer from %s within %.0f s" % (uart.url, limit))
    except ic.NoAnswer as e:
        raise NoAnswer("no %s from %s (a meter at %d Bd 7E1%s?)" % (
            e.args[0], uart.url, initial_baud, " with address " + address if address else ""))
    except ic.Refused as e:
        raise Refused("meter refused: %s" % e.args[0])
    except iec.FrameError as e:
        raise ToolError("bad answer from the meter: %s" % e.args[0])


def record_dicts(records):
    """Data sets as dicts, with the OBIS code where the address is one."""
    from meterseal.proto import iec62056_21 as iec

    out = []
    for a, v, u in records:
        obis = None
        if a:
            try:
                obis = _obis_text(iec.parse_id(a))
            except iec.FrameError:
                pass
        out.append({"address": a, "value": v, "unit": u, "obis": obis})
    return out


def _obis_text(o):
    # The groups a reduced ID leaves out print as '*' (any).
    g = ["*" if b == 0xFF else str(b) for b in o]
    return "%s-%s:%s.%s.%s*%s" % tuple(g)


# --- command ---------------------------------------------------------------------------------

def build_iec(p):
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    r = sub.add_parser("read", help="read a meter's data set over IEC 62056-21",
                       description="Sign on (/?[address]!), read the identification, switch "
                       "to the meter's rate and print its data readout; or, with --register, "
                       "read single values in programming mode (R1).")
    port_options(r)
    r.add_argument("--address", default="", help="device address for the sign-on (default: "
                   "none, any meter that sees the probe answers)")
    r.add_argument("--baud-max", type=int, default=19200, metavar="N",
                   help="highest rate to switch to (default 19200; many probes need 9600)")
    r.add_argument("--no-switch", action="store_true", help="stay at the start rate")
    r.add_argument("--register", action="append", metavar="ID", help="programming mode: "
                   "read this address (e.g. 1.8.0, C.1.0) with R1; repeat for more")
    r.add_argument("--password", help="programming mode: the P1 password (sent in clear)")
    r.add_argument("--json", action="store_true", help="print identification and data as JSON")
    for a in r._actions:  # the shared port options describe the console's
        if a.dest == "baud":
            a.help = "start rate of the sign-on (default 300, as IEC 62056-21 says)"
        elif a.dest == "timeout":
            a.help = "seconds to wait for the first character of each answer (default 3)"
    r.epilog = "--baud is the start rate (default 300, as the standard says); --timeout the " \
               "wait for the first character of each answer (default 3 s: the meter's 1.5 s " \
               "maximum reaction time plus slack). Each answer must also be complete within " \
               "that plus its wire time: a device that never stops talking gets no longer."


def do_iec(args):
    from .serial_uart import SerialUart

    port = args.port or args.settings["port"]
    if not port:
        raise ToolError("no port: give --port (an optical probe such as /dev/ttyUSB0, or "
                        "socket://127.0.0.1:PORT for a simulated meter's aux UART)")
    if args.password is not None and not args.register:
        raise ToolError("--password is for programming-mode reads: add --register ID")
    baud = args.baud or INITIAL_BAUD
    if baud not in (300, 600, 1200, 2400, 4800, 9600, 19200):
        raise ToolError("--baud %d: IEC 62056-21 rates are 300 to 19200 Bd" % baud)
    with SerialUart(port, baud, "7E1") as uart:
        uart.discard_input()
        info = read(uart, address=args.address, baud_max=args.baud_max,
                    switch=not args.no_switch, timeout_s=args.timeout or 3.0,
                    registers=args.register, password=args.password, initial_baud=baud)
    rows = record_dicts(info.get("records") or info.get("values") or [])
    if args.json:
        out = {k: info[k] for k in ("manufacturer", "baud_char", "ident", "enhanced", "mode",
                                     "baud")}
        out["records"] = rows
        print(json.dumps(out, indent=1))
        return 0
    print("meter %s %s  (mode %s, %d Bd%s)" % (
        info["manufacturer"], info["ident"], info["mode"], info["baud"],
        ", enhanced id \\" + info["enhanced"] if info["enhanced"] else ""))
    from .report import table

    print(table([(r["address"], r["value"], r["unit"] or "", r["obis"] or "") for r in rows],
                headers=("address", "value", "unit", "OBIS")))
    return 0


COMMANDS = {
    "iec": (build_iec, do_iec, "IEC 62056-21 (optical port): read a meter's data set"),
}
