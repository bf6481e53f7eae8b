package io.machinery.broker.redis;

import io.lettuce.core.ScriptOutputType;
import io.machinery.client.redis.RedisScript;

/**
 * The broker's Lua scripts. Each one is a step that must be atomic; all keys a script declares share one
 * cluster slot (a queue and its tagged keys), except {@link #PROMOTE}, which writes to the queue named inside
 * each message and therefore runs only against a single Redis server.
 */
final class BrokerScripts {
  private BrokerScripts() {}

  /**
   * Acknowledges the messages in ARGV[4..] (removes one occurrence of each from the processing list), then
   * takes up to ARGV[1] messages from the head of the queue into the tail of the processing list and, if any,
   * refreshes the consumer's lease and registration. KEYS: queue, processing, lease, consumers. ARGV: max,
   * consumer id, lease ms, acknowledged messages. Returns the messages taken, in queue order.
   */
  static final RedisScript FETCH = RedisScript.of("fetch", """
      for i = 4, #ARGV do redis.call('LREM', KEYS[2], 1, ARGV[i]) end
      local out = {}
      for i = 1, tonumber(ARGV[1]) do
        local m = redis.call('LMOVE', KEYS[1], KEYS[2], 'LEFT', 'RIGHT')
        if not m then break end
        out[i] = m
      end
      if #out > 0 then
        redis.call('SET', KEYS[3], ARGV[2], 'PX', ARGV[3])
        redis.call('SADD', KEYS[4], ARGV[2])
      end
      return out
      """, ScriptOutputType.MULTI);

  /**
   * Puts messages fetched but not handed over back at the head of the queue, in their order, if they are still
   * in the processing list. KEYS: processing, queue. ARGV: the messages in fetch order.
   */
  static final RedisScript RETURN_TO_HEAD = RedisScript.of("return-to-head", """
      local n = 0
      for i = #ARGV, 1, -1 do
        if redis.call('LREM', KEYS[1], -1, ARGV[i]) > 0 then
          redis.call('LPUSH', KEYS[2], ARGV[i])
          n = n + 1
        end
      end
      return n
      """, ScriptOutputType.INTEGER);

  /** Acknowledges messages: removes one occurrence of each from the processing list. KEYS: processing. ARGV: messages. */
  static final RedisScript ACK = RedisScript.of("ack", """
      local n = 0
      for i = 1, #ARGV do n = n + redis.call('LREM', KEYS[1], 1, ARGV[i]) end
      return n
      """, ScriptOutputType.INTEGER);

  /** Requeue at once: to the tail of the queue, if still ours. KEYS: processing, queue. ARGV: message. */
  static final RedisScript REQUEUE_NOW = RedisScript.of("requeue-now", """
      if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
      redis.call('RPUSH', KEYS[2], ARGV[1])
      return 1
      """, ScriptOutputType.INTEGER);

  /**
   * Requeue later: into the delayed-task set with score ARGV[2] (Unix ns), if still ours. KEYS: processing,
   * delayed_tasks (single server only: the two keys are in different cluster slots). ARGV: message, score.
   */
  static final RedisScript REQUEUE_LATER = RedisScript.of("requeue-later", """
      if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
      redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
      return 1
      """, ScriptOutputType.INTEGER);

  /** Dead-letter: the envelope to the dead-letter list, if the message is still ours. KEYS: processing, dead letters. */
  static final RedisScript DEAD_LETTER = RedisScript.of("dead-letter", """
      if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
      redis.call('RPUSH', KEYS[2], ARGV[2])
      return 1
      """, ScriptOutputType.INTEGER);

  /** Lease refresh and registration. KEYS: lease, consumers. ARGV: consumer id, lease ms. */
  static final RedisScript HEARTBEAT = RedisScript.of("heartbeat", """
      redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
      redis.call('SADD', KEYS[2], ARGV[1])
      return 1
      """, ScriptOutputType.INTEGER);

  /**
   * Returns a consumer's unsettled messages to the head of the queue in their original order. With ARGV[2] =
   * "1" (the consumer itself, closing) always, and the registration stays for a reaper to remove once the
   * list is empty; otherwise (a reaper) only when the lease has expired (-1 if alive), and the registration
   * is removed. KEYS: lease, processing, queue, consumers. ARGV: consumer id, force. Returns the count moved.
   */
  static final RedisScript RELEASE = RedisScript.of("release", """
      if ARGV[2] ~= '1' and redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
      local n = 0
      while redis.call('LMOVE', KEYS[2], KEYS[3], 'RIGHT', 'LEFT') do n = n + 1 end
      redis.call('DEL', KEYS[1])
      if ARGV[2] ~= '1' then redis.call('SREM', KEYS[4], ARGV[1]) end
      return n
      """, ScriptOutputType.INTEGER);

  /**
   * Moves due delayed tasks (score <= ARGV[1]) to the tail of the queue named by their RoutingKey (ARGV[3]
   * when missing, empty or unreadable: a worker there dead-letters what is not a task), at most ARGV[2], each
   * exactly once. KEYS: delayed_tasks. Single server only (the target queues are not declared).
   */
  static final RedisScript PROMOTE = RedisScript.of("promote", """
      local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
      for _, m in ipairs(due) do
        redis.call('ZREM', KEYS[1], m)
        local queue = nil
        local ok, sig = pcall(cjson.decode, m)
        if ok and type(sig) == 'table' then
          queue = sig['RoutingKey']
          if queue == nil then
            for k, v in pairs(sig) do
              if type(k) == 'string' and string.lower(k) == 'routingkey' then queue = v end
            end
          end
        end
        if type(queue) ~= 'string' or queue == '' then queue = ARGV[3] end
        redis.call('RPUSH', queue, m)
      end
      return #due
      """, ScriptOutputType.INTEGER);
}
