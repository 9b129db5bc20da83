"""MeterSeal host tools: the PC side (`meterseal` command)."""
