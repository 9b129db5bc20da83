# COSE_Sign1 (RFC 9052 section 4.2) with ES256 and the x5chain header (RFC 9360 section 2):
# the envelope of signed commands, answers, attestations and software approvals (S1, S4).
#
# What we write: tag 18 [ bstr .cbor {1: -7, 4: kid?, 33: x5chain?}, {}, payload, r||s ].
# Everything that matters is in the protected header, so it is covered by the signature; the
# unprotected header stays empty. What we read is exactly that shape, strictly: deterministic CBOR
# (cbor.py), alg ES256 and protected, no label in both buckets, no `crit`, 64-byte signature.
#
# Only ES256 (ECDSA P-256 with SHA-256, RFC 9053 section 2.1) is accepted. COSE has no
# registered algorithm for brainpoolP256r1 (RFC 9053 ties ES256 to P-256), so brainpool signers
# would need a private alg value agreed between both ends; until then they are refused here.
import hashlib

from meterseal.compat import const
from meterseal.crypto import cbor
from meterseal.crypto.errors import DecodeError, InvalidSignature

ALG_ES256 = const(-7)  # RFC 9053 section 2.1, table 1
_TAG_SIGN1 = const(18)  # RFC 9052 section 2, table 1
# Common header labels (RFC 9052 section 3.1, table 3) and x5chain (RFC 9360 section 2).
_H_ALG = const(1)
_H_CRIT = const(2)
_H_KID = const(4)
_H_X5CHAIN = const(33)
_MT_BSTR = const(0x40)  # CBOR major type 2 (RFC 8949 section 3.1)
_SIG_LEN = const(64)  # r||s, 32 bytes each (RFC 9053 section 2.1)
_CONTEXT = b"\x6aSignature1"  # the text string "Signature1", encoded once


class Sign1:
    """A parsed COSE_Sign1. `protected_raw` keeps the exact bytes the signature covers."""

    __slots__ = ("protected", "protected_raw", "unprotected", "payload", "signature", "alg",
                 "kid", "x5chain")

    def __init__(self, protected, protected_raw, unprotected, payload, signature):
        self.protected = protected
        self.protected_raw = protected_raw
        self.unprotected = unprotected
        self.payload = payload  # None when detached (RFC 9052 section 4.1: nil)
        self.signature = signature
        self.alg = protected.get(_H_ALG)
        # kid may travel unprotected (RFC 9052 examples do); it is a hint only, never trusted.
        self.kid = protected.get(_H_KID, unprotected.get(_H_KID))
        self.x5chain = _x5chain_list(protected.get(_H_X5CHAIN))


def _x5chain_list(v):
    # RFC 9360 section 2: one certificate as a bstr, more than one as an array of bstr, leaf first.
    if v is None:
        return []
    if isinstance(v, bytes):
        return [v]
    if isinstance(v, list) and len(v) >= 2:
        for c in v:
            if not isinstance(c, bytes):
                raise DecodeError("x5chain item not a byte string")
        return v
    raise DecodeError("x5chain form")


def sig_structure_digest(protected_raw, external_aad, payload):
    """SHA-256 of Sig_structure = ["Signature1", protected, external_aad, payload] (RFC 9052
    section 4.4), hashed piece by piece so the payload is never copied."""
    h = hashlib.sha256()
    h.update(b"\x84")  # array of four items
    h.update(_CONTEXT)
    for part in (protected_raw, external_aad, payload):
        h.update(cbor.head(_MT_BSTR, len(part)))
        h.update(part)
    return h.digest()


def sig_structure(protected_raw, external_aad, payload):
    """The bytes ToBeSigned, for signers that hash themselves (host tools, offline keys)."""
    return cbor.dumps(["Signature1", protected_raw, external_aad, payload])


def protected_header(kid=None, x5chain=None):
    """Encoded protected header {1: -7, 4: kid, 33: x5chain}."""
    hdr = {_H_ALG: ALG_ES256}
    if kid is not None:
        hdr[_H_KID] = bytes(kid)
    if x5chain:
        certs = [x5chain] if isinstance(x5chain, (bytes, bytearray, memoryview)) else list(x5chain)
        hdr[_H_X5CHAIN] = certs[0] if len(certs) == 1 else certs
    return cbor.dumps(hdr)


def sign1(payload, signer, kid=None, x5chain=None, external_aad=b"", detached=False):
    """A tagged COSE_Sign1 over payload. `signer.sign_digest(digest32)` returns r||s; the private
    key stays with the signer (keystore). x5chain: one DER certificate or a list, leaf first."""
    prot = protected_header(kid, x5chain)
    sig = signer.sign_digest(sig_structure_digest(prot, external_aad, payload))
    if len(sig) != _SIG_LEN:
        raise ValueError("signer returned a signature of the wrong length")
    out = bytearray(b"\xd2\x84")  # tag 18, array of four (RFC 9052 section 4.2)
    cbor.encode_into(out, prot)
    out.append(0xA0)  # empty unprotected header
    if detached:
        out.append(0xF6)  # nil payload (RFC 9052 section 4.1)
    else:
        cbor.encode_into(out, payload)
    cbor.encode_into(out, sig)
    return bytes(out)


def parse_sign1(buf):
    """Decode and check the shape of a COSE_Sign1; raises DecodeError("reason"). The signature is
    not checked here (verify_sign1 does)."""
    try:
        msg = cbor.loads(buf)
    except DecodeError as e:
        raise DecodeError("cbor: " + e.args[0])
    if not isinstance(msg, cbor.Tag) or msg.tag != _TAG_SIGN1:
        raise DecodeError("not a tagged COSE_Sign1")
    items = msg.value
    if not isinstance(items, list) or len(items) != 4:
        raise DecodeError("COSE_Sign1 is not an array of four")
    prot_raw, unprot, payload, sig = items
    if not isinstance(prot_raw, bytes):
        raise DecodeError("protected header not a byte string")
    if not isinstance(unprot, dict):
        raise DecodeError("unprotected header not a map")
    if payload is not None and not isinstance(payload, bytes):
        raise DecodeError("payload not a byte string")
    if not isinstance(sig, bytes):
        raise DecodeError("signature not a byte string")
    # A zero-length protected bstr stands for an empty map (RFC 9052 section 3); without alg it is
    # refused below anyway.
    try:
        prot = cbor.loads(prot_raw) if prot_raw else {}
    except DecodeError as e:
        raise DecodeError("protected header: " + e.args[0])
    if not isinstance(prot, dict):
        raise DecodeError("protected header not a map")
    _check_headers(prot, unprot)
    return Sign1(prot, prot_raw, unprot, payload, sig)


def _check_headers(prot, unprot):
    for label in unprot:
        if label in prot:
            # RFC 9052 section 3: a label must not occur in both buckets.
            raise DecodeError("header label in both buckets")
    if _H_ALG in unprot:
        raise DecodeError("alg in unprotected header")
    if _H_ALG not in prot:
        raise DecodeError("missing alg")
    if prot[_H_ALG] != ALG_ES256:
        raise DecodeError("unsupported alg")
    if _H_CRIT in prot or _H_CRIT in unprot:
        # RFC 9052 section 3.1: crit names extensions the receiver must understand; we have none.
        raise DecodeError("crit not supported")
    if _H_X5CHAIN in unprot:
        # Our chains travel protected; an unprotected one could be swapped in transit.
        raise DecodeError("x5chain in unprotected header")
    kid = prot.get(_H_KID, unprot.get(_H_KID))
    if kid is not None and not isinstance(kid, bytes):
        raise DecodeError("kid not a byte string")


def verify_sign1(msg, public_key, external_aad=b"", payload=None):
    """Check a COSE_Sign1 (bytes or a parsed Sign1) with an SEC 1 P-256 public key (or (x, y)).

    Returns the parsed Sign1; raises DecodeError for a malformed message and InvalidSignature when
    the signature does not match. A detached payload is passed as `payload=`."""
    from meterseal.crypto import ecdsa  # imported here: parsing alone does not need EC code

    m = msg if isinstance(msg, Sign1) else parse_sign1(msg)
    if m.payload is None:
        if payload is None:
            raise DecodeError("detached payload not given")
    elif payload is not None:
        raise DecodeError("payload both attached and given")
    else:
        payload = m.payload
    if len(m.signature) != _SIG_LEN:
        raise InvalidSignature("signature length")
    digest = sig_structure_digest(m.protected_raw, external_aad, payload)
    ecdsa.verify_raw(ecdsa.P256, public_key, digest, m.signature)
    return m
