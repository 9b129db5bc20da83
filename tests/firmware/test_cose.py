# COSE_Sign1 (RFC 9052) with ES256 and x5chain (RFC 9360): cose-wg Examples vectors, our own
# messages, every structural rejection and tampering. Runs under CPython and MicroPython.
from mptest import raises, unhex

from meterseal.crypto import cbor, ecdsa
from meterseal.crypto.cose import (
    Sign1, parse_sign1, protected_header, sig_structure, sig_structure_digest, sign1, verify_sign1,
)
from meterseal.crypto.errors import DecodeError, InvalidSignature

# Key "11" of the cose-wg Examples repository (P-256), x/y/d decoded from its base64url JWK.
_D11 = 0x57C92077664146E876760C9520D054AA93C3AFB04E306705DB6090308507B4D3
_PUB11 = unhex(
    "04bac5b11cad8f99f9c72b05cf4b9e26d244dc189f745228255a219a86d6a09eff"
    "20138bf82dc1b6d562be0fa54ab7804a3a64b6d72ccfed6b6fb6ed28bbfc117e"
)
_CONTENT = b"This is the content."
_CONTENT_HEX = "546869732069732074686520636f6e74656e742e"
# cose-wg/Examples sign1-tests/sign-pass-03.json ("Remove CBOR Tag"), here with its tag 18 back:
# protected {1: -7}, unprotected {4: '11'}.
_SIG_PASS = (
    "eae868ecc176883766c5dc5ba5b8dca25dab3c2e56a551ce5705b793914348e1"
    "9f43d6c6ba654472da301b645b293c9ba939295b97c4bdb847782bff384c5794"
)
_EX_TAGGED = "d28443a10126a104423131" + "54" + _CONTENT_HEX + "5840" + _SIG_PASS
# sign1-tests/sign-pass-02.json: external_aad 11aa22bb33cc44dd55006699.
_EX_EXTERNAL = (
    "d28443a10126a104423131" + "54" + _CONTENT_HEX + "5840"
    "eae868ecc176883766c5dc5ba5b8dca25dab3c2e56a551ce5705b793914348e1"
    "55388b10c4f1b59a6733eab416870a945111a4b2fbdbef33a77234b1deff2f9b"
)
# ecdsa-examples/ecdsa-sig-01.json: protected {1: -7, 3: 0}.
_EX_CTYP = (
    "d28445a201260300a104423131" + "54" + _CONTENT_HEX + "5840"
    "eae868ecc176883766c5dc5ba5b8dca25dab3c2e56a551ce5705b793914348e1"
    "72727f48461fabbba2e343492ddecac3983686250bc68e9f1a7a07d41225b59f"
)
# sign1-tests/sign-fail-02.json: last payload byte changed after signing.
_EX_FAIL_PAYLOAD = "d28443a10126a104423131" + "54" + _CONTENT_HEX[:-2] + "2f5840" + _SIG_PASS
# sign1-tests/sign-pass-03.json as published (untagged) and sign-pass-01.json (protected h'A0',
# alg only unprotected): valid COSE, but outside what MeterSeal accepts.
_EX_UNTAGGED = _EX_TAGGED[2:]
_EX_ALG_UNPROTECTED = (
    "d28441a0a201260442313154" + _CONTENT_HEX + "5840"
    "eae868ecc176883766c5dc5ba5b8dca25dab3c2e56a551ce5705b793914348e1"
    "1a02e5f0344bf2d4ee5c7fd75a68a9f5e0b3cc1f1fc1409c189566586ff9d610"
)


class _Signer:
    """Stands in for the keystore: holds d, hands out only signatures."""

    def __init__(self, d):
        self._d = d

    def sign_digest(self, digest):
        return ecdsa.sign_raw(ecdsa.P256, self._d, digest)


_D = 0xC9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721  # RFC 6979 A.2.5 key
_SIGNER = _Signer(_D)
_PUB = ecdsa.encode_point(ecdsa.P256, ecdsa.public_point(ecdsa.P256, _D))
_LEAF = b"\x30\x82\x01\x10" + b"\x11" * 60  # stand-ins for DER certificates: cose only carries them
_CA = b"\x30\x82\x01\x20" + b"\x22" * 50


def test_cose_wg_examples_verify():
    m = verify_sign1(unhex(_EX_TAGGED), _PUB11)
    assert m.payload == _CONTENT and m.kid == b"11" and m.alg == -7 and m.x5chain == []
    assert m.protected == {1: -7} and m.unprotected == {4: b"11"}
    verify_sign1(unhex(_EX_EXTERNAL), _PUB11, external_aad=unhex("11aa22bb33cc44dd55006699"))
    verify_sign1(unhex(_EX_CTYP), _PUB11)


def test_cose_wg_examples_refused():
    with raises(InvalidSignature):
        verify_sign1(unhex(_EX_EXTERNAL), _PUB11)  # external_aad missing
    with raises(InvalidSignature):
        verify_sign1(unhex(_EX_FAIL_PAYLOAD), _PUB11)
    with raises(InvalidSignature):
        verify_sign1(unhex(_EX_TAGGED), _PUB)  # someone else's key
    with raises(DecodeError, match="not a tagged"):
        verify_sign1(unhex(_EX_UNTAGGED), _PUB11)
    with raises(DecodeError, match="alg in unprotected"):
        verify_sign1(unhex(_EX_ALG_UNPROTECTED), _PUB11)


def test_sig_structure_matches_examples():
    # The ToBeSign_hex intermediates of sign-pass-02 and sign-pass-01.
    tbs = sig_structure(unhex("a10126"), unhex("11aa22bb33cc44dd55006699"), _CONTENT)
    assert tbs == unhex("846a5369676e61747572653143a101264c11aa22bb33cc44dd55006699" "54" + _CONTENT_HEX)
    assert sig_structure(b"\xa0", b"", _CONTENT) == unhex("846a5369676e617475726531" "41a0" "40" "54" + _CONTENT_HEX)
    import hashlib

    # Payloads with a one- and a two-byte length head, hashed piece by piece (300 = 0x012c).
    for n, hd in ((30, "581e"), (300, "59012c")):
        big = bytearray(n)
        h = hashlib.sha256(unhex("846a5369676e617475726531" "41a0" "40" + hd))
        h.update(big)
        assert sig_structure_digest(b"\xa0", b"", memoryview(big)) == h.digest()


def test_sign1_layout():
    msg = sign1(b"hello", _SIGNER)
    # tag 18, array of 4, bstr(3) {1: -7}, {}, bstr(5) payload, bstr(64) signature
    assert msg[:12] == unhex("d28443a10126a045") + b"hell"
    assert msg[13:15] == unhex("5840") and len(msg) == 15 + 64
    assert sign1(b"hello", _SIGNER) == msg  # RFC 6979 nonces: the same input gives the same bytes
    m = verify_sign1(msg, _PUB)
    assert isinstance(m, Sign1) and m.payload == b"hello" and m.unprotected == {}


def test_sign1_kid_and_x5chain():
    assert protected_header(kid=b"k1") == unhex("a2012604426b31")
    one = protected_header(x5chain=_LEAF)
    assert one == cbor.dumps({1: -7, 33: _LEAF}) and one[3:5] == unhex("1821")
    assert protected_header(x5chain=[_LEAF]) == one
    two = protected_header(kid=b"k", x5chain=[_LEAF, _CA])
    assert cbor.loads(two) == {1: -7, 4: b"k", 33: [_LEAF, _CA]}
    for chain, want in ((_LEAF, [_LEAF]), ([_LEAF, _CA], [_LEAF, _CA])):
        msg = sign1(b"cmd", _SIGNER, kid=b"k", x5chain=chain)
        m = verify_sign1(msg, _PUB)
        assert m.x5chain == want and m.kid == b"k"
        assert m.protected_raw == protected_header(kid=b"k", x5chain=chain)


def test_external_aad_and_detached():
    msg = sign1(b"reading", _SIGNER, external_aad=b"ctx")
    verify_sign1(msg, _PUB, external_aad=b"ctx")
    with raises(InvalidSignature):
        verify_sign1(msg, _PUB)
    det = sign1(b"image-digest", _SIGNER, detached=True)
    m = parse_sign1(det)
    assert m.payload is None
    verify_sign1(m, _PUB, payload=b"image-digest")
    verify_sign1(det, _PUB, payload=memoryview(b"xximage-digest")[2:])
    with raises(InvalidSignature):
        verify_sign1(det, _PUB, payload=b"image-digesT")
    with raises(DecodeError, match="detached payload not given"):
        verify_sign1(det, _PUB)
    with raises(DecodeError, match="both"):
        verify_sign1(msg, _PUB, payload=b"reading")


def _forge(prot, unprot, payload=b"p", tag=18, extra=None, sig=None):
    """A COSE_Sign1-like item with a valid signature over whatever protected bytes it carries, so
    that only the rule under test can make it fail."""
    prot_raw = prot if isinstance(prot, bytes) else cbor.dumps(prot)
    if sig is None:
        pl = payload if isinstance(payload, bytes) else b""
        sig = _SIGNER.sign_digest(sig_structure_digest(prot_raw, b"", pl))
    items = [prot_raw, unprot, payload, sig]
    if extra is not None:
        items = items + extra if extra else items[:3]
    return cbor.dumps(cbor.Tag(tag, items) if tag is not None else items)


def test_forge_helper_makes_valid_messages():
    verify_sign1(_forge({1: -7}, {}), _PUB)
    verify_sign1(_forge({1: -7}, {4: b"x", "note": "unprotected, allowed"}), _PUB)


def test_structural_rejections():
    cases = [
        (_forge({1: -7}, {}, tag=98), "not a tagged"),
        (_forge({1: -7}, {}, tag=None), "not a tagged"),
        (_forge({1: -7}, {}, extra=[b""]), "array of four"),
        (_forge({1: -7}, {}, extra=[]), "array of four"),
        (cbor.dumps(cbor.Tag(18, {1: 2})), "array of four"),
        (_forge({4: b"k"}, {}), "missing alg"),
        (_forge(b"", {}), "missing alg"),
        (_forge({4: b"k"}, {1: -7}), "alg in unprotected"),
        (_forge({1: -7}, {1: -7}), "both buckets"),
        (_forge({1: -7, 4: b"k"}, {4: b"k"}), "both buckets"),
        (_forge({1: -35}, {}), "unsupported alg"),
        (_forge({1: "ES256"}, {}), "unsupported alg"),
        (_forge({1: -7, 2: [4]}, {}), "crit"),
        (_forge({1: -7}, {33: _LEAF}), "x5chain in unprotected"),
        (_forge({1: -7, 33: [_LEAF]}, {}), "x5chain form"),
        (_forge({1: -7, 33: 5}, {}), "x5chain form"),
        (_forge({1: -7, 33: [_LEAF, "ca"]}, {}), "x5chain item"),
        (_forge({1: -7, 4: "k"}, {}), "kid not a byte string"),
        (_forge({1: -7}, {}, payload="text"), "payload not a byte string"),
        (_forge({1: -7}, {}, payload=[b"p"]), "payload not a byte string"),
        (_forge({1: -7}, [], payload=b"p"), "unprotected header not a map"),
        (_forge({1: -7}, {}, sig="sig"), "signature not a byte string"),
        (cbor.dumps(cbor.Tag(18, [{1: -7}, {}, b"p", b"s" * 64])), "protected header not a byte"),
        (_forge(cbor.dumps([1, -7]), {}), "protected header not a map"),
        (_forge(b"\xa2\x04\x41k\x01\x26", {}), "protected header: unsorted"),
        (_forge(b"\xa1\x01\x26\x00", {}), "protected header: trailing"),
        (_forge({1: -7}, {}) + b"\x00", "cbor: trailing"),
        (_forge({1: -7}, {})[:-1], "cbor: truncated"),
    ]
    for buf, reason in cases:
        with raises(DecodeError, match=reason):
            verify_sign1(buf, _PUB)


def test_signature_length_and_signer_checks():
    with raises(InvalidSignature, match="length"):
        verify_sign1(_forge({1: -7}, {}, sig=b"\x01" * 63), _PUB)
    with raises(InvalidSignature):
        verify_sign1(_forge({1: -7}, {}, sig=b"\x00" * 64), _PUB)

    class Short:
        def sign_digest(self, digest):
            return b"\x01" * 70

    with raises(ValueError, match="wrong length"):
        sign1(b"x", Short())


def test_tamper_every_byte():
    msg = sign1(b"set_tariff:2;counter=17;t=1700000000", _SIGNER, kid=b"op1", x5chain=[_LEAF, _CA])
    verify_sign1(msg, _PUB)
    prot_end = 2 + 3 + len(protected_header(kid=b"op1", x5chain=[_LEAF, _CA]))
    sig_start = len(msg) - 64
    for i in range(len(msg)):
        for flip in (0x01, 0x80):
            t = bytearray(msg)
            t[i] ^= flip
            try:
                verify_sign1(bytes(t), _PUB)
            except (DecodeError, InvalidSignature) as e:
                # Inside the protected header contents, the payload and the signature the
                # structure often stays valid: then it must be the signature that fails.
                if i >= sig_start or (prot_end + 3 <= i < sig_start - 2):
                    assert isinstance(e, InvalidSignature), (i, e)
                continue
            raise AssertionError("tampered byte %d accepted" % i)
