package io.machinery.broker.redis;

import java.util.Arrays;

/**
 * A message's bytes as a map key (the unsettled messages of a consumer, the stray sweep's
 * suspects): equal when the bytes are. The hash covers the length and the first {@value
 * #HASHED_BYTES} bytes only, computed once: every message is looked up at least twice on its way
 * (handed over, acknowledged), and a message's first bytes already hold its UUID ({@code
 * {"UUID":"task_…}), so hashing all of a long body bought nothing (it was about 2% of a no-op
 * task's CPU with {@code ByteBuffer} keys). Messages with equal prefixes still compare whole.
 */
final class MessageKey {
  static final int HASHED_BYTES = 96;

  private final byte[] bytes;
  private final int hash;

  private MessageKey(byte[] bytes) {
    this.bytes = bytes;
    int h = bytes.length;
    int end = Math.min(bytes.length, HASHED_BYTES);
    for (int i = 0; i < end; i++) {
      h = 31 * h + bytes[i];
    }
    this.hash = h;
  }

  static MessageKey of(byte[] message) {
    return new MessageKey(message);
  }

  byte[] bytes() {
    return bytes;
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof MessageKey key && key.hash == hash && Arrays.equals(key.bytes, bytes);
  }

  @Override
  public int hashCode() {
    return hash;
  }
}
