"""Options and helpers shared by the command modules (cli.py, cmd_*.py)."""
import os

from .errors import ToolError

ENV_PKI = "METERSEAL_PKI"


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


def pki_options(p):
    p.add_argument("--dir", metavar="PKI", help="the PKI folder [env %s]" % ENV_PKI)
    p.add_argument("--passphrase-file", metavar="FILE", help="read the CA passphrase from the "
                   "first line of FILE [else env METERSEAL_CA_PASSPHRASE, else a prompt]")


def pki_dir(args):
    d = args.dir or os.environ.get(ENV_PKI)
    if not d:
        raise ToolError("no PKI folder: give --dir PKI or set %s" % ENV_PKI)
    return d


def open_pki(args):
    from . import pki
    from .pki_keys import read_passphrase

    return pki.open_pki(pki_dir(args), lambda: read_passphrase(args.passphrase_file))


def directory_option(p):
    p.add_argument("--directory", metavar="DIR", help="the certificate directory "
                   "[env METERSEAL_DIRECTORY]")


def open_directory(args):
    from .directory import ENV_DIRECTORY, open_directory as open_dir

    return open_dir(args.directory or os.environ.get(ENV_DIRECTORY))


def confirm(args, word, what):
    """A typed confirmation before an irreversible step (esptool/espefuse style), unless --yes."""
    if getattr(args, "yes", False):
        return
    import sys

    if not sys.stdin.isatty():
        raise ToolError("%s is irreversible: confirm with --yes (no terminal to ask on)" % what)
    answer = input("%s is irreversible. Type %s to go on: " % (what, word))
    if answer.strip() != word:
        raise ToolError("not confirmed; nothing was done")


def command_group(table, common=None, metavar="ACTION"):
    """(build, do) of a command made of sub-actions, from a table {name: (build, do, help)} in
    the shape of cli.COMMANDS; `common(parser)` adds options every sub-action takes."""
    dest = "action_of_%x" % id(table)

    def build(p):
        sub = p.add_subparsers(dest=dest, metavar=metavar)
        sub.required = True
        for name, (build_one, _do, helptext) in table.items():
            sp = sub.add_parser(name, help=helptext, description=helptext)
            if common is not None:
                common(sp)
            build_one(sp)

    def do(args):
        return table[getattr(args, dest)][1](args)

    return build, do
