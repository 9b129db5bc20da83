"""`meterseal ca ...`: the certification authorities of Fig. 2 (K1-K4), over host_tools.pki."""
import os
import sys

from .errors import ToolError
from .options import ENV_PKI, command_group, open_pki, pki_dir, pki_options
from .pki_keys import read_passphrase
from .pki_profile import KINDS, METROLOGICAL_ROLES, OPERATOR_ROLES, REASONS
from .report import table

ENV_KEY_PASSPHRASE = "METERSEAL_KEY_PASSPHRASE"
_ISSUER_HELP = "calibration, institute, ca, sm or manufacturer:NAME"


def _read_public_key(path):
    """Bytes for pki.public_key_from: PEM or DER SubjectPublicKeyInfo, a raw SEC1 point, or the
    SEC1 point as hex text."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ToolError("cannot read public key %s: %s" % (path, e.strerror)) from e
    text = data.strip()
    if text and not text.startswith(b"-----") and all(c in b"0123456789abcdefABCDEF" for c in text):
        return bytes.fromhex(text.decode())
    return data


def _key_passphrase(args):
    def ask():
        return read_passphrase(args.key_passphrase_file, confirm=True,
                               what="passphrase for the new key", env=ENV_KEY_PASSPHRASE)
    return ask


def _summary(p, cert, extra=()):
    from .pki import fingerprint, serial_hex

    rows = [("serial", serial_hex(cert.serial_number)), ("subject", cert.subject.rfc4514_string()),
            ("issuer", cert.issuer.rfc4514_string()),
            ("valid", "%s .. %s" % (cert.not_valid_before_utc.date(),
                                    cert.not_valid_after_utc.date())),
            ("sha256", fingerprint(cert))]
    print(table(list(rows) + list(extra)))


def _write_out(cert, out, as_der=False):
    from .pki import to_der, to_pem
    from .pki_keys import write_file

    write_file(out, to_der(cert) if as_der else to_pem(cert))
    print("wrote %s" % out)


# --- subcommands --------------------------------------------------------------------------------

def build_init(p):
    p.add_argument("--curve", choices=("p256", "brainpoolP256r1"), default="p256")
    p.add_argument("--manufacturer", action="append", metavar="NAME",
                   help="a manufacturer to certify (CERT_MFC); repeat for several "
                   "(default: MeterSeal Devices)")
    p.add_argument("--msp", metavar="NAME", help="the metering service provider (CERT_SM)")
    p.add_argument("--institute", metavar="NAME", help="the metrological institute's name")
    p.add_argument("--trust-center", metavar="NAME", help="the CA's (trusted third party) name")


def do_init(args):
    from . import pki

    d = pki_dir(args)
    pw = read_passphrase(args.passphrase_file, confirm=True)
    kw = {k: v for k, v in (("msp", args.msp), ("institute", args.institute),
                            ("trust_center", args.trust_center)) if v}
    p = pki.init_pki(d, pw, curve=args.curve,
                     manufacturers=args.manufacturer or (pki.DEFAULT_MANUFACTURER,), **kw)
    with p:
        rows = []
        for aid in p.authorities():
            c = p.certificate(aid)
            rows.append((aid, c.subject.rfc4514_string(), c.not_valid_after_utc.date()))
        print("PKI created in %s (%s)" % (d, args.curve))
        print(table(rows, ("authority", "subject", "valid until")))
    return 0


def build_add_manufacturer(p):
    p.add_argument("name", help="the manufacturer's name, e.g. 'ACME Meters GmbH'")


def do_add_manufacturer(args):
    from . import pki

    with open_pki(args) as p:
        _summary(p, pki.add_manufacturer(p, args.name))
    return 0


def build_list(p):
    p.add_argument("--kind", choices=sorted(KINDS), help="only this kind of certificate")
    p.add_argument("--status", choices=("valid", "revoked", "expired"))
    p.add_argument("--issuer", metavar="AUTHORITY", help="only those issued by " + _ISSUER_HELP)


def do_list(args):
    with open_pki(args) as p:
        issuer = p.authority_id(args.issuer) if args.issuer else None
        rows = p.index.rows(kind=args.kind, status=args.status, issuer=issuer)
        print(table([(r["serial"], r["kind"], r["identity"], r["issuer"], r["not_after"][:10],
                      r["status"] + (" (%s)" % r["reason"] if r["reason"] else ""))
                     for r in rows],
                    ("serial", "kind", "identity", "issuer", "not after", "status")))
        print("%d certificate%s" % (len(rows), "" if len(rows) == 1 else "s"))
    return 0


def _lookup(p, what):
    from . import pki

    if what in p.authorities() or what.startswith("manufacturer:"):
        c = p.certificate(what)
        return c, p.index.find("%x" % c.serial_number)
    row = pki.find(p, what)
    return pki.load_issued(p, row), row


def build_show(p):
    p.add_argument("what", metavar="SERIAL|FINGERPRINT|AUTHORITY",
                   help="serial (hex), SHA-256 fingerprint or a prefix of 8+ digits, or an "
                   "authority id (" + _ISSUER_HELP + ", software)")
    p.add_argument("--pem", action="store_true", help="also print the certificate as PEM")


def do_show(args):
    from .pki import to_pem

    with open_pki(args) as p:
        cert, row = _lookup(p, args.what)
        extra = [("kind", row["kind"]), ("identity", row["identity"]),
                 ("issued by", row["issuer"]), ("status", row["status"])]
        if row["roles"]:
            extra.append(("roles", row["roles"].replace(",", ", ")))
        if row["revoked_at"]:
            extra.append(("revoked", "%s (%s)" % (row["revoked_at"], row["reason"])))
        _summary(p, cert, extra)
        if args.pem:
            sys.stdout.write(to_pem(cert).decode())
    return 0


def build_export(p):
    p.add_argument("what", metavar="SERIAL|FINGERPRINT|AUTHORITY")
    p.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    p.add_argument("--chain", action="store_true", help="the certificate and its issuers up to "
                   "the root (PEM)")
    p.add_argument("--der", action="store_true", help="DER instead of PEM (one certificate)")


def do_export(args):
    from . import pki
    from .pki_keys import write_file

    if args.der and args.chain:
        raise ToolError("--der writes one certificate; --chain needs PEM")
    if args.der and not args.output:
        raise ToolError("--der needs -o FILE")
    with open_pki(args) as p:
        cert, _ = _lookup(p, args.what)
        certs = pki.chain(p, cert) if args.chain else [cert]
        data = pki.to_der(cert) if args.der else b"".join(pki.to_pem(c) for c in certs)
    if args.output:
        write_file(args.output, data)
        print("wrote %s" % args.output)
    else:
        sys.stdout.write(data.decode())
    return 0


def build_revoke(p):
    p.add_argument("what", metavar="SERIAL|FINGERPRINT")
    p.add_argument("--reason", choices=sorted(REASONS), default="unspecified")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")


def do_revoke(args):
    from . import pki

    with open_pki(args) as p:
        row = pki.find(p, args.what)
        if row["status"] == "revoked":
            raise ToolError("certificate %s is already revoked (%s)" % (row["serial"],
                                                                       row["revoked_at"]))
        if not args.yes:
            print("Revoking %s %s\n  serial %s, issued by %s\nThis cannot be undone. Type REVOKE "
                  "to confirm: " % (row["kind"], row["subject"], row["serial"], row["issuer"]),
                  end="", flush=True)
            try:
                answer = input()
            except EOFError:
                print()
                answer = ""
            if answer.strip() != "REVOKE":
                raise ToolError("not confirmed; nothing revoked (pass --yes to skip the question)")
        row = pki.revoke(p, row["serial"], args.reason)
        print("revoked %s (%s) at %s; publish it with: meterseal ca crl --issuer %s"
              % (row["serial"], row["reason"], row["revoked_at"], row["issuer"]))
    return 0


def build_crl(p):
    p.add_argument("--issuer", required=True, metavar="AUTHORITY", help=_ISSUER_HELP)
    p.add_argument("-o", "--output", metavar="FILE", help="also write the CRL here")
    p.add_argument("--pem", action="store_true", help="write -o FILE as PEM (default DER)")
    p.add_argument("--days", type=int, default=30, help="nextUpdate in days (default 30)")


def do_crl(args):
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.x509 import CRLNumber

    from . import pki
    from .pki_keys import write_file

    if args.days < 1:
        raise ToolError("--days must be at least 1")
    with open_pki(args) as p:
        crl, path = pki.make_crl(p, args.issuer, days=args.days)
    number = crl.extensions.get_extension_for_class(CRLNumber).value.crl_number
    print("CRL number %d of %s: %d revoked; wrote %s (and .pem)"
          % (number, args.issuer, len(crl), path))
    if args.output:
        write_file(args.output, crl.public_bytes(Encoding.PEM if args.pem else Encoding.DER))
        print("wrote %s" % args.output)
    return 0


def _pubkey_option(p, required=False):
    p.add_argument("--public-key", metavar="FILE", required=required,
                   help="the holder's public key: PEM/DER SubjectPublicKeyInfo, raw SEC1 point, "
                   "or the point in hex")
    p.add_argument("-o", "--output", metavar="FILE", help="write the certificate (PEM) here")


def build_issue_em(p):
    p.add_argument("identity", help="the meter's metering identity, e.g. 1MSL0012345678")
    p.add_argument("--manufacturer", metavar="NAME", help="the meter's maker (subject O=)")
    _pubkey_option(p, required=True)


def do_issue_em(args):
    from . import pki

    with open_pki(args) as p:
        cert = pki.issue_em(p, _read_public_key(args.public_key), args.identity,
                            manufacturer=args.manufacturer)
        _summary(p, cert)
    if args.output:
        _write_out(cert, args.output)
    return 0


def build_issue_device(p):
    p.add_argument("identity", help="the device's metering identity")
    p.add_argument("--kind", choices=("muc", "cn"), required=True)
    p.add_argument("--manufacturer", metavar="NAME", default="manufacturer",
                   help="the issuing manufacturer (needed when the PKI has several)")
    _pubkey_option(p, required=True)


def do_issue_device(args):
    from . import pki

    with open_pki(args) as p:
        cert = pki.issue_device(p, args.manufacturer, args.kind,
                                _read_public_key(args.public_key), args.identity)
        _summary(p, cert)
    if args.output:
        _write_out(cert, args.output)
    return 0


def _holder_options(p):
    _pubkey_option(p)
    p.add_argument("--key-passphrase-file", metavar="FILE", help="without --public-key: the "
                   "passphrase for the generated key [else env %s, else a prompt]"
                   % ENV_KEY_PASSPHRASE)


def _role_holder(kind, issue, roles):
    """issue-operator (CERT_OPi by the MSP's SM) and issue-mo (CERT_MO by the calibration
    authority) differ only in issuer, kind and the roles it may grant."""

    def build(p):
        p.add_argument("name", help="the holder's name (subject CN)")
        p.add_argument("--role", action="append", required=True, choices=roles,
                       help="a role the certificate grants; repeat for several")
        _holder_options(p)

    def do(args):
        from . import pki

        with open_pki(args) as p:
            pub = _read_public_key(args.public_key) if args.public_key else None
            cert = getattr(pki, issue)(p, args.name, args.role, pub,
                                       key_passphrase=None if pub else _key_passphrase(args))
            extra = [] if pub else [("key", str(pki.holder_key_path(p, kind, args.name)))]
            _summary(p, cert, extra)
        if args.output:
            _write_out(cert, args.output)
        return 0

    return build, do


build_issue_operator, do_issue_operator = _role_holder("op", "issue_operator", OPERATOR_ROLES)
build_issue_mo, do_issue_mo = _role_holder("mo", "issue_metrological_operator",
                                           METROLOGICAL_ROLES)


def build_issue_dcs(p):
    p.add_argument("name", help="the data collection service's name (subject CN)")
    p.add_argument("--org", help="its organisation (subject O=; default the name)")
    _holder_options(p)


def do_issue_dcs(args):
    from . import pki

    with open_pki(args) as p:
        pub = _read_public_key(args.public_key) if args.public_key else None
        cert = pki.issue_dcs(p, args.name, pub, organization=args.org,
                             key_passphrase=None if pub else _key_passphrase(args))
        extra = [] if pub else [("key", str(pki.holder_key_path(p, "dcs", args.name)))]
        _summary(p, cert, extra)
    if args.output:
        _write_out(cert, args.output)
    return 0


SUBCOMMANDS = {
    "init": (build_init, do_init, "create the whole hierarchy of Fig. 2 in a new folder"),
    "add-manufacturer": (build_add_manufacturer, do_add_manufacturer,
                         "certify one more manufacturer (CERT_MFC)"),
    "list": (build_list, do_list, "list every certificate issued"),
    "show": (build_show, do_show, "show one certificate"),
    "export": (build_export, do_export, "write a certificate or its chain"),
    "revoke": (build_revoke, do_revoke, "revoke a certificate (irreversible)"),
    "crl": (build_crl, do_crl, "sign and write the next CRL of an authority"),
    "issue-em": (build_issue_em, do_issue_em, "CERT_EM for a meter's public key"),
    "issue-device": (build_issue_device, do_issue_device, "CERT_MUC or CERT_CN for a device"),
    "issue-operator": (build_issue_operator, do_issue_operator,
                       "CERT_OPi with role-oriented rights for an operator"),
    "issue-dcs": (build_issue_dcs, do_issue_dcs, "CERT_DCS for a data collection service"),
    "issue-mo": (build_issue_mo, do_issue_mo,
                 "CERT_MO: a signer of metrological commands, by the calibration authority"),
}


build_ca, do_ca = command_group(SUBCOMMANDS, common=pki_options)


COMMANDS = {
    "ca": (build_ca, do_ca, "certification authorities: init, issue, list, revoke, CRL"),
}
