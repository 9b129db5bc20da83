# The ring of sealed readings on the board's storage (issue 6 item 4, S1, U1).
#
# Reading n (1, 2, ... for the life of the meter) lives in slot (n - 1) % keep, one file per
# slot, replaced with write_atomic: a power cut leaves the slot's old reading or the new one.
# A slot file is
#     "MSR1" | n (4 bytes, big-endian) | m (2 bytes, big-endian) | meta (m bytes, JSON) | SML file
# The SML file (transport v1: Open.Res, the sealed GetList.Res, Close.Res) is kept exactly as the
# meter built and sealed it, and get() returns those bytes unchanged: a sealed reading carries
# its own proof, so the store needs none. meta is the register state at the snapshot (the
# record of roles/registers.py); the meter resumes from it when a cut fell between writing the
# slot and writing its register record, and the load profile is read from it.
import json

from meterseal.compat import const

_MAGIC = b"MSR1"
_HDR = const(10)
DIR = "meter/ring"


def _name(slot):
    return "%s/%03d" % (DIR, slot)


class ReadingStore:
    def __init__(self, storage, keep=96):
        if not 1 <= keep <= 999:
            raise ValueError("readings_keep must be 1..999")
        self._storage = storage
        self.keep = keep

    def _slot(self, n):
        return (n - 1) % self.keep

    def put(self, n, meta, sml_file):
        m = json.dumps(meta).encode()
        if len(m) > 0xFFFF:
            raise ValueError("reading meta too large")
        head = bytearray(_MAGIC)
        head += bytes(((n >> 24) & 0xFF, (n >> 16) & 0xFF, (n >> 8) & 0xFF, n & 0xFF,
                       len(m) >> 8, len(m) & 0xFF))
        self._storage.write_atomic(_name(self._slot(n)), bytes(head) + m + bytes(sml_file))

    def _read(self, n):
        if n < 1:
            return None
        raw = self._storage.read(_name(self._slot(n)))
        if raw is None or len(raw) < _HDR or raw[:4] != _MAGIC:
            return None
        if int.from_bytes(raw[4:8], "big") != n:
            return None  # an older reading still in the slot (or a slot the cut left behind)
        return raw

    def get(self, n):
        """The SML file of reading n, byte for byte as sealed, or None (overwritten, absent)."""
        raw = self._read(n)
        if raw is None:
            return None
        m = (raw[8] << 8) | raw[9]
        return raw[_HDR + m:]

    def meta(self, n):
        raw = self._read(n)
        if raw is None:
            return None
        m = (raw[8] << 8) | raw[9]
        try:
            return json.loads(raw[_HDR:_HDR + m])
        except ValueError:
            return None

    def first(self, newest):
        """The oldest reading number the ring can still hold when `newest` is the latest."""
        return max(1, newest - self.keep + 1)

    def numbers(self, newest):
        return range(self.first(newest), newest + 1)

    def size(self):
        """Bytes the ring takes on storage now."""
        import os

        total = 0
        for name in self._storage.listdir(DIR):
            try:
                total += os.stat(self._storage.path(DIR + "/" + name))[6]
            except OSError:
                pass
        return total
