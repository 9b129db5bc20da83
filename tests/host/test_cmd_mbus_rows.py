"""`meterseal mbus read` rows (host_tools.cmd_mbus.readout_rows): combinable VIFEs
(EN 13757-3 table 15) change scale and meaning; a VIFE not understood gives no scaled value."""
from host_tools.cmd_mbus import readout_rows
from meterseal.proto import mbus_records as mr


class _Readout:
    def __init__(self, hexrecs):
        b = bytes.fromhex(hexrecs)
        self.records = mr.parse_records(b, 0, len(b))[0]


def _row(hexrecs):
    return readout_rows(_Readout(hexrecs))[0]


def test_vife_scale_factors():
    r = _row("04 96 74 10 27 00 00")  # VIF 16 (m3) + VIFE 74 (10**-2): 100 m3
    assert (r["quantity"], r["scaled"], r["unit"]) == ("volume", 100.0, "m3")
    r = _row("04 86 7D 05 00 00 00")  # VIF 06 (kWh) + VIFE 7D (10**3): 5 MWh
    assert (r["scaled"], r["unit"], r["exponent"]) == (5000000, "Wh", 6)


def test_vife_date_of_is_a_time_point():
    # Landis+Gyr T230: maximum flow temperature's "date/time of end of last" (VIFE 6F), type F
    r = _row("94 10 DA 6F 32 14 7A 18")
    assert r["value"] == "2011-08-26T20:50" and r["scaled"] is None and r["unit"] == ""
    assert "date" in r["quantity"] and "flow temperature" in r["quantity"]


def test_vife_that_changes_the_meaning_or_is_unknown():
    r = _row("04 BE 50 71 BB B0 00")  # VIF 3E (m3/h) + VIFE 50: duration of limit exceed, s
    assert r["unit"] == "s" and r["scaled"] == 11582321 and "duration" in r["quantity"]
    r = _row("04 86 78 05 00 00 00")  # VIFE 78: additive correction constant, not handled
    assert r["scaled"] is None and r["value"] == 5 and r.get("flag")
    assert "flag" not in _row("04 06 05 00 00 00")


def test_read_arguments_checked_before_the_port_opens():
    import argparse

    import pytest
    from host_tools.cmd_mbus import do_mbus
    from host_tools.errors import ToolError

    for addr in (251, 252, 255, -1):
        args = argparse.Namespace(action="read", secondary=None, address=addr, port=None,
                                  settings={"port": None})
        with pytest.raises(ToolError, match="0..250, 253 or 254"):
            do_mbus(args)


def test_secondary_ids_may_have_hex_digits_a_to_e():
    from meterseal.proto import mbus
    import pytest

    assert mbus.secondary_from_text("1234ABCD") == bytes.fromhex("CDAB3412FFFFFFFF")
    assert mbus.secondary_from_text("1234abcdA8150102") == bytes.fromhex("CDAB3412A8150102")
    for bad in ("1234567G", "+1234567", "1234 567"):
        with pytest.raises(mbus.FrameError):
            mbus.secondary_from_text(bad)
