/**
 * The Store on Redis, for several signaling nodes sharing one state (scale-out).
 *
 * Atomicity. Every method is one step on the server: a single command, one MULTI, or one Lua script
 * (`defineCommand`, run with EVALSHA). Redis runs a script to the end before any other command, so a
 * script that reads, decides and writes (consume a handle, claim a request, end a session, compare
 * and set a state) is atomic across every node and connection, like a method of the memory store on
 * its one event loop. Scripts never read a clock: they compare the times the caller passes in.
 *
 * Records are hashes whose fields hold the JSON text of each property (`"s1"`, `1732000000000`,
 * `null`). Lua reads a field without re-encoding it, compares JSON text with JSON text made by the
 * caller, and writes JSON text made by the caller, so a number never goes through Lua's number
 * formatting. Reads decode fresh objects: a caller never holds what is stored.
 *
 * Key layout. Every key is `jus:{<prefix>}:<kind>` or `jus:{<prefix>}:<kind>:<id>`. The prefix sits
 * in a hash tag, so all keys of one deployment hash to one slot and the multi-key scripts also work
 * on Redis Cluster in principle (untested; each script declares its main key, from which the client picks the node; the
 * others are derived from the same tag). Kinds are one segment each and ids come last, so ids may
 * contain `:`.
 *
 *   handle:<handle>                 hash   a reservation
 *   session-handles:<sessionId>     set    handles reserved for the session
 *   handle-expiries                 zset   handles by expiresAt (the sweep's takeExpiredHandles)
 *   queue                           zset   waiting request ids by sequence number (enqueue order)
 *   queue-seq                       string the sequence counter (INCR)
 *   queue-version                   string the queue's version (INCR, with each enqueue and claim)
 *   request:<requestId>             hash   a waiting request (deleted when claimed)
 *   request-by-token:<tokenHash>    string its request id
 *   offline-requests                zset   waiting requests whose customer is away, by sequence number
 *   request-holds:<requestId>       set    connection ids holding the request
 *   node-holds:<nodeId>             set    `<requestId>\n<connectionId>` of the node's connections
 *   session:<sessionId>             hash   a session
 *   active-sessions                 set    active session ids
 *   agent-sessions:<agentName>      set    the agent's active session ids
 *   grace-sessions                  set    active sessions with a grace clock running
 *   ended-sessions                  zset   ended session ids by endedAt (purgeEndedSessions)
 *   participant:<participantId>     hash   a participant
 *   session-participants:<id>       set    participant ids of the session
 *   credential:<hash>               hash   a credential
 *   session-credentials:<id>        set    credential hashes of the session
 *   peer:<peerId>                   hash   a peer
 *   session-peers:<sessionId>       set    peer ids of the session
 *   away-peers                      set    peers whose connection is gone
 *   node-peers:<nodeId>             set    connected peers whose connection id is of the node
 *   node-leases                     zset   node ids by lease expiry
 *   node-reaping                    set    nodes whose lease ran out, until the sweep has freed what they held
 *   turn:<name>                     hash   `owner` and `until` (raw, internal)
 *   agent-token:<hash>              hash   an agent sign-in token
 *
 * No KEYS or SCAN: every read a request or the sweep makes goes through one of these indexes, kept in
 * step by the same script that changes the record. `listQueue`, `queueOrder` and
 * `listActiveSessions` read their whole collection, as their contract says.
 *
 * Lifetimes. Every key has a real expiry, as a backstop only (so that nothing outlives an abandoned
 * deployment or a crashed node); the logic never depends on it. A handle lives until its expiresAt
 * plus a minute (relative to the caller's now, so a fake clock near real time is fine), an agent
 * token its own duration plus a minute, a turn its duration plus a minute. Records without a natural
 * end and every index live `recordTtlMs` (24 h), refreshed when written; an index is never shortened,
 * so it outlives its members. The queue's two counters live `counterTtlMs` (90 days): a version that
 * started again at 0 would go backwards under consoles that remember it. Members whose record the
 * backstop removed are skipped (and dropped from set indexes) when read.
 *
 * Errors. While Redis cannot be reached (the client does not queue commands offline, see
 * `createRedisClient`), a method rejects at once with `StoreUnavailableError`; any other error (a
 * bug, a wrong type) propagates as is.
 */
import { Redis, type RedisOptions } from 'ioredis';
import type {
  AgentTokenRecord,
  CredentialRecord,
  HandleGuest,
  HandleReservation,
  ParticipantRecord,
  PeerRecord,
  QueueRequest,
  QueueVersion,
  RevokedBecause,
  SessionHandleConsumed,
  SessionHandleReserved,
  SessionRecord,
  Store,
} from './types';
import { guestRecords, nodeOf, StoreUnavailableError } from './types';
import type { EndReason } from '../../lib/protocol';

const MINUTE_MS = 60_000;
/** How long past its natural end a key with one (handle, agent token, turn) is kept by Redis. */
const BACKSTOP_MARGIN_MS = MINUTE_MS;

export interface RedisStoreOptions {
  /** This deployment's namespace; every key is `jus:{<prefix>}:…`. No `{` or `}`. */
  prefix: string;
  /** Lifetime of records without a natural end and of indexes, refreshed when written. @default 24 h */
  recordTtlMs?: number;
  /** Lifetime of the queue's sequence and version counters, refreshed when changed. @default 90 days */
  counterTtlMs?: number;
}

// ------------------------------------------------------------------ Lua

/**
 * Prepended to every script. ARGV[1] is the key base (`jus:{prefix}:`), ARGV[2] the records'
 * lifetime, ARGV[3] the counters' lifetime; a script's own arguments start at ARGV[4].
 */
const LUA_LIB = `
local B = ARGV[1]
local RECORD_TTL = tonumber(ARGV[2])
local COUNTER_TTL = tonumber(ARGV[3])

-- The key of a record or an index (keyOf in TypeScript).
local function K(kind, id)
  if id == nil then return B .. kind end
  return B .. kind .. ':' .. id
end

-- A time or bound as the caller sent it ('+inf' and '-inf' for infinities).
local function num(s)
  if s == '+inf' then return math.huge end
  if s == '-inf' then return -math.huge end
  return tonumber(s)
end

-- A stored JSON field decoded to a Lua string; nil for null or a missing field.
local function str(json)
  if not json then return nil end
  local v = cjson.decode(json)
  if v == cjson.null then return nil end
  return v
end

-- A record as its flat field/value list (HGETALL), or false.
local function get(key)
  local r = redis.call('HGETALL', key)
  if #r == 0 then return false end
  return r
end

local function field(rec, name)
  for i = 1, #rec, 2 do
    if rec[i] == name then return rec[i + 1] end
  end
  return nil
end

-- Let the key live at least ms more (never shortens: an index outlives its members). GT lengthens
-- a lifetime in one command, no PTTL first (Redis 7); only a key without one (just made) takes a
-- second, NX. A missing key is left missing by both.
local function keep(key, ms)
  if redis.call('PEXPIRE', key, ms, 'GT') == 0 then redis.call('PEXPIRE', key, ms, 'NX') end
end

local function sadd(key, member)
  redis.call('SADD', key, member)
  keep(key, RECORD_TTL)
end

-- A waiting request's offlineSince (JSON text: 'null' or a time), with the offline index; 0 when it
-- is not waiting.
local function markOffline(id, since)
  local key = K('request', id)
  local seq = redis.call('ZSCORE', K('queue'), id)
  if not seq or redis.call('EXISTS', key) == 0 then return 0 end
  redis.call('HSET', key, 'offlineSince', since)
  redis.call('PEXPIRE', key, RECORD_TTL)
  keep(K('queue'), RECORD_TTL)
  local tokenHash = str(redis.call('HGET', key, 'tokenHash'))
  if tokenHash then keep(K('request-by-token', tokenHash), RECORD_TTL) end
  local offline = K('offline-requests')
  if since == 'null' then
    redis.call('ZREM', offline, id)
  else
    redis.call('ZADD', offline, seq, id)
    keep(offline, RECORD_TTL)
  end
  return 1
end

-- Replace a record. With absent, the caller has just read the key and found no record there, so
-- there are no old fields to clear (every record is written whole, with all its fields).
local function put(key, fields, ms, absent)
  if not absent then redis.call('DEL', key) end
  redis.call('HSET', key, unpack(fields))
  redis.call('PEXPIRE', key, ms)
end

-- A record sent in ARGV from index i: its field count, then field/value pairs. Returns the fields and
-- the index after them.
local function argRecord(i)
  local n = tonumber(ARGV[i])
  local fields = {}
  for j = 1, 2 * n do fields[j] = ARGV[i + j] end
  return fields, i + 2 * n + 1
end

-- nodeOf in types.ts: the part before the first '/', '' without one.
local function nodeOf(connectionId)
  local slash = string.find(connectionId, '/', 1, true)
  if not slash then return '' end
  return string.sub(connectionId, 1, slash - 1)
end

-- The records of a set index's members; members whose record is gone are dropped from the set.
local function setRecords(setKey, kind)
  local out = {}
  for _, id in ipairs(redis.call('SMEMBERS', setKey)) do
    local rec = get(K(kind, id))
    if rec then out[#out + 1] = rec else redis.call('SREM', setKey, id) end
  end
  return out
end

-- The records of ids in order, skipping any that is gone.
local function recordsOf(kind, ids)
  local out = {}
  for _, id in ipairs(ids) do
    local rec = get(K(kind, id))
    if rec then out[#out + 1] = rec end
  end
  return out
end

local function dropHandle(handle, rec)
  redis.call('DEL', K('handle', handle))
  redis.call('SREM', K('session-handles', str(field(rec, 'sessionId'))), handle)
  redis.call('ZREM', K('handle-expiries'), handle)
end

-- Reserve the handle (key) unless a live reservation holds it: ARGV from i are now, lifetime ms,
-- handle, sessionId, expiry score, then the record. True when reserved.
local function reserve(key, i)
  local now, ttl, handle = num(ARGV[i]), tonumber(ARGV[i + 1]), ARGV[i + 2]
  local held = redis.call('HMGET', key, 'expiresAt', 'sessionId')
  if held[1] then
    local expiresAt = tonumber(held[1])
    if expiresAt and expiresAt > now then return false end
    redis.call('SREM', K('session-handles', str(held[2])), handle)
  end
  put(key, argRecord(i + 5), ttl, not held[1] and not held[2])
  local bySession, byExpiry = K('session-handles', ARGV[i + 3]), K('handle-expiries')
  redis.call('SADD', bySession, handle)
  keep(bySession, ttl)
  redis.call('ZADD', byExpiry, ARGV[i + 4], handle)
  keep(byExpiry, ttl)
  return true
end

-- Take the handle (key): a live reservation is returned, an expired one only dropped (false).
local function consume(key, handle, now)
  local rec = get(key)
  if not rec then return false end
  dropHandle(handle, rec)
  local expiresAt = tonumber(field(rec, 'expiresAt'))
  if expiresAt and expiresAt > now then return rec end
  return false
end

-- A waiting request leaves the queue: its record, token index, offline entry and holds go with it.
local function removeWaiting(id)
  local key = K('request', id)
  local tokenHash = str(redis.call('HGET', key, 'tokenHash'))
  if tokenHash then
    local byToken = K('request-by-token', tokenHash)
    if redis.call('GET', byToken) == id then redis.call('DEL', byToken) end
  end
  redis.call('DEL', key)
  redis.call('ZREM', K('queue'), id)
  redis.call('ZREM', K('offline-requests'), id)
  local holds = K('request-holds', id)
  for _, connectionId in ipairs(redis.call('SMEMBERS', holds)) do
    redis.call('SREM', K('node-holds', nodeOf(connectionId)), id .. '\\n' .. connectionId)
  end
  redis.call('DEL', holds)
end

-- One more change of the queue: returns { version, count }.
local function bumpQueue()
  local versionKey = K('queue-version')
  local version = redis.call('INCR', versionKey)
  redis.call('PEXPIRE', versionKey, COUNTER_TTL)
  return { version, redis.call('ZCARD', K('queue')) }
end

local function queueVersion()
  return tonumber(redis.call('GET', K('queue-version')) or '0')
end

local function inGrace(rec)
  local a, c = field(rec, 'agentOfflineSince'), field(rec, 'customerOfflineSince')
  return (a ~= nil and a ~= 'null') or (c ~= nil and c ~= 'null')
end

-- Adds the session to the indexes of its state (and refreshes them).
local function indexSession(rec)
  local id = str(field(rec, 'sessionId'))
  if field(rec, 'state') == '"active"' then
    sadd(K('active-sessions'), id)
    sadd(K('agent-sessions', str(field(rec, 'agentName'))), id)
    if inGrace(rec) then sadd(K('grace-sessions'), id) else redis.call('SREM', K('grace-sessions'), id) end
  else
    local endedAt = field(rec, 'endedAt')
    if endedAt == nil or endedAt == 'null' then endedAt = '0' end
    redis.call('ZADD', K('ended-sessions'), endedAt, id)
    keep(K('ended-sessions'), RECORD_TTL)
  end
end

local function unindexSession(rec)
  local id = str(field(rec, 'sessionId'))
  if field(rec, 'state') == '"active"' then
    redis.call('SREM', K('active-sessions'), id)
    redis.call('SREM', K('agent-sessions', str(field(rec, 'agentName'))), id)
    redis.call('SREM', K('grace-sessions'), id)
  else
    redis.call('ZREM', K('ended-sessions'), id)
  end
end

-- A record of a session (kind:id) written, and listed in that session's index (index:sessionId),
-- leaving the index of a session it was in before.
local function putInSession(kind, index, id, fields)
  local key = K(kind, id)
  local sessionId = field(fields, 'sessionId')
  local before = redis.call('HGET', key, 'sessionId')
  if before and before ~= sessionId then redis.call('SREM', K(index, str(before)), id) end
  put(key, fields, RECORD_TTL, not before)
  sadd(K(index, str(sessionId)), id)
end

local function putParticipant(fields)
  putInSession('participant', 'session-participants', str(field(fields, 'participantId')), fields)
end

local function putCredential(hash, fields)
  putInSession('credential', 'session-credentials', hash, fields)
end

-- A peer's connection id when it has one ('' counts as none, as in the memory store).
local function peerConnection(rec)
  local connectionId = str(field(rec, 'connectionId'))
  if connectionId == '' then return nil end
  return connectionId
end

local function indexPeer(id, rec)
  sadd(K('session-peers', str(field(rec, 'sessionId'))), id)
  local connectionId = peerConnection(rec)
  if connectionId then sadd(K('node-peers', nodeOf(connectionId)), id) end
  if field(rec, 'connectionId') == 'null' then sadd(K('away-peers'), id) else redis.call('SREM', K('away-peers'), id) end
end

local function unindexPeer(id, rec)
  redis.call('SREM', K('session-peers', str(field(rec, 'sessionId'))), id)
  local connectionId = peerConnection(rec)
  if connectionId then redis.call('SREM', K('node-peers', nodeOf(connectionId)), id) end
  redis.call('SREM', K('away-peers'), id)
end
`;

/** Each script: KEYS[1] is its main key; the comment lists its own ARGV (from ARGV[4]). */
const SCRIPTS = {
  /** KEYS[1] handle. ARGV: now, lifetime ms, handle, sessionId, expiry score, the record. */
  reserveHandle: `
if reserve(KEYS[1], 4) then return 1 end
return 0`,

  /**
   * KEYS[1] handle. ARGV: agentName (JSON), now, lifetime ms, handle, sessionId, expiry score, the
   * record. Returns { why } when refused, else { 'reserved', the session's handle records }.
   */
  reserveSessionHandle: `
local session = redis.call('HMGET', K('session', ARGV[8]), 'agentName', 'state')
if not session[1] or session[1] ~= ARGV[4] then return { 'not_your_session' } end
if session[2] ~= '"active"' then return { 'session_ended' } end
if not reserve(KEYS[1], 5) then return { 'in_use' } end
return { 'reserved', setRecords(K('session-handles', ARGV[8]), 'handle') }`,

  /** KEYS[1] handle. ARGV: handle, now. A live reservation is returned; an expired one only dropped. */
  consumeHandle: `return consume(KEYS[1], ARGV[4], num(ARGV[5]))`,

  /**
   * KEYS[1] handle. ARGV: handle, now, and for a guest (optional) its participantId (JSON), name
   * (JSON) and credential hash. Returns false, or { the reservation, its session's record (or
   * false), the session's handle records left, the guest's state as written (JSON; false when none
   * was written) }. The guest's records are guestRecords' (types.ts), field by field.
   */
  consumeSessionHandle: `
local rec = consume(KEYS[1], ARGV[4], num(ARGV[5]))
if not rec then return false end
local sessionIdJson = field(rec, 'sessionId')
local sessionId = str(sessionIdJson)
local session = get(K('session', sessionId))
local state = false
if ARGV[6] and session and field(session, 'state') == '"active"' then
  if field(session, 'lobby') == 'true' then state = '"waiting"' else state = '"active"' end
  local now, participantId = ARGV[5], ARGV[6]
  putParticipant({ 'participantId', participantId, 'sessionId', sessionIdJson, 'role', '"guest"', 'name', ARGV[7], 'joinedAt', now, 'state', state })
  putCredential(ARGV[8], { 'sessionId', sessionIdJson, 'participantId', participantId, 'issuedAt', now, 'revoked', 'null' })
end
return { rec, session, setRecords(K('session-handles', sessionId), 'handle'), state }`,

  /** KEYS[1] handle. ARGV: handle, sessionId (JSON). */
  releaseHandle: `
local rec = get(KEYS[1])
if not rec or field(rec, 'sessionId') ~= ARGV[5] then return false end
dropHandle(ARGV[4], rec)
return rec`,

  /** KEYS[1] session-handles. */
  listSessionHandles: `return setRecords(KEYS[1], 'handle')`,

  /** KEYS[1] handle-expiries. ARGV: now (also the range's upper bound). */
  takeExpiredHandles: `
local now, out = num(ARGV[4]), {}
for _, handle in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[4])) do
  local rec = get(K('handle', handle))
  if not rec then
    redis.call('ZREM', KEYS[1], handle)
  else
    local expiresAt = tonumber(field(rec, 'expiresAt'))
    if expiresAt and expiresAt <= now then
      dropHandle(handle, rec)
      out[#out + 1] = rec
    end
  end
end
return out`,

  /** KEYS[1] queue. ARGV: requestId, tokenHash, the record. Returns { version, count }. */
  enqueue: `
local queue, id = KEYS[1], ARGV[4]
if redis.call('ZSCORE', queue, id) then removeWaiting(id) end
local seqKey = K('queue-seq')
local seq = redis.call('INCR', seqKey)
redis.call('PEXPIRE', seqKey, COUNTER_TTL)
local fields = argRecord(6)
put(K('request', id), fields, RECORD_TTL)
redis.call('ZADD', queue, seq, id)
keep(queue, RECORD_TTL)
redis.call('SET', K('request-by-token', ARGV[5]), id, 'PX', RECORD_TTL)
if field(fields, 'offlineSince') ~= 'null' then
  redis.call('ZADD', K('offline-requests'), seq, id)
  keep(K('offline-requests'), RECORD_TTL)
end
return bumpQueue()`,

  /** KEYS[1] request-by-token. */
  findRequestByTokenHash: `
local id = redis.call('GET', KEYS[1])
if not id or not redis.call('ZSCORE', K('queue'), id) then return false end
return get(K('request', id))`,

  /** KEYS[1] queue. */
  listQueue: `return recordsOf('request', redis.call('ZRANGE', KEYS[1], 0, -1))`,

  /** KEYS[1] queue. ARGV: how many (-1 for all). Returns { version, count, records }. */
  queueWindow: `
local limit, requests = tonumber(ARGV[4]), {}
if limit == -1 or limit > 0 then
  local stop = -1
  if limit > 0 then stop = limit - 1 end
  requests = recordsOf('request', redis.call('ZRANGE', KEYS[1], 0, stop))
end
return { queueVersion(), redis.call('ZCARD', KEYS[1]), requests }`,

  /** KEYS[1] queue. ARGV: requestId. Returns { position, version }. */
  queuePosition: `
local rank = redis.call('ZRANK', KEYS[1], ARGV[4])
if not rank then return false end
return { rank + 1, queueVersion() }`,

  /** KEYS[1] queue. Returns { version, ids }. */
  queueOrder: `return { queueVersion(), redis.call('ZRANGE', KEYS[1], 0, -1) }`,

  /** KEYS[1] queue. ARGV: requestId, head. Returns { record, version, count, next record or false }. */
  claimRequest: `
local queue, id, head = KEYS[1], ARGV[4], tonumber(ARGV[5])
local rank = redis.call('ZRANK', queue, id)
if not rank then return false end
local rec = get(K('request', id))
removeWaiting(id)
local v = bumpQueue()
-- Only when the backstop expired the record of a request still queued: it leaves, nobody gets it.
if not rec then return false end
local nextRec = false
if rank < head and head >= 1 and head == math.floor(head) then
  local ids = redis.call('ZRANGE', queue, head - 1, head - 1)
  if ids[1] then nextRec = get(K('request', ids[1])) end
end
return { rec, v[1], v[2], nextRec }`,

  /** KEYS[1] request. ARGV: requestId, offlineSince (JSON). */
  setRequestOffline: `return markOffline(ARGV[4], ARGV[5])`,

  /** KEYS[1] offline-requests (ordered by sequence number, so in queue order). */
  listOfflineRequests: `return recordsOf('request', redis.call('ZRANGE', KEYS[1], 0, -1))`,

  /** KEYS[1] request-holds. ARGV: requestId, connectionId. Only a waiting request is held; it is online from now. */
  holdRequest: `
local id, connectionId = ARGV[4], ARGV[5]
if not redis.call('ZSCORE', K('queue'), id) then return 0 end
sadd(KEYS[1], connectionId)
sadd(K('node-holds', nodeOf(connectionId)), id .. '\\n' .. connectionId)
markOffline(id, 'null')
return 1`,

  /**
   * KEYS[1] request-holds. ARGV: requestId, connectionId, now (JSON). Returns the holds left; the
   * release that removed the last one marks the request offline since now.
   */
  releaseRequest: `
local id, connectionId = ARGV[4], ARGV[5]
local removed = redis.call('SREM', KEYS[1], connectionId)
redis.call('SREM', K('node-holds', nodeOf(connectionId)), id .. '\\n' .. connectionId)
local left = redis.call('SCARD', KEYS[1])
if removed == 1 and left == 0 then markOffline(id, ARGV[6]) end
return left`,

  /** KEYS[1] session. ARGV: the session record, the participant count, each participant record. */
  createSession: `
local old = get(KEYS[1])
if old then unindexSession(old) end
local session, i = argRecord(4)
put(KEYS[1], session, RECORD_TTL, not old)
indexSession(session)
local n = tonumber(ARGV[i])
i = i + 1
for _ = 1, n do
  local p
  p, i = argRecord(i)
  putParticipant(p)
end
return 1`,

  /** KEYS[1] session. ARGV: field name, value (JSON). Sets one field and re-indexes (setOfflineSince, setLobby). */
  setSessionField: `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[4], ARGV[5])
redis.call('PEXPIRE', KEYS[1], RECORD_TTL)
indexSession(get(KEYS[1]))
return 1`,

  /** KEYS[1] session. ARGV: endedAt (JSON), endReason (JSON). */
  endSession: `
local rec = get(KEYS[1])
if not rec or field(rec, 'state') ~= '"active"' then return false end
unindexSession(rec)
redis.call('HSET', KEYS[1], 'state', '"ended"', 'endedAt', ARGV[4], 'endReason', ARGV[5])
redis.call('PEXPIRE', KEYS[1], RECORD_TTL)
rec = get(KEYS[1])
indexSession(rec)
return rec`,

  /** KEYS[1] a set of session ids (active, in grace, an agent's). */
  listSessions: `return setRecords(KEYS[1], 'session')`,

  /** KEYS[1] ended-sessions. ARGV: the cut-off (exclusive). Returns how many were purged. */
  purgeEndedSessions: `
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[4])
for _, id in ipairs(ids) do
  redis.call('DEL', K('session', id))
  local participants = K('session-participants', id)
  for _, pid in ipairs(redis.call('SMEMBERS', participants)) do redis.call('DEL', K('participant', pid)) end
  redis.call('DEL', participants)
  local credentials = K('session-credentials', id)
  for _, hash in ipairs(redis.call('SMEMBERS', credentials)) do redis.call('DEL', K('credential', hash)) end
  redis.call('DEL', credentials)
  redis.call('ZREM', KEYS[1], id)
end
return #ids`,

  /** KEYS[1] participant. ARGV: the record. */
  putParticipant: `
putParticipant(argRecord(4))
return 1`,

  /** KEYS[1] session-participants. */
  listParticipants: `return setRecords(KEYS[1], 'participant')`,

  /** KEYS[1] participant. ARGV: key, max. */
  addParticipantKey: `
if redis.call('EXISTS', KEYS[1]) == 0 then return 'not_found' end
local json = redis.call('HGET', KEYS[1], 'keys')
local keys = {}
if json and json ~= 'null' then keys = cjson.decode(json) end
for _, k in ipairs(keys) do
  if k == ARGV[4] then return 'known' end
end
if #keys >= num(ARGV[5]) then return 'full' end
keys[#keys + 1] = ARGV[4]
redis.call('HSET', KEYS[1], 'keys', cjson.encode(keys))
redis.call('PEXPIRE', KEYS[1], RECORD_TTL)
keep(K('session-participants', str(redis.call('HGET', KEYS[1], 'sessionId'))), RECORD_TTL)
return 'added'`,

  /** KEYS[1] participant. ARGV: state (JSON), from (JSON, or '' for any). */
  setParticipantState: `
local state = redis.call('HGET', KEYS[1], 'state')
if not state or (ARGV[5] ~= '' and state ~= ARGV[5]) then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[4])
redis.call('PEXPIRE', KEYS[1], RECORD_TTL)
keep(K('session-participants', str(redis.call('HGET', KEYS[1], 'sessionId'))), RECORD_TTL)
return 1`,

  /** KEYS[1] credential. ARGV: hash, the record. */
  putCredential: `
putCredential(ARGV[4], argRecord(5))
return 1`,

  /** KEYS[1] session-credentials. ARGV: reason (JSON), participantId (JSON, or '' for all). */
  revokeCredentials: `
local n = 0
for _, hash in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local key = K('credential', hash)
  local c = redis.call('HMGET', key, 'revoked', 'participantId')
  if not c[1] then
    redis.call('SREM', KEYS[1], hash)
  elseif c[1] == 'null' and (ARGV[5] == '' or c[2] == ARGV[5]) then
    redis.call('HSET', key, 'revoked', ARGV[4])
    redis.call('PEXPIRE', key, RECORD_TTL)
    n = n + 1
  end
end
if n > 0 then keep(KEYS[1], RECORD_TTL) end
return n`,

  /** KEYS[1] peer. ARGV: peerId, the record. */
  putPeer: `
local id = ARGV[4]
local old = get(KEYS[1])
if old then unindexPeer(id, old) end
local fields = argRecord(5)
put(KEYS[1], fields, RECORD_TTL, not old)
indexPeer(id, fields)
return 1`,

  /** KEYS[1] peer. ARGV: peerId, connectionId (JSON), now (JSON). */
  markPeerAway: `
local id = ARGV[4]
local rec = get(KEYS[1])
if not rec or field(rec, 'connectionId') ~= ARGV[5] then return false end
unindexPeer(id, rec)
redis.call('HSET', KEYS[1], 'connectionId', 'null', 'disconnectedAt', ARGV[6])
redis.call('PEXPIRE', KEYS[1], RECORD_TTL)
rec = get(KEYS[1])
indexPeer(id, rec)
return rec`,

  /** KEYS[1] peer. ARGV: peerId, and disconnectedAt to delete only a peer away since then ('' for any). */
  deletePeer: `
local id = ARGV[4]
local rec = get(KEYS[1])
if not rec then return false end
if ARGV[5] ~= '' and (field(rec, 'connectionId') ~= 'null' or tonumber(field(rec, 'disconnectedAt')) ~= num(ARGV[5])) then
  return false
end
unindexPeer(id, rec)
redis.call('DEL', KEYS[1])
return rec`,

  /** KEYS[1] a set of peer ids (a session's, a node's, the away ones). */
  listPeers: `return setRecords(KEYS[1], 'peer')`,

  /** KEYS[1] node-leases. ARGV: now (the range's upper bound). The nodes move to node-reaping. */
  takeExpiredNodes: `
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[4])
for _, id in ipairs(ids) do
  redis.call('ZREM', KEYS[1], id)
  sadd(K('node-reaping'), id)
end
return ids`,

  /** KEYS[1] turn. ARGV: owner, now, until, lifetime ms. */
  takeTurn: `
local turn = redis.call('HMGET', KEYS[1], 'owner', 'until')
if turn[1] and turn[1] ~= ARGV[4] and (num(turn[2]) or -math.huge) > num(ARGV[5]) then return 0 end
redis.call('HSET', KEYS[1], 'owner', ARGV[4], 'until', ARGV[6])
redis.call('PEXPIRE', KEYS[1], ARGV[7])
return 1`,

  /** KEYS[1] agent-token. ARGV: now. An expired token is deleted. */
  getAgentToken: `
local rec = get(KEYS[1])
if not rec then return false end
local expiresAt = tonumber(field(rec, 'expiresAt'))
if not expiresAt or expiresAt <= num(ARGV[4]) then
  redis.call('DEL', KEYS[1])
  return false
end
return rec`,
} as const;

type ScriptName = keyof typeof SCRIPTS;
type Arg = string | number;
type ScriptCommand = (key: string, ...args: Arg[]) => Promise<unknown>;

/** Command names on the client; prefixed so they cannot clash with Redis commands or other scripts. */
const commandName = (name: ScriptName) => `joinUs_${name}`;

/** Clients the scripts are defined on (once per client, however many stores share it). */
const clientsWithScripts = new WeakSet<Redis>();

function defineScripts(redis: Redis): void {
  if (clientsWithScripts.has(redis)) return;
  for (const [name, body] of Object.entries(SCRIPTS) as [ScriptName, string][]) {
    redis.defineCommand(commandName(name), { numberOfKeys: 1, lua: LUA_LIB + body });
  }
  clientsWithScripts.add(redis);
}

// ------------------------------------------------------------------ encoding

type KeyKind =
  | 'handle'
  | 'session-handles'
  | 'handle-expiries'
  | 'queue'
  | 'request'
  | 'request-by-token'
  | 'offline-requests'
  | 'request-holds'
  | 'node-holds'
  | 'session'
  | 'active-sessions'
  | 'agent-sessions'
  | 'grace-sessions'
  | 'ended-sessions'
  | 'participant'
  | 'session-participants'
  | 'credential'
  | 'session-credentials'
  | 'peer'
  | 'session-peers'
  | 'away-peers'
  | 'node-peers'
  | 'node-leases'
  | 'node-reaping'
  | 'turn'
  | 'agent-token';

/** A record for a script's ARGV: its field count, then each defined property and its JSON text. */
function recordArgs(record: object): string[] {
  const pairs = Object.entries(record)
    .filter(([, value]) => value !== undefined)
    .flatMap(([name, value]) => [name, JSON.stringify(value)]);
  return [String(pairs.length / 2), ...pairs];
}

/** A record from HGETALL, flat (from a script) or as an object (from the command); null when empty. */
function decode<T>(raw: unknown): T | null {
  const entries: [string, string][] = [];
  if (Array.isArray(raw)) {
    for (let i = 0; i + 1 < raw.length; i += 2) entries.push([String(raw[i]), String(raw[i + 1])]);
  } else if (raw && typeof raw === 'object') {
    for (const [name, value] of Object.entries(raw)) entries.push([name, String(value)]);
  }
  if (entries.length === 0) return null;
  return Object.fromEntries(entries.map(([name, json]) => [name, JSON.parse(json) as unknown])) as T;
}

function decodeAll<T>(raw: unknown): T[] {
  if (!Array.isArray(raw)) return [];
  return raw.map((r) => decode<T>(r)).filter((r): r is T => r !== null);
}

/** A time or bound for a script (Lua's `num`, and ZRANGEBYSCORE, take '+inf' and '-inf'). */
function time(t: number): string {
  if (t === Number.POSITIVE_INFINITY) return '+inf';
  if (t === Number.NEGATIVE_INFINITY) return '-inf';
  return String(t);
}

/** A sorted-set score; a NaN expiry sorts last (and is never taken), as in the memory store. */
const score = (t: number): string => (Number.isNaN(t) ? '+inf' : time(t));

const asNumber = (x: unknown): number => Number(x);

/** A session's handles as listSessionHandles lists them: live at `nowMs`, oldest first. */
const liveHandles = (all: HandleReservation[], nowMs: number): HandleReservation[] =>
  all.filter((h) => h.expiresAt > nowMs).sort((a, b) => a.reservedAt - b.reservedAt);

// ------------------------------------------------------------------ errors

/** Error codes of a socket that could not connect or was cut. */
const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTCONN']);
/** ioredis's messages when there is no usable connection (or a command had no answer in time). */
const CONNECTION_MESSAGES = ["Stream isn't writeable", 'Connection is closed', 'Command timed out', 'Command aborted due to connection close'];
/** Replies of a server that is up but cannot serve now (loading, a script running long, a failover). */
const UNAVAILABLE_REPLY = /^(LOADING|BUSY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|READONLY|OOM)\b/;

/** True when the error says Redis cannot be reached or cannot serve right now. */
export function isRedisUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err.name === 'MaxRetriesPerRequestError' || err.name === 'AbortError') return true;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && CONNECTION_CODES.has(code)) return true;
  if (CONNECTION_MESSAGES.some((m) => err.message.includes(m))) return true;
  return UNAVAILABLE_REPLY.test(err.message);
}

// ------------------------------------------------------------------ the store

export class RedisStore implements Store {
  /** `jus:{<prefix>}:`, the start of every key of this store. */
  readonly keyPrefix: string;
  private readonly recordTtlMs: number;
  private readonly counterTtlMs: number;

  constructor(
    private readonly redis: Redis,
    opts: RedisStoreOptions,
  ) {
    if (!opts.prefix || /[{}]/.test(opts.prefix)) throw new Error(`RedisStore: the prefix must be non-empty, without { or }: ${JSON.stringify(opts.prefix)}`);
    // The scripts build keys from the base themselves; a client-side keyPrefix would apply to some only.
    if (redis.options.keyPrefix) throw new Error('RedisStore: use the prefix option, not a client with keyPrefix.');
    this.keyPrefix = `jus:{${opts.prefix}}:`;
    this.recordTtlMs = opts.recordTtlMs ?? 24 * 60 * MINUTE_MS;
    this.counterTtlMs = opts.counterTtlMs ?? 90 * 24 * 60 * MINUTE_MS;
    defineScripts(redis);
  }

  // ---------------------------------------------------------------- handles

  async reserveHandle(r: HandleReservation, nowMs: number): Promise<boolean> {
    const lifetimeMs = this.backstop(r.expiresAt - nowMs);
    const ok = await this.script('reserveHandle', this.key('handle', r.handle), time(nowMs), lifetimeMs, r.handle, r.sessionId, score(r.expiresAt), ...recordArgs(r));
    return ok === 1;
  }

  async getHandle(handle: string, nowMs: number): Promise<HandleReservation | null> {
    const held = decode<HandleReservation>(await this.run(() => this.redis.hgetall(this.key('handle', handle))));
    return held && held.expiresAt > nowMs ? held : null;
  }

  async consumeHandle(handle: string, nowMs: number): Promise<HandleReservation | null> {
    return decode(await this.script('consumeHandle', this.key('handle', handle), handle, time(nowMs)));
  }

  async reserveSessionHandle(r: HandleReservation, nowMs: number): Promise<SessionHandleReserved> {
    const lifetimeMs = this.backstop(r.expiresAt - nowMs);
    const [outcome, records] = (await this.script(
      'reserveSessionHandle',
      this.key('handle', r.handle),
      JSON.stringify(r.reservedBy),
      time(nowMs),
      lifetimeMs,
      r.handle,
      r.sessionId,
      score(r.expiresAt),
      ...recordArgs(r),
    )) as [string, unknown];
    if (outcome !== 'reserved') return { reserved: false, because: outcome as 'not_your_session' | 'session_ended' | 'in_use' };
    return { reserved: true, handles: liveHandles(decodeAll(records), nowMs) };
  }

  async consumeSessionHandle(handle: string, nowMs: number, guest?: HandleGuest): Promise<SessionHandleConsumed | null> {
    const guestArgs = guest ? [JSON.stringify(guest.participantId), JSON.stringify(guest.name), guest.credentialHash] : [];
    const got = (await this.script('consumeSessionHandle', this.key('handle', handle), handle, time(nowMs), ...guestArgs)) as unknown[] | null;
    const reservation = got && decode<HandleReservation>(got[0]);
    if (!got || !reservation) return null;
    const session = decode<SessionRecord>(got[1]);
    const consumed: SessionHandleConsumed = { reservation, session, handles: liveHandles(decodeAll(got[2]), nowMs) };
    // The script wrote the guest (with the state it answers) exactly as guestRecords makes it.
    if (guest && session && typeof got[3] === 'string') {
      consumed.guest = { ...guestRecords(guest, session, nowMs).participant, state: JSON.parse(got[3]) as ParticipantRecord['state'] };
    }
    return consumed;
  }

  async releaseHandle(handle: string, sessionId: string): Promise<HandleReservation | null> {
    return decode(await this.script('releaseHandle', this.key('handle', handle), handle, JSON.stringify(sessionId)));
  }

  async listSessionHandles(sessionId: string, nowMs: number): Promise<HandleReservation[]> {
    return liveHandles(decodeAll(await this.script('listSessionHandles', this.key('session-handles', sessionId))), nowMs);
  }

  async takeExpiredHandles(nowMs: number): Promise<HandleReservation[]> {
    return decodeAll(await this.script('takeExpiredHandles', this.key('handle-expiries'), time(nowMs)));
  }

  // ---------------------------------------------------------------- queue

  async enqueue(r: QueueRequest): Promise<QueueVersion> {
    const [version, count] = (await this.script('enqueue', this.key('queue'), r.requestId, r.tokenHash, ...recordArgs(r))) as unknown[];
    return { version: asNumber(version), count: asNumber(count) };
  }

  async findRequestByTokenHash(tokenHash: string): Promise<QueueRequest | null> {
    return decode(await this.script('findRequestByTokenHash', this.key('request-by-token', tokenHash)));
  }

  async listQueue(): Promise<QueueRequest[]> {
    return decodeAll(await this.script('listQueue', this.key('queue')));
  }

  async queueWindow(limit: number): Promise<QueueVersion & { requests: QueueRequest[] }> {
    // As Array.prototype.slice(0, limit) takes it: whole requests, none for 0 or less, all for Infinity.
    const n = limit === Number.POSITIVE_INFINITY ? -1 : limit > 0 ? Math.floor(limit) : 0;
    const [version, count, requests] = (await this.script('queueWindow', this.key('queue'), n)) as unknown[];
    return { version: asNumber(version), count: asNumber(count), requests: decodeAll(requests) };
  }

  async queuePosition(requestId: string): Promise<{ position: number; version: number } | null> {
    const got = (await this.script('queuePosition', this.key('queue'), requestId)) as unknown[] | null;
    return got ? { position: asNumber(got[0]), version: asNumber(got[1]) } : null;
  }

  async queueOrder(): Promise<{ version: number; requestIds: string[] }> {
    const [version, ids] = (await this.script('queueOrder', this.key('queue'))) as unknown[];
    return { version: asNumber(version), requestIds: (ids as unknown[]).map(String) };
  }

  async claimRequest(requestId: string, head = 0): Promise<(QueueVersion & { request: QueueRequest; next: QueueRequest | null }) | null> {
    const got = (await this.script('claimRequest', this.key('queue'), requestId, head)) as unknown[] | null;
    if (!got) return null;
    const request = decode<QueueRequest>(got[0]);
    if (!request) return null;
    return { request, version: asNumber(got[1]), count: asNumber(got[2]), next: decode<QueueRequest>(got[3]) };
  }

  async setRequestOffline(requestId: string, offlineSince: number | null): Promise<void> {
    await this.script('setRequestOffline', this.key('request', requestId), requestId, JSON.stringify(offlineSince));
  }

  /** In queue order. */
  async listOfflineRequests(): Promise<QueueRequest[]> {
    return decodeAll(await this.script('listOfflineRequests', this.key('offline-requests')));
  }

  async holdRequest(requestId: string, connectionId: string): Promise<void> {
    await this.script('holdRequest', this.key('request-holds', requestId), requestId, connectionId);
  }

  async releaseRequest(requestId: string, connectionId: string, nowMs: number): Promise<number> {
    return asNumber(await this.script('releaseRequest', this.key('request-holds', requestId), requestId, connectionId, JSON.stringify(nowMs)));
  }

  async listNodeRequestHolds(nodeId: string): Promise<{ requestId: string; connectionId: string }[]> {
    const holds = await this.run(() => this.redis.smembers(this.key('node-holds', nodeId)));
    return holds.map((hold) => {
      const cut = hold.indexOf('\n');
      return { requestId: hold.slice(0, cut), connectionId: hold.slice(cut + 1) };
    });
  }

  // ---------------------------------------------------------------- sessions

  async createSession(s: SessionRecord, participants: ParticipantRecord[]): Promise<void> {
    await this.script('createSession', this.key('session', s.sessionId), ...recordArgs(s), participants.length, ...participants.flatMap(recordArgs));
  }

  async getSession(sessionId: string): Promise<SessionRecord | null> {
    return decode(await this.run(() => this.redis.hgetall(this.key('session', sessionId))));
  }

  async setOfflineSince(sessionId: string, role: 'agent' | 'customer', since: number | null): Promise<void> {
    const name = role === 'agent' ? 'agentOfflineSince' : 'customerOfflineSince';
    await this.script('setSessionField', this.key('session', sessionId), name, JSON.stringify(since));
  }

  async setLobby(sessionId: string, enabled: boolean): Promise<void> {
    await this.script('setSessionField', this.key('session', sessionId), 'lobby', JSON.stringify(enabled));
  }

  async endSession(sessionId: string, reason: EndReason, nowMs: number): Promise<SessionRecord | null> {
    return decode(await this.script('endSession', this.key('session', sessionId), JSON.stringify(nowMs), JSON.stringify(reason)));
  }

  async listActiveSessions(): Promise<SessionRecord[]> {
    return decodeAll(await this.script('listSessions', this.key('active-sessions')));
  }

  async listSessionsInGrace(): Promise<SessionRecord[]> {
    return decodeAll(await this.script('listSessions', this.key('grace-sessions')));
  }

  async listAgentSessions(agentName: string): Promise<SessionRecord[]> {
    const sessions = decodeAll<SessionRecord>(await this.script('listSessions', this.key('agent-sessions', agentName)));
    return sessions.sort((a, b) => a.startedAt - b.startedAt);
  }

  async purgeEndedSessions(beforeMs: number): Promise<number> {
    return asNumber(await this.script('purgeEndedSessions', this.key('ended-sessions'), time(beforeMs)));
  }

  // ---------------------------------------------------------------- participants

  async putParticipant(p: ParticipantRecord): Promise<void> {
    await this.script('putParticipant', this.key('participant', p.participantId), ...recordArgs(p));
  }

  async getParticipant(participantId: string): Promise<ParticipantRecord | null> {
    return decode(await this.run(() => this.redis.hgetall(this.key('participant', participantId))));
  }

  async listParticipants(sessionId: string): Promise<ParticipantRecord[]> {
    const all = decodeAll<ParticipantRecord>(await this.script('listParticipants', this.key('session-participants', sessionId)));
    return all.sort((a, b) => a.joinedAt - b.joinedAt);
  }

  async addParticipantKey(participantId: string, key: string, max: number): Promise<'added' | 'known' | 'full' | 'not_found'> {
    return (await this.script('addParticipantKey', this.key('participant', participantId), key, time(max))) as 'added' | 'known' | 'full' | 'not_found';
  }

  async setParticipantState(participantId: string, state: ParticipantRecord['state'], from?: ParticipantRecord['state']): Promise<boolean> {
    const fromJson = from === undefined ? '' : JSON.stringify(from);
    return (await this.script('setParticipantState', this.key('participant', participantId), JSON.stringify(state), fromJson)) === 1;
  }

  // ---------------------------------------------------------------- credentials

  async putCredential(hash: string, c: CredentialRecord): Promise<void> {
    await this.script('putCredential', this.key('credential', hash), hash, ...recordArgs(c));
  }

  async getCredential(hash: string): Promise<CredentialRecord | null> {
    return decode(await this.run(() => this.redis.hgetall(this.key('credential', hash))));
  }

  async revokeCredentials(filter: { sessionId: string; participantId?: string }, because: RevokedBecause): Promise<number> {
    // As in the memory store, an empty participant id filters nothing.
    const participant = filter.participantId ? JSON.stringify(filter.participantId) : '';
    return asNumber(await this.script('revokeCredentials', this.key('session-credentials', filter.sessionId), JSON.stringify(because), participant));
  }

  // ---------------------------------------------------------------- peers

  async putPeer(p: PeerRecord): Promise<void> {
    await this.script('putPeer', this.key('peer', p.peerId), p.peerId, ...recordArgs(p));
  }

  async getPeer(peerId: string): Promise<PeerRecord | null> {
    return decode(await this.run(() => this.redis.hgetall(this.key('peer', peerId))));
  }

  async markPeerAway(peerId: string, connectionId: string, nowMs: number): Promise<PeerRecord | null> {
    return decode(await this.script('markPeerAway', this.key('peer', peerId), peerId, JSON.stringify(connectionId), JSON.stringify(nowMs)));
  }

  async deletePeer(peerId: string): Promise<PeerRecord | null> {
    return decode(await this.script('deletePeer', this.key('peer', peerId), peerId, ''));
  }

  async deletePeerIfAway(peerId: string, disconnectedAt: number): Promise<PeerRecord | null> {
    return decode(await this.script('deletePeer', this.key('peer', peerId), peerId, time(disconnectedAt)));
  }

  async listPeers(sessionId: string): Promise<PeerRecord[]> {
    return decodeAll(await this.script('listPeers', this.key('session-peers', sessionId)));
  }

  async listAwayPeers(): Promise<PeerRecord[]> {
    return decodeAll(await this.script('listPeers', this.key('away-peers')));
  }

  async listNodePeers(nodeId: string): Promise<PeerRecord[]> {
    const peers = decodeAll<PeerRecord>(await this.script('listPeers', this.key('node-peers', nodeId)));
    return peers.filter((p) => p.connectionId && nodeOf(p.connectionId) === nodeId);
  }

  // ---------------------------------------------------------------- nodes and turns

  /**
   * ZADD answers how many members it added: 0 when the node still had a lease. The lease index lives
   * `recordTtlMs`, refreshed by every renewal: without a "now" here, a lease's own duration is
   * unknown, and a running node renews far more often than that.
   */
  async renewNodeLease(nodeId: string, expiresAt: number): Promise<boolean> {
    const leases = this.key('node-leases');
    const [added] = await this.exec(this.redis.multi().zadd(leases, score(expiresAt), nodeId).pexpire(leases, this.recordTtlMs));
    return asNumber(added) === 0;
  }

  async dropNodeLease(nodeId: string): Promise<void> {
    await this.run(() => this.redis.zrem(this.key('node-leases'), nodeId));
  }

  async takeExpiredNodes(nowMs: number): Promise<string[]> {
    return ((await this.script('takeExpiredNodes', this.key('node-leases'), time(nowMs))) as unknown[]).map(String);
  }

  async listReapingNodes(): Promise<string[]> {
    return (await this.run(() => this.redis.smembers(this.key('node-reaping')))).map(String);
  }

  async finishReaping(nodeId: string): Promise<void> {
    await this.run(() => this.redis.srem(this.key('node-reaping'), nodeId));
  }

  async takeTurn(name: string, owner: string, nowMs: number, forMs: number): Promise<boolean> {
    const taken = await this.script('takeTurn', this.key('turn', name), owner, time(nowMs), time(nowMs + forMs), this.backstop(forMs));
    return taken === 1;
  }

  // ---------------------------------------------------------------- agent tokens

  async putAgentToken(hash: string, t: AgentTokenRecord): Promise<void> {
    const key = this.key('agent-token', hash);
    const fields = recordArgs(t).slice(1);
    await this.exec(this.redis.multi().del(key).hset(key, ...fields).pexpire(key, this.backstop(t.expiresAt - t.issuedAt)));
  }

  async getAgentToken(hash: string, nowMs: number): Promise<AgentTokenRecord | null> {
    return decode(await this.script('getAgentToken', this.key('agent-token', hash), time(nowMs)));
  }

  async deleteAgentToken(hash: string): Promise<void> {
    await this.run(() => this.redis.del(this.key('agent-token', hash)));
  }

  // ---------------------------------------------------------------- plumbing

  private key(kind: KeyKind, id?: string): string {
    return id === undefined ? `${this.keyPrefix}${kind}` : `${this.keyPrefix}${kind}:${id}`;
  }

  /** A real expiry for something that ends in `durationMs`: that plus the margin (whole ms, > 0). */
  private backstop(durationMs: number): number {
    if (!Number.isFinite(durationMs)) return this.recordTtlMs;
    return Math.max(0, Math.ceil(durationMs)) + BACKSTOP_MARGIN_MS;
  }

  private script(name: ScriptName, key: string, ...args: Arg[]): Promise<unknown> {
    const command = (this.redis as unknown as Record<string, ScriptCommand>)[commandName(name)]!;
    return this.run(() => command.call(this.redis, key, this.keyPrefix, this.recordTtlMs, this.counterTtlMs, ...args));
  }

  /** Runs a MULTI; a command's error inside it fails the whole call. */
  private async exec(multi: ReturnType<Redis['multi']>): Promise<unknown[]> {
    const results = await this.run(() => multi.exec());
    if (!results) throw new Error('RedisStore: a transaction was aborted.');
    return results.map(([err, result]) => {
      if (err) throw isRedisUnavailable(err) ? new StoreUnavailableError(undefined, { cause: err }) : err;
      return result;
    });
  }

  /** Connection trouble becomes StoreUnavailableError; anything else propagates as is. */
  private async run<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (err) {
      if (isRedisUnavailable(err)) throw new StoreUnavailableError(undefined, { cause: err });
      throw err;
    }
  }
}

// ------------------------------------------------------------------ the client

export interface RedisClientOptions extends RedisOptions {
  /**
   * Told of every connection error (each failed reconnection too). Store calls already fail with
   * StoreUnavailableError meanwhile; pass this to log. @default ignore them (ioredis would print each)
   */
  onError?: (error: Error) => void;
}

/**
 * An ioredis client for a server process. While Redis is down, commands fail at once (no offline
 * queue) instead of piling up, and a command in flight when the connection drops fails too instead of
 * being sent again after the reconnection (a script must not run twice behind the caller's back: a
 * consumed handle would read as unknown). It reconnects for ever, backing off to 2 s.
 *
 * Auto-pipelining (issue 11): the commands of one event-loop turn, from every request in progress,
 * go out as one pipeline, one write and one read instead of one of each per command. Each command
 * keeps its own answer and error, and its atomicity (a script is still one command); a pipeline waits
 * for the one in flight, and fails at once like any command when the connection is gone
 * (store-contract-redis.test.ts). MULTI and the commands ioredis never pipelines go out directly.
 */
export function createRedisClient(url: string, opts: RedisClientOptions = {}): Redis {
  const { onError, ...options } = opts;
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    // Reconnection attempts a pending command waits through: none, so it fails when the connection does.
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    retryStrategy: (attempt) => Math.min(attempt * 100, 2_000),
    connectTimeout: 5_000,
    // A command with no answer (Redis frozen, a connection silently gone) fails instead of waiting.
    commandTimeout: 5_000,
    enableAutoPipelining: true,
    ...options,
  });
  redis.on('error', onError ?? (() => {}));
  return redis;
}

/** Resolves once the client is ready (connecting a lazy one); rejects after `timeoutMs` or if it ends. */
export function redisReady(redis: Redis, timeoutMs = 10_000): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  if (redis.status === 'end') return Promise.reject(new StoreUnavailableError('The Redis connection was closed for good.'));
  return new Promise((resolve, reject) => {
    const done = (err?: Error) => {
      clearTimeout(timer);
      redis.off('ready', onReady);
      redis.off('end', onEnd);
      if (err) reject(err);
      else resolve();
    };
    const onReady = () => done();
    const onEnd = () => done(new StoreUnavailableError('The Redis connection was closed for good.'));
    const timer = setTimeout(() => done(new StoreUnavailableError(`Redis was not ready within ${timeoutMs} ms.`)), timeoutMs);
    redis.on('ready', onReady);
    redis.on('end', onEnd);
    if (redis.status === 'wait') redis.connect().catch(() => {});
  });
}
