// Package mcpserver serves the tools of a host's eligible skills to Model
// Context Protocol clients, on the official Go SDK
// (github.com/modelcontextprotocol/go-sdk): `palyra mcp` is its command,
// and docs/mcp.md its operator's guide.
//
// Every tool of every eligible skill is listed under ToolName(skill id,
// tool name), an injective mapping into [A-Za-z0-9_-]{1,64}, with the
// manifest's description, input_schema (as MCP's object-typed
// inputSchema) and output_schema (as outputSchema when it describes an
// object), annotations from the tool's risk and the skill's grants, and
// the skill id, version, tool id, publisher and grants in _meta.
//
// Every call goes through host.Call, so grants, quotas, fuel, egress
// checks, schema validation and the journal apply exactly as for `palyra
// skills run`. A call that fails — guest error, trap, timeout, fuel
// exhausted, schema violation, skill no longer eligible — is a tool
// result with isError and the error's code (host.RemoteCode), never a
// protocol error. A cancelled request cancels the call's context, which
// stops the guest. When the client sent a progress token the call reports
// progress at its start and end; what the guest logs reaches the client
// as MCP log messages (LogHandler) at the level the client set.
//
// The tool list follows the journal: Watch polls host.ChangeSeq and Sync
// rebuilds the list when it moved, so an install, upgrade, quarantine,
// enable, removal or grants change made by any process reaches connected
// clients as one notifications/tools/list_changed within the poll
// interval.
//
// Over HTTP (HTTPHandler, streamable HTTP) a bearer token, when given, is
// required of every request, and with mTLS (TLSConfig, HTTPOptions.Devices)
// the client certificate of a paired device not revoked; CheckListen
// refuses a non-loopback address with neither.
//
// The package is internal: its API hands out SDK types (*mcp.Server,
// transports), and keeping it out of the public host API leaves the SDK
// free to move under it. Applications embed it through the command.
package mcpserver
