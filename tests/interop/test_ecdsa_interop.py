"""meterseal.crypto.ecdsa against pyca/cryptography (OpenSSL), both directions.

Our signatures (raw and DER) must verify in cryptography and cryptography's must verify with
ours, on P-256 and brainpoolP256r1 (P-192: OpenSSL-made signatures, which we only verify).
A few signatures are made by the MicroPython interpreter itself so that the code the boards
run is the one OpenSSL checks.
"""
import hashlib
import json
import os
import random
import subprocess
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature as CryInvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec as cec
from cryptography.hazmat.primitives.asymmetric.utils import (
    Prehashed,
    decode_dss_signature,
    encode_dss_signature,
)

from meterseal.crypto import ecdsa
from meterseal.crypto.errors import InvalidSignature
from host_tools import frozen

ROOT = Path(__file__).resolve().parents[2]
N = int(os.environ.get("METERSEAL_FUZZ_SCALE", "1")) * 24
PAIRS = [
    (ecdsa.P256, cec.SECP256R1()),
    (ecdsa.BRAINPOOLP256R1, cec.BrainpoolP256R1()),
]
ALGO = cec.ECDSA(Prehashed(hashes.SHA256()))


def _key(ccurve, rng, curve):
    d = rng.randrange(1, curve.n)
    return d, cec.derive_private_key(d, ccurve)


def _pub_bytes(priv):
    return priv.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


@pytest.mark.parametrize("curve,ccurve", PAIRS + [(ecdsa.P192, cec.SECP192R1())],
                         ids=lambda x: getattr(x, "name", ""))
def test_curve_parameters_match_openssl(curve, ccurve):
    d, priv = _key(ccurve, random.Random(1), curve)
    nums = priv.public_key().public_numbers()
    assert ecdsa.public_point(curve, d) == (nums.x, nums.y)
    g = cec.derive_private_key(1, ccurve).public_key().public_numbers()
    assert (curve.gx, curve.gy) == (g.x, g.y)
    assert ecdsa.decode_point(curve, _pub_bytes(priv)) == (nums.x, nums.y)
    compressed = priv.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
    assert ecdsa.encode_point(curve, (nums.x, nums.y), compressed=True) == compressed


@pytest.mark.parametrize("curve,ccurve", PAIRS, ids=lambda x: getattr(x, "name", ""))
def test_ours_verify_in_openssl(curve, ccurve):
    rng = random.Random("ours" + curve.name)
    for i in range(N):
        d, priv = _key(ccurve, rng, curve)
        digest = hashlib.sha256(rng.randbytes(rng.randrange(0, 100))).digest()
        sig = ecdsa.sign_raw(curve, d, digest)
        r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
        der = ecdsa.sig_raw_to_der(sig, 32)
        assert der == encode_dss_signature(r, s)
        priv.public_key().verify(der, digest, ALGO)
        with pytest.raises(CryInvalidSignature):
            priv.public_key().verify(der, hashlib.sha256(digest).digest(), ALGO)


@pytest.mark.parametrize("curve,ccurve", PAIRS + [(ecdsa.P192, cec.SECP192R1())],
                         ids=lambda x: getattr(x, "name", ""))
def test_openssl_verify_in_ours(curve, ccurve):
    rng = random.Random("theirs" + curve.name)
    size = curve.size
    for i in range(N):
        _, priv = _key(ccurve, rng, curve)
        pub = _pub_bytes(priv)
        digest = hashlib.sha256(rng.randbytes(rng.randrange(0, 100))).digest()
        der = priv.sign(digest, ALGO)
        ecdsa.verify_der(curve, pub, digest, der)
        raw = ecdsa.sig_der_to_raw(der, size)
        r, s = decode_dss_signature(der)
        assert raw == r.to_bytes(size, "big") + s.to_bytes(size, "big")
        ecdsa.verify_raw(curve, pub, digest, raw)
        with pytest.raises(InvalidSignature):
            ecdsa.verify_raw(curve, pub, hashlib.sha256(digest).digest(), raw)
        # Flip a bit of the first byte: P-192 uses only the leftmost 192 bits of the digest.
        with pytest.raises(InvalidSignature):
            ecdsa.verify_der(curve, pub, bytes((digest[0] ^ 1,)) + digest[1:], der)


_MP_SNIPPET = r"""
import sys, json, binascii
from meterseal.crypto import ecdsa
jobs = json.loads(sys.stdin.read())
out = []
for name, d, digest in jobs:
    c = {"secp256r1": ecdsa.P256, "brainpoolP256r1": ecdsa.BRAINPOOLP256R1}[name]
    d = int(d, 16)
    sig = ecdsa.sign_raw(c, d, binascii.unhexlify(digest))
    pub = ecdsa.encode_point(c, ecdsa.public_point(c, d), True)
    out.append([binascii.hexlify(sig).decode(), binascii.hexlify(pub).decode()])
print(json.dumps(out))
"""


def test_micropython_signatures_verify_in_openssl():
    mp = os.environ.get("MICROPYTHON") or str(ROOT / ".venv" / "bin" / "micropython")
    rng = random.Random("micropython")
    jobs, keys = [], []
    for curve, ccurve in PAIRS:
        for _ in range(4):
            d, priv = _key(ccurve, rng, curve)
            digest = hashlib.sha256(rng.randbytes(40)).digest()
            jobs.append([curve.name, "%x" % d, digest.hex()])
            keys.append((curve, priv, digest))
    env = frozen.mp_env()
    res = subprocess.run(frozen.mp_command() + ["-c", _MP_SNIPPET], input=json.dumps(jobs),
                         capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert len(out) == len(jobs)
    for (curve, priv, digest), (sig, pub) in zip(keys, out):
        sig = bytes.fromhex(sig)
        r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
        priv.public_key().verify(encode_dss_signature(r, s), digest, ALGO)
        expect = priv.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
        assert bytes.fromhex(pub) == expect
        # Same bytes as the CPython build of the same code (RFC 6979 is deterministic).
        assert ecdsa.sign_raw(curve, priv.private_numbers().private_value, digest) == sig
