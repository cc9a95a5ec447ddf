"""Mimic's admin app: a Starlette app (control deck, explorer, inspector, chaos, state) over the store.

It runs inside the proxy (mimic_addon/control/admin_server.py starts it on mitmproxy's event loop) or
standalone (`mimic admin --db DB`); `create_app` in app.py assembles it for both.
"""
