"""Our M-Bus RSP_UD frames, decoded by pyMeterBus (`meterbus`, a decoder this project did not
write): same records, values and units. Frames come from the slave under CPython and, in one
test, from the slave running under MicroPython."""
import json
import os
import subprocess
from decimal import Decimal
from pathlib import Path

import meterbus
import pytest

from meterseal.proto import mbus
from meterseal.proto import mbus_records as mr
from meterseal.proto.mbus_units import describe
from meterseal.roles.mbus_slave import MBusSlave
from host_tools import frozen

ROOT = Path(__file__).resolve().parents[2]
IMPORT = b"\x01\x00\x01\x08\x00\xff"
EXPORT = b"\x01\x00\x02\x08\x00\xff"
POWER = b"\x01\x00\x10\x07\x00\xff"
_UNITS = {"Wh": "MeasureUnit.WH", "W": "MeasureUnit.W", "": "MeasureUnit.NONE"}


def ident(n=12345678, man="MSL", addr=5):
    return {"id": n, "manufacturer": man, "version": 1, "medium": 2, "primary_address": addr}


def answers(readout, idn, now=1767225599, max_data=252, n=1):
    """RSP_UD frames for n REQ_UD2 with toggling FCB (a multi-telegram readout when large)."""
    s = MBusSlave(None, idn, lambda: readout, now=lambda: now, max_data=max_data)
    out = []
    fcb = 0x20
    for _ in range(n):
        f = mbus.parse(mbus.build_short(0x5B | fcb, idn["primary_address"]))
        out.append(s.handle(f[0], f[1], f[2], f[3], b"", 0, 0))
        fcb ^= 0x20
    return out


def check_against_meterbus(frame):
    """Decode with both; every record must agree. Returns pyMeterBus' records."""
    t = meterbus.load(frame)
    kind, c, a, ci, ds, de = mbus.parse(frame)
    header = mr.parse_header(frame, ds, de)
    recs, more = mr.parse_records(frame, ds + 12, de)
    h = t.body.interpreted["header"]
    assert h["manufacturer"] == header[1] and h["access_no"] == header[4]
    assert h["identification"] == ", ".join("0x%02X" % b for b in frame[ds + 3:ds - 1:-1])
    ours = [r for r in recs if r.function != mbus.FN_MANUFACTURER]
    theirs = [r.interpreted for r in t.records if "value" in r.interpreted
              and r.interpreted.get("function") != "FunctionType.MORE_RECORDS_FOLLOW"]
    assert len(ours) == len(theirs), (ours, theirs)
    for r, p in zip(ours, theirs):
        q, unit, exp = describe(r.vif, r.vife)
        assert p["storage_number"] == r.storage
        assert p.get("tariff", 0) == r.tariff and p.get("device", 0) == r.subunit
        assert p["function"] == "FunctionType.INSTANTANEOUS_VALUE"
        if isinstance(r.value, tuple):
            assert p["value"] == "%04d-%02d-%02dT%02d:%02d" % r.value
            assert p["unit"] == "MeasureUnit.DATE_TIME"
            continue
        assert p["unit"] == _UNITS[unit], (q, p)
        expect = Decimal(r.value) * (Decimal(10) ** exp)
        assert abs(Decimal(p["value"]) - expect) <= abs(expect) * Decimal("1e-9"), (p, expect)
        if r.vife == b"\x3c":
            assert p["unit_enh"] == "VIFUnitEnhExt.NEGATIVE_ACCUMULATION"
    return theirs


@pytest.mark.parametrize("readout", [
    [(IMPORT, 12345678, -1, 30), (EXPORT, 4321, -1, 30), (POWER, 400, 0, 27)],
    [(IMPORT, 0, -1, 30), (EXPORT, 0, -1, 30), (POWER, 0, 0, 27)],
    [(IMPORT, 99999999999999, -1, 30), (EXPORT, 1, -1, 30), (POWER, -2147483648, 0, 27)],
    [(IMPORT, 5, 3, 30), (POWER, 12345, -3, 27), (POWER, 7, 2, 27)],  # other scalers
])
def test_pymeterbus_reads_our_rsp_ud(readout):
    frame = answers(readout, ident())[0]
    theirs = check_against_meterbus(frame)
    assert theirs[0]["unit"] == "MeasureUnit.WH"
    fab = [p for p in theirs if p["type"] == "VIFUnit.FABRICATION_NO"]
    assert fab and fab[0]["value"] == 12345678


def test_pymeterbus_reads_each_part_of_a_multi_telegram_readout():
    readout = [(IMPORT, 1000 + i, -1, 30) for i in range(3)] + [(POWER, 400, 0, 27)]
    frames = answers(readout, ident(87654321, "EMH", 7), max_data=40, n=4)
    assert frames[0][-3] == mbus.DIF_MORE_FOLLOWS and frames[0] != frames[1]
    seen = []
    for f in frames:
        t = meterbus.load(f)
        check_against_meterbus(f)
        seen.append(t.more_records_follow)
        if not t.more_records_follow:
            break
    assert seen[0] and not seen[-1]


def test_pymeterbus_reads_frames_made_under_micropython():
    code = (
        "from meterseal.proto import mbus\n"
        "from meterseal.roles.mbus_slave import MBusSlave\n"
        "import binascii\n"
        "I=b'\\x01\\x00\\x01\\x08\\x00\\xff'; E=b'\\x01\\x00\\x02\\x08\\x00\\xff'; "
        "P=b'\\x01\\x00\\x10\\x07\\x00\\xff'\n"
        "idn={'id':24681357,'manufacturer':'MSL','version':1,'medium':2,'primary_address':9}\n"
        "s=MBusSlave(None, idn, lambda: [(I,987654321,-1,30),(E,12,-1,30),(P,-75,0,27)], "
        "now=lambda: 1767225599)\n"
        "f=mbus.parse(mbus.build_short(0x7B,9))\n"
        "print(binascii.hexlify(s.handle(f[0],f[1],f[2],f[3],b'',0,0)).decode())\n")
    env = frozen.mp_env()
    mp = os.environ.get("MICROPYTHON") or str(ROOT / ".venv" / "bin" / "micropython")
    out = subprocess.run(frozen.mp_command() + ["-c", code], env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    frame = bytes.fromhex(out.stdout.strip())
    # the same bytes as the CPython run of the same code: one implementation, two interpreters
    assert frame == answers([(IMPORT, 987654321, -1, 30), (EXPORT, 12, -1, 30),
                             (POWER, -75, 0, 27)], ident(24681357, addr=9))[0]
    theirs = check_against_meterbus(frame)
    assert [str(p["value"])[:8] for p in theirs[:3]] == ["98765432", "1.200000", "-75"]


def test_public_telegrams_agree_with_pymeterbus():
    # A second opinion on our decoder: on the electricity meters' telegrams of tests/vectors,
    # every numeric record has the same scaled value in pyMeterBus (it differs elsewhere by
    # design: durations in seconds, BCD with hex digits, plain-text units it cannot parse).
    path = ROOT / "tests" / "vectors" / "mbus" / "wired_telegrams.txt"
    electric = {"emh_diz", "abb_delta", "SBC_Saia-Burgess-ALE3", "nzr_dhz_5_63",
                "electricity-meter-2"}
    checked = 0
    for line in path.read_text().splitlines():
        if not line.startswith("T ") or line.split()[1] not in electric:
            continue
        frame = bytes.fromhex(line.split()[2])
        t = meterbus.load(frame)
        recs, more = mr.parse_records(frame, 19, len(frame) - 2)
        ours = [r for r in recs if r.function != mbus.FN_MANUFACTURER]
        theirs = [r.interpreted for r in t.records if "value" in r.interpreted]
        for r, p in zip(ours, theirs):
            assert p["storage_number"] == r.storage
            assert p.get("tariff", 0) == r.tariff and p.get("device", 0) == r.subunit
            exp = describe(r.vif, r.vife, r.text)[2]
            expect = Decimal(r.value) * Decimal(10) ** exp  # pyMeterBus scales through a float
            assert abs(Decimal(p["value"]) - expect) <= abs(expect) * Decimal("1e-12"), p
            checked += 1
    assert checked == 3 + 14 + 20 + 6 + 20
