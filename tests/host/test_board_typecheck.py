"""The board HAL type-checks against the ESP32 and RP2040 MicroPython 1.29 stubs, the check can
fail (a call the board lacks, a module the other board lacks), and only hal/ touches the
hardware modules (architecture.md: "Only hal imports machine")."""
import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "tools" / "typecheck_boards.py"
HAL = ROOT / "firmware" / "lib" / "meterseal" / "hal"
HARDWARE = {"machine", "esp32", "rp2", "network"}


def run_tool(*args):
    proc = subprocess.run([sys.executable, str(TOOL), *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)
    return proc.returncode, proc.stdout + proc.stderr


def test_firmware_typechecks_on_both_boards():
    rc, out = run_tool()
    assert rc == 0, out
    assert "typecheck esp32" in out and "typecheck rp2040" in out, out
    # chip modules go to their own board only
    esp, rp = out.split("typecheck rp2040")
    assert "hal/chip_esp32.py" in esp and "hal/chip_esp32.py" not in rp, out
    assert "hal/chip_rp2040.py" in rp and "hal/chip_rp2040.py" not in esp, out
    assert "hal/machine_board.py" in esp and "hal/machine_board.py" in rp, out


def test_a_call_the_board_lacks_is_reported(tmp_path):
    (tmp_path / "probe_uart.py").write_text(
        "import machine\n\n\n"
        "def f():\n"
        "    u = machine.UART(1, baudrate=2400)\n"
        "    u.nonexistent()\n")
    rc, out = run_tool("--root", str(tmp_path))
    assert rc == 1, out
    for board in ("esp32", "rp2040"):
        assert "typecheck %s" % board in out
    assert out.count('probe_uart.py:6: error: "UART" has no attribute "nonexistent"') == 2, out


def test_esp32_module_outside_a_chip_file_fails_on_rp2040(tmp_path):
    # Unguarded in a common file: the rp2040 run must fail. The same call in chip_esp32.py,
    # or behind `if sys.platform == "esp32":`, must pass.
    (tmp_path / "probe_common.py").write_text(
        "import sys\n"
        "import machine\n"
        "import esp32\n\n"
        "n = esp32.NVS('x')\n"
        "if sys.platform == 'esp32':\n"
        "    import esp32 as e\n"
        "    e.NVS('y').commit()\n")
    (tmp_path / "chip_esp32.py").write_text(
        "import esp32\n\n"
        "esp32.NVS('x').commit()\n")
    rc, out = run_tool("--root", str(tmp_path))
    assert rc == 1, out
    esp, rp = out.split("typecheck rp2040")
    assert "error" not in esp, out
    assert "probe_common.py:3: error" in rp and 'module named "esp32"' in rp, out
    assert "probe_common.py:7" not in rp and "chip_esp32.py" not in rp, out


def test_only_hal_imports_hardware_modules():
    offenders = []
    for path in sorted((ROOT / "firmware").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module.split(".")[0]]
            else:
                continue
            bad = HARDWARE.intersection(names)
            if bad and HAL not in path.parents:
                offenders.append("%s:%d imports %s" % (path.relative_to(ROOT), node.lineno,
                                                        ", ".join(sorted(bad))))
    assert not offenders, "\n".join(offenders)
