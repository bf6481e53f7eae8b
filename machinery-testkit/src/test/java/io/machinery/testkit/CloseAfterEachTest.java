package io.machinery.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtensionConfigurationException;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;

/**
 * What {@link CloseAfterEach} closes, when, and what JUnit reports: each case runs a small test
 * class (a static nested class, which neither Surefire nor JUnit run by themselves) through the
 * launcher and looks at the outcome and at {@link #events}.
 */
class CloseAfterEachTest {
  /** What the nested test classes did, in order. */
  static final List<String> events = new CopyOnWriteArrayList<>();

  /** A resource that records its closing under {@code name}, and fails it when told to. */
  record Named(String name, boolean failsToClose) implements AutoCloseable {
    @Override
    public void close() {
      events.add("close " + name);
      if (failsToClose) {
        throw new IllegalStateException(name + " did not close");
      }
    }
  }

  @BeforeEach
  void clearEvents() {
    events.clear();
  }

  static class OpensThreeAndFails {
    @RegisterExtension static final CloseAfterEach closer = new CloseAfterEach();

    @BeforeEach
    void open() {
      closer.closeLater(new Named("first", false));
    }

    @Test
    void fails() {
      closer.closeLater(new Named("second", false));
      closer.closeLater(new Named("third", false));
      throw new AssertionError("the test failed");
    }

    @AfterEach
    void tearDown() {
      events.add("@AfterEach");
    }
  }

  @Test
  void closesNewestFirstAfterAFailedTestAndItsAfterEach() {
    Map<String, TestExecutionResult> results = run(OpensThreeAndFails.class);

    assertThat(results.get("fails()").getThrowable().orElseThrow()).hasMessage("the test failed");
    assertThat(events).containsExactly("@AfterEach", "close third", "close second", "close first");
  }

  static class TwoCloseFailures {
    @RegisterExtension static final CloseAfterEach closer = new CloseAfterEach();

    @Test
    void passes() {
      closer.closeLater(new Named("first", true));
      closer.closeLater(new Named("second", false));
      closer.closeLater(new Named("third", true));
    }

    @Test
    void next() {
      closer.closeLater(new Named("next", false));
    }
  }

  @Test
  void aFailedCloseFailsItsTestAfterEveryResourceWasClosed() {
    Map<String, TestExecutionResult> results = run(TwoCloseFailures.class);

    Throwable failure = results.get("passes()").getThrowable().orElseThrow();
    assertThat(failure).hasMessage("Failed to close extension context");
    Throwable firstFailure = failure.getCause();
    assertThat(firstFailure).hasMessage("third did not close");
    assertThat(firstFailure.getSuppressed())
        .singleElement()
        .satisfies(e -> assertThat(e).hasMessage("first did not close"));
    assertThat(results.get("next()").getStatus()).isEqualTo(TestExecutionResult.Status.SUCCESSFUL);
    assertThat(events)
        .containsExactlyInAnyOrder("close third", "close second", "close first", "close next");
    assertThat(events.indexOf("close third")).isLessThan(events.indexOf("close second"));
    assertThat(events.indexOf("close second")).isLessThan(events.indexOf("close first"));
  }

  @Test
  void refusesOutsideATest() {
    CloseAfterEach closer = new CloseAfterEach();
    Named resource = new Named("orphan", false);

    assertThatThrownBy(() -> closer.closeLater(resource))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("@RegisterExtension");
  }

  static class OneTest {
    @RegisterExtension static final CloseAfterEach closer = new CloseAfterEach();

    @Test
    void opens() {
      closer.closeLater(new Named("resource", false));
    }
  }

  @Test
  void failsWhereJunitWouldNotCloseStoredResources() {
    Map<String, TestExecutionResult> results =
        run(OneTest.class, Map.of(CloseAfterEach.CLOSES_STORED_AUTOCLOSEABLES, "false"));

    assertThat(results.get("opens()").getThrowable().orElseThrow())
        .isInstanceOf(ExtensionConfigurationException.class);
    assertThat(events).isEmpty();
  }

  private static Map<String, TestExecutionResult> run(Class<?> testClass) {
    return run(testClass, Map.of());
  }

  /** Runs {@code testClass} and returns each test method's result by display name. */
  private static Map<String, TestExecutionResult> run(
      Class<?> testClass, Map<String, String> configuration) {
    Map<String, TestExecutionResult> results = new LinkedHashMap<>();
    LauncherFactory.create()
        .execute(
            LauncherDiscoveryRequestBuilder.request()
                .selectors(selectClass(testClass))
                .configurationParameters(configuration)
                .build(),
            new TestExecutionListener() {
              @Override
              public void executionFinished(TestIdentifier test, TestExecutionResult result) {
                if (test.isTest()) {
                  results.put(test.getDisplayName(), result);
                }
              }
            });
    return results;
  }
}
