"""`meterseal dir ...`: publish, fetch and list certificates in the directory (K6)."""
import os
import sys

from .errors import ToolError
from .options import command_group, directory_option
from .report import table

_KEY_HELP = "an identity (e.g. 1MSL0012345678), a subject or its CN, or a fingerprint prefix"


def _location(args):
    from .directory import ENV_DIRECTORY

    return args.directory or os.environ.get(ENV_DIRECTORY)


def build_publish(p):
    p.add_argument("files", nargs="*", metavar="FILE", help="certificates to publish (PEM, "
                   "several per file allowed, or DER), or an authority's CRL")
    p.add_argument("--from-ca", action="store_true", help="publish every valid certificate and "
                   "the CRLs of the PKI given by --ca")
    p.add_argument("--ca", metavar="PKI", help="the PKI folder for --from-ca [env METERSEAL_PKI]")
    p.add_argument("--kind", help="the kind of FILE's certificates (default: from their subject)")
    p.add_argument("--identity", help="the holder's identity (default: from the subject)")


def do_publish(args):
    from .directory import open_directory

    if bool(args.files) == bool(args.from_ca):
        raise ToolError("give certificate FILEs or --from-ca, not both nor neither")
    d = open_directory(_location(args))
    if args.from_ca:
        from .cmd_ca import ENV_PKI
        from .pki import open_pki

        ca = args.ca or os.environ.get(ENV_PKI)
        if not ca:
            raise ToolError("--from-ca needs --ca PKI or %s" % ENV_PKI)
        before = len(d.list())
        with open_pki(ca) as p:
            entries = d.publish_pki(p)
        print("%d certificates of %s in the directory (%d new)"
              % (len(entries), ca, len(d.list()) - before))
        return 0
    from .pki_files import crl_in, load_certs, read

    for path in args.files:
        data = read(path)
        crl = crl_in(path, data)
        if crl is not None:
            from .cert_status import crl_number

            stored = d.publish_crl(crl)
            print("%s CRL %d of %s" % ("published" if stored else "already there:",
                                       crl_number(crl), crl.issuer.rfc4514_string()))
            continue
        for cert in load_certs(path, data):
            e = d.publish(cert, args.kind, args.identity)
            print("published %s as %s" % (e["subject"], e["name"]))
    return 0


def build_fetch(p):
    p.add_argument("key", metavar="IDENTITY", help=_KEY_HELP)
    p.add_argument("--kind", help="the kind, when the key names several (em, muc, op, ...)")
    p.add_argument("--chain", action="store_true", help="with its issuers up to the root")
    p.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    p.add_argument("--der", action="store_true", help="DER (one certificate; needs -o)")


def do_fetch(args):
    from cryptography.hazmat.primitives.serialization import Encoding

    from .directory import open_directory
    from .pki_keys import write_file

    if args.der and (args.chain or not args.output):
        raise ToolError("--der writes one certificate to -o FILE (not with --chain)")
    d = open_directory(_location(args))
    certs = d.fetch_chain(args.key, args.kind) if args.chain else [d.fetch(args.key, args.kind)]
    data = (certs[0].public_bytes(Encoding.DER) if args.der
            else b"".join(c.public_bytes(Encoding.PEM) for c in certs))
    if args.output:
        write_file(args.output, data)
        print("wrote %d certificate%s to %s" % (len(certs), "" if len(certs) == 1 else "s",
                                                args.output))
    else:
        sys.stdout.write(data.decode())
    return 0


def build_list(p):
    p.add_argument("--kind", help="only this kind")


def do_list(args):
    from .directory import open_directory

    d = open_directory(_location(args))
    rows = d.list(args.kind)
    print(table([(e["kind"], e["identity"], e["not_after"][:10], e["fingerprint"][:16], e["name"])
                 for e in rows], ("kind", "identity", "not after", "sha256", "file")))
    print("%d certificate%s" % (len(rows), "" if len(rows) == 1 else "s"))
    if args.kind is None:
        from .cert_status import crl_number

        crls = d.crls()
        if crls:
            print()
            print(table([(c.issuer.rfc4514_string(), crl_number(c), len(c),
                          c.next_update_utc.strftime("%Y-%m-%d") if c.next_update_utc else "-")
                         for c in crls], ("CRL of", "number", "revoked", "next update")))
    return 0


SUBCOMMANDS = {
    "publish": (build_publish, do_publish, "publish certificates (files, or a whole PKI)"),
    "fetch": (build_fetch, do_fetch, "fetch a certificate, or its chain"),
    "list": (build_list, do_list, "list the directory"),
}


build_dir, do_dir = command_group(SUBCOMMANDS, common=directory_option)


COMMANDS = {
    "publish": (build_publish, do_publish, "publish certificates (files, or a whole PKI)"),
    "fetch": (build_fetch, do_fetch, "fetch a certificate, or its chain"),
    "list": (build_list, do_list, "list the directory"),
}


def build_dir(p):
    sub = p.add_subparsers(dest="dir_command", metavar="ACTION")
    sub.required = True
    for name, (build, _do, helptext) in SUBCOMMANDS.items():
        sp = sub.add_parser(name, help=helptext, description=helptext)
        sp.add_argument("--directory", metavar="DIR", help="the directory folder "
                        "[env METERSEAL_DIRECTORY]")
        build(sp)


def do_dir(args):
    return SUBCOMMANDS[args.dir_command][1](args)


COMMANDS = {
    "dir": (build_dir, do_dir, "the certificate directory: publish, fetch, list"),
}
