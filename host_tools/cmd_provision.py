"""`meterseal provision ...`: take a board from factory-new to installed over its console (K1-K6,
S5, U3). Real boards (--port /dev/ttyUSB0) and simulated ones (--port socket://...) alike."""
import binascii

from .errors import ToolError
from .options import (command_group, confirm, connect, directory_option, open_directory,
                      open_pki, pki_options, port_options)
from .report import table


def _progress(text):
    print("  " + text, flush=True)


def build_status(p):
    port_options(p)


def do_status(args):
    with connect(args) as con:
        st = con.request("status")
    rows = [("device", st["device_id"]), ("state", st["state"] + (" (sealed)" if st["sealed"] else "")),
            ("keystore", st["keystore"]), ("trust anchors", ", ".join(st["trust"]) or "none")]
    for name, pub in sorted(st["public_keys"].items()):
        rows.append(("key " + name, binascii.hexlify(bytes(pub)).decode()[:34] + "..."))
    print(table(rows))
    return 0


def build_manufacture(p):
    port_options(p)
    pki_options(p)
    p.add_argument("--flag", required=True, metavar="XYZ", help="the manufacturer's 3-letter "
                   "M-Bus/FLAG code, e.g. MSL")
    p.add_argument("--id", required=True, type=int, metavar="N", help="the device's 8-digit "
                   "identification number (M-Bus ID / serial)")
    p.add_argument("--version", type=int, default=1, help="device version (default 1)")
    p.add_argument("--medium", default="electricity", help="electricity, gas or water")
    p.add_argument("--manufacturer", metavar="NAME", help="manufacturer in the PKI (default: the "
                   "only one)")


def do_manufacture(args):
    from . import provision

    print("manufacture:")
    with open_pki(args) as p, connect(args) as con:
        st = provision.manufacture(con, p, args.flag, args.id, args.manufacturer, args.version,
                                   args.medium, progress=_progress)
    print("%s is %s" % (st["device_id"], st["state"]))
    return 0


def build_calibrate(p):
    port_options(p)
    pki_options(p)
    directory_option(p)
    p.add_argument("--yes", action="store_true", help="seal without asking")


def do_calibrate(args):
    from . import provision

    confirm(args, "SEAL", "Sealing the metrological part")
    print("calibrate:")
    with open_pki(args) as p, connect(args) as con:
        d = open_directory(args) if args.directory or _env_directory() else None
        cert = provision.calibrate(con, p, d, progress=_progress)
    print("sealed; CERT_EM serial %x" % cert.serial_number)
    return 0


def _env_directory():
    import os

    return os.environ.get("METERSEAL_DIRECTORY")


def _parse_keys(pairs):
    keys = {}
    for item in pairs or []:
        name, sep, hx = item.partition("=")
        try:
            key = binascii.unhexlify(hx)
        except (binascii.Error, ValueError):
            key = b""
        if not sep or not name or len(key) not in (16, 24, 32):
            raise ToolError("--key %r: expected NAME=HEX with a 16, 24 or 32-byte key, e.g. "
                            "wmbus=000102...0f" % item)
        keys[name] = key
    return keys


def build_install(p):
    port_options(p)
    pki_options(p)
    directory_option(p)
    p.add_argument("--key", action="append", metavar="NAME=HEX", help="a symmetric key to install "
                   "(K5), wrapped for the board; repeat for several")
    p.add_argument("--primary-address", type=int, metavar="N", help="M-Bus primary address 1-250")
    p.add_argument("--iec-password", metavar="PW", help="the P1 password of the optical port "
                   "(IEC 62056-21 programming mode); sent wrapped like the keys")
    p.add_argument("--manufacturer", metavar="NAME", help="who signs the install command")


def do_install(args):
    from . import provision

    keys = _parse_keys(args.key)
    if args.iec_password:
        keys[provision.IEC_PASSWORD_KEY] = provision.iec_password_secret(args.iec_password)
    print("install:")
    with open_pki(args) as p, connect(args) as con:
        st = provision.install(con, p, open_directory(args), keys, args.primary_address,
                               args.manufacturer, progress=_progress)
    print("%s is %s" % (st["device_id"], st["state"]))
    return 0


def build_erase(p):
    port_options(p)
    pki_options(p)
    p.add_argument("--manufacturer", metavar="NAME", help="who signs the erase command")
    p.add_argument("--yes", action="store_true", help="erase without asking")


def do_erase(args):
    from . import provision

    confirm(args, "ERASE", "Erasing the board's keys and data")
    with connect(args) as con:
        sealed = con.request("status")["sealed"]
        if sealed:
            with open_pki(args) as p:
                st = provision.erase(con, p, args.manufacturer, progress=_progress)
        else:
            st = provision.erase(con, progress=_progress)
    print("board erased: %s" % st["state"])
    return 0


_SUB = {
    "status": (build_status, do_status, "show the board's life-cycle state, keys and anchors"),
    "manufacture": (build_manufacture, do_manufacture, "write identity and manufacturer key"),
    "calibrate": (build_calibrate, do_calibrate, "key pair on the board, CERT_EM, seal"),
    "install": (build_install, do_install, "MSP trust anchor and symmetric keys (signed)"),
    "erase": (build_erase, do_erase, "wipe keys and data back to factory (U3)"),
}


build_provision, do_provision = command_group(_SUB, metavar="STEP")


COMMANDS = {"provision": (build_provision, do_provision,
                          "take a board from factory-new to installed over its console")}
