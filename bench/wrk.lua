-- With BENCH_IMAGE: POST (multipart, when BENCH_BOUNDARY is set) or PUT (raw) that image again
-- and again; imghost peers run with images.deduplicate=false, so every request does the full
-- work. Without: GET the URL. Either way, report the run as one JSON line.
local function read(path)
  local file = assert(io.open(path, "rb"))
  local data = file:read("*all")
  file:close()
  return data
end

local image_path = os.getenv("BENCH_IMAGE") or ""
local boundary = os.getenv("BENCH_BOUNDARY") or ""
local key = os.getenv("BENCH_KEY") or ""
if key ~= "" then wrk.headers["Authorization"] = "Bearer " .. key end
local image = image_path ~= "" and read(image_path) or nil
if image then
  wrk.method = "PUT"
  wrk.body = image
end
if image and boundary ~= "" then
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "multipart/form-data; boundary=" .. boundary
  wrk.body = "--" .. boundary .. "\r\nContent-Disposition: form-data; name=\"file\"; "
    .. "filename=\"bench\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    .. image .. "\r\n--" .. boundary .. "--\r\n"
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "bytes_read": %d, "errors": %d, '
      .. '"non_2xx": %d, "p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99)))
end
