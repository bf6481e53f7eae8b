package io.machinery.client.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.tuple;

import io.lettuce.core.RedisCredentials;
import io.lettuce.core.RedisURI;
import io.machinery.config.RedisConfig;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class SentinelUriTest {
  /**
   * Before, the first Sentinel came twice, once without password or TLS: sessions subscribed to its
   * announcements twice, and one of those failed wherever the Sentinels ask for a password.
   */
  @Test
  void everySentinelOfTheUrlComesOnceWithItsPasswordAndTls() {
    RedisURI uri =
        RedisSession.standaloneUri(
            RedisAddress.parse("redis://sentinel-a:26379,sentinel-b:26380"),
            RedisConfig.DEFAULT.withMasterName("mymaster").withSentinelPassword("secret"),
            true);

    assertThat(uri.getSentinelMasterId()).isEqualTo("mymaster");
    assertThat(uri.getSentinels())
        .extracting(RedisURI::getHost, RedisURI::getPort, RedisURI::isSsl)
        .containsExactly(tuple("sentinel-a", 26379, true), tuple("sentinel-b", 26380, true));
    assertThat(uri.getSentinels())
        .allSatisfy(
            sentinel -> {
              RedisCredentials credentials =
                  sentinel
                      .getCredentialsProvider()
                      .resolveCredentials()
                      .block(Duration.ofSeconds(1));
              assertThat(credentials).isNotNull();
              assertThat(credentials.getPassword()).containsExactly("secret".toCharArray());
            });
  }
}
