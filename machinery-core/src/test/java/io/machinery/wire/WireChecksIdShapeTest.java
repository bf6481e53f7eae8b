package io.machinery.wire;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.UUID;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The hand-written id shapes of {@link WireChecks} accept exactly what the regular expressions they
 * replaced accepted, over edge cases and random mutations of valid ids.
 */
class WireChecksIdShapeTest {
  private static final String UUID_RE =
      "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}";
  private static final Pattern TASK_ID = Pattern.compile("(?:task_|chord_)?" + UUID_RE);
  private static final Pattern GROUP_ID = Pattern.compile("(?:group_)?" + UUID_RE);

  @Test
  void taskAndGroupIdsMatchTheRegularExpressions() {
    for (String s : candidates()) {
      assertThat(WireChecks.isTaskId(s))
          .as("task id %s", s)
          .isEqualTo(TASK_ID.matcher(s).matches());
      assertThat(WireChecks.isGroupId(s))
          .as("group id %s", s)
          .isEqualTo(GROUP_ID.matcher(s).matches());
    }
  }

  @Test
  void derivedKeysMatchTheRegularExpression() {
    Pattern derived = Pattern.compile("\\{[^}]*\\}:.*", Pattern.DOTALL);
    List<String> keys = new ArrayList<>(candidates());
    keys.addAll(
        List.of(
            "{q}:processing:w1",
            "{q}:",
            "{}:x",
            "{q}",
            "{q}x:",
            "{{q}}:x",
            "q}:x",
            "{q:}",
            "{q}:\nx"));
    for (String s : keys) {
      assertThat(WireChecks.isDerivedKey(s)).as("%s", s).isEqualTo(derived.matcher(s).matches());
    }
  }

  @Test
  void utf8EncodedLengthIsWhatTheEncoderWrites() {
    for (String s :
        List.of(
            "",
            "queue",
            "é€",
            "日本",
            "😀",
            "a\uD83D\uDE00b",
            "a\uD800b",
            "\uDC00",
            "x\uD83D",
            "mixed é 日 😀")) {
      assertThat(Utf8.encodedLength(s))
          .as("%s", s)
          .isEqualTo((long) s.getBytes(StandardCharsets.UTF_8).length);
    }
  }

  private static List<String> candidates() {
    Random random = new Random(42);
    List<String> out = new ArrayList<>();
    String chars = "0123456789abcdefABCDEFgG-_xz{}: ";
    // braces and colons too, so that the derived-key shape meets its edge cases
    for (int i = 0; i < 2_000; i++) {
      String uuid =
          random.nextBoolean()
              ? UUID.randomUUID().toString()
              : UUID.randomUUID().toString().toUpperCase();
      String prefix =
          List.of("", "task_", "chord_", "group_", "tasks_", "Task_").get(random.nextInt(6));
      StringBuilder s = new StringBuilder(prefix + uuid);
      int mutations = random.nextInt(3);
      for (int m = 0; m < mutations && !s.isEmpty(); m++) {
        int at = random.nextInt(s.length());
        switch (random.nextInt(3)) {
          case 0 -> s.setCharAt(at, chars.charAt(random.nextInt(chars.length())));
          case 1 -> s.deleteCharAt(at);
          default -> s.insert(at, chars.charAt(random.nextInt(chars.length())));
        }
      }
      out.add(s.toString());
    }
    out.addAll(List.of("", "task_", "group_", "chord_", "-".repeat(36)));
    return out;
  }
}
