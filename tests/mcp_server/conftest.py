"""The client tests' server, key and image site, for the MCP server's tests."""

from tests.client.conftest import host, key, site

__all__ = ["host", "key", "site"]
