package io.machinery.client.redis;

import static org.assertj.core.api.Assertions.assertThat;

import io.lettuce.core.RedisCommandExecutionException;
import io.lettuce.core.RedisCommandTimeoutException;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.Test;

/** Which cluster replies make a blocking connection send its command again to the new owner. */
class EndedByFailoverTest {
  @Test
  void aMovedReplyAndAnUnblockByDemotionAreAFailover() {
    assertThat(RedisSession.endedByFailover(error("MOVED 7290 127.0.0.1:46261"))).isTrue();
    assertThat(
            RedisSession.endedByFailover(
                error(
                    "UNBLOCKED force unblock from blocking operation, instance state changed"
                        + " (master -> replica?)")))
        .isTrue();
    assertThat(RedisSession.endedByFailover(new CompletionException(error("MOVED 1 h:1"))))
        .isTrue();
  }

  @Test
  void otherErrorsAreNot() {
    // CLIENT UNBLOCK <id> ERROR: someone meant to end the command
    assertThat(RedisSession.endedByFailover(error("UNBLOCKED client unblocked via CLIENT UNBLOCK")))
        .isFalse();
    assertThat(RedisSession.endedByFailover(error("ASK 7290 127.0.0.1:46261"))).isFalse();
    assertThat(RedisSession.endedByFailover(error("CLUSTERDOWN The cluster is down"))).isFalse();
    assertThat(RedisSession.endedByFailover(new RedisCommandTimeoutException("MOVED"))).isFalse();
  }

  private static RedisCommandExecutionException error(String reply) {
    return new RedisCommandExecutionException(reply);
  }
}
