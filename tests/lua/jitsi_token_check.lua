-- Runs Jitsi Meet's own token check (its Prosody plugins' luajwtjitsi.lib.lua and
-- token/util.lib.lua, unmodified) on Prosody's own util libraries, one verdict per row.
--
-- This file is roomgate's (tests/tests/dialect_jitsi.rs drives it); the Jitsi plugins and
-- Prosody are not part of roomgate and are not in this repository. Usage:
--
--   lua5.4 jitsi_token_check.lua PLUGINS_DIR PROSODY_LIB_DIR APP_ID APP_SECRET ISSUERS AUDIENCES \
--       NOW < rows
--
-- PLUGINS_DIR holds Jitsi's resources/prosody-plugins (luajwtjitsi.lib.lua, token/util.lib.lua,
-- token/jwk.lib.lua, util.lib.lua); PROSODY_LIB_DIR is Prosody's (Debian: /usr/lib/prosody).
-- ISSUERS and AUDIENCES are comma-separated `asap_accepted_issuers` / `asap_accepted_audiences`,
-- or `-` to leave the option unset (Jitsi's defaults: the app id, and `*`), as docker-jitsi-meet
-- does when JWT_ACCEPTED_ISSUERS / JWT_ACCEPTED_AUDIENCES are empty. NOW is the Unix time the
-- rows were minted for: the real code reads os.time() itself (luajwtjitsi's verify, in several
-- places), so the clock is not replaced; the driver refuses to run when os.time() is more than
-- 5 s away from NOW (the table's nearest edges are 10 s).
--
-- Standard input: one row a line, tab-separated: name, token, MUC node (the room name as
-- Jitsi's web app sends it), tenant (`-` for none). Standard output: one line a row,
-- `name<TAB>admit` or `name<TAB>refuse<TAB>stage<TAB>reason`, where stage is `login` (SASL, where
-- mod_auth_token calls process_and_verify_token) or `join` (the MUC join, where
-- mod_token_verification calls verify_room).
--
-- What is stubbed is only what a running Prosody would provide around these two calls: the
-- `module` object (options, log, require), the `prosody` and `hosts` globals, and the MUC
-- component's room lookup (the room exists: jicofo, an admin, creates it before participants
-- join). Everything else is the real code.

local plugins_dir, prosody_dir, app_id, app_secret, issuers_arg, audiences_arg, now_arg =
    table.unpack(arg, 1, 7);
if not now_arg then
    io.stderr:write("usage: jitsi_token_check.lua PLUGINS_DIR PROSODY_LIB_DIR APP_ID APP_SECRET"
        .. " ISSUERS AUDIENCES NOW\n");
    os.exit(2);
end

local XMPP_DOMAIN = "meet.jitsi";
local MUC_PREFIX = "conference";
local MUC_DOMAIN = MUC_PREFIX .. "." .. XMPP_DOMAIN;

-- Prosody's libraries first, then the system's Lua 5.4 modules. Debian packages basexx and
-- inspect (pure Lua) for older Lua versions only, so their directories come last.
package.path = prosody_dir .. "/?.lua;" .. package.path
    .. ";/usr/share/lua/5.3/?.lua;/usr/share/lua/5.2/?.lua";
package.cpath = prosody_dir .. "/?.so;" .. package.cpath;

local drift = os.time() - tonumber(now_arg);
if drift < -5 or drift > 5 then
    io.stderr:write(("os.time() is %d s away from the rows' time: mint them again\n"):format(drift));
    os.exit(3);
end

local function split_list(text)
    if text == "-" then return nil end
    local list = {};
    for item in text:gmatch("[^,]+") do
        list[#list + 1] = item:match("^%s*(.-)%s*$");
    end
    return list;
end

-- prosody.cfg.lua, as docker-jitsi-meet writes it for AUTH_TYPE=jwt on the XMPP domain
-- (plus Jitsi's muc_mapper options, which it sets globally). docker-jitsi-meet's MUC prefix is
-- `muc`, Jitsi's Debian packages' `conference`: the join address and verify_room both use it, so
-- no verdict depends on which.
local options = {
    app_id = app_id,
    app_secret = app_secret,
    allow_empty_token = false,
    enable_domain_verification = true,
    muc_mapper_domain_base = XMPP_DOMAIN,
    muc_mapper_domain_prefix = MUC_PREFIX,
    asap_accepted_issuers = split_list(issuers_arg),
    asap_accepted_audiences = split_list(audiences_arg),
};

local logs = {};

-- The globals a running Prosody has.
local events = { fire_event = function() return nil end, add_handler = function() end };
local the_room = { _data = {} };
_G.prosody = {
    version = (io.open(prosody_dir .. "/prosody.version")
        or { read = function() return "?" end }):read("l"),
    platform = "posix",
    events = events,
    hosts = {},
    full_sessions = {},
    config_loaded = true, -- net.server (util.timer, net.http) loads only inside Prosody
};
_G.hosts = prosody.hosts;
hosts[MUC_DOMAIN] = {
    modules = { muc = { get_room_from_jid = function(_) return the_room end } },
};

-- Prosody's stanza router (it sets prosody.core_post_stanza, which core.moduleapi, loaded by
-- util.lib.lua through core.usermanager, asserts).
require "core.stanza_router";
local set = require "util.set";
local array = require "util.array";

-- A module object with what token/util.lib.lua and util.lib.lua use (moduleapi's option getters
-- take the same arguments; values come from `options`).
local module_mt = {};
module_mt.__index = module_mt;
local function new_module(host)
    return setmetatable({ host = host, name = "auth_token" }, module_mt);
end
function module_mt:get_option(name, default)
    local v = options[name];
    if v == nil then return default end
    return v;
end
module_mt.get_option_string = module_mt.get_option;
module_mt.get_option_number = module_mt.get_option;
module_mt.get_option_boolean = module_mt.get_option;
function module_mt:get_option_array(name, default)
    local v = self:get_option(name, default);
    if v == nil then return nil end
    return array(v);
end
function module_mt:get_option_set(name, default)
    local v = self:get_option(name, default);
    if v == nil then return nil end
    return set.new(v);
end
module_mt.get_option_inherited_set = module_mt.get_option_set;
function module_mt:context(host) return new_module(host) end
function module_mt:log(level, fmt, ...)
    local ok, text = pcall(string.format, tostring(fmt), ...);
    logs[#logs + 1] = level .. ": " .. (ok and text or tostring(fmt));
end
function module_mt:measure() return function() end end
function module_mt:hook() end
function module_mt:hook_global() end

local module = new_module(XMPP_DOMAIN);
-- One environment for the module and every library it module:require()s, as Prosody's
-- pluginloader gives them (util.lib.lua defines its functions as globals of that environment).
local env = setmetatable({ module = module }, { __index = _G });
local loaded = {};
function module_mt:require(name)
    if loaded[name] == nil then
        local path = plugins_dir .. "/" .. name .. ".lib.lua";
        local chunk, err = loadfile(path, "t", env);
        if not chunk then error(err) end
        loaded[name] = chunk() or true;
    end
    return loaded[name];
end

local token_util = module:require("token/util").new(module);
if not token_util then
    io.stderr:write("token/util refused the configuration:\n" .. table.concat(logs, "\n") .. "\n");
    os.exit(4);
end
local main_util = module:require("util");
local jid = require "util.jid";

local function one_line(text)
    return (tostring(text):gsub("[\t\r\n]", " "));
end

local out = {};
for line in io.lines() do
    local name, token, node, tenant = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)$");
    if not name then
        io.stderr:write("bad row: " .. line .. "\n");
        os.exit(5);
    end
    if tenant == "-" then tenant = nil end
    logs = {};

    -- mod_jitsi_session: the websocket's ?token=, ?room= and ?prefix= (the tenant).
    local session = {
        type = "c2s_unauthed",
        auth_token = token,
        jitsi_web_query_room = node,
        jitsi_web_query_prefix = tenant or "",
    };
    local verdict;
    -- mod_auth_token's SASL handler: process_and_verify_token; a Lua error fails the login.
    local ok, res, err, reason = pcall(token_util.process_and_verify_token, token_util, session);
    if not ok then
        verdict = "refuse\tlogin\terror: " .. one_line(res);
    elseif res ~= true then
        verdict = "refuse\tlogin\t" .. one_line(tostring(err) .. ": " .. tostring(reason));
    else
        -- The join: the client addresses room@conference.meet.jitsi, or
        -- room@conference.TENANT.meet.jitsi in a tenant; Prosody's stanza router preps the 'to'
        -- JID, and mod_muc_domain_mapper rewrites a tenant's address to [tenant]room@MUC.
        local muc_host = tenant and (MUC_PREFIX .. "." .. tenant .. "." .. XMPP_DOMAIN) or MUC_DOMAIN;
        local to = node .. "@" .. muc_host .. "/nick";
        local prepped = jid.prep(to);
        if not prepped then
            verdict = "refuse\tjoin\tjid-malformed: " .. one_line(to);
        else
            local room_address = main_util.room_jid_match_rewrite(prepped);
            local ok2, allowed, err2, reason2 =
                pcall(token_util.verify_room, token_util, session, room_address);
            if not ok2 then
                -- A Lua error in the muc-occupant-pre-join hook aborts the join stanza's
                -- processing (net.server logs it): the participant does not get in.
                verdict = "refuse\tjoin\terror: " .. one_line(allowed);
            elseif allowed then
                verdict = "admit";
            else
                -- mod_token_verification's wording when verify_room gives no reason.
                verdict = "refuse\tjoin\t" .. one_line(tostring(err2 or "not-allowed") .. ": "
                    .. tostring(reason2 or "Room and token mismatched")
                    .. " (" .. room_address .. ")");
            end
        end
    end
    out[#out + 1] = name .. "\t" .. verdict;
end
io.write(table.concat(out, "\n"), "\n");
