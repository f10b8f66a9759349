-- The OpenResty-style peer of ngx_http_cometchat_module for tools/bench/run:
-- the same job written the way a Lua integration usually is.
--
--   access        ngx.location.capture of the app's session endpoint (JSON,
--                 cjson), token from a lua_shared_dict L1 cache (TTL as
--                 cometchat_token_local_ttl), else from Redis through a
--                 lua-resty-redis keepalive pool; renders the snippet
--   header_filter text/html only: Content-Length cleared, the page made
--                 private, the marker cookie set once
--   body_filter   streaming: holds only the bytes "</body>" may span
--                 between two chunks, injects before the first "</body>"
--
-- Like the module it fails open (no token, no widget) and runs only for
-- navigations (Sec-Fetch-Dest document/iframe/frame, else Accept with
-- text/html or just */*, else no such header at all).  The bench checks that its
-- injected bytes equal the module's.
--
-- nginx.conf (the peer's only; the module's nginx does not load Lua):
--   load_module .../ndk_http_module.so;
--   load_module .../ngx_http_lua_module.so;
--   lua_package_path "tools/bench/lua/?.lua;;";
--   lua_shared_dict cometchat_tokens 10m;
--   init_by_lua_block { require("cometchat").init{ ... } }
--   location / {
--       access_by_lua_block        { require("cometchat").access("/_whoami") }
--       header_filter_by_lua_block { require("cometchat").header_filter() }
--       body_filter_by_lua_block   { require("cometchat").body_filter() }
--   }

local cjson = require "cjson.safe"
local ok_, redis = pcall(require, "resty.redis")
if not ok_ then
    redis = require "nginx.redis"     -- Debian's lua-nginx-redis
end

local ngx = ngx
local find = string.find
local sub = string.sub
local lower = string.lower

local _M = {}

local conf = {
    session = "/_whoami",       -- location captured for the session
    uid_field = "id",           -- JSON field with the app's user id
    app_id = "app",
    redis_host = "127.0.0.1",
    redis_port = 6379,
    redis_timeout = 1000,       -- ms
    pool_size = 64,
    pool_idle = 60000,          -- ms
    local_ttl = 10,             -- s, as cometchat_token_local_ttl
    template = nil,             -- snippet, with {{uid}} and {{token}}
}

local tpl                       -- the template cut at its placeholders
local dict
local HOLD = #"</body>" - 1     -- what "</body>" may span between chunks
local MARKER = "cometchat_chat"


function _M.init(opts)
    for k, v in pairs(opts) do
        conf[k] = v
    end

    local f = assert(io.open(conf.template, "rb"))
    local t = f:read("*a")
    f:close()

    -- parts and what goes between them, in order
    tpl = {}
    local pos = 1
    while true do
        local s, e, name = find(t, "{{(%a+)}}", pos)
        if not s then
            tpl[#tpl + 1] = sub(t, pos)
            break
        end
        tpl[#tpl + 1] = sub(t, pos, s - 1)
        tpl[#tpl + 1] = name
        pos = e + 1
    end

    dict = ngx.shared.cometchat_tokens
end


local function render(uid, token)
    local out = {}
    for i = 1, #tpl do
        local p = tpl[i]
        if i % 2 == 0 then
            out[i] = p == "uid" and uid or token
        else
            out[i] = p
        end
    end
    return table.concat(out)
end


local function navigation()
    local h = ngx.req.get_headers()
    local dest = h["sec-fetch-dest"]
    if dest then
        if type(dest) == "table" then
            dest = dest[1]
        end
        dest = lower(dest)
        return dest == "document" or dest == "iframe" or dest == "frame"
    end
    local accept = h["accept"]
    if accept then
        if type(accept) == "table" then
            accept = table.concat(accept, ",")
        end
        return accept == "*/*"
               or find(lower(accept), "text/html", 1, true) ~= nil
    end
    return true
end


local function redis_token(uid)
    local red = redis:new()
    red:set_timeouts(conf.redis_timeout, conf.redis_timeout,
                     conf.redis_timeout)

    local ok, err = red:connect(conf.redis_host, conf.redis_port)
    if not ok then
        ngx.log(ngx.ERR, "cometchat: redis connect: ", err)
        return nil
    end

    local token
    token, err = red:get("cometchat:" .. conf.app_id .. ":token:" .. uid)
    if err then
        ngx.log(ngx.ERR, "cometchat: redis get: ", err)
        red:close()
        return nil
    end

    red:set_keepalive(conf.pool_idle, conf.pool_size)

    if token == ngx.null then
        return nil
    end
    return token
end


function _M.access(session)
    local method = ngx.req.get_method()
    if method ~= "GET" and method ~= "HEAD" and method ~= "POST" then
        return
    end
    if not navigation() then
        return
    end

    local res = ngx.location.capture(session or conf.session)
    if res.status ~= 200 then
        return
    end

    local who = cjson.decode(res.body)
    local uid = who and who[conf.uid_field]
    if type(uid) == "number" then
        uid = tostring(uid)
    end
    if type(uid) ~= "string" or uid == "" then
        return
    end

    local token = dict:get(uid)
    if not token then
        token = redis_token(uid)
        if not token then
            return
        end
        dict:set(uid, token, conf.local_ttl)
    end

    ngx.ctx.cometchat = render(uid, token)
end


function _M.header_filter()
    local snippet = ngx.ctx.cometchat
    if not snippet then
        return
    end

    local ct = ngx.header.content_type
    if not ct or not find(lower(ct), "text/html", 1, true)
       or ngx.header.content_encoding
    then
        ngx.ctx.cometchat = nil
        return
    end

    ngx.header.content_length = nil
    ngx.header.cache_control = "private, no-cache"
    if not ngx.var["cookie_" .. MARKER] then
        ngx.header.set_cookie = MARKER .. "=1; Max-Age=31536000; Path=/; "
                                .. "HttpOnly; SameSite=Lax"
    end

    ngx.ctx.cometchat_held = ""
end


function _M.body_filter()
    local ctx = ngx.ctx
    local snippet = ctx.cometchat
    if not snippet then
        return
    end

    local data, eof = ngx.arg[1], ngx.arg[2]
    local held = ctx.cometchat_held

    if held ~= "" then
        data = held .. data
    end

    local at = ngx.re.find(data, "</body>", "ijo")
    if at then
        ngx.arg[1] = sub(data, 1, at - 1) .. snippet .. sub(data, at)
        ctx.cometchat = nil
        return
    end

    if eof then
        -- no "</body>": the page as it came
        ngx.arg[1] = data
        ctx.cometchat = nil
        return
    end

    local n = #data
    if n > HOLD then
        ctx.cometchat_held = sub(data, n - HOLD + 1)
        ngx.arg[1] = sub(data, 1, n - HOLD)
    else
        ctx.cometchat_held = data
        ngx.arg[1] = ""
    end
end


return _M
