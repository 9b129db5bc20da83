"""Signed commands to a meter and its signed answers (S2, S4, D2, U2), as importable functions.

Who signs (docs/access-control.md): a command's class names the anchor the meter checks the
signer's chain against, so the signer is picked per class:

    metrological      CERT_MO (calibration authority -> institute root), key in keys/mo-<name>
    non-metrological  CERT_OPi / CERT_DCS (CERT_SM), key in keys/op-<name> / keys/dcs-<name>;
                      or the security management itself ("sm", the CA passphrase)
    manufacturer      CERT_MFC ("manufacturer" or "manufacturer:<name>", the CA passphrase)

Answers that carry data are COSE_Sign1 by the meter's em key; check_answer verifies them
against CERT_EM (from the directory, itself checked to the institute root) and against the
request (device, command, counter), with the firmware's own COSE code.
"""
import os

from cryptography.hazmat.primitives import serialization

from meterseal.crypto import cbor, cose, x509
from meterseal.crypto.errors import DecodeError, InvalidSignature
from meterseal.security import access

from . import pki as pkimod
from .errors import EXIT_CHECK_FAILED, ToolError
from .pki_keys import FileSigner, read_passphrase
from .pki_profile import slug
from .signing import new_counter, sign_command

ENV_KEY_PASSPHRASE = "METERSEAL_KEY_PASSPHRASE"
_LAST = [0]


class AnswerError(ToolError):
    """A meter's answer that does not verify (exit 1)."""
    exit_code = EXIT_CHECK_FAILED


def _der(cert):
    return cert.public_bytes(serialization.Encoding.DER)


class Operator:
    """Someone who signs commands: per command class, a certificate chain and a signer."""

    def __init__(self, p, name, key_passphrase=None):
        self.p = p
        self.name = name
        self._pw = key_passphrase
        self._creds = {}

    def _key_pw(self):
        pw = self._pw
        if callable(pw):
            pw = pw()
        if pw is None:
            pw = read_passphrase(None, what="key passphrase of %s" % self.name,
                                 env=ENV_KEY_PASSPHRASE)
        self._pw = pw
        return pw

    def credentials(self, cls):
        """(chain as DER list, signer) for commands of class `cls`."""
        if cls in self._creds:
            return self._creds[cls]
        p = self.p
        try:
            aid = p.authority_id(self.name)
        except pkimod.PkiError:
            aid = None
        if aid is not None:  # an authority signs with its own key (CA passphrase)
            out = ([_der(p.certificate(aid))], p.signer(aid))
        else:
            kinds = ("mo",) if cls == access.METROLOGICAL else ("op", "dcs")
            rows = [r for k in kinds for r in p.index.rows(kind=k, status="valid",
                                                          identity=slug(self.name))]
            if not rows:
                raise ToolError("%s holds no valid %s certificate in this PKI (%s commands "
                                "need one)" % (self.name, " or ".join(k.upper() for k in kinds),
                                               cls))
            row = rows[-1]
            cert = pkimod.load_issued(p, row)
            key = pkimod.holder_key_path(p, row["kind"], self.name)
            if not key.exists():
                raise ToolError("no key for %s at %s (its holder keeps it elsewhere?)"
                                % (self.name, key))
            chain = [_der(c) for c in pkimod.chain(p, cert)[:-1]]  # without the root
            out = (chain, FileSigner(str(key), self._key_pw))
        self._creds[cls] = out
        return out

    def sign(self, device_id, command, args=None, counter=None, issued=None):
        cls = access.command_class(command, args or {})
        if cls is None:
            raise ToolError("unknown command %r (known: %s)" % (
                command, ", ".join(sorted(list(access.CLASSES) + [access.SET_ENTRY]))))
        chain, signer = self.credentials(cls)
        return sign_command(signer, chain, device_id, command, args or {}, counter, issued)


def meter_key(p, directory, device_id):
    """The SEC1 public key of the meter's CERT_EM, fetched from the directory and checked to
    chain to the institute root of `p` (the firmware's own chain check)."""
    try:
        cert = directory.fetch(device_id, kind="em")
    except ToolError as e:
        raise ToolError("no CERT_EM of %s in the directory: %s" % (device_id, e)) from None
    try:
        leaf = x509.verify_chain([_der(cert), _der(p.certificate("calibration"))],
                                 [_der(pkimod.trust_anchor(p, "institute"))],
                                 required_usage=x509.KU_DIGITAL_SIGNATURE)
    except x509.ChainError as e:
        raise AnswerError("CERT_EM of %s does not chain to the institute root: %s"
                          % (device_id, e)) from None
    return leaf.public_key()


def check_answer(answer, em_key, device_id, command, counter):
    """The data of a meter's signed answer, after checking signature and binding."""
    signed = answer.get("signed") if isinstance(answer, dict) else None
    if not isinstance(signed, (bytes, bytearray)):
        raise AnswerError("the meter's answer to %s is not signed" % command)
    try:
        m = cose.verify_sign1(bytes(signed), em_key)
        body = cbor.loads(m.payload)
    except (InvalidSignature, DecodeError) as e:
        raise AnswerError("the answer to %s does not verify with %s's CERT_EM: %s"
                          % (command, device_id, e)) from None
    if not isinstance(body, dict) or body.get("v") != 1:
        raise AnswerError("the answer to %s is not a version-1 answer" % command)
    for key, want in (("dev", device_id), ("cmd", command), ("req", counter)):
        if body.get(key) != want:
            raise AnswerError("the answer names %s %r, the request %r: not the answer to this "
                              "command" % (key, body.get(key), want))
    return body["data"]


class Session:
    """One meter, one signer: send(command, args) -> the verified data of the answer."""

    def __init__(self, con, p, operator, directory):
        self.con = con
        self.p = p
        self.op = operator
        self.device_id = con.request("status")["device_id"]
        self._directory = directory
        self._em = None

    def em_key(self):
        if self._em is None:
            self._em = meter_key(self.p, self._directory, self.device_id)
        return self._em

    def send(self, command, args=None, timeout=None):
        # The meter keeps the last counter per signer: never repeat one within this process.
        counter = _LAST[0] = max(new_counter(), _LAST[0] + 1)
        msg = self.op.sign(self.device_id, command, args, counter=counter)
        answer = self.con.request("signed", {"command": msg}, timeout=timeout)
        if "signed" not in answer:  # install and erase answer with the board's status
            return answer
        return check_answer(answer, self.em_key(), self.device_id, command, counter)


def key_passphrase_from(path):
    """A function reading an operator's key passphrase when first needed."""
    if path is None and not os.environ.get(ENV_KEY_PASSPHRASE):
        return None
    return lambda: read_passphrase(path, what="key passphrase", env=ENV_KEY_PASSPHRASE)
