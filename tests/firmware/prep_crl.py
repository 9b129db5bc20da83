"""CRL fixtures for test_x509_crl (CPython only: made with pyca/cryptography's CRL builder, so our
parser reads another implementation's encoding). prepare(outdir) writes crls.txt, one DER object
a line as hex:

    cert NAME hex     certificates: CA "sm" (keyCertSign, cRLSign), "nosign" (a CA without
                      cRLSign), "twin" (same name as sm, another key), leaves "op1", "op2";
                      "root" and the CA "sm2" it issued, with "op3" under sm2
    crl NAME hex      CRLs, named after what they are for ("raw_*": assembled by hand here, for
                      encodings the builder will not write)
"""
import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

UTC = datetime.timezone.utc
T0 = datetime.datetime(2026, 1, 1, tzinfo=UTC)
NAMES = {"sm": "MSP Security Management", "twin": "MSP Security Management",
         "nosign": "No CRL Signer"}


def _key(n):
    return ec.derive_private_key(0xC41000 + n, ec.SECP256R1())


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "MeterSeal Test"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _ca(cn, k, crl_sign=True, issuer=None, issuer_key=None):
    ku = dict.fromkeys(["digital_signature", "content_commitment", "key_encipherment",
                        "data_encipherment", "key_agreement", "encipher_only", "decipher_only"],
                       False)
    return (x509.CertificateBuilder().subject_name(_name(cn))
            .issuer_name(issuer.subject if issuer else _name(cn))
            .public_key(k.public_key()).serial_number(7 + len(cn))
            .not_valid_before(T0).not_valid_after(T0 + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(key_cert_sign=True, crl_sign=crl_sign, **ku),
                           critical=True)
            .sign(issuer_key or k, hashes.SHA256()))


def _tlv(tag, body):
    n = len(body)
    head = bytes((n,)) if n < 128 else bytes((0x81, n)) if n < 256 else bytes((0x82, n >> 8, n & 255))
    return bytes((tag,)) + head + body


def _raw_crl(issuer, k, times, revoked_seq):
    # tbsCertList by hand: v2, ecdsa-with-SHA256, issuer, the times given, revokedCertificates
    # as given (bytes, may be an empty SEQUENCE), CRLNumber 1; signed with k.
    alg = _tlv(0x30, _tlv(0x06, bytes.fromhex("2a8648ce3d040302")))
    number = _tlv(0x30, _tlv(0x06, bytes.fromhex("551d14")) + _tlv(0x04, _tlv(0x02, b"\x01")))
    tbs = _tlv(0x30, _tlv(0x02, b"\x01") + alg + issuer.subject.public_bytes()
               + b"".join(_tlv(0x17, t.encode()) for t in times) + revoked_seq
               + _tlv(0xA0, _tlv(0x30, number)))
    sig = k.sign(tbs, ec.ECDSA(hashes.SHA256()))
    return _tlv(0x30, tbs + alg + _tlv(0x03, b"\x00" + sig))


def _leaf(cn, serial, issuer, issuer_key):
    ku = dict.fromkeys(["content_commitment", "key_encipherment", "data_encipherment",
                        "key_agreement", "key_cert_sign", "crl_sign", "encipher_only",
                        "decipher_only"], False)
    return (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(issuer.subject)
            .public_key(_key(serial).public_key()).serial_number(serial)
            .not_valid_before(T0).not_valid_after(T0 + datetime.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, **ku), critical=True)
            .sign(issuer_key, hashes.SHA256()))


def _crl(issuer, k, number=None, revoked=(), extra=(), entry_ext=False):
    b = (x509.CertificateRevocationListBuilder().issuer_name(issuer.subject)
         .last_update(T0 + datetime.timedelta(days=10))
         .next_update(T0 + datetime.timedelta(days=40)))
    if number is not None:
        b = b.add_extension(x509.CRLNumber(number), critical=False)
        b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            issuer.public_key()), critical=False)
    for ext, critical in extra:
        b = b.add_extension(ext, critical=critical)
    for serial in revoked:
        rb = (x509.RevokedCertificateBuilder().serial_number(serial)
              .revocation_date(T0 + datetime.timedelta(days=5)))
        if entry_ext:
            rb = rb.add_extension(x509.CRLReason(x509.ReasonFlags.key_compromise), critical=False)
            rb = rb.add_extension(x509.InvalidityDate(datetime.datetime(2026, 1, 3)),
                                  critical=False)
        b = b.add_revoked_certificate(rb.build())
    return b.sign(k, hashes.SHA256())


def build():
    keys = {"sm": _key(1), "twin": _key(2), "nosign": _key(3)}
    certs = {n: _ca(NAMES[n], keys[n], crl_sign=(n != "nosign")) for n in keys}
    certs["op1"] = _leaf("Olga Operator", 0x1234, certs["sm"], keys["sm"])
    certs["op2"] = _leaf("Otto Operator", 0x5678ABCDEF0123456789, certs["sm"], keys["sm"])
    keys["root"], keys["sm2"] = _key(4), _key(5)
    certs["root"] = _ca("Root CA", keys["root"])
    certs["sm2"] = _ca("MSP Two Security Management", keys["sm2"], issuer=certs["root"],
                       issuer_key=keys["root"])
    certs["op3"] = _leaf("Oda Operator", 0x4242, certs["sm2"], keys["sm2"])
    sm, ksm = certs["sm"], keys["sm"]
    crls = {
        "good": _crl(sm, ksm, 3, [0x1234, 0x99], entry_ext=True),
        "older": _crl(sm, ksm, 2, []),
        "newer_empty": _crl(sm, ksm, 4, []),
        "long_serial": _crl(sm, ksm, 5, [0x5678ABCDEF0123456789]),
        "no_number": _crl(sm, ksm, None, [0x1234]),
        "by_twin": _crl(certs["twin"], keys["twin"], 9, [0x1234]),
        "by_nosign": _crl(certs["nosign"], keys["nosign"], 9, [0x1234]),
        "delta": _crl(sm, ksm, 6, [0x1234], extra=[(x509.DeltaCRLIndicator(3), True)]),
        "idp": _crl(sm, ksm, 7, [0x1234], extra=[(x509.IssuingDistributionPoint(
            None, None, True, False, None, False, False), True)]),
        "twin_low": _crl(certs["twin"], keys["twin"], 1, [0x5678ABCDEF0123456789]),
        "root_revokes_sm2": _crl(certs["root"], keys["root"], 1,
                                 [certs["sm2"].serial_number]),
    }
    raw = {
        "raw_ok": _raw_crl(sm, ksm, ["260111000000Z", "260210000000Z"], b""),
        "raw_empty_revoked": _raw_crl(sm, ksm, ["260111000000Z", "260210000000Z"], b"\x30\x00"),
        "raw_next_before_this": _raw_crl(sm, ksm, ["260211000000Z", "260210000000Z"], b""),
    }
    der = serialization.Encoding.DER
    out = {n: c.public_bytes(der) for n, c in crls.items()}
    out.update(raw)
    return {n: c.public_bytes(der) for n, c in certs.items()}, out


def prepare(outdir):
    certs, crls = build()
    lines = ["# CRL cases made by tests/firmware/prep_crl.py with pyca/cryptography %s"
             % __import__("cryptography").__version__]
    lines += ["cert %s %s" % (n, d.hex()) for n, d in certs.items()]
    lines += ["crl %s %s" % (n, d.hex()) for n, d in crls.items()]
    with open(outdir + "/crls.txt", "w") as fh:
        fh.write("\n".join(lines) + "\n")
