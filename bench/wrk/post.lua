-- wrk script for the gateway benchmark: POSTs the body in $BENCH_BODY
-- (JSON) to the URL given on the command line, with keep-alive (or sends
-- GETs when $BENCH_METHOD is GET), and at the end prints one line
-- "BENCH_JSON {...}" with the figures the benchmark reads (latencies in
-- microseconds), after wrk's usual --latency report.
if os.getenv("BENCH_METHOD") == "GET" then
   wrk.method = "GET"
else
   wrk.method = "POST"
   wrk.body = os.getenv("BENCH_BODY") or
      '{"model_name":"example","inputs":[1,2,3,4,5,6,7,8,9,10]}'
   wrk.headers["Content-Type"] = "application/json"
end

done = function(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'BENCH_JSON {"duration_us":%d,"requests":%d,"bytes":%d,' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
      '"latency_us":{"mean":%.1f,"stdev":%.1f,"min":%d,"max":%d,' ..
      '"p50":%d,"p90":%d,"p99":%d,"p999":%d}}\n',
      summary.duration, summary.requests, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency.mean, latency.stdev, latency.min, latency.max,
      latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency:percentile(99.9)))
end
