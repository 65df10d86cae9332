-- Shared by the wrk scripts of bench/serve.sh: a pool of prepared requests
-- (so that ids vary without Lua work per request) and a one-line JSON
-- summary printed when the run ends.
local M = {}

-- le64 returns the 8 little-endian bytes of a non-negative integer id.
function M.le64(v)
  local b = {}
  for i = 1, 8 do
    b[i] = string.char(v % 256)
    v = math.floor(v / 256)
  end
  return table.concat(b)
end

function M.pool(n, make)
  local reqs = {}
  math.randomseed(1234)
  for i = 1, n do
    reqs[i] = make(i)
  end
  return reqs
end

function M.done(summary, latency, requests)
  local non2xx = summary.errors.status or 0
  local errs = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format(
    '{"requests": %d, "req_per_s": %.1f, "p50_ms": %.3f, "p99_ms": %.3f, "max_ms": %.3f, "non2xx": %d, "socket_errors": %d}\n',
    summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000, non2xx, errs))
end

return M
