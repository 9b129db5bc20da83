# The board keystore (architecture.md "Keys", issue 5 items 5 and 7): key pairs generated on the
# board, symmetric secrets, and nothing that ever returns a private key.
#
#   ks = keystore.open(board)        # backend from board.json "keystore", as pyserial picks a
#                                    # handler by URL scheme
#   pub = ks.generate("em")          # SEC1 uncompressed public key; "exists" if already there
#   ks.signer("em").sign_digest(h)   # r||s, for cose.sign1 and sealed readings
#   ks.ecdh("em", peer_pub)          # 32-byte shared x-coordinate (SEC 1 3.3.1)
#   ks.put_secret("KEY_M-Bus", k); ks.get_secret("KEY_M-Bus")
#   ks.status()                      # "empty" | "ok" | "damaged: <reason>"
#   ks.erase()                       # everything, and the old copies the medium lets us reach
#
# Every entry is sealed the same way on every backend (ks_seal.py); a backend only stores blobs
# (ks_file.py: files on board.storage; ks_nvs.py: ESP32 NVS through the hal). A damaged keystore
# (an entry tampered with, truncated, or from another board) is reported by status() and refuses
# every use of key material ("not-provisioned", or the entry's own reason) until erase(): the
# board says it is not provisioned rather than sign with keys it cannot vouch for.
#
# Private scalars: read from the store, decrypted, used for one signature or one ECDH, dropped.
# Python cannot wipe an int or bytes, so a freed copy stays in the heap until reused; nothing
# here keeps a reference, returns one, or prints one.
from meterseal.compat import const
from meterseal.crypto import ec, ecdsa
from meterseal.security import ks_seal
from meterseal.security.ks_seal import KIND_KEY, KIND_SECRET, KeystoreError

__all__ = ("KeystoreError", "Keystore", "Signer", "open")

_NVS_NAMESPACE = "meterseal-ks"
# A board holds a handful of entries (its key pairs, a few symmetric keys); the bound keeps the
# name and public-key tables of an open keystore within a few KB of a 128 KiB heap.
_MAX_ENTRIES = const(32)


def open(board):  # noqa: A001  (keystore.open(board), like serial_for_url)
    """The board's keystore, backend chosen by board.json "keystore"."""
    kind = board.config.get("keystore")
    if kind == "esp32-nvs":
        from meterseal.security.ks_nvs import NvsStore

        store = NvsStore(board.secure_blobs(_NVS_NAMESPACE))
    elif kind == "encrypted-file" or kind == "sim-file":
        # The simulator's board secret is its eFuse file, the RP2040's /data/.secret (hal).
        from meterseal.security.ks_file import FileStore

        store = FileStore(board.storage)
    else:
        raise ValueError("board.json: unknown keystore %r (expected 'esp32-nvs', "
                         "'encrypted-file' or 'sim-file')" % (kind,))
    return Keystore(store, board.secret(), board.unique_id(), board.random_bytes)


class Signer:
    """What cose.sign1 and the sealed-reading code take: sign_digest(digest32) -> r||s and
    public_key (SEC1). It holds the keystore and the entry name, never the key."""

    def __init__(self, ks, name):
        self._ks = ks
        self.name = name
        self.public_key = ks.public_key(name)

    def sign_digest(self, digest):
        return self._ks.sign(self.name, digest)


class Keystore:
    def __init__(self, store, secret, uid, randbytes):
        self._store = store
        self._sealer = ks_seal.Sealer(secret, uid)
        self._rand = randbytes
        if store.erasing():
            self._finish_erase()  # a power loss cut an erase short: finish it first (U3)
        self._scan()

    # -- state ---------------------------------------------------------------------------

    def _scan(self):
        """Authenticate every entry; remember kinds and public keys, and the first damage."""
        self._kinds = {}
        self._pubs = {}
        self._bad = {}
        for name in self._store.names():
            data = self._store.read(name)
            if data is None:
                continue  # listed but gone (ks_nvs index ahead of a cut-short delete)
            try:
                ks_seal.check_name(name)
                kind, _, pub, _ = self._sealer.open(name, data)
            except KeystoreError as e:
                self._bad[name] = "tampered" if e.reason == "name" else e.reason
                continue
            self._kinds[name] = kind
            if kind == KIND_KEY:
                self._pubs[name] = pub

    def _damage(self):
        for name in sorted(self._bad):
            return self._bad[name]
        return None

    def status(self):
        """ "empty", "ok" or "damaged: <reason>" for the store as it is now (re-read)."""
        self._scan()
        bad = self._damage()
        if bad is not None:
            return "damaged: " + bad
        return "ok" if self._kinds else "empty"

    def names(self):
        return sorted(list(self._kinds) + list(self._bad))

    def has(self, name):
        return name in self._kinds

    def _check_use(self, name):
        ks_seal.check_name(name)
        if name in self._bad:
            raise KeystoreError(self._bad[name])
        if self._bad:
            raise KeystoreError("not-provisioned")

    def _load(self, name):
        data = self._store.read(name)
        if data is None:
            raise KeystoreError("absent")
        try:
            return self._sealer.open(name, data)
        except KeystoreError as e:
            self._bad[name] = e.reason  # changed since the scan: refuse from now on
            raise

    def _put(self, name, kind, cid, pub, value):
        if name not in self._kinds and len(self._kinds) >= _MAX_ENTRIES:
            raise KeystoreError("full")
        data = self._sealer.seal(name, kind, cid, pub, value)
        self._store.write(name, data)
        self._kinds[name] = kind
        if pub:
            self._pubs[name] = pub

    # -- key pairs -------------------------------------------------------------------------

    def generate(self, name, curve=ecdsa.P256):
        """Make a key pair on the board and store it; returns the SEC1 uncompressed public key.
        Refuses ("exists") to replace any entry: a calibrated key goes only with erase()."""
        self._check_use(name)
        cid = ks_seal.curve_id(curve)
        if name in self._kinds or self._store.read(name) is not None:
            raise KeystoreError("exists")
        d = ecdsa.generate_private(curve, self._rand)  # FIPS 186-5 A.2.2, uniform in [1, n-1]
        pub = ecdsa.encode_point(curve, ecdsa.public_point(curve, d))
        self._put(name, KIND_KEY, cid, pub, d.to_bytes(curve.size, "big"))
        return pub

    def public_key(self, name):
        self._check_use(name)
        pub = self._pubs.get(name)
        if pub is None:
            raise KeystoreError("absent")
        return pub

    def signer(self, name):
        return Signer(self, name)

    def _private(self, name):
        self._check_use(name)
        kind, cid, _, value = self._load(name)
        if kind != KIND_KEY:
            raise KeystoreError("absent")
        return ks_seal.CURVES[cid], int.from_bytes(value, "big")

    def sign(self, name, digest):
        """ECDSA r||s over a 32-byte digest with the key `name` (RFC 6979 nonce)."""
        if len(digest) != 32:
            raise ValueError("digest must be 32 bytes")
        curve, d = self._private(name)
        return ecdsa.sign_raw(curve, d, digest)

    def ecdh(self, name, peer_public):
        """The ECDH shared secret z = x(d * Q) as 32 bytes (SEC 1 3.3.1) of the key `name` and the
        peer's SEC1 public key, which must be a valid point of the same curve (SEC 1 3.2.2.1;
        InvalidKey otherwise). Feed z to a KDF; never use it as a key directly."""
        curve, d = self._private(name)
        qx, qy = ecdsa.decode_point(curve, peer_public)  # on the curve, not infinity
        x = _shared_x(curve, d, qx, qy)
        if x is None:  # impossible for 0 < d < n on a prime-order curve; refuse rather than emit 0
            raise KeystoreError("tampered")
        return x.to_bytes(curve.size, "big")

    # -- symmetric secrets -----------------------------------------------------------------

    def put_secret(self, name, data):
        """Store (or replace) a symmetric secret of at most 158 bytes. Never replaces a key."""
        self._check_use(name)
        if self._kinds.get(name) == KIND_KEY:
            raise KeystoreError("exists")
        old = self._store.read(name)
        if old is not None and self._sealer.header(name, old)[0] == KIND_KEY:
            raise KeystoreError("exists")
        self._put(name, KIND_SECRET, 0, b"", bytes(data))

    def get_secret(self, name):
        """The secret `name`; KeyError when there is none (a key pair is not a secret)."""
        self._check_use(name)
        if self._kinds.get(name) != KIND_SECRET:
            raise KeyError(name)
        kind, _, _, value = self._load(name)
        if kind != KIND_SECRET:
            raise KeyError(name)
        return value

    def delete_secret(self, name):
        """Remove a secret; nothing if there is none. Key pairs go only with erase()."""
        self._check_use(name)
        kind = self._kinds.get(name)
        if kind == KIND_KEY:
            raise KeyError(name)
        if kind is None:
            return
        self._store.remove(name)
        del self._kinds[name]

    # -- erase (U3) ------------------------------------------------------------------------

    def erase(self):
        """Remove every entry, damaged or not, then scrub what the medium allows (ks_file.py,
        ks_nvs.py, docs/keystore.md). A power loss part-way resumes at the next open."""
        self._store.begin_erase()
        self._finish_erase()
        self._scan()

    def _finish_erase(self):
        for name in self._store.names():
            self._store.remove(name)
        self._store.scrub()
        self._store.end_erase()


def _shared_x(curve, d, qx, qy):
    """x(d * Q) in API coordinates, or None for the point at infinity.

    Left-to-right double-and-add over ec.py's Jacobian formulas on the a = -3 twin (ec.py):
    ~256 doublings and ~128 additions, a few ms, for a rare operation (provisioning). The comb
    tables of ec_comb.py serve G and repeated verification keys; a peer key is used once.
    Like the comb, its time depends on the bits of d (docs/keystore.md)."""
    p = curve.p
    xi, yi = ec.to_internal(curve, qx, qy)
    X, Y, Z = 0, 1, 0
    for i in range(ec.bit_length(d) - 1, -1, -1):
        if Z:
            X, Y, Z = ec.dbl(X, Y, Z, p)
        if (d >> i) & 1:
            X, Y, Z = ec.add_affine(X, Y, Z, xi, yi, p)  # handles O, P = Q and P = -Q
    if Z == 0:
        return None
    zi = ec.inv_mod(Z, p)
    return X * zi * zi % p * curve.z2_inv % p
