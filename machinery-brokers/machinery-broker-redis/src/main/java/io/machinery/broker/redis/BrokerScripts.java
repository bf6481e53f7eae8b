package io.machinery.broker.redis;

import io.lettuce.core.ScriptOutputType;
import io.machinery.client.redis.RedisScript;

/**
 * The broker's Lua scripts. Each one is a step that must be atomic; all keys a script declares
 * share one cluster slot (a queue and its tagged keys), except {@link #PROMOTE}, which writes to
 * the queue named inside each message and therefore runs only against a single Redis server.
 */
final class BrokerScripts {
  private BrokerScripts() {}

  /**
   * Lua that turns an over-long message ({@code m}) into a bounded dead-letter envelope: the first
   * {@link DeadLetter#PREVIEW_BYTES} bytes (bytes above 127 shown as {@code ?}, so the JSON is
   * always valid), the length and the SHA-1 of the whole. Expects {@code dl} (dead-letter list),
   * {@code dlLimit}, {@code queue}, {@code consumer}, {@code at} and {@code reason} in scope.
   */
  private static final String DEAD_LETTER_PREVIEW =
      """
      redis.call('RPUSH', dl, cjson.encode({reason = reason, queue = queue, consumer = consumer, at = at,
        message = string.gsub(string.sub(m, 1, %d), '[\\128-\\255]', '?'), message_bytes = #m,
        message_sha1 = redis.sha1hex(m)}))
      redis.call('LTRIM', dl, -dlLimit, -1)
      """
          .formatted(DeadLetter.PREVIEW_BYTES);

  /**
   * Lua that refreshes a consumer's lease and registration: {@code renewLease(lease, consumers, id,
   * ms)}. The lease is extended with {@code PEXPIRE} and set only when it has lapsed: a Redis at
   * its {@code maxmemory} (policy {@code noeviction}, the usual one for queues) refuses a script's
   * first write if it may grow memory ({@code SET}, {@code SADD}), but not {@code PEXPIRE}, and
   * allows any write after that one (even after a {@code PEXPIRE} of a missing key). With {@code
   * SET} first every heartbeat failed while Redis was full, the leases of live consumers lapsed and
   * the reapers returned their running tasks to the queue: each ran twice.
   */
  private static final String RENEW_LEASE =
      """
      local function renewLease(lease, consumers, id, ms)
        if redis.call('PEXPIRE', lease, ms) == 0 then redis.call('SET', lease, id, 'PX', ms) end
        redis.call('SADD', consumers, id)
      end
      """;

  /**
   * Lua for priority bands ({@link io.machinery.spi.PriorityBands}), with the queue in KEYS[1] and
   * bands 1-9 in KEYS[7..15]: {@code band(b)} is a band's list, {@code lengths()} every band's
   * length (read once per fetch, then counted down; one EXISTS over the nine bands first, as they
   * are usually all empty: nine LLENs per fetch were a third of the script's calls), {@code
   * choose(take, len)} the band the weighted fetch takes from next (-1: all empty), mirroring
   * {@code PriorityBands.choose}.
   */
  private static final String BANDS =
      """
      local function band(b) if b == 0 then return KEYS[1] end return KEYS[6 + b] end
      local function lengths()
        local len = {[0] = redis.call('LLEN', KEYS[1])}
        local any = redis.call('EXISTS', unpack(KEYS, 7, 15)) > 0
        for b = 1, 9 do len[b] = any and redis.call('LLEN', band(b)) or 0 end
        return len
      end
      local function choose(take, len)
        local top, lower = -1, 0
        for b = 9, 0, -1 do
          if len[b] > 0 then if top < 0 then top = b else lower = lower + 1 end end
        end
        if top < 0 or lower == 0 or take % 10 ~= 9 then return top end
        local turn = math.floor(take / 10) % lower
        for b = 0, top - 1 do
          if len[b] > 0 then
            if turn == 0 then return b end
            turn = turn - 1
          end
        end
        return top
      end
      """;

  /**
   * Lua that reads one member of a JSON object without decoding the message: {@code jsonMember(m,
   * name, anyCase)} is the JSON text of the first top-level member of object {@code m} named {@code
   * name} (with {@code anyCase}, when there is none, of the first whose name matches it ignoring
   * case), nil when there is none or {@code m} is not an object. It is the fallback for a message
   * nested deeper than cjson decodes (its default of 1,000 levels, a chain of about 500 tasks; Go
   * and the core admit 10,000): cjson's {@code decode_max_depth} cannot go far enough, as Lua's C
   * stack stops it at about 5,300 levels. It steps from one bracket or quote to the next ({@code
   * string.find}), so a value is skipped without building anything; Go's layout puts {@code
   * RoutingKey} and {@code Headers} before the callbacks, so it reads a few members and stops. The
   * brackets it skips are counted, not matched (the worker's decoder checks the message), and it
   * gives up (nil) after 100,000 steps (about 50 ms here; a task of one argument is about 40
   * steps): a member behind a chain of some 2,500 tasks in another layout, or a hostile message.
   */
  static final String JSON_MEMBER =
      """
      local function jsonStringEnd(m, i)
        local _, e = string.find(m, '^"[^"\\\\]*"', i)
        if e then return e end
        local j = i + 1
        while true do
          local q = string.find(m, '["\\\\]', j)
          if not q or string.byte(m, q) == 34 then return q end
          j = q + 2
        end
      end
      local function jsonMember(m, want, anyCase)
        local steps, folded, wantLower = 100000, nil, string.lower(want)
        local _, i = string.find(m, '^%s*{%s*')
        if not i or string.byte(m, i + 1) == 125 then return nil end
        while true do
          _, i = string.find(m, '^%s*"', i + 1)
          if not i then return nil end
          local e = jsonStringEnd(m, i)
          if not e then return nil end
          local name = string.sub(m, i + 1, e - 1)
          if string.find(name, '\\\\', 1, true) then
            local ok, decoded = pcall(cjson.decode, string.sub(m, i, e))
            name = ok and decoded or ''
          end
          _, i = string.find(m, '^%s*:%s*', e + 1)
          if not i then return nil end
          local v = i + 1
          local c = string.byte(m, v)
          if c == 34 then
            e = jsonStringEnd(m, v)
          elseif c == 123 or c == 91 then
            local depth, j = 0, v
            repeat
              steps = steps - 1
              local q = steps >= 0 and string.find(m, '[%[%]{}"]', j)
              if not q then return nil end
              local b = string.byte(m, q)
              if b == 34 then
                q = jsonStringEnd(m, q)
                if not q then return nil end
              elseif b == 123 or b == 91 then
                depth = depth + 1
              else
                depth = depth - 1
              end
              j = q + 1
            until depth == 0
            e = j - 1
          else
            e = string.find(m, '[,}%]%s]', v)
            e = e and e - 1
          end
          if not e then return nil end
          if name == want then return string.sub(m, v, e) end
          if anyCase and folded == nil and string.lower(name) == wantLower then
            folded = string.sub(m, v, e)
          end
          _, i = string.find(m, '^%s*[,}]', e + 1)
          if not i then return nil end
          if string.byte(m, i) == 125 then return folded end
        end
      end
      """;

  /**
   * Lua for fairness lanes ({@link io.machinery.spi.FairShares}, {@link QueueKeys#fairRing()}):
   * {@code fairKeyOf(m)} is the top-level header {@code machinery_fairness_key} of message {@code
   * m} when it is a usable key (a string, not blank, at most 256 characters), else nil; messages
   * without the header's name in them are not decoded, and a message too deep for cjson (a long
   * chain) has its {@code Headers} read by {@link #JSON_MEMBER} and only those decoded. {@code
   * toLane(ring, k, m, head)} pushes {@code m} to key {@code k}'s lane (at its head when {@code
   * head}) and adds {@code k} to the ring's tail if the lane was empty, which keeps a key in the
   * ring exactly while its lane has messages.
   */
  static final String LANES =
      JSON_MEMBER
          + """
      local function fairKeyOf(m)
        if not string.find(m, '"machinery_fairness_key":"', 1, true) then return nil end
        local ok, sig = pcall(cjson.decode, m)
        local headers = nil
        if ok then
          headers = type(sig) == 'table' and sig['Headers']
        elseif type(sig) == 'string' and string.find(sig, 'too many nested', 1, true) then
          ok, headers = pcall(cjson.decode, jsonMember(m, 'Headers', false) or 'null')
        end
        if type(headers) ~= 'table' then return nil end
        local k = headers['machinery_fairness_key']
        if type(k) ~= 'string' or not string.find(k, '%S') then return nil end
        local _, chars = string.gsub(k, '[^\\128-\\191]', '')
        if chars > 256 then return nil end
        return k
      end
      local function toLane(ring, k, m, head)
        local lane = ring .. ':' .. k
        local n
        if head then n = redis.call('LPUSH', lane, m) else n = redis.call('RPUSH', lane, m) end
        if n == 1 then redis.call('RPUSH', ring, k) end
      end
      """;

  /**
   * Acknowledges the messages in ARGV[12..] (removes one occurrence of each from the processing
   * list). With ARGV[9] > 0, first sorts the queue's head: of its first ARGV[9] messages (and no
   * more than the byte budget), with ARGV[10] containing "f" those with a fairness key ({@link
   * #LANES}: a Go producer's, a retry, a task reaped or returned) move to their key's lane, and
   * with "p" those whose top-level {@code Priority} (Go's layout: {@code "Priority":N,"Immutable"},
   * the first such pair, before any nested signature) is above 0 move to their band, so Go
   * producers' keys and priorities count too. Then takes messages into the tail of the processing
   * list: by the fair shares over the lanes in the ring and the unkeyed messages (every (lanes +
   * 1)th take, counted by ARGV[11], is the unkeyed one's; a key with a weight above 1 in the
   * weights hash takes up to that many in a row, its count kept in the head record), the unkeyed
   * ones by the weighted fetch over the bands ({@link #BANDS}); at most ARGV[1] of them and no more
   * once ARGV[4] bytes are taken (the first is always taken: replies stay bounded by the budget
   * plus one message). A message longer than ARGV[5] bytes never leaves Redis: it goes to the
   * dead-letter list as a preview ({@link #DEAD_LETTER_PREVIEW}); its bytes count against the
   * budget too (hashing it is the work), so a queue full of them is drained over several fetches,
   * never in one long script. If any message was taken, refreshes the consumer's lease and
   * registration. KEYS: queue, processing, lease, consumers, dead letters, redeliveries, bands 1-9,
   * fairness ring (the lanes are the ring's name with ":" and the key: undeclared, in the ring's
   * slot), direct record (the keyed task it names moves to the head of its lane, not the tail: see
   * {@link #FAIR_PUSH}), fairness weights ({@link QueueKeys#fairWeights()}), head record ({@link
   * QueueKeys#fairHead()}); without weights a keyed take pops its lane, then rotates the ring.
   * ARGV: max, consumer id, lease ms, byte budget, max message bytes, now (ISO-8601), dead-letter
   * limit, band takes so far, sort window, what to sort ("p", "f", "pf"), fair turns so far,
   * acknowledged messages (ARGV[12..]). Returns the delivery counts (comma-separated text, empty
   * when no message was ever reaped), "1" when a bound ended the fetch (more may be waiting) else
   * "0", the band takes after this fetch, the fair turns after it, then the messages taken, in take
   * order.
   */
  static final RedisScript FETCH =
      RedisScript.of(
          "fetch",
          """
      for i = 12, #ARGV do redis.call('LREM', KEYS[2], 1, ARGV[i]) end
      local max, budget, limit = tonumber(ARGV[1]), tonumber(ARGV[4]), tonumber(ARGV[5])
      local take, window, turn = tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[11])
      local ring = KEYS[16]
      %s
      %s
      if window > 0 then
        local sortFair, sortPriority = string.find(ARGV[10], 'f', 1, true), string.find(ARGV[10], 'p', 1, true)
        local scanned = 0
        for _, h in ipairs(redis.call('LRANGE', KEYS[1], 0, window - 1)) do
          scanned = scanned + #h
          if scanned > budget then break end
          local k = sortFair and fairKeyOf(h)
          if k then
            redis.call('LREM', KEYS[1], 1, h)
            local direct = redis.call('GET', KEYS[17]) == redis.sha1hex(h)
            if direct then redis.call('DEL', KEYS[17]) end
            toLane(ring, k, h, direct)
          elseif sortPriority and string.find(h, '"Priority":[1-9]') then
            local p = tonumber(string.match(h, '"Priority":(%%d+),"Immutable":') or '0')
            if p > 0 then
              if p > 9 then p = 9 end
              redis.call('LREM', KEYS[1], 1, h)
              redis.call('RPUSH', band(p), h)
            end
          end
        end
      end
      local counted = redis.call('EXISTS', KEYS[6]) == 1
      local out, counts, bytes, more, len = {'', '1', '', ''}, {}, 0, true, lengths()
      local lanes = redis.call('LLEN', ring)
      local weighted = lanes > 0 and redis.call('EXISTS', KEYS[18]) == 1
      local dl, dlLimit, queue, consumer, at = KEYS[5], tonumber(ARGV[7]), KEYS[1], ARGV[2], ARGV[6]
      while #out - 4 < max and bytes < budget do
        local b, m = choose(take, len), nil
        if lanes > 0 and (b < 0 or turn %% (lanes + 1) ~= lanes) then
          turn = turn + 1
          if weighted then
            -- the head key takes up to its weight in a row (a weight that is no number counts as
            -- 1: a hand-written value must not stop the fetch); its count so far is in KEYS[19]
            local k = redis.call('LINDEX', ring, 0)
            local lane = ring .. ':' .. k
            m = redis.call('LPOP', lane)
            local head = redis.call('HMGET', KEYS[19], 'k', 'n')
            local n = (head[1] == k and tonumber(head[2]) or 0) + 1
            if redis.call('LLEN', lane) == 0 then
              redis.call('LPOP', ring)
              redis.call('DEL', KEYS[19])
              lanes = lanes - 1
            elseif n >= (tonumber(redis.call('HGET', KEYS[18], k)) or 1) then
              redis.call('LMOVE', ring, ring, 'LEFT', 'RIGHT')
              redis.call('DEL', KEYS[19])
            else
              redis.call('HSET', KEYS[19], 'k', k, 'n', n)
            end
          else
            -- the pop first: a Redis out of memory refuses a first write that may grow memory,
            -- as the ring's LMOVE may, but not an LPOP, and allows any write after it
            local k = redis.call('LINDEX', ring, 0)
            local lane = ring .. ':' .. k
            m = redis.call('LPOP', lane)
            if redis.call('LLEN', lane) == 0 then
              redis.call('LPOP', ring)
              lanes = lanes - 1
            else
              redis.call('LMOVE', ring, ring, 'LEFT', 'RIGHT')
            end
          end
        elseif b >= 0 then
          if lanes > 0 then turn = turn + 1 end
          m = redis.call('LPOP', band(b))
          len[b] = len[b] - 1
          take = take + 1
        else
          more = false
          break
        end
        if m then
          bytes = bytes + #m
          if #m > limit then
            local reason = 'message of ' .. #m .. ' bytes exceeds the limit of ' .. limit .. ' bytes'
            %s
          else
            redis.call('RPUSH', KEYS[2], m)
            out[#out + 1] = m
            if counted then counts[#counts + 1] = 1 + tonumber(redis.call('HGET', KEYS[6], redis.sha1hex(m)) or '0') end
          end
        end
      end
      if not more then out[2] = '0' end
      out[3] = tostring(take)
      out[4] = tostring(turn)
      if #out > 4 then
        redis.call('SET', KEYS[3], ARGV[2], 'PX', ARGV[3])
        redis.call('SADD', KEYS[4], ARGV[2])
        if counted then out[1] = table.concat(counts, ',') end
      end
      return out
      """
              .formatted(BANDS, LANES, DEAD_LETTER_PREVIEW),
          ScriptOutputType.MULTI);

  /**
   * After a blocking move took a message: refreshes the lease and re-registers the consumer (a
   * reaper may have unregistered it while it was paused, and nothing would then ever return that
   * message), and reads the message's delivery count. KEYS: lease, consumers, redeliveries. ARGV:
   * consumer id, lease ms, SHA-1 (hex) of the message. Returns the number of times it was reaped.
   */
  static final RedisScript CLAIMED =
      RedisScript.of(
          "claimed",
          """
      %s
      renewLease(KEYS[1], KEYS[2], ARGV[1], ARGV[2])
      return tonumber(redis.call('HGET', KEYS[3], ARGV[3]) or '0')
      """
              .formatted(RENEW_LEASE),
          ScriptOutputType.INTEGER);

  /**
   * {@link #CLAIMED} for the message a blocking move has just put at the tail of the processing
   * list, sent right behind the move on the same connection: Redis runs it as soon as the move
   * returns, and both replies come back together, so the message is handed over without a second
   * round trip. Refreshes the lease, re-registers the consumer (as {@link #CLAIMED}), then reads
   * the processing list's last message and its delivery count. KEYS: lease, consumers,
   * redeliveries, processing. ARGV: consumer id, lease ms. Returns the SHA-1 (hex) of the last
   * message (empty when the list is empty) and the number of times that message was reaped; the
   * caller compares the SHA-1 with the moved message's, since a move that timed out moved nothing
   * and something else may have changed the tail in between.
   */
  static final RedisScript CLAIMED_TAIL =
      RedisScript.of(
          "claimed-tail",
          """
      %s
      renewLease(KEYS[1], KEYS[2], ARGV[1], ARGV[2])
      local m = redis.call('LINDEX', KEYS[4], -1)
      if not m then return {'', 0} end
      local sha = redis.sha1hex(m)
      return {sha, tonumber(redis.call('HGET', KEYS[3], sha) or '0')}
      """
              .formatted(RENEW_LEASE),
          ScriptOutputType.MULTI);

  /**
   * Puts messages fetched but not handed over back at the head of the queue (with ARGV[1] = "1", a
   * message with a fairness key at the head of its lane, {@link #LANES}), in their order, if they
   * are still in the processing list. KEYS: processing, queue, fairness ring. ARGV: the fairness
   * flag, then the messages in fetch order.
   */
  static final RedisScript RETURN_TO_HEAD =
      RedisScript.of(
          "return-to-head",
          """
      %s
      local n = 0
      local fair = ARGV[1] == '1'
      for i = #ARGV, 2, -1 do
        if redis.call('LREM', KEYS[1], -1, ARGV[i]) > 0 then
          local k = fair and fairKeyOf(ARGV[i])
          if k then toLane(KEYS[3], k, ARGV[i], true) else redis.call('LPUSH', KEYS[2], ARGV[i]) end
          n = n + 1
        end
      end
      return n
      """
              .formatted(LANES),
          ScriptOutputType.INTEGER);

  /**
   * Publishes tasks with one fairness key: when nothing waits (the plain queue and the ring empty)
   * the first goes to the plain queue, where an idle consumer's blocking move takes it at once, and
   * its SHA-1 to the direct record ({@link QueueKeys#fairDirect()}); the others go to the tail of
   * the key's lane, and the key to the tail of the ring when the lane was empty ({@link #LANES}).
   * KEYS: lane, fairness ring, queue, direct record. ARGV: the key, the messages. Returns how many
   * went to the lane.
   */
  static final RedisScript FAIR_PUSH =
      RedisScript.of(
          "fair-push",
          """
      local first = 2
      if redis.call('LLEN', KEYS[2]) == 0 and redis.call('LLEN', KEYS[3]) == 0 then
        redis.call('RPUSH', KEYS[3], ARGV[2])
        redis.call('SET', KEYS[4], redis.sha1hex(ARGV[2]), 'EX', 86400)
        first = 3
      end
      if first > #ARGV then return 0 end
      local n = redis.call('RPUSH', KEYS[1], unpack(ARGV, first))
      local pushed = #ARGV - first + 1
      if n == pushed then redis.call('RPUSH', KEYS[2], ARGV[1]) end
      return pushed
      """,
          ScriptOutputType.INTEGER);

  /**
   * Acknowledges messages: removes one occurrence of each from the processing list. KEYS:
   * processing. ARGV: messages.
   */
  static final RedisScript ACK =
      RedisScript.of(
          "ack",
          """
      local n = 0
      for i = 1, #ARGV do n = n + redis.call('LREM', KEYS[1], 1, ARGV[i]) end
      return n
      """,
          ScriptOutputType.INTEGER);

  /**
   * Requeue at once: ARGV[2] (the message, or the worker's replacement of it) to the tail of the
   * queue, if ARGV[1] is still ours. KEYS: processing, queue. ARGV: message, what to requeue.
   */
  static final RedisScript REQUEUE_NOW =
      RedisScript.of(
          "requeue-now",
          """
      if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
      redis.call('RPUSH', KEYS[2], ARGV[2])
      return 1
      """,
          ScriptOutputType.INTEGER);

  /**
   * Requeue later: ARGV[3] (the message or its replacement) into the delayed-task set with score
   * ARGV[2] (Unix ns), if ARGV[1] is still ours. KEYS: processing, delayed_tasks (single server
   * only: the two keys are in different cluster slots). ARGV: message, score, what to requeue.
   */
  static final RedisScript REQUEUE_LATER =
      RedisScript.of(
          "requeue-later",
          """
      if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
      redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
      return 1
      """,
          ScriptOutputType.INTEGER);

  /**
   * Dead-letter: the envelope to the dead-letter list, if the message is still ours; the list keeps
   * its newest ARGV[3] envelopes. KEYS: processing, dead letters. ARGV: message, envelope, limit.
   */
  static final RedisScript DEAD_LETTER =
      RedisScript.of(
          "dead-letter",
          """
      if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
      redis.call('RPUSH', KEYS[2], ARGV[2])
      redis.call('LTRIM', KEYS[2], -tonumber(ARGV[3]), -1)
      return 1
      """,
          ScriptOutputType.INTEGER);

  /**
   * Whether a message is still in a consumer's processing list (a reaper returns the list of a
   * consumer whose lease lapsed); if so, also the lease refresh and registration of {@link
   * #HEARTBEAT}, in the same script, so no reaper can take it for a lease from now on. KEYS:
   * processing, lease, consumers. ARGV: message, consumer id, lease ms. Returns 1 or 0.
   */
  static final RedisScript HOLDS =
      RedisScript.of(
          "holds",
          """
      %s
      if not redis.call('LPOS', KEYS[1], ARGV[1]) then return 0 end
      renewLease(KEYS[2], KEYS[3], ARGV[2], ARGV[3])
      return 1
      """
              .formatted(RENEW_LEASE),
          ScriptOutputType.INTEGER);

  /**
   * Lease refresh and registration ({@link #RENEW_LEASE}, so it works while Redis is out of
   * memory). KEYS: lease, consumers. ARGV: consumer id, lease ms.
   */
  static final RedisScript HEARTBEAT =
      RedisScript.of(
          "heartbeat",
          """
      %s
      renewLease(KEYS[1], KEYS[2], ARGV[1], ARGV[2])
      return 1
      """
              .formatted(RENEW_LEASE),
          ScriptOutputType.INTEGER);

  /**
   * Returns a consumer's unsettled messages to the head of the queue (with ARGV[4] = "1", a message
   * with a fairness key to the head of its lane, {@link #LANES}) in their original order. With
   * ARGV[2] = "1" (the consumer itself, closing) always, and the registration stays for a reaper to
   * remove once the list is empty; otherwise (a reaper) only when the lease has expired (-1 if
   * alive), the registration is removed, and each returned message's delivery count (field: its
   * SHA-1) goes up by one in the redeliveries hash, which expires ARGV[3] ms after the last reap.
   * KEYS: lease, processing, queue, consumers, redeliveries, fairness ring. ARGV: consumer id,
   * force, counter retention ms, fairness flag. Returns the count moved.
   */
  static final RedisScript RELEASE =
      RedisScript.of(
          "release",
          """
      %s
      local reaper = ARGV[2] ~= '1'
      if reaper and redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
      local n, fair = 0, ARGV[4] == '1'
      while true do
        local m = redis.call('RPOP', KEYS[2])
        if not m then break end
        local k = fair and fairKeyOf(m)
        if k then toLane(KEYS[6], k, m, true) else redis.call('LPUSH', KEYS[3], m) end
        n = n + 1
        if reaper then redis.call('HINCRBY', KEYS[5], redis.sha1hex(m), 1) end
      end
      if reaper and n > 0 then redis.call('PEXPIRE', KEYS[5], ARGV[3]) end
      redis.call('DEL', KEYS[1])
      if reaper then redis.call('SREM', KEYS[4], ARGV[1]) end
      return n
      """
              .formatted(LANES),
          ScriptOutputType.INTEGER);

  /**
   * Lua that finds the queue of a message: {@code routingKeyOf(m, default)}. Go's encoder writes
   * {@code "UUID"}, {@code "Name"} and {@code "RoutingKey"} first, so a pattern finds it without
   * parsing (a 16 MiB message costs no more than a short one); any other layout (escapes in those
   * fields, another field order) is parsed with cjson, or when it is too deep for cjson (a long
   * chain) read by {@link #JSON_MEMBER}. The queue is {@code default} when there is none.
   */
  static final String ROUTING_KEY_OF =
      JSON_MEMBER
          + """
      local function routingKeyOf(m, default)
        local queue = string.match(m, '^{"UUID":"[^"\\\\]*","Name":"[^"\\\\]*","RoutingKey":"([^"\\\\]*)"')
        if queue == nil then
          local ok, sig = pcall(cjson.decode, m)
          if ok and type(sig) == 'table' then
            queue = sig['RoutingKey']
            if queue == nil then
              for k, v in pairs(sig) do
                if type(k) == 'string' and string.lower(k) == 'routingkey' then queue = v end
              end
            end
          elseif not ok and type(sig) == 'string' and string.find(sig, 'too many nested', 1, true) then
            local found
            ok, found = pcall(cjson.decode, jsonMember(m, 'RoutingKey', true) or 'null')
            if ok then queue = found end
          end
        end
        if type(queue) ~= 'string' or queue == '' then return default end
        return queue
      end
      """;

  /**
   * Moves due delayed tasks (score {@code <=} ARGV[1]) to the tail of the queue named by their
   * RoutingKey (ARGV[3] when missing, empty or unreadable: a worker there dead-letters what is not
   * a task), each exactly once, at most ARGV[2] of them and no more once ARGV[4] bytes were moved.
   * A message whose RoutingKey names a key that is not a list (another application's key, a hash,
   * {@code delayed_tasks} itself) goes to the default queue's dead-letter list with the reason,
   * never lost: a failed {@code RPUSH} would not undo the {@code ZREM} before it. KEYS:
   * delayed_tasks, the default queue's dead letters. ARGV: now (Unix ns), max count, default queue,
   * byte budget, now (ISO-8601), dead-letter limit. Single server only (the target queues are not
   * declared). Returns {moved, bytes}.
   */
  static final RedisScript PROMOTE =
      RedisScript.of(
          "promote",
          """
      %s
      local max, budget, default = tonumber(ARGV[2]), tonumber(ARGV[4]), ARGV[3]
      local dl, dlLimit, consumer, at = KEYS[2], tonumber(ARGV[6]), 'delayed-task promotion', ARGV[5]
      local n, bytes = 0, 0
      while n < max and bytes < budget do
        local m = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 1)[1]
        if not m then break end
        n = n + 1
        bytes = bytes + #m
        local queue = routingKeyOf(m, default)
        redis.call('ZREM', KEYS[1], m)
        local t = redis.call('TYPE', queue)['ok']
        if t == 'list' or t == 'none' then
          redis.call('RPUSH', queue, m)
        else
          local reason = 'RoutingKey names a Redis ' .. t .. ', not a queue'
          redis.call('RPUSH', dl, cjson.encode({reason = reason, queue = queue, consumer = consumer, at = at,
            message = m}))
          redis.call('LTRIM', dl, -dlLimit, -1)
        end
      end
      return {n, bytes}
      """
              .formatted(ROUTING_KEY_OF),
          ScriptOutputType.MULTI);

  /**
   * Cluster promotion, step 1 (one slot): moves due members (score {@code <=} ARGV[1]), at most
   * ARGV[2] and no more than ARGV[3] bytes, from delayed_tasks into the claim set {@code
   * {delayed_tasks}:claimed} scored with ARGV[4] (the claim's deadline, Unix ns), so exactly one
   * promoter takes each. The promoter then pushes each to its queue and only then removes it from
   * the claim set ({@link #UNCLAIM}); a promoter that dies in between leaves it there until {@link
   * #RECLAIM} puts it back (duplicates, never losses). KEYS: delayed_tasks, claim set. Returns the
   * members claimed.
   */
  static final RedisScript CLAIM =
      RedisScript.of(
          "claim",
          """
      local max, budget, bytes, out = tonumber(ARGV[2]), tonumber(ARGV[3]), 0, {}
      while #out < max and bytes < budget do
        local m = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 1)[1]
        if not m then break end
        redis.call('ZREM', KEYS[1], m)
        redis.call('ZADD', KEYS[2], ARGV[4], m)
        out[#out + 1] = m
        bytes = bytes + #m
      end
      return out
      """,
          ScriptOutputType.MULTI);

  /**
   * Cluster promotion, step 3: the members pushed leave the claim set. KEYS: claim set. ARGV:
   * members.
   */
  static final RedisScript UNCLAIM =
      RedisScript.of(
          "unclaim",
          """
      return redis.call('ZREM', KEYS[1], unpack(ARGV))
      """,
          ScriptOutputType.INTEGER);

  /**
   * Claims whose deadline (score) passed ARGV[1] go back to delayed_tasks, due at once (score
   * ARGV[1]), at most ARGV[2] of them. KEYS: delayed_tasks, claim set. Returns the count.
   */
  static final RedisScript RECLAIM =
      RedisScript.of(
          "reclaim",
          """
      local stale = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
      for _, m in ipairs(stale) do
        redis.call('ZREM', KEYS[2], m)
        redis.call('ZADD', KEYS[1], ARGV[1], m)
      end
      return #stale
      """,
          ScriptOutputType.INTEGER);
}
