"""Mimic: a learning API proxy built as a mitmproxy addon (`mitmdump -s mimic_addon/addon.py`)."""
