-- GET with a fixed bearer token (TOKEN env var).
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
