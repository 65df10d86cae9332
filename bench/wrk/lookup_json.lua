-- POST /v1/lookup as JSON: BATCH random ids, rows back as JSON numbers
-- (ENCODING=float, the default) or base64 strings (ENCODING=base64).
package.path = package.path .. ";" .. (os.getenv("WRK_LUA_DIR") or "bench/wrk") .. "/?.lua"
local c = require("common")
local batch = tonumber(os.getenv("BATCH") or "16")
local rows = tonumber(os.getenv("ROWS") or "50257")
local tbl = os.getenv("TABLE") or "t"
local enc = os.getenv("ENCODING") or "float"
local reqs

function init(args)
  reqs = c.pool(256, function()
    local ids = {}
    for k = 1, batch do ids[k] = tostring(math.random(0, rows - 1)) end
    return wrk.format("POST", "/v1/lookup", { ["Content-Type"] = "application/json" },
      '{"table": "' .. tbl .. '", "encoding_format": "' .. enc .. '", "ids": [' .. table.concat(ids, ",") .. ']}')
  end)
end

function request() return reqs[math.random(#reqs)] end

done = c.done
