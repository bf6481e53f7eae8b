package io.machinery.client.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

class RedisAddressTest {
  @Test
  void aPlainUrlIsOneHostOnTheDefaultDatabase() {
    RedisAddress a = RedisAddress.parse("redis://127.0.0.1:6379");
    assertThat(a.hosts()).containsExactly(new RedisAddress.Host("127.0.0.1", 6379));
    assertThat(a.database()).isZero();
    assertThat(a.tls()).isFalse();
    assertThat(a.hasPassword()).isFalse();
    assertThat(a.hasSeveralHosts()).isFalse();
  }

  @Test
  void aUserinfoWithoutColonIsThePasswordAsInGo() {
    RedisAddress a = RedisAddress.parse("redis://s3cret@localhost:6380/3");
    assertThat(a.username()).isEmpty();
    assertThat(a.password()).isEqualTo("s3cret");
    assertThat(a.hosts()).containsExactly(new RedisAddress.Host("localhost", 6380));
    assertThat(a.database()).isEqualTo(3);
  }

  @Test
  void aUserAndPercentEncodedPasswordAreDecoded() {
    RedisAddress a = RedisAddress.parse("rediss://app:p%40ss%3Aword@redis.example.com/2");
    assertThat(a.tls()).isTrue();
    assertThat(a.username()).isEqualTo("app");
    assertThat(a.password()).isEqualTo("p@ss:word");
    assertThat(a.hosts()).containsExactly(new RedisAddress.Host("redis.example.com", 6379));
    assertThat(a.database()).isEqualTo(2);
  }

  @Test
  void aDatabaseThatIsNotANumberIsZeroAsInGo() {
    assertThat(RedisAddress.parse("redis://host:1/abc").database()).isZero();
  }

  @Test
  void severalHostsTakeCredentialsFromTheFirstAndTheDatabaseFromTheLast() {
    RedisAddress a =
        RedisAddress.parse("redis://user:pw@10.0.0.1:7000,10.0.0.2:7001,10.0.0.3:7002/0");
    assertThat(a.hasSeveralHosts()).isTrue();
    assertThat(a.hosts())
        .containsExactly(
            new RedisAddress.Host("10.0.0.1", 7000),
            new RedisAddress.Host("10.0.0.2", 7001),
            new RedisAddress.Host("10.0.0.3", 7002));
    assertThat(a.username()).isEqualTo("user");
    assertThat(a.password()).isEqualTo("pw");
  }

  @Test
  void aSchemeRepeatedOnEveryHostIsTolerated() {
    assertThat(RedisAddress.parse("redis://127.0.0.1:7000,redis://127.0.0.1:7001").hosts())
        .hasSize(2);
  }

  @Test
  void aUnixSocketUrlIsParsedAsGoParsesIt() {
    RedisAddress a = RedisAddress.parse("redis+socket://pw@/var/run/redis.sock:/4");
    assertThat(a.socketPath()).isEqualTo("/var/run/redis.sock");
    assertThat(a.password()).isEqualTo("pw");
    assertThat(a.database()).isEqualTo(4);
    assertThat(a.hosts()).isEmpty();
    assertThat(RedisAddress.parse("redis+socket:///tmp/r.sock").socketPath())
        .isEqualTo("/tmp/r.sock");
  }

  @Test
  void anIpv6HostKeepsItsPort() {
    assertThat(RedisAddress.parse("redis://[::1]:6390").hosts())
        .containsExactly(new RedisAddress.Host("::1", 6390));
  }

  @Test
  void theTextFormNeverShowsCredentials() {
    for (String url :
        List.of(
            "redis://user:topsecret@h:1/2",
            "redis://topsecret@h:1",
            "rediss://u:topsecret@a:1,b:2",
            "redis+socket://u:topsecret@/tmp/s.sock:/1")) {
      assertThat(RedisAddress.parse(url).toString())
          .doesNotContain("topsecret")
          .doesNotContain("u:");
    }
    assertThat(RedisAddress.parse("redis://user:topsecret@h:1/2")).hasToString("redis://h:1/2");
  }

  @Test
  void somethingElseIsRefusedWithoutRepeatingItsCredentials() {
    assertThatThrownBy(() -> RedisAddress.parse("amqp://guest:topsecret@host:5672/"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageNotContaining("topsecret");
    assertThatThrownBy(() -> RedisAddress.parse("redis://"))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> RedisAddress.parse("redis://h:notaport"))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> RedisAddress.parse("redis+socket://pw@"))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void aPasswordWithUnencodedSeparatorsIsRefusedWithoutShowingAnyPartOfIt() {
    for (String url :
        List.of(
            "redis://admin:S3cr3tX/P4ssY@host:6379/0",
            "redis://:S3cr3tX,P4ssY@h1,h2",
            "redis://:S3cr3tX?P4ssY@host",
            "redis://:S3cr3tX#P4ssY@host")) {
      assertThatThrownBy(() -> RedisAddress.parse(url))
          .as(url)
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("percent-encoded")
          .satisfies(
              e -> assertThat(e.getMessage()).doesNotContain("S3cr3t").doesNotContain("P4ss"))
          .satisfies(
              e ->
                  assertThat(String.valueOf(e.getCause()))
                      .doesNotContain("S3cr3t")
                      .doesNotContain("P4ss"));
    }
    assertThat(RedisAddress.parse("redis://admin:S3cr3t%2FP4ss@host").password())
        .isEqualTo("S3cr3t/P4ss");
  }
}
