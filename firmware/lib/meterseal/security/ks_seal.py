# The keystore's entry format: every entry, on every backend, is sealed with AES-CCM
# (NIST SP 800-38C) under a key derived from the board secret and the chip ID, so that an entry
# that was altered, truncated, renamed or copied from another board is refused with a reason.
#
# Entry v1 (all lengths big-endian):
#   "MSKS" | version 1 | kind (1 EC key, 2 secret) | curve (0 none, 1 P-256, 2 brainpoolP256r1)
#   | board key id (8) | name length (1) | name | public length (1) | public key (SEC1, or none)
#   | sealed length (2) | nonce (13) | ciphertext || tag (16)
# Associated data = everything before the ciphertext, plus the chip ID: the name, version and
# board identity are bound to the ciphertext, the public key is stored in clear but
# authenticated. The plaintext is the private scalar or the secret, prefixed with its length and
# zero-padded to _PAD_TO bytes: entries never fit in a littlefs inline file (<= 128 bytes with
# MicroPython's cache size), so each lands in a data block of its own that the erase scrub can
# overwrite (ks_file.py).
#
# The nonce is HMAC-SHA256 over the associated data and the plaintext (a synthetic IV, the idea of
# RFC 5297 section 2.6 with CCM as the cipher): it repeats only when the whole entry repeats, and
# needs no randomness, which the RP2040 cannot vouch for.
from meterseal.compat import const
from meterseal.crypto import ccm, ecdsa
from meterseal.crypto.errors import InvalidTag
from meterseal.crypto.kdf import hkdf_sha256, hmac_sha256

MAGIC = b"MSKS"
VERSION = const(1)
KIND_KEY = const(1)
KIND_SECRET = const(2)
_NONCE = const(13)
_TAG = const(16)
_PAD_TO = const(160)
MAX_NAME = const(32)
MAX_SECRET = const(_PAD_TO - 2)
_ID_LEN = const(8)
CURVES = (None, ecdsa.P256, ecdsa.BRAINPOOLP256R1)  # index = curve byte


class KeystoreError(Exception):
    """A keystore operation refused; args[0] is a short reason: "tampered", "wrong-board",
    "truncated", "exists", "absent", "not-provisioned", "unsupported-curve", "name" (not a valid
    entry name), "size" (secret too long), "full" (32 entries)."""

    @property
    def reason(self):
        return self.args[0]


def check_name(name):
    """Entry names are 1..32 characters of [A-Za-z0-9_.-], not starting with '.': they become
    file names (ks_file.py) and are hashed into 15-character NVS keys (ks_nvs.py)."""
    if not isinstance(name, str) or not 0 < len(name) <= MAX_NAME or name[0] == ".":
        raise KeystoreError("name")
    for ch in name:
        if not (ch.isalpha() or ch.isdigit() or ch in "_.-") or ord(ch) > 126:
            raise KeystoreError("name")


def curve_id(curve):
    for i in range(1, len(CURVES)):
        if CURVES[i] is curve:
            return i
    raise KeystoreError("unsupported-curve")


class Sealer:
    """The board's entry keys: HKDF-SHA256 (RFC 5869) with the board secret as input keying
    material and the chip ID as salt; one info string per use (RFC 5869 section 3.2)."""

    def __init__(self, secret, uid):
        self.uid = bytes(uid)
        self._enc = hkdf_sha256(secret, self.uid, b"meterseal keystore v1 ccm", 16)
        self._siv = hkdf_sha256(secret, self.uid, b"meterseal keystore v1 nonce", 32)
        # A public fingerprint of the board's keys, stored in every entry: it tells a foreign
        # entry ("wrong-board") from a damaged one without revealing anything about the keys.
        self.key_id = hkdf_sha256(secret, self.uid, b"meterseal keystore v1 id", _ID_LEN)

    def seal(self, name, kind, cid, public, value):
        if len(value) > MAX_SECRET:
            raise KeystoreError("size")
        nb = name.encode()
        head = bytearray(MAGIC)
        head.extend(bytes((VERSION, kind, cid)))
        head.extend(self.key_id)
        head.append(len(nb))
        head.extend(nb)
        head.append(len(public))
        head.extend(public)
        head.extend((_PAD_TO + _TAG).to_bytes(2, "big"))
        pt = bytearray(_PAD_TO)
        pt[0:2] = len(value).to_bytes(2, "big")
        pt[2 : 2 + len(value)] = value
        nonce = hmac_sha256(self._siv, bytes(head) + self.uid + bytes(pt))[:_NONCE]
        head.extend(nonce)
        ct = ccm.encrypt(self._enc, nonce, pt, bytes(head) + self.uid, _TAG)
        head.extend(ct)
        return bytes(head)

    def header(self, name, data):
        """(kind, curve id, public key) from an entry's clear header, checked for shape, board
        and name but not yet authenticated (open() does that)."""
        return _parse(self, name, data)[:3]

    def open(self, name, data):
        """(kind, curve id, public key, value) of an authentic entry of this board named `name`;
        KeystoreError("truncated" | "wrong-board" | "tampered") otherwise."""
        kind, cid, public, aad_end, ct_end = _parse(self, name, data)
        mv = memoryview(data)
        try:
            pt = ccm.decrypt(self._enc, mv[aad_end - _NONCE : aad_end], mv[aad_end:ct_end],
                             bytes(mv[:aad_end]) + self.uid, _TAG)
        except InvalidTag:
            raise KeystoreError("tampered")
        n = int.from_bytes(pt[0:2], "big")
        if n > MAX_SECRET:
            raise KeystoreError("tampered")
        return kind, cid, public, bytes(pt[2 : 2 + n])


def _parse(sealer, name, data):
    # Truncation first: every field is read only once its whole length is known to be there.
    n = len(data)
    if n < 16:
        raise KeystoreError("truncated" if MAGIC.startswith(bytes(data[:4])) or n < 4 else "tampered")
    if bytes(data[0:4]) != MAGIC or data[4] != VERSION:
        raise KeystoreError("tampered")
    kind, cid = data[5], data[6]
    if bytes(data[7:15]) != sealer.key_id:
        raise KeystoreError("wrong-board")
    pos = 16 + data[15]
    if n < pos + 1:
        raise KeystoreError("truncated")
    if bytes(data[16:pos]) != name.encode():
        raise KeystoreError("tampered")  # renamed, or another entry's file in its place
    pub_end = pos + 1 + data[pos]
    if n < pub_end + 2:
        raise KeystoreError("truncated")
    public = bytes(data[pos + 1 : pub_end])
    aad_end = pub_end + 2 + _NONCE
    ct_end = aad_end + int.from_bytes(bytes(data[pub_end : pub_end + 2]), "big")
    if n < ct_end:
        raise KeystoreError("truncated")
    if n > ct_end or ct_end - aad_end != _PAD_TO + _TAG:
        raise KeystoreError("tampered")
    if kind == KIND_KEY:
        if not 0 < cid < len(CURVES) or len(public) != 1 + 2 * CURVES[cid].size:
            raise KeystoreError("tampered")
    elif kind != KIND_SECRET or cid or public:
        raise KeystoreError("tampered")
    return kind, cid, public, aad_end, ct_end
