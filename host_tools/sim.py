"""Run simulated boards: the unchanged firmware under the MicroPython unix port (or CPython for
debugging), with the simulator HAL. A state folder holds everything a board keeps (its littlefs
image, eFuse secret, the ports it listens on), so a board killed and started again on the same
folder continues where it stopped."""
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from . import frozen
from .errors import ToolError
from .paths import BOARDS, FIRMWARE, FIRMWARE_LIB, ROOT

INTERPRETERS = ("micropython", "cpython")


def _die_with_parent():
    # Linux: the board gets SIGKILL when the process that started it dies, however it dies, so
    # no simulated board outlives its owner. Elsewhere owners must stop their boards themselves.
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def micropython_command():
    """The MicroPython unix port: $MICROPYTHON, else the one the project's venv installed."""
    exe = os.environ.get("MICROPYTHON")
    if exe:
        return exe
    for cand in (Path(sys.executable).parent / "micropython", ROOT / ".venv" / "bin" / "micropython"):
        if cand.exists():
            return str(cand)
    raise ToolError("no MicroPython interpreter: run `make venv`, or set MICROPYTHON to a unix port")


def load_board(name):
    path = BOARDS / name / "board.json"
    if not path.exists() or name == "sim":
        known = sorted(p.name for p in BOARDS.iterdir() if (p / "board.json").exists() and p.name != "sim")
        raise ToolError("unknown board %r (known: %s)" % (name, ", ".join(known)))
    return json.loads(path.read_text())


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare_state(state_dir, board="esp32", role=None, ports=None, links=None, settings=None):
    """Write the simulated board's configuration into state_dir and return it.

    The first start fixes the board, role and TCP ports; later starts on the same folder keep them
    (so socket:// URLs stay valid) unless given explicitly. `ports` maps a UART to the TCP port it
    serves; `links` maps a UART to "HOST:PORT" of a bus hub it joins instead (see simbus.py).
    `settings` adds or overrides board.json keys (e.g. sim_time_scale, sim_load); they too are
    kept for later starts.
    """
    state = Path(state_dir).resolve()
    state.mkdir(parents=True, exist_ok=True)
    cfg_path = state / "board.json"
    old = json.loads(cfg_path.read_text()) if cfg_path.exists() else {}
    if old and board != old.get("board") and board is not None:
        raise ToolError("%s holds a simulated %s, not %s: use another --state folder"
                        % (state, old.get("board"), board))
    base = load_board(board or old.get("board") or "esp32")
    sim = json.loads((BOARDS / "sim" / "board.json").read_text())
    cfg = dict(base)
    cfg["hal"] = "sim"
    cfg["keystore"] = sim["keystore"]
    cfg["host"] = sim["host"]
    cfg["description"] = "simulated " + base["description"]
    cfg["role"] = role or old.get("role") or base["role"]
    cfg["state_dir"] = str(state)
    ports = dict(ports or {})
    links = dict(links or {})
    uarts = {}
    for name, u in base["uarts"].items():
        u = dict(u)
        was = old.get("uarts", {}).get(name, {})
        link = links.get(name) or (None if name in ports else was.get("tcp_connect"))
        if link:
            u["tcp_connect"] = link
        else:
            u["tcp_port"] = ports.get(name) or was.get("tcp_port") or free_port()
        uarts[name] = u
    cfg["uarts"] = uarts
    for k, v in old.items():  # the simulator's own settings survive a restart
        if k.startswith("sim_") and not k.startswith("sim_frozen"):
            cfg.setdefault(k, v)
    cfg.update(settings or {})
    tmp = cfg_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(cfg, indent=1))
    tmp.replace(cfg_path)
    return cfg


def url(cfg, uart="console"):
    u = cfg["uarts"][uart]
    if "tcp_connect" in u:
        return "socket://" + u["tcp_connect"]  # the bus hub the UART is wired to
    return "socket://%s:%d" % (cfg["host"], u["tcp_port"])


class SimulatedBoard:
    """One simulated board process. Use as a context manager: it never outlives its owner."""

    def __init__(self, state_dir, board="esp32", role=None, interpreter="micropython", ports=None,
                 links=None, settings=None):
        if interpreter not in INTERPRETERS:
            raise ToolError("unknown interpreter %r (micropython or cpython)" % interpreter)
        self.config = prepare_state(state_dir, board, role, ports, links, settings)
        self.state_dir = Path(self.config["state_dir"])
        if interpreter == "micropython":
            self._freeze()
        self.interpreter = interpreter
        self.proc = None
        self.log_path = self.state_dir / "board.log"

    def _freeze(self):
        """Record in the board's configuration which modules a frozen build holds and how much
        heap their bytecode takes under the unix port (hal/sim.py imports them all at boot)."""
        self.config["sim_frozen_modules"] = frozen.modules()
        self.config["sim_frozen_bytes"] = frozen.footprint(micropython_command())
        path = self.state_dir / "board.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.config, indent=1))
        tmp.replace(path)

    @property
    def heap_bytes(self):
        return self.config["heap_bytes"]

    def url(self, uart="console"):
        return url(self.config, uart)

    def command(self):
        main = str(FIRMWARE / "main.py")
        if self.interpreter == "micropython":
            # The board's heap plus what a frozen build keeps in flash (see frozen.py).
            heap = self.heap_bytes + self.config.get("sim_frozen_bytes", 0)
            return [micropython_command(), "-X", "heapsize=%d" % heap, main]
        return [sys.executable, main]

    def environment(self):
        env = dict(os.environ)
        env["METERSEAL_BOARD_JSON"] = str(self.state_dir / "board.json")
        # .frozen keeps the interpreter's own frozen modules (asyncio) importable.
        lib = frozen.build() if self.interpreter == "micropython" else FIRMWARE_LIB
        env["MICROPYPATH"] = str(lib) + os.pathsep + ".frozen"
        env["PYTHONPATH"] = str(FIRMWARE_LIB) + os.pathsep + env.get("PYTHONPATH", "")
        return env

    def start(self, wait=10.0, log=None):
        """Start the board process and wait until its console port accepts connections."""
        out = log if log is not None else open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.command(), env=self.environment(), cwd=str(self.state_dir),
                                     stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True, preexec_fn=_die_with_parent)
        if log is None:
            out.close()
        self.wait_ready(wait)
        return self

    def wait_ready(self, wait):
        host, port = self.config["host"], self.config["uarts"]["console"]["tcp_port"]
        deadline = time.monotonic() + wait
        while True:
            if self.proc.poll() is not None:
                raise ToolError("the simulated board exited with code %s; see %s"
                                % (self.proc.returncode, self.log_path))
            try:
                with socket.create_connection((host, port), timeout=0.2):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    self.kill()
                    raise ToolError("the simulated board did not open its console port in %.0f s; "
                                    "see %s" % (wait, self.log_path))
                time.sleep(0.05)

    def kill(self, sig=signal.SIGKILL):
        """Stop the board at once (SIGKILL is a power cut)."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=10)

    def stop(self):
        self.kill(signal.SIGTERM)

    def __enter__(self):
        return self.start() if self.proc is None else self

    def __exit__(self, *exc):
        self.kill()


def describe(board):
    cfg = board.config
    lines = ["simulated %s (%s, %d KiB heap) in %s, role %s" % (
        cfg["board"], board.interpreter, cfg["heap_bytes"] // 1024, board.state_dir, cfg["role"])]
    for name in sorted(cfg["uarts"]):
        u = cfg["uarts"][name]
        lines.append("  %-8s %s  (%d baud)" % (name, board.url(name), u.get("baud", 115200)))
    return "\n".join(lines)


def run_foreground(state_dir, board=None, role=None, interpreter="micropython", ports=None,
                   settings=None):
    """`meterseal sim`: run one board until Ctrl-C; its output goes to the terminal."""
    b = SimulatedBoard(state_dir, board=board, role=role, interpreter=interpreter, ports=ports,
                       settings=settings)

    def _terminate(signum, frame):
        raise KeyboardInterrupt  # `kill` stops the board as Ctrl-C does

    signal.signal(signal.SIGTERM, _terminate)
    b.start(log=sys.stdout.buffer if hasattr(sys.stdout, "buffer") else None)
    print(describe(b), flush=True)
    print("Ctrl-C stops the board; starting again on the same --state continues.", flush=True)
    try:
        while b.proc.poll() is None:
            time.sleep(0.2)
        print("the board exited with code %s" % b.proc.returncode)
        return 2
    except KeyboardInterrupt:
        b.stop()
        return 0
    finally:
        b.kill()
