# The metering identity of a device: how the link protocols name it.
#   M-Bus / OMS: ID number (8 BCD digits), manufacturer (3 letters, EN 13757-3 / FLAG code),
#   version, medium. SML / EDL40: the 10-byte server ID built from them (DIN 43863-5 form:
#   0x0A, medium-ish byte 0x01, manufacturer letters, version, ID). IEC 62056-21: the identification.
# Manufacture (provisioning) writes "identity.json" on storage; until then a board uses a default
# derived from its unique ID, so two simulated boards never share an address.
import json

from meterseal.compat import const

MEDIUM_ELECTRICITY = const(0x02)
MEDIUM_GAS = const(0x03)
MEDIUM_WATER = const(0x07)

DEFAULT_MANUFACTURER = "MSL"  # MeterSeal; not a registered FLAG code: set the real one at manufacture
_FILE = "identity.json"


def load(board, medium=MEDIUM_ELECTRICITY):
    raw = board.storage.read(_FILE)
    if raw:
        ident = json.loads(raw)
    else:
        uid = board.unique_id()
        n = 0
        for b in uid:
            n = (n * 256 + b) % 100000000
        ident = {"id": n, "manufacturer": DEFAULT_MANUFACTURER, "version": 1, "medium": medium}
    ident.setdefault("medium", medium)
    ident.setdefault("primary_address", ident["id"] % 250 + 1 if not raw else 0)
    return ident


def save(board, ident):
    board.storage.write_atomic(_FILE, json.dumps(ident).encode())


# DIN 43863-5 "Sparte" digit that opens a device ID such as 1MSL0012345678.
_SPARTE = {MEDIUM_ELECTRICITY: "1", MEDIUM_GAS: "7", MEDIUM_WATER: "8"}


def device_id(ident):
    """The device's name in certificates and signed commands: Sparte, manufacturer, 2-digit
    fabrication block (our version byte), 8-digit ID, e.g. "1MSL0012345678" (DIN 43863-5 form)."""
    return "%s%s%02d%08d" % (_SPARTE.get(ident["medium"], "0"), ident["manufacturer"],
                             ident["version"] % 100, ident["id"])


def server_id(ident):
    """The 10-byte SML server ID (DIN 43863-5 style): 0A 01, manufacturer letters, version, ID BE."""
    m = ident["manufacturer"].encode()
    i = ident["id"]
    return b"\x0a\x01" + m + bytes([ident["version"] & 0xFF]) + bytes(
        [(i >> 24) & 0xFF, (i >> 16) & 0xFF, (i >> 8) & 0xFF, i & 0xFF])
