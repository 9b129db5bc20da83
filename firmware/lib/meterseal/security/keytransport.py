# The formats that bind a board's keys during provisioning (docs/pki.md, docs/provisioning.md).
# Shared by the board (roles/provisioning.py) and the host (host_tools/provision.py).
#
# Proof of possession, for a host challenge c (32 bytes), raw r||s signatures by the em key:
#   pop_em     = ECDSA-P256(em, SHA-256("MeterSeal proof of possession v1" 00 || c || pub_em))
#   kx_binding = ECDSA-P256(em, SHA-256("MeterSeal key agreement key v1" 00 || c || pub_kx))
# Symmetric keys travel wrapped (K5): the host makes an ephemeral P-256 key e and sends
#   {name, eph: pub_e, wrapped: AES-KW(KEK, key)}   with
#   KEK = HKDF-SHA256(ikm = ECDH(e, kx).x, salt = "", info = "MeterSeal key wrap v1" 00 || device ID)
import hashlib

from meterseal.crypto.kdf import hkdf_sha256

POP_LABEL = b"MeterSeal proof of possession v1\x00"
KX_LABEL = b"MeterSeal key agreement key v1\x00"
WRAP_INFO = b"MeterSeal key wrap v1\x00"


def pop_digest(label, challenge, public_key):
    return hashlib.sha256(label + bytes(challenge) + bytes(public_key)).digest()


def wrap_kek(shared_x, device_id):
    return hkdf_sha256(bytes(shared_x), b"", WRAP_INFO + device_id.encode(), 16)
