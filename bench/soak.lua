-- bench/soak's wrk script. Requests come from a plan that bench/soak writes
-- (plan.txt: "METHOD PATH [BODY_LENGTH]" per line, taken in turn), and every
-- response's status and body are checked against what bench/soak expects
-- (index.body, items.body, stream.body; shas.txt: "LENGTH SHA256" for the
-- echo uploads, whose bodies are LENGTH times one letter). The first failures
-- are written to failures.txt. Usage: wrk ... -s bench/soak.lua URL -- DIR

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

-- Per-thread counters: globals, so done() can read them with thread:get().
checked, ok, bad_status, bad_body = 0, 0, 0, 0

local reqs, n_reqs, i = {}, 0, 0
local expect_index, expect_items, expect_stream
local shas = {}
local faillog, logged = nil, 0

local function slurp(path)
   local f = assert(io.open(path, "rb"))
   local s = f:read("*a")
   f:close()
   return s
end

function init(args)
   local dir = args[1]
   expect_index = slurp(dir .. "/index.body")
   expect_items = slurp(dir .. "/items.body")
   expect_stream = slurp(dir .. "/stream.body")
   for line in io.lines(dir .. "/shas.txt") do
      local len, hex = line:match("^(%d+) (%x+)$")
      shas[tonumber(len)] = hex
   end
   for line in io.lines(dir .. "/plan.txt") do
      local method, path, len = line:match("^(%u+) (%S+) ?(%d*)$")
      local headers, body = {}, nil
      if len ~= "" then
         local n = tonumber(len)
         body = string.rep(string.char(97 + n % 26), n)
         headers["Content-Type"] = "application/octet-stream"
      end
      n_reqs = n_reqs + 1
      reqs[n_reqs] = wrk.format(method, path, headers, body)
   end
   faillog = dir .. "/failures.txt"
   -- Each thread starts at its own place in the plan.
   i = math.random(n_reqs) - 1
end

function request()
   i = i + 1
   if i > n_reqs then
      i = 1
   end
   return reqs[i]
end

local function fail(kind, status, body)
   if logged < 5 then
      local f = io.open(faillog, "ab")
      if f then
         f:write(kind, " ", tostring(status), " ", string.sub(body or "", 1, 300), "\n")
         f:close()
      end
      logged = logged + 1
   end
end

function response(status, headers, body)
   checked = checked + 1
   if status ~= 200 then
      bad_status = bad_status + 1
      fail("status", status, body)
   elseif body == expect_index or body == expect_items or body == expect_stream then
      ok = ok + 1
   elseif string.find(body, '"slept_ms"', 1, true) then
      ok = ok + 1
   else
      local len = tonumber(string.match(body, '"length": ?(%d+)'))
      local hex = len and shas[len]
      if hex and string.find(body, hex, 1, true) then
         ok = ok + 1
      else
         bad_body = bad_body + 1
         fail("body", status, body)
      end
   end
end

function done(summary, latency, requests)
   local c, o, bs, bb = 0, 0, 0, 0
   for _, t in ipairs(threads) do
      c = c + t:get("checked")
      o = o + t:get("ok")
      bs = bs + t:get("bad_status")
      bb = bb + t:get("bad_body")
   end
   local e = summary.errors
   io.write(string.format(
      'WRKJSON {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, ' ..
      '"write": %d, "status": %d, "timeout": %d, "checked": %d, "ok": %d, ' ..
      '"bad_status": %d, "bad_body": %d, "p50_us": %d, "p99_us": %d}\n',
      summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
      c, o, bs, bb, latency:percentile(50), latency:percentile(99)))
end
