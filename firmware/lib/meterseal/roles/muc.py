# The MUC gateway role (D5): collects readings of the meters of a building. Its link services
# (M-Bus master, wireless M-Bus receiver) are added here as they land; with none it still runs
# the console service.


def start(board, commands):
    import gc

    tasks = []
    gc.collect()  # compiling the services' modules needs contiguous heap in the simulator
    from meterseal.roles import wmbus_receiver  # wireless M-Bus meters on the "aux" radio UART

    tasks += wmbus_receiver.start(board, commands)
    return tasks
