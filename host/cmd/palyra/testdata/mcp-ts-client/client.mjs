// The TypeScript MCP SDK's client, run by mcp_ts_test.go against
// `palyra mcp` over stdio: it lists the tools, calls the ones it is told
// to, and prints what it got as one JSON document on stdout.
//
// Usage: node client.mjs '{"command": "...", "args": [...], "calls": [{"name": "...", "arguments": {...}}]}'
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const spec = JSON.parse(process.argv[2]);
const transport = new StdioClientTransport({
  command: spec.command,
  args: spec.args,
  env: spec.env,
  stderr: "inherit",
});
const client = new Client({ name: "palyra-ts-interop", version: "1.0.0" });
await client.connect(transport);

const out = { server: client.getServerVersion(), tools: [], calls: [] };
let cursor;
do {
  const page = await client.listTools(cursor ? { cursor } : {});
  out.tools.push(...page.tools);
  cursor = page.nextCursor;
} while (cursor);

// callTool validates structuredContent against the tool's outputSchema
// (from the listing above) and throws if it does not match: a call that
// returns is one the SDK accepted.
for (const call of spec.calls ?? []) {
  try {
    out.calls.push({ name: call.name, result: await client.callTool(call) });
  } catch (err) {
    out.calls.push({ name: call.name, error: String(err?.message ?? err) });
  }
}
await client.close();
process.stdout.write(JSON.stringify(out) + "\n");
