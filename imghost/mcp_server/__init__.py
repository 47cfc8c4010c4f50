"""An MCP server for agents, built on `imghost.client`: it imports nothing of imghost's server."""
