-- wrk request mix for tools/soak: cached users, new users, anonymous
-- visitors and session errors, all on the same page.
local counter = 0
local tid = 0

function setup(thread)
    tid = tid + 1
    thread:set("tid", tid)
end

function init(args)
    math.randomseed(os.time() + (tid or 0) * 7919)
end

request = function()
    local r = math.random(1000)
    local cookie
    counter = counter + 1
    if r <= 700 then
        cookie = "uid=cu" .. math.random(300)         -- cached users
    elseif r <= 715 then
        cookie = "uid=nu" .. (tid or 0) .. "x" .. counter   -- new users
    elseif r <= 900 then
        cookie = nil                                   -- anonymous
    else
        cookie = "uid=err"                             -- session error
    end
    local headers = {}
    if cookie then
        headers["Cookie"] = cookie
    end
    return wrk.format("GET", "/page.html", headers)
end
