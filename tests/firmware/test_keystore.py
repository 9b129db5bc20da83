# security/keystore.py on the simulator's encrypted-file backend: keys made on the board from its
# RNG, signatures that verify, ECDH that agrees with the public key, secrets, refusals, and no
# member of the API that hands out a private key.
import hashlib

import kshelp
from mptest import raises
from meterseal.crypto import ecdsa
from meterseal.crypto.errors import InvalidKey
from meterseal.security import keystore
from meterseal.security.keystore import KeystoreError

# The RP2040's heap: this module, kshelp and the simulator HAL are compiled from source here
# (~45 KB of bytecode on the heap that a frozen build keeps in flash) and the tests hold both
# curves' 16 KB comb tables. The keystore at the ESP32 heap: tests/system/test_keystore_*.py.
MP_HEAPSIZE = 196608

DIGEST = hashlib.sha256(b"reading 17").digest()


def _ks(tag="k", rng=None):
    b = kshelp.fresh_board(tag)
    if rng is not None:
        b.random_bytes = rng
    return b, keystore.open(b)


def test_generate_sign_verify_and_signer():
    b, ks = _ks()
    assert ks.status() == "empty" and ks.names() == []
    pub = ks.generate("em")
    assert len(pub) == 65 and pub[0] == 4
    assert ks.public_key("em") == pub and ks.has("em") and ks.status() == "ok"
    sig = ks.sign("em", DIGEST)
    ecdsa.verify_raw(ecdsa.P256, pub, DIGEST, sig)
    with raises(Exception):
        ecdsa.verify_raw(ecdsa.P256, pub, hashlib.sha256(b"other").digest(), sig)
    s = ks.signer("em")
    assert s.public_key == pub
    from meterseal.crypto import cose  # here: compiling it at import time costs heap

    msg = cose.sign1(b"payload", s)
    cose.verify_sign1(msg, pub)
    with raises(ValueError):
        ks.sign("em", DIGEST[:31])
    # After a reset the same key signs.
    ks2 = keystore.open(kshelp.reopen(b))
    assert ks2.public_key("em") == pub
    ecdsa.verify_raw(ecdsa.P256, pub, DIGEST, ks2.sign("em", DIGEST))


def test_the_key_comes_from_the_board_rng():
    # Test-only knowledge: with a deterministic RNG the scalar is known, so the public key and
    # the (RFC 6979, deterministic) signature can be recomputed outside the keystore.
    _, ks = _ks(rng=kshelp.DetRng(b"seed-1"))
    pub = ks.generate("em")
    d = ecdsa.generate_private(ecdsa.P256, kshelp.DetRng(b"seed-1"))
    assert pub == ecdsa.encode_point(ecdsa.P256, ecdsa.public_point(ecdsa.P256, d))
    assert ks.sign("em", DIGEST) == ecdsa.sign_raw(ecdsa.P256, d, DIGEST)


def test_brainpool_and_unsupported_curves():
    _, ks = _ks()
    pub = ks.generate("bp", ecdsa.BRAINPOOLP256R1)
    ecdsa.verify_raw(ecdsa.BRAINPOOLP256R1, pub, DIGEST, ks.sign("bp", DIGEST))
    with raises(KeystoreError, match="unsupported-curve"):
        ks.generate("old", ecdsa.P192)
    assert ks.names() == ["bp"]


def test_a_second_generate_is_refused():
    b, ks = _ks()
    pub = ks.generate("em")
    with raises(KeystoreError, match="exists"):
        ks.generate("em")
    with raises(KeystoreError, match="exists"):
        keystore.open(kshelp.reopen(b)).generate("em")
    with raises(KeystoreError, match="exists"):
        ks.put_secret("em", b"k" * 16)  # a secret never replaces a key either
    assert ks.public_key("em") == pub
    ks.put_secret("KEY_M-Bus", b"k" * 16)
    with raises(KeystoreError, match="exists"):
        ks.generate("KEY_M-Bus")


def test_ecdh_matches_the_public_key_and_the_peer():
    _, ks = _ks()
    pa = ks.generate("a")
    pb = ks.generate("b")
    z = ks.ecdh("a", pb)
    assert len(z) == 32 and z == ks.ecdh("b", pa)
    # d_a * G is the public key: its x-coordinate is the ECDH value with G as the peer.
    g = ecdsa.encode_point(ecdsa.P256, (ecdsa.P256.gx, ecdsa.P256.gy))
    assert ks.ecdh("a", g) == pa[1:33]
    # compressed peer points are the same point
    cb = bytes((2 | (pb[64] & 1),)) + pb[1:33]
    assert ks.ecdh("a", cb) == z


def test_ecdh_refuses_invalid_peer_points():
    _, ks = _ks()
    pa = ks.generate("a")
    off = bytearray(pa)
    off[64] ^= 1  # no longer on the curve (SEC 1 3.2.2.1)
    bad = [bytes(off), b"\x00", pa[:64], b"\x05" + pa[1:], b"", b"\x04" + bytes(64)]
    for peer in bad:
        with raises(InvalidKey):
            ks.ecdh("a", peer)
    ks.put_secret("s", b"x" * 16)
    with raises(KeystoreError, match="absent"):
        ks.ecdh("s", pa)  # a secret is not a key pair
    with raises(KeystoreError, match="absent"):
        ks.ecdh("nothing", pa)


def test_secrets_put_get_replace_delete():
    b, ks = _ks()
    with raises(KeyError):
        ks.get_secret("KEY_M-Bus")
    ks.put_secret("KEY_M-Bus", b"\x01" * 16)
    ks.put_secret("KEY_1PLC", bytearray(b"\x02" * 32))
    assert ks.get_secret("KEY_M-Bus") == b"\x01" * 16
    ks.put_secret("KEY_M-Bus", b"\x03" * 16)  # re-install replaces a symmetric key
    ks2 = keystore.open(kshelp.reopen(b))
    assert ks2.get_secret("KEY_M-Bus") == b"\x03" * 16
    assert ks2.get_secret("KEY_1PLC") == b"\x02" * 32
    assert ks2.names() == ["KEY_1PLC", "KEY_M-Bus"]
    ks2.delete_secret("KEY_1PLC")
    ks2.delete_secret("KEY_1PLC")  # idempotent
    with raises(KeyError):
        ks2.get_secret("KEY_1PLC")
    ks2.generate("em")
    with raises(KeyError):
        ks2.get_secret("em")  # a key pair is never handed out as a secret
    with raises(KeyError):
        ks2.delete_secret("em")  # key pairs go only with erase()
    assert keystore.open(kshelp.reopen(b)).names() == ["KEY_M-Bus", "em"]
    ks2.put_secret("empty", b"")
    assert ks2.get_secret("empty") == b""
    ks2.put_secret("big", b"z" * 158)
    with raises(KeystoreError, match="size"):
        ks2.put_secret("big", b"z" * 159)


def test_names_are_checked():
    _, ks = _ks()
    for bad in ("", ".hidden", "a/b", "a b", "x" * 33, "..", "ü"):
        with raises(KeystoreError, match="name"):
            ks.put_secret(bad, b"k")
        with raises(KeystoreError, match="name"):
            ks.generate(bad)
    ks.put_secret("x" * 32, b"k")
    ks.put_secret("A-z_0.9", b"k")


# Every public member of the API, and what it may return. A new member fails this test until
# it is added here, after checking that it cannot leak a private key.
_KEYSTORE_API = ("ecdh", "erase", "delete_secret", "generate", "get_secret", "has", "names",
                 "public_key", "put_secret", "sign", "signer", "status")
_SIGNER_API = ("name", "public_key", "sign_digest")


def _public(obj):
    return sorted(n for n in dir(obj) if not n.startswith("_"))


def _contains(value, needles, depth=0):
    if depth > 4:
        return False
    if isinstance(value, int) and not isinstance(value, bool):
        return value in needles[1]
    if isinstance(value, (bytes, bytearray, str)):
        v = value.encode() if isinstance(value, str) else bytes(value)
        return any(n in v for n in needles[0])
    if isinstance(value, (list, tuple)):
        return any(_contains(x, needles, depth + 1) for x in value)
    if isinstance(value, dict):
        return any(_contains(k, needles, depth + 1) or _contains(v, needles, depth + 1)
                   for k, v in value.items())
    if hasattr(value, "__dict__"):
        return _contains(value.__dict__, needles, depth + 1)
    return False


def test_no_member_returns_or_holds_a_private_key():
    _, ks = _ks(rng=kshelp.DetRng(b"seed-2"))
    assert _public(ks) == sorted(_KEYSTORE_API)
    pa = ks.generate("a")
    d = ecdsa.generate_private(ecdsa.P256, kshelp.DetRng(b"seed-2"))
    db = d.to_bytes(32, "big")
    needles = ([db, db[:16], db[16:], bytes(reversed(db))], [d])
    pb = ks.generate("b")
    ks.put_secret("s", b"\x09" * 16)
    signer = ks.signer("a")
    assert _public(signer) == sorted(_SIGNER_API)
    results = [pa, pb, ks.public_key("a"), ks.sign("a", DIGEST), ks.ecdh("a", pb), ks.has("a"),
               ks.names(), ks.status(), ks.get_secret("s"), signer.sign_digest(DIGEST),
               signer.public_key, signer.name]
    for r in results:
        assert not _contains(r, needles), r
    # Nor is it kept in the objects (RAM only while signing).
    assert not _contains(ks, needles) and not _contains(signer, needles)
    with raises(KeyError):
        ks.get_secret("a")
    ks.erase()
    assert ks.status() == "empty"


def test_unknown_backend_is_named():
    b = kshelp.fresh_board("u", keystore="floppy")
    with raises(ValueError, match="floppy"):
        keystore.open(b)
