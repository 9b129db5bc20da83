# The metrological logbook (D3, S1): every write access to the metrological part and every
# refused attempt, hash-chained and signed by the meter's calibrated key, so that a removed,
# reordered, altered or cut entry is found by the host (docs/logbook.md, host_tools/logbook.py).
#
# Entry: a COSE_Sign1 (ES256, key "em", no x5chain: CERT_EM is in the directory) whose payload is
#   {"v": 1, "seq": n, "t": board time, "ev": event, "fp": signer fingerprint hex | None,
#    "role": role | None, "old": value, "new": value, "out": "ok" | refusal reason,
#    "prev": SHA-256 of the previous entry's COSE bytes (32 zero bytes before the first)}
# Each entry is signed on its own: any entry, or any run of them, stays a non-repudiation token
# for as long as CERT_EM verifies (S1), whatever happened to the rest of the log.
#
# Storage: segments logbook/g<generation>-<index>.bin of _SEG entries, each a sequence of
# [length u16 big-endian][entry], appended to (littlefs commits an append whole on close; a cut
# frame on a plain folder is dropped at boot, never accepted), and logbook/head.json {seq, hash,
# lost} replaced with write_atomic after it. A reset starts generation g+1 with the reset entry and then deletes generation g.
# At first use the log is read back and compared with head.json: a log shorter than its head,
# a segment that does not parse, or a head without a log mean that someone edited the flash;
# the meter then records a "tamper" entry (the host's verify fails on it).
import hashlib
import json

from meterseal.compat import IS_MICROPYTHON, const
from meterseal.crypto import cbor, cose

FORMAT_VERSION = 1
DEFAULT_CAPACITY = const(500)
_SEG = const(16)  # entries per segment file (~3.8 KB: one 4 KB flash block)
_VALUE_MAX = const(96)  # larger old/new values are logged as their SHA-256
_DIR = "logbook"
_HEAD = "logbook/head.json"
_ZERO = b"\x00" * 32
STATUS_FULL = const(0x8000)
STATUS_TAMPER = const(0x4000)
_SEQ_MASK = const(0x3FFF)


class LogbookFull(Exception):
    pass


def _scan(storage, name, visit):
    """Read a segment entry by entry (never whole: a board's heap has few 4 KB holes), calling
    visit(seq, prev, rec) for each; returns (good, size): the bytes that parse, the file's."""
    good = 0
    try:
        f = storage.open(name, "rb")
    except OSError:
        return 0, 0
    with f:
        while True:
            hdr = f.read(2)
            if len(hdr) < 2:
                size = good + len(hdr)
                break
            ln = (hdr[0] << 8) | hdr[1]
            rec = f.read(ln) if ln else b""
            try:
                if len(rec) != ln or not ln:
                    raise ValueError("cut")
                p = entry_payload(rec)
            except Exception:
                size = good + 2 + len(rec) + len(f.read())
                break
            visit(p["seq"], p.get("prev"), rec)
            good += 2 + ln
    return good, size


def entry_payload(rec):
    """The payload map of an entry (shape checked, signature not: that is the host's job)."""
    p = cbor.loads(cose.parse_sign1(rec).payload)
    if not isinstance(p, dict) or p.get("v") != FORMAT_VERSION or not isinstance(p.get("seq"), int):
        raise ValueError("not a version-1 logbook entry")
    return p


def entry_hash(rec):
    return hashlib.sha256(bytes(rec)).digest()


def _value(v):
    try:
        enc = cbor.dumps(v)
    except (TypeError, ValueError):
        enc = repr(v).encode()
    if len(enc) > _VALUE_MAX:
        return {"sha256": hashlib.sha256(enc).digest()}
    return v


class Logbook:
    """signer: a function returning the em Signer (keystore), called only to sign an entry.
    clock: a function returning the board's time."""

    def __init__(self, storage, signer, clock, capacity=DEFAULT_CAPACITY):
        self._storage = storage
        self._signer = signer
        self._clock = clock
        self.capacity = capacity
        self._ready = False

    # --- state ----------------------------------------------------------------------------

    def _load(self):
        if self._ready:
            return
        st = self._storage
        gens = {}
        for name in st.listdir(_DIR):
            if name.startswith("g") and name.endswith(".bin") and "-" in name:
                try:
                    g, i = name[1:-4].split("-")
                    gens.setdefault(int(g), []).append(int(i))
                except ValueError:
                    pass
        self.gen = max(gens) if gens else 0
        for g in gens:  # a reset cut short by a power loss left the old generation: finish it
            if g != self.gen:
                for i in gens[g]:
                    st.remove(self._seg_name(g, i))
        segs = sorted(gens.get(self.gen, []))
        self.count = 0
        self.seq = 0
        self.last_hash = _ZERO
        self._tail_seg = 0
        self._tail_good = 0
        self._tail_n = 0
        last_prev = None
        damage = None
        state = [0, 0, _ZERO, None]  # count, seq, hash, prev

        def visit(seq, prev, rec):
            state[0] += 1
            state[1], state[2], state[3] = seq, entry_hash(rec), prev

        cut = None
        self._tail_cut = False
        for k in range(len(segs)):
            n0 = state[0]
            good, size = _scan(st, self._seg_name(self.gen, segs[k]), visit)
            if segs[k] != k and damage is None:
                damage = "segment %d of generation %d missing" % (k, self.gen)
            if good != size:
                if k == len(segs) - 1:
                    cut = (segs[k], good)
                elif damage is None:
                    damage = "segment %d of generation %d damaged" % (segs[k], self.gen)
            self._tail_seg, self._tail_good, self._tail_n = segs[k], good, state[0] - n0
        self.count, self.seq, self.last_hash, last_prev = state
        raw = st.read(_HEAD)
        head = json.loads(raw) if raw else None
        if cut is not None:
            self._tail_cut = True
            if head is not None and head.get("seq") == self.seq:
                # An append the power cut short (possible on a plain folder; littlefs commits
                # an append whole on close): never committed to the head, so dropped.
                name = self._seg_name(self.gen, cut[0])
                st.write_atomic(name, (st.read(name) or b"")[:cut[1]])
                self._tail_cut = False
            elif damage is None:
                damage = "segment %d of generation %d damaged" % (cut[0], self.gen)
        self.lost = head.get("lost", 0) if head else 0
        self._ready = True
        if head is not None:
            hseq, hhash = head.get("seq", 0), head.get("hash", "")
            from binascii import hexlify

            if self.seq == hseq and hexlify(self.last_hash).decode() == hhash:
                pass
            elif self.seq == hseq + 1 and self.count and damage is None and last_prev is not None \
                    and hexlify(last_prev).decode() == hhash:
                self._save_head()  # the power went between segment and head: the entry stands
            else:
                damage = (damage + "; " if damage else "") + \
                    "log ends at entry %d, its head says %d" % (self.seq, hseq)
            if damage:
                self.seq = max(self.seq, hseq)
        elif self.count == 1 and self.seq == 1 and last_prev == _ZERO and damage is None:
            self._save_head()  # the very first entry, cut off before its head
        elif self.count:
            damage = "log without its head file"
        if damage:
            self.tamper_note = damage
            self._append("tamper", None, None, None, damage, "tamper", force=True)
        else:
            self.tamper_note = None

    def _seg_name(self, g, i):
        return "%s/g%d-%d.bin" % (_DIR, g, i)

    def _save_head(self):
        from binascii import hexlify

        self._storage.write_atomic(_HEAD, json.dumps({
            "v": FORMAT_VERSION, "seq": self.seq, "hash": hexlify(self.last_hash).decode(),
            "lost": self.lost}).encode())

    @property
    def full(self):
        self._load()
        return self.count >= self.capacity

    def status_word(self):
        """The 16 bits the sealed readings carry (docs/sealed-readings.md, logbook bytes):
        bit 15 full, bit 14 tamper found since the last reset, bits 0-13 the sequence number
        of the newest entry modulo 16384."""
        self._load()
        w = self.seq & _SEQ_MASK
        if self.count >= self.capacity:
            w |= STATUS_FULL
        if self.tamper_note:
            w |= STATUS_TAMPER
        return w

    def status_bytes(self):
        w = self.status_word()
        return bytes(((w >> 8) & 0xFF, w & 0xFF))

    def head(self):
        self._load()
        return {"seq": self.seq, "hash": self.last_hash, "count": self.count, "lost": self.lost,
                "capacity": self.capacity, "full": self.count >= self.capacity,
                "generation": self.gen}

    # --- writing --------------------------------------------------------------------------

    def record(self, event, fp, role, old, new, outcome):
        """Append one entry; raises LogbookFull when there is no room (the caller refuses the
        change, D3). Returns the entry's sequence number."""
        self._load()
        return self._append(event, fp, role, old, new, outcome)

    def note_lost(self, n=1):
        """Refused attempts the logbook does not hold: counted, and the count goes into the
        reset entry, so the institute learns how many attempts it did not see."""
        self._load()
        self.lost += n
        self._save_head()

    def room(self):
        """Entries that can still be written before the logbook is full."""
        self._load()
        return self.capacity - self.count

    def _payload(self, seq, event, fp, role, old, new, outcome, prev):
        return cbor.dumps({"v": FORMAT_VERSION, "seq": seq, "t": self._clock(), "ev": event,
                           "fp": fp, "role": role, "old": _value(old), "new": _value(new),
                           "out": outcome, "prev": prev})

    def _append(self, event, fp, role, old, new, outcome, force=False):
        if self.count >= self.capacity and not force:
            raise LogbookFull("the logbook is full (%d entries): the institute must read and "
                              "reset it" % self.count)
        seq = self.seq + 1
        rec = cose.sign1(self._payload(seq, event, fp, role, old, new, outcome, self.last_hash),
                         self._signer())
        frame = bytes(((len(rec) >> 8) & 0xFF, len(rec) & 0xFF)) + rec
        if self._tail_n >= _SEG:
            self._tail_seg += 1
            self._tail_good = self._tail_n = 0
        self._write_frame(self._seg_name(self.gen, self._tail_seg), frame, self._tail_good)
        self._tail_good += len(frame)
        self._tail_n += 1
        self.count += 1
        self.seq = seq
        self.last_hash = entry_hash(rec)
        self._save_head()
        return seq

    def _write_frame(self, name, frame, good):
        st = self._storage
        if self._tail_cut:  # bytes after the last entry that parses: the tamper entry says so
            st.write_atomic(name, (st.read(name) or b"")[:good])
            self._tail_cut = False
        # Append (littlefs commits it whole on close: the old or the new file); only the frame
        # is in RAM. A plain folder (CPython) may keep a cut frame: _load drops it.
        with st.open(name, "ab") as f:
            f.write(frame)
            if not IS_MICROPYTHON:
                import os

                f.flush()
                os.fsync(f.fileno())

    def reset(self, expected_hash, fp, role):
        """Start a new log whose first entry is the reset, carrying the hash of the last entry.
        expected_hash: the head the institute read (it must have read up to the end)."""
        self._load()
        if bytes(expected_hash) != self.last_hash:
            raise ValueError("head mismatch: read the logbook up to its last entry first")
        old = {"entries": self.count, "lost": self.lost, "generation": self.gen}
        seq = self.seq + 1
        rec = cose.sign1(self._payload(seq, "reset_logbook", fp, role, old, None, "ok",
                                       self.last_hash), self._signer())
        frame = bytes(((len(rec) >> 8) & 0xFF, len(rec) & 0xFF)) + rec
        old_gen = self.gen
        self._storage.write_atomic(self._seg_name(old_gen + 1, 0), frame)
        # From here on the new generation is the log (the boot scan finishes a cut-short reset).
        for name in self._storage.listdir(_DIR):
            if name.startswith("g%d-" % old_gen):
                self._storage.remove(_DIR + "/" + name)
        self.gen = old_gen + 1
        self.count = 1
        self.seq = seq
        self.last_hash = entry_hash(rec)
        self.lost = 0
        self.tamper_note = None
        self._tail_seg, self._tail_good, self._tail_n = 0, len(frame), 1
        self._tail_cut = False
        self._save_head()
        return seq

    # --- reading --------------------------------------------------------------------------

    def entries(self, first, count):
        """Up to `count` entries (COSE bytes, as stored) from index `first` (0 = oldest)."""
        self._load()
        out = []
        seg = first // _SEG
        skip = first - seg * _SEG
        pos = [0]

        def visit(_seq, _prev, rec):
            if pos[0] >= skip and len(out) < count:
                out.append(bytes(rec))
            pos[0] += 1

        while len(out) < count:
            name = self._seg_name(self.gen, seg)
            if not self._storage.exists(name):
                break
            pos[0] = 0
            _scan(self._storage, name, visit)
            skip = 0
            seg += 1
        return out

    def clear(self):
        """Erase (U3): the log goes with the keys; a new life starts at entry 1."""
        for name in self._storage.listdir(_DIR):
            self._storage.remove(_DIR + "/" + name)
        self._ready = False


# --- checking a log (host tools, tests; streams entry by entry) --------------------------------

class Broken(Exception):
    """A log that does not verify: .index (0-based entry, or the count for the end), .reason
    ("signature", "format", "start", "sequence", "chain", "tamper", "head"), args[0] a sentence."""

    def __init__(self, index, reason, detail):
        super().__init__("entry %d: %s: %s" % (index + 1, reason, detail))
        self.index = index
        self.reason = reason


class Checker:
    """Feed the entries of one log oldest first (add), then finish(head) with the head the meter
    reported in its signed answer. public_key: CERT_EM's SEC1 point. previous: the hash of the
    last entry of the log before (from the institute's archive) to check a reset entry."""

    def __init__(self, public_key, previous=None):
        self._pub = public_key
        self._previous = previous
        self.count = 0
        self.seq = None
        self.hash = None

    def add(self, rec):
        from meterseal.crypto.errors import DecodeError, InvalidSignature

        i = self.count
        try:
            cose.verify_sign1(rec, self._pub)
        except (InvalidSignature, DecodeError) as e:
            raise Broken(i, "signature", "does not verify with CERT_EM (%s)" % (e,))
        try:
            p = entry_payload(rec)
        except (ValueError, DecodeError) as e:
            raise Broken(i, "format", str(e))
        # First: it explains the gap or break that comes with it.
        if p.get("ev") == "tamper":
            raise Broken(i, "tamper", "the meter found its logbook altered: %s" % (p.get("new"),))
        prev = p.get("prev")
        if i == 0:
            if p.get("ev") == "reset_logbook":
                if self._previous is not None and prev != self._previous:
                    raise Broken(i, "chain", "the reset does not carry the hash of the last "
                                 "entry of the previous log")
            elif p["seq"] != 1 or prev != _ZERO:
                raise Broken(i, "start", "the log starts at entry %d, neither its first entry "
                             "nor a reset: entries before it are missing" % p["seq"])
        else:
            if p["seq"] != self.seq + 1:
                raise Broken(i, "sequence", "entry %d follows entry %d" % (p["seq"], self.seq))
            if prev != self.hash:
                raise Broken(i, "chain", "does not carry the hash of the entry before it")
        self.count += 1
        self.seq = p["seq"]
        self.hash = entry_hash(rec)
        return p

    def finish(self, head):
        """head: {"seq", "hash", "count"} as the meter answered (signed)."""
        n = self.count
        if head.get("count") != n:
            raise Broken(n, "head", "the meter holds %s entries, %d were checked"
                         % (head.get("count"), n))
        if n and (head.get("seq") != self.seq or bytes(head.get("hash")) != self.hash):
            raise Broken(n - 1, "head", "the last entry is not the meter's newest (entry %s): "
                         "entries at the end are missing" % head.get("seq"))
