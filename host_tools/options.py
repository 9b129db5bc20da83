"""Options and helpers shared by the command modules (cli.py, cmd_*.py)."""
from .errors import ToolError


def port_options(p):
    g = p.add_argument_group("connection")
    g.add_argument("-p", "--port", help="serial port or pyserial URL: /dev/ttyUSB0, "
                   "socket://127.0.0.1:PORT (simulated board), spy://... [env METERSEAL_PORT]")
    g.add_argument("-b", "--baud", type=int, help="baud rate of the console (default 115200) "
                   "[env METERSEAL_BAUD]")
    g.add_argument("--timeout", type=float, help="seconds to wait for each answer (default 2)")


def connect(args):
    from .console import BoardConsole

    settings = args.settings
    port = args.port or settings["port"]
    if not port:
        raise ToolError("no port: give --port (e.g. /dev/ttyUSB0 or socket://127.0.0.1:PORT), "
                        "set METERSEAL_PORT, or put port = ... in meterseal.toml")
    return BoardConsole(port, baud=args.baud or settings["baud"],
                        timeout=args.timeout or settings["timeout"])
