# Runs first at every boot. Keeps the interpreter lean before main.py starts the board.
# (Image selection with A/B slots and rollback, U5, will live here: see architecture.md.)
import gc

gc.collect()
