/**
 * Redis client wiring shared by the Redis broker, backend and lock: Go Machinery's Redis URLs
 * parsed into Lettuce connections (standalone, TLS, unix socket, Sentinel, Cluster), Lua scripts
 * run by digest, and the hash-tag rule that keeps a queue's own keys in its cluster slot.
 */
@NullMarked
package io.machinery.client.redis;

import org.jspecify.annotations.NullMarked;
