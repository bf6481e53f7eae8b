package io.machinery.broker.redis;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The pure parts of the lost-reply recovery: the strays multiset and the two-sweep rule. */
class StrayCollectorTest {
  private static byte[] m(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }

  private static Map<MessageKey, Integer> known(Object... messageAndCount) {
    Map<MessageKey, Integer> known = new HashMap<>();
    for (int i = 0; i < messageAndCount.length; i += 2) {
      known.put(MessageKey.of(m((String) messageAndCount[i])), (Integer) messageAndCount[i + 1]);
    }
    return known;
  }

  private static List<String> text(List<byte[]> messages) {
    return messages.stream().map(b -> new String(b, StandardCharsets.UTF_8)).toList();
  }

  @Test
  void messagesNotKnownAsUnsettledAreStraysInListOrder() {
    List<byte[]> strays =
        StrayCollector.strays(List.of(m("a"), m("x"), m("b"), m("y")), known("a", 1, "b", 1));
    assertThat(text(strays)).containsExactly("x", "y");
  }

  @Test
  void equalMessagesCountAsAMultiset() {
    // the same bytes fetched three times, two of them handed over: one copy is a stray
    assertThat(text(StrayCollector.strays(List.of(m("a"), m("a"), m("a")), known("a", 2))))
        .containsExactly("a");
    assertThat(StrayCollector.strays(List.of(m("a"), m("a")), known("a", 2))).isEmpty();
  }

  @Test
  void knownMessagesNoLongerListedAreNoStrays() {
    assertThat(StrayCollector.strays(List.of(), known("a", 3))).isEmpty();
  }

  @Test
  void aStrayGoesBackOnlyWhenItWasStrayInTheSweepBefore() {
    StrayCollector collector = new StrayCollector(null, new QueueKeys("q"), "p", false);
    assertThat(collector.lostInTwoSweeps(List.of(m("a"), m("b")))).isEmpty(); // suspects: a, b
    // b was a fetch reply in flight: handed over since; a is still stray; c is new
    assertThat(text(collector.lostInTwoSweeps(List.of(m("a"), m("c"))))).containsExactly("a");
    // a went back; c is now stray for the second time
    assertThat(text(collector.lostInTwoSweeps(List.of(m("c"))))).containsExactly("c");
    assertThat(collector.lostInTwoSweeps(List.of())).isEmpty();
  }

  @Test
  void sweepsRunAfterTheStartAfterEachReconnectAndWhileThereAreSuspectsOnly() {
    StrayCollector collector = new StrayCollector(null, new QueueKeys("q"), "p", false);
    assertThat(collector.sweepDue(0)).isTrue(); // the first two sweeps
    assertThat(collector.sweepDue(0)).isTrue();
    assertThat(collector.sweepDue(0)).isFalse(); // steady state: the processing list is not listed
    assertThat(collector.sweepDue(0)).isFalse();
    assertThat(collector.sweepDue(1)).isTrue(); // a reconnect: two sweeps
    collector.lostInTwoSweeps(List.of(m("x"))); // the first finds a suspect
    assertThat(collector.sweepDue(1)).isTrue();
    assertThat(collector.sweepDue(1)).as("a suspect waits for its second look").isTrue();
    collector.lostInTwoSweeps(List.of(m("x"))); // returned
    assertThat(collector.sweepDue(1)).isFalse();
  }
}
