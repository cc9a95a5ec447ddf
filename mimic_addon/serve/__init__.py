"""Serving side of the proxy: chaos (fault injection and rate limiting); later mocks and replay."""
