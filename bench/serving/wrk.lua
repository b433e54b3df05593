-- wrk script of the serving benchmark: POSTs the bodies of a file (one JSON body per line) round-robin
-- to one path, then prints one JSON line with the counts and latency percentiles (microseconds).
-- Usage: wrk -t1 -cN -dS -s wrk.lua http://127.0.0.1:PORT -- BODIES_FILE /v2/models/NAME/infer

local requests = {}
local next_index = 0

function init(args)
  local path = args[2]
  for line in io.lines(args[1]) do
    local headers = {["Content-Type"] = "application/json"}  -- a new table each time: wrk.format fills it
    requests[#requests + 1] = wrk.format("POST", path, headers, line)
  end
  if #requests == 0 then
    error("no bodies in " .. args[1])
  end
end

function request()
  next_index = next_index % #requests + 1
  return requests[next_index]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,' ..
    '"timeout":%d},"latency_us":{"p50":%d,"p90":%d,"p99":%d,"p999":%d,"mean":%.1f,"max":%d}}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.mean, latency.max))
end
