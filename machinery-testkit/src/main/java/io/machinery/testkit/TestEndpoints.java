package io.machinery.testkit;

import io.machinery.testkit.MachineryServers.ContainerSource;
import io.machinery.testkit.MachineryServers.Kind;
import java.util.Map;
import java.util.Optional;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * Addresses of the real servers integration tests talk to, from the environment written by {@code
 * scripts/services.sh} ({@code /tmp/machinery-services/env}). Without the variable, Redis and
 * RabbitMQ come from {@link MachineryServers}' containers when Testcontainers is on the test
 * classpath and a Docker engine answers (a contributor with Docker and without the Debian packages
 * runs the same ITs). Otherwise a missing address fails the test when {@code CI=true} or {@code
 * IT_REQUIRE_SERVICES=true} (so CI can never pass by skipping) and skips it otherwise.
 */
public final class TestEndpoints {
  private TestEndpoints() {}

  /** {@code REDIS_URL}, else a Redis container (see the class comment). */
  public static String redisUrl() {
    return require("REDIS_URL", "Redis", Kind.REDIS);
  }

  /** Comma-separated node URLs of the 3-master test cluster. */
  public static String redisClusterUrl() {
    return require("REDIS_CLUSTER_URL", "a Redis cluster");
  }

  /** {@code AMQP_URL}, else a RabbitMQ container (see the class comment). */
  public static String amqpUrl() {
    return require("AMQP_URL", "RabbitMQ", Kind.RABBITMQ);
  }

  /** The MongoDB (mongo-java-server, scripts/services.d/mongodb.sh) for the MongoDB backend. */
  public static String mongodbUri() {
    return require("MONGODB_URI", "MongoDB");
  }

  /** {@code host:port} of memcached, for the Memcache backend. */
  public static String memcacheAddr() {
    return require("MEMCACHE_ADDR", "memcached");
  }

  public static String rabbitManagementUrl() {
    return require("RABBITMQ_MANAGEMENT_URL", "the RabbitMQ management API");
  }

  /**
   * The Pub/Sub emulator or pstest fake, {@code host:port} ({@code scripts/services.d/pubsub.sh}).
   */
  public static String pubsubEmulatorHost() {
    return require("PUBSUB_EMULATOR_HOST", "a Pub/Sub emulator");
  }

  /**
   * Go Machinery's SQS broker URL for ElasticMQ (endpoint + account path; a queue name is
   * appended).
   */
  public static String sqsUrl() {
    return require("SQS_URL", "an SQS server (ElasticMQ)");
  }

  /** The DynamoDB endpoint (dynalite), {@code http://host:port}. */
  public static String dynamoDbEndpoint() {
    return require("DYNAMODB_ENDPOINT", "a DynamoDB server (dynalite)");
  }

  /**
   * The test PostgreSQL ({@code scripts/services.d/postgresql.sh}) as a JDBC URL with user and
   * password.
   */
  public static String postgresUrl() {
    return require("POSTGRES_URL", "PostgreSQL");
  }

  /** {@code scripts/services.sh}, to restart a server in a fault test ({@code restart redis}). */
  public static String servicesScript() {
    return require("MACHINERY_SERVICES_SCRIPT", "the services script");
  }

  /** Whether a missing server must fail the run instead of skipping. */
  public static boolean servicesRequired() {
    return servicesRequired(System.getenv());
  }

  private static boolean servicesRequired(Map<String, String> environment) {
    return "true".equalsIgnoreCase(environment.get("CI"))
        || "true".equalsIgnoreCase(environment.get("IT_REQUIRE_SERVICES"));
  }

  /**
   * For a test that needs a tool on this machine (a redis-server binary, openssl, a native
   * library): skips on a developer machine without it, fails when services are required (CI), where
   * nothing may skip silently.
   */
  public static void requireTool(boolean available, String why) {
    if (!available && servicesRequired()) {
      Assertions.fail(why);
    }
    Assumptions.assumeTrue(available, why);
  }

  private static String require(String variable, String what) {
    return require(variable, what, null);
  }

  private static String require(String variable, String what, @Nullable Kind container) {
    return resolve(
        variable, what, container, System.getenv(), MachineryServers.Testcontainers.SOURCE);
  }

  /**
   * The variable's value; else, for a server with a container ({@code container} not null), that
   * container when one can be started; else fails (services required) or aborts. A container that
   * cannot start is an error, never a skip.
   */
  static String resolve(
      String variable,
      String what,
      @Nullable Kind container,
      Map<String, String> environment,
      ContainerSource containers) {
    String value = environment.get(variable);
    if (value != null && !value.isBlank()) {
      return value;
    }
    String message =
        variable
            + " is not set: these tests need "
            + what
            + " and do not know where it is. Run `make services`"
            + " and `source /tmp/machinery-services/env` (make test does both).";
    if (container != null) {
      Optional<String> unavailable = containers.unavailableBecause();
      if (unavailable.isEmpty()) {
        return containers.start(container);
      }
      message += " No container either: " + unavailable.get() + ".";
    }
    if (servicesRequired(environment)) {
      Assertions.fail(message);
    }
    Assumptions.abort(message);
    throw new AssertionError(message);
  }
}
