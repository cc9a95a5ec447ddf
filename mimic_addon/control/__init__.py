"""The proxy side of the admin app: the inspector's log and live events, the embedded admin server, the
command queue a standalone admin uses, and the run-time reverse target."""
