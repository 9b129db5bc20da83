"""The metrological logbook on the host (D3, S1): read it from a meter page by page through
signed read_logbook commands, check it (firmware's security/logbook.Checker: CERT_EM signature
of every entry, sequence, hash chain, the head the meter signed), archive it, reset it.

An archive is a CBOR file {"v": 1, "device": ID, "cert_em": DER, "head": {...}, "entries": [...]}
holding the entries exactly as the meter stored them, so it verifies years later with CERT_EM.
"""
import datetime
import hashlib

import cbor2

from meterseal.crypto import cbor
from meterseal.security import logbook as lb

from .errors import EXIT_CHECK_FAILED, ToolError

ARCHIVE_VERSION = 1
_PAGE = 2


class LogbookBroken(ToolError):
    exit_code = EXIT_CHECK_FAILED


def read_all(session, first=0):
    """(entries, head) of the meter's current log from entry `first` (0: the oldest); the head
    of the last page is kept."""
    entries = []
    head = None
    while True:
        data = session.send("read_logbook", {"first": first + len(entries), "count": _PAGE})
        head = data["head"]
        page = [bytes(e) for e in data["entries"]]
        entries.extend(page)
        if not page or first + len(entries) >= head["count"]:
            return entries, head


def check(entries, head, em_key, device_id="the meter", previous=None):
    """The entries' payloads if the log verifies; LogbookBroken naming the entry otherwise."""
    ch = lb.Checker(em_key, previous)
    out = []
    try:
        for e in entries:
            out.append(ch.add(e))
        ch.finish(head)
    except lb.Broken as e:
        raise LogbookBroken("%s of %s" % (e.args[0], device_id)) from None
    return out


def save(path, device_id, cert_em_der, entries, head):
    data = cbor.dumps({"v": ARCHIVE_VERSION, "device": device_id, "cert_em": bytes(cert_em_der),
                       "head": head, "entries": list(entries)})
    with open(path, "wb") as f:
        f.write(data)


def load(path):
    try:
        with open(path, "rb") as f:
            a = cbor2.loads(f.read())
    except (OSError, ValueError, cbor2.CBORDecodeError) as e:
        raise ToolError("cannot read logbook archive %s: %s" % (path, e)) from None
    if not isinstance(a, dict) or a.get("v") != ARCHIVE_VERSION:
        raise ToolError("%s is not a version-1 logbook archive" % path)
    return a


def last_hash(entries):
    return hashlib.sha256(bytes(entries[-1])).digest() if entries else None


def _when(t):
    try:
        return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime(
            "%Y-%m-%d %H:%M:%S")
    except (TypeError, ValueError, OverflowError):
        return str(t)


def _short(v, width=28):
    if isinstance(v, dict) and set(v) == {"sha256"}:
        v = "sha256:" + bytes(v["sha256"]).hex()[:12]
    s = "-" if v is None else str(v)
    return s if len(s) <= width else s[:width - 3] + "..."


def rows(payloads):
    """Table rows: seq, time (UTC), event, actor, role, old, new, outcome."""
    out = []
    for p in payloads:
        out.append((p["seq"], _when(p.get("t")), p.get("ev"), (p.get("fp") or "-")[:12],
                    p.get("role") or "-", _short(p.get("old")), _short(p.get("new")),
                    p.get("out")))
    return out


HEADERS = ("seq", "time (UTC)", "event", "actor", "role", "old", "new", "outcome")
