package redisstore

// gcraScript decides, charges or refunds every limit of one group (one hash
// tag) atomically. It is the Redis twin of ratelimit's gcra: the same
// integer arithmetic, in microseconds, on Redis's clock. It does only what
// needs Redis (the clock, the state, the all-or-nothing charge); the store
// works out each limit's result from the reply.
//
// KEYS[i]: the TAT key of limit i (a decimal number of microseconds since
// the Unix epoch, kept until the limit is back to full).
// ARGV[1]: mode: "0" decide and charge if all allow, "1" decide without
// charging, "2" refund a charge made by mode 0.
// ARGV[2]: cost (units).
// ARGV[3]: "0" to read the time from Redis TIME; otherwise that time in
// microseconds (tests only: the store never sends it in production).
// ARGV[2+2i], ARGV[3+2i]: interval (µs) and burst of limit i.
//
// Reply: {now, allowed, then per limit used}: now is the time of the
// decision (µs), used is how far limit i's TAT was ahead of now before this
// request (0 for a limit back to full), and allowed is 1 when every limit
// allowed cost (and, in mode 0, all were charged), else 0. allowed is 2
// when every limit allowed but Redis refused to write the charge (OOM at
// maxmemory under noeviction, MISCONF, READONLY, NOREPLICAS): nothing was
// written, since Redis refuses only a script's first write; one more
// element then names the refusal (see writeRefusal).
//
// A key's TTL is the time until its limit is back to full: PXAT its TAT
// rounded up to Redis's milliseconds (a day on a caller's clock, which
// Redis's expiry does not follow). Should that millisecond already have
// passed when SET runs, Redis drops the key at once, which is right: the
// limit is full by then.
//
// Every number is an integer below 2^53, so Lua's doubles hold them
// exactly: the store checks interval*burst <= 2^51 µs, now is below 2^52
// µs (year 2112), so tat <= now + tau and now + used + cost*interval stay
// below 2^53. A stored value that is not such a number, or a clock beyond
// that range, is an error rather than a wrong decision.
//
// What it costs is mostly Redis's: besides TIME, GET and SET, each number
// read from a string and written as one, and each reply element, costs
// about as much as a small command, so the script reads each argument once
// (a cost of 1 and the mode are compared as strings) and replies one number
// per limit.
const gcraScript = `
local LIMIT = 4503599627370496 -- 2^52
local mode = ARGV[1]
local cost = 1
if ARGV[2] ~= '1' then cost = tonumber(ARGV[2]) end
local clock = ARGV[3] == '0'
local now
if clock then
  local t = redis.call('TIME')
  now = t[1] * 1000000 + t[2]
else
  now = tonumber(ARGV[3])
end
if not now or now <= 0 or now >= LIMIT or now % 1 ~= 0 or not cost or cost < 1 or cost >= LIMIT or cost % 1 ~= 0 then
  return redis.error_reply('bulwark: time or cost out of range')
end
if mode ~= '0' and mode ~= '1' and mode ~= '2' then
  return redis.error_reply('bulwark: unknown mode')
end
local out = {now, 1}
local all = 1
local step1 -- cost * interval of the first limit, kept for its write
for i = 1, #KEYS do
  local interval = tonumber(ARGV[2 + 2 * i])
  local burst = tonumber(ARGV[3 + 2 * i])
  if not interval or not burst or interval < 1 or burst < 1 or interval % 1 ~= 0 or burst % 1 ~= 0 or interval * burst > 2251799813685248 then
    return redis.error_reply('bulwark: limit out of range')
  end
  local tau = interval * burst
  local step = cost * interval
  if i == 1 then step1 = step end
  local raw = redis.call('GET', KEYS[i])
  local tat = 0
  if raw then
    tat = tonumber(raw)
    if not tat or tat < 0 or tat >= LIMIT + tau or tat % 1 ~= 0 then
      return redis.error_reply('bulwark: corrupt limit state')
    end
  end
  local used = 0
  if tat > now then used = tat - now end
  if mode ~= '2' and (cost > burst or used + step > tau) then
    all = 0
  end
  out[2 + i] = used
end
out[2] = all
if all == 0 or mode == '1' then
  return out
end
-- Write every limit's new TAT: the charge (mode 0) adds a step, the refund
-- (mode 2) takes it back, and a TAT that is then not ahead of now is a
-- full limit, deleted.
for i = 1, #KEYS do
  local step = step1
  if i > 1 then step = cost * tonumber(ARGV[2 + 2 * i]) end
  if mode == '2' then step = -step end
  local t = now + out[2 + i] + step
  local r -- nil, or SET's answer: {ok = 'OK'} or {err = ...}
  if t <= now then
    redis.call('DEL', KEYS[i])
  elseif clock then
    r = redis.pcall('SET', KEYS[i], string.format('%d', t), 'PXAT', string.format('%d', (t + 999 - (t + 999) % 1000) / 1000))
  else
    r = redis.pcall('SET', KEYS[i], string.format('%d', t), 'PX', 86400000)
  end
  local err = r and r.err
  if err then
    if i > 1 then
      -- Cannot happen: Redis refuses only a script's first write. Not
      -- reported as a refused write, since earlier ones were made.
      return redis.error_reply('bulwark: write refused after the first: ' .. err)
    end
    local code = 0
    for c, prefix in ipairs({'OOM', 'MISCONF', 'READONLY', 'NOREPLICAS'}) do
      if string.sub(err, 1, #prefix) == prefix then code = c end
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
