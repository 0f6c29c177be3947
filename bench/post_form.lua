-- wrk script: POST a form body with HTTP Basic client authentication.
-- env: AUTH (base64 of id:secret), BODY (the form body, already encoded).
wrk.method = "POST"
wrk.body = os.getenv("BODY")
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic " .. os.getenv("AUTH")

-- Report non-2xx answers so a run that "succeeds" with errors is visible.
done = function(summary, latency, requests)
  io.write(string.format("non-200 responses: %d\n", summary.errors.status))
end
