"""`meterseal wmbus decode`: public telegrams decode to their documented values; wrong keys, bad
input and missing keys give the right message and exit code (0 / 1 / 2)."""
import json

from host_tools import cli

_W2 = ("6E44010670112724420D7A35006025B2F96D0306197B34C7E4E6F45F434FCB78BCBBE8837A2C253BEC3E958B3BBB"
       "FBE6AE465214941AF544237DB8A69E6C4CE8DFB7A1F64860200BB2E995F1A4F501E7702E0A581576F60B58CBDA"
       "39E1F150F29E04D689C38FD6C430ABD05DD789E0")
_K2 = "APA24271170=ACA5769E7902B8A770A7118C11D5F0F6"


def test_decode_mode5_with_key(capsys):
    assert cli.main(["wmbus", "decode", _W2, "--key", _K2, "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["meter"] == "APA24271170" and r["mode"] == 5
    vals = {(x["quantity"], x["storage"], x["tariff"], x["subunit"]): x["value"]
            for x in r["records"]}
    assert vals[("volume", 0, 0, 0)] == 17.856
    assert vals[("energy", 0, 0, 0)] == 144000  # Wh
    assert vals[("flow temperature", 0, 0, 0)] == 22.5


def test_decode_plain_with_format_a_crcs(capsys):
    raw = ("3444EE4D813929271608811D7A51000000046D1912A62B036E0000005170426CE1F1436E00000002FF2C000002"
           "59D6D0D4090265FC0902FD66A00044C4")
    assert cli.main(["wmbus", "decode", raw]) == 0
    out = capsys.readouterr().out
    assert out.startswith("SON27293981  type 0x08  mode 0")
    assert "2021-11-06 18:25" in out


def test_wrong_key_is_exit_1(capsys):
    bad = _K2[:-2] + "00"
    assert cli.main(["wmbus", "decode", _W2, "--key", bad]) == 1
    # L = length - 1 fits a frame without CRCs and a format B frame: auto says both
    assert capsys.readouterr().err == ("meterseal: wmbus: APA24271170: wrong key (or a format B "
                                       "frame with a bad CRC: try --crc b)\n")
    assert cli.main(["wmbus", "decode", _W2, "--key", bad, "--crc", "none"]) == 1
    assert capsys.readouterr().err == "meterseal: wmbus: APA24271170: wrong key\n"


def test_missing_key_and_bad_input_are_exit_2(capsys):
    assert cli.main(["wmbus", "decode", _W2]) == 2
    assert "no key (give --key APA24271170=HEX)" in capsys.readouterr().err
    assert cli.main(["wmbus", "decode", "6E44zz"]) == 2
    assert capsys.readouterr().err == "meterseal: wmbus: telegram: not hex\n"
    assert cli.main(["wmbus", "decode", _W2[:-4]]) == 2
    assert cli.main(["wmbus", "decode", _W2, "--key", "APA1=00"]) == 2
    assert "expected METERID=HEX" in capsys.readouterr().err


def test_listen_needs_a_port_and_a_limit(capsys, monkeypatch):
    monkeypatch.delenv("METERSEAL_PORT", raising=False)
    assert cli.main(["wmbus", "listen", "--port", "socket://127.0.0.1:9"]) == 2
    assert "give --count N or --seconds S" in capsys.readouterr().err
