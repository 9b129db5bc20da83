"""Signed commands built on the host.

The signer is any pki_keys.Signer (a key file, an HSM, an offline key) through its
`sign_digest(digest32) -> r||s`, the same method the board's keystore signers offer. Commands are
built with the firmware's own COSE and CBOR code: the bytes the board checks are made by the code
the board runs.
"""
import time

from meterseal.crypto import cose
from meterseal.security import signed_command


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
