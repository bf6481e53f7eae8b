package io.machinery.client.redis;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class ReadOnlyReplicaGuardTest {
  @Test
  void aReadOnlyReplyCounts() {
    assertThat(
            ReadOnlyReplicaGuard.isReadOnly(
                "READONLY You can't write against a read only replica."))
        .isTrue();
    assertThat(
            ReadOnlyReplicaGuard.isReadOnly(
                "READONLY You can't write against a read only replica. script: 8d9c37f4, on"
                    + " @user_script:3."))
        .as("a Redis 7 script's write")
        .isTrue();
    assertThat(
            ReadOnlyReplicaGuard.isReadOnly(
                "ERR Error running script (call to f_8d9c37f4): @user_script:3: @user_script: 3:"
                    + " -READONLY You can't write against a read only replica."))
        .as("a Redis 6 script's write")
        .isTrue();
  }

  @Test
  void otherErrorsDoNot() {
    assertThat(ReadOnlyReplicaGuard.isReadOnly((String) null)).isFalse();
    assertThat(ReadOnlyReplicaGuard.isReadOnly("ERR wrong number of arguments")).isFalse();
    assertThat(ReadOnlyReplicaGuard.isReadOnly("NOSCRIPT No matching script")).isFalse();
    assertThat(ReadOnlyReplicaGuard.isReadOnly("ERR user script said READONLY")).isFalse();
    assertThat(ReadOnlyReplicaGuard.isReadOnly("MOVED 3999 127.0.0.1:7001")).isFalse();
  }
}
