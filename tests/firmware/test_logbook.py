# security/logbook.py: the metrological logbook (D3, S1): entries signed and hash-chained, a
# fixed capacity, the reset as the first entry of the new log, and the damage a flash editor can
# do (delete, reorder, alter, cut, drop the head) found by the Checker or at the meter's boot.
import os

from meterseal.crypto import ecdsa
from meterseal.hal.storage import Storage
from meterseal.security import logbook as lb
from kshelp import rmtree
from mptest import raises

_D = 0x1F2E3D4C5B6A79880112233445566778899AABBCCDDEEFF00112233445566778
_PUB = ecdsa.encode_point(ecdsa.P256, ecdsa.public_point(ecdsa.P256, _D))


class KeySigner:
    public_key = _PUB

    def sign_digest(self, digest):
        return ecdsa.sign_raw(ecdsa.P256, _D, digest)


_N = [0]


def _folder_storage():
    """A fresh storage folder (the board's Storage on a plain directory)."""
    _N[0] += 1
    d = "/tmp/meterseal-logbook-%d-%d" % (os.getpid() if hasattr(os, "getpid") else 0, _N[0])
    rmtree(d)
    os.mkdir(d)
    return Storage(d)


_T = [1790000000]


def _clock():
    _T[0] += 1
    return _T[0]


def _book(st=None, capacity=500):
    return lb.Logbook(st or _folder_storage(), KeySigner, _clock, capacity)


def _check(book, previous=None):
    ch = lb.Checker(_PUB, previous)
    out = [ch.add(r) for r in book.entries(0, 10000)]
    ch.finish(book.head())
    return out


def _fill(book, n, start=0):
    for i in range(n):
        book.record("set_parameter", "ab" * 16, "metrological-institute", {"k": i + start},
                    {"k": i + start + 1}, "ok")


def test_entries_are_signed_chained_and_read_back_in_segments():
    b = _book()
    _fill(b, 20)  # more than one 16-entry segment
    b.record("set_time", None, None, None, None, "role")
    ps = _check(b)
    assert [p["seq"] for p in ps] == list(range(1, 22))
    assert ps[0]["prev"] == b"\x00" * 32 and ps[3]["new"] == {"k": 4}
    assert ps[-1]["out"] == "role" and ps[-1]["ev"] == "set_time"
    assert len(b.entries(15, 3)) == 3 and b.entries(15, 1)[0] == b.entries(0, 16)[15] == b.entries(7, 9)[8]
    assert b.status_word() == 21
    assert b.status_bytes() == b"\x00\x15"


def test_a_reopened_logbook_continues_the_chain():
    st = _folder_storage()
    _fill(_book(st), 5)
    b = _book(st)
    _fill(b, 2)
    assert b.head()["seq"] == 7 and b.tamper_note is None
    assert len(_check(b)) == 7


def test_big_values_are_logged_as_their_hash():
    b = _book()
    b.record("set_parameter", None, None, None, {"tariff_schedule": [[i, 1] for i in range(40)]},
             "ok")
    p = _check(b)[0]
    assert len(p["new"]["sha256"]) == 32


def test_full_logbook_refuses_then_reset_starts_a_new_log_with_the_old_hash():
    st = _folder_storage()
    b = _book(st, capacity=4)
    _fill(b, 4)
    assert b.full and b.status_word() & lb.STATUS_FULL
    with raises(lb.LogbookFull):
        b.record("set_time", None, None, 1, 2, "ok")
    b.note_lost()
    b.note_lost()
    last = b.head()["hash"]
    with raises(ValueError, match="head mismatch"):
        b.reset(b"\x01" * 32, "cd" * 16, "metrological-institute")
    b.reset(last, "cd" * 16, "metrological-institute")
    assert b.head()["count"] == 1 and b.head()["seq"] == 5 and not b.full
    ps = _check(b, previous=last)
    assert ps[0]["ev"] == "reset_logbook" and ps[0]["prev"] == last
    assert ps[0]["old"] == {"entries": 4, "lost": 2, "generation": 0}
    with raises(lb.Broken) as e:  # the same reset against another archive
        _check(b, previous=b"\x02" * 32)
    assert e.value.reason == "chain"
    assert [n for n in st.listdir("logbook") if n.startswith("g0")] == []
    b2 = _book(st, capacity=4)  # after a reboot: the new generation only
    _fill(b2, 1)
    assert [p["seq"] for p in _check(b2)] == [5, 6]


def test_a_reset_cut_short_by_a_power_loss_is_finished_at_boot():
    st = _folder_storage()
    b = _book(st)
    _fill(b, 3)
    seg0, head0 = st.read("logbook/g0-0.bin"), st.read("logbook/head.json")
    b.reset(b.head()["hash"], None, "metrological-institute")
    # the power went after the new segment, before the old one was removed and the head written
    st.write_atomic("logbook/g0-0.bin", seg0)
    st.write_atomic("logbook/head.json", head0)
    b2 = _book(st)
    assert b2.head()["count"] == 1 and b2.tamper_note is None
    assert not [n for n in st.listdir("logbook") if n.startswith("g0")]


def _tampered(edit, n=6):
    st = _folder_storage()
    b = _book(st)
    _fill(b, n)
    head = b.head()
    data = st.read("logbook/g0-0.bin")
    frames = []
    pos = 0
    while pos < len(data):
        ln = data[pos] * 256 + data[pos + 1]
        frames.append(data[pos:pos + 2 + ln])
        pos += 2 + ln
    st.write_atomic("logbook/g0-0.bin", edit(frames))
    return st, head


def _reason(st, head):
    """What the host finds: the meter's log after its boot check, against the head it keeps."""
    b = _book(st)
    b.head()
    with raises(lb.Broken) as e:
        _check(b)
    return e.value.reason, b


def test_deleted_entry_in_the_middle_breaks_the_chain():
    st, head = _tampered(lambda f: b"".join(f[:2] + f[3:]))
    reason, b = _reason(st, head)
    assert reason == "sequence" and b.tamper_note is None


def test_reordered_entries_break_the_sequence():
    st, head = _tampered(lambda f: b"".join([f[0], f[2], f[1]] + f[3:]))
    assert _reason(st, head)[0] == "sequence"


def test_altered_entry_fails_its_signature():
    def alter(f):
        e = bytearray(f[3])
        e[40] ^= 0x01
        return b"".join(f[:3] + [bytes(e)] + f[4:])

    st, head = _tampered(alter)
    assert _reason(st, head)[0] == "signature"


def test_deleted_first_entry_is_a_bad_start():
    st, head = _tampered(lambda f: b"".join(f[1:]))
    assert _reason(st, head)[0] == "start"


def test_cut_last_entry_is_found_at_boot_and_logged_as_tamper():
    st, head = _tampered(lambda f: b"".join(f[:-1]) + f[-1][:50])
    reason, b = _reason(st, head)
    assert reason == "tamper" and "ends at entry 5" in b.tamper_note
    assert b.status_word() & lb.STATUS_TAMPER
    assert b.head()["seq"] == 7  # after the lost entry 6: the gap stays visible


def test_removed_head_file_or_removed_log_is_tamper():
    st, head = _tampered(lambda f: b"".join(f))
    st.remove("logbook/head.json")
    assert _reason(st, head)[0] == "tamper"
    st, head = _tampered(lambda f: b"".join(f))
    st.remove("logbook/g0-0.bin")
    reason, b = _reason(st, head)
    assert reason == "tamper" and b.head()["seq"] == 7


def test_the_head_must_match_the_last_entry():
    b = _book()
    _fill(b, 3)
    entries = b.entries(0, 2)
    ch = lb.Checker(_PUB)
    for r in entries:
        ch.add(r)
    with raises(lb.Broken) as e:
        ch.finish(b.head())
    assert e.value.reason == "head"


def test_power_loss_between_segment_and_head_keeps_the_entry():
    st = _folder_storage()
    b = _book(st)
    _fill(b, 3)
    head = st.read("logbook/head.json")
    _fill(b, 1)
    st.write_atomic("logbook/head.json", head)  # the head write did not happen
    b2 = _book(st)
    assert b2.head()["seq"] == 4 and b2.tamper_note is None
    assert len(_check(b2)) == 4


def test_a_frame_cut_by_a_power_loss_is_dropped_not_accepted():
    st = _folder_storage()
    b = _book(st)
    _fill(b, 3)
    head = st.read("logbook/head.json")
    _fill(b, 1)
    seg = st.read("logbook/g0-0.bin")
    st.write_atomic("logbook/g0-0.bin", seg[:-30])  # the fourth append cut short
    st.write_atomic("logbook/head.json", head)
    b2 = _book(st)
    assert b2.head()["seq"] == 3 and b2.tamper_note is None
    _fill(b2, 1)
    assert [p["seq"] for p in _check(b2)] == [1, 2, 3, 4]
