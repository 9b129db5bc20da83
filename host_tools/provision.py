"""Provisioning a board over its console, step by step through the device life cycle
(architecture.md): manufacture -> calibrate (the seal) -> install; erase back to factory (U3).

Each step reads the board's state first, refuses to run in the wrong one with a sentence saying
what is needed, and is safe to repeat after a power loss: a step the board finished is reported as
done, a step it did not finish runs again.
"""
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.keywrap import aes_key_wrap

from meterseal.security.keytransport import KX_LABEL, WRAP_INFO
from meterseal.security.lifecycle import CALIBRATED, FACTORY, INSTALLED, MANUFACTURED

from . import pki as pkimod
from .errors import ToolError
from .signing import sign_command

MEDIA = {"electricity": 2, "gas": 3, "water": 7}
ERASE_TIMEOUT = 120.0


class ProvisionError(ToolError):
    pass


def _der(cert):
    return cert.public_bytes(serialization.Encoding.DER)


def _say(progress, text):
    if progress:
        progress(text)


def _manufacturer_aid(p, manufacturer):
    return p.authority_id("manufacturer:" + manufacturer if manufacturer else "manufacturer")


def status(con):
    return con.request("status")


def manufacture(con, p, flag, meter_id, manufacturer=None, version=1, medium="electricity",
                progress=None):
    """Write the device identity, the manufacturer's certificate and the CA root (K3)."""
    if medium not in MEDIA:
        raise ProvisionError("unknown medium %r (%s)" % (medium, ", ".join(MEDIA)))
    st = status(con)
    _say(progress, "board is %s" % st["state"])
    if st["state"] not in (FACTORY, MANUFACTURED):
        raise ProvisionError("the board is %s already; manufacture runs on a factory-new board "
                             "(erase it first)" % st["state"])
    aid = _manufacturer_aid(p, manufacturer)
    args = {"identity": {"manufacturer": flag, "id": int(meter_id), "version": int(version),
                         "medium": MEDIA[medium]},
            "manufacturer_cert": _der(p.certificate(aid)),
            "ca_root": _der(pkimod.trust_anchor(p, "ca"))}
    st = con.request("manufacture", args)
    _say(progress, "identity %s written, manufacturer certificate %s installed"
         % (st["device_id"], aid))
    return st


def calibrate(con, p, directory=None, progress=None):
    """K1: the board makes its key pair, proves possession, the calibration authority certifies
    it (CERT_EM), the board stores CERT_EM with the institute root and seals."""
    st = status(con)
    if st["state"] != MANUFACTURED:
        raise ProvisionError("the board is %s; calibrate needs it manufactured" % st["state"])
    challenge = pkimod.new_challenge()
    _say(progress, "generating the key pair on the board")
    keys = con.request("keygen", {"challenge": challenge})
    pkimod.verify_pop(keys["em"], challenge, keys["pop_em"])
    verify_kx_binding(keys["em"], keys["kx"], challenge, keys["kx_binding"])
    _say(progress, "proof of possession verified for %s" % keys["device_id"])
    cert = pkimod.issue_em(p, keys["em"], keys["device_id"])
    _say(progress, "CERT_EM issued, serial %x" % cert.serial_number)
    st = con.request("calibrate", {"cert_em": _der(cert),
                                   "institute_root": _der(pkimod.trust_anchor(p, "institute")),
                                   "calibration_ca": _der(p.certificate("calibration"))})
    if directory is not None:
        # K1: CERT_EM goes to the directory with the chain that verifies it years from now.
        directory.publish(p.certificate("calibration"))
        directory.publish(pkimod.trust_anchor(p, "institute"))
        directory.publish(cert, "em", keys["device_id"])
        _say(progress, "CERT_EM and its chain published in the directory")
    _say(progress, "board sealed: %s" % st["state"])
    return cert


def verify_kx_binding(em, kx, challenge, signature):
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), bytes(em))
    sig = encode_dss_signature(int.from_bytes(signature[:32], "big"),
                               int.from_bytes(signature[32:], "big"))
    from cryptography.exceptions import InvalidSignature

    try:
        key.verify(sig, KX_LABEL + bytes(challenge) + bytes(kx), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise ProvisionError("the board's key-agreement key is not bound to its CERT_EM key") \
            from None


def wrap_key(kx, device_id, name, key):
    """One symmetric key wrapped for the board's kx key (security/keytransport.py)."""
    peer = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), bytes(kx))
    eph = ec.generate_private_key(ec.SECP256R1())
    shared = eph.exchange(ec.ECDH(), peer)
    kek = HKDF(hashes.SHA256(), 16, None, WRAP_INFO + device_id.encode()).derive(shared)
    pub = eph.public_key().public_bytes(serialization.Encoding.X962,
                                        serialization.PublicFormat.UncompressedPoint)
    return {"name": name, "eph": pub, "wrapped": aes_key_wrap(kek, bytes(key))}


def _board_cert_em(con, directory, device_id):
    if directory is None:
        raise ProvisionError("install needs the directory (--directory) to check the board's "
                             "CERT_EM")
    return directory.fetch(device_id, kind="em")


IEC_PASSWORD_KEY = "iec.p1"


def iec_password_secret(password):
    """An IEC 62056-21 P1 password as a secret key wrap can carry: length byte, the password,
    zero padding to a multiple of 8 and at least 16 bytes (RFC 3394)."""
    pw = password.encode()
    if not 1 <= len(pw) <= 32 or not all(0x21 <= c < 0x7F and c not in b"()*/!" for c in pw):
        raise ProvisionError("the IEC password must be 1-32 printable characters without ()*/!")
    b = bytes([len(pw)]) + pw
    return b + bytes(max(16, -(-len(b) // 8) * 8) - len(b))


def install(con, p, directory, keys=None, primary_address=None, manufacturer=None, progress=None):
    """K4-K6: the MSP's trust anchor (CERT_SM) and symmetric keys, in a command signed by the
    manufacturer, whose certificate the board holds since production."""
    challenge = pkimod.new_challenge()
    att = con.request("attest", {"challenge": challenge})
    if att["state"] not in (CALIBRATED, INSTALLED):
        raise ProvisionError("the board is %s; install needs it calibrated" % att["state"])
    cert_em = _board_cert_em(con, directory, att["device_id"])
    em = cert_em.public_key().public_bytes(serialization.Encoding.X962,
                                           serialization.PublicFormat.UncompressedPoint)
    if em != bytes(att["em"]):
        raise ProvisionError("the board's key is not the one its CERT_EM in the directory names")
    verify_kx_binding(em, att["kx"], challenge, att["kx_binding"])
    wrapped = [wrap_key(att["kx"], att["device_id"], n, k) for n, k in sorted((keys or {}).items())]
    args = {"msp_cert": _der(pkimod.trust_anchor(p, "sm")), "keys": wrapped}
    if primary_address is not None:
        args["primary_address"] = int(primary_address)
    aid = _manufacturer_aid(p, manufacturer)
    msg = sign_command(p.signer(aid), [_der(p.certificate(aid))], att["device_id"], "install", args)
    _say(progress, "install command signed by %s (%d symmetric keys)" % (aid, len(wrapped)))
    st = con.request("signed", {"command": msg})
    _say(progress, "board %s is %s" % (att["device_id"], st["state"]))
    return st


def erase(con, p=None, manufacturer=None, progress=None):
    """U3: wipe keys and data, back to factory. A sealed board needs the manufacturer's
    signature; an unsealed one takes the plain command."""
    st = status(con)
    # Erasing overwrites the flash's free space: seconds on a board.
    if not st["sealed"]:
        return con.request("erase", timeout=ERASE_TIMEOUT)
    if p is None:
        raise ProvisionError("the board is sealed: erase needs the manufacturer's key (--pki)")
    aid = _manufacturer_aid(p, manufacturer)
    msg = sign_command(p.signer(aid), [_der(p.certificate(aid))], st["device_id"], "erase", {})
    _say(progress, "erase command signed by %s" % aid)
    return con.request("signed", {"command": msg}, timeout=ERASE_TIMEOUT)
