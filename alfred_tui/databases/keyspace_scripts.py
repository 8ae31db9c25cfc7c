"""What the keyspace analysis runs inside Redis, and its Python twin.

Two Lua scripts, each bounded per call so Redis is never blocked for long:

- :data:`EXACT_SCAN` runs one ``SCAN`` step and, for every key it returns,
  ``TYPE``, ``PTTL`` and ``MEMORY USAGE``, summing per key group inside
  Redis. It sends back a few numbers per group instead of three replies per
  key, which is what makes it several times faster than a pipelined scan.
- :data:`SAMPLE` calls ``RANDOMKEY`` n times and returns each drawn key with
  its type, TTL and memory, so the client can compute estimates and their
  error bounds.

Both report their own server time (``TIME`` at start and end), so the client
sizes the next call by what Redis spent, not by a round trip that a busy
client machine stretches.

When ``EVAL`` is unavailable (renamed away, ACL-denied, a proxy without
scripting) the same figures come from pipelines; :func:`group_of` is the
Python twin of the script's grouping, so both paths give identical answers.
"""

from __future__ import annotations

from collections.abc import Sequence

#: Type names in the order the scripts count them; module types count as "other".
TYPES = ("string", "hash", "list", "set", "zset", "stream", "other")
#: TTL buckets: no TTL, under an hour, under a day, longer.
TTL_BUCKETS = ("none", "lt_1h", "lt_1d", "longer")
HOUR_MS = 3_600_000
DAY_MS = 86_400_000
NO_PREFIX = b"(no prefix)"
OTHER_GROUP = b"(other)"

_LUA_COMMON = r"""
local type_index = {string = 1, hash = 2, list = 3, set = 4, zset = 5, stream = 6}
local function elapsed_us(started)
  local now = redis.call('TIME')
  return (now[1] - started[1]) * 1000000 + (now[2] - started[2])
end
"""

_LUA_GROUPING = r"""
local function group_of(key, prefixes)
  for i = 1, #prefixes do
    local prefix = prefixes[i]
    if string.find(key, prefix, 1, true) == 1 then
      return prefix .. '*'
    end
  end
  local first = string.find(key, ':', 1, true)
  if not first then
    return '(no prefix)'
  end
  local second = string.find(key, ':', first + 1, true)
  if not second then
    return string.sub(key, 1, first) .. '*'
  end
  return string.sub(key, 1, second) .. '*'
end
-- When every prefix ends with ':' and has at most two, a key's first two
-- segments decide its group: remember the answer per two-segment head.
local function grouper(prefixes, by_head)
  if not by_head then
    return function(key) return group_of(key, prefixes) end
  end
  local memo = {}
  return function(key)
    local first = string.find(key, ':', 1, true)
    local second = first and string.find(key, ':', first + 1, true)
    if not second then
      return group_of(key, prefixes)
    end
    local head = string.sub(key, 1, second)
    local name = memo[head]
    if not name then
      name = group_of(head, prefixes)
      memo[head] = name
    end
    return name
  end
end
"""

EXACT_SCAN = (
    _LUA_COMMON
    + _LUA_GROUPING
    + r"""
-- ARGV: cursor, count, min_big (bytes), top_n, has_expires (0/1), by_head (0/1), prefix...
local started = redis.call('TIME')
local reply = redis.call('SCAN', ARGV[1], 'COUNT', ARGV[2])
local keys = reply[2]
local min_big = tonumber(ARGV[3])
local top_n = tonumber(ARGV[4])
local has_expires = ARGV[5] == '1'
local prefixes = {}
for i = 7, #ARGV do prefixes[#prefixes + 1] = ARGV[i] end
local group_for = grouper(prefixes, ARGV[6] == '1')
local groups, order, big = {}, {}, {}
local seen = 0
for i = 1, #keys do
  local key = keys[i]
  local kind = redis.call('TYPE', key)['ok']
  if kind ~= 'none' then
    -- A database without expires (INFO) spares a PTTL per key.
    local pttl = -1
    if has_expires then pttl = redis.call('PTTL', key) end
    local memory = redis.call('MEMORY', 'USAGE', key)
    if pttl ~= -2 and memory then
      seen = seen + 1
      local name = group_for(key)
      local g = groups[name]
      if not g then
        g = {name, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
        groups[name] = g
        order[#order + 1] = name
      end
      g[2] = g[2] + 1
      g[3] = g[3] + memory
      local t = type_index[kind] or 7
      g[5 + t] = g[5 + t] + 1
      if pttl == -1 then
        g[13] = g[13] + 1
      else
        g[4] = g[4] + 1
        g[5] = g[5] + pttl
        if pttl < 3600000 then g[14] = g[14] + 1
        elseif pttl < 86400000 then g[15] = g[15] + 1
        else g[16] = g[16] + 1 end
      end
      if memory > min_big then
        big[#big + 1] = {key, memory, kind, pttl}
      end
    end
  end
end
if #big > top_n then
  table.sort(big, function(a, b) return a[2] > b[2] end)
  for i = #big, top_n + 1, -1 do big[i] = nil end
end
local out = {}
for i = 1, #order do out[i] = groups[order[i]] end
return {reply[1], seen, out, big, elapsed_us(started)}
"""
)
"""One SCAN step summed per group: ``{cursor, keys, groups, big, server_us}``.

Each group is ``{name, count, memory, ttl_count, ttl_sum_ms, string, hash,
list, set, zset, stream, other, none, lt_1h, lt_1d, longer}``; ``big`` holds
up to ``top_n`` ``{key, memory, type, pttl}`` above ``min_big`` bytes.
"""

SAMPLE = (
    _LUA_COMMON
    + r"""
-- ARGV: n
local started = redis.call('TIME')
local out = {}
for i = 1, tonumber(ARGV[1]) do
  local key = redis.call('RANDOMKEY')
  if not key then break end
  local kind = redis.call('TYPE', key)['ok']
  if kind ~= 'none' then
    local pttl = redis.call('PTTL', key)
    local memory = redis.call('MEMORY', 'USAGE', key)
    if pttl ~= -2 and memory then
      out[#out + 1] = {key, kind, pttl, memory}
    end
  end
end
return {elapsed_us(started), out}
"""
)
"""n keys drawn with ``RANDOMKEY``: ``{server_us, {{key, type, pttl, memory}, ...}}``."""


def groups_by_head(prefixes: Sequence[bytes]) -> bool:
    """Whether a key's first two ``:`` segments decide its group (the script memoises then)."""
    return all(prefix.endswith(b":") and prefix.count(b":") <= 2 for prefix in prefixes)


def group_of(key: bytes, prefixes: Sequence[bytes]) -> bytes:
    """The group of ``key``, exactly as the scripts compute it.

    A key under one of the profile's prefixes belongs to ``prefix*``; any
    other key to its first two ``:`` segments (``celery:task:*``), or its
    first one (``session:*``), or ``(no prefix)``.
    """
    for prefix in prefixes:
        if key.startswith(prefix):
            return prefix + b"*"
    first = key.find(b":")
    if first < 0:
        return NO_PREFIX
    second = key.find(b":", first + 1)
    if second < 0:
        return key[: first + 1] + b"*"
    return key[: second + 1] + b"*"


def type_index(kind: str) -> int:
    """0-based position of ``kind`` in :data:`TYPES`."""
    try:
        return TYPES.index(kind, 0, 6)
    except ValueError:
        return 6


def ttl_bucket(pttl_ms: int) -> int:
    """0-based position of a PTTL reply (-1: none) in :data:`TTL_BUCKETS`."""
    if pttl_ms < 0:
        return 0
    if pttl_ms < HOUR_MS:
        return 1
    if pttl_ms < DAY_MS:
        return 2
    return 3
