-- wrk script: POST a JSON body.
--   wrk ... -s bench/post.lua URL -- PATH BODY [LIMIT]
-- PATH and BODY replace the URL's path and the empty body. With LIMIT, the thread stops after LIMIT
-- answers and writes "filled" on a line of its own, so that the caller can end the run there (wrk
-- itself waits out -d; SIGINT ends it early and it still prints its figures).

local limit = nil
local answered = 0

function init(args)
  wrk.method = "POST"
  wrk.path = args[1]
  wrk.body = args[2]
  wrk.headers["Content-Type"] = "application/json"
  limit = tonumber(args[3])
end

function response(status, headers, body)
  answered = answered + 1
  if limit and answered == limit then
    io.write("filled\n")
    io.flush()
    wrk.thread:stop()
  end
end
