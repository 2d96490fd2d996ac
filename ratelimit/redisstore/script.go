package redisstore

// gcraScript decides, charges or refunds every limit of one group (one hash
// tag) atomically. It is the Redis twin of ratelimit's gcra: the same
// integer arithmetic, in microseconds, on Redis's clock.
//
// KEYS[i]: the TAT key of limit i (a decimal number of microseconds since
// the Unix epoch, kept until the limit is back to full).
// ARGV[1]: mode: 0 decide and charge if all allow, 1 decide without
// charging, 2 refund a charge made by mode 0.
// ARGV[2]: cost (units).
// ARGV[3]: 0 to read the time from Redis TIME; otherwise that time in
// microseconds (tests only: the store never sends it in production).
// ARGV[2+2i], ARGV[3+2i]: interval (µs) and burst of limit i.
//
// Reply: {now, allowed, then per limit: allowed, remaining, resetAfter (µs),
// retryAfter (µs)}. allowed is 2 when every limit allowed but Redis refused
// to write the charge (OOM at maxmemory under noeviction, MISCONF, READONLY,
// NOREPLICAS): nothing was written, since Redis refuses only a script's
// first write; one more element then names the refusal (see writeRefusal).
//
// Every number is an integer below 2^53, so Lua's doubles hold them
// exactly: the store checks interval*burst <= 2^51 µs, now is below 2^52
// µs (year 2112), so tat <= now + tau and base + cost*interval stay below
// 2^53. A stored value that is not such a number, or a clock beyond that
// range, is an error rather than a wrong decision.
const gcraScript = `
local LIMIT = 4503599627370496 -- 2^52
local mode = tonumber(ARGV[1])
local cost = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
-- With a caller's time, key expiry (on Redis's clock) is unrelated to the
-- timeline: keep keys a day. A stale TAT <= now is a fresh key anyway.
local minttl = 86400000
if now == 0 then
  minttl = 1
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
if not now or now <= 0 or now >= LIMIT or not cost or cost < 1 or cost >= LIMIT then
  return redis.error_reply('bulwark: time or cost out of range')
end
local function rem(tau, owed, interval)
  if owed >= tau then return 0 end
  local d = tau - owed
  local r = math.floor(d / interval)
  if r * interval > d then r = r - 1 end
  if (r + 1) * interval <= d then r = r + 1 end
  return r
end
local n = #KEYS
local tats = {}
local news = {}
local out = {now, 1}
local all = 1
for i = 1, n do
  local interval = tonumber(ARGV[2 + 2 * i])
  local burst = tonumber(ARGV[3 + 2 * i])
  if not interval or not burst or interval < 1 or burst < 1 or interval * burst > 2251799813685248 then
    return redis.error_reply('bulwark: limit out of range')
  end
  local tau = interval * burst
  local raw = redis.call('GET', KEYS[i])
  local tat = 0
  if raw then
    tat = tonumber(raw)
    if not tat or tat < 0 or tat >= LIMIT + tau or tat ~= math.floor(tat) then
      return redis.error_reply('bulwark: corrupt limit state')
    end
  end
  tats[i] = tat
  if mode == 2 then
    local t = tat - cost * interval
    if t > now then
      redis.call('SET', KEYS[i], string.format('%d', t), 'PX', math.max(minttl, math.ceil((t - now) / 1000)))
    elseif raw then
      redis.call('DEL', KEYS[i])
    end
  else
    local base = math.max(tat, now)
    local used = base - now
    local j = 2 + 4 * (i - 1)
    if cost > burst then
      out[j + 1], out[j + 2], out[j + 3], out[j + 4] = 0, rem(tau, used, interval), used, 0
      all = 0
    else
      local nt = base + cost * interval
      local owed = nt - now
      if owed > tau then
        out[j + 1], out[j + 2], out[j + 3], out[j + 4] = 0, rem(tau, used, interval), used, owed - tau
        all = 0
      else
        out[j + 1], out[j + 2], out[j + 3], out[j + 4] = 1, rem(tau, owed, interval), owed, 0
        news[i] = nt
      end
    end
  end
end
if mode == 2 then
  return out
end
if all == 0 or mode == 1 then
  -- Nothing is charged: the limits that would allow report their state
  -- without this request.
  for i = 1, n do
    local j = 2 + 4 * (i - 1)
    if out[j + 1] == 1 then
      local interval = tonumber(ARGV[2 + 2 * i])
      local tau = interval * tonumber(ARGV[3 + 2 * i])
      local used = math.max(tats[i], now) - now
      out[j + 2], out[j + 3] = rem(tau, used, interval), used
    end
  end
  out[2] = all
  return out
end
for i = 1, n do
  local nt = news[i]
  local r = redis.pcall('SET', KEYS[i], string.format('%d', nt), 'PX', math.max(minttl, math.ceil((nt - now) / 1000)))
  if type(r) == 'table' and r.err then
    if i > 1 then
      -- Cannot happen: Redis refuses only a script's first write. Not
      -- reported as a refused write, since earlier ones were made.
      return redis.error_reply('bulwark: write refused after the first: ' .. r.err)
    end
    local code = 0
    for c, prefix in ipairs({'OOM', 'MISCONF', 'READONLY', 'NOREPLICAS'}) do
      if string.sub(r.err, 1, #prefix) == prefix then code = c end
    end
    out[2] = 2
    out[#out + 1] = code
    return out
  end
end
return out
`

// The script's codes for a refused write (the index in its list 'OOM',
// 'MISCONF', 'READONLY', 'NOREPLICAS'), and the error prefix by which
// Redis refuses it.
const (
	refusedOOM = iota + 1
	refusedMisconf
	refusedReadOnly
	refusedNoReplicas
)

func refusalPrefix(code int64) string {
	switch code {
	case refusedOOM:
		return "OOM"
	case refusedMisconf:
		return "MISCONF"
	case refusedReadOnly:
		return "READONLY"
	case refusedNoReplicas:
		return "NOREPLICAS"
	}
	return ""
}

// writeRefusal names the refusal code of a reply whose allowed is 2: why
// Redis did not write the charge. Fixed words only; Redis's own text is
// not passed on.
func writeRefusal(code int64) string {
	switch code {
	case refusedOOM:
		return "OOM: used memory is over maxmemory (maxmemory-policy noeviction)"
	case refusedMisconf:
		return "MISCONF: writes stopped after a failed RDB save"
	case refusedReadOnly:
		return "READONLY: the server is a replica"
	case refusedNoReplicas:
		return "NOREPLICAS: not enough replicas to accept writes"
	}
	return "write refused"
}
