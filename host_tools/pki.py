"""The certification authorities of the paper's Fig. 2 (K1-K4), as importable functions.

    metrological institute root -> calibration authority -> CERT_EM (meters)
                                \\-> software approval key
    CA root (trusted third party) -> CERT_MFC (manufacturers) -> CERT_MUC, CERT_CN
                                  \\-> CERT_SM (MSP security management) -> CERT_OPi, CERT_DCS

A PKI is a folder (docs/pki.md): pki.json (names, curve, authorities), private/ (encrypted
PKCS#8 keys, 0600), certs/ (authority certificates), issued/ (every certificate, by serial),
keys/ (keys generated for operators, under their own passphrase), crl/, index.sqlite.
Authorities are named by id: "institute", "calibration", "software", "ca", "sm" and
"manufacturer:<slug>". Every issue_* function returns a cryptography x509.Certificate.
"""
import json
import os
import re
import secrets
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from .errors import EXIT_CHECK_FAILED
from .pki_index import Index, fingerprint, parse_time, serial_hex
from .pki_keys import (FileSigner, KeySigner, MIN_PASSPHRASE, PkiError, curve_by_name,
                       generate_key, read_passphrase, save_private_key, write_file)
from .pki_profile import (KINDS, METROLOGICAL_ROLES, OPERATOR_ROLES, REASONS, build_certificate,
                          build_crl, identity_of, issuer_among, now_utc, public_key_from, sec1,
                          slug, subject_name)

FORMAT = 1
DEFAULT_INSTITUTE = "Metrological Institute"
DEFAULT_TRUST_CENTER = "MeterSeal Trust Center"
DEFAULT_MANUFACTURER = "MeterSeal Devices"
DEFAULT_MSP = "MeterSeal Metering Services"
_IDENTITY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class PopError(PkiError):
    """A proof of possession did not verify (exit 1)."""
    exit_code = EXIT_CHECK_FAILED


def to_der(cert):
    return cert.public_bytes(serialization.Encoding.DER)


def to_pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


class Pki:
    """An open PKI folder. passphrase: bytes/str, a function returning it (asked once, when a
    key is first needed), or None to read it from $METERSEAL_CA_PASSPHRASE or a prompt."""

    def __init__(self, path, passphrase=None):
        self.path = Path(path)
        try:
            self.meta = json.loads((self.path / "pki.json").read_text())
        except FileNotFoundError:
            raise PkiError("no PKI in %s (create one with: meterseal ca init --dir %s)"
                           % (self.path, self.path)) from None
        if self.meta.get("format") != FORMAT:
            raise PkiError("%s/pki.json: unknown format %r" % (self.path, self.meta.get("format")))
        self.curve = curve_by_name(self.meta["curve"])
        self.index = Index(self.path / "index.sqlite")
        self._passphrase = passphrase
        self._signers = {}
        self._certs = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.index.close()

    def passphrase(self):
        pw = self._passphrase
        if callable(pw):
            pw = pw()
        elif pw is None:
            pw = read_passphrase()
        self._passphrase = pw  # asked once per session
        return pw

    def _save_meta(self):
        write_file(str(self.path / "pki.json"),
                   (json.dumps(self.meta, indent=2, sort_keys=True) + "\n").encode())

    # --- authorities ---------------------------------------------------------------------------

    def authorities(self):
        return list(self.meta["authorities"])

    def manufacturers(self):
        return [a["name"] for a in self.meta["authorities"].values() if a["kind"] == "manufacturer"]

    def authority_id(self, name):
        """Resolve "calibration", "sm", "manufacturer:ACME Meters" (name or slug), or plain
        "manufacturer" when there is only one."""
        auths = self.meta["authorities"]
        if name in auths:
            return name
        if name.startswith("manufacturer:"):
            aid = "manufacturer:" + slug(name.split(":", 1)[1])
            if aid in auths:
                return aid
        if name == "manufacturer":
            mfcs = [a for a in auths if a.startswith("manufacturer:")]
            if len(mfcs) == 1:
                return mfcs[0]
        raise PkiError("no authority %r in this PKI (known: %s)" % (name, ", ".join(auths)))

    def certificate(self, aid):
        aid = self.authority_id(aid)
        if aid not in self._certs:
            data = (self.path / self.meta["authorities"][aid]["cert"]).read_bytes()
            self._certs[aid] = x509.load_pem_x509_certificate(data)
        return self._certs[aid]

    def signer(self, aid):
        """The Signer of an authority: by default its encrypted key file."""
        aid = self.authority_id(aid)
        if aid not in self._signers:
            self._signers[aid] = FileSigner(str(self.path / self.meta["authorities"][aid]["key"]),
                                            self.passphrase)
        return self._signers[aid]

    def use_signer(self, aid, signer):
        """Let `signer` (an HSM, an offline key) sign for authority `aid` from now on."""
        aid = self.authority_id(aid)
        if sec1(signer.public_key()) != sec1(self.certificate(aid).public_key()):
            raise PkiError("that signer's public key is not the one certified for %s" % aid)
        self._signers[aid] = signer

    # --- issuing -------------------------------------------------------------------------------

    def _serial(self):
        # RFC 5280 4.1.2.2: positive, at most 20 octets; 159 random bits from the OS CSPRNG.
        while True:
            serial = secrets.randbits(159)
            if serial and not self.index.has_serial(serial):
                return serial

    def issue(self, kind, issuer, subject, public_key, roles=None, not_before=None, signer=None):
        """Sign, file and record one certificate (the engine behind the issue_* functions)."""
        issuer_cert = self.certificate(issuer) if issuer else None
        cert = build_certificate(kind, subject, public_key, self._serial(),
                                 signer or self.signer(issuer), issuer_cert, not_before, roles)
        rel = "issued/%s.pem" % serial_hex(cert.serial_number)
        write_file(str(self.path / rel), to_pem(cert))
        used = roles if roles is not None else ([KINDS[kind].role] if KINDS[kind].role else [])
        self.index.record(cert, kind, identity_of(cert), issuer or "self", rel, used)
        return cert

    def _new_authority(self, kind, name, subject_cn, organization, issuer=None, aid=None):
        aid = aid or kind
        if aid in self.meta["authorities"]:
            raise PkiError("authority %s exists already" % aid)
        fname = aid.replace(":", "-")
        key = generate_key(self.curve)
        subject = subject_name(kind, subject_cn, organization)
        cert = self.issue(kind, issuer, subject, key.public_key(),
                          signer=None if issuer else KeySigner(key))
        keyfile = "private/%s.key.pem" % fname
        save_private_key(str(self.path / keyfile), key, self.passphrase())
        write_file(str(self.path / ("certs/%s.pem" % fname)), to_pem(cert))
        write_file(str(self.path / ("certs/%s.der" % fname)), to_der(cert))
        self.meta["authorities"][aid] = {"kind": kind, "name": name, "issuer": issuer,
                                         "cert": "certs/%s.pem" % fname, "key": keyfile}
        self._save_meta()
        return cert


def init_pki(path, passphrase, curve="p256", manufacturers=(DEFAULT_MANUFACTURER,),
             msp=DEFAULT_MSP, institute=DEFAULT_INSTITUTE, trust_center=DEFAULT_TRUST_CENTER):
    """Create the whole hierarchy of Fig. 2 in a new folder and return the open Pki."""
    path = Path(path)
    if path.exists() and any(path.iterdir()):
        raise PkiError("%s is not empty; a new PKI needs a new folder" % path)
    pw = passphrase.encode("utf-8") if isinstance(passphrase, str) else passphrase
    if not pw or len(pw) < MIN_PASSPHRASE:
        raise PkiError("the CA passphrase must have at least %d characters" % MIN_PASSPHRASE)
    curve_by_name(curve)
    for sub, mode in (("", 0o755), ("private", 0o700), ("keys", 0o700), ("certs", 0o755),
                      ("issued", 0o755), ("crl", 0o755)):
        (path / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(path / sub, mode)
    meta = {"format": FORMAT, "curve": curve, "institute": institute,
            "trust_center": trust_center, "msp": msp, "authorities": {}}
    write_file(str(path / "pki.json"), json.dumps(meta).encode())
    pki = Pki(path, pw)
    pki._new_authority("institute", institute, institute + " Root CA", institute)
    pki._new_authority("calibration", institute, institute + " Calibration Authority", institute,
                       "institute")
    pki._new_authority("software", institute, institute + " Software Approval", institute,
                       "institute")
    pki._new_authority("ca", trust_center, trust_center + " Root CA", trust_center)
    for m in manufacturers:
        add_manufacturer(pki, m)
    pki._new_authority("sm", msp, msp + " Security Management", msp, "ca")
    return pki


def open_pki(path, passphrase=None):
    return Pki(path, passphrase)


def add_manufacturer(pki, name):
    """CERT_MFC for a new manufacturer, issued by the CA root."""
    return pki._new_authority("manufacturer", name, name + " Manufacturer CA", name, "ca",
                              aid="manufacturer:" + slug(name))


def _identity(identity):
    if not isinstance(identity, str) or not _IDENTITY.match(identity):
        raise PkiError("identity %r: expected a metering identity such as 1MSL0012345678 "
                       "(letters, digits, '.', '_', '-'; at most 64)" % (identity,))
    return identity


def issue_em(pki, public_key_sec1, identity, not_before=None, manufacturer=None, curve=None):
    """CERT_EM: the calibration authority certifies a meter's board-generated key.

    public_key_sec1: the SEC1 point the board reported (check verify_pop first).
    identity: the metering identity, e.g. "1MSL0012345678", written as the subject's
    serialNumber. curve: the key's curve name when it differs from the PKI's."""
    key = public_key_from(public_key_sec1, curve_by_name(curve) if curve else pki.curve)
    subject = subject_name("em", "Energy Meter " + _identity(identity), manufacturer, identity)
    return pki.issue("em", "calibration", subject, key, not_before=not_before)


def issue_device(pki, manufacturer, kind, public_key_sec1, identity, not_before=None, curve=None):
    """CERT_MUC (kind "muc") or CERT_CN (kind "cn") by the manufacturer's CA."""
    if kind not in ("muc", "cn"):
        raise PkiError("device kind must be muc or cn, not %r" % kind)
    aid = pki.authority_id(manufacturer if manufacturer == "manufacturer" or manufacturer
                           .startswith("manufacturer:") else "manufacturer:" + manufacturer)
    key = public_key_from(public_key_sec1, curve_by_name(curve) if curve else pki.curve)
    what = "MUC" if kind == "muc" else "Concentrator"
    subject = subject_name(kind, "%s %s" % (what, _identity(identity)),
                           pki.meta["authorities"][aid]["name"], identity)
    return pki.issue(kind, aid, subject, key, not_before=not_before)


def holder_key_path(pki, kind, name):
    """Where issue_operator / issue_dcs keep a key they generated for its holder."""
    return pki.path / "keys" / ("%s-%s.key.pem" % (kind, slug(name)))


def _holder_key(pki, kind, name, public_key_sec1, key_passphrase):
    if public_key_sec1 is not None:
        return public_key_from(public_key_sec1, pki.curve)
    path = holder_key_path(pki, kind, name)
    if path.exists():
        raise PkiError("%s exists: %s has a key already; to renew, pass its public key"
                       % (path, name))
    if key_passphrase is None:
        raise PkiError("generating a key for %s needs that holder's own passphrase" % name)
    pw = key_passphrase() if callable(key_passphrase) else key_passphrase
    if len(pw) < MIN_PASSPHRASE:
        raise PkiError("a key passphrase must have at least %d characters" % MIN_PASSPHRASE)
    key = generate_key(pki.curve)
    save_private_key(str(path), key, pw)
    return key.public_key()


def issue_operator(pki, name, roles, public_key_sec1=None, key_passphrase=None, not_before=None):
    """CERT_OPi: the MSP's security management certifies an operator with role-oriented rights.

    roles: names from meterseal.security.roles (not the authorities' own roles). Without
    public_key_sec1 the operator's key pair is generated here and stored, encrypted under
    key_passphrase (the operator's, not the CA's), at holder_key_path(pki, "op", name)."""
    roles = list(dict.fromkeys(roles or ()))
    if not roles:
        raise PkiError("an operator certificate needs at least one role")
    for r in roles:
        if r not in OPERATOR_ROLES:
            raise PkiError("the security management does not grant role %r (grantable: %s)"
                           % (r, ", ".join(OPERATOR_ROLES)))
    key = _holder_key(pki, "op", name, public_key_sec1, key_passphrase)
    subject = subject_name("op", name, pki.meta["msp"])
    return pki.issue("op", "sm", subject, key, roles=roles, not_before=not_before)


def issue_metrological_operator(pki, name, roles, public_key_sec1=None, key_passphrase=None,
                                not_before=None):
    """CERT_MO: the institute's calibration authority certifies a signer of metrological commands
    (set_time, set_parameter, the logbook; D2, D3): its own staff (role metrological-institute)
    or a local operator it authorises (local-operator). Keys as for issue_operator, stored at
    holder_key_path(pki, "mo", name)."""
    roles = list(dict.fromkeys(roles or ()))
    if not roles:
        raise PkiError("a metrological operator certificate needs at least one role")
    for r in roles:
        if r not in METROLOGICAL_ROLES:
            raise PkiError("the calibration authority grants only %s, not %r"
                           % (", ".join(METROLOGICAL_ROLES), r))
    key = _holder_key(pki, "mo", name, public_key_sec1, key_passphrase)
    subject = subject_name("mo", name, pki.meta["institute"])
    return pki.issue("mo", "calibration", subject, key, roles=roles, not_before=not_before)


def issue_dcs(pki, name, public_key_sec1=None, organization=None, key_passphrase=None,
              not_before=None):
    """CERT_DCS: a delegated data collection service, role "data-collection" (paper 4.1)."""
    key = _holder_key(pki, "dcs", name, public_key_sec1, key_passphrase)
    subject = subject_name("dcs", name, organization or name)
    return pki.issue("dcs", "sm", subject, key, not_before=not_before)


# --- chains, anchors, look-ups -----------------------------------------------------------------

def chain(pki, cert):
    """[cert, its issuer, ..., the self-signed root] as cryptography certificates."""
    if isinstance(cert, (bytes, bytearray)):
        cert = x509.load_der_x509_certificate(bytes(cert))
    out = [cert]
    while out[-1].issuer != out[-1].subject:
        c = issuer_among(out[-1], (pki.certificate(aid) for aid in pki.authorities()
                                   if pki.certificate(aid) not in out))
        if c is not None:
            out.append(c)
        else:
            raise PkiError("%s was not issued by this PKI" % out[-1].subject.rfc4514_string())
    return out


def trust_anchor(pki, which):
    """The certificate a device trusts: "institute" (metrology: CERT_EM, software approval),
    "ca" (the trusted third party), or any authority id, e.g. "sm" (the MSP, paper 5)."""
    return pki.certificate(which)


def find(pki, key):
    """The index row of a certificate by serial (hex) or fingerprint (prefix)."""
    return pki.index.find(key)


def load_issued(pki, row):
    return x509.load_pem_x509_certificate((pki.path / row["file"]).read_bytes())


def revoke(pki, key, reason="unspecified", when=None):
    if reason not in REASONS:
        raise PkiError("unknown reason %r (known: %s)" % (reason, ", ".join(REASONS)))
    row = pki.index.find(key)
    if row["issuer"] == "self":
        raise PkiError("%s is a root; a root is retired by replacing the trust anchor, not by "
                       "a CRL" % row["subject"])
    pki.index.revoke(row["serial"], when or now_utc(), reason)
    return pki.index.find(row["serial"])


def make_crl(pki, issuer, days=30, now=None):
    """Sign the next CRL of `issuer` and write it to crl/<issuer>.crl (DER) and .crl.pem.
    Returns (crl, der_path)."""
    aid = pki.authority_id(issuer)
    if not x509_is_ca(pki.certificate(aid)):
        raise PkiError("%s is not a certification authority; it has no CRL" % aid)
    revoked = [(int(r["serial"], 16), parse_time(r["revoked_at"]), r["reason"])
               for r in pki.index.rows(issuer=aid, status="revoked")]
    crl = build_crl(pki.certificate(aid), pki.signer(aid), revoked,
                    pki.index.next_crl_number(aid), now, days)
    der_path = crl_path(pki, aid)
    write_file(str(der_path), crl.public_bytes(serialization.Encoding.DER))
    write_file(str(der_path) + ".pem", crl.public_bytes(serialization.Encoding.PEM))
    return crl, der_path


def crl_path(pki, issuer):
    """Where make_crl keeps the newest CRL of an authority (DER; PEM beside it as .crl.pem)."""
    return pki.path / "crl" / (pki.authority_id(issuer).replace(":", "-") + ".crl")


def x509_is_ca(cert):
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


# --- proof of possession -----------------------------------------------------------------------

POP_CONTEXT = b"MeterSeal proof of possession v1\x00"
CHALLENGE_SIZE = 32


def new_challenge():
    return secrets.token_bytes(CHALLENGE_SIZE)


def pop_message(challenge, public_key_sec1):
    """What the board signs with ECDSA-SHA256 (docs/pki.md): POP_CONTEXT || challenge (32 octets)
    || the uncompressed SEC1 public key (65 octets)."""
    if len(challenge) != CHALLENGE_SIZE:
        raise PkiError("a challenge has %d octets, not %d" % (CHALLENGE_SIZE, len(challenge)))
    if len(public_key_sec1) != 65 or public_key_sec1[0] != 4:
        raise PkiError("the public key must be an uncompressed SEC1 point (65 octets, 04...)")
    return POP_CONTEXT + bytes(challenge) + bytes(public_key_sec1)


def verify_pop(public_key_sec1, challenge, signature_raw, curve="p256"):
    """Check that the board holding public_key_sec1 signed pop_message(challenge, key).
    signature_raw: r || s, 32 octets each, big-endian. Raises PopError, returns None."""
    msg = pop_message(challenge, public_key_sec1)
    try:
        key = ec.EllipticCurvePublicKey.from_encoded_point(curve_by_name(curve),
                                                           bytes(public_key_sec1))
    except ValueError:
        raise PopError("the board's public key is not a point on %s" % curve) from None
    if len(signature_raw) != 64:
        raise PopError("a proof-of-possession signature has 64 octets, not %d"
                       % len(signature_raw))
    sig = encode_dss_signature(int.from_bytes(signature_raw[:32], "big"),
                               int.from_bytes(signature_raw[32:], "big"))
    try:
        key.verify(sig, msg, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise PopError("proof of possession does not verify: the board did not sign the "
                       "challenge with the key it reported") from None


__all__ = ["Pki", "PkiError", "PopError", "init_pki", "open_pki", "add_manufacturer", "issue_em",
           "issue_device", "issue_operator", "issue_metrological_operator", "issue_dcs",
           "holder_key_path", "chain",
           "trust_anchor", "find", "load_issued", "revoke", "make_crl", "crl_path", "new_challenge",
           "pop_message", "verify_pop", "to_der", "to_pem", "fingerprint"]
