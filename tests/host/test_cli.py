"""The `meterseal` command table: every command has --help, errors have one shape and exit code."""
import pytest

from host_tools import cli

# Each command and the tests that exercise it for real; a new command must be added here.
COVERED = {
    "info": "tests/system/test_console_board.py",
    "sim": "tests/system/test_sim_lifecycle.py",
    "demo": "tests/system/test_sim_lifecycle.py",
    "ca": "tests/host/test_pki_cli.py",
    "dir": "tests/host/test_directory.py",
    "wmbus": "tests/host/test_cmd_wmbus.py, tests/system/test_wmbus_air.py",
    "iec": "tests/system/test_iec_meter.py",
    "mbus": "tests/system/test_mbus_bus.py",
    "provision": "tests/system/test_provisioning.py",
    "readings": "tests/system/test_meter_readings.py",
    "cmd": "tests/system/test_meter_commands.py",
    "logbook": "tests/system/test_meter_commands.py, tests/system/test_meter_logbook.py",
}


def test_every_command_is_covered():
    assert set(cli.COMMANDS) == set(COVERED)


@pytest.mark.parametrize("name", sorted(cli.COMMANDS))
def test_help_of_each_command(name, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main([name, "--help"])
    assert e.value.code == 0
    assert "usage: meterseal " + name in capsys.readouterr().out


def test_missing_port_is_exit_2_with_hint(capsys, monkeypatch, tmp_path):
    monkeypatch.delenv("METERSEAL_PORT", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cli.main(["info"]) == 2
    assert capsys.readouterr().err.startswith("meterseal: info: no port: give --port")


def test_config_file_and_environment(tmp_path, monkeypatch):
    from host_tools import config

    f = tmp_path / "meterseal.toml"
    f.write_text('port = "socket://127.0.0.1:7000"\nbaud = 9600\n')
    monkeypatch.delenv("METERSEAL_PORT", raising=False)
    assert config.load(str(f))["port"] == "socket://127.0.0.1:7000"
    monkeypatch.setenv("METERSEAL_BAUD", "19200")
    assert config.load(str(f))["baud"] == 19200
    f.write_text('prot = "x"\n')
    with pytest.raises(Exception, match="unknown setting 'prot'"):
        config.load(str(f))
