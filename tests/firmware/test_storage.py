# hal/storage.py and the simulator's littlefs block device: atomic replace, recovery, usage.
import os
import sys

from meterseal.hal.storage import Storage

_n = [0]


def _fresh():
    """A new empty Storage: littlefs over a file block device under MicroPython, a folder on CPython."""
    _n[0] += 1
    base = "/tmp/meterseal-test-storage-%d-%d" % (os.getpid() if hasattr(os, "getpid") else 0, _n[0])
    if sys.implementation.name == "micropython":
        from meterseal.hal.sim import FileBlockDevice

        try:
            os.remove(base + ".img")
        except OSError:
            pass
        dev = FileBlockDevice(base + ".img", 4096, 32)
        os.VfsLfs2.mkfs(dev)
        mnt = "/t%d" % _n[0]
        os.mount(os.VfsLfs2(dev), mnt)
        return Storage(mnt)
    import shutil

    shutil.rmtree(base, ignore_errors=True)
    os.mkdir(base)
    return Storage(base)


def test_write_atomic_read_back_and_replace():
    st = _fresh()
    assert st.read("a") is None
    st.write_atomic("a", b"one")
    assert st.read("a") == b"one"
    st.write_atomic("a", b"two" * 3000)
    assert st.read("a") == b"two" * 3000
    assert st.listdir() == ["a"]


def test_subfolders_are_created():
    st = _fresh()
    st.write_atomic("keys/em/meta", b"x")
    assert st.read("keys/em/meta") == b"x"
    assert st.exists("keys/em/meta") and not st.exists("keys/em/other")
    st.remove("keys/em/meta")
    assert not st.exists("keys/em/meta")


def test_recover_drops_torn_temporaries():
    st = _fresh()
    st.write_atomic("log/b", b"good")
    with st.open("log/b.tmp", "wb") as f:
        f.write(b"half a wri")
    st.recover()
    assert st.listdir("log") == ["b"]
    assert st.read("log/b") == b"good"


def test_usage_counts_bytes():
    st = _fresh()
    used0, total = st.usage()
    assert 0 <= used0 < total
    st.write_atomic("big", b"\x00" * 20000)
    used1, total1 = st.usage()
    assert total1 == total
    if sys.implementation.name == "micropython":
        assert used1 >= used0 + 16384
