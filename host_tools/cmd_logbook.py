"""`meterseal logbook read|verify|reset`: the metrological logbook of a meter (D3, S1), read with
signed commands of the institute's role, checked entry by entry against CERT_EM, printed as a
table, archived, and reset once the institute holds a verified copy."""
from .cmd_cmd import open_session, signer_options
from .errors import ToolError
from .options import command_group, confirm, connect, open_pki
from .report import table


def _read(args, p, con):
    from . import logbook
    from .commands import _der

    s = open_session(args, con, p)
    entries, head = logbook.read_all(s)
    payloads = logbook.check(entries, head, s.em_key(), s.device_id)
    if getattr(args, "out", None):
        cert = s._directory.fetch(s.device_id, kind="em")
        logbook.save(args.out, s.device_id, _der(cert), entries, head)
    return s, entries, head, payloads


def _print(device_id, head, payloads):
    from . import logbook

    print("logbook of %s: %d of %d entries, newest %d%s" % (
        device_id, head["count"], head["capacity"], head["seq"],
        ", FULL" if head["full"] else ""))
    if head.get("lost"):
        print("%d refused attempts could not be recorded (full)" % head["lost"])
    if payloads:
        print(table(logbook.rows(payloads), logbook.HEADERS))


def build_read(p):
    p.add_argument("--out", metavar="FILE", help="also archive the log (CBOR, verifiable later)")
    signer_options(p)


def do_read(args):
    with open_pki(args) as p, connect(args) as con:
        s, _entries, head, payloads = _read(args, p, con)
    _print(s.device_id, head, payloads)
    return 0


def build_verify(p):
    p.add_argument("file", nargs="?", help="an archive written by read --out (default: read "
                   "the meter at --port)")
    p.add_argument("--previous", metavar="FILE", help="the archive of the log before, to check "
                   "the reset entry that starts this one")
    p.add_argument("--as", dest="signer", metavar="NAME", help="who signs the read commands")
    p.add_argument("--key-passphrase-file", metavar="FILE")
    from .options import directory_option, pki_options, port_options

    pki_options(p)
    directory_option(p)
    port_options(p)


def do_verify(args):
    from . import logbook

    previous = logbook.last_hash(logbook.load(args.previous)["entries"]) if args.previous else None
    if args.file:
        from cryptography import x509 as cx509

        from .commands import meter_key

        a = logbook.load(args.file)

        class _Dir:  # the archive carries its CERT_EM; the PKI still judges it
            def fetch(self, _device, kind=None):
                return cx509.load_der_x509_certificate(bytes(a["cert_em"]))

        with open_pki(args) as p:
            key = meter_key(p, _Dir(), a["device"])
        payloads = logbook.check([bytes(e) for e in a["entries"]], a["head"], key, a["device"],
                                 previous)
        device, head = a["device"], a["head"]
    else:
        if not args.signer:
            raise ToolError("reading a meter needs --as NAME (a signer of the institute's role)")
        with open_pki(args) as p, connect(args) as con:
            s = open_session(args, con, p)
            entries, head = logbook.read_all(s)
            payloads = logbook.check(entries, head, s.em_key(), s.device_id, previous)
        device = s.device_id
    print("logbook of %s verifies: %d entries, signatures, sequence and chain intact, newest "
          "entry %d is the meter's head" % (device, len(payloads), head["seq"]))
    return 0


def build_reset(p):
    p.add_argument("--out", metavar="FILE", required=True, help="archive of the log being "
                   "reset (written and verified before the reset)")
    p.add_argument("--yes", action="store_true", help="reset without asking")
    signer_options(p)


def do_reset(args):
    confirm(args, "RESET", "Resetting the metrological logbook")
    from . import logbook

    with open_pki(args) as p, connect(args) as con:
        s, entries, head, _ = _read(args, p, con)  # checked and archived first
        out = s.send("reset_logbook", {"head": logbook.last_hash(entries) or bytes(32)})
    print("archived %d entries of %s in %s; the new log starts with the reset, entry %d"
          % (len(entries), s.device_id, args.out, out["head"]["seq"]))
    return 0


_SUB = {
    "read": (build_read, do_read, "read and check the meter's logbook, print it as a table"),
    "verify": (build_verify, do_verify, "check a logbook (meter or archive): signatures, chain"),
    "reset": (build_reset, do_reset, "archive the verified log, then start a new one"),
}


build_logbook, do_logbook = command_group(_SUB)


COMMANDS = {"logbook": (build_logbook, do_logbook,
                        "the metrological logbook: read, verify, reset (institute role)")}
