package io.machinery.client.redis;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.Executor;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class ServerAddressesTest {
  private final AtomicInteger lookUps = new AtomicInteger();
  private final Executor counting =
      task -> {
        lookUps.incrementAndGet();
        ForkJoinPool.commonPool().execute(task);
      };
  private final ServerAddresses addresses = new ServerAddresses(counting);

  @Test
  void literalsAreComparedWithoutALookUp() {
    assertThat(addresses.same("::1:6379", "0:0:0:0:0:0:0:1:6379").join()).isTrue();
    assertThat(addresses.same("[::1]:6379", "::1:6379").join()).isTrue();
    assertThat(addresses.same("10.0.0.1:6379", "10.0.0.1:6380").join()).isFalse();
    assertThat(addresses.same("10.0.0.1:6379", "10.0.0.2:6379").join()).isFalse();
    assertThat(addresses.same("127.0.0.1:6379", "::1:6379").join()).isFalse();
    assertThat(lookUps).hasValue(0);
  }

  @Test
  void aHostNameIsLookedUpOnceOffTheCallingThread() {
    assertThat(addresses.same("localhost:6379", "127.0.0.1:6379").join()).isTrue();
    assertThat(addresses.same("LOCALHOST:6379", "10.0.0.1:6379").join()).isFalse();
    assertThat(addresses.same("localhost:6380", "127.0.0.1:6379").join()).isFalse();
    assertThat(lookUps).hasValue(1);
  }

  @Test
  void aNameThatDoesNotResolveIsComparedAsText() {
    assertThat(addresses.same("no-such-host.invalid:6379", "NO-SUCH-HOST.invalid:6379").join())
        .isTrue();
    assertThat(addresses.same("no-such-host.invalid:6379", "127.0.0.1:6379").join()).isFalse();
  }

  /**
   * One text per spelling of a literal, no look-up: what the session compares a connection's remote
   * address ({@code 0:0:0:0:0:0:0:1} from the JDK) with the URL's Sentinels ({@code [::1]}).
   */
  @Test
  void canonicalTextsSpellAnIpAddressOneWay() {
    assertThat(ServerAddresses.canonical("[::1]:26379"))
        .isEqualTo(ServerAddresses.canonical("0:0:0:0:0:0:0:1:26379"))
        .isEqualTo(ServerAddresses.canonical("::1:26379"));
    assertThat(ServerAddresses.canonical("10.0.0.1:26379")).isEqualTo("10.0.0.1:26379");
    assertThat(ServerAddresses.canonical("Sentinel.Example:26379"))
        .isEqualTo("sentinel.example:26379");
    assertThat(ServerAddresses.canonical("127.0.0.1:26379"))
        .isNotEqualTo(ServerAddresses.canonical("localhost:26379")); // that takes same()
    assertThat(ServerAddresses.canonical("no:such:ipv6:6379")).isEqualTo("no:such:ipv6:6379");
    assertThat(lookUps).hasValue(0);
  }

  @Test
  void onlyIpAddressesAreLiterals() {
    assertThat(ServerAddresses.isLiteral("10.0.0.1")).isTrue();
    assertThat(ServerAddresses.isLiteral("::1")).isTrue();
    assertThat(ServerAddresses.isLiteral("999.0.0.1")).isFalse();
    assertThat(ServerAddresses.isLiteral("redis.example")).isFalse();
  }
}
