# The MUC gateway role (D5): collects the readings of the meters of a building: wireless M-Bus
# meters on its radio ("aux") and wired M-Bus meters on its M-Bus master port ("mbus").


def start(board, commands):
    import gc

    tasks = []
    gc.collect()  # compiling the services' modules needs contiguous heap in the simulator
    from meterseal.roles import wmbus_receiver  # wireless M-Bus meters on the "aux" radio UART

    tasks += wmbus_receiver.start(board, commands)
    if "mbus" in board.uart_names():
        _add_mbus_master(board, commands)
    return tasks


def _add_mbus_master(board, commands):
    # The MUC is the wired bus's master (EN 13757-2): the same master code the host runs.
    from meterseal.proto import console as cp
    from meterseal.proto import mbus
    from meterseal.roles.console import CommandError
    from meterseal.roles.mbus_master import MBusMaster, NoReply

    master = MBusMaster(board.uart("mbus"))

    async def read(args):
        """Console "mbus_read" {address: 0..250} or {secondary: 8-byte address}: the meter's
        RSP_UD telegrams, unchanged (the caller decodes; a sealed reading inside stays sealed)."""
        try:
            if "secondary" in args:
                r = await master.read_secondary(bytes(args["secondary"]))
            else:
                addr = args.get("address")
                if not isinstance(addr, int) or not 0 <= addr <= 250:
                    raise CommandError(cp.E_BAD_REQUEST, "address must be 0..250")
                r = await master.read(addr)
        except (NoReply, mbus.FrameError) as e:
            raise CommandError(cp.E_REJECTED, "M-Bus: %s" % (e,))
        return {"address": r.address, "frames": r.frames, "records": len(r.records)}

    commands["mbus_read"] = read
