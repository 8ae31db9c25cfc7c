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
local call = redis.call
local function elapsed_us(started)
  local now = call('TIME')
  return (now[1] - started[1]) * 1000000 + (now[2] - started[2])
end
"""

EXACT_SCAN = (
    _LUA_COMMON
    + r"""
-- ARGV: cursor, count, min_big (bytes), top_n, has_expires (0/1), by_head (0/1), prefix...
local started = call('TIME')
local find, sub = string.find, string.sub
local reply = call('SCAN', ARGV[1], 'COUNT', ARGV[2])
local keys = reply[2]
local min_big = tonumber(ARGV[3])
local top_n = tonumber(ARGV[4])
local has_expires = ARGV[5] == '1'
local by_head = ARGV[6] == '1'
local prefixes = {}
for i = 7, #ARGV do prefixes[#prefixes + 1] = ARGV[i] end
local function group_of(key)
  for i = 1, #prefixes do
    local prefix = prefixes[i]
    if find(key, prefix, 1, true) == 1 then return prefix .. '*' end
  end
  local first = find(key, ':', 1, true)
  if not first then return '(no prefix)' end
  local second = find(key, ':', first + 1, true)
  return sub(key, 1, second or first) .. '*'
end
-- Per key only what must be: three calls, a group slot, two sums and one
-- counter. The counter is a cell per (group, type, TTL bucket), 28 to a
-- group; the per-group figures are added up from the cells once, at the end.
-- When every prefix ends with ':' and has at most two, a key's first two
-- segments decide its group, so the slot is remembered per such head.
local cell_of_type = {string = 0, hash = 4, list = 8, set = 12, zset = 16, stream = 20}
local names, slot_of, by_head_slot = {}, {}, {}
local cells, memory_sum, ttl_sum = {}, {}, {}
local big = {}
local seen = 0
local function slot_for(name)
  local slot = slot_of[name]
  if not slot then
    slot = #names + 1
    names[slot], slot_of[name] = name, slot
    memory_sum[slot], ttl_sum[slot] = 0, 0
    for cell = slot * 32, slot * 32 + 27 do cells[cell] = 0 end
  end
  return slot
end
for i = 1, #keys do
  local key = keys[i]
  local kind = call('TYPE', key)['ok']
  if kind ~= 'none' then
    -- A database without expires (INFO) spares a PTTL per key.
    local pttl = -1
    if has_expires then pttl = call('PTTL', key) end
    -- SAMPLES 0: every element counted; the default (5) misreads big collections.
    local memory = call('MEMORY', 'USAGE', key, 'SAMPLES', '0')
    if pttl ~= -2 and memory then
      seen = seen + 1
      local slot
      if by_head then
        local head = ''
        local first = find(key, ':', 1, true)
        if first then head = sub(key, 1, find(key, ':', first + 1, true) or first) end
        slot = by_head_slot[head]
        if not slot then
          slot = slot_for(group_of(key))
          by_head_slot[head] = slot
        end
      else
        slot = slot_for(group_of(key))
      end
      local cell = slot * 32 + (cell_of_type[kind] or 24)
      if pttl >= 0 then
        ttl_sum[slot] = ttl_sum[slot] + pttl
        if pttl < 3600000 then cell = cell + 1
        elseif pttl < 86400000 then cell = cell + 2
        else cell = cell + 3 end
      end
      cells[cell] = cells[cell] + 1
      memory_sum[slot] = memory_sum[slot] + memory
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
for slot = 1, #names do
  local g = {names[slot], 0, memory_sum[slot], 0, ttl_sum[slot], 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
  for t = 0, 6 do
    for b = 0, 3 do
      local n = cells[slot * 32 + t * 4 + b]
      if n > 0 then
        g[2] = g[2] + n
        g[6 + t] = g[6 + t] + n
        g[13 + b] = g[13 + b] + n
      end
    end
  end
  g[4] = g[2] - g[13]
  out[slot] = g
end
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
local started = call('TIME')
local out = {}
for i = 1, tonumber(ARGV[1]) do
  local key = call('RANDOMKEY')
  if not key then break end
  local kind = call('TYPE', key)['ok']
  if kind ~= 'none' then
    local pttl = call('PTTL', key)
    local memory = call('MEMORY', 'USAGE', key)
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
