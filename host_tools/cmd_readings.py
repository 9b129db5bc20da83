"""`meterseal readings pull|verify`: a meter's sealed readings (S1, U1).

  meterseal readings pull --port PORT [-o FILE]
  meterseal readings verify FILE|--port PORT [--directory DIR | --cert CERT_EM --root ROOT]
                            [--crl CRL ...]

verify checks every reading's signatures against CERT_EM and CERT_EM's chain through the
calibration authority to the institute root, prints one row per reading (only values taken from
the signed blocks) and names each reading that fails and why. A reading must have been signed
while CERT_EM was valid and not revoked (chain model, cert_status.py); revocation comes from the
CRLs in the directory and those given with --crl, and the summary says which were consulted.
Exit codes: 0 all verified; 1 a reading failed (or there were none); 2 the tool could not work.
"""
import sys

from .errors import EXIT_CHECK_FAILED, ToolError
from .options import connect, directory_option, port_options
from .report import table


def _pull(args):
    from . import readings as rd

    with connect(args) as con:
        got, info = rd.pull(con, first=getattr(args, "first", None))
    return got, info


def do_pull(args):
    from . import readings as rd

    got, info = _pull(args)
    out = args.output or "readings-%s.sml" % (info.get("device_id") or "meter")
    rd.save(got, out)
    size = sum(len(d) for _, d in got)
    span = "%d..%d" % (got[0][0], got[-1][0]) if got else "none"
    print("%d readings (%s) from %s, %d bytes, written to %s" % (len(got), span,
                                                                info.get("device_id"), size, out))
    if info.get("sealing") != "on":
        print("note: the meter does not seal now (%s)" % info.get("sealing"))
    return 0


def _fmt_wh(v):
    return "-" if v is None else ("%.1f" % v)


def print_rows(rows):
    from . import readings as rd

    out = []
    for r in rows:
        v = r["values"]
        out.append((r["n"] if r["n"] is not None else "?", rd.utc(r["time"]),
                    r["sec"] if r["sec"] is not None else "-",
                    r["pag"] if r["pag"] is not None else "-",
                    _fmt_wh(v.get("1-0:1.8.0*255")), _fmt_wh(v.get("1-0:1.8.1*255")),
                    _fmt_wh(v.get("1-0:1.8.2*255")), _fmt_wh(v.get("1-0:2.8.0*255")),
                    "ok" if r["ok"] else "FAILED: " + str(r["reason"])))
    print(table(out, ("reading", "time (local)", "sec index", "page", "1.8.0 Wh", "1.8.1 Wh",
                      "1.8.2 Wh", "2.8.0 Wh", "seal")))


def do_verify(args):
    from . import readings as rd

    if args.file is not None:
        try:
            with open(args.file, "rb") as f:
                data = f.read()
        except OSError as e:
            raise ToolError("cannot read %s: %s" % (args.file, e))
    else:
        got, _ = _pull(args)
        data = b"".join(d for _, d in got)
    directory = None
    if args.directory or (args.cert is None and args.root is None):
        from .options import open_directory

        directory = open_directory(args)
    key_for = rd.key_source(directory=directory, cert=args.cert, root=args.root,
                            intermediates=args.intermediate or (), crls=args.crl or ())
    rows = rd.verify_data(data, key_for)
    if not rows:
        print("no readings", file=sys.stderr)
        return EXIT_CHECK_FAILED
    print_rows(rows)
    bad = [r for r in rows if not r["ok"]]
    devices = sorted(set(r["device"] for r in rows if r["device"]))
    print()
    for r in rows:
        if r.get("missing_before"):
            print("note: %d reading%s missing before reading %s (the signed pagination jumps)"
                  % (r["missing_before"], "" if r["missing_before"] == 1 else "s", r["n"]))
    if bad:
        for r in bad:
            print("reading %s: %s" % (r["n"] if r["n"] is not None else "?", r["reason"]),
                  file=sys.stderr)
        print("%d of %d readings FAILED" % (len(bad), len(rows)))
        return EXIT_CHECK_FAILED
    print("%d readings of %s verified: CERT_EM -> calibration authority -> institute root, "
          "each signed while CERT_EM was valid" % (len(rows), ", ".join(devices)))
    print_revocation(key_for, rows)
    return 0


def print_revocation(key_for, rows):
    unchecked, used = set(), set()
    for mc in key_for.used.values():
        unchecked.update(mc.status.unchecked())
        used.update(s for s in mc.status.sources if s and s != "root")
    if used:
        print("revocation checked against " + "; ".join(sorted(used)))
    if unchecked:
        print("revocation NOT checked for %s: no CRL of their issuer (publish one with "
              "`meterseal dir publish CRL`, or give --crl)" % "; ".join(sorted(unchecked)))
    late = sum(1 for r in rows if r["ok"] and r.get("after_crl"))
    if late:
        print("%d reading%s signed after (or within 18 h of) the newest CRL's thisUpdate: a "
              "later CRL must say whether CERT_EM was revoked by then"
              % (late, " was" if late == 1 else "s were"))


def build_readings(p):
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    pl = sub.add_parser("pull", help="save a meter's sealed readings as they came",
                        description="Fetch every sealed reading the meter keeps and write them, "
                        "byte for byte, one SML file after the other (docs/meter.md).")
    port_options(pl)
    pl.add_argument("-o", "--output", metavar="FILE", help="where to write (default "
                    "readings-DEVICE.sml)")
    pl.add_argument("--first", type=int, help="start at this reading number")
    pl.set_defaults(func=do_pull)
    v = sub.add_parser("verify", help="check sealed readings against CERT_EM and its chain",
                       description="Verify every sealed reading of FILE (or pulled over --port) "
                       "against the meter's CERT_EM and its chain to the institute root; print "
                       "them as a table; exit 1 if any fails.")
    v.add_argument("file", nargs="?", metavar="FILE", help="a readings file from `pull`")
    port_options(v)
    directory_option(v)
    v.add_argument("--cert", metavar="CERT_EM", help="CERT_EM (PEM or DER; a PEM may hold the "
                   "calibration certificate after it)")
    v.add_argument("--intermediate", action="append", metavar="CERT",
                   help="the calibration authority's certificate, if not in --cert")
    v.add_argument("--root", metavar="ROOT", help="the institute root certificate")
    v.add_argument("--crl", action="append", metavar="CRL", help="an authority's CRL (PEM or "
                   "DER; repeatable), on top of those in the directory")
    v.set_defaults(func=do_verify)


def do_readings(args):
    return args.func(args)


COMMANDS = {
    "readings": (build_readings, do_readings, "pull and verify a meter's sealed readings"),
}
