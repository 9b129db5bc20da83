"""Certificate fixtures for test_x509 (CPython only: uses pyca/cryptography).

build_cases() makes every chain case with `cryptography`'s CertificateBuilder: a case is a chain
(leaf first), the trust anchors, the time, what the leaf must allow, our expected verdict and
which outside verifier judges the same case in tests/interop/test_x509_interop.py. prepare(outdir)
writes them into x509_chains.txt so the MicroPython run sees the same bytes, one certificate a
line so that no line needs more than about 1.2 KB of contiguous heap on a board:

    case name expect now usage role
    c chain_cert_hex        (one line per chain certificate, leaf first)
    a anchor_cert_hex       (one line per trust anchor)

(`-` for no time / no role; usage is a KU_* mask in decimal, 0 for none).
"""
import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

ROLE_OID = "2.25.198461893791906648751128240102168423630"
KU_DIGITAL_SIGNATURE = 0x001
UTC = datetime.timezone.utc
NOW = datetime.datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)
T0 = datetime.datetime(2024, 1, 1, tzinfo=UTC)
T1 = datetime.datetime(2036, 1, 1, tzinfo=UTC)  # past 2049 is GeneralizedTime: see "gentime"

_serial = [1000]


def key(n, curve=ec.SECP256R1):
    # Fixed private keys: the fixture file stays the same bytes from run to run but signatures.
    return ec.derive_private_key(0x5EED0000 + n, curve())


def name(cn):
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "MeterSeal Test"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _utf8_seq(items):
    # SEQUENCE OF UTF8String, written out by hand (not with our der.py, which it checks).
    body = b""
    for s in items:
        b = s.encode()
        body += b"\x0c" + bytes((len(b),)) + b
    assert len(body) < 128
    return b"\x30" + bytes((len(body),)) + body


def cert(cn, k, issuer_cn=None, issuer_key=None, ca=False, path_len=None, bc=True, ku="auto",
         roles=("operator",), extra=(), not_before=T0, not_after=T1, hash_alg=None, ski=True):
    """One certificate. issuer_* default to self-signed; ku="auto" is keyCertSign for a CA and
    digitalSignature for a leaf, None leaves keyUsage out, a set names the bits to assert."""
    issuer_cn = issuer_cn or cn
    issuer_key = issuer_key or k
    _serial[0] += 1
    b = (x509.CertificateBuilder().subject_name(name(cn)).issuer_name(name(issuer_cn))
         .public_key(k.public_key()).serial_number(_serial[0])
         .not_valid_before(not_before).not_valid_after(not_after))
    if bc is not None and bc is not False:
        b = b.add_extension(x509.BasicConstraints(ca=ca, path_length=path_len), critical=True)
    if ku == "auto":
        ku = {"key_cert_sign", "crl_sign"} if ca else {"digital_signature"}
    if ku is not None:
        flags = dict.fromkeys(["digital_signature", "content_commitment", "key_encipherment",
                               "data_encipherment", "key_agreement", "key_cert_sign", "crl_sign",
                               "encipher_only", "decipher_only"], False)
        for f in ku:
            flags[f] = True
        b = b.add_extension(x509.KeyUsage(**flags), critical=True)
    if ski:
        b = b.add_extension(x509.SubjectKeyIdentifier.from_public_key(k.public_key()), critical=False)
        if issuer_key is not k:
            b = b.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                critical=False)
    if roles and not ca:
        b = b.add_extension(x509.UnrecognizedExtension(x509.ObjectIdentifier(ROLE_OID),
                                                       _utf8_seq(roles)), critical=False)
    for oid, critical in extra:
        b = b.add_extension(x509.UnrecognizedExtension(x509.ObjectIdentifier(oid), b"\x05\x00"),
                            critical=critical)
    return b.sign(issuer_key, hash_alg or hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def _flip_sig(der):
    # Change one bit of r inside the outer signature (DER stays valid, the value does not).
    d = bytearray(der)
    d[-10] ^= 0x01
    return bytes(d)


def _flip_tbs(der, old, new):
    i = der.index(old)
    return der[:i] + new + der[i + len(old):]


def build_cases():
    now = int(NOW.timestamp())
    kr, ki, ki2, kl, kx = key(1), key(2), key(3), key(4), key(5)
    root = cert("Root CA", kr, ca=True)
    inter = cert("Inter CA", ki, "Root CA", kr, ca=True)
    leaf = cert("meter-1", kl, "Inter CA", ki)
    leaf_r = cert("meter-1", kl, "Root CA", kr)
    inter2 = cert("Inter2 CA", ki2, "Inter CA", ki, ca=True)
    leaf3 = cert("meter-3", kl, "Inter2 CA", ki2)
    past = datetime.datetime(2025, 1, 1, tzinfo=UTC)
    future = datetime.datetime(2027, 1, 1, tzinfo=UTC)
    other_root = cert("Other Root", kx, ca=True)
    bp = ec.BrainpoolP256R1
    bp_root = cert("BP Root", key(11, bp), ca=True)
    bp_inter = cert("BP Inter", key(12, bp), "BP Root", key(11, bp), ca=True)
    bp_leaf = cert("bp-meter", key(13, bp), "BP Inter", key(12, bp))
    dup = cert("meter-dup", kl, "Inter CA", ki, extra=(("1.2.3.4", False), ("1.2.3.5", False)))
    dup = _flip_tbs(dup, b"\x06\x03\x2a\x03\x05", b"\x06\x03\x2a\x03\x04")

    C, O, N = "cryptography", "openssl", None
    ds = KU_DIGITAL_SIGNATURE
    # (name, chain, anchors, now, usage, role, expect, oracle)
    cases = [
        ("depth1", [leaf_r], [root], now, ds, "operator", "ok", C),
        ("depth2", [leaf, inter], [root], now, ds, "operator", "ok", C),
        ("depth3", [leaf3, inter2, inter], [root], now, ds, "operator", "ok", C),
        ("depth3-with-root", [leaf3, inter2, inter, root], [root], now, ds, None, "ok", C),
        ("two-anchors", [leaf, inter], [other_root, root], now, 0, None, "ok", C),
        ("no-clock-expired", [cert("old", kl, "Inter CA", ki, not_after=past), inter], [root],
         None, 0, None, "ok", N),
        ("expired-leaf", [cert("old", kl, "Inter CA", ki, not_after=past), inter], [root],
         now, 0, None, "expired", C),
        ("expired-inter", [leaf, cert("Inter CA", ki, "Root CA", kr, ca=True, not_after=past)],
         [root], now, 0, None, "expired", C),
        ("expired-anchor", [leaf, inter], [cert("Root CA", kr, ca=True, not_after=past)],
         now, 0, None, "expired", C),
        ("not-yet-valid-leaf", [cert("new", kl, "Inter CA", ki, not_before=future), inter],
         [root], now, 0, None, "not-yet-valid", C),
        ("gentime-2050", [cert("long", kl, "Root CA", kr,
                               not_after=datetime.datetime(2051, 1, 1, tzinfo=UTC))],
         [root], now, 0, None, "ok", C),
        ("wrong-issuer-name", [cert("meter-1", kl, "Other CA", ki), inter], [root], now, 0, None,
         "issuer", C),
        ("wrong-signing-key", [cert("meter-1", kl, "Inter CA", kx), inter], [root], now, 0, None,
         "signature", C),
        ("tampered-signature", [_flip_sig(leaf), inter], [root], now, 0, None, "signature", C),
        ("tampered-tbs", [_flip_tbs(leaf, b"meter-1", b"meter-7"), inter], [root], now, 0, None,
         "signature", C),
        # Its authorityKeyIdentifier names another key: no anchor fits.
        ("anchor-key-id-mismatch", [cert("meter-1", kl, "Root CA", kx)], [root], now, 0, None,
         "untrusted", C),
        ("anchor-bad-signature", [cert("meter-1", kl, "Root CA", kx, ski=False)], [root], now, 0,
         None, "signature", C),
        ("leaf-wrong-usage", [cert("m", kl, "Inter CA", ki, ku={"key_agreement"}), inter], [root],
         now, ds, None, "key-usage", C),
        ("leaf-no-usage", [cert("m", kl, "Inter CA", ki, ku=None), inter], [root], now, ds, None,
         "key-usage", C),
        ("leaf-no-usage-not-required", [cert("m", kl, "Inter CA", ki, ku=None), inter], [root],
         now, 0, None, "ok", C),
        ("issuer-no-certsign", [leaf, cert("Inter CA", ki, "Root CA", kr, ca=True,
                                           ku={"digital_signature"})],
         [root], now, 0, None, "key-usage", C),
        ("issuer-not-ca", [leaf, cert("Inter CA", ki, "Root CA", kr, ca=False, ku={"key_cert_sign"})], [root], now, 0,
         None, "not-ca", C),
        ("issuer-no-basic-constraints", [leaf, cert("Inter CA", ki, "Root CA", kr, bc=None,
                                                    ku={"key_cert_sign"})],
         [root], now, 0, None, "not-ca", C),
        ("path-length-exceeded", [leaf3, inter2, cert("Inter CA", ki, "Root CA", kr, ca=True,
                                                      path_len=0)],
         [root], now, 0, None, "path-length", C),
        ("path-length-ok", [leaf3, inter2, cert("Inter CA", ki, "Root CA", kr, ca=True,
                                                path_len=1)],
         [root], now, 0, None, "ok", C),
        ("path-length-anchor", [leaf, inter], [cert("Root CA", kr, ca=True, path_len=0)], now, 0,
         None, "path-length", C),
        ("role-missing", [cert("m", kl, "Inter CA", ki, roles=()), inter], [root], now, ds,
         "operator", "role", C),
        ("role-other", [cert("m", kl, "Inter CA", ki, roles=("metrological-institute",)), inter],
         [root], now, ds, "operator", "role", C),
        ("role-among-several", [cert("m", kl, "Inter CA", ki,
                                     roles=("metrological-institute", "operator")), inter],
         [root], now, ds, "operator", "ok", C),
        ("unknown-critical-leaf", [cert("m", kl, "Inter CA", ki, extra=(("1.2.3.4", True),)),
                                   inter], [root], now, 0, None, "critical-extension", C),
        ("unknown-critical-inter", [leaf, cert("Inter CA", ki, "Root CA", kr, ca=True,
                                               extra=(("1.2.3.4", True),))],
         [root], now, 0, None, "critical-extension", C),
        ("unknown-noncritical", [cert("m", kl, "Inter CA", ki, extra=(("1.2.3.4", False),)),
                                 inter], [root], now, 0, None, "ok", C),
        ("duplicate-extension", [dup, inter], [root], now, 0, None, "malformed", C),
        ("untrusted-root", [leaf, inter], [other_root], now, 0, None, "untrusted", C),
        ("untrusted-self-signed", [cert("meter-1", kl)], [root], now, 0, None, "untrusted", C),
        ("brainpool-depth2", [bp_leaf, bp_inter], [bp_root], now, 0, None, "ok", O),
        ("brainpool-depth3-with-root", [bp_leaf, bp_inter, bp_root], [bp_root], now, 0, None,
         "ok", O),
        ("brainpool-leaf-under-p256", [cert("bp-meter", key(13, bp), "Inter CA", ki), inter],
         [root], now, ds, "operator", "ok", O),
        ("brainpool-tampered", [_flip_sig(bp_leaf), bp_inter], [bp_root], now, 0, None,
         "signature", O),
        ("brainpool-expired", [cert("bp-meter", key(13, bp), "BP Inter", key(12, bp),
                                    not_after=past), bp_inter], [bp_root], now, 0, None,
         "expired", O),
        # Our profile is narrower than RFC 5280: these verify elsewhere and are refused here.
        ("sha384-signature", [cert("m", kl, "Inter CA", ki, hash_alg=hashes.SHA384()), inter],
         [root], now, 0, None, "unsupported-algorithm", "stricter"),
        ("p384-leaf-key", [cert("m", key(6, ec.SECP384R1), "Inter CA", ki), inter], [root], now,
         0, None, "unsupported-algorithm", "stricter"),
    ]
    return [dict(name=c[0], chain=c[1], anchors=c[2], now=c[3], usage=c[4], role=c[5],
                 expect=c[6], oracle=c[7]) for c in cases]


def prepare(outdir):
    lines = ["# X.509 chain cases made by tests/firmware/prep_x509.py with pyca/cryptography %s"
             % __import__("cryptography").__version__,
             "# case name expect now usage role / c chain_cert_hex / a anchor_cert_hex"]
    for c in build_cases():
        lines.append(" ".join(["case", c["name"], c["expect"],
                               "-" if c["now"] is None else str(c["now"]), str(c["usage"]),
                               c["role"] or "-"]))
        lines += ["c " + d.hex() for d in c["chain"]] + ["a " + d.hex() for d in c["anchors"]]
    with open(outdir + "/x509_chains.txt", "w") as fh:
        fh.write("\n".join(lines) + "\n")
