package io.machinery.backend.redis;

import io.lettuce.core.ScriptOutputType;
import io.machinery.client.redis.RedisScript;

/**
 * The backend's Lua scripts. They read Go's JSON without re-encoding it: cjson would rewrite
 * numbers (a uint64 result or {@code 0.1} would change digits), so values are located by Go's fixed
 * key order and spliced as raw bytes; cjson only decodes documents of another layout, and only to
 * read strings.
 *
 * <p>The scripts that replace a value (a task's state, a group's meta) write it with a plain {@code
 * SET} and, only when Redis refuses that for memory ({@code OOM}), delete the value and {@code SET}
 * it again, in the same call ({@code replace}). A Redis at its {@code maxmemory} with {@code
 * noeviction} refuses with {@code OOM} a script whose first write is one that may grow memory
 * ({@code SET}), but lets a script that has written go on; a first write that frees memory lets a
 * task's next state replace its last one, and a chord fire, while Redis is full (before the audit,
 * the SUCCESS of a running task and every chord were refused until memory was freed). The delete
 * comes only after a refusal, so the common case costs no {@code DEL} (issue #18: it was about 1 µs
 * of Redis per call); in the script rather than in a second call from Java, so no round trip is
 * added and no later write of the task can overtake the retry. A new key (a task's first state, the
 * chord's winner key when the meta is not replaced) still needs the room Go's {@code SET} needs.
 */
final class BackendScripts {
  private BackendScripts() {}

  /**
   * {@code replace(key, value, seconds)} is {@code SET key value EX seconds}, deleting the key
   * first only when Redis refused the {@code SET} for memory (see the class notes); it returns
   * Redis' error reply, or nil once written. The refusal is found by {@code OOM } anywhere in the
   * error: Redis 7 starts the message with it, Redis 6 and older put the script's position ({@code
   * luaPushError}) before it.
   */
  private static final String REPLACE =
      """
      local function replace(key, value, seconds)
        local r = redis.pcall('SET', key, value, 'EX', seconds)
        if type(r) ~= 'table' or not r.err then return nil end
        if not string.find(r.err, 'OOM ', 1, true) or redis.call('EXISTS', key) == 0 then return r end
        redis.call('DEL', key)
        redis.call('SET', key, value, 'EX', seconds)
        return nil
      end
      """;

  /**
   * Shared Lua helpers. {@code field(doc, key, last)} returns the raw JSON string token (with
   * quotes) of {@code "key":"..."}, the first occurrence (or the last, looked for near the end
   * first), or nil. In Go's layout a key followed by {@code ":"} cannot occur inside a string value
   * (quotes there are escaped), and TaskName/State precede Results while CreatedAt follows them, so
   * first/last occurrence is the top-level field. {@code read(doc, key)} does the same for other
   * layouts through cjson, matching keys case-insensitively as Go does. {@code stored(key)} is
   * {@code GET key}, nil for a key of another type (Go's merge ignores a state it cannot read, and
   * its {@code SET} replaces the key whatever its type). {@code validTime(token)} says whether a
   * raw JSON string is a time Go and Java decode (RFC 3339 with seconds, at most nine fraction
   * digits, {@code Z} or an offset within java.time's ±18:00, a day its month has), so that a state
   * is never stored with a CreatedAt that makes it unreadable; the same rules as {@code
   * StateTemplate.isTime}. It runs for every final state, so it reads bytes and numbers: one
   * anchored {@code string.find} without captures and one {@code string.byte} (the first version,
   * six captures, {@code tonumber} and a table per call, was most of the 4 µs the audit added to
   * the merge script, issue #18).
   */
  private static final String HELPERS =
      REPLACE
          + """
      local function token(doc, e)
        local v = string.match(doc, '^"[^"\\\\]*"', e + 1)
        if v then return v end
        if string.sub(doc, e + 1, e + 1) ~= '"' then return nil end
        local i = e + 2
        while true do
          local c = string.byte(doc, i)
          if c == nil then return nil end
          if c == 92 then i = i + 2
          elseif c == 34 then return string.sub(doc, e + 1, i)
          else i = i + 1 end
        end
      end
      local function field(doc, key, last)
        local pat = '"' .. key .. '":'
        local s, e
        if last then
          local from = #doc - 128
          if from > 1 then s, e = string.find(doc, pat, from, true) end
          if not s then s, e = string.find(doc, pat, 1, true) end
          if not s then return nil end
          while true do
            local s2, e2 = string.find(doc, pat, e + 1, true)
            if not s2 then break end
            e = e2
          end
        else
          s, e = string.find(doc, pat, 1, true)
          if not s then return nil end
        end
        return token(doc, e)
      end
      local function goLayout(doc)
        return string.sub(doc, 1, 12) == '{"TaskUUID":'
      end
      local function read(doc, key)
        local ok, t = pcall(cjson.decode, doc)
        if not ok or type(t) ~= 'table' then return nil, false end
        local wanted = string.lower(key)
        for k, v in pairs(t) do
          if type(k) == 'string' and string.lower(k) == wanted then
            if type(v) == 'string' then return cjson.encode(v), true end
            return nil, true
          end
        end
        return nil, true
      end
      local function stored(key)
        local doc = redis.pcall('GET', key)
        if type(doc) == 'table' then return nil end
        return doc
      end
      local function validTime(tok)
        local n = #tok
        if n < 22 or n > 37 or not string.find(tok, '^"%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d') then
          return false
        end
        local y1, y2, y3, y4, _, m1, m2, _, d1, d2, _, h1, h2, _, i1, _, _, s1, _, z =
          string.byte(tok, 2, 21)
        -- two digits' value is a * 10 + b - 528 (528 = 11 * '0')
        local mo, d = m1 * 10 + m2 - 528, d1 * 10 + d2 - 528
        if mo < 1 or mo > 12 or d < 1 or h1 * 10 + h2 - 528 > 23 or i1 > 53 or s1 > 53 then
          return false
        end
        if d > 28 then
          local y = y1 * 1000 + y2 * 100 + y3 * 10 + y4 - 53328
          local last = 30 + (mo + math.floor(mo / 8)) % 2
          if mo == 2 then last = (y % 4 == 0 and (y % 100 ~= 0 or y % 400 == 0)) and 29 or 28 end
          if d > last then return false end
        end
        local at = 21
        if z == 46 then
          local s, e = string.find(tok, '^%d+', 22)
          if not s or e - s > 8 then return false end
          at = e + 1
        end
        if at == n - 1 then return string.byte(tok, at) == 90 end
        if at ~= n - 6 or not string.find(tok, '^[+-]%d%d:[0-5]%d"', at) then return false end
        local o1, o2, _, p1, p2 = string.byte(tok, at + 1, at + 5)
        local oh = o1 * 10 + o2 - 528
        return oh < 18 or oh == 18 and p1 == 48 and p2 == 48
      end
      local function state(doc)
        if goLayout(doc) then
          local s = field(doc, 'State', false)
          if s then return s end
        end
        return (read(doc, 'State'))
      end
      """;

  /**
   * An early state (RECEIVED, STARTED) that never replaces a stored SUCCESS: {@code SET KEYS[1]
   * ARGV[1] EX ARGV[2]} unless the stored state is SUCCESS (then 0). In one script, so that a
   * worker resumed after a pause, whose write chain read the state before the pause, cannot write
   * STARTED over the SUCCESS another worker stored meanwhile (see {@link WriteChain}). Frees first
   * when Redis is full (see the class notes).
   */
  static final RedisScript EARLY_STATE =
      RedisScript.of(
          "early-state",
          HELPERS
              + """
      local old = stored(KEYS[1])
      if old and state(old) == '"SUCCESS"' then return 0 end
      local refused = replace(KEYS[1], ARGV[1], ARGV[2])
      if refused then return refused end
      return 1
      """,
          ScriptOutputType.INTEGER);

  /**
   * Writes a state carrying TaskName and CreatedAt forward from the stored one (Go's
   * mergeNewTaskState, in one round trip): {@code SET KEYS[1]
   * ARGV[1]..name..ARGV[2]..createdAt..ARGV[3] EX ARGV[4]}, where name and createdAt are the stored
   * state's raw JSON strings, or Go's zero values when there is none or Go could not read it (a key
   * of another type, which the SET replaces as Go's does; not JSON; a CreatedAt that is not a time,
   * which would make the new state unreadable too). With KEYS[2] (a group key, single server only)
   * also {@code EXPIRE KEYS[2] ARGV[4]}. Frees first when Redis is full (see the class notes).
   */
  static final RedisScript MERGE_STATE =
      RedisScript.of(
          "merge-state",
          HELPERS
              + """
      local name, created = '""', '"0001-01-01T00:00:00Z"'
      local old = stored(KEYS[1])
      if old then
        local n, c
        if goLayout(old) then
          n = field(old, 'TaskName', false)
          c = field(old, 'CreatedAt', true)
        end
        if n == nil or c == nil then
          local decoded
          n, decoded = read(old, 'TaskName')
          if decoded then c = read(old, 'CreatedAt') else n, c = nil, nil end
        end
        if c ~= nil and not validTime(c) then n, c = nil, nil end
        name = n or name
        created = c or created
      end
      local refused = replace(KEYS[1], ARGV[1] .. name .. ARGV[2] .. created .. ARGV[3], ARGV[4])
      if refused then return refused end
      if KEYS[2] then redis.call('EXPIRE', KEYS[2], ARGV[4]) end
      return 1
      """,
          ScriptOutputType.INTEGER);

  private static final String GROUP_UUIDS =
      """
      local meta = redis.call('GET', KEYS[1])
      if not meta then return redis.error_reply('machinery: Group not found: ' .. KEYS[1]) end
      local ok, m = pcall(cjson.decode, meta)
      if not ok or type(m) ~= 'table' then return redis.error_reply('machinery: group meta ' .. KEYS[1] .. ' is not JSON') end
      local uuids = nil
      for k, v in pairs(m) do
        if type(k) == 'string' and string.lower(k) == 'taskuuids' then uuids = v end
      end
      if type(uuids) ~= 'table' then uuids = {} end
      """;

  /**
   * How many of the group's tasks are SUCCESS or FAILURE (Go's GroupCompleted: GET meta, MGET
   * states) in one round trip, returning a count instead of the states. KEYS: the group key. Single
   * server only (the task keys are read from the meta). Errors when the meta or a state is missing,
   * as Go does.
   */
  static final RedisScript GROUP_COMPLETED =
      RedisScript.of(
          "group-completed",
          HELPERS
              + GROUP_UUIDS
              + """
      local done = 0
      for i = 1, #uuids, 500 do
        local chunk = {}
        for j = i, math.min(i + 499, #uuids) do chunk[#chunk + 1] = tostring(uuids[j]) end
        local states = redis.call('MGET', unpack(chunk))
        for j = 1, #chunk do
          local s = states[j]
          if not s then return redis.error_reply('machinery: Task not found: ' .. chunk[j]) end
          local st = state(s)
          if st == '"SUCCESS"' or st == '"FAILURE"' then done = done + 1 end
        end
      end
      return done
      """,
          ScriptOutputType.INTEGER);

  /**
   * Group completion in O(1) per call, amortised (F19), for groups whose pending list {@code
   * {group}:pending} exists (created by a Java {@code initGroup}: every member's UUID, then a
   * marker {@code ""}, so that the list still exists when every member is confirmed). The list
   * holds the members not yet seen completed. Each call reads the state of the member at its head:
   * not SUCCESS/FAILURE, the group is not complete (stop: one GET); completed, the member leaves
   * the list for good ({@code LPOP}) and the next one is looked at. Whoever completed a member (a
   * Java worker, or a Go worker that knows nothing of the list) is irrelevant: states are the
   * truth, the list only remembers which members were already seen completed. So every member is
   * confirmed once per chord, not once per completion. (A list, not a set: a set emptied by
   * removals keeps its large hash table for a while, and drawing a member then scans that table.)
   * KEYS: the group key (meta), the pending list. ARGV: expiry seconds (refreshed, like the
   * meta's), the most members to confirm in this call (so that a group mostly completed by Go
   * workers never blocks Redis for long). Returns 1 complete, 0 not yet, 2 not known yet (the bound
   * was reached: call again), -1 no pending list (a group from a Go client, or one that expired:
   * count with {@link #GROUP_COMPLETED}). Errors when the meta or a state is missing, as Go does; a
   * member's key of another type is a missing state ("Task not found: uuid"), as in Go's and {@link
   * #GROUP_COMPLETED}'s {@code MGET}, which finds no string there (before, the script failed with a
   * raw {@code WRONGTYPE}).
   */
  static final RedisScript GROUP_PENDING =
      RedisScript.of(
          "group-pending",
          HELPERS
              + """
      if redis.call('EXISTS', KEYS[1]) == 0 then return redis.error_reply('machinery: Group not found: ' .. KEYS[1]) end
      if redis.call('EXISTS', KEYS[2]) == 0 then return -1 end
      redis.call('EXPIRE', KEYS[2], ARGV[1])
      for confirmed = 0, tonumber(ARGV[2]) do
        local m = redis.call('LINDEX', KEYS[2], 0)
        if not m or m == '' then return 1 end
        local s = stored(m)
        if not s then return redis.error_reply('machinery: Task not found: ' .. m) end
        local st = state(s)
        if st ~= '"SUCCESS"' and st ~= '"FAILURE"' then return 0 end
        redis.call('LPOP', KEYS[2])
      end
      return 2
      """,
          ScriptOutputType.INTEGER);

  /**
   * The raw states of the group's tasks in the meta's order (Go's GroupTaskStates) in one round
   * trip. KEYS: the group key. Single server only. Errors when the meta or a state is missing.
   */
  static final RedisScript GROUP_STATES =
      RedisScript.of(
          "group-states",
          GROUP_UUIDS
              + """
      local out = {}
      for i = 1, #uuids, 500 do
        local chunk = {}
        for j = i, math.min(i + 499, #uuids) do chunk[#chunk + 1] = tostring(uuids[j]) end
        local states = redis.call('MGET', unpack(chunk))
        for j = 1, #chunk do
          if not states[j] then return redis.error_reply('machinery: Task not found: ' .. chunk[j]) end
          out[#out + 1] = states[j]
        end
      end
      return out
      """,
          ScriptOutputType.MULTI);

  /**
   * Claims a uniqueness key: SET NX PX, or the holder when that fails, atomically. KEYS: the key.
   * ARGV: the claiming task's UUID, the ttl in ms. Returns nil when claimed, else the holder's
   * UUID.
   */
  static final RedisScript CLAIM_UNIQUE =
      RedisScript.of(
          "claim-unique",
          """
      if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
        return false
      end
      return redis.call('GET', KEYS[1])
      """,
          ScriptOutputType.VALUE);

  /**
   * Sets a group's {@code ChordTriggered} in one step, beside Go's redsync mutex: while anyone (a
   * Go worker) holds {@code TriggerChordMutex} it does nothing and returns -1 (try again, as
   * redsync would); a missing meta is -2; a group already triggered 0; a meta without Go's {@code
   * "ChordTriggered":false} (another layout) -3, for the caller to read and write it under the
   * mutex; else the flag is flipped in place, every other byte of Go's JSON unchanged and the
   * expiry renewed, and 1. A script runs alone, so Java workers need no mutex among themselves; a
   * Go worker takes the mutex, then reads and writes the meta, so it either finishes before (the
   * script waits for its release) or starts after (and finds the flag set). In Go's layout {@code
   * "ChordTriggered":} cannot occur inside the strings before it (their quotes are escaped). The
   * winning member's UUID goes to the winner key in the same step, and a later call by that member
   * returns 2 instead of 0 (see {@code Backend#triggerChord(String, String)}); a win without a
   * member (Go's {@code triggerChord(group)}) deletes the winner key instead, as {@link
   * #TRIGGER_CHORD_UNDER_MUTEX} does, since one left there (a group UUID used again, a worker that
   * died between two writes before they were one script) names a member that did not win: it would
   * answer WON_BEFORE to this win and could release it. Frees the meta first when Redis is full
   * (see the class notes). KEYS: the mutex, the group meta, the winner key. ARGV: the expiry in
   * seconds, the member's UUID.
   */
  static final RedisScript TRIGGER_CHORD =
      RedisScript.of(
          "trigger-chord",
          REPLACE
              + """
      if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
      local meta = redis.call('GET', KEYS[2])
      if not meta then return -2 end
      local s, e = string.find(meta, '"ChordTriggered":', 1, true)
      if not s then return -3 end
      if string.sub(meta, e + 1, e + 4) == 'true' then
        if ARGV[2] ~= '' and redis.call('GET', KEYS[3]) == ARGV[2] then return 2 end
        return 0
      end
      if string.sub(meta, e + 1, e + 5) ~= 'false' then return -3 end
      local refused = replace(KEYS[2], string.sub(meta, 1, e) .. 'true' .. string.sub(meta, e + 6),
        ARGV[1])
      if refused then return refused end
      if ARGV[2] == '' then
        redis.call('DEL', KEYS[3])
      else
        redis.call('SET', KEYS[3], ARGV[2], 'EX', ARGV[1])
      end
      return 1
      """,
          ScriptOutputType.INTEGER);

  /**
   * The write of a chord trigger under Go's mutex ({@code RedisBackend#triggerUnderMutex}: on a
   * cluster, and for a meta not in Go's layout), in one step: only while the meta is still exactly
   * the bytes read under the mutex (ARGV[3]) it writes ARGV[4], that meta with {@code
   * ChordTriggered} true as Java encoded it, then the winner key: the member's UUID, or, for a
   * trigger without a member, no winner key at all (a stale one names a member that did not win
   * this trigger), both with the group's expiry; 1. A meta that changed since it was read (or is
   * gone) is 0 and nothing is written: the caller reads it again under the mutex. Before this
   * script the winner key and the meta were two commands, and a worker that died between them left
   * a winner key beside a flag still false, so a member named in it later answered WON_BEFORE to
   * another's win and could release a trigger it did not hold.
   *
   * <p>The condition is the exact bytes, not only a false flag: the replacement was encoded from
   * those bytes, so writing it over anything else would undo a change nobody read (a flag set by a
   * Go worker once our mutex expired, a meta written anew), and any write that set the flag changed
   * the bytes. A change that left the flag false costs one more read, never a lost write. The meta
   * goes first ({@code replace}, so it frees first when Redis is full) and the winner key after it:
   * a refused meta leaves both as they were. The meta and the winner key share a slot. KEYS: the
   * group meta, the winner key. ARGV: the expiry in seconds, the member's UUID or empty, the meta
   * read, its replacement.
   */
  static final RedisScript TRIGGER_CHORD_UNDER_MUTEX =
      RedisScript.of(
          "trigger-chord-under-mutex",
          REPLACE
              + """
      if redis.call('GET', KEYS[1]) ~= ARGV[3] then return 0 end
      local refused = replace(KEYS[1], ARGV[4], ARGV[1])
      if refused then return refused end
      if ARGV[2] == '' then
        redis.call('DEL', KEYS[2])
      else
        redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[1])
      end
      return 1
      """,
          ScriptOutputType.INTEGER);

  /**
   * Releases a chord trigger that a member won ({@code Backend#releaseChordTrigger}) in one step:
   * only while the winner key holds that member and the meta's {@code ChordTriggered} is true, it
   * flips the flag back to false in place (every other byte of Go's JSON unchanged, the expiry
   * renewed, as {@link #TRIGGER_CHORD} flips it to true), then deletes the winner key, and returns
   * 1; otherwise it changes nothing and returns 0 (an empty member, another or no winner, a missing
   * meta, a flag already false). A meta without Go's {@code "ChordTriggered":true|false} is -3: the
   * caller decodes it, then calls again with ARGV[3] the meta it read and ARGV[4] its replacement,
   * which is written only while the meta is still exactly ARGV[3] (else -4: read again). The meta
   * and the winner key share a slot, so this runs on a cluster too. It needs no mutex: it only
   * turns a true flag false, while whoever turns it true (Go under its mutex, {@link
   * #TRIGGER_CHORD}, Java under the mutex) writes only after reading it false, so neither can undo
   * the other. The meta goes first: a write refused for memory leaves both as they were. KEYS: the
   * group meta, the winner key. ARGV: the expiry in seconds, the member's UUID[, the meta read, its
   * replacement].
   */
  static final RedisScript RELEASE_CHORD =
      RedisScript.of(
          "release-chord",
          REPLACE
              + """
      if ARGV[2] == '' or redis.call('GET', KEYS[2]) ~= ARGV[2] then return 0 end
      local meta = redis.call('GET', KEYS[1])
      if not meta then return 0 end
      local released
      if ARGV[3] then
        if meta ~= ARGV[3] then return -4 end
        released = ARGV[4]
      else
        local s, e = string.find(meta, '"ChordTriggered":', 1, true)
        if not s then return -3 end
        if string.sub(meta, e + 1, e + 5) == 'false' then return 0 end
        if string.sub(meta, e + 1, e + 4) ~= 'true' then return -3 end
        released = string.sub(meta, 1, e) .. 'false' .. string.sub(meta, e + 5)
      end
      local refused = replace(KEYS[1], released, ARGV[1])
      if refused then return refused end
      redis.call('DEL', KEYS[2])
      return 1
      """,
          ScriptOutputType.INTEGER);

  /**
   * A group's (re-)initialisation ({@code RedisBackend#initGroup}) in one step: Go's {@code SET
   * <group uuid> <GroupMeta JSON> EX <seconds>} ({@code replace}), then the deletion of the group's
   * winner key and, with KEYS[3], of its pending list, which is then written anew: the members and
   * the marker (ARGV[3..], pushed 1,000 at a time, Lua's {@code unpack} having a limit) with the
   * same expiry; 1. As a script it runs alone, so nothing falls between the meta and the winner
   * key: when they were two pipelined commands, a Go worker's win on the fresh meta (Go writes no
   * winner key) could come before the deletion of the last trigger's winner key, and that winner,
   * asking then, took the win for its own ({@code WON_BEFORE}) and could release it.
   *
   * <p>Write order. A script is not a transaction: a call Redis refuses stops it, and the writes
   * before it stay. The meta goes first because it is the write Redis refuses for memory, and
   * refuses only as a script's first write (any write before it, even a {@code DEL} of nothing,
   * lets it through a full Redis): so a new group is refused while Redis is full, as Go's {@code
   * SET} is, with nothing written, and a meta already there is freed first ({@code replace}); the
   * writes after it are never refused for memory. A refusal for another reason (an ACL that lets a
   * worker write the meta and not the rest) can still stop the script after the meta. KEYS: the
   * meta, the winner key[, the pending list] (one slot: both are tagged with the group UUID). ARGV:
   * the expiry in seconds, the meta[, the members, then the marker].
   */
  static final RedisScript INIT_GROUP =
      RedisScript.of(
          "init-group",
          REPLACE
              + """
      local refused = replace(KEYS[1], ARGV[2], ARGV[1])
      if refused then return refused end
      if not KEYS[3] then
        redis.call('DEL', KEYS[2])
        return 1
      end
      redis.call('DEL', KEYS[2], KEYS[3])
      for i = 3, #ARGV, 1000 do
        redis.call('RPUSH', KEYS[3], unpack(ARGV, i, math.min(i + 999, #ARGV)))
      end
      redis.call('EXPIRE', KEYS[3], ARGV[1])
      return 1
      """,
          ScriptOutputType.INTEGER);

  /**
   * redsync's release, byte for byte the script Go Machinery's redsync v4 sends (so both share one
   * cached digest): delete the mutex only if it still holds our value.
   */
  static final RedisScript MUTEX_RELEASE =
      RedisScript.of(
          "redsync-release",
          "\n\tif redis.call(\"GET\", KEYS[1]) == ARGV[1] then\n\t\treturn redis.call(\"DEL\", KEYS[1])\n\telse\n"
              + "\t\treturn 0\n\tend\n",
          ScriptOutputType.INTEGER);
}
