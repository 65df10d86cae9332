-- POST /v1/embeddings: INPUTS inputs (default 64) of IDS random token ids
-- each (default 32), answered as JSON floats (ENCODING=float, the default)
-- or base64.
package.path = package.path .. ";" .. (os.getenv("WRK_LUA_DIR") or "bench/wrk") .. "/?.lua"
local c = require("common")
local inputs = tonumber(os.getenv("INPUTS") or "64")
local per = tonumber(os.getenv("IDS") or "32")
local rows = tonumber(os.getenv("ROWS") or "50257")
local tbl = os.getenv("TABLE") or "t"
local enc = os.getenv("ENCODING") or "float"
local reqs

function init(args)
  reqs = c.pool(64, function()
    local ins = {}
    for i = 1, inputs do
      local ids = {}
      for k = 1, per do ids[k] = tostring(math.random(0, rows - 1)) end
      ins[i] = "[" .. table.concat(ids, ",") .. "]"
    end
    return wrk.format("POST", "/v1/embeddings", { ["Content-Type"] = "application/json" },
      '{"model": "' .. tbl .. '", "encoding_format": "' .. enc .. '", "input": [' .. table.concat(ins, ",") .. ']}')
  end)
end

function request() return reqs[math.random(#reqs)] end

done = c.done
