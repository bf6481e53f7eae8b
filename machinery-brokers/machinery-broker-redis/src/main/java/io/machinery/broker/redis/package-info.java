/**
 * The Redis broker: Go Machinery's Redis wire contract (task lists named by routing key, the shared
 * {@code delayed_tasks} sorted set) with at-least-once delivery on top. Start at {@link
 * io.machinery.broker.redis.RedisBroker}.
 */
@NullMarked
package io.machinery.broker.redis;

import org.jspecify.annotations.NullMarked;
