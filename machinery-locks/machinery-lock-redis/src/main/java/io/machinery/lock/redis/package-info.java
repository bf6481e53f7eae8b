/**
 * The Redis lock that fires each periodic task once per tick across servers, compatible with Go
 * Machinery's. Start at {@link io.machinery.lock.redis.RedisLock}.
 */
@NullMarked
package io.machinery.lock.redis;

import org.jspecify.annotations.NullMarked;
