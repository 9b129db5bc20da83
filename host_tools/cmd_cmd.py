"""`meterseal cmd send COMMAND [--arg k=v ...] --as NAME --port ...`: one signed command to a
meter, signed by an operator or authority of the PKI, and its signed answer checked against the
meter's CERT_EM (S2, S4, D2, U2). Commands and who may send them: docs/access-control.md.
`meterseal cmd crl CRL|--issuer AUTHORITY --as sm --port ...` delivers a CRL (update_crl)."""
import binascii
import json

from .errors import ToolError
from .options import (command_group, connect, directory_option, open_directory, open_pki,
                      pki_options, port_options)


def signer_options(p):
    p.add_argument("--as", dest="signer", required=True, metavar="NAME",
                   help="who signs: an operator's name (CERT_OP, CERT_DCS or CERT_MO holder), "
                   "or an authority: sm, manufacturer[:NAME]")
    p.add_argument("--key-passphrase-file", metavar="FILE", help="the signer's key passphrase "
                   "(first line) [else env METERSEAL_KEY_PASSPHRASE, else a prompt]")
    pki_options(p)
    directory_option(p)
    port_options(p)


def open_session(args, con, p):
    from .commands import Operator, Session, key_passphrase_from

    op = Operator(p, args.signer, key_passphrase_from(args.key_passphrase_file))
    return Session(con, p, op, open_directory(args))


def parse_arg(item):
    """k=v: v as JSON when it parses (numbers, lists, maps, true), hex:... as bytes, else text."""
    key, sep, text = item.partition("=")
    if not sep or not key:
        raise ToolError("--arg %r: expected NAME=VALUE" % item)
    if text.startswith("hex:"):
        try:
            return key, binascii.unhexlify(text[4:])
        except (binascii.Error, ValueError):
            raise ToolError("--arg %s: not hex after 'hex:'" % key) from None
    try:
        return key, json.loads(text)
    except ValueError:
        return key, text


def _plain(v):
    if isinstance(v, (bytes, bytearray)):
        return binascii.hexlify(bytes(v)).decode()
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


def build_send(p):
    p.add_argument("name", metavar="COMMAND", help="read_registers, read_profile, read_logbook, reset_logbook, "
                   "set_time, set_parameter, read_access_table, set_access_entry, install, erase")
    p.add_argument("--arg", action="append", metavar="NAME=VALUE", help="a command argument; "
                   "VALUE is JSON (5, [1,2], \"text\") or hex:0102..; repeat for several")
    signer_options(p)


def do_send(args):
    cargs = dict(parse_arg(a) for a in args.arg or ())
    with open_pki(args) as p, connect(args) as con:
        s = open_session(args, con, p)
        data = s.send(args.name, cargs)
    print(json.dumps(_plain(data), indent=2, sort_keys=True))
    print("answer verified: signed by %s's CERT_EM, bound to this command" % s.device_id
          if "state" not in data else "done")
    return 0


def build_crl(p):
    p.add_argument("file", nargs="?", metavar="CRL", help="the CRL to deliver (PEM or DER)")
    p.add_argument("--issuer", metavar="AUTHORITY", help="instead of CRL: the newest CRL that "
                   "`meterseal ca crl --issuer AUTHORITY` wrote into the PKI folder")
    signer_options(p)


def do_crl(args):
    from cryptography.hazmat.primitives.serialization import Encoding

    from .cert_status import crl_number
    from .pki_files import load_crl

    from .pki import crl_path

    if bool(args.file) == bool(args.issuer):
        raise ToolError("give a CRL file or --issuer, not both nor neither")
    with open_pki(args) as p:
        if args.issuer:
            path = crl_path(p, args.issuer)
            if not path.exists():
                raise ToolError("no CRL of %s yet: make one with meterseal ca crl --issuer %s"
                                % (args.issuer, args.issuer))
            crl = load_crl(str(path))
        else:
            crl = load_crl(args.file)
        with connect(args) as con:
            s = open_session(args, con, p)
            data = s.send("update_crl", {"crl": crl.public_bytes(Encoding.DER)})
    print("%s applies CRL %d of %s: %d certificate%s revoked (answer signed by its CERT_EM)"
          % (s.device_id, crl_number(crl), data["issuer"], data["revoked"],
             "" if data["revoked"] == 1 else "s"))
    return 0


_SUB = {"send": (build_send, do_send, "send one signed command, check the signed answer"),
        "crl": (build_crl, do_crl, "deliver an authority's CRL: its revoked holders can no "
                "longer command the meter")}


build_cmd, do_cmd = command_group(_SUB)


COMMANDS = {"cmd": (build_cmd, do_cmd, "signed commands to a meter under its access control")}
