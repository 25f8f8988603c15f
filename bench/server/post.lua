-- wrk -s bench/server/post.lua URL: POSTs the bodies of the file $BODIES (one
-- JSON body per line) to $PATH_ON_SERVER in turn, each wrk thread starting at
-- a different line. Non-200 answers are counted by wrk ("Non-2xx").
local bodies = {}
local i = 0
local path = os.getenv("PATH_ON_SERVER")
local hdr = { ["Content-Type"] = "application/json" }
local key = os.getenv("DENSEARCH_API_KEY")
if key and key ~= "" then hdr["Authorization"] = "Bearer " .. key end

function init(args)
  for line in io.lines(os.getenv("BODIES")) do bodies[#bodies + 1] = line end
  i = math.random(#bodies)
end

function request()
  i = i % #bodies + 1
  return wrk.format("POST", path, hdr, bodies[i])
end
