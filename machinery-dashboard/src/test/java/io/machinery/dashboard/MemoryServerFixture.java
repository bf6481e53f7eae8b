package io.machinery.dashboard;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.machinery.Server;
import io.machinery.spi.Broker;
import io.machinery.spi.Inspector;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.slf4j.LoggerFactory;

/**
 * The set-up the API tests share: a fresh server on core's in-JVM memory broker and backend per
 * test, dashboards started on a free port with a fast chart, and whatever a test adds to {@link
 * #closeables} closed after it (last first), then the server. A test may replace {@link #server}
 * (closing the old one first); the one it leaves is closed.
 */
abstract class MemoryServerFixture {
  static final String TOKEN = "s3cret-token";
  final List<AutoCloseable> closeables = new ArrayList<>();
  Server server;

  @BeforeEach
  void startServer() {
    server = Server.builder().build();
  }

  @AfterEach
  void closeAll() throws Exception {
    for (int i = closeables.size() - 1; i >= 0; i--) {
      closeables.get(i).close();
    }
    server.close();
  }

  /**
   * {@code broker} whose inspector runs {@code before} ahead of each {@link Inspector#queues()} (to
   * count the listings, or to fail them), everything else passed through.
   */
  static Broker beforeListing(Broker broker, Runnable before) {
    Inspector inspector = broker.inspector().orElseThrow();
    Inspector watched =
        (Inspector)
            Proxy.newProxyInstance(
                Inspector.class.getClassLoader(),
                new Class<?>[] {Inspector.class},
                (proxy, method, args) -> {
                  if (method.getName().equals("queues")) {
                    before.run();
                  }
                  return invoke(inspector, method, args);
                });
    return (Broker)
        Proxy.newProxyInstance(
            Broker.class.getClassLoader(),
            new Class<?>[] {Broker.class},
            (proxy, method, args) ->
                method.getName().equals("inspector")
                    ? Optional.of(watched)
                    : invoke(broker, method, args));
  }

  private static Object invoke(Object target, Method method, Object[] args) throws Throwable {
    try {
      return method.invoke(target, args);
    } catch (InvocationTargetException e) {
      throw e.getCause();
    }
  }

  /**
   * Records what the dashboard logs from INFO up until the test ends, when the logger's level is
   * restored.
   *
   * @return the events logged, in order (read a copy: requests may still log)
   */
  ListAppender<ILoggingEvent> recordDashboardLog() {
    Logger log = (Logger) LoggerFactory.getLogger(Dashboard.class);
    ListAppender<ILoggingEvent> logged = new ListAppender<>();
    logged.start();
    log.addAppender(logged);
    Level level = log.getLevel();
    log.setLevel(Level.INFO);
    closeables.add(
        () -> {
          log.detachAppender(logged);
          log.setLevel(level);
        });
    return logged;
  }

  /** Starts the dashboard on a free port, closed after the test, and a client for it. */
  HttpProbe start(Dashboard.Builder builder) {
    Dashboard dashboard = builder.port(0).sampleInterval(Duration.ofMillis(200)).build().start();
    closeables.add(dashboard);
    return new HttpProbe(dashboard.address().getPort());
  }
}
