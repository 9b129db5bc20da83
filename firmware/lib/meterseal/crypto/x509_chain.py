# Certificate path validation for MeterSeal's PKI (RFC 5280 section 6, cut to our profile).
#
# The chain comes leaf first and may be an iterator: at most two certificates (the one being
# checked and the one it issued) are referenced at a time, so a board can read a chain from flash or
# the serial link one certificate after another. Trust anchors are whole certificates; the chain
# may end with an anchor itself or with a certificate an anchor issued. Every failure raises
# x509.ChainError with a short .reason and the depth and subject of the offending certificate.
import hashlib

from meterseal.crypto import x509
from meterseal.crypto.errors import DecodeError, InvalidKey, InvalidSignature
from meterseal.crypto.x509 import ChainError

# Parse errors that keep their own name as the chain reason; every other one is "malformed".
_OWN_REASONS = ("unsupported-algorithm", "critical-extension")


def _parse(data, depth):
    try:
        return x509.parse(data)
    except DecodeError as e:
        r = e.args[0] if e.args else "?"
        raise ChainError(r if r in _OWN_REASONS else "malformed", depth, "unparsed", r)


def _check_time(cert, now, depth):
    # RFC 5280 4.1.2.5: valid from notBefore to notAfter inclusive. Only when the caller trusts
    # its clock enough to pass `now` (a meter's RTC may be unset after a power loss).
    if now is None:
        return
    if now < cert.not_before:
        raise ChainError("not-yet-valid", depth, cert.describe())
    if now > cert.not_after:
        raise ChainError("expired", depth, cert.describe())


def _check_issuer(ca, depth, below):
    # RFC 5280 6.1.4 (k): an issuer must be a CA by basicConstraints (v3 only in our profile).
    if not ca.is_ca:
        raise ChainError("not-ca", depth, ca.describe())
    # 6.1.4 (n) and 4.2.1.3: a key that signs certificates has keyCertSign. Our profile also
    # requires the keyUsage extension on every issuer (the MeterSeal CAs always write it).
    if ca.key_usage is None or not ca.key_usage & x509.KU_KEY_CERT_SIGN:
        raise ChainError("key-usage", depth, ca.describe(), "issuer lacks keyCertSign")
    # 6.1.4 (l, m): pathLenConstraint counts the non-self-issued intermediates below this CA.
    if ca.path_len is not None and below > ca.path_len:
        raise ChainError("path-length", depth, ca.describe())


def _check_signature(child, issuer, depth):
    digest = hashlib.sha256(child.tbs()).digest()
    from meterseal.crypto import ecdsa

    try:
        ecdsa.verify_der(issuer.curve(), issuer.public_key(), digest, child.signature())
    except InvalidSignature:
        raise ChainError("signature", depth, child.describe())
    except InvalidKey:
        raise ChainError("bad-key", depth + 1, issuer.describe())


def _check_leaf(leaf, required_usage, required_role):
    from meterseal.crypto import ecdsa

    try:
        ecdsa.decode_point(leaf.curve(), leaf.public_key())
    except InvalidKey:
        raise ChainError("bad-key", 0, leaf.describe())
    if required_usage:
        # The extension must be there and assert every bit asked for (absent keyUsage would mean
        # "any use" under RFC 5280 4.2.1.3; our profile does not issue such leaves).
        if leaf.key_usage is None or leaf.key_usage & required_usage != required_usage:
            raise ChainError("key-usage", 0, leaf.describe())
    if required_role is not None:
        if leaf.roles is None or required_role not in leaf.roles:
            raise ChainError("role", 0, leaf.describe(), "needs " + required_role)


def _key_ids_differ(child, anchor):
    # Path building hint (RFC 5280 4.2.1.1): skip an anchor whose subjectKeyIdentifier is not the
    # child's authorityKeyIdentifier, so a renewed root of the same name costs no ECDSA verify.
    if child.aki is None or anchor.ski is None:
        return False
    return child.buf[child.aki[0]:child.aki[1]] != anchor.buf[anchor.ski[0]:anchor.ski[1]]


def _is_anchor(cert, anchors):
    n = len(cert.buf)
    for a in anchors:
        if len(a) == n and memoryview(a) == cert.buf:
            return True
    return False


def _check_revoked(cert, revoked, depth):
    # RFC 5280 6.1.3 (a)(2): the certificate is not revoked (by the CRLs the caller holds). An
    # anchor that is not self-issued (CERT_SM, CERT_MFC) is revocable by its issuer's CRL too;
    # a root is withdrawn by removing it.
    if revoked is not None and not cert.self_issued() and revoked(cert.issuer(), cert.serial):
        raise ChainError("revoked", depth, cert.describe())


def verify_chain(chain, anchors, now=None, required_usage=None, required_role=None, max_depth=8,
                 revoked=None):
    """Validate `chain` (DER certificates, leaf first; a list or an iterator) against `anchors`
    (a list of trusted DER certificates) and return the leaf's parsed x509.Certificate.

    now: seconds since 1970 UTC to check validity windows, or None to skip them.
    required_usage: x509.KU_* mask the leaf's keyUsage must assert (e.g. KU_DIGITAL_SIGNATURE).
    required_role: a role name the leaf's MeterSeal role extension must list.
    max_depth: most certificates accepted in the chain, anchor included.
    revoked: is_revoked(issuer_name_der, serial) -> bool, or None to skip revocation. Anchors
    are checked too, except self-issued ones.
    """
    if not anchors:
        raise ValueError("no trust anchors")
    leaf = None
    child = None
    depth = 0
    below = 0  # non-self-issued intermediates seen so far (RFC 5280 6.1.4 l)
    for data in chain:
        if depth >= max_depth:
            raise ChainError("path-length", depth, "?", "chain longer than %d" % max_depth)
        cert = _parse(data, depth)
        _check_time(cert, now, depth)
        if child is None:
            leaf = cert
            _check_leaf(leaf, required_usage, required_role)
        else:
            if cert.subject() != child.issuer():
                raise ChainError("issuer", depth - 1, child.describe(),
                                 "next certificate is " + cert.describe())
            _check_issuer(cert, depth, below)
            _check_signature(child, cert, depth - 1)
            _check_revoked(child, revoked, depth - 1)
            if not cert.self_issued():
                below += 1
        if _is_anchor(cert, anchors):
            _check_revoked(cert, revoked, depth)
            return leaf
        child = cert
        depth += 1
    if child is None:
        raise ChainError("malformed", 0, "?", "empty chain")
    # The last certificate given must be issued by an anchor.
    err = None
    for a in anchors:
        anchor = _parse(a, depth)
        if anchor.subject() != child.issuer() or _key_ids_differ(child, anchor):
            continue
        try:
            _check_time(anchor, now, depth)
            _check_issuer(anchor, depth, below)
            _check_signature(child, anchor, depth - 1)
            _check_revoked(child, revoked, depth - 1)
            _check_revoked(anchor, revoked, depth)
            return leaf
        except ChainError as e:
            err = err or e
    if err is not None:
        raise err
    raise ChainError("untrusted", depth - 1, child.describe(), "no anchor issued it")
