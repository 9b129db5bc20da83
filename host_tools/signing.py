"""Signing on the host: a Signer interface over pyca/cryptography keys, and signed commands.

Everything that signs takes an object with `sign_digest(digest32) -> r||s` and `public_key`
(SEC1 bytes), the same interface the board's keystore offers, so an offline or HSM signer can
replace a key file (imgtool's DigestSigner idea). Commands are built with the firmware's own COSE
and CBOR code: the bytes the board checks are made by the code the board runs.
"""
import time

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

from meterseal.crypto import cose
from meterseal.security import signed_command


class KeySigner:
    """A signer over a cryptography EC private key (P-256 for ES256)."""

    def __init__(self, private_key):
        if not isinstance(private_key, ec.EllipticCurvePrivateKey):
            raise TypeError("an EC private key is required")
        self._key = private_key
        self.size = (private_key.curve.key_size + 7) // 8
        self.public_key = private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)

    def sign_digest(self, digest):
        der = self._key.sign(digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
        r, s = utils.decode_dss_signature(der)
        return r.to_bytes(self.size, "big") + s.to_bytes(self.size, "big")


def new_counter():
    """A counter that grows across runs without state: milliseconds since 1970. A signer that
    keeps its own counter passes it explicitly."""
    return time.time_ns() // 1000000


def sign_command(signer, chain, device_id, command, args=None, counter=None, issued=None):
    """A COSE_Sign1 command for one device. chain: DER certificates, the signer's first."""
    payload = {
        "v": signed_command.FORMAT_VERSION,
        "dev": device_id,
        "cmd": command,
        "args": args or {},
        "ctr": new_counter() if counter is None else counter,
        "iat": int(time.time()) if issued is None else issued,
    }
    from meterseal.crypto import cbor

    return cose.sign1(cbor.dumps(payload), signer, x5chain=list(chain))
