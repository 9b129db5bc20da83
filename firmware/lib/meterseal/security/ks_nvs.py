# Keystore backend "esp32-nvs": entries as blobs in the ESP-IDF NVS namespace "meterseal-ks",
# reached through the hal (board.secure_blobs(namespace): get(key) -> bytes or None,
# put(key, data), delete(key)); only hal imports esp32. Entries are sealed by ks_seal.py exactly
# as in the file backend, so tampering and foreign entries are caught the same way; the
# protection at rest comes from flash encryption plus NVS encryption (boards/esp32/NOTES.md,
# docs/keystore.md). Without them NVS is plain flash and the board secret that seals the entries
# sits in the same partition: then the keys are NOT protected against anyone holding the board.
#
# NVS keys are at most 15 characters and MicroPython's esp32.NVS cannot list a namespace, so an
# entry lives under "e" + 14 hex digits of SHA-256(name) and the blob "index" lists the names.
# Each set_blob is atomic (ESP-IDF, NVS: a power loss leaves the old or the new value); the
# index is written before an entry is added and after one is removed, so a power loss between
# the two leaves at worst a listed name without a blob, which the keystore treats as absent.
#
# Erase: erase_key marks an NVS entry erased; its bytes stay in the page until NVS reclaims the
# page for space. The ESP-IDF API offers no way to force that for one namespace, so scrub() can do
# nothing here: stale copies stay sealed, and encrypted by NVS encryption where it is on.
import binascii
import hashlib

from meterseal.compat import const
from meterseal.security.ks_seal import KeystoreError

_INDEX = "index"
_MARK = "erasing"
_MAX_INDEX = const(1900)  # one NVS page holds a blob of up to 1984 bytes (format v1)


def nvs_key(name):
    return "e" + binascii.hexlify(hashlib.sha256(name.encode()).digest()[:7]).decode()


class NvsStore:
    def __init__(self, blobs):
        self._b = blobs

    def names(self):
        raw = self._b.get(_INDEX)
        if not raw:
            return []
        return [n for n in bytes(raw).decode().split("\n") if n]

    def _set_index(self, names):
        raw = "\n".join(names).encode()
        if len(raw) > _MAX_INDEX:
            raise KeystoreError("size")
        self._b.put(_INDEX, raw)

    def read(self, name):
        return self._b.get(nvs_key(name))

    def write(self, name, data):
        names = self.names()
        if name not in names:
            names.append(name)
            self._set_index(names)
        self._b.put(nvs_key(name), data)

    def remove(self, name):
        self._b.delete(nvs_key(name))
        names = self.names()
        if name in names:
            names.remove(name)
            self._set_index(names)

    def erasing(self):
        return self._b.get(_MARK) is not None

    def begin_erase(self):
        self._b.put(_MARK, b"erase")

    def end_erase(self):
        self._b.delete(_INDEX)
        self._b.delete(_MARK)

    def scrub(self):
        pass  # see the header: NVS keeps erased entries until it reclaims their page
