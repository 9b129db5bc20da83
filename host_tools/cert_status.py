"""Was a certificate chain good at a given moment? Validity dates and revocation for signatures
checked long after they were made (S1: readings stay verifiable for years).

The chain model (as for qualified signatures): a reading signed at time t is good if CERT_EM was
valid at t and not revoked before t, and each certificate above was valid, and not revoked, when
it issued the one below it (the child's notBefore). A certificate that has expired since does
not undo what it signed while it was valid.

Revocation comes from CRLs (RFC 5280 section 5). For each certificate the newest CRL whose
issuer is that certificate's issuer and whose signature verifies with the issuer's key is
consulted; a CRL that names the issuer but does not verify is an error, never ignored. An
entry's revocation date, or its invalidity date (RFC 5280 5.3.2) when that is earlier, is the
moment from which the certificate is bad.
"""
import datetime

from cryptography import x509

from .errors import ToolError


class StatusError(ToolError):
    """The chain was not good at that moment, or a CRL offered for it is unusable."""


def crl_number(crl):
    try:
        return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    except x509.ExtensionNotFound:
        return -1


def _bad_from(entry):
    # RFC 5280 5.3.2: the invalidity date, when given, says since when the key is suspect (it
    # may be earlier than the date the CA revoked it); the earlier of the two counts.
    at = entry.revocation_date_utc.timestamp()
    try:
        inv = entry.extensions.get_extension_for_class(x509.InvalidityDate).value
        at = min(at, inv.invalidity_date_utc.timestamp())
    except x509.ExtensionNotFound:
        pass
    return at


def _name(cert):
    return cert.subject.rfc4514_string()


def _when(ts):
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime(
        "%Y-%m-%d %H:%M UTC")


class ChainStatus:
    """certs: the chain, leaf first, up to and including its root (checked for signatures
    already). crls: CRLs to consult (any issuers; those of other authorities are ignored)."""

    def __init__(self, certs, crls=()):
        self.certs = list(certs)
        self.revoked = []  # per certificate: revocation time (UTC seconds) or None
        self.sources = []  # per certificate but the root: "CRL n of ISSUER" or None
        for child, parent in zip(self.certs, self.certs[1:]):
            crl = self._newest_crl(parent, crls)
            at = None
            if crl is not None:
                entry = crl.get_revoked_certificate_by_serial_number(child.serial_number)
                if entry is not None:
                    at = _bad_from(entry)
                self.sources.append("CRL %d of %s" % (crl_number(crl), _name(parent)))
            else:
                self.sources.append(None)
            self.revoked.append(at)
        self.revoked.append(None)  # a root is withdrawn by removing it from the trust list
        self._issued_ok = None

    @staticmethod
    def _newest_crl(issuer, crls):
        best = None
        for crl in crls:
            if crl.issuer != issuer.subject:
                continue
            if not crl.is_signature_valid(issuer.public_key()):
                raise StatusError("a CRL naming %s as its issuer does not verify with its key"
                                  % _name(issuer))
            if best is None or crl_number(crl) > crl_number(best):
                best = crl
        return best

    def unchecked(self):
        """Subjects whose revocation no CRL could tell (the root excluded)."""
        return [_name(c) for c, s in zip(self.certs, self.sources) if s is None]

    def _check_issuing(self):
        # Each certificate above the leaf must have been valid, and not revoked, when it issued
        # the one below; this does not depend on the reading, so it is checked once.
        for child, parent, revoked_at in zip(self.certs, self.certs[1:], self.revoked[1:]):
            nb = child.not_valid_before_utc.timestamp()
            if not (parent.not_valid_before_utc.timestamp() <= nb
                    <= parent.not_valid_after_utc.timestamp()):
                raise StatusError("%s was issued (%s) outside its issuer's validity"
                                  % (_name(child), _when(nb)))
            if revoked_at is not None and nb >= revoked_at:
                raise StatusError("%s was issued (%s) after its issuer %s was revoked (%s)"
                                  % (_name(child), _when(nb), _name(parent), _when(revoked_at)))

    def check_signed_at(self, t):
        """Raise StatusError unless the leaf could sign at UTC second t."""
        if self._issued_ok is None:
            try:
                self._check_issuing()
                self._issued_ok = True
            except StatusError as e:
                self._issued_ok = e
        if self._issued_ok is not True:
            raise self._issued_ok
        leaf = self.certs[0]
        nb = leaf.not_valid_before_utc.timestamp()
        na = leaf.not_valid_after_utc.timestamp()
        if t < nb:
            raise StatusError("signed %s, before its certificate was valid (from %s)"
                              % (_when(t), _when(nb)))
        if t > na:
            raise StatusError("signed %s, after its certificate expired (%s)"
                              % (_when(t), _when(na)))
        if self.revoked[0] is not None and t >= self.revoked[0]:
            raise StatusError("signed %s, after its certificate was revoked (%s)"
                              % (_when(t), _when(self.revoked[0])))
