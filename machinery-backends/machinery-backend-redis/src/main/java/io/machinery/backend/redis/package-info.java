/**
 * The Redis result backend: Go Machinery's keys and JSON values, wire-compatible with Go workers
 * and clients sharing the same Redis. Start at {@link io.machinery.backend.redis.RedisBackend}.
 */
@NullMarked
package io.machinery.backend.redis;

import org.jspecify.annotations.NullMarked;
