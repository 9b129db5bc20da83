# The electricity meter role (D1, D5). This first cut measures with the simulator's load model
# and offers its registers to the link-protocol services; persistence, sealed readings, signed
# commands and the logbook come with the meter capability (see the README's feature table).
from meterseal.compat import asleep_ms, const, ticks_diff, ticks_ms
from meterseal.roles import identity

# OBIS codes as 6-byte strings (IEC 62056-61), DLMS units (IEC 62056-62).
OBIS_IMPORT = b"\x01\x00\x01\x08\x00\xff"  # 1-0:1.8.0*255 active energy import
OBIS_EXPORT = b"\x01\x00\x02\x08\x00\xff"  # 1-0:2.8.0*255 active energy export
OBIS_POWER = b"\x01\x00\x10\x07\x00\xff"  # 1-0:16.7.0*255 instantaneous active power
UNIT_WH = const(30)
UNIT_W = const(27)

_TICK_MS = const(1000)


class Meter:
    def __init__(self, board):
        self.board = board
        self.ident = identity.load(board, identity.MEDIUM_ELECTRICITY)
        self.import_mwh = 0  # milliwatt-hours: integer arithmetic, no drift from floats
        self.export_mwh = 0
        self.power_w = 0

    def readout(self):
        """Current register values: [(obis6, value, scaler, unit)], value * 10**scaler in unit."""
        return [
            (OBIS_IMPORT, self.import_mwh // 100, -1, UNIT_WH),
            (OBIS_EXPORT, self.export_mwh // 100, -1, UNIT_WH),
            (OBIS_POWER, self.power_w, 0, UNIT_W),
        ]

    def load_w(self):
        # Simulator load model: a constant base load (board.json "sim_load_w"); on a real board
        # the S0 pulse input replaces this.
        return self.board.config.get("sim_load_w", 400)

    async def measure(self):
        last = ticks_ms()
        while True:
            await asleep_ms(_TICK_MS)
            now = ticks_ms()
            dt = ticks_diff(now, last)
            last = now
            p = self.load_w()
            self.power_w = p
            # W * ms -> mWh: p * dt / 3600
            if p >= 0:
                self.import_mwh += p * dt // 3600
            else:
                self.export_mwh += -p * dt // 3600


def start(board, commands):
    m = Meter(board)
    commands["readout"] = lambda args: {"registers": [list(r) for r in m.readout()],
                                        "identity": m.ident}
    tasks = [m.measure()]
    if "aux" in board.uart_names():  # the optical port: IEC 62056-21 mode C
        from meterseal.roles import iec_server

        cfg = iec_server.settings(board)
        tasks.append(iec_server.IecServer(
            board.uart("aux"), m.readout, m.ident, board.time, password=cfg.get("password"),
            address=cfg.get("address"), max_baud=cfg.get("max_baud", 9600)).run())
    if "mbus" in board.uart_names():  # wired M-Bus slave (EN 13757-2/-3)
        from meterseal.roles import mbus_slave

        tasks.append(mbus_slave.service(board, m))
    return tasks
