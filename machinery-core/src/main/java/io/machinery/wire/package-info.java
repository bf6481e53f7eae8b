/**
 * Go Machinery v2's JSON wire format, for implementers of brokers and backends: {@link
 * io.machinery.wire.WireCodec} writes and reads task messages, task states, group metadata and
 * results exactly as Go does (key order, number forms, time layout), with the limits that keep a
 * hostile message from stalling a worker. Applications never need it: {@code Server} encodes and
 * decodes for them.
 */
@NullMarked
package io.machinery.wire;

import org.jspecify.annotations.NullMarked;
