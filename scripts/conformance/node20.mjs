// The conformance suite imports fs.globSync, which Node 22 has and Node 20 (this machine's)
// has not: its import is served by the glob package's globSync instead.
import { register } from "node:module";

register("data:text/javascript," + encodeURIComponent(`
export async function load(url, context, nextLoad) {
  const result = await nextLoad(url, context);
  if (!url.includes("@modelcontextprotocol/conformance/dist/") || !result.source) return result;
  const source = result.source.toString();
  const found = source.match(/globSync as (\\w+),/);
  if (!found) return result;
  const body = source.replace(found[0], "");
  const cut = body.startsWith("#!") ? body.indexOf("\\n") + 1 : 0;
  const shim = "import { globSync as " + found[1] + " } from 'glob';";
  return { ...result, source: body.slice(0, cut) + shim + body.slice(cut) };
}
`));
