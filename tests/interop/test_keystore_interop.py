"""The keystore's signatures and ECDH against pyca/cryptography (OpenSSL), with the firmware run
both in-process under CPython and as the MicroPython unix port on a simulated board's image."""
import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec as cec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature

from meterseal.hal.sim import Board
from meterseal.security import keystore
from host_tools import frozen

ROOT = Path(__file__).resolve().parents[2]
CURVES = {"P-256": cec.SECP256R1(), "brainpoolP256r1": cec.BrainpoolP256R1()}


def _verify(curve_name, pub, digest, sig):
    key = cec.EllipticCurvePublicKey.from_encoded_point(CURVES[curve_name], pub)
    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    key.verify(der, digest, cec.ECDSA(Prehashed(hashes.SHA256())))  # raises if wrong


def _peer(curve_name, seed):
    d = int.from_bytes(hashlib.sha256(seed).digest(), "big") % 2**255 + 1
    priv = cec.derive_private_key(d, CURVES[curve_name])
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return priv, priv.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)


def test_cpython_keystore_against_cryptography(tmp_path):
    from meterseal.crypto import ecdsa

    b = Board({"board": "esp32", "state_dir": str(tmp_path), "uarts": {}, "keystore": "sim-file"})
    ks = keystore.open(b)
    for curve_name, curve in (("P-256", ecdsa.P256), ("brainpoolP256r1", ecdsa.BRAINPOOLP256R1)):
        name = "k-" + curve_name
        pub = ks.generate(name, curve)
        for i in range(5):
            digest = hashlib.sha256(b"msg %d" % i).digest()
            _verify(curve_name, pub, digest, ks.sign(name, digest))
        for i in range(3):
            priv, peer = _peer(curve_name, b"peer %d" % i)
            mine = cec.EllipticCurvePublicKey.from_encoded_point(CURVES[curve_name], pub)
            assert ks.ecdh(name, peer) == priv.exchange(cec.ECDH(), mine)


_MP_SCRIPT = r"""
import sys, binascii, hashlib
from meterseal.hal.sim import Board
from meterseal.security import keystore
from meterseal.crypto import ecdsa
state, peer_hex = sys.argv[1], sys.argv[2]
b = Board({"board": "esp32", "state_dir": state, "uarts": {}, "keystore": "sim-file",
           "flash": {"fs_bytes": 48 * 4096, "block_bytes": 4096}})
ks = keystore.open(b)
pub = ks.generate("em")
out = {"pub": binascii.hexlify(pub).decode(), "sigs": [],
       "ecdh": binascii.hexlify(ks.ecdh("em", binascii.unhexlify(peer_hex))).decode()}
for i in range(5):
    d = hashlib.sha256(b"msg %d" % i).digest()
    out["sigs"].append(binascii.hexlify(ks.sign("em", d)).decode())
import json
print(json.dumps(out))
"""


def test_micropython_keystore_against_cryptography(tmp_path):
    mp = os.environ.get("MICROPYTHON") or str(ROOT / ".venv" / "bin" / "micropython")
    if not Path(mp).exists():
        pytest.skip("no MicroPython interpreter")
    script = tmp_path / "ks_interop.py"
    script.write_text(_MP_SCRIPT)
    priv, peer = _peer("P-256", b"mp peer")
    env = frozen.mp_env()
    proc = subprocess.run(frozen.mp_command() + [str(script), str(tmp_path), peer.hex()],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    pub = bytes.fromhex(out["pub"])
    for i, sig in enumerate(out["sigs"]):
        _verify("P-256", pub, hashlib.sha256(b"msg %d" % i).digest(), bytes.fromhex(sig))
    mine = cec.EllipticCurvePublicKey.from_encoded_point(CURVES["P-256"], pub)
    assert bytes.fromhex(out["ecdh"]) == priv.exchange(cec.ECDH(), mine)
    # A signature the board did not make fails (the check is not vacuous).
    bad = bytearray(bytes.fromhex(out["sigs"][0]))
    bad[5] ^= 1
    with pytest.raises(Exception):
        _verify("P-256", pub, hashlib.sha256(b"msg 0").digest(), bytes(bad))
