-- POST /v1/lookup with BATCH random ids (env BATCH, default 1; ids below
-- ROWS, default 50257) as little-endian int64, asking for raw float32 rows.
package.path = package.path .. ";" .. (os.getenv("WRK_LUA_DIR") or "bench/wrk") .. "/?.lua"
local c = require("common")
local batch = tonumber(os.getenv("BATCH") or "1")
local rows = tonumber(os.getenv("ROWS") or "50257")
local tbl = os.getenv("TABLE") or "t"
local reqs

function init(args)
  reqs = c.pool(256, function()
    local ids = {}
    for k = 1, batch do ids[k] = c.le64(math.random(0, rows - 1)) end
    return wrk.format("POST", "/v1/lookup?table=" .. tbl,
      { ["Content-Type"] = "application/octet-stream", ["Accept"] = "application/octet-stream" }, table.concat(ids))
  end)
end

function request() return reqs[math.random(#reqs)] end

done = c.done
