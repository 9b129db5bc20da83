"""The firmware's COSE_Sign1 against pycose, and against cbor2 + cryptography rebuilding the
Sig_structure (RFC 9052 section 4.4) independently. Messages are also made under the MicroPython
interpreter, the one that runs on the boards."""
import os
import random
import subprocess
from pathlib import Path

import cbor2
import pytest
from cryptography.exceptions import InvalidSignature as CryInvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pycose.algorithms import Es256
from pycose.headers import KID, Algorithm, X5chain
from pycose.keys import EC2Key
from pycose.keys.curves import P256
from pycose.messages import Sign1Message

from meterseal.crypto import cbor, ecdsa
from meterseal.crypto.cose import parse_sign1, sign1, verify_sign1
from meterseal.crypto.errors import DecodeError, InvalidSignature
from host_tools import frozen

ROOT = Path(__file__).resolve().parents[2]
_D = 0x6C1382765AEC5358F117733D281C1C7BDC39884D04A45A1E6C67C858BC206C19


class _Signer:
    def __init__(self, d):
        self.d = d

    def sign_digest(self, digest):
        return ecdsa.sign_raw(ecdsa.P256, self.d, digest)


def _crypto_key(d):
    return ec.derive_private_key(d, ec.SECP256R1())


def _sec1(priv):
    return priv.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)


def _pycose_key(priv, with_d=False):
    nums = priv.private_numbers() if with_d else None
    pub = priv.public_key().public_numbers()
    return EC2Key(
        crv=P256,
        x=pub.x.to_bytes(32, "big"),
        y=pub.y.to_bytes(32, "big"),
        d=nums.private_value.to_bytes(32, "big") if with_d else b"",
    )


def _check_with_cbor2_cryptography(msg, priv, external_aad=b"", payload=None):
    """Independent verifier: cbor2 to take the message apart, cryptography for ECDSA."""
    tagged = cbor2.loads(msg)
    assert isinstance(tagged, cbor2.CBORTag) and tagged.tag == 18
    prot, unprot, pl, sig = tagged.value
    assert unprot == {}
    assert cbor2.loads(prot)[1] == -7
    if pl is None:
        pl = payload
    tbs = cbor2.dumps(["Signature1", prot, external_aad, pl])
    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    priv.public_key().verify(der, tbs, ec.ECDSA(hashes.SHA256()))  # raises if wrong
    return cbor2.loads(prot)


def _pycose_decode(msg):
    """Sign1Message.decode, minus its outer cbor2 step: with cbor2 6 the contents of a tag decode
    as a tuple holding a frozendict, which pycose 1.1 refuses ("Bytes cannot be decoded as COSE
    message"). Header parsing, Sig_structure and ECDSA stay pycose's own."""
    tagged = cbor2.loads(msg)
    assert isinstance(tagged, cbor2.CBORTag) and tagged.tag == 18
    prot, unprot, payload, sig = tagged.value
    return Sign1Message.from_cose_obj([prot, dict(unprot), payload, sig], True)


def _check_with_pycose(msg, priv, external_aad=b"", payload=None):
    m = _pycose_decode(msg)
    m.key = _pycose_key(priv)
    m.external_aad = external_aad
    if payload is None:
        return m.verify_signature()
    return m.verify_signature(detached_payload=payload)


_CASES = [
    dict(payload=b""),
    dict(payload=b"set_tariff 2", kid=b"op-1"),
    dict(payload=bytes(range(256)) * 2, x5chain=b"\x30\x82\x01\x00" + b"\x01" * 256),
    dict(payload=b"m" * 23, kid=b"k", x5chain=[b"\x30\x10leaf", b"\x30\x10sub-ca", b"\x30\x10root"]),
    dict(payload=b"reading", external_aad=b"\x01\x02meter-17"),
]


@pytest.mark.parametrize("case", range(len(_CASES)))
def test_ours_verifies_elsewhere(case):
    kw = dict(_CASES[case])
    priv = _crypto_key(_D)
    msg = sign1(signer=_Signer(_D), **kw)
    aad = kw.get("external_aad", b"")
    prot = _check_with_cbor2_cryptography(msg, priv, aad)
    assert _check_with_pycose(msg, priv, aad) is True
    if "x5chain" in kw:
        chain = kw["x5chain"]
        assert prot[33] == chain  # a bstr for one certificate, an array for several (RFC 9360 2)
        assert _pycose_decode(msg).phdr[X5chain] == chain
    verify_sign1(msg, _sec1(priv), external_aad=aad)


def test_detached_verifies_elsewhere():
    priv = _crypto_key(_D)
    msg = sign1(b"manifest-digest", _Signer(_D), detached=True)
    _check_with_cbor2_cryptography(msg, priv, payload=b"manifest-digest")
    assert _check_with_pycose(msg, priv, payload=b"manifest-digest") is True


def test_tampered_ours_fails_elsewhere():
    priv = _crypto_key(_D)
    msg = sign1(b"set_clock 1700000000", _Signer(_D), kid=b"sm")
    prot_len = msg[2] & 0x1F
    for i in list(range(3, 3 + prot_len)) + list(range(len(msg) - 84, len(msg))):
        t = bytearray(msg)
        t[i] ^= 0x04
        # The independent checker may trip on the shape first (assertion, decode error) or on
        # the signature; what matters is that it never returns.
        with pytest.raises((CryInvalidSignature, AssertionError, ValueError, KeyError, TypeError,
                            cbor2.CBORDecodeError)):
            _check_with_cbor2_cryptography(bytes(t), priv)
        with pytest.raises((DecodeError, InvalidSignature)):
            verify_sign1(bytes(t), _sec1(priv))


_MP_SNIPPET = """
import binascii
from meterseal.crypto import ecdsa
from meterseal.crypto.cose import sign1
class S:
    def sign_digest(self, digest):
        return ecdsa.sign_raw(ecdsa.P256, %d, digest)
for n in (0, 1, 24, 300):
    m = sign1(bytes(range(n %% 256)) * (1 + n // 256), S(), kid=b"mp", x5chain=[b"leaf", b"ca"],
              external_aad=b"aad")
    print(binascii.hexlify(m).decode())
"""


def _micropython(code):
    env = frozen.mp_env()
    out = subprocess.run(
        frozen.mp_command() + ["-c", code],
        capture_output=True, text=True, timeout=300, env=env,
    )
    assert out.returncode == 0, out.stderr + out.stdout
    return out.stdout


def test_made_under_micropython_verifies_elsewhere():
    priv = _crypto_key(_D)
    lines = _micropython(_MP_SNIPPET % _D).split()
    assert len(lines) == 4
    for n, hx in zip((0, 1, 24, 300), lines):
        msg = bytes.fromhex(hx)
        payload = bytes(range(n % 256)) * (1 + n // 256)
        # RFC 6979: CPython and MicroPython give the very same bytes.
        assert msg == sign1(payload, _Signer(_D), kid=b"mp", x5chain=[b"leaf", b"ca"], external_aad=b"aad")
        _check_with_cbor2_cryptography(msg, priv, b"aad")
        assert _check_with_pycose(msg, priv, b"aad") is True


def _pycose_sign1(priv, payload, kid_protected=True, x5chain=None):
    phdr = {Algorithm: Es256}
    uhdr = {}
    if kid_protected:
        phdr[KID] = b"pycose"
    else:
        uhdr[KID] = b"pycose"
    if x5chain is not None:
        phdr[X5chain] = x5chain
    m = Sign1Message(phdr=phdr, uhdr=uhdr, payload=payload)
    m.key = _pycose_key(priv, with_d=True)
    return m.encode()


def test_pycose_made_verifies_with_ours():
    rng = random.Random(9052)
    for i in range(12):
        priv = ec.generate_private_key(ec.SECP256R1())
        payload = rng.randbytes(rng.choice((0, 5, 100, 400)))
        chain = [b"leaf-der", b"ca-der"] if i % 3 == 0 else (b"one-der" if i % 3 == 1 else None)
        msg = _pycose_sign1(priv, payload, kid_protected=i % 2 == 0, x5chain=chain)
        m = verify_sign1(msg, _sec1(priv))
        assert m.payload == payload and m.kid == b"pycose"
        assert m.x5chain == ([] if chain is None else ([chain] if isinstance(chain, bytes) else chain))
        other = ec.generate_private_key(ec.SECP256R1())
        with pytest.raises(InvalidSignature):
            verify_sign1(msg, _sec1(other))
        t = bytearray(msg)
        t[-1 - rng.randrange(64)] ^= 1 << rng.randrange(8)
        with pytest.raises(InvalidSignature):
            verify_sign1(bytes(t), _sec1(priv))


def test_cryptography_signed_verifies_with_ours_under_micropython():
    # Randomised ECDSA signatures (not RFC 6979) in a message assembled with cbor2, checked by the
    # firmware code on the MicroPython interpreter; one of them tampered.
    lines = []
    for i in range(4):
        priv = ec.generate_private_key(ec.SECP256R1())
        prot = cbor2.dumps({1: -7, 4: b"c%d" % i})
        payload = os.urandom(50 + i)
        der = priv.sign(cbor2.dumps(["Signature1", prot, b"", payload]), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        msg = cbor2.dumps(cbor2.CBORTag(18, [prot, {}, payload, r.to_bytes(32, "big") + s.to_bytes(32, "big")]))
        verify_sign1(msg, _sec1(priv))
        if i == 3:
            msg = msg[:-1] + bytes((msg[-1] ^ 1,))
        lines.append((msg.hex(), _sec1(priv).hex()))
    code = (
        "import binascii\nfrom meterseal.crypto.cose import verify_sign1\n"
        "from meterseal.crypto.errors import InvalidSignature\n"
        "for m, k in %r:\n"
        "    try:\n"
        "        verify_sign1(binascii.unhexlify(m), binascii.unhexlify(k)); print('ok')\n"
        "    except InvalidSignature:\n"
        "        print('bad')\n" % (lines,)
    )
    assert _micropython(code).split() == ["ok", "ok", "ok", "bad"]


def test_parse_fields_match_pycose():
    priv = _crypto_key(_D)
    msg = sign1(b"payload", _Signer(_D), kid=b"kid", x5chain=[b"a", b"b"])
    ours = parse_sign1(msg)
    theirs = _pycose_decode(msg)
    assert ours.payload == theirs.payload
    assert ours.signature == theirs.signature
    assert ours.kid == theirs.phdr[KID]
    assert ours.x5chain == theirs.phdr[X5chain]
    assert ours.protected == cbor.loads(theirs.phdr_encoded)
    assert _check_with_pycose(msg, priv) is True
