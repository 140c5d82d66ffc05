"""The console core: the operator console's state and I/O, without a terminal (see core.py)."""
