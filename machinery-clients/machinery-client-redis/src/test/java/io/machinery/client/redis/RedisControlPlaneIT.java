package io.machinery.client.redis;

import static org.assertj.core.api.Assertions.assertThat;

import io.machinery.config.Config;
import io.machinery.spi.ControlPlane;
import io.machinery.spi.ControlPlane.TaskLimitSetting;
import io.machinery.testkit.ControlPlaneContract;
import io.machinery.testkit.TestEndpoints;
import java.nio.charset.StandardCharsets;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** The control-plane contract against a single Redis server. */
class RedisControlPlaneIT extends ControlPlaneContract {
  private RedisSession session;

  protected String url() {
    return TestEndpoints.redisUrl();
  }

  @Override
  protected ControlPlane createControlPlane() {
    session = RedisSession.open(url(), Config.builder().broker(url()).build());
    return RedisControlPlane.create(session, RedisControlPlane.DEFAULT_KEY_PREFIX);
  }

  @Override
  protected void closeControlPlane() {
    if (session != null) {
      session.close();
    }
  }

  /** A setting written by hand (or by a newer version) that does not decode is left out. */
  @Test
  void aTaskLimitThatDoesNotDecodeIsLeftOutOfTheListing() {
    String good = "cp-good-" + UUID.randomUUID();
    String bad = "cp-bad-" + UUID.randomUUID();
    String hash = RedisKeys.tagged(RedisControlPlane.DEFAULT_KEY_PREFIX, "limits");
    plane.setTaskLimit(good, TaskLimitSetting.maxConcurrent(3));
    session.await(
        session
            .commands()
            .hset(hash, bad, "{\"ratePermits\":\"many\"}".getBytes(StandardCharsets.UTF_8)));
    try {
      assertThat(plane.taskLimits())
          .containsEntry(good, TaskLimitSetting.maxConcurrent(3))
          .doesNotContainKey(bad);
    } finally {
      session.await(session.commands().hdel(hash, bad, good));
    }
  }
}
