# Issue 5 item 7 (firmware level; tests/system/test_keystore_tamper.py does it on simulated
# boards, and two test modules of one basename cannot share a pytest session): a keystore file
# altered, truncated, swapped, renamed or copied from another board is refused with its
# reason; status() says damaged and every use of key material is refused until erase();
# nothing crashes, whatever the bytes.
import hashlib

import kshelp
from mptest import raises
from meterseal.security import keystore
from meterseal.security.keystore import KeystoreError

MP_HEAPSIZE = 196608  # see test_keystore.py

DIGEST = hashlib.sha256(b"tamper").digest()
REASONS = ("tampered", "wrong-board", "truncated")


def _provisioned(tag="t"):
    b = kshelp.fresh_board(tag)
    ks = keystore.open(b)
    ks.generate("em")
    ks.generate("tls")
    ks.put_secret("KEY_M-Bus", b"\x11" * 16)
    return b, ks


def _path(name):
    return "ks/" + name + ".ks"


def _refused(b, bad_name, reason):
    """Open the keystore after a reset and check it refuses as it must."""
    ks = keystore.open(kshelp.reopen(b))
    assert ks.status() == "damaged: " + reason, ks.status()
    if bad_name in ("em", "tls"):
        with raises(KeystoreError, match=reason):
            ks.sign(bad_name, DIGEST)
    else:
        with raises(KeystoreError, match=reason):
            ks.get_secret(bad_name)
    # The intact entries are not used either: the board is not provisioned.
    good = "tls" if bad_name == "em" else "em"
    for call in (lambda: ks.sign(good, DIGEST), lambda: ks.public_key(good),
                 lambda: ks.get_secret("KEY_M-Bus") if bad_name != "KEY_M-Bus" else ks.sign("em", DIGEST),
                 lambda: ks.generate("new"), lambda: ks.put_secret("new", b"k"),
                 lambda: ks.signer(good)):
        with raises(KeystoreError):
            call()
    # erase() is the way back: afterwards the board is empty and can be provisioned again.
    ks.erase()
    assert ks.status() == "empty" and ks.names() == []
    ks.generate("em")
    assert keystore.open(kshelp.reopen(b)).status() == "ok"


def test_every_flipped_byte_is_caught():
    b, _ = _provisioned()
    st = b.storage
    orig = st.read(_path("em"))
    # One flip in every field: magic, version, kind, curve, key id, name, public key, length,
    # nonce, ciphertext, tag.
    for pos in (0, 4, 5, 6, 7, 14, 15, 16, 20, 40, 100, 120, 124, 140, 200, len(orig) - 1):
        data = bytearray(orig)
        data[pos] ^= 0x40
        st.write_atomic(_path("em"), bytes(data))
        ks = keystore.open(kshelp.reopen(b))
        status = ks.status()
        assert status.startswith("damaged: ") and status[9:] in REASONS, (pos, status)
        if 7 <= pos < 15:
            assert status == "damaged: wrong-board", (pos, status)
        with raises(KeystoreError):
            ks.sign("em", DIGEST)
    st.write_atomic(_path("em"), orig)
    assert keystore.open(kshelp.reopen(b)).status() == "ok"
    data = bytearray(orig)
    data[-5] ^= 1
    st.write_atomic(_path("em"), bytes(data))
    _refused(b, "em", "tampered")


def test_a_changed_secret_is_caught():
    b, _ = _provisioned()
    data = bytearray(b.storage.read(_path("KEY_M-Bus")))
    data[60] ^= 0x01
    b.storage.write_atomic(_path("KEY_M-Bus"), bytes(data))
    _refused(b, "KEY_M-Bus", "tampered")


def test_truncation_is_caught():
    b, _ = _provisioned()
    orig = b.storage.read(_path("tls"))
    for n in (0, 3, 10, 16, 20, 30, 90, 100, 150, len(orig) - 1):
        b.storage.write_atomic(_path("tls"), orig[:n])
        assert keystore.open(kshelp.reopen(b)).status() == "damaged: truncated", n
    b.storage.write_atomic(_path("tls"), orig + b"\x00")  # too long is not "truncated"
    assert keystore.open(kshelp.reopen(b)).status() == "damaged: tampered"
    b.storage.write_atomic(_path("tls"), orig[:77])
    _refused(b, "tls", "truncated")


def test_swapped_and_renamed_files_are_caught():
    b, _ = _provisioned()
    st = b.storage
    em, tls = st.read(_path("em")), st.read(_path("tls"))
    st.write_atomic(_path("em"), tls)
    st.write_atomic(_path("tls"), em)
    ks = keystore.open(kshelp.reopen(b))
    assert ks.status() == "damaged: tampered"
    with raises(KeystoreError, match="tampered"):
        ks.sign("tls", DIGEST)
    st.write_atomic(_path("em"), em)
    st.write_atomic(_path("tls"), tls)
    assert keystore.open(kshelp.reopen(b)).status() == "ok"
    st.write_atomic(_path("spare"), em)  # a copy under another name
    _refused(b, "spare", "tampered")


def test_a_file_that_is_no_entry_name_is_damage():
    b, _ = _provisioned()
    b.storage.write_atomic("ks/.odd.ks", b.storage.read(_path("em")))
    assert keystore.open(kshelp.reopen(b)).status() == "damaged: tampered"


def test_a_keystore_copied_from_another_board_is_refused():
    # Two simulated boards = two eFuse secrets and chip IDs.
    a, ks_a = _provisioned("a")
    files = [(n, a.storage.read(_path(n))) for n in ("em", "tls", "KEY_M-Bus")]
    kshelp.unmount()
    b = kshelp.fresh_board("b")
    ks_b = keystore.open(b)
    assert ks_b.status() == "empty"
    for n, data in files:
        b.storage.write_atomic(_path(n), data)
    _refused(b, "em", "wrong-board")
    # One foreign entry among the board's own is enough to refuse the lot.
    b = kshelp.reopen(b)
    b.storage.write_atomic(_path("KEY_M-Bus"), files[2][1])
    ks_b = keystore.open(b)
    assert ks_b.status() == "damaged: wrong-board"
    with raises(KeystoreError, match="wrong-board"):
        ks_b.get_secret("KEY_M-Bus")
    with raises(KeystoreError, match="not-provisioned"):
        ks_b.sign("em", DIGEST)


def test_garbage_never_crashes():
    b, _ = _provisioned()
    orig = b.storage.read(_path("em"))
    rng = kshelp.DetRng(b"garbage")
    for i in range(40):
        r = rng(4)
        kind = r[0] % 4
        if kind == 0:  # random bytes of random length
            data = rng(r[1] % 300)
        elif kind == 1:  # the real entry with a random run overwritten
            pos = (r[1] * 256 + r[2]) % len(orig)
            data = orig[:pos] + rng(1 + r[3] % 16) + orig[pos + 1 + r[3] % 16:]
        elif kind == 2:  # the real entry with a wrong length byte
            data = bytearray(orig)
            data[(15, 18)[r[1] & 1]] = r[2]  # the name or the public-key length
            data = bytes(data)
        else:  # a prefix of the real entry and junk after it
            data = orig[: r[1] % len(orig)] + rng(r[2] % 64)
        if data == orig:
            continue
        b.storage.write_atomic(_path("em"), data)
        ks = keystore.open(kshelp.reopen(b))
        status = ks.status()
        assert status.startswith("damaged: ") and status[9:] in REASONS, (i, status)
        with raises(KeystoreError):
            ks.sign("em", DIGEST)
        with raises(KeystoreError):
            ks.public_key("em")


def test_tampering_after_open_is_caught_at_use():
    b, ks = _provisioned()
    data = bytearray(b.storage.read(_path("em")))
    data[-1] ^= 0x80
    b.storage.write_atomic(_path("em"), bytes(data))
    with raises(KeystoreError, match="tampered"):
        ks.sign("em", DIGEST)  # the open keystore re-reads and re-checks every use
    with raises(KeystoreError, match="not-provisioned"):
        ks.sign("tls", DIGEST)
    assert ks.status() == "damaged: tampered"
