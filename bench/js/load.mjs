// The one HTTP load client for every system in bench/postgraphile.py: autocannon, driven here
// so every response's latency is kept (autocannon's summary has no p95) and bodies are checked.
//
// Input (argv[2], JSON): {url, body, connections, seconds, maxRequests, expect}
//   expect: a string every 200 response body must contain (a marker of the right answer).
// Output (stdout, JSON): requests (200s), errors, non2xx, mismatched, seconds, latenciesMs (sorted).
import autocannon from "autocannon";

const spec = JSON.parse(process.argv[2]);
const latencies = [];
const started = process.hrtime.bigint();
const instance = autocannon({
  url: spec.url,
  method: "POST",
  headers: { "content-type": "application/json", accept: "application/json" },
  body: spec.body,
  connections: spec.connections,
  pipelining: 1,
  duration: spec.seconds,
  amount: spec.maxRequests || undefined,
  timeout: 60,
  ...(spec.expect ? { verifyBody: (body) => body.includes(spec.expect) } : {}),
});
instance.on("response", (_client, statusCode, _bytes, responseTimeMs) => {
  if (statusCode === 200) latencies.push(responseTimeMs);
});
instance.on("done", (result) => {
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  latencies.sort((a, b) => a - b);
  process.stdout.write(
    JSON.stringify({
      requests: latencies.length,
      errors: result.errors + result.timeouts,
      non2xx: result.non2xx,
      mismatched: result.mismatches,
      seconds,
      latenciesMs: latencies,
    }),
  );
});
