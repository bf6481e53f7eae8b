package io.machinery.config;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Reliability review F11: no password survives redaction, even one a URI parser would read as a
 * host.
 */
class RedactionTest {
  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "amqp://guest:S3cr3t@host:5672/vhost | amqp://host:5672",
        "amqp://admin:S3cr3t/x@rabbit:5672/ | amqp://rabbit:5672",
        "amqp://admin:12345/x@rabbit:5672/ | amqp://rabbit:5672",
        "redis://admin:S3cr3t/P4ss@host | redis://host",
        "redis://:S3cr3t#x@h:6379/0 | redis://h:6379",
        "redis://:S3cr3t?x@h:6379 | redis://h:6379",
        "redis://:p@S3cr3t@h:6379 | redis://h:6379",
        "redis://:pa,S3cr3t@h1:6379,h2:6379 | redis://h1:6379,h2:6379",
        "amqp://u:S3cr3t@h1:5672/,amqp://u:S3cr3t@h2:5672/ | amqp://h1:5672",
        "rediss://[::1]:6379 | rediss://[::1]:6379",
        "redis://127.0.0.1:6379 | redis://127.0.0.1:6379",
        "S3cr3t | <redacted>",
        "://S3cr3t@h | <redacted>",
        "redis://S3cr3t 'x'@ | redis://<redacted>",
      })
  void onlySchemeAndHostRemain(String url, String redacted) {
    assertThat(Redaction.redactUrl(url)).isEqualTo(redacted).doesNotContain("S3cr3t");
  }
}
