package io.machinery.testkit;

import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionConfigurationException;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A JUnit extension that closes what a test opens once the test is over, newest first, whether the
 * test passed or failed. A failed close fails the test (JUnit reports "Failed to close extension
 * context", caused by the first failure, with any later ones suppressed in it), and every resource
 * is closed regardless.
 *
 * <pre>{@code
 * @RegisterExtension static final CloseAfterEach closer = new CloseAfterEach();
 *
 * @Test
 * void sends() {
 *   Broker broker = closer.closeLater(RedisBroker.create(config));
 *   Consumption consumption = closer.closeLater(broker.startConsuming(...)); // closed first
 *   ...
 * }
 * }</pre>
 *
 * <p>A module's own test resources class may extend it to add the factories its tests share (each
 * returning {@code closeLater(...)}), and add an {@code AfterAllCallback} for what outlives a test;
 * one that overrides {@link #beforeEach} or {@link #afterEach} calls the super method.
 *
 * <p>Design notes. JUnit does the closing: each resource goes into the running test's {@link
 * ExtensionContext.Store}, which JUnit closes when the test's context ends, after every {@code
 * AfterEachCallback} and {@code @AfterEach} method, in reverse order of insertion, collecting
 * failures. This class only remembers which test is running (set before each test, cleared after
 * it), so {@link #closeLater} may be called from a {@code @BeforeEach} method, the test and an
 * {@code @AfterEach} method, but not outside a test; one instance serves one test at a time (not
 * for tests run in parallel within a class). JUnit closes {@link AutoCloseable} store values only
 * while {@code junit.jupiter.extensions.store.close.autocloseable.enabled} is true (its default); a
 * run that turned it off fails before the first test instead of leaking every resource.
 */
public class CloseAfterEach implements BeforeEachCallback, AfterEachCallback {
  /** The JUnit setting that must stay true (its default) for the store to close our resources. */
  static final String CLOSES_STORED_AUTOCLOSEABLES =
      "junit.jupiter.extensions.store.close.autocloseable.enabled";

  private static final ExtensionContext.Namespace NAMESPACE =
      ExtensionContext.Namespace.create(CloseAfterEach.class);

  private volatile ExtensionContext.@Nullable Store runningTest;

  /** An extension to register in a field annotated {@code @RegisterExtension}. */
  public CloseAfterEach() {}

  /**
   * Closes {@code resource} after the running test, before whatever was registered earlier.
   *
   * @param resource what to close
   * @param <T> its type
   * @return {@code resource}, so the call can wrap where it is made
   * @throws IllegalStateException when no test of this extension's class is running
   */
  public final <T extends AutoCloseable> T closeLater(T resource) {
    ExtensionContext.Store store = runningTest;
    if (store == null) {
      throw new IllegalStateException(
          "closeLater is for a @BeforeEach method, a test or an @AfterEach method, while this"
              + " extension is registered on the running test's class (with @RegisterExtension)");
    }
    // Each resource under a key of its own: the store would drop, not close, a value put again.
    store.put(new Object(), resource);
    return resource;
  }

  @Override
  public void beforeEach(ExtensionContext context) {
    boolean storeCloses =
        context
            .getConfigurationParameter(CLOSES_STORED_AUTOCLOSEABLES, Boolean::parseBoolean)
            .orElse(true);
    if (!storeCloses) {
      throw new ExtensionConfigurationException(
          CloseAfterEach.class.getSimpleName()
              + " relies on JUnit closing AutoCloseable values in its store: remove "
              + CLOSES_STORED_AUTOCLOSEABLES
              + "=false from the JUnit configuration");
    }
    runningTest = context.getStore(NAMESPACE);
  }

  @Override
  public void afterEach(ExtensionContext context) {
    runningTest = null;
  }
}
