# U3: after erase() no key material is left on the board's medium. Under MicroPython the whole
# littlefs image is searched, deleted files and stale blocks included; under CPython the files
# of the simulator's folder (the host filesystem below it is out of reach, docs/keystore.md).
import hashlib

import kshelp
from meterseal.crypto import ecdsa
from meterseal.security import keystore

MP_HEAPSIZE = 196608  # see test_keystore.py


def _provision(b):
    b.random_bytes = kshelp.DetRng(b"erase-seed")
    ks = keystore.open(b)
    pubs = [ks.generate("em"), ks.generate("tls")]
    rng = kshelp.DetRng(b"erase-seed")
    ds = [ecdsa.generate_private(ecdsa.P256, rng).to_bytes(32, "big") for _ in range(2)]
    secrets = [hashlib.sha256(b"mbus").digest()[:16], hashlib.sha256(b"plc").digest()]
    ks.put_secret("KEY_M-Bus", b"\x00" * 16)
    ks.put_secret("KEY_M-Bus", secrets[0])  # replaced: its first version is stale somewhere
    ks.put_secret("KEY_1PLC", secrets[1])
    # The sealed entries as stored: with the board secret, any surviving copy would open.
    sealed = [data for name, data in kshelp.storage_files(b) if name.startswith("ks/")]
    assert len(sealed) == 4
    return ks, pubs, ds, secrets, sealed


def test_erase_leaves_no_key_material_on_the_medium():
    b = kshelp.fresh_board("e")
    ks, pubs, ds, secrets, sealed = _provision(b)
    sig = ks.sign("em", hashlib.sha256(b"x").digest())
    # Before erase: private scalars and secrets are never stored in clear (sealed at rest);
    # the public keys are (clear, authenticated), which shows that the search finds things.
    found = kshelp.medium_contains(b, ds + secrets + pubs + sealed + [sig[:32]])
    assert sorted(found) == sorted(pubs + sealed), "before erase: %d needles, unexpected set" % len(found)
    ks.erase()
    assert ks.status() == "empty" and ks.names() == []
    b = kshelp.reopen(b)
    assert keystore.open(b).status() == "empty"
    left = kshelp.medium_contains(b, ds + secrets + pubs + sealed)
    assert left == [], "after erase, %d of the old items are still on the medium" % len(left)
    assert b.storage.listdir("ks") == []


def test_an_interrupted_erase_finishes_at_the_next_open():
    b = kshelp.fresh_board("i")
    ks, pubs, _, _, sealed = _provision(b)
    # The power fails just after erase() has marked its start (ks_file.FileStore.begin_erase).
    ks._store.begin_erase()
    b = kshelp.reopen(b)
    ks = keystore.open(b)
    assert ks.status() == "empty"
    assert kshelp.medium_contains(b, pubs + sealed) == []
    pub = ks.generate("em")  # and the board can be provisioned again
    assert keystore.open(kshelp.reopen(b)).public_key("em") == pub


def test_erase_of_an_empty_or_damaged_keystore():
    b = kshelp.fresh_board("d")
    ks = keystore.open(b)
    ks.erase()
    assert ks.status() == "empty"
    ks.generate("em")
    b.storage.write_atomic("ks/em.ks", b"MSKS\x01")
    ks = keystore.open(kshelp.reopen(b))
    assert ks.status() == "damaged: truncated"
    ks.erase()
    assert ks.status() == "empty" and b.storage.listdir("ks") == []
