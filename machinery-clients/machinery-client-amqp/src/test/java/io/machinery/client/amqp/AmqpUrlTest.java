package io.machinery.client.amqp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class AmqpUrlTest {

  @ParameterizedTest(name = "{0} -> vhost ''{1}''")
  @CsvSource(
      delimiter = '|',
      value = {
        "amqp://guest:guest@localhost:5672/   | /",
        "amqp://guest:guest@localhost:5672    | /",
        "amqp://guest:guest@localhost:5672//  | /",
        "amqp://guest:guest@localhost:5672/%2F | /",
        "amqp://guest:guest@localhost:5672/vh | vh",
        "amqp://guest:guest@localhost:5672/a%2Fb | a/b",
      })
  void theVhostIsReadAsGoReadsIt(String url, String vhost) {
    assertThat(AmqpUrl.parse(url).vhost()).isEqualTo(vhost);
  }

  @Test
  void goDefaultsFillWhatTheUrlLeavesOut() {
    AmqpUrl url = AmqpUrl.parse("amqp://");
    assertThat(url.host()).isEqualTo("localhost");
    assertThat(url.port()).isEqualTo(5672);
    assertThat(url.username()).isEqualTo("guest");
    assertThat(url.password()).isEqualTo("guest");
    assertThat(url.tls()).isFalse();
    assertThat(url.heartbeat()).isEqualTo(Duration.ofSeconds(10));
    AmqpUrl tls = AmqpUrl.parse("amqps://broker.example");
    assertThat(tls.port()).isEqualTo(5671);
    assertThat(tls.tls()).isTrue();
  }

  @Test
  void credentialsArePercentDecodedAndNeverPrinted() {
    AmqpUrl url =
        AmqpUrl.parse(
            "amqp://us%40er:p%3Ass+w@rabbit:5673/?heartbeat=3&connection_timeout=1500&channel_max=20");
    assertThat(url.username()).isEqualTo("us@er");
    assertThat(url.password()).isEqualTo("p:ss+w");
    assertThat(url.host()).isEqualTo("rabbit");
    assertThat(url.port()).isEqualTo(5673);
    assertThat(url.heartbeat()).isEqualTo(Duration.ofSeconds(3));
    assertThat(url.connectionTimeout()).isEqualTo(Duration.ofMillis(1500));
    assertThat(url.channelMax()).isEqualTo(20);
    assertThat(url.toString()).isEqualTo("amqp://rabbit:5673/").doesNotContain("p:ss");
  }

  @Test
  void ipv6HostsKeepTheirPort() {
    AmqpUrl url = AmqpUrl.parse("amqp://u:p@[::1]:5679/x");
    assertThat(url.host()).isEqualTo("::1");
    assertThat(url.port()).isEqualTo(5679);
    assertThat(url.vhost()).isEqualTo("x");
  }

  @Test
  void severalUrlsAreSplitByTheConfiguredSeparatorInOrder() {
    List<AmqpUrl> urls = AmqpUrl.parseAll("amqp://a:5672/,amqp://b:5672/, amqp://c/", ",");
    assertThat(urls).extracting(AmqpUrl::host).containsExactly("a", "b", "c");
    assertThat(AmqpUrl.parseAll("amqp://a:5672/,x", ""))
        .hasSize(1)
        .first()
        .extracting(AmqpUrl::vhost)
        .isEqualTo(",x");
  }

  @Test
  void otherSchemesAndBadPortsAreRefusedWithoutShowingThePassword() {
    assertThatThrownBy(() -> AmqpUrl.parse("redis://u:secret@host:6379"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("amqp://")
        .hasMessageNotContaining("secret");
    assertThatThrownBy(() -> AmqpUrl.parse("amqp://u:secret@host:99999/"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageNotContaining("secret");
    assertThatThrownBy(() -> AmqpUrl.parseAll(" ", ","))
        .isInstanceOf(IllegalArgumentException.class);
  }

  /**
   * F11: an unencoded '/', '?' or '#' in the password must not turn part of it into a host, port or
   * vhost.
   */
  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "amqp://admin:S3cr3t/P4ss@rabbit.internal:5672/",
        "amqp://admin:12345/x@rabbit:5672/",
        "amqp://admin:S3cr3t?P4ss@rabbit:5672/",
        "amqp://admin:S3cr3t#P4ss@rabbit:5672/",
      })
  void anUnencodedDelimiterInThePasswordIsRefusedWithoutEchoingIt(String url) {
    assertThatThrownBy(() -> AmqpUrl.parse(url))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("password must be percent-encoded")
        .hasMessageNotContaining("S3cr3t")
        .hasMessageNotContaining("P4ss")
        .hasMessageNotContaining("12345");
  }

  @Test
  void aPortThatIsNotANumberIsNotEchoed() {
    assertThatThrownBy(
            () -> AmqpUrl.parse("amqp://admin:S3cr3t")) // no '@': "admin" reads as the host
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("not a number")
        .hasMessageNotContaining("S3cr3t")
        .hasNoCause();
    assertThatThrownBy(() -> AmqpUrl.parse("xyz://admin:S3cr3t")).hasMessageNotContaining("S3cr3t");
  }

  @Test
  void aPercentEncodedPasswordAndAnEncodedAtInTheVhostStillParse() {
    AmqpUrl url = AmqpUrl.parse("amqp://admin:S3cr3t%2FP4ss%3F%23@rabbit:5672/v%40h");
    assertThat(url.password()).isEqualTo("S3cr3t/P4ss?#");
    assertThat(url.vhost()).isEqualTo("v@h");
    assertThat(url.toString()).doesNotContain("S3cr3t");
  }
}
