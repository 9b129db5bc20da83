"""Signed-command vectors for test_signed_command.py, made with pyca/cryptography (CPython only).

A small PKI (root -> SM -> operator with the MeterSeal role extension, and a stranger root) signs
commands with host_tools.signing; each line: name, expected outcome, hex of the COSE_Sign1.
"""
import datetime
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from host_tools.pki_keys import KeySigner
from host_tools.signing import sign_command
from meterseal.crypto.x509 import ROLE_EXTENSION_OID

DEVICE = "1MSL0012345678"
NOW = 1790000000  # 2026-09-21, the "now" the tests pass as the board's trusted clock


def _roles_der(roles):
    items = b"".join(b"\x0c" + bytes([len(r)]) + r.encode() for r in roles)
    return b"\x30" + bytes([len(items)]) + items


def _cert(subject, key, issuer_name, issuer_key, ca, roles=None, days=3650):
    t0 = datetime.datetime.fromtimestamp(NOW - 86400, datetime.timezone.utc)
    b = (x509.CertificateBuilder()
         .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
         .issuer_name(issuer_name).public_key(key.public_key())
         .serial_number(x509.random_serial_number())
         .not_valid_before(t0).not_valid_after(t0 + datetime.timedelta(days=days))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
         .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                      key_encipherment=False, data_encipherment=False,
                                      key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                                      encipher_only=False, decipher_only=False), critical=True))
    if roles:
        b = b.add_extension(x509.UnrecognizedExtension(
            x509.ObjectIdentifier(ROLE_EXTENSION_OID), _roles_der(roles)), critical=False)
    return b.sign(issuer_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def prepare(outdir):
    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test MSP root")])
    root = _cert("Test MSP root", root_key, root_name, root_key, True)
    sm_key = ec.generate_private_key(ec.SECP256R1())
    sm = _cert("Test SM", sm_key, root_name, root_key, True, ["msp-security"])
    op_key = ec.generate_private_key(ec.SECP256R1())
    op = _cert("Operator 1", op_key, x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test SM")]),
               sm_key, False, ["msp-operator"])
    stranger_key = ec.generate_private_key(ec.SECP256R1())
    stranger_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Stranger")])
    stranger = _cert("Stranger", stranger_key, stranger_name, stranger_key, True)
    rogue = _cert("Rogue operator", op_key, stranger_name, stranger_key, False, ["msp-operator"])

    op_signer = KeySigner(op_key)
    chain = [op, sm]

    def cmd(name="read_registers", dev=DEVICE, ctr=10, iat=NOW, args=None, ch=chain, signer=op_signer):
        return sign_command(signer, ch, dev, name, args or {}, counter=ctr, issued=iat)

    lines = [("anchor", "-", root.hex())]
    ok = cmd()
    lines.append(("valid", "ok", ok.hex()))
    lines.append(("replayed", "replay", ok.hex()))
    lines.append(("next-counter", "ok", cmd(ctr=11, args={"from": 0}).hex()))
    lines.append(("other-device", "device", cmd(dev="1MSL0099999999", ctr=12).hex()))
    t = bytearray(cmd(ctr=13))
    t[-1] ^= 1
    lines.append(("tampered-signature", "signature", t.hex()))
    t = bytes(cmd(ctr=14)).replace(b"read_registers", b"read_registerz")
    lines.append(("tampered-payload", "signature", t.hex()))
    lines.append(("foreign-root", "chain", cmd(ch=[rogue, stranger], ctr=15).hex()))
    lines.append(("no-chain", "chain", cmd(ch=[], ctr=16).hex()))
    lines.append(("too-old", "expired", cmd(iat=NOW - 3 * 86400, ctr=17).hex()))
    lines.append(("future", "expired", cmd(iat=NOW + 3600, ctr=18).hex()))
    from meterseal.crypto import cbor, cose

    bad = cose.sign1(cbor.dumps(["not", "a", "map"]), op_signer, x5chain=chain)
    lines.append(("payload-not-map", "malformed", bad.hex()))
    lines.append(("garbage", "malformed", os.urandom(40).hex()))
    with open(os.path.join(outdir, "signed_commands.txt"), "w") as f:
        f.write("# made by tests/firmware/prep_commands.py with pyca/cryptography; device %s now %d\n"
                % (DEVICE, NOW))
        for name, expect, hx in lines:
            f.write("%s %s %s\n" % (name, expect, hx))
