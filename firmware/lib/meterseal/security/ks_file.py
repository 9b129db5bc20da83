# Keystore backend "encrypted-file" (RP2040) and "sim-file" (the simulator): one file per entry,
# ks/<name>.ks on board.storage, each sealed by ks_seal.py under the board secret and chip ID.
#
# One file per entry rather than one container: every change is a single write_atomic() of a
# few hundred bytes (a power loss leaves the old entry or the new one, never a half-written
# keystore), a signature decrypts only the key it uses, and a damaged entry is reported by name.
# The price: removing an entry's file is not detected (the entry is then absent, and a
# replacement key would need a new certificate from the calibration authority anyway).
#
# What erase can reach (docs/keystore.md): littlefs never rewrites a block in place (copy-on-
# write), so overwriting a file leaves its old block as it was, free but unerased. After the
# files are gone, scrub() therefore fills the free space with a scratch file (every free block
# is written, erased first on real flash) and deletes it. On a plain folder (the simulator under
# CPython) files are overwritten in place and synced before they are removed.
import os

from meterseal.compat import IS_MICROPYTHON, const

_DIR = "ks/"
_SUFFIX = ".ks"
_MARK = "ks/erasing"
# The scratch file ends in ".tmp": Storage.recover() drops it at boot if a power loss cut the
# scrub short.
_SCRATCH = "ks/scrub.tmp"
_CHUNK = const(512)  # small: a fragmented 128 KiB heap still has it


class FileStore:
    def __init__(self, storage):
        self._st = storage

    def _path(self, name):
        return _DIR + name + _SUFFIX

    def names(self):
        out = []
        for f in self._st.listdir("ks"):
            if f.endswith(_SUFFIX):
                out.append(f[: -len(_SUFFIX)])
        return out

    def read(self, name):
        return self._st.read(self._path(name))

    def write(self, name, data):
        self._st.write_atomic(self._path(name), data)

    def remove(self, name):
        path = self._path(name)
        if not IS_MICROPYTHON:
            _overwrite(self._st.path(path))
        self._st.remove(path)

    def erasing(self):
        return self._st.exists(_MARK)

    def begin_erase(self):
        self._st.write_atomic(_MARK, b"erase")

    def end_erase(self):
        self._st.remove(_MARK)

    def scrub(self):
        """Write over every free block of a littlefs volume, then free them again."""
        if not IS_MICROPYTHON:
            return  # a host folder: the overwrite in remove() is what the medium allows
        self._st.remove(_SCRATCH)
        block = bytes(_CHUNK)
        try:
            f = self._st.open(_SCRATCH, "wb")
        except OSError:
            return  # no room even for the file's metadata: nothing is free to scrub
        try:
            while True:
                f.write(block)
        except OSError:
            pass  # ENOSPC: every free block now belongs to the scratch file
        try:
            f.close()
        except OSError:
            pass
        self._st.remove(_SCRATCH)


def _overwrite(path):
    # Same length, zeros, synced: ext4 and most host filesystems write such data in place (not
    # a copy-on-write one like btrfs, nor an SSD's own remapping, which nothing here can reach).
    try:
        n = os.stat(path)[6]
        with open(path, "r+b") as f:
            f.write(bytes(n))
            f.flush()
            os.fsync(f.fileno())
    except OSError:
        pass
