# Every CRC of the project, named for the standard that defines it, with its parameters.
# Table-driven (one 512-byte table each, made on first use) because bitwise loops cost ~8x more
# interpreter time per byte on MicroPython.

_tables = {}


def _table_reflected(poly_reflected):
    t = _tables.get(poly_reflected)
    if t is None:
        t = []
        for i in range(256):
            c = i
            for _ in range(8):
                c = (c >> 1) ^ poly_reflected if c & 1 else c >> 1
            t.append(c)
        t = tuple(t)
        _tables[poly_reflected] = t
    return t


def crc16_x25(data, start=0, end=None, crc=0xFFFF):
    """CRC-16/X-25 (ISO/IEC 13239 / ITU-T X.25): poly 0x1021 reflected (0x8408), init 0xFFFF,
    output reflected and xor 0xFFFF. Check value over b"123456789": 0x906E. Used by SML
    (transmitted low byte first... see sml.py) and by the console frames (big-endian there).
    `crc` continues a running computation: pass the *internal* value from crc16_x25_update."""
    return crc16_x25_update(data, start, end, crc) ^ 0xFFFF


def crc16_x25_update(data, start=0, end=None, crc=0xFFFF):
    t = _table_reflected(0x8408)
    if end is None:
        end = len(data)
    for i in range(start, end):
        crc = (crc >> 8) ^ t[(crc ^ data[i]) & 0xFF]
    return crc


def _table_msb(poly):
    # MSB-first (non-reflected) table; keyed apart from the reflected ones by bit 16.
    key = poly | 0x10000
    t = _tables.get(key)
    if t is None:
        t = []
        for i in range(256):
            c = i << 8
            for _ in range(8):
                c = ((c << 1) ^ poly) & 0xFFFF if c & 0x8000 else (c << 1) & 0xFFFF
            t.append(c)
        t = tuple(t)
        _tables[key] = t
    return t


def crc16_en13757(data, start=0, end=None):
    """CRC-16/EN-13757 (EN 13757-4 data link layer, wireless M-Bus): poly 0x3D65, MSB first (not
    reflected), init 0x0000, final xor 0xFFFF. Check value over b"123456789": 0xC2B7. The link
    layer sends it big-endian after each block; the ELL payload CRC little-endian (wmbus.py)."""
    t = _table_msb(0x3D65)
    if end is None:
        end = len(data)
    crc = 0
    for i in range(start, end):
        crc = ((crc << 8) & 0xFFFF) ^ t[(crc >> 8) ^ data[i]]
    return crc ^ 0xFFFF
