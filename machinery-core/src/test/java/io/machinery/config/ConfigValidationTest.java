package io.machinery.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.assertj.core.api.AbstractThrowableAssert;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Configuration audit (s54): a bad setting is a clear error that names the setting and the rule,
 * never a silently different value, and never quotes a password.
 */
class ConfigValidationTest {
  private static AbstractThrowableAssert<?, ? extends Throwable> loading(Path dir, String yaml)
      throws IOException {
    Path file = dir.resolve("config.yml");
    Files.writeString(file, yaml);
    return assertThatThrownBy(() -> Config.fromYaml(file))
        .isInstanceOf(IllegalArgumentException.class)
        .satisfies(
            e -> {
              for (Throwable t = e; t != null; t = t.getCause()) {
                assertThat(String.valueOf(t.getMessage())).doesNotContain("S3cr3t");
              }
            });
  }

  /** Jackson reads an alias as the anchor's name: result_backend would have become "redis". */
  @Test
  void aYamlAliasIsRefusedRatherThanReadAsItsAnchorsName(@TempDir Path dir) throws IOException {
    loading(
            dir,
            """
            broker: &redis redis://:S3cr3t@127.0.0.1:6379
            result_backend: *redis
            """)
        .hasMessageContaining("alias")
        .hasMessageContaining("line 2");
  }

  @Test
  void aBillionLaughsFileIsRefusedWithoutExpandingIt(@TempDir Path dir) throws IOException {
    StringBuilder bomb = new StringBuilder("a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for (char c = 'b'; c <= 'j'; c++) {
      bomb.append(c).append(": &").append(c).append(" [");
      for (int i = 0; i < 9; i++) {
        bomb.append(i == 0 ? "" : ", ").append('*').append((char) (c - 1));
      }
      bomb.append("]\n");
    }
    loading(dir, bomb.toString()).hasMessageContaining("alias");
  }

  /** Go's yaml.v2 refuses a key given twice; the last one silently won here. */
  @Test
  void aKeyGivenTwiceIsRefused(@TempDir Path dir) throws IOException {
    loading(
            dir,
            """
            broker: redis://:S3cr3t@old:6379
            default_queue: tasks
            broker: redis://:S3cr3t@new:6379
            """)
        .hasMessageContaining("'broker' twice")
        .hasMessageContaining("line 3");
  }

  /** A list became the text "[redis://a, redis://b]" and was taken as the broker URL. */
  @Test
  void aListOrMappingWhereOneValueBelongsIsRefused(@TempDir Path dir) throws IOException {
    loading(dir, "broker: [redis://:S3cr3t@a:6379, redis://b:6379]\n")
        .hasMessageContaining("YAML key broker takes a single value, not a list");
    loading(dir, "redis:\n  read_timeout: {seconds: 5}\n")
        .hasMessageContaining("YAML key redis.read_timeout takes a single value, not a mapping");
  }

  /**
   * It said "invalid YAML at line 1, column 1", which sends the user looking for a syntax error.
   */
  @Test
  void anEmptyFileSaysItIsEmpty(@TempDir Path dir) throws IOException {
    loading(dir, "").hasMessageContaining("is empty");
    loading(dir, "# all commented out\n# broker: redis://x\n").hasMessageContaining("is empty");
  }

  /** It said only "invalid YAML", which sends the user looking for a syntax error. */
  @Test
  void aFileNotInUtf8SaysSo(@TempDir Path dir) throws IOException {
    Path file = dir.resolve("latin1.yml");
    Files.write(
        file, "default_queue: caf\u00e9\n".getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
    assertThatThrownBy(() -> Config.fromYaml(file))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("is not valid UTF-8 at line 1")
        .hasMessageNotContaining("caf");
  }

  /**
   * Values the servers or clients refuse later (or, for the prefetch count, Go's client silently
   * truncates to 16 bits) are refused while loading, with the variable and the range.
   */
  @Test
  void aNumberOutOfItsRangeNamesTheVariableAndTheRange() {
    assertThatThrownBy(() -> Config.fromEnvironment(Map.of("AMQP_PREFETCH_COUNT", "70000")))
        .hasMessageContaining("AMQP_PREFETCH_COUNT")
        .hasMessageContaining("from 0 to 65535");
    assertThatThrownBy(() -> Config.fromEnvironment(Map.of("SQS_WAIT_TIME_SECONDS", "21")))
        .hasMessageContaining("SQS_WAIT_TIME_SECONDS")
        .hasMessageContaining("from 0 to 20");
    assertThatThrownBy(() -> Config.fromEnvironment(Map.of("SQS_VISIBILITY_TIMEOUT", "-1")))
        .hasMessageContaining("SQS_VISIBILITY_TIMEOUT")
        .hasMessageContaining("from 0 to 43200");
    assertThatThrownBy(() -> Config.fromEnvironment(Map.of("REDIS_READ_TIMEOUT", "-5")))
        .hasMessageContaining("REDIS_READ_TIMEOUT")
        .hasMessageContaining("from 0 to 2147483647");
    assertThatThrownBy(() -> Config.fromEnvironment(Map.of("REDIS_CONNECT_TIMEOUT", "-1")))
        .hasMessageContaining("REDIS_CONNECT_TIMEOUT");
    // a whole number too large for the setting used to be called "not a whole number"
    assertThatThrownBy(() -> Config.fromEnvironment(Map.of("RESULTS_EXPIRE_IN", "99999999999")))
        .hasMessageContaining("RESULTS_EXPIRE_IN")
        .hasMessageContaining("from -2147483648 to 2147483647");
    assertThat(
            Config.fromEnvironment(Map.of("SQS_WAIT_TIME_SECONDS", "20")).sqs().waitTimeSeconds())
        .isEqualTo(20);
  }

  @Test
  void anAmqpValueNamesItsVariable() {
    assertThatThrownBy(() -> Config.fromEnvironment(Map.of("AMQP_QUEUE_BINDING_ARGS", "x-match")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("environment variable AMQP_QUEUE_BINDING_ARGS")
        .hasMessageContaining("key:value pairs");
    assertThatThrownBy(() -> Config.fromEnvironment(Map.of("AMQP_PREFETCH_COUNT", "-1")))
        .hasMessageContaining("environment variable AMQP_PREFETCH_COUNT");
  }
}
