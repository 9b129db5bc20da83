# Revoked certificates the device knows of (S2, S4, K6): an operator whose certificate the MSP's
# security management (or the calibration authority, or the CA) has revoked can no longer command
# the device, although the certificate still chains and has not expired.
#
# CRLs reach the device inside the signed command update_crl (access.py); the CRL itself must be
# signed by one of the device's trust anchors that may sign CRLs (x509_crl.Crl.verify), so whoever
# delivers it cannot forge or trim it. A CRL replaces the previous one of the same issuer only if
# its CRL number is higher: an old CRL cannot be replayed to un-revoke someone. The device keeps
# only (issuer name, issuer key) -> (CRL number, serial numbers), in security/revoked.json; the
# key is part of the row so that a new authority of the same name (a new MSP, a rolled-over key)
# starts its own numbering, while what the old one revoked stays revoked.
#
# The device cannot tell how fresh a CRL is without a trusted clock, so it applies the newest one
# it was given; nextUpdate is the host's business (meterseal cmd crl says when one is due).
import hashlib
import json
from binascii import hexlify

_FILE = "security/revoked.json"


class CrlRefused(Exception):
    """args[0]: a short reason ("malformed", "issuer", "stale"); args[1]: a sentence."""

    def __init__(self, reason, detail):
        super().__init__(reason, detail)
        self.reason = reason
        self.detail = detail


def _short_hash(data):
    return hexlify(hashlib.sha256(bytes(data)).digest()[:8]).decode()


class RevocationList:
    def __init__(self, storage):
        self._storage = storage
        raw = storage.read(_FILE)
        rows = json.loads(raw) if raw else {}
        # "name hash.key hash" of the issuer -> [crl number, set of serial numbers as ints]
        self._rows = {}
        for k, row in rows.items():
            self._rows[k] = [row["n"], set(int(s, 16) for s in row["s"])]

    def is_revoked(self, issuer_name, serial):
        """True if a CRL of an issuer with this name (DER bytes) lists the serial (RFC 5280: a
        certificate is named by its issuer's name and its serial number; the rows of every
        key of that name count, so what an old key revoked stays revoked)."""
        if not self._rows:
            return False
        prefix = _short_hash(issuer_name) + "."
        for k, row in self._rows.items():
            if k.startswith(prefix) and serial in row[1]:
                return True
        return False

    def number(self, issuer_name):
        """The highest CRL number applied from issuers of this name, or None."""
        prefix = _short_hash(issuer_name) + "."
        got = [row[0] for k, row in self._rows.items() if k.startswith(prefix)]
        return max(got) if got else None

    def update(self, crl_der, anchors):
        """Apply a DER CRL issued by one of `anchors` (trusted DER certificates); return
        (issuer description, CRL number, serials listed). Raises CrlRefused; changes nothing
        then."""
        from meterseal.crypto import x509, x509_crl
        from meterseal.crypto.errors import DecodeError, InvalidSignature

        try:
            crl = x509_crl.parse(crl_der)
        except DecodeError as e:
            raise CrlRefused("malformed", "CRL: %s" % (e.args[0] if e.args else "?"))
        issuer = None
        why = "no trust anchor of this device issued it"
        for a in anchors:
            cert = x509.parse(a)
            if cert.subject() != crl.issuer():
                continue  # cheap pre-selection; verify() checks the name again with the key
            if not cert.self_issued() and self.is_revoked(cert.issuer(), cert.serial):
                continue  # a revoked anchor signs nothing the device believes
            try:
                crl.verify(cert)
                issuer = cert
                break
            except InvalidSignature as e:
                why = e.args[0]
        if issuer is None:
            raise CrlRefused("issuer", why)
        key = _short_hash(crl.issuer()) + "." + _short_hash(issuer.public_key())
        old = self._rows.get(key)
        if old is not None and crl.number <= old[0]:
            raise CrlRefused("stale", "CRL number %d is not above %d, the one applied"
                             % (crl.number, old[0]))
        rows = dict(self._rows)
        rows[key] = [crl.number, set(crl.serials)]
        self._storage.write_atomic(_FILE, json.dumps(dict(
            (k, {"n": r[0], "s": ["%x" % s for s in sorted(r[1])]}) for k, r in rows.items()))
            .encode())
        self._rows = rows
        return issuer.describe(), crl.number, len(crl.serials)

    def clear(self):
        self._rows = {}
        self._storage.remove(_FILE)
