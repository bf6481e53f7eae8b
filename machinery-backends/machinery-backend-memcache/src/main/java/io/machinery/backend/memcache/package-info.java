/**
 * The Memcache result backend: Go Machinery's keys and JSON values, wire-compatible with Go workers
 * and clients sharing the same memcached servers. Start at {@link
 * io.machinery.backend.memcache.MemcacheBackend}.
 */
@NullMarked
package io.machinery.backend.memcache;

import org.jspecify.annotations.NullMarked;
