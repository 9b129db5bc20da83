"""`meterseal`: one command for the host side, one `do_<name>` per subcommand.

Exit codes: 0 done; 1 a check said no; 2 the tool could not do its job.
"""
import argparse
import sys

from . import config as config_mod
from .errors import EXIT_CANNOT, ToolError


def _port_options(p):
    g = p.add_argument_group("connection")
    g.add_argument("-p", "--port", help="serial port or pyserial URL: /dev/ttyUSB0, "
                   "socket://127.0.0.1:PORT (simulated board), spy://... [env METERSEAL_PORT]")
    g.add_argument("-b", "--baud", type=int, help="baud rate of the console (default 115200) "
                   "[env METERSEAL_BAUD]")
    g.add_argument("--timeout", type=float, help="seconds to wait for each answer (default 2)")


def _connect(args):
    from .console import BoardConsole

    settings = args.settings
    port = args.port or settings["port"]
    if not port:
        raise ToolError("no port: give --port (e.g. /dev/ttyUSB0 or socket://127.0.0.1:PORT), "
                        "set METERSEAL_PORT, or put port = ... in meterseal.toml")
    return BoardConsole(port, baud=args.baud or settings["baud"],
                        timeout=args.timeout or settings["timeout"])


# --- info ---------------------------------------------------------------------------------------

def build_info(p):
    _port_options(p)
    p.add_argument("--json", action="store_true", help="print the identity as JSON")


def do_info(args):
    from .report import print_identity

    with _connect(args) as con:
        ident = con.request("info")
    print_identity(ident, as_json=args.json)
    return 0


# --- sim ----------------------------------------------------------------------------------------

def build_sim(p):
    p.add_argument("--board", default=None, help="board to stand in for: esp32 or rp2040 "
                   "(default: the one the state folder holds, else esp32)")
    p.add_argument("--role", help="meter, muc, concentrator or wmbus_meter (default: the board's)")
    p.add_argument("--state", required=True, help="state folder (created if missing; reuse it to "
                   "continue where the board stopped)")
    p.add_argument("--interpreter", choices=("micropython", "cpython"), default="micropython",
                   help="run the firmware under MicroPython (default) or CPython for debugging")
    p.add_argument("--console-port", type=int, help="TCP port of the console UART (default: "
                   "the one the state folder recorded, else a free one)")


def do_sim(args):
    from .sim import run_foreground

    return run_foreground(args.state, board=args.board, role=args.role,
                          interpreter=args.interpreter,
                          ports={"console": args.console_port} if args.console_port else None)


# --- demo ---------------------------------------------------------------------------------------

def build_demo(p):
    p.add_argument("--interpreter", choices=("micropython", "cpython"), default="micropython")
    p.add_argument("--board", default="esp32", help="board to simulate (esp32 or rp2040)")
    p.add_argument("--keep", metavar="DIR", help="keep the board's state in DIR instead of a "
                   "temporary folder")


def do_demo(args):
    from .demo import run_demo

    return run_demo(board=args.board, interpreter=args.interpreter, keep=args.keep)


COMMANDS = {
    "info": (build_info, do_info, "print a board's identity over its console"),
    "sim": (build_sim, do_sim, "run a simulated board in the foreground until Ctrl-C"),
    "demo": (build_demo, do_demo, "start a simulated board, talk to it, stop it"),
}


def make_parser():
    parser = argparse.ArgumentParser(prog="meterseal", description="MeterSeal host tools.")
    parser.add_argument("--config", help="TOML settings file (default ./meterseal.toml, "
                        "then ~/.config/meterseal/config.toml)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, (build, _do, helptext) in COMMANDS.items():
        p = sub.add_parser(name, help=helptext, description=helptext)
        build(p)
    return parser


def main(argv=None):
    parser = make_parser()
    args = parser.parse_args(argv)
    try:
        args.settings = config_mod.load(args.config)
        return COMMANDS[args.command][1](args)
    except ToolError as e:
        sys.stdout.flush()
        print("meterseal: %s: %s" % (args.command, e), file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("meterseal: %s: cancelled" % args.command, file=sys.stderr)
        return EXIT_CANNOT


if __name__ == "__main__":
    sys.exit(main())
