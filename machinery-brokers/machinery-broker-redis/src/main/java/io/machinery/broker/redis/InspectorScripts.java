package io.machinery.broker.redis;

import io.lettuce.core.ScriptOutputType;
import io.machinery.client.redis.RedisScript;

/**
 * The {@link RedisInspector}'s Lua scripts. Each declares only keys of one cluster slot: a queue
 * with its tagged keys, or {@code delayed_tasks} alone.
 */
final class InspectorScripts {
  private InspectorScripts() {}

  /**
   * Lua: {@code laneLengths(ring)} is the sum of the lengths of the fairness lanes whose keys are
   * in the ring ({@link QueueKeys#fairRing()}), and the first lane with tasks (nil when none).
   */
  private static final String LANE_LENGTHS =
      """
      local function laneLengths(ring)
        local n, first = 0, nil
        for _, k in ipairs(redis.call('LRANGE', ring, 0, -1)) do
          local len = redis.call('LLEN', ring .. ':' .. k)
          if len > 0 and first == nil then first = ring .. ':' .. k end
          n = n + len
        end
        return n, first
      end
      """;

  /**
   * How many tasks wait in one queue: the sum of the lengths of the queue, its priority bands and
   * its fairness lanes. KEYS: fairness ring, queue, bands 1-9. Returns the count.
   */
  static final RedisScript PENDING_COUNT =
      RedisScript.of(
          "pending-count",
          """
      %s
      local n = laneLengths(KEYS[1])
      for i = 2, #KEYS do n = n + redis.call('LLEN', KEYS[i]) end
      return n
      """
              .formatted(LANE_LENGTHS),
          ScriptOutputType.INTEGER);

  /**
   * The sizes of one queue and what its age is read from, without sending or decoding the waiting
   * messages: the queue's length with its priority bands' and fairness lanes', its dead-letter
   * list's length, the head's ETA as written in the message (Go's field order, matched at the start
   * only, so a nested signature's ETA is never taken; {@code null} or empty when it has none) and
   * when the head was first seen at the head (a side record {@code {queue}:head_seen}, "<id> <unix
   * ms>", written here when the head changed; the id is the SHA-1 of the head's length and first
   * 256 bytes, which include its UUID; the head is the plain queue's, or when it is empty the
   * highest band's, or the first lane's in the ring). KEYS: queue, dead letters, head record,
   * fairness ring, bands 1-9. ARGV: now (Unix ms), how long the record is kept after it was last
   * read (ms). Returns {length, dead letters, ETA text, first seen (Unix ms) or -1}. The record is
   * written with {@code pcall}: a Redis out of memory refuses that {@code SET} (the script's first
   * write), and the sizes are what an operator needs most then; the head's age counts from now
   * until Redis takes the record.
   */
  static final RedisScript QUEUE_STATS =
      RedisScript.of(
          "inspect-queue",
          """
      %s
      local n, headKey = redis.call('LLEN', KEYS[1]), KEYS[1]
      for i = #KEYS, 5, -1 do
        local len = redis.call('LLEN', KEYS[i])
        if len > 0 and headKey == KEYS[1] and n == 0 then headKey = KEYS[i] end
        n = n + len
      end
      local laned, firstLane = laneLengths(KEYS[4])
      if laned > 0 and n == 0 then headKey = firstLane end
      n = n + laned
      local dead = redis.call('LLEN', KEYS[2])
      local eta, seen = '', -1
      if n > 0 then
        local head = redis.call('LINDEX', headKey, 0)
        eta = string.match(head, '^{"UUID":"[^"\\\\]*","Name":"[^"\\\\]*","RoutingKey":"[^"\\\\]*","ETA":"([^"\\\\]*)"') or ''
        local id = redis.sha1hex(#head .. ':' .. string.sub(head, 1, 256))
        local record = redis.call('GET', KEYS[3])
        if record and string.sub(record, 1, 40) == id then
          seen = tonumber(string.sub(record, 42))
          redis.call('PEXPIRE', KEYS[3], ARGV[2])
        else
          seen = tonumber(ARGV[1])
          redis.pcall('SET', KEYS[3], id .. ' ' .. ARGV[1], 'PX', ARGV[2])
        end
      end
      return {n, dead, eta, seen}
      """
              .formatted(LANE_LENGTHS),
          ScriptOutputType.MULTI);

  /**
   * Counts the members of delayed_tasks ranked ARGV[2] to ARGV[2] + ARGV[3] - 1 (soonest first) per
   * queue: their RoutingKey, or ARGV[1] (the default queue) when there is none. A bounded slice per
   * run, so Redis serves other clients between the slices of a large set. KEYS: delayed_tasks.
   * ARGV: default queue, first rank, count. Returns {size of the set, queue, count, queue, count,
   * ...}.
   */
  static final RedisScript DELAYED_COUNTS =
      RedisScript.of(
          "inspect-delayed-counts",
          """
      %s
      local default = ARGV[1]
      local first = tonumber(ARGV[2])
      local counts, order = {}, {}
      for _, m in ipairs(redis.call('ZRANGE', KEYS[1], first, first + tonumber(ARGV[3]) - 1)) do
        local queue = routingKeyOf(m, default)
        if counts[queue] == nil then
          counts[queue] = 0
          order[#order + 1] = queue
        end
        counts[queue] = counts[queue] + 1
      end
      local out = {redis.call('ZCARD', KEYS[1])}
      for _, q in ipairs(order) do
        out[#out + 1] = q
        out[#out + 1] = counts[q]
      end
      return out
      """
              .formatted(BrokerScripts.ROUTING_KEY_OF),
          ScriptOutputType.MULTI);

  /**
   * Part of a page of one queue's delayed tasks, soonest first, from the members ranked ARGV[3] to
   * ARGV[3] + ARGV[4] - 1: skips the first ARGV[5] members whose RoutingKey is ARGV[2], then takes
   * up to ARGV[6] of them. KEYS: delayed_tasks. ARGV: default queue, queue, first rank, count, to
   * skip, limit. Returns {size of the set, still to skip, members taken...}.
   */
  static final RedisScript DELAYED_PAGE =
      RedisScript.of(
          "inspect-delayed-page",
          """
      %s
      local default, want = ARGV[1], ARGV[2]
      local first, skip, limit = tonumber(ARGV[3]), tonumber(ARGV[5]), tonumber(ARGV[6])
      local out = {redis.call('ZCARD', KEYS[1]), 0}
      for _, m in ipairs(redis.call('ZRANGE', KEYS[1], first, first + tonumber(ARGV[4]) - 1)) do
        local queue = routingKeyOf(m, default)
        if queue == want then
          if skip > 0 then
            skip = skip - 1
          elseif #out - 2 < limit then
            out[#out + 1] = m
          end
        end
      end
      out[2] = skip
      return out
      """
              .formatted(BrokerScripts.ROUTING_KEY_OF),
          ScriptOutputType.MULTI);

  /**
   * Removes the given dead-letter envelopes (one occurrence each) and, when ARGV[1] is "1", pushes
   * each removed one's message to the tail of the queue in the same step, so a letter is requeued
   * exactly once or stays where it was. KEYS: dead letters, queue. ARGV: requeue flag, then pairs
   * of (envelope, message). Returns how many were removed.
   */
  static final RedisScript REPAIR_DEAD =
      RedisScript.of(
          "inspect-repair-dead",
          """
      local n = 0
      for i = 2, #ARGV, 2 do
        if redis.call('LREM', KEYS[1], 1, ARGV[i]) > 0 then
          if ARGV[1] == '1' then redis.call('RPUSH', KEYS[2], ARGV[i + 1]) end
          n = n + 1
        end
      end
      return n
      """,
          ScriptOutputType.INTEGER);

  /**
   * The first ARGV[1] keys of the fairness ring, in turn order, each with its lane's length. KEYS:
   * fairness ring. Returns {key, length, key, length, ...}.
   */
  static final RedisScript FAIRNESS_KEYS =
      RedisScript.of(
          "inspect-fairness-keys",
          """
      local out = {}
      for _, k in ipairs(redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)) do
        out[#out + 1] = k
        out[#out + 1] = redis.call('LLEN', KEYS[1] .. ':' .. k)
      end
      return out
      """,
          ScriptOutputType.MULTI);

  /**
   * Empties a queue and returns how many tasks it held, in one step (a task pushed meanwhile is
   * either counted and removed or stays). UNLINK frees a long list in the background. KEYS:
   * fairness ring, then the queue and its priority bands.
   */
  static final RedisScript PURGE =
      RedisScript.of(
          "inspect-purge",
          """
      local n = 0
      for _, k in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
        local lane = KEYS[1] .. ':' .. k
        n = n + redis.call('LLEN', lane)
        redis.call('UNLINK', lane)
      end
      redis.call('UNLINK', KEYS[1])
      for i = 2, #KEYS do
        local len = redis.call('LLEN', KEYS[i])
        if len > 0 then redis.call('UNLINK', KEYS[i]) end
        n = n + len
      end
      return n
      """,
          ScriptOutputType.INTEGER);
}
