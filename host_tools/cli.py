"""`meterseal`: one command for the host side, one `do_<name>` per subcommand.

Exit codes: 0 done; 1 a check said no; 2 the tool could not do its job.
"""
import argparse
import sys

from pathlib import Path

from . import config as config_mod
from .options import connect, port_options
from .errors import EXIT_CANNOT, ToolError


# --- info ---------------------------------------------------------------------------------------

def build_info(p):
    port_options(p)
    p.add_argument("--json", action="store_true", help="print the identity as JSON")


def do_info(args):
    from .report import print_identity

    with connect(args) as con:
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
    p.add_argument("--time-scale", type=int, metavar="N", help="meter: run the meter clock N "
                   "times faster (96: a day in 15 minutes)")
    p.add_argument("--load-w", type=int, metavar="W", help="meter: base load of the simulated "
                   "household in watts (daily shape applied)")


def do_sim(args):
    from .sim import run_foreground

    settings = {}
    if args.time_scale:
        settings["sim_time_scale"] = args.time_scale
    if args.load_w is not None:
        settings["sim_load"] = {"base_w": args.load_w, "shape": "household"}
    return run_foreground(args.state, board=args.board, role=args.role,
                          interpreter=args.interpreter,
                          ports={"console": args.console_port} if args.console_port else None,
                          settings=settings)


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

# Command groups of one capability each live in their own module (host_tools/cmd_<name>.py, e.g.
# cmd_mbus.py for `meterseal mbus scan|read`) and declare their own COMMANDS table in this shape.
_COMMAND_MODULES = sorted(p.stem for p in Path(__file__).parent.glob("cmd_*.py"))


def _load_command_modules():
    import importlib

    for name in _COMMAND_MODULES:
        mod = importlib.import_module("host_tools." + name)
        for cmd, entry in mod.COMMANDS.items():
            if cmd in COMMANDS:
                raise RuntimeError("command %r defined twice (host_tools/%s.py)" % (cmd, name))
            COMMANDS[cmd] = entry


_load_command_modules()


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
