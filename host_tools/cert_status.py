"""Was a certificate chain good at a given moment? Validity dates and revocation for signatures
checked long after they were made (S1: readings stay verifiable for years).

The chain model (as for qualified signatures): a reading signed at time t is good if CERT_EM was
valid at t and not revoked before t, and each certificate above was valid, and not revoked, when
it issued the one below it (the child's notBefore). A certificate that has expired since does
not undo what it signed while it was valid.

Revocation comes from CRLs (RFC 5280 section 5). For each certificate, every CRL of its issuer is
consulted: one whose issuer name and authorityKeyIdentifier match the issuer's certificate, whose
issuer may sign CRLs (cRLSign) and whose signature verifies (a CRL that names the issuer's key but
does not verify is an error, never ignored). The earliest revocation any of them records counts,
because an authority may drop an entry from later CRLs once the certificate has expired (5.1.2.6).
An entry's revocation date, or its invalidity date (5.3.2) when that is earlier, is the moment
from which the certificate is bad. What was signed after the newest CRL's thisUpdate cannot be
judged by it yet: check_signed_between() says so and the caller reports it.

The moment of signing may be known only within a window (an EDL40 block holds local time, UTC
plus an offset of up to 18 hours): validity dates are then met if any moment of the window is
inside them, revocation only if the whole window lies before it.
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


def _ext(obj, cls):
    try:
        return obj.extensions.get_extension_for_class(cls).value
    except x509.ExtensionNotFound:
        return None


def _key_id(cert):
    ski = _ext(cert, x509.SubjectKeyIdentifier)
    return ski.digest if ski is not None else \
        x509.SubjectKeyIdentifier.from_public_key(cert.public_key()).digest


def crls_of(issuer, crls):
    """The CRLs among `crls` that `issuer` (a certificate) signed, checked (see the module)."""
    out = []
    for crl in crls:
        if crl.issuer != issuer.subject:
            continue
        aki = _ext(crl, x509.AuthorityKeyIdentifier)
        if aki is not None and aki.key_identifier is not None \
                and aki.key_identifier != _key_id(issuer):
            continue  # another key of the same name (a renewed authority)
        ku = _ext(issuer, x509.KeyUsage)
        if ku is None or not ku.crl_sign:
            raise StatusError("%s signs CRLs but may not (no cRLSign)" % _name(issuer))
        if not crl.is_signature_valid(issuer.public_key()):
            raise StatusError("a CRL naming %s as its issuer does not verify with its key"
                              % _name(issuer))
        out.append(crl)
    return out


class ChainStatus:
    """certs: the chain, leaf first, up to its root (signatures checked already; a top that is
    not self-issued counts as unchecked for revocation). crls: CRLs of any issuers."""

    def __init__(self, certs, crls=()):
        self.certs = list(certs)
        self.revoked = []  # per certificate: earliest revocation (UTC s) over its issuer's CRLs
        self.crl_until = []  # per certificate: thisUpdate of its issuer's newest CRL
        self.sources = []  # per certificate: "CRL n of ISSUER" (the newest), or None
        for child, parent in zip(self.certs, self.certs[1:]):
            mine = crls_of(parent, crls)
            at = None
            for crl in mine:
                entry = crl.get_revoked_certificate_by_serial_number(child.serial_number)
                if entry is not None:
                    at = _bad_from(entry) if at is None else min(at, _bad_from(entry))
            newest = max(mine, key=crl_number) if mine else None  # (a CRL's len() is its entries)
            self.revoked.append(at)
            self.crl_until.append(None if newest is None else newest.last_update_utc.timestamp())
            self.sources.append(None if newest is None else "CRL %d of %s"
                                % (crl_number(newest), _name(parent)))
        top = self.certs[-1]
        self.revoked.append(None)
        self.crl_until.append(None)
        # a self-issued root is withdrawn by removing it from the trust list, not by a CRL
        self.sources.append("root" if top.issuer == top.subject else None)
        self._issued = None

    def unchecked(self):
        """Subjects whose revocation no CRL could tell."""
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
        return self.check_signed_between(t, t)

    def check_signed_between(self, t_min, t_max):
        """Raise StatusError unless the leaf could sign at a moment between UTC seconds t_min and
        t_max. Returns False if the newest CRL of its issuer is older than t_max (no CRL can
        tell yet whether it was revoked by then), else True."""
        if self._issued is None:
            try:
                self._check_issuing()
                self._issued = True
            except StatusError as e:
                self._issued = e
        if self._issued is not True:
            raise self._issued
        leaf = self.certs[0]
        nb = leaf.not_valid_before_utc.timestamp()
        na = leaf.not_valid_after_utc.timestamp()
        if t_max < nb:
            raise StatusError("signed %s, before its certificate was valid (from %s)"
                              % (_span(t_min, t_max), _when(nb)))
        if t_min > na:
            raise StatusError("signed %s, after its certificate expired (%s)"
                              % (_span(t_min, t_max), _when(na)))
        if self.revoked[0] is not None and t_max >= self.revoked[0]:
            raise StatusError("signed %s, not before its certificate was revoked (%s)"
                              % (_span(t_min, t_max), _when(self.revoked[0])))
        return self.crl_until[0] is None or t_max <= self.crl_until[0]


def _span(t_min, t_max):
    if t_min == t_max:
        return _when(t_min)
    return "%s +- %d h" % (_when((t_min + t_max) // 2), (t_max - t_min) // 7200)
