# Sealed readings (meterseal.security.sealed): the public EDL40 vectors of the S.A.F.E.
# Transparenzsoftware (tests/vectors/sml/edl40.json) verify and their blocks are rebuilt byte for
# byte (our own seals and tampering: test_sealed_seal.py).
# Runs under CPython and MicroPython.
import binascii
import hashlib

from mptest import raises, unhex

from meterseal.proto import sml
from meterseal.security import sealed
from meterseal.crypto import ecdsa  # noqa: F401  (sealed imports it lazily; compile it while the heap is whole)
from meterseal.crypto.errors import InvalidSignature

def _vectors(*names):
    import json

    d = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
    with open(d + "/../vectors/sml/edl40.json") as f:
        v = json.load(f)
    return [v[n] for n in names]


def _b64(s):
    return binascii.a2b_base64(s)


def test_edl1_digest_vector():
    (v,) = _vectors("EDL-1")
    key, sig, digest = _b64(v["public_key_b64"]), _b64(v["signature_b64"]), unhex(v["block_sha256"])
    assert len(key) == 48 and len(sig) == 50 and sig[-2:] == b"\x00\x6c"
    sealed.verify_digest(digest, sig, key)
    bad = bytearray(sig)
    bad[5] ^= 1
    with raises(InvalidSignature, match="signature does not match"):
        sealed.verify_digest(digest, bad, key)
    with raises(InvalidSignature, match="signature does not match"):
        sealed.verify_digest(b"\x00" + digest[1:], sig, key)
    # P-192 uses only the first 24 digest bytes (ECDSA bits2int): the tail is not signed.
    sealed.verify_digest(digest[:24] + bytes(8), sig, key)


def test_edl2_file_and_block():
    (v,) = _vectors("EDL-2")
    frame, key = _b64(v["sml_b64"]), unhex(v["public_key_hex"])
    head, digest = unhex(v["block_bytes_0_41_hex"].replace(" ", "")), unhex(v["block_sha256"])
    del v
    (res,) = sealed.verify_sealed(frame, key)
    block = sealed.build_block(res)
    assert len(block) == 320 and block[:41] == head
    assert block[41:53] == b"abcdefgh-123" and block[53:169] == bytes(116)
    assert block[169:173] == unhex("219b855b") and block[173:] == bytes(147)
    assert hashlib.sha256(block).digest() == digest
    # A block built from the same values (not from the file) is byte-identical.
    mine = sealed.make_reading(
        server_id=res.server_id, value_wh=2918, scaler=-1, status=0x010108,
        time=sml.Time(sml.Time.LOCAL, 1535475457, 60, 60), seconds_index=340285, pagination=65,
        contract_id=b"abcdefgh-123", contract_time=sml.Time(sml.Time.LOCAL, 1535475457, 60, 60))
    assert sealed.build_block(mine, emoc=False, logbook=b"\x00\x0a") == block
    bad = bytearray(frame)
    bad[100] ^= 0x10
    with raises(InvalidSignature, match="sml: crc"):
        sealed.verify_sealed(bad, key)


def test_easymeter_and_signature_only_p192():
    ez, so = _vectors("easymeter_p192", "signature_only_p192")
    key = unhex(ez["public_key_hex"])
    for h in ez["sml_hex"].values():
        sealed.verify_sealed(unhex(h), key)
    key = _b64(so["public_key_b64"])
    for c in so["cases"].values():
        block = _b64(c["block_b64"])
        sealed.verify_digest(hashlib.sha256(block).digest(), _b64(c["signature_b64"]), key)
