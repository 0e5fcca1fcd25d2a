-- wrk's script for every bench case (bench/bench.py sets the environment).
--   BENCH_TOKEN     a bearer token to send, if any
--   BENCH_PRODUCTS  POST an order of one unit of one of these product ids (comma-separated),
--                   chosen at random per request; unset: the request as given on the command line
-- At the end it prints one line, "BENCH {...}", that bench.py reads: counts and latencies.
local token = os.getenv("BENCH_TOKEN")
local products = {}
for id in string.gmatch(os.getenv("BENCH_PRODUCTS") or "", "%d+") do
  products[#products + 1] = id
end

if token and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end

if #products > 0 then
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  local seeded = false
  request = function()
    if not seeded then
      -- One state per thread: seeded apart, or every thread would pick the same sequence.
      math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16))
      seeded = true
    end
    local id = products[math.random(#products)]
    local body = '{"items": [{"product_id": ' .. id .. ', "quantity": 1}]}'
    return wrk.format(nil, nil, nil, body)
  end
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "bytes": %d, '
      .. '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, '
      .. '"latency_us": {"mean": %.1f, "p50": %d, "p90": %d, "p99": %d, "max": %d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max))
end
