# The "esp32-nvs" backend (security/ks_nvs.py) over a fake of the hal's NVS blob API
# (board.secure_blobs(namespace) -> get/put/delete), so the real code path runs here: the
# ESP-IDF NVS itself cannot. The fake enforces NVS's 15-character key limit and can cut the
# power after a given number of writes.
import hashlib

import kshelp
from mptest import raises
from meterseal.crypto import ecdsa
from meterseal.security import keystore
from meterseal.security.keystore import KeystoreError
from meterseal.security.ks_nvs import nvs_key

MP_HEAPSIZE = 196608  # see test_keystore.py

DIGEST = hashlib.sha256(b"nvs").digest()


class PowerCut(Exception):
    pass


class FakeBlobs:
    def __init__(self):
        self.blobs = {}
        self.writes_left = None  # None: no cut planned

    def _tick(self):
        if self.writes_left is not None:
            if self.writes_left == 0:
                raise PowerCut()
            self.writes_left -= 1

    def get(self, key):
        assert 0 < len(key) <= 15, key
        v = self.blobs.get(key)
        return None if v is None else bytes(v)

    def put(self, key, data):
        assert 0 < len(key) <= 15 and len(data) <= 1984, (key, len(data))
        self._tick()
        self.blobs[key] = bytes(data)  # one set_blob is atomic (ESP-IDF NVS)

    def delete(self, key):
        self._tick()
        self.blobs.pop(key, None)


class FakeEsp32:
    """An ESP32 board as the keystore sees it: config, secret, chip ID, RNG, NVS blobs."""

    def __init__(self, seed, blobs=None):
        self.config = {"keystore": "esp32-nvs"}
        self._secret = hashlib.sha256(b"efuse" + seed).digest()
        self._uid = hashlib.sha256(b"mac" + seed).digest()[:6]
        self.random_bytes = kshelp.DetRng(seed)
        self.blobs = blobs or FakeBlobs()
        self.namespaces = []

    def secret(self):
        return self._secret

    def unique_id(self):
        return self._uid

    def secure_blobs(self, namespace):
        self.namespaces.append(namespace)
        return self.blobs


def test_nvs_backend_is_picked_and_works():
    b = FakeEsp32(b"n1")
    ks = keystore.open(b)
    assert b.namespaces == ["meterseal-ks"]
    assert ks.status() == "empty"
    pub = ks.generate("em")
    ks.put_secret("KEY_M-Bus", b"\x22" * 16)
    ecdsa.verify_raw(ecdsa.P256, pub, DIGEST, ks.sign("em", DIGEST))
    ks2 = keystore.open(FakeEsp32(b"n1", b.blobs))  # after a reset
    assert ks2.names() == ["KEY_M-Bus", "em"] and ks2.public_key("em") == pub
    assert ks2.get_secret("KEY_M-Bus") == b"\x22" * 16
    with raises(KeystoreError, match="exists"):
        ks2.generate("em")
    # NVS keys: 15 characters at most, whatever the name's length.
    ks2.put_secret("n" * 32, b"k")
    assert nvs_key("n" * 32) in b.blobs.blobs and len(nvs_key("n" * 32)) == 15
    d = ecdsa.generate_private(ecdsa.P256, kshelp.DetRng(b"n1"))
    db = d.to_bytes(32, "big")
    for v in b.blobs.blobs.values():
        assert db not in v and b"\x22" * 16 not in v  # sealed in NVS too


def test_nvs_tamper_and_foreign_entries_are_refused():
    b = FakeEsp32(b"n2")
    ks = keystore.open(b)
    ks.generate("em")
    ks.put_secret("KEY_M-Bus", b"\x33" * 16)
    key = nvs_key("em")
    orig = b.blobs.blobs[key]
    b.blobs.blobs[key] = orig[:-1] + bytes((orig[-1] ^ 1,))
    ks = keystore.open(FakeEsp32(b"n2", b.blobs))
    assert ks.status() == "damaged: tampered"
    with raises(KeystoreError, match="tampered"):
        ks.sign("em", DIGEST)
    with raises(KeystoreError, match="not-provisioned"):
        ks.get_secret("KEY_M-Bus")
    b.blobs.blobs[key] = orig[:50]
    assert keystore.open(FakeEsp32(b"n2", b.blobs)).status() == "damaged: truncated"
    # The NVS of another ESP32 (another eFuse secret and MAC) copied over.
    other = FakeEsp32(b"n3", FakeBlobs())
    other.blobs.blobs = dict(b.blobs.blobs)
    other.blobs.blobs[key] = orig
    ks = keystore.open(other)
    assert ks.status() == "damaged: wrong-board"
    ks.erase()
    assert ks.status() == "empty" and other.blobs.blobs == {}


def test_nvs_erase_removes_every_blob():
    b = FakeEsp32(b"n4")
    ks = keystore.open(b)
    ks.generate("em")
    ks.put_secret("a", b"1")
    ks.put_secret("b", b"2")
    ks.delete_secret("b")
    assert sorted(b.blobs.blobs) == sorted(["index", nvs_key("em"), nvs_key("a")])
    ks.erase()
    assert b.blobs.blobs == {} and ks.status() == "empty"


def test_nvs_power_cut_at_every_write_leaves_old_or_new():
    # Cut the power after 0, 1, 2, ... blob writes of each operation; the keystore opened
    # afterwards must be "ok"/"empty" and hold the state before or after the operation.
    ops = [
        ("gen", "em"),
        ("put", "KEY_M-Bus", b"\x01" * 16),
        ("put", "KEY_M-Bus", b"\x02" * 16),
        ("gen", "tls"),
        ("del", "KEY_M-Bus"),
        ("erase",),
    ]

    def state(ks):
        out = {}
        for n in ks.names():
            try:
                out[n] = ks.get_secret(n)
            except KeyError:
                out[n] = ks.public_key(n)
        return out

    blobs = FakeBlobs()
    seed = b"n5"
    for op in ops:
        before = state(keystore.open(FakeEsp32(seed, blobs)))
        cut = 0
        while True:
            trial = FakeBlobs()
            trial.blobs = dict(blobs.blobs)
            board = FakeEsp32(seed, trial)
            ks = keystore.open(board)
            trial.writes_left = cut
            try:
                _apply(ks, op)
                done = True
            except PowerCut:
                done = False
            trial.writes_left = None
            ks = keystore.open(FakeEsp32(seed, trial))  # the reset
            assert ks.status() in ("ok", "empty"), (op, cut, ks.status())
            after = state(ks)
            if done:
                blobs = trial
                break
            if after != before:
                # Rolled forward: then it must be exactly the completed operation's result.
                ref = FakeBlobs()
                ref.blobs = dict(blobs.blobs)
                ks_ref = keystore.open(FakeEsp32(seed, ref))
                _apply(ks_ref, op)
                full = state(ks_ref)
                if op[0] == "gen":  # a new key pair: only its presence can be compared
                    assert sorted(after) == sorted(full), (op, cut, after)
                else:
                    assert after == full, (op, cut, after)
            cut += 1
        assert cut <= 10, op  # a guard: no operation takes more blob writes than this


def _apply(ks, op):
    if op[0] == "gen":
        ks.generate(op[1])
    elif op[0] == "put":
        ks.put_secret(op[1], op[2])
    elif op[0] == "del":
        ks.delete_secret(op[1])
    else:
        ks.erase()
