# Runs at every boot after boot.py: load /board.json and start the configured role.
from meterseal import app

app.main()
