-- Replays a request file written by bench/replay.py: each connection sends the next unused
-- request (thread i of n takes requests i, i+n, i+2n, ...); past the end it starts again and
-- counts those as wrapped. Arguments after `--`: the file and the number of threads.
-- Prints the same JSON summary as wrk_report.lua, plus what was sent and the statuses seen.

local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

local function split(text, sep)
  local parts, start = {}, 1
  while true do
    local at = string.find(text, sep, start, true)
    if not at then
      table.insert(parts, string.sub(text, start))
      return parts
    end
    table.insert(parts, string.sub(text, start, at - 1))
    start = at + #sep
  end
end

local function add_headers(into, fields, first, last)
  for i = first, last do
    local name, value = string.match(fields[i], "^(.-): (.*)$")
    if name then
      into[name] = value
    end
  end
end

local requests, cursor, stride = {}, 0, 1
sent, ok200, other, wrapped, statuses = 0, 0, 0, 0, ""
local seen = {}

function init(args)
  local file = assert(io.open(args[1], "rb"))
  local lines = split(file:read("*a"), "\n")
  file:close()
  stride = tonumber(args[2] or "1")
  cursor = tid
  local method, path = string.match(lines[1], "^(%S+) (.*)$")
  local common = split(lines[2], "\t")
  for n = 3, #lines do
    if lines[n] ~= "" then
      local fields = split(lines[n], "\t")
      local headers = {}
      add_headers(headers, common, 1, #common)
      add_headers(headers, fields, 1, #fields - 1)
      table.insert(requests, wrk.format(method, path, headers, fields[#fields]))
    end
  end
end

function request()
  local index = cursor
  cursor = cursor + stride
  if index >= #requests then
    wrapped = wrapped + 1
    index = index % #requests
  end
  sent = sent + 1
  return requests[index + 1]
end

function response(status, headers, body)
  if status == 200 then
    ok200 = ok200 + 1
  else
    other = other + 1
    if not seen[status] then
      seen[status] = true
      statuses = statuses .. (statuses == "" and "" or ",") .. status
    end
  end
end

done = function(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local e = summary.errors
  local errors = e.connect + e.read + e.write + e.status + e.timeout
  local totals = { sent = 0, ok200 = 0, other = 0, wrapped = 0 }
  local codes = {}
  for _, thread in ipairs(threads) do
    for name, _ in pairs(totals) do
      totals[name] = totals[name] + thread:get(name)
    end
    if thread:get("statuses") ~= "" then
      table.insert(codes, thread:get("statuses"))
    end
  end
  io.write(string.format(
    '{"requests": %d, "duration_s": %.3f, "rps": %.1f, "p50_ms": %.3f, "p99_ms": %.3f, ' ..
    '"errors": %d, "sent": %d, "status_200": %d, "status_other": %d, "wrapped": %d, ' ..
    '"other_statuses": "%s"}\n',
    summary.requests, seconds, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, errors,
    totals.sent, totals.ok200, totals.other, totals.wrapped, table.concat(codes, ",")))
end
