package io.machinery.spi;

import io.machinery.config.Config;
import java.util.Locale;
import java.util.Set;

/**
 * Makes a broker, a result backend or a lock from a {@link Config}'s URL, so that {@link
 * io.machinery.Machinery#connect(Config, ComponentProvider...)} builds a server from URLs, as Go's
 * v1 factories did ({@code BrokerFactory}, {@code BackendFactory}, {@code LockFactory}: the URL's
 * scheme picks the implementation).
 *
 * <p>Each broker, backend and lock module offers one provider from a static method of its main
 * class ({@code RedisBroker.provider()}, {@code RedisBackend.provider()}, ...), which the caller
 * passes to {@code Machinery.connect} explicitly: nothing is discovered on the class path (as with
 * Jdbi's plug-ins), so what a server can build is visible where it is built. A provider is chosen
 * by the URL only: nothing in a message or a config ever names a class.
 *
 * <p>Implementations are stateless and thread-safe. Whoever calls a factory method owns and closes
 * what it returns.
 */
public interface ComponentProvider {

  /** What a provider makes. */
  enum Kind {
    /** A {@link Broker}, from {@link Config#broker()}. */
    BROKER,
    /** A {@link Backend}, from {@link Config#resultBackend()}. */
    BACKEND,
    /** A {@link Lock}, from {@link Config#lock()}. */
    LOCK
  }

  /**
   * Tells what this provider makes.
   *
   * @return the kind of component
   */
  Kind kind();

  /**
   * Names the Maven module this provider ships in, for messages.
   *
   * @return the artifact id, e.g. {@code machinery-broker-redis}
   */
  String module();

  /**
   * Lists the URL schemes this provider serves, in lower case, without {@code ://}.
   *
   * @return the schemes, e.g. {@code redis}, {@code rediss}, {@code redis+socket}
   */
  Set<String> schemes();

  /**
   * Tells whether this provider makes a component for {@code url}.
   *
   * @param url the broker, result backend or lock URL
   * @return true when {@link #scheme(String) its scheme} is one of {@link #schemes()} (the default)
   */
  default boolean serves(String url) {
    return schemes().contains(scheme(url));
  }

  /**
   * Makes a broker for {@link Config#broker()}.
   *
   * @param config the configuration
   * @return a new broker; the caller closes it
   * @throws UnsupportedOperationException when {@link #kind()} is not {@link Kind#BROKER} (the
   *     default)
   * @throws IllegalArgumentException when the URL is malformed
   */
  default Broker broker(Config config) {
    throw new UnsupportedOperationException(module() + " makes no broker");
  }

  /**
   * Makes a result backend for {@link Config#resultBackend()}.
   *
   * @param config the configuration
   * @return a new backend; the caller closes it
   * @throws UnsupportedOperationException when {@link #kind()} is not {@link Kind#BACKEND} (the
   *     default)
   * @throws IllegalArgumentException when the URL is malformed
   */
  default Backend backend(Config config) {
    throw new UnsupportedOperationException(module() + " makes no result backend");
  }

  /**
   * Makes a lock for {@link Config#lock()}.
   *
   * @param config the configuration; its lock URL is set
   * @return a new lock; the caller closes it
   * @throws UnsupportedOperationException when {@link #kind()} is not {@link Kind#LOCK} (the
   *     default)
   * @throws IllegalArgumentException when the URL is malformed
   */
  default Lock lock(Config config) {
    throw new UnsupportedOperationException(module() + " makes no lock");
  }

  /**
   * Returns a URL's scheme the way providers compare it.
   *
   * @param url a URL such as {@code redis://host:6379}, or a bare word such as Go's {@code eager}
   * @return the text before {@code ://} in lower case; the whole trimmed text in lower case when
   *     there is none
   */
  static String scheme(String url) {
    String trimmed = url.trim().toLowerCase(Locale.ROOT);
    int colon = trimmed.indexOf("://");
    return colon < 0 ? trimmed : trimmed.substring(0, colon);
  }
}
