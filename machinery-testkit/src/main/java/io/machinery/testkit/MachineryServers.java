package io.machinery.testkit;

import java.lang.annotation.Annotation;
import java.lang.reflect.AnnotatedElement;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionConfigurationException;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;
import org.junit.platform.commons.support.AnnotationSupport;

/**
 * A JUnit 5 extension that gives tests a running Redis or RabbitMQ, for users' own tests of code
 * that uses Machinery. Use it through {@link WithRedis} and {@link WithRabbitMq}, or call {@link
 * #redisUrl()} / {@link #amqpUrl()} where a URL is needed before a test runs (a Spring
 * {@code @DynamicPropertySource}).
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li><b>Where the server comes from</b>, in this order: the endpoint variable when it is set
 *       ({@code REDIS_URL}, {@code AMQP_URL}: what this project's CI and {@code
 *       scripts/services.sh} provide); else a container started with Testcontainers when it is on
 *       the test classpath and a Docker engine answers; else the test fails with a message that
 *       names both ways to fix it. It fails rather than skips: a test that asked for a server and
 *       ran without one has tested nothing.
 *   <li><b>Testcontainers is optional</b>: this module declares it {@code optional}, so a user gets
 *       it only by adding {@code org.testcontainers:testcontainers} to their own test dependencies.
 *       Every Testcontainers class is touched only inside {@code Containers}, which is loaded only
 *       when Testcontainers is present.
 *   <li><b>Lifetime.</b> A container starts once per JVM and is shared by every test (their keys
 *       and queues must be unique anyway, as on a shared server); Testcontainers' reaper removes it
 *       when the JVM exits.
 * </ul>
 */
public final class MachineryServers
    implements BeforeAllCallback, BeforeEachCallback, ParameterResolver {
  /** A server kind: its endpoint variable, and how to run and address it in a container. */
  enum Kind {
    REDIS(
        "REDIS_URL",
        "Redis",
        WithRedis.class,
        "redis:7.4-alpine",
        6379,
        ".*Ready to accept connections.*"),
    RABBITMQ(
        "AMQP_URL",
        "RabbitMQ",
        WithRabbitMq.class,
        "rabbitmq:3.13-alpine",
        5672,
        ".*Server startup complete.*");

    final String variable;
    final String display;
    final Class<? extends Annotation> annotation;
    final String image;
    final int port;
    final String readyLog;

    Kind(
        String variable,
        String display,
        Class<? extends Annotation> annotation,
        String image,
        int port,
        String readyLog) {
      this.variable = variable;
      this.display = display;
      this.annotation = annotation;
      this.image = image;
      this.port = port;
      this.readyLog = readyLog;
    }

    String url(String host, int mappedPort) {
      return this == REDIS
          ? "redis://" + host + ":" + mappedPort
          : "amqp://guest:guest@" + host + ":" + mappedPort + "/";
    }
  }

  /**
   * Can a container be started here, and start one; a seam so that both failure paths are testable.
   */
  interface ContainerSource {
    /** Empty when containers can be started; otherwise why not, as a sentence. */
    Optional<String> unavailableBecause();

    /** The URL of a running container of {@code kind}, started on the first call. */
    String start(Kind kind);
  }

  /**
   * The URL of a running Redis: {@code REDIS_URL}, else a container; fails the test when neither is
   * possible.
   */
  public static String redisUrl() {
    return resolve(Kind.REDIS, System.getenv(), Testcontainers.SOURCE);
  }

  /**
   * The URL of a running RabbitMQ: {@code AMQP_URL}, else a container; fails the test when neither
   * is possible.
   */
  public static String amqpUrl() {
    return resolve(Kind.RABBITMQ, System.getenv(), Testcontainers.SOURCE);
  }

  static String resolve(Kind kind, Map<String, String> environment, ContainerSource containers) {
    String value = environment.get(kind.variable);
    if (value != null && !value.isBlank()) {
      return value;
    }
    Optional<String> unavailable = containers.unavailableBecause();
    if (unavailable.isPresent()) {
      throw new ExtensionConfigurationException(
          "This test needs "
              + kind.display
              + ", but "
              + kind.variable
              + " is not set and "
              + unavailable.get()
              + ". Either set "
              + kind.variable
              + " to a running server"
              + " (in this project: `make services` and `. /tmp/machinery-services/env`), or run the test where"
              + " Testcontainers can reach a Docker engine.");
    }
    return containers.start(kind);
  }

  @Override
  public void beforeAll(ExtensionContext context) {
    context.getTestClass().ifPresent(MachineryServers::ensure);
  }

  @Override
  public void beforeEach(ExtensionContext context) {
    context.getTestMethod().ifPresent(MachineryServers::ensure);
  }

  private static void ensure(AnnotatedElement element) {
    for (Kind kind : Kind.values()) {
      if (AnnotationSupport.isAnnotated(element, kind.annotation)) {
        resolve(kind, System.getenv(), Testcontainers.SOURCE);
      }
    }
  }

  @Override
  public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
    return parameter.getParameter().getType() == String.class && kindOf(parameter).isPresent();
  }

  @Override
  public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
    return resolve(kindOf(parameter).orElseThrow(), System.getenv(), Testcontainers.SOURCE);
  }

  private static Optional<Kind> kindOf(ParameterContext parameter) {
    for (Kind kind : Kind.values()) {
      if (parameter.isAnnotated(kind.annotation)) {
        return Optional.of(kind);
      }
    }
    return Optional.empty();
  }

  /** Finds Testcontainers without linking to it: this class must load on a classpath without it. */
  static final class Testcontainers implements ContainerSource {
    static final Testcontainers SOURCE = new Testcontainers();

    private final Map<Kind, String> started = new ConcurrentHashMap<>();

    private static boolean onClasspath() {
      try {
        Class.forName(
            "org.testcontainers.DockerClientFactory",
            false,
            MachineryServers.class.getClassLoader());
        return true;
      } catch (ClassNotFoundException e) {
        return false;
      }
    }

    @Override
    public Optional<String> unavailableBecause() {
      if (!onClasspath()) {
        return Optional.of(
            "Testcontainers is not on the test classpath (add org.testcontainers:testcontainers"
                + " with test scope to start one in Docker)");
      }
      return Containers.dockerAvailable()
          ? Optional.empty()
          : Optional.of(
              "Testcontainers found no Docker engine (is DOCKER_HOST set, or the Docker socket there?)");
    }

    @Override
    public String start(Kind kind) {
      return started.computeIfAbsent(kind, Containers::start);
    }
  }
}
